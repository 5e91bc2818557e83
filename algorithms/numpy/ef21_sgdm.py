r"""EF21-SGDM -- EF21 with Polyak momentum (Fatkhullin, Tyurin, Richtárik 2023; a baseline of [000]).

Method:

.. math::

   v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k \nabla f_i(x^k;\xi_i^k),\quad
   g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad x^{k+1} = x^k - \gamma_k g^k .

Guarantee (context): :math:`O(\varepsilon^{-4})` samples with problem-dependent γ. Serves S000-Q.

Options: ``init`` (default ``"gradient"``: [000]'s code, :math:`g_i=v_i=\nabla f_i(x^0;\xi)`),
``bits``, ``record_clients``. ``momentum`` = :math:`\eta_k\in(0,1]` is required.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import POLYAK, ef21_loop

__all__ = ["ef21_sgdm"]

NAME = "ef21-sgdm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_sgdm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-sgdm (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=POLYAK, normalized=False,
                     options=card(NAME).fill(options))
