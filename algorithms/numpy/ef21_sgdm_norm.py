r"""‖EF21-SGDM‖ -- normalized EF21 with Polyak momentum (Khirirat et al. [001], Algorithm 2;
Sadiev et al. [000], Algorithm 1 with the Polyak estimator).

Problem: f, :math:`f_i` bounded below, :math:`(L_0,L_1)`-smooth :math:`f_i` (001) or L-smooth f with
:math:`L_i`-smooth :math:`f_i` (000), unbiased gradients with variance :math:`\le\sigma^2`.

Method:

.. math::

   v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k \nabla f_i(x^k;\xi_i^k),\quad
   g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad x^{k+1} = x^k - \gamma_k g^k/\|g^k\| .

Guarantees (upper): [001], Theorem 2: :math:`\eta=(K+1)^{-1/2}`, :math:`\gamma=\gamma_0(K+1)^{-3/4}`,
:math:`g_i^{-1}=0` give :math:`O((K+1)^{-1/4})` for a weighted average of :math:`\|\nabla f(x^k)\|`;
[000], Theorem 1: :math:`\eta_k=(2/(k+2))^{1/2}`, :math:`\gamma_k=\gamma_0(2/(k+2))^{3/4}` give
:math:`\tilde O(K^{-1/4})` parameter-agnostically. Claims served: S001-T2, S001-EQ5, S001-L7, S001-L8,
S000-T1, S000-L2, S000-L3, S000-RED (→ NSGD-M); η ≡ 1 with exact gradients is ‖EF21‖.

Options: ``init`` (default ``"zero"``: 001 Theorem 2's :math:`g_i^{-1}=0`; [000]'s code uses
``"gradient"``), ``normalize_scope`` / ``blocks`` (000's code normalizes per tensor; theory: global),
``bits``, ``record_clients``. ``momentum`` = :math:`\eta_k\in(0,1]` is required.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import POLYAK, ef21_loop

__all__ = ["ef21_sgdm_norm"]

NAME = "ef21-sgdm-norm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_sgdm_norm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-sgdm-norm (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=POLYAK, normalized=True,
                     options=card(NAME).fill(options))
