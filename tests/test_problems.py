"""Built-in problems: protocol, exact derivatives, draws, constants, data loading (E-LOGREG, E-POLY)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eftheory import assumptions as asm
from eftheory.problems import (
    HeterogeneousSignProblem, LogisticRegression, Polynomial, Problem, SeparableQuadratic,
    breast_cancer, global_grad, load_libsvm, problem_q, problem_q4,
    synthetic_logistic,
)
from eftheory.problems.polynomial import poly_curvature_min

# A stated constant that is attained exactly (e.g. L of a quadratic at its top eigenvector)
# is reproduced up to floating-point rounding of the ratio; nothing else is tolerated.
ROUND = 1e-12


def _minibatch_logistic():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((24, 5))
    b = np.where(rng.random(24) < 0.5, -1.0, 1.0)
    return LogisticRegression(A, b, lam=0.2, clients=4, batch_size=3)


PROBLEMS = {
    "logistic": lambda: synthetic_logistic(n=20, d=10, seed=0),
    "logistic-minibatch": _minibatch_logistic,
    "polynomial": lambda: Polynomial(d=4, L0=4.0, L1=4.0),
    "Q": lambda: problem_q(seed=0),
    "Q4": lambda: problem_q4(seed=0),
    "separable": lambda: SeparableQuadratic(6, seed=1),
    "sign-heterogeneous": lambda: HeterogeneousSignProblem(d=6, n=3, seed=2),
}
STOCHASTIC = ("logistic-minibatch", "Q", "Q4", "separable", "sign-heterogeneous")
_CACHE: dict = {}


def get(name):
    if name not in _CACHE:
        _CACHE[name] = PROBLEMS[name]()
    return _CACHE[name]


def _fd_grad(fun, x, h):
    g = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        g[j] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


# ------------------------------------------------------------------- protocol
@pytest.mark.parametrize("name", PROBLEMS)
def test_protocol_and_global_consistency(name):
    p = get(name)
    assert isinstance(p, Problem)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(p.dim)
    n = p.n_clients
    assert p.f(x) == pytest.approx(np.mean([p.f_i(i, x) for i in range(n)]), rel=1e-12, abs=1e-12)
    G = np.mean([p.grad_i(i, x) for i in range(n)], axis=0)
    np.testing.assert_allclose(p.grad(x), G, rtol=1e-12, atol=1e-12)
    H = np.mean([p.hess_i(i, x) for i in range(n)], axis=0)
    np.testing.assert_allclose(p.hess(x), H, rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(p.dim)
    for i in range(n):
        np.testing.assert_allclose(p.hvp_i(i, x, v), p.hess_i(i, x) @ v, rtol=1e-12, atol=1e-12)
        assert p.grad_i(i, x).dtype == np.float64


# ----------------------------------------------------- derivatives vs finite differences
@pytest.mark.parametrize("name", PROBLEMS)
@given(data=st.data())
def test_gradient_and_hvp_match_finite_differences(name, data):
    p = get(name)
    x = np.array(data.draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=p.dim, max_size=p.dim)))
    v = np.array(data.draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=p.dim, max_size=p.dim)))
    i = data.draw(st.integers(0, p.n_clients - 1))
    seed = data.draw(st.integers(0, 2**32 - 1))
    xi = p.sample(i, np.random.default_rng(seed))
    h = 1e-5
    g = p.grad_i(i, x, xi)
    fd = _fd_grad(lambda z: p.f_i(i, z, xi), x, h)
    # central differences: truncation O(h^2 |f'''|), rounding O(eps |f| / h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6 * (1 + abs(p.f_i(i, x, xi))))
    hv = p.hvp_i(i, x, v, xi)
    fdh = (p.grad_i(i, x + h * v, xi) - p.grad_i(i, x - h * v, xi)) / (2 * h)
    np.testing.assert_allclose(hv, fdh, rtol=1e-6, atol=1e-6 * (1 + np.linalg.norm(g)))


# ------------------------------------------------------------------------ draws
@pytest.mark.parametrize("name", PROBLEMS)
def test_draw_reuse_and_stacking(name):
    p = get(name)
    x = np.linspace(-1, 1, p.dim)
    v = np.ones(p.dim)
    draws = []
    for i in range(p.n_clients):
        xi = p.sample(i, np.random.default_rng(11))
        xi2 = p.sample(i, np.random.default_rng(11))
        if xi is None:
            assert name not in STOCHASTIC
            continue
        np.testing.assert_array_equal(xi, xi2)           # draws come only from the generator
        np.testing.assert_array_equal(p.grad_i(i, x, xi), p.grad_i(i, x, xi))
        np.testing.assert_array_equal(p.hvp_i(i, x, v, xi), p.hvp_i(i, x, v, xi))
        draws.append(xi)
    if name in STOCHASTIC:
        assert np.stack(draws).shape == (p.n_clients,) + np.shape(draws[0])
        # a draw changes the oracle (the noise is real)
        i = 0
        assert not np.allclose(p.grad_i(i, x, draws[0]), p.grad_i(i, x))


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_gradients_and_hvps_are_unbiased(name):
    p = get(name)
    rng = np.random.default_rng(3)
    x = 0.5 * np.ones(p.dim)
    obs, stated = asm.check_unbiased(p, rng, x, draws=1500, confidence=0.999)
    assert obs <= stated
    obs, stated = asm.check_unbiased(p, rng, x, draws=1500, confidence=0.999, hvp_direction=np.ones(p.dim))
    assert obs <= stated


def test_unbiasedness_check_rejects_a_biased_oracle():
    p = problem_q(seed=0)

    class Biased:
        n_clients, dim = p.n_clients, p.dim
        sample = staticmethod(p.sample)
        f, f_i = staticmethod(p.f), staticmethod(p.f_i)

        @staticmethod
        def grad_i(i, x, xi=None):
            return p.grad_i(i, x, xi) + (0.0 if xi is None else 0.1)

    obs, stated = asm.check_unbiased(Biased(), np.random.default_rng(0), np.zeros(p.dim), draws=3000)
    assert obs > stated


@pytest.mark.parametrize("name", STOCHASTIC)
def test_exact_variance_matches_monte_carlo(name):
    p = get(name)
    rng = np.random.default_rng(5)
    obs, stated = asm.check_variance(p, rng, count=2, draws=1500, confidence=0.999)
    assert obs <= stated
    # the bound is exact: half of it is rejected (negative control)
    x = np.full(p.dim, 0.7)
    half = lambda z: 0.5 * p.variance_at(z)  # noqa: E731

    class Halved:
        n_clients, dim = p.n_clients, p.dim
        sample, grad_i, variance_at = staticmethod(p.sample), staticmethod(p.grad_i), staticmethod(half)

    obs, stated = asm.check_variance(Halved(), rng, points=[x], draws=1500)
    assert obs > stated


def test_quadratic_variance_formula_and_global_sigma():
    p = problem_q(seed=0)
    x = np.arange(p.dim, dtype=float) / 3
    assert p.variance_at(x)[0] == pytest.approx(0.25 * x @ x + 1.0, rel=1e-14)
    obs, stated = asm.check_variance(p, np.random.default_rng(1), count=3, draws=1500, bound="global")
    assert obs <= stated


def test_quadratic_sigma_H_is_the_expected_max_square():
    p = problem_q(seed=0)
    rng = np.random.default_rng(0)
    m = 200_000
    z = rng.standard_normal((m, p.dim)) * p.zeta_std
    s = np.max(z * z, axis=1)
    est, se = s.mean(), s.std() / math.sqrt(m)
    assert abs(est - p.sigma_H ** 2) <= 4 * se


# ------------------------------------------------------------- E-LOGREG constants
def test_logistic_constants_closed_form():
    p = get("logistic")
    A, lam, n = p.A, p.lam, p.n_rows
    assert p.L == pytest.approx(np.linalg.norm(A, 2) ** 2 / (4 * n) + 2 * lam, rel=1e-14)
    np.testing.assert_allclose(p.L_i, np.sum(A * A, axis=1) / 4 + 2 * lam, rtol=1e-14)
    assert p.L_tilde == pytest.approx(math.sqrt(np.mean(p.L_i ** 2)), rel=1e-14)
    amax = np.linalg.norm(A, axis=1).max()
    assert p.L1 == pytest.approx(amax, rel=1e-14)
    assert p.L0 == pytest.approx(2 * lam + lam * math.sqrt(p.dim) * amax, rel=1e-14)
    assert p.f_inf_lower == 0 and np.all(p.f_i_inf_lower == 0)


@pytest.mark.parametrize("name", ["logistic", "logistic-minibatch"])
def test_logistic_constants_hold_numerically(name):
    p = get(name)
    rng = np.random.default_rng(0)
    assert asm.check_smoothness(p, rng, count=150).observed <= 1 + ROUND
    assert asm.check_smoothness(p, rng, count=60, client="each").observed <= 1 + ROUND
    obs_h, _ = asm.check_L0L1(p, rng, count=150)
    obs_p, _ = asm.check_L0L1(p, rng, form="pairs", count=12)
    assert obs_h <= 1.0 and obs_p <= 1.0
    # negative controls: halved constants are caught
    assert asm.check_smoothness(p, rng, count=150, L=p.L / 2).observed > 1
    assert asm.check_L0L1(p, rng, count=150, L0=p.L0 / 4, L1=p.L1 / 4).observed > 1


def test_logistic_nonconvexity_threshold():
    p = get("logistic")
    lam_c = p.lam_nonconvex
    A = p.A
    assert lam_c == pytest.approx(np.linalg.eigvalsh(A.T @ A)[0] / (2 * p.n_rows), rel=1e-12)
    assert p.lam > lam_c
    assert asm.check_nonconvex(p).observed < 0
    q = LogisticRegression(A, p.b, lam=1.01 * lam_c)
    obs, stated = asm.check_nonconvex(q)                  # the witness x = 1 alone
    assert obs < stated
    convex = LogisticRegression(A, p.b, lam=0.0)          # control: plain logistic loss is convex
    assert asm.check_nonconvex(convex, np.random.default_rng(0)).observed > -1e-12


def test_logistic_minibatch_draws():
    p = get("logistic-minibatch")
    rng = np.random.default_rng(0)
    for i in range(p.n_clients):
        xi = p.sample(i, rng)
        assert xi.shape == (3,) and np.all(np.isin(xi, p.client_rows[i]))
        x = rng.standard_normal(p.dim)
        manual = np.mean(np.logaddexp(0, -p.b[xi] * (p.A[xi] @ x))) + p.lam * np.sum(x * x / (1 + x * x))
        assert p.f_i(i, x, xi) == pytest.approx(manual, rel=1e-13)
    assert p.rows_per_client == 6 and p.sigma > 0
    assert np.all(p.variance_at(np.ones(p.dim)) <= p.sigma ** 2)


def test_logistic_explicit_partition():
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((5, 3)), np.array([1.0, -1, 1, 1, -1])
    p = LogisticRegression(A, b, clients=[[0, 3], [1], [2, 4]])
    assert p.n_clients == 3 and p.rows_per_client is None
    x = rng.standard_normal(3)
    assert p.f(x) == pytest.approx(np.mean([p.f_i(i, x) for i in range(3)]), rel=1e-13)
    obs, _ = asm.check_L0L1(p, rng, count=100)
    assert obs <= 1.0


# --------------------------------------------------------------- E-POLY constants
@pytest.mark.parametrize("L1, lam, L", [(1, 0.054054, 21.73), (4, 0.615385, 247.38), (8, 1.28, 514.56)])
def test_polynomial_settings_of_the_paper(L1, lam, L):
    p = Polynomial(d=4, L0=4.0, L1=L1, D=20)
    assert p.lam == pytest.approx(lam, abs=5e-7)
    assert p.L == pytest.approx(L, abs=5e-3)
    assert p.L == pytest.approx(402 * p.lam, rel=1e-14)
    rng = np.random.default_rng(L1)
    obs, _ = asm.check_L0L1(p, rng, count=600, scales=(0.01, 100))
    assert obs <= 1.0
    assert asm.check_L0L1(p, rng, form="pairs", count=60, scales=(0.01, 100)).observed <= 1.0
    assert asm.check_smoothness(p, rng, count=150, scales=(0.1, 20)).observed <= 1 + ROUND
    assert asm.check_L0L1(p, rng, count=300, scales=(0.01, 100), L0=p.L0 / 10, L1=p.L1 / 10).observed > 1


def test_polynomial_lam_and_L0_are_consistent():
    p = Polynomial(d=3, lam=0.5, L1=2.0)
    q = Polynomial(d=3, L0=p.L0, L1=2.0)
    assert q.lam == pytest.approx(0.5, rel=1e-13)


def test_polynomial_nonconvexity_erratum_20():
    c, t = poly_curvature_min()
    assert c == pytest.approx(-0.0987, abs=5e-5) and t == pytest.approx(0.82, abs=5e-3)
    p = Polynomial(d=4, L0=4.0, L1=4.0)
    # at |x_j| = 1 the curvature is exactly 0: that point alone does not show nonconvexity
    assert p.hess_diag(np.ones(4)) == pytest.approx(np.zeros(4), abs=1e-15)
    obs, stated = asm.check_nonconvex(p)
    assert obs < stated and obs == pytest.approx(c * p.lam, rel=1e-9)
    assert p.f(np.zeros(4)) == p.f_inf == 0.0


# ------------------------------------------------------------------- Q and Q4
@pytest.mark.parametrize("name", ["Q", "Q4"])
def test_quadratic_minimum_and_lower_bounds(name):
    p = get(name)
    assert np.linalg.norm(p.grad(p.x_star)) < 1e-12
    assert p.f_inf_lower <= p.f_inf
    rng = np.random.default_rng(0)
    X = asm.sample_points(p, rng, 300, scales=(1e-4, 10))
    assert min(p.f(x) for x in X) >= p.f_inf_lower
    for i in range(p.n_clients):
        assert min(p.f_i(i, x) for x in X[:50]) >= p.f_i_inf_lower[i]
    assert p.delta_inf_upper() >= 0


def test_q_noise_scales_and_draw_shape():
    p = problem_q(seed=0, d=10, n=4)
    assert p.zeta_std == 0.5 and p.eps_std == pytest.approx(1 / math.sqrt(10))
    Z = np.stack([p.sample(0, np.random.default_rng(s)) for s in range(4000)])
    assert Z.shape == (4000, 2, 10)
    assert Z[:, 0].std() == pytest.approx(0.5, rel=0.05) and Z[:, 1].std() == pytest.approx(1 / math.sqrt(10), rel=0.05)
    w = np.linalg.eigvalsh(p.A)
    assert w.min() >= 0.5 - 1e-12 and w.max() <= 2.0 + 1e-12


def test_q_and_q4_constants():
    rng = np.random.default_rng(0)
    q, q4 = get("Q"), get("Q4")
    assert q.H == 0.0 and asm.check_hessian_lipschitz(q, rng, count=30).observed == 0.0
    assert q4.H == pytest.approx(6 * 0.3 * q4.box)
    for form in ("hessian", "remainder"):
        assert asm.check_hessian_lipschitz(q4, rng, count=90, form=form).observed <= 1.0
    assert asm.check_hessian_lipschitz(q4, rng, count=90, H=q4.H / 4).observed > 1
    for p in (q, q4):
        assert asm.check_smoothness(p, rng, count=90, client="each").observed <= 1 + ROUND
        assert asm.check_smoothness(p, rng, count=90).observed <= 1 + ROUND
    np.testing.assert_array_equal(q.A, q4.A)             # Q4 = Q + quartic, same draws


# --------------------------------------------------------------- sign problems
def test_separable_quadratic_constants():
    p = SeparableQuadratic(8, seed=0)
    assert np.all((p.h >= 0.5) & (p.h <= 2.0))
    assert p.L_inf == pytest.approx(p.h.sum()) and p.sigma == 1.0
    assert np.sum(p.sigma_vec ** 2) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    assert asm.check_separable_smoothness(p, rng).observed <= 1.0
    assert asm.check_linf_smoothness(p, rng).observed <= 1.0
    assert asm.check_smoothness(p, rng).observed <= 1 + ROUND
    assert asm.check_linf_smoothness(p, rng, L_inf=p.L).observed > 1        # l2 constant is not an l-inf one
    Z = np.stack([p.sample(0, rng) for _ in range(20000)])
    np.testing.assert_allclose(Z.var(axis=0), p.sigma_vec ** 2, rtol=0.1)


def test_heterogeneous_sign_problem():
    p = HeterogeneousSignProblem(d=16, n=5, seed=0)
    np.testing.assert_allclose(p.c.sum(axis=0), 0, atol=1e-14)
    x = np.random.default_rng(0).standard_normal(16)
    np.testing.assert_allclose(global_grad(p, x), p.h * x, atol=1e-14)
    assert p.f_inf == 0 and np.all(p.f_i_inf <= 0) and p.delta_inf_upper() >= 0
    rng = np.random.default_rng(1)
    obs, stated = asm.check_bounded_gradient(p, rng, count=60, draws=5)
    assert obs <= stated and obs > 0.9                   # the bound is nearly attained at corners
    assert asm.check_bounded_gradient(p, rng, count=60, draws=5, G=p.G / 1.2).observed > 1
    assert p.G_on_box(2.0) < p.G


# ------------------------------------------------------------------------ data
def _write_svm(path, A, labels):
    lines = []
    for lab, row in zip(labels, A):
        feats = " ".join(f"{j + 1}:{float(v)!r}" for j, v in enumerate(row) if v != 0)
        lines.append(f"{lab} {feats}".strip())
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("labels", [(2, 4), (0, 1), (-1, 1)])
def test_libsvm_round_trip(tmp_path, labels):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 7)) * (rng.random((30, 7)) < 0.5)
    A[:, 6] = 0.0
    A[0, 6] = 3.0                                         # last column present only once
    y = rng.integers(0, 2, 30)
    f = tmp_path / "data.svm"
    _write_svm(f, A, [labels[k] for k in y])
    A2, b2 = load_libsvm(f, scale=False)
    np.testing.assert_array_equal(A2, A)
    np.testing.assert_array_equal(b2, np.where(y == 0, -1.0, 1.0))
    A3, _ = load_libsvm(f, n_features=9)
    assert A3.shape == (30, 9)
    assert np.all(A3[:, :7].min(axis=0) == -1) and np.all(A3[:, :7].max(axis=0) == 1)
    assert np.all(A3[:, 7:] == 0)                        # constant columns map to 0
    p = LogisticRegression(A3, b2, lam=0.1)
    assert asm.check_L0L1(p, rng, count=20).observed <= 1.0


@pytest.mark.parametrize("text, what", [
    ("1 1:2\n-1 2:x\n", "line 2"),
    ("1 1:2\n\n# comment\n-1 0:1\n", "line 4"),
    ("1 2:1 1:1\n", "increasing"),
    ("a 1:1\n", "label"),
    ("1 1:1\n2 1:1\n3 1:1\n", "two distinct values"),
    ("1 5:1\n", "n_features=3"),
])
def test_libsvm_malformed_lines(tmp_path, text, what):
    f = tmp_path / "bad.svm"
    f.write_text(text)
    with pytest.raises(ValueError) as info:
        load_libsvm(f, n_features=3 if "5:" in text else None)
    assert what in str(info.value) and str(f) in str(info.value)


def test_breast_cancer_loads():
    pytest.importorskip("sklearn")
    p = breast_cancer(lam=0.1)
    assert (p.n_rows, p.dim) == (569, 30) and p.n_clients == 569
    assert set(np.unique(p.b)) == {-1.0, 1.0}
    assert p.A.min() == -1.0 and p.A.max() == 1.0
    obs, _ = asm.check_L0L1(p, np.random.default_rng(0), count=3)
    assert obs <= 1.0


def test_heterogeneous_sign_problem_skewed_noise_law():
    """noise="skewed": per coordinate +3 sigma_j w.p. 0.1, -sigma_j/3 otherwise (sigma_j = a/sqrt(3)):
    zero mean, variance a^2/3 as the uniform law, |xi| <= sqrt(3) a, and G counts that bound; the
    engine's own draws follow the same law."""
    import torch

    from algorithms.torch.problems import batched_oracle

    a = 0.7
    p = HeterogeneousSignProblem(d=5, n=3, seed=1, noise_half_width=a, noise="skewed")
    u = HeterogeneousSignProblem(d=5, n=3, seed=1, noise_half_width=a)
    rng = np.random.default_rng(0)
    xi = np.stack([p.sample(0, rng) for _ in range(20000)])
    s = a / np.sqrt(3.0)
    assert np.allclose(np.unique(xi), [-s / 3.0, 3.0 * s], rtol=1e-15, atol=0)
    assert abs(xi.mean()) < 0.01 and abs(xi.var() - a * a / 3.0) < 0.01
    assert p.noise_bound == pytest.approx(np.sqrt(3.0) * a) and u.noise_bound == a
    assert p.G - u.G == pytest.approx((np.sqrt(3.0) - 1.0) * a)
    assert "skewed" in repr(p) and "skewed" not in repr(u)
    oracle = batched_oracle(p, torch.device("cpu"), torch.float64)
    z = oracle.sample(torch.Generator().manual_seed(0), 4000).numpy()
    assert z.shape == (4000, 3, 5) and np.array_equal(np.unique(z), np.unique(xi))
    assert abs(z.mean()) < 0.01 and abs(z.var() - a * a / 3.0) < 0.01
