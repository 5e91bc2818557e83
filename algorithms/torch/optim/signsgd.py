r"""signSGD (a baseline of [003]) as a ``torch.optim`` optimizer: :math:`x_{t+1} = x_t - \eta_t\,\mathrm{sign}(g_t)`,
:math:`g_t` the mean of the clients' stochastic gradients (one node). Registered reference: ``"signsgd"``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["SignSGD"]


class SignSGD(CardOptimizer):
    """``signsgd`` on a real model: ``SignSGD(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["signsgd"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "signsgd"
