"""Pathwise lemmas and Lyapunov functions of the EF21 family along real runs (Top-K, exact gradients).

Settings: the synthetic logistic problem of [004] (n = 20, d = 10, lambda = 0.1, Top-1,
x0 ~ N(0, I)) and the polynomial (d = 4, L0 = L1 = 4, Top-1, x0 ~ N(20, 1)). With a
deterministic compressor and exact gradients the lemmas hold at every step; the test asserts
the minimum slack (rhs - lhs) against float round-off only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import algorithms
from eftheory import lyapunov as ly
from eftheory.compressors import TopK
from eftheory.derivations.normalized import c0, c1
from eftheory.problems.logistic import synthetic_logistic
from eftheory.problems.polynomial import Polynomial
from eftheory.schedules import horizon, polynomial

TOL = 1e-10
MOMENTUM_VARIANTS = ["ef21-sgdm-norm", "ef21-igt-norm", "ef21-rhm-norm", "ef21-hm-norm", "ef21-mvr-norm"]


@pytest.fixture(scope="module")
def logistic_run():
    p = synthetic_logistic(20, 10, lam=0.1, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    r = algorithms.run("ef21-norm", p, TopK(1), x0, 100, stepsize=horizon(1.0, 100), record_clients=True)
    return p, r, TopK(1).alpha(10)


@pytest.fixture(scope="module")
def poly_run():
    p = Polynomial(d=4, L0=4.0, L1=4.0)
    x0 = np.random.default_rng(1).normal(20.0, 1.0, 4)
    r = algorithms.run("ef21-norm", p, TopK(1), x0, 600, stepsize=horizon(1.0, 600), record_clients=True)
    return p, r, TopK(1).alpha(4)


@pytest.fixture(scope="module")
def momentum_runs():
    p = synthetic_logistic(20, 10, lam=0.1, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    out = {}
    for name in MOMENTUM_VARIANTS:
        out[name] = algorithms.run(name, p, TopK(1), x0, 80, stepsize=polynomial(0.5, 2 / 3),
                                   momentum=polynomial(1.0, 0.5), record_clients=True)
    return p, out, TopK(1).alpha(10)


@pytest.fixture(params=["logistic", "polynomial"])
def norm_run(request, logistic_run, poly_run):
    return logistic_run if request.param == "logistic" else poly_run


# --------------------------------------------------------------------------- Lyapunov functions


def test_lyapunov_v_of_ef21_norm_matches_its_definition(logistic_run):
    p, r, a = logistic_run
    V = ly.lyapunov_ef21_norm(r, p, a)
    k = 7
    grads = np.array([p.grad_i(i, r.x[k]) for i in range(20)])
    err = np.mean(np.linalg.norm(grads - r.diagnostics["g_i"][k], axis=1))
    assert V[k] == pytest.approx(p.f(r.x[k]) - 0.0 + 2 * r.stepsize[k] / (1 - math.sqrt(1 - a)) * err, rel=1e-12)
    assert V.shape == (100,) and np.all(V >= r.f[:100])


def test_phi_and_001_lyapunov(momentum_runs):
    p, runs, a = momentum_runs
    r = runs["ef21-sgdm-norm"]
    phi = ly.lyapunov_momentum(r, p, a)
    A = 2 * r.stepsize / (1 - math.sqrt(1 - a))
    expect = r.f[:80] + A * r.diagnostics["err_g_v"] + math.sqrt(1 - a) * A * r.diagnostics["err_v_grad"]
    assert np.allclose(phi, expect, rtol=1e-13)
    with pytest.raises(ValueError, match="stepsize"):
        ly.lyapunov_sgdm(r, p, a)          # the seed-001 function is for a constant stepsize
    const = algorithms.run("ef21-sgdm-norm", p, TopK(1), r.x[0], 20, stepsize=0.01, momentum=0.3, record_clients=True)
    assert np.allclose(ly.lyapunov_sgdm(const, p, a), ly.lyapunov_momentum(const, p, a))


def test_lemma_checks_need_recorded_clients(logistic_run):
    p, _, a = logistic_run
    plain = algorithms.run("ef21-norm", p, TopK(1), np.zeros(10), 5, stepsize=0.1)
    with pytest.raises(ValueError, match="record_clients"):
        ly.error_recursion(plain, p, a)
    with pytest.raises(ValueError, match="f_inf"):
        ly.lyapunov_ef21_norm(plain, object(), a)
    shifted = ly.lyapunov_ef21_norm(plain, object(), a, f_inf=-1.0)
    assert np.allclose(shifted, ly.lyapunov_ef21_norm(plain, p, a) + 1.0)
    recorded = algorithms.run("ef21-norm", p, TopK(1), np.zeros(10), 5, stepsize=0.1, record_clients=True)
    with pytest.raises(ValueError, match="L0"):
        ly.normalized_descent(recorded, object())
    assert ly.normalized_descent(recorded, p, L0=p.L0, L1=p.L1).min_slack == ly.normalized_descent(recorded, p).min_slack


# --------------------------------------------------------------------------- S004 lemmas along runs


def test_s004_l2_via_the_problems_checker(norm_run):
    assumptions = pytest.importorskip("eftheory.assumptions")
    p, r, _ = norm_run
    for k in range(0, r.iters, max(1, r.iters // 10)):
        checks = assumptions.lemma2_inequalities(p, r.x[k], r.x[k + 1])
        for key, c in checks.items():
            assert c.observed <= c.stated + TOL * (1 + abs(c.stated)), (key, k)


def test_s004_l4_normalized_descent(norm_run):
    p, r, _ = norm_run
    ineq = ly.normalized_descent(r, p)
    assert ineq.lhs.shape == (r.iters,)
    assert ineq.min_slack >= -TOL * (1 + np.abs(ineq.rhs).max())


def test_s004_l6_error_recursion(norm_run):
    p, r, a = norm_run
    ineq = ly.error_recursion(r, p, a)
    assert ineq.lhs.shape == (r.iters - 1, p.n_clients)
    assert ineq.min_slack >= -TOL


def test_s004_l7_one_step_lyapunov_with_exponential_factors(norm_run):
    p, r, a = norm_run
    full = ly.lyapunov_step(r, p, a)
    printed = ly.lyapunov_step(r, p, a, with_exp=False)
    assert full.min_slack >= -TOL * (1 + np.abs(full.rhs).max())
    assert np.all(printed.rhs <= full.rhs)          # the printed form (erratum 13) is the smaller bound
    assert np.all(full.slack - printed.slack >= 0)


def test_s004_l7_constants_come_from_the_derivation(logistic_run):
    p, r, a = logistic_run
    full = ly.lyapunov_step(r, p, a)
    V = ly.lyapunov_ef21_norm(r, p, a)
    g = r.stepsize[0]
    k = 3
    e = math.exp(p.L1 * g)
    rhs = V[k] + c1(p.L1, a) * e * g * g * r.diagnostics["mean_grad_i_norm"][k] - g * r.grad_norm[k] + c0(p.L0, a) * e * g * g
    assert full.rhs[k] == pytest.approx(rhs, rel=1e-12)


def test_s004_l7_needs_non_increasing_stepsizes(logistic_run):
    p, _, a = logistic_run
    r = algorithms.run("ef21-norm", p, TopK(1), np.zeros(10), 5, stepsize=lambda k: 0.01 * (k + 1), record_clients=True)
    with pytest.raises(ValueError, match="non-increasing"):
        ly.lyapunov_step(r, p, a)


def test_s004_l6_fails_for_a_wrong_alpha(logistic_run):
    """Negative control: claiming alpha = 1 (no compression error) must produce negative slack."""
    p, r, _ = logistic_run
    assert ly.error_recursion(r, p, 1.0).min_slack < -1e-3


# --------------------------------------------------------------------------- 000 / 001 lemmas


@pytest.mark.parametrize("name", MOMENTUM_VARIANTS)
def test_s000_l3_memory_contraction(momentum_runs, name):
    p, runs, a = momentum_runs
    ineq = ly.memory_contraction(runs[name], a)
    assert ineq.lhs.shape == (79, 20)
    assert ineq.min_slack >= -TOL


@pytest.mark.parametrize("name", MOMENTUM_VARIANTS)
def test_s000_l2_descent_l_smooth(momentum_runs, name):
    p, runs, _ = momentum_runs
    assert ly.descent_lsmooth(runs[name], p).min_slack >= -TOL


def test_s000_l2_on_ef21_norm(logistic_run):
    p, r, _ = logistic_run
    ineq = ly.descent_lsmooth(r, p)
    assert ineq.min_slack >= -TOL
    assert ly.descent_lsmooth(r, p, L=0.0).min_slack < 0     # negative control: L = 0 is too small


def test_s001_l7_split_descent(momentum_runs):
    p, runs, _ = momentum_runs
    r = runs["ef21-sgdm-norm"]
    split, plain = ly.descent_split(r, p), ly.normalized_descent(r, p)
    assert split.min_slack >= -TOL
    assert np.all(split.rhs >= plain.rhs - 1e-12)            # triangle inequality: the split bound is weaker


def test_s001_l8_momentum_error_recursion(momentum_runs):
    p, runs, a = momentum_runs
    ineq = ly.momentum_error_recursion(runs["ef21-sgdm-norm"], p, a)
    assert ineq.lhs.shape == (79, 20)
    assert ineq.min_slack >= -TOL
    with pytest.raises(ValueError, match="momentum"):
        ly.momentum_error_recursion(algorithms.run("ef21-norm", p, TopK(1), np.zeros(10), 3, stepsize=0.1,
                                                   record_clients=True), p, a)


# --------------------------------------------------------------------------- S004-L5, S000-L4


def test_s004_l5_sequence_lemma_on_synthetic_sequences():
    rng = np.random.default_rng(0)
    for _ in range(50):
        b1, b2, b3, L1 = rng.uniform(0.1, 5, 4)
        gamma, K = rng.uniform(0.001, 0.2), int(rng.integers(5, 200))
        W = rng.exponential(1.0, K + 1)
        V = [rng.uniform(1, 10)]
        e = math.exp(L1 * gamma)
        for k in range(K):                 # equality in the hypothesis, clipped at V >= 0
            V.append(max((1 + b1 * e * gamma ** 2) * V[-1] - b2 * gamma * W[k] + b3 * e * gamma ** 2, 0.0))
        V = np.array(V)
        W = np.minimum(W, ((1 + b1 * e * gamma ** 2) * np.append(V[:-1], V[-1]) + b3 * e * gamma ** 2) / (b2 * gamma))
        kw = dict(b1=b1, b2=b2, b3=b3, L1=L1, gamma=gamma)
        assert ly.sequence_hypothesis(V, W, **kw).min_slack >= -1e-9
        assert ly.sequence_lemma(V, W, **kw).min_slack >= 0


@pytest.mark.parametrize("p,q", [(3 / 4, 1 / 2), (5 / 7, 4 / 7), (2 / 3, 2 / 3)])
def test_s000_l4_schedule_sum_ratio_bounded(p, q):
    s = ly.schedule_sum(p, q, 100_000)
    ratio = s.ratio
    assert ratio.max() <= 1.2                          # measured max: 1.107, 1.060, 1.000
    assert abs(ratio[-1] - 1.0) < 1e-2                 # the sum approaches gamma_T / eta_T
    # negative control: dropping 1/eta_T from the bound makes the ratio grow like T^q
    no_eta = s.lhs / (s.rhs * ((2 / (np.arange(2, 100_002) + 0.0)) ** q))
    assert no_eta[-1] > 50 * no_eta[9]


def test_s000_l4_small_cases_by_hand():
    s = ly.schedule_sum(0.5, 0.5, 3, gamma0=2.0)
    g = lambda t: 2.0 * (2 / (t + 2)) ** 0.5  # noqa: E731
    e = lambda t: (2 / (t + 2)) ** 0.5  # noqa: E731
    assert s.lhs[0] == pytest.approx(g(0))
    assert s.lhs[2] == pytest.approx(g(0) * (1 - e(1)) * (1 - e(2)) + g(1) * (1 - e(2)) + g(2))
    assert s.rhs[2] == pytest.approx(g(3) / e(3))
