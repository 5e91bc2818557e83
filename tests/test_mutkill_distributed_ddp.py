"""The DDP communication hook in this process: one gloo rank, and two ranks on threads.

``tests/test_ddp.py`` runs the hook on two spawned processes; here the same hook runs where the
tests can see it. With a world of one (real gloo, real ``DistributedDataParallel``) the hook must
equal the optimizer simulating one client, and its state must round-trip. With two ranks on two
threads the hook is fed DDP's bucket interface (``parameters()``, ``gradients()``, ``is_last()``,
``buffer()``) and talks through the in-process collectives of ``test_mutkill_distributed``; it
must equal the optimizer simulating the two clients (1e-12), as the spawned test asserts.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from algorithms.torch.distributed import _seed_int, available
from eftheory.compressors import RandK, TopK
from test_ddp import CASES, _simulated, flat, loss_of, make_model
from test_mutkill_distributed import run_threads

OK, WHY = available("gloo")
pytestmark = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")

K1, K2 = 3, 2


def _train(ddp, opt, steps, hook):
    xs = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(ddp, 0).backward()
        opt.step()
        xs.append(hook.model())
    return xs


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_rank_ddp_hook_equals_one_simulated_client(world_of_one, case):
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    cid, name, C, kw = case
    model = make_model()
    ddp = DDP(model, bucket_cap_mb=1e-4)                      # several buckets: the hook spans them all
    hook = CompressedHook(name, ddp, C, **kw)
    assert (hook.rank, hook.n, hook.d) == (0, 1, sum(p.numel() for p in model.parameters()))
    ddp.register_comm_hook(None, hook.hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=1.0)
    xs = [flat(model)] + _train(ddp, opt, K1, hook)
    saved, params = hook.state_dict(), {k: v.clone() for k, v in model.state_dict().items()}
    assert saved["k"] == K1 and saved["method"] == name and (saved["n"], saved["rank"]) == (1, 0)
    xs += _train(ddp, opt, K2, hook)
    got = torch.stack(xs).numpy()
    ref = _simulated(name, C, kw, K1 + K2, 1)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert np.abs(got[-1] - got[0]).max() > 1e-4
    model2 = make_model()
    model2.load_state_dict(params)
    ddp2 = DDP(model2, bucket_cap_mb=1e-4)
    hook2 = CompressedHook(name, ddp2, C, **kw)
    hook2.load_state_dict(saved)
    assert hook2.k == K1
    ddp2.register_comm_hook(None, hook2.hook)
    resumed = _train(ddp2, torch.optim.SGD(ddp2.parameters(), lr=1.0), K2, hook2)
    np.testing.assert_array_equal(torch.stack(resumed).numpy(), got[K1 + 1:])


def test_hook_state_dict_is_a_copy(world_of_one):
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    model = make_model()
    ddp = DDP(model)
    hook = CompressedHook("ef21-norm", ddp, TopK(3), stepsize=0.05)
    ddp.register_comm_hook(None, hook.hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=1.0)
    _train(ddp, opt, 2, hook)
    sd = hook.state_dict()
    floats = [k for k, v in hook.st.items() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    assert floats
    before = {k: hook.st[k].clone() for k in floats}
    for k in floats:
        sd["st"][k].add_(1.0)
    for k in floats:
        assert torch.equal(hook.st[k], before[k])
    assert sd["d"] == hook.d and torch.equal(sd["gen"], hook.gen.get_state())


def test_hook_load_state_dict_refuses_what_does_not_fit(world_of_one):
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    ddp = DDP(make_model())
    hook = CompressedHook("ef21-norm", ddp, TopK(3), stepsize=0.05)
    good = hook.state_dict()
    with pytest.raises(ValueError, match=r"^state_dict must be a 'ef21-norm' hook's state_dict\(\); got one of 'ef'$"):
        hook.load_state_dict({**good, "method": "ef"})
    with pytest.raises(ValueError, match=r"got one of 'list'$"):
        hook.load_state_dict([])
    with pytest.raises(ValueError, match=r"this one lacks the keys \['gen', 'server_gen'\]$"):
        hook.load_state_dict({k: v for k, v in good.items() if k not in ("gen", "server_gen")})
    for key in ("d", "n", "rank"):
        bad = {**good, key: good[key] + 5}
        with pytest.raises(ValueError, match=rf"^state_dict was saved with {key}={good[key] + 5}; this hook has "
                                             rf"{key}={good[key]}$"):
            hook.load_state_dict(bad)


def test_hook_refuses_what_it_cannot_run(world_of_one):
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    ddp = DDP(make_model())
    with pytest.raises(ValueError, match=r"^name must be one of the methods a DDP hook runs .*got 'ef21-mvr-norm' "
                                         r"\(methods that evaluate other points or HVPs run with algorithms.torch.optim\)$"):
        CompressedHook("ef21-mvr-norm", ddp, TopK(3), stepsize=0.1, momentum=0.5)
    with pytest.raises(ValueError, match=r"^compressor must be None for 'smm'"):
        CompressedHook("smm", ddp, TopK(3), stepsize=0.1, momentum=0.5)
    with pytest.raises(ValueError, match=r"^seed "):
        CompressedHook("ef21-norm", ddp, TopK(3), stepsize=0.1, seed=-1)
    with pytest.raises(ValueError, match=r"^stepsize "):
        CompressedHook("ef21-norm", ddp, TopK(3), stepsize=-0.1)
    with pytest.raises(ValueError, match=r"^momentum "):
        CompressedHook("ef21-sgdm-norm", ddp, TopK(3), stepsize=0.1, momentum=1.5)
    with pytest.raises(ValueError, match=r"k"):
        CompressedHook("ef21-norm", ddp, TopK(1000), stepsize=0.1)
    frozen = make_model()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match=r"^model must have parameters that require gradients; got none$"):
        CompressedHook("ef21-norm", frozen, TopK(3), stepsize=0.1)


def test_hook_needs_an_initialized_process_group():
    import torch.distributed as dist

    from algorithms.torch.ddp import CompressedHook

    assert not dist.is_initialized()
    with pytest.raises(ValueError, match=r"^process_group: torch.distributed must be initialized "
                                         r"\(dist.init_process_group\) before a CompressedHook is built$"):
        CompressedHook("ef21-norm", make_model(), TopK(3), stepsize=0.1)


# ---------------------------------------------------------------------------------- two ranks on threads


class Bucket:
    """DDP's GradBucket interface over some parameters' gradients."""

    def __init__(self, params, grads, last):
        self._params, self._grads, self._last = params, grads, last

    def parameters(self):
        return self._params

    def gradients(self):
        return self._grads

    def is_last(self):
        return self._last

    def buffer(self):
        return torch.cat([g.reshape(-1) for g in self._grads])


def _thread_hooks(dist, name, C, kw, n, seed=0):
    """n hooks built in the world of one, then made ranks 0..n-1 of n (their generators reseeded as a
    rank's would be: (seed, rank, 1); the server stream is every rank's)."""
    from algorithms.torch.ddp import CompressedHook

    hooks, models = [], []
    for r in range(n):
        model = make_model()
        hook = CompressedHook(name, model, C, seed=seed, **kw)
        hook.rank, hook.n = r, n
        hook.gen.manual_seed(_seed_int(seed, r, 1))
        hooks.append(hook)
        models.append(model)
    return hooks, models


def _hook_step(hook, model, rank, rdist):
    """One DDP iteration on rank ``rank``: backward on its shard, two buckets, p <- p - u."""
    hook.dist = rdist
    params = list(model.parameters())
    grads = torch.autograd.grad(loss_of(model, rank), params)
    grads = [g.clone() for g in grads]
    half = len(params) // 2
    futs = [hook.hook(None, Bucket(params[:half], grads[:half], False)),
            hook.hook(None, Bucket(params[half:], grads[half:], True))]
    for f in futs:
        f.wait()
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(g)
    return hook.model()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_two_thread_ranks_hook_equals_the_simulated_clients(world_of_one, case):
    cid, name, C, kw = case
    n, iters = 2, K1 + K2
    hooks, models = _thread_hooks(world_of_one, name, C, kw, n)

    def fn(r, rdist):
        return [flat(models[r])] + [_hook_step(hooks[r], models[r], r, rdist) for _ in range(iters)]

    outs, _ = run_threads(None, n, fn)
    got = torch.stack(outs[0]).numpy()
    np.testing.assert_array_equal(torch.stack(outs[1]).numpy(), got)      # every rank: the same server model
    ref = _simulated(name, C, kw, iters, n)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert np.abs(got[-1] - got[0]).max() > 1e-4
    assert all(h.k == iters for h in hooks)


def test_two_thread_ranks_hook_state_round_trips(world_of_one):
    """state_dict after K1 steps, loaded into fresh hooks: the remaining steps are bit for bit (SAEF:
    the step-ahead parameters are restored by load_state_dict)."""
    for cid in ("saef", "ef21-sgdm-norm"):
        _, name, C, kw = next(c for c in CASES if c[0] == cid)
        n = 2
        hooks, models = _thread_hooks(world_of_one, name, C, kw, n)
        mid = {}

        def fn(r, rdist):
            first = [_hook_step(hooks[r], models[r], r, rdist) for _ in range(K1)]
            mid[r] = (copy.deepcopy(hooks[r].state_dict()), copy.deepcopy(models[r].state_dict()))
            return first + [_hook_step(hooks[r], models[r], r, rdist) for _ in range(K2)]

        full, _ = run_threads(None, n, fn)
        hooks2, models2 = _thread_hooks(world_of_one, name, C, kw, n)
        for r in range(n):
            models2[r].load_state_dict(make_model().state_dict())        # as DDP would: rank 0's parameters
            hooks2[r].load_state_dict(mid[r][0])
            if not hooks2[r].card.step_ahead:
                models2[r].load_state_dict(mid[r][1])
            for a, b in zip(models2[r].state_dict().values(), mid[r][1].values()):
                assert torch.equal(a, b)                                 # SAEF: its own step-ahead point back

        def rest(r, rdist):
            return [_hook_step(hooks2[r], models2[r], r, rdist) for _ in range(K2)]

        resumed, _ = run_threads(None, n, rest)
        for r in range(n):
            np.testing.assert_array_equal(torch.stack(resumed[r]).numpy(), torch.stack(full[r][K1:]).numpy())


def test_hook_failure_reaches_every_bucket(world_of_one):
    from algorithms.torch.ddp import CompressedHook

    model = make_model()
    hook = CompressedHook("ef21-norm", model, TopK(3), stepsize=0.05)
    params = list(model.parameters())
    grads = [torch.full_like(p, float("nan")) for p in params]
    f1 = hook.hook(None, Bucket(params[:2], grads[:2], False))
    assert not f1.done()                                   # pending until the last bucket
    f2 = hook.hook(None, Bucket(params[2:], grads[2:], True))
    for f in (f1, f2):
        with pytest.raises(Exception, match="non-finite"):
            f.wait()
    assert hook._pending == [] and hook.k == 0


def test_random_compressor_hook_draws_from_its_rank_stream(world_of_one):
    """Rand-K: the rank's generator is (seed, rank, 1); two seeds give two trajectories."""
    from algorithms.torch.ddp import CompressedHook

    def run(seed):
        model = make_model()
        hook = CompressedHook("ef21-norm", model, RandK(3), stepsize=0.05, seed=seed)
        params = list(model.parameters())
        for _ in range(3):
            grads = [g.clone() for g in torch.autograd.grad(loss_of(model, 0), params)]
            hook.hook(None, Bucket(params, grads, True)).wait()
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(g)
        return flat(model)

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


class ModelProblem:
    """The DDP test's clients as a protocol problem over the flattened model parameters."""

    def __init__(self, n=2):
        self.model = make_model()
        self.names = [k for k, _ in self.model.named_parameters()]
        self.shapes = [p.shape for p in self.model.parameters()]
        self.n_clients, self.dim = n, sum(p.numel() for p in self.model.parameters())

    def grad_i(self, i, x, xi=None):
        theta = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
        params, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = int(np.prod(shape))
            params[name] = theta[start:start + size].view(shape)
            start += size
        loss = loss_of(lambda X: torch.func.functional_call(self.model, params, (X,)), i)
        return torch.autograd.grad(loss, theta)[0].numpy()

    def sample(self, i, rng):
        return None


RANDOM = [
    ("mvsm-v2", "mvsm-v2", None, {"stepsize": 0.01, "momentum": 0.3, "G": 2.0}),
    ("sto-signsgd", "sto-signsgd", None, {"stepsize": 0.01, "B": 2.0}),
    ("ef21-norm-randk", "ef21-norm", RandK(3), {"stepsize": 0.05}),
    ("ef-randk", "ef", RandK(3), {"stepsize": 0.2, "mu": 0.5}),
    ("saef-randk", "saef", RandK(3), {"stepsize": 0.2, "mu": 0.5, "p": 2}),
    ("saef-p3", "saef", TopK(3), {"stepsize": 0.2, "mu": 0.5, "p": 3}),
    ("ef-averaging", "ef", TopK(3), {"stepsize": 0.2, "mu": 0.5, "error_averaging": True, "p": 2}),
    ("ef21-sgdm-norm-per-tensor", "ef21-sgdm-norm", TopK(3), {"stepsize": 0.05, "momentum": 0.5,
                                                            "normalize_scope": "per_tensor",
                                                            "blocks": [10, 11]}),        # not the model's tensors
]


@pytest.mark.parametrize("case", RANDOM, ids=[c[0] for c in RANDOM])
def test_two_thread_ranks_hook_equals_the_distributed_runner(world_of_one, case):
    """Methods with random draws: the hook's rank streams are the runner's ((seed, rank, 1) and the
    server's), so the hook's server model equals the runner's iterates."""
    from algorithms.torch import distributed as D_

    cid, name, C, kw = case
    n, iters, seed = 2, 7, 3
    hooks, models = _thread_hooks(world_of_one, name, C, kw, n, seed=seed)

    def fn(r, rdist):
        return [flat(models[r])] + [_hook_step(hooks[r], models[r], r, rdist) for _ in range(iters)]

    outs, _ = run_threads(None, n, fn)
    got = torch.stack(outs[0]).numpy()
    x0 = flat(make_model()).numpy()
    job = D_.make_job(name, ModelProblem, C, x0, iters, seed=seed, world_size=n, **kw)
    runs, _ = run_threads(job, n)
    np.testing.assert_allclose(got, runs[0]["x"], rtol=0, atol=1e-12)
    assert np.abs(got[-1] - got[0]).max() > 1e-4


def test_per_tensor_normalization_defaults_to_the_model_tensors(world_of_one):
    """``normalize_scope="per_tensor"`` without ``blocks``: the blocks are the parameter tensors, as in the
    optimizer (one rank of DDP = one simulated client)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    kw = {"stepsize": 0.05, "momentum": 0.5, "normalize_scope": "per_tensor"}
    model = make_model()
    ddp = DDP(model, bucket_cap_mb=1e-4)
    hook = CompressedHook("ef21-sgdm-norm", ddp, TopK(3), **kw)
    ddp.register_comm_hook(None, hook.hook)
    xs = [flat(model)] + _train(ddp, torch.optim.SGD(ddp.parameters(), lr=1.0), 4, hook)
    ref = _simulated("ef21-sgdm-norm", TopK(3), kw, 4, 1)
    np.testing.assert_allclose(torch.stack(xs).numpy(), ref, rtol=0, atol=1e-12)
    glob = _simulated("ef21-sgdm-norm", TopK(3), {**kw, "normalize_scope": "global"}, 4, 1)
    assert np.abs(glob[-1] - ref[-1]).max() > 1e-6


def test_hook_schedules_are_evaluated_at_the_step(world_of_one):
    """A stepsize and a momentum schedule ``k -> value``: the hook evaluates them at its step counter."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook
    from eftheory.schedules import polynomial

    kw = {"stepsize": polynomial(0.1, 0.5), "momentum": polynomial(0.9, 0.5)}
    model = make_model()
    ddp = DDP(model)
    hook = CompressedHook("ef21-sgdm-norm", ddp, TopK(3), **kw)
    ddp.register_comm_hook(None, hook.hook)
    xs = [flat(model)] + _train(ddp, torch.optim.SGD(ddp.parameters(), lr=1.0), 4, hook)
    ref = _simulated("ef21-sgdm-norm", TopK(3), kw, 4, 1)
    np.testing.assert_allclose(torch.stack(xs).numpy(), ref, rtol=0, atol=1e-12)
    const = _simulated("ef21-sgdm-norm", TopK(3), {"stepsize": 0.1, "momentum": 0.9}, 4, 1)
    assert np.abs(const[-1] - ref[-1]).max() > 1e-6


def test_hook_state_loads_into_a_float32_model(world_of_one):
    """A float64 hook state loaded into the hook of a float32 model: its float tensors take the model's dtype."""
    from algorithms.torch.ddp import CompressedHook

    model = make_model()
    hook = CompressedHook("ef21-sgdm-norm", model, TopK(3), stepsize=0.05, momentum=0.5)
    params = list(model.parameters())
    for _ in range(2):
        grads = [g.clone() for g in torch.autograd.grad(loss_of(model, 0), params)]
        hook.hook(None, Bucket(params, grads, True)).wait()
    saved = hook.state_dict()
    floats = {k for k, v in saved["st"].items() if isinstance(v, torch.Tensor) and v.is_floating_point()}
    assert floats
    small = make_model().float()
    hook32 = CompressedHook("ef21-sgdm-norm", small, TopK(3), stepsize=0.05, momentum=0.5)
    hook32.load_state_dict(saved)
    assert hook32.k == 2
    for k, v in hook32.st.items():
        if k in floats:
            assert v.dtype == torch.float32, k
            torch.testing.assert_close(v, saved["st"][k].float())
        elif isinstance(v, torch.Tensor):
            assert v.dtype == saved["st"][k].dtype, k


def test_hook_generators_are_seeded_by_seed_and_rank(world_of_one):
    """The hook's client stream is seeded from (seed, rank, 1) and its server stream from (seed, 2**32 - 1),
    the distributed runner's streams."""
    from algorithms.torch.ddp import CompressedHook

    hook = CompressedHook("mvsm-v2", make_model(), None, stepsize=0.01, momentum=0.3, G=2.0, seed=5)
    want = torch.Generator().manual_seed(_seed_int(5, 0, 1))
    assert torch.equal(hook.gen.get_state(), want.get_state())
    server = torch.Generator().manual_seed(_seed_int(5, 2**32 - 1))
    assert torch.equal(hook.server_gen.get_state(), server.get_state())
    other = CompressedHook("mvsm-v2", make_model(), None, stepsize=0.01, momentum=0.3, G=2.0, seed=6)
    assert not torch.equal(other.gen.get_state(), hook.gen.get_state())
