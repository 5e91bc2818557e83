r"""The one loop of the EF21 family as a ``torch.optim.Optimizer``.

Every client i keeps a memory :math:`g_i` and (momentum variants) an estimator :math:`v_i`; the
server keeps the mirror :math:`g = \frac1n\sum_i g_i`. Step k:

.. math::

    v_i^k &= \text{estimator update (gradient, Polyak, IGT, RHM, HM or MVR)} \\
    c_i^k &= \mathcal C(v_i^k - g_i^{k-1}),\quad g_i^k = g_i^{k-1} + c_i^k,\quad
    g^k = g^{k-1} + \tfrac1n\textstyle\sum_i c_i^k \\
    x^{k+1} &= x^k - \gamma_k\, g^k/\|g^k\| \quad(\text{normalized})\qquad\text{or}\qquad
    x^{k+1} = x^k - \gamma_k g^k.

Only the estimator differs between the variants (:meth:`_EF21Family._targets`).
Initialisation (``init``): the memory entering step 0 is :math:`g_i^{-1} = \nabla f_i(x^0;\xi_i^0)`
(``"gradient"``, the code of 000 and of EF21), :math:`\mathcal C(\nabla f_i(x^0;\xi_i^0))`
(``"compressed"``) or 0 (``"zero"``, 001 Theorem 2); :math:`\xi_i^0` is the minibatch of step 0.
Estimators start from :math:`v_i^{-1} = \nabla f_i(x^0;\xi_i^0)` and :math:`x^{-1} = x^0`, and step 0
runs the same oracle calls as every later step (an HVP along :math:`x^0 - x^{-1} = 0`, MVR's
second gradient at :math:`x^{-1}`), so a closure sees one fixed call pattern per step.
"""

from __future__ import annotations

import math

import torch

from eftheory.validation import check_choice

from ._base import (_ClientOptimizer, _Compressing, _Normalizing, check_closure,
                    check_flag)

__all__: list[str] = []

INITS = ("gradient", "compressed", "zero")
ESTIMATORS = ("gradient", "polyak", "igt", "rhm", "hm", "mvr")


class _EF21Family(_Compressing, _Normalizing, _ClientOptimizer):
    """Shared EF21 loop; subclasses fix ``estimator`` and ``normalized``."""

    estimator = "gradient"
    normalized = True

    def __init__(self, params, lr, *, n_clients, compressor, eta=None, normalize="global",
                 compress="global", init="gradient", generator=None, same_sample=False,
                 interpolation=None):
        defaults = {"lr": lr}
        if self.estimator != "gradient":
            self._hyper = {"lr": (math.inf, True), "eta": (1.0, True)}
        if "eta" in self._hyper:
            defaults["eta"] = eta
        super().__init__(params, defaults, n_clients=n_clients, generator=generator)
        self._init_compression(compressor, compress)
        self._init_normalization(normalize)
        self.init = check_choice("init", init, INITS)
        self.same_sample = check_flag("same_sample", same_sample)
        if interpolation is not None and not callable(interpolation):
            raise ValueError(f"interpolation must be a callable k -> n values in [0, 1] or None; got {interpolation!r}")
        self.interpolation = interpolation

    def _new_state(self, x):
        n, d = self.n_clients, x.numel()
        st = {"k": 0, "g_i": x.new_zeros(n, d), "g": x.new_zeros(d)}
        if self.estimator != "gradient":
            st["v_i"] = x.new_zeros(n, d)
            st["x_prev"] = x.clone()
        return st

    # ------------------------------------------------------------ client estimators
    def _q(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """RHM's interpolation weights q_i^k ~ U[0, 1], one per client."""
        if self.interpolation is not None:
            q = torch.as_tensor(self.interpolation(k), dtype=x.dtype, device=x.device).reshape(-1)
            if q.numel() != self.n_clients or bool(((q < 0) | (q > 1)).any()):
                raise ValueError(f"interpolation({k}) must give n_clients={self.n_clients} values in [0, 1]")
            return q
        return torch.rand(self.n_clients, generator=self.generator, dtype=x.dtype, device=x.device)

    def _targets(self, closure, x, st, k):
        """Client estimators v_i^k (rows), the clients' first gradients, and their mean loss."""
        n, est = self.n_clients, self.estimator
        V = x.new_empty(n, x.numel())
        grads = x.new_empty(n, x.numel())      # the first gradient of every client
        losses = []
        if est == "gradient":
            for i in range(n):
                V[i], _, loss = self._oracle(closure, i, x, fresh=True)
                losses.append(loss)
            return V, V.clone(), torch.stack(losses).mean()
        eta = self._per_group("eta", k, x, high=1.0)
        x_prev = st["x_prev"]
        dx = x - x_prev
        q = self._q(k, x) if est == "rhm" else None
        for i in range(n):
            if est == "igt":
                y = x + (1 - eta) / eta * dx
                G, _, loss = self._oracle(closure, i, y, fresh=True)
            elif est == "hm":
                G, H, loss = self._oracle(closure, i, x, fresh=True, direction=dx)
            else:
                G, _, loss = self._oracle(closure, i, x, fresh=True)
            losses.append(loss)
            grads[i] = G
            v = G if k == 0 else st["v_i"][i]       # v_i^{-1} = grad f_i(x^0; xi_i^0)
            if est == "polyak" or est == "igt":
                V[i] = (1 - eta) * v + eta * G
            elif est == "hm":
                V[i] = (1 - eta) * (v + H) + eta * G
            elif est == "rhm":
                x_hat = q[i] * x + (1 - q[i]) * x_prev
                _, H, _ = self._oracle(closure, i, x_hat, fresh=not self.same_sample, direction=dx)
                V[i] = (1 - eta) * (v + H) + eta * G
            else:   # mvr
                G_prev = G if k == 0 else self._oracle(closure, i, x_prev, fresh=False)[0]
                V[i] = G + (1 - eta) * (v - G_prev)
        st["v_i"] = V.clone()
        return V, grads, torch.stack(losses).mean()

    def _first_memories(self, G: torch.Tensor) -> torch.Tensor:
        """g_i^{-1} from the step-0 gradients grad f_i(x^0; xi_i^0) (option ``init``)."""
        if self.init == "gradient":
            return G.clone()
        if self.init == "compressed":
            return self._compress(G)
        return torch.zeros_like(G)

    # ------------------------------------------------------------ the loop
    def step(self, closure):
        """One iteration: every client evaluates through ``closure(i, fresh)``; returns the mean loss."""
        closure = check_closure(closure)
        x = self._flat()
        st = self._state(x)
        k = st["k"]
        V, G, loss = self._targets(closure, x, st, k)
        if k == 0:
            st["g_i"] = self._first_memories(G)
            st["g"] = st["g_i"].mean(dim=0)
        c = self._compress(V - st["g_i"])
        st["g_i"] = st["g_i"] + c
        st["g"] = st["g"] + c.mean(dim=0)
        gamma = self._per_group("lr", k, x)
        direction = self._direction(st["g"]) if self.normalized else st["g"]
        if "x_prev" in st:
            st["x_prev"] = x.clone()
        self._set_flat(x - gamma * direction)
        st["k"] = k + 1
        return loss
