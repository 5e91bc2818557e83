"""What the ``eftheory`` commands do; :mod:`checks.cli` holds the parser and the dispatch.

Every command raises :class:`ValueError` (or :class:`OSError` for an output folder) on input a
user can get wrong; the CLI turns it into one line ``eftheory: error: ...`` and exit status 2.

Saved results, so that ``eftheory plot DIR`` redraws without recomputing:

* ``eftheory run``  -> ``DIR/trajectory.npz`` (per-seed curves), ``DIR/trajectory.csv``,
  ``DIR/run.json`` and ``DIR/plots/grad_norm.png|pdf``;
* ``eftheory fit`` and every rate claim of ``eftheory verify`` -> ``DIR/plots/<name>.data.json``
  beside ``<name>.png|pdf``: the arguments of :func:`checks.plots.loglog_plot` as plain JSON
  (``"plot": "loglog"``), or, for the experiment claims, the training curves of
  :func:`eftheory.experiments.plot_curves` (``"plot": "curves"``).
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .report import _atomic_write

__all__ = ["check_out", "parse_kv", "parse_problem", "parse_compressor", "parse_schedule",
           "save_plot_data", "PLOT_DATA_SUFFIX", "PROBLEMS", "COMPRESSORS",
           "cmd_list", "cmd_verify", "cmd_mutants", "cmd_run", "cmd_fit", "cmd_plot", "cmd_derive"]

PLOT_DATA_SUFFIX = ".data.json"


# ----------------------------------------------------------------------------- output folders

def check_out(out, name: str = "out") -> Path:
    """Create ``out`` if needed and prove it writable; ValueError naming the path otherwise."""
    text = "" if out is None else str(out)
    if not text.strip():
        raise ValueError(f"{name} must be a writable folder; got an empty path")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{name} must be a writable folder ({p}): it exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name} must be a writable folder ({p}): {exc.strerror or exc}") from None
    return p


def _print_json(doc) -> None:
    print(json.dumps(doc, indent=1, default=_jsonable))


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


# ----------------------------------------------------------------------------- k=v parameters

def _value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_kv(text: str, what: str) -> dict:
    """``"a=1,b=0.5,c=x"`` -> {"a": 1, "b": 0.5, "c": "x"} (ints, floats, true/false, none, strings)."""
    out = {}
    if not text:
        return out
    for item in text.split(","):
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep or not key or not key.isidentifier() or not val.strip():
            raise ValueError(f"{what} parameters must be k=v pairs separated by commas; got {item!r}")
        if key in out:
            raise ValueError(f"{what} parameter {key!r} is given twice")
        out[key] = _value(val.strip())
    return out


def _problem_factories() -> dict:
    from eftheory import problems

    return {
        "Q": problems.problem_q,
        "Q4": problems.problem_q4,
        "logistic": problems.synthetic_logistic,
        "breast-cancer": problems.breast_cancer,
        "polynomial": problems.Polynomial,
        "separable": problems.SeparableQuadratic,
        "sign-hetero": problems.HeterogeneousSignProblem,
        "homogeneous": problems.HomogeneousNoisyQuadratic,
    }


#: problem names of ``eftheory run --problem`` (see :func:`parse_problem`)
PROBLEMS = ("Q", "Q4", "logistic", "breast-cancer", "polynomial", "separable", "sign-hetero", "homogeneous")
#: compressor forms of ``--compressor``
COMPRESSORS = ("topk:K", "randk:K", "scaled-randk:K", "scaled-sign", "identity", "none")


def _params(fn) -> list[str]:
    sig = inspect.signature(fn)
    return [n for n, p in sig.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in ("self", "rng", "A", "b")]


def parse_problem(text: str):
    """``NAME[:k=v,...]`` -> (problem, {"name": NAME, **params})."""
    name, _, rest = (text or "").partition(":")
    factories = _problem_factories()
    if name not in factories:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)} (with optional :k=v,...); got {name!r}")
    params = parse_kv(rest, f"problem {name}")
    allowed = _params(factories[name])
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"problem {name} has no parameter {', '.join(unknown)} (allowed: {', '.join(allowed)})")
    try:
        problem = factories[name](**params)
    except TypeError as exc:
        raise ValueError(f"problem {name}: {exc}") from None
    except ImportError as exc:
        raise ValueError(f"problem {name} needs a package that is not installed: {exc}") from None
    return problem, {"name": name, **params}


def parse_compressor(text: str):
    """One of :data:`COMPRESSORS` -> an :mod:`eftheory.compressors` object (``none`` -> None)."""
    from eftheory import compressors

    name, sep, arg = (text or "").partition(":")
    plain = {"identity": compressors.Identity, "scaled-sign": compressors.ScaledSign}
    with_k = {"topk": compressors.TopK, "randk": compressors.RandK, "scaled-randk": compressors.ScaledRandK}
    if name == "none" and not sep:
        return None
    if name in plain and not sep:
        return plain[name]()
    if name in with_k and sep:
        try:
            k = int(arg)
        except ValueError:
            raise ValueError(f"compressor {name}:K needs an integer K >= 1; got {arg!r}") from None
        return with_k[name](k)
    raise ValueError(f"compressor must be one of {', '.join(COMPRESSORS)}; got {text!r}")


def parse_schedule(text: str, name: str, iters: int):
    """``0.1`` (constant) | ``poly:G0:P`` (G0 (2/(k+2))^P) | ``horizon:G0`` (G0/sqrt(K+1))."""
    from eftheory import schedules

    parts = (text or "").split(":")
    try:
        if len(parts) == 1:
            return float(parts[0])
        if parts[0] == "poly" and len(parts) == 3:
            return schedules.polynomial(float(parts[1]), float(parts[2]))
        if parts[0] == "horizon" and len(parts) == 2:
            return schedules.horizon(float(parts[1]), iters)
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise ValueError(f"{name}: {exc}") from None
    raise ValueError(f"{name} must be a number, poly:G0:P (G0*(2/(k+2))^P) or horizon:G0 (G0/sqrt(K+1)); "
                     f"got {text!r}")


def _x0(text: str, problem) -> np.ndarray:
    d = int(problem.dim)
    kind, _, arg = (text or "").partition(":")
    try:
        if kind == "zeros" and not arg:
            return np.zeros(d)
        if kind == "normal":
            sd = float(arg) if arg else 1.0
            return sd * np.random.default_rng([0, 0x5EED]).standard_normal(d)
        if kind == "around-opt":
            if getattr(problem, "x_star", None) is None:
                raise ValueError("x0 around-opt needs a problem with a known minimiser x_star")
            c = float(arg) if arg else 1.0
            z = np.random.default_rng([0, 0x5EED]).standard_normal(d)
            return np.asarray(problem.x_star, dtype=np.float64) + c * z / math.sqrt(d)
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise
    raise ValueError(f"x0 must be zeros, normal[:SD] or around-opt[:SCALE]; got {text!r}")


# ----------------------------------------------------------------------------- plot data

def _plain(v):
    if isinstance(v, dict):
        return {str(k): _plain(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(w) for w in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def save_plot_data(path_stem, kwargs: dict) -> Path:
    """Write the arguments of one :func:`checks.plots.loglog_plot` call to ``<stem>.data.json``."""
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    target = path_stem.parent / (path_stem.name + PLOT_DATA_SUFFIX)
    _atomic_write(target, json.dumps({"plot": "loglog", "kwargs": _plain(kwargs)}, default=str))
    return target


def _arrays(kw: dict) -> dict:
    def arr(v):
        return None if v is None else np.array([np.nan if w is None else w for w in v], dtype=np.float64)

    out = dict(kw)
    out["series"] = [{**s, **{k: arr(s.get(k)) for k in ("x", "y", "lo", "hi") if k in s}} for s in kw.get("series", [])]
    out["fits"] = [{**f, "x": arr(f["x"])} for f in kw.get("fits", [])]
    out["refs"] = [{**r, "x": arr(r["x"])} for r in kw.get("refs", [])]
    return out


def _draw(path_stem, kwargs) -> list[str]:
    from .plots import loglog_plot

    return loglog_plot(Path(path_stem), **kwargs)


# ----------------------------------------------------------------------------- list / verify / mutants

def _int(name: str, text, low: int = 1) -> int:
    """A command-line integer >= ``low``, with :func:`eftheory.validation.check_int`'s message."""
    from eftheory.validation import check_int

    try:
        value = int(text)
    except (TypeError, ValueError):
        value = text
    return check_int(name, value, low=low)


def cmd_list(args) -> int:
    from .expectations import expected, finding
    from .registry import all_claims, module_errors

    rows = []
    for c in all_claims():
        if args.kind and c.kind != args.kind:
            continue
        f = finding(c.id)
        rows.append({"id": c.id, "kind": c.kind, "paper": c.paper, "theorem": c.theorem,
                     "executable": c.executable, "pending": c.pending, "reconstructed": c.reconstructed,
                     "statement": c.statement, "expected": expected(c.id),
                     "finding": f.as_dict() if f else None})
    for mod, err in module_errors().items():
        print(f"warning: {mod} failed to import: {err}", file=sys.stderr)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        status = "executable" if r["executable"] else f"PENDING ({r['pending']})"
        tag = " [R]" if r["reconstructed"] else ""
        rec = f"  recorded {r['expected']}" if r["expected"] != "PASS" else ""
        print(f"{r['id']:<10} {r['kind']}  {r['paper']:<12} {status}{tag}{rec}")
    return 0


def _record_reports(out: Path, claims, outcomes) -> None:
    """Rewrite ledger.json and the reports with every row's ``expected`` and ``finding``."""
    from .expectations import recorded
    from .registry import module_errors
    from .report import write_reports

    try:
        settings = json.loads((out / "ledger.json").read_text(encoding="utf-8")).get("settings", {})
    except (OSError, ValueError):
        settings = {"out": str(out)}
    write_reports(out, claims, [recorded(o) for o in outcomes], settings=settings, module_errors=module_errors())


def cmd_verify(args) -> int:
    from .expectations import exit_status, mismatches
    from .registry import resolve_ids
    from .runner import check_device, verify

    jobs = _int("jobs", args.jobs)
    claims = resolve_ids(args.claims)
    check_device(args.device)
    out = check_out(args.out)
    outcomes = verify(args.claims, tier=args.tier, backend=args.backend, device=args.device, jobs=jobs, out=str(out),
                      progress=not args.quiet)
    _record_reports(out, claims, outcomes)
    diff = mismatches(outcomes)
    rc = exit_status(outcomes, strict=args.strict)
    counts = {}
    for o in outcomes:
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
    if args.json:
        _print_json({"counts": counts, "differs_from_record": diff, "exit": rc, "out": str(out),
                     "strict": bool(args.strict)})
        return rc
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + f"  -> {out}/report.md")
    for d in diff:
        hint = " (update checks/expectations.py if it is the new measurement)" if d["kind"] == "unexpected pass" else ""
        print(f"{d['id']}: {d['verdict']}, recorded {d['expected']} -- {d['kind']}{hint}")
    if not diff:
        n_find = sum(1 for o in outcomes if o.verdict != "PASS")
        print(f"every verdict matches its record ({n_find} recorded finding(s); see checks/expectations.py)")
    if args.strict and rc and not diff:
        print("--strict: a FAIL or INCONCLUSIVE verdict is present")
    return rc


def cmd_mutants(args) -> int:
    from .mutants import MUTANTS, get

    if args.list:
        for m in MUTANTS.values():
            print(f"{m.name:<24} {'/'.join(m.papers):<14} {m.description}")
        return 0
    for name in args.mutants or ():
        get(name)
    jobs = _int("jobs", args.jobs)
    if args.claims:
        from .registry import resolve_ids

        resolve_ids(args.claims)
    out = check_out(args.out)
    from .mutation import run_mutants

    doc = run_mutants(args.mutants, args.claims, tier=args.tier, backend=args.backend, jobs=jobs,
                      out=str(out), progress=not args.quiet, pytest=args.pytest)
    surviving = [n for n, m in doc["mutants"].items() if m["survives"]]
    for name, m in doc["mutants"].items():
        killers = ", ".join(m["killers"]) or ("equivalent" if m["equivalent_everywhere"] else "SURVIVES")
        print(f"{name:<24} {killers}")
    print(f"{len(doc['mutants']) - len(surviving)}/{len(doc['mutants'])} mutants killed or equivalent"
          f"  -> {out}/mutants.json, {out}/mutants.md")
    return int(bool(surviving))


# ----------------------------------------------------------------------------- run

def _plot_grid(K: int, m: int = 120) -> np.ndarray:
    """About m log-spaced iteration indices in [1, K]."""
    return np.unique(np.round(np.exp(np.linspace(0.0, math.log(max(K, 1)), m))).astype(np.int64))


def _run_plot(out: Path, z) -> list[str]:
    """The log-log plot of a saved ``eftheory run``: seed mean of ||grad f(x^k)|| with a bootstrap band."""
    from .plots import band

    meta = json.loads(str(z["meta"]))
    g = np.asarray(z["grad_norm"], dtype=np.float64)
    S, n = g.shape
    idx = _plot_grid(n - 1)
    Y = g[:, idx]
    series = {"x": idx.astype(float), "y": Y.mean(axis=0), "label": f"mean over {S} seed(s)"}
    if S >= 2 and np.all(np.isfinite(Y)):
        def stat(w):
            return (w @ Y) / w.sum(axis=1, keepdims=True)

        series["lo"], series["hi"] = band(stat, S)
    best = np.minimum.accumulate(g, axis=1)[:, idx].mean(axis=0)
    return _draw(out / "plots" / "grad_norm", {
        "title": f"{meta['algorithm']} on {meta['problem_text']}, {meta['compressor']} ({meta['backend']})",
        "xlabel": "iteration k", "ylabel": "||grad f(x^k)||",
        "series": [series, {"x": idx.astype(float), "y": best, "label": "min_{j<=k}, seed mean", "dashed": True}]})


def cmd_run(args) -> int:
    import algorithms

    from .runner import check_device

    if args.backend not in algorithms.BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(algorithms.BACKENDS)}; got {args.backend!r}")
    spec = algorithms.get(args.algorithm, args.backend)
    iters = _int("iters", args.iters)
    seeds = _int("seeds", args.seeds)
    seed = _int("seed", args.seed, low=0) if args.seed is not None else 0
    check_device(args.device)
    if args.device != "cpu" and args.backend != "torch":
        raise ValueError(f"device {args.device!r} needs --backend torch (the NumPy reference runs on the CPU)")
    problem, pinfo = parse_problem(args.problem)
    if spec.compressor == "none":
        if args.compressor is not None and args.compressor != "none":
            raise ValueError(f"compressor must be 'none' for {args.algorithm!r} (it compresses by its own sign); "
                             f"got {args.compressor!r}")
        comp_text, comp = "none", None
    else:
        comp_text = args.compressor or "topk:2"
        comp = parse_compressor(comp_text)
        if comp is None:
            raise ValueError(f"compressor must be given for {args.algorithm!r}; got 'none'")
    step = parse_schedule(args.stepsize, "stepsize", iters)
    mom = parse_schedule(args.momentum, "momentum", iters) if args.momentum is not None else None
    options = parse_kv(args.option or "", f"algorithm {args.algorithm}")
    x0 = _x0(args.x0, problem)
    out = check_out(args.out if args.out is not None else os.path.join("results", "runs", args.algorithm))

    g_rows, f_rows, bits_rows, steps = [], [], [], None
    if args.backend == "torch":
        res = algorithms.run(args.algorithm, problem, comp, x0, iters, stepsize=step, momentum=mom, seed=seed,
                             backend="torch", seeds=seeds, device=args.device,
                             **{"diagnostics": "light", **options}).numpy()
        g_rows = np.asarray(res.grad_norm, dtype=np.float64).reshape(seeds, -1)
        f_rows = np.asarray(res.f, dtype=np.float64).reshape(seeds, -1)
        up = np.asarray(res.bits_up, dtype=np.float64).reshape(seeds, -1)
        bits_rows = float(res.init_bits_up) + np.concatenate([np.zeros((seeds, 1)), np.cumsum(up, axis=1)], axis=1)
        steps = np.asarray(res.stepsize, dtype=np.float64).reshape(seeds, -1)[0]
        run_seeds = list(range(seeds))
    else:
        it = range(seed, seed + seeds)
        if not args.quiet and seeds > 1:
            from tqdm import tqdm
            it = tqdm(it, desc=args.algorithm, unit="seed")
        for s in it:
            res = algorithms.run(args.algorithm, problem, comp, x0, iters, stepsize=step, momentum=mom, seed=s,
                                 backend="numpy", **options)
            g_rows.append(np.asarray(res.grad_norm, dtype=np.float64))
            f_rows.append(np.asarray(res.f, dtype=np.float64))
            up = np.asarray(res.bits_up, dtype=np.float64)
            bits_rows.append(float(res.init_bits_up) + np.concatenate([[0.0], np.cumsum(up)]))
            steps = np.asarray(res.stepsize, dtype=np.float64)
        g_rows, f_rows, bits_rows = np.stack(g_rows), np.stack(f_rows), np.stack(bits_rows)
        run_seeds = list(range(seed, seed + seeds))
    meta = {"algorithm": args.algorithm, "backend": args.backend, "device": args.device,
            "problem": pinfo, "problem_text": args.problem, "compressor": comp_text, "iters": iters,
            "seeds": run_seeds, "seed": seed, "stepsize": args.stepsize, "momentum": args.momentum,
            "options": options, "x0": args.x0,
            "seed_note": ("run s of one batched engine call seeded with --seed" if args.backend == "torch"
                          else "NumPy reference run with seed s"),
            "bits": "cumulative uplink bits of one client up to iterate k (including the initial message)"}
    k = np.arange(iters + 1)
    np.savez(out / "trajectory.npz", k=k, seed=np.asarray(run_seeds), grad_norm=g_rows, f=f_rows, bits=bits_rows,
             stepsize=steps, meta=np.asarray(json.dumps(meta)))
    with open(out / "trajectory.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["k", "seed", "grad_norm", "f", "bits"])
        for j, s in enumerate(run_seeds):
            for kk in range(iters + 1):
                w.writerow([kk, s, repr(float(g_rows[j, kk])), repr(float(f_rows[j, kk])), repr(float(bits_rows[j, kk]))])
    (out / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    with np.load(out / "trajectory.npz", allow_pickle=False) as z:
        plots = _run_plot(out, z)
    summary = {"out": str(out), "final_grad_norm_mean": float(g_rows[:, -1].mean()),
               "min_grad_norm_mean": float(g_rows.min(axis=1).mean()), "final_f_mean": float(f_rows[:, -1].mean()),
               "bits_per_client": float(bits_rows[:, -1].mean()),
               "files": [str(out / "trajectory.npz"), str(out / "trajectory.csv"), str(out / "run.json"), *plots]}
    if args.json:
        _print_json(summary)
    else:
        print(f"{args.algorithm} on {args.problem}, {comp_text}, K={iters}, {seeds} seed(s): "
              f"||grad f(x^K)|| mean {summary['final_grad_norm_mean']:.4g}, min_k mean {summary['min_grad_norm_mean']:.4g}, "
              f"{summary['bits_per_client']:.4g} bits per client  -> {out}/")
    return 0


# ----------------------------------------------------------------------------- fit

def _read_table(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ValueError(f"FILE must be a readable CSV file; got {str(path)!r}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"FILE must be a readable CSV file ({path}): {exc}") from None
    if not rows:
        raise ValueError(f"FILE {path} is empty (a header row and data rows are needed)")
    head = [h.strip() for h in rows[0]]
    missing = [c for c in columns if c not in head]
    if missing:
        raise ValueError(f"column {', '.join(map(repr, missing))} is not in {path} (columns: {', '.join(head)})")
    data = {c: [] for c in columns}
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not v.strip() for v in row):
            continue
        for c in columns:
            j = head.index(c)
            cell = row[j].strip() if j < len(row) else ""
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(f"column {c!r} must hold numbers; line {n} has {cell!r}") from None
            if not math.isfinite(v):
                raise ValueError(f"column {c!r} must hold finite numbers; line {n} has {cell!r}")
            data[c].append(v)
    if not data[columns[0]]:
        raise ValueError(f"FILE {path} has no data rows")
    return {c: np.asarray(v) for c, v in data.items()}


def _window(text):
    if not text:
        return -math.inf, math.inf
    a, sep, b = text.partition(":")
    try:
        if not sep:
            raise ValueError
        lo = float(a) if a.strip() else -math.inf
        hi = float(b) if b.strip() else math.inf
    except ValueError:
        raise ValueError(f"window must be a:b (either end may be empty); got {text!r}") from None
    if lo > hi:
        raise ValueError(f"window must have a <= b; got {text!r}")
    return lo, hi


def _seed_matrix(x, y, seed):
    """(grid, Y (S, m)) from long-format rows; only grid points every seed has are kept."""
    seeds = list(dict.fromkeys(seed.tolist()))
    per = {}
    for xi, yi, si in zip(x.tolist(), y.tolist(), seed.tolist()):
        d = per.setdefault(si, {})
        if xi in d:
            raise ValueError(f"seed {si:g} has two rows at x = {xi:g}; one value per (seed, x) is needed")
        d[xi] = yi
    common = sorted(set.intersection(*(set(d) for d in per.values())))
    Y = np.array([[per[s][xi] for xi in common] for s in seeds], dtype=np.float64).reshape(len(seeds), len(common))
    return np.asarray(common, dtype=np.float64), Y, seeds


def cmd_fit(args) -> int:
    from eftheory import rates

    from .plots import band

    path = Path(args.file)
    cols = [args.x, args.y, args.seed_column]
    if len(set(cols)) < 3:
        raise ValueError(f"x, y and seed-column must name three different columns; got {cols}")
    data = _read_table(path, cols)
    lo, hi = _window(args.window)
    keep = (data[args.x] >= lo) & (data[args.x] <= hi)
    if not keep.any():
        raise ValueError(f"no row has {args.x!r} in the window {args.window!r}")
    x, Y, seeds = _seed_matrix(data[args.x][keep], data[args.y][keep], data[args.seed_column][keep])
    if len(x) < 2:
        raise ValueError(f"the fit needs at least 2 values of {args.x!r} shared by every seed in the window; "
                         f"got {len(x)}")
    if np.any(x <= 0):
        raise ValueError(f"column {args.x!r} must be positive for a log-log fit (use --window to drop x <= 0)")
    if len(seeds) < 2:
        raise ValueError(f"the bootstrap resamples seeds: column {args.seed_column!r} must hold at least 2 seeds; "
                         f"got {len(seeds)}")
    if np.any(Y.mean(axis=0) <= 0):
        raise ValueError(f"the seed mean of {args.y!r} must be positive at every x for a log-log fit")
    stat = rates.mean_stat(Y)
    S = len(seeds)
    rule = args.rule
    from .verdicts import TOL_FIXED, TOL_WINDOW

    tol = args.tol if args.tol is not None else (TOL_WINDOW if rule == "tight" else TOL_FIXED)
    if tol < 0 or not math.isfinite(tol):
        raise ValueError(f"tol must be a finite number >= 0; got {tol}")
    if args.stated is not None and not math.isfinite(args.stated):
        raise ValueError(f"stated must be a finite number; got {args.stated}")
    fits = {"all": rates.bootstrap_fit(x, stat, S)}
    m = rates.upper_half(x)
    if m.sum() >= 2 and m.sum() < len(x):
        fits["upper"] = rates.bootstrap_fit(x[m], lambda w: stat(w)[:, m], S)
    verdict, rule_text = None, "no stated rate (--stated R): slope only"
    if args.stated is not None:
        r = float(args.stated)
        one = rates.rate_rule(x, stat, S, r, tol, upper="upper" in fits)
        verdicts = [one.verdict]
        rule_text = one.rule
        if rule == "tight":
            win = rates.range_rule(x, stat, S, -r - tol, -r + tol)
            verdicts.append(win.verdict)
            rule_text += f"; and the whole-grid slope CI within -{r:.4g} +- {tol:g}"
        verdict = rates.combine_verdicts(verdicts)
    out = check_out(args.out if args.out is not None else os.path.join("results", "fit", path.stem))
    f0 = fits["all"]
    series = {"x": x, "y": Y.mean(axis=0), "label": f"{args.y}, mean over {S} seeds"}
    series["lo"], series["hi"] = band(stat, S)
    kw = {"title": f"{path.name}: {args.y} vs {args.x}" + (f" (stated rate {args.x}^-{args.stated:g})"
                                                          if args.stated is not None else ""),
          "xlabel": args.x, "ylabel": args.y, "series": [series],
          "fits": [{"x": x, "slope": f0.slope, "intercept": f0.intercept,
                    "label": f"fit: slope {f0.slope:.3f} [{f0.lo:.3f}, {f0.hi:.3f}]"}]}
    if args.stated is not None:
        kw["refs"] = [{"x": x, "r": float(args.stated), "anchor_x": float(x[0]), "anchor_y": float(Y.mean(axis=0)[0]),
                       "label": f"stated {args.x}^-{args.stated:g}"}]
    stem = out / "plots" / f"fit-{path.stem}"
    save_plot_data(stem, kw)
    plots = _draw(stem, kw)
    doc = {"file": str(path), "x": args.x, "y": args.y, "seeds": S, "points": len(x),
           "window": [float(x[0]), float(x[-1])],
           "slopes": {k: {"value": f.slope, "lo": f.lo, "hi": f.hi, "level": f.level} for k, f in fits.items()},
           "stated": args.stated, "rule": rule_text, "tol": tol, "verdict": verdict, "plots": plots}
    (out / f"fit-{path.stem}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    if args.json:
        _print_json(doc)
        return 0
    for k, f in fits.items():
        name = "whole grid" if k == "all" else "upper half"
        print(f"slope ({name}, {f.x[0]:g}..{f.x[-1]:g}, {len(f.x)} points, {S} seeds): {f.slope:.4f} "
              f"[{f.lo:.4f}, {f.hi:.4f}] ({f.level:.0%} bootstrap CI)")
    if verdict is not None:
        print(f"verdict: {verdict}  (rule: {rule_text})")
    print(f"-> {plots[0]}")
    return 0


# ----------------------------------------------------------------------------- plot

def cmd_plot(args) -> int:
    src = Path(args.dir)
    if not src.is_dir():
        raise ValueError(f"DIR must be a folder written by `eftheory verify`, `run` or `fit`; got {str(src)!r}")
    out = check_out(args.out) if args.out is not None else check_out(src, "DIR")
    written = []
    npz = src / "trajectory.npz"
    if npz.exists():
        try:
            with np.load(npz, allow_pickle=False) as z:
                written += _run_plot(out, z)
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{npz} is not a trajectory written by `eftheory run`: {exc}") from None
    for p in sorted((src / "plots").glob("*" + PLOT_DATA_SUFFIX)):
        stem = out / "plots" / p.name[: -len(PLOT_DATA_SUFFIX)]
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise ValueError(f"{p} is not plot data written by eftheory: {exc}") from None
        try:                             # the file is outside input: a field of the wrong shape is its error
            doc = json.loads(text)
            kind = doc.get("plot", "loglog")
            if kind not in ("loglog", "curves") or not isinstance(doc["kwargs"], dict):
                raise ValueError(f"plot must be 'loglog' or 'curves' with a kwargs object; got {kind!r}")
            if kind == "curves":         # the experiment claims' training curves (eftheory.experiments)
                from eftheory.experiments import plot_curves

                written += plot_curves(stem, **doc["kwargs"])
            else:
                written += _draw(stem, _arrays(doc["kwargs"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{p} is not plot data written by eftheory: {exc}") from None
    if not written:
        hint = (" (its ledger.json predates saved plot data: rerun `eftheory verify`; cached runs make it quick)"
                if (src / "ledger.json").exists() else "")
        raise ValueError(f"DIR {src} holds no saved results to plot: trajectory.npz (`eftheory run`) or "
                         f"plots/*{PLOT_DATA_SUFFIX} (`eftheory verify`, `eftheory fit`){hint}")
    if args.json:
        _print_json({"files": written})
    else:
        pngs = [w for w in written if w.endswith(".png")]
        print(f"{len(pngs)} plot(s) redrawn -> {out}/plots/")
    return 0


# ----------------------------------------------------------------------------- derive

def _numeric_value(v):
    if isinstance(v, (tuple, list)):
        return [_numeric_value(w) for w in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def cmd_derive(args) -> int:
    import sympy as sp

    from eftheory.derivations import all_derivations

    every = all_derivations()
    by_name = {d.name: d for d in every}
    values = {}
    for item in args.at or ():
        kv = parse_kv(item, "derive --at")
        for k in kv:
            if k in values:
                raise ValueError(f"derive --at parameter {k!r} is given twice")
        values.update(kv)
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"derive --at {k} must be a number; got {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"derive --at {k} must be a finite number; got {v!r}")
    if args.name is None or args.name not in by_name:
        chosen = every if args.name is None else [d for d in every if d.name.startswith(args.name.rstrip(".") + ".")]
        if not chosen:
            raise ValueError(f"derivation must be one of the names `eftheory derive` lists (or a module prefix "
                             f"such as ef21); got {args.name!r}")
        if values:
            raise ValueError("--at needs one derivation NAME")
        if args.json:
            _print_json([{"name": d.name, "title": d.title, "symbols": [s.name for s in d.symbols],
                          "claims": list(d.claims)} for d in chosen])
        else:
            for d in chosen:
                syms = ", ".join(s.name for s in d.symbols)
                print(f"{d.name:<28} {d.title}" + (f"  ({syms})" if syms else ""))
        return 0
    d = by_name[args.name]
    names = [s.name for s in d.symbols]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a symbol of derivation {d.name!r}; "
                         f"allowed: {', '.join(names) or 'none'}")
    missing = [n for n in names if n not in values]
    doc = {"name": d.name, "title": d.title, "source": d.source, "claims": list(d.claims), "note": d.note,
           "symbols": names, "latex": d.latex, "at": values}
    if not missing:
        try:
            val = d.numeric(*(values[n] for n in names))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError) as exc:
            raise ValueError(f"derivation {d.name} cannot be evaluated at {values}: {exc}") from None
        doc["value"] = _numeric_value(val)
    elif values:
        subs = {s: sp.Float(values[s.name]) for s in d.symbols if s.name in values}
        expr = d.expr.subs(subs) if hasattr(d.expr, "subs") else d.expr
        doc["value"] = None
        from eftheory.derivations._core import LATEX_NAMES

        expr = sp.simplify(expr)
        names_tex = {s: LATEX_NAMES[s.name] for s in getattr(expr, "free_symbols", ()) if s.name in LATEX_NAMES}
        doc["partial_latex"] = sp.latex(expr, symbol_names=names_tex)
        doc["missing"] = missing
    else:
        doc["value"] = None
        doc["missing"] = missing
    if args.json:
        _print_json(doc)
        return 0
    print(f"{d.name}: {d.title}")
    print(f"source: {d.source}" + (f"; claims: {', '.join(d.claims)}" if d.claims else ""))
    if d.note:
        print(f"note: {d.note}")
    print(f"latex: {d.latex}")
    if doc.get("value") is not None:
        at = ", ".join(f"{k}={v:g}" for k, v in values.items())
        print(f"value{f' at {at}' if at else ''}: {doc['value']}")
    elif doc.get("partial_latex"):
        print(f"at {', '.join(f'{k}={v:g}' for k, v in values.items())}: {doc['partial_latex']}  "
              f"(give --at {' '.join(m + '=...' for m in missing)} for a number)")
    elif missing:
        print(f"value: give --at {' '.join(m + '=...' for m in missing)}")
    return 0
