"""The torch.optim optimizers equal the registered algorithms on the same problem.

A small MLP (d = 21) is trained by three simulated clients holding fixed data shards. The same
losses, written as a protocol problem over the flattened parameters, are handed to the NumPy
reference (and, where the torch engine has the algorithm and the run is deterministic, to the
engine). The optimizer's closure replays the reference's minibatch draws
(``Streams(seed).sample``), a replaying compressor wraps the reference's uniforms
(``Streams(seed).compress``) and RHM's interpolation weights come from ``Streams(seed).aux``,
so every trajectory must agree to 1e-10 in float64.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import algorithms
from algorithms.registry import Streams
from algorithms.torch import optim
from eftheory.compressors import Blockwise, RandK, TopK

N, M, P, H = 3, 8, 3, 4          # clients, samples per client, features, hidden units
BATCH = 3
SEED = 5
ITERS = 12


def make_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(P, H), torch.nn.Tanh(),
                               torch.nn.Linear(H, 1)).double()


def make_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, M, P))
    X[1] += 0.7                                        # heterogeneous shards
    y = np.sign(rng.normal(size=(N, M)))
    return torch.from_numpy(X), torch.from_numpy(y)


X_DATA, Y_DATA = make_data()


def client_loss(model, i, idx, params=None):
    """Logistic loss of client i on its samples ``idx`` (all samples when None)."""
    Xi, yi = X_DATA[i], Y_DATA[i]
    if idx is not None:
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.int64)
        Xi, yi = Xi[idx], yi[idx]
    out = model(Xi) if params is None else torch.func.functional_call(model, params, (Xi,))
    return torch.nn.functional.softplus(-yi * out.squeeze(-1)).mean()


class MLPProblem:
    """The clients' losses as a protocol problem over the flattened MLP parameters."""

    def __init__(self, batch=None):
        self.model = make_model()
        self.names = [n for n, _ in self.model.named_parameters()]
        self.shapes = [p.shape for p in self.model.parameters()]
        self.sizes = [p.numel() for p in self.model.parameters()]
        self.n_clients, self.dim = N, sum(self.sizes)
        self.batch = batch

    def _params(self, theta):
        out, start = {}, 0
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = theta[start:start + size].view(shape)
            start += size
        return out

    def _loss(self, i, x, xi, *, create_graph=False):
        theta = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
        return theta, client_loss(self.model, i, xi, self._params(theta))

    def f_i(self, i, x):
        return float(self._loss(i, x, None)[1].detach())

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(N)]))

    def sample(self, i, rng):
        return None if self.batch is None else rng.integers(0, M, size=self.batch)

    def grad_i(self, i, x, xi=None):
        theta, loss = self._loss(i, x, xi)
        return torch.autograd.grad(loss, theta)[0].numpy()

    def hvp_i(self, i, x, v, xi=None):
        theta, loss = self._loss(i, x, xi)
        (g,) = torch.autograd.grad(loss, theta, create_graph=True)
        (hv,) = torch.autograd.grad(g @ torch.as_tensor(np.asarray(v, dtype=np.float64)), theta)
        return hv.numpy()


class Replay:
    """A compressor whose uniforms are drawn from a NumPy generator (the reference's stream)."""

    random = False       # the optimizer needs no torch.Generator for it

    def __init__(self, base, rng):
        self.base, self.rng = base, rng

    def validate(self, d):
        self.base.validate(d)

    def torch(self, v, generator=None, u=None):
        if not getattr(self.base, "random", False):
            return self.base.torch(v)
        return self.base.torch(v, u=torch.from_numpy(self.rng.random(tuple(v.shape))))


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def replay_closure(model, problem, rng):
    """closure(i, fresh) drawing minibatches exactly as the reference does."""
    current = [None] * N

    def closure(i, fresh):
        if fresh:
            current[i] = problem.sample(i, rng)
        return client_loss(model, i, current[i])

    return closure


def run_optimizer(cls, kwargs, problem, *, seed=SEED, iters=ITERS, compressor=None,
                  replay_aux=False, replay_signs=False):
    streams = Streams(seed)
    model = make_model()
    kwargs = dict(kwargs)
    if compressor is not None:
        kwargs["compressor"] = Replay(compressor, streams.compress)
    if replay_aux:
        kwargs["interpolation"] = lambda k: streams.aux.random(N)
    if replay_signs:
        from eftheory.compressors import UnbiasedSign
        kwargs["node_sign"] = Replay(UnbiasedSign(kwargs["G"], on_violation="clip"), streams.compress)
        kwargs["server_sign"] = Replay(UnbiasedSign(1.0, on_violation="clip"), streams.compress)
    opt = cls(model.parameters(), **kwargs)
    closure = replay_closure(model, problem, streams.sample)
    xs = [flat(model)]
    for _ in range(iters):
        opt.step(closure)
        xs.append(flat(model))
    return torch.stack(xs).numpy()


def x0():
    return flat(make_model()).numpy()


LR = 0.05
ETA = 0.6
# (id, optimizer class, optimizer kwargs, registered name, run kwargs, compressor, exact data, extra)
CASES = [
    ("ef21-norm", optim.EF21Norm, {"lr": LR, "n_clients": N}, "ef21-norm", {"stepsize": LR}, TopK(4), True, {}),
    ("ef21-norm-randk", optim.EF21Norm, {"lr": LR, "n_clients": N, "init": "compressed"}, "ef21-norm",
     {"stepsize": LR, "init": "compressed"}, RandK(5), True, {}),
    ("ef21-sgdm-norm", optim.EF21SGDMNorm, {"lr": LR, "eta": ETA, "n_clients": N}, "ef21-sgdm-norm",
     {"stepsize": LR, "momentum": ETA}, TopK(4), False, {}),
    ("ef21-sgdm-norm-randk", optim.EF21SGDMNorm,
     {"lr": lambda k: LR / (k + 1) ** 0.75, "eta": lambda k: (2 / (k + 2)) ** 0.5, "n_clients": N,
      "init": "compressed"},
     "ef21-sgdm-norm", {"stepsize": lambda k: LR / (k + 1) ** 0.75,
                        "momentum": lambda k: (2 / (k + 2)) ** 0.5, "init": "compressed"}, RandK(6), False, {}),
    ("ef21-igt-norm", optim.EF21IGTNorm, {"lr": LR, "eta": ETA, "n_clients": N}, "ef21-igt-norm",
     {"stepsize": LR, "momentum": ETA}, TopK(4), False, {}),
    ("ef21-hm-norm", optim.EF21HMNorm, {"lr": LR, "eta": ETA, "n_clients": N}, "ef21-hm-norm",
     {"stepsize": LR, "momentum": ETA}, TopK(4), False, {}),
    ("ef21-rhm-norm", optim.EF21RHMNorm, {"lr": LR, "eta": ETA, "n_clients": N}, "ef21-rhm-norm",
     {"stepsize": LR, "momentum": ETA}, TopK(4), False, {"replay_aux": True}),
    ("ef21-rhm-norm-same", optim.EF21RHMNorm, {"lr": LR, "eta": ETA, "n_clients": N, "same_sample": True},
     "ef21-rhm-norm", {"stepsize": LR, "momentum": ETA, "rhm_same_sample": True}, TopK(4), False,
     {"replay_aux": True}),
    ("ef21-mvr-norm", optim.EF21MVRNorm, {"lr": LR, "eta": ETA, "n_clients": N, "init": "zero"},
     "ef21-mvr-norm", {"stepsize": LR, "momentum": ETA, "init": "zero"}, TopK(4), False, {}),
    ("ef21-sgd", optim.EF21SGD, {"lr": 0.3, "n_clients": N}, "ef21-sgd", {"stepsize": 0.3}, TopK(4), False, {}),
    ("ef21-sgdm", optim.EF21SGDM, {"lr": 0.3, "eta": ETA, "n_clients": N}, "ef21-sgdm",
     {"stepsize": 0.3, "momentum": ETA}, TopK(4), False, {}),
    ("econtrol", optim.EControl, {"lr": 0.3, "eta": 0.2, "n_clients": N}, "econtrol",
     {"stepsize": 0.3, "econtrol_eta": 0.2}, TopK(4), False, {}),
    ("econtrol-hprev", optim.EControl, {"lr": 0.3, "eta": 0.2, "n_clients": N, "step_uses": "h_prev"},
     "econtrol", {"stepsize": 0.3, "econtrol_eta": 0.2, "econtrol_step_uses": "h_prev"}, TopK(4), False, {}),
    ("ef", optim.EF, {"lr": 0.2, "mu": 0.5, "n_clients": N}, "ef", {"stepsize": 0.2, "mu": 0.5},
     TopK(4), False, {}),
    ("ef-averaging", optim.EF, {"lr": 0.2, "mu": 0.5, "n_clients": N, "error_averaging": True, "p": 3},
     "ef", {"stepsize": 0.2, "mu": 0.5, "error_averaging": True, "p": 3}, TopK(4), False, {}),
    ("saef", optim.SAEF, {"lr": 0.2, "mu": 0.5, "n_clients": N, "p": 3}, "saef",
     {"stepsize": 0.2, "mu": 0.5, "p": 3}, TopK(4), False, {}),
    ("saef-single-way", optim.SAEF, {"lr": 0.2, "n_clients": N, "double_way": False}, "saef",
     {"stepsize": 0.2, "double_way": False}, TopK(4), False, {}),
    ("smm", optim.SMM, {"lr": 0.01, "beta": 0.3, "n_clients": N}, "smm",
     {"stepsize": 0.01, "momentum": 0.3}, None, False, {}),
    ("mvsm-v1", optim.MVSM, {"lr": 0.01, "beta": 0.3, "n_clients": N, "G": 1.0, "version": 1},
     "mvsm-v1", {"stepsize": 0.01, "momentum": 0.3, "G": 1.0}, None, False, {"replay_signs": True}),
    ("mvsm-v2", optim.MVSM, {"lr": 0.01, "beta": 0.3, "n_clients": N, "G": 1.0, "version": 2},
     "mvsm-v2", {"stepsize": 0.01, "momentum": 0.3, "G": 1.0}, None, False, {"replay_signs": True}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_optimizer_equals_numpy_reference(case):
    _, cls, okw, name, rkw, compressor, exact, extra = case
    problem = MLPProblem(batch=None if exact else BATCH)
    if compressor is not None:
        okw = {**okw, "compressor": compressor}
    got = run_optimizer(cls, okw, problem, compressor=compressor, **extra)
    ref = algorithms.run(name, problem, compressor, x0(), ITERS, seed=SEED, backend="numpy", **rkw)
    np.testing.assert_allclose(got, ref.x, rtol=0, atol=1e-10)
    assert np.abs(got[-1] - got[0]).max() > 1e-3          # the run moved


def _engine_has(name):
    try:
        return name in algorithms.names("torch")
    except Exception:   # the engine is optional for this check
        return False


@pytest.mark.parametrize("name,cls,okw,rkw", [
    ("ef21-norm", optim.EF21Norm, {"lr": LR}, {"stepsize": LR}),
    ("ef21-hm-norm", optim.EF21HMNorm, {"lr": LR, "eta": ETA}, {"stepsize": LR, "momentum": ETA}),
    ("ef21-mvr-norm", optim.EF21MVRNorm, {"lr": LR, "eta": ETA}, {"stepsize": LR, "momentum": ETA}),
    ("ef21-igt-norm", optim.EF21IGTNorm, {"lr": LR, "eta": ETA}, {"stepsize": LR, "momentum": ETA}),
    ("ef21-sgdm-norm", optim.EF21SGDMNorm, {"lr": LR, "eta": ETA}, {"stepsize": LR, "momentum": ETA}),
    ("econtrol", optim.EControl, {"lr": 0.3, "eta": 0.2}, {"stepsize": 0.3, "econtrol_eta": 0.2}),
    ("saef", optim.SAEF, {"lr": 0.2, "mu": 0.5, "p": 3}, {"stepsize": 0.2, "mu": 0.5, "p": 3}),
])
def test_optimizer_equals_batched_engine(name, cls, okw, rkw):
    if not _engine_has(name):
        pytest.skip(f"the torch engine does not provide {name!r}")
    problem = MLPProblem(batch=None)
    got = run_optimizer(cls, {**okw, "n_clients": N, "compressor": TopK(4)}, problem)
    ref = algorithms.run(name, problem, TopK(4), x0(), ITERS, seed=SEED, backend="torch",
                         **rkw).numpy()
    xs = np.asarray(ref.x)
    xs = xs[0] if xs.ndim == 3 else xs
    np.testing.assert_allclose(got, xs, rtol=0, atol=1e-10)


# ------------------------------------------------------------------ normalization / compression scopes

def test_per_tensor_and_global_normalization_differ_and_match_their_definitions():
    problem = MLPProblem(batch=None)
    kw = {"lr": LR, "n_clients": N, "compressor": TopK(4)}
    glob = run_optimizer(optim.EF21Norm, kw, problem)
    per = run_optimizer(optim.EF21Norm, {**kw, "normalize": "per_tensor"}, problem)
    assert np.abs(glob - per).max() > 1e-3
    # global: every step has length exactly lr
    np.testing.assert_allclose(np.linalg.norm(np.diff(glob, axis=0), axis=1), LR, rtol=1e-12)
    # per tensor: every tensor whose mirror slice is nonzero moves by exactly lr
    steps = np.diff(per, axis=0)
    bounds = np.cumsum([0] + problem.sizes)
    for a, b in zip(bounds[:-1], bounds[1:]):
        lengths = np.linalg.norm(steps[:, a:b], axis=1)
        assert np.all((np.abs(lengths - LR) < 1e-12) | (lengths == 0))
    assert np.linalg.norm(steps, axis=1).max() > LR * 1.5
    ref = algorithms.run("ef21-norm", problem, TopK(4), x0(), ITERS, stepsize=LR,
                         normalize_scope="per_tensor", blocks=problem.sizes)
    np.testing.assert_allclose(per, ref.x, rtol=0, atol=1e-10)


def test_per_tensor_compression_is_blockwise_compression():
    problem = MLPProblem(batch=None)
    kw = {"lr": LR, "n_clients": N, "compressor": TopK(1)}
    per = run_optimizer(optim.EF21Norm, {**kw, "compress": "per_tensor"}, problem)
    glob = run_optimizer(optim.EF21Norm, kw, problem)
    assert np.abs(glob - per).max() > 1e-3
    ref = algorithms.run("ef21-norm", problem, Blockwise(TopK(1), problem.sizes), x0(), ITERS,
                         stepsize=LR)
    np.testing.assert_allclose(per, ref.x, rtol=0, atol=1e-10)


def test_closure_may_call_backward():
    problem = MLPProblem(batch=None)
    model_a, model_b = make_model(), make_model()
    kw = {"lr": LR, "n_clients": N, "compressor": TopK(4), "eta": ETA}
    opt_a = optim.EF21MVRNorm(model_a.parameters(), **kw)
    opt_b = optim.EF21MVRNorm(model_b.parameters(), **kw)

    def backward_closure(i, fresh):
        loss = client_loss(model_b, i, None)
        loss.backward()
        return loss

    for _ in range(5):
        opt_a.step(lambda i, fresh: client_loss(model_a, i, None))
        opt_b.step(backward_closure)
    assert torch.equal(flat(model_a), flat(model_b))
    del problem


def test_hvp_optimizer_rejects_backward_closure():
    model = make_model()
    opt = optim.EF21HMNorm(model.parameters(), lr=LR, eta=ETA, n_clients=N, compressor=TopK(4))

    def closure(i, fresh):
        loss = client_loss(model, i, None)
        loss.backward()
        return loss

    with pytest.raises(ValueError, match="closure"):
        opt.step(closure)


def test_mirror_equals_mean_of_client_memories():
    model = make_model()
    opt = optim.EF21SGDMNorm(model.parameters(), lr=LR, eta=ETA, n_clients=N, compressor=TopK(3))
    for _ in range(6):
        opt.step(lambda i, fresh: client_loss(model, i, None))
        st = opt.state["ef"]
        torch.testing.assert_close(st["g"], st["g_i"].mean(dim=0), rtol=0, atol=1e-14)


# ------------------------------------------------------------------ state_dict round trip

def _gen():
    return torch.Generator().manual_seed(3)


ROUND_TRIP = [
    (optim.EF21Norm, {"compressor": TopK(4)}),
    (optim.EF21SGDMNorm, {"compressor": RandK(5), "eta": ETA, "generator": "gen"}),
    (optim.EF21IGTNorm, {"compressor": TopK(4), "eta": ETA}),
    (optim.EF21RHMNorm, {"compressor": TopK(4), "eta": ETA, "generator": "gen"}),
    (optim.EF21HMNorm, {"compressor": TopK(4), "eta": ETA, "normalize": "per_tensor"}),
    (optim.EF21MVRNorm, {"compressor": TopK(1), "eta": ETA, "compress": "per_tensor"}),
    (optim.EF21SGD, {"compressor": TopK(4)}),
    (optim.EF21SGDM, {"compressor": TopK(4), "eta": ETA}),
    (optim.EControl, {"compressor": TopK(4), "eta": 0.2}),
    (optim.EF, {"compressor": TopK(4), "mu": 0.5, "error_averaging": True, "p": 2}),
    (optim.SAEF, {"compressor": TopK(4), "mu": 0.5, "p": 2}),
    (optim.SMM, {"beta": 0.3}),
    (optim.MVSM, {"beta": 0.3, "G": 1.0, "version": 2, "generator": "gen"}),
]


@pytest.mark.parametrize("cls,kw", ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
def test_state_dict_round_trip_resumes_bit_exactly(cls, kw):
    def build(model):
        args = {k: (_gen() if v == "gen" else v) for k, v in kw.items()}
        return cls(model.parameters(), lr=0.03, n_clients=N, **args)

    def closure_for(model):
        return lambda i, fresh: client_loss(model, i, None)

    model = make_model()
    opt = build(model)
    for _ in range(3):
        opt.step(closure_for(model))
    saved = copy.deepcopy(opt.state_dict())
    saved_params = copy.deepcopy(model.state_dict())
    for _ in range(3):
        opt.step(closure_for(model))
    expected = flat(model)

    model2 = make_model(seed=99)
    model2.load_state_dict(saved_params)
    opt2 = build(model2)
    if kw.get("generator") == "gen":      # a different generator state before loading
        torch.rand(7, generator=opt2.generator)
    opt2.load_state_dict(saved)
    for _ in range(3):
        opt2.step(closure_for(model2))
    assert torch.equal(flat(model2), expected)
    assert opt2.state["ef"]["k"] == 6
