r"""EF21-SGDM as a ``torch.optim`` optimizer (EF21 with Polyak momentum, unnormalized).

Paper: Fatkhullin, Tyurin, Richtárik 2023 (Momentum provably improves error feedback!),
EF21-SGDM; a baseline of [000] (Sec. 6.3). Registered reference: ``"ef21-sgdm"``.

.. math::

    v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k \nabla f_i(x^k;\xi_i^k),\quad
    g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad x^{k+1} = x^k - \gamma_k g^k.

Notes: :math:`v_i^{-1} = \nabla f_i(x^0;\xi_i^0)`; ``init`` as in :mod:`._ef21`.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21SGDM"]


class EF21SGDM(CardOptimizer):
    """``ef21-sgdm`` on a real model: ``EF21SGDM(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-sgdm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-sgdm"
