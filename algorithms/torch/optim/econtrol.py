r"""EControl as a ``torch.optim`` optimizer (Gao, Islamov, Stich 2023; a baseline of [000]).

Client i, step t (in the package's notation :math:`h_i` is the EF21 memory :math:`g_i`):

.. math::

    \Delta_i^t &= \mathcal C\big(\eta\, e_i^t + \nabla f_i(x^t;\xi_i^t) - h_i^t\big),\qquad
    e_i^{t+1} = e_i^t + \nabla f_i(x^t;\xi_i^t) - h_i^t - \Delta_i^t,\\
    h_i^{t+1} &= h_i^t + \Delta_i^t,\qquad h^{t+1} = h^t + \tfrac1n\textstyle\sum_i \Delta_i^t,\qquad
    x^{t+1} = x^t - \gamma_t\, h^{t+1}.

With :math:`\eta = 0` it is EF21-SGD. Theory value :math:`\eta = \delta/400`; [000]'s code uses
0.1 (default). Registered reference: ``"econtrol"`` (options ``econtrol_eta``,
``econtrol_step_uses``).

Notes on deviations: whether the step uses :math:`h^{t+1}` ([000]'s code, default
``step_uses="h_next"``) or :math:`h^t` (``"h_prev"``) is not settled by the sources; the initial
memory is the uncompressed gradient (``init="gradient"``) with :math:`e_i^0 = 0`.
"""

from __future__ import annotations

import math

import torch

from eftheory.validation import check_choice

from ._base import check_closure
from ._ef21 import _EF21Family

__all__ = ["EControl"]

STEP_USES = ("h_next", "h_prev")


class EControl(_EF21Family):
    """EControl; ``eta`` is EControl's error weight :math:`\\eta \\in [0, 1]` (float or schedule).

    Other arguments as :class:`~algorithms.torch.optim.EF21SGD`; ``step_uses`` is ``"h_next"``
    or ``"h_prev"``.
    """

    estimator = "gradient"
    normalized = False

    def __init__(self, params, lr, *, n_clients, compressor, eta=0.1, step_uses="h_next",
                 compress="global", init="gradient", generator=None):
        self._hyper = {"lr": (math.inf, True), "eta": (1.0, False)}
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor, eta=eta,
                         compress=compress, init=init, generator=generator)
        self.step_uses = check_choice("step_uses", step_uses, STEP_USES)

    def step(self, closure):
        """One EControl iteration through ``closure(i, fresh)``; returns the mean loss."""
        closure = check_closure(closure)
        x = self._flat()
        st = self._state(x)
        k = st["k"]
        grads, _, loss = self._targets(closure, x, st, k)
        if k == 0:
            st["g_i"] = self._first_memories(grads)
            st["g"] = st["g_i"].mean(dim=0)
            st["e_i"] = torch.zeros_like(grads)
        eta = self._per_group("eta", k, x, high=1.0, low_open=False)
        h_i, h_prev = st["g_i"], st["g"]
        delta = self._compress(grads + eta * st["e_i"] - h_i)
        st["e_i"] = st["e_i"] + grads - h_i - delta
        st["g_i"] = h_i + delta
        st["g"] = h_prev + delta.mean(dim=0)
        h = st["g"] if self.step_uses == "h_next" else h_prev
        self._set_flat(x - self._per_group("lr", k, x) * h)
        st["k"] = k + 1
        return loss
