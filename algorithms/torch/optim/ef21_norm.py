r"""‖EF21‖ -- normalized EF21 as a ``torch.optim`` optimizer.

Paper: Khirirat, Sadiev, Riabinin, Gorbunov, Richtárik [004], Algorithm 1 (= [001],
Algorithm 1); guarantee Theorem 1 (:math:`\min_k\|\nabla f(x^k)\| = O(1/\sqrt{K+1})` under
:math:`(L_0,L_1)`-smoothness with :math:`\gamma_k = \gamma_0/\sqrt{K+1}`); claims ``S004-T1``,
``S004-C1``, ``S004-C2``. Registered reference: ``algorithms.run("ef21-norm", ...)``.

Client i, step k (exact gradients; a stochastic closure gives ‖EF21-SGD‖):

.. math::

    g_i^k = g_i^{k-1} + \mathcal C\big(\nabla f_i(x^k) - g_i^{k-1}\big),\qquad
    g^k = \tfrac1n\textstyle\sum_i g_i^k,\qquad x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

Notes on deviations: ``normalize_scope="per_tensor"`` divides every parameter tensor's slice of
:math:`g^k` by its own norm (the published deep-learning code) instead of the global norm of the
theory; ``compress="per_tensor"`` applies :math:`\mathcal C` per tensor (changes :math:`\alpha`);
:math:`g^k = 0` gives the direction 0.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21Norm"]


class EF21Norm(CardOptimizer):
    """``ef21-norm`` on a real model: ``EF21Norm(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-norm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-norm"
