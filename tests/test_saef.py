"""EF and SAEF (Xu, Huo, Huang [002]): identities, equivalences, lemma checks, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import algorithms
from algorithms.registry import Streams
from eftheory import schedules
from eftheory.compressors import Blockwise, Identity, ScaledSign, TopK
from eftheory.lyapunov import saef as ly
from eftheory.problems import problem_q, synthetic_logistic


class HomQuad:
    """F(x) = 1/2 sum_j h_j (x_j - b_j)^2 on every worker (002 is homogeneous); noise s * N(0, I).

    sigma^2 = s^2 d exactly (Assumption 2).
    """

    def __init__(self, d=8, n=4, s=0.5, seed=0):
        r = np.random.default_rng(seed)
        self.dim, self.n_clients, self.s = d, n, s
        self.h = r.uniform(0.5, 2.0, d)
        self.b = r.standard_normal(d)
        self.L = float(self.h.max())
        self.sigma2 = s * s * d

    def f(self, x):
        return 0.5 * float(np.sum(self.h * (x - self.b) ** 2))

    def f_i(self, i, x):
        return self.f(x)

    def sample(self, i, rng):
        return rng.standard_normal(self.dim)

    def grad_i(self, i, x, xi=None):
        g = self.h * (x - self.b)
        return g if xi is None else g + self.s * xi


class Linear:
    """F(x) = <1, x> on every worker; gradient 1 + s * N(0, I): constant grad F, M^2 = d."""

    def __init__(self, d=10, n=2, s=0.1):
        self.dim, self.n_clients, self.s = d, n, s
        self.a = np.ones(d)

    def f(self, x):
        return float(self.a @ x)

    def f_i(self, i, x):
        return self.f(x)

    def sample(self, i, rng):
        return rng.standard_normal(self.dim)

    def grad_i(self, i, x, xi=None):
        return self.a.copy() if xi is None else self.a + self.s * xi


COMPRESSORS = [TopK(2), ScaledSign(), Blockwise(ScaledSign(), [3, 5])]
CIDS = ["topk2", "scaledsign", "blockwise-ssign"]


def _run(name, C, *, mu, iters=60, stepsize=0.05, seed=3, **opts):
    return algorithms.run(name, HomQuad(), C, np.full(8, 2.0), iters, stepsize=stepsize, seed=seed,
                          mu=mu, **opts)


CONFIGS = [("ef", {}), ("ef", {"error_averaging": True, "p": 3}), ("saef", {}), ("saef", {"p": 3}),
           ("ef", {"double_way": False}), ("saef", {"double_way": False, "p": 2})]
CONFIG_IDS = ["ef", "ef-avg3", "saef", "saef-p3", "ef-single", "saef-single-p2"]


# -- S002-AUX and S002-Z ------------------------------------------------------------------

@pytest.mark.parametrize("C", COMPRESSORS, ids=CIDS)
@pytest.mark.parametrize("name,opts", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_aux_identity_S002_AUX(name, opts, C, mu):
    # decaying stepsize: eq. (3) holds for any eta_t
    res = _run(name, C, mu=mu, stepsize=schedules.polynomial(0.1, 0.5), **opts)
    resid = ly.aux_residual(res)
    assert resid.shape == (60,)
    assert np.max(resid) <= 1e-10
    # the compression error is not trivially zero (the identity is not vacuous)
    assert np.max(res.diagnostics["mismatch_ef"]) > 1e-6


@pytest.mark.parametrize("C", COMPRESSORS, ids=CIDS)
@pytest.mark.parametrize("name,opts", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_z_identity_S002_Z(name, opts, C, mu):
    res = _run(name, C, mu=mu, **opts)
    assert np.max(ly.z_residual(res)) <= 1e-10


def test_aux_identity_fails_for_a_dropped_error_buffer():
    """Negative control: x_t itself does not follow eq. (3) when compression errors are non-zero."""
    res = _run("saef", TopK(2), mu=0.5)
    x = res.x
    resid = np.max(np.abs(x[1:] - x[:-1] + 0.05 * res.diagnostics["momentum_mean"]), axis=1)
    assert np.max(resid) > 1e-3


def test_z_identity_needs_constant_stepsize():
    res = _run("saef", TopK(2), mu=0.5, stepsize=schedules.polynomial(0.1, 0.5))
    with pytest.raises(ValueError, match="stepsize"):
        ly.z_residual(res)


def test_error_averaging_sets_equal_local_errors_and_keeps_aux():
    res = _run("saef", TopK(2), mu=0.5, p=4, record_clients=True)
    avg = res.diagnostics["averaged"]
    assert np.array_equal(np.flatnonzero(avg), np.arange(3, 60, 4))
    errs = res.diagnostics["client_errors"]
    for t in np.flatnonzero(avg):
        assert np.allclose(errs[t], errs[t][0], atol=0, rtol=0)
    # without averaging the local errors differ
    assert np.max(np.abs(errs[1] - errs[1][0])) > 1e-6
    assert np.max(ly.aux_residual(res)) <= 1e-10


# -- equivalences ---------------------------------------------------------------------------

def _momentum_sgd(problem, x0, iters, eta, mu, seed):
    streams = Streams(seed)
    x = x0.copy()
    m = np.zeros((problem.n_clients, problem.dim))
    xs = [x.copy()]
    for _ in range(iters):
        for k in range(problem.n_clients):
            xi = problem.sample(k, streams.sample)
            m[k] = mu * m[k] + problem.grad_i(k, x, xi)
        x = x - eta * m.mean(axis=0)
        xs.append(x.copy())
    return np.array(xs)


@pytest.mark.parametrize("name", ["ef", "saef"])
@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_identity_compressor_p1_is_momentum_sgd(name, mu):
    P = problem_q(seed=1)
    x0 = np.ones(P.dim)
    opts = {"p": 1} if name == "saef" else {"p": 1, "error_averaging": True}
    res = algorithms.run(name, P, Identity(), x0, 40, stepsize=0.05, seed=7, mu=mu, **opts)
    ref = _momentum_sgd(P, x0, 40, 0.05, mu, seed=7)
    np.testing.assert_allclose(res.x, ref, rtol=0, atol=1e-12)
    assert np.max(res.diagnostics["client_error_norm"]) == 0.0


def test_saef_differs_from_ef_under_compression():
    """Step ahead changes the trajectory (heterogeneous problem, Top-K)."""
    P = problem_q(seed=1)
    a = algorithms.run("ef", P, TopK(2), np.ones(P.dim), 30, stepsize=0.05, mu=0.5)
    b = algorithms.run("saef", P, TopK(2), np.ones(P.dim), 30, stepsize=0.05, mu=0.5)
    assert np.max(np.abs(a.x - b.x)) > 1e-4


# -- accounting, single/double way, reruns --------------------------------------------------

def test_bits_single_and_double_way():
    d = 8
    res = _run("saef", ScaledSign(), mu=0.0, p=5)
    up = np.full(60, d + 32.0)
    up[4::5] += 32.0 * d
    np.testing.assert_array_equal(res.bits_up, up)
    np.testing.assert_array_equal(res.bits_down, np.full(60, d + 32.0))
    single = _run("saef", TopK(2), mu=0.0, double_way=False)
    np.testing.assert_array_equal(single.bits_up, np.full(60, 64.0))
    np.testing.assert_array_equal(single.bits_down, np.full(60, 32.0 * d))
    assert np.all(single.diagnostics["server_error_norm"] == 0.0)
    assert np.max(_run("saef", TopK(2), mu=0.0).diagnostics["server_error_norm"]) > 0.0
    idx = _run("ef", TopK(2), mu=0.0, bits="values+indices")
    assert idx.bits_up[0] == TopK(2).bits(d, "values+indices") > 64.0


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_bit_identical_rerun(name):
    a = _run(name, TopK(2), mu=0.9, p=3, record_clients=True)
    b = _run(name, TopK(2), mu=0.9, p=3, record_clients=True)
    assert np.array_equal(a.x, b.x)
    for key in a.diagnostics:
        assert np.array_equal(a.diagnostics[key], b.diagnostics[key]), key
    c = _run(name, TopK(2), mu=0.9, p=3, seed=4)
    assert not np.array_equal(a.x, c.x)


def test_shapes_and_l1_norm():
    res = _run("saef", TopK(2), mu=0.5, record_clients=True)
    dg = res.diagnostics
    assert res.x.shape == (61, 8) and dg["x_aux"].shape == (61, 8)
    assert dg["client_error_norm"].shape == (61, 4) and dg["client_errors"].shape == (61, 4, 8)
    assert dg["momentum_mean"].shape == (60, 8) and dg["momentum_sq_norm"].shape == (60, 4)
    P = HomQuad()
    g = np.array([P.grad_i(0, x) for x in res.x])
    np.testing.assert_allclose(dg["grad_norm_l1"], np.abs(g).sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(res.grad_norm, np.linalg.norm(g, axis=1), rtol=1e-14)


@pytest.mark.parametrize("name", ["ef", "saef"])
@pytest.mark.parametrize("maker", [lambda: problem_q(seed=0),
                                   lambda: synthetic_logistic(n=8, d=6, seed=0, batch_size=2)],
                         ids=["problem_q", "logistic"])
def test_runs_on_builtin_problems(name, maker):
    P = maker()
    res = algorithms.run(name, P, TopK(2), np.zeros(P.dim), 50, stepsize=0.05, mu=0.5, p=4)
    assert np.all(np.isfinite(res.x))
    assert res.grad_norm[-1] < res.grad_norm[0]
    assert np.max(ly.aux_residual(res)) <= 1e-10


# -- S002-P1 ---------------------------------------------------------------------------------

@given(n=st.integers(1, 64), data=st.data())
def test_proposition1_saef_bound_below_ef_S002_P1(n, data):
    mean_sq = np.array(data.draw(st.lists(st.floats(1e-6, 1e6), min_size=n, max_size=n)))
    frac = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    server = data.draw(st.floats(0.0, 1e6))
    saef, ef = ly.proposition1_bounds(server, frac * mean_sq, mean_sq)
    assert saef < ef


@pytest.mark.parametrize("n", [3, 8])
def test_proposition1_condition_matters(n):
    """Negative control: pure variance (zero mean errors) makes the SAEF bound the larger one."""
    saef, ef = ly.proposition1_bounds(0.0, np.ones(n), np.zeros(n))
    assert saef == pytest.approx(2 * (n - 1) / n) and ef == pytest.approx(2 / n)
    assert saef > ef


def test_proposition1_variance_term_by_monte_carlo():
    """(1/n) sum_k E||e_bar - e_k||^2 = (n-1)/n^2 sum_k Var for i.i.d. errors (the equality in eq. (33))."""
    rng = np.random.default_rng(0)
    n, d, M = 5, 3, 200_000
    mean = np.array([1.0, -2.0, 0.5])
    e = mean + 0.7 * rng.standard_normal((M, n, d))
    lhs = np.mean(np.sum((e.mean(axis=1, keepdims=True) - e) ** 2, axis=2), axis=1)
    var = 0.49 * d
    stated = (n - 1) / n ** 2 * n * var
    assert abs(lhs.mean() - stated) <= 4 * lhs.std(ddof=1) / math.sqrt(M)


# -- S002-C1 and the Lemma-2 constants ---------------------------------------------------------

def test_corollary1_grid_S002_C1():
    worst = 0.0
    for delta in np.linspace(0.005, 0.995, 60):
        for etaL in np.linspace(0.01, 1.49, 40):
            for n in (1, 2, 8, 64, 1024):
                saef, zheng = ly.c1_terms(delta, etaL, 1.0, n)
                assert saef < zheng, (delta, etaL, n)
                worst = max(worst, saef / zheng)
    assert 0.0 < worst < 1.0
    assert ly.c1_terms(1.0, 0.5, 1.0, 4) == (0.0, 0.0)


def test_lemma2_minimum_corrected_and_printed_erratum():
    for delta in np.linspace(0.01, 0.99, 50):
        s = math.sqrt(1 - delta)
        star = 1 / s - 1
        h_star = ly.lemma2_h(star, delta)
        assert h_star == pytest.approx(ly.lemma2_min_corrected(delta), rel=1e-12)
        hi = delta / (1 - delta)
        grid = np.linspace(hi * 1e-3, hi * (1 - 1e-3), 999)
        assert min(ly.lemma2_h(b, delta) for b in grid) >= h_star * (1 - 1e-12)
        # the printed value is not even a value of h: it lies below its minimum
        assert ly.lemma2_min_printed(delta) < h_star
    assert ly.lemma2_min_corrected(0.5) == pytest.approx(5.828427, rel=1e-6)
    assert ly.lemma2_min_printed(0.5) == pytest.approx(0.853553, rel=1e-6)


def test_alpha_mu_and_C():
    assert ly.alpha_mu(0.1, 1.0, 0.0) == pytest.approx(0.9)
    assert ly.alpha_mu(0.1, 1.0, 0.5) == pytest.approx(1 - 0.2 - 2 * 0.25 * 0.01 / 0.0625)
    assert ly.constant_C(1.0, 1) == pytest.approx(1.0)
    assert ly.constant_C(0.75, 4) == pytest.approx(1.25 / 0.5 + 0.75)


# -- S002-AL1, S002-AL2, S002-AL5 by Monte Carlo ---------------------------------------------------

SEEDS = 16


def _z(cells: int, seeds: int = SEEDS, level: float = 1e-3) -> float:
    """One-sided Student-t quantile with a Bonferroni correction over the cells."""
    return float(stats.t.ppf(1 - level / cells, seeds - 1))


@pytest.mark.parametrize("name", ["ef", "saef"])
@pytest.mark.parametrize("C", [TopK(2), ScaledSign()], ids=["topk2", "scaledsign"])
@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_lemmas_1_2_5_gate_on_corrected_constants(name, C, mu):
    P = HomQuad()
    runs = [algorithms.run(name, P, C, np.full(8, 2.0), 40, stepsize=0.05, seed=s, mu=mu,
                           record_clients=True) for s in range(SEEDS)]
    M2 = max(ly.max_grad_sq_at_evaluation_points(P, r) for r in runs)
    delta = C.alpha(P.dim)
    al1 = ly.lemma1_check(runs, M2=M2, sigma2=P.sigma2)
    assert al1.observed - _z(40 * 4) * al1.se <= al1.corrected
    al2 = ly.lemma2_check(runs, delta=delta, M2=M2, sigma2=P.sigma2)
    assert al2.observed - _z(40 * 4) * al2.se <= al2.corrected
    assert al2.observed > 0.0
    if name == "saef":
        al5 = ly.lemma5_check(runs, delta=delta, M2=M2, sigma2=P.sigma2)
        assert al5.observed - _z(41) * al5.se <= al5.corrected


@pytest.fixture(scope="module")
def linear_runs():
    P = Linear()
    return P, [algorithms.run("saef", P, TopK(1), np.zeros(P.dim), 300, stepsize=0.1, seed=s)
               for s in range(SEEDS)]


def test_lemma1_is_attained_with_constant_gradient_S002_AL1(linear_runs):
    """mu = 0 and constant grad F: E||m||^2 = M^2 + sigma^2 exactly; the grand mean sits on the bound."""
    P, runs = linear_runs
    m2 = np.array([r.diagnostics["momentum_sq_norm"] for r in runs]).ravel()
    stated = P.dim + P.s ** 2 * P.dim
    assert abs(m2.mean() - stated) <= 4 * m2.std(ddof=1) / math.sqrt(m2.size)


def test_lemma2_printed_constant_is_violated_S002_AL2(linear_runs):
    """The erratum shown: Top-1 on d = 10 (delta = 0.1) with a constant gradient direction.

    Measured (16 seeds, 300 steps, eta = 0.1, s = 0.1): max_t,k E||e^(k)||^2 = 2.91 (se 0.02);
    printed bound 0.886, corrected bound 34.5.
    """
    P, runs = linear_runs
    al2 = ly.lemma2_check(runs, delta=TopK(1).alpha(P.dim), M2=float(P.dim), sigma2=P.s ** 2 * P.dim)
    assert al2.observed - _z(300 * 2) * al2.se > al2.printed
    assert al2.observed + _z(300 * 2) * al2.se <= al2.corrected
    # the seed-free error cycle: coordinates 0..9 of the error hold about eta * (0..9)
    assert al2.observed == pytest.approx(0.01 * 285 / 1, rel=0.1)


def test_lemma5_printed_constant_not_violated_here_S002_AL5(linear_runs):
    """Recorded: on the same instance the printed Lemma-1/5 constant is NOT violated.

    Measured: max_t E mismatch = 1.68 (se 0.09); printed 66.5; corrected 9.97e4. The printed
    constant of Lemma 5 is too small only through Lemma 2's slip, which this instance does not
    expose; the gate stays on the corrected constant.
    """
    P, runs = linear_runs
    al5 = ly.lemma5_check(runs, delta=0.1, M2=float(P.dim), sigma2=P.s ** 2 * P.dim)
    assert al5.observed + _z(301) * al5.se <= al5.printed <= al5.corrected
    assert al5.observed > 0.1


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_evaluation_points_are_recorded_on_both_backends(name):
    """eval_points[t, k] is where worker k evaluated its gradient: x_t (EF) or x_t - e_t^(k) (SAEF)."""
    P = HomQuad()
    x0 = np.linspace(-1.0, 1.0, P.dim)
    res = algorithms.run(name, P, TopK(2), x0, 30, stepsize=0.1, mu=0.5, p=3, record_clients=True,
                         **({"error_averaging": True} if name == "ef" else {}))
    ev = res.diagnostics["eval_points"]
    assert ev.shape == (30, P.n_clients, P.dim)
    errors = res.diagnostics["client_errors"][:-1]
    if name == "ef":
        expected = np.broadcast_to(res.x[:-1, None, :], ev.shape)
    else:
        # the errors a step works with are those after its averaging; record_state stores them
        expected = res.x[:-1, None, :] - errors
    np.testing.assert_allclose(ev, expected, rtol=0, atol=1e-15)
    from algorithms.torch.replay import record_draws

    kw = dict(stepsize=0.1, mu=0.5, p=3, record_clients=True, **({"error_averaging": True} if name == "ef" else {}))
    draws, _ = record_draws(name, P, TopK(2), x0, 30, seeds=(0,), **kw)
    eng = algorithms.run(name, P, TopK(2), x0, 30, backend="torch", seeds=1, draws=draws, **kw).numpy()
    np.testing.assert_allclose(eng.diagnostics["eval_points"][0], ev, rtol=1e-12, atol=1e-12)
