"""The :class:`Result` every algorithm returns, on every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Result"]


@dataclass
class Result:
    """Trajectory and accounting of one run (NumPy) or a batch of runs (torch, leading seed axis).

    Shapes below are for one run with ``iters = K`` steps; the torch engine prepends a seed axis S.

    Attributes
    ----------
    name, backend : str
    x : (K+1, d) iterates x^0, ..., x^K.
    grad_norm : (K+1,) exact ||grad f(x^k)||_2 (sample-free oracle), float64.
    f : (K+1,) exact f(x^k).
    stepsize : (K,) gamma_k used by step k (k = 0, ..., K-1).
    momentum : (K,) eta_k (or beta / mu) used by step k, or None for methods without momentum.
    bits_up : (K,) uplink bits sent by each client at step k (convention in ``config['bits']``).
    bits_down : (K,) downlink bits received by each client at step k (0 where the paper does not count it).
    init_bits_up : float, bits of the round-0 initialisation message of one client (not in ``bits_up``).
    grad_calls, hvp_calls : (K,) oracle calls of one client at step k.
    diagnostics : dict of per-step (K,) arrays used by Lyapunov / lemma checks, documented per algorithm.
    config : everything needed to reproduce the run (name, seed, options, schedules' labels, compressor).
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
