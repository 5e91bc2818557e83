r"""Problems for the sign-based methods with momentum (SMM, MVSM).

Problem and assumptions
-----------------------
:class:`SeparableQuadratic` -- centralized (n = 1):
:math:`f(x)=\frac12\sum_jh_jx_j^2`, stochastic gradient :math:`h\odot x+\xi` with additive
Gaussian noise. It is l2-smooth (A-L), separable-smooth (A-sep) with :math:`L_j=h_j`,
l∞-smooth (A-ℓ∞) with :math:`L_\infty=\|h\|_1`, has bounded variance (A-σ) and per-coordinate
variance (A-σsep).

:class:`HeterogeneousSignProblem` -- distributed (n nodes), heterogeneous by linear shifts:
:math:`f_j(x)=\frac12\sum_kh_kx_k^2+c_j^\top x` with :math:`\sum_jc_j=0`, so
:math:`f=\frac12\sum_kh_kx_k^2` and :math:`f^{\inf}=0` at x = 0; bounded uniform noise, so the
stochastic gradients are bounded on every box (A-G, needed by the stochastic sign :math:`S_G`).

Definition
----------
.. math::

   \text{separable: } \nabla f(x;\xi)=h\odot x+\xi,\ \ \xi\sim\mathcal N\bigl(0,\tfrac{s^2}dI\bigr);\qquad
   \text{heterogeneous: } \nabla f_j(x;\xi)=h\odot x+c_j+\xi,\ \ \xi\sim U[-a,a]^d.

Constants
---------
Derived here (not from the papers); names follow Jiang et al. [003] (A1–A9):
separable: :math:`L=\max_jh_j`, :math:`L_j=h_j`, :math:`L_\infty=\|h\|_1` (Lemma 1 of [003]),
:math:`\sigma=s`, :math:`\sigma_j=s/\sqrt d`, :math:`\|\boldsymbol\sigma\|_1=s\sqrt d`.
Heterogeneous: L as above for every :math:`f_j`, :math:`\sigma^2=da^2/3`,
:math:`G(R)=\max_{j,k}(h_kR+|c_{jk}|)+a` bounds :math:`\|\nabla f_j(x;\xi)\|_\infty` on
:math:`\|x\|_\infty\le R` (attained at a corner of the box and of the noise support).

Claims served: ``S003-T1``, ``S003-T2`` (separable), ``S003-T3`` … ``S003-T5`` (heterogeneous).
"""

from __future__ import annotations

import math

import numpy as np

from eftheory.validation import check_choice, check_int, check_real

from ._common import Parametrised, as_direction, as_point, check_client

__all__ = ["SeparableQuadratic", "HeterogeneousSignProblem", "NOISE_LAWS"]

#: noise laws of :class:`SeparableQuadratic`: Gaussian, or a zero-mean two-point law with skew
NOISE_LAWS = ("normal", "skewed")
#: noise laws of :class:`HeterogeneousSignProblem`
HETEROGENEOUS_NOISE_LAWS = ("uniform", "skewed")
#: the skewed law per coordinate, in units of sigma_j: +3 with probability 0.1, -1/3 otherwise
#: (mean 0.1*3 - 0.9/3 = 0, variance 0.1*9 + 0.9/9 = 1)
SKEW_P, SKEW_HIGH, SKEW_LOW = 0.1, 3.0, -1.0 / 3.0


def _curvatures(h, d: int, rng: np.random.Generator) -> np.ndarray:
    if h is None:
        return rng.uniform(0.5, 2.0, size=d)
    try:
        h = np.array(h, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"h must be a vector of d={d} curvatures > 0; got {type(h).__name__}") from None
    if h.shape != (d,):
        raise ValueError(f"h must have shape (d,) = ({d},); got {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError("h must hold finite curvatures in (0, inf)")
    return h


class _DiagonalQuadratic(Parametrised):
    r"""The deterministic part :math:`f(x)=\tfrac12\sum_j h_j x_j^2` shared by the sign-method problems."""

    dim: int
    h: np.ndarray

    def f(self, x) -> float:
        x = as_point(x, self.dim)
        return float(0.5 * np.sum(self.h * x * x))

    def grad(self, x) -> np.ndarray:
        return self.h * as_point(x, self.dim)

    def hess(self, x) -> np.ndarray:
        as_point(x, self.dim)
        return np.diag(self.h)


class SeparableQuadratic(_DiagonalQuadratic):
    r"""Separable quadratic with additive gradient noise (Gaussian or skewed) of total variance ``noise_std**2``.

    Attributes: ``dim`` = d, ``n_clients`` = 1, ``h`` (d,) curvatures (default
    :math:`U[0.5,2]^d` from ``default_rng(seed)``), ``noise_std`` (s), ``L`` (= max h),
    ``L_vec`` (= h), ``L_inf`` (= ‖h‖₁), ``L_i`` = array([L]), ``L_tilde`` = L, ``sigma`` (= s),
    ``sigma_vec`` (d,) (= s/√d each), ``f_inf`` = ``f_inf_lower`` = 0, ``x_star`` = 0.
    A draw is the noise vector ξ itself, shape (d,); the stochastic function is
    :math:`f(x;\xi)=f(x)+\xi^\top x`.

    Args:
        d: dimension ≥ 1. h: curvatures (d,), each > 0 (default random in [0.5, 2]).
        noise_std: s ≥ 0 (default 1: total variance 1). seed: seed of the curvature draw.
        noise: ``"normal"`` (default) or ``"skewed"`` (the zero-mean two-point law of :meth:`sample`,
            where plain signSGD stalls: its sign step has a nonzero mean at the minimiser).

    Example:
        >>> p = SeparableQuadratic(4, seed=0)
        >>> bool(np.isclose(p.L_inf, p.h.sum())), p.sigma
        (True, 1.0)
    """

    n_clients = 1

    def __init__(self, d: int, h=None, noise_std: float = 1.0, seed: int = 0, noise: str = "normal"):
        self.dim = check_int("d", d, low=1)
        self.noise = check_choice("noise", noise, NOISE_LAWS)
        self.h = _curvatures(h, self.dim, np.random.default_rng(seed))
        self.noise_std = check_real("noise_std", noise_std, low=0.0)
        self.L = float(self.h.max())
        self.L_vec = self.h.copy()
        self.L_inf = float(self.h.sum())
        self.L_i = np.array([self.L])
        self.L_tilde = self.L
        self.sigma = self.noise_std
        self.sigma_vec = np.full(self.dim, self.noise_std / math.sqrt(self.dim))
        self.f_inf = 0.0
        self.f_inf_lower = 0.0
        self.f_i_inf_lower = np.zeros(1)
        self.x_star = np.zeros(self.dim)

    def _noise(self, xi):
        if xi is None:
            return 0.0
        z = np.asarray(xi, dtype=np.float64)
        if z.shape != (self.dim,):
            raise ValueError(f"xi must be None or a noise vector of shape (d,) = ({self.dim},); got {z.shape}")
        return z

    def sample(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """ξ = ``rng.standard_normal(d) * noise_std / sqrt(d)`` (``noise="normal"``) or, for
        ``noise="skewed"``, ``where(rng.random(d) < 0.1, 3, -1/3) * noise_std / sqrt(d)``: zero mean,
        the same variance, median -1/3 (per coordinate), so ``sign(g + ξ)`` is biased where g is small."""
        check_client(i, 1)
        scale = self.noise_std / math.sqrt(self.dim)
        if self.noise == "skewed":
            return np.where(rng.random(self.dim) < SKEW_P, SKEW_HIGH, SKEW_LOW) * scale
        return rng.standard_normal(self.dim) * scale

    def f_i(self, i: int, x, xi=None) -> float:
        check_client(i, 1)
        return self.f(x) + float(np.sum(self._noise(xi) * as_point(x, self.dim)))

    def grad_i(self, i: int, x, xi=None) -> np.ndarray:
        check_client(i, 1)
        return self.grad(x) + self._noise(xi)

    def hvp_i(self, i: int, x, v, xi=None) -> np.ndarray:
        check_client(i, 1)
        as_point(x, self.dim)
        return self.h * as_direction(v, self.dim)

    def hess_i(self, i: int, x, xi=None) -> np.ndarray:
        check_client(i, 1)
        return self.hess(x)

    def variance_at(self, x) -> np.ndarray:
        """Exact gradient variance ``noise_std**2`` (independent of x), shape (1,)."""
        as_point(x, self.dim)
        return np.array([self.noise_std ** 2])

    def delta_inf_upper(self, x_best=None) -> float:
        return 0.0

    def __repr__(self) -> str:
        law = "" if self.noise == "normal" else f", noise={self.noise!r}"
        return f"SeparableQuadratic(d={self.dim}, noise_std={self.noise_std:g}{law})"


class HeterogeneousSignProblem(_DiagonalQuadratic):
    r"""n nodes sharing the curvature h, with zero-sum linear shifts :math:`c_j` and uniform noise.

    Attributes: ``dim``, ``n_clients``, ``h`` (d,), ``c`` (n, d) with ``c.sum(axis=0) == 0``
    (drawn :math:`U[-s,s]` then centred over the nodes, s = ``shift``), ``noise_half_width`` (a),
    ``L`` (= max h, every :math:`f_j` and f), ``L_i`` (n,), ``L_tilde``, ``L_vec`` = h,
    ``L_inf`` = ‖h‖₁, ``sigma`` (= a√(d/3) per node), ``sigma_vec`` (= a/√3 each),
    ``box`` (∞-norm radius R), ``G`` (= ``G_on_box(box)``), ``f_inf`` = 0 (at x = 0),
    ``f_i_inf`` (n,) = :math:`-\frac12\sum_kc_{jk}^2/h_k`, ``f_i_inf_lower`` (= ``f_i_inf``),
    ``x_star`` = 0. A draw is the noise vector ξ, shape (d,).

    Args:
        d: dimension ≥ 1. n: nodes ≥ 1. seed: seed of h and c. h: curvatures (default U[0.5,2]).
        shift: s ≥ 0. noise_half_width: a ≥ 0. box: R > 0 (default 4).
        noise: ``"uniform"`` (default, ξ ~ U[-a, a]^d) or ``"skewed"``: per coordinate the
            zero-mean two-point law of :class:`SeparableQuadratic` with the same variance a²/3
            (+3σ_j with probability 0.1, -σ_j/3 otherwise, σ_j = a/√3), so no entry exceeds √3 a in size.

    Example:
        >>> p = HeterogeneousSignProblem(d=16, n=4, seed=0)
        >>> bool(np.allclose(p.c.sum(axis=0), 0)), p.G == p.G_on_box(p.box)
        (True, True)

    Notes:
        With n = 1 the shift is zero (a single centred shift). The noise is bounded, so A-G holds
        with the G above; the methods using :math:`S_G` must keep their iterates in the box.
    """

    def __init__(self, d: int = 16, n: int = 4, seed: int = 0, *, h=None, shift: float = 1.0,
                 noise_half_width: float = 1.0, box: float = 4.0, noise: str = "uniform"):
        self.dim = check_int("d", d, low=1)
        self.n_clients = check_int("n", n, low=1)
        self.noise = check_choice("noise", noise, HETEROGENEOUS_NOISE_LAWS)
        rng = np.random.default_rng(seed)
        self.h = _curvatures(h, self.dim, rng)
        self.shift = check_real("shift", shift, low=0.0)
        c = rng.uniform(-self.shift, self.shift, size=(self.n_clients, self.dim))
        self.c = c - c.mean(axis=0)
        self.noise_half_width = check_real("noise_half_width", noise_half_width, low=0.0)
        self.box = check_real("box", box, low=0.0, low_open=True)
        self.L = float(self.h.max())
        self.L_i = np.full(self.n_clients, self.L)
        self.L_tilde = self.L
        self.L_vec = self.h.copy()
        self.L_inf = float(self.h.sum())
        a = self.noise_half_width
        self.sigma = a * math.sqrt(self.dim / 3.0)
        self.sigma_vec = np.full(self.dim, a / math.sqrt(3.0))
        self.G = self.G_on_box(self.box)
        self.f_inf = 0.0
        self.f_inf_lower = 0.0
        self.f_i_inf = -0.5 * np.sum(self.c ** 2 / self.h, axis=1)
        self.f_i_inf_lower = self.f_i_inf.copy()
        self.x_star = np.zeros(self.dim)

    def G_on_box(self, radius: float) -> float:
        r""":math:`\sup\{\|\nabla f_j(x;\xi)\|_\infty:\|x\|_\infty\le R,\ \xi\in[-a,a]^d,\ j\}=\max_{j,k}(h_kR+|c_{jk}|)+a`."""
        radius = check_real("radius", radius, low=0.0)
        return float(np.max(self.h * radius + np.abs(self.c)) + self.noise_bound)

    @property
    def noise_scale(self) -> float:
        """The unit of the skewed law, σ_k = a/√3 per coordinate (the uniform law's standard deviation)."""
        return self.noise_half_width / math.sqrt(3.0)

    @property
    def noise_bound(self) -> float:
        r""":math:`\sup|\xi_k|`: a (uniform) or 3σ_k = √3 a (skewed)."""
        return self.noise_half_width if self.noise == "uniform" else SKEW_HIGH * self.noise_scale

    def _noise(self, xi):
        if xi is None:
            return 0.0
        z = np.asarray(xi, dtype=np.float64)
        if z.shape != (self.dim,):
            raise ValueError(f"xi must be None or a noise vector of shape (d,) = ({self.dim},); got {z.shape}")
        return z

    def sample(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """ξ = ``rng.uniform(-a, a, size=d)``, or for ``noise="skewed"``
        ``where(rng.random(d) < 0.1, 3, -1/3) * a / sqrt(3)``."""
        check_client(i, self.n_clients)
        a = self.noise_half_width
        if self.noise == "skewed":
            return np.where(rng.random(self.dim) < SKEW_P, SKEW_HIGH, SKEW_LOW) * self.noise_scale
        return rng.uniform(-a, a, size=self.dim)

    def f_i(self, i: int, x, xi=None) -> float:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        return float(0.5 * np.sum(self.h * x * x) + (self.c[i] + self._noise(xi)) @ x)

    def grad_i(self, i: int, x, xi=None) -> np.ndarray:
        i = check_client(i, self.n_clients)
        return self.h * as_point(x, self.dim) + self.c[i] + self._noise(xi)

    def hvp_i(self, i: int, x, v, xi=None) -> np.ndarray:
        check_client(i, self.n_clients)
        as_point(x, self.dim)
        return self.h * as_direction(v, self.dim)

    def hess_i(self, i: int, x, xi=None) -> np.ndarray:
        check_client(i, self.n_clients)
        return self.hess(x)

    def variance_at(self, x) -> np.ndarray:
        r"""Exact variance :math:`da^2/3` of every node's stochastic gradient, shape (n,)."""
        as_point(x, self.dim)
        return np.full(self.n_clients, self.dim * self.noise_half_width ** 2 / 3.0)

    def delta_inf_upper(self, x_best=None) -> float:
        r"""Exact :math:`\delta^{\inf}=f^{\inf}-\frac1n\sum_jf_j^{\inf}=\frac1{2n}\sum_{j,k}c_{jk}^2/h_k`."""
        return float(self.f_inf - np.mean(self.f_i_inf))

    def __repr__(self) -> str:
        law = "" if self.noise == "uniform" else f", noise={self.noise!r}"
        return f"HeterogeneousSignProblem(d={self.dim}, n={self.n_clients}, G={self.G:g}{law})"
