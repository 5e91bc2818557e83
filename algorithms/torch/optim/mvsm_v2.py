r"""MVSM version 2 as a ``torch.optim`` optimizer: the server broadcasts the unbiased sign
:math:`S_1(u_t)` of the vote mean instead of its sign ([003], Algorithm 2, Theorem 5; claim
``S003-T5``). Everything else -- the nodes' momentum, their stochastic signs :math:`S_G(v_t^j)`,
the options -- is that of :mod:`algorithms.torch.optim.mvsm_v1`.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["MVSMV2"]


class MVSMV2(CardOptimizer):
    """``mvsm-v2`` on a real model: ``MVSMV2(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["mvsm-v2"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "mvsm-v2"
