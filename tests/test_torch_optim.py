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
from eftheory.schedules import polynomial

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


class ReferenceDraws:
    """The reference's minibatch draws, served per client in the order each client asks for them.

    The reference draws per iteration clients 0..n-1 in order, ``per_iter`` draws each (RHM with an
    independent HVP sample takes its second right after its first); the optimizer asks client by
    client within one evaluation, so the draws are generated in the reference's order and queued
    per client.
    """

    def __init__(self, problem, rng, per_iter):
        self.problem, self.rng, self.per_iter = problem, rng, max(1, per_iter)
        self.queues = [[] for _ in range(N)]
        self.used = [0] * N

    def next(self, i):
        while len(self.queues[i]) <= self.used[i]:
            for j in range(N):
                for _ in range(self.per_iter):
                    self.queues[j].append(self.problem.sample(j, self.rng))
        xi = self.queues[i][self.used[i]]
        self.used[i] += 1
        return xi


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def replay_closure(model, problem, rng, per_iter=1):
    """closure(i, fresh) drawing minibatches exactly as the reference does."""
    draws = ReferenceDraws(problem, rng, per_iter)
    current = [None] * N

    def closure(i, fresh):
        if fresh:
            current[i] = draws.next(i)
        return client_loss(model, i, current[i])

    return closure


def replay_uniforms(streams):
    """The optimizer's uniforms from the reference's compress / aux streams (same call order)."""
    def uniforms(shape, purpose):
        rng = streams.compress if purpose == "compress" else streams.aux
        return torch.from_numpy(rng.random(shape))
    return uniforms


def run_optimizer(name, kwargs, problem, *, seed=SEED, iters=ITERS, compressor=None, per_iter=1):
    streams = Streams(seed)
    model = make_model()
    kwargs = dict(kwargs)
    if compressor is not None:
        kwargs["compressor"] = compressor
    opt = optim.for_name(name)(model.parameters(), uniforms=replay_uniforms(streams), **kwargs)
    closure = replay_closure(model, problem, streams.sample, per_iter)
    xs = [flat(model)]
    for _ in range(iters):
        opt.step(closure)
        xs.append(flat(model))
    return torch.stack(xs).numpy()


def x0():
    return flat(make_model()).numpy()


LR = 0.05
ETA = 0.6
# (id, registered name, options -- the same dict for algorithms.run and the optimizer --, compressor,
#  exact data, sample draws per client and iteration)
CASES = [
    ("ef21", "ef21", {"stepsize": 0.3}, TopK(4), True, 0),
    ("ef21-norm", "ef21-norm", {"stepsize": LR}, TopK(4), True, 0),
    ("ef21-norm-randk", "ef21-norm", {"stepsize": LR, "init": "compressed"}, RandK(5), True, 0),
    ("ef21-sgdm-norm", "ef21-sgdm-norm", {"stepsize": LR, "momentum": ETA}, TopK(4), False, 1),
    ("ef21-sgdm-norm-randk", "ef21-sgdm-norm",
     {"stepsize": polynomial(LR, 0.75, base="1/(k+1)"), "momentum": polynomial(1.0, 0.5),
      "init": "compressed"}, RandK(6), False, 1),
    ("ef21-igt-norm", "ef21-igt-norm", {"stepsize": LR, "momentum": ETA}, TopK(4), False, 1),
    ("ef21-hm-norm", "ef21-hm-norm", {"stepsize": LR, "momentum": ETA}, TopK(4), False, 1),
    ("ef21-rhm-norm", "ef21-rhm-norm", {"stepsize": LR, "momentum": ETA}, TopK(4), False, 2),
    ("ef21-rhm-norm-same", "ef21-rhm-norm", {"stepsize": LR, "momentum": ETA, "rhm_same_sample": True},
     TopK(4), False, 1),
    ("ef21-mvr-norm", "ef21-mvr-norm", {"stepsize": LR, "momentum": ETA, "init": "zero"}, TopK(4), False, 1),
    ("ef21-mvr", "ef21-mvr", {"stepsize": 0.3, "momentum": ETA}, RandK(5), False, 1),
    ("ef21-sgd", "ef21-sgd", {"stepsize": 0.3}, TopK(4), False, 1),
    ("ef21-sgdm", "ef21-sgdm", {"stepsize": 0.3, "momentum": ETA}, TopK(4), False, 1),
    ("econtrol", "econtrol", {"stepsize": 0.3, "econtrol_eta": 0.2}, TopK(4), False, 1),
    ("econtrol-hprev", "econtrol", {"stepsize": 0.3, "econtrol_eta": 0.2, "econtrol_step_uses": "h_prev"},
     TopK(4), False, 1),
    ("ef", "ef", {"stepsize": 0.2, "mu": 0.5}, TopK(4), False, 1),
    ("ef-averaging-randk", "ef", {"stepsize": 0.2, "mu": 0.5, "error_averaging": True, "p": 3}, RandK(4),
     False, 1),
    ("saef", "saef", {"stepsize": 0.2, "mu": 0.5, "p": 3}, TopK(4), False, 1),
    ("saef-single-way", "saef", {"stepsize": 0.2, "double_way": False}, TopK(4), False, 1),
    ("saef-no-local-feedback", "saef", {"stepsize": 0.2, "mu": 0.5, "local_feedback": False}, TopK(4), False, 1),
    ("signsgd", "signsgd", {"stepsize": 0.01}, None, False, 1),
    ("signum", "signum", {"stepsize": 0.01, "momentum": 0.3}, None, False, 1),
    ("smm", "smm", {"stepsize": 0.01, "momentum": 0.3}, None, False, 1),
    ("mv-signsgd", "mv-signsgd", {"stepsize": 0.01}, None, False, 1),
    ("mv-signum", "mv-signum", {"stepsize": 0.01, "momentum": 0.3, "ties": "plus"}, None, False, 1),
    ("sto-signsgd", "sto-signsgd", {"stepsize": 0.01, "B": 1.0}, None, False, 1),
    ("mvsm-v1", "mvsm-v1", {"stepsize": 0.01, "momentum": 0.3, "G": 1.0}, None, False, 1),
    ("mvsm-v1-shared", "mvsm-v1", {"stepsize": 0.01, "momentum": 0.3, "G": 1.0, "shared_draw": True}, None,
     False, 1),
    ("mvsm-v2", "mvsm-v2", {"stepsize": 0.01, "momentum": 0.3, "G": 1.0}, None, False, 1),
]


def test_every_registered_algorithm_has_an_optimizer_and_a_case():
    assert sorted(optim.OPTIMIZERS) == algorithms.names()
    assert {c[1] for c in CASES} == set(algorithms.names())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_optimizer_equals_numpy_reference(case):
    _, name, kw, compressor, exact, per_iter = case
    problem = MLPProblem(batch=None if exact else BATCH)
    got = run_optimizer(name, {**kw, "n_clients": N}, problem, compressor=compressor, per_iter=per_iter)
    ref = algorithms.run(name, problem, compressor, x0(), ITERS, seed=SEED, backend="numpy", **kw)
    np.testing.assert_allclose(got, ref.x, rtol=0, atol=1e-10)
    assert np.abs(got[-1] - got[0]).max() > 1e-3          # the run moved


@pytest.mark.parametrize("name,kw", [
    ("ef21-norm", {"stepsize": LR}),
    ("ef21-hm-norm", {"stepsize": LR, "momentum": ETA}),
    ("ef21-mvr-norm", {"stepsize": LR, "momentum": ETA}),
    ("ef21-igt-norm", {"stepsize": LR, "momentum": ETA}),
    ("ef21-sgdm-norm", {"stepsize": LR, "momentum": ETA}),
    ("econtrol", {"stepsize": 0.3, "econtrol_eta": 0.2}),
    ("saef", {"stepsize": 0.2, "mu": 0.5, "p": 3}),
])
def test_optimizer_equals_batched_engine(name, kw):
    problem = MLPProblem(batch=None)
    got = run_optimizer(name, {**kw, "n_clients": N, "compressor": TopK(4)}, problem)
    ref = algorithms.run(name, problem, TopK(4), x0(), ITERS, seed=SEED, backend="torch", **kw).numpy()
    xs = np.asarray(ref.x)
    np.testing.assert_allclose(got, xs[0] if xs.ndim == 3 else xs, rtol=0, atol=1e-10)


# ------------------------------------------------------------------ normalization / compression scopes

def test_per_tensor_and_global_normalization_differ_and_match_their_definitions():
    problem = MLPProblem(batch=None)
    kw = {"stepsize": LR, "n_clients": N, "compressor": TopK(4)}
    glob = run_optimizer("ef21-norm", kw, problem)
    per = run_optimizer("ef21-norm", {**kw, "normalize_scope": "per_tensor"}, problem)
    assert np.abs(glob - per).max() > 1e-3
    # global: every step has length exactly the stepsize
    np.testing.assert_allclose(np.linalg.norm(np.diff(glob, axis=0), axis=1), LR, rtol=1e-12)
    # per tensor: every tensor whose mirror slice is nonzero moves by exactly the stepsize
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
    kw = {"stepsize": LR, "n_clients": N, "compressor": TopK(1)}
    per = run_optimizer("ef21-norm", {**kw, "compress": "per_tensor"}, problem)
    glob = run_optimizer("ef21-norm", kw, problem)
    assert np.abs(glob - per).max() > 1e-3
    ref = algorithms.run("ef21-norm", problem, Blockwise(TopK(1), problem.sizes), x0(), ITERS,
                         stepsize=LR)
    np.testing.assert_allclose(per, ref.x, rtol=0, atol=1e-10)


def test_closure_may_call_backward():
    model_a, model_b = make_model(), make_model()
    kw = {"stepsize": LR, "n_clients": N, "compressor": TopK(4), "momentum": ETA}
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


def test_hvp_optimizer_rejects_backward_closure():
    model = make_model()
    opt = optim.EF21HMNorm(model.parameters(), stepsize=LR, momentum=ETA, n_clients=N, compressor=TopK(4))

    def closure(i, fresh):
        loss = client_loss(model, i, None)
        loss.backward()
        return loss

    with pytest.raises(ValueError, match="closure"):
        opt.step(closure)


def test_mirror_equals_mean_of_client_memories():
    model = make_model()
    opt = optim.EF21SGDMNorm(model.parameters(), stepsize=LR, momentum=ETA, n_clients=N, compressor=TopK(3))
    for _ in range(6):
        opt.step(lambda i, fresh: client_loss(model, i, None))
        st = opt.state["ef"]["step"]
        assert st["g_i"].shape == (1, N, problem_dim())
        torch.testing.assert_close(st["g"], st["g_i"].mean(dim=1), rtol=0, atol=1e-14)


def problem_dim():
    return sum(p.numel() for p in make_model().parameters())


# ------------------------------------------------------------------ the standard loop, errors

def test_step_without_closure_says_what_the_closure_must_be():
    model = make_model()
    opt = optim.EF21Norm(model.parameters(), stepsize=LR, n_clients=N, compressor=TopK(4))
    client_loss(model, 0, None).backward()
    with pytest.raises(ValueError) as err:
        opt.step()
    msg = str(err.value)
    assert "\n" not in msg and "closure(i, fresh)" in msg and "client i's loss" in msg


@pytest.mark.parametrize("name,kw", [
    ("ef21-sgdm-norm", {"stepsize": LR, "momentum": ETA, "compressor": TopK(4)}),
    ("econtrol", {"stepsize": 0.3, "econtrol_eta": 0.2, "compressor": TopK(4)}),
    ("ef", {"stepsize": 0.2, "mu": 0.5, "compressor": TopK(4)}),
    ("mv-signum", {"stepsize": 0.01, "momentum": 0.3}),
])
def test_one_client_runs_in_the_standard_loop(name, kw):
    """zero_grad / backward / step() with n_clients=1 equals the closure form step by step."""
    model_a, model_b = make_model(), make_model()
    opt_a = optim.for_name(name)(model_a.parameters(), n_clients=1, **kw)
    opt_b = optim.for_name(name)(model_b.parameters(), n_clients=1, **kw)
    for _ in range(6):
        opt_a.zero_grad()
        client_loss(model_a, 0, None).backward()
        opt_a.step()
        opt_b.step(lambda i, fresh: client_loss(model_b, i, None))
        assert torch.equal(flat(model_a), flat(model_b))
    assert not torch.equal(flat(model_a), flat(make_model()))


def test_standard_loop_is_refused_where_the_method_needs_other_points():
    model = make_model()
    opt = optim.EF21MVRNorm(model.parameters(), stepsize=LR, momentum=ETA, n_clients=1, compressor=TopK(4))
    client_loss(model, 0, None).backward()
    with pytest.raises(ValueError, match="closure"):
        opt.step()


@pytest.mark.parametrize("old", [{"lr": LR}, {"eta": ETA}, {"normalize": "global"}, {"same_sample": True}])
def test_old_option_spellings_are_rejected_with_the_allowed_names(old):
    model = make_model()
    kw = {"stepsize": LR, "momentum": ETA, "n_clients": N, "compressor": TopK(4), **old}
    with pytest.raises((ValueError, TypeError), match="allowed|unexpected"):
        optim.EF21RHMNorm(model.parameters(), generator=_gen(), **kw)


def test_option_values_outside_the_card_are_rejected():
    model = make_model()
    with pytest.raises(ValueError, match="init"):
        optim.EF21Norm(model.parameters(), stepsize=LR, n_clients=N, compressor=TopK(4), init="nope")
    with pytest.raises(ValueError, match="momentum"):
        optim.EF21Norm(model.parameters(), stepsize=LR, momentum=0.5, n_clients=N, compressor=TopK(4))
    with pytest.raises(ValueError, match="momentum"):
        optim.EF21SGDMNorm(model.parameters(), stepsize=LR, n_clients=N, compressor=TopK(4))


# ------------------------------------------------------------------ state_dict round trip

def _gen():
    return torch.Generator().manual_seed(3)


ROUND_TRIP = [
    ("ef21-norm", {"compressor": TopK(4)}),
    ("ef21-sgdm-norm", {"compressor": RandK(5), "momentum": ETA, "generator": "gen"}),
    ("ef21-igt-norm", {"compressor": TopK(4), "momentum": ETA}),
    ("ef21-rhm-norm", {"compressor": TopK(4), "momentum": ETA, "generator": "gen"}),
    ("ef21-hm-norm", {"compressor": TopK(4), "momentum": ETA, "normalize_scope": "per_tensor"}),
    ("ef21-mvr-norm", {"compressor": TopK(1), "momentum": ETA, "compress": "per_tensor"}),
    ("ef21-sgd", {"compressor": TopK(4)}),
    ("ef21-sgdm", {"compressor": TopK(4), "momentum": ETA}),
    ("econtrol", {"compressor": TopK(4), "econtrol_eta": 0.2}),
    ("ef", {"compressor": TopK(4), "mu": 0.5, "error_averaging": True, "p": 2}),
    ("saef", {"compressor": TopK(4), "mu": 0.5, "p": 2}),
    ("smm", {"momentum": 0.3}),
    ("mvsm-v2", {"momentum": 0.3, "G": 1.0, "generator": "gen"}),
]


def _build(name, kw, model, stepsize=0.03):
    args = {k: (_gen() if v == "gen" else v) for k, v in kw.items()}
    return optim.for_name(name)(model.parameters(), stepsize=stepsize, n_clients=N, **args)


@pytest.mark.parametrize("name,kw", ROUND_TRIP, ids=[c for c, _ in ROUND_TRIP])
def test_state_dict_round_trip_resumes_bit_exactly(name, kw):
    def closure_for(model):
        return lambda i, fresh: client_loss(model, i, None)

    model = make_model()
    opt = _build(name, kw, model)
    for _ in range(3):
        opt.step(closure_for(model))
    saved = copy.deepcopy(opt.state_dict())
    saved_params = copy.deepcopy(model.state_dict())
    for _ in range(3):
        opt.step(closure_for(model))
    expected = flat(model)

    model2 = make_model(seed=99)
    model2.load_state_dict(saved_params)
    opt2 = _build(name, kw, model2)
    if kw.get("generator") == "gen":      # a different generator state before loading
        torch.rand(7, generator=opt2.generator)
    opt2.load_state_dict(saved)
    for _ in range(3):
        opt2.step(closure_for(model2))
    assert torch.equal(flat(model2), expected)
    assert opt2.state["ef"]["k"] == 6


def test_a_schedule_as_stepsize_survives_torch_save():
    import io

    model = make_model()
    opt = optim.EF21SGDMNorm(model.parameters(), stepsize=polynomial(0.1, 2 / 3), momentum=polynomial(1.0, 0.5),
                             n_clients=N, compressor=TopK(4))
    for _ in range(2):
        opt.step(lambda i, fresh: client_loss(model, i, None))
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    model2 = make_model()
    model2.load_state_dict(model.state_dict())
    opt2 = optim.EF21SGDMNorm(model2.parameters(), stepsize=0.5, momentum=0.5, n_clients=N, compressor=TopK(4))
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["stepsize"](3) == polynomial(0.1, 2 / 3)(3)
    opt.step(lambda i, fresh: client_loss(model, i, None))
    opt2.step(lambda i, fresh: client_loss(model2, i, None))
    assert torch.equal(flat(model), flat(model2))


@pytest.mark.parametrize("src", [c for c, _ in ROUND_TRIP])
def test_loading_another_methods_state_is_a_one_line_error(src):
    src_kw = dict(ROUND_TRIP)[src]
    model = make_model()
    opt = _build(src, src_kw, model)
    opt.step(lambda i, fresh: client_loss(model, i, None))
    saved = opt.state_dict()
    for dst, dst_kw in ROUND_TRIP:
        if dst == src:
            continue
        target = _build(dst, dst_kw, make_model())
        with pytest.raises(ValueError) as err:
            target.load_state_dict(saved)
        assert "\n" not in str(err.value) and repr(src) in str(err.value)
    fresh_state = _build(src, src_kw, make_model()).state_dict()      # before any step
    other = "ef21-norm" if src != "ef21-norm" else "ef21-sgd"
    with pytest.raises(ValueError):
        _build(other, dict(ROUND_TRIP)[other], make_model()).load_state_dict(fresh_state)


@pytest.mark.parametrize("bad", [{}, {"state": {}}, {"param_groups": []}, [], {"state": {}, "param_groups": "x"}])
def test_malformed_state_dict_is_a_one_line_error(bad):
    opt = _build("ef21-norm", {"compressor": TopK(4)}, make_model())
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(bad)
    assert "\n" not in str(err.value)
