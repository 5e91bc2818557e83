"""Results cache of finished units of work, so an interrupted ``eftheory verify`` resumes.

A unit is one run description (a :class:`checks.simulate.RunSpec`) for one batch of seeds. Its key
is the hash of (run description, seeds, backend, code version), where the code version is the
package version plus a hash of the source files the run depends on. Each unit is one ``.npz``
file written atomically (temporary file + ``os.replace``), so a kill leaves either the whole
unit or nothing. Units are shared by claims that need the same run; ``index.jsonl`` records which
claim first computed each unit.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Cache", "code_version"]


@lru_cache(maxsize=None)
def _file_hash(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_version(files, root: Path) -> str:
    """Package version + a hash of the given source files (missing files count as absent)."""
    import eftheory

    h = hashlib.sha256(eftheory.__version__.encode())
    for rel in sorted(files):
        p = root / rel
        h.update(rel.encode())
        if p.exists():
            h.update(_file_hash(str(p), p.stat().st_mtime_ns).encode())
    return f"{eftheory.__version__}+{h.hexdigest()[:12]}"


class Cache:
    """Directory of finished units; ``None`` directory = no caching."""

    def __init__(self, directory):
        self.dir = Path(directory) if directory is not None else None
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(config: dict, seeds, backend: str, version: str) -> str:
        blob = json.dumps({"config": config, "seeds": [int(s) for s in seeds], "backend": backend,
                           "version": version}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def get(self, key: str):
        if self.dir is None:
            return None
        p = self._path(key)
        if not p.exists():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            return None           # a damaged file is recomputed

    def put(self, key: str, arrays: dict, *, claim: str = "", label: str = "") -> None:
        if self.dir is None:
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        line = json.dumps({"key": key, "claim": claim, "run": label}) + "\n"
        with open(self.dir / "index.jsonl", "a") as fh:   # one short line: an atomic append
            fh.write(line)
