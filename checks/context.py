"""What a claim's ``run(ctx)`` receives: the tier, the backend, the cache and the output folder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import Cache, code_version, environment
from .simulate import ROOT, RunSpec, engine_available, run_batch, source_files

__all__ = ["Context", "TIERS", "BACKENDS", "DEVICES", "TestInterrupt", "FAIL_AFTER_ENV"]

TIERS = ("quick", "full")
BACKENDS = ("numpy", "torch")
DEVICES = ("cpu", "cuda")
#: test hook: raise :class:`TestInterrupt` after this many units were computed in one process.
FAIL_AFTER_ENV = "EFTHEORY_FAIL_AFTER_UNITS"


class TestInterrupt(BaseException):
    """Raised by the test hook to simulate a kill in the middle of ``eftheory verify``."""

    __test__ = False


@dataclass
class Context:
    tier: str = "quick"
    backend: str = "torch"          # preferred: the engine where registered, else the NumPy reference
    device: str = "cpu"
    out: Path | None = None
    progress: bool = False
    claim_id: str = ""
    seed_batch: int | None = None     # seeds per unit; default: 32 on the engine, 4 on the reference
    fail_after: int | None = None
    mutant: str | None = None         # a checks.mutants name the claim runs under (None: the unmutated code)
    computed: int = 0
    cached: int = 0
    computed_keys: list = field(default_factory=list)

    def __post_init__(self):
        self.out = Path(self.out) if self.out is not None else None
        self.cache = Cache(self.out / "cache" if self.out is not None else None)
        if self.fail_after is None and os.environ.get(FAIL_AFTER_ENV):
            self.fail_after = int(os.environ[FAIL_AFTER_ENV])

    @property
    def full(self) -> bool:
        return self.tier == "full"

    def pick(self, quick, full):
        """The quick- or full-tier value."""
        return full if self.full else quick

    @property
    def plot_dir(self) -> Path | None:
        if self.out is None:
            return None
        d = self.out / "plots"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _unit_config(self, spec: RunSpec) -> dict:
        """The cache key's run description: a run the active mutant can change is keyed by its name too,
        one it cannot change shares the unmutated unit."""
        config = spec.key()
        if self.mutant is not None:
            from .mutants import get

            if get(self.mutant).touches(spec.algorithm, spec.compressor):
                config = {**config, "mutant": self.mutant}
        return config

    def runs(self, specs: list[RunSpec], n_seeds: int, *, desc: str = "") -> list[dict]:
        """Execute (or load) every spec for seeds 0..n_seeds-1 in batches; per-seed arrays per spec."""
        units = []
        for i, spec in enumerate(specs):
            batch = self.seed_batch or (32 if self.backend == "torch" and engine_available(spec.algorithm) else 4)
            for start in range(0, n_seeds, batch):
                units.append((i, spec, list(range(start, min(n_seeds, start + batch)))))
        parts: dict[int, list] = {i: [] for i in range(len(specs))}
        bar = None
        if self.progress:
            from tqdm import tqdm
            bar = tqdm(total=len(units), desc=desc or self.claim_id, unit="run", leave=False)
        try:
            for i, spec, seeds in units:
                files = source_files(spec.algorithm, self.backend)
                version = code_version(files, ROOT)
                env = environment(backend=self.backend, device=self.device, tier=self.tier)
                key = Cache.key(self._unit_config(spec), seeds, self.backend, version, env)
                arrays = self.cache.get(key)
                if arrays is None:
                    t0 = time.perf_counter()
                    arrays = run_batch(spec, seeds, backend=self.backend, device=self.device)
                    arrays["_seconds"] = np.array(time.perf_counter() - t0)
                    self.cache.put(key, arrays, claim=self.claim_id, label=spec.label)
                    self.computed += 1
                    self.computed_keys.append(key)
                    if self.fail_after is not None and self.computed >= self.fail_after:
                        raise TestInterrupt(f"test hook: stopped after {self.computed} computed units")
                else:
                    self.cached += 1
                parts[i].append(arrays)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        out = []
        for i in range(len(specs)):
            keys = [k for k in parts[i][0] if not k.startswith("_")]
            out.append({k: np.concatenate([p[k] for p in parts[i]], axis=0) for k in keys})
        return out
