"""Runs of the rate claims, described by plain data so that a run is cached by its description.

A :class:`RunSpec` names the algorithm, the problem, the compressor, the starting-point rule, the
horizon, the schedules and the options; :func:`run_batch` executes it for a batch of seeds and
returns the per-seed curves a claim needs. The torch engine is used when it is registered for
the algorithm and the context asks for it; otherwise the NumPy reference is looped over seeds.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["RunSpec", "run_batch", "run_group", "group_key", "GROUP_RUNS", "build_schedule", "build_problem", "build_compressor",
           "source_files", "engine_available", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- builders

def build_schedule(spec):
    """("const", v) | ("poly", gamma0, p) | None -> a schedule (or None)."""
    from eftheory import schedules

    if spec is None:
        return None
    kind = spec[0]
    if kind == "const":
        return schedules.Schedule(lambda k, v=float(spec[1]): v, f"{float(spec[1]):g}")
    if kind == "poly":
        return schedules.polynomial(float(spec[1]), float(spec[2]))
    raise ValueError(f"schedule kind must be one of 'const', 'poly'; got {kind!r}")


def schedule_values(spec, n: int) -> np.ndarray:
    """Values of a schedule spec at k = 0..n-1 (vectorised)."""
    k = np.arange(n, dtype=np.float64)
    if spec[0] == "const":
        return np.full(n, float(spec[1]))
    return float(spec[1]) * (2.0 / (k + 2.0)) ** float(spec[2])


@lru_cache(maxsize=32)
def _problem(key: str):
    spec = json.loads(key)
    kind = spec.pop("kind")
    if kind == "Q":
        from eftheory.problems.quadratic import problem_q
        return problem_q(**spec)
    if kind == "Q4":
        from eftheory.problems.quadratic import problem_q4
        return problem_q4(**spec)
    if kind == "logistic":
        from eftheory.problems.logistic import synthetic_logistic
        return synthetic_logistic(**spec)
    if kind == "polynomial":
        from eftheory.problems.polynomial import Polynomial
        return Polynomial(**spec)
    if kind == "separable":
        from eftheory.problems.sign import SeparableQuadratic
        return SeparableQuadratic(**spec)
    if kind == "sign-hetero":
        from eftheory.problems.sign import HeterogeneousSignProblem
        return HeterogeneousSignProblem(**spec)
    if kind == "homogeneous":
        from eftheory.problems.quadratic import HomogeneousNoisyQuadratic
        return HomogeneousNoisyQuadratic(**spec)
    raise ValueError(f"problem kind must be one of Q, Q4, logistic, polynomial, separable, sign-hetero, "
                     f"homogeneous; got {kind!r}")


def build_problem(spec: dict):
    return _problem(json.dumps(spec, sort_keys=True))


def build_compressor(spec):
    """"topk:K" | "randk:K" | "identity" | None."""
    if spec is None:
        return None
    from eftheory import compressors

    name, _, arg = spec.partition(":")
    if name == "topk":
        return compressors.TopK(int(arg))
    if name == "randk":
        return compressors.RandK(int(arg))
    if name == "identity":
        return compressors.Identity()
    raise ValueError(f"compressor must be 'topk:K', 'identity' or None; got {spec!r}")


# ----------------------------------------------------------------------------- run spec

@dataclass(frozen=True)
class RunSpec:
    """A run, as data. ``x0``: {"rule": "around_opt", "scale": c} (x* + c N(0,I)/sqrt(d)),
    {"rule": "sphere", "scale": c} (x* + c z/||z||, z ~ N(0, I): distance exactly c),
    {"rule": "normal", "mean": m, "sd": s} (N(m, s^2 I)) or {"rule": "fixed", "value": [...]}; with
    ``"per_seed": True`` every run seed draws its own x0, otherwise one x0 (seeded by ``"seed"``)
    is shared by all runs.

    ``extract``: "anytime" (cumulative sums of gamma_k ||grad f(x^k)|| at ``points``),
    "curve" (the whole per-seed curve ||grad f(x^k)||, or its square / l1 variant via ``curve``),
    "mean" (the average over k <= K of the curve).
    """

    algorithm: str
    problem: dict
    compressor: object
    x0: dict
    iters: int
    stepsize: tuple
    momentum: tuple | None = None
    options: dict = field(default_factory=dict)
    extract: str = "anytime"
    curve: str = "l2"                    # "l2" | "sq" | "l1"
    points: tuple = ()
    label: str = ""

    def key(self) -> dict:
        d = asdict(self)
        d.pop("label")
        return d

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _x0(spec: RunSpec, problem, seed: int) -> np.ndarray:
    d = int(problem.dim)
    rule = spec.x0["rule"]
    # per_seed: a fresh x0 for every run seed; otherwise one x0 (from x0["seed"]) shared by all runs
    s = int(seed) if spec.x0.get("per_seed", False) else int(spec.x0.get("seed", 0)) + 10**6
    rng = np.random.default_rng([s, 0x5EED])
    if rule == "around_opt":
        return np.asarray(problem.x_star, dtype=np.float64) + float(spec.x0["scale"]) * rng.standard_normal(d) / math.sqrt(d)
    if rule == "sphere":
        z = rng.standard_normal(d)
        return np.asarray(problem.x_star, dtype=np.float64) + float(spec.x0["scale"]) * z / np.linalg.norm(z)
    if rule == "normal":
        return float(spec.x0.get("mean", 0.0)) + float(spec.x0.get("sd", 1.0)) * rng.standard_normal(d)
    if rule == "fixed":
        return np.asarray(spec.x0["value"], dtype=np.float64)
    raise ValueError(f"x0 rule must be one of 'around_opt', 'sphere', 'normal', 'fixed'; got {rule!r}")


def engine_available(name: str) -> bool:
    try:
        import algorithms
        return name in algorithms.names("torch")
    except Exception:
        return False


def _reduce(spec: RunSpec, curves: np.ndarray, gamma: np.ndarray) -> dict:
    """curves (S, K+1) of the chosen norm; returns the arrays a claim needs."""
    if spec.curve == "sq":
        curves = curves ** 2
    if spec.extract == "anytime":
        pts = np.asarray(spec.points, dtype=np.int64)
        cs = np.cumsum(gamma[None, :] * curves, axis=1)
        return {"cs": cs[:, pts], "g": curves[:, pts]}
    if spec.extract == "curve":
        return {"curve": curves}
    if spec.extract == "mean":      # average over the first `iters` points (003's t = 1..T) and over all
        return {"mean": curves[:, :-1].mean(axis=1), "mean_all": curves.mean(axis=1)}
    raise ValueError(f"extract must be one of 'anytime', 'curve', 'mean'; got {spec.extract!r}")


def _curve_of(result, spec: RunSpec) -> np.ndarray:
    if spec.curve == "l1":
        return np.asarray(result.diagnostics["grad_norm_l1"], dtype=np.float64)
    return np.asarray(result.grad_norm, dtype=np.float64)


#: engines that take per-run schedules (:class:`eftheory.schedules.PerRun`): runs that differ only in
#: their schedules share one call
_PER_RUN_MODULES = ("algorithms.torch.ef21_family", "algorithms.torch.sign", "algorithms.torch.local_ef")
#: at most this many runs in one grouped engine call (memory and the per-call cost stay bounded)
GROUP_RUNS = 256


def group_key(spec: RunSpec, backend: str):
    """What runs must share to go into one engine call (``None``: this spec runs alone).

    Runs of the EF21-family engine whose description differs only in the schedules (and in
    how the curve is reduced afterwards) share the problem, compressor, x0, horizon and options.
    """
    import algorithms

    if backend != "torch" or not engine_available(spec.algorithm) or spec.x0.get("per_seed", False):
        return None
    if algorithms.get(spec.algorithm, "torch").fn.__module__ not in _PER_RUN_MODULES:
        return None
    key = spec.key()
    key["momentum"] = key["momentum"] is not None      # the schedules may differ, not their presence
    for k in ("stepsize", "extract", "points"):
        key.pop(k)
    return json.dumps(key, sort_keys=True, default=str)


def run_group(units, *, device: str = "cpu") -> list[dict]:
    """Run several ``(spec, seeds)`` of one :func:`group_key` as one engine call with per-run
    schedules; the arrays of each, equal bit for bit to :func:`run_batch` of it alone."""
    import algorithms
    from eftheory.schedules import PerRun

    spec0 = units[0][0]
    problem = build_problem(spec0.problem)
    comp = build_compressor(spec0.compressor)
    seeds = [int(s) for _, ss in units for s in ss]
    counts = tuple(len(ss) for _, ss in units)
    step = PerRun(tuple(build_schedule(sp.stepsize) for sp, _ in units), counts)
    mom = None if spec0.momentum is None else PerRun(tuple(build_schedule(sp.momentum) for sp, _ in units), counts)
    engine_opts = {"diagnostics": "full" if spec0.curve == "l1" else "light", **spec0.options}
    res = algorithms.run(spec0.algorithm, problem, comp, _x0(spec0, problem, seeds[0]), spec0.iters, stepsize=step,
                         momentum=mom, seeds=seeds, backend="torch", device=device, record="stats",
                         **engine_opts).numpy()
    curves = _curve_of(res, spec0).reshape(len(seeds), -1)
    out, row = [], 0
    for (sp, ss) in units:
        out.append(_reduce(sp, curves[row:row + len(ss)], schedule_values(sp.stepsize, sp.iters + 1)))
        row += len(ss)
    return out


def run_batch(spec: RunSpec, seeds, *, backend: str = "numpy", device: str = "cpu") -> dict:
    """Run ``spec`` for the given seeds; arrays with a leading seed axis."""
    import algorithms

    problem = build_problem(spec.problem)
    comp = build_compressor(spec.compressor)
    step = build_schedule(spec.stepsize)
    mom = build_schedule(spec.momentum)
    gamma = schedule_values(spec.stepsize, spec.iters + 1)
    seeds = [int(s) for s in seeds]
    x0s = [_x0(spec, problem, s) for s in seeds]
    curves = None
    if backend == "torch" and engine_available(spec.algorithm):
        # the l2 gradient norm is recorded in every engine run; the l1 norm only with full diagnostics
        engine_opts = {"diagnostics": "full" if spec.curve == "l1" else "light", **spec.options}
        same_x0 = all(np.array_equal(x0s[0], x) for x in x0s)
        if same_x0:
            res = algorithms.run(spec.algorithm, problem, comp, x0s[0], spec.iters, stepsize=step, momentum=mom,
                                 backend="torch", seeds=seeds, device=device, record="stats",
                                 **engine_opts).numpy()
            curves = _curve_of(res, spec).reshape(len(seeds), -1)
        else:
            rows = []
            for s, x0 in zip(seeds, x0s):
                res = algorithms.run(spec.algorithm, problem, comp, x0, spec.iters, stepsize=step, momentum=mom,
                                     seed=s, backend="torch", seeds=1, device=device, **engine_opts).numpy()
                rows.append(_curve_of(res, spec).reshape(-1))
            curves = np.stack(rows)
    if curves is None:
        rows = []
        for s, x0 in zip(seeds, x0s):
            res = algorithms.run(spec.algorithm, problem, comp, x0, spec.iters, stepsize=step, momentum=mom,
                                 seed=s, backend="numpy", **spec.options)
            rows.append(_curve_of(res, spec))
        curves = np.stack(rows)
    return _reduce(spec, curves, gamma)


# ----------------------------------------------------------------------------- code version

_BASE_SOURCES = ("eftheory/__init__.py", "eftheory/compressors.py", "eftheory/schedules.py",
                 "algorithms/__init__.py", "algorithms/registry.py", "algorithms/result.py",
                 "checks/simulate.py")


def source_files(algorithm: str, backend: str) -> list[str]:
    """Files whose source defines a run of ``algorithm`` (relative to the project root)."""
    import algorithms

    files = set(_BASE_SOURCES)
    files.update(str(p.relative_to(ROOT)) for p in (ROOT / "eftheory" / "problems").glob("*.py"))
    for b in {"numpy", backend}:
        try:
            fn = algorithms.get(algorithm, b).fn
            path = Path(inspect.getsourcefile(fn)).resolve()
            files.add(str(path.relative_to(ROOT)))
            # the whole backend package: shared loops, kernels and (engine) batched oracles
            files.update(str(p.relative_to(ROOT)) for p in path.parent.glob("*.py"))
        except (ValueError, TypeError):
            continue
    return sorted(files)
