r"""MVSM -- majority-vote sign momentum (versions 1 and 2), as a ``torch.optim`` optimizer.

Paper: Jiang, Yu, Yang, Yang, Zhang [003], Algorithm 2. Node j keeps a momentum
:math:`v_t^j` and sends the unbiased stochastic sign :math:`S_G(v_t^j)\in\{\pm1\}^d`
(:math:`\mathbb E[G\,S_G(v)] = v` when :math:`\|v\|_\infty\le G`); the server averages,
:math:`u_t = \frac1n\sum_j S_G(v_t^j)`, and broadcasts :math:`\mathrm{sign}(u_t)` (v1,
Theorems 3-4: :math:`O(d^{1/2}T^{-1/2} + dn^{-1/2})`) or :math:`S_1(u_t)` (v2, Theorem 5:
:math:`O(\max\{d^{1/4}T^{-1/4}, d^{1/10}T^{-1/5}\})`); claims ``S003-T3`` ... ``S003-T5``.
Registered references: ``"mvsm-v1"``, ``"mvsm-v2"``.

.. math::

    v_t^j = (1-\beta_t)v_{t-1}^j + \beta_t\nabla f_j(x_t;\xi_t^j)\ (v_1^j = \nabla f_j(x_1;\xi_1^j)),
    \quad x_{t+1} = x_t - \eta_t\, s_t,\quad s_t = \mathrm{sign}(u_t)\ \text{or}\ S_1(u_t).

Notes: an exactly zero vote sum (even n) moves nothing (``ties="zero"``) or +1 (``"plus"``); a
coordinate with :math:`|v_k| > G` has its probability clipped (``on_violation="clip"``) or raises.
The stochastic signs draw from ``generator`` (or ``uniforms``, to replay given draws).
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["MVSMV2"]


class MVSMV2(CardOptimizer):
    """``mvsm-v2`` on a real model: ``MVSMV2(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["mvsm-v2"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "mvsm-v2"
