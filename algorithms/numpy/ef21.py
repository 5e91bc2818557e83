r"""EF21 -- error feedback with exact local gradients (baseline of [001]/004).

Problem: :math:`\min_x f(x)=\frac1n\sum_i f_i(x)`, each :math:`f_i` :math:`L_i`-smooth, f L-smooth
and bounded below; :math:`\mathcal C` α-contractive.

Method (Richtárik, Sokolov, Fatkhullin 2021, Algorithm EF21; restated in Khirirat et al. [004],
Section 4.1), written in this package's compress-then-step order:

.. math::

   g_i^k = g_i^{k-1} + \mathcal C\big(\nabla f_i(x^k) - g_i^{k-1}\big),\qquad
   g^k = \tfrac1n\textstyle\sum_i g_i^k,\qquad x^{k+1} = x^k - \gamma\, g^k .

Guarantee (upper; EF21 Theorem 1 as used by [004]): with
:math:`\gamma = 1/(L+\tilde L\sqrt{\beta_{EF}/\theta})` (:func:`ef21_theory_stepsize`),
:math:`\frac1T\sum_{t<T}\|\nabla f(x^t)\|^2\le\frac{2(f(x^0)-f^{\inf})}{\gamma T}+\frac{G^0}{\theta T}`.
Claims served: EF21-T1, EF21-INV, E-FIG (the baseline of S004-C2).

Options: ``init`` (default ``"zero"``: the EF21 paper's :math:`g_i^0=\mathcal C(\nabla f_i(x^0))`;
``"gradient"`` is the official logistic-regression code's and 004's comparison choice),
``bits``, ``record_clients`` (see :mod:`algorithms.numpy._ef21_loop`).

Deviations from the paper's pseudo-code: the EF21 paper steps first and compresses at the new point;
with the paper's initial memory the iterates are identical to this loop's (see the loop module).

Example::

    algorithms.run("ef21", problem, TopK(1), x0, 100, stepsize=ef21_theory_stepsize(problem, TopK(1)))
"""

from __future__ import annotations

import numpy as np

from algorithms.cards import card
from algorithms.registry import register
from eftheory.derivations.ef21 import theory_stepsize

from ._ef21_loop import EXACT, ef21_loop

__all__ = ["ef21", "ef21_theory_stepsize"]

NAME = "ef21"


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def ef21(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run ef21 (see the module docstring); called through :func:`algorithms.run`."""
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=EXACT, normalized=False,
                     options=card(NAME).fill(options))


def ef21_theory_stepsize(problem, compressor) -> float:
    """EF21's theory stepsize 1/(L + L̃√(β_EF/θ)) from the problem's ``L``, ``L_tilde`` and α = C.alpha(d).

    ``L_tilde`` defaults to the quadratic mean of ``problem.L_i`` when the problem has no ``L_tilde``.
    """
    if not hasattr(problem, "L"):
        raise ValueError("problem must provide the constant 'L' for the EF21 theory stepsize")
    if hasattr(problem, "L_tilde"):
        L_tilde = float(problem.L_tilde)
    elif hasattr(problem, "L_i"):
        L_tilde = float(np.sqrt(np.mean(np.square(np.asarray(problem.L_i, dtype=float)))))
    else:
        raise ValueError("problem must provide the constant 'L_tilde' or 'L_i' for the EF21 theory stepsize")
    return theory_stepsize(float(problem.L), L_tilde, compressor.alpha(int(problem.dim)))
