r"""The loop shared by the EF and SAEF optimizers ([002], Algorithm 1).

Worker k keeps a momentum buffer :math:`m^{(k)}` and a local error :math:`e^{(k)}`; the server
keeps an error :math:`e`; all start at zero and every worker holds the common model :math:`x_t`.
Step t (``lr`` is 002's learning rate :math:`\eta_t`, ``mu`` its momentum :math:`\mu`):

.. math::

    &e_t^{(k)} \leftarrow \bar e_t \ \text{ if averaging and } (t+1) \bmod p = 0 \\
    &m_{t+1}^{(k)} = \mu m_t^{(k)} + \nabla f_k(y^{(k)}; \xi_t^{(k)}),\quad
     y^{(k)} = x_t\ (\text{EF})\ \text{ or }\ x_t - e_t^{(k)}\ (\text{SAEF}) \\
    &\Delta_{t+1}^{(k)} = e_t^{(k)} + \eta_t m_{t+1}^{(k)},\quad
     e_{t+1}^{(k)} = \Delta_{t+1}^{(k)} - \mathcal C(\Delta_{t+1}^{(k)}) \\
    &\Delta_{t+1} = e_t + \tfrac1n\textstyle\sum_k \mathcal C(\Delta_{t+1}^{(k)}),\quad
     e_{t+1} = \Delta_{t+1} - \mathcal C(\Delta_{t+1})\ (\text{double way; single way: } e \equiv 0),\quad
     x_{t+1} = x_t - \mathcal C(\Delta_{t+1}).
"""

from __future__ import annotations

import math

import torch

from eftheory.validation import check_real

from ._base import _ClientOptimizer, _Compressing, check_closure, check_flag, check_period

__all__: list[str] = []


class _LocalErrorFeedback(_Compressing, _ClientOptimizer):
    """EF (``step_ahead = False``) or SAEF (``step_ahead = True``)."""

    step_ahead = False

    def __init__(self, params, lr, *, n_clients, compressor, mu=0.0, p=math.inf,
                 double_way=True, average=False, compress="global", generator=None):
        super().__init__(params, {"lr": lr}, n_clients=n_clients, generator=generator)
        self._init_compression(compressor, compress)
        self.mu = check_real("mu", mu, low=0.0, high=1.0, high_open=True)
        self.p = check_period(p)
        self.double_way = check_flag("double_way", double_way)
        self.average = average
        if average and self.p == math.inf:
            raise ValueError("p must be a finite integer in [1, inf) when errors are averaged; got inf")

    def _new_state(self, x):
        n, d = self.n_clients, x.numel()
        return {"k": 0, "m": x.new_zeros(n, d), "e_i": x.new_zeros(n, d), "e": x.new_zeros(d)}

    def step(self, closure):
        """One iteration through ``closure(i, fresh)``; returns the mean loss of the workers."""
        closure = check_closure(closure)
        x = self._flat()
        st = self._state(x)
        t = st["k"]
        eta = self._per_group("lr", t, x)
        e_i = st["e_i"]
        if self.average and (t + 1) % self.p == 0:
            e_i = e_i.mean(dim=0, keepdim=True).expand_as(e_i).clone()
        grads = torch.empty_like(e_i)
        losses = []
        for k in range(self.n_clients):
            y = x - e_i[k] if self.step_ahead else x
            grads[k], _, loss = self._oracle(closure, k, y, fresh=True)
            losses.append(loss)
        m = self.mu * st["m"] + grads
        delta_i = e_i + eta * m
        c_i = self._compress(delta_i)
        delta = st["e"] + c_i.mean(dim=0)
        if self.double_way:
            c = self._compress(delta)
            st["e"] = delta - c
        else:
            c = delta
        st["m"], st["e_i"] = m, delta_i - c_i
        self._set_flat(x - c)
        st["k"] = t + 1
        return torch.stack(losses).mean()
