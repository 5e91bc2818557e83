r"""EF21-SGD -- EF21 with stochastic gradients (Fatkhullin et al. 2021; a baseline of [000]).

Problem: as EF21, with unbiased stochastic gradients of bounded variance.

Method (one fresh draw :math:`\xi_i^k` per client and iteration):

.. math::

   g_i^k = g_i^{k-1} + \mathcal C\big(\nabla f_i(x^k;\xi_i^k) - g_i^{k-1}\big),\qquad
   x^{k+1} = x^k - \gamma\, g^k .

Guarantee: convergence to a neighbourhood unless the batch grows like :math:`\varepsilon^{-2}`
(context only, no claim is gated on it). Serves the S000-Q comparison; with an exact oracle it is EF21.

Options: ``init`` (default ``"gradient"``: [000]'s code sends :math:`\nabla f_i(x^0;\xi)`
uncompressed), ``bits``, ``record_clients``.
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import STOCHASTIC, ef21_loop

__all__ = ["ef21_sgd"]

NAME = "ef21-sgd"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_sgd(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-sgd (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=STOCHASTIC, normalized=False,
                     options=card(NAME).fill(options))
