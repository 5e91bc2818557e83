r"""MVSM v2: majority vote with a stochastic-sign downlink (003, Algorithm 2, version 2).

Problem and assumptions: as :mod:`algorithms.numpy.mvsm_v1` (A7 l2-smooth nodes, A8 noise
variance :math:`\sigma^2`, A9 :math:`\|\nabla f_j(x;\xi)\|_\infty \le G`).

Method: MVSM, version 2: the server broadcasts :math:`S_1(u_t)`, valid since
:math:`\|u_t\|_\infty \le 1`; only the downlink differs from v1.

Metric and bound: :math:`A_2 = \frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_2`.

.. math::

    v_t^j &= (1-\beta)v_{t-1}^j + \beta\nabla f_j(x_t;\xi_t^j),\quad v_1^j = \nabla f_j(x_1;\xi_1^j) \\
    u_t &= \tfrac1n\textstyle\sum_j S_G(v_t^j),\qquad x_{t+1} = x_t - \eta\,S_1(u_t).

Guarantee (upper, reconstructed [R]): Jiang et al. [003], Theorem 5:
:math:`A_2 = O(\max\{d^{1/4}T^{-1/4}, d^{1/10}T^{-1/5}\})` with
:math:`\eta = \min\{(dT)^{-1/2}, d^{-1/5}T^{-3/5}\}`, :math:`\beta = (d\eta^2)^{1/3}`; it vanishes
as :math:`T\to\infty` (no :math:`n^{-1/2}` floor). Exact identity behind it:
:math:`\mathbb E[S_1(u_t)\mid v] = \bar v_t/G`.

Claims: ``S003-T5``.

Args (through :func:`algorithms.run`; ``compressor`` must be None):
    stepsize: :math:`\eta`.
    momentum: :math:`\beta \in (0, 1]` (required).
    G: required, > 0.
    on_violation: ``"clip"`` (default; clipped coordinates counted in
        ``diagnostics["violations"]``) or ``"raise"``.
    momentum_convention: ``"new_weight"`` (default) or ``"old_weight"``.

Returns:
    :class:`algorithms.Result`; ``diagnostics["direction"]`` is :math:`S_1(u_t) \in \{\pm1\}^d`.

Example::

    >>> res = algorithms.run("mvsm-v2", problem, None, x0, 1000, stepsize=1e-2,
    ...                      momentum=0.2, G=problem.G)                     # doctest: +SKIP

Notes:
    * Every coordinate moves by exactly :math:`\pm\eta` at every step (no ties, no zeros).
    * Draws: per step one ``rng.random(d)`` per node, then one for the server's :math:`S_1`.
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["mvsm_v2"]


@register("mvsm-v2")             # needs, options and defaults, momentum, paper: the method card
def mvsm_v2(problem, compressor, x0, iters, *, stepsize, momentum, seed=0, **options):
    """MVSM v2; see the module docstring. Options: ``G``, ``on_violation``, ``momentum_convention``
    (defaults on the card)."""
    o = card("mvsm-v2").fill(options)
    return run_sign_loop("mvsm-v2", problem, x0, iters, stepsize=stepsize, momentum=momentum,
                         seed=seed, estimator="smm", uplink="stochastic_sign",
                         downlink="stochastic_sign", options=o,
                         momentum_convention=o["momentum_convention"], R=o["G"], R_name="G",
                         on_violation=o["on_violation"])
