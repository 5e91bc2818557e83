r"""Stochastic-sign SGD with majority vote (Jin et al.; a baseline of [003]): node j sends the unbiased
stochastic sign :math:`S_B(g^j)`, the server broadcasts the majority. Option ``B`` bounds
:math:`\|g^j\|_\infty`. Registered reference: ``"sto-signsgd"``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["StoSignSGD"]


class StoSignSGD(CardOptimizer):
    """``sto-signsgd`` on a real model: ``StoSignSGD(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["sto-signsgd"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "sto-signsgd"
