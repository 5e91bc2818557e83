r"""EF21-MVR (Fatkhullin, Tyurin, Richtárik 2023) as a ``torch.optim`` optimizer: EF21 with the
STORM estimator :math:`v_i^k = \nabla f_i(x^k;\xi) + (1-\eta_k)(v_i^{k-1} - \nabla f_i(x^{k-1};\xi))`,
unnormalized step :math:`x^{k+1} = x^k - \gamma_k g^k`. Registered reference: ``"ef21-mvr"``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21MVR"]


class EF21MVR(CardOptimizer):
    """``ef21-mvr`` on a real model: ``EF21MVR(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-mvr"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-mvr"
