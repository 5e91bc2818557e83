r"""Stochastic-sign SGD with majority vote (Sto-signSGD, Jin et al. 2021).

Problem and assumptions: :math:`\min_x f(x) = \frac1n\sum_j f_j(x)`, heterogeneous nodes,
:math:`\|\nabla f_j(x;\xi)\|_\infty \le B`.

Method: node j sends the unbiased stochastic sign :math:`S_B(g_t^j)`; the server broadcasts
the sign of the sum. Baseline of Jiang et al. [003].

Metric: :math:`\frac1T\sum_t \mathbb E\|\nabla f(x_t)\|_1`.

.. math::

    [S_B(g)]_i = \begin{cases} +1 & \text{w.p. } \tfrac12 + \tfrac{g_i}{2B} \\
                              -1 & \text{w.p. } \tfrac12 - \tfrac{g_i}{2B}\end{cases},\qquad
    x_{t+1} = x_t - \eta\,\mathrm{sign}\Big(\sum_j S_B(\nabla f_j(x_t;\xi_t^j))\Big).

Guarantee: rate :math:`O(d^{3/8}T^{-1/8})` as cited by [003] (comparison only).

Args (through :func:`algorithms.run`; ``compressor`` and ``momentum`` must be None):
    stepsize: :math:`\eta`.
    B: required, > 0, the bound on :math:`\|\nabla f_j(x;\xi)\|_\infty`.
    on_violation: ``"clip"`` (default; clip to :math:`\pm B` and count in
        ``diagnostics["violations"]``) or ``"raise"``.
    ties: ``"zero"`` (default) or ``"plus"`` for an exactly-zero vote sum.

Returns:
    :class:`algorithms.Result`.

Example::

    >>> res = algorithms.run("sto-signsgd", problem, None, x0, 100, stepsize=1e-2,
    ...                      B=5.0)                                         # doctest: +SKIP

Notes:
    * Draws: one ``rng.random(d)`` per node per step from the ``compress`` stream.
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["sto_signsgd"]


@register("sto-signsgd")         # needs, options and defaults, momentum, paper: the method card
def sto_signsgd(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Sto-signSGD; see the module docstring. Options: ``B``, ``on_violation``, ``ties`` (the card)."""
    o = card("sto-signsgd").fill(options)
    return run_sign_loop("sto-signsgd", problem, x0, iters, stepsize=stepsize, momentum=None,
                         seed=seed, estimator="grad", uplink="stochastic_sign", downlink="sign",
                         options=o, ties=o["ties"], R=o["B"], R_name="B", on_violation=o["on_violation"])
