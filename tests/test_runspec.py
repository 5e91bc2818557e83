"""A run description holds typed objects; its cache key tells runs apart by their parameters, exactly."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from checks.instances import cached_problem
from checks.mutants import get, names
from checks.simulate import X0, RunSpec, describe, group_key, schedule_values
from eftheory import schedules
from eftheory.compressors import Blockwise, Identity, RandK, TopK
from eftheory.problems import (HeterogeneousSignProblem, NoisyLinear, Polynomial, SeparableQuadratic, problem_q,
                               problem_q4, synthetic_logistic)
from eftheory.schedules import constant, polynomial

X = X0("around_opt", scale=3.0, seed=0)


def _spec(**kw):
    base = dict(algorithm="ef21-sgdm-norm", problem=problem_q(seed=0), compressor=TopK(2), x0=X, iters=100,
                stepsize=constant(0.1), momentum=polynomial(1.0, 0.5), options={"init": "gradient"},
                extract="mean", label="a")
    return RunSpec(**{**base, **kw})


def _key(spec):
    return json.dumps(spec.key(), sort_keys=True)


def test_same_run_same_key():
    """Two specs built separately for the same run (fresh objects, another label) share the key."""
    a = _spec()
    b = _spec(problem=problem_q(seed=0), compressor=TopK(2), x0=X0("around_opt", scale=3.0, seed=0),
              stepsize=constant(0.1), momentum=polynomial(1.0, 0.5), options={"init": "gradient"}, label="b")
    assert a.problem is not b.problem
    assert _key(a) == _key(b) and a.hash() == b.hash()
    json.dumps(a.key())                      # plain JSON, no default= needed


@pytest.mark.parametrize("change", [
    {"problem": problem_q(seed=1)},
    {"problem": problem_q4(seed=0)},
    {"problem": problem_q(seed=0, eps_std=3.0)},
    {"compressor": TopK(3)},
    {"compressor": RandK(2)},
    {"compressor": None},
    {"stepsize": constant(0.1000001)},
    {"stepsize": constant(0.1 + 2 ** -56)},           # the next float: a rounded label would merge them
    {"stepsize": polynomial(0.1, 0.0)},               # the same values, another schedule
    {"momentum": polynomial(1.0, 0.75)},
    {"momentum": polynomial(1.0, 0.5, base="1/(k+1)")},
    {"momentum": None},
    {"x0": X0("around_opt", scale=3.0, seed=1)},
    {"x0": X0("sphere", scale=3.0, seed=0)},
    {"x0": X0("around_opt", scale=3.0, per_seed=True)},
    {"iters": 101},
    {"options": {"init": "zero"}},
    {"extract": "curve"},
    {"curve": "sq"},
    {"algorithm": "ef21-hm-norm"},
])
def test_different_runs_different_keys(change):
    assert _key(_spec(**change)) != _key(_spec())


def test_constant_label_rounds_but_key_does_not():
    a, b = constant(0.1), constant(0.1000001)
    assert a.label == b.label                # "0.1" both: the old label-based description merged them
    assert describe(a) != describe(b)


@pytest.mark.parametrize("make", [
    lambda s: problem_q(seed=s),
    lambda s: synthetic_logistic(n=20, d=10, seed=s),
    lambda s: HeterogeneousSignProblem(d=8, n=2, seed=s),
    lambda s: SeparableQuadratic(8, seed=s, noise="skewed"),
])
def test_problem_keys_follow_their_seed(make):
    assert describe(make(0)) == describe(make(0))
    assert describe(make(0)) != describe(make(1))


def test_problem_params_name_class_and_arguments():
    p = HeterogeneousSignProblem(d=16, n=4, seed=0, box=1.25)
    assert p.params() == {"class": "eftheory.problems.sign.HeterogeneousSignProblem", "d": 16, "n": 4, "seed": 0,
                          "h": None, "shift": 1.0, "noise_half_width": 1.0, "box": 1.25, "noise": "uniform"}
    assert describe(HeterogeneousSignProblem(d=16, n=4, seed=0)) != describe(p)
    assert describe(HeterogeneousSignProblem(d=16, n=4, seed=0, box=4.0)) == describe(
        HeterogeneousSignProblem(d=16, n=4, seed=0))                 # the default, given or not
    assert Polynomial(d=4, L1=4.0).params()["L1"] == 4.0
    assert describe(Polynomial(d=4, L1=4.0)) != describe(Polynomial(d=4, L1=8.0))
    assert NoisyLinear().params() == {"class": "eftheory.problems.linear.NoisyLinear", "d": 10, "n": 2, "s": 0.1}
    h = np.linspace(0.5, 2.0, 4)
    assert describe(SeparableQuadratic(4, h=h)) != describe(SeparableQuadratic(4, h=h * (1 + 1e-15)))


def test_compressor_and_schedule_params():
    assert TopK(2).params() == {"class": "eftheory.compressors.TopK", "k": 2}
    assert RandK(2).params() != RandK(2, shared_seed=False).params()
    assert describe(Blockwise(TopK(1), [2, 2])) != describe(Blockwise(TopK(2), [2, 2]))
    assert Identity().params() == {"class": "eftheory.compressors.Identity"}
    assert polynomial(1, .5).params() != polynomial(1, .75).params()
    assert schedules.horizon(1.0, 99).params() == constant(0.1).params()      # 1/sqrt(100): the same values
    with pytest.raises(ValueError, match="no parameters"):
        schedules.Schedule(lambda k: 0.1, "0.1").params()


def test_untyped_descriptions_are_refused():
    with pytest.raises(TypeError, match="X0"):
        _spec(x0={"rule": "around_opt", "scale": 3.0})
    with pytest.raises(TypeError, match="Schedule"):
        _spec(stepsize=("const", 0.1))
    with pytest.raises(TypeError, match="cannot describe"):
        _spec(options={"f": object()}).key()
    with pytest.raises(ValueError, match="x0 rule"):
        X0("origin")


def test_x0_rules():
    p = problem_q(seed=0)
    a = X0("around_opt", scale=3.0, seed=0)
    assert np.array_equal(a.point(p, 0), a.point(p, 5))               # shared by the seeds
    per = X0("around_opt", scale=3.0, per_seed=True)
    assert not np.array_equal(per.point(p, 0), per.point(p, 5))
    s = X0("sphere", scale=2.0)
    assert np.isclose(np.linalg.norm(s.point(p, 0) - p.x_star), 2.0)
    f = X0.fixed(np.arange(10.0))
    assert np.array_equal(f.point(p, 3), np.arange(10.0))
    assert describe(f) != describe(X0.fixed(np.arange(10.0) + 1))
    # the fields a rule does not read do not key it
    assert describe(X0("normal", mean=20.0, scale=7.0)) == describe(X0("normal", mean=20.0))


def test_schedule_values_equal_the_schedule():
    for s in (constant(0.3), polynomial(1.0, 0.75), polynomial(0.5, 0.5, base="1/(k+1)"), schedules.horizon(1.0, 9)):
        assert np.allclose(schedule_values(s, 50), s.values(50), rtol=1e-15, atol=0)


def test_group_key_ignores_only_schedules_and_reduction():
    a = _spec(momentum=constant(0.5))
    b = dataclasses.replace(a, stepsize=constant(0.2), momentum=constant(0.9), extract="anytime", points=(1, 2))
    assert group_key(a, "torch") == group_key(b, "torch") is not None
    assert group_key(dataclasses.replace(a, problem=problem_q(seed=1)), "torch") != group_key(a, "torch")
    assert group_key(dataclasses.replace(a, compressor=TopK(3)), "torch") != group_key(a, "torch")
    assert group_key(dataclasses.replace(a, momentum=None), "torch") != group_key(a, "torch")


def test_cached_problem_shares_one_instance():
    assert cached_problem(problem_q, seed=0) is cached_problem(problem_q, seed=0)
    assert cached_problem(problem_q, seed=0) is not cached_problem(problem_q, seed=1)


def test_mutant_touches_matches_compressor_objects():
    by_compressor = [get(n) for n in names() if get(n).compressors is not None]
    assert by_compressor
    for m in by_compressor:
        for C in (TopK(2), RandK(1), Identity(), None):
            assert m.touches("ef21", C) == m.touches("ef21", getattr(C, "name", None))
    topk = [m for m in by_compressor if "topk" in m.compressors]
    assert topk and all(m.touches("ef21", TopK(2)) and not m.touches("ef21", RandK(1)) for m in topk)
