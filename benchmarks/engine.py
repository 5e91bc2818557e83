r"""NumPy reference vs batched torch engine: time per iteration, throughput, speed-up, scaling,
and the machine's own ceilings (a roofline), measured in one run.

Usage::

    python -m benchmarks.engine [--device cpu|cuda] [--quick] [--algorithms a,b,...]
                                [--iters K] [--dtype float64|float32] [--threads T]
                                [--out results.json]

The run has three parts.

1. **Ceilings** of this machine, now: the per-operator dispatch cost (a tiny ``torch.add`` into a
   preallocated 1-element tensor, in a loop: the time of one operator that does no work) and
   the memory bandwidth of a triad ``a = b + s*c`` on arrays far larger than the caches
   (``torch.add(b, c, alpha=s, out=a)``: 24 bytes per element).
2. **Small-d regime** (one torch thread): problem Q of the rate claims
   (:func:`eftheory.problems.problem_q`, n = 4, d = 10), Top-2, ``ef21-mvr-norm`` and
   ``ef21-sgdm-norm``, ``diagnostics="light"``, S = 1, 64, 1024 -- reference and engine time per
   iteration, client-coordinates per second, the torch operators per iteration (counted by a
   ``TorchDispatchMode``), the bytes those operators touch per iteration, and the engine's time
   against its roofline bound ``max(ops x dispatch cost, bytes / bandwidth)``: the fraction is
   bound / measured (1 = at the ceiling; the larger term names the ceiling that bounds it).
   Then a claim's runs one after another against the same runs grouped into one engine call
   with per-run schedules (:func:`grouped_runs`).
3. **Large-d grid** (the table below), by default including n = 10, d = 10^4, S = 16.

For every algorithm and every (n clients, d, S seeds) of the grid it times

* the reference: ``algorithms.run(..., backend="numpy")`` for seeds 0..S-1, one after another
  (the reference always computes every per-step diagnostic);
* the engine: one ``algorithms.run(..., backend="torch", seeds=S)`` (after a short warm-up run),
  once with ``diagnostics="full"`` (the reference's fields: the like-for-like comparison) and
  once with ``diagnostics="light"`` (x, f, grad_norm and the accounting only),

and prints the time per iteration, the throughput in client-coordinate updates per second
(:math:`S\cdot n\cdot d` per iteration divided by the time per iteration), the speed-ups
"full vs full" (reference time / full engine time: the headline figure) and "light vs full"
(reference time / light engine time; not like for like, the reference does more work) and,
per algorithm and backend, the exponent :math:`b` of an
ordinary least-squares fit :math:`\log t = a + b\log(n d)` over the grid points with the
largest S (b = 1: cost linear in the problem size). Times include everything a run does:
draws, oracle calls, compression, the per-step diagnostics and the final evaluation of f and
:math:`\|\nabla f\|` at every iterate.

``--compile-probe`` (instead of the tables) times ``torch.compile`` (inductor) of one
``ef21-mvr-norm`` iteration's tensor work, :func:`_mvr_core`, against eager at S = 1 and 64, with
its compile time and whether the two agree bit for bit. The engine runs eager: on this
machine's measurement the compiled step's results differ from eager's in the last bits, so
compiling it would change every figure a seed gives, and it costs seconds of compilation per
shape.

Problem: :class:`eftheory.problems.HeterogeneousSignProblem` (n heterogeneous clients, a common
diagonal curvature, uniform gradient noise: stochastic oracles whose cost is linear in d, so
the timings measure the algorithms' own work; its construction is cheap at any d). Compressor: Top-K with K = d/100 for the EF21
family and EF/SAEF; the sign methods use their own stochastic sign S_G. Timings on a shared
machine vary by tens of percent; compare ratios within one run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import algorithms
from eftheory.compressors import TopK
from eftheory.problems import HeterogeneousSignProblem

DEFAULT_ALGORITHMS = ("ef21-sgdm-norm", "ef21-hm-norm", "saef", "mvsm-v1")
GRID = [(4, 1_000, 16), (10, 1_000, 16), (10, 10_000, 16), (10, 10_000, 1)]
QUICK_GRID = [(4, 1_000, 4), (10, 1_000, 4), (10, 4_000, 4)]
#: iterations per timed run: enough that the per-run setup (work buffers, the final evaluation
#: of f and grad f at every iterate) does not dominate the per-iteration figure
DEFAULT_ITERS = 20
def auto_threads() -> int:
    """torch intra-op threads for this machine now: the CPUs not busy with other jobs.

    On an idle 2-core machine 2 threads run the engine about 1.4x faster than 1; on a machine
    whose cores are already busy, more threads than free cores slow torch down many-fold
    (threads wait on each other), so the default counts only the free cores (CPUs minus the
    1-minute load average, rounded), and at least 1.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cpus, int(cpus - load + 0.5)))


def _setup(name: str, n: int, d: int):
    problem = HeterogeneousSignProblem(d=d, n=n, seed=0)
    spec = algorithms.get(name)
    kw: dict = {"stepsize": 0.01}
    if spec.momentum == "required":
        kw["momentum"] = 0.1 if spec.compressor == "required" else 0.5
    for bound in ("G", "B"):
        if bound in spec.options:
            kw[bound] = float(problem.G)
    compressor = TopK(max(1, d // 100)) if spec.compressor == "required" else None
    x0 = np.full(d, 0.1)
    return problem, compressor, x0, kw


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(name: str, n: int, d: int, S: int, iters: int, device: str, dtype: str, ceilings=None) -> dict:
    """One row of the grid; ``ceilings`` = (dispatch s/op, bytes/s) adds the operator counts and the
    roofline fraction of the full engine run."""
    problem, C, x0, kw = _setup(name, n, d)

    def reference():
        for s in range(S):
            algorithms.run(name, problem, C, x0, iters, seed=s, **kw)

    def engine(k=iters, diagnostics="full"):
        res = algorithms.run(name, problem, C, x0, k, backend="torch", seeds=S, device=device,
                             dtype=dtype, diagnostics=diagnostics, **kw)
        if res.x.is_cuda:
            torch.cuda.synchronize()

    engine(2)                                    # warm-up (allocations, kernels)
    t_ref = _time(reference) / iters
    t_eng = _time(engine) / iters
    t_light = _time(lambda: engine(diagnostics="light")) / iters
    work = S * n * d
    row = {"algorithm": name, "n": n, "d": d, "seeds": S, "iters": iters,
           "ref_s_per_iter": t_ref, "eng_s_per_iter": t_eng, "eng_light_s_per_iter": t_light,
           "ref_updates_per_s": work / t_ref, "eng_updates_per_s": work / t_eng,
           "speedup": t_ref / t_eng, "speedup_light": t_ref / t_light}
    if ceilings is not None:
        dispatch, bandwidth = ceilings
        ops, nbytes = per_iteration_counts(lambda k: engine(k), 2, 4)
        bandwidth = triad_bandwidth(work, dispatch=dispatch)      # at the size of the state tensors
        bound = max(ops * dispatch, nbytes / bandwidth)
        row.update(ops_per_iter=ops, bytes_per_iter=nbytes, bandwidth=bandwidth, bound_s_per_iter=bound,
                   bound_kind="dispatch" if ops * dispatch >= nbytes / bandwidth else "memory",
                   fraction_of_ceiling=bound / t_eng)
    return row


# --------------------------------------------------------------------------- ceilings and counts


def dispatch_cost(reps: int = 20000) -> float:
    """Seconds per call of a tiny ``torch.add`` into a preallocated tensor (median of 5 loops)."""
    a = torch.ones(1, dtype=torch.float64)
    out = torch.empty_like(a)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.add(a, a, out=out)
        times.append((time.perf_counter() - t0) / reps)
    return float(np.median(times))


def triad_bandwidth(n: int = 1 << 24, reps: int | None = None, dispatch: float = 0.0) -> float:
    """Bytes per second of ``a = b + s*c`` on float64 arrays of n elements (24 bytes per element;
    best of ``reps`` calls, less the dispatch cost of the call). At n far above the caches this
    is the DRAM bandwidth; at the size of an engine's tensors, the bandwidth its operators see."""
    n = int(max(n, 1))
    reps = reps or max(5, min(2000, (1 << 22) // n))
    b = torch.rand(n, dtype=torch.float64)
    c = torch.rand(n, dtype=torch.float64)
    a = torch.empty_like(b)
    torch.add(b, c, alpha=0.5, out=a)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.add(b, c, alpha=0.5, out=a)
        best = min(best, time.perf_counter() - t0)
    return 24.0 * n / max(best - dispatch, 0.05 * best)


class OpCounter(TorchDispatchMode):
    """Counts the torch operators dispatched (and the bytes of their tensor operands)."""

    def __init__(self):
        super().__init__()
        self.ops = 0
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        if func.overloadpacket not in _VIEWS:
            seen = set()
            for t in _tensors((args, kwargs or {}, out)):
                if t.data_ptr() not in seen:
                    seen.add(t.data_ptr())
                    self.bytes += t.numel() * t.element_size()
        return out


_VIEWS = {torch.ops.aten.view, torch.ops.aten.select, torch.ops.aten.slice, torch.ops.aten.expand,
          torch.ops.aten.unsqueeze, torch.ops.aten.squeeze, torch.ops.aten.as_strided,
          torch.ops.aten.reshape, torch.ops.aten.permute, torch.ops.aten.t, torch.ops.aten.transpose,
          torch.ops.aten._unsafe_view, torch.ops.aten.alias, torch.ops.aten.detach}


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def per_iteration_counts(run, k1: int, k2: int) -> tuple[float, float]:
    """(operators, bytes) per iteration: the difference of two counted runs of k1 < k2 iterations."""
    counts = []
    for k in (k1, k2):
        with OpCounter() as c:
            run(k)
        counts.append((c.ops, c.bytes))
    return ((counts[1][0] - counts[0][0]) / (k2 - k1), (counts[1][1] - counts[0][1]) / (k2 - k1))


SMALL_ALGORITHMS = ("ef21-mvr-norm", "ef21-sgdm-norm")
SMALL_SEEDS = (1, 64, 1024)


def _small_setup():
    from eftheory.problems import problem_q

    p = problem_q(seed=0)
    x0 = np.asarray(p.x_star) + 3.0 * np.random.default_rng(10 ** 6).standard_normal(p.dim) / math.sqrt(p.dim)
    kw = {"stepsize": lambda k: (2.0 / (k + 2.0)) ** 0.75, "momentum": lambda k: (2.0 / (k + 2.0)) ** 0.5}
    return p, TopK(2), x0, kw


def measure_small(name: str, S: int, iters: int, ref_iters: int, dispatch: float, bandwidth: float,
                  device: str = "cpu") -> dict:
    """One row of the small-d table (the caller sets one torch thread)."""
    p, C, x0, kw = _small_setup()

    def engine(k):
        res = algorithms.run(name, p, C, x0, k, backend="torch", seeds=S, device=device,
                             diagnostics="light", **kw)
        if res.x.is_cuda:
            torch.cuda.synchronize()

    engine(3)
    t_eng = min(_time(lambda: engine(iters)) for _ in range(3)) / iters
    ref_seeds = 2
    t_ref = _time(lambda: [algorithms.run(name, p, C, x0, ref_iters, seed=s, **kw)
                           for s in range(ref_seeds)]) / (ref_iters * ref_seeds)   # per iteration and seed
    ops, nbytes = per_iteration_counts(engine, 10, 30)
    work = S * p.n_clients * p.dim
    bandwidth = triad_bandwidth(work, dispatch=dispatch)          # at the size of the state tensors
    bound_dispatch = ops * dispatch
    bound_memory = nbytes / bandwidth
    bound = max(bound_dispatch, bound_memory)
    work = S * p.n_clients * p.dim
    return {"algorithm": name, "n": p.n_clients, "d": p.dim, "seeds": S, "iters": iters,
            "ref_s_per_iter_per_seed": t_ref, "ref_s_per_iter": t_ref * S, "eng_s_per_iter": t_eng,
            "ref_updates_per_s": p.n_clients * p.dim / t_ref, "eng_updates_per_s": work / t_eng,
            "speedup": t_ref * S / t_eng, "ops_per_iter": ops, "bytes_per_iter": nbytes,
            "bandwidth": bandwidth, "bound_s_per_iter": bound,
            "bound_kind": "dispatch" if bound_dispatch >= bound_memory else "memory",
            "fraction_of_ceiling": bound / t_eng}


def print_ceilings(dispatch: float, bandwidth: float) -> None:
    print(f"# ceilings (measured now): dispatch {1e6 * dispatch:.2f} us per operator (tiny torch.add, "
          f"{torch.get_num_threads()} thread(s)); triad a = b + s*c on 2^24 doubles (DRAM) {bandwidth / 1e9:.2f} GB/s; "
          f"the tables' bounds use the triad bandwidth at the size of each run's (S, n, d) tensors (GB/s column)")


def small_table(rows: list[dict]) -> None:
    head = (f"{'algorithm':<16}{'S':>5}  {'ref us/it':>10}{'eng us/it':>10}{'speed-up':>9}  {'ref cc/s':>9}"
            f"{'eng cc/s':>9}  {'ops/it':>7}{'kB/it':>8}{'GB/s':>6}  {'bound us':>9} {'by':<8}{'of ceiling':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['algorithm']:<16}{r['seeds']:>5}  {1e6 * r['ref_s_per_iter']:>10.0f}{1e6 * r['eng_s_per_iter']:>10.1f}"
              f"{r['speedup']:>8.1f}x  {r['ref_updates_per_s']:>9.3g}{r['eng_updates_per_s']:>9.3g}  "
              f"{r['ops_per_iter']:>7.1f}{r['bytes_per_iter'] / 1e3:>8.1f}{r['bandwidth'] / 1e9:>6.1f}  "
              f"{1e6 * r['bound_s_per_iter']:>9.1f} "
              f"{r['bound_kind']:<8}{r['fraction_of_ceiling']:>10.2f}", flush=True)


def scaling_exponent(rows: list[dict], key: str) -> float:
    """OLS slope of log(time) against log(n*d) over the rows with the largest S."""
    S = max(r["seeds"] for r in rows)
    pts = [(math.log(r["n"] * r["d"]), math.log(r[key])) for r in rows if r["seeds"] == S]
    if len({p[0] for p in pts}) < 2:
        return float("nan")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def claim_times(path: str, top: int = 10) -> None:
    """The end-to-end time of the slowest claims of a finished ``eftheory verify`` (its ledger.json)."""
    p = Path(path)
    if not p.is_file():
        print(f"# verify per claim: no ledger at {p} (run `make verify` first)")
        return
    led = json.loads(p.read_text())
    rows = sorted(led.get("claims", []), key=lambda c: -(c.get("seconds") or 0.0))
    st = led.get("settings", {})
    total = sum(c.get("seconds") or 0.0 for c in rows)
    print(f"# verify per claim (top {top} of {len(rows)}; tier {st.get('tier', '?')}, jobs {st.get('jobs', '?')}, "
          f"wall {st.get('seconds', '?')} s, sum of claim times {total:.0f} s; from {p})")
    for c in rows[:top]:
        print(f"{c['id']:<12}{c.get('verdict', ''):<14}{c.get('seconds') or 0.0:>8.1f} s"
              f"{100 * (c.get('seconds') or 0.0) / total if total else 0.0:>7.1f} %")


def grouped_runs(iters: int = 2000, seeds: int = 64, batch: int = 32) -> dict:
    """A claim's runs one after another vs grouped (one engine call with per-run schedules).

    The shape of S001-T2 at one horizon: ef21-sgdm-norm on problem Q (eps_std = 3), Top-2,
    three schedule variants (the theorem's, a gamma control, eta = 1), ``seeds`` seeds in units
    of ``batch``. "separate": one engine call per (variant, unit), as the ledger ran them;
    "grouped": :func:`checks.simulate.run_group`, one call for all. The figures are equal bit
    for bit (asserted here); the times are measured in this run.
    """
    from checks.simulate import X0, RunSpec, run_batch, run_group
    from eftheory.compressors import TopK
    from eftheory.problems import problem_q
    from eftheory.schedules import constant

    prob = problem_q(seed=0, eps_std=3.0)
    g = (iters + 1) ** -0.75
    variants = ((g, (iters + 1) ** -0.5), (10 * g, (iters + 1) ** -0.5), (g, 1.0))
    specs = [RunSpec("ef21-sgdm-norm", prob, TopK(2), X0("around_opt", scale=3.0, seed=0), iters,
                     constant(a), constant(b), {"init": "zero"}, extract="mean") for a, b in variants]
    units = [(sp, list(range(s0, min(seeds, s0 + batch)))) for sp in specs for s0 in range(0, seeds, batch)]
    run_group(units[:2])                                              # warm-up
    t0 = time.perf_counter()
    separate = [run_batch(sp, ss, backend="torch") for sp, ss in units]
    t_sep = time.perf_counter() - t0
    t0 = time.perf_counter()
    grouped = run_group(units)
    t_grp = time.perf_counter() - t0
    for a, b in zip(separate, grouped):
        assert all(np.array_equal(a[k], b[k]) for k in a), "grouped runs differ from the separate runs"
    runs = len(specs) * seeds
    print(f"# grouped runs (S001-T2's shape at K = {iters}: 3 schedule variants x {seeds} seeds, units of {batch}; "
          f"one torch thread): separate {len(units)} engine calls {t_sep:.2f} s "
          f"({1e6 * t_sep / iters:.0f} us/it), grouped 1 call of {runs} runs {t_grp:.2f} s "
          f"({1e6 * t_grp / iters:.0f} us/it): {t_sep / t_grp:.2f}x; figures bit-identical")
    return {"section": "grouped", "iters": iters, "runs": runs, "separate_s": t_sep, "grouped_s": t_grp,
            "ratio": t_sep / t_grp}


def _mvr_core(G, G_prev, v, g_i, g, x, gamma: float, eta: float, n: int):
    """The tensor work of one ``ef21-mvr-norm`` iteration after its draws and gradients (Top-2 by
    two rounds of argmax, the memories, the mirror, the normalized step), as one function."""
    v = G + (1.0 - eta) * (v - G_prev)
    t = v - g_i
    key = t.abs()
    first = key.argmax(-1, keepdim=True)
    second = key.scatter(-1, first, float("-inf")).argmax(-1, keepdim=True)
    idx = torch.cat([first, second], -1)
    c = torch.zeros_like(t).scatter(-1, idx, t.gather(-1, idx)) + 0.0 * t
    g = g + c.sum(1) / n
    nrm = torch.linalg.vector_norm(g, dim=-1, keepdim=True)
    x_new = x - gamma * (g / torch.where(nrm == 0, 1.0, nrm))
    return v, g_i + c, g, x_new, x_new.sum(-1)


def compile_probe(S: int = 1, calls: int = 2000) -> dict:
    """``torch.compile`` (inductor) of :func:`_mvr_core` on problem Q's sizes against eager: the
    compile time, microseconds per call of both, and whether they agree bit for bit."""
    gen = torch.Generator().manual_seed(0)
    args = [torch.randn(S, 4, 10, dtype=torch.float64, generator=gen) for _ in range(4)]
    args += [torch.randn(S, 10, dtype=torch.float64, generator=gen) for _ in range(2)]

    def per_call(fn):
        for _ in range(20):
            fn(*args, 0.1, 0.5, 4)
        return min(_time(lambda: [fn(*args, 0.1, 0.5, 4) for _ in range(calls)]) for _ in range(3)) / calls

    eager = per_call(_mvr_core)
    try:
        t0 = time.perf_counter()
        compiled = torch.compile(_mvr_core, dynamic=False)
        compiled(*args, 0.1, 0.5, 4)
        compile_s = time.perf_counter() - t0
    except Exception as err:                      # no C++ compiler, an unsupported platform, ...
        return {"S": S, "eager_s_per_call": eager, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"}
    fast = per_call(compiled)
    same = all(torch.equal(a, b) for a, b in zip(_mvr_core(*args, 0.1, 0.5, 4), compiled(*args, 0.1, 0.5, 4)))
    return {"S": S, "eager_s_per_call": eager, "compiled_s_per_call": fast, "compile_s": compile_s,
            "bit_identical": same}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="engine device: cpu, cuda or cuda:N (default cpu)")
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--quick", action="store_true", help="small grid, few iterations (a smoke run)")
    ap.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS),
                    help="comma-separated names (default: %(default)s; 'all' for every algorithm)")
    ap.add_argument("--iters", type=int, default=None,
                    help=f"iterations per run (default {DEFAULT_ITERS}, quick 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: the free cores, CPUs minus the load average, "
                         "at least 1; on a machine shared with other jobs, more threads than free cores "
                         "slow torch down many-fold)")
    ap.add_argument("--small", action="store_true", help="with --quick: still run the small-d part")
    ap.add_argument("--compile-probe", action="store_true",
                    help="only time torch.compile of one ef21-mvr-norm iteration's tensor work against eager "
                         "(problem Q, S = 1 and 64, one thread; needs a C++ compiler)")
    ap.add_argument("--out", default=None, help="also write the rows as JSON to this file")
    ap.add_argument("--ledger", default="results/ledger.json",
                    help="a finished `eftheory verify` ledger whose per-claim times are listed (default: "
                         "results/ledger.json, skipped when absent)")
    args = ap.parse_args(argv)

    names = algorithms.names() if args.algorithms == "all" else [a.strip() for a in args.algorithms.split(",") if a.strip()]
    try:
        for name in names:
            algorithms.get(name)
        from algorithms.torch._core import resolve_device
        resolve_device(args.device)
        if args.iters is not None and args.iters < 1:
            raise ValueError(f"iters must be an integer >= 1; got {args.iters}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"threads must be an integer >= 1; got {args.threads}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.compile_probe:
        torch.set_num_threads(1)
        print("# torch.compile (inductor, dynamic=False) of one ef21-mvr-norm iteration's tensor work "
              "(benchmarks.engine._mvr_core), problem Q sizes, one thread")
        for S in (1, 64):
            r = compile_probe(S)
            if "error" in r:
                print(f"S={S:<4} eager {1e6 * r['eager_s_per_call']:.1f} us per call; torch.compile failed: {r['error']}")
            else:
                print(f"S={S:<4} eager {1e6 * r['eager_s_per_call']:.1f} us, compiled {1e6 * r['compiled_s_per_call']:.1f} us "
                      f"per call ({r['eager_s_per_call'] / r['compiled_s_per_call']:.2f}x) after {r['compile_s']:.1f} s of "
                      f"compilation; bit-identical to eager: {r['bit_identical']}", flush=True)
        return 0
    torch.set_num_threads(args.threads if args.threads is not None else auto_threads())
    grid = QUICK_GRID if args.quick else GRID
    iters = args.iters or (3 if args.quick else DEFAULT_ITERS)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    started = time.perf_counter()
    threads = torch.get_num_threads()
    rows = []
    if not args.quick or args.small:
        torch.set_num_threads(1)
        one = (dispatch_cost(), triad_bandwidth())
        print(f"# small-d regime: problem Q (n=4, d=10), Top-2, diagnostics='light', one torch thread, "
              f"device={args.device}; reference per iteration = per seed x S (seeds one after another); "
              f"load average {load:.2f} at start")
        print_ceilings(*one)
        print("# cc/s: client-coordinates (S n d) per second; ops/it: torch operators per iteration; "
              "kB/it: bytes of their operands; bound: max(ops x dispatch, bytes / bandwidth); "
              "of ceiling: bound / engine time")
        small = []
        for name in SMALL_ALGORITHMS:
            for S in SMALL_SEEDS:
                k = 200 if S < 1024 else 40
                small.append(measure_small(name, S, k, 100, *one, device=args.device))
        small_table(small)
        for r in small:
            r["section"] = "small-d"
        rows.extend(small)
        rows.append(grouped_runs())
        torch.set_num_threads(threads)
        print()
    ceilings = (dispatch_cost(), triad_bandwidth())
    print_ceilings(*ceilings)
    print(f"# engine benchmark: device={args.device} dtype={args.dtype} iters={iters} per run "
          f"(setup and the final f / grad_norm evaluation included) torch threads={torch.get_num_threads()} "
          f"({'given' if args.threads is not None else 'free cores'}) of {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start; the reference is single-threaded NumPy")
    print("# reference: NumPy, seeds run one after another, always computing every per-step diagnostic;"
          " engine 'full' records the same fields (like for like: the headline speed-up), engine"
          " 'light' only x, f, grad_norm and the accounting (its speed-up is against the full reference)")
    head = (f"{'algorithm':<16}{'n':>4}{'d':>7}{'S':>4}  {'ref ms/it':>10}{'full ms/it':>11}{'light ms/it':>12}"
            f"  {'ref upd/s':>10}{'full upd/s':>11}  {'full vs full':>12}{'light vs full':>14}"
            f"  {'ops/it':>7}{'MB/it':>8}{'GB/s':>6} {'by':<8}{'of ceiling':>10}")
    print(head)
    print("-" * len(head))
    for name in names:
        mine = []
        for n, d, S in grid:
            r = measure(name, n, d, S, iters, args.device, args.dtype, ceilings=ceilings)
            mine.append(r)
            print(f"{name:<16}{n:>4}{d:>7}{S:>4}  {1e3 * r['ref_s_per_iter']:>10.2f}{1e3 * r['eng_s_per_iter']:>11.2f}"
                  f"{1e3 * r['eng_light_s_per_iter']:>12.2f}  {r['ref_updates_per_s']:>10.3g}"
                  f"{r['eng_updates_per_s']:>11.3g}  {r['speedup']:>11.1f}x{r['speedup_light']:>13.1f}x"
                  f"  {r['ops_per_iter']:>7.1f}{r['bytes_per_iter'] / 1e6:>8.2f}{r['bandwidth'] / 1e9:>6.1f} {r['bound_kind']:<8}"
                  f"{r['fraction_of_ceiling']:>10.2f}", flush=True)
        b_ref = scaling_exponent(mine, "ref_s_per_iter")
        b_eng = scaling_exponent(mine, "eng_s_per_iter")
        print(f"{'':<16}scaling exponent of cost in n*d (log-log OLS, S={max(g[2] for g in grid)}): "
              f"reference {b_ref:.2f}, engine (full) {b_eng:.2f}")
        for r in mine:
            r["exponent_ref"], r["exponent_eng"] = b_ref, b_eng
        rows.extend(mine)
    target = [r for r in rows if (r.get("n"), r.get("d"), r.get("seeds")) == (10, 10_000, 16)]
    if target:
        worst = min(r["speedup"] for r in target)
        worst_light = min(r["speedup_light"] for r in target)
        print(f"# speed-up at n=10, d=10^4, S=16, min over algorithms: full vs full {worst:.1f}x "
              f"(target >= 20x: {'met' if worst >= 20 else 'NOT met'}); light vs full {worst_light:.1f}x; "
              f"load average {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.2f} at end")
    claim_times(args.ledger)
    print(f"# whole benchmark {time.perf_counter() - started:.0f} s")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
