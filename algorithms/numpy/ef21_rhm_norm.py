r"""‖EF21-RHM‖ -- normalized EF21 with randomized Hessian momentum (Sadiev et al. [000], Algorithm 1).

Problem: L-smooth f, :math:`L_i`-smooth :math:`f_i`, bounded gradient and Hessian variance (no
Hessian-Lipschitz assumption).

Method (:math:`q_i^k\sim\mathcal U[0,1]`, one per client and iteration, from the ``aux`` stream):

.. math::

   \hat x_i^k = q_i^k x^k + (1-q_i^k)x^{k-1},\quad
   v_i^k = (1-\eta_k)\big(v_i^{k-1} + \nabla^2 f_i(\hat x_i^k;\hat\xi_i^k)(x^k-x^{k-1})\big)
           + \eta_k\nabla f_i(x^k;\xi_i^k),

followed by the EF21 compression and the normalized step.

Guarantee (upper; [000], Theorem 3): :math:`\eta_k=(2/(k+2))^{2/3}`,
:math:`\gamma_k=\gamma_0(2/(k+2))^{2/3}` give :math:`\tilde O(K^{-1/3})`. Claims served: S000-T3,
S000-RED (→ normalized SOM of Salehkaleybar et al.).

Options: ``rhm_same_sample`` (default False: an independent HVP draw :math:`\hat\xi_i^k`, as the
paper's text says; True reuses :math:`\xi_i^k`, as [000]'s code does), ``init`` (default
``"gradient"``), ``normalize_scope`` / ``blocks``, ``bits``, ``record_clients``. Needs ``hvp_i``.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import RHM, ef21_loop

__all__ = ["ef21_rhm_norm"]

NAME = "ef21-rhm-norm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_rhm_norm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-rhm-norm (see the module docstring); called through :func:`algorithms.run`."""
    options = card(NAME).fill(options)
    if not isinstance(options["rhm_same_sample"], bool):
        raise ValueError(f"rhm_same_sample must be True or False; got {options['rhm_same_sample']!r}")
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=RHM, normalized=True,
                     options=options)
