r"""EF21-SGD as a ``torch.optim`` optimizer (unnormalized EF21 with stochastic gradients).

Paper: Fatkhullin, Sokolov, Gorbunov, Li, Richtárik 2021 (EF21 with bells and whistles),
EF21-SGD; with exact gradients it is EF21 (Richtárik, Sokolov, Fatkhullin 2021, Algorithm 1).
Used as a baseline in [000] (Sec. 6.3). Registered reference: ``"ef21-sgd"``.

.. math::

    g_i^k = g_i^{k-1} + \mathcal C\big(\nabla f_i(x^k;\xi_i^k) - g_i^{k-1}\big),\qquad
    x^{k+1} = x^k - \gamma_k\, g^k,\quad g^k = \tfrac1n\textstyle\sum_i g_i^k.

Notes: compress first, then step (004's order); with ``init="compressed"`` the iterates equal
EF21's step-first form with :math:`g_i^0 = \mathcal C(\nabla f_i(x^0))`.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21SGD"]


class EF21SGD(CardOptimizer):
    """``ef21-sgd`` on a real model: ``EF21SGD(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-sgd"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-sgd"
