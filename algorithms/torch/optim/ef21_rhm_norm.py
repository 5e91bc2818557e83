r"""‖EF21-RHM‖ -- normalized EF21 with randomized Hessian momentum, as a ``torch.optim`` optimizer.

Paper: [000], Algorithm 1 with the RHM estimator (Salehkaleybar et al. 2022), Theorem 3:
:math:`\tilde O(K^{-1/3})` with :math:`\eta_k = \gamma_k/\gamma_0 = (2/(k+2))^{2/3}` (schedules
reconstructed); no Hessian-Lipschitz assumption. Claim ``S000-T3``. Registered reference:
``"ef21-rhm-norm"``.

.. math::

    q_i^k \sim \mathcal U[0,1],\quad \hat x_i^k = q_i^k x^k + (1-q_i^k) x^{k-1},\\
    v_i^k = (1-\eta_k)\big(v_i^{k-1} + \nabla^2 f_i(\hat x_i^k;\hat\xi_i^k)(x^k - x^{k-1})\big)
            + \eta_k\nabla f_i(x^k;\xi_i^k).

Closure protocol, per client and step: ``closure(i, True)`` at :math:`x^k` (gradient), then at
:math:`\hat x_i^k` the HVP evaluation with ``fresh=True`` (independent minibatch
:math:`\hat\xi_i^k`, the paper's text; default) or ``fresh=False`` (same minibatch,
``rhm_same_sample=True``, the published code). The HVP is by double backprop, so the closure must
return the loss without calling ``backward()``.

Notes: :math:`q_i^k` come from ``generator`` (``torch.rand``), or from ``uniforms`` to replay
given draws.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21RHMNorm"]


class EF21RHMNorm(CardOptimizer):
    """``ef21-rhm-norm`` on a real model: ``EF21RHMNorm(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-rhm-norm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-rhm-norm"
