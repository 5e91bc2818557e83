r"""NumPy reference vs batched torch engine: time per iteration, throughput, speed-up, scaling.

Usage::

    python -m benchmarks.engine [--device cpu|cuda] [--quick] [--algorithms a,b,...]
                                [--iters K] [--dtype float64|float32] [--threads T]
                                [--out results.json]

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

Problem: :class:`eftheory.problems.HeterogeneousSignProblem` (n heterogeneous clients, a common
diagonal curvature, uniform gradient noise: stochastic oracles whose cost is linear in d, so
the timings measure the algorithms' own work; its construction is cheap at any d). Compressor: Top-K with K = d/100 for the EF21
family and EF/SAEF; the sign methods use their own stochastic sign S_G. Timings on a shared
machine vary by tens of percent; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

import algorithms
from eftheory.compressors import TopK
from eftheory.problems import HeterogeneousSignProblem

DEFAULT_ALGORITHMS = ("ef21-sgdm-norm", "ef21-hm-norm", "saef", "mvsm-v1")
GRID = [(4, 1_000, 16), (10, 1_000, 16), (4, 10_000, 16), (10, 10_000, 16), (32, 10_000, 16),
        (10, 10_000, 1)]
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


def measure(name: str, n: int, d: int, S: int, iters: int, device: str, dtype: str) -> dict:
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
    return {"algorithm": name, "n": n, "d": d, "seeds": S, "iters": iters,
            "ref_s_per_iter": t_ref, "eng_s_per_iter": t_eng, "eng_light_s_per_iter": t_light,
            "ref_updates_per_s": work / t_ref, "eng_updates_per_s": work / t_eng,
            "speedup": t_ref / t_eng, "speedup_light": t_ref / t_light}


def scaling_exponent(rows: list[dict], key: str) -> float:
    """OLS slope of log(time) against log(n*d) over the rows with the largest S."""
    S = max(r["seeds"] for r in rows)
    pts = [(math.log(r["n"] * r["d"]), math.log(r[key])) for r in rows if r["seeds"] == S]
    if len({p[0] for p in pts}) < 2:
        return float("nan")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


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
    ap.add_argument("--out", default=None, help="also write the rows as JSON to this file")
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
    torch.set_num_threads(args.threads if args.threads is not None else auto_threads())
    grid = QUICK_GRID if args.quick else GRID
    iters = args.iters or (3 if args.quick else DEFAULT_ITERS)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# engine benchmark: device={args.device} dtype={args.dtype} iters={iters} per run "
          f"(setup and the final f / grad_norm evaluation included) torch threads={torch.get_num_threads()} "
          f"({'given' if args.threads is not None else 'free cores'}) of {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start; the reference is single-threaded NumPy")
    print("# reference: NumPy, seeds run one after another, always computing every per-step diagnostic;"
          " engine 'full' records the same fields (like for like: the headline speed-up), engine"
          " 'light' only x, f, grad_norm and the accounting (its speed-up is against the full reference)")
    head = (f"{'algorithm':<16}{'n':>4}{'d':>7}{'S':>4}  {'ref ms/it':>10}{'full ms/it':>11}{'light ms/it':>12}"
            f"  {'ref upd/s':>10}{'full upd/s':>11}  {'full vs full':>12}{'light vs full':>14}")
    print(head)
    print("-" * len(head))
    rows = []
    for name in names:
        mine = []
        for n, d, S in grid:
            r = measure(name, n, d, S, iters, args.device, args.dtype)
            mine.append(r)
            print(f"{name:<16}{n:>4}{d:>7}{S:>4}  {1e3 * r['ref_s_per_iter']:>10.2f}{1e3 * r['eng_s_per_iter']:>11.2f}"
                  f"{1e3 * r['eng_light_s_per_iter']:>12.2f}  {r['ref_updates_per_s']:>10.3g}"
                  f"{r['eng_updates_per_s']:>11.3g}  {r['speedup']:>11.1f}x{r['speedup_light']:>13.1f}x",
                  flush=True)
        b_ref = scaling_exponent(mine, "ref_s_per_iter")
        b_eng = scaling_exponent(mine, "eng_s_per_iter")
        print(f"{'':<16}scaling exponent of cost in n*d (log-log OLS, S={max(g[2] for g in grid)}): "
              f"reference {b_ref:.2f}, engine (full) {b_eng:.2f}")
        for r in mine:
            r["exponent_ref"], r["exponent_eng"] = b_ref, b_eng
        rows.extend(mine)
    target = [r for r in rows if (r["n"], r["d"], r["seeds"]) == (10, 10_000, 16)]
    if target:
        worst = min(r["speedup"] for r in target)
        worst_light = min(r["speedup_light"] for r in target)
        print(f"# speed-up at n=10, d=10^4, S=16, min over algorithms: full vs full {worst:.1f}x "
              f"(target >= 20x: {'met' if worst >= 20 else 'NOT met'}); light vs full {worst_light:.1f}x; "
              f"load average {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.2f} at end")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
