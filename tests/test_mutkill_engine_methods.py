"""The engine's method factories and the EF / SAEF engine, checked against the NumPy reference.

The engine functions of the EF21 family and of the sign methods are built by a factory
(``ef21_family._make``, ``sign._make``) when their module is imported. These tests build them
again through the same factory, install the fresh function in the registry for the duration of
the test, and run it through :func:`algorithms.run`: every field must replay the reference
(the parity of ``tests/test_torch_parity.py``), the result must name the method and its seed,
and the factory's own option checks must raise ValueErrors naming the option. The EF / SAEF
engine is checked the same way for the options the parity cases leave at their defaults
(``record_clients``, ``bits``, light diagnostics, the engine's ``oracle`` and ``dtype``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re

import numpy as np
import pytest
import torch

import algorithms
from algorithms import registry
from algorithms.cards import CARDS
from algorithms.torch import ef21_family, sign as sign_engine
from algorithms.torch._core import ENGINE_OPTIONS
from algorithms.torch.replay import record_draws
from eftheory.compressors import RandK, TopK
from eftheory.problems import HeterogeneousSignProblem, Polynomial, problem_q4
from test_torch_parity import CASES, ITERS, SEEDS, assert_same

EF21 = sorted(n for n, c in CARDS.items() if c.family == "ef21")
SIGN = sorted(n for n, c in CARDS.items() if c.family == "sign")


def _build(name):
    """The engine function of ``name`` built now by its module's factory (as at import)."""
    family = CARDS[name].family
    if family == "ef21":
        est, norm, init, extra, _needs, _mom = ef21_family._METHODS[name]
        defaults = {**ef21_family.COMMON, "init": init, **extra, **ENGINE_OPTIONS}
        return ef21_family._make(name, est, norm, defaults)
    assert family == "sign"
    return sign_engine._make(name, *sign_engine._METHODS[name])


@contextlib.contextmanager
def fresh(name):
    """Within the block, ``algorithms.run(name, ..., backend="torch")`` calls a freshly built function."""
    key = (name, "torch")
    old = registry.get(name, "torch")
    registry._REGISTRY[key] = dataclasses.replace(old, fn=_build(name))
    try:
        yield registry._REGISTRY[key].fn
    finally:
        registry._REGISTRY[key] = old


def _replay(case, **engine):
    _, name, make, C, kw = case[:5]
    problem = make()
    x0 = np.linspace(-0.8, 1.1, problem.dim) if len(case) == 5 else case[5]
    draws, refs = record_draws(name, problem, C, x0, ITERS, seeds=SEEDS, **kw)
    with fresh(name):
        eng = algorithms.run(name, problem, C, x0, ITERS, backend="torch", seeds=len(SEEDS),
                             draws=draws, **kw, **engine)
    return refs, eng


def _check(case, refs, eng):
    name = case[1]
    assert_same(refs, eng, where=f"{case[0]}: ")
    assert eng.name == name
    for key, value in refs[0].config.items():       # the engine restates the reference's config
        if key == "estimator":                         # the reference's label; the engine's card key
            assert eng.config[key] == CARDS[name].estimator
        elif key != "seed":
            assert eng.config[key] == value, f"{case[0]}: config[{key!r}]"


def _first_cases(names):
    seen, out = set(), []
    for c in CASES:
        if c[1] in names and c[1] not in seen:
            seen.add(c[1])
            out.append(c)
    return out


# the first parity case of every EF21 method, and the cases of its special options
EF21_CASES = _first_cases(EF21) + [c for c in CASES if c[0] in (
    "econtrol-hprev", "ef21-rhm-norm-same-sample")]
SIGN_CASES = [c for c in CASES if c[1] in SIGN and not c[0].endswith("-separable")]
SIGN_CASES.append(("mvsm-v1-shared-draw", "mvsm-v1", lambda: HeterogeneousSignProblem(d=6, n=4, seed=2), None,
                   {"stepsize": 0.05, "momentum": 0.5, "G": 3.0, "shared_draw": True}))
for _n in SIGN:
    _opts = CARDS[_n].options
    _mom = 0.3 if CARDS[_n].momentum == "required" else None
    _bound = {k: 3.0 for k in ("G", "B") if k in _opts}
    if "sign_zero" in _opts:        # sign(0) matters: the gradient at the origin is 0
        for _z in (1, -1):
            SIGN_CASES.append((f"{_n}-signzero{_z}-origin", _n, lambda: Polynomial(d=4), None,
                               {"stepsize": 0.05, "momentum": _mom, "sign_zero": _z}, np.zeros(4)))
    if "momentum_convention" in _opts:   # beta != 1/2: the two conventions differ
        SIGN_CASES.append((f"{_n}-old-weight-0.3", _n, lambda: HeterogeneousSignProblem(d=6, n=4, seed=2), None,
                           {"stepsize": 0.05, "momentum": 0.3, "momentum_convention": "old_weight", **_bound}))


@pytest.mark.parametrize("case", EF21_CASES, ids=[c[0] for c in EF21_CASES])
def test_fresh_ef21_engine_replays_reference(case):
    refs, eng = _replay(case)
    _check(case, refs, eng)


@pytest.mark.parametrize("case", SIGN_CASES, ids=[c[0] for c in SIGN_CASES])
def test_fresh_sign_engine_replays_reference(case):
    refs, eng = _replay(case)
    _check(case, refs, eng)


@pytest.mark.parametrize("name", EF21 + SIGN)
def test_factory_names_the_function_after_the_method(name):
    fn = _build(name)
    assert fn.__name__ == name.replace("-", "_")
    assert fn.__name__.isidentifier()
    module = "ef21_family" if CARDS[name].family == "ef21" else "sign"
    assert name in fn.__doc__ and f"algorithms.torch.{module}" in fn.__doc__


@pytest.mark.parametrize("name", ["ef21-sgd", "mv-signum", "mvsm-v1"])
def test_fresh_engine_records_its_seed(name):
    case = _first_cases([name])[0]
    _, _, make, C, kw = case
    problem = make()
    with fresh(name):
        res = algorithms.run(name, problem, C, np.zeros(problem.dim), 2, seed=7, backend="torch", **kw)
    assert res.config["seed"] == 7
    assert res.config["run_seeds"] == [7]


# ----------------------------------------------------------------------------- the factories' checks

def _econtrol(**opts):
    p = problem_q4(d=4, n=2)
    with fresh("econtrol"):
        return algorithms.run("econtrol", p, RandK(2), np.ones(4), 2, stepsize=0.1, backend="torch", **opts)


@pytest.mark.parametrize("bad", [1.5, -0.1, "0.5", float("nan")])
def test_econtrol_eta_is_checked(bad):
    with pytest.raises(ValueError, match=r"^econtrol_eta must "):
        _econtrol(econtrol_eta=bad)


def test_econtrol_eta_is_stored_as_float():
    res = _econtrol(econtrol_eta=1)
    assert res.config["options"]["econtrol_eta"] == 1.0
    assert isinstance(res.config["options"]["econtrol_eta"], float)
    assert set(res.config["options"]) == set(CARDS["econtrol"].options)


@pytest.mark.parametrize("bad", ["h_now", None, 1])
def test_econtrol_step_uses_is_checked(bad):
    with pytest.raises(ValueError, match=r"^econtrol_step_uses must be one of 'h_next', 'h_prev'"):
        _econtrol(econtrol_step_uses=bad)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_rhm_same_sample_is_checked(bad):
    p = problem_q4(d=4, n=2)
    with fresh("ef21-rhm-norm"), pytest.raises(ValueError, match=r"^rhm_same_sample must be True or False; got "):
        algorithms.run("ef21-rhm-norm", p, RandK(2), np.ones(4), 2, stepsize=0.1, momentum=0.5,
                       backend="torch", rhm_same_sample=bad)


def test_sign_bounds_are_checked_and_named():
    p = HeterogeneousSignProblem(d=6, n=4, seed=2)
    with fresh("sto-signsgd"), pytest.raises(ValueError, match=r"^B must "):
        algorithms.run("sto-signsgd", p, None, np.zeros(6), 2, stepsize=0.1, backend="torch", B=-1.0)
    with fresh("mvsm-v2"), pytest.raises(ValueError, match=r"^G must "):
        algorithms.run("mvsm-v2", p, None, np.zeros(6), 2, stepsize=0.1, momentum=0.5, backend="torch", G=0.0)


@pytest.mark.parametrize("name,bound", [("sto-signsgd", "B"), ("mvsm-v1", "G"), ("mvsm-v2", "G")])
def test_violation_raises_under_on_violation_raise(name, bound):
    """on_violation="raise": a node whose ||v||_inf exceeds the bound stops the run (as the reference)."""
    p = HeterogeneousSignProblem(d=6, n=4, seed=2)
    kw = {"stepsize": 0.05, "momentum": None if name == "sto-signsgd" else 0.5, bound: 1e-3, "on_violation": "raise"}
    with pytest.raises(ValueError, match=rf"^{bound} must bound"):
        algorithms.run(name, p, None, np.zeros(6), 3, **kw)           # the reference
    with fresh(name), pytest.raises(ValueError, match="^" + re.escape(f"{bound} must bound ||v||_inf")):
        algorithms.run(name, p, None, np.zeros(6), 3, backend="torch", **kw)


# ----------------------------------------------------------------------------- EF / SAEF engine

def _ef_replay(name, C=RandK(3), iters=ITERS, **kw):
    p = problem_q4()
    x0 = np.linspace(-0.8, 1.1, p.dim)
    kw = {"stepsize": 0.05, "mu": 0.5, **kw}
    engine = {k: kw.pop(k) for k in list(kw) if k in ("diagnostics", "dtype", "oracle")}
    draws, refs = record_draws(name, p, C, x0, iters, seeds=SEEDS, **kw)
    eng = algorithms.run(name, p, C, x0, iters, backend="torch", seeds=len(SEEDS), draws=draws, **kw, **engine)
    return refs, eng


@pytest.mark.parametrize("name", ["ef", "saef"])
@pytest.mark.parametrize("diagnostics", ["full", "light"])
def test_local_ef_client_errors_replay_reference(name, diagnostics):
    """record_clients=True keeps the (n, d) local errors of every step, in full and light runs."""
    refs, res = _ef_replay(name, record_clients=True, diagnostics=diagnostics, p=3)
    eng = res.numpy()
    for s, ref in enumerate(refs):
        np.testing.assert_allclose(eng.diagnostics["client_errors"][s], ref.diagnostics["client_errors"],
                                   rtol=1e-10, atol=1e-10)
    assert eng.diagnostics["client_errors"].shape == (len(SEEDS), ITERS + 1, 4, 10)
    if diagnostics == "full":
        assert_same(refs, res)


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_local_ef_bits_convention_replays_reference(name):
    refs, eng = _ef_replay(name, C=TopK(2), bits="values+indices", double_way=False)
    assert_same(refs, eng)
    assert eng.config["bits"] == "values+indices"


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_local_ef_config_restates_reference(name):
    refs, eng = _ef_replay(name, iters=3, p=2)
    assert eng.name == name
    for key, value in refs[0].config.items():
        if key != "seed":
            assert eng.config[key] == value, key


@pytest.mark.parametrize("opt,bad,msg", [
    ("mu", 1.0, r"^mu must lie in \[0, 1\)"), ("mu", -0.5, r"^mu must lie in \[0, 1\)"),
    ("double_way", "yes", r"^double_way must be True or False"),
    ("record_clients", 1, r"^record_clients must be True or False"),
    ("oracle", "bogus", r"^oracle must be one of"),
])
@pytest.mark.parametrize("name", ["ef", "saef"])
def test_local_ef_options_are_checked(name, opt, bad, msg):
    p = problem_q4(d=4, n=2)
    with pytest.raises(ValueError, match=msg):
        algorithms.run(name, p, RandK(2), np.ones(4), 2, stepsize=0.1, backend="torch", **{opt: bad})


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_local_ef_float32_result_is_float32(name):
    p = problem_q4(d=4, n=2)
    res = algorithms.run(name, p, RandK(2), np.ones(4), 4, stepsize=0.1, backend="torch", dtype="float32",
                         **({"error_averaging": True, "p": 2} if name == "ef" else {"p": 2}))
    assert res.x.dtype == torch.float32
    for key, value in res.diagnostics.items():
        assert value.dtype == torch.float32, key
    assert res.diagnostics["averaged"].tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_local_ef_config_records_the_seed(name):
    p = problem_q4(d=4, n=2)
    ref = algorithms.run(name, p, RandK(2), np.ones(4), 2, stepsize=0.1, seed=7)
    res = algorithms.run(name, p, RandK(2), np.ones(4), 2, stepsize=0.1, seed=7, backend="torch")
    assert res.config["seed"] == ref.config["seed"] == 7
