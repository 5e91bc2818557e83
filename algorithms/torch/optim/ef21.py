r"""EF21 as a ``torch.optim`` optimizer (Richtárik, Sokolov, Fatkhullin 2021): exact local gradients,
:math:`g_i^k = g_i^{k-1} + \mathcal C(\nabla f_i(x^k) - g_i^{k-1})`, :math:`x^{k+1} = x^k - \gamma_k g^k`.
Registered reference: ``"ef21"`` (default ``init="zero"``).
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21"]


class EF21(CardOptimizer):
    """``ef21`` on a real model: ``EF21(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21"
