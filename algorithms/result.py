"""The :class:`Result` every algorithm returns, on every backend, and what a run records.

Array shapes (one convention on both backends). With ``iters = K`` steps and R stored iterates:

==================  =====================  ==========================================================
field               one run                torch engine with ``seeds=S`` (any S >= 1, given explicitly)
==================  =====================  ==========================================================
``x``               (R, d)                 (S, R, d)
``x_index``         (R,) int               (R,) int (the same steps for every run)
``grad_norm``, f    (K+1,)                 (S, K+1)
per-step fields     (K,)                   (S, K)
diagnostics         as documented          (S, *documented shape)
==================  =====================  ==========================================================

"One run" is the NumPy reference and the torch engine called without ``seeds``; with ``seeds``
the engine keeps its run axis in front, also for ``seeds=1``. Index a grad norm as
``res.grad_norm[k]`` (one run) or ``res.grad_norm[s, k]`` (engine with seeds).

What is recorded (``record=`` of :func:`algorithms.run`, same meaning on both backends):

* ``"all"`` (default): every iterate, ``x_index = 0..K`` (R = K+1), and every diagnostic;
* ``"stats"``: the per-iteration statistics only -- ``grad_norm``, ``f``, the accounting fields and
  the diagnostics without a d axis (norms, counts), computed on the fly -- and the last iterate
  (R = 1, ``x_index = [K]``); diagnostics of shape (..., d) are not kept;
* an integer m >= 1: the statistics of ``"stats"`` and the iterates x^0, x^m, x^{2m}, ... plus x^K.

Memory is then about 8 bytes x (R d + a few (K+1) statistics) per run instead of K d.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Result", "RecordPolicy", "check_record", "current_policy", "recording", "drop_run_axis"]


@dataclass(frozen=True)
class RecordPolicy:
    """What a run keeps: ``mode`` "all" | "stats" | "every" and the iterate period ``every``."""

    mode: str = "all"
    every: int = 1

    @property
    def vectors(self) -> bool:
        """Whether per-step diagnostics with a d axis are kept (only under ``"all"``)."""
        return self.mode == "all"

    def keeps(self, k: int, iters: int) -> bool:
        """Whether the iterate x^k is stored."""
        if self.mode == "stats":
            return k == iters
        return k == iters or k % self.every == 0

    def rows(self, iters: int) -> np.ndarray:
        """The steps k of the stored iterates, increasing."""
        if self.mode == "stats":
            return np.array([iters], dtype=np.int64)
        ks = np.arange(0, iters + 1, self.every, dtype=np.int64)
        return ks if ks[-1] == iters else np.append(ks, iters)

    def label(self):
        return self.every if self.mode == "every" else self.mode


ALL = RecordPolicy()


def check_record(record) -> RecordPolicy:
    """``"all"``, ``"stats"`` or an integer m >= 1 (every m-th iterate plus the last)."""
    if isinstance(record, str) and record in ("all", "stats"):
        return RecordPolicy(record, 1)
    if isinstance(record, numbers.Integral) and not isinstance(record, bool) and int(record) >= 1:
        return RecordPolicy("every", int(record))
    raise ValueError(f"record must be one of 'all', 'stats' or an integer m in [1, inf] "
                     f"(every m-th iterate); got {record!r}")


_POLICY: contextvars.ContextVar[RecordPolicy] = contextvars.ContextVar("record_policy", default=ALL)


def current_policy() -> RecordPolicy:
    """The record policy of the run in progress (set by :func:`algorithms.run`; "all" otherwise)."""
    return _POLICY.get()


@contextlib.contextmanager
def recording(policy: RecordPolicy):
    """Run the body under ``policy`` (how :func:`algorithms.run` hands ``record=`` to both backends)."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


@dataclass
class Result:
    """Trajectory and accounting of one run, or of a batch of runs (torch engine with ``seeds``).

    Shapes: see the module docstring (``K = iters``; a leading run axis S on the engine with ``seeds``).

    Attributes
    ----------
    name, backend : str
    x : (R, d) the stored iterates x^k for k in ``x_index`` (all of them by default: R = K+1).
    grad_norm : (K+1,) exact ||grad f(x^k)||_2 (sample-free oracle), float64, for every k.
    f : (K+1,) exact f(x^k).
    stepsize : (K,) gamma_k used by step k (k = 0, ..., K-1).
    momentum : (K,) eta_k (or beta / mu) used by step k, or None for methods without momentum.
    bits_up : (K,) uplink bits sent by each client at step k (convention in ``config['bits']``).
    bits_down : (K,) downlink bits received by each client at step k (0 where the paper does not count it).
    init_bits_up : float, bits of the round-0 initialisation message of one client (not in ``bits_up``).
    grad_calls, hvp_calls : (K,) oracle calls of one client at step k.
    diagnostics : dict of per-step arrays used by Lyapunov / lemma checks, documented per algorithm.
    config : everything needed to reproduce the run (name, seed, options, schedules' labels, compressor,
        ``record``).
    x_index : (R,) the steps k of the rows of ``x`` (None is read as 0..K).
    """

    name: str
    backend: str
    x: Any
    grad_norm: Any
    f: Any
    stepsize: Any
    momentum: Any
    bits_up: Any
    bits_down: Any
    grad_calls: Any
    hvp_calls: Any
    init_bits_up: float = 0.0
    diagnostics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    x_index: Any = None

    @property
    def iters(self) -> int:
        return int(np.shape(self.stepsize)[-1])

    def numpy(self) -> "Result":
        """A copy whose array fields are NumPy arrays (torch tensors are moved to CPU)."""

        def conv(v):
            if hasattr(v, "detach"):
                return v.detach().cpu().numpy()
            if isinstance(v, dict):
                return {k: conv(w) for k, w in v.items()}
            return v

        return Result(**{k: conv(getattr(self, k)) for k in self.__dataclass_fields__})


_PER_RUN = ("x", "grad_norm", "f", "stepsize", "momentum", "bits_up", "bits_down", "grad_calls", "hvp_calls")


def drop_run_axis(res: Result) -> Result:
    """The one-run view of an engine result with a single run: the leading axis S = 1 removed."""

    def first(v):
        return v if v is None or np.ndim(v) == 0 else v[0]

    for name in _PER_RUN:
        setattr(res, name, first(getattr(res, name)))
    res.diagnostics = {k: first(v) for k, v in res.diagnostics.items()}
    res.config = {**res.config, "run_axis": False}
    return res
