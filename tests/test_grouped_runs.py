"""A claim's runs that differ only in their schedules share one engine call, with unchanged figures."""

from __future__ import annotations

import numpy as np

import algorithms
from checks import simulate
from checks.context import Context
from checks.simulate import X0, RunSpec, group_key, run_batch
from eftheory.compressors import TopK
from eftheory.problems import problem_q
from eftheory.schedules import constant

PROB = problem_q(seed=0, eps_std=3.0)


def _spec(K, gamma, eta, extract="mean", algorithm="ef21-sgdm-norm"):
    return RunSpec(algorithm, PROB, TopK(2), X0("around_opt", scale=3.0, seed=0), K,
                   constant(gamma), constant(eta), {"init": "zero"}, extract=extract, label=f"{gamma} {eta}")


def test_grouped_units_equal_their_own_runs(tmp_path, monkeypatch):
    """Main runs, a gamma control and an eta = 1 control at two horizons: one engine call per
    horizon, and every unit's arrays equal run_batch of it alone, bit for bit."""
    specs = [_spec(K, g, e, ext) for K in (60, 90) for g, e, ext in
             ((0.02, 0.3, "mean"), (0.05, 0.3, "mean"), (0.02, 1.0, "curve"))]
    assert len({group_key(s, "torch") for s in specs}) == 2          # one group per horizon
    calls = []
    real_run = algorithms.run

    def counting(*a, **kw):
        calls.append(kw.get("seeds"))
        return real_run(*a, **kw)

    monkeypatch.setattr(algorithms, "run", counting)
    ctx = Context(tier="quick", backend="torch", out=tmp_path, seed_batch=3)
    got = ctx.runs(specs, 6)
    assert len(calls) == 2 and all(len(s) == 18 for s in calls)     # 3 specs x 2 units x 3 seeds per call
    monkeypatch.setattr(algorithms, "run", real_run)
    for spec, arrays in zip(specs, got):
        alone = {k: np.concatenate([run_batch(spec, seeds, backend="torch")[k] for seeds in ([0, 1, 2], [3, 4, 5])])
                 for k in arrays}
        for k in arrays:
            assert np.array_equal(arrays[k], alone[k]), (spec.label, k)
    again = Context(tier="quick", backend="torch", out=tmp_path, seed_batch=3)
    cached = again.runs(specs, 6)                                      # served from the cache, unit by unit
    assert again.computed == 0 and again.cached == 12
    for a, b in zip(got, cached):
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_what_groups():
    """Engine runs group by everything but their schedules; reference runs and per-seed x0 never do."""
    a, b = _spec(10, 0.1, 0.5), _spec(10, 0.2, 0.9, extract="curve")
    assert group_key(a, "torch") == group_key(b, "torch") is not None
    assert group_key(_spec(11, 0.1, 0.5), "torch") != group_key(a, "torch")          # another horizon
    assert group_key(_spec(10, 0.1, 0.5, algorithm="ef21-hm-norm"), "torch") != group_key(a, "torch")
    assert group_key(a, "numpy") is None
    per_seed = RunSpec("ef21-sgdm-norm", PROB, TopK(2), X0("normal", per_seed=True), 10, constant(0.1),
                       constant(0.5))
    assert group_key(per_seed, "torch") is None
    assert simulate.GROUP_RUNS >= 32
