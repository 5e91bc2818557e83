"""Seeds do not depend on the batch: run s of ``seeds=S`` is the run of its seed alone, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import algorithms
from algorithms.torch._random import SEED_LIMIT, CounterRandom
from algorithms.torch.problems import TorchProblem
from eftheory.compressors import RandK, TopK
from eftheory.problems import HeterogeneousSignProblem, problem_q4
from test_fuzz_inputs import required_kwargs
from test_torch_parity import logistic_minibatch

SIGN = ("signsgd", "signum", "smm", "mv-signsgd", "mv-signum", "sto-signsgd", "mvsm-v1", "mvsm-v2")


def _setup(name):
    spec = algorithms.get(name, "torch")
    sign = name in SIGN
    p = HeterogeneousSignProblem(d=5, n=3, seed=1) if sign else problem_q4(seed=1, d=5, n=3)
    C = RandK(2) if spec.compressor == "required" else None
    return p, C, required_kwargs(spec, bound=5.0)


def _fields(res):
    out = {"x": res.x, "f": res.f, "grad_norm": res.grad_norm}
    out.update({f"diagnostics.{k}": v for k, v in res.diagnostics.items()})
    return out


def _assert_row(batch, s, single):
    a, b = _fields(batch), _fields(single)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key][s], b[key][0]), (key, s)


@pytest.mark.parametrize("name", algorithms.names("torch"))
def test_rows_of_a_batch_are_the_single_runs(name):
    p, C, kw = _setup(name)
    x0 = np.full(5, 0.5)
    K = 7
    batch = algorithms.run(name, p, C, x0, K, backend="torch", seeds=3, seed=0, **kw)
    for s in range(3):
        single = algorithms.run(name, p, C, x0, K, backend="torch", seeds=1, seed=s, **kw)
        _assert_row(batch, s, single)
    listed = algorithms.run(name, p, C, x0, K, backend="torch", seeds=[5, 2], **kw)
    assert listed.config["run_seeds"] == [5, 2]
    for j, s in enumerate((5, 2)):
        _assert_row(listed, j, algorithms.run(name, p, C, x0, K, backend="torch", seeds=1, seed=s, **kw))
    shifted = algorithms.run(name, p, C, x0, K, backend="torch", seeds=2, seed=1, **kw)
    _assert_row(shifted, 0, algorithms.run(name, p, C, x0, K, backend="torch", seeds=1, seed=1, **kw))
    assert not torch.equal(batch.x[0], batch.x[1])                 # distinct seeds, distinct draws


def _torch_problem():
    w = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]], dtype=torch.float64)

    def loss(x, xi):
        base = torch.log1p(torch.exp(-(x * w).sum(-1))) + 0.1 * (x ** 4).sum(-1)
        return base if xi is None else base + (xi * x).sum(-1)

    def sample_torch(generator, S):
        return torch.randn((S, 2, 3), generator=generator, dtype=torch.float64)

    return TorchProblem(2, 3, loss=loss, sample_torch=sample_torch)


class _Plain:
    """A NumPy protocol problem without a batched oracle (the per-call fallback)."""

    n_clients, dim = 2, 3

    def f_i(self, i, x):
        return float((i + 1) * x @ x)

    def f(self, x):
        return 1.5 * float(x @ x)

    def sample(self, i, rng):
        return rng.normal(size=3)

    def grad_i(self, i, x, xi=None):
        return 2.0 * (i + 1) * x + (0 if xi is None else 0.01 * xi)


@pytest.mark.parametrize("kind", ["logistic", "torch-problem", "numpy-fallback"])
@pytest.mark.parametrize("name", ["ef21-mvr-norm", "saef"])
def test_batch_independence_on_other_oracles(kind, name):
    p = {"logistic": logistic_minibatch, "torch-problem": _torch_problem, "numpy-fallback": _Plain}[kind]()
    d = p.dim
    kw = {"stepsize": 0.05, "momentum": 0.5} if name == "ef21-mvr-norm" else {"stepsize": 0.05}
    x0 = np.full(d, 0.3)
    batch = algorithms.run(name, p, TopK(1), x0, 5, backend="torch", seeds=3, seed=4, **kw)
    for s in range(3):
        single = algorithms.run(name, p, TopK(1), x0, 5, backend="torch", seeds=1, seed=4 + s, **kw)
        _assert_row(batch, s, single)


def test_stream_values_do_not_depend_on_the_blocking():
    many = CounterRandom([3, 9]).stream("sample:xi")
    block = many.normal((2, 5), count=6)
    one = CounterRandom([9]).stream("sample:xi")
    calls = torch.cat([one.normal((2, 5)) for _ in range(6)], dim=1)
    assert torch.equal(block[1:], calls)
    u = CounterRandom([0]).stream("aux").uniform((1000,), count=3)
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    assert not torch.equal(u[:, 0], u[:, 1])                        # calls differ


def test_counter_normals_and_uniforms_follow_their_laws():
    z = CounterRandom([11]).stream("n").normal((200_001,))
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1.0) < 0.01
    assert abs(float((z ** 4).mean()) - 3.0) < 0.05
    u = CounterRandom([12]).stream("u").uniform((200_000,))
    assert abs(float(u.mean()) - 0.5) < 0.005 and abs(float((u ** 2).mean()) - 1 / 3) < 0.005
    w = CounterRandom([12]).stream("u").uniform((10,), dtype=torch.float32)
    assert w.dtype == torch.float32 and float(w.max()) < 1.0


def test_seed_range_is_validated():
    p, C, kw = _setup("ef21-sgd")
    x0 = np.full(5, 0.5)
    for bad in (SEED_LIMIT, 2 ** 70):
        with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*64"):
            algorithms.run("ef21-sgd", p, C, x0, 2, backend="torch", seed=bad, **kw)
    with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*64 - seeds\]"):
        algorithms.run("ef21-sgd", p, C, x0, 2, backend="torch", seed=SEED_LIMIT - 1, seeds=2, **kw)
    top = algorithms.run("ef21-sgd", p, C, x0, 2, backend="torch", seed=SEED_LIMIT - 1, seeds=1, **kw)
    assert torch.isfinite(top.x).all()
    with pytest.raises(ValueError, match="seeds must list integers in"):
        algorithms.run("ef21-sgd", p, C, x0, 2, backend="torch", seeds=[1, -1], **kw)
    with pytest.raises(ValueError, match="seeds must be an integer >= 1 or a non-empty list"):
        algorithms.run("ef21-sgd", p, C, x0, 2, backend="torch", seeds=[], **kw)
    with pytest.raises(ValueError, match="seed must be left at 0"):
        algorithms.run("ef21-sgd", p, C, x0, 2, backend="torch", seed=3, seeds=[1, 2], **kw)


PER_RUN_NAMES = [n for n in algorithms.names("torch")
                 if algorithms.get(n, "torch").fn.__module__ in ("algorithms.torch.ef21_family", "algorithms.torch.sign",
                                                                 "algorithms.torch.local_ef")]


@pytest.mark.parametrize("name", PER_RUN_NAMES)
def test_per_run_schedules_equal_the_separate_calls(name):
    """Runs that differ only in their schedules share one engine call (PerRun): each row is the
    call of its own schedule and seed alone, bit for bit, and carries its own stepsize/momentum."""
    from eftheory.schedules import PerRun, polynomial

    p, C, kw = _setup(name)
    x0 = np.full(5, 0.5)
    K = 9
    steps = (0.05, polynomial(0.2, 0.5), 0.01)
    has_momentum = "momentum" in kw
    moms = (0.5, polynomial(0.9, 0.5), 0.8)
    kw = {k: v for k, v in kw.items() if k not in ("stepsize", "momentum")}
    seeds = [3, 4, 3, 7, 1, 2]
    counts = (2, 1, 3)
    batch = algorithms.run(name, p, C, x0, K, backend="torch", seeds=seeds, stepsize=PerRun(steps, counts),
                           momentum=PerRun(moms, counts) if has_momentum else None, **kw)
    row = 0
    for j, c in enumerate(counts):
        single = algorithms.run(name, p, C, x0, K, backend="torch", seeds=seeds[row:row + c], stepsize=steps[j],
                                momentum=moms[j] if has_momentum else None, **kw)
        for s in range(c):
            for key, a in _fields(batch).items():
                assert torch.equal(a[row + s], _fields(single)[key][s]), (name, key, j, s)
            assert torch.equal(batch.stepsize[row + s], single.stepsize[s])
            if has_momentum:
                assert torch.equal(batch.momentum[row + s], single.momentum[s])
        row += c


def test_per_run_schedules_are_refused_where_they_cannot_apply():
    from eftheory.schedules import PerRun

    p, C, kw = _setup("ef21")
    with pytest.raises(ValueError, match="PerRun schedule needs backend='torch'"):
        algorithms.run("ef21", p, C, np.zeros(5), 3, stepsize=PerRun((0.1, 0.2), (1, 1)))
    with pytest.raises(ValueError, match="counts sum to 2"):
        algorithms.run("ef21", p, C, np.zeros(5), 3, backend="torch", seeds=[0, 1, 2],
                       stepsize=PerRun((0.1, 0.2), (1, 1)))
    with pytest.raises(ValueError, match="counts must"):
        PerRun((0.1, 0.2), (1,))
    from algorithms.torch._core import schedule_values

    with pytest.raises(ValueError, match="one schedule for all runs"):
        schedule_values(PerRun((0.1, 0.2), (1, 1)), 3)


def test_per_run_schedules_need_sequences():
    from eftheory.schedules import PerRun

    with pytest.raises(ValueError, match="schedules and counts must be sequences"):
        PerRun(0.1, (1,))
    with pytest.raises(ValueError, match="counts"):
        PerRun((0.1,), (0,))
