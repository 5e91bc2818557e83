r"""Rate (kind S) claims: measured exponents with bootstrap CIs, each with negative controls.

Methodology (see :mod:`eftheory.rates`):

* S000-T1..T5 (anytime runs): one run to :math:`K_{\max}` gives, by prefix sums, the theorem's
  quantity :math:`W_K` (gamma-weighted random iterate) and the window :math:`T_K` (the same weights
  over :math:`K/2<k\le K`) at every grid point. The verdict uses :math:`T_K` (the claim implies
  :math:`T_K=\tilde O(K^{-r})`; measured without log factor): slope :math:`\le -r+0.04` on the grid and its
  upper half. :math:`W_K`'s slope is reported beside it. T3/T5 add a paired comparison with Polyak
  momentum on the same seeds: slope of :math:`\log(W_{\rm Polyak}/W_{\rm variant})\ge(r-\tfrac14)/2`.
  The verdict tests a slightly stronger empirical hypothesis than :math:`\tilde O` (no log factor
  in the window).
* Fixed-horizon claims (S004-T1, S001-T2, S002-C2/C3, S003-*): a separate run per horizon, the
  stated quantity, slope over a grid that starts after the transient, also on its upper half.
* Every claim runs negative controls (a wrong schedule, an unnormalized method, a constant step)
  under the same rule; a control is *rejected* when that rule says FAIL.
"""

from __future__ import annotations

import math

import numpy as np

from eftheory import rates
from eftheory.derivations.sgdm import theorem2_schedule
from eftheory.rates import FAIL, PASS

from .catalog import claim
from .claim import INCONCLUSIVE, ControlOutcome, Outcome
from .commands import save_plot_data
from .plots import band, loglog_plot
from .simulate import RunSpec, _x0, build_problem, schedule_values

__all__ = ["CLAIMS"]

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


def _schedule_exponents(variant: str) -> tuple[float, float]:
    """(p, q) of [000]'s schedules, derived by balancing the error terms (sympy)."""
    from eftheory.derivations.momentum import schedule_exponents

    return schedule_exponents(variant)


def _plot(ctx, claim_id, **kw):
    if ctx.plot_dir is None:
        return []
    save_plot_data(ctx.plot_dir / claim_id, kw)     # what `eftheory plot DIR` redraws from
    return loglog_plot(ctx.plot_dir / claim_id, **kw)


# ----------------------------------------------------------------------------- S000 (anytime)

_S000 = {
    "S000-T1": ("ef21-sgdm-norm", "polyak", "Q"),
    "S000-T2": ("ef21-igt-norm", "igt", "Q4"),
    "S000-T3": ("ef21-rhm-norm", "rhm", "Q"),
    "S000-T4": ("ef21-hm-norm", "hm", "Q4"),
    "S000-T5": ("ef21-mvr-norm", "mvr", "Q"),
}


def _n_seeds(ctx, quick: int = 32) -> int:
    """Seeds of a rate claim's runs: ``quick`` (at least 32) in the quick tier, 64 in the full tier."""
    return ctx.pick(quick, 64)


class _Anytime:
    """Grid, points and the run spec of the S000 anytime runs for a tier."""

    def __init__(self, ctx, quick_seeds=32):
        self.grid = ctx.pick(rates.log_grid(1000, 10_000, 6), rates.log_grid(1000, 100_000, 9))
        self.n_seeds = _n_seeds(ctx, quick_seeds)
        self.kmax = int(self.grid[-1])
        self.plot_grid = rates.log_grid(20, self.kmax, 24)
        pts = set(self.grid) | set(self.grid // 2) | set(self.plot_grid) | set(self.plot_grid // 2)
        self.points = tuple(sorted(int(p) for p in pts))
        self.index = {p: j for j, p in enumerate(self.points)}

    def spec(self, alg, problem, p, q, *, const=False, eta_one=False, label=""):
        step = ("const", (2.0 / (self.grid[0] + 2.0)) ** p) if const else ("poly", 1.0, p)
        mom = ("const", 1.0) if eta_one else (("poly", 1.0, q) if q is not None else None)
        return RunSpec(alg, {"kind": problem, "seed": 0}, "topk:2", {"rule": "around_opt", "scale": 3.0, "seed": 0},
                       self.kmax, step, mom, {"init": "gradient"},
                       points=self.points, label=label or f"{alg} {problem} p={p:.4g} q={q}")

    def unnormalized(self, problem):
        return RunSpec("ef21-sgdm", {"kind": problem, "seed": 0}, "topk:2", {"rule": "around_opt", "scale": 3.0, "seed": 0},
                       self.kmax, ("const", 0.1), ("const", 0.1), {"init": "gradient"}, points=self.points,
                       label=f"ef21-sgdm (unnormalized) {problem} gamma=eta=0.1")

    def quantities(self, spec, arrays, K):
        """Per-seed W and T at the horizons K."""
        K = np.asarray(K, dtype=np.int64)
        G = np.cumsum(schedule_values(spec.stepsize, spec.iters + 1))
        cs = arrays["cs"]
        j = [self.index[int(k)] for k in K]
        h = [self.index[int(k) // 2] for k in K]
        W = cs[:, j] / G[K]
        T = (cs[:, j] - cs[:, h]) / (G[K] - G[K // 2])
        return W, T


def _s000(claim_id):
    alg, variant, problem = _S000[claim_id]

    def run(ctx) -> Outcome:
        # IGT on Q4: at 32 seeds the upper-half window CI on the quick grid is wider than the margin, so the
        # quick tier uses the full tier's 64 seeds (a tighter measurement under the same rule)
        A = _Anytime(ctx, quick_seeds=64 if variant == "igt" else 32)
        p, q = _schedule_exponents(variant)
        r = 1.0 - p
        pp, pq = _schedule_exponents("polyak")
        main = A.spec(alg, problem, p, q, label=f"{alg} {problem}")
        controls = []                                      # (name, description, spec, r for the rule)
        if variant == "polyak":
            controls.append(("const-step", f"constant gamma = (2/(K_min+2))^{p:.3g}, checked at r = {r:.4g}",
                             A.spec(alg, problem, p, q, const=True), r))
            controls.append(("unnormalized", "unnormalized EF21-SGDM, gamma = eta = 0.1, checked at r = 1/4",
                             A.unnormalized(problem), r))
            controls.append(("no-momentum", "eta = 1 (normalized EF21-SGD), the same gamma_k, checked at r = 1/4",
                             A.spec(alg, problem, p, None, eta_one=True, label=f"{alg} {problem} eta=1"), r))
        elif variant == "igt":
            p23, q23 = _schedule_exponents("mvr")
            controls.append(("mvr-schedule", "IGT with p = q = 2/3 (MVR's schedule) on Q4, checked at r = 2/7",
                             A.spec(alg, problem, p23, q23), r))
            controls.append(("const-step", f"constant gamma = (2/(K_min+2))^{p:.3g}, checked at r = 2/7",
                             A.spec(alg, problem, p, q, const=True), r))
        else:
            controls.append(("polyak-schedule", f"{alg} with Polyak's schedule (p, q) = (3/4, 1/2), checked at r = 1/3",
                             A.spec(alg, problem, pp, pq), r))
            controls.append(("polyak-method", "Polyak momentum (its own schedule), checked at r = 1/3",
                             A.spec("ef21-sgdm-norm", problem, pp, pq, label=f"ef21-sgdm-norm {problem}"), r))
            if variant == "mvr":
                controls.append(("polyak-p=q=2/3", "Polyak momentum with p = q = 2/3, checked at r = 1/3",
                                 A.spec("ef21-sgdm-norm", problem, p, q), r))
        specs = [main] + [c[2] for c in controls]
        arrays = ctx.runs(specs, A.n_seeds, desc=claim_id)
        S = A.n_seeds
        W, T = A.quantities(main, arrays[0], A.grid)
        tight = variant == "polyak"              # S000-T1: measured where its rate is tight (two-sided window)
        rule_of = (lambda Y, rr: _tight_rule(A.grid, rates.mean_stat(Y), S, rr)) if tight else \
            (lambda Y, rr: rates.rate_rule(A.grid, rates.mean_stat(Y), S, rr, TOL_WINDOW))
        res = rule_of(T, r)
        w_fit = rates.bootstrap_fit(A.grid, rates.mean_stat(W), S)
        w_up = rates.bootstrap_fit(A.grid[rates.upper_half(A.grid)], rates.mean_stat(W[:, rates.upper_half(A.grid)]), S)
        measured = {"T slope (all)": _fit(res.fits["all"]), "T slope (upper)": _fit(res.fits["upper"]),
                    "W slope (all, reported)": _fit(w_fit), "W slope (upper, reported)": _fit(w_up),
                    "threshold": round(res.threshold, 4)}
        verdicts = [res.verdict]
        outs = []
        for (name, desc, spec, rc), arr in zip(controls, arrays[1:]):
            Wc, Tc = A.quantities(spec, arr, A.grid)
            rr = rule_of(Tc, rc)
            wf = rates.bootstrap_fit(A.grid, rates.mean_stat(Wc), S)
            outs.append(_control(name, desc, rr, **{"W slope (all, reported)": _fit(wf)}))
        rule = f"T_K {res.rule}"
        if variant in ("rhm", "mvr"):
            ipol = [c[0] for c in controls].index("polyak-method")
            Wp, _ = A.quantities(controls[ipol][2], arrays[1 + ipol], A.grid)
            th = (r - (1 - pp)) / 2
            pr = rates.paired_rule(A.grid, rates.mean_stat(Wp), rates.mean_stat(W), S, th)
            measured["paired slope log(W_Polyak/W)"] = _fit(pr.fits["ratio"])
            measured["paired threshold"] = round(th, 4)
            verdicts.append(pr.verdict)
            rule += f"; and {pr.rule} (A = Polyak, B = {variant}, same seeds)"
            isch = [c[0] for c in controls].index("polyak-schedule")
            Wc, _ = A.quantities(controls[isch][2], arrays[1 + isch], A.grid)
            prc = rates.paired_rule(A.grid, rates.mean_stat(Wp), rates.mean_stat(Wc), S, th)
            outs.append(ControlOutcome("paired-polyak-schedule",
                                       f"paired rule with {variant} run on Polyak's schedule",
                                       prc.verdict, {"paired slope": _fit(prc.fits["ratio"]), "threshold": round(th, 4)},
                                       rejected=prc.verdict == FAIL))
        verdict = rates.combine_verdicts(verdicts)
        # plot: W and T with bands at the plot grid, the fit of T, the K^-r reference, controls' T
        pg = A.plot_grid[A.plot_grid >= 2]
        Wg, Tg = A.quantities(main, arrays[0], pg)
        series = []
        for name, Y in (("W_K (theorem's quantity)", Wg), ("T_K (window)", Tg)):
            lo, hi = band(rates.mean_stat(Y), S)
            series.append({"x": pg, "y": Y.mean(0), "lo": lo, "hi": hi, "label": f"{name}, mean of {S} seeds"})
        for (name, _, spec, _), arr in zip(controls, arrays[1:]):
            _, Tc = A.quantities(spec, arr, pg)
            series.append({"x": pg, "y": Tc.mean(0), "lo": None, "hi": None, "label": f"control {name}: T_K",
                           "dashed": True})
        fa = res.fits["all"]
        plots = _plot(ctx, claim_id, title=f"{claim_id}: {alg} on {problem} (stated rate K^-{r:.3g})",
                      xlabel="K", ylabel="||grad f||", series=series,
                      fits=[{"x": A.grid, "slope": fa.slope, "intercept": fa.intercept,
                             "label": f"fit of T_K: slope {fa.slope:.3f} [{fa.lo:.3f}, {fa.hi:.3f}]"}],
                      refs=[{"x": A.grid, "r": r, "label": f"stated rate K^-{r:.4g}"}])
        return Outcome(claim_id, verdict, measured=measured, stated={"exponent": round(r, 4), "log factor": True},
                       controls=outs, plots=plots, rule=rule,
                       notes=(f"problem {problem}, Top-2, init 'gradient', gamma_k = (2/(k+2))^{p:.4g}, "
                              f"eta_k = (2/(k+2))^{q:.4g}, {S} seeds, K in [{A.grid[0]}, {A.grid[-1]}]"))

    return run


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


# ----------------------------------------------------------------------------- S004-T1

def _s004_t1(ctx) -> Outcome:
    S = _n_seeds(ctx)
    setups = [("logistic", {"kind": "logistic", "n": 20, "d": 10, "seed": 0}, rates.log_grid(500, 10_000, 6),
               {"rule": "normal", "mean": 0.0, "seed": 0}, "randk:1")]
    if ctx.full:
        setups.append(("polynomial", {"kind": "polynomial", "d": 4, "L1": 4.0}, rates.log_grid(10_000, 100_000, 5),
                       {"rule": "normal", "mean": 20.0, "seed": 0}, "randk:1"))
    measured, outs, plots, verdicts = {}, [], [], []
    for name, prob, grid, x0, comp in setups:
        def spec(K, gamma):
            return RunSpec("ef21-norm", prob, comp, x0, int(K), ("const", gamma), None, {"init": "gradient"},
                           extract="curve", label=f"ef21-norm {name} K={K} gamma={gamma:.4g}")
        main = [spec(K, 1.0 / math.sqrt(K + 1)) for K in grid]
        ctrl = [spec(K, 1.0 / math.sqrt(grid[0] + 1)) for K in grid]
        arrs = ctx.runs(main + ctrl, S, desc=f"S004-T1 {name}")
        st = _min_of_mean([a["curve"] for a in arrs[:len(grid)]])
        sc = _min_of_mean([a["curve"] for a in arrs[len(grid):]])
        res = rates.rate_rule(grid, st, S, 0.5, TOL_FIXED)
        rc = rates.rate_rule(grid, sc, S, 0.5, TOL_FIXED)
        verdicts.append(res.verdict)
        measured.update({f"{name}: {k}": v for k, v in _rule_measured(res).items()})
        measured[f"{name}: threshold"] = res.threshold
        outs.append(_control(f"{name} const-step", f"{name}: gamma = 1/sqrt(K_min+1) for every K", rc))
        plots += _fixed_plot(ctx, f"S004-T1-{name}" if ctx.full else "S004-T1", grid, st, S, res.fits["all"], 0.5,
                             "m_1", controls=[("const-step", sc)], ylabel="m_1")
    return Outcome("S004-T1", rates.combine_verdicts(verdicts), measured=measured, stated={"exponent": 0.5},
                   controls=outs, plots=plots, rule=f"m_1 slope <= -1/2 + {TOL_FIXED} on the grid and its upper half",
                   notes=("gamma = 1/sqrt(K+1) (gamma0 = 1), a separate run per K; Rand-1 (alpha = 1/d in expectation) "
                          "so the seeds differ through the compressor from one x0 ~ N(0, I) (logistic) / N(20, I) "
                          "(polynomial, full tier); grids start after the transient"))


# ----------------------------------------------------------------------------- S001-T2 and S001-EQ5

def _s001_spec(prob, K, gamma, eta, label, x0=None, comp="topk:2"):
    return RunSpec("ef21-sgdm-norm", prob, comp, x0 or {"rule": "around_opt", "scale": 3.0, "seed": 0}, int(K),
                   ("const", gamma), ("const", eta), {"init": "zero"}, extract="mean", label=label)


def _s001_t2(ctx) -> Outcome:
    S = _n_seeds(ctx)
    # the quick tier spans the full tier's range with fewer points: on [1e3, 1e4] alone the gamma-fixed
    # control has not yet left the K^(-1/4) line (upper-half slope -0.228 [-0.234, -0.222])
    grid = ctx.pick(rates.log_grid(1000, 100_000, 4), rates.log_grid(1000, 100_000, 5))
    # problem Q with additive noise eps_std = 3 (sigma dominated by the noise): there normalized EF21-SGD without
    # momentum stalls at a noise floor (slope -0.166 over K = 1e3..1.6e4, 16 seeds), while on the default
    # eps_std = 1/sqrt(d) it decays at the same K^-1/4 (slope -0.248: the control would not be rejected)
    prob = {"kind": "Q", "seed": 0, "eps_std": 3.0}
    main = [_s001_spec(prob, K, *theorem2_schedule(1.0, K), f"S001-T2 K={K}") for K in grid]
    gamma_fixed = theorem2_schedule(1.0, grid[0])[0]
    ctrl = [_s001_spec(prob, K, gamma_fixed, theorem2_schedule(1.0, K)[1], f"S001-T2 control K={K}") for K in grid]
    no_mom = [_s001_spec(prob, K, theorem2_schedule(1.0, K)[0], 1.0, f"S001-T2 eta=1 K={K}") for K in grid]
    m = len(grid)
    arrs = ctx.runs(main + ctrl + no_mom, S, desc="S001-T2")
    Y = np.stack([a["mean_all"] for a in arrs[:m]], axis=1)
    Yc = np.stack([a["mean_all"] for a in arrs[m:2 * m]], axis=1)
    Yn = np.stack([a["mean_all"] for a in arrs[2 * m:]], axis=1)
    res = _tight_rule(grid, rates.mean_stat(Y), S, 0.25)
    rc = _tight_rule(grid, rates.mean_stat(Yc), S, 0.25)
    rn = _tight_rule(grid, rates.mean_stat(Yn), S, 0.25)
    plots = _fixed_plot(ctx, "S001-T2", grid, rates.mean_stat(Y), S, res.fits["all"], 0.25,
                        "average ||grad f||",
                        controls=[("gamma fixed", rates.mean_stat(Yc)), ("eta = 1", rates.mean_stat(Yn))],
                        ylabel="average ||grad f||")
    return Outcome("S001-T2", res.verdict, measured={**_rule_measured(res), "threshold": res.threshold},
                   stated={"exponent": 0.25},
                   controls=[_control("gamma-fixed", "gamma = (K_min+1)^(-3/4) for every K", rc),
                             _control("no-momentum", "eta = 1 (normalized EF21-SGD), gamma = (K+1)^(-3/4)", rn)],
                   plots=plots, rule=res.rule,
                   notes=("problem Q with eps_std = 3 (L1 = 0, so beta_k = 1: the plain average over k <= K), "
                          "Top-2, g_i^-1 = 0, gamma0 = 1, a separate run per K; the mechanism credited is the "
                          "momentum, so eta = 1 is a control"))


def theorem2_identity_bound(sigma: float, n: int, L0: float, gamma: float, eta: float, K: int, F0: float = 0.0):
    r"""[001] Theorem 2's bound along its proof, evaluated for the identity compressor and L1 = 0
    (so the weights beta_k = 1 and the EF21 distance of Lemma 8 vanishes); returns
    ``(bound on the K-average of E||grad f(x^k)||, per-k bound on E||g^k - grad f(x^k)|| as an array)``.

    * Lemma 7 (L1 = 0): :math:`f(x^{k+1})\le f(x^k)-\gamma\|\nabla f(x^k)\|+2\gamma\|g^k-\nabla f(x^k)\|+L_0\gamma^2/2`;
      summed over k = 0..K: :math:`\frac1{K+1}\sum_k\|\nabla f(x^k)\|\le\frac{F_0}{\gamma(K+1)}+\frac2{K+1}\sum_k
      \mathbb E\|\varepsilon^k\|+\frac{L_0\gamma}2`.
    * Lemma 9 (averaged momentum error, the source of the :math:`\sigma/\sqrt n` term):
      :math:`\varepsilon^k=(1-\eta)^k\zeta^0+\eta\sum_{j\le k}(1-\eta)^{k-j}\zeta^j+\sum_{j\le k}(1-\eta)^{k-j+1}
      (\nabla f(x^{j-1})-\nabla f(x^j))` with :math:`\zeta^j` the client-averaged noise (independent, mean 0,
      :math:`\mathbb E\|\zeta^j\|^2\le\sigma^2/n`), so
      :math:`\mathbb E\|\varepsilon^k\|\le\sqrt{(1-\eta)^{2k}+\eta^2\frac{1-(1-\eta)^{2k}}{1-(1-\eta)^2}}\,\frac{\sigma}{\sqrt n}
      +L_0\gamma\frac{1-\eta}{\eta}(1-(1-\eta)^k)`.
    """
    k = np.arange(K + 1, dtype=np.float64)
    q = (1.0 - eta) ** 2
    noise = np.sqrt(q ** k + eta ** 2 * (1.0 - q ** k) / (1.0 - q)) * sigma / math.sqrt(n)
    drift = L0 * gamma * (1.0 - eta) / eta * (1.0 - (1.0 - eta) ** k)
    err = noise + drift
    return float(F0 / (gamma * (K + 1)) + 2.0 * err.mean() + L0 * gamma / 2.0), err


def _upper(v, level=0.95):
    """Seed mean and the upper end of its t-interval."""
    from scipy import stats
    v = np.asarray(v, dtype=np.float64)
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return float(v.mean()), float(v.mean() + half), float(v.mean() - half)


def _eq5_problem(n, sigma, d=10):
    """n identical clients (zero shift) f_i = 1/2 sum_k h_k x_k^2 + xi'x, h log-spaced in [0.5, 2],
    uniform noise of total variance sigma^2 (the engine's vectorised diagonal oracle)."""
    from eftheory.problems.sign import HeterogeneousSignProblem

    h = np.exp(np.linspace(np.log(0.5), np.log(2.0), d))
    return HeterogeneousSignProblem(d=d, n=int(n), seed=0, h=h, shift=0.0,
                                    noise_half_width=sigma * math.sqrt(3.0 / d), box=1e6)


def _eq5_runs(ctx, n, K, gamma, eta, sigma, S):
    """Per seed: the K-average of ||grad f(x^k)|| (k = 0..K) and of the averaged momentum error
    ||g^k - grad f(x^k)|| (k = 0..K-1), for ‖EF21-SGDM‖ with the identity compressor (cached)."""
    import algorithms
    from eftheory.compressors import Identity

    from .cache import Cache, code_version
    from .simulate import ROOT, engine_available, source_files

    backend = "torch" if ctx.backend == "torch" and engine_available("ef21-sgdm-norm") else "numpy"
    cfg = {"claim": "S001-EQ5", "n": int(n), "K": int(K), "gamma": gamma, "eta": eta,
           "sigma": sigma, "d": 10, "init": "zero", "x0": "x*", "problem": "identical diagonal, uniform noise"}
    key = Cache.key(cfg, list(range(S)), backend, code_version(source_files("ef21-sgdm-norm", backend), ROOT))
    arrays = ctx.cache.get(key)
    if arrays is not None:
        ctx.cached += 1
        return arrays
    prob = _eq5_problem(n, sigma)
    x0 = np.asarray(prob.x_star, dtype=np.float64)
    if backend == "torch":
        res = algorithms.run("ef21-sgdm-norm", prob, Identity(), x0, K, stepsize=gamma, momentum=eta, seed=0,
                             backend="torch", seeds=S, device=ctx.device, diagnostics="full", init="zero").numpy()
        q = np.asarray(res.grad_norm).reshape(S, -1).mean(axis=1)
        e = np.asarray(res.diagnostics["err_v_grad_avg"]).reshape(S, -1).mean(axis=1)
    else:
        rows = [algorithms.run("ef21-sgdm-norm", prob, Identity(), x0, K, stepsize=gamma, momentum=eta, seed=s,
                               init="zero") for s in range(S)]
        q = np.array([np.mean(r.grad_norm) for r in rows])
        e = np.array([np.mean(r.diagnostics["err_v_grad_avg"]) for r in rows])
    arrays = {"q": q, "err": e}
    ctx.cache.put(key, arrays, claim="S001-EQ5", label=f"S001-EQ5 n={n}")
    ctx.computed += 1
    return arrays


def _s001_eq5(ctx) -> Outcome:
    S = _n_seeds(ctx, quick=32)
    K = ctx.pick(2000, 10_000)
    ns = ctx.pick((1, 4, 16, 64), (1, 4, 16, 64, 256))
    sigma, gamma0, d = 30.0, 1.0, 10
    gamma, eta = theorem2_schedule(gamma0, K)
    L0 = float(_eq5_problem(1, sigma, d).L)

    def judge(shared):
        rows, ok = {}, True
        for n in ns:
            # shared noise: every client gets the same draw; with identical clients and the identity
            # compressor every client's memory then equals client 1's, so the run is the n = 1 run
            a = _eq5_runs(ctx, 1 if shared else n, K, gamma, eta, sigma, S)
            B, err_bound = theorem2_identity_bound(sigma, n, L0, gamma, eta, K)
            eb = float(err_bound[:K].mean())
            qm, qu, ql = _upper(a["q"])
            em, eu, el = _upper(a["err"])
            holds = qu <= B and eu <= eb
            ok &= holds
            rows[int(n)] = {"quantity": round(qm, 5), "quantity_ci": [round(ql, 5), round(qu, 5)],
                            "bound": round(B, 5), "quantity/bound": round(qm / B, 4),
                            "momentum_error": round(em, 5), "momentum_error_ci": [round(el, 5), round(eu, 5)],
                            "momentum_error_bound": round(eb, 5), "momentum_error/bound": round(em / eb, 4),
                            "holds": bool(holds)}
        return ok, rows

    ok, rows = judge(False)
    ok_c, rows_c = judge(True)
    x = np.log(np.asarray(ns, dtype=np.float64))

    def slope(key, table):
        return round(float(np.polyfit(x, np.log([table[int(n)][key] for n in ns]), 1)[0]), 4)

    floor = 2.0 * float(theorem2_identity_bound(0.0, 1, L0, gamma, eta, K)[1].mean()) + L0 * gamma / 2
    q1 = rows[1]["quantity"]
    n_star = ((rows[1]["bound"] - floor) / (q1 - floor)) ** 2 if q1 > floor else math.inf
    measured = {"per n": rows, "shared-noise per n": rows_c,
                "finding: n-exponent of the quantity": slope("quantity", rows),
                "finding: n-exponent of the momentum error": slope("momentum_error", rows),
                "n-exponent of the bound": slope("bound", rows),
                "n-exponent of the momentum-error bound": slope("momentum_error_bound", rows),
                "sigma-free part of the bound (n -> inf)": round(floor, 5),
                "n above which the shared-noise quantity alone would exceed the bound": (
                    round(n_star) if math.isfinite(n_star) else "never")}
    plots = _plot(ctx, "S001-EQ5", title=f"S001-EQ5: [001] Theorem 2 bound vs n (K = {K}, sigma = {sigma:g})",
                  xlabel="n", ylabel="K-average", series=[
                      {"x": list(ns), "y": [rows[n]["quantity"] for n in ns],
                       "lo": [rows[n]["quantity_ci"][0] for n in ns], "hi": [rows[n]["quantity_ci"][1] for n in ns],
                       "label": f"avg ||grad f(x^k)||, {S} seeds"},
                      {"x": list(ns), "y": [rows[n]["bound"] for n in ns], "lo": None, "hi": None,
                       "label": "bound (Lemma 7 + Lemma 9)", "dashed": True},
                      {"x": list(ns), "y": [rows[n]["momentum_error"] for n in ns],
                       "lo": [rows[n]["momentum_error_ci"][0] for n in ns],
                       "hi": [rows[n]["momentum_error_ci"][1] for n in ns], "label": "avg ||g^k - grad f(x^k)||"},
                      {"x": list(ns), "y": [rows[n]["momentum_error_bound"] for n in ns], "lo": None, "hi": None,
                       "label": "its bound (sigma/sqrt(n) term + drift)", "dashed": True},
                      {"x": list(ns), "y": [rows_c[n]["quantity"] for n in ns], "lo": None, "hi": None,
                       "label": "control shared noise: avg ||grad f||", "dashed": True},
                      {"x": list(ns), "y": [rows_c[n]["momentum_error"] for n in ns], "lo": None, "hi": None,
                       "label": "control shared noise: momentum error", "dashed": True}],
                  refs=[{"x": list(ns), "r": 0.5, "label": "n^-1/2",
                         "anchor_x": 1.0, "anchor_y": rows[1]["momentum_error_bound"]}])
    ctl = ControlOutcome(name="shared-noise", description="every client gets the same noise draw (nothing averaged), "
                         "judged by the same two bounds", verdict=PASS if ok_c else FAIL,
                         measured={"per n": rows_c}, rejected=not ok_c)
    return Outcome("S001-EQ5", PASS if ok else FAIL, measured=measured,
                   stated={"n_exponent": -0.5, "form": "bound with a sigma/sqrt(n) term"}, controls=[ctl], plots=plots,
                   rule=("for every n: the upper 95 % seed CI of the K-average of ||grad f(x^k)|| <= the evaluated "
                         "Theorem 2 bound, and the upper CI of the K-average of the averaged momentum error "
                         "||g^k - grad f(x^k)|| <= its Lemma 9 bound (the sigma/sqrt(n) term plus the drift term)"),
                   notes=("the shared-noise control is the n = 1 run judged against the n-client bounds: with "
                          "identical clients, one draw for all and the identity compressor, every client's memory equals "
                          "client 1's (a direct shared-noise run of HomogeneousNoisyQuadratic gave rows identical to n = 1); "
                          f"‖EF21-SGDM‖ = distributed normalized SGDM here: identity compressor, n identical "
                          f"clients f_i = 1/2 sum_k h_k x_k^2 + xi'x, h log-spaced in [0.5, 2], uniform noise of total "
                          f"variance sigma^2 (L0 = {L0:g}, L1 = 0, delta^inf = 0), x0 = x* (F0 = 0), g_i^-1 = 0, "
                          f"gamma0 = {gamma0:g}, "
                          f"eta = (K+1)^-1/2, gamma = gamma0 (K+1)^-3/4 (eftheory.derivations.sgdm.theorem2_schedule), "
                          f"K = {K}, sigma = {sigma:g}, {S} seeds. The bound is [001]'s proof route evaluated with "
                          "its constants (2 from Lemma 7, 1/2 L0 gamma, Lemma 9's geometric sums). Finding: the "
                          "averaged momentum error -- the noise term -- falls like n^-1/2 as stated, but the measured "
                          "gradient norm falls like n^-1/4 (a stationary spread ~ (gamma L0 sigma_eff/eta)^(1/2), the "
                          "geometric mean of the bound's sigma/sqrt(n) and gamma0 L0 terms), so it sits well inside "
                          "the bound; the quantity's bound alone cannot see the shared-noise control below the n "
                          "reported, the momentum-error bound rejects it at n >= 4"))


# ----------------------------------------------------------------------------- S002-C2 / C3

def _s002(claim_id, mu):
    def run(ctx) -> Outcome:
        S = _n_seeds(ctx, quick=64)    # the min over t of a seed mean is a noisy statistic: 64 seeds in both tiers
        n, c = 4, 0.5
        grid = ctx.pick(rates.log_grid(1000, 10_000, 5), rates.log_grid(1000, 100_000, 7))
        prob = {"kind": "sign-hetero", "d": 10, "n": n, "seed": 0, "shift": 0.0, "noise_half_width": 1.0}

        def spec(T, eta):
            return RunSpec("saef", prob, "topk:2", {"rule": "around_opt", "scale": 3.0, "seed": 0}, int(T),
                           ("const", eta), None, {"mu": mu}, extract="curve", curve="sq",
                           label=f"{claim_id} T={T} eta={eta:.4g}")

        main = [spec(T, c * math.sqrt(n) / math.sqrt(T)) for T in grid]
        ctrl = [spec(T, c * math.sqrt(n) / math.sqrt(grid[0])) for T in grid]
        arrs = ctx.runs(main + ctrl, S, desc=claim_id)
        # min over t = 0..T-1 of the seed mean of ||grad F(x_t)||^2
        st = _min_of_mean([a["curve"][:, :-1] for a in arrs[:len(grid)]])
        sc = _min_of_mean([a["curve"][:, :-1] for a in arrs[len(grid):]])
        res = rates.rate_rule(grid, st, S, 0.5, TOL_FIXED)
        rc = rates.rate_rule(grid, sc, S, 0.5, TOL_FIXED)
        plots = _fixed_plot(ctx, claim_id, grid, st, S, res.fits["all"], 0.5, "m_sq",
                            controls=[("eta constant", sc)], ylabel="m_sq", xlabel="T")
        return Outcome(claim_id, res.verdict, measured={**_rule_measured(res), "threshold": res.threshold},
                       stated={"exponent": 0.5, "squared norm": True},
                       controls=[_control("eta-constant", "eta = c sqrt(n/T_min) for every T", rc)], plots=plots,
                       rule=res.rule,
                       notes=(f"SAEF (mu = {mu}), double-way Top-2, p = inf, n = {n} workers with identical data "
                              f"(d = 10 separable quadratic, uniform noise), eta = {c} sqrt(n/T), a separate run per T"))

    return run


# ----------------------------------------------------------------------------- S003

def _skewed(d: int) -> dict:
    """The separable quadratic of S003-T1/T2 with zero-mean skewed noise (where signSGD without momentum stalls)."""
    return {"kind": "separable", "d": d, "seed": 0, "noise": "skewed"}


def _s003_t1(ctx) -> Outcome:
    from eftheory.derivations.sign import smm_params

    S = _n_seeds(ctx)
    grid = rates.log_grid(100, 10_000, 7)
    ds = [4, 16, 64, 256]

    def spec(d, T, Tpar, method="smm"):
        eta, beta = smm_params(d, int(Tpar))
        return RunSpec(method, _skewed(d), None, {"rule": "sphere", "scale": 2.0, "seed": 0},
                       int(T), ("const", eta), ("const", beta) if method == "smm" else None, {}, extract="mean",
                       curve="l1", label=f"{method} d={d} T={T} params at T={Tpar}")

    specs = ([spec(d, T, T) for d in ds for T in grid] + [spec(d, T, grid[0]) for d in ds for T in grid]
             + [spec(d, T, T, "signsgd") for d in ds for T in grid])
    arrs = ctx.runs(specs, S, desc="S003-T1")
    m = len(grid)
    measured, verdicts, outs, plots = {}, [], [], []
    last = []
    for i, d in enumerate(ds):
        Y = np.stack([a["mean"] for a in arrs[i * m:(i + 1) * m]], axis=1)
        Yc = np.stack([a["mean"] for a in arrs[len(ds) * m + i * m: len(ds) * m + (i + 1) * m]], axis=1)
        Ys = np.stack([a["mean"] for a in arrs[2 * len(ds) * m + i * m: 2 * len(ds) * m + (i + 1) * m]], axis=1)
        last.append(Y[:, -1])
        res = rates.rate_rule(grid, rates.mean_stat(Y), S, 0.25, TOL_WINDOW)
        rc = rates.rate_rule(grid, rates.mean_stat(Yc), S, 0.25, TOL_WINDOW)
        rs = rates.rate_rule(grid, rates.mean_stat(Ys), S, 0.25, TOL_WINDOW)
        verdicts.append(res.verdict)
        measured.update({f"d={d}: {k}": v for k, v in _rule_measured(res).items()})
        outs.append(_control(f"d={d} constant", f"d={d}: beta, eta fixed at their T_min values", rc))
        outs.append(_control(f"d={d} signSGD", f"d={d}: signSGD (no momentum), the same eta", rs))
        if d == 16:
            plots = _fixed_plot(ctx, "S003-T1", grid, rates.mean_stat(Y), S, res.fits["all"], 0.25,
                                "A_1 (d = 16)", controls=[("beta, eta constant", rates.mean_stat(Yc))],
                                ylabel="A_1", xlabel="T")
    dres = rates.range_rule(np.array(ds, float), rates.mean_stat(np.stack(last, axis=1)), S, 0.4, 0.6)
    measured["d-exponent at T_max"] = _fit(dres.fits["exponent"])
    verdicts.append(dres.verdict)
    measured["threshold"] = -0.25 + TOL_WINDOW
    return Outcome("S003-T1", rates.combine_verdicts(verdicts), measured=measured,
                   stated={"exponent": 0.25, "d_exponent": 0.5}, controls=outs, plots=plots,
                   rule=f"A_1 slope in T <= -1/4 + {TOL_WINDOW} (grid and upper half) for every d; d-exponent in [0.4, 0.6]",
                   notes="separable quadratic, h in [0.5, 2], ||x_1|| = 2, zero-mean skewed noise of total variance 1 "
                         "(+3 sigma_j w.p. 0.1, -sigma_j/3 otherwise: sign(g + xi) is biased, so plain signSGD "
                         "stalls; the mechanism credited is the momentum), beta = T^-1/2, eta = d^-1/2 T^-3/4, "
                         "a separate run per T")


def _s003_t2(ctx) -> Outcome:
    from eftheory.derivations.sign import smm_linf_bound

    S = _n_seeds(ctx)
    d = 16
    grid = rates.log_grid(100, 10_000, 7)
    prob = _skewed(d)
    x0 = {"rule": "sphere", "scale": 2.0, "seed": 0}
    P = build_problem(prob)
    x1 = _x0(RunSpec("smm", prob, None, x0, 1, ("const", 1.0), ("const", 1.0), {}), P, 0)
    Delta = float(P.f(x1) - P.f_inf)

    def params(T):                                   # Theorem 2: beta = T^-1/2, eta = sqrt(Delta/L_inf) T^-3/4
        return math.sqrt(Delta / P.L_inf) * T ** -0.75, T ** -0.5

    def spec(T, Tpar):
        eta, beta = params(Tpar)
        return RunSpec("smm", prob, None, x0, int(T), ("const", eta), ("const", beta), {}, extract="mean",
                       curve="l1", label=f"smm linf T={T} params at T={Tpar}")

    def sign_spec(T):
        return RunSpec("signsgd", prob, None, x0, int(T), ("const", params(T)[0]), None, {}, extract="mean",
                       curve="l1", label=f"signsgd linf T={T}")

    arrs = ctx.runs([spec(T, T) for T in grid] + [spec(T, grid[0]) for T in grid] + [sign_spec(T) for T in grid],
                    S, desc="S003-T2")
    m = len(grid)
    Y = np.stack([a["mean"] for a in arrs[:m]], axis=1)
    Yc = np.stack([a["mean"] for a in arrs[m:2 * m]], axis=1)
    Ys = np.stack([a["mean"] for a in arrs[2 * m:]], axis=1)
    res = rates.rate_rule(grid, rates.mean_stat(Y), S, 0.25, TOL_WINDOW)
    rc = rates.rate_rule(grid, rates.mean_stat(Yc), S, 0.25, TOL_WINDOW)
    rs = rates.rate_rule(grid, rates.mean_stat(Ys), S, 0.25, TOL_WINDOW)
    sigma_1 = float(np.sum(P.sigma_vec))
    bound = np.array([smm_linf_bound(Delta, P.L_inf, sigma_1, int(T), *params(T)) for T in grid])
    mean, se = Y.mean(axis=0), Y.std(axis=0, ddof=1) / math.sqrt(S)
    b_verdict = FAIL if np.any(mean - 3 * se > bound) else (PASS if np.all(mean + 3 * se <= bound) else INCONCLUSIVE)
    measured = {**_rule_measured(res), "threshold": res.threshold,
                "bound / measured (min over T)": round(float(np.min(bound / mean)), 3),
                "bound verdict": b_verdict, "Delta": Delta, "L_inf": P.L_inf, "sigma_1": sigma_1}
    plots = _fixed_plot(ctx, "S003-T2", grid, rates.mean_stat(Y), S, res.fits["all"], 0.25, "A_1 (d = 16)",
                        controls=[("beta, eta constant", rates.mean_stat(Yc))], ylabel="A_1", xlabel="T")
    return Outcome("S003-T2", rates.combine_verdicts([res.verdict, b_verdict]), measured=measured,
                   stated={"exponent": 0.25, "bound": "Delta/(eta T) + L_inf eta/2 + 2||sigma||_1 sqrt(beta) "
                                                      "+ 2||sigma||_1/(beta T) + 2 L_inf eta/beta"},
                   controls=[_control("constant", "beta, eta fixed at their T_min values", rc),
                             _control("signSGD", "signSGD (no momentum) with the same eta", rs)], plots=plots,
                   rule=f"A_1 slope in T <= -1/4 + {TOL_WINDOW} (grid and upper half) and A_1 <= the reconstructed "
                        "bound at every T (seed mean +- 3 standard errors)",
                   notes="separable quadratic d = 16 (separable smooth, so l_inf-smooth with L_inf = ||h||_1 by "
                         "Lemma 1; zero-mean skewed noise, sigma_j = 1/sqrt(d)), ||x_1|| = 2, a separate run per T")


def _s003_t5(ctx) -> Outcome:
    from eftheory.derivations.sign import mvsm_v2_params

    S = _n_seeds(ctx)
    d, n = 16, 4
    grid = rates.log_grid(100, d ** 3, 6)      # T <= d^3: the branch with rate T^-1/4 (no T^-1/5 point on the grid)
    # G of A9 on the region the iterates visit: ||x||_inf <= 1.25 (x_1 on the sphere of radius 2 has
    # ||x_1||_inf = 1.01; zero clipped coordinates measured for T in [100, 4096]), G = 4.53. The default box 4
    # (G = 9.67) is also a valid constant but 2.1x the needed one: it multiplies the bound's 2 G Delta/(eta T)
    # term and keeps the run in its transient on the grid (measured slope -0.180 there).
    box = 1.25
    prob = {"kind": "sign-hetero", "d": d, "n": n, "seed": 0, "box": box}

    G = float(build_problem(prob).G)
    own = {k: v for k, v in prob.items() if k != "box"}       # the problem's own box and its G
    G_own = float(build_problem(own).G)

    def spec(T, Tpar, p=prob, g=G):
        eta, beta = mvsm_v2_params(d, int(Tpar))
        return RunSpec("mvsm-v2", p, None, {"rule": "sphere", "scale": 2.0, "seed": 0}, int(T),
                       ("const", eta), ("const", beta), {"G": g}, extract="mean",
                       label=f"mvsm-v2 T={T} params at {Tpar} G={g:.3g}")

    m = len(grid)
    arrs = ctx.runs([spec(T, T) for T in grid] + [spec(T, grid[0]) for T in grid]
                    + [spec(T, T, own, G_own) for T in grid], S, desc="S003-T5")
    Y = np.stack([a["mean"] for a in arrs[:m]], axis=1)
    Yc = np.stack([a["mean"] for a in arrs[m:2 * m]], axis=1)
    Yo = np.stack([a["mean"] for a in arrs[2 * m:]], axis=1)
    res = rates.rate_rule(grid, rates.mean_stat(Y), S, 0.25, TOL_WINDOW)
    rc = rates.rate_rule(grid, rates.mean_stat(Yc), S, 0.25, TOL_WINDOW)
    ro = rates.rate_rule(grid, rates.mean_stat(Yo), S, 0.25, TOL_WINDOW)
    plots = _fixed_plot(ctx, "S003-T5", grid, rates.mean_stat(Y), S, res.fits["all"], 0.25, "A_2",
                        controls=[("eta, beta constant", rates.mean_stat(Yc))], ylabel="A_2", xlabel="T")
    measured = {**_rule_measured(res), "threshold": res.threshold, "G (box 1.25, the verdict's)": G,
                **_rule_measured(ro, prefix=f"reported: slope with the problem's own G = {G_own:.3g}"),
                "reported: rule verdict with the problem's own G": ro.verdict}
    return Outcome("S003-T5", res.verdict, measured=measured,
                   stated={"exponent": 0.25, "branch": "T <= d^3"},
                   controls=[_control("constant", "eta, beta fixed at their T_min values", rc)], plots=plots,
                   rule=res.rule,
                   notes=(f"d = {d}, n = {n} heterogeneous nodes (zero-sum linear shifts, uniform noise), "
                          f"G = {G:.3f} (sup of ||grad f_j(x; xi)||_inf on ||x||_inf <= {box}, the region the "
                          "iterates visit), x_1 at distance 2 from x*, a separate run per T, "
                          "eta = min{(dT)^-1/2, d^-1/5 T^-3/5}, beta = (d eta^2)^(1/3); the grid stays in T <= d^3 "
                          "= 4096, where the stated exponent is 1/4 (the T^-1/5 branch begins beyond the grid)"))


def _majority_vote_hypothesis(spec: RunSpec, eta: float, beta: float, T: int = 200) -> dict:
    """The hypothesis of Theorem 3 along a run of the theorem's method (the reference, n = max, 4 seeds):
    the server broadcasts the one-bit vote s_t = sign(sum_j S_G(v_t^j)), so s_t is in {-1, 0, 1}^d,
    equals the sign of the recorded mean message u_t, and x_{t+1} = x_t - eta s_t."""
    import algorithms

    prob = build_problem(spec.problem)
    worst = 0.0
    for seed in range(4):
        x0 = _x0(spec, prob, seed)
        r = algorithms.run("mvsm-v1", prob, None, x0, T, stepsize=eta, momentum=beta, seed=seed,
                           **spec.options)
        s, u = np.asarray(r.diagnostics["direction"]), np.asarray(r.diagnostics["u"])
        worst = max(worst, float(np.max(np.abs(s - np.sign(u)))),
                    float(np.max(np.abs(np.diff(r.x, axis=0) + eta * s))) / eta)
    return {"holds": bool(worst <= 1e-12), "max deviation (units of eta / of a sign)": worst}


def _s003_v1(claim_id):
    """MVSM v1: the n^-1/2 floor is a bound artefact; check measured <= reconstructed bound and A_1 decreasing in n."""

    def run(ctx) -> Outcome:
        from eftheory.derivations.sign import mvsm_v1_bound

        S = _n_seeds(ctx)
        d = 16
        ns = [1, 4, 16]
        grid = rates.log_grid(100, ctx.pick(3000, 10_000), 4)
        beta = 0.5

        def eta_of(T):
            return T ** -0.5 if claim_id == "S003-T3" else (d * T) ** -0.5

        def spec(n, T, shared=False):
            prob = {"kind": "sign-hetero", "d": d, "n": n, "seed": 0}
            G = float(build_problem(prob).G)
            opts = {"G": G, **({"shared_draw": True} if shared else {})}
            return RunSpec("mvsm-v1", prob, None, {"rule": "sphere", "scale": 2.0, "seed": 0}, int(T),
                           ("const", eta_of(T)), ("const", beta), opts, extract="mean", curve="l1",
                           label=f"mvsm-v1 n={n} T={T}" + (" shared S_G draw" if shared else ""))

        specs = [spec(n, T) for n in ns for T in grid]
        shared_specs = [spec(n, T, True) for n in ns for T in grid]
        arrs_all = ctx.runs(specs + shared_specs, S, desc=claim_id)
        arrs, arrs_shared = arrs_all[:len(specs)], arrs_all[len(specs):]
        m = len(grid)
        bound_ok, floorless_ok = True, True
        rows = {}
        last = []
        for i, n in enumerate(ns):
            p = build_problem({"kind": "sign-hetero", "d": d, "n": n, "seed": 0})
            x0 = _x0(specs[i * m], p, 0)
            Delta = p.f(x0) - p.f_inf
            Y = np.stack([a["mean"] for a in arrs[i * m:(i + 1) * m]], axis=1)
            last.append(Y[:, -1])
            meas = Y.mean(0)
            bnd = np.array([mvsm_v1_bound(Delta, p.L, p.sigma, p.G, d, n, int(T), eta_of(T), beta) for T in grid])
            floor = 2 * d * p.G / math.sqrt(n)
            bound_ok &= bool(np.all(meas <= bnd))
            floorless_ok &= bool(np.all(meas <= bnd - floor))
            rows[f"n={n}"] = {"A_1": [round(float(v), 4) for v in meas], "bound": [round(float(v), 3) for v in bnd],
                              "floor 2dG/sqrt(n)": round(floor, 3)}
        nres = rates.bootstrap_fit(np.array(ns, float), rates.mean_stat(np.stack(last, axis=1)), S)
        mono = rates.threshold_verdict(nres, 0.0)       # slope in n < 0 claimed (A_1 improves with n)
        hyp = _majority_vote_hypothesis(specs[-1], eta_of(grid[0]), beta)
        verdict = rates.combine_verdicts([PASS if bound_ok else FAIL, mono, PASS if hyp["holds"] else FAIL])
        ctrl = ControlOutcome("bound-without-floor", "the same bound check with the 2dG/sqrt(n) term removed",
                              PASS if floorless_ok else FAIL, {"held": floorless_ok}, rejected=not floorless_ok)
        # the n-part: nodes that share one S_G draw per step average no sign randomness away
        s_last, s_ok = [], True
        for i, n in enumerate(ns):
            p = build_problem({"kind": "sign-hetero", "d": d, "n": n, "seed": 0})
            Delta = p.f(_x0(specs[i * m], p, 0)) - p.f_inf
            Ys = np.stack([a["mean"] for a in arrs_shared[i * m:(i + 1) * m]], axis=1)
            s_last.append(Ys[:, -1])
            bnd = np.array([mvsm_v1_bound(Delta, p.L, p.sigma, p.G, d, n, int(T), eta_of(T), beta) for T in grid])
            s_ok &= bool(np.all(Ys.mean(0) <= bnd))
        sres = rates.bootstrap_fit(np.array(ns, float), rates.mean_stat(np.stack(s_last, axis=1)), S)
        s_verdict = rates.combine_verdicts([PASS if s_ok else FAIL, rates.threshold_verdict(sres, 0.0)])
        shared_ctrl = ControlOutcome("shared S_G draw", "every node's S_G uses one draw per step (the vote "
                                     "averages nothing away), under the same rule", s_verdict,
                                     {"n-exponent of A_1 at T_max": _fit(sres), "bound holds": s_ok},
                                     rejected=s_verdict == FAIL)
        measured = {"A_1 vs reconstructed bound": rows, "n-exponent of A_1 at T_max (reported)": _fit(nres),
                    "bound holds": bound_ok, "hypothesis: one-bit majority vote": hyp}
        return Outcome(claim_id, verdict, measured=measured, stated={"exponent": 0.5, "n_floor_exponent": -0.5},
                       controls=[ctrl, shared_ctrl],
                       rule="measured A_1 <= reconstructed bound at every (n, T); A_1 decreases in n (CI of "
                            "the n-slope below 0); the server's step is the one-bit vote (hypothesis, asserted "
                            "along reference runs)",
                       notes=("the n-part is discriminated: with one S_G draw shared by all nodes (the vote "
                              "averages no sign noise away) A_1 no longer falls with n, and that control is "
                              "rejected. The T^-1/2 part is not: the bound's floor 2dG/sqrt(n) alone exceeds "
                              "A_1 more than 10x, the floor-free bound holds too (its control is not rejected), "
                              "and A_1 falls like T^-0.18 ... T^-0.28 on the grid, not T^-1/2 -- so the verdict "
                              "is at most INCONCLUSIVE. beta = 1/2, "
                              + ("eta = T^-1/2" if claim_id == "S003-T3" else "eta = (dT)^-1/2")))

    return run


# ----------------------------------------------------------------------------- registry

# cost: the quick tier's measured seconds on one core (it orders the work of `verify --jobs N`)
CLAIMS = [claim(cid, _s000(cid), rule="window slope <= -r + 0.04 on grid and upper half",
                controls=("constant step / wrong schedule / unnormalized method",),
                cost=40.0 if cid == "S000-T2" else 20.0)
          for cid in _S000]
CLAIMS += [
    claim("S004-T1", _s004_t1, rule="m_1 slope <= -1/2 + 0.08 (post-transient grid and upper half)",
          controls=("constant gamma",), cost=40.0),
    claim("S001-T2", _s001_t2, rule="slope <= -1/4 + 0.04 (grid and upper half)", controls=("gamma independent of K",),
          cost=190.0),
    claim("S001-EQ5", _s001_eq5, rule="measured <= evaluated bound with its sigma/sqrt(n) term, for every n",
          controls=("noise shared by all clients",), cost=30.0),
    claim("S002-C2", _s002("S002-C2", 0.0), rule="m_sq slope <= -1/2 + 0.08", controls=("eta constant",),
          problem="identical-data separable quadratic, n = 4", schedule="eta = 0.5 sqrt(n/T)", cost=40.0),
    claim("S002-C3", _s002("S002-C3", 0.5), rule="m_sq slope <= -1/2 + 0.08", controls=("eta constant",),
          problem="identical-data separable quadratic, n = 4", schedule="eta = 0.5 sqrt(n/T), mu = 0.5", cost=45.0),
    claim("S003-T1", _s003_t1, problem="separable quadratic, d in {4, 16, 64, 256}",
          rule="A_1 slope <= -1/4 + 0.04; d-exponent in [0.4, 0.6]", controls=("beta, eta constant",), cost=55.0),
    claim("S003-T2", _s003_t2, problem="separable quadratic, d = 16",
          schedule="beta = T^-1/2, eta = sqrt(Delta/L_inf) T^-3/4",
          rule="A_1 slope <= -1/4 + 0.04; A_1 <= reconstructed bound", controls=("beta, eta constant",), cost=6.0),
    claim("S003-T3", _s003_v1("S003-T3"), problem="heterogeneous sign problem, d = 16, n in {1, 4, 16}",
          schedule="beta = 1/2, eta = T^-1/2", rule="A_1 <= reconstructed bound; A_1 decreasing in n",
          controls=("bound without its floor term",), cost=8.0),
    claim("S003-T4", _s003_v1("S003-T4"), problem="heterogeneous sign problem, d = 16, n in {1, 4, 16}",
          schedule="beta = 1/2, eta = (dT)^-1/2", rule="A_1 <= reconstructed bound; A_1 decreasing in n",
          controls=("bound without its floor term",), cost=8.0),
    claim("S003-T5", _s003_t5, problem="heterogeneous sign problem, d = 16, n = 4",
          schedule="eta = min{(dT)^-1/2, d^-1/5 T^-3/5}, beta = (d eta^2)^(1/3)", rule="A_2 slope <= -1/4 + 0.04",
          controls=("eta, beta constant",), cost=7.0),
]
