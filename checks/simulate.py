"""Runs of the rate claims, described by typed objects so that a run is cached by its description.

A :class:`RunSpec` holds the algorithm name, the problem object, the compressor object, the
start-point rule (:class:`X0`), the horizon, the schedules (:class:`eftheory.schedules.Schedule`)
and the options; :func:`run_batch` executes it for a batch of seeds and returns the per-seed
curves a claim needs. The torch engine is used when it is registered for the algorithm and the
context asks for it; otherwise the NumPy reference is looped over seeds.

The cache key is computed from these objects only when keying (:meth:`RunSpec.key`, through
:func:`describe`): the problem's class and constructor arguments (``params()``), the compressor's
class and parameters, the schedules' parameters and the rest, with exact floats (their ``repr``)
and arrays by dtype, shape and a SHA-256 of their bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RunSpec", "X0", "X0_RULES", "describe", "run_batch", "run_group", "group_key", "GROUP_RUNS",
           "schedule_values", "source_files", "engine_available", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- descriptions

def describe(obj):
    """A JSON-ready description of ``obj`` for a cache key: the same for two objects that describe
    the same run, different for different ones.

    None, bools, ints and strings stay; floats stay floats (JSON writes their exact ``repr``);
    NumPy scalars become Python numbers; arrays become ``{"ndarray": dtype, "shape": ..., "sha256": ...}``;
    lists, tuples and dicts are described item by item; an object with a ``params()`` method (the
    problems, compressors and schedules of :mod:`eftheory`, :class:`X0`) is described by its
    parameters. Anything else raises TypeError: it has no description to key a run by.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        return {"ndarray": str(a.dtype), "shape": list(a.shape), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
    if isinstance(obj, (list, tuple)):
        return [describe(v) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"a described dict must have str keys; got {sorted(map(repr, obj))}")
        return {k: describe(v) for k, v in obj.items()}
    params = getattr(obj, "params", None)
    if callable(params):
        return describe(params())
    raise TypeError(f"cannot describe a {type(obj).__module__}.{type(obj).__qualname__} for a run key "
                    f"(give it a params() method)")


# ----------------------------------------------------------------------------- start points

#: the start-point rules of :class:`X0`
X0_RULES = ("around_opt", "sphere", "normal", "fixed")


@dataclass(frozen=True)
class X0:
    r"""The start-point rule of a run.

    * ``"around_opt"``: :math:`x^\star + c\,z/\sqrt d`, :math:`z\sim\mathcal N(0, I)` (``scale`` = c);
    * ``"sphere"``: :math:`x^\star + c\,z/\|z\|` (distance exactly c from :math:`x^\star`);
    * ``"normal"``: :math:`\mathcal N(m, s^2 I)` (``mean`` = m, ``sd`` = s);
    * ``"fixed"``: ``value`` itself (:meth:`fixed`).

    With ``per_seed=True`` every run seed draws its own x0; otherwise one x0, drawn from ``seed``,
    is shared by all runs.
    """

    rule: str = "around_opt"
    scale: float = 1.0
    mean: float = 0.0
    sd: float = 1.0
    seed: int = 0
    per_seed: bool = False
    value: tuple | None = None

    def __post_init__(self):
        if self.rule not in X0_RULES:
            raise ValueError(f"x0 rule must be one of {', '.join(X0_RULES)}; got {self.rule!r}")
        if self.rule == "fixed":
            if self.value is None:
                raise ValueError("x0 rule 'fixed' needs its value (X0.fixed(vector))")
            object.__setattr__(self, "value", tuple(float(v) for v in np.asarray(self.value, dtype=np.float64).ravel()))
        elif self.value is not None:
            raise ValueError(f"x0 value is only for the rule 'fixed'; got rule {self.rule!r}")

    @classmethod
    def fixed(cls, value) -> "X0":
        return cls(rule="fixed", value=value)

    def point(self, problem, seed: int) -> np.ndarray:
        """The start point of run ``seed`` on ``problem``."""
        d = int(problem.dim)
        # per_seed: a fresh x0 for every run seed; otherwise one x0 (from self.seed) shared by all runs
        s = int(seed) if self.per_seed else int(self.seed) + 10**6
        rng = np.random.default_rng([s, 0x5EED])
        if self.rule == "around_opt":
            return (np.asarray(problem.x_star, dtype=np.float64)
                    + float(self.scale) * rng.standard_normal(d) / math.sqrt(d))
        if self.rule == "sphere":
            z = rng.standard_normal(d)
            return np.asarray(problem.x_star, dtype=np.float64) + float(self.scale) * z / np.linalg.norm(z)
        if self.rule == "normal":
            return float(self.mean) + float(self.sd) * rng.standard_normal(d)
        return np.asarray(self.value, dtype=np.float64)

    def params(self) -> dict:
        """The fields that define the point under its rule (the others do not change it)."""
        used = {"around_opt": ("scale",), "sphere": ("scale",), "normal": ("mean", "sd"),
                "fixed": ("value",)}[self.rule]
        out = {"rule": self.rule, **{k: getattr(self, k) for k in used}}
        if self.rule != "fixed":
            out["per_seed"] = self.per_seed
            if not self.per_seed:
                out["seed"] = self.seed
        return out


# ----------------------------------------------------------------------------- run spec

@dataclass(frozen=True)
class RunSpec:
    """A run: ``problem`` (an :mod:`eftheory.problems` instance), ``compressor`` (an
    :mod:`eftheory.compressors` instance or None), ``x0`` (:class:`X0`), the horizon ``iters``,
    ``stepsize`` / ``momentum`` (:class:`eftheory.schedules.Schedule`, momentum None for the methods
    without it), the engine ``options``.

    ``extract``: "anytime" (cumulative sums of gamma_k ||grad f(x^k)|| at ``points``),
    "curve" (the whole per-seed curve ||grad f(x^k)||, or its square / l1 variant via ``curve``),
    "mean" (the average over k <= K of the curve). ``label`` names the run in the cache index and
    is not part of its key.
    """

    algorithm: str
    problem: object
    compressor: object
    x0: X0
    iters: int
    stepsize: object
    momentum: object = None
    options: dict = field(default_factory=dict)
    extract: str = "anytime"
    curve: str = "l2"                    # "l2" | "sq" | "l1"
    points: tuple = ()
    label: str = ""

    def __post_init__(self):
        if not isinstance(self.x0, X0):
            raise TypeError(f"x0 must be a checks.simulate.X0; got {type(self.x0).__name__}")
        for name in ("stepsize", "momentum"):
            value = getattr(self, name)
            if value is not None and not callable(getattr(value, "params", None)):
                raise TypeError(f"{name} must be an eftheory.schedules.Schedule (constant, polynomial, ...); "
                                f"got {type(value).__name__}")

    def key(self) -> dict:
        """The run's description (:func:`describe` of every field but the label)."""
        return {f.name: describe(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "label"}

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()[:16]


def schedule_values(schedule, n: int) -> np.ndarray:
    """Values of ``schedule`` at k = 0..n-1, vectorised for the constant and the 2/(k+2) polynomial."""
    from eftheory import schedules

    fn = schedule.fn
    if isinstance(fn, schedules.Constant):
        return np.full(n, float(fn.value))
    if isinstance(fn, schedules.Polynomial) and fn.base == "2/(k+2)":
        k = np.arange(n, dtype=np.float64)
        return float(fn.gamma0) * (2.0 / (k + 2.0)) ** float(fn.p)
    return np.asarray(schedule.values(n), dtype=np.float64)


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

    Engine runs (EF21 family, EF / SAEF, sign methods: the engines that take per-run schedules)
    whose descriptions differ only in the schedules and in how the curve is reduced afterwards:
    they share the algorithm, problem, compressor, x0, horizon, options and the norm recorded.
    """
    import algorithms

    if backend != "torch" or not engine_available(spec.algorithm) or spec.x0.per_seed:
        return None
    if algorithms.get(spec.algorithm, "torch").fn.__module__ not in _PER_RUN_MODULES:
        return None
    key = spec.key()
    key["momentum"] = spec.momentum is not None       # the schedules may differ, not their presence
    for k in ("stepsize", "extract", "points"):
        key.pop(k)
    return json.dumps(key, sort_keys=True)


def run_group(units, *, device: str = "cpu") -> list[dict]:
    """Run several ``(spec, seeds)`` of one :func:`group_key` as one engine call with per-run
    schedules; the arrays of each, equal bit for bit to :func:`run_batch` of it alone."""
    import algorithms
    from eftheory.schedules import PerRun

    spec0 = units[0][0]
    problem, comp = spec0.problem, spec0.compressor
    seeds = [int(s) for _, ss in units for s in ss]
    counts = tuple(len(ss) for _, ss in units)
    step = PerRun(tuple(sp.stepsize for sp, _ in units), counts)
    mom = None if spec0.momentum is None else PerRun(tuple(sp.momentum for sp, _ in units), counts)
    engine_opts = {"diagnostics": "full" if spec0.curve == "l1" else "light", **spec0.options}
    res = algorithms.run(spec0.algorithm, problem, comp, spec0.x0.point(problem, seeds[0]), spec0.iters, stepsize=step,
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

    problem, comp, step, mom = spec.problem, spec.compressor, spec.stepsize, spec.momentum
    gamma = schedule_values(spec.stepsize, spec.iters + 1)
    seeds = [int(s) for s in seeds]
    x0s = [spec.x0.point(problem, s) for s in seeds]
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
