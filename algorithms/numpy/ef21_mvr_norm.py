r"""‖EF21-MVR‖ -- normalized EF21 with momentum variance reduction / STORM (Sadiev et al. [000], Algorithm 1).

Problem: L-smooth f, stochastic components with ℓ-Lipschitz gradients, bounded variance.

Method (two gradients with one draw):

.. math::

   v_i^k = \nabla f_i(x^k;\xi_i^k) + (1-\eta_k)\big(v_i^{k-1} - \nabla f_i(x^{k-1};\xi_i^k)\big),

followed by the EF21 compression and the normalized step.

Guarantee (upper; [000], Theorem 5): :math:`\eta_k=(2/(k+2))^{2/3}`,
:math:`\gamma_k=\gamma_0(2/(k+2))^{2/3}` give :math:`\tilde O(K^{-1/3})` with O(1) batches.
Claims served: S000-T5, S000-RED (→ normalized STORM).

Options: ``init`` (default ``"gradient"``), ``normalize_scope`` / ``blocks``, ``bits``,
``record_clients``. ``momentum`` is required.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import MVR, ef21_loop

__all__ = ["ef21_mvr_norm"]

NAME = "ef21-mvr-norm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_mvr_norm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-mvr-norm (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=MVR, normalized=True,
                     options=card(NAME).fill(options))
