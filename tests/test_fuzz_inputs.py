"""A systematic fuzz of invalid calls of :func:`algorithms.run`: every registered algorithm x every
invalid parameter value x both backends, plus hypothesis-drawn combinations of them.

Every invalid call must raise a ValueError (NonFiniteError included) whose one-line message names
the parameter at fault. Two kinds of failure are counted:

* **internal error** -- any other exception (an error from NumPy / torch internals, a TypeError,
  an AttributeError) or a ValueError whose message does not name the parameter;
* **silent acceptance** -- the invalid call returns a Result.

The sweep asserts that both counts are 0 and reports the figures (``-s`` prints them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import algorithms
from eftheory.compressors import RandK, ScaledRandK, Sign, TopK, UnbiasedSign

N, D = 2, 3
BACKENDS = ("numpy", "torch")
NAMES = algorithms.names("numpy")


# --------------------------------------------------------------------------- a valid user problem


class Good:
    """f_i = 0.5 ||x - c_i||^2 with additive Gaussian draws; every method of the protocol."""

    n_clients, dim = N, D
    c = np.array([[0.0, 1.0, -1.0], [0.5, 0.0, 0.25]])

    def f_i(self, i, x):
        return 0.5 * float((x - self.c[i]) @ (x - self.c[i]))

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(N)]))

    def sample(self, i, rng):
        return 0.1 * rng.standard_normal(D)

    def grad_i(self, i, x, xi=None):
        g = np.asarray(x, float) - self.c[i]
        return g if xi is None else g + xi

    def hvp_i(self, i, x, v, xi=None):
        return np.asarray(v, float).copy()


def _variant(**methods):
    """A subclass of Good with some methods or attributes replaced."""
    return type("Bad", (Good,), methods)()


BAD_PROBLEMS = {
    # id: (problem, token the message must contain)
    "grad_i-shape-d+1": (_variant(grad_i=lambda self, i, x, xi=None: np.ones(D + 1)), "grad_i"),
    "grad_i-shape-1xd": (_variant(grad_i=lambda self, i, x, xi=None: np.ones((1, D))), "grad_i"),
    "grad_i-None": (_variant(grad_i=lambda self, i, x, xi=None: None), "grad_i"),
    "grad_i-string": (_variant(grad_i=lambda self, i, x, xi=None: "abc"), "grad_i"),
    "grad_i-complex": (_variant(grad_i=lambda self, i, x, xi=None: np.ones(D) * 1j), "grad_i"),
    "grad_i-object": (_variant(grad_i=lambda self, i, x, xi=None: np.array([object()] * D)), "grad_i"),
    "grad_i-scalar": (_variant(grad_i=lambda self, i, x, xi=None: 1.0), "grad_i"),
    "grad_i-nan": (_variant(grad_i=lambda self, i, x, xi=None: np.full(D, np.nan)), "grad_i"),
    "grad_i-inf": (_variant(grad_i=lambda self, i, x, xi=None: np.full(D, np.inf)), "grad_i"),
    "grad_i-nan-client-1": (_variant(grad_i=lambda self, i, x, xi=None: np.full(D, np.nan if i else 1.0)), "grad_i"),
    "hvp_i-shape": (_variant(hvp_i=lambda self, i, x, v, xi=None: np.ones(D + 2)), "hvp_i"),
    "hvp_i-nan": (_variant(hvp_i=lambda self, i, x, v, xi=None: np.full(D, np.nan)), "hvp_i"),
    "hvp_i-None": (_variant(hvp_i=lambda self, i, x, v, xi=None: None), "hvp_i"),
    "sample-string": (_variant(sample=lambda self, i, rng: "abc"), "sample"),
    "sample-nan": (_variant(sample=lambda self, i, rng: np.full(D, np.nan)), "sample"),
    "sample-object": (_variant(sample=lambda self, i, rng: object()), "sample"),
    "sample-complex": (_variant(sample=lambda self, i, rng: np.ones(D) * 1j), "sample"),
    "f-vector": (_variant(f=lambda self, x: np.ones(2)), "f"),
    "f-None": (_variant(f=lambda self, x: None), "f"),
    "f-string": (_variant(f=lambda self, x: "abc"), "f"),
    "f-nan": (_variant(f=lambda self, x: math.nan), "f(x^k)"),
    "n_clients-zero": (_variant(n_clients=0), "n_clients"),
    "n_clients-string": (_variant(n_clients="2"), "n_clients"),
    "dim-zero": (_variant(dim=0), "dim"),
    "dim-float": (_variant(dim=3.0), "dim"),
    "no-grad_i": (type("NoGrad", (), {"n_clients": N, "dim": D, "f": Good.f, "f_i": Good.f_i,
                                      "sample": Good.sample, "c": Good.c})(), "grad_i"),
    "no-f": (type("NoF", (), {"n_clients": N, "dim": D, "grad_i": Good.grad_i, "hvp_i": Good.hvp_i,
                              "sample": Good.sample, "c": Good.c})(), "'f'"),
    "class-not-instance": (Good, "problem"),
    "None": (None, "problem"),
}


# --------------------------------------------------------------------------- the valid call and its mutations


@dataclass
class Call:
    name: str
    backend: str
    problem: object
    compressor: object
    x0: object
    iters: object
    kwargs: dict

    def __call__(self):
        return algorithms.run(self.name, self.problem, self.compressor, self.x0, self.iters, backend=self.backend,
                              **self.kwargs)


def required_kwargs(spec, bound: float = 100.0) -> dict:
    """The least valid keywords of ``spec``: a stepsize, a momentum where required, G and B = bound."""
    kw = {"stepsize": 0.05}
    if spec.momentum == "required":
        kw["momentum"] = 0.5
    if "G" in spec.options:
        kw["G"] = bound
    if "B" in spec.options:
        kw["B"] = bound
    return kw


def valid_call(name: str, backend: str) -> Call:
    spec = algorithms.get(name, backend)
    C = TopK(2) if spec.compressor == "required" else None
    return Call(name, backend, Good(), C, np.array([1.0, -2.0, 0.5]), 3, required_kwargs(spec))


@dataclass(frozen=True)
class Mutation:
    id: str
    applies: Callable[[object], bool]          # spec -> bool
    apply: Callable[[Call], None]
    token: str                                 # what the message must name


def _set(**kw):
    def apply(call):
        for key, value in kw.items():
            if key in ("problem", "compressor", "x0", "iters", "name", "backend"):
                setattr(call, key, value)
            else:
                call.kwargs[key] = value
    return apply


def _drop(key):
    def apply(call):
        call.kwargs.pop(key, None)
    return apply


def _calls(spec, method: str) -> bool:
    """Whether a run of ``spec`` calls the problem method (HVPs: HM / RHM; draws: all but exact EF21)."""
    if method == "hvp_i":
        return "hvp_i" in spec.needs
    if method == "sample":
        return spec.name not in ("ef21", "ef21-norm")
    return True


always = lambda spec: True
ef = lambda spec: spec.compressor == "required"
signs = lambda spec: spec.compressor == "none"
mom_required = lambda spec: spec.momentum == "required"
mom_none = lambda spec: spec.momentum == "none"
has = lambda *opts: (lambda spec: all(o in spec.options for o in opts))
engine = lambda spec: spec.backend == "torch"

MUTATIONS: list[Mutation] = [
    # x0
    *[Mutation(f"x0-{i}", always, _set(x0=v), "x0") for i, v in enumerate(
        [np.ones(D + 1), np.ones((1, D)), np.array([np.nan, 0.0, 0.0]), np.array([0.0, np.inf, 0.0]),
         "abc", None, np.ones(D) * 1j, [1.0, "a", 2.0], 3.0])],
    # iters
    *[Mutation(f"iters-{i}", always, _set(iters=v), "iters") for i, v in enumerate(
        [0, -1, 2.5, "3", True, None, 10 ** 12, np.float64(3.0)])],
    # stepsize
    *[Mutation(f"stepsize-{i}", always, _set(stepsize=v), "stepsize") for i, v in enumerate(
        [0.0, -0.1, math.nan, math.inf, "a", None, lambda k: 0.1 - k, lambda k: math.nan, [0.1, 0.2]])],
    # momentum
    *[Mutation(f"momentum-{i}", mom_required, _set(momentum=v), "momentum") for i, v in enumerate(
        [0.0, 1.5, -0.5, math.nan, "a", lambda k: 2.0])],
    Mutation("momentum-missing", mom_required, _drop("momentum"), "momentum"),
    Mutation("momentum-given-to-momentum-free", mom_none, _set(momentum=0.5), "momentum"),
    # compressor of the error-feedback methods
    *[Mutation(f"compressor-{i}", ef, _set(compressor=v), tok) for i, (v, tok) in enumerate([
        (None, "compressor"), (TopK, "compressor"), (RandK, "compressor"), ("topk", "compressor"),
        (Sign(), "compressor"), (ScaledRandK(1), "compressor"), (UnbiasedSign(1.0), "compressor"),
        (lambda v, rng=None: v, "compressor"), (TopK(D + 1), "k"), (RandK(D + 5), "k")])],
    Mutation("compressor-given-to-sign-method", signs, _set(compressor=TopK(1)), "compressor"),
    # record
    *[Mutation(f"record-{i}", always, _set(record=v), "record") for i, v in enumerate(
        ["some", 0, -3, 2.5, True, None])],
    Mutation("record-stats-with-record-clients", has("record_clients"),
             _set(record="stats", record_clients=True), "record"),
    # name / backend / unknown option
    Mutation("option-unknown", always, _set(nope=1), "nope"),
    # problem
    *[Mutation(f"problem-{key}", (lambda spec, key=key: _calls(spec, key.split("-")[0])),
               _set(problem=p), tok) for key, (p, tok) in BAD_PROBLEMS.items()],
    # options of the EF21 family
    Mutation("init", has("init"), _set(init="ones"), "init"),
    Mutation("bits", has("bits"), _set(bits="bytes"), "bits"),
    Mutation("record_clients", has("record_clients"), _set(record_clients="yes"), "record_clients"),
    Mutation("normalize_scope", has("normalize_scope"), _set(normalize_scope="layer"), "normalize_scope"),
    Mutation("blocks-sum", has("blocks"), _set(normalize_scope="per_tensor", blocks=(1, 1)), "blocks"),
    Mutation("blocks-type", has("blocks"), _set(blocks="abc"), "blocks"),
    Mutation("blocks-zero", has("blocks"), _set(normalize_scope="per_tensor", blocks=(0, 3)), "blocks"),
    Mutation("rhm_same_sample", has("rhm_same_sample"), _set(rhm_same_sample=1), "rhm_same_sample"),
    Mutation("econtrol_eta", has("econtrol_eta"), _set(econtrol_eta=2.0), "econtrol_eta"),
    Mutation("econtrol_eta-nan", has("econtrol_eta"), _set(econtrol_eta=math.nan), "econtrol_eta"),
    Mutation("econtrol_step_uses", has("econtrol_step_uses"), _set(econtrol_step_uses="h"), "econtrol_step_uses"),
    # EF / SAEF
    Mutation("mu-one", has("mu"), _set(mu=1.0), "mu"),
    Mutation("mu-negative", has("mu"), _set(mu=-0.1), "mu"),
    Mutation("mu-string", has("mu"), _set(mu="a"), "mu"),
    Mutation("p-zero", has("p"), _set(p=0), "p"),
    Mutation("p-float", has("p"), _set(p=2.5), "p"),
    Mutation("double_way", has("double_way"), _set(double_way="yes"), "double_way"),
    Mutation("error_averaging", has("error_averaging"), _set(error_averaging=2), "error_averaging"),
    Mutation("error_averaging-infinite-p", has("error_averaging"), _set(error_averaging=True), "p"),
    # sign family
    Mutation("sign_zero", has("sign_zero"), _set(sign_zero=2), "sign_zero"),
    Mutation("sign_zero-bool", has("sign_zero"), _set(sign_zero=True), "sign_zero"),
    Mutation("ties", has("ties"), _set(ties="random"), "ties"),
    Mutation("momentum_convention", has("momentum_convention"), _set(momentum_convention="ema"), "momentum_convention"),
    Mutation("on_violation", has("on_violation"), _set(on_violation="warn"), "on_violation"),
    Mutation("shared_draw", has("shared_draw"), _set(shared_draw="yes"), "shared_draw"),
    *[Mutation(f"G-{i}", has("G"), _set(G=v), "G") for i, v in enumerate([None, 0.0, -1.0, math.nan, "a"])],
    *[Mutation(f"B-{i}", has("B"), _set(B=v), "B") for i, v in enumerate([None, 0.0, -1.0, math.inf])],
    Mutation("signum-beta-one", lambda spec: spec.name in ("signum", "mv-signum"), _set(momentum=1.0), "momentum"),
    # engine options
    Mutation("device", engine, _set(device="tpu"), "device"),
    Mutation("device-int", engine, _set(device=3), "device"),
    Mutation("dtype", engine, _set(dtype="float16"), "dtype"),
    Mutation("draws", engine, _set(draws=[1, 2]), "draws"),
    Mutation("oracle", engine, _set(oracle="jax"), "oracle"),
    Mutation("diagnostics", engine, _set(diagnostics="none"), "diagnostics"),
    Mutation("engine-option-to-reference", lambda spec: spec.backend == "numpy", _set(seeds=2), "seeds"),
]

GLOBAL = [  # mutations independent of the algorithm
    Mutation("name-unknown", always, _set(name="nope"), "name"),
    Mutation("name-None", always, _set(name=None), "name"),
    Mutation("name-int", always, _set(name=3), "name"),
    Mutation("backend-unknown", always, _set(backend="jax"), "backend"),
    Mutation("backend-None", always, _set(backend=None), "backend"),
]


def outcome(call: Call, token: str) -> tuple[str, str]:
    """("ok" | "internal" | "silent", detail)."""
    try:
        call()
    except ValueError as err:                  # NonFiniteError is a ValueError
        msg = str(err)
        if token in msg and "\n" not in msg and msg:
            return "ok", msg
        return "internal", f"ValueError without {token!r} or on several lines: {msg!r}"
    except Exception as err:                   # noqa: BLE001 - every other exception is a defect
        return "internal", f"{type(err).__name__}: {err}"
    return "silent", "returned a Result"


def sweep():
    """Every (algorithm, backend, mutation) that applies, once; returns counts and the failures."""
    counts = {"calls": 0, "internal": 0, "silent": 0}
    failures = []

    def attempt(where, name, backend, m):
        call = valid_call(name, backend)
        m.apply(call)
        kind, detail = outcome(call, m.token)
        counts["calls"] += 1
        if kind != "ok":
            counts[kind] += 1
            failures.append(f"{where}/{m.id}: {kind}: {detail}")

    for backend in BACKENDS:
        for name in NAMES:
            spec = algorithms.get(name, backend)
            for m in MUTATIONS:
                if m.applies(spec):
                    attempt(f"{backend}/{name}", name, backend, m)
        for m in GLOBAL:
            attempt(backend, NAMES[0], backend, m)
    return counts, failures


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_the_valid_baseline_calls_run(name, backend):
    """Each mutation below breaks exactly one thing of a call that runs."""
    res = valid_call(name, backend)()
    assert np.all(np.isfinite(np.asarray(res.numpy().grad_norm)))


def test_every_invalid_call_is_a_one_line_error_naming_its_parameter(capsys):
    counts, failures = sweep()
    with capsys.disabled():
        print(f"\nfuzz sweep: {counts['calls']} invalid calls, {counts['internal']} internal errors, "
              f"{counts['silent']} silent acceptances")
    assert counts["calls"] > 2000
    assert not failures, "\n".join(failures[:60]) + f"\n... {len(failures)} failures in all"


def test_the_sweep_can_fail(monkeypatch):
    """With the compressor check removed, the sweep reports what it then lets through."""
    monkeypatch.setattr(algorithms, "_check_compressor", lambda *a, **k: None)
    call = valid_call("ef21", "numpy")
    call.compressor = Sign()
    assert outcome(call, "compressor")[0] == "silent"
    call = valid_call("ef21", "torch")
    call.compressor = TopK
    assert outcome(call, "compressor")[0] == "internal"


# --------------------------------------------------------------------------- hypothesis: combinations

_applicable = {(n, b): [m for m in MUTATIONS if m.applies(algorithms.get(n, b))] for n in NAMES for b in BACKENDS}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(NAMES), st.sampled_from(BACKENDS), st.data())
def test_combinations_of_invalid_parameters_are_named(name, backend, data):
    """Two or three invalid parameters at once: the error names one of them."""
    pool = _applicable[(name, backend)]
    chosen = data.draw(st.lists(st.sampled_from(pool), min_size=2, max_size=3, unique_by=lambda m: m.id))
    call = valid_call(name, backend)
    for m in chosen:
        m.apply(call)
    try:
        call()
    except ValueError as err:
        msg = str(err)
        assert "\n" not in msg and any(m.token in msg for m in chosen), (name, backend, [m.id for m in chosen], msg)
    else:
        # mutations of one key overwrite each other; the last one alone must still be invalid
        raise AssertionError(f"{name}/{backend} accepted {[m.id for m in chosen]}")
