"""Reference algorithms (``algorithms.numpy``) and the batched engine (``algorithms.torch``).

Entry points: :func:`run` and :func:`names`.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from eftheory.problems.base import require
from eftheory.schedules import PerRun, as_schedule
from eftheory.validation import NonFiniteError, check_choice, check_int, check_vector

from .registry import BACKENDS, AlgorithmSpec, Streams, get, names, register, specs
from .result import RecordPolicy, Result, check_record, drop_run_axis, recording

__all__ = ["run", "names", "specs", "get", "register", "Result", "Streams", "AlgorithmSpec",
           "NonFiniteError", "memory_estimate"]

#: why the sign family takes no compressor argument
_SIGN_FAMILY_NOTE = "it forms its own sign messages"


def _check_problem(problem) -> tuple[int, int]:
    """``n_clients`` and ``dim``: integers >= 1 (a class instead of an instance is refused)."""
    if isinstance(problem, type):
        raise ValueError(f"problem must be a problem object (an instance); got the class {problem.__name__}")
    for attr in ("n_clients", "dim"):
        if not hasattr(problem, attr):
            raise ValueError(f"problem must have the integer attribute {attr!r} (the problem protocol); "
                             f"got {type(problem).__name__}")
    n = check_int("problem.n_clients", getattr(problem, "n_clients"), low=1)
    d = check_int("problem.dim", getattr(problem, "dim"), low=1)
    return n, d


def _needs(name: str, spec: AlgorithmSpec) -> tuple[str, ...]:
    """The problem methods a run calls: the card's oracle needs, ``f`` (the recorded objective) and
    ``sample`` for every method that draws."""
    from .cards import CARDS

    card = CARDS.get(name)
    draws = card is None or not (card.family == "ef21" and card.estimator == "exact")
    extra = ("f",) + (("sample",) if draws else ())
    return tuple(dict.fromkeys((*spec.needs, *extra)))


def _check_compressor(name: str, spec: AlgorithmSpec, compressor, d: int) -> None:
    """Error-feedback methods need a compressor with a contraction alpha(d) in (0, 1]."""
    if spec.compressor != "required":
        if compressor is not None:
            raise ValueError(f"compressor must be None for {name!r} ({_SIGN_FAMILY_NOTE}); got {compressor!r}")
        return
    if isinstance(compressor, type):
        raise ValueError(f"compressor must be a compressor object for {name!r} (an instance, e.g. "
                         f"{compressor.__name__}(...)); got the class {compressor.__name__}")
    if compressor is None or not callable(compressor) or not all(
            hasattr(compressor, a) for a in ("alpha", "bits")):
        raise ValueError(f"compressor must be an eftheory.compressors object for {name!r}; got {compressor!r}")
    if hasattr(compressor, "validate"):
        compressor.validate(d)
    try:
        alpha = compressor.alpha(d)
    except (ValueError, NotImplementedError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"compressor must be contractive with alpha(d) in (0, 1] for the error-feedback method "
                         f"{name!r}; {compressor!r} has none: {reason}") from None
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (0.0 < float(alpha) <= 1.0):
        raise ValueError(f"compressor must be contractive with alpha(d) in (0, 1] for {name!r}; "
                         f"{compressor!r} reports alpha({d}) = {alpha!r}")


def _available_bytes(device) -> float:
    """Memory a run may use: MemAvailable of the host (and the free memory of a CUDA device)."""
    avail = math.inf
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024.0
                    break
    except OSError:
        try:
            avail = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    if isinstance(device, str) and device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                idx = int(device.split(":")[1]) if ":" in device else 0
                avail = min(avail, float(torch.cuda.mem_get_info(idx)[0]))
        except (RuntimeError, ValueError, ImportError):
            pass
    return avail


def memory_estimate(spec: AlgorithmSpec, n: int, d: int, iters: int, policy: RecordPolicy,
                    options: dict) -> float:
    """The stated estimate (bytes) of what a run records, checked before anything is allocated.

    Per run, in values of 8 bytes (4 for torch float32): the stored iterates R d (twice under
    ``record="all"`` on the engine, which evaluates the exact gradients of all of them at once);
    (K+1)(16 + 2n) per-step statistics; (4 + n) K d per-step vectors under ``record="all"``;
    (2n + 1) K d with ``record_clients=True``; 16 n d of working state. Times S runs.
    """
    K = int(iters)
    if policy.mode == "stats":
        R = 1
    elif policy.mode == "every":
        R = K // policy.every + 1 + (1 if K % policy.every else 0)
    else:
        R = K + 1
    torch_all = spec.backend == "torch" and policy.mode == "all"
    per_run = float(R) * d * (2 if torch_all else 1) + (K + 1.0) * (16 + 2 * n) + 16.0 * n * d
    if policy.vectors:
        per_run += (4.0 + n) * K * d
    if options.get("record_clients") is True:
        per_run += (2.0 * n + 1) * K * d
    S = options.get("seeds", 1)
    if isinstance(S, (list, tuple)):          # an explicit list of run seeds: one run per entry
        S = max(len(S), 1)
    S = int(S) if isinstance(S, numbers.Integral) and not isinstance(S, bool) and S >= 1 else 1
    width = 4 if options.get("dtype") in ("float32",) else 8
    return per_run * S * width


def _gib(b: float) -> str:
    return f"{b / 2 ** 30:.3g} GiB"


def run(name: str, problem, compressor, x0, iters: int, *, stepsize, momentum=None,
        seed: int = 0, backend: str = "numpy", record="all", **options) -> Result:
    """Run a registered algorithm.

    Parameters
    ----------
    name : a name from :func:`names`.
    problem : an object of the problem protocol (:mod:`eftheory.problems.base`).
    compressor : an :mod:`eftheory.compressors` object (``None`` for methods without compression).
    x0 : (d,) starting point.
    iters : number of steps K >= 1; the result holds x^0..x^K.
    stepsize : float or schedule ``k -> gamma_k`` (> 0).
    momentum : float or schedule ``k -> eta_k`` in (0, 1] for methods with momentum.
    seed : integer seed; the same (name, seed, backend) gives a bit-identical result.
    backend : "numpy" (reference) or "torch" (batched engine).
    record : what the result keeps -- ``"all"`` (default: every iterate and diagnostic), ``"stats"``
        (per-iteration statistics and the last iterate) or an integer m (also every m-th iterate);
        see :mod:`algorithms.result`. Before anything is allocated, :func:`memory_estimate` is
        compared with the available memory and a run that would not fit is refused (ValueError
        naming ``iters``).
    options : algorithm options, documented in each algorithm's docstring.

    Notes
    -----
    Shapes: the NumPy reference and the engine without ``seeds`` return one run (``x`` (R, d),
    ``grad_norm`` (K+1,)); the engine with ``seeds=S`` keeps a leading run axis S.

    Non-finite values: the first NaN or inf oracle output, state, message or iterate raises
    :class:`NonFiniteError` (a ValueError) naming the quantity, the iteration and the run.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be one of the registered algorithms {names('numpy')}; got {name!r}")
    check_choice("backend", backend, BACKENDS)
    spec = get(name, backend)
    iters = check_int("iters", iters, low=1)
    seed = check_int("seed", seed, low=0)
    policy = check_record(record)
    n, d = _check_problem(problem)
    require(problem, _needs(name, spec), algorithm=name)
    x0 = check_vector("x0", x0, d)
    _check_compressor(name, spec, compressor, d)
    if backend == "torch" and compressor is not None:
        from .torch.optim._base import check_compressor

        check_compressor(compressor)                  # the engine calls compressor.torch(...)
    if options.get("record_clients") is True and not policy.vectors:
        raise ValueError(f"record_clients=True needs record='all' (it keeps every (n, d) state); got record={record!r}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(sorted(spec.options)) or "none"
        raise ValueError(f"options {unknown} are not options of {name!r} (allowed: {allowed})")
    opts = {**spec.options, **options}
    if "bits" in opts:
        from eftheory.compressors import CONVENTIONS

        check_choice("bits", opts["bits"], CONVENTIONS)
    per_run = [v for v in (stepsize, momentum) if isinstance(v, PerRun)]
    if per_run:
        runs = options.get("seeds")
        if backend != "torch" or not isinstance(runs, (list, tuple)):
            raise ValueError("a PerRun schedule needs backend='torch' and seeds=[...] listing one seed per run; "
                             f"got backend={backend!r}, seeds={runs!r}")
        for v in per_run:
            if v.runs != len(runs):
                raise ValueError(f"a PerRun schedule must cover every run: its counts sum to {v.runs}, seeds lists "
                                 f"{len(runs)} runs")
    step = (stepsize.checked(name="stepsize") if isinstance(stepsize, PerRun)
            else as_schedule(stepsize, name="stepsize"))
    if spec.momentum == "none":
        if momentum is not None:
            raise ValueError(f"momentum must be None for {name!r} (it has no momentum parameter); got {momentum!r}")
        mom = None
    elif momentum is None:
        if spec.momentum == "required":
            raise ValueError(f"momentum must be given for {name!r}: a float or schedule in (0, 1]")
        mom = None
    else:
        mom = (momentum.checked(name="momentum", high=1.0) if isinstance(momentum, PerRun)
               else as_schedule(momentum, name="momentum", high=1.0))
    need = memory_estimate(spec, n, d, iters, policy, opts)
    avail = _available_bytes(opts.get("device"))
    if need > avail:
        raise ValueError(f"iters={iters} needs an estimated {_gib(need)} to record (record={record!r}, d={d}, "
                         f"n={n}, seeds={opts.get('seeds', 1)}), more than the {_gib(avail)} available; "
                         "record less (record='stats' keeps one iterate, record=m every m-th) or use fewer iters")
    # overflow and NaN are reported by the loops' checks (NonFiniteError), not as floating-point warnings
    with recording(policy), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if backend == "torch":          # one-reduction finiteness watches, repeated exactly on a finding
            from .torch._core import exact_on_recheck
            res = exact_on_recheck(spec.fn, problem, compressor, x0, iters, stepsize=step, momentum=mom,
                                   seed=seed, **opts)
        else:
            res = spec.fn(problem, compressor, x0, iters, stepsize=step, momentum=mom, seed=seed, **opts)
    if backend == "torch" and "seeds" not in options:
        res = drop_run_axis(res)
    return res
