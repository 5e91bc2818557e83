"""What a run records (``record=``), the shapes of a Result on both backends, and memory.

* ``record="all"`` / ``"stats"`` / m give the same statistics (grad_norm, f, scalar diagnostics);
  only the stored iterates and the per-step vectors differ.
* The reference and the engine without ``seeds`` return one run's shapes; with ``seeds`` the engine
  keeps its run axis.
* Peak memory (RSS of a fresh process) grows with what is recorded, not with K d; the long run of
  the statistics-only engine (K = 1e5, d = 1e4, S = 16) fits in 2 GiB (slow tier).
* A horizon whose stated memory estimate exceeds the available memory is refused up front.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import algorithms
from eftheory.compressors import TopK
from eftheory.problems import synthetic_logistic

P = synthetic_logistic(4, 6, seed=0)
X0 = np.ones(6)
CASES = [("ef21-sgdm", TopK(2), {"momentum": 0.5}), ("ef", TopK(2), {"mu": 0.5}),
         ("mv-signum", None, {"momentum": 0.5}), ("saef", TopK(3), {"p": 3})]


def _run(name, C, kw, backend, **extra):
    return algorithms.run(name, P, C, X0, 20, stepsize=0.05, backend=backend, **kw, **extra).numpy()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name,C,kw", CASES, ids=[c[0] for c in CASES])
def test_statistics_do_not_depend_on_what_is_recorded(name, C, kw, backend):
    full = _run(name, C, kw, backend)
    stats = _run(name, C, kw, backend, record="stats")
    every = _run(name, C, kw, backend, record=7)
    K = 20
    assert full.x.shape == (K + 1, 6) and full.grad_norm.shape == (K + 1,) and full.stepsize.shape == (K,)
    assert list(stats.x_index) == [K] and stats.x.shape == (1, 6)
    assert list(every.x_index) == [0, 7, 14, 20] and every.x.shape == (4, 6)
    np.testing.assert_array_equal(every.x, full.x[every.x_index])
    np.testing.assert_array_equal(stats.x[0], full.x[-1])
    for res in (stats, every):
        if backend == "numpy":        # the same formulas on the same points: the same numbers
            np.testing.assert_array_equal(res.grad_norm, full.grad_norm)
            np.testing.assert_array_equal(res.f, full.f)
        else:                         # on the fly (S rows) vs all points at once (chunks): rounding only
            np.testing.assert_allclose(res.grad_norm, full.grad_norm, rtol=1e-12, atol=0)
            np.testing.assert_allclose(res.f, full.f, rtol=1e-12, atol=0)
        kept = set(res.diagnostics)
        assert kept <= set(full.diagnostics)
        for key in kept:
            assert np.shape(res.diagnostics[key]) == np.shape(full.diagnostics[key])
            assert np.shape(res.diagnostics[key])[-1] != 6 or key in ("client_error_norm",)
        assert res.config["record"] == ("stats" if res is stats else 7)


def test_engine_shapes_match_the_reference_without_seeds_and_keep_the_run_axis_with_them():
    ref = _run("ef21-sgdm", TopK(2), {"momentum": 0.5}, "numpy")
    one = _run("ef21-sgdm", TopK(2), {"momentum": 0.5}, "torch")
    for field in ("x", "grad_norm", "f", "stepsize", "momentum", "bits_up", "grad_calls"):
        assert np.shape(getattr(one, field)) == np.shape(getattr(ref, field)), field
    for key, value in ref.diagnostics.items():
        assert np.shape(one.diagnostics[key]) == np.shape(value), key
    for S in (1, 3):
        batch = _run("ef21-sgdm", TopK(2), {"momentum": 0.5}, "torch", seeds=S)
        assert batch.x.shape == (S, 21, 6) and batch.grad_norm.shape == (S, 21) and batch.stepsize.shape == (S, 20)
    stats = _run("ef21-sgdm", TopK(2), {"momentum": 0.5}, "torch", seeds=3, record="stats")
    assert stats.x.shape == (3, 1, 6) and stats.grad_norm.shape == (3, 21)


@pytest.mark.parametrize("record", ["some", 0, -2, 2.5, True, None])
def test_record_must_be_all_stats_or_a_positive_integer(record):
    with pytest.raises(ValueError, match="record must be one of 'all', 'stats'"):
        algorithms.run("ef21", P, TopK(2), X0, 3, stepsize=0.1, record=record)


def test_record_clients_needs_record_all():
    for backend in ("numpy", "torch"):
        with pytest.raises(ValueError, match="record_clients=True needs record='all'"):
            algorithms.run("ef21", P, TopK(2), X0, 3, stepsize=0.1, record="stats", record_clients=True,
                           backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("record", ["all", "stats", 1000])
def test_a_horizon_beyond_the_memory_estimate_is_refused_before_anything_runs(backend, record):
    with pytest.raises(ValueError, match=r"iters=1000000000000 needs an estimated .* GiB"):
        algorithms.run("ef21", P, TopK(2), X0, 10**12, stepsize=0.1, backend=backend, record=record)


def test_memory_estimate_scales_with_what_is_recorded():
    spec = algorithms.get("ef21", "torch")
    est = {r: algorithms.memory_estimate(spec, 10, 10**4, 10**5, algorithms.result.check_record(r), {"seeds": 16})
           for r in ("all", "stats", 100)}
    assert est["all"] > 2e11 > 1e10 > est[100] > est["stats"]
    assert est["stats"] < 2 ** 31          # K = 1e5, d = 1e4, n = 10, S = 16: statistics only fit in 2 GiB


_PROBE = textwrap.dedent('''
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    import algorithms
    from eftheory.compressors import TopK
    from eftheory.problems import SeparableQuadratic
    K, d, S = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    records = [int(r) if r.isdigit() else r for r in sys.argv[4].split(",")]
    from algorithms.numpy.ef21 import ef21_theory_stepsize

    p = SeparableQuadratic(d, seed=0)
    x0, C = np.ones(d), TopK(max(1, d // 100))
    gamma = ef21_theory_stepsize(p, C)           # EF21's stable stepsize (0.1 diverges over 1e5 steps)
    algorithms.run("ef21", p, C, x0, 5, stepsize=gamma, backend="torch", seeds=S)   # warm-up
    def high_water():
        # VmHWM belongs to this process's own address space; ru_maxrss would carry the parent's peak
        # across fork + exec (a probe started from a large test process starts "high")
        try:
            with open("/proc/self/status") as fh:
                return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    out = []
    for record in records:           # in order of growing memory: the high-water mark only grows
        base = high_water()
        r = algorithms.run("ef21", p, C, x0, K, stepsize=gamma, backend="torch", seeds=S, record=record)
        peak = high_water()
        out.append({"peak_kib": peak, "growth_kib": peak - base, "rows": int(r.x.shape[1]),
                    "grad_norm": list(r.grad_norm.shape)})
        del r
    print(json.dumps(out))
''')


def _probe(K, d, S, *records):
    out = subprocess.run([sys.executable, "-c", _PROBE, str(K), str(d), str(S), ",".join(map(str, records))],
                         capture_output=True, text=True, timeout=3000, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_grows_with_what_is_recorded():
    """K = 1000, d = 5000, S = 4 in one fresh process: statistics only, then every 50th iterate,
    then all iterates (160 MB, and their exact gradients as many): the peak grows by a few MB,
    a few MB, then by more than 150 MB."""
    stats, every, full = _probe(1000, 5000, 4, "stats", 50, "all")
    assert full["rows"] == 1001 and stats["rows"] == 1 and every["rows"] == 21
    figures = (stats, every, full)
    assert full["growth_kib"] > 150 * 1024, figures
    assert stats["growth_kib"] < 32 * 1024, figures
    assert every["growth_kib"] < 40 * 1024, figures


@pytest.mark.slow
def test_statistics_only_engine_run_of_1e5_steps_in_dimension_1e4_with_16_seeds_fits_in_2_gib():
    (res,) = _probe(10**5, 10**4, 16, "stats")
    assert res["rows"] == 1 and res["grad_norm"] == [16, 10**5 + 1]
    assert res["peak_kib"] < 2 * 1024 * 1024, res


def test_engine_recorder_copies_a_point_unless_the_caller_owns_it():
    """Recorder.point keeps a copy of x^k (the caller may write into x later) and the tensor itself
    only when the caller says it never writes into it; the rows are the values at the call."""
    from algorithms.result import check_record, recording
    from algorithms.torch._core import Recorder

    class _E:
        S, d, device, dtype = 2, 3, torch.device("cpu"), torch.float64

    with recording(check_record("all")):
        rec = Recorder(_E(), iters=2)
    x = torch.ones(2, 3, dtype=torch.float64)
    rec.point(0, x)
    x.mul_(5.0)                                   # written after the call: the record keeps 1
    y = torch.full((2, 3), 2.0, dtype=torch.float64)
    rec.point(1, y, owned=True)
    rec.point(2, x)
    rec._flush()
    assert torch.equal(rec.x[:, 0], torch.ones(2, 3, dtype=torch.float64))
    assert torch.equal(rec.x[:, 1], y) and torch.equal(rec.x[:, 2], x)
