r"""signSGD with majority vote (a baseline of [003]): node j sends :math:`\mathrm{sign}(g^j)`, the server
broadcasts :math:`\mathrm{sign}(\sum_j \mathrm{sign}(g^j))`. Registered reference: ``"mv-signsgd"``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["MVSignSGD"]


class MVSignSGD(CardOptimizer):
    """``mv-signsgd`` on a real model: ``MVSignSGD(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["mv-signsgd"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "mv-signsgd"
