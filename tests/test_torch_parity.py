"""The batched torch engine equals the NumPy reference, for every registered algorithm.

Driven by the registry: every name in ``algorithms.names()`` is run by the reference for three
seeds while :func:`algorithms.torch.replay.record_draws` records its draws; the engine replays
them with ``seeds=3`` and every field of the result (iterates, f, grad_norm, schedules, bits,
oracle counts, init bits and every diagnostic) must agree to 1e-10 in float64. Each algorithm is
covered with a random compressor (Rand-K / scaled Rand-K, or S_R for the sign methods), a
stochastic problem, and -- for the EF21 family -- a deterministic compressor and an exact
problem too. A ``gpu`` copy replays the same draws on CUDA.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import algorithms
from algorithms.torch.problems import TorchProblem
from algorithms.torch.replay import record_draws
from eftheory import schedules
from eftheory.compressors import RandK, ScaledRandK, TopK
from eftheory.problems import (HeterogeneousSignProblem, LogisticRegression, Polynomial,
                               SeparableQuadratic, problem_q4)

ITERS = 8
SEEDS = (0, 1, 2)
TOL = 1e-10


class UserQuadratic:
    """A protocol problem defined here (no torch oracle: the engine falls back to its NumPy methods)."""

    def __init__(self, n=3, d=5, seed=1):
        r = np.random.default_rng(seed)
        self.n_clients, self.dim = n, d
        M = r.normal(size=(n, d, d))
        self.A = M @ M.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
        self.b = r.normal(size=(n, d))

    def f_i(self, i, x, xi=None):
        return float(0.5 * x @ self.A[i] @ x - self.b[i] @ x)

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(self.n_clients)]))

    def sample(self, i, rng):
        return rng.normal(size=(self.dim,))

    def grad_i(self, i, x, xi=None):
        g = self.A[i] @ x - self.b[i]
        return g if xi is None else g + 0.1 * xi

    def hvp_i(self, i, x, v, xi=None):
        return self.A[i] @ v


def torch_problem():
    """A user problem written in torch: logistic-type loss with multiplicative noise draws."""
    rng = np.random.default_rng(5)
    a = torch.as_tensor(rng.normal(size=(3, 4)))

    def loss(x, xi):
        z = (x * a).sum(-1)
        base = torch.nn.functional.softplus(-z) + 0.05 * (x ** 4).sum(-1)
        return base if xi is None else base + (xi * x).sum(-1)

    return TorchProblem(3, 4, loss=loss, sample=lambda i, r: 0.1 * r.normal(size=4))


def logistic_minibatch():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(12, 6))
    b = np.where(rng.random(12) < 0.5, -1.0, 1.0)
    return LogisticRegression(A, b, lam=0.1, clients=4, batch_size=2)


def logistic_exact():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(5, 6))
    b = np.where(rng.random(5) < 0.5, -1.0, 1.0)
    return LogisticRegression(A, b, lam=0.1)


def hetero():
    return HeterogeneousSignProblem(d=6, n=4, seed=2)


def identical_skewed():
    return HeterogeneousSignProblem(d=6, n=4, seed=2, shift=0.0, noise="skewed")


def _cases():
    """(id, name, problem factory, compressor, kwargs) for every registered algorithm."""
    out = []
    for spec in algorithms.specs("numpy"):
        name = spec.name
        mom = None
        if spec.momentum == "required":
            mom = schedules.polynomial(1.0, 0.5) if spec.compressor == "required" else 0.5
        kw = {"stepsize": 0.05, "momentum": mom}
        if spec.compressor == "required":
            if name in ("ef", "saef"):
                out.append((f"{name}-randk-q4", name, problem_q4, RandK(3), {**kw, "mu": 0.5}))
                out.append((f"{name}-srandk-logistic-avg", name, logistic_minibatch, ScaledRandK(4),
                            {**kw, "mu": 0.9, "p": 3,
                             **({"error_averaging": True} if name == "ef" else {})}))
                out.append((f"{name}-topk-user-single", name, UserQuadratic, TopK(2),
                            {**kw, "double_way": False}))
                out.append((f"{name}-topk-skewed-no-feedback", name, identical_skewed, TopK(2),
                            {**kw, "mu": 0.5, "local_feedback": False}))
                continue
            out.append((f"{name}-randk-q4", name, problem_q4, RandK(3), kw))
            out.append((f"{name}-srandk-logistic", name, logistic_minibatch, ScaledRandK(4),
                        {**kw, "init": "compressed"}))
            out.append((f"{name}-topk-user", name, UserQuadratic, TopK(2), {**kw, "init": "zero"}))
            if "norm" in name:
                out.append((f"{name}-blocks-torchproblem", name, torch_problem, RandK(2),
                            {**kw, "normalize_scope": "per_tensor", "blocks": (1, 3)}))
            else:
                out.append((f"{name}-randk-torchproblem", name, torch_problem, RandK(2), kw))
            if "hvp_i" not in spec.needs:
                out.append((f"{name}-topk-logistic-exact", name, logistic_exact, TopK(2), kw))
            if name == "ef21-rhm-norm":
                out.append((f"{name}-same-sample", name, problem_q4, RandK(3), {**kw, "rhm_same_sample": True}))
            if name == "econtrol":
                out.append((f"{name}-hprev", name, problem_q4, RandK(3),
                            {**kw, "econtrol_step_uses": "h_prev", "econtrol_eta": 0.3}))
        else:
            opts = {}
            if "B" in spec.options:
                opts["B"] = 3.0
            if "G" in spec.options:
                opts["G"] = 3.0
            out.append((f"{name}-hetero", name, hetero, None, {**kw, **opts}))
            out.append((f"{name}-separable", name, lambda: SeparableQuadratic(5, seed=1), None, {**kw, **opts}))
            if "ties" in spec.options:
                out.append((f"{name}-ties-plus", name, hetero, None, {**kw, **opts, "ties": "plus"}))
            if "G" in spec.options or "B" in spec.options:
                key = "G" if "G" in spec.options else "B"
                out.append((f"{name}-violations", name, hetero, None, {**kw, **opts, key: 0.5}))
            if "momentum_convention" in spec.options:
                out.append((f"{name}-old-weight", name, hetero, None,
                            {**kw, **opts, "momentum_convention": "old_weight"}))
            if "sign_zero" in spec.options:
                out.append((f"{name}-polynomial-signzero", name, lambda: Polynomial(d=4), None,
                            {**kw, **opts, "sign_zero": 1}))
    return out


CASES = _cases()
#: the first case of every algorithm (the CUDA copy)
FIRST = list({c[1]: c for c in reversed(CASES)}.values())


def assert_same(ref_results, eng, where="", diagnostics=True):
    """Every field of the batched result equals the reference runs (float64, 1e-10); with
    ``diagnostics=False`` every field but the per-step diagnostics (a "light" engine run)."""
    eng = eng.numpy()
    for s, ref in enumerate(ref_results):
        for field in ("x", "grad_norm", "f", "stepsize", "momentum", "bits_up", "bits_down",
                      "grad_calls", "hvp_calls"):
            a, b = getattr(eng, field), getattr(ref, field)
            if b is None:
                assert a is None, f"{where}{field}: engine has values, reference None"
                continue
            np.testing.assert_allclose(a[s], b, rtol=TOL, atol=TOL, err_msg=f"{where}{field} seed {s}")
        assert eng.init_bits_up == ref.init_bits_up
        if not diagnostics:
            for key, a in eng.diagnostics.items():       # what a light run keeps must agree too
                np.testing.assert_allclose(a[s], ref.diagnostics[key], rtol=TOL, atol=TOL,
                                           err_msg=f"{where}diagnostics[{key!r}] seed {s}")
            continue
        assert set(eng.diagnostics) == set(ref.diagnostics), f"{where}diagnostic keys differ"
        for key, b in ref.diagnostics.items():
            np.testing.assert_allclose(eng.diagnostics[key][s], b, rtol=TOL, atol=TOL,
                                       err_msg=f"{where}diagnostics[{key!r}] seed {s}")


def _replay(case, device="cpu", **engine):
    _, name, make, C, kw = case
    problem = make()
    x0 = np.linspace(-0.8, 1.1, problem.dim)
    draws, refs = record_draws(name, problem, C, x0, ITERS, seeds=SEEDS, **kw)
    eng = algorithms.run(name, problem, C, x0, ITERS, backend="torch", seeds=len(SEEDS),
                         draws=draws, device=device, **kw, **engine)
    return refs, eng


def test_every_algorithm_has_an_engine_with_the_same_options():
    assert algorithms.names("torch") == algorithms.names("numpy")
    from algorithms.torch._core import ENGINE_OPTIONS

    for spec in algorithms.specs("numpy"):
        eng = algorithms.get(spec.name, "torch")
        assert set(eng.options) == set(spec.options) | set(ENGINE_OPTIONS), spec.name
        assert {k: eng.options[k] for k in spec.options} == spec.options, spec.name
        assert (eng.needs, eng.momentum, eng.compressor) == (spec.needs, spec.momentum, spec.compressor)


def test_every_algorithm_is_covered_with_randomness():
    covered = {c[1] for c in CASES if c[3] is not None and c[3].random}
    covered |= {c[1] for c in CASES if c[3] is None and ("G" in c[4] or "B" in c[4])}
    stochastic = {c[1] for c in CASES if c[2] in (problem_q4, logistic_minibatch, hetero)}
    names = set(algorithms.names())
    assert names - covered <= {"signsgd", "signum", "smm", "mv-signsgd", "mv-signum"}
    assert stochastic == names


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_engine_replays_reference(case):
    refs, eng = _replay(case)
    assert eng.x.shape == (len(SEEDS), ITERS + 1, refs[0].x.shape[1])
    assert_same(refs, eng, where=f"{case[0]}: ")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_light_engine_replays_reference(case):
    """diagnostics="light" skips the per-step diagnostics; every other field is the reference's."""
    refs, eng = _replay(case, diagnostics="light")
    assert set(eng.diagnostics) <= {"averaged"}, f"{case[0]}: light run recorded {set(eng.diagnostics)}"
    assert eng.config["diagnostics"] == "light"
    assert_same(refs, eng, where=f"{case[0]} (light): ", diagnostics=False)


def test_diagnostics_option_is_checked():
    case = FIRST[0]
    with pytest.raises(ValueError, match="diagnostics"):
        _replay(case, diagnostics="none")


@pytest.mark.gpu
@pytest.mark.parametrize("case", FIRST, ids=[c[0] for c in FIRST])
def test_engine_replays_reference_on_cuda(case):
    refs, eng = _replay(case, device="cuda")
    assert eng.x.device.type == "cuda"
    assert_same(refs, eng, where=f"{case[0]} (cuda): ")


def test_replay_with_wrong_seed_count_is_rejected():
    problem = problem_q4(d=4, n=2)
    draws, _ = record_draws("ef21-sgd", problem, RandK(2), np.ones(4), 3, seeds=(0, 1), stepsize=0.1)
    with pytest.raises(ValueError, match="seeds"):
        algorithms.run("ef21-sgd", problem, RandK(2), np.ones(4), 3, stepsize=0.1, backend="torch",
                       seeds=3, draws=draws)


def test_replay_with_too_few_draws_is_rejected():
    problem = problem_q4(d=4, n=2)
    draws, _ = record_draws("ef21-sgd", problem, RandK(2), np.ones(4), 3, seeds=(0,), stepsize=0.1)
    with pytest.raises(ValueError, match="draws"):
        algorithms.run("ef21-sgd", problem, RandK(2), np.ones(4), 5, stepsize=0.1, backend="torch",
                       draws=draws)


def test_parity_check_can_fail():
    """A perturbed engine result is caught (the comparison is not vacuous)."""
    case = next(c for c in CASES if c[1] == "ef21-sgdm-norm")
    refs, eng = _replay(case)
    eng.x[1, 3, 0] += 1e-8
    with pytest.raises(AssertionError):
        assert_same(refs, eng)


def test_float32_engine_is_close_to_reference():
    case = next(c for c in CASES if c[0] == "ef21-mvr-norm-randk-q4")
    _, name, make, C, kw = case
    problem = make()
    x0 = np.linspace(-0.8, 1.1, problem.dim)
    draws, refs = record_draws(name, problem, C, x0, ITERS, seeds=SEEDS, **kw)
    eng = algorithms.run(name, problem, C, x0, ITERS, backend="torch", seeds=3, draws=draws,
                         dtype="float32", **kw).numpy()
    assert eng.x.dtype == np.float32
    np.testing.assert_allclose(eng.x, np.stack([r.x for r in refs]), atol=1e-4)
    assert not math.isnan(float(eng.grad_norm.max()))
