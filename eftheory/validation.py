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
    "checked_value",
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
    "NonFiniteError",
    "check_finite_quantity",
    "check_oracle_output",
    "check_draw",
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
    if isinstance(value, (str, bytes)) or np.iscomplexobj(value):
        raise ValueError(f"{name} must be a real vector of shape ({dim},); got {type(value).__name__}"
                         + (" with complex entries" if np.iscomplexobj(value) else ""))
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real vector of shape ({dim},); got {type(value).__name__}") from None
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got non-finite entries")
    return arr.copy()


class NonFiniteError(ValueError):
    """A run produced a NaN or an infinite value: the finding, not a guess at its cause.

    Attributes: ``quantity`` (what became non-finite, e.g. ``"gradient grad_i"``, ``"message c_i"``,
    ``"iterate x"``), ``iteration`` (the step k = 0..K-1 that produced it; for the iterate it is
    x^{k+1}), ``run`` (index of the run in a batch of seeds, 0 for a single run), ``seed``,
    ``client`` (the client index where known, else None).
    """

    def __init__(self, quantity: str, iteration: int, *, run: int = 0, seed=None, client=None,
                 detail: str = ""):
        self.quantity, self.iteration, self.run, self.seed, self.client = quantity, iteration, run, seed, client
        where = f"at iteration {iteration}"
        if client is not None:
            where += f", client {client}"
        who = f"run {run}" + ("" if seed is None else f" (seed {seed})")
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{quantity} became non-finite (NaN or inf) {where} of {who}{extra}; "
                         "a run must keep every oracle output, state and message finite")


def check_finite_quantity(quantity: str, value, k: int, *, seed=None, client=None, run: int = 0,
                          detail: str = "") -> None:
    """Raise :class:`NonFiniteError` if ``value`` holds a NaN or inf entry."""
    if not np.all(np.isfinite(value)):
        raise NonFiniteError(quantity, k, run=run, seed=seed, client=client, detail=detail)


def check_finite_iterate(name: str, value, k: int, *, seed=None) -> None:
    """Raise :class:`NonFiniteError` if an iterate (or a vector named ``name``) holds NaN/inf at step k."""
    check_finite_quantity(name, value, k, seed=seed)


def check_oracle_output(name: str, value, dim: int) -> np.ndarray:
    """A problem method's vector output (``grad_i``, ``hvp_i``): a real array of shape (dim,), as float64.

    The message names the method; finiteness is checked by the loops (it is a finding of the
    run, reported with its iteration).
    """
    if value is None or isinstance(value, (str, bytes, dict, set)):
        raise ValueError(f"{name} must return a real vector of shape ({dim},); got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must return a real vector of shape ({dim},); got dtype {arr.dtype}")
    if arr.shape != (dim,):
        raise ValueError(f"{name} must return a real vector of shape ({dim},); got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def check_draw(value):
    """A draw of ``problem.sample(i, rng)``: None, a real/integer array or a tuple of them, finite."""
    if value is None:
        return None
    parts = value if isinstance(value, tuple) else (value,)
    for part in parts:
        if part is None or isinstance(part, (str, bytes, dict, set)):
            raise ValueError(f"sample must return None, a real array or a tuple of arrays; got {type(part).__name__}")
        arr = np.asarray(part)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
                or np.issubdtype(arr.dtype, np.complexfloating):
            raise ValueError(f"sample must return None, a real array or a tuple of arrays; got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise ValueError("sample must return finite draws; got NaN or inf entries")
    return value


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


def checked_value(name: str, value) -> float:
    """A problem method's scalar output (``f``) as a float; ValueError naming the method otherwise."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must return a real number; got {type(value).__name__}") from None
    if arr.size != 1:
        raise ValueError(f"{name} must return a real number; got an array of shape {arr.shape}")
    return float(arr.reshape(()))
