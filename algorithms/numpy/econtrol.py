r"""EControl -- error feedback with a controlled error term (Gao, Islamov, Stich 2023; a baseline of [000]).

Problem: :math:`\min_x\frac1n\sum_i f_i(x)`, L-smooth, unbiased stochastic gradients;
:math:`\mathcal C` δ-contractive (δ = α).

Method (client i, draw :math:`\xi_i^t`; in this package's notation :math:`h_i = g_i`):

.. math::

   \Delta_i^t &= \mathcal C\big(\eta\, e_i^t + \nabla f_i(x^t;\xi_i^t) - h_i^t\big),\\
   e_i^{t+1} &= e_i^t + \nabla f_i(x^t;\xi_i^t) - h_i^t - \Delta_i^t,\qquad
   h_i^{t+1} = h_i^t + \Delta_i^t,\\
   h^{t+1} &= h^t + \tfrac1n\textstyle\sum_i\Delta_i^t,\qquad x^{t+1} = x^t - \gamma\, h^{t+1} .

It is the EF21 loop with target :math:`v_i^t = \nabla f_i(x^t;\xi_i^t) + \eta e_i^t` and an error
buffer updated once the message is known. With η = 0 it is EF21-SGD (and EF21 with an exact oracle).

Guarantee (context only): :math:`\frac1T\sum_t\mathbb E\|\nabla f(x^t)\|^2\le\varepsilon` with linear
speed-up in n and no bounded-gradient assumption, for the theory value η = δ/400; no claim is gated
on its constants. Serves the S000-Q comparison.

Options:

* ``econtrol_eta`` -- η ∈ [0, 1]; default 0.1, the value tuned in [000]'s code (theory: δ/400;
  0 reduces EControl to EF21).
* ``econtrol_step_uses`` -- ``"h_next"`` (default [000]'s code: the step uses :math:`h^{t+1}`) or
  ``"h_prev"`` (the step uses :math:`h^t`, the mirror before this round's messages).
* ``init`` -- default ``"gradient"``: [000]'s code sets :math:`h_i^0=\nabla f_i(x^0;\xi)` uncompressed and
  :math:`e_i^0 = 0`; ``"compressed"`` / ``"zero"`` as in the rest of the family.
* ``bits``, ``record_clients`` (``v_i`` records the target :math:`\nabla f_i + \eta e_i`).
"""

from __future__ import annotations

import numpy as np

from algorithms.cards import card
from algorithms.registry import register
from eftheory.validation import check_choice, check_real

from ._ef21_loop import Estimator, Step, ef21_loop

__all__ = ["econtrol", "ECONTROL"]

NAME = "econtrol"
STEP_USES = ("h_next", "h_prev")


def _init(grad0: np.ndarray) -> dict:
    return {"v": grad0, "grad": grad0, "e": np.zeros_like(grad0)}


def _update(state: dict, s: Step) -> dict:
    grad = s.oracle.grad(s.x)
    return {"v": grad + s.options["econtrol_eta"] * state["e"], "grad": grad, "e": state["e"]}


def _after_compress(state: dict, h_prev: np.ndarray, delta: np.ndarray) -> dict:
    return {**state, "e": state["e"] + state["grad"] - h_prev - delta}


ECONTROL = Estimator("EControl error-controlled gradient", _update, init=_init,
                     after_compress=_after_compress)


@register(NAME)                 # needs, options and defaults, momentum, paper: the method card
def econtrol(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Run EControl (see the module docstring); called through :func:`algorithms.run`."""
    options = card(NAME).fill(options)
    options["econtrol_eta"] = check_real("econtrol_eta", options["econtrol_eta"], low=0.0, high=1.0)
    uses = check_choice("econtrol_step_uses", options["econtrol_step_uses"], STEP_USES)
    return ef21_loop(problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                     seed=seed, name=NAME, estimator=ECONTROL, normalized=False, options=options,
                     step_uses_previous_mirror=(uses == "h_prev"))
