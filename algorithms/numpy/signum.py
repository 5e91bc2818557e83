r"""Signum: sign of an exponential moving average of stochastic gradients (Bernstein et al. 2018).

Problem and assumptions: :math:`\min_x f(x) = \mathbb E_\xi f(x;\xi)`; the original analysis
needs separable smoothness and growing batches.

Method: Signum, a centralized baseline of Jiang et al. [003].

Metric: :math:`\frac1T\sum_t \mathbb E\|\nabla f(x_t)\|_1`.

.. math::

    m_t = \beta m_{t-1} + (1-\beta)\,\nabla f(x_t; \xi_t),\quad m_0 = 0,\qquad
    x_{t+1} = x_t - \eta\,\mathrm{sign}(m_t).

Guarantee: baseline only (no claim of [003] is about Signum itself).

Args (through :func:`algorithms.run`; ``compressor`` must be None):
    stepsize: :math:`\eta`.
    momentum: :math:`\beta \in (0, 1)`, the weight of the *previous* momentum (Signum's own
        convention; the opposite of SMM's :math:`\beta`). :math:`\beta = 1` is rejected.
    sign_zero: value of sign(0), one of -1, 0 (default), 1.

Returns:
    :class:`algorithms.Result`; ``momentum`` holds :math:`\beta` per step.

Example::

    >>> res = algorithms.run("signum", problem, None, x0, 100, stepsize=1e-2,
    ...                      momentum=0.9)                                  # doctest: +SKIP

Notes:
    * :math:`m_0 = 0`, so the first step is :math:`\mathrm{sign}((1-\beta) g_1) = \mathrm{sign}(g_1)`.
    * With n > 1 clients the gradient is the average of one stochastic gradient per client.
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["signum"]


@register("signum")              # needs, options and defaults, momentum, paper: the method card
def signum(problem, compressor, x0, iters, *, stepsize, momentum, seed=0, **options):
    """Signum; see the module docstring. Options: ``sign_zero`` (default on the card)."""
    o = card("signum").fill(options)
    return run_sign_loop("signum", problem, x0, iters, stepsize=stepsize, momentum=momentum,
                         seed=seed, estimator="signum", uplink="none", downlink="none",
                         options=o, sign_zero=o["sign_zero"])
