"""Divergence and NaN are findings on both backends (NonFiniteError naming quantity, iteration, run).

A problem whose client 1 returns a NaN gradient once the iterate has moved a distance 1 from x^0
is run through every algorithm on both backends: each run raises, the deterministic ones at the
same iteration and quantity on both backends, with the engine's flags read after every step
or only every 16 steps (the CUDA mode) -- the location is the same.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import algorithms
from algorithms import NonFiniteError
from algorithms.torch import _core
from eftheory.compressors import RandK, TopK
from eftheory.problems.polynomial import Polynomial

X0 = np.full(4, 3.0)


class NanAfterMoving:
    """f_i = 0.5 ||x - c_i||^2; client 1's gradient has a NaN in its last coordinate once
    ||x - x^0|| > 1 (the exact global gradient ``grad`` stays finite)."""

    n_clients, dim = 2, 4
    c = np.array([[0.0, 0.0, 0.0, 0.0], [0.5, -0.5, 0.25, 1.0]])

    def f_i(self, i, x):
        return 0.5 * float((x - self.c[i]) @ (x - self.c[i]))

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(2)]))

    def grad(self, x):
        return np.asarray(x, float) - self.c.mean(axis=0)

    def sample(self, i, rng):
        return None

    def grad_i(self, i, x, xi=None):
        g = np.asarray(x, float) - self.c[i]
        if i == 1 and np.linalg.norm(np.asarray(x) - X0) > 1.0:
            g = g.copy()
            g[3] = np.nan
        return g

    def hvp_i(self, i, x, v, xi=None):
        return np.asarray(v, float).copy()


def _kwargs(name):
    spec = algorithms.get(name)
    kw = {"stepsize": 0.1}
    if spec.momentum == "required":
        kw["momentum"] = 0.5
    if name in ("sto-signsgd",):
        kw["B"] = 100.0
    if name in ("mvsm-v1", "mvsm-v2"):
        kw["G"] = 100.0
    return spec, kw


DETERMINISTIC = [n for n in algorithms.names() if n not in ("sto-signsgd", "mvsm-v1", "mvsm-v2", "ef21-rhm-norm")]


def _error(name, backend, compressor=None, **extra):
    spec, kw = _kwargs(name)
    C = None if spec.compressor == "none" else (compressor or TopK(1))
    with pytest.raises(NonFiniteError) as info:
        algorithms.run(name, NanAfterMoving(), C, X0, 200, backend=backend, **kw, **extra)
    err = info.value
    assert "\n" not in str(err) and "stepsize" not in str(err)      # the finding, no guessed cause
    return err


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_nan_gradient_is_found_at_the_same_iteration_on_both_backends(name):
    ref = _error(name, "numpy")
    eng = _error(name, "torch")
    assert ref.quantity == eng.quantity == "gradient grad_i"
    assert ref.iteration == eng.iteration > 0
    assert (ref.run, ref.seed, ref.client) == (0, 0, 1)
    assert (eng.run, eng.seed) == (0, 0)
    assert f"iteration {ref.iteration}" in str(ref) and f"iteration {eng.iteration}" in str(eng)


@pytest.mark.parametrize("name", ["sto-signsgd", "mvsm-v1", "mvsm-v2", "ef21-rhm-norm", "ef21-sgd", "saef"])
def test_nan_gradient_is_found_with_random_compression(name):
    """Rand-K (or the stochastic sign) does not hide a NaN coordinate it did not select."""
    for backend in ("numpy", "torch"):
        err = _error(name, backend, compressor=RandK(1))
        assert err.quantity == "gradient grad_i" and err.iteration > 0


@pytest.mark.parametrize("name", ["ef21", "ef21-sgdm", "ef", "signsgd", "mv-signum", "ef21-hm-norm"])
def test_deferred_flag_reads_locate_the_same_iteration(name, monkeypatch):
    """Reading the engine's flags only every 16 steps (as on CUDA) changes nothing in the finding."""
    init = _core.FiniteWatch.__init__

    def reading_every(m):
        def patched(self, env, iters, every=None, sinks=None):
            init(self, env, iters, every=m, sinks=sinks)
        return patched

    monkeypatch.setattr(_core.FiniteWatch, "__init__", reading_every(1))
    every_step = _error(name, "torch")
    monkeypatch.setattr(_core.FiniteWatch, "__init__", reading_every(16))
    deferred = _error(name, "torch")
    assert (deferred.quantity, deferred.iteration, deferred.run) == \
        (every_step.quantity, every_step.iteration, every_step.run)


def test_divergence_of_ef21_is_the_same_finding_on_both_backends():
    """EF21 with gamma = 1e3 on a quartic: the gradient overflows; both backends stop there
    (the engine used to return a Result whose grad_norm was inf)."""
    p = Polynomial(d=4, L0=4.0, L1=4.0)
    errs = []
    for backend in ("numpy", "torch"):
        with pytest.raises(NonFiniteError) as info:
            algorithms.run("ef21", p, TopK(1), np.full(4, 20.0), 50, stepsize=1e3, backend=backend)
        errs.append(info.value)
    assert errs[0].quantity == errs[1].quantity == "gradient grad_i"
    assert errs[0].iteration == errs[1].iteration


def test_non_finite_error_is_a_value_error_with_its_fields():
    err = NonFiniteError("message c_i", 7, run=2, seed=11, client=0)
    assert isinstance(err, ValueError)
    assert (err.quantity, err.iteration, err.run, err.seed, err.client) == ("message c_i", 7, 2, 11, 0)
    assert "message c_i" in str(err) and "iteration 7" in str(err) and "run 2" in str(err) and "seed 11" in str(err)


class _Env:
    def __init__(self, device="cpu"):
        self.device, self.seed = torch.device(device), 5


@pytest.mark.parametrize("every", [1, 4, 100])
def test_watch_reports_the_first_step_then_quantity_then_run(every):
    """Flags stored on the device locate the first finding exactly, whenever they are read."""
    watch = _core.FiniteWatch(_Env(), iters=12, every=every)
    ok = torch.zeros(3, 2, 4, dtype=torch.float64)
    with pytest.raises(NonFiniteError) as info:
        for k in range(12):
            a, b = ok.clone(), ok.clone()
            if k >= 6:
                a[2, 1, 0] = np.inf            # run 2, quantity "a", from step 6 on
            if k >= 6:
                b[1, 0, 3] = np.nan            # run 1, quantity "b", the same step
            if k >= 8:
                a[0, 0, 0] = np.nan            # run 0 later: not the first finding
            watch("a", a, k)
            watch("b", b, k)
            watch.done(k)
    err = info.value
    assert (err.quantity, err.iteration, err.run, err.seed) == ("a", 6, 2, 5)


def test_watch_without_a_finding_is_silent():
    watch = _core.FiniteWatch(_Env(), iters=5, every=2)
    for k in range(5):
        watch("x", torch.ones(2, 3), k)
        watch.done(k)


def test_one_reduction_watch_rechecks_an_overflowing_sum_exactly():
    """Under fast_watch a quantity costs one sum; a sum of finite entries that overflows is not a
    finding: exact_on_recheck repeats the run with the exact watch, which finishes it."""
    calls = []

    def run():
        calls.append(_core._FAST.get())
        watch = _core.FiniteWatch(_Env(), iters=2, every=1)
        for k in range(2):
            watch("g", torch.full((3, 4), 1e308, dtype=torch.float64), k)     # finite; sum = inf
            watch.done(k)
        return "finished"

    with _core.fast_watch(), pytest.raises(_core.Recheck):
        run()
    calls.clear()
    assert _core.exact_on_recheck(run) == "finished"
    assert calls == [True, False]


def test_one_reduction_watch_finds_what_the_exact_watch_finds():
    """algorithms.run (fast watches, then an exact repeat) reports the finding of the exact watch."""
    p = Polynomial(d=4, L0=4.0, L1=4.0)
    fn = algorithms.get("ef21-sgdm", "torch").fn
    from eftheory.schedules import as_schedule

    with pytest.raises(NonFiniteError) as exact:
        fn(p, TopK(1), np.full(4, 20.0), 50, stepsize=as_schedule(1e3), momentum=as_schedule(0.5), seed=0,
           **{**algorithms.get("ef21-sgdm", "torch").options, "seeds": 3})
    with pytest.raises(NonFiniteError) as via_run:
        algorithms.run("ef21-sgdm", p, TopK(1), np.full(4, 20.0), 50, stepsize=1e3, momentum=0.5,
                       backend="torch", seeds=3)
    assert (via_run.value.quantity, via_run.value.iteration, via_run.value.run) == \
        (exact.value.quantity, exact.value.iteration, exact.value.run)


def test_sink_watch_reads_other_quantities_only_at_the_last_step():
    """Under fast_watch with sinks, a quantity outside them is not reduced before the last step
    (the loop guarantees its non-finite values reach a sink) and is read at the last step."""
    nan = torch.full((3, 4), np.nan, dtype=torch.float64)
    ok = torch.zeros(3, 4, dtype=torch.float64)
    with _core.fast_watch():
        watch = _core.FiniteWatch(_Env(), iters=4, every=1, sinks=("iterate x",))
        for k in range(3):
            watch("memory g_i", nan, k)               # not a sink: skipped before the last step
            watch("iterate x", ok, k)
            watch.done(k)
        with pytest.raises(_core.Recheck):
            watch("memory g_i", nan, 3)                # the last step reads every quantity
            watch("iterate x", ok, 3)
            watch.done(3)
        watch = _core.FiniteWatch(_Env(), iters=4, every=1, sinks=("iterate x",))
        with pytest.raises(_core.Recheck):
            watch("iterate x", nan, 0)                 # a sink is read at every step
            watch.done(0)
    # the exact watch ignores sinks: it names the first non-finite quantity wherever it is
    watch = _core.FiniteWatch(_Env(), iters=4, every=1, sinks=("iterate x",))
    with pytest.raises(NonFiniteError) as info:
        watch("memory g_i", nan, 0)
        watch.done(0)
    assert (info.value.quantity, info.value.iteration) == ("memory g_i", 0)


class _OwnTopK(TopK):
    """A user subclass: the engine cannot know that it keeps the NaN rule."""


@pytest.mark.parametrize("name", ["ef21", "ef"])
def test_engine_reads_only_the_iterate_at_every_step_for_the_projects_compressors(name, monkeypatch):
    """The EF21 and EF/SAEF engines pass the sink "iterate x" for eftheory's own compressors
    (Blockwise of them included) and no sinks for a subclass, whose messages might hide a NaN."""
    from eftheory.compressors import Blockwise

    seen = []
    init = _core.FiniteWatch.__init__

    def spy(self, env, iters, every=None, sinks=None):
        seen.append(sinks)
        init(self, env, iters, every=every, sinks=sinks)

    monkeypatch.setattr(_core.FiniteWatch, "__init__", spy)
    p = Polynomial(d=4, L0=4.0, L1=4.0)
    for C in (TopK(1), RandK(2), Blockwise(TopK(1), [2, 2]), Blockwise([TopK(1), _OwnTopK(1)], [2, 2]),
              _OwnTopK(1)):
        algorithms.run(name, p, C, np.full(4, 0.5), 3, stepsize=1e-3, backend="torch")
    assert seen == [("iterate x",)] * 3 + [None, None]


@pytest.mark.parametrize("iters", [1, 2, 3, 7])
@pytest.mark.parametrize("name", ["ef21", "ef", "saef"])
def test_fast_watch_with_sinks_finds_a_divergence_at_the_last_steps(name, iters):
    """EF21 / EF / SAEF on a quartic with a huge stepsize overflow at a known step; runs that end at
    or just after it report the exact watch's finding through algorithms.run (fast, sinks, repeat)."""
    p = Polynomial(d=4, L0=4.0, L1=4.0)
    spec = algorithms.get(name, "torch")
    from eftheory.schedules import as_schedule

    def exact():
        return spec.fn(p, TopK(1), np.full(4, 20.0), iters, stepsize=as_schedule(1e3), seed=0,
                       **{**spec.options, "seeds": 2})

    try:
        exact()
        want = None
    except NonFiniteError as err:
        want = (err.quantity, err.iteration, err.run)
    try:
        algorithms.run(name, p, TopK(1), np.full(4, 20.0), iters, stepsize=1e3, backend="torch", seeds=2)
        got = None
    except NonFiniteError as err:
        got = (err.quantity, err.iteration, err.run)
    assert got == want
    if iters == 7:
        assert want is not None
