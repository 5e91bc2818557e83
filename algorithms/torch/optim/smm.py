r"""SMM -- sign-based momentum method, as a ``torch.optim`` optimizer.

Paper: Jiang, Yu, Yang, Yang, Zhang [003], Algorithm 1; Theorem 1
(:math:`\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1 = O(d^{1/2}T^{-1/4})` under l2-smoothness with
:math:`\beta = T^{-1/2}`, :math:`\eta = d^{-1/2}T^{-3/4}`) and Theorem 2 (:math:`O(T^{-1/4})` under
l∞-smoothness); parameter choices reconstructed. Claims ``S003-T1``, ``S003-T2``. Registered
reference: ``"smm"``.

.. math::

    v_1 = \nabla f(x_1;\xi_1),\quad v_t = (1-\beta_t) v_{t-1} + \beta_t\nabla f(x_t;\xi_t),\quad
    x_{t+1} = x_t - \eta_t\,\mathrm{sign}(v_t).

Centralized: with ``n_clients > 1`` the stochastic gradient is the mean of the clients'
gradients (the gradient of :math:`f = \frac1n\sum_j f_j`). Notes: β is the weight of the new
gradient (``momentum_convention="new_weight"``, [R]; ``"old_weight"`` swaps it);
:math:`\mathrm{sign}(0)` = ``sign_zero`` (default 0).
"""

from __future__ import annotations

import math

import torch

from ._base import _ClientOptimizer, check_closure
from ._sign import check_convention, check_sign_zero, momentum_update, sgn

__all__ = ["SMM"]


class SMM(_ClientOptimizer):
    """SMM of [003].

    Args:
        params, lr: parameters and :math:`\\eta_t` (float or schedule).
        beta: momentum :math:`\\beta_t \\in (0, 1]` (float or schedule).
        n_clients: clients whose gradients are averaged (default 1: the centralized method).
        momentum_convention: ``"new_weight"`` (default) or ``"old_weight"``.
        sign_zero: value of sign(0), one of -1, 0, 1.
    """

    _hyper = {"lr": (math.inf, True), "beta": (1.0, True)}

    def __init__(self, params, lr, *, beta, n_clients=1, momentum_convention="new_weight",
                 sign_zero=0):
        super().__init__(params, {"lr": lr, "beta": beta}, n_clients=n_clients)
        self.momentum_convention = check_convention(momentum_convention)
        self.sign_zero = check_sign_zero(sign_zero)

    def _new_state(self, x):
        return {"k": 0, "v": x.new_zeros(x.numel())}

    def step(self, closure):
        """One SMM step through ``closure(i, fresh)``; returns the mean loss."""
        closure = check_closure(closure)
        x = self._flat()
        st = self._state(x)
        k = st["k"]
        grads, losses = [], []
        for i in range(self.n_clients):
            G, _, loss = self._oracle(closure, i, x, fresh=True)
            grads.append(G)
            losses.append(loss)
        g = torch.stack(grads).mean(dim=0)
        beta = self._per_group("beta", k, x, high=1.0)
        st["v"] = momentum_update(st["v"], g, beta, k, self.momentum_convention)
        self._set_flat(x - self._per_group("lr", k, x) * sgn(st["v"], self.sign_zero))
        st["k"] = k + 1
        return torch.stack(losses).mean()
