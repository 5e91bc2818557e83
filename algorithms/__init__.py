"""Reference algorithms (``algorithms.numpy``) and the batched engine (``algorithms.torch``).

Entry points: :func:`run` and :func:`names`.
"""

from __future__ import annotations

from eftheory.problems.base import require
from eftheory.schedules import as_schedule
from eftheory.validation import check_choice, check_int, check_vector

from .registry import BACKENDS, AlgorithmSpec, Streams, get, names, register, specs
from .result import Result

__all__ = ["run", "names", "specs", "get", "register", "Result", "Streams", "AlgorithmSpec"]


def run(name: str, problem, compressor, x0, iters: int, *, stepsize, momentum=None,
        seed: int = 0, backend: str = "numpy", **options) -> Result:
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
    options : algorithm options, documented in each algorithm's docstring.
    """
    check_choice("backend", backend, BACKENDS)
    spec = get(name, backend)
    iters = check_int("iters", iters, low=1)
    seed = check_int("seed", seed, low=0)
    require(problem, spec.needs, algorithm=name)
    x0 = check_vector("x0", x0, int(problem.dim))
    if spec.compressor == "required":
        if compressor is None or not hasattr(compressor, "alpha"):
            raise ValueError(f"compressor must be an eftheory.compressors object for {name!r}; got {compressor!r}")
        if hasattr(compressor, "validate"):
            compressor.validate(int(problem.dim))
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(sorted(spec.options)) or "none"
        raise ValueError(f"options {unknown} are not options of {name!r} (allowed: {allowed})")
    opts = {**spec.options, **options}
    step = as_schedule(stepsize, name="stepsize")
    if spec.momentum == "none":
        if momentum is not None:
            raise ValueError(f"momentum must be None for {name!r} (it has no momentum parameter); got {momentum!r}")
        mom = None
    elif momentum is None:
        if spec.momentum == "required":
            raise ValueError(f"momentum must be given for {name!r}: a float or schedule in (0, 1]")
        mom = None
    else:
        mom = as_schedule(momentum, name="momentum", high=1.0)
    return spec.fn(problem, compressor, x0, iters, stepsize=step, momentum=mom, seed=seed, **opts)
