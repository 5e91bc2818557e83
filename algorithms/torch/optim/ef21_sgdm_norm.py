r"""‖EF21-SGDM‖ -- normalized EF21 with Polyak momentum, as a ``torch.optim`` optimizer.

Papers: [001], Algorithm 2 and Theorem 2 (:math:`O((K+1)^{-1/4})` with
:math:`\eta = (K+1)^{-1/2}`, :math:`\gamma = \gamma_0 (K+1)^{-3/4}`); [000], Algorithm 1 with
the Polyak estimator, Theorem 1 (:math:`\tilde O(K^{-1/4})` with
:math:`\eta_k = (2/(k+2))^{1/2}`, :math:`\gamma_k = \gamma_0 (2/(k+2))^{3/4}`). Claims
``S001-T2``, ``S000-T1``. Registered reference: ``"ef21-sgdm-norm"``.

.. math::

    v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k\nabla f_i(x^k;\xi_i^k),\quad
    g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad
    x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

Notes: 001's Theorem 2 starts from :math:`g_i^{-1} = 0` (``init="zero"``); 000's code from the
uncompressed gradient (``init="gradient"``); the default is 001's ``"zero"``. With :math:`\eta_k \equiv 1` and exact
gradients this is ‖EF21‖.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF21SGDMNorm"]


class EF21SGDMNorm(CardOptimizer):
    """``ef21-sgdm-norm`` on a real model: ``EF21SGDMNorm(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef21-sgdm-norm"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef21-sgdm-norm"
