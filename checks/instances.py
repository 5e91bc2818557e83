r"""Problem instances and run helpers that the claims of several papers share.

The paper problems (the synthetic logistic regression and the polynomial of [004]/[001] App. F/G),
problem Q of RATES.md, the compressor test vectors, a mutated-memory state for the lemma controls
and normalized compressed gradient descent without error feedback (the mechanism control of the
[004]/[001] bounds). :func:`_run` is the one entry to :func:`algorithms.run` of the checks;
:func:`cached_problem` builds the problem of a run description once per process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["cached_problem"]


@lru_cache(maxsize=64)
def cached_problem(factory, **kwargs):
    """``factory(**kwargs)`` (a problem class or factory of :mod:`eftheory.problems`), built once per
    arguments: the specs of a claim that name the same problem share one instance (some, such as
    the logistic regression and the sign problems' G, are costly to build)."""
    return factory(**kwargs)


def _run(name, problem, comp, x0, iters, **kw):
    import algorithms
    return algorithms.run(name, problem, comp, x0, iters, **kw)


def _logistic():
    from eftheory.problems import synthetic_logistic
    return synthetic_logistic(n=20, d=10, lam=0.1, seed=0)


def _poly(L1=4.0, d=4):
    from eftheory.problems.polynomial import Polynomial
    return Polynomial(d=d, L0=4.0, L1=L1)


# ============================================================================ compressors

def _vectors(rng, d, count):
    """Gaussian, heavy-tailed, sparse, equal-magnitude and huge-dynamic-range test vectors."""
    out = [rng.standard_normal((count, d)), rng.standard_t(1.5, (count, d)),
           rng.standard_normal((count, d)) * (rng.random((count, d)) < 0.3),
           np.sign(rng.standard_normal((count, d))) * 3.0,
           rng.standard_normal((count, d)) * 10.0 ** rng.uniform(-150, 150, (count, d))]
    V = np.vstack(out)
    V[np.all(V == 0, axis=1), 0] = 1.0
    return V


def _mutated_memory(res, problem, compressor, target="grad"):
    """The run with every client memory replaced by C(target) -- error feedback without its buffer."""
    from dataclasses import replace

    from eftheory.lyapunov.ef21 import _local_grads  # noqa: PLC2701 - the lemma module's own helper

    dg = dict(res.diagnostics)
    if target == "grad":
        tg = _local_grads(problem, np.asarray(res.x)[:res.iters])
    else:
        tg = np.asarray(dg["v_i"])
    dg["g_i"] = compressor.apply(tg)
    dg["g"] = dg["g_i"].mean(axis=1)
    return replace(res, diagnostics=dg)


def _q_problem():
    from eftheory.problems.quadratic import problem_q
    return problem_q(seed=0)


def _normalized_compressed_gd(prob, C, x0, K, gamma):
    """||grad f(x^k)||, k = 0..K-1, of normalized compressed gradient descent without error feedback,
    x^{k+1} = x^k - gamma d^k/||d^k||, d^k = (1/n) sum_i C(grad f_i(x^k)) (deterministic compressor; the
    direction 0 if d^k = 0): normalized EF21 without its memory, the mechanism the 004/001 bounds credit."""
    x = np.asarray(x0, dtype=np.float64).copy()
    gn = np.empty(K)
    for k in range(K):
        grads = np.array([np.asarray(prob.grad_i(i, x), dtype=np.float64) for i in range(prob.n_clients)])
        gn[k] = float(np.linalg.norm(np.mean(grads, axis=0)))
        d = np.mean(np.asarray(C(grads), dtype=np.float64), axis=0)
        nd = float(np.linalg.norm(d))
        if nd > 0:
            x = x - gamma * d / nd
    return gn
