r"""‖EF21-MVR‖ -- normalized EF21 with momentum variance reduction (STORM), as a ``torch.optim`` optimizer.

Paper: [000], Algorithm 1 with the MVR estimator (Cutkosky & Orabona 2019; EF21-MVR of
Fatkhullin, Tyurin, Richtárik 2023), Theorem 5: :math:`\tilde O(K^{-1/3})` with
:math:`\eta_k = \gamma_k/\gamma_0 = (2/(k+2))^{2/3}`, two gradients per step and no large initial
batch. Claim ``S000-T5``. Registered reference: ``"ef21-mvr-norm"``.

.. math::

    v_i^k = \nabla f_i(x^k;\xi_i^k) + (1-\eta_k)\big(v_i^{k-1} - \nabla f_i(x^{k-1};\xi_i^k)\big),
    \quad x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

Closure protocol, per client and step: ``closure(i, True)`` at :math:`x^k`, then
``closure(i, False)`` at :math:`x^{k-1}`, which must reuse the same minibatch.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21MVRNorm"]


class EF21MVRNorm(CardOptimizer):
    """``ef21-mvr-norm`` on a real model: ``EF21MVRNorm(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-mvr-norm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-mvr-norm"
