"""Equivalences between configurations of the EF21 family, reductions to centralized methods
(S000-RED), and mutants of known implementation bugs that a trajectory check must catch."""

from __future__ import annotations

import numpy as np
import pytest

import algorithms
from algorithms.registry import Streams
from eftheory.compressors import Identity, RandK, TopK
from eftheory.problems.quadratic import problem_q, problem_q4
from eftheory.schedules import horizon, polynomial

TRAJ = dict(rtol=0, atol=1e-10)


def exact_quadratic():
    return problem_q(seed=3, d=6, n=3, zeta_std=0.0, eps_std=0.0)


def gd(problem, x0, K, gamma, normalized=False):
    xs = [np.asarray(x0, float)]
    for _ in range(K):
        g = np.mean([problem.grad_i(i, xs[-1]) for i in range(problem.n_clients)], axis=0)
        xs.append(xs[-1] - gamma * (g / np.linalg.norm(g) if normalized else g))
    return np.array(xs)


# --------------------------------------------------------------------------- one-line equivalences


def test_identity_ef21_is_gradient_descent(logistic, x0):
    assert np.allclose(algorithms.run("ef21", logistic, Identity(), x0, 50, stepsize=0.3).x, gd(logistic, x0, 50, 0.3), **TRAJ)


def test_identity_ef21_norm_is_normalized_gradient_descent(logistic, x0):
    assert np.allclose(algorithms.run("ef21-norm", logistic, Identity(), x0, 50, stepsize=0.05).x,
                       gd(logistic, x0, 50, 0.05, normalized=True), **TRAJ)


def test_ef21_paper_order_gives_the_same_iterates(logistic, x0):
    """EF21 paper: x^{t+1} = x^t - gamma g^t, then g_i^{t+1} = g_i^t + C(grad f_i(x^{t+1}) - g_i^t), g_i^0 = C(grad f_i(x^0))."""
    C, n, gamma = TopK(2), 20, 0.05
    g_i = [C(logistic.grad_i(i, x0)) for i in range(n)]
    xs = [x0]
    for _ in range(60):
        xs.append(xs[-1] - gamma * np.mean(g_i, axis=0))
        g_i = [g_i[i] + C(logistic.grad_i(i, xs[-1]) - g_i[i]) for i in range(n)]
    assert np.allclose(algorithms.run("ef21", logistic, C, x0, 60, stepsize=gamma, init="zero").x, np.array(xs), **TRAJ)


def test_sgdm_norm_with_eta_one_and_exact_gradients_is_ef21_norm(logistic, x0):
    ref = algorithms.run("ef21-norm", logistic, TopK(1), x0, 80, stepsize=0.05)
    assert np.allclose(algorithms.run("ef21-sgdm-norm", logistic, TopK(1), x0, 80, stepsize=0.05, momentum=1.0, init="gradient").x, ref.x, **TRAJ)


def test_mvr_norm_with_exact_gradients_is_ef21_norm(logistic, x0):
    ref = algorithms.run("ef21-norm", logistic, TopK(1), x0, 80, stepsize=0.05)
    assert np.allclose(algorithms.run("ef21-mvr-norm", logistic, TopK(1), x0, 80, stepsize=0.05, momentum=0.3).x, ref.x, **TRAJ)


@pytest.mark.parametrize("name", ["ef21-hm-norm", "ef21-rhm-norm", "ef21-igt-norm", "ef21-mvr-norm"])
def test_second_order_variants_with_exact_oracle_on_a_quadratic_are_ef21_norm(name):
    """On a quadratic with an exact oracle, v^{k-1} = grad f_i(x^{k-1}) makes HM/RHM/IGT/MVR return grad f_i(x^k)."""
    p, x0 = exact_quadratic(), np.linspace(-2, 2, 6)
    ref = algorithms.run("ef21-norm", p, TopK(2), x0, 60, stepsize=0.05)
    assert np.allclose(algorithms.run(name, p, TopK(2), x0, 60, stepsize=0.05, momentum=0.4).x, ref.x, **TRAJ)


def test_hm_differs_from_ef21_norm_off_quadratics(logistic, x0):
    ref = algorithms.run("ef21-norm", logistic, TopK(1), x0, 40, stepsize=0.05)
    hm = algorithms.run("ef21-hm-norm", logistic, TopK(1), x0, 40, stepsize=0.05, momentum=0.3)
    assert np.abs(hm.x - ref.x).max() > 1e-6


@pytest.mark.parametrize("init", ["zero", "compressed", "gradient"])
def test_econtrol_with_eta_zero_is_ef21(logistic, x0, init):
    C = RandK(2)
    ef = algorithms.run("ef21", logistic, C, x0, 60, stepsize=0.05, init=init, seed=7)
    ec = algorithms.run("econtrol", logistic, C, x0, 60, stepsize=0.05, init=init, seed=7, econtrol_eta=0.0)
    assert np.array_equal(ec.x, ef.x)
    assert not np.array_equal(algorithms.run("econtrol", logistic, C, x0, 60, stepsize=0.05, init=init, seed=7).x, ef.x)


def test_ef21_sgd_with_exact_oracle_is_ef21(logistic, x0):
    ef = algorithms.run("ef21", logistic, TopK(1), x0, 60, stepsize=0.05)
    assert np.array_equal(algorithms.run("ef21-sgd", logistic, TopK(1), x0, 60, stepsize=0.05, init="zero").x, ef.x)


def test_ef21_sgdm_with_eta_one_is_ef21_sgd():
    p = problem_q(seed=0, d=6, n=3)
    sgd = algorithms.run("ef21-sgd", p, RandK(2), np.ones(6), 40, stepsize=0.05, seed=2)
    assert np.array_equal(algorithms.run("ef21-sgdm", p, RandK(2), np.ones(6), 40, stepsize=0.05, momentum=1.0, seed=2).x, sgd.x)


def test_ef21_mvr_with_exact_oracle_is_ef21(logistic, x0):
    ef = algorithms.run("ef21", logistic, TopK(1), x0, 60, stepsize=0.05, init="gradient")
    assert np.allclose(algorithms.run("ef21-mvr", logistic, TopK(1), x0, 60, stepsize=0.05, momentum=0.2).x, ef.x, **TRAJ)


# --------------------------------------------------------------------------- S000-RED: n = 1, identity


def centralized(variant, p, x0, K, gamma, eta, seed):
    """Independent single-node normalized methods: NSGD-M (Cutkosky & Mehta), NSGD with IGT,
    normalized SOM (Salehkaleybar et al.), second-order momentum (Tran et al.), normalized STORM.
    Draws: one sample per iteration (RHM: a second one for the HVP and q ~ U[0,1] at every k)."""
    st = Streams(seed)
    x_prev = x = np.asarray(x0, float)
    v = None
    xs = [x]
    for k in range(K):
        e = eta(k)
        xi = p.sample(0, st.sample)
        xi_hat = p.sample(0, st.sample) if variant == "rhm" else None
        q = st.aux.random() if variant == "rhm" else None
        if k == 0:
            v = p.grad_i(0, x, xi)
        elif variant == "polyak":
            v = (1 - e) * v + e * p.grad_i(0, x, xi)
        elif variant == "igt":
            v = (1 - e) * v + e * p.grad_i(0, x + (1 - e) / e * (x - x_prev), xi)
        elif variant == "rhm":
            v = (1 - e) * (v + p.hvp_i(0, q * x + (1 - q) * x_prev, x - x_prev, xi_hat)) + e * p.grad_i(0, x, xi)
        elif variant == "hm":
            v = (1 - e) * (v + p.hvp_i(0, x, x - x_prev, xi)) + e * p.grad_i(0, x, xi)
        elif variant == "storm":
            v = p.grad_i(0, x, xi) + (1 - e) * (v - p.grad_i(0, x_prev, xi))
        x_prev, x = x, x - gamma(k) * v / np.linalg.norm(v)
        xs.append(x)
    return np.array(xs)


@pytest.mark.parametrize("name,variant", [
    ("ef21-sgdm-norm", "polyak"), ("ef21-igt-norm", "igt"), ("ef21-rhm-norm", "rhm"),
    ("ef21-hm-norm", "hm"), ("ef21-mvr-norm", "storm"),
])
def test_single_node_identity_reduces_to_the_centralized_method(name, variant):
    p = problem_q4(seed=1, d=5, n=1)
    gamma, eta = polynomial(0.5, 2 / 3), polynomial(1.0, 0.5)
    ref = algorithms.run(name, p, Identity(), np.ones(5), 60, stepsize=gamma, momentum=eta, seed=9, init="gradient")
    assert np.allclose(ref.x, centralized(variant, p, np.ones(5), 60, gamma, eta, 9), rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- mutants (STYLE.md §5)


def mini_ef21_norm(p, C, x0, K, gamma, mutant=None):
    """A second, independent ||EF21|| (init "gradient") that can carry one known bug."""
    n = p.n_clients
    g_i = [p.grad_i(i, x0) for i in range(n)]
    xs = [np.asarray(x0, float)]
    for _ in range(K):
        x = xs[-1]
        for i in range(n):
            v_i = p.grad_i(i, x)
            if mutant == "g_i<-v_i":
                g_i[i] = v_i
            elif mutant == "dropped_buffer":
                g_i[i] = C(v_i)
            else:
                g_i[i] = g_i[i] + C(v_i - g_i[i])
        if mutant == "server_aliases_client0":
            buf = g_i[0]                 # the server sums into client 0's own memory
            for i in range(1, n):
                buf += g_i[i]
            g = buf / n
        else:
            g = np.mean(g_i, axis=0)
        if mutant == "per_tensor":
            h = len(g) // 2
            step = np.concatenate([g[:h] / np.linalg.norm(g[:h]), g[h:] / np.linalg.norm(g[h:])])
        else:
            step = g / np.linalg.norm(g)
        xs.append(x + gamma * step if mutant == "wrong_sign" else x - gamma * step)
    return np.array(xs)


def test_mini_reference_agrees_with_the_reference(logistic, x0):
    ref = algorithms.run("ef21-norm", logistic, TopK(1), x0, 100, stepsize=0.05)
    assert np.allclose(mini_ef21_norm(logistic, TopK(1), x0, 100, 0.05), ref.x, **TRAJ)


@pytest.mark.parametrize("mutant", ["per_tensor", "g_i<-v_i", "dropped_buffer", "wrong_sign", "server_aliases_client0"])
def test_trajectory_check_catches_the_mutant(logistic, x0, mutant):
    ref = algorithms.run("ef21-norm", logistic, TopK(1), x0, 100, stepsize=0.05)
    bad = mini_ef21_norm(logistic, TopK(1), x0, 100, 0.05, mutant)
    assert not np.allclose(bad, ref.x, **TRAJ)
    assert np.abs(bad - ref.x).max() > 1e-4


def test_server_aliasing_bug_still_converges_but_slower(logistic):
    """The bug of the published normalized-EF21 code: n = 20, d = 10, Top-1, 200 iterations.
    Measured (gamma_k = 1/sqrt(201), x0 ~ N(0, I) seed 1): ||grad f(x^200)||^2 = 3.1e-4 correct vs 3.7e-3 buggy."""
    x0 = np.random.default_rng(1).standard_normal(10)
    gamma = horizon(1.0, 200)(0)
    ref = algorithms.run("ef21-norm", logistic, TopK(1), x0, 200, stepsize=gamma)
    bad = mini_ef21_norm(logistic, TopK(1), x0, 200, gamma, "server_aliases_client0")
    bad_sq = float(np.sum(np.mean([logistic.grad_i(i, bad[-1]) for i in range(20)], axis=0) ** 2))
    good_sq = float(ref.grad_norm[-1] ** 2)
    assert good_sq < bad_sq < ref.grad_norm[0] ** 2
