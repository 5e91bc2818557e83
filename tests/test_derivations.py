"""Tests of eftheory.derivations: numbers vs exact sympy values, derived exponents, identities, errata."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from eftheory.derivations import all_derivations, ef21, momentum, normalized, problems, saef, sgdm, sign
from eftheory.derivations._core import Derivation

# ----------------------------------------------------------------------------------- registry


def test_registry_is_complete_and_documented():
    ds = all_derivations()
    names = [d.name for d in ds]
    assert len(names) == len(set(names))
    assert {"ef21", "normalized", "sgdm", "momentum", "saef", "sign", "problems"} == {n.split(".")[0] for n in names}
    for d in ds:
        assert isinstance(d, Derivation)
        assert d.source and d.title
        assert isinstance(d.latex, str) and d.latex
        for c in d.claims:
            assert c.replace("-", "").isalnum()


# Points at which each scalar derivation is compared with its exact value (exact rationals in,
# exact sympy evaluation out). Values of symbols not listed use the defaults below.
_DEFAULTS = {
    "alpha": ["1/4", "1/10", "9/10", "1"], "s": ["0", "1/3", "7/8"], "L": ["2", "7/3"], "L_tilde": ["0", "3/2"],
    "lam": ["1/10", "3"], "n": ["1", "20"], "d": ["1", "4", "123"], "A_norm": ["5/2"], "a_norm": ["3/2"],
    "a_max": ["2"], "L_0": ["4"], "L_1": ["1", "8"], "D": ["20"], "delta_inf": ["0", "1/3"], "gamma_0": ["1/10", "1"],
    "K": ["0", "99"], "V_0": ["3/2"], "F_0": ["2"], "E_0": ["1/2"], "beta": ["2", "3"], "delta": ["1/2", "1/20", "1"],
    "beta_1": ["1/5"], "eta": ["1/10"], "T": ["100", "1000"], "mu": ["0", "1/2"], "M2": ["1"], "sigma2": ["2"],
    "B": ["1"], "u": ["1/4", "1/100"], "p": ["3/4", "2/3"], "m": ["1/2"], "Delta": ["1"], "sigma": ["1/2"],
    "G": ["2"], "L_infty": ["3"], "sigma_1": ["2"],
}


def _points(d: Derivation):
    names = [s.name for s in d.symbols]
    for j in range(3):
        yield {nm: _DEFAULTS[nm][j % len(_DEFAULTS[nm])] for nm in names}


_SCALAR = [d for d in all_derivations() if d.symbols and isinstance(d.expr, sp.Expr) and not isinstance(d.expr, sp.Tuple)]


@pytest.mark.parametrize("d", _SCALAR, ids=lambda d: d.name)
def test_numeric_equals_exact_sympy(d):
    for pt in _points(d):
        if d.name == "saef.lemma2_factor" and pt["delta"] == "1":
            continue
        exact = d.exact(**pt)
        if exact.has(sp.zoo, sp.nan, sp.oo) or not exact.is_real:
            continue
        want_exact = sp.N(exact, 30)
        if abs(want_exact) > 1e300:        # beyond float range: nothing to compare
            continue
        want = float(want_exact)
        args = [float(Fraction(pt[s.name])) for s in d.symbols]
        num = d.numeric(*args)
        assert math.isclose(num, want, rel_tol=1e-10, abs_tol=1e-12), (d.name, pt, num, want)


def test_numeric_form_is_the_same_expression():
    # equal at high precision on exact points (sympy cannot always simplify the nested radicals)
    for d in _SCALAR:
        if d.numeric_form is d.expr:
            continue
        for pt in _points(d):
            subs = {sym: sp.Rational(pt[sym.name]) for sym in d.symbols}
            a, b = sp.N(d.expr.subs(subs), 50), sp.N(d.numeric_form.subs(subs), 50)
            if a.is_finite:
                assert abs(a - b) <= 1e-40 * (1 + abs(a)), d.name


def test_small_alpha_is_free_of_cancellation():
    a = 1e-12
    assert ef21.theta(a) == pytest.approx(a / 2, rel=1e-9)
    assert sgdm.c_alpha(a) == pytest.approx(a / 2, rel=1e-9)
    assert ef21.sqrt_beta_over_theta(a) <= 2 / a - 1


# ----------------------------------------------------------------------------------- EF21
def test_ef21_constants_and_stepsize():
    assert ef21.theta(1.0) == 1.0 and ef21.beta(1.0) == 0.0
    assert ef21.theory_stepsize(3.0, 5.0, 1.0) == pytest.approx(1 / 3)
    a = 0.25
    s = math.sqrt(1 - a)
    assert ef21.theory_stepsize(2.0, 3.0, a) == pytest.approx(1 / (2 + 3 * s / (1 - s)), rel=1e-14)
    # equivalent form of the official EF21 code: t = sqrt(1/(1-a)) - 1
    t = math.sqrt(1 / (1 - a)) - 1
    th, be = 1 - (1 - a) * (1 + t), (1 - a) * (1 + 1 / t)
    assert ef21.theta(a) == pytest.approx(th, rel=1e-12) and ef21.beta(a) == pytest.approx(be, rel=1e-12)


def test_sqrt_ratio_bound_symbolic_and_grid():
    assert sp.simplify(ef21.sqrt_ratio_gap_simplified() - 1 / (ef21.s + 1)) == 0
    # the closed form sqrt(beta/theta) = sqrt(1-a)/(1-sqrt(1-a))
    # (both sides are nonnegative, so comparing squares suffices)
    assert sp.simplify((ef21.BETA.expr / ef21.THETA.expr - ef21.SQRT_RATIO.expr**2).subs(ef21.alpha, 1 - ef21.s**2)) == 0
    grid = np.concatenate([np.geomspace(1e-8, 1, 2000), np.linspace(1e-3, 1, 2000)])
    for a in grid:
        assert ef21.sqrt_beta_over_theta(a) <= 2 / a - 1 + 1e-9 * (2 / a)
        assert ef21.SQRT_RATIO_BOUND.numeric(a) or math.isclose(ef21.sqrt_beta_over_theta(a), 2 / a - 1, rel_tol=1e-9)


# ----------------------------------------------------------------------------------- problems
def test_logistic_constants_against_numpy():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(20, 10))
    c = problems.logistic_constants(A, 0.1)
    row = np.linalg.norm(A, axis=1)
    assert c["L"] == pytest.approx(np.linalg.svd(A, compute_uv=False)[0] ** 2 / 80 + 0.2, rel=1e-12)
    np.testing.assert_allclose(c["L_i"], row**2 / 4 + 0.2, rtol=1e-13)
    assert c["L_tilde"] == pytest.approx(math.sqrt(np.mean((row**2 / 4 + 0.2) ** 2)), rel=1e-13)
    assert c["L0"] == pytest.approx(0.2 + 0.1 * math.sqrt(10) * row.max(), rel=1e-13)
    assert c["L1"] == pytest.approx(row.max(), rel=1e-13)
    assert c["L"] <= c["L_tilde"] * (1 + 1e-12)


def test_polynomial_constants_reproduce_experiment_values():
    lams = [problems.polynomial_lambda(4.0, L1, 4) for L1 in (1, 4, 8)]
    assert lams == pytest.approx([2 / 37, 8 / 13, 1.28], rel=1e-12)
    for L1, lam in zip((1, 4, 8), lams):
        assert problems.polynomial_L0(L1, lam, 4) == pytest.approx(4.0, rel=1e-12)
        assert problems.polynomial_box_L(lam, 4, 20.0) == pytest.approx(402 * lam, rel=1e-12)
    Ls = [problems.polynomial_box_L(lam, 4, 20.0) for lam in lams]
    gam = [ef21.theory_stepsize(L, L, 0.25) for L in Ls]
    assert gam == pytest.approx([6.17e-3, 5.42e-4, 2.60e-4], rel=3e-3)


# ----------------------------------------------------------------------------------- normalized EF21
def test_lsmooth_identity_2b():
    assert normalized.lsmooth_identity_residual() == 0
    for a in (0.01, 0.3, 1.0):
        s = math.sqrt(1 - a)
        assert 2 * normalized.lsmooth_b(2.0, a) == pytest.approx(2.0 * (1 + 3 * s) * (1 + s) / a, rel=1e-12)


def test_lsmooth_bounds_and_2sqrt2_factor():
    for a in np.linspace(0.01, 1, 50):
        nb = normalized.lsmooth_bound(3.0, a, 2.0, 99)
        up = float(normalized.LSMOOTH_UPPER.numeric(3.0, a, 2.0, 99))
        ef = normalized.ef21_lsmooth_bound(3.0, a, 2.0, 99)
        assert nb <= up * (1 + 1e-12)
        assert up / ef == pytest.approx(2 * math.sqrt(2), rel=1e-12)
        # EF21's own bound sqrt(2L(1+sqrt(beta/theta))F/(K+1)) is below 2 sqrt(L/alpha) sqrt(F/(K+1))
        assert math.sqrt(2 * 3.0 * (1 + ef21.sqrt_beta_over_theta(a)) * 2.0 / 100) <= ef * (1 + 1e-12)
    # the L-smooth bound is F/gamma0 + 2 b gamma0 at gamma0 = sqrt(F/(2b))
    b = normalized.lsmooth_b(3.0, 0.2)
    g0 = math.sqrt(2.0 / (2 * b))
    assert normalized.lsmooth_bound(3.0, 0.2, 2.0, 99) == pytest.approx((2.0 / g0 + 2 * b * g0) / 10, rel=1e-12)


def test_corollary_dominates_proof_bound():
    # symbolic: each gap coefficient is decreasing in u and positive at u = 1/4
    u = normalized.u
    for coef in normalized.COROLLARY_GAP.expr:
        assert sp.simplify(sp.diff(coef, u)).is_negative
        assert coef.subs(u, sp.Rational(1, 4)).is_positive
    # numeric grid over alpha, L0, L1, delta_inf, V0
    for a in (0.01, 0.1, 0.5, 1.0):
        for L0, L1, di, V0 in [(1, 1, 0, 1), (4, 8, 0.5, 10), (0.1, 3, 2, 0.01)]:
            g0 = normalized.corollary_gamma0(L1, a)
            thm = normalized.theorem1_bound(V0, L0, L1, a, di, g0, 50)
            cor = normalized.corollary_bound(V0, L0, L1, a, di, 50)
            assert thm <= cor
            assert normalized.theorem1_printed_bound(V0, L0, L1, a, di, g0, 50) < thm


def test_theorem1_proof_form_exceeds_printed_form():
    ratio_term = normalized.theorem1_bound(0, 1, 2, 0.5, 0, 0.3, 10) / normalized.theorem1_printed_bound(0, 1, 2, 0.5, 0, 0.3, 10)
    assert ratio_term == pytest.approx(math.exp(2 * 0.3), rel=1e-12)
    assert normalized.theorem1_bound(1, 1, 1, 0.1, 0, 1.0, 100) == math.inf   # overflow reported as inf


# ----------------------------------------------------------------------------------- 001
def test_theorem2_conditions_symbolic_values():
    assert sgdm.COND_ETA.expr == sgdm.m**2 / 8
    assert sgdm.COND_C.expr == sp.Rational(1, 4)
    assert sp.simplify(sgdm.COND_EXP.expr.subs({sgdm.m: 1, sgdm.K: 0}) - sp.Rational(1, 16)) == 0
    assert sp.exp(sp.Rational(1, 16)) < 2


@pytest.mark.parametrize("alpha", [0.01, 0.25, 1.0])
@pytest.mark.parametrize("K", [0, 10, 10_000])
def test_theorem2_conditions_hold_at_gamma0_max(alpha, K):
    L1 = 3.0
    g0 = sgdm.gamma0_max(L1, alpha, K)
    c = sgdm.theorem2_conditions(g0, L1, alpha, K)
    assert c["ok"] and c["gamma0_ok"]
    w = sgdm.beta_weights(g0, L1, alpha, K)
    assert w.sum() >= (K + 1) / 2 and w.sum() >= (K + 1) * math.exp(-0.5) * (1 - 1e-12)
    # a too-large gamma0 breaks at least one inequality
    assert not sgdm.theorem2_conditions(8 * g0 * max(1.0, 1 / sgdm.c_alpha(alpha)), L1, alpha, K)["ok"]


def test_theorem3_rho_erratum_at_beta2_alpha1():
    assert sgdm.THM3_RHO_ALPHA1.expr == sp.E / 2
    assert sgdm.theorem3_rho(2.0, 1.0) == pytest.approx(math.e / 2, rel=1e-14)
    assert sgdm.theorem3_rho(2.0, 1.0) > 0.7
    assert sgdm.theorem3_rho(3.0, 1.0) == pytest.approx(math.exp(2 / 3) / 3) and sgdm.theorem3_rho(3.0, 1.0) < 0.7
    assert sgdm.theorem3_rho(2.0, 0.25) == pytest.approx(0.52, abs=0.01)
    # rho <= e^{2/beta}/beta always (c >= 1/2)
    for a in (0.01, 0.5, 1.0):
        for b in (2.0, 2.5, 5.0):
            assert sgdm.theorem3_rho(b, a) <= math.exp(2 / b) / b * (1 + 1e-12)


# ----------------------------------------------------------------------------------- 000
@pytest.mark.parametrize("variant,pq,rate", [
    ("polyak", (Fraction(3, 4), Fraction(1, 2)), Fraction(1, 4)),
    ("igt", (Fraction(5, 7), Fraction(4, 7)), Fraction(2, 7)),
    ("rhm", (Fraction(2, 3), Fraction(2, 3)), Fraction(1, 3)),
    ("hm", (Fraction(2, 3), Fraction(2, 3)), Fraction(1, 3)),
    ("mvr", (Fraction(2, 3), Fraction(2, 3)), Fraction(1, 3)),
])
def test_schedule_exponents_derived(variant, pq, rate):
    pe, qe = momentum.schedule_exponents_exact(variant)
    assert (sp.Rational(pq[0].numerator, pq[0].denominator), sp.Rational(pq[1].numerator, pq[1].denominator)) == (pe, qe)
    assert momentum.rate_exponent_exact(variant) == sp.Rational(rate.numerator, rate.denominator)
    assert momentum.schedule_exponents(variant) == (float(pq[0]), float(pq[1]))
    assert momentum.rate_exponent(variant) == float(rate)
    # the balanced point maximises min{1-p, q/2, drift} over a grid of (p, q)
    best = momentum.min_exponent(variant, float(pe), float(qe))
    assert best == pytest.approx(float(rate), abs=1e-12)
    grid = np.linspace(0, 1, 85)
    assert max(momentum.min_exponent(variant, a, b) for a in grid for b in grid) <= best + 1e-12


def test_schedule_aliases():
    assert momentum.schedule_exponents("sgdm") == momentum.schedule_exponents("polyak")
    assert momentum.schedule_exponents("storm") == momentum.schedule_exponents("mvr")


@pytest.mark.parametrize("p", [0.0, 0.5, 2 / 3, 5 / 7, 0.75, 0.99])
def test_gamma_sum_lower_bound(p):
    for K in (0, 1, 10, 1000):
        assert momentum.gamma_sum_lower_bound(1.5, p, K) <= momentum.gamma_sum(1.5, p, K) * (1 + 1e-12)
    ratio = momentum.gamma_sum(1.0, p, 20000) / momentum.gamma_sum_lower_bound(1.0, p, 20000)
    assert 1 <= ratio < 1.1


# ----------------------------------------------------------------------------------- 002
def test_lemma2_minimum_corrected():
    sv = saef.sq
    assert sp.simplify(saef.LEMMA2_ARGMIN.expr - (1 / sv - 1)) == 0
    assert sp.simplify(saef.LEMMA2_MIN.expr - sv**2 / (1 - sv) ** 2) == 0
    b, m = saef.lemma2_minimize(0.5)
    assert m == pytest.approx(5.828427, rel=1e-6) and saef.lemma2_min_printed(0.5) == pytest.approx(0.853553, rel=1e-6)
    for dv in (0.05, 0.3, 0.5, 0.9):
        b, m = saef.lemma2_minimize(dv)
        hi = dv / (1 - dv)
        grid = np.linspace(hi * 1e-4, hi * (1 - 1e-4), 4001)
        vals = [saef.lemma2_factor(dv, x) for x in grid]
        assert min(vals) >= m * (1 - 1e-9)
        assert saef.lemma2_factor(dv, b) == pytest.approx(m, rel=1e-10)
        assert saef.lemma2_min_printed(dv) < m      # the printed value is below the true minimum


def test_corrected_chain_constants():
    for dv in (0.05, 0.5, 1.0):
        s = math.sqrt(1 - dv)
        assert saef.server_error_const(dv) == pytest.approx(2 * (2 - dv) * (1 - dv) / (1 - s) ** 4, rel=1e-12, abs=1e-15)
        for n in (1, 4, 8):
            want = 4 * (2 - dv) * (1 - dv) / (1 - s) ** 4 + 2 * (n - 1) * (1 - dv) / (n * (1 - s) ** 2)
            assert saef.mismatch_const(dv, n) == pytest.approx(want, rel=1e-12, abs=1e-15)
    # printed constant too small in the small-delta regime
    assert saef.mismatch_const(0.05, 4) > saef.mismatch_const_printed(0.05, 4)
    assert saef.c_const(0.5, 4) == pytest.approx(1.5 / (1 - math.sqrt(0.5)) + 0.75, rel=1e-12)


def test_corollary1_saef_term_below_zheng():
    for dv in np.linspace(0.02, 0.98, 25):
        for etaL in (0.01, 0.5, 1.4):
            for n in (1, 4, 64):
                assert saef.theorem2_compression_term(etaL, 1.0, n, dv, 1.0, 1.0) < saef.zheng_term(etaL, 1.0, dv, 1.0, 1.0)


def test_theorem3_bracket_is_4C_plus_alpha_mu():
    F0, e, L, T, n, dv, mu, M2, s2 = 1.0, 0.01, 1.0, 100, 4, 0.5, 0.5, 1.0, 1.0
    am = saef.alpha_mu(e, L, mu)
    q = (1 - dv) / (1 - math.sqrt(1 - dv))
    head = 4 * (1 - mu) * F0 / (am * e * T) + 2 * (1 + 2 * mu**2 * e * L / (1 - mu) ** 3) * e * L * s2 / (am * (1 - mu) * n)
    want = head + (4 * saef.c_const(dv, n) + am) * q * e**2 * L**2 * (M2 + s2) / (am * (1 - mu) ** 2)
    assert saef.theorem3_bound(F0, e, L, T, n, dv, mu, M2, s2) == pytest.approx(want, rel=1e-12)
    assert saef.theorem3_bound_aux(F0, e, L, T, n, dv, mu, M2, s2) > 0


# ----------------------------------------------------------------------------------- 003
def test_smm_bound_at_parameters_leading_order():
    expr = sign.THM1_AT_PARAMS.expr
    assert sorted(sign.monomial_exponents(expr)) == sorted([(sp.Rational(1, 2), sp.Rational(-1, 4))] * 2 + [(sp.Rational(1, 2), sp.Rational(-3, 4))])
    for Dv, Lv, sg, dv, Tv in [(1, 1, 1, 4, 100), (3, 0.5, 2, 64, 10_000)]:
        eta, beta = sign.smm_params(dv, Tv)
        b = sign.smm_bound(Dv, Lv, sg, dv, Tv, eta, beta)
        assert b == pytest.approx(float(sign.THM1_AT_PARAMS.numeric(Dv, Lv, sg, dv, Tv)), rel=1e-12)
        assert b <= float(sign.THM1_LEADING.numeric(Dv, Lv, sg, dv, Tv)) * (1 + 1e-12)


def test_mvsm_v2_exponents():
    # branch 1 (T <= d^3): leading term d^{1/2} T^{-1/2} of the squared bound -> d^{1/4} T^{-1/4}
    half = sp.Rational(1, 2)
    for tau in (sp.Rational(1, 2), 1, 2, 3):
        assert sign.leading_exponent(sign.THM5_BRANCH1.expr, tau) == half - tau * half
    # branch 2 (T >= d^3): leading d^{1/5} T^{-2/5} -> d^{1/10} T^{-1/5}
    for tau in (3, 4, 10):
        assert sign.leading_exponent(sign.THM5_BRANCH2.expr, tau) == sp.Rational(1, 5) - tau * sp.Rational(2, 5)
    # numeric: bound / stated rate stays bounded across T on both branches, and the min picks the right branch
    d = 16
    ratios = []
    for T in (10, 100, 4096, 10**5, 10**7):
        eta, beta = sign.mvsm_v2_params(d, T)
        assert (eta == (d * T) ** -0.5) == (T <= d**3)
        ratios.append(sign.mvsm_v2_bound(1, 1, 1, 1, d, 4, T, eta, beta) / sign.mvsm_v2_rate(d, T))
    assert max(ratios) / min(ratios) < 5


def test_mvsm_v1_floor_does_not_vanish():
    b = [sign.mvsm_v1_bound(1, 1, 1, 1, 8, 4, T, T**-0.5, 0.5) for T in (10**2, 10**4, 10**8)]
    assert b[0] > b[1] > b[2] > 2 * 8 * 1 / math.sqrt(4)


def test_smm_linf_bound_rate():
    vals = [sign.smm_linf_bound(1, 2, 1, T, T**-0.75, T**-0.5) for T in (10**4, 10**6)]
    slope = math.log(vals[1] / vals[0]) / math.log(100)
    assert slope == pytest.approx(-0.25, abs=0.02)


def test_c_alpha_between_half_alpha_and_alpha():
    # 1/alpha <= 1/C_alpha <= 2/alpha (the proof of Theorem 2 states the first inequality reversed)
    for a in np.linspace(1e-6, 1, 500):
        c = sgdm.c_alpha(a)
        assert a / 2 <= c * (1 + 1e-12) and c <= a * (1 + 1e-12)
    assert sgdm.c_alpha(0.5) < 0.5      # so 1/C_alpha > 1/alpha: the stated direction fails
