r"""Numerical checkers of the papers' assumptions and pointwise lemmas on a problem.

Problem and assumptions
-----------------------
Any object of the problem protocol (:mod:`eftheory.problems.base`). Checkers that need
curvature use ``hess_i`` / ``hess`` when the problem has them, otherwise they assemble the
Hessian column by column from ``hvp_i`` (fine for the small d of the test problems). Stated
constants are read from the problem's attributes (``L``, ``L_i``, ``L0``, ``L1``, ``H``,
``sigma``, ``f_i_inf_lower`` ...) unless given explicitly, so a wrong constant can be tested
as a negative control.

Definition
----------
Every checker returns a :class:`Check` ``(observed, stated)``. For the assumption checkers
``observed`` is the largest ratio left-hand side / right-hand side found and ``stated`` is
1.0, so "consistent" means ``observed <= stated``: e.g. for A-(L0,L1) in Hessian form

.. math::

   \text{observed}=\max_{x,\,i}\frac{\|\nabla^2 f_i(x)\|}{L_0+L_1\|\nabla f_i(x)\|}.

A failed check is a counter-example; a passed one is evidence on the sampled points only. The
pointwise lemmas return ``(lhs, rhs)`` of the inequality itself (holds iff lhs <= rhs), and
:func:`check_nonconvex` returns ``(smallest Hessian eigenvalue found, 0.0)`` (nonconvexity is
shown iff observed < 0).

Sample points (:func:`sample_points`): :math:`x=c+s\,z`, :math:`z\sim\mathcal N(0,I)`, with a
log-uniform scale :math:`s\in[s_{\min},s_{\max}]` (default 0.1 to 100) around the problem's
``x_star`` (or 0), clipped to the problem's ``box`` (the ∞-norm region on which its constants
are stated) when it has one. Pairs (:func:`sample_pairs`): one third independent points, one
third close pairs :math:`y=x+\epsilon(1+\|x\|)u/\|u\|` with :math:`\epsilon\in[10^{-4},10^{-1}]`
log-uniform, one third far pairs (y = -x, or x at the smallest and y at the largest scale).

Constants
---------
Statements from the specification's assumption table (A-L, A-Li, A-(L0,L1), A-Hi, A-σ, A-sep,
A-ℓ∞, A-G) and Khirirat et al. [004], Lemma 2 (4)–(7) and Lemma 3 (§5.1 of the specification).

Claims served: ``E-LOGREG``, ``E-POLY`` (constants and nonconvexity), ``S004-L2``, ``S004-L3``,
and the assumption rows of every rate claim.

Example
-------
>>> import numpy as np
>>> from eftheory.problems import synthetic_logistic
>>> obs, stated = check_L0L1(synthetic_logistic(seed=0), np.random.default_rng(0), count=20)
>>> obs <= stated
True
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.stats import norm

from eftheory.problems.base import global_grad
from eftheory.validation import check_choice, check_int, check_real, check_unit_interval

__all__ = [
    "Check", "sample_points", "sample_pairs", "hessian_i", "hessian",
    "check_smoothness", "check_L0L1", "check_hessian_lipschitz", "check_variance", "check_unbiased",
    "check_separable_smoothness", "check_linf_smoothness", "check_bounded_gradient",
    "check_nonconvex", "lemma2_inequalities", "lemma3_inequality",
]


class Check(NamedTuple):
    """An observed figure beside the stated one (see each checker for the direction)."""

    observed: float
    stated: float


# --------------------------------------------------------------------------- sampling
def _rng(rng, what: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator when {what} is not given; got {type(rng).__name__}")
    return rng


def _clip(problem, X: np.ndarray) -> np.ndarray:
    box = getattr(problem, "box", None)
    return X if box is None else np.clip(X, -box, box)


def sample_points(problem, rng: np.random.Generator, count: int = 100, *,
                  scales: tuple[float, float] = (0.1, 100.0), center=None) -> np.ndarray:
    """``count`` points (count, d) at log-uniform scales around ``center`` (default ``x_star`` or 0), clipped to ``box``."""
    rng = _rng(rng, "points")
    count = check_int("count", count, low=1)
    lo = check_real("scales[0]", scales[0], low=0.0, low_open=True)
    hi = check_real("scales[1]", scales[1], low=lo)
    d = problem.dim
    c = np.zeros(d) if center is None else np.asarray(center, dtype=np.float64)
    if center is None and getattr(problem, "x_star", None) is not None:
        c = np.asarray(problem.x_star, dtype=np.float64)
    s = np.exp(rng.uniform(math.log(lo), math.log(hi), size=(count, 1)))
    return _clip(problem, c + s * rng.standard_normal((count, d)))


def sample_pairs(problem, rng: np.random.Generator, count: int = 150, *,
                 scales: tuple[float, float] = (0.1, 100.0), center=None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)``, each (count, d): independent, close and far pairs (module docstring)."""
    count = check_int("count", count, low=3)
    k = count // 3
    X1 = sample_points(problem, rng, k, scales=scales, center=center)
    Y1 = sample_points(problem, rng, k, scales=scales, center=center)
    X2 = sample_points(problem, rng, k, scales=scales, center=center)
    u = rng.standard_normal(X2.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    eps = np.exp(rng.uniform(math.log(1e-4), math.log(1e-1), size=(k, 1)))
    Y2 = _clip(problem, X2 + eps * (1.0 + np.linalg.norm(X2, axis=1, keepdims=True)) * u)
    m = count - 2 * k
    half = m // 2
    X3a = sample_points(problem, rng, half, scales=scales, center=center) if half else np.empty((0, problem.dim))
    Y3a = _clip(problem, -X3a)
    X3b = sample_points(problem, rng, m - half, scales=(scales[0], scales[0]), center=center)
    Y3b = sample_points(problem, rng, m - half, scales=(scales[1], scales[1]), center=center)
    X3, Y3 = np.vstack([X3a, X3b]), np.vstack([Y3a, Y3b])
    X, Y = np.vstack([X1, X2, X3]), np.vstack([Y1, Y2, Y3])
    keep = np.linalg.norm(X - Y, axis=1) > 0
    return X[keep], Y[keep]


def _pairs_or_sample(problem, rng, pairs, count, scales):
    if pairs is not None:
        X, Y = (np.atleast_2d(np.asarray(p, dtype=np.float64)) for p in pairs)
        if X.shape != Y.shape or X.shape[1] != problem.dim:
            raise ValueError(f"pairs must be two arrays of shape (m, d={problem.dim}); got {X.shape} and {Y.shape}")
        return X, Y
    _rng(rng, "pairs")
    return sample_pairs(problem, rng, count, scales=scales)


def _points_or_sample(problem, rng, points, count, scales):
    if points is not None:
        P = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if P.shape[1] != problem.dim:
            raise ValueError(f"points must have shape (m, d={problem.dim}); got {P.shape}")
        return P
    _rng(rng, "points")
    return sample_points(problem, rng, count, scales=scales)


def _clients(problem, client) -> list[int]:
    n = problem.n_clients
    if client is None or client == "each":
        return list(range(n))
    return [check_int("client", client, low=0, high=n - 1, high_label=f"n_clients-1={n - 1}")]


def _per_client(problem, name: str, value, n: int) -> np.ndarray:
    if value is None:
        if not hasattr(problem, name):
            raise ValueError(f"{name} must be given: {type(problem).__name__} has no attribute {name!r}")
        value = getattr(problem, name)
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and in [0, inf); got {value!r}")
    return arr


def _fp_allowance(*terms: float) -> float:
    """Error bound 4*eps*sum|terms| of a sum of the given floating-point terms (cancellation)."""
    return 4.0 * np.finfo(np.float64).eps * float(sum(abs(t) for t in terms))


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return float(num / den)
    return 0.0 if num <= 0 else math.inf


# --------------------------------------------------------------------------- curvature
def hessian_i(problem, i: int, x: np.ndarray, xi=None) -> np.ndarray:
    """Hessian of f_i at x: ``problem.hess_i`` when present, else d HVPs with the unit vectors."""
    if hasattr(problem, "hess_i"):
        return np.asarray(problem.hess_i(i, x, xi), dtype=np.float64)
    d = problem.dim
    H = np.column_stack([problem.hvp_i(i, x, e, xi) for e in np.eye(d)])
    return 0.5 * (H + H.T)


def hessian(problem, x: np.ndarray) -> np.ndarray:
    """Hessian of f at x: ``problem.hess`` when present, else the mean of the clients' Hessians."""
    if hasattr(problem, "hess"):
        return np.asarray(problem.hess(x), dtype=np.float64)
    return sum(hessian_i(problem, i, x) for i in range(problem.n_clients)) / problem.n_clients


def _spec(H: np.ndarray) -> float:
    w = np.linalg.eigvalsh(H)
    return float(max(abs(w[0]), abs(w[-1])))


def _has_curvature(problem) -> bool:
    return hasattr(problem, "hess_i") or hasattr(problem, "hvp_i")


# --------------------------------------------------------------------------- assumptions
def check_smoothness(problem, rng=None, *, pairs=None, count: int = 150, client=None, L=None,
                     hessian_check: bool | None = None, scales=(0.1, 100.0)) -> Check:
    r"""A-L / A-Li: max of :math:`\|\nabla f(x)-\nabla f(y)\|/(L\|x-y\|)` (and of :math:`\|\nabla^2f(x)\|/L`).

    Args:
        problem: the problem. rng: generator for the pairs (unless ``pairs`` = (X, Y) is given).
        client: None -- the global f against ``L``; ``"each"`` -- every f_i against its ``L_i[i]``;
            an integer i -- f_i only. L: the stated constant(s) (default the problem's ``L`` /
            ``L_i``). hessian_check: also take exact Hessian spectral norms at the pair points
            (default: when d ≤ 64 and the problem gives curvature).

    Returns:
        ``Check(max ratio, 1.0)``.
    """
    X, Y = _pairs_or_sample(problem, rng, pairs, count, scales)
    if hessian_check is None:
        hessian_check = problem.dim <= 64 and _has_curvature(problem)
    if client is None:
        K = float(_per_client(problem, "L", L, 1)[0])
        grad = lambda x: global_grad(problem, x)  # noqa: E731
        targets = [(grad, (lambda x: hessian(problem, x)), K)]
    else:
        idx = _clients(problem, client)
        Ks = _per_client(problem, "L_i", L, problem.n_clients)
        targets = [((lambda x, i=i: problem.grad_i(i, x)), (lambda x, i=i: hessian_i(problem, i, x)), float(Ks[i]))
                   for i in idx]
    worst = 0.0
    for g, hfun, K in targets:
        for x, y in zip(X, Y):
            worst = max(worst, _ratio(float(np.linalg.norm(g(x) - g(y))), K * float(np.linalg.norm(x - y))))
        if hessian_check:
            for x in X:
                worst = max(worst, _ratio(_spec(hfun(x)), K))
    return Check(worst, 1.0)


def check_L0L1(problem, rng=None, *, form: str = "hessian", points=None, pairs=None, count: int = 100,
               thetas: int = 64, client="each", L0=None, L1=None, scales=(0.1, 100.0)) -> Check:
    r"""A-(L0,L1), symmetric generalized smoothness of every :math:`f_i` ([004] Assumption 3).

    ``form="hessian"``: :math:`\max\|\nabla^2f_i(x)\|/(L_0+L_1\|\nabla f_i(x)\|)` over points and
    clients. ``form="pairs"``: :math:`\max\|\nabla f_i(x)-\nabla f_i(y)\|/((L_0+L_1\sup_\theta\|\nabla f_i(u_\theta)\|)\|x-y\|)`,
    :math:`u_\theta=\theta x+(1-\theta)y`, the sup over ``thetas`` (≥ 64) interior grid values plus
    both endpoints.

    Returns:
        ``Check(max ratio, 1.0)``.
    """
    check_choice("form", form, ("hessian", "pairs"))
    thetas = check_int("thetas", thetas, low=64)
    L0v = float(_per_client(problem, "L0", L0, 1)[0])
    L1v = float(_per_client(problem, "L1", L1, 1)[0])
    idx = _clients(problem, client)
    worst = 0.0
    if form == "hessian":
        P = _points_or_sample(problem, rng, points, count, scales)
        for x in P:
            for i in idx:
                g = float(np.linalg.norm(problem.grad_i(i, x)))
                worst = max(worst, _ratio(_spec(hessian_i(problem, i, x)), L0v + L1v * g))
        return Check(worst, 1.0)
    X, Y = _pairs_or_sample(problem, rng, pairs, count, scales)
    grid = np.linspace(0.0, 1.0, thetas + 2)
    for x, y in zip(X, Y):
        dist = float(np.linalg.norm(x - y))
        for i in idx:
            sup = max(float(np.linalg.norm(problem.grad_i(i, t * x + (1.0 - t) * y))) for t in grid)
            lhs = float(np.linalg.norm(problem.grad_i(i, x) - problem.grad_i(i, y)))
            worst = max(worst, _ratio(lhs, (L0v + L1v * sup) * dist))
    return Check(worst, 1.0)


def check_hessian_lipschitz(problem, rng=None, *, pairs=None, count: int = 150, client="each", H=None,
                            form: str = "hessian", scales=(0.1, 100.0)) -> Check:
    r"""A-Hi: :math:`\max\|\nabla^2f_i(x)-\nabla^2f_i(y)\|/(H\|x-y\|)`.

    ``form="remainder"`` uses the equivalent test
    :math:`\|\nabla f_i(y)-\nabla f_i(x)-\nabla^2f_i(x)(y-x)\|\le\frac H2\|y-x\|^2`. H defaults to
    the problem's ``H`` (valid on its ``box``, where the sampled pairs are clipped). The remainder
    form subtracts the floating-point error bound of the computed remainder (as in
    :func:`check_separable_smoothness`).

    Returns:
        ``Check(max ratio, 1.0)`` (a ratio with H = 0 is 0 when the left side is exactly 0, else inf).
    """
    check_choice("form", form, ("hessian", "remainder"))
    X, Y = _pairs_or_sample(problem, rng, pairs, count, scales)
    Hv = float(_per_client(problem, "H", H, 1)[0])
    worst = 0.0
    for i in _clients(problem, client):
        for x, y in zip(X, Y):
            dist = float(np.linalg.norm(x - y))
            if form == "hessian":
                lhs = _spec(hessian_i(problem, i, x) - hessian_i(problem, i, y))
                worst = max(worst, _ratio(lhs, Hv * dist))
            else:
                gy, gx, hv = problem.grad_i(i, y), problem.grad_i(i, x), problem.hvp_i(i, x, y - x)
                lhs = float(np.linalg.norm(gy - gx - hv)) - _fp_allowance(
                    float(np.linalg.norm(gy)), float(np.linalg.norm(gx)), float(np.linalg.norm(hv)))
                worst = max(worst, _ratio(max(lhs, 0.0), 0.5 * Hv * dist * dist))
    return Check(worst, 1.0)


def _z(confidence: float, tails: int = 1, m: int = 1) -> float:
    return float(norm.ppf(1.0 - (1.0 - confidence) / (tails * m)))


def check_variance(problem, rng: np.random.Generator, *, points=None, count: int = 5, draws: int = 2000,
                   client="each", bound: str = "pointwise", sigma=None, confidence: float = 0.99,
                   scales=(0.1, 10.0)) -> Check:
    r"""A-σ by Monte Carlo: :math:`\mathbb E\|\nabla f_i(x;\xi)-\nabla f_i(x)\|^2` against the stated variance.

    For every point and client, ``draws`` draws give the mean :math:`\hat v` of the squared
    deviations and its standard error; the one-sided lower confidence bound
    :math:`\hat v-z\,\mathrm{se}` (Bonferroni over points x clients, so the whole check has
    level ``confidence``) is divided by the stated variance
    (``bound="pointwise"``: ``problem.variance_at(x)[i]``; ``"global"``: ``sigma**2``, default the
    problem's ``sigma``). An observed ratio > 1 is a counter-example at that confidence.

    Returns:
        ``Check(max ratio, 1.0)``.
    """
    rng = _rng(rng, "rng")
    check_choice("bound", bound, ("pointwise", "global"))
    draws = check_int("draws", draws, low=2)
    confidence = check_unit_interval("confidence", confidence, high_open=True)
    P = _points_or_sample(problem, rng, points, count, scales)
    idx = _clients(problem, client)
    z = _z(confidence, tails=1, m=len(P) * len(idx))
    if bound == "global":
        s2 = float(_per_client(problem, "sigma", sigma, 1)[0]) ** 2
    worst = 0.0
    for x in P:
        stated = problem.variance_at(x) if bound == "pointwise" else np.full(problem.n_clients, s2)
        for i in idx:
            exact = problem.grad_i(i, x)
            sq = np.array([np.sum((problem.grad_i(i, x, problem.sample(i, rng)) - exact) ** 2) for _ in range(draws)])
            lower = sq.mean() - z * sq.std(ddof=1) / math.sqrt(draws)
            worst = max(worst, _ratio(lower, float(stated[i])))
    return Check(worst, 1.0)


def check_unbiased(problem, rng: np.random.Generator, x, *, draws: int = 4000, client="each",
                   confidence: float = 0.99, hvp_direction=None) -> Check:
    r"""A-σ (first half): :math:`\mathbb E\nabla f_i(x;\xi)=\nabla f_i(x)` coordinatewise, by Monte Carlo.

    Observed: :math:`\max_{i,j}|\bar g_{ij}-\nabla_jf_i(x)|/(z\,\mathrm{se}_{ij})` with a two-sided
    Bonferroni z over the d·n coordinates at level ``confidence``; > 1 rejects unbiasedness. The
    rounding error bound of the sample mean is subtracted from each deviation (a deterministic
    oracle then gives 0).
    With ``hvp_direction`` = v the Hessian-vector products are tested instead.

    Returns:
        ``Check(max standardized deviation, 1.0)``.
    """
    rng = _rng(rng, "rng")
    draws = check_int("draws", draws, low=2)
    confidence = check_unit_interval("confidence", confidence, high_open=True)
    x = np.asarray(x, dtype=np.float64)
    idx = _clients(problem, client)
    z = _z(confidence, tails=2, m=problem.dim * len(idx))
    worst = 0.0
    for i in idx:
        if hvp_direction is None:
            exact = problem.grad_i(i, x)
            G = np.array([problem.grad_i(i, x, problem.sample(i, rng)) for _ in range(draws)])
        else:
            exact = problem.hvp_i(i, x, hvp_direction)
            G = np.array([problem.hvp_i(i, x, hvp_direction, problem.sample(i, rng)) for _ in range(draws)])
        Gt = np.ascontiguousarray(G.T)                  # contiguous rows: pairwise summation
        se = Gt.std(axis=1, ddof=1) / math.sqrt(draws)
        mean = Gt.mean(axis=1)
        # rounding of the mean of `draws` numbers (pairwise summation) is not a bias
        slack = 4.0 * np.finfo(np.float64).eps * math.log2(draws + 1) * (np.abs(mean) + np.abs(exact))
        dev = np.maximum(np.abs(mean - exact) - slack, 0.0)
        for dj, sj in zip(dev, se):
            worst = max(worst, _ratio(float(dj), z * float(sj)))
    return Check(worst, 1.0)


def check_separable_smoothness(problem, rng=None, *, pairs=None, count: int = 150, L_vec=None,
                               scales=(0.1, 100.0)) -> Check:
    r"""A-sep (two-sided): :math:`\max|f(y)-f(x)-\langle\nabla f(x),y-x\rangle|/(\frac12\sum_jL_j(y_j-x_j)^2)`.

    The remainder is a difference of nearly equal numbers for close pairs; the floating-point
    error bound :math:`4\varepsilon_{\rm mach}(|f(x)|+|f(y)|+|\langle\nabla f(x),y-x\rangle|)` is
    subtracted from it, so a reported violation is a real one.

    Returns:
        ``Check(max ratio, 1.0)``; ``L_vec`` defaults to the problem's ``L_vec``.
    """
    X, Y = _pairs_or_sample(problem, rng, pairs, count, scales)
    Lv = _per_client(problem, "L_vec", L_vec, problem.dim)
    worst = 0.0
    for x, y in zip(X, Y):
        fx, fy, lin = problem.f(x), problem.f(y), float(global_grad(problem, x) @ (y - x))
        lhs = max(abs(fy - fx - lin) - _fp_allowance(fx, fy, lin), 0.0)
        worst = max(worst, _ratio(lhs, 0.5 * float(Lv @ (y - x) ** 2)))
    return Check(worst, 1.0)


def check_linf_smoothness(problem, rng=None, *, pairs=None, count: int = 150, L_inf=None,
                          scales=(0.1, 100.0)) -> Check:
    r"""A-ℓ∞: :math:`\max\|\nabla f(x)-\nabla f(y)\|_1/(L_\infty\|x-y\|_\infty)`.

    Returns:
        ``Check(max ratio, 1.0)``; ``L_inf`` defaults to the problem's ``L_inf``.
    """
    X, Y = _pairs_or_sample(problem, rng, pairs, count, scales)
    K = float(_per_client(problem, "L_inf", L_inf, 1)[0])
    worst = 0.0
    for x, y in zip(X, Y):
        lhs = float(np.sum(np.abs(global_grad(problem, x) - global_grad(problem, y))))
        worst = max(worst, _ratio(lhs, K * float(np.max(np.abs(x - y)))))
    return Check(worst, 1.0)


def check_bounded_gradient(problem, rng: np.random.Generator, *, G=None, radius=None, count: int = 200,
                           draws: int = 20) -> Check:
    r"""A-G: :math:`\max_{x,\xi,j}\|\nabla f_j(x;\xi)\|_\infty/G` over points of the box :math:`\|x\|_\infty\le R`.

    Points are uniform in the box plus its corners' directions; R defaults to the problem's
    ``box`` and G to ``G_on_box(R)`` (or the attribute ``G``).

    Returns:
        ``Check(max ratio, 1.0)``.
    """
    rng = _rng(rng, "rng")
    R = check_real("radius", problem.box if radius is None else radius, low=0.0)
    if G is None:
        G = problem.G_on_box(R) if hasattr(problem, "G_on_box") else problem.G
    G = check_real("G", G, low=0.0, low_open=True)
    count = check_int("count", count, low=1)
    P = rng.uniform(-R, R, size=(count, problem.dim))
    P[: count // 2] = R * np.sign(P[: count // 2])
    worst = 0.0
    for x in P:
        for j in range(problem.n_clients):
            for _ in range(draws):
                g = problem.grad_i(j, x, problem.sample(j, rng))
                worst = max(worst, float(np.max(np.abs(g))) / G)
    return Check(worst, 1.0)


def check_nonconvex(problem, rng=None, *, points=None, count: int = 200, scales=(0.1, 10.0)) -> Check:
    r"""Nonconvexity of f: the smallest eigenvalue of :math:`\nabla^2 f` over candidate points.

    Candidates: the problem's ``nonconvex_witness()`` when it has one, ``points``, and ``count``
    sampled points (when ``rng`` is given).

    Returns:
        ``Check(min eigenvalue found, 0.0)``: nonconvexity is shown iff observed < stated.
    """
    cands = []
    if hasattr(problem, "nonconvex_witness"):
        cands.append(np.asarray(problem.nonconvex_witness(), dtype=np.float64)[None, :])
    if points is not None:
        cands.append(np.atleast_2d(np.asarray(points, dtype=np.float64)))
    if rng is not None:
        cands.append(sample_points(problem, rng, count, scales=scales))
    if not cands:
        raise ValueError("points or rng must be given: the problem has no nonconvex_witness()")
    lo = math.inf
    for x in np.vstack(cands):
        lo = min(lo, float(np.linalg.eigvalsh(hessian(problem, x))[0]))
    return Check(lo, 0.0)


# --------------------------------------------------------------------------- lemmas of [004]
def _gl_constants(problem, L0, L1, f_i_inf):
    n = problem.n_clients
    L0v = float(_per_client(problem, "L0", L0, 1)[0])
    L1v = float(_per_client(problem, "L1", L1, 1)[0])
    if f_i_inf is None:
        f_i_inf = getattr(problem, "f_i_inf_lower", None)
        if f_i_inf is None:
            raise ValueError(f"f_i_inf must be given: {type(problem).__name__} has no f_i_inf_lower")
    ell = np.broadcast_to(np.asarray(f_i_inf, dtype=np.float64), (n,))
    return L0v, L1v, ell


def _worst(pairs: list[tuple[float, float]]) -> Check:
    best = max(pairs, key=lambda p: _ratio(p[0], p[1]) if p[1] >= 0 else math.inf)
    return Check(float(best[0]), float(best[1]))


def lemma2_inequalities(problem, x, y, *, L0=None, L1=None, f_i_inf=None) -> dict[str, Check]:
    r"""Khirirat et al. [004], Lemma 2, inequalities (4)–(7) at the pair (x, y) (claim ``S004-L2``).

    .. math::

       (4)\ \|\nabla f_i(x)-\nabla f_i(y)\|\le(L_0+L_1\|\nabla f_i(y)\|)e^{L_1\|x-y\|}\|x-y\|,

       (5)\ f_i(y)-f_i(x)-\langle\nabla f_i(x),y-x\rangle\le\tfrac{L_0+L_1\|\nabla f_i(x)\|}2e^{L_1\|x-y\|}\|y-x\|^2,

       (6)\ \frac{\|\nabla f_i(x)\|^2}{4(L_0+L_1\|\nabla f_i(x)\|)}\le f_i(x)-f_i^{\inf},

       (7)\ f(y)-f(x)-\langle\nabla f(x),y-x\rangle\le\tfrac{L_0+\frac{L_1}n\sum_i\|\nabla f_i(x)\|}2e^{L_1\|x-y\|}\|y-x\|^2.

    :math:`f_i^{\inf}` is replaced by the lower bound ``f_i_inf`` (default the problem's
    ``f_i_inf_lower``), which only enlarges the right side of (6).

    Returns:
        ``{"(4)": Check(lhs, rhs), "(5)": ..., "(6)": ..., "(7)": ...}``; for (4)–(6) the client
        with the largest lhs/rhs. Each holds iff lhs <= rhs (an overflowing exponential gives rhs = inf).
    """
    L0v, L1v, ell = _gl_constants(problem, L0, L1, f_i_inf)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dist = float(np.linalg.norm(x - y))
    with np.errstate(over="ignore"):
        grow = float(np.exp(L1v * dist))
    r4, r5, r6 = [], [], []
    gnorms = []
    for i in range(problem.n_clients):
        gx, gy = problem.grad_i(i, x), problem.grad_i(i, y)
        nx, ny = float(np.linalg.norm(gx)), float(np.linalg.norm(gy))
        gnorms.append(nx)
        r4.append((float(np.linalg.norm(gx - gy)), (L0v + L1v * ny) * grow * dist))
        r5.append((problem.f_i(i, y) - problem.f_i(i, x) - float(gx @ (y - x)),
                   0.5 * (L0v + L1v * nx) * grow * dist * dist))
        r6.append((nx * nx / (4.0 * (L0v + L1v * nx)), problem.f_i(i, x) - float(ell[i])))
    g = global_grad(problem, x)
    lhs7 = problem.f(y) - problem.f(x) - float(g @ (y - x))
    rhs7 = 0.5 * (L0v + L1v * float(np.mean(gnorms))) * grow * dist * dist
    return {"(4)": _worst(r4), "(5)": _worst(r5), "(6)": _worst(r6), "(7)": Check(lhs7, rhs7)}


def lemma3_inequality(problem, x, *, L0=None, L1=None, f_i_inf=None) -> Check:
    r"""Khirirat et al. [004], Lemma 3 at x (claim ``S004-L3``).

    .. math::

       \frac1n\sum_i\|\nabla f_i(x)\|\le 8L_1\Bigl(f(x)-\frac1n\sum_if_i^{\inf}\Bigr)+\frac{L_0}{L_1}

    (the form with :math:`f^{\inf}` and :math:`\delta^{\inf}` is the same number). Lower bounds
    :math:`\ell_i\le f_i^{\inf}` (default the problem's ``f_i_inf_lower``) give a valid, weaker test.

    Returns:
        ``Check(lhs, rhs)``, holds iff lhs <= rhs. Needs L1 > 0.
    """
    L0v, L1v, ell = _gl_constants(problem, L0, L1, f_i_inf)
    if L1v <= 0:
        raise ValueError(f"L1 must be > 0 for Lemma 3 (allowed: (0, inf)); got {L1v:g}")
    x = np.asarray(x, dtype=np.float64)
    lhs = float(np.mean([np.linalg.norm(problem.grad_i(i, x)) for i in range(problem.n_clients)]))
    rhs = 8.0 * L1v * (problem.f(x) - float(np.mean(ell))) + L0v / L1v
    return Check(lhs, rhs)
