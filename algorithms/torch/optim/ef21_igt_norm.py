r"""‖EF21-IGT‖ -- normalized EF21 with implicit gradient transport, as a ``torch.optim`` optimizer.

Paper: [000], Algorithm 1 with the IGT estimator (Cutkosky & Mehta's extrapolation),
Theorem 2: :math:`\tilde O(K^{-2/7})` with :math:`\eta_k = (2/(k+2))^{4/7}`,
:math:`\gamma_k = \gamma_0(2/(k+2))^{5/7}` (schedules reconstructed). Claim ``S000-T2``.
Registered reference: ``"ef21-igt-norm"``.

.. math::

    y^k = x^k + \tfrac{1-\eta_k}{\eta_k}(x^k - x^{k-1}),\quad
    v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k \nabla f_i(y^k;\xi_i^k),\quad
    x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

Closure protocol: client i's single evaluation per step happens with the parameters at
:math:`y^k` (``fresh=True``); the parameters are back at :math:`x^{k+1}` after the step.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21IGTNorm"]


class EF21IGTNorm(CardOptimizer):
    """``ef21-igt-norm`` on a real model: ``EF21IGTNorm(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-igt-norm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-igt-norm"
