r"""‖EF21-HM‖ -- normalized EF21 with Hessian momentum (Sadiev et al. [000], Algorithm 1).

Problem: L-smooth, Hessian-Lipschitz f and :math:`f_i`, bounded gradient and Hessian variance.

Method (gradient and HVP at :math:`x^k` with the same draw):

.. math::

   v_i^k = (1-\eta_k)\big(v_i^{k-1} + \nabla^2 f_i(x^k;\xi_i^k)(x^k-x^{k-1})\big)
           + \eta_k\nabla f_i(x^k;\xi_i^k),

followed by the EF21 compression and the normalized step.

Guarantee (upper; [000], Theorem 4): :math:`\eta_k=(2/(k+2))^{2/3}`,
:math:`\gamma_k=\gamma_0(2/(k+2))^{2/3}` give :math:`\tilde O(K^{-1/3})`. Claims served: S000-T4,
S000-RED (→ second-order momentum of Tran et al.); with exact gradients on a quadratic it equals
‖EF21-MVR‖.

Options: ``init`` (default ``"gradient"``), ``normalize_scope`` / ``blocks``, ``bits``,
``record_clients``. Needs ``hvp_i``.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import HM, ef21_loop

__all__ = ["ef21_hm_norm"]

NAME = "ef21-hm-norm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_hm_norm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-hm-norm (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=HM, normalized=True,
                     options=card(NAME).fill(options))
