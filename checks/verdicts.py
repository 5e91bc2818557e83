r"""The shared verdict helpers of the claims ledger: rules, figures, controls and seeds.

The claims live in one module per paper (``checks/paper_000.py`` ... ``checks/paper_004.py``, and
``checks/paper_cross.py`` for the claims several papers share); this module holds what their checks
have in common, so no claim module is the helper library of another.

* Kind P (pointwise and pathwise inequalities). Every check calls the one implementation of its
  inequality in :mod:`eftheory.compressors`, :mod:`eftheory.assumptions` or :mod:`eftheory.lyapunov`
  (no second copy in the checks) and reports the smallest slack ``rhs - lhs`` (or the largest ratio
  ``lhs / rhs``) it found (:func:`ineq_figures`). Verdict rule (:data:`RULE_P`): PASS iff no
  inequality is violated beyond a floating-point tolerance (:data:`TOL` relative to the scale of
  the two sides); FAIL otherwise, with the figures.
* Kind I (identities and invariants). PASS iff the largest residual, relative to the scale of the
  quantities involved, is at most :data:`RTOL` = ``1e-10`` (:data:`RULE_I`); the measured figure is
  that maximal residual.
* Kind B (explicit bounds evaluated with the problem's constants, never to be violated). Each bound
  is the numeric function of :mod:`eftheory.derivations` (sympy-derived); the check runs the
  algorithm, measures exactly the quantity the theorem bounds, and evaluates the bound at every
  horizon of a grid. Verdict rule (:data:`RULE_B`): PASS iff measured <= bound at every horizon
  (relative tolerance 1e-9); the measured figure is the slack ratio bound / measured (its minimum over
  the grid, :func:`_slack`: >= 1 means never violated; large values mean a loose bound).
* Kind S (rates; see :mod:`eftheory.rates`): measured exponents with bootstrap CIs. Anytime claims
  (S000-T1..T5) use the window quantity T_K, slope <= -r + :data:`TOL_WINDOW` on the grid and its
  upper half; fixed-horizon claims (S004-T1, S001-T2, S002-C2/C3, S003-*) a separate run per horizon,
  slope <= -r + :data:`TOL_FIXED` over a grid that starts after the transient, also on its upper
  half (:func:`_tight_rule`, :func:`_rule_measured`, :func:`_control`, the plots :func:`_plot` and
  :func:`_fixed_plot`).

Every claim runs negative controls judged by its own rule (:func:`control`); a control is
*rejected* when that rule says FAIL, and :func:`finish` builds the claim's outcome (the verdict
semantics, a PASS only with every control rejected, is :func:`checks.runner.settle`).
:func:`seeded` fixes a generator by the claim id and a label, so ledger runs are reproducible.
"""

from __future__ import annotations

import time

import numpy as np

from eftheory import rates

from .claim import FAIL, PASS, ControlOutcome, Outcome
from .commands import save_plot_data
from .plots import band, loglog_plot

__all__ = ["TOL", "seeded", "ineq_figures", "control", "finish", "step_length_figures", "message_figures", "RULE_P",
           "RTOL", "RULE_I", "RULE_B", "PEP_NOT_EXPRESSIBLE", "TOL_WINDOW", "TOL_FIXED"]


#: relative floating-point tolerance of every exact/pathwise inequality
TOL = 1e-9


# ============================================================================ shared helpers

def seeded(*key) -> np.random.Generator:
    """A generator fixed by the claim id and a label (reproducible ledger runs)."""
    return np.random.default_rng([sum(ord(c) * 31 ** i for i, c in enumerate(str(k))) % 2 ** 32 for k in key])


def ineq_figures(lhs, rhs) -> dict:
    """min slack, max ratio and whether ``lhs <= rhs`` holds everywhere up to :data:`TOL`."""
    lhs = np.asarray(lhs, dtype=np.float64).ravel()
    rhs = np.asarray(rhs, dtype=np.float64).ravel()
    slack = rhs - lhs
    scale = np.maximum(np.abs(lhs), np.abs(rhs))
    ok = bool(np.all((slack >= -TOL * (1.0 + scale)) | (rhs == np.inf)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rhs > 0, lhs / rhs, np.where(lhs <= 0, 0.0, np.inf))
    return {"min_slack": float(np.min(slack)), "max_ratio": float(np.max(ratio)), "entries": int(lhs.size),
            "holds": ok}


def control(name: str, description: str, ok: bool, measured: dict) -> ControlOutcome:
    """A negative control judged by the claim's rule: rejected iff the rule says FAIL."""
    verdict = PASS if ok else FAIL
    return ControlOutcome(name=name, description=description, verdict=verdict, measured=measured,
                          rejected=verdict == FAIL)


def finish(claim_id: str, t0: float, ok: bool, measured: dict, stated, controls, rule: str, notes: str = "") -> Outcome:
    return Outcome(claim_id=claim_id, verdict=PASS if ok else FAIL, measured=measured, stated=stated,
                   controls=list(controls), rule=rule, notes=notes, seconds=time.perf_counter() - t0)


def _merge(figs: dict) -> dict:
    """Combine several named ineq_figures into one summary (worst case)."""
    return {"min_slack": min(f["min_slack"] for f in figs.values()),
            "max_ratio": max(f["max_ratio"] for f in figs.values()),
            "holds": all(f["holds"] for f in figs.values()),
            "parts": figs}


def step_length_figures(res, gamma=None) -> dict:
    """The hypothesis of the normalized descent lemmas along a run: ||x^{k+1} - x^k|| = gamma_k at every step
    (both inequalities, relative tolerance :data:`TOL`). ``gamma``: the theorem's gamma_k, computed by the
    check from its formula (default: the steps the run recorded)."""
    step = np.linalg.norm(np.diff(np.asarray(res.x, dtype=np.float64), axis=0), axis=1)
    gamma = np.asarray(res.stepsize if gamma is None else gamma, dtype=np.float64)[: step.size]
    up, down = ineq_figures(step, gamma), ineq_figures(gamma, step)
    return {"holds": up["holds"] and down["holds"], "entries": up["entries"],
            "max |step/gamma - 1|": float(np.max(np.abs(step / gamma - 1.0)))}


def message_figures(res, compressor) -> dict:
    """The hypothesis of the error-feedback lemmas along a run (recorded with ``record_clients=True``):
    g_i^k = g_i^{k-1} + C(v_i^k - g_i^{k-1}) at every step k >= 1, for a deterministic compressor, to a
    relative :data:`TOL`."""
    G = np.asarray(res.diagnostics["g_i"], dtype=np.float64)
    V = np.asarray(res.diagnostics["v_i"], dtype=np.float64)
    pred = np.asarray(compressor(V[1:] - G[:-1]), dtype=np.float64)
    gap = float(np.max(np.abs(G[1:] - G[:-1] - pred))) if pred.size else 0.0
    scale = 1.0 + float(np.max(np.abs(pred))) if pred.size else 1.0
    return {"holds": gap <= TOL * scale, "max |g_i+ - g_i - C(v_i+ - g_i)|": gap}


def _all_hold(figs: dict, key: str) -> dict:
    """Several runs' hypothesis figures in one: whether all hold and the worst value of ``key``."""
    return {"holds": all(f["holds"] for f in figs.values()), key: max(f[key] for f in figs.values())}


RULE_P = "PASS iff lhs <= rhs at every sampled point/step (relative tolerance 1e-9); reports min slack and max lhs/rhs"


def _contraction_control(name, description, compressor, V):
    """Negative control: the contraction inequality with a compressor that states a too-large alpha."""
    from eftheory.compressors import contraction_ratio

    obs, stated = contraction_ratio(compressor, V)
    cf = ineq_figures(obs, np.full_like(obs, stated))
    return control(name, description, cf["holds"], cf)

RTOL = 1e-10
RULE_I = "PASS iff the largest relative residual is <= 1e-10"

RULE_B = ("PASS iff measured <= bound at every horizon of the grid (relative tolerance 1e-9); "
          "reports min over the grid of bound/measured")


def _slack(measured, bound) -> dict:
    m = np.asarray(measured, dtype=np.float64)
    b = np.asarray(bound, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(m > 0, b / m, np.inf)
    ok = bool(np.all(np.isfinite(m)) and np.all(m <= b * (1 + TOL)))
    return {"min_bound_over_measured": float(np.min(ratio)), "max_bound_over_measured": float(np.max(ratio)),
            "horizons": int(m.size), "holds": ok}
#: why the other bound claims have no worst-case program beside them
PEP_NOT_EXPRESSIBLE = {
    "S004-C1": "(L0,L1)-smoothness has no interpolation conditions in a Gram-matrix program, and the "
               "normalized step gamma/||g^k|| is not Gram-linear",
    "S001-T3": "(L0,L1)-smoothness (no interpolation conditions), a normalized step and an average of norms "
               "(not squared norms): none is linear in the Gram matrix",
    "S002": "stochastic gradients (sigma^2 noise) over n = 4 workers with a seed mean of the squared gradient: "
            "expectations over random draws are outside a deterministic program; the deterministic n = 1 "
            "SAEF program is eftheory.pep.saef_worst_case",
}

TOL_WINDOW = 0.04          # RATES rule (c2)
TOL_FIXED = 0.08           # fixed-horizon slope tolerance (S004-T1, S002-C2/C3)


# ----------------------------------------------------------------------------- helpers

def _fit(f: rates.Fit) -> dict:
    return {"value": round(f.slope, 4), "lo": round(f.lo, 4), "hi": round(f.hi, 4),
            "grid": [f.x[0], f.x[-1]], "points": len(f.x), "seeds": f.n_seeds}


def _rule_measured(res: rates.RuleResult, prefix: str = "slope") -> dict:
    return {f"{prefix} ({name})": _fit(f) for name, f in res.fits.items()}


def _control(name: str, desc: str, res: rates.RuleResult, **extra) -> ControlOutcome:
    m = _rule_measured(res)
    m.update(extra)
    m["threshold"] = res.threshold
    return ControlOutcome(name=name, description=desc, verdict=res.verdict, measured=m,
                          rejected=res.verdict == FAIL)


def _tight_rule(x, stat, n_seeds: int, r: float) -> rates.RuleResult:
    """The one-sided rate rule and, beside it, the two-sided window test: the whole-grid slope's CI within
    -r +- TOL_WINDOW. A claim measured where its rate is tight uses both, so a method that decays
    *faster* on the instance than the rate the theorem credits to its mechanism (e.g. no momentum at
    all) is rejected too. The window reads the same whole-grid fit as ``fits["all"]``."""
    one = rates.rate_rule(x, stat, n_seeds, r, TOL_WINDOW)
    win = rates.range_rule(x, stat, n_seeds, -r - TOL_WINDOW, -r + TOL_WINDOW)
    return rates.RuleResult(rates.combine_verdicts([one.verdict, win.verdict]), one.threshold, dict(one.fits),
                            f"{one.rule}; and the two-sided window: whole-grid slope CI within "
                            f"-{r:.4g} +- {TOL_WINDOW:g}")


def _columns(arrs: list, key: str, parts: int) -> list:
    """Split the per-spec arrays of ``Context.runs`` into ``parts`` equal consecutive groups (a
    claim's main runs, then each control, over the same grid) and stack each group's ``key``
    as one (seeds, grid) array."""
    m = len(arrs) // parts
    return [np.stack([a[key] for a in arrs[j * m:(j + 1) * m]], axis=1) for j in range(parts)]


def _min_of_mean(curves: list) -> callable:
    """m_1-type statistic: for each horizon, min over k of the (weighted) seed mean of the curve."""

    def stat(w):
        w = np.asarray(w, dtype=np.float64)
        out = np.empty((w.shape[0], len(curves)))
        for j, C in enumerate(curves):
            for b0 in range(0, w.shape[0], 64):
                wb = w[b0:b0 + 64]
                out[b0:b0 + 64, j] = ((wb @ C) / wb.sum(axis=1, keepdims=True)).min(axis=1)
        return out

    stat.curves = curves       # plots.band bootstraps the plotted seed mean at the minimising iterate
    return stat


def _plot(ctx, claim_id, **kw):
    if ctx.plot_dir is None:
        return []
    save_plot_data(ctx.plot_dir / claim_id, kw)     # what `eftheory plot DIR` redraws from
    return loglog_plot(ctx.plot_dir / claim_id, **kw)


def _n_seeds(ctx, quick: int = 32) -> int:
    """Seeds of a rate claim's runs: ``quick`` (at least 32) in the quick tier, 64 (or ``quick`` if more) in the full tier."""
    return ctx.pick(quick, max(quick, 64))


# ----------------------------------------------------------------------------- fixed-horizon helper

def _fixed_plot(ctx, claim_id, grid, stat, S, fit, r, label, controls=(), ylabel="quantity", xlabel="K"):
    lo, hi = band(stat, S)
    y = stat(np.ones((1, S)))[0]
    series = [{"x": grid, "y": y, "lo": lo, "hi": hi, "label": f"{label}, {S} seeds"}]
    for name, cstat in controls:
        series.append({"x": grid, "y": cstat(np.ones((1, S)))[0], "lo": None, "hi": None,
                       "label": f"control {name}", "dashed": True})
    return _plot(ctx, claim_id, title=f"{claim_id} (stated rate {xlabel}^-{r:.3g})", xlabel=xlabel, ylabel=ylabel,
                 series=series,
                 fits=[{"x": grid, "slope": fit.slope, "intercept": fit.intercept,
                        "label": f"fit: slope {fit.slope:.3f} [{fit.lo:.3f}, {fit.hi:.3f}]"}],
                 refs=[{"x": grid, "r": r, "label": f"stated rate {xlabel}^-{r:.4g}"}])
