r"""Signum (a baseline of [003]) as a ``torch.optim`` optimizer: :math:`v_t = \beta v_{t-1} + (1-\beta) g_t`
from 0, :math:`x_{t+1} = x_t - \eta_t\,\mathrm{sign}(v_t)` (one node). Registered reference: ``"signum"``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["Signum"]


class Signum(CardOptimizer):
    """``signum`` on a real model: ``Signum(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["signum"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "signum"
