r"""MVSM -- majority-vote sign momentum (versions 1 and 2), as a ``torch.optim`` optimizer.

Paper: Jiang, Yu, Yang, Yang, Zhang [003], Algorithm 2. Node j keeps a momentum
:math:`v_t^j` and sends the unbiased stochastic sign :math:`S_G(v_t^j)\in\{\pm1\}^d`
(:math:`\mathbb E[G\,S_G(v)] = v` when :math:`\|v\|_\infty\le G`); the server averages,
:math:`u_t = \frac1n\sum_j S_G(v_t^j)`, and broadcasts :math:`\mathrm{sign}(u_t)` (v1,
Theorems 3-4: :math:`O(d^{1/2}T^{-1/2} + dn^{-1/2})`) or :math:`S_1(u_t)` (v2, Theorem 5:
:math:`O(\max\{d^{1/4}T^{-1/4}, d^{1/10}T^{-1/5}\})`); claims ``S003-T3`` ... ``S003-T5``.
Registered references: ``"mvsm-v1"``, ``"mvsm-v2"``.

.. math::

    v_t^j = (1-\beta_t)v_{t-1}^j + \beta_t\nabla f_j(x_t;\xi_t^j)\ (v_1^j = \nabla f_j(x_1;\xi_1^j)),
    \quad x_{t+1} = x_t - \eta_t\, s_t,\quad s_t = \mathrm{sign}(u_t)\ \text{or}\ S_1(u_t).

Notes: an exactly zero vote sum (even n) moves nothing (``ties="zero"``) or +1 (``"plus"``); a
coordinate with :math:`|v_k| > G` has its probability clipped (``on_violation="clip"``) or raises.
The stochastic signs draw from ``generator``; ``node_sign`` / ``server_sign`` replace the
:class:`eftheory.compressors.UnbiasedSign` objects (e.g. to replay given uniforms).
"""

from __future__ import annotations

import math

import torch

from eftheory.validation import check_choice, check_int, check_positive

from ._base import _ClientOptimizer, check_closure
from ._sign import TIES, check_convention, momentum_update

__all__ = ["MVSM"]


class MVSM(_ClientOptimizer):
    """MVSM of [003].

    Args:
        params, lr: parameters and :math:`\\eta_t` (float or schedule).
        beta: momentum :math:`\\beta_t \\in (0, 1]` (float or schedule).
        n_clients: number n of nodes; ``closure(j, fresh)`` serves node j.
        G: bound on :math:`\\|\\nabla f_j(x;\\xi)\\|_\\infty` (> 0), the scale of :math:`S_G`.
        version: 1 (sign downlink) or 2 (stochastic-sign downlink).
        ties, on_violation, momentum_convention: declared conventions (module docstring).
        generator: ``torch.Generator`` of the stochastic signs (saved by ``state_dict``).
    """

    _hyper = {"lr": (math.inf, True), "beta": (1.0, True)}

    def __init__(self, params, lr, *, beta, n_clients, G, version=1, ties="zero",
                 on_violation="clip", momentum_convention="new_weight", generator=None,
                 node_sign=None, server_sign=None):
        super().__init__(params, {"lr": lr, "beta": beta}, n_clients=n_clients, generator=generator)
        from eftheory.compressors import UnbiasedSign

        self.G = check_positive("G", G)
        self.version = check_int("version", version, low=1, high=2)
        self.ties = check_choice("ties", ties, TIES)
        self.on_violation = check_choice("on_violation", on_violation, ("clip", "raise"))
        self.momentum_convention = check_convention(momentum_convention)
        if generator is None and (node_sign is None or (self.version == 2 and server_sign is None)):
            raise ValueError("generator must be a torch.Generator for MVSM's stochastic signs; got None")
        self.node_sign = node_sign or UnbiasedSign(self.G, on_violation=self.on_violation)
        self.server_sign = server_sign or UnbiasedSign(1.0, on_violation="clip")

    def _new_state(self, x):
        return {"k": 0, "v_j": x.new_zeros(self.n_clients, x.numel())}

    def step(self, closure):
        """One MVSM step through ``closure(j, fresh)``; returns the mean loss of the nodes."""
        closure = check_closure(closure)
        x = self._flat()
        st = self._state(x)
        k = st["k"]
        grads = torch.empty_like(st["v_j"])
        losses = []
        for j in range(self.n_clients):
            grads[j], _, loss = self._oracle(closure, j, x, fresh=True)
            losses.append(loss)
        beta = self._per_group("beta", k, x, high=1.0)
        v = momentum_update(st["v_j"], grads, beta, k, self.momentum_convention)
        st["v_j"] = v
        total = self.node_sign.torch(v, generator=self.generator).sum(dim=0)
        if self.version == 1:
            s = torch.sign(total)
            if self.ties == "plus":
                s = torch.where(total == 0, torch.ones_like(s), s)
        else:
            s = self.server_sign.torch(total / self.n_clients, generator=self.generator)
        self._set_flat(x - self._per_group("lr", k, x) * s)
        st["k"] = k + 1
        return torch.stack(losses).mean()
