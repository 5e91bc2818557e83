"""Step-ahead error feedback (SAEF): constants, Lemma 2 minimum, and the Theorem 1–3 bounds.

Source: Xu, Huo, Huang, *Step-Ahead Error Feedback for Distributed Training with Compressed
Gradient* (AAAI 2021, arXiv:2008.05823), Lemmas 1–5 and Theorems 1–3 (appendix numbering for
the lemmas). Notation: δ is the compressor's contraction parameter, n the number of workers,
μ the momentum, :math:`B=\\eta_{\\max}^2(M^2+\\sigma^2)/(1-\\mu)^2`.

The Lemma 2 factor :math:`\\frac{(1-\\delta)(1+1/\\beta_1)}{1-(1-\\delta)(1+\\beta_1)}` is minimized at
:math:`\\beta_1=1/\\sqrt{1-\\delta}-1` with value :math:`(1-\\delta)/(1-\\sqrt{1-\\delta})^2`; the paper
prints :math:`(1-\\delta)/(2(1-\\sqrt{1-\\delta}))`. Propagating the corrected value through Lemma 4
and Lemma 5 gives the corrected server-error and mismatch constants defined here.
"""

from __future__ import annotations

import sympy as sp

from eftheory.validation import check_int, check_real, check_unit_interval

from ._core import Derivation, register

__all__ = [
    "C_CONST", "LEMMA2_FACTOR", "LEMMA2_ARGMIN", "LEMMA2_MIN", "LEMMA2_MIN_PRINTED",
    "SERVER_ERROR", "MISMATCH", "MISMATCH_PRINTED", "ALPHA_MU",
    "THM1", "THM2", "THM2_COMPRESSION", "ZHENG_TERM", "THM3_X", "THM3_XTILDE",
    "c_const", "lemma2_factor", "lemma2_min", "lemma2_min_printed", "lemma2_minimize",
    "server_error_const", "mismatch_const", "mismatch_const_printed", "alpha_mu",
    "theorem1_bound", "theorem2_bound", "theorem2_compression_term", "zheng_term",
    "theorem3_bound", "theorem3_bound_aux",
]

_SRC = "Xu, Huo, Huang (AAAI 2021, arXiv:2008.05823)"

delta = sp.Symbol("delta", positive=True)
n = sp.Symbol("n", positive=True, integer=True)
beta1 = sp.Symbol("beta_1", positive=True)
sq = sp.Symbol("s", positive=True)              # s = sqrt(1 - delta)
eta, L, T = sp.symbols("eta L T", positive=True)
mu = sp.Symbol("mu", nonnegative=True)
M2 = sp.Symbol("M2", nonnegative=True)          # M^2
sig2 = sp.Symbol("sigma2", nonnegative=True)    # sigma^2
F0 = sp.Symbol("F_0", nonnegative=True)         # F(x_0) - F^*
Bs = sp.Symbol("B", nonnegative=True)

_r = sp.sqrt(1 - delta)
_C = (2 - delta) / (1 - _r) + (n - 1) / n
C_CONST = register(Derivation(
    name="saef.C", title="SAEF constant C", symbols=(delta, n), expr=_C, source=f"{_SRC}, Lemma 1 / Theorems 1–3",
    claims=("S002-AL5", "S002-T1", "S002-T2", "S002-T3"), lhs="C",
))
_F = (1 - delta) * (1 + 1 / beta1) / (1 - (1 - delta) * (1 + beta1))
LEMMA2_FACTOR = register(Derivation(
    name="saef.lemma2_factor", title="Lemma 2 factor as a function of β1", symbols=(delta, beta1), expr=_F,
    source=f"{_SRC}, Appendix Lemma 2", claims=("S002-AL2",),
    lhs=r"\phi(\beta_1)", note=r"defined for $0 < \beta_1 < \delta/(1-\delta)$.",
))
# minimise in the variable s = sqrt(1-delta): phi = s^2 (1 + 1/b) / (1 - s^2 (1 + b))
_F_s = _F.subs(delta, 1 - sq**2)
_crit = [r for r in sp.solve(sp.diff(_F_s, beta1), beta1) if sp.simplify(r.subs(sq, sp.Rational(1, 2))) > 0]
LEMMA2_ARGMIN = register(Derivation(
    name="saef.lemma2_argmin", title="minimiser of the Lemma 2 factor", symbols=(sq,),
    expr=sp.simplify(_crit[0]), source=f"{_SRC}, Appendix Lemma 2", claims=("S002-AL2",), lhs=r"\beta_1^\star",
    note="positive root of dφ/dβ1 = 0 in s = √(1−δ); equals 1/√(1−δ) − 1.",
))
LEMMA2_MIN = register(Derivation(
    name="saef.lemma2_min", title="Lemma 2 minimum (corrected)", symbols=(sq,),
    expr=sp.factor(sp.simplify(_F_s.subs(beta1, LEMMA2_ARGMIN.expr))), source=f"{_SRC}, Appendix Lemma 2 (corrected)",
    claims=("S002-AL2",), lhs=r"\min_{\beta_1}\phi", note="= (1−δ)/(1−√(1−δ))² with s = √(1−δ).",
))
LEMMA2_MIN_PRINTED = register(Derivation(
    name="saef.lemma2_min_printed", title="Lemma 2 minimum as printed (erratum)", symbols=(delta,),
    expr=(1 - delta) / (2 * (1 - _r)), source=f"{_SRC}, Appendix Lemma 2 (printed)", claims=("S002-AL2",),
    lhs=r"\text{printed}\ \min_{\beta_1}\phi", note="Too small: at δ = 1/2 it is 0.854 against the true 5.83.",
))
_min_d = (1 - delta) / (1 - _r) ** 2
SERVER_ERROR = register(Derivation(
    name="saef.server_error", title="server error constant (corrected chain)", symbols=(delta,),
    expr=sp.simplify(_min_d * 2 * (2 - delta) / (1 - _r) ** 2),
    source=f"{_SRC}, Appendix Lemma 4 with both factors minimised", claims=("S002-AL5",),
    lhs=r"\mathbb E\|e_{t+1}\|^2/B\le", note="minimum over β2 of the first factor times 2(2−δ)/(1−√(1−δ))², the minimum over β1 of the second.",
))
MISMATCH = register(Derivation(
    name="saef.mismatch", title="SAEF mismatch constant (corrected chain)", symbols=(delta, n),
    expr=2 * SERVER_ERROR.expr + 2 * (n - 1) / n * _min_d, source=f"{_SRC}, Appendix Lemma 5 (corrected)",
    claims=("S002-AL5", "S002-MIS"), lhs=r"\frac1n\sum_k\mathbb E\|e_t+\bar e_t-e_t^{(k)}\|^2/B\le",
    note="‖e + ē − e_k‖² ≤ 2‖e‖² + 2‖ē − e_k‖², then Lemma 4 and Lemma 3 with the corrected minima.",
))
MISMATCH_PRINTED = register(Derivation(
    name="saef.mismatch_printed", title="SAEF mismatch constant as printed", symbols=(delta, n),
    expr=_C * (1 - delta) / (1 - _r), source=f"{_SRC}, Lemma 1 / Appendix Lemma 5 (printed)", claims=("S002-AL5",),
    lhs=r"\text{printed}\ \frac1n\sum_k\mathbb E\|e_t+\bar e_t-e_t^{(k)}\|^2/B\le",
))
_amu = 1 - eta * L / (1 - mu) - 2 * mu**2 * eta**2 * L**2 / (1 - mu) ** 4
ALPHA_MU = register(Derivation(
    name="saef.alpha_mu", title="α_μ of Theorem 3", symbols=(eta, L, mu), expr=_amu,
    source=f"{_SRC}, Theorem 3", claims=("S002-T3",), lhs=r"\alpha_\mu", note="Theorem 3 requires α_μ > 0.",
))
_q = (1 - delta) / (1 - _r)
THM1 = register(Derivation(
    name="saef.theorem1", title="SAEF-SGD bound at the auxiliary iterate (Theorem 1)",
    symbols=(F0, eta, L, T, n, delta, M2, sig2),
    expr=4 * F0 / (eta * (3 - 4 * eta * L) * T) + 2 * eta * L * sig2 / ((3 - 4 * eta * L) * n)
    + _C * _q * 4 * (eta * L + 1) * eta**2 * L**2 / (3 - 4 * eta * L) * (M2 + sig2),
    source=f"{_SRC}, Theorem 1", claims=("S002-T1",), lhs=r"\min_t\mathbb E\|\nabla F(\tilde x_t)\|^2\le",
    note="requires 0 < η < 3/(4L); compression constant as printed.",
))
_thm2_comp = (1 + 8 * _C / (3 - 2 * eta * L)) * _q * eta**2 * L**2 * (M2 + sig2)
THM2 = register(Derivation(
    name="saef.theorem2", title="SAEF-SGD bound at the model iterate (Theorem 2)",
    symbols=(F0, eta, L, T, n, delta, M2, sig2),
    expr=4 * F0 / (eta * (3 - 2 * eta * L) * T) + 4 * eta * L * sig2 / ((3 - 2 * eta * L) * n) + _thm2_comp,
    source=f"{_SRC}, Theorem 2", claims=("S002-T2",), lhs=r"\min_t\mathbb E\|\nabla F(x_t)\|^2\le",
    note="requires 0 < η < 3/(2L).",
))
THM2_COMPRESSION = register(Derivation(
    name="saef.theorem2_compression", title="compression term of Theorem 2", symbols=(eta, L, n, delta, M2, sig2),
    expr=_thm2_comp, source=f"{_SRC}, Theorem 2 / Corollary 1", claims=("S002-C1",), lhs=r"\text{SAEF term}",
))
ZHENG_TERM = register(Derivation(
    name="saef.zheng_term", title="EF-SGD compression term of Zheng et al. (2019)", symbols=(eta, L, delta, M2, sig2),
    expr=32 * L**2 * (1 - delta) * (M2 + sig2) / delta**2 * (1 + 16 / delta**2) * eta**2 / (3 - 2 * eta * L),
    source=f"{_SRC}, Corollary 1 (citing Zheng, Huang, Kwok, NeurIPS 2019)", claims=("S002-C1",), lhs=r"\text{EF term}",
    note="Corollary 1: the SAEF term is strictly smaller for 0 < δ < 1.",
))
_thm3_head = (4 * (1 - mu) * F0 / (_amu * eta * T)
              + 2 * (1 + 2 * mu**2 * eta * L / (1 - mu) ** 3) * eta * L * sig2 / (_amu * (1 - mu) * n))
THM3_X = register(Derivation(
    name="saef.theorem3", title="SAEF-SGDM bound at the model iterate (Theorem 3)",
    symbols=(F0, eta, L, T, n, delta, mu, M2, sig2),
    expr=_thm3_head + (4 * (2 - delta) / (1 - _r) + 4 * (n - 1) / n + _amu) * _q
    * eta**2 * L**2 * (M2 + sig2) / (_amu * (1 - mu) ** 2),
    source=f"{_SRC}, Theorem 3", claims=("S002-T3",), lhs=r"\min_t\mathbb E\|\nabla F(x_t)\|^2\le",
    note="requires α_μ > 0; the bracket equals 4C + α_μ.",
))
THM3_XTILDE = register(Derivation(
    name="saef.theorem3_aux", title="SAEF-SGDM bound at the auxiliary iterate (Theorem 3)",
    symbols=(F0, eta, L, T, n, delta, mu, M2, sig2),
    expr=_thm3_head + (4 / _amu + 2) * _C * _q * eta**2 * L**2 * (M2 + sig2) / (1 - mu) ** 2,
    source=f"{_SRC}, Theorem 3", claims=("S002-T3",), lhs=r"\min_t\mathbb E\|\nabla F(\tilde x_t)\|^2\le",
))


# ----------------------------------------------------------------------------- numeric API
def _d(v):
    return check_unit_interval("delta", v)


def _n(v):
    return check_int("n", v, low=1)


def c_const(delta: float, n: int) -> float:
    """C = (2−δ)/(1−√(1−δ)) + (n−1)/n."""
    return float(C_CONST.numeric(_d(delta), _n(n)))


def lemma2_factor(delta: float, beta1: float) -> float:
    """(1−δ)(1+1/β1)/(1−(1−δ)(1+β1)) for 0 < β1 < δ/(1−δ)."""
    dv = _d(delta)
    hi = dv / (1 - dv) if dv < 1 else float("inf")
    b = check_real("beta1", beta1, low=0.0, high=hi, low_open=True, high_open=True)
    return float(LEMMA2_FACTOR.numeric(dv, b))


def lemma2_minimize(delta: float) -> tuple[float, float]:
    """(β1*, min φ) = (1/√(1−δ) − 1, (1−δ)/(1−√(1−δ))²) for δ ∈ (0, 1)."""
    dv = check_real("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    sv = (1 - dv) ** 0.5
    return float(LEMMA2_ARGMIN.numeric(sv)), float(LEMMA2_MIN.numeric(sv))


def lemma2_min(delta: float) -> float:
    """Corrected Lemma 2 constant (1−δ)/(1−√(1−δ))² (0 at δ = 1)."""
    dv = _d(delta)
    return float(LEMMA2_MIN.numeric((1 - dv) ** 0.5))


def lemma2_min_printed(delta: float) -> float:
    """Printed Lemma 2 constant (1−δ)/(2(1−√(1−δ)))."""
    return float(LEMMA2_MIN_PRINTED.numeric(_d(delta)))


def server_error_const(delta: float) -> float:
    """2(2−δ)(1−δ)/(1−√(1−δ))⁴ (multiply by B)."""
    return float(SERVER_ERROR.numeric(_d(delta)))


def mismatch_const(delta: float, n: int) -> float:
    """Corrected SAEF mismatch constant (multiply by B)."""
    return float(MISMATCH.numeric(_d(delta), _n(n)))


def mismatch_const_printed(delta: float, n: int) -> float:
    """Printed SAEF mismatch constant C(1−δ)/(1−√(1−δ)) (multiply by B)."""
    return float(MISMATCH_PRINTED.numeric(_d(delta), _n(n)))


def alpha_mu(eta: float, L: float, mu: float) -> float:
    """α_μ = 1 − ηL/(1−μ) − 2μ²η²L²/(1−μ)⁴."""
    e = check_real("eta", eta, low=0.0, low_open=True)
    Lv = check_real("L", L, low=0.0, low_open=True)
    m = check_real("mu", mu, low=0.0, high=1.0, high_open=True)
    return float(ALPHA_MU.numeric(e, Lv, m))


def _common(F0, eta, L, T, n, delta, M2, sigma2):
    return (check_real("F0", F0, low=0.0), check_real("eta", eta, low=0.0, low_open=True),
            check_real("L", L, low=0.0, low_open=True), check_int("T", T, low=1), _n(n), _d(delta),
            check_real("M2", M2, low=0.0), check_real("sigma2", sigma2, low=0.0))


def theorem1_bound(F0, eta, L, T, n, delta, M2, sigma2) -> float:
    """Theorem 1 bound (auxiliary iterate); needs η < 3/(4L)."""
    a = _common(F0, eta, L, T, n, delta, M2, sigma2)
    if a[1] * a[2] >= 0.75:
        raise ValueError(f"eta must lie in (0, 3/(4L)) = (0, {0.75 / a[2]:g}); got {a[1]:g}")
    return float(THM1.numeric(*a))


def theorem2_bound(F0, eta, L, T, n, delta, M2, sigma2) -> float:
    """Theorem 2 bound (model iterate); needs η < 3/(2L)."""
    a = _common(F0, eta, L, T, n, delta, M2, sigma2)
    if a[1] * a[2] >= 1.5:
        raise ValueError(f"eta must lie in (0, 3/(2L)) = (0, {1.5 / a[2]:g}); got {a[1]:g}")
    return float(THM2.numeric(*a))


def theorem2_compression_term(eta, L, n, delta, M2, sigma2) -> float:
    """(1 + 8C/(3−2ηL))(1−δ)/(1−√(1−δ))·η²L²(M²+σ²)."""
    _, e, Lv, _, nv, dv, m2, s2 = _common(0.0, eta, L, 1, n, delta, M2, sigma2)
    return float(THM2_COMPRESSION.numeric(e, Lv, nv, dv, m2, s2))


def zheng_term(eta, L, delta, M2, sigma2) -> float:
    """32L²(1−δ)(M²+σ²)/δ²·(1+16/δ²)·η²/(3−2ηL) (Zheng et al.'s EF-SGD term)."""
    _, e, Lv, _, _, dv, m2, s2 = _common(0.0, eta, L, 1, 1, delta, M2, sigma2)
    return float(ZHENG_TERM.numeric(e, Lv, dv, m2, s2))


def _thm3_args(F0, eta, L, T, n, delta, mu, M2, sigma2):
    F0, e, Lv, T, nv, dv, m2, s2 = _common(F0, eta, L, T, n, delta, M2, sigma2)
    m = check_real("mu", mu, low=0.0, high=1.0, high_open=True)
    if alpha_mu(e, Lv, m) <= 0:
        raise ValueError(f"eta must make alpha_mu > 0 (eta*L small enough); got alpha_mu = {alpha_mu(e, Lv, m):g}")
    return F0, e, Lv, T, nv, dv, m, m2, s2


def theorem3_bound(F0, eta, L, T, n, delta, mu, M2, sigma2) -> float:
    """Theorem 3 bound at the model iterate; needs α_μ > 0."""
    return float(THM3_X.numeric(*_thm3_args(F0, eta, L, T, n, delta, mu, M2, sigma2)))


def theorem3_bound_aux(F0, eta, L, T, n, delta, mu, M2, sigma2) -> float:
    """Theorem 3 bound at the auxiliary iterate; needs α_μ > 0."""
    return float(THM3_XTILDE.numeric(*_thm3_args(F0, eta, L, T, n, delta, mu, M2, sigma2)))
