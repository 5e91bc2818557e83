"""Results cache of finished units of work, so an interrupted ``eftheory verify`` resumes.

A unit is one run description (a :class:`checks.simulate.RunSpec`) for one batch of seeds. Its key
is the hash of everything that can change a figure: the run description, the seeds, the backend,
the code version (package version + a hash of the source files the run depends on) and the
environment of the run (:func:`environment`: numpy and torch versions, dtype, device, tier and,
on the torch backend, the thread count).

Each unit is one ``.npz`` file that stores, besides the arrays, its own key and a SHA-256
checksum of its content. :meth:`Cache.get` serves a unit only when the file reads back, names the
key it was asked for and matches its checksum; any other file (truncated, zero-length, a damaged
compressed member, another unit's file copied over it, values edited after the write) is
reported once on stderr, removed and recomputed. Writes go to a temporary file in the same
folder, are flushed to disk (``fsync``) and moved into place with ``os.replace``, so a kill leaves
either the whole unit or nothing; temporaries whose writing process is gone are removed by
:meth:`Cache.clean_orphans`. ``index.jsonl`` records which claim first computed each unit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Cache", "code_version", "environment", "checksum"]

_KEY = "_key"
_SUM = "_checksum"


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


def environment(*, backend: str, device: str = "cpu", dtype: str = "float64", tier: str = "") -> dict:
    """What besides the code can change a unit's figures; part of every cache key."""
    env = {"numpy": np.__version__, "dtype": str(dtype), "device": str(device), "tier": str(tier)}
    if backend == "torch":
        import torch

        env["torch"] = torch.__version__
        env["threads"] = int(torch.get_num_threads())   # the order of parallel reductions
    return env


def checksum(arrays: dict) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of the arrays (keys starting with ``_`` of
    the cache's own bookkeeping excluded)."""
    h = hashlib.sha256()
    for name in sorted(k for k in arrays if k not in (_KEY, _SUM)):
        a = np.ascontiguousarray(np.asarray(arrays[name]))
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Cache:
    """Directory of finished units; ``None`` directory = no caching."""

    def __init__(self, directory):
        self.dir = Path(directory) if directory is not None else None
        self.reported: list[str] = []        # one line per unit found damaged and recomputed
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(config: dict, seeds, backend: str, version: str, env: dict | None = None) -> str:
        blob = json.dumps({"config": config, "seeds": [int(s) for s in seeds], "backend": backend,
                           "version": version, "env": env or {}}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def _reject(self, path: Path, why: str) -> None:
        line = f"eftheory: cache unit {path.name} {why}; recomputing it"
        if line not in self.reported:
            self.reported.append(line)
            print(line, file=sys.stderr)
        try:
            path.unlink()
        except OSError:
            pass

    def get(self, key: str):
        """The unit's arrays, or ``None`` when it is absent or cannot be verified (then it is removed)."""
        if self.dir is None:
            return None
        p = self._path(key)
        if not p.exists():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as exc:          # zip, zlib, EOF and format errors alike: the file is unreadable
            self._reject(p, f"is unreadable ({type(exc).__name__}: {exc})".replace("\n", " "))
            return None
        if _KEY not in arrays or _SUM not in arrays:
            self._reject(p, "carries no key or checksum")
            return None
        if str(arrays[_KEY]) != key:
            self._reject(p, f"belongs to another unit ({arrays[_KEY]})")
            return None
        if str(arrays[_SUM]) != checksum(arrays):
            self._reject(p, "does not match its checksum")
            return None
        return {k: v for k, v in arrays.items() if k not in (_KEY, _SUM)}

    def put(self, key: str, arrays: dict, *, claim: str = "", label: str = "") -> None:
        if self.dir is None:
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = {k: np.asarray(v) for k, v in arrays.items()}
        body[_KEY] = np.array(key)
        body[_SUM] = np.array(checksum(body))
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f"{key}.{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
            _fsync_dir(p.parent)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        line = json.dumps({"key": key, "claim": claim, "run": label}) + "\n"
        with open(self.dir / "index.jsonl", "a") as fh:   # one short line: an atomic append
            fh.write(line)

    def clean_orphans(self) -> int:
        """Remove temporaries left by a writer that no longer runs; the number removed."""
        if self.dir is None:
            return 0
        removed = 0
        for tmp in self.dir.glob("*/*.tmp"):
            parts = tmp.name.split(".")
            pid = int(parts[1]) if len(parts) >= 4 and parts[1].isdigit() else None
            if pid is not None and pid != os.getpid() and _pid_alive(pid):
                continue
            if pid == os.getpid():
                continue
            try:
                tmp.unlink()
                removed += 1
            except OSError:
                pass
        return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
