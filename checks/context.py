"""What a claim's ``run(ctx)`` receives: the tier, the backend, the cache and the output folder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import Cache, code_version, environment
from .simulate import GROUP_RUNS, ROOT, RunSpec, engine_available, group_key, run_batch, run_group, source_files

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
        """Execute (or load) every spec for seeds 0..n_seeds-1 in batches; per-seed arrays per spec.

        A unit (a spec and a batch of seeds) is cached on its own. The units still to compute
        that differ only in their schedules (:func:`checks.simulate.group_key`: a claim's
        horizons, its controls) run together, as one engine call with per-run schedules, up to
        :data:`~checks.simulate.GROUP_RUNS` runs per call; each unit's arrays are those of its
        own call, bit for bit.
        """
        units = []
        for i, spec in enumerate(specs):
            batch = self.seed_batch or (32 if self.backend == "torch" and engine_available(spec.algorithm) else 4)
            for start in range(0, n_seeds, batch):
                units.append((i, spec, list(range(start, min(n_seeds, start + batch)))))
        parts: dict[int, dict] = {i: {} for i in range(len(specs))}
        bar = None
        if self.progress:
            from tqdm import tqdm
            bar = tqdm(total=len(units), desc=desc or self.claim_id, unit="run", leave=False)
        env = environment(backend=self.backend, device=self.device, tier=self.tier)
        try:
            todo = []
            for u, (i, spec, seeds) in enumerate(units):
                version = code_version(source_files(spec.algorithm, self.backend), ROOT)
                key = Cache.key(self._unit_config(spec), seeds, self.backend, version, env)
                arrays = self.cache.get(key)
                if arrays is None:
                    todo.append((u, key))
                    continue
                self.cached += 1
                parts[i][u] = arrays
                if bar is not None:
                    bar.update(1)
            for group in self._groups(units, todo):
                t0 = time.perf_counter()
                if len(group) == 1:
                    (u, _), = group
                    results = [run_batch(units[u][1], units[u][2], backend=self.backend, device=self.device)]
                else:
                    results = run_group([(units[u][1], units[u][2]) for u, _ in group], device=self.device)
                seconds = (time.perf_counter() - t0) / len(group)
                for (u, key), arrays in zip(group, results):
                    i, spec, _ = units[u]
                    arrays["_seconds"] = np.array(seconds)
                    self.cache.put(key, arrays, claim=self.claim_id, label=spec.label)
                    self.computed += 1
                    self.computed_keys.append(key)
                    parts[i][u] = arrays
                    if bar is not None:
                        bar.update(1)
                if self.fail_after is not None and self.computed >= self.fail_after:
                    raise TestInterrupt(f"test hook: stopped after {self.computed} computed units")
        finally:
            if bar is not None:
                bar.close()
        parts = {i: [p[u] for u in sorted(p)] for i, p in parts.items()}
        out = []
        for i in range(len(specs)):
            keys = [k for k in parts[i][0] if not k.startswith("_")]
            out.append({k: np.concatenate([p[k] for p in parts[i]], axis=0) for k in keys})
        return out

    def _groups(self, units, todo):
        """The units to compute, as lists of ``(unit index, key)`` that share one engine call."""
        groups: dict = {}
        order = []
        for u, key in todo:
            spec, seeds = units[u][1], units[u][2]
            g = group_key(spec, self.backend)
            if g is None:
                order.append([(u, key)])
                continue
            cur = groups.get(g)
            if cur is None or sum(len(units[v][2]) for v, _ in cur) + len(seeds) > GROUP_RUNS:
                cur = groups[g] = []
                order.append(cur)
            cur.append((u, key))
        return order
