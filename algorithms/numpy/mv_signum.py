r"""Signum with majority vote (Bernstein et al. 2019).

Problem and assumptions: :math:`\min_x f(x) = \frac1n\sum_j f_j(x)` on n nodes; the original
analysis assumes unimodal symmetric noise.

Method: each node keeps Signum's momentum and votes with its sign; 003 eq. (8) is this
double-sign rule.

Metric: :math:`\frac1T\sum_t \mathbb E\|\nabla f(x_t)\|_1`.

.. math::

    m_t^j = \beta m_{t-1}^j + (1-\beta)\nabla f_j(x_t;\xi_t^j),\ m_0^j = 0,\qquad
    x_{t+1} = x_t - \eta\,\mathrm{sign}\Big(\sum_j \mathrm{sign}(m_t^j)\Big).

Guarantee: baseline only.

Args (through :func:`algorithms.run`; ``compressor`` must be None):
    stepsize: :math:`\eta`.
    momentum: :math:`\beta \in (0, 1)`, the weight of the previous momentum (Signum's convention).
    sign_zero: value of a node's sign(0), one of -1, 0 (default), 1.
    ties: ``"zero"`` (default) or ``"plus"`` for an exactly-zero vote sum (counted in
        ``diagnostics["ties"]``).

Returns:
    :class:`algorithms.Result`.

Example::

    >>> res = algorithms.run("mv-signum", problem, None, x0, 100, stepsize=1e-2,
    ...                      momentum=0.9)                                  # doctest: +SKIP

Notes:
    * Bits: d per node up and d down.
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["mv_signum"]


@register("mv-signum")           # needs, options and defaults, momentum, paper: the method card
def mv_signum(problem, compressor, x0, iters, *, stepsize, momentum, seed=0, **options):
    """Majority-vote Signum; see the module docstring. Options: ``sign_zero``, ``ties`` (the card)."""
    o = card("mv-signum").fill(options)
    return run_sign_loop("mv-signum", problem, x0, iters, stepsize=stepsize, momentum=momentum,
                         seed=seed, estimator="signum", uplink="sign", downlink="sign",
                         options=o, sign_zero=o["sign_zero"], ties=o["ties"])
