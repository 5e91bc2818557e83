r"""signSGD with majority vote (Bernstein et al. 2018/2019).

Problem and assumptions: :math:`\min_x f(x) = \frac1n\sum_j f_j(x)` on n nodes with stochastic
gradient oracles; the original analysis assumes unimodal symmetric noise and homogeneous data.

Method: majority-vote signSGD, a distributed baseline of Jiang et al. [003] (their eq. (8)
with the raw gradient as estimator).

Metric: :math:`\frac1T\sum_t \mathbb E\|\nabla f(x_t)\|_1`.

.. math::

    x_{t+1} = x_t - \eta\,\mathrm{sign}\Big(\sum_{j=1}^n \mathrm{sign}\big(\nabla f_j(x_t;\xi_t^j)\big)\Big).

Guarantee: baseline only; with heterogeneous data it need not converge (the motivation of
the stochastic sign in [003]).

Args (through :func:`algorithms.run`; ``compressor`` and ``momentum`` must be None):
    stepsize: :math:`\eta`.
    sign_zero: value of a node's sign(0), one of -1, 0 (default), 1.
    ties: ``"zero"`` (default; a coordinate whose vote sum is exactly 0 does not move) or
        ``"plus"`` (it moves by :math:`-\eta`). Ties are counted in ``diagnostics["ties"]``.

Returns:
    :class:`algorithms.Result`; ``diagnostics["u"]`` holds the mean vote.

Example::

    >>> res = algorithms.run("mv-signsgd", problem, None, x0, 100, stepsize=1e-2)  # doctest: +SKIP

Notes:
    * Bits: d per node up and d down (1 bit per sign).
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["mv_signsgd"]


@register("mv-signsgd")          # needs, options and defaults, momentum, paper: the method card
def mv_signsgd(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Majority-vote signSGD; see the module docstring. Options: ``sign_zero``, ``ties`` (the card)."""
    o = card("mv-signsgd").fill(options)
    return run_sign_loop("mv-signsgd", problem, x0, iters, stepsize=stepsize, momentum=None,
                         seed=seed, estimator="grad", uplink="sign", downlink="sign",
                         options=o, sign_zero=o["sign_zero"], ties=o["ties"])
