r"""A linear objective with additive Gaussian gradient noise (the appendix lemmas of [002]).

Definition
----------
n identical workers with :math:`F(x)=f_i(x)=\langle\mathbf 1,x\rangle` on :math:`\mathbb R^d` and the
stochastic gradient :math:`\nabla f_i(x;\xi)=\mathbf 1+s\,\xi`, :math:`\xi\sim\mathcal N(0,I_d)`.

Constants
---------
:math:`\nabla F\equiv\mathbf 1`, so :math:`\|\nabla F(x)\|^2=d` at every point: the gradient bound of
[002]'s lemmas is :math:`M^2=d` (attained everywhere); gradient variance
:math:`\mathbb E\|\nabla f_i(x;\xi)-\nabla F(x)\|^2=s^2d` (``sigma2``); L = 0 (no curvature); F is
unbounded below (no minimiser), which the lemmas do not need.

Claims served: ``S002-AL1``, ``S002-AL2``, ``S002-AL5`` (their controls with the exact M^2 and sigma^2).
"""

from __future__ import annotations

import numpy as np

from ._common import Parametrised

__all__ = ["NoisyLinear"]


class NoisyLinear(Parametrised):
    r"""n identical workers with F(x) = <1, x> and gradient noise s N(0, I): constant grad F, M^2 = d.

    Attributes: ``dim`` = d, ``n_clients`` = n, ``s`` (noise scale per coordinate),
    ``sigma2`` = :math:`s^2 d` (the gradient variance). A draw is :math:`\xi\sim\mathcal N(0, I_d)`.

    Args:
        d: dimension (default 10). n: number of workers (default 2). s: noise scale (default 0.1).

    Example:
        >>> p = NoisyLinear(d=3, n=2, s=0.5)
        >>> p.grad_i(0, np.zeros(3)), p.sigma2
        (array([1., 1., 1.]), 0.75)
    """

    def __init__(self, d=10, n=2, s=0.1):
        self.dim, self.n_clients, self.s = d, n, s
        self.sigma2 = s * s * d

    def f(self, x):
        return float(np.sum(x))

    def f_i(self, i, x, xi=None):
        return self.f(x)

    def sample(self, i, rng):
        return rng.standard_normal(self.dim)

    def grad_i(self, i, x, xi=None):
        g = np.ones(self.dim)
        return g if xi is None else g + self.s * xi
