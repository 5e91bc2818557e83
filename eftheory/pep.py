r"""Worst-case certificates by performance estimation (PEP) beside the ledger's bounds.

A bound claim reports ``bound / measured``. That ratio mixes two things: how loose the theorem
is on the *worst* admissible instance, and how benign the testbed instance is. A performance
estimation problem computes the worst case over a whole function class and compressor class as
a small semidefinite program (the Gram matrix of the iterates, gradients and messages), so

.. math::

   \frac{\text{bound}}{\text{measured}} =
   \underbrace{\frac{\text{bound}}{\text{PEP}}}_{\text{theorem}} \times
   \underbrace{\frac{\text{PEP}}{\text{measured}}}_{\text{instance}} .

The programs are written with PEPit and solved by an open-source conic solver (Clarabel,
through cvxpy); install them with ``pip install -e ".[pep]"``.

Common modelling (every program):

* **function class** -- :math:`f` is :math:`L`-smooth (not necessarily convex): PEPit's exact
  interpolation conditions of ``SmoothFunction``; with two clients each :math:`f_i` is
  :math:`L_i`-smooth and :math:`f=\frac12(f_1+f_2)`.
* **compressor class** -- deterministic :math:`\alpha`-contraction: every message is a fresh
  vector :math:`c` constrained only by :math:`\|c-v\|^2\le(1-\alpha)\|v\|^2` for its input
  :math:`v`. This is a superset of Top-K (:math:`\alpha=K/d`), scaled sign, ...; randomized
  compressors (Rand-K, the stochastic sign, expectations over draws) are **not** covered.
* **the lower level** :math:`f_*` -- PEPit has no "global minimum" primitive for a nonconvex
  function. The programs use a free scalar :math:`f_*` with
  :math:`f_*\le f(x)-\|\nabla f(x)\|^2/(2L)` at every point the method visits (true for
  :math:`f_*=\inf f` of any :math:`L`-smooth f, since :math:`f(x-\nabla f(x)/L)\le
  f(x)-\|\nabla f(x)\|^2/(2L)`). The constraint is a relaxation: the PEP value is **at least**
  the true worst case, so ``bound / PEP`` is a *lower* bound on the theorem's looseness and
  ``PEP / measured`` an upper bound on the instance's share. (The weaker
  :math:`f_*\le f(x^t)` is badly loose: 20 instead of 2 at T = 1 for gradient descent.)

Programs: :func:`ef21_worst_case` (EF21 Theorem 1), :func:`gd_nonconvex_worst_case` (PEPit's
gradient-descent reference value), :func:`ef21_lyapunov_rate` (one-step certificate, all T),
:func:`ef14_worst_case` (classical error feedback), :func:`saef_worst_case` (step-ahead error
feedback, deterministic), :func:`ef21_norm_profile_search` (normalized EF21, a lower estimate).
Each returns a :class:`PEPResult`. ``python -m eftheory.pep --table`` recomputes the saved
tables (:data:`TABLE_PATH`), ``--plots DIR`` draws the figures of the docs page from them.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eftheory.validation import check_choice, check_flag, check_int, check_real, check_unit_interval

__all__ = [
    "PEPResult", "INITS", "TABLE_PATH", "require_pepit", "ef21_bound_units", "ef21_theory_gamma",
    "ef21_worst_case", "gd_nonconvex_worst_case", "ef21_lyapunov_rate", "ef21_lyapunov_best",
    "ef14_worst_case", "saef_worst_case", "ef21_norm_profile_search", "norm_lsmooth_gamma",
    "cached_ef21", "cached_norm", "load_tables", "compute_tables", "main",
]

#: the project's EF21 initialisations (``init`` option of :mod:`algorithms.numpy._ef21_loop`).
INITS = ("gradient", "compressed", "zero")
#: the saved tables (``python -m eftheory.pep --table`` rewrites them).
TABLE_PATH = Path(__file__).resolve().parent / "data" / "pep_tables.json"
EXTRA_HINT = 'the PEP programs need the optional extra: pip install -e ".[pep]" (PEPit, cvxpy, clarabel)'


@dataclass
class PEPResult:
    """One solved performance-estimation program.

    ``value``: the worst case (dual objective, a certified upper bound of the SDP); ``primal``:
    the primal objective (a lower bound of the SDP); ``gap``: their absolute difference; ``status``: the
    solver's status string; ``seconds``: build + solve time; ``params``: the program's inputs.
    """

    program: str
    value: float
    primal: float
    gap: float
    status: str
    solver: str
    seconds: float
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "optimal_inaccurate") and math.isfinite(self.value)

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- plumbing


def require_pepit():
    """Import PEPit, cvxpy and Clarabel, or raise one clear :class:`RuntimeError`."""
    try:
        import clarabel  # noqa: F401
        import cvxpy
        import PEPit
        from PEPit.functions import SmoothFunction
    except ImportError as exc:  # pragma: no cover - exercised when the extra is absent
        raise RuntimeError(f"{EXTRA_HINT} ({exc.name or exc} is missing)") from None
    return PEPit, SmoothFunction, cvxpy


def _alpha(alpha) -> float:
    return check_unit_interval("alpha", alpha)


def _horizon(T, name="T") -> int:
    return check_int(name, T, low=1)


def _Ls(L) -> tuple[float, ...]:
    Ls = (L,) if isinstance(L, (int, float)) else tuple(L)
    if not 1 <= len(Ls) <= 2:
        raise ValueError(f"L must be one smoothness constant or a pair (one per client, n <= 2); got {L!r}")
    return tuple(check_real("L", v, low=0.0, low_open=True) for v in Ls)


def _solve(problem, program: str, params: dict, t0: float, extra=None) -> PEPResult:
    import warnings

    _, _, cp = require_pepit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # "solution may be inaccurate": kept in ``status``
        value, error = None, None
        for solver in (cp.CLARABEL, cp.SCS):      # SCS (first order) when the interior-point method stalls
            try:
                value = problem.solve(wrapper="cvxpy", solver=solver, verbose=0)
                error = None
                break
            except cp.error.SolverError as exc:
                error = exc
        if error is not None:
            return PEPResult(program=program, value=float("nan"), primal=float("nan"), gap=float("nan"),
                             status=f"solver_error: {error}", solver="CLARABEL/SCS",
                             seconds=time.perf_counter() - t0, params=params, extra=extra or {})
    wrapper = problem.wrapper
    status = str(getattr(getattr(wrapper, "prob", None), "status", "unknown"))
    try:
        primal = float(problem.objective.eval())
    except Exception:  # no primal value when the solver failed
        primal = float("nan")
    value = float("nan") if value is None else float(value)
    return PEPResult(program=program, value=value, primal=primal, gap=abs(value - primal), status=status,
                     solver=str(getattr(wrapper, "solver_name", "CLARABEL")),
                     seconds=time.perf_counter() - t0, params=params, extra=extra or {})


def _contraction(problem, Point, v, alpha):
    """A fresh message c with ||c - v||^2 <= (1 - alpha)||v||^2 (deterministic alpha-contraction)."""
    c = Point()
    problem.add_constraint((c - v) ** 2 <= (1 - alpha) * v ** 2)
    return c


def ef21_theory_gamma(alpha: float, L=1.0, L_f=None) -> float:
    """EF21's theory stepsize 1/(L_f + L~ sqrt(beta/theta)), L~ the quadratic mean of the L_i
    (:func:`eftheory.derivations.ef21.theory_stepsize`); L_f defaults to the mean of the L_i."""
    from eftheory.derivations.ef21 import theory_stepsize

    Ls = _Ls(L)
    L_f = sum(Ls) / len(Ls) if L_f is None else check_real("L_f", L_f, low=0.0, low_open=True)
    L_tilde = math.sqrt(sum(v * v for v in Ls) / len(Ls))
    return theory_stepsize(L_f, L_tilde, _alpha(alpha))


def ef21_bound_units(alpha: float, gamma: float) -> tuple[float, float]:
    """The weights (2/gamma, 1/theta) of F^0 and G^0 in T x (EF21 Theorem 1's bound)."""
    from eftheory.derivations.ef21 import theta

    return 2.0 / check_real("gamma", gamma, low=0.0, low_open=True), 1.0 / theta(_alpha(alpha))


# ----------------------------------------------------------------------------- EF21


def _worst_case_shape(sq, budget, alpha) -> dict:
    """What the worst-case instance looks like, read off the solved Gram matrix: the profile of
    ||grad f(x^t)||^2 over t, and the share of the contraction budget (1 - alpha)||o||^2 that each
    message's error ||c - o||^2 uses (1 = the compressor is as bad as the class allows)."""
    try:
        profile = [float(e.eval()) for e in sq]
        used = [float(err.eval()) / ((1 - alpha) * float(o.eval())) if alpha < 1 and float(o.eval()) > 1e-12
                else float("nan") for err, o in budget]
    except Exception:               # no primal solution to read (solver failure)
        return {}
    finite = [u for u in used if math.isfinite(u)]
    return {"grad_sq_profile": profile,
            "budget_used": used,
            "budget_used_mean": (sum(finite) / len(finite)) if finite else None}


def ef21_worst_case(alpha: float, T: int, *, L=1.0, L_f=None, gamma=None, init: str = "gradient",
                    metric: str = "average", weights=None, lower_level: str = "smooth") -> PEPResult:
    r"""Worst case of EF21 (exact gradients, n <= 2 clients) over the L-smooth class.

    Method (the project's compress-then-step loop, :mod:`algorithms.numpy._ef21_loop`), per client i:
    :math:`x^{t+1}=x^t-\gamma g^t`, :math:`g_i^{t+1}=g_i^t+c_i^t` with the message :math:`c_i^t` a
    fresh point, :math:`\|c_i^t-o_i^t\|^2\le(1-\alpha)\|o_i^t\|^2`,
    :math:`o_i^t=\nabla f_i(x^{t+1})-g_i^t`, :math:`g^t=\frac1n\sum_ig_i^t`. Initial memory
    ``init``: ``"gradient"`` :math:`g_i^0=\nabla f_i(x^0)` (so :math:`G^0=0`); ``"zero"``
    :math:`g_i^0=\mathcal C(\nabla f_i(x^0))`; ``"compressed"``
    :math:`g_i^0=\mathcal C(\nabla f_i^0)+\mathcal C(\nabla f_i^0-\mathcal C(\nabla f_i^0))`.

    Function class: :math:`f_i` is :math:`L_i`-smooth (``L``: one value, or a pair for two
    clients), :math:`f=\frac1n\sum_if_i`; :math:`f_*\le f(x^t)-\|\nabla f(x^t)\|^2/(2L_f)` at
    :math:`x^0..x^T` (``L_f`` = mean of the L_i unless given). Compressor: deterministic
    :math:`\alpha`-contraction (superset of Top-K; randomized compressors not covered).

    Normalisation: the theorem's numerator is fixed, :math:`w_F F^0+w_G G^0\le1` with
    :math:`(w_F,w_G)=(2/\gamma,1/\theta)` (``weights`` overrides them), :math:`F^0=f(x^0)-f_*`,
    :math:`G^0=\frac1n\sum_i\|g_i^0-\nabla f_i(x^0)\|^2`. The theorem then reads
    metric :math:`\le 1/T`; ``value`` is the largest metric over the class, so
    ``bound / PEP = 1 / (T * value)`` and for an instance with numerator N the class worst case is
    ``value * N``. ``metric``: ``"average"`` :math:`\frac1T\sum_{t<T}\|\nabla f(x^t)\|^2` (the
    theorem's quantity) or ``"min"`` (min over t < T). ``lower_level="visited"`` replaces the
    :math:`f_*` constraint by the weak :math:`f_*\le f(x^t)` (for comparison only: badly loose);
    ``"probes"`` adds the points :math:`y=x-\nabla f(x)/L_f` with their own interpolation and
    :math:`f_*` constraints (a tighter relaxation, about twice the size, to test the default's slack).
    """
    PEPit, SmoothFunction, _ = require_pepit()
    from PEPit import Expression, Point

    t0 = time.perf_counter()
    a, T = _alpha(alpha), _horizon(T)
    Ls = _Ls(L)
    init = check_choice("init", init, INITS)
    metric = check_choice("metric", metric, ("average", "min"))
    lower_level = check_choice("lower_level", lower_level, ("smooth", "visited", "probes"))
    L_f = sum(Ls) / len(Ls) if L_f is None else check_real("L_f", L_f, low=0.0, low_open=True)
    gamma = ef21_theory_gamma(a, Ls, L_f) if gamma is None else check_real("gamma", gamma, low=0.0, low_open=True)
    wF, wG = ef21_bound_units(a, gamma) if weights is None else weights
    n = len(Ls)

    problem = PEPit.PEP()
    fs = [problem.declare_function(SmoothFunction, L=Li) for Li in Ls]
    f_star = Expression()
    x = problem.set_initial_point()

    def oracle(point):
        grads, vals = zip(*(fi.oracle(point) for fi in fs))
        return list(grads), sum(grads[1:], grads[0]) / n, sum(vals[1:], vals[0]) / n

    def lower(grad, fval, point):
        problem.add_constraint(f_star <= (fval - grad ** 2 / (2 * L_f) if lower_level != "visited" else fval))
        if lower_level == "probes":          # the point the descent lemma reaches, with its own constraints
            _, g_y, f_y = oracle(point - grad / L_f)
            problem.add_constraint(f_star <= f_y - g_y ** 2 / (2 * L_f))

    grads_i, grad, fval = oracle(x)
    lower(grad, fval, x)
    f0 = fval
    if init == "gradient":
        g_i = list(grads_i)
    elif init == "zero":
        g_i = [_contraction(problem, Point, gi, a) for gi in grads_i]
    else:
        g_i = []
        for gi in grads_i:
            c_a = _contraction(problem, Point, gi, a)
            g_i.append(c_a + _contraction(problem, Point, gi - c_a, a))
    G0 = sum(((gm - gi) ** 2 for gm, gi in zip(g_i, grads_i)), 0 * f0) / n if init != "gradient" else None
    numerator = wF * (f0 - f_star) + (wG * G0 if G0 is not None else 0)
    problem.set_initial_condition(numerator <= 1)

    sq = [grad ** 2]
    budget = []                       # (||c - o||^2, ||o||^2) of every message after the first step
    for t in range(T):
        g = sum(g_i[1:], g_i[0]) / n
        x = x - gamma * g
        grads_i, grad, fval = oracle(x)
        lower(grad, fval, x)
        if t < T - 1:
            sq.append(grad ** 2)
            new_g = []
            for gm, gi in zip(g_i, grads_i):
                o = gi - gm
                c = _contraction(problem, Point, o, a)
                budget.append(((c - o) ** 2, o ** 2))
                new_g.append(gm + c)
            g_i = new_g
    if metric == "average":
        problem.set_performance_metric(sum(sq[1:], sq[0]) / T)
    else:
        for s in sq:
            problem.set_performance_metric(s)
    params = {"alpha": a, "T": T, "L": list(Ls), "L_f": L_f, "gamma": gamma, "init": init, "metric": metric,
              "weights": [wF, wG], "lower_level": lower_level}
    res = _solve(problem, "ef21", params, t0)
    if res.ok:
        res.extra.update(_worst_case_shape(sq, budget, a))
    res.extra["bound"] = 1.0 / T if weights is None else None
    res.extra["bound_over_pep"] = 1.0 / (T * res.value) if weights is None and res.value > 0 else None
    return res


def gd_nonconvex_worst_case(L: float = 1.0, gamma: float = 1.0, n: int = 5) -> PEPResult:
    r"""PEPit's reference program: gradient descent :math:`x_{t+1}=x_t-\gamma\nabla f(x_t)` on an
    L-smooth (nonconvex) f, worst case of :math:`\min_{t\le n}\|\nabla f(x_t)\|^2` subject to
    :math:`f(x_0)-f(x_n)\le1`. Known value :math:`\frac43\frac Ln` for :math:`\gamma=1/L`
    (4/15 at L = 1, n = 5); a check of the solver chain, not of a paper."""
    PEPit, SmoothFunction, _ = require_pepit()
    t0 = time.perf_counter()
    L = check_real("L", L, low=0.0, low_open=True)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)
    n = check_int("n", n, low=1)
    problem = PEPit.PEP()
    f = problem.declare_function(SmoothFunction, L=L)
    x = problem.set_initial_point()
    g, fx = f.oracle(x)
    f0 = fx
    problem.set_performance_metric(g ** 2)
    for _ in range(n):
        x = x - gamma * g
        g, fx = f.oracle(x)
        problem.set_performance_metric(g ** 2)
    problem.set_initial_condition(f0 - fx <= 1)
    return _solve(problem, "gd-nonconvex", {"L": L, "gamma": gamma, "n": n}, t0,
                  {"known": 4.0 * L / (3.0 * n) if abs(gamma * L - 1) < 1e-12 else None})


# ----------------------------------------------------------------------------- Lyapunov certificate


def ef21_lyapunov_rate(alpha: float, weight: float, *, L: float = 1.0, gamma=None) -> PEPResult:
    r"""One-step certificate of EF21 (n = 1) for every horizon at once.

    For the quadratic Lyapunov family :math:`\Phi_t=f(x^t)-f_*+w\|g^t-\nabla f(x^t)\|^2`
    (the theorem's member is :math:`w=\gamma/(2\theta)`), the program maximises
    :math:`\Phi_{t+1}-\Phi_t` subject to :math:`\|\nabla f(x^t)\|^2=1` over an L-smooth f, an
    arbitrary memory :math:`g^t` and a deterministic :math:`\alpha`-contractive message
    (:math:`g^{t+1}=g^t+c`, :math:`\|c-o\|^2\le(1-\alpha)\|o\|^2`,
    :math:`o=\nabla f(x^{t+1})-g^t`). A value :math:`-\rho<0` proves
    :math:`\Phi_{t+1}\le\Phi_t-\rho\|\nabla f(x^t)\|^2` (by homogeneity), hence
    :math:`\frac1T\sum_{t<T}\|\nabla f(x^t)\|^2\le\Phi_0/(\rho T)` for every T; the theorem has
    :math:`\rho=\gamma/2`. ``extra["rho"]`` holds :math:`\rho` (``nan`` if the step is not a descent).
    Function class: L-smooth f (interpolation at :math:`x^t, x^{t+1}`); compressor: deterministic
    :math:`\alpha`-contraction (randomized compressors not covered); :math:`f_*` cancels in
    :math:`\Phi_{t+1}-\Phi_t`, so the program needs no lower-level constraint (the sum over t
    uses only :math:`\Phi_T\ge0`, i.e. :math:`f(x^T)\ge f_*`).
    """
    PEPit, SmoothFunction, _ = require_pepit()
    from PEPit import Point

    t0 = time.perf_counter()
    a = _alpha(alpha)
    L = check_real("L", L, low=0.0, low_open=True)
    w = check_real("weight", weight, low=0.0)
    gamma = ef21_theory_gamma(a, L) if gamma is None else check_real("gamma", gamma, low=0.0, low_open=True)
    problem = PEPit.PEP()
    f = problem.declare_function(SmoothFunction, L=L)
    x = problem.set_initial_point()
    g = Point()
    grad, fx = f.oracle(x)
    x1 = x - gamma * g
    grad1, fx1 = f.oracle(x1)
    g1 = g + _contraction(problem, Point, grad1 - g, a)
    problem.set_initial_condition(grad ** 2 == 1)
    problem.set_performance_metric((fx1 + w * (g1 - grad1) ** 2) - (fx + w * (g - grad) ** 2))
    res = _solve(problem, "ef21-lyapunov", {"alpha": a, "weight": w, "L": L, "gamma": gamma}, t0)
    res.extra["rho"] = -res.value if res.value < 0 else float("nan")
    return res


def ef21_lyapunov_best(alpha: float, *, L: float = 1.0, gamma=None, G0_over_F0: float = 0.0) -> dict:
    r"""The theorem's Lyapunov certificate against the best member of its quadratic family.

    For the theorem's stepsize, the all-T constant of a weight w is :math:`(1+wG^0/F^0)/\rho(w)`
    (:func:`ef21_lyapunov_rate`); the theorem states :math:`(2/\gamma)(1+\gamma G^0/(2\theta F^0))`.
    Returned: ``ratio_theorem_weight`` = stated constant / the PEP's constant at the theorem's
    weight (the slack of the theorem's one-step inequality) and ``ratio_best`` = stated constant /
    the best constant over w (a log grid of 13 weights around the theorem's, refined by a bounded
    scalar search). Both are >= 1 when the theorem's one-step inequality is valid; the floor
    bound/PEP_T >= ratio_best holds for every horizon T.
    """
    from scipy.optimize import minimize_scalar

    from eftheory.derivations.ef21 import theta

    t0 = time.perf_counter()
    a = _alpha(alpha)
    gamma = ef21_theory_gamma(a, L) if gamma is None else gamma
    r = check_real("G0_over_F0", G0_over_F0, low=0.0)
    w_thm = gamma / (2 * theta(a))
    thm_const = (1 + w_thm * r) * 2 / gamma

    @functools.lru_cache(maxsize=None)
    def const(logw):
        rho = ef21_lyapunov_rate(a, math.exp(logw), L=L, gamma=gamma).extra["rho"]
        return (1 + math.exp(logw) * r) / rho if rho == rho and rho > 0 else math.inf

    base = math.log(w_thm)
    grid = [base + u for u in (-1.0, -0.5, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5)]
    vals = [const(z) for z in grid]
    i = min(range(len(grid)), key=vals.__getitem__)
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    opt = minimize_scalar(lambda z: min(const(z), 1e12), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-3})
    best_logw, best = (opt.x, float(opt.fun)) if opt.fun < vals[i] else (grid[i], vals[i])
    at_thm = const(base)
    return {"alpha": a, "gamma": gamma, "weight_theorem": w_thm, "weight_best": math.exp(best_logw),
            "constant_theorem": thm_const, "constant_at_theorem_weight": at_thm, "constant_best": best,
            "ratio_theorem_weight": thm_const / at_thm, "ratio_best": thm_const / best,
            "rho_theorem_stated": gamma / 2, "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- EF14 and SAEF


def ef14_worst_case(alpha: float, T: int, *, gamma: float, L: float = 1.0, metric: str = "average") -> PEPResult:
    r"""Worst case of classical error feedback (EF14; Seide et al. 2014, 002's EF with n = 1, mu = 0,
    single-way, exact gradients) over the L-smooth class.

    Method: :math:`v^t=e^t+\gamma\nabla f(x^t)`, :math:`c^t` a fresh point with
    :math:`\|c^t-v^t\|^2\le(1-\alpha)\|v^t\|^2`, :math:`x^{t+1}=x^t-c^t`, :math:`e^{t+1}=v^t-c^t`,
    :math:`e^0=0`. Function class, compressor model and :math:`f_*` as in :func:`ef21_worst_case`;
    normalisation :math:`f(x^0)-f_*\le1`; metric as there (over t < T).

    No theorem of the five papers bounds this quantity for exact gradients without a
    bounded-gradient assumption (002's EF-SGD terms need :math:`M^2` and the noise
    :math:`\sigma^2`), so the program is a comparison, not a certificate: at EF21's stepsize
    EF14's worst case exceeds EF21's (an EF14 bound must come from its own theorem).
    """
    PEPit, SmoothFunction, _ = require_pepit()
    from PEPit import Expression, Point

    t0 = time.perf_counter()
    a, T = _alpha(alpha), _horizon(T)
    L = check_real("L", L, low=0.0, low_open=True)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)
    metric = check_choice("metric", metric, ("average", "min"))
    problem = PEPit.PEP()
    f = problem.declare_function(SmoothFunction, L=L)
    f_star = Expression()
    x = problem.set_initial_point()
    e = None
    sq = []
    f0 = None
    for t in range(T + 1):
        grad, fx = f.oracle(x)
        problem.add_constraint(f_star <= fx - grad ** 2 / (2 * L))
        if f0 is None:
            f0 = fx
        if t == T:
            break
        sq.append(grad ** 2)
        v = gamma * grad if e is None else e + gamma * grad
        c = _contraction(problem, Point, v, a)
        x, e = x - c, v - c
    problem.set_initial_condition(f0 - f_star <= 1)
    if metric == "average":
        problem.set_performance_metric(sum(sq[1:], sq[0]) / T)
    else:
        for s in sq:
            problem.set_performance_metric(s)
    return _solve(problem, "ef14", {"alpha": a, "T": T, "L": L, "gamma": gamma, "metric": metric}, t0)


def saef_worst_case(delta: float, T: int, *, eta: float, M2: float, L: float = 1.0,
                    double_way: bool = True, probes: bool = False) -> PEPResult:
    r"""Worst case of step-ahead error feedback (002, Algorithm 1 with n = 1, mu = 0, p = inf,
    exact gradients) over the L-smooth class with :math:`\|\nabla f\|^2\le M^2` at every iterate
    and evaluation point (002's A3 as the ledger checks it).

    Method: :math:`x_{t+1/2}=x_t-e^{(1)}_t`, :math:`\Delta^{(1)}=e^{(1)}_t+\eta\nabla f(x_{t+1/2})`,
    :math:`c^{(1)}` fresh with :math:`\|c^{(1)}-\Delta^{(1)}\|^2\le(1-\delta)\|\Delta^{(1)}\|^2`,
    :math:`e^{(1)}_{t+1}=\Delta^{(1)}-c^{(1)}`; double-way: :math:`\Delta=e_t+c^{(1)}`, c fresh
    :math:`\delta`-contraction of :math:`\Delta`, :math:`e_{t+1}=\Delta-c`, :math:`x_{t+1}=x_t-c`
    (single-way: :math:`x_{t+1}=x_t-c^{(1)}`). The update is Gram-linear (the step ahead
    :math:`x_t-e_t` is a linear combination of the program's vectors), so the PEP is one SDP.
    Normalisation :math:`f(x_0)-f_*\le1`, :math:`f_*` as in :func:`ef21_worst_case`; metric
    :math:`\min_{t<T}\|\nabla f(x_t)\|^2` (Theorem 2's quantity with :math:`\sigma=0`).
    Randomized compressors and stochastic gradients (the ledger's S002 setting) are not covered.
    ``probes`` adds the points :math:`x-\nabla f(x)/L` of every visited point with their own
    constraints (a tighter relaxation of :math:`f_*`).
    """
    PEPit, SmoothFunction, _ = require_pepit()
    from PEPit import Expression, Point

    t0 = time.perf_counter()
    dl, T = check_unit_interval("delta", delta), _horizon(T)
    L = check_real("L", L, low=0.0, low_open=True)
    eta = check_real("eta", eta, low=0.0, low_open=True)
    M2 = check_real("M2", M2, low=0.0, low_open=True)
    double_way, probes = check_flag("double_way", double_way), check_flag("probes", probes)
    problem = PEPit.PEP()
    f = problem.declare_function(SmoothFunction, L=L)
    f_star = Expression()
    x = problem.set_initial_point()
    e1 = e = None
    f0 = None
    def lower(g, fv, point):
        problem.add_constraint(f_star <= fv - g ** 2 / (2 * L))
        if probes:
            g_y, f_y = f.oracle(point - g / L)
            problem.add_constraint(f_star <= f_y - g_y ** 2 / (2 * L))

    for t in range(T):
        grad, fx = f.oracle(x)
        if f0 is None:
            f0 = fx
        lower(grad, fx, x)
        problem.add_constraint(grad ** 2 <= M2)
        problem.set_performance_metric(grad ** 2)
        x_half = x if e1 is None else x - e1
        gh, fh = f.oracle(x_half)
        lower(gh, fh, x_half)
        problem.add_constraint(gh ** 2 <= M2)
        d1 = eta * gh if e1 is None else e1 + eta * gh
        c1 = _contraction(problem, Point, d1, dl)
        e1 = d1 - c1
        if double_way:
            dd = c1 if e is None else e + c1
            c = _contraction(problem, Point, dd, dl)
            e = dd - c
        else:
            c = c1
        x = x - c
    problem.set_initial_condition(f0 - f_star <= 1)
    return _solve(problem, "saef", {"delta": dl, "T": T, "eta": eta, "M2": M2, "L": L,
                                    "double_way": double_way, "probes": probes}, t0)


# ----------------------------------------------------------------------------- normalized EF21


def norm_lsmooth_gamma(alpha: float, K: int, L: float = 1.0, F0: float = 1.0) -> float:
    """S004-C2's stepsize gamma0/sqrt(K+1), gamma0 = sqrt(F0/(2b)), b = L/2 + 2 s L/(1-s)."""
    from eftheory.derivations import normalized as nz

    return math.sqrt(F0 / (2 * nz.lsmooth_b(L, _alpha(alpha)))) / math.sqrt(_horizon(K, "K") + 1)


def _norm_profile_value(alpha, K, gamma, L, radii) -> PEPResult:
    """One SDP: normalized EF21 with the memory norms ||g^k|| = radii[k] fixed (Gram-linear)."""
    PEPit, SmoothFunction, _ = require_pepit()
    from PEPit import Expression, Point

    t0 = time.perf_counter()
    problem = PEPit.PEP()
    f = problem.declare_function(SmoothFunction, L=L)
    f_star = Expression()
    x = problem.set_initial_point()
    grad, fx = f.oracle(x)
    problem.add_constraint(f_star <= fx - grad ** 2 / (2 * L))
    problem.set_initial_condition(fx - f_star <= 1)
    problem.set_performance_metric(grad ** 2)
    g = grad                                     # init "gradient": g^0 = grad f(x^0)
    for k in range(K):
        problem.add_constraint(g ** 2 == radii[k] ** 2)
        x = x - (gamma / radii[k]) * g
        grad, fx = f.oracle(x)
        problem.add_constraint(f_star <= fx - grad ** 2 / (2 * L))
        problem.set_performance_metric(grad ** 2)
        if k < K - 1:
            g = g + _contraction(problem, Point, grad - g, alpha)
    return _solve(problem, "ef21-norm-profile", {"radii": list(radii)}, t0)


def ef21_norm_profile_search(alpha: float, K: int, *, L: float = 1.0, grid: int = 9,
                             refine: bool = True) -> PEPResult:
    r"""A lower estimate of normalized EF21's worst case (S004-C2's setting, n = 1) by search over
    norm profiles.

    Method: :math:`g^0=\nabla f(x^0)`, :math:`x^{k+1}=x^k-\gamma g^k/\|g^k\|`,
    :math:`g^{k+1}=g^k+c^k` (deterministic :math:`\alpha`-contraction of
    :math:`\nabla f(x^{k+1})-g^k`), :math:`\gamma=\gamma_0/\sqrt{K+1}`,
    :math:`\gamma_0=\sqrt{F^0/(2b)}`; quantity :math:`\min_{k\le K}\|\nabla f(x^k)\|` with
    :math:`F^0=f(x^0)-f_*\le1`, L-smooth f, :math:`f_*` as in :func:`ef21_worst_case`.

    The step :math:`\gamma/\|g^k\|` is not linear in the Gram matrix, so this is not one SDP. With
    the norms :math:`r_k=\|g^k\|` fixed (an equality constraint each) the program is an SDP; the
    search maximises its value over the profile :math:`(r_0..r_{K-1})` (a log grid of ``grid``
    values per norm, then a Nelder-Mead refinement). The maximum over a finite search is a
    **lower estimate** of the relaxed worst case, so here ``bound / PEP`` over-estimates the
    theorem's looseness (unlike the EF21 program). Practical for K <= 3. ``value`` is the worst
    :math:`\min_k\|\nabla f(x^k)\|` (square root of the SDP's squared-norm value).
    """
    import numpy as np

    t0 = time.perf_counter()
    a, K = _alpha(alpha), _horizon(K, "K")
    L = check_real("L", L, low=0.0, low_open=True)
    grid = check_int("grid", grid, low=2)
    gamma = norm_lsmooth_gamma(a, K, L)
    levels = np.geomspace(0.05, 2.0 * math.sqrt(2 * L), grid)
    best, solves = None, 0
    cache = {}

    def value(radii):
        nonlocal best, solves
        key = tuple(round(float(r), 10) for r in radii)
        if key not in cache:
            res = _norm_profile_value(a, K, gamma, L, key)
            solves += 1
            v = res.value if res.ok else -1.0
            cache[key] = v
            if res.ok and (best is None or v > best.value):
                best = res
        return cache[key]

    for radii in itertools.product(levels, repeat=K):
        value(radii)
    if refine and best is not None:
        from scipy.optimize import minimize

        start = np.log(best.params["radii"])
        minimize(lambda z: -value(np.exp(z)), start, method="Nelder-Mead",
                 options={"xatol": 1e-3, "fatol": 1e-6, "maxfev": 60 * K})
    if best is None:
        raise RuntimeError(f"no norm profile gave a solved program (alpha={a}, K={K})")
    from eftheory.derivations import normalized as nz

    wc = math.sqrt(max(best.value, 0.0))
    bound = nz.lsmooth_bound(L, a, 1.0, K)
    return PEPResult(program="ef21-norm-profile-search", value=wc, primal=math.sqrt(max(best.primal, 0.0)),
                     gap=abs(wc - math.sqrt(max(best.primal, 0.0))), status=best.status, solver=best.solver,
                     seconds=time.perf_counter() - t0,
                     params={"alpha": a, "K": K, "L": L, "gamma": gamma, "F0": 1.0, "grid": grid},
                     extra={"radii": best.params["radii"], "solves": solves, "bound": bound,
                            "bound_over_pep": bound / wc if wc > 0 else None, "lower_estimate": True})


# ----------------------------------------------------------------------------- tables and cache


@functools.lru_cache(maxsize=None)
def cached_ef21(alpha: float, T: int, init: str = "gradient") -> float:
    """EF21's normalised worst case (n = 1, L = 1, theory stepsize, average metric): the saved
    table's value when present, else solved (and memoised for the process)."""
    alpha, T, init = _alpha(alpha), _horizon(T), check_choice("init", init, INITS)
    tab = load_tables().get("ef21", {})
    key = f"{alpha:.6g}|{T}|{init}"
    if key in tab:
        return float(tab[key]["value"])
    return ef21_worst_case(alpha, T, init=init).value


@functools.lru_cache(maxsize=None)
def cached_norm(alpha: float, K: int) -> float:
    """Normalized EF21's searched worst case of min_k ||grad f(x^k)|| (n = 1, L = 1, F0 = 1)."""
    alpha, K = _alpha(alpha), _horizon(K, "K")
    tab = load_tables().get("norm", {})
    key = f"{alpha:.6g}|{K}"
    if key in tab:
        return float(tab[key]["value"])
    return ef21_norm_profile_search(alpha, K).value


@functools.lru_cache(maxsize=1)
def load_tables() -> dict:
    """The saved tables (empty when the file is absent)."""
    try:
        return json.loads(TABLE_PATH.read_text())
    except (OSError, ValueError):
        return {}


EF21_GRID = {"alphas": (0.1, 0.25, 0.5, 1.0), "Ts": (1, 2, 3, 5, 10, 15, 20), "inits": ("gradient", "zero")}
NORM_GRID = {"alphas": (0.1, 0.2, 0.5), "Ks": (1, 2)}
LYAP_ALPHAS = (0.1, 0.25, 0.5, 0.75)


def _instance_curves() -> dict:
    """bound/measured against T on the ledger's testbeds (EF21-T1's polynomial run of seed 0, S004-C2's
    problem Q runs), the same starting points as the claims (cheap runs)."""
    import numpy as np

    import algorithms
    from eftheory.compressors import TopK
    from eftheory.derivations import normalized as nz
    from eftheory.derivations.ef21 import theory_stepsize
    from eftheory.problems.polynomial import Polynomial
    from eftheory.problems.quadratic import problem_q

    out = {}
    prob = Polynomial(d=4, L0=4.0, L1=4.0)
    C = TopK(1)
    a = C.alpha(prob.dim)
    gamma = theory_stepsize(prob.L, prob.L_tilde, a)
    from checks.verdicts import seeded      # the ledger's starting points (EF21-T1, S004-C2)

    x0 = 20.0 + seeded("EF21-T1p", 0).standard_normal(4)
    K = 200
    r = algorithms.run("ef21", prob, C, x0, K, stepsize=gamma, record_clients=True)
    gn = np.asarray(r.grad_norm) ** 2
    avg = np.cumsum(gn[:-1]) / np.arange(1, K + 1)
    G0 = float(np.sum((np.asarray(r.diagnostics["g_i"])[0, 0] - prob.grad_i(0, x0)) ** 2))
    F0 = float(prob.f(x0) - prob.f_inf_lower)
    wF, wG = ef21_bound_units(a, gamma)
    N = wF * F0 + wG * G0
    Ts = sorted(set(EF21_GRID["Ts"]) | {30, 50, 100, 200})
    out["ef21_polynomial"] = {"alpha": a, "gamma": gamma, "F0": F0, "G0": G0, "init": "zero",
                              "T": Ts, "bound_over_measured": [float(N / t / avg[t - 1]) for t in Ts]}
    q = problem_q(seed=0)
    rows = {}
    for k in (1, 2, 5):
        Ck = TopK(k)
        ak = Ck.alpha(q.dim)
        xq = np.asarray(q.x_star) + 3.0 * seeded("S004-C2", k).standard_normal(q.dim) / math.sqrt(q.dim)
        Fq = float(q.f(xq) - q.f_inf_lower)
        vals = []
        for KK in (1, 2, 3, 5, 10, 30, 100):
            g0 = math.sqrt(Fq / (2 * nz.lsmooth_b(float(q.L0), ak)))
            rr = algorithms.run("ef21-norm", q, Ck, xq, KK + 1, stepsize=g0 / math.sqrt(KK + 1))
            m1 = float(np.min(np.asarray(rr.grad_norm)[: KK + 1]))
            vals.append([KK, float(nz.lsmooth_bound(float(q.L0), ak, Fq, KK) / m1)])
        rows[f"{ak:.6g}"] = vals
    out["norm_q"] = {"n_clients": q.n_clients, "curves": rows}
    return out


def compute_tables(quick: bool = False) -> dict:
    """Solve every saved program (about a minute; ``quick``: a reduced grid for tests)."""
    require_pepit()
    grid = dict(EF21_GRID)
    ngrid = dict(NORM_GRID)
    if quick:
        grid = {"alphas": (0.25,), "Ts": (1, 5), "inits": ("gradient",)}
        ngrid = {"alphas": (0.5,), "Ks": (1,)}
    ef21 = {}
    for a, T, init in itertools.product(grid["alphas"], grid["Ts"], grid["inits"]):
        r = ef21_worst_case(a, T, init=init)
        ef21[f"{a:.6g}|{T}|{init}"] = {"alpha": a, "T": T, "init": init, "value": r.value,
                                       "bound": 1.0 / T, "bound_over_pep": 1.0 / (T * r.value),
                                       "status": r.status, "gap": r.gap, "seconds": r.seconds,
                                       "gamma": r.params["gamma"]}
    norm = {}
    for a, K in itertools.product(ngrid["alphas"], ngrid["Ks"]):
        r = ef21_norm_profile_search(a, K)
        norm[f"{a:.6g}|{K}"] = {"alpha": a, "K": K, "value": r.value, "bound": r.extra["bound"],
                                "bound_over_pep": r.extra["bound_over_pep"], "status": r.status,
                                "seconds": r.seconds, "solves": r.extra["solves"], "radii": r.extra["radii"]}
    out = {"ef21": ef21, "norm": norm,
           "model": "n = 1, L = 1, EF21 theory stepsize; normalised so that the theorem's bound is 1/T "
                    "(EF21) or F0 = 1 (normalized EF21, lower estimate by norm-profile search)"}
    if not quick:
        out["lyapunov"] = {f"{a:.6g}": ef21_lyapunov_best(a) for a in LYAP_ALPHAS}
        out.update(_comparison_tables())
        out["instances"] = _instance_curves()
    return out


EF14_GRID = {"alphas": (0.25, 0.5), "Ts": (5, 10)}
#: (delta, eta, M^2, T, double_way)
SAEF_GRID = ((0.5, 0.2, 2.0, 5, True), (0.5, 0.1, 2.0, 10, True), (0.5, 0.1, 2.0, 10, False),
             (0.5, 0.3, 2.0, 10, True), (0.25, 0.2, 2.0, 10, True), (0.5, 0.1, 10.0, 10, True),
             (0.9, 0.1, 2.0, 10, True))


def _comparison_tables() -> dict:
    """EF14 against EF21 at EF21's stepsize, and deterministic SAEF against Theorem 2 (sigma = 0, n = 1)."""
    from eftheory.derivations import saef as dz

    ef14 = {}
    for a, T in itertools.product(EF14_GRID["alphas"], EF14_GRID["Ts"]):
        g = ef21_theory_gamma(a)
        r14 = ef14_worst_case(a, T, gamma=g)
        r21 = ef21_worst_case(a, T, weights=(1.0, 0.0))
        ef14[f"{a:.6g}|{T}"] = {"alpha": a, "T": T, "gamma": g, "ef14": r14.value, "ef21": r21.value,
                                "ef21_bound": 2.0 / (g * T), "status": r14.status, "seconds": r14.seconds}
    saef = {}
    for d, eta, M2, T, dw in SAEF_GRID:
        r = saef_worst_case(d, T, eta=eta, M2=M2, double_way=dw)
        saef[f"{d:.6g}|{eta:.6g}|{M2:.6g}|{T}|{'double' if dw else 'single'}"] = {
            "delta": d, "eta": eta, "M2": M2, "T": T, "double_way": dw, "value": r.value, "status": r.status,
            "solver": r.solver,
            "bound": dz.theorem2_bound(1.0, eta, 1.0, T, 1, d, M2, 0.0), "seconds": r.seconds}
    return {"ef14": ef14, "saef": saef}


def _plots(out_dir: Path, tables: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from checks import style      # the project's figure style (Type 42 fonts, 300 dpi, colour cycle)

    style.apply()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    # EF21-T1
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ef = tables["ef21"]
    for a in EF21_GRID["alphas"]:
        pts = sorted((v["T"], v["bound_over_pep"]) for v in ef.values() if v["alpha"] == a and v["init"] == "gradient")
        if pts:
            ax.plot(*zip(*pts), marker="o", label=f"bound/PEP, alpha={a:g} (g^0 = grad f)")
    pts = sorted((v["T"], v["bound_over_pep"]) for v in ef.values() if v["alpha"] == 0.25 and v["init"] == "zero")
    if pts:
        ax.plot(*zip(*pts), marker="s", ls="--", label="bound/PEP, alpha=0.25 (g^0 = C(grad f))")
    inst = tables.get("instances", {}).get("ef21_polynomial")
    if inst:
        ax.plot(inst["T"], inst["bound_over_measured"], color="k", marker="x",
                label=f"bound/measured, polynomial d=4, Top-1 (alpha={inst['alpha']:g})")
    paths.append(_finish(plt, fig, ax, "T", "EF21-T1: theorem vs class worst case vs instance", out_dir / "pep_EF21-T1.png"))
    # S004-C2
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for a in NORM_GRID["alphas"]:
        pts = sorted((v["K"], v["bound_over_pep"]) for v in tables["norm"].values() if v["alpha"] == a)
        if pts:
            ax.plot(*zip(*pts), marker="o", label=f"bound/PEP (lower estimate), alpha={a:g}, n=1")
    for ak, vals in tables.get("instances", {}).get("norm_q", {}).get("curves", {}).items():
        ax.plot(*zip(*vals), marker="x", ls=":", label=f"bound/measured, problem Q (n=4), alpha={float(ak):g}")
    paths.append(_finish(plt, fig, ax, "K", "S004-C2: normalized EF21, L-smooth bound", out_dir / "pep_S004-C2.png"))
    return paths


def _finish(plt, fig, ax, xlabel: str, title: str, path: Path) -> Path:
    """Log-log axes, labels, legend; save to ``path`` and close."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("ratio")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _markdown(tables: dict) -> str:
    lines = ["| alpha | T | init | PEP (worst case) | bound | bound/PEP | solve s |", "|---|---|---|---|---|---|---|"]
    for v in sorted(tables["ef21"].values(), key=lambda v: (v["init"], v["alpha"], v["T"])):
        lines.append(f"| {v['alpha']:g} | {v['T']} | {v['init']} | {v['value']:.5g} | {v['bound']:.5g} | "
                     f"{v['bound_over_pep']:.3f} | {v['seconds']:.2f} |")
    lines += ["", "| alpha | K | worst min_k norm (lower est.) | bound | bound/PEP | SDPs | s |",
              "|---|---|---|---|---|---|---|"]
    for v in sorted(tables["norm"].values(), key=lambda v: (v["alpha"], v["K"])):
        lines.append(f"| {v['alpha']:g} | {v['K']} | {v['value']:.5g} | {v['bound']:.5g} | "
                     f"{v['bound_over_pep']:.3f} | {v['solves']} | {v['seconds']:.1f} |")
    if "lyapunov" in tables:
        lines += ["", "| alpha | stated all-T constant 2/gamma | PEP at the theorem's weight | best weight | "
                      "ratio (theorem's weight) | ratio (best weight) |", "|---|---|---|---|---|---|"]
        for v in tables["lyapunov"].values():
            lines.append(f"| {v['alpha']:g} | {v['constant_theorem']:.5g} | {v['constant_at_theorem_weight']:.5g} | "
                         f"{v['constant_best']:.5g} | {v['ratio_theorem_weight']:.3f} | {v['ratio_best']:.3f} |")
    if "ef14" in tables:
        lines += ["", "| alpha | T | EF14 worst case (F0 = 1) | EF21 worst case | EF21 bound 2/(gamma T) | s |",
                  "|---|---|---|---|---|---|"]
        for v in sorted(tables["ef14"].values(), key=lambda v: (v["alpha"], v["T"])):
            lines.append(f"| {v['alpha']:g} | {v['T']} | {v['ef14']:.5g} | {v['ef21']:.5g} | {v['ef21_bound']:.5g} | "
                         f"{v['seconds']:.1f} |")
    if "saef" in tables:
        lines += ["", "| delta | eta | M^2 | T | compression | SAEF worst case (F0 = 1) | Theorem 2 bound "
                      "(sigma = 0, n = 1) | bound/PEP | s |", "|---|---|---|---|---|---|---|---|---|"]
        for v in sorted(tables["saef"].values(), key=lambda v: (v["delta"], v["eta"], v["M2"], v["T"], v["double_way"])):
            lines.append(f"| {v['delta']:g} | {v['eta']:g} | {v['M2']:g} | {v['T']} | "
                         f"{'two-way' if v['double_way'] else 'one-way'} | {v['value']:.5g} | "
                         f"{v['bound']:.5g} | {v['bound'] / v['value']:.3f} | {v['seconds']:.1f} |")
    inst = tables.get("instances", {}).get("ef21_polynomial")
    if inst:
        ef = tables["ef21"]
        lines += ["", f"EF21 on the polynomial testbed (d = 4, Top-1, alpha = {inst['alpha']:g}, g^0 = C(grad f(x^0))):",
                  "", "| T | bound/measured | bound/PEP (theorem) | PEP/measured (instance) |", "|---|---|---|---|"]
        for T, bm in zip(inst["T"], inst["bound_over_measured"]):
            row = ef.get(f"{inst['alpha']:.6g}|{T}|zero")
            if row:
                lines.append(f"| {T} | {bm:.3f} | {row['bound_over_pep']:.3f} | {bm / row['bound_over_pep']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eftheory.pep", description=__doc__.split("\n")[0])
    ap.add_argument("--table", nargs="?", const=str(TABLE_PATH), metavar="PATH",
                    help="solve the saved programs and write the tables (default: the package's file)")
    ap.add_argument("--plots", metavar="DIR", help="draw the docs figures and table from the saved tables")
    args = ap.parse_args(argv)
    if not args.table and not args.plots:
        ap.print_help()
        return 2
    try:
        if args.table:
            tables = compute_tables()
            Path(args.table).write_text(json.dumps(tables, indent=1, sort_keys=True) + "\n")
            load_tables.cache_clear()
            print(f"wrote {args.table}")
        if args.plots:
            tables = load_tables() if not args.table else json.loads(Path(args.table).read_text())
            if not tables:
                raise RuntimeError(f"no saved tables at {TABLE_PATH}; run --table first")
            for p in _plots(Path(args.plots), tables):
                print(f"wrote {p}")
            md = Path(args.plots) / "pep_tables.txt"      # included by docs/pep.md (not a page of its own)
            md.write_text(_markdown(tables))
            print(f"wrote {md}")
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
