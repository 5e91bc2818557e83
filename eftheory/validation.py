"""Validation of user input.

Every error a user can cause raises :class:`ValueError` whose message names the parameter and
the allowed range, e.g. ``k must be an integer in [1, d=10]; got 12``. The CLI prints such a
message on one line and exits non-zero.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_real",
    "check_positive",
    "check_unit_interval",
    "check_int",
    "check_choice",
    "check_vector",
    "check_finite_iterate",
    "check_flag",
    "check_blocks",
    "check_period",
    "check_matrix",
]


def _fmt(value) -> str:
    return repr(value) if not isinstance(value, float) else f"{value:g}"


def check_real(name: str, value, *, low=-math.inf, high=math.inf,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``float(value)`` if it is a finite real in the given interval, else raise ValueError."""
    lo_br = "(" if low_open or low == -math.inf else "["
    hi_br = ")" if high_open or high == math.inf else "]"
    interval = f"{lo_br}{_fmt(low)}, {_fmt(high)}{hi_br}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in {interval}; got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number in {interval}; got {_fmt(v)}")
    if v < low or v > high or (low_open and v == low) or (high_open and v == high):
        raise ValueError(f"{name} must lie in {interval}; got {_fmt(v)}")
    return v


def check_positive(name: str, value) -> float:
    """A finite real > 0 (stepsizes, G, R, ...)."""
    return check_real(name, value, low=0.0, low_open=True)


def check_unit_interval(name: str, value, *, low_open: bool = True, high_open: bool = False) -> float:
    """A real in (0, 1] by default (contraction alpha, momentum eta)."""
    return check_real(name, value, low=0.0, high=1.0, low_open=low_open, high_open=high_open)


def check_int(name: str, value, *, low: int | None = None, high: int | None = None,
              high_label: str | None = None) -> int:
    """An integer in [low, high]; ``high_label`` names the bound (e.g. ``"d=10"``)."""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else (high_label or str(high))
    interval = f"[{lo}, {hi}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {interval}; got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be an integer in {interval}; got {v}")
    return v


def check_choice(name: str, value, choices: Iterable[str]):
    """One of a fixed set of strings."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_vector(name: str, value, dim: int) -> np.ndarray:
    """A finite float64 vector of shape (dim,)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real vector of shape ({dim},); got {type(value).__name__}") from None
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got non-finite entries")
    return arr.copy()


def check_finite_iterate(name: str, value, k: int) -> None:
    """Raise if an iterate became NaN/inf (divergence): the run stops with a clear message."""
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"{name} became non-finite at iteration {k}: the run diverged; "
            "choose a smaller stepsize (allowed: finite iterates only)"
        )


def check_flag(name: str, value) -> bool:
    """A boolean option (True or False, NumPy booleans accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_blocks(blocks, d: int) -> tuple[int, ...]:
    """Sizes of the tensors of a flattened vector: positive integers summing to d (None: one block)."""
    if blocks is None:
        return (d,)
    try:
        sizes = tuple(blocks)
    except TypeError:
        raise ValueError(f"blocks must be a sequence of positive integers summing to d={d}; got {blocks!r}") from None
    if not sizes:
        raise ValueError(f"blocks must be a sequence of positive integers summing to d={d}; got an empty sequence")
    sizes = tuple(check_int("blocks entry", b, low=1) for b in sizes)
    if sum(sizes) != d:
        raise ValueError(f"blocks must sum to d={d} (sizes of the tensors); got sum {sum(sizes)}")
    return sizes


def check_period(p) -> float:
    """An averaging period: an integer >= 1, or ``math.inf`` (never average)."""
    if isinstance(p, bool):
        raise ValueError(f"p must be an integer in [1, inf] (math.inf = never average); got {p!r}")
    if isinstance(p, numbers.Integral) and p >= 1:
        return int(p)
    if isinstance(p, numbers.Real) and p == math.inf:
        return math.inf
    raise ValueError(f"p must be an integer in [1, inf] (math.inf = never average); got {p!r}")


def check_matrix(name: str, value) -> np.ndarray:
    """A finite float64 matrix of shape (N, d) with N, d >= 1 (a copy)."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real matrix of shape (N, d) with N, d >= 1; "
                         f"got {type(value).__name__}") from None
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a real matrix of shape (N, d) with N, d >= 1; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got non-finite entries")
    return arr
