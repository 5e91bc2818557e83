"""‖EF21-SGDM‖ (Theorem 2) and the single-node constant-step result (Theorem 3).

Source: Khirirat, Sadiev, Riabinin, Gorbunov, Richtárik, arXiv:2410.16871 (version with
‖EF21-SGDM‖), Theorem 2 hypotheses and Appendix D.

Theorem 2 takes :math:`\\eta=(K+1)^{-1/2}`, :math:`\\gamma=\\gamma_0(K+1)^{-3/4}` and
:math:`\\gamma_0\\le\\min\\{(K+1)^{1/2}C_\\alpha,1\\}/(16L_1)`, :math:`C_\\alpha=1-\\sqrt{1-\\alpha}`.
These imply three inequalities used in the proof, each derived here:
:math:`e^{L_1\\gamma}\\le2`, :math:`32L_1^2\\gamma^2(K+1)/\\eta\\le\\frac14`,
:math:`64L_1^2\\gamma^2(K+1)/C_\\alpha\\le\\frac14`; and the weights
:math:`\\beta_k=(1+64L_1^2\\gamma^2/C_\\alpha+32L_1^2\\gamma^2/\\eta)^{-(k+1)}` sum to
:math:`S_K\\ge(K+1)/2`.

Theorem 3 (n = 1, :math:`\\gamma=1/(\\beta c_1)`) needs :math:`\\rho=c_1e^{L_1\\gamma}\\gamma<1`.
The source asserts :math:`\\rho\\le e^{2/\\beta}/\\beta\\le0.7` for all :math:`\\beta\\ge2`; at
:math:`\\beta=2`, :math:`\\alpha=1` one gets :math:`\\rho=e/2\\approx1.36` (an erratum).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from eftheory.validation import check_int, check_real, check_unit_interval

from ._core import Derivation, register
from .ef21 import alpha
from .normalized import C_FACTOR, L0, L1

__all__ = [
    "C_ALPHA", "GAMMA0_MAX", "COND_EXP", "COND_ETA", "COND_C", "WEIGHT_BASE", "SK_LOWER",
    "THM3_RHO", "THM3_BOUND", "THM3_RHO_ALPHA1",
    "c_alpha", "gamma0_max", "theorem2_schedule", "theorem2_conditions", "beta_weights",
    "theorem3_rho", "theorem3_bound",
]

_SRC2 = "Khirirat et al., arXiv:2410.16871, Theorem 2 (‖EF21-SGDM‖)"
_SRC3 = "Khirirat et al., arXiv:2410.16871, Theorem 3 (single node, App. D)"

K = sp.Symbol("K", nonnegative=True, integer=True)
gamma0 = sp.Symbol("gamma_0", positive=True)
m = sp.Symbol("m", positive=True)          # m = min{(K+1)^{1/2} C_alpha, 1}
Ca = sp.Symbol("C_alpha", positive=True)
bet = sp.Symbol("beta", positive=True)     # Theorem 3 stepsize divisor
V0s = sp.Symbol("V_0", nonnegative=True)

_Ca = 1 - sp.sqrt(1 - alpha)
C_ALPHA = register(Derivation(
    name="sgdm.C_alpha", title="C_α = 1 − √(1−α)", symbols=(alpha,), expr=_Ca, source=_SRC2,
    claims=("S001-T2",), lhs=r"C_\alpha", note=r"$\alpha/2 \le C_\alpha \le \alpha$, so $1/\alpha \le 1/C_\alpha \le 2/\alpha$.",
))
GAMMA0_MAX = register(Derivation(
    name="sgdm.gamma0_max", title="largest γ0 allowed by Theorem 2", symbols=(L1, alpha, K),
    expr=sp.Min(sp.sqrt(K + 1) * _Ca, 1) / (16 * L1), source=_SRC2, claims=("S001-T2",), lhs=r"\gamma_0^{\max}",
))
# gamma = gamma0 (K+1)^{-3/4}, eta = (K+1)^{-1/2}; gamma0 <= m/(16 L1) and m <= 1, m <= sqrt(K+1) C_alpha.
_gam = gamma0 * (K + 1) ** sp.Rational(-3, 4)
_eta = (K + 1) ** sp.Rational(-1, 2)
COND_EXP = register(Derivation(
    name="sgdm.cond_exp", title="L1γ at the largest γ0 (so e^{L1γ} ≤ e^{1/16} ≤ 2)", symbols=(m, K),
    expr=sp.simplify((L1 * _gam).subs(gamma0, m / (16 * L1))), source=_SRC2, claims=("S001-T2",),
    lhs=r"L_1\gamma", note="≤ 1/16 since m ≤ 1 and K ≥ 0; e^{1/16} < 2.",
))
COND_ETA = register(Derivation(
    name="sgdm.cond_eta", title="32L1²γ²(K+1)/η at the largest γ0", symbols=(m,),
    expr=sp.simplify((32 * L1**2 * _gam**2 * (K + 1) / _eta).subs(gamma0, m / (16 * L1))),
    source=_SRC2, claims=("S001-T2",), lhs=r"32L_1^2\gamma^2(K+1)/\eta", note="= m²/8 ≤ 1/8 ≤ 1/4.",
))
COND_C = register(Derivation(
    name="sgdm.cond_C", title="64L1²γ²(K+1)/C_α with γ0² ≤ √(K+1)C_α/(256L1²)", symbols=(),
    expr=sp.simplify((64 * L1**2 * gamma0**2 * (K + 1) ** sp.Rational(-1, 2) / Ca)
                     .subs(gamma0, sp.sqrt(sp.sqrt(K + 1) * Ca) / (16 * L1))),
    source=_SRC2, claims=("S001-T2",), lhs=r"64L_1^2\gamma^2(K+1)/C_\alpha\le",
    note="γ0² ≤ (both bounds multiplied) = √(K+1)C_α/(256L1²) gives exactly 1/4.",
))
WEIGHT_BASE = register(Derivation(
    name="sgdm.weight_base", title="base of the weights β_k = q^{-(k+1)}", symbols=(L1, gamma0, alpha, K),
    expr=1 + 64 * L1**2 * _gam**2 / _Ca + 32 * L1**2 * _gam**2 / _eta, source=_SRC2, claims=("S001-T2",), lhs="q",
))
SK_LOWER = register(Derivation(
    name="sgdm.SK_lower", title="S_K ≥ (K+1)e^{-1/2} ≥ (K+1)/2", symbols=(),
    expr=sp.Ge(sp.exp(-sp.Rational(1, 2)), sp.Rational(1, 2)), source=_SRC2, claims=("S001-T2",),
    note="(q−1)(K+1) ≤ 1/4 + 1/4, so β_k ≥ q^{-(K+1)} ≥ e^{-(q−1)(K+1)} ≥ e^{-1/2} for every k ≤ K.",
))
_c = C_FACTOR.expr
_gamma3 = 1 / (bet * _c * L1)
_rho = sp.simplify(_c * L1 * sp.exp(L1 * _gamma3) * _gamma3)
THM3_RHO = register(Derivation(
    name="sgdm.theorem3_rho", title="ρ = c1 e^{L1γ} γ at γ = 1/(βc1)", symbols=(bet, alpha), expr=_rho,
    source=_SRC3, claims=("S001-T3",), lhs=r"\rho",
    note="Theorem 3 is meaningful only when ρ < 1.",
))
THM3_RHO_ALPHA1 = register(Derivation(
    name="sgdm.theorem3_rho_alpha1", title="ρ at α = 1, β = 2 (erratum: > 0.7)", symbols=(),
    expr=sp.simplify(_rho.subs({alpha: 1, bet: 2})), source=_SRC3, claims=("S001-T3",), lhs=r"\rho(\beta=2,\alpha=1)",
    note="The source asserts ρ ≤ e^{2/β}/β ≤ 0.7 for β ≥ 2; here ρ = e/2 ≈ 1.36.",
))
_thm3 = (V0s / (_gamma3 * (1 - _rho) * (K + 1)) + (_c * L0) * sp.exp(L1 * _gamma3) * _gamma3 / (1 - _rho))
THM3_BOUND = register(Derivation(
    name="sgdm.theorem3", title="single-node bound of Theorem 3 (reconstructed form)",
    symbols=(V0s, L0, L1, alpha, bet, K), expr=_thm3, source=_SRC3, claims=("S001-T3",),
    lhs=r"\frac1{K+1}\sum_{k=0}^K\mathbb E\|\nabla f(x^k)\|\le",
    note="Reconstructed from the single-node descent inequality; valid only when ρ < 1.",
))


def c_alpha(alpha: float) -> float:
    """C_α = 1 − √(1−α)."""
    return float(C_ALPHA.numeric(check_unit_interval("alpha", alpha)))


def gamma0_max(L1: float, alpha: float, K: int) -> float:
    """min{(K+1)^{1/2}C_α, 1}/(16L1), the largest γ0 of Theorem 2."""
    L1 = check_real("L1", L1, low=0.0, low_open=True)
    a = check_unit_interval("alpha", alpha)
    K = check_int("K", K, low=0)
    return min(math.sqrt(K + 1) * c_alpha(a), 1.0) / (16.0 * L1)


def theorem2_schedule(gamma0: float, K: int) -> tuple[float, float]:
    """(γ, η) = (γ0(K+1)^{-3/4}, (K+1)^{-1/2}) of Theorem 2."""
    g0 = check_real("gamma0", gamma0, low=0.0, low_open=True)
    K = check_int("K", K, low=0)
    return g0 * (K + 1) ** -0.75, (K + 1) ** -0.5


def theorem2_conditions(gamma0: float, L1: float, alpha: float, K: int) -> dict:
    """The three inequalities of Theorem 2's proof at (γ0, L1, α, K), their values and whether they hold.

    Returns ``dict(exp=e^{L1γ}, eta_term=32L1²γ²(K+1)/η, C_term=64L1²γ²(K+1)/C_α, ok=bool,
    gamma0_ok=γ0 ≤ γ0^max)``; ``ok`` requires e^{L1γ} ≤ 2 and both terms ≤ 1/4.
    """
    L1 = check_real("L1", L1, low=0.0, low_open=True)
    a = check_unit_interval("alpha", alpha)
    gam, eta = theorem2_schedule(gamma0, K)
    Cv = c_alpha(a)
    e = math.exp(L1 * gam)
    t_eta = 32 * L1**2 * gam**2 * (K + 1) / eta
    t_C = 64 * L1**2 * gam**2 * (K + 1) / Cv
    return dict(exp=e, eta_term=t_eta, C_term=t_C, ok=bool(e <= 2 and t_eta <= 0.25 and t_C <= 0.25),
                gamma0_ok=bool(gamma0 <= gamma0_max(L1, a, K) * (1 + 1e-12)))


def beta_weights(gamma0: float, L1: float, alpha: float, K: int) -> np.ndarray:
    """β_k = q^{-(k+1)}, k = 0..K, with q of :data:`WEIGHT_BASE` under Theorem 2's schedule."""
    g0 = check_real("gamma0", gamma0, low=0.0, low_open=True)
    L1 = check_real("L1", L1, low=0.0, low_open=True)
    a = check_unit_interval("alpha", alpha)
    K = check_int("K", K, low=0)
    q = float(WEIGHT_BASE.numeric(L1, g0, a, K))
    return q ** -np.arange(1, K + 2, dtype=np.float64)


def theorem3_rho(beta: float, alpha: float) -> float:
    """ρ = c1e^{L1γ}γ at γ = 1/(βc1) (independent of L1)."""
    b = check_real("beta", beta, low=0.0, low_open=True)
    return float(THM3_RHO.numeric(b, check_unit_interval("alpha", alpha)))


def theorem3_bound(V0: float, L0: float, L1: float, alpha: float, beta: float, K: int) -> float:
    """Theorem 3 bound; raises ValueError when ρ ≥ 1 (the bound is void there)."""
    V0 = check_real("V0", V0, low=0.0)
    L0 = check_real("L0", L0, low=0.0)
    L1 = check_real("L1", L1, low=0.0, low_open=True)
    a = check_unit_interval("alpha", alpha)
    b = check_real("beta", beta, low=0.0, low_open=True)
    K = check_int("K", K, low=0)
    rho = theorem3_rho(b, a)
    if rho >= 1:
        raise ValueError(f"beta must make rho = c1*exp(L1*gamma)*gamma < 1; got rho = {rho:g} at beta = {b:g}, alpha = {a:g}")
    return float(THM3_BOUND.numeric(V0, L0, L1, a, b, K))
