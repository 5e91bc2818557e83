"""Small helpers shared by the built-in problems (argument checks, Hessian-based utilities)."""

from __future__ import annotations

import numpy as np

from eftheory.validation import check_int

__all__ = ["check_client", "as_point", "as_direction", "sym_spectral_norm"]


def check_client(i, n: int) -> int:
    """The client index ``i`` as an int in [0, n-1]; ValueError naming ``i`` otherwise."""
    return check_int("i", i, low=0, high=n - 1, high_label=f"n_clients-1={n - 1}")


def as_point(x, dim: int, name: str = "x") -> np.ndarray:
    """``x`` as a float64 vector of shape (dim,) (no copy when already one).

    Only the shape is enforced: a non-finite entry propagates, so that the algorithms' own
    divergence check reports it.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real vector of shape ({dim},); got {type(x).__name__}") from None
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},); got {arr.shape}")
    return arr


def as_direction(v, dim: int) -> np.ndarray:
    """The direction ``v`` of a Hessian-vector product, shape (dim,)."""
    return as_point(v, dim, name="v")


def sym_spectral_norm(H: np.ndarray) -> float:
    """Spectral norm of a symmetric matrix: the largest |eigenvalue|."""
    w = np.linalg.eigvalsh(H)
    return float(max(abs(w[0]), abs(w[-1])))
