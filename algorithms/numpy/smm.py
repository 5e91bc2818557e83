r"""SMM: signSGD with momentum (Jiang, Yu, Yang, Yang, Zhang [003], Algorithm 1).

Problem and assumptions: :math:`\min_x f(x) = \mathbb E_\xi f(x;\xi)`, f bounded below
(:math:`\Delta_f = f(x_1) - \inf f`). Theorem 1: f is L-smooth in l2 (A2) and the noise has
variance at most :math:`\sigma^2` (A4). Theorem 2: f is :math:`L_\infty`-smooth
(:math:`\|\nabla f(x) - \nabla f(y)\|_1 \le L_\infty\|x-y\|_\infty`, A3) and the noise is
coordinatewise bounded by :math:`\sigma_i` (A5). No large batches, no unimodal noise.

Method: sign-based momentum method (SMM).

Metric and bound: :math:`A_1 = \frac1T\sum_{t=1}^T\mathbb E\|\nabla f(x_t)\|_1`.

.. math::

    v_1 = \nabla f(x_1;\xi_1),\qquad v_t = (1-\beta)\,v_{t-1} + \beta\,\nabla f(x_t;\xi_t)\ (t\ge2),
    \qquad x_{t+1} = x_t - \eta\,\mathrm{sign}(v_t).

Guarantee (upper): Jiang et al. [003], Theorem 1: with :math:`\beta = T^{-1/2}`,
:math:`\eta = d^{-1/2}T^{-3/4}` [R], :math:`A_1 = O(d^{1/2}(L + \Delta_f + \sigma)T^{-1/4})`;
Theorem 2: with :math:`\beta = T^{-1/2}`, :math:`\eta \propto T^{-3/4}` [R],
:math:`A_1 = O(T^{-1/4})` with constants :math:`L_\infty`, :math:`\|\boldsymbol\sigma\|_1`.
Pathwise ingredient: :math:`f(x_{t+1}) \le f(x_t) - \eta\|\nabla f(x_t)\|_1 +
2\eta\|\nabla f(x_t) - v_t\|_1 + \frac L2\eta^2 d` (see :mod:`eftheory.lyapunov.sign`).

Claims: ``S003-T1``, ``S003-T2``, ``S003-L1`` (problem side).

Args (through :func:`algorithms.run`; ``compressor`` must be None):
    stepsize: :math:`\eta`.
    momentum: :math:`\beta \in (0, 1]` (required).
    momentum_convention: ``"new_weight"`` (default; :math:`\beta` weighs the new gradient, as
        above) or ``"old_weight"`` (:math:`v_t = \beta v_{t-1} + (1-\beta) g_t`).
    sign_zero: value of sign(0), one of -1, 0 (default), 1.

Returns:
    :class:`algorithms.Result`; ``diagnostics["estimate"][k, 0]`` is :math:`v_t` of step k.

Example::

    >>> T = 1000
    >>> res = algorithms.run("smm", problem, None, x0, T, stepsize=T ** -0.75 / d ** 0.5,
    ...                      momentum=T ** -0.5)                            # doctest: +SKIP

Notes:
    * Indexing: step k = 0..K-1 is 003's t = k + 1; :math:`x^0 = x_1`.
    * The convention "beta = weight of the new gradient" is reconstructed [R] (the text only
      calls beta the momentum parameter); it is the one compatible with
      :math:`\beta = T^{-1/2} \to 0`.
    * With n > 1 clients, :math:`\nabla f(x_t;\xi_t)` is the average of one stochastic gradient
      per client.
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["smm"]


@register("smm")                 # needs, options and defaults, momentum, paper: the method card
def smm(problem, compressor, x0, iters, *, stepsize, momentum, seed=0, **options):
    """SMM; see the module docstring. Options: ``momentum_convention``, ``sign_zero`` (the card)."""
    o = card("smm").fill(options)
    return run_sign_loop("smm", problem, x0, iters, stepsize=stepsize, momentum=momentum,
                         seed=seed, estimator="smm", uplink="none", downlink="none",
                         options=o, sign_zero=o["sign_zero"], momentum_convention=o["momentum_convention"])
