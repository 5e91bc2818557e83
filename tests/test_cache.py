"""The results cache serves only what it can verify, and ``verify`` stops cleanly on a signal.

Each kind of damage a unit file can suffer (truncated, zero-length, a damaged compressed member,
another unit's valid file copied over it, values edited after the write, no checksum at all) must
be detected, reported once, and recomputed, so that the final figures after one rerun equal the
undamaged run's exactly.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from checks import runner
from checks.cache import Cache, checksum, environment
from checks.claim import PASS, Outcome
from checks.context import Context
from checks.catalog import claim
from test_cli import _tiny_specs

ROOT = Path(__file__).resolve().parents[1]


def _specs():
    return _tiny_specs()[:2]                    # two units: one to damage, one to copy over it


def _claim(ctx) -> Outcome:
    arrs = ctx.runs(_specs(), 4)
    return Outcome("S002-C2", PASS, measured={"means": [a["mean"].tolist() for a in arrs]})


def _run(tmp_path):
    ctx = Context(out=tmp_path, backend="numpy", seed_batch=4)
    return runner.run_claim(claim("S002-C2", _claim), ctx), ctx


def _units(tmp_path):
    return sorted((tmp_path / "cache").rglob("*.npz"))


def _truncate(p, other):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _empty(p, other):
    p.write_bytes(b"")


def _bad_crc(p, other):
    # flip one byte inside the first member's data: the zip directory stays valid, its CRC does not
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _foreign(p, other):
    shutil.copyfile(other, p)


def _times_ten(p, other):
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["mean"] = arrays["mean"] * 10          # a valid file whose values changed after the write
    np.savez(p, **arrays)


def _no_checksum(p, other):
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files if k not in ("_key", "_checksum")}
    np.savez(p, **arrays)


DAMAGE = {"truncated": _truncate, "zero-length": _empty, "bad CRC": _bad_crc, "another unit's file": _foreign,
          "values x10": _times_ten, "no checksum": _no_checksum}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_unit_is_reported_and_recomputed(tmp_path, how, capfd):
    clean, _ = _run(tmp_path)
    first, second = _units(tmp_path)
    DAMAGE[how](first, second)
    again, ctx = _run(tmp_path)
    assert (ctx.computed, ctx.cached) == (1, 1)
    assert again.measured == clean.measured
    err = capfd.readouterr().err
    assert err.count(first.name) == 1 and "recomputing" in err
    third, ctx3 = _run(tmp_path)                 # the recomputed unit is served from then on
    assert (ctx3.computed, ctx3.cached) == (0, 2) and third.measured == clean.measured


def test_checksum_sees_every_kind_of_change():
    a = {"x": np.arange(4.0), "y": np.array(3)}
    base = checksum(a)
    assert checksum({**a}) == base
    assert checksum({**a, "x": np.arange(4.0) * 10}) != base
    assert checksum({**a, "x": np.arange(4.0).astype(np.float32)}) != base
    assert checksum({**a, "x": np.arange(4.0).reshape(2, 2)}) != base
    assert checksum({"z": a["x"], "y": a["y"]}) != base


def test_key_covers_the_environment():
    env = environment(backend="torch", device="cpu", tier="quick")
    assert {"numpy", "torch", "dtype", "device", "tier", "threads"} <= set(env)
    keys = {Cache.key({"a": 1}, [0], "torch", "v", e) for e in
            (env, {**env, "device": "cuda"}, {**env, "threads": 7}, {**env, "torch": "0"}, {**env, "dtype": "float32"},
             {**env, "tier": "full"})}
    assert len(keys) == 6


def test_orphan_temporaries_are_removed(tmp_path):
    cache = Cache(tmp_path)
    (tmp_path / "ab").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphans = [tmp_path / "ab" / "tmpold.tmp", tmp_path / "ab" / f"abcd.{dead.pid}.x1.tmp"]
    live = tmp_path / "ab" / f"abcd.{os.getppid()}.x2.tmp"        # a writer that still runs
    for p in orphans + [live]:
        p.write_bytes(b"partial")
    assert cache.clean_orphans() == 2
    assert not any(p.exists() for p in orphans) and live.exists()


def _children(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


@pytest.mark.wallclock
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_main_process_stops_workers_and_keeps_finished_units(tmp_path, sig):
    """A signal sent to the main process only (not its group) ends ``verify --jobs 2`` within 5 s,
    stops its workers, and leaves only whole, verifiable units behind."""
    exe = Path(sys.executable).with_name("eftheory")
    cmd = [str(exe) if exe.exists() else sys.executable, "verify", "--jobs", "2", "--quiet", "--out", str(tmp_path),
           "--claims", "S003-T1", "S000-T2", "S004-T1"]
    if not exe.exists():
        cmd = [sys.executable, "-m", "checks.cli", *cmd[1:]]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    index = tmp_path / "cache" / "index.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (index.exists() and index.read_text().strip()):
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "verify finished before a signal could be sent"
    assert index.exists(), "no unit finished within 240 s"
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("verify did not exit within 5 s of the signal")
    assert time.monotonic() - t0 < 5
    assert proc.returncode != 0
    left = _children(proc.pid)
    for _ in range(25):                  # the workers (and multiprocessing's tracker) are gone at once
        if not left:
            break
        time.sleep(0.2)
        left = _children(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert left == [], "worker processes outlived the main process"
    err = proc.stderr.read().decode()
    assert "Traceback" not in err
    import json

    cache = Cache(tmp_path / "cache")
    keys = [json.loads(line)["key"] for line in index.read_text().splitlines()]
    assert keys and all(cache.get(k) is not None for k in keys)
