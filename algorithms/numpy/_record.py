"""What a reference run keeps (:class:`algorithms.result.RecordPolicy`): the stored iterates and the
per-iteration statistics f(x^k), ||grad f(x^k)|| (and ||grad f(x^k)||_1), computed as the run goes.

The statistics are evaluated with the formulas the loops used on the whole trajectory before
(``exact_grad_norm`` for the EF21 family, the norm of ``global_grad`` for EF/SAEF and the sign
family, here with every output's shape checked), so the numbers do not depend on what is recorded.
"""

from __future__ import annotations

import numpy as np

from eftheory.validation import NonFiniteError, check_oracle_output, checked_value

__all__ = ["Trajectory", "checked_global_grad", "checked_value"]


def checked_global_grad(problem, x: np.ndarray) -> np.ndarray:
    """:func:`eftheory.problems.base.global_grad` (same arithmetic) with every output's shape checked."""
    d = x.shape[0]
    if hasattr(problem, "grad"):
        return check_oracle_output("grad", problem.grad(x), d)
    n = problem.n_clients
    return sum(check_oracle_output("grad_i", problem.grad_i(i, x), d) for i in range(n)) / n


class Trajectory:
    """Iterates kept by ``policy`` plus f, ||grad f|| (and the l1 norm with ``l1=True``) at every k.

    ``norm``: ``"exact"`` (``exact_grad_norm``) or ``"global"`` (``||global_grad||_2``).
    """

    def __init__(self, problem, iters: int, d: int, policy, *, norm: str = "global", l1: bool = False):
        self.problem, self.iters, self.policy, self._norm = problem, iters, policy, norm
        self.rows = policy.rows(iters)
        self.xs = np.empty((len(self.rows), d))
        self._slot = {int(k): j for j, k in enumerate(self.rows)}
        self.f = np.empty(iters + 1)
        self.grad_norm = np.empty(iters + 1)
        self.l1 = np.empty(iters + 1) if l1 else None

    def point(self, k: int, x: np.ndarray) -> None:
        """Record x^k: store it if kept, and its statistics."""
        j = self._slot.get(k)
        if j is not None:
            self.xs[j] = x
        with np.errstate(over="ignore", invalid="ignore"):
            self.f[k] = checked_value("f", self.problem.f(x))
            if self._norm == "exact" and self.l1 is None:
                self.grad_norm[k] = float(np.linalg.norm(checked_global_grad(self.problem, x)))
            else:
                g = checked_global_grad(self.problem, x)
                self.grad_norm[k] = np.linalg.norm(g[None, :], axis=1)[0]
                if self.l1 is not None:
                    self.l1[k] = np.abs(g[None, :]).sum(axis=1)[0]

    def check(self, seed) -> None:
        """After a run: the statistics must be finite (an exact objective or gradient that overflowed)."""
        for what, arr in (("objective f(x^k)", self.f), ("exact gradient norm ||grad f(x^k)||", self.grad_norm)):
            bad = ~np.isfinite(arr)
            if bad.any():
                k = int(np.argmax(bad))
                raise NonFiniteError(what, k, seed=seed, detail=f"at the iterate x^{k}")
