r"""‖EF21-HM‖ -- normalized EF21 with Hessian-corrected momentum, as a ``torch.optim`` optimizer.

Paper: [000], Algorithm 1 with the HM estimator (Tran, Nguyen-Trung, Tran 2022), Theorem 4:
:math:`\tilde O(K^{-1/3})` with :math:`\eta_k = (2/(k+2))^{2/3}`,
:math:`\gamma_k = \gamma_0(2/(k+2))^{2/3}` (schedules reconstructed). Claim ``S000-T4``.
Registered reference: ``"ef21-hm-norm"``.

.. math::

    v_i^k = (1-\eta_k)\big(v_i^{k-1} + \nabla^2 f_i(x^k;\xi_i^k)(x^k - x^{k-1})\big)
            + \eta_k\nabla f_i(x^k;\xi_i^k),\quad x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

The gradient and the Hessian-vector product come from one closure call (same minibatch): the
optimizer differentiates the returned loss with ``create_graph=True`` and then
:math:`\langle\nabla f_i, x^k - x^{k-1}\rangle` once more (double backprop), so the closure must
return the loss without calling ``backward()``.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21HMNorm"]


class EF21HMNorm(CardOptimizer):
    """``ef21-hm-norm`` on a real model: ``EF21HMNorm(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-hm-norm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-hm-norm"
