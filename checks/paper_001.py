r"""Claims of [001] (‖EF21-SGDM‖, Khirirat et al., arXiv:2410.16871).

* ``S001-L7``, ``S001-L8``, ``S001-L9`` (P) -- the descent lemma with the momentum split, the
  per-client error recursion and the averaged momentum error (Monte Carlo).
* ``S001-T3`` (B) -- single node, constant step gamma = 1/(beta c1). Errata recorded in its
  ``measured`` dict: 17 (the rho < 1 claim at beta = 2) and 18 (the direction of 1/C_alpha vs 1/alpha).
* ``S001-T2``, ``S001-EQ5`` (S) -- the K^(-1/4) rate and the sigma/sqrt(n) term of eq. (5).

Verdict rules and helpers: :mod:`checks.verdicts`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from eftheory import compressors, rates, schedules
from eftheory.derivations.sgdm import theorem2_schedule

from .catalog import claim
from .claim import FAIL, PASS, ControlOutcome, Outcome
from .instances import _logistic, _mutated_memory, _normalized_compressed_gd, _poly, _q_problem, _run, cached_problem
from .simulate import X0, RunSpec
from .verdicts import (PEP_NOT_EXPRESSIBLE, RULE_B, RULE_P, _columns, _control, _fixed_plot, _merge, _n_seeds, _plot,
                       _rule_measured, _slack, _tight_rule, control, finish, ineq_figures, seeded)

__all__ = ["CLAIMS", "theorem2_identity_bound"]


def _sgdm_runs(ctx):
    from eftheory.compressors import TopK

    K = ctx.pick(200, 800)
    out = []
    lg = _logistic()
    pb = _poly(4.0)
    for s in range(ctx.pick(1, 3)):
        x0 = seeded("sgdm-runs", s).standard_normal(10)
        out.append(("logistic", lg, 0.1, _run("ef21-sgdm-norm", lg, TopK(1), x0, K, stepsize=0.3, momentum=0.2,
                                              record_clients=True)))
        x0 = 20.0 + seeded("sgdm-runs-p", s).standard_normal(4)
        out.append(("polynomial", pb, 0.25, _run("ef21-sgdm-norm", pb, TopK(1), x0, K, stepsize=0.05, momentum=0.2,
                                                 record_clients=True)))
    return out


def _s001_l7(ctx):
    from eftheory.lyapunov import descent_split

    t0 = time.perf_counter()
    figs, cfigs = {}, {}
    from eftheory.compressors import TopK
    pb = _poly(4.0)
    extra = [("polynomial", pb, 0.25, _run("ef21-sgdm-norm", pb, TopK(1), 20.0 + seeded("S001-L7").standard_normal(4),
                                           ctx.pick(200, 800), stepsize=0.3, momentum=1.0, init="gradient",
                                           record_clients=True))]
    for i, (label, prob, alpha, res) in enumerate(_sgdm_runs(ctx) + extra):
        q = descent_split(res, prob)
        figs[f"{label} {i}"] = ineq_figures(q.lhs, q.rhs)
        if label == "polynomial":
            c = descent_split(res, prob, L1=0.0)
            cfigs[f"{label} {i}"] = ineq_figures(c.lhs, c.rhs)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("L1 = 0", "the generalized-smoothness term dropped (L1 = 0) on the polynomial runs", cm["holds"],
                  {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    return finish("S001-L7", t0, m["holds"], {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"]},
                  "descent with ||grad f - g|| split as ||grad f - v|| + ||v - g||", [ctl], RULE_P,
                  "normalized EF21-SGDM (eta = 0.2, and eta = 1 on the polynomial), Top-1, exact gradients")


def _s001_l8(ctx):
    from eftheory.compressors import TopK
    from eftheory.lyapunov import momentum_error_recursion

    t0 = time.perf_counter()
    figs, cfigs = {}, {}
    for i, (label, prob, alpha, res) in enumerate(_sgdm_runs(ctx)):
        q = momentum_error_recursion(res, prob, alpha)
        figs[f"{label} {i}"] = ineq_figures(q.lhs, q.rhs)
        c = momentum_error_recursion(_mutated_memory(res, prob, TopK(1), target="v"), prob, alpha)
        cfigs[f"{label} {i}"] = ineq_figures(c.lhs, c.rhs)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("dropped error buffer", "memories g_i^k = C(v_i^k) (no error feedback) on the same trajectories",
                  cm["holds"], {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    return finish("S001-L8", t0, m["holds"], {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"]},
                  "||v_i+ - g_i+|| <= s||v_i - g_i|| + s eta (||v_i - grad f_i|| + sigma + e^{L1g} g (L0 + L1||grad f_i||))",
                  [ctl], RULE_P + " (sigma = 0: exact gradients, pathwise)")


def _mc_sgdm(ctx, prob, gamma, eta, seeds, K, label):
    from eftheory.compressors import TopK

    x0 = np.asarray(prob.x_star) + 3.0 * seeded("mc-sgdm", label).standard_normal(prob.dim) / math.sqrt(prob.dim)
    rs = [_run("ef21-sgdm-norm", prob, TopK(2), x0, K, stepsize=gamma, momentum=eta, seed=s) for s in range(seeds)]
    E = np.array([r.diagnostics["err_v_grad"] for r in rs])
    G = np.array([r.diagnostics["mean_grad_i_norm"] for r in rs])
    return E, G


def _s001_l9(ctx):
    t0 = time.perf_counter()
    prob = _q_problem()
    L0, L1, sigma = float(prob.L0), float(prob.L1), float(prob.sigma)
    seeds, K = ctx.pick(24, 96), ctx.pick(150, 400)
    z = 3.0

    def check(gamma, eta, with_noise=True):
        E, G = _mc_sgdm(ctx, prob, gamma, eta, seeds, K, f"{gamma}-{eta}")
        mean, se = E.mean(0), E.std(0, ddof=1) / math.sqrt(seeds)
        rhs = (1 - eta) * (mean[:-1] + z * se[:-1]) + math.exp(L1 * gamma) * gamma * (L0 + L1 * G.mean(0)[:-1]) \
            + (eta * sigma if with_noise else 0.0)
        return ineq_figures(mean[1:] - z * se[1:], rhs)

    figs = {f"gamma={g},eta={e}": check(g, e) for g, e in ((0.01, 0.1), (0.05, 0.3), (0.001, 0.5))}
    m = _merge(figs)
    cf = check(0.001, 0.5, with_noise=False)
    ctl = control("no noise term", "the recursion without its eta*sigma term (gamma = 0.001, eta = 0.5)",
                  cf["holds"], cf)
    return finish("S001-L9", t0, m["holds"], {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"], "seeds": seeds,
                                              "sigma": sigma, "confidence_z": z},
                  "E||v_i+ - grad f_i+|| <= (1-eta) E||v_i - grad f_i|| + e^{L1g} g (L0 + L1 E||grad f_i||) + eta sigma "
                  "(client average, per-client one-step form)", [ctl],
                  "PASS iff the lower 3-se end of the left side stays below the right side at every step",
                  "reconstructed form; problem Q (L1 = 0, sigma the bound on the box), Top-2, Monte Carlo over seeds")


# ----------------------------------------------------------------------------- 001 Theorem 3

def _s001_t3(ctx):
    from eftheory.compressors import TopK
    from eftheory.derivations import normalized as nz
    from eftheory.derivations import sgdm

    t0 = time.perf_counter()
    prob = _poly(4.0)
    C = TopK(1)
    a = C.alpha(prob.dim)
    K = ctx.pick(6000, 20000)
    meas, ok, cm = {}, True, {}
    for beta in (2.0, 3.0):
        rho = sgdm.theorem3_rho(beta, a)
        if rho >= 1:
            meas[f"beta={beta}"] = {"skipped": f"rho = {rho:.3f} >= 1"}
            continue
        gamma = 1.0 / (beta * nz.c1(prob.L1, a))
        x0 = 20.0 + seeded("S001-T3").standard_normal(4)
        r = _run("ef21-norm", prob, C, x0, K, stepsize=gamma)
        gn = np.asarray(r.grad_norm)[:K]
        avg = np.cumsum(gn) / np.arange(1, K + 1)
        V0 = nz.lyapunov_v0(prob.f(x0), float(r.diagnostics["err_grad_g"][0]), gamma, 0, a)
        Ks = np.unique(np.geomspace(1, K, 25).astype(int)) - 1
        bound = np.array([sgdm.theorem3_bound(V0, prob.L0, prob.L1, a, beta, int(k)) for k in Ks])
        f = _slack(avg[Ks], bound)
        ok &= f["holds"]
        floor = nz.c0(prob.L0, a) * math.exp(prob.L1 * gamma) * gamma / (1 - rho)
        meas[f"beta={beta}"] = {"rho": rho, "min_bound_over_measured": f["min_bound_over_measured"],
                                "final_average": float(avg[-1]), "floor": floor}
        # control: the same run without error feedback (same gamma, x0), under the same bound
        cgn = _normalized_compressed_gd(prob, C, x0, K, gamma)
        cavg = np.cumsum(cgn) / np.arange(1, K + 1)
        cm[f"beta={beta}"] = {**_slack(cavg[Ks], bound), "final_average": float(cavg[-1])}
    rho21 = sgdm.theorem3_rho(2.0, 1.0)
    grid = np.linspace(0.01, 1.0, 100)
    ca = np.array([sgdm.c_alpha(g) for g in grid])
    meas["erratum_17"] = {"rho_at_beta2_alpha1": rho21, "claimed_at_most": 0.7, "shown": bool(rho21 > 0.7),
                          "rho_at_beta2_alpha0.25": sgdm.theorem3_rho(2.0, 0.25)}
    meas["erratum_18"] = {"1/C_alpha <= 1/alpha on (0,1]": bool(np.all(1 / ca <= 1 / grid + 1e-12)),
                          "1/alpha <= 1/C_alpha <= 2/alpha": bool(np.all((1 / grid <= 1 / ca + 1e-12) & (1 / ca <= 2 / grid + 1e-12)))}
    meas["pep_not_expressible"] = PEP_NOT_EXPRESSIBLE["S001-T3"]
    ctl = control("no error feedback", "normalized compressed gradient descent x <- x - gamma C(grad f(x))/"
                  "||C(grad f(x))|| (normalized EF21 without its memory), the same gamma = 1/(beta c1) and x0, under "
                  "the same bound", all(c["holds"] for c in cm.values()),
                  {k: {"min_bound_over_measured": c["min_bound_over_measured"], "final_average": c["final_average"]}
                   for k, c in cm.items()})
    notes = ("polynomial d = 4, L1 = 4, Top-1 (alpha = 1/4), gamma = 1/(beta c1); the case beta = 2, alpha = 1 "
             "has rho >= 1 and is skipped (the bound is void there)")
    return finish("S001-T3", t0, ok, meas, "avg_k ||grad f(x^k)|| <= V0/(gamma(1-rho)(K+1)) + c0 e^{L1g} g/(1-rho)",
                  [ctl], RULE_B, notes)


# ----------------------------------------------------------------------------- S001-T2 and S001-EQ5

def _s001_spec(prob, K, gamma, eta, label):
    return RunSpec("ef21-sgdm-norm", prob, compressors.TopK(2), X0("around_opt", scale=3.0, seed=0), int(K),
                   schedules.constant(gamma), schedules.constant(eta, name="momentum"), {"init": "zero"},
                   extract="mean", label=label)


def _s001_t2(ctx) -> Outcome:
    S = _n_seeds(ctx)
    # the quick tier spans the full tier's range with fewer points: on [1e3, 1e4] alone the gamma-fixed
    # control has not yet left the K^(-1/4) line (upper-half slope -0.228 [-0.234, -0.222])
    grid = ctx.pick(rates.log_grid(1000, 100_000, 4), rates.log_grid(1000, 100_000, 5))
    # problem Q with additive noise eps_std = 3 (sigma dominated by the noise): there normalized EF21-SGD without
    # momentum stalls at a noise floor (slope -0.166 over K = 1e3..1.6e4, 16 seeds), while on the default
    # eps_std = 1/sqrt(d) it decays at the same K^-1/4 (slope -0.248: the control would not be rejected)
    from eftheory.problems import problem_q

    prob = cached_problem(problem_q, seed=0, eps_std=3.0)
    main = [_s001_spec(prob, K, *theorem2_schedule(1.0, K), f"S001-T2 K={K}") for K in grid]
    gamma_fixed = theorem2_schedule(1.0, grid[0])[0]
    ctrl = [_s001_spec(prob, K, gamma_fixed, theorem2_schedule(1.0, K)[1], f"S001-T2 control K={K}") for K in grid]
    no_mom = [_s001_spec(prob, K, theorem2_schedule(1.0, K)[0], 1.0, f"S001-T2 eta=1 K={K}") for K in grid]
    arrs = ctx.runs(main + ctrl + no_mom, S, desc="S001-T2")
    Y, Yc, Yn = _columns(arrs, "mean_all", 3)
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


CLAIMS = [
    claim("S001-L7", _s001_l7, controls=("L1 = 0",), cost=1.0),
    claim("S001-L8", _s001_l8, controls=("dropped error buffer",), cost=1.0),
    claim("S001-L9", _s001_l9, controls=("no noise term",), cost=4.0),
    claim("S001-T3", _s001_t3, rule=RULE_B, controls=("no error feedback",), cost=3.0),
    claim("S001-T2", _s001_t2, rule="slope <= -1/4 + 0.04 (grid and upper half)", controls=("gamma independent of K",),
          cost=190.0),
    claim("S001-EQ5", _s001_eq5, rule="measured <= evaluated bound with its sigma/sqrt(n) term, for every n",
          controls=("noise shared by all clients",), cost=30.0),
]
