r"""EF21-MVR -- EF21 with momentum variance reduction (Fatkhullin, Tyurin, Richtárik 2023; the
unnormalized relative of [000]'s ‖EF21-MVR‖).

Method:

.. math::

   v_i^k = \nabla f_i(x^k;\xi_i^k) + (1-\eta_k)\big(v_i^{k-1} - \nabla f_i(x^{k-1};\xi_i^k)\big),\quad
   g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad x^{k+1} = x^k - \gamma_k g^k .

Guarantee (context): :math:`O(\varepsilon^{-3})` samples with problem-dependent γ (no claim gated).

Options: ``init`` (default ``"gradient"``, as the other seed-000 baselines), ``bits``,
``record_clients``. ``momentum`` is required.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import MVR, ef21_loop

__all__ = ["ef21_mvr"]

NAME = "ef21-mvr"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_mvr(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-mvr (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=MVR, normalized=False,
                     options=card(NAME).fill(options))
