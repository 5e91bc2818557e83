"""Normalized EF21 (‖EF21‖): constants and bounds of Theorem 1 and its corollaries.

Source: Khirirat, Sadiev, Riabinin, Gorbunov, Richtárik, *Error Feedback under
(L0,L1)-Smoothness: Normalization and Momentum* (arXiv:2410.16871; earlier version
*Communication-efficient Algorithms Under Generalized Smoothness Assumptions*), Theorem 1,
its proof (Appendix D.1), and the corollaries of Section 3.

With :math:`c=\\tfrac12+\\tfrac{2\\sqrt{1-\\alpha}}{1-\\sqrt{1-\\alpha}}`: :math:`c_0=cL_0`,
:math:`c_1=cL_1`, :math:`b=2c_0+8L_1c_1\\delta^{\\inf}`, and for :math:`\\gamma_k=\\gamma_0/\\sqrt{K+1}`

.. math::

   \\min_{k\\le K}\\mathbb E\\|\\nabla f(x^k)\\| \\le \\frac{1}{\\sqrt{K+1}}
   \\Big[\\frac{V^0 e^{8c_1L_1e^{L_1\\gamma_0}\\gamma_0^2}}{\\gamma_0}+\\gamma_0 b\\,e^{L_1\\gamma_0}\\Big].

The printed theorem omits :math:`e^{L_1\\gamma_0}` on the :math:`\\gamma_0 b` term, which the proof
carries (:data:`THM1_PRINTED` keeps the printed form for the errata page).
"""

from __future__ import annotations

import math

import sympy as sp

from eftheory.validation import check_int, check_real, check_unit_interval

from ._core import Derivation, register
from .ef21 import alpha, s

__all__ = [
    "C_FACTOR", "C0", "C1", "B", "V0", "THM1_PROOF", "THM1_PRINTED", "COROLLARY", "COROLLARY_GAP",
    "LSMOOTH_B", "LSMOOTH_BOUND", "LSMOOTH_IDENTITY", "LSMOOTH_UPPER", "EF21_LSMOOTH",
    "c_factor", "c0", "c1", "b_const", "lyapunov_v0", "theorem1_bound", "theorem1_printed_bound",
    "corollary_gamma0", "corollary_bound", "corollary_gap_coefficients",
    "lsmooth_b", "lsmooth_bound", "lsmooth_identity_residual", "ef21_lsmooth_bound",
]

_SRC = "Khirirat et al., arXiv:2410.16871, Theorem 1"
_SRC_PROOF = "Khirirat et al., arXiv:2410.16871, Theorem 1 (proof, App. D.1)"
_SRC_COR = "Khirirat et al., arXiv:2410.16871, Corollary of Theorem 1 (γ0 = 1/(8cL1))"
_SRC_LS = "Khirirat et al., arXiv:2410.16871, Sec. 3 (L-smooth case) and App. C"

L0, L1, L = sp.symbols("L_0 L_1 L", positive=True)
delta_inf = sp.Symbol("delta_inf", nonnegative=True)
gamma0 = sp.Symbol("gamma_0", positive=True)
K = sp.Symbol("K", nonnegative=True, integer=True)
V0s = sp.Symbol("V_0", nonnegative=True)
F0 = sp.Symbol("F_0", nonnegative=True)            # f(x^0) - f^inf
E0 = sp.Symbol("E_0", nonnegative=True)            # (1/n) sum ||grad f_i(x^0) - g_i^0||
u = sp.Symbol("u", positive=True)                  # u = 1/(8c) in (0, 1/4]

_c = sp.Rational(1, 2) + 2 * sp.sqrt(1 - alpha) / (1 - sp.sqrt(1 - alpha))

C_FACTOR = register(Derivation(
    name="normalized.c", title="‖EF21‖ constant c", symbols=(alpha,), expr=_c, source=_SRC,
    claims=("S004-T1", "S004-C1"), lhs="c", note="c_0 = c L_0 and c_1 = c L_1; c ≥ 1/2 with equality at α = 1.",
))
C0 = register(Derivation(
    name="normalized.c0", title="‖EF21‖ constant c0", symbols=(L0, alpha), expr=_c * L0, source=_SRC,
    claims=("S004-T1", "S004-L7"), lhs="c_0",
))
C1 = register(Derivation(
    name="normalized.c1", title="‖EF21‖ constant c1", symbols=(L1, alpha), expr=_c * L1, source=_SRC,
    claims=("S004-T1", "S004-L7", "S001-T3"), lhs="c_1",
))
_b = 2 * _c * L0 + 8 * L1 * (_c * L1) * delta_inf
B = register(Derivation(
    name="normalized.b", title="‖EF21‖ constant b", symbols=(L0, L1, alpha, delta_inf), expr=_b, source=_SRC,
    claims=("S004-T1",), lhs="b", note=r"$\delta^{\inf} = \frac1n\sum_i (f^{\inf}-f_i^{\inf})$.",
))
V0 = register(Derivation(
    name="normalized.V0", title="Lyapunov value V^0", symbols=(F0, E0, gamma0, K, alpha),
    expr=F0 + 2 * (gamma0 / sp.sqrt(K + 1)) / (1 - sp.sqrt(1 - alpha)) * E0, source=_SRC,
    claims=("S004-T1", "S004-L7"), lhs="V^0",
    note=r"$F_0 = f(x^0)-f^{\inf}$; $E_0 = \frac1n\sum_i\|\nabla f_i(x^0)-g_i^0\|$ (after the first compression).",
))
_thm1 = (V0s * sp.exp(8 * (_c * L1) * L1 * sp.exp(L1 * gamma0) * gamma0**2) / gamma0
         + gamma0 * _b * sp.exp(L1 * gamma0)) / sp.sqrt(K + 1)
THM1_PROOF = register(Derivation(
    name="normalized.theorem1", title="‖EF21‖ Theorem 1 bound (proof form)",
    symbols=(V0s, L0, L1, alpha, delta_inf, gamma0, K), expr=_thm1, source=_SRC_PROOF,
    claims=("S004-T1",), lhs=r"\min_{k\le K}\mathbb E\|\nabla f(x^k)\|\le",
    note="The factor e^{L1 γ0} on the γ0 b term comes from the proof; the printed statement lacks it.",
))
THM1_PRINTED = register(Derivation(
    name="normalized.theorem1_printed", title="‖EF21‖ Theorem 1 bound as printed (erratum)",
    symbols=(V0s, L0, L1, alpha, delta_inf, gamma0, K),
    expr=(V0s * sp.exp(8 * (_c * L1) * L1 * sp.exp(L1 * gamma0) * gamma0**2) / gamma0 + gamma0 * _b) / sp.sqrt(K + 1),
    source=_SRC, claims=("S004-T1",), lhs=r"\text{printed}\ \min_{k\le K}\mathbb E\|\nabla f(x^k)\|\le",
    note="Smaller than the proof form by the missing e^{L1 γ0} on the γ0 b term.",
))
_cor = (32 * _c * L1 * V0s + L0 / L1 + 2 * L1 * delta_inf) / sp.sqrt(K + 1)
COROLLARY = register(Derivation(
    name="normalized.corollary", title="‖EF21‖ corollary at γ0 = 1/(8cL1)",
    symbols=(V0s, L0, L1, alpha, delta_inf, K), expr=_cor, source=_SRC_COR,
    claims=("S004-C1",), lhs=r"\min_{k\le K}\mathbb E\|\nabla f(x^k)\|\le",
))
# With u = 1/(8c) in (0, 1/4], sqrt(K+1) * (corollary - proof bound at gamma0 = 1/(8 c L1)) equals
#   c L1 V0 (32 - 8 exp(u e^u)) + (L0/L1)(1 - e^u / 4) + L1 delta_inf (2 - e^u),
# three coefficients increasing-in-u losses that stay positive up to u = 1/4.
_coef_V = 32 - 8 * sp.exp(u * sp.exp(u))
_coef_L0 = 1 - sp.exp(u) / 4
_coef_d = 2 - sp.exp(u)
COROLLARY_GAP = register(Derivation(
    name="normalized.corollary_gap", title="corollary minus proof bound at γ0 = 1/(8cL1), u = 1/(8c)",
    symbols=(u,), expr=sp.Tuple(_coef_V, _coef_L0, _coef_d), source=_SRC_COR, claims=("S004-C1",),
    lhs=r"\sqrt{K+1}\,(\text{cor}-\text{thm}) = cL_1V^0\,a(u)+\tfrac{L_0}{L_1}\,b(u)+L_1\delta^{\inf}\,c(u),\ (a,b,c)",
    note="Each coefficient decreases in u and is positive at u = 1/4 (c ≥ 1/2), so the corollary dominates the proof bound.",
))
_b_ls = L / 2 + 2 * sp.sqrt(1 - alpha) * L / (1 - sp.sqrt(1 - alpha))
LSMOOTH_B = register(Derivation(
    name="normalized.lsmooth_b", title="‖EF21‖, L-smooth case: b", symbols=(L, alpha), expr=_b_ls,
    source=_SRC_LS, claims=("S004-C2",), lhs="b",
))
LSMOOTH_BOUND = register(Derivation(
    name="normalized.lsmooth_bound", title="‖EF21‖, L-smooth case: bound at γ0 = √(F/(2b))",
    symbols=(L, alpha, F0, K), expr=2 * sp.sqrt(2 * _b_ls * F0) / sp.sqrt(K + 1), source=_SRC_LS,
    claims=("S004-C2",), lhs=r"\min_{k\le K}\mathbb E\|\nabla f(x^k)\|\le",
    note="F/γ0 + 2bγ0 at γ0 = √(F/(2b)) equals 2√(2bF).",
))
LSMOOTH_IDENTITY = register(Derivation(
    name="normalized.lsmooth_identity", title="identity 2b = L(1+3s)(1+s)/α, s = √(1−α)",
    symbols=(L, s), expr=(2 * _b_ls - L * (1 + 3 * sp.sqrt(1 - alpha)) * (1 + sp.sqrt(1 - alpha)) / alpha).subs(alpha, 1 - s**2),
    source=_SRC_LS, claims=("S004-C2",), lhs=r"2b-\frac{L(1+3s)(1+s)}{\alpha}",
    note="sympy.simplify gives 0 (printed with the square root lost, an erratum).",
))
LSMOOTH_UPPER = register(Derivation(
    name="normalized.lsmooth_upper", title="‖EF21‖, L-smooth case: upper bound 4√2·√(L/α)",
    symbols=(L, alpha, F0, K), expr=4 * sp.sqrt(2) * sp.sqrt(L / alpha) * sp.sqrt(F0 / (K + 1)),
    source=_SRC_LS, claims=("S004-C2",), lhs=r"\le",
    note="(1+3s)(1+s) ≤ 8; the EF21 bound is 2√(L/α)√(F/(K+1)), so the ratio of the two upper bounds is 2√2.",
))
EF21_LSMOOTH = register(Derivation(
    name="normalized.ef21_lsmooth", title="EF21 comparison bound 2√(L/α)√(F/(K+1))",
    symbols=(L, alpha, F0, K), expr=2 * sp.sqrt(L / alpha) * sp.sqrt(F0 / (K + 1)),
    source="Khirirat et al., arXiv:2410.16871, Sec. 3 (comparison with EF21)", claims=("S004-C2", "EF21-T1"),
    lhs=r"\min_{k\le K}\mathbb E\|\nabla f(x^k)\|\le",
    note="From √(2L(1+√(β/θ))F/(K+1)) and 1 + √(β/θ) ≤ 2/α.",
))


# ----------------------------------------------------------------------------- numeric API
def _a(v):
    return check_unit_interval("alpha", v)


def _pos(name, v):
    return check_real(name, v, low=0.0, low_open=True)


def _nonneg(name, v):
    return check_real(name, v, low=0.0)


def c_factor(alpha: float) -> float:
    """c = 1/2 + 2√(1−α)/(1−√(1−α))."""
    return float(C_FACTOR.numeric(_a(alpha)))


def c0(L0: float, alpha: float) -> float:
    """c0 = c·L0."""
    return float(C0.numeric(_nonneg("L0", L0), _a(alpha)))


def c1(L1: float, alpha: float) -> float:
    """c1 = c·L1."""
    return float(C1.numeric(_nonneg("L1", L1), _a(alpha)))


def b_const(L0: float, L1: float, alpha: float, delta_inf: float) -> float:
    """b = 2c0 + 8L1c1δ^inf."""
    return float(B.numeric(_nonneg("L0", L0), _nonneg("L1", L1), _a(alpha), _nonneg("delta_inf", delta_inf)))


def lyapunov_v0(F0: float, E0: float, gamma0: float, K: int, alpha: float) -> float:
    """V^0 = F0 + 2γ_0'/(1−√(1−α))·E0 with the first stepsize γ_0' = γ0/√(K+1)."""
    return float(V0.numeric(_nonneg("F0", F0), _nonneg("E0", E0), _pos("gamma0", gamma0),
                            check_int("K", K, low=0), _a(alpha)))


def _exp_guard(fn, *args) -> float:
    try:
        return float(fn(*args))
    except OverflowError:
        return math.inf


def theorem1_bound(V0: float, L0: float, L1: float, alpha: float, delta_inf: float, gamma0: float, K: int) -> float:
    """Theorem 1 bound in its proof form (``inf`` when the exponential overflows)."""
    return _exp_guard(THM1_PROOF.numeric, _nonneg("V0", V0), _nonneg("L0", L0), _nonneg("L1", L1), _a(alpha),
                      _nonneg("delta_inf", delta_inf), _pos("gamma0", gamma0), check_int("K", K, low=0))


def theorem1_printed_bound(V0, L0, L1, alpha, delta_inf, gamma0, K) -> float:
    """Theorem 1 bound as printed (without e^{L1γ0} on the γ0·b term)."""
    return _exp_guard(THM1_PRINTED.numeric, _nonneg("V0", V0), _nonneg("L0", L0), _nonneg("L1", L1), _a(alpha),
                      _nonneg("delta_inf", delta_inf), _pos("gamma0", gamma0), check_int("K", K, low=0))


def corollary_gamma0(L1: float, alpha: float) -> float:
    """γ0 = 1/(8cL1) of the corollary."""
    return 1.0 / (8.0 * c_factor(alpha) * _pos("L1", L1))


def corollary_bound(V0, L0, L1, alpha, delta_inf, K) -> float:
    """(32cL1V^0 + L0/L1 + 2L1δ^inf)/√(K+1)."""
    return float(COROLLARY.numeric(_nonneg("V0", V0), _nonneg("L0", L0), _pos("L1", L1), _a(alpha),
                                   _nonneg("delta_inf", delta_inf), check_int("K", K, low=0)))


def corollary_gap_coefficients(u_value) -> tuple:
    """The three coefficients of :data:`COROLLARY_GAP` evaluated exactly (sympy) at ``u``."""
    return tuple(sp.nsimplify(e.subs(u, sp.nsimplify(u_value))) for e in COROLLARY_GAP.expr)


def lsmooth_b(L: float, alpha: float) -> float:
    """b = L/2 + 2√(1−α)L/(1−√(1−α)) of the L-smooth corollary."""
    return float(LSMOOTH_B.numeric(_pos("L", L), _a(alpha)))


def lsmooth_bound(L: float, alpha: float, F0: float, K: int) -> float:
    """2√(2bF0)/√(K+1): the ‖EF21‖ bound in the L-smooth case at the best γ0."""
    return float(LSMOOTH_BOUND.numeric(_pos("L", L), _a(alpha), _nonneg("F0", F0), check_int("K", K, low=0)))


def ef21_lsmooth_bound(L: float, alpha: float, F0: float, K: int) -> float:
    """2√(L/α)√(F0/(K+1)): the EF21 bound it is compared with."""
    return float(EF21_LSMOOTH.numeric(_pos("L", L), _a(alpha), _nonneg("F0", F0), check_int("K", K, low=0)))


def lsmooth_identity_residual() -> sp.Expr:
    """``simplify`` of 2b − L(1+3s)(1+s)/α in s = √(1−α): the symbolic zero."""
    return sp.simplify(LSMOOTH_IDENTITY.expr)
