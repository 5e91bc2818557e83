r"""Stepsize and momentum schedules, indexed per iteration k = 0, 1, 2, ...

* :func:`constant` -- :math:`\gamma_k \equiv \gamma`.
* :func:`horizon` -- :math:`\gamma_k \equiv \gamma_0/\sqrt{K+1}` (004, Theorem 1; needs the horizon K).
* :func:`polynomial` -- :math:`\gamma_k = \gamma_0 (2/(k+2))^p` (000, the Lemma-15 family), or with
  ``base="1/(k+1)"`` :math:`\gamma_0 (k+1)^{-p}`.  With ``gamma0 = 1`` and exponent ``q`` it is the
  momentum schedule :math:`\eta_k = (2/(k+2))^q` (so :math:`\eta_0 = 1`).

A schedule is any callable ``k -> float``; :func:`as_schedule` turns a float into a constant
schedule and validates values. Schedules are vectorised through :meth:`Schedule.values`.

Every schedule built here is made of module-level callable objects (:class:`Constant`,
:class:`Polynomial`, :class:`Checked`), so it pickles (an optimizer's ``state_dict`` holding
one can be saved with ``torch.save``); a user's own callable pickles if it does.

:meth:`Schedule.params` names a schedule by the parameters of those objects (exact floats, not the
rounded label), so a run description can be keyed by it; a schedule of a user's own callable has
parameters only when the callable has a ``params()`` method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .validation import check_choice, check_int, check_positive, check_real

__all__ = ["Schedule", "constant", "horizon", "polynomial", "as_schedule", "BASES", "Constant", "Polynomial",
           "Checked", "PerRun"]

BASES = ("2/(k+2)", "1/(k+1)")


@dataclass(frozen=True)
class Schedule:
    """A named per-iteration schedule ``k -> value``."""

    fn: Callable[[int], float]
    label: str

    def __call__(self, k: int) -> float:
        return float(self.fn(k))

    def values(self, n: int) -> np.ndarray:
        """Values at k = 0, ..., n-1 as float64."""
        return np.array([self.fn(k) for k in range(n)], dtype=np.float64)

    def __repr__(self) -> str:
        return f"Schedule({self.label})"

    def params(self) -> dict:
        """The parameters of ``fn`` (``{"class": "Constant", "value": ...}``, ...); the label is not one.

        ValueError when ``fn`` has no ``params()`` (a lambda, a user's function): such a schedule
        cannot be told from another by its description.
        """
        return _params_of(self.fn, self.label)


def _params_of(fn, label) -> dict:
    params = getattr(fn, "params", None)
    if not callable(params):
        raise ValueError(f"the schedule {label!r} has no parameters to describe it by: its function "
                         f"{type(fn).__name__} has no params() method (use constant/polynomial/horizon)")
    return params()


@dataclass(frozen=True)
class Constant:
    """``k -> value``."""

    value: float

    def __call__(self, k: int) -> float:
        return self.value

    def params(self) -> dict:
        return {"class": "Constant", "value": self.value}


@dataclass(frozen=True)
class Polynomial:
    """``k -> gamma0 * (2/(k+2))**p`` (``base="2/(k+2)"``) or ``gamma0 * (k+1)**(-p)``."""

    gamma0: float
    p: float
    base: str = "2/(k+2)"

    def __post_init__(self):
        check_choice("base", self.base, BASES)

    def __call__(self, k: int) -> float:
        if self.base == "2/(k+2)":
            return self.gamma0 * (2.0 / (k + 2.0)) ** self.p
        return self.gamma0 * (k + 1.0) ** (-self.p)

    def params(self) -> dict:
        return {"class": "Polynomial", "gamma0": self.gamma0, "p": self.p, "base": self.base}


@dataclass(frozen=True)
class Checked:
    """``fn(k)`` validated on use: a real in (0, high] named ``name(k)``."""

    fn: Callable[[int], float]
    name: str
    high: float = math.inf

    def __call__(self, k: int) -> float:
        return check_real(f"{self.name}({k})", self.fn(k), low=0.0, high=self.high, low_open=True)

    def params(self) -> dict:
        return {"class": "Checked", "fn": _params_of(self.fn, self.name), "name": self.name, "high": self.high}


def constant(value: float, *, name: str = "stepsize") -> Schedule:
    v = check_positive(name, value)
    return Schedule(Constant(v), f"{v:g}")


def horizon(gamma0: float, K: int) -> Schedule:
    """gamma0 / sqrt(K + 1), constant over the run (004 Theorem 1)."""
    g0 = check_positive("gamma0", gamma0)
    K = check_int("K", K, low=0)
    v = g0 / math.sqrt(K + 1)
    return Schedule(Constant(v), f"{g0:g}/sqrt({K}+1)")


def polynomial(gamma0: float, p: float, *, base: str = "2/(k+2)") -> Schedule:
    """gamma0 * (2/(k+2))**p (default) or gamma0 * (k+1)**(-p)."""
    g0 = check_positive("gamma0", gamma0)
    p = check_real("p", p, low=0.0)
    check_choice("base", base, BASES)
    label = f"{g0:g}*(2/(k+2))^{p:g}" if base == "2/(k+2)" else f"{g0:g}*(k+1)^-{p:g}"
    return Schedule(Polynomial(g0, p, base), label)


def as_schedule(value, *, name: str = "stepsize", high: float = math.inf) -> Schedule:
    """Float -> constant schedule; callable -> validated-on-use schedule.

    ``high`` bounds the values (``1`` for a momentum parameter eta in (0, 1]).
    """
    if isinstance(value, Schedule):
        fn, label = value.fn, value.label
    elif callable(value):
        fn, label = value, getattr(value, "__name__", "callable")
    else:
        v = check_real(name, value, low=0.0, high=high, low_open=True)
        return Schedule(Constant(v), f"{v:g}")
    return Schedule(Checked(fn, name, high), label)


@dataclass(frozen=True)
class PerRun:
    """Schedules of the runs of one batched engine call: the first ``counts[0]`` runs follow
    ``schedules[0]``, the next ``counts[1]`` runs ``schedules[1]``, and so on.

    It lets runs that differ only in their schedules (a claim's horizons, its controls) share one
    engine call (``algorithms.run(..., backend="torch", seeds=[...], stepsize=PerRun(...))``);
    run s then equals the call of its own schedule and seed alone, bit for bit.
    """

    schedules: tuple
    counts: tuple

    def __post_init__(self):
        if not isinstance(self.schedules, (list, tuple)) or not isinstance(self.counts, (list, tuple)):
            raise ValueError("schedules and counts must be sequences (one run count per schedule); got "
                             f"{type(self.schedules).__name__} and {type(self.counts).__name__}")
        scheds, counts = tuple(self.schedules), tuple(self.counts)
        if not scheds or len(scheds) != len(counts):
            raise ValueError(f"counts must give one run count per schedule ({len(scheds)} schedules); "
                             f"got {len(counts)} counts")
        for c in counts:
            check_int("counts", c, low=1)
        object.__setattr__(self, "schedules", scheds)
        object.__setattr__(self, "counts", tuple(int(c) for c in counts))

    @property
    def runs(self) -> int:
        return sum(self.counts)

    @property
    def label(self) -> str:
        return "per run: " + "; ".join(f"{c} x {getattr(s, 'label', s)}" for s, c in zip(self.schedules, self.counts))

    def checked(self, *, name: str, high: float = math.inf) -> "PerRun":
        """The same, each schedule through :func:`as_schedule` (floats become constants)."""
        return PerRun(tuple(as_schedule(s, name=name, high=high) for s in self.schedules), self.counts)

    def values(self, n: int) -> np.ndarray:
        """Values at k = 0, ..., n-1 per schedule: shape (len(schedules), n)."""
        return np.stack([s.values(n) for s in self.schedules])
