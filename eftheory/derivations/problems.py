"""Constants of the two test problems of Khirirat et al. (arXiv:2410.16871).

* Nonconvex-regularized logistic regression, one sample per client:
  :math:`f_i(x)=\\log(1+e^{-b_i a_i^\\top x})+\\lambda\\sum_j x_j^2/(1+x_j^2)`.
  Smoothness :math:`L=\\|A\\|^2/(4n)+2\\lambda` (spectral norm), :math:`L_i=\\|a_i\\|^2/4+2\\lambda`,
  :math:`\\tilde L=(\\frac1n\\sum L_i^2)^{1/2}`, and the generalized-smoothness pair
  :math:`L_0=2\\lambda+\\lambda\\sqrt d\\max_i\\|a_i\\|`, :math:`L_1=\\max_i\\|a_i\\|`
  (Section 4.1 and Appendix E of that paper).
* Quartic polynomial with :math:`a_i=\\lambda/24`: for any :math:`L_1>0` the pair
  :math:`(L_0,L_1)` with :math:`L_0=9\\lambda d^2/(2L_1^2)+2\\lambda` is valid, hence
  :math:`\\lambda=L_0/(9d^2/(2L_1^2)+2)`, and on the box :math:`|x_i|\\le D` the function is
  :math:`L`-smooth with :math:`L=\\lambda\\sqrt d D^2/2+2\\lambda` (Appendix F.1).

Vector inputs use NumPy for the norms; the scalar formulas are the lambdified expressions below.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from eftheory.validation import check_int, check_matrix, check_real

from ._core import Derivation, register

__all__ = [
    "LOGREG_L", "LOGREG_LI", "LOGREG_L0", "LOGREG_L1",
    "POLY_L0", "POLY_LAMBDA", "POLY_BOX_L",
    "logistic_constants", "polynomial_L0", "polynomial_lambda", "polynomial_box_L",
]

_SRC_LOG = "Khirirat et al., arXiv:2410.16871, Sec. 4.1 and App. E (logistic regression)"
_SRC_POLY = "Khirirat et al., arXiv:2410.16871, App. F.1 (polynomial)"

lam = sp.Symbol("lam", nonnegative=True)
n = sp.Symbol("n", positive=True, integer=True)
d = sp.Symbol("d", positive=True, integer=True)
A_norm = sp.Symbol("A_norm", nonnegative=True)      # spectral norm of the data matrix
a_norm = sp.Symbol("a_norm", nonnegative=True)      # Euclidean norm of one row a_i
a_max = sp.Symbol("a_max", nonnegative=True)        # max_i ||a_i||
L0 = sp.Symbol("L_0", positive=True)
L1 = sp.Symbol("L_1", positive=True)
D = sp.Symbol("D", positive=True)

LOGREG_L = register(Derivation(
    name="problems.logreg_L", title="logistic regression: smoothness of f", symbols=(A_norm, n, lam),
    expr=A_norm**2 / (4 * n) + 2 * lam, source=_SRC_LOG, claims=("E-LOGREG",), lhs="L",
    note=r"$\|A\|$ is the spectral norm; $2\lambda$ bounds the curvature of the regulariser ($h'' \le 2$).",
))
LOGREG_LI = register(Derivation(
    name="problems.logreg_L_i", title="logistic regression: smoothness of f_i", symbols=(a_norm, lam),
    expr=a_norm**2 / 4 + 2 * lam, source=_SRC_LOG, claims=("E-LOGREG",), lhs="L_i",
))
LOGREG_L0 = register(Derivation(
    name="problems.logreg_L0", title="logistic regression: L0 of (L0,L1)-smoothness",
    symbols=(a_max, d, lam), expr=2 * lam + lam * sp.sqrt(d) * a_max,
    source=_SRC_LOG, claims=("E-LOGREG", "S004-T1"), lhs="L_0",
))
LOGREG_L1 = register(Derivation(
    name="problems.logreg_L1", title="logistic regression: L1 of (L0,L1)-smoothness",
    symbols=(a_max,), expr=a_max, source=_SRC_LOG, claims=("E-LOGREG", "S004-T1"), lhs="L_1",
))
POLY_L0 = register(Derivation(
    name="problems.poly_L0", title="polynomial: L0 for a chosen L1", symbols=(L1, lam, d),
    expr=9 * lam * d**2 / (2 * L1**2) + 2 * lam, source=_SRC_POLY, claims=("E-POLY",), lhs="L_0",
))
POLY_LAMBDA = register(Derivation(
    name="problems.poly_lambda", title="polynomial: λ solved from (L0, L1)", symbols=(L0, L1, d),
    expr=sp.solve(sp.Eq(POLY_L0.expr.subs(L1, L1), L0), lam)[0],
    source=_SRC_POLY, claims=("E-POLY", "E-FIG"), lhs=r"\lambda",
    note="sympy.solve of L0 = 9λd²/(2L1²) + 2λ for λ.",
))
POLY_BOX_L = register(Derivation(
    name="problems.poly_box_L", title="polynomial: smoothness on the box |x_i| ≤ D", symbols=(lam, d, D),
    expr=lam * sp.sqrt(d) * D**2 / 2 + 2 * lam, source=_SRC_POLY, claims=("E-POLY", "E-FIG"), lhs="L",
))


def logistic_constants(A, lam: float) -> dict:
    """Smoothness constants of the regularized logistic problem with data rows ``A`` (n x d).

    Returns ``dict(L=float, L_i=ndarray (n,), L_tilde=float, L0=float, L1=float)``.
    """
    lam_v = check_real("lam", lam, low=0.0)
    A = check_matrix("A", A)
    n_rows, dim = A.shape
    spec = float(np.linalg.norm(A, 2))
    row = np.linalg.norm(A, axis=1)
    r_max = float(row.max())
    L_i = np.array([LOGREG_LI.numeric(float(r), lam_v) for r in row], dtype=np.float64)
    return dict(
        L=float(LOGREG_L.numeric(spec, n_rows, lam_v)),
        L_i=L_i,
        L_tilde=float(np.sqrt(np.mean(L_i**2))),
        L0=float(LOGREG_L0.numeric(r_max, dim, lam_v)),
        L1=float(LOGREG_L1.numeric(r_max)),
    )


def polynomial_L0(L1: float, lam: float, d: int) -> float:
    """L0 = 9λd²/(2L1²) + 2λ of the quartic test problem for a chosen L1 > 0."""
    L1 = check_real("L1", L1, low=0.0, low_open=True)
    lam = check_real("lam", lam, low=0.0, low_open=True)
    d = check_int("d", d, low=1)
    return float(POLY_L0.numeric(L1, lam, d))


def polynomial_lambda(L0: float, L1: float, d: int) -> float:
    """λ = L0/(9d²/(2L1²) + 2): the regularisation that makes (L0, L1) the problem's pair."""
    L0 = check_real("L0", L0, low=0.0, low_open=True)
    L1 = check_real("L1", L1, low=0.0, low_open=True)
    d = check_int("d", d, low=1)
    return float(POLY_LAMBDA.numeric(L0, L1, d))


def polynomial_box_L(lam: float, d: int, D: float) -> float:
    """L = λ√d D²/2 + 2λ: smoothness of the quartic problem on the box max_i abs(x_i) ≤ D."""
    lam = check_real("lam", lam, low=0.0, low_open=True)
    d = check_int("d", d, low=1)
    D = check_real("D", D, low=0.0, low_open=True)
    return float(POLY_BOX_L.numeric(lam, d, D))
