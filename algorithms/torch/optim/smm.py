r"""SMM -- sign-based momentum method, as a ``torch.optim`` optimizer.

Paper: Jiang, Yu, Yang, Yang, Zhang [003], Algorithm 1; Theorem 1
(:math:`\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1 = O(d^{1/2}T^{-1/4})` under l2-smoothness with
:math:`\beta = T^{-1/2}`, :math:`\eta = d^{-1/2}T^{-3/4}`) and Theorem 2 (:math:`O(T^{-1/4})` under
l∞-smoothness); parameter choices reconstructed. Claims ``S003-T1``, ``S003-T2``. Registered
reference: ``"smm"``.

.. math::

    v_1 = \nabla f(x_1;\xi_1),\quad v_t = (1-\beta_t) v_{t-1} + \beta_t\nabla f(x_t;\xi_t),\quad
    x_{t+1} = x_t - \eta_t\,\mathrm{sign}(v_t).

Centralized: with ``n_clients > 1`` the stochastic gradient is the mean of the clients'
gradients (the gradient of :math:`f = \frac1n\sum_j f_j`). Notes: β is the weight of the new
gradient (``momentum_convention="new_weight"``, [R]; ``"old_weight"`` swaps it);
:math:`\mathrm{sign}(0)` = ``sign_zero`` (default 0).
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["SMM"]


class SMM(CardOptimizer):
    """``smm`` on a real model: ``SMM(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["smm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "smm"
