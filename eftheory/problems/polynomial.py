r"""The quartic test function of the generalized-smoothness experiments (single node).

Problem and assumptions
-----------------------
n = 1, deterministic. :math:`f\ge0=f(0)`, so :math:`f^{\inf}=0` (A-LB). f is
:math:`(L_0,L_1)`-smooth (Hessian form, hence symmetric form) for every :math:`L_1>0` with the
matching :math:`L_0`, L-smooth only on bounded boxes, and nonconvex.

Definition
----------
.. math::

   f(x)=\sum_{j=1}^d a\,x_j^4+\lambda\sum_{j=1}^d\frac{x_j^2}{1+x_j^2},\qquad a=\frac\lambda{24},

   \nabla f(x)_j=\frac\lambda6x_j^3+\frac{2\lambda x_j}{(1+x_j^2)^2},\qquad
   \nabla^2 f(x)=\mathrm{diag}\Bigl(\frac\lambda2x_j^2+\frac{2\lambda(1-3x_j^2)}{(1+x_j^2)^3}\Bigr).

Constants
---------
Khirirat et al. [004], App. F.1 (via :mod:`eftheory.derivations.problems`):
:math:`L_0=9\lambda d^2/(2L_1^2)+2\lambda` for a chosen :math:`L_1>0`, equivalently
:math:`\lambda=L_0/(9d^2/(2L_1^2)+2)`; on the box :math:`|x_j|\le D`,
:math:`L=\lambda\sqrt dD^2/2+2\lambda`. The smallest Hessian entry is
:math:`\lambda\min_t\{t^2/2+2(1-3t^2)/(1+t^2)^3\}\approx-0.0987\lambda` at :math:`|t|\approx0.82`
(erratum 20: the source argues at :math:`|t|=1`, where the curvature is exactly 0).

Claims served: ``E-POLY``, ``E-FIG``, ``S004-L2``, ``S004-L3``, ``S004-T1`` on the polynomial.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from eftheory.derivations.problems import polynomial_box_L, polynomial_L0, polynomial_lambda
from eftheory.validation import check_int, check_real

from ._common import Parametrised, as_direction, as_point, check_client
from .logistic import reg_curv, reg_grad, reg_h

__all__ = ["Polynomial", "poly_curvature_min"]


def _unit_curv(t: float) -> float:
    return 0.5 * t * t + 2.0 * (1.0 - 3.0 * t * t) / (1.0 + t * t) ** 3


def poly_curvature_min() -> tuple[float, float]:
    r"""``(c, t)``: :math:`c=\min_t\{t^2/2+2(1-3t^2)/(1+t^2)^3\}` and its minimiser :math:`t>0`.

    Example:
        >>> c, t = poly_curvature_min(); round(c, 4), round(t, 2)
        (-0.0987, 0.82)
    """
    res = minimize_scalar(_unit_curv, bounds=(0.3, 1.5), method="bounded", options={"xatol": 1e-12})
    return float(res.fun), float(res.x)


class Polynomial(Parametrised):
    r"""Quartic-plus-nonconvex-regulariser test function (formulas in the module docstring).

    Give either ``lam`` (with ``L1``, default 4) or ``L0`` (with ``L1``); with neither, the
    paper's middle setting :math:`L_0=L_1=4` is used (λ = 0.615385 for d = 4).

    Attributes: ``dim`` = d, ``n_clients`` = 1, ``lam`` (λ), ``a`` (= λ/24, the quartic
    coefficient), ``L0``, ``L1``, ``D`` (the box radius), ``box`` (= D, the ∞-norm radius on
    which ``L`` holds), ``L`` = ``L_tilde`` = box smoothness, ``L_i`` = array([L]), ``f_inf`` = 0,
    ``f_inf_lower`` = 0, ``f_i_inf_lower`` = array([0.]), ``sigma`` = 0, ``x_star`` = zeros(d),
    ``min_curvature`` (≈ −0.0987 λ, the smallest Hessian entry over R^d) and
    ``min_curvature_at`` (the :math:`|t|` attaining it).

    Args:
        d: dimension ≥ 1. lam: λ > 0. L1: L1 > 0. L0: L0 > 0 (exclusive with lam). D: box radius > 0.

    Example:
        >>> p = Polynomial(d=4, L0=4.0, L1=1.0)
        >>> round(p.lam, 6), round(p.L, 2)
        (0.054054, 21.73)

    Notes:
        ``L`` uses the source's :math:`\sqrt d` factor, which is looser than the exact box
        constant :math:`\lambda D^2/2+2\lambda` (the Hessian is diagonal); both are valid.
    """

    n_clients = 1

    def __init__(self, d: int = 4, lam=None, L1=None, L0=None, D: float = 20.0):
        self.dim = check_int("d", d, low=1)
        if lam is not None and L0 is not None:
            raise ValueError("lam and L0 are exclusive: give lam (L0 is then derived) or L0 (lam is then derived)")
        self.L1 = check_real("L1", 4.0 if L1 is None else L1, low=0.0, low_open=True)
        if lam is None:
            self.L0 = check_real("L0", 4.0 if L0 is None else L0, low=0.0, low_open=True)
            self.lam = polynomial_lambda(self.L0, self.L1, self.dim)
        else:
            self.lam = check_real("lam", lam, low=0.0, low_open=True)
            self.L0 = polynomial_L0(self.L1, self.lam, self.dim)
        self.a = self.lam / 24.0
        self.D = check_real("D", D, low=0.0, low_open=True)
        self.box = self.D
        self.L = polynomial_box_L(self.lam, self.dim, self.D)
        self.L_i = np.array([self.L])
        self.L_tilde = self.L
        self.f_inf = 0.0
        self.f_inf_lower = 0.0
        self.f_i_inf_lower = np.zeros(1)
        self.sigma = 0.0
        self.x_star = np.zeros(self.dim)
        c, t = poly_curvature_min()
        self.min_curvature = self.lam * c
        self.min_curvature_at = t

    def sample(self, i: int, rng: np.random.Generator):
        check_client(i, 1)
        return None

    def f(self, x) -> float:
        x = as_point(x, self.dim)
        return float(self.a * np.sum(x ** 4)) + self.lam * reg_h(x)

    def grad(self, x) -> np.ndarray:
        x = as_point(x, self.dim)
        return 4.0 * self.a * x ** 3 + self.lam * reg_grad(x)

    def hess_diag(self, x) -> np.ndarray:
        """The diagonal of the (diagonal) Hessian."""
        x = as_point(x, self.dim)
        return 12.0 * self.a * x * x + self.lam * reg_curv(x)

    def hess(self, x) -> np.ndarray:
        return np.diag(self.hess_diag(x))

    def f_i(self, i: int, x, xi=None) -> float:
        check_client(i, 1)
        return self.f(x)

    def grad_i(self, i: int, x, xi=None) -> np.ndarray:
        check_client(i, 1)
        return self.grad(x)

    def hvp_i(self, i: int, x, v, xi=None) -> np.ndarray:
        check_client(i, 1)
        return self.hess_diag(x) * as_direction(v, self.dim)

    def hess_i(self, i: int, x, xi=None) -> np.ndarray:
        check_client(i, 1)
        return self.hess(x)

    def variance_at(self, x) -> np.ndarray:
        """Exact oracle: zero gradient noise, shape (1,)."""
        as_point(x, self.dim)
        return np.zeros(1)

    def delta_inf_upper(self, x_best=None) -> float:
        """n = 1: the heterogeneity gap is exactly 0."""
        return 0.0

    def nonconvex_witness(self) -> np.ndarray:
        r"""The point :math:`x=(t^*,0,\dots,0)`, :math:`t^*\approx0.82`, where the Hessian has the entry ``min_curvature`` < 0."""
        x = np.zeros(self.dim)
        x[0] = self.min_curvature_at
        return x

    def __repr__(self) -> str:
        return f"Polynomial(d={self.dim}, lam={self.lam:g}, L0={self.L0:g}, L1={self.L1:g}, D={self.D:g})"
