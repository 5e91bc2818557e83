r"""Signum with majority vote (a baseline of [003]): node j sends :math:`\mathrm{sign}(v^j)` of its
Signum momentum; the server broadcasts the majority. Registered reference: ``"mv-signum"``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["MVSignum"]


class MVSignum(CardOptimizer):
    """``mv-signum`` on a real model: ``MVSignum(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["mv-signum"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "mv-signum"
