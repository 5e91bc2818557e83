r"""‖EF21‖ -- normalized EF21 (Khirirat et al. [004], Algorithm 1; [001], Algorithm 1).

Problem: :math:`\min_x f(x)=\frac1n\sum_i f_i(x)`, f and every :math:`f_i` bounded below, every
:math:`f_i` :math:`(L_0,L_1)`-smooth (symmetric form), :math:`\mathcal C` α-contractive.

Method:

.. math::

   g_i^k = g_i^{k-1} + \mathcal C\big(\nabla f_i(x^k) - g_i^{k-1}\big),\qquad
   g^k = \tfrac1n\textstyle\sum_i g_i^k,\qquad x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\| ,

so :math:`\|x^{k+1}-x^k\| = \gamma_k` exactly (direction 0 if :math:`g^k = 0`).

Metric and guarantee (upper; [004], Theorem 1, with the :math:`e^{L_1\gamma_0}` factor of its
proof): with :math:`\gamma_k=\gamma_0/\sqrt{K+1}` and any :math:`\gamma_0>0`,
:math:`\min_{k\le K}\|\nabla f(x^k)\|\le\big[V^0 e^{8c_1L_1e^{L_1\gamma_0}\gamma_0^2}/\gamma_0+\gamma_0 b\,e^{L_1\gamma_0}\big]/\sqrt{K+1}`.
Claims served: S004-T1, S004-C1, S004-C2, S004-L4, S004-L6, S004-L7, S001-T3, EF21-INV.

Options: ``init`` (default ``"gradient"``: the 004 experiments' :math:`g_i^{-1}=\nabla f_i(x^0)`;
Algorithm 1 allows any :math:`g_i^{-1}`), ``normalize_scope`` / ``blocks`` (``"global"`` = the theory;
``"per_tensor"`` normalizes each block of sizes ``blocks`` separately, as some implementations do),
``bits``, ``record_clients``.

Deviations: none in the update; normalization of the global vector (the 004 code also normalizes
globally).
"""

from __future__ import annotations

from algorithms.cards import card
from algorithms.registry import register

from ._ef21_loop import EXACT, ef21_loop

__all__ = ["ef21_norm"]

NAME = "ef21-norm"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21_norm(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21-norm (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=EXACT, normalized=True,
                     options=card(NAME).fill(options))
