r"""MVSM v1: majority-vote signSGD with momentum and stochastic-sign uplink (003, Algorithm 2).

Problem and assumptions: :math:`\min_x f(x) = \frac1n\sum_{j=1}^n f_j(x)`, heterogeneous
nodes; each :math:`f_j` is L-smooth in l2 (A7), node noise variance at most :math:`\sigma^2`
(A8), and :math:`\|\nabla f_j(x;\xi)\|_\infty \le G` (A9), which makes :math:`S_G(v_t^j)` a
valid stochastic sign because :math:`v_t^j` is a convex combination of stochastic gradients.

Method: MVSM, version 1 (the server broadcasts the sign of the mean vote).

Metric and bound: :math:`A_1 = \frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1`.

.. math::

    v_t^j &= (1-\beta)v_{t-1}^j + \beta\nabla f_j(x_t;\xi_t^j),\quad v_1^j = \nabla f_j(x_1;\xi_1^j) \\
    u_t &= \tfrac1n\textstyle\sum_j S_G(v_t^j),\qquad x_{t+1} = x_t - \eta\,\mathrm{sign}(u_t).

Guarantee (upper, reconstructed [R]): Jiang et al. [003], Theorems 3-4:
:math:`A_1 = O(d T^{-1/2} + d n^{-1/2})` (:math:`\beta` constant, :math:`\eta = T^{-1/2}`) and
:math:`A_1 = O(d^{1/2} T^{-1/2} + d n^{-1/2})` (:math:`\eta = (dT)^{-1/2}`). Pathwise
ingredient: :math:`f(x_{t+1}) \le f(x_t) - \eta\|\nabla f(x_t)\|_1 + 2\eta\|\nabla f(x_t) -
G u_t\|_1 + \frac L2\eta^2 d` (see :mod:`eftheory.lyapunov.sign`).

Claims: ``S003-T3``, ``S003-T4``.

Args (through :func:`algorithms.run`; ``compressor`` must be None):
    stepsize: :math:`\eta`.
    momentum: :math:`\beta \in (0, 1]` (required).
    G: required, > 0: the bound of A9 used by :math:`S_G`.
    on_violation: ``"clip"`` (default: a coordinate with :math:`|v_i| > G` is clipped to
        :math:`\pm G` and counted in ``diagnostics["violations"]``) or ``"raise"``.
    momentum_convention: ``"new_weight"`` (default) or ``"old_weight"``.
    ties: the server's sign of an exactly-zero :math:`u_{t,i}` (possible for even n):
        ``"zero"`` (default, sign(0) = 0) or ``"plus"``; counted in ``diagnostics["ties"]``.

Returns:
    :class:`algorithms.Result`; ``diagnostics["u"]`` is :math:`u_t`, ``["v_bar"]`` is
    :math:`\bar v_t = \frac1n\sum_j v_t^j`.

Example::

    >>> res = algorithms.run("mvsm-v1", problem, None, x0, 1000, stepsize=1e-2,
    ...                      momentum=0.5, G=problem.G)                     # doctest: +SKIP

Notes:
    * With one node, :math:`\mathrm{sign}(S_G(v)) = S_G(v)`: each coordinate moves by
      :math:`\mp\eta` with probabilities :math:`\frac12 \pm \frac{v_i}{2G}`, an unbiased but very
      noisy step; for G much larger than the gradients the run is close to a symmetric random
      walk (the behaviour the tests pin down).
    * Draws: one ``rng.random(d)`` per node per step from the ``compress`` stream; with
      ``shared_draw=True`` one ``rng.random(d)`` per step that every node's :math:`S_G` uses (the
      nodes' stochastic signs are then coupled, so their vote averages no randomness away: the
      control of the :math:`n^{-1/2}` part of Theorem 3, not a method of the paper).
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["mvsm_v1"]


@register("mvsm-v1")             # needs, options and defaults, momentum, paper: the method card
def mvsm_v1(problem, compressor, x0, iters, *, stepsize, momentum, seed=0, **options):
    """MVSM v1; see the module docstring. Options: ``G``, ``on_violation``, ``momentum_convention``,
    ``ties``, ``shared_draw`` (defaults on the card)."""
    o = card("mvsm-v1").fill(options)
    return run_sign_loop("mvsm-v1", problem, x0, iters, stepsize=stepsize, momentum=momentum,
                         seed=seed, estimator="smm", uplink="stochastic_sign", downlink="sign",
                         options=o, ties=o["ties"], momentum_convention=o["momentum_convention"], R=o["G"],
                         R_name="G", on_violation=o["on_violation"], shared_draw=o["shared_draw"])
