"""The problem protocol every algorithm works through.

A problem is any object with::

    n_clients: int; dim: int
    f(x) -> float                         # global objective (1/n) sum_i f_i
    f_i(i, x) -> float
    grad(x) -> ndarray                    # optional; default: mean of grad_i (see global_grad)
    sample(i, rng) -> xi                  # one stochastic draw for client i; None = exact oracle
    grad_i(i, x, xi=None) -> ndarray      # local gradient at the SAME draw xi when given
    hvp_i(i, x, v, xi=None) -> ndarray    # local Hessian-vector product (HM / RHM only)

Draws ``xi`` are ``None`` or a NumPy array (or a tuple of arrays) of a fixed shape per problem,
so draws of several clients/seeds stack along new leading axes (the torch engine relies on this).
A draw can be reused: MVR evaluates ``grad_i`` at x^k and x^{k-1} with one draw; HM evaluates
``grad_i`` and ``hvp_i`` with one draw. ``sample`` must use only the generator it is given.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Problem", "require", "global_grad", "exact_grad_norm"]


@runtime_checkable
class Problem(Protocol):
    n_clients: int
    dim: int

    def f(self, x: np.ndarray) -> float: ...

    def f_i(self, i: int, x: np.ndarray) -> float: ...

    def sample(self, i: int, rng: np.random.Generator) -> Any: ...

    def grad_i(self, i: int, x: np.ndarray, xi: Any = None) -> np.ndarray: ...


def require(problem, methods, *, algorithm: str) -> None:
    """Raise ValueError if ``problem`` lacks an attribute an algorithm needs."""
    for m in ("n_clients", "dim", *methods):
        if not hasattr(problem, m):
            raise ValueError(
                f"problem must provide '{m}' for algorithm {algorithm!r} "
                f"(allowed: objects with {', '.join(('n_clients', 'dim', *methods))}); "
                f"{type(problem).__name__} has none"
            )
    n, d = problem.n_clients, problem.dim
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"problem.n_clients must be an integer >= 1; got {n!r}")
    if not (isinstance(d, (int, np.integer)) and d >= 1):
        raise ValueError(f"problem.dim must be an integer >= 1; got {d!r}")


def global_grad(problem, x: np.ndarray) -> np.ndarray:
    """Exact gradient of f = (1/n) sum_i f_i at x (uses ``problem.grad`` when present)."""
    if hasattr(problem, "grad"):
        return np.asarray(problem.grad(x), dtype=np.float64)
    n = problem.n_clients
    return sum(np.asarray(problem.grad_i(i, x), dtype=np.float64) for i in range(n)) / n


def exact_grad_norm(problem, x: np.ndarray) -> float:
    """||grad f(x)||_2 with the exact (sample-free) oracle."""
    return float(np.linalg.norm(global_grad(problem, x)))
