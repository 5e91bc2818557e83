r"""Stochastic quadratic (problem Q) and quartic-perturbed quadratic (problem Q4) for the rate claims.

Problem and assumptions
-----------------------
Distributed stochastic problem, n heterogeneous clients. Every :math:`f_i` is strongly convex,
so :math:`f^{\inf}` and :math:`f_i^{\inf}` are attained (A-LB, A-LBi). The noise enters through
the function: the draw :math:`\xi=(\zeta,\varepsilon)` perturbs both the curvature and the
linear term, so the difference :math:`\nabla f_i(x;\xi)-\nabla f_i(y;\xi)` of momentum-based
variance reduction does not cancel it, and the stochastic Hessian has :math:`\sigma_H>0`.
Q is L-smooth everywhere with :math:`H=0`; Q4 (:math:`\rho>0`) is smooth and
Hessian-Lipschitz on bounded boxes only, which is where its constants are stated.

Definition
----------
.. math::

   f_i(x;\xi)=\tfrac12x^\top(A_i+\mathrm{diag}\,\zeta)x-(b_i+\varepsilon)^\top x+\tfrac\rho4\sum_jx_j^4,
   \qquad \zeta\sim\mathcal N(0,s_\zeta^2I),\ \varepsilon\sim\mathcal N(0,s_\varepsilon^2I),

   \nabla f_i(x;\xi)=(A_i+\mathrm{diag}\,\zeta)x-b_i-\varepsilon+\rho x^{\odot3},\qquad
   \nabla^2f_i(x;\xi)=A_i+\mathrm{diag}\,\zeta+3\rho\,\mathrm{diag}(x^{\odot2}),

with :math:`f_i(x)=f_i(x;0)` (the noise has mean zero) and
:math:`A_i=Q_i\,\mathrm{diag}(e^{u_i})Q_i^\top`, :math:`u_{ij}\sim U[\log\frac12,\log2]`,
:math:`Q_i` Haar-orthogonal, :math:`b_i\sim\mathcal N(0,I)`. Defaults:
d = 10, n = 4, :math:`s_\zeta=0.5`, :math:`s_\varepsilon=1/\sqrt d`, ρ = 0 (Q) or 0.3 (Q4).

Constants
---------
Derived here (not from the papers). On the box :math:`\|x\|_\infty\le R` (``box``; Q's L, H are global):
:math:`L_i=\lambda_{\max}(A_i)+3\rho R^2`, :math:`L=\lambda_{\max}(\bar A)+3\rho R^2`,
:math:`H=H_i=6\rho R` (as :math:`\|3\rho\,\mathrm{diag}(x^2-y^2)\|\le3\rho\|x+y\|_\infty\|x-y\|`),
gradient variance :math:`\mathbb E\|\zeta\odot x-\varepsilon\|^2=s_\zeta^2\|x\|^2+d\,s_\varepsilon^2`
(:meth:`StochasticQuadratic.variance_at`; for the defaults :math:`0.25\|x\|^2+1`, growing with
:math:`\|x\|`), hence :math:`\sigma^2=d(s_\zeta^2R^2+s_\varepsilon^2)` on the box; Hessian noise
:math:`\sigma_H^2=\mathbb E\max_j\zeta_j^2` (computed by quadrature); mean-square stochastic
smoothness :math:`\ell^2=\max_iL_i^2+s_\zeta^2`.

Claims served: ``S000-T1`` … ``S000-T5`` (Q and Q4), ``S001-T2`` (Q); :class:`HomogeneousNoisyQuadratic` serves
``S001-EQ5``, ``S002-MIS`` and ``S002-Q``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special

from eftheory.validation import check_int, check_real

from ._common import Parametrised, as_direction, as_point, check_client

__all__ = ["StochasticQuadratic", "HomogeneousNoisyQuadratic", "problem_q", "problem_q4", "random_spd"]


def random_spd(rng: np.random.Generator, n: int, d: int, low: float = 0.5, high: float = 2.0) -> np.ndarray:
    r"""n matrices :math:`Q_i\mathrm{diag}(e^{u_i})Q_i^\top`, :math:`u\sim U[\log low,\log high]`, shape (n, d, d).

    Per matrix: a Gaussian (d, d) draw whose QR factor (signs fixed by diag R) is Q_i, then the d
    log-eigenvalues.
    """
    out = np.empty((n, d, d))
    for i in range(n):
        Q, R = np.linalg.qr(rng.standard_normal((d, d)))
        Q = Q * np.sign(np.diag(R))
        lam = np.exp(rng.uniform(math.log(low), math.log(high), size=d))
        out[i] = (Q * lam) @ Q.T
        out[i] = 0.5 * (out[i] + out[i].T)
    return out


def _expected_max_square(s: float, d: int) -> float:
    r""":math:`\mathbb E\max_{j\le d}\zeta_j^2` for i.i.d. :math:`\zeta_j\sim\mathcal N(0,s^2)`."""
    if s == 0.0:
        return 0.0
    tail = lambda u: 2.0 * u * (1.0 - special.erf(u / math.sqrt(2.0)) ** d)  # noqa: E731
    val, _ = integrate.quad(tail, 0.0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)
    return float(s * s * val)


class StochasticQuadratic(Parametrised):
    r"""Problems Q (ρ = 0) and Q4 (ρ > 0); formulas and constants in the module docstring.

    Attributes (float64 arrays; the batched engine reads them):

    * ``A`` (n, d, d) symmetric positive definite, ``b`` (n, d); ``A_mean``, ``b_mean``.
    * ``zeta_std`` (:math:`s_\zeta`), ``eps_std`` (:math:`s_\varepsilon`), ``rho`` (ρ).
    * A draw is one array of shape (2, d): row 0 is ζ, row 1 is ε (so draws stack).
    * ``x_star`` (minimiser of f), ``f_inf``, ``f_inf_lower``, ``f_i_inf`` (n,),
      ``f_i_inf_lower`` (n,), ``mu`` (:math:`\lambda_{\min}(\bar A)`, strong convexity of f).
    * ``box`` (∞-norm radius R of the region where the constants below hold), ``L``, ``L_i``,
      ``L_tilde``, ``L0`` (= max L_i), ``L1`` (= 0), ``H`` (= 0 for Q), ``ell``, ``sigma``,
      ``sigma_H``.

    Args:
        A: (n, d, d) symmetric positive-definite matrices. b: (n, d).
        zeta_std, eps_std: noise scales ≥ 0 (eps_std default 1/√d). rho: quartic weight ≥ 0.
        radius: box radius R > 0 (default :math:`\|x^\star\|_\infty+5`).

    Example:
        >>> p = problem_q(seed=0)
        >>> p.n_clients, p.dim, bool(np.allclose(p.grad(p.x_star), 0))
        (4, 10, True)

    Notes:
        ``f_inf`` is computed at a numerically found minimiser (a linear solve for Q, Newton's
        method for Q4). ``f_inf_lower`` subtracts the certificate
        :math:`\|\nabla f(\hat x)\|^2/(2\mu)` (valid by strong convexity) and a floating-point
        margin :math:`10^{-12}(1+|f(\hat x)|)`, so it is a rigorous lower bound up to rounding.
    """

    def __init__(self, A, b, *, zeta_std: float = 0.5, eps_std=None, rho: float = 0.0, radius=None):
        try:
            A = np.array(A, dtype=np.float64)
            b = np.array(b, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("A must be a real array of shape (n, d, d) and b of shape (n, d)") from None
        if A.ndim != 3 or A.shape[1] != A.shape[2] or A.shape[0] < 1 or A.shape[1] < 1:
            raise ValueError(f"A must have shape (n, d, d) with n, d >= 1; got {A.shape}")
        if b.shape != A.shape[:2]:
            raise ValueError(f"b must have shape (n, d) = {A.shape[:2]} to match A; got {b.shape}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise ValueError("A and b must be finite; got non-finite entries")
        if not np.allclose(A, np.swapaxes(A, 1, 2), rtol=0, atol=1e-12 * max(1.0, np.abs(A).max())):
            raise ValueError("A must hold symmetric matrices (A[i] == A[i].T)")
        self.n_clients, self.dim = A.shape[0], A.shape[1]
        d = self.dim
        eig_min = np.array([np.linalg.eigvalsh(Ai)[0] for Ai in A])
        if np.any(eig_min <= 0):
            raise ValueError(f"A must hold positive-definite matrices (smallest eigenvalue > 0); got {eig_min.min():g}")
        self.A, self.b = A, b
        self.A_mean, self.b_mean = A.mean(axis=0), b.mean(axis=0)
        self.zeta_std = check_real("zeta_std", zeta_std, low=0.0)
        self.eps_std = check_real("eps_std", 1.0 / math.sqrt(d) if eps_std is None else eps_std, low=0.0)
        self.rho = check_real("rho", rho, low=0.0)

        self.mu = float(np.linalg.eigvalsh(self.A_mean)[0])
        self.x_star = self._minimise(self.A_mean, self.b_mean)
        self.f_inf = self.f(self.x_star)
        self.f_inf_lower = self._lower(self.f_inf, self.grad(self.x_star), self.mu)
        self.f_i_inf = np.empty(self.n_clients)
        self.f_i_inf_lower = np.empty(self.n_clients)
        for i in range(self.n_clients):
            xi_star = self._minimise(A[i], b[i])
            self.f_i_inf[i] = self.f_i(i, xi_star)
            self.f_i_inf_lower[i] = self._lower(self.f_i_inf[i], self.grad_i(i, xi_star), eig_min[i])

        R = float(np.max(np.abs(self.x_star))) + 5.0 if radius is None else check_real(
            "radius", radius, low=0.0, low_open=True)
        self.box = R
        quart = 3.0 * self.rho * R * R
        self.L_i = np.array([np.linalg.eigvalsh(Ai)[-1] for Ai in A]) + quart
        self.L = float(np.linalg.eigvalsh(self.A_mean)[-1]) + quart
        self.L_tilde = float(np.sqrt(np.mean(self.L_i ** 2)))
        self.L0 = float(self.L_i.max())
        self.L1 = 0.0
        self.H = self.H_on_box(R)
        self.H_i = np.full(self.n_clients, self.H)
        self.ell = float(math.sqrt(self.L_i.max() ** 2 + self.zeta_std ** 2))
        self.sigma = float(math.sqrt(d * (self.zeta_std ** 2 * R * R + self.eps_std ** 2)))
        self.sigma_H = math.sqrt(_expected_max_square(self.zeta_std, d))

    # ----------------------------------------------------------------- helpers
    def _minimise(self, A, b) -> np.ndarray:
        x = np.linalg.solve(A, b)
        if self.rho == 0.0:
            return x

        def phi(z):
            return 0.5 * z @ A @ z - b @ z + 0.25 * self.rho * np.sum(z ** 4)

        def grad(z):
            return A @ z - b + self.rho * z ** 3

        for _ in range(200):                       # damped Newton on a strongly convex function
            g = grad(x)
            step = np.linalg.solve(A + np.diag(3.0 * self.rho * x * x), g)
            # A step is taken when it lowers f or, close to the minimiser where the change of
            # f is below rounding, when it lowers the gradient norm.
            f_x, g_norm = phi(x), np.linalg.norm(g)
            t = 1.0
            while phi(x - t * step) > f_x and np.linalg.norm(grad(x - t * step)) >= g_norm and t > 1e-12:
                t *= 0.5
            x = x - t * step
            if np.linalg.norm(step) <= 1e-15 * max(1.0, np.linalg.norm(x)) or t <= 1e-12:
                break
        return x

    @staticmethod
    def _lower(value: float, g: np.ndarray, mu: float) -> float:
        return float(value - g @ g / (2.0 * mu) - 1e-12 * (1.0 + abs(value)))

    def H_on_box(self, radius: float) -> float:
        r"""Hessian-Lipschitz constant :math:`6\rho R` of every :math:`f_i` and of f on :math:`\|x\|_\infty\le R`."""
        radius = check_real("radius", radius, low=0.0)
        return 6.0 * self.rho * radius

    def L_on_box(self, radius: float) -> float:
        r"""Smoothness of f on :math:`\|x\|_\infty\le R`: :math:`\lambda_{\max}(\bar A)+3\rho R^2`."""
        radius = check_real("radius", radius, low=0.0)
        return float(np.linalg.eigvalsh(self.A_mean)[-1]) + 3.0 * self.rho * radius * radius

    def _parts(self, xi):
        if xi is None:
            return 0.0, 0.0
        z = np.asarray(xi, dtype=np.float64)
        if z.shape != (2, self.dim):
            raise ValueError(f"xi must be None or an array of shape (2, d) = (2, {self.dim}) holding (zeta, eps); "
                             f"got {z.shape}")
        return z[0], z[1]

    # ----------------------------------------------------------------- oracles
    def sample(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """One draw (ζ, ε) as an array of shape (2, d): ``rng.standard_normal((2, d))`` scaled by row."""
        check_client(i, self.n_clients)
        z = rng.standard_normal((2, self.dim))
        z[0] *= self.zeta_std
        z[1] *= self.eps_std
        return z

    def f_i(self, i: int, x, xi=None) -> float:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        zeta, eps = self._parts(xi)
        return float(0.5 * x @ (self.A[i] @ x) + 0.5 * np.sum(zeta * x * x) - (self.b[i] + eps) @ x
                     + 0.25 * self.rho * np.sum(x ** 4))

    def grad_i(self, i: int, x, xi=None) -> np.ndarray:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        zeta, eps = self._parts(xi)
        return self.A[i] @ x + zeta * x - self.b[i] - eps + self.rho * x ** 3

    def hvp_i(self, i: int, x, v, xi=None) -> np.ndarray:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        v = as_direction(v, self.dim)
        zeta, _ = self._parts(xi)
        return self.A[i] @ v + (zeta + 3.0 * self.rho * x * x) * v

    def hess_i(self, i: int, x, xi=None) -> np.ndarray:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        zeta, _ = self._parts(xi)
        return self.A[i] + np.diag(zeta + 3.0 * self.rho * x * x)

    def f(self, x) -> float:
        x = as_point(x, self.dim)
        return float(0.5 * x @ (self.A_mean @ x) - self.b_mean @ x + 0.25 * self.rho * np.sum(x ** 4))

    def grad(self, x) -> np.ndarray:
        x = as_point(x, self.dim)
        return self.A_mean @ x - self.b_mean + self.rho * x ** 3

    def hess(self, x) -> np.ndarray:
        x = as_point(x, self.dim)
        return self.A_mean + np.diag(3.0 * self.rho * x * x)

    # ------------------------------------------------------------- constants
    def variance_at(self, x) -> np.ndarray:
        r"""Exact :math:`\mathbb E\|\nabla f_i(x;\xi)-\nabla f_i(x)\|^2=s_\zeta^2\|x\|^2+d\,s_\varepsilon^2`, shape (n,)."""
        x = as_point(x, self.dim)
        return np.full(self.n_clients, self.zeta_std ** 2 * float(x @ x) + self.dim * self.eps_std ** 2)

    def delta_inf_upper(self, x_best=None) -> float:
        r""":math:`\delta^{\inf}=f^{\inf}-\frac1n\sum_if_i^{\inf}` (computed, up to the margins of ``f_inf_lower``)."""
        return float(self.f_inf - np.mean(self.f_i_inf_lower))

    def __repr__(self) -> str:
        return (f"StochasticQuadratic(n={self.n_clients}, d={self.dim}, zeta_std={self.zeta_std:g}, "
                f"eps_std={self.eps_std:g}, rho={self.rho:g})")


def problem_q(seed: int = 0, d: int = 10, n: int = 4, *, zeta_std: float = 0.5, eps_std=None,
              rho: float = 0.0, radius=None, eig_low: float = 0.5, eig_high: float = 2.0) -> StochasticQuadratic:
    r"""Problem Q: draws ``A = random_spd(rng, n, d)`` then ``b = rng.standard_normal((n, d))`` from ``default_rng(seed)``.

    Example:
        >>> problem_q(seed=3, d=5, n=2).A.shape
        (2, 5, 5)
    """
    d = check_int("d", d, low=1)
    n = check_int("n", n, low=1)
    eig_low = check_real("eig_low", eig_low, low=0.0, low_open=True)
    eig_high = check_real("eig_high", eig_high, low=eig_low)
    rng = np.random.default_rng(seed)
    A = random_spd(rng, n, d, eig_low, eig_high)
    b = rng.standard_normal((n, d))
    return StochasticQuadratic(A, b, zeta_std=zeta_std, eps_std=eps_std, rho=rho, radius=radius)


def problem_q4(seed: int = 0, d: int = 10, n: int = 4, *, zeta_std: float = 0.5, eps_std=None,
               rho: float = 0.3, radius=None, eig_low: float = 0.5, eig_high: float = 2.0) -> StochasticQuadratic:
    r"""Problem Q4: problem Q (same draws for the same seed) plus :math:`\frac\rho4\sum_jx_j^4`, ρ = 0.3.

    Example:
        >>> problem_q4(seed=0).rho
        0.3
    """
    return problem_q(seed, d, n, zeta_std=zeta_std, eps_std=eps_std, rho=rho, radius=radius,
                     eig_low=eig_low, eig_high=eig_high)


class HomogeneousNoisyQuadratic(Parametrised):
    r"""n identical clients :math:`f_i(x;\xi)=\tfrac12x^\top Hx-(b+\varepsilon)^\top x`, :math:`\varepsilon\sim\mathcal N(0,\sigma^2I/d)`.

    H diagonal with entries log-spaced in [h_min, h_max], b ~ N(0, I) from ``seed``; every client holds
    the same f, so the heterogeneity gap is 0 and :math:`\mathbb E\|\nabla f_i(x;\xi)-\nabla f(x)\|^2=\sigma^2`.
    ``shared_noise=True`` gives every client the same draw in an iteration (noise not averaged over n).
    """

    def __init__(self, n: int = 4, d: int = 10, sigma: float = 1.0, seed: int = 0, h_min: float = 0.5,
                 h_max: float = 2.0, shared_noise: bool = False):
        self.n_clients, self.dim = int(n), int(d)
        self.sigma = float(sigma)
        rng = np.random.default_rng(seed)
        self.h = np.exp(np.linspace(np.log(h_min), np.log(h_max), d))
        self.b = rng.standard_normal(d)
        self.x_star = self.b / self.h
        self.f_inf = float(-0.5 * self.b @ self.x_star)
        self.L = float(h_max)
        self.shared_noise = bool(shared_noise)
        self._shared = None

    def f(self, x):
        x = np.asarray(x, dtype=np.float64)
        return float(0.5 * x @ (self.h * x) - self.b @ x)

    def f_i(self, i, x):
        return self.f(x)

    def grad(self, x):
        return self.h * np.asarray(x, dtype=np.float64) - self.b

    def sample(self, i, rng):
        if self.shared_noise:
            if i == 0:
                self._shared = rng.standard_normal(self.dim) * self.sigma / math.sqrt(self.dim)
            else:
                rng.standard_normal(self.dim)      # keep the stream's consumption independent of the flag
            return self._shared.copy()
        return rng.standard_normal(self.dim) * self.sigma / math.sqrt(self.dim)

    def grad_i(self, i, x, xi=None):
        g = self.grad(x)
        return g if xi is None else g - xi

    def hvp_i(self, i, x, v, xi=None):
        return self.h * np.asarray(v, dtype=np.float64)
