r"""‖EF21-IGT‖ -- normalized EF21 with implicit gradient transport (Sadiev et al. [000], Algorithm 1).

Problem: L-smooth f, :math:`L_i`-smooth and Hessian-Lipschitz :math:`f_i` (and f), bounded variance.

Method (gradient at the extrapolated point :math:`y^k`):

.. math::

   y^k = x^k + \tfrac{1-\eta_k}{\eta_k}(x^k - x^{k-1}),\quad
   v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k\nabla f_i(y^k;\xi_i^k),\quad
   g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad x^{k+1} = x^k - \gamma_k g^k/\|g^k\| .

Guarantee (upper; [000], Theorem 2): :math:`\eta_k=(2/(k+2))^{4/7}`,
:math:`\gamma_k=\gamma_0(2/(k+2))^{5/7}` give :math:`\tilde O(K^{-2/7})` for the γ-weighted
:math:`\mathbb E\|\nabla f(\hat x^K)\|`. Claims served: S000-T2, S000-RED (→ NSGD with IGT).

Options: ``init`` (default ``"gradient"`` [000]'s code), ``normalize_scope`` / ``blocks``,
``bits``, ``record_clients``. ``momentum`` is required.
Deviation: [000]'s code guards η by max(η, 1e-12); here η ∈ (0, 1] is validated instead.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import IGT, ef21_loop

__all__ = ["ef21_igt_norm"]

NAME = "ef21-igt-norm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_igt_norm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-igt-norm (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=IGT, normalized=True,
                     options=card(NAME).fill(options))
