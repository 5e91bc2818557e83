r"""Kind-P claims: pointwise and pathwise inequalities, checked by the property functions of the core.

Every check calls the one implementation of its inequality in :mod:`eftheory.compressors`,
:mod:`eftheory.assumptions` or :mod:`eftheory.lyapunov` (no second copy here) and reports the
smallest slack ``rhs - lhs`` (or the largest ratio ``lhs / rhs``) it found. Verdict rule: PASS iff
no inequality is violated beyond a floating-point tolerance (``TOL`` relative to the scale of
the two sides); FAIL otherwise, with the figures. Each claim runs negative controls -- a wrong
constant, a mutated state, a dropped factor -- that the same rule must reject.

Errata of the sources that concern these claims are measured and recorded in the claim's
``measured`` dict (keys ``erratum_<item>``): 13 (S004-L7 without its exponential factors),
20 (E-POLY: curvature at |x| = 1 is zero), 21 (S002-AL2: printed Lemma-2 constant).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .catalog import claim
from .claim import FAIL, PASS, ControlOutcome, Outcome

__all__ = ["CLAIMS", "TOL", "ineq_figures", "control", "finish", "seeded"]

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


def _contraction_control(name, description, compressor, V):
    """Negative control: the contraction inequality with a compressor that states a too-large alpha."""
    from eftheory.compressors import contraction_ratio

    obs, stated = contraction_ratio(compressor, V)
    cf = ineq_figures(obs, np.full_like(obs, stated))
    return control(name, description, cf["holds"], cf)


def _c_topk(ctx):
    from eftheory.compressors import TopK, contraction_ratio

    t0 = time.perf_counter()
    rng = seeded("C-TOPK")
    count = ctx.pick(40, 400)
    figs, eq_gap = {}, 0.0
    for d in (1, 2, 5, 16, 64):
        V = _vectors(rng, d, count)
        for k in sorted({1, max(1, d // 4), d}):
            obs, stated = contraction_ratio(TopK(k), V)
            figs[f"d={d},K={k}"] = ineq_figures(obs, np.full_like(obs, stated))
            e = np.ones(d)
            eq_gap = max(eq_gap, abs(contraction_ratio(TopK(k), e).observed - stated))
    m = _merge(figs)
    ok = m["holds"] and eq_gap <= 1e-12
    measured = {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"], "tightness_gap_equal_magnitudes": eq_gap}

    class WrongAlpha(TopK):          # claims one more kept coordinate than it keeps
        def alpha(self, d):
            return min(1.0, (self.k + 1) / d)

    ctl = _contraction_control("alpha=(K+1)/d", "Top-2 on d = 8 with the stated constant alpha = 3/8 instead of 2/8",
                               WrongAlpha(2), _vectors(rng, 8, count))
    return finish("C-TOPK", t0, ok, measured, {"ratio_max": "1 - K/d", "equality": "equal magnitudes"}, [ctl],
                  RULE_P + "; equality at equal magnitudes within 1e-12")


def _c_randk(ctx):
    from eftheory.compressors import RandK, ScaledRandK, enumerate_randk_moments

    t0 = time.perf_counter()
    rng = seeded("C-RANDK")
    worst_mean, worst_err = 0.0, 0.0
    for d, k in ((3, 1), (5, 2), (8, 3), (10, 5)) + (((12, 4), (14, 7)) if ctx.full else ()):
        for v in _vectors(rng, d, 2)[[0, 2, 4, 6]]:
            for C in (RandK(k), ScaledRandK(k)):
                mom = enumerate_randk_moments(C, v)
                sc = float(np.max(np.abs(v)))
                worst_mean = max(worst_mean, float(np.max(np.abs(mom["mean"].observed - mom["mean"].stated))) / sc)
                worst_err = max(worst_err, abs(mom["error"].observed - mom["error"].stated) / (sc * sc * d))
    ok = worst_mean <= 1e-12 and worst_err <= 1e-12
    measured = {"max_rel_mean_residual": worst_mean, "max_rel_error_residual": worst_err,
                "method": "exact enumeration of all C(d,K) masks"}

    from eftheory.compressors import TopK

    class TopKAsRandK(RandK):        # a mutant selection rule: always the largest entries
        def _apply(self, v, u):
            return TopK(self.k)._apply(v, u)

    v = np.array([3.0, -1.0, 0.5, 2.0, -4.0])
    mom = enumerate_randk_moments(TopKAsRandK(2), v)
    res = float(np.max(np.abs(mom["mean"].observed - mom["mean"].stated))) / 4.0
    ctl = control("biased selection", "Top-K selection passed off as Rand-K (mean K/d v fails)", res <= 1e-12,
                  {"max_rel_mean_residual": res})
    return finish("C-RANDK", t0, ok, measured, {"RandK": "E C(v) = (K/d) v, E||C(v)-v||^2 = (1-K/d)||v||^2",
                                                 "ScaledRandK": "E Q(v) = v, E||Q(v)-v||^2 = (d/K-1)||v||^2"},
                  [ctl], "PASS iff exact moments equal the stated ones within 1e-12 (relative)")


def _c_ssign(ctx):
    from eftheory.compressors import ScaledSign, contraction_ratio, scaled_sign_error

    t0 = time.perf_counter()
    rng = seeded("C-SSIGN")
    count = ctx.pick(40, 400)
    closed_res, lhs, rhs, eq_nz = 0.0, [], [], 0.0
    for d in (1, 3, 10, 50):
        for v in _vectors(rng, d, count // 5 + 1):
            e = scaled_sign_error(v)
            sc = e["norm_sq"].observed
            closed_res = max(closed_res, abs(e["error"].observed - e["error"].stated) / sc)
            lhs.append(e["bound"].observed / sc)
            rhs.append(e["bound"].stated / sc)
            if np.all(v != 0):
                eq_nz = max(eq_nz, abs(e["bound"].observed - e["bound"].stated) / sc)
    f_bound = ineq_figures(lhs, rhs)
    f_alpha = {}                     # alpha >= 1/d, per dimension
    rng2 = seeded("C-SSIGN", "alpha")
    for d in (1, 3, 10, 50):
        obs, stated = contraction_ratio(ScaledSign(), _vectors(rng2, d, count))
        f_alpha[f"d={d}"] = ineq_figures(obs, np.full_like(obs, stated))
    fa = _merge(f_alpha)
    ok = f_bound["holds"] and fa["holds"] and closed_res <= 1e-10 and eq_nz <= 1e-10
    measured = {"max_rel_closed_form_residual": closed_res, "bound_min_slack": f_bound["min_slack"],
                "bound_max_ratio": f_bound["max_ratio"], "equality_residual_no_zero_entries": eq_nz,
                "alpha_1_over_d_min_slack": fa["min_slack"], "alpha_1_over_d_max_ratio": fa["max_ratio"]}

    class Alpha2(ScaledSign):
        def alpha(self, d):
            return min(1.0, 2.0 / d)

    d = 10
    v = np.r_[1.0, np.full(d - 1, 1e-3)]
    ctl = _contraction_control("alpha=2/d", "scaled sign with the stated constant 2/d on v = (1, 1e-3, ..., 1e-3), d = 10",
                               Alpha2(), v[None, :])
    return finish("C-SSIGN", t0, ok, measured, {"bound": "||v||^2 - ||v||_1^2/d", "alpha": "1/d"}, [ctl],
                  RULE_P + "; closed form and equality (no zero entry) within 1e-10")


def _c_sr(ctx):
    from eftheory.compressors import sign_law, sign_monte_carlo

    t0 = time.perf_counter()
    rng = seeded("C-SR")
    worst = {"p_plus": 0.0, "mean": 0.0, "var": 0.0}
    mc = {"mean": 0.0, "var": 0.0}
    for R in (0.5, 1.0, 3.0):
        v = rng.uniform(-R, R, 12)
        v[0], v[1], v[2] = R, -R, 0.0
        law = sign_law(v, R, grid=ctx.pick(4096, 65536))
        res = law["resolution"].observed
        for key, tolf in (("p_plus", 1), ("mean", 2), ("var", 4)):
            worst[key] = max(worst[key], float(np.max(np.abs(law[key].observed - law[key].stated))) / (tolf * res))
        m = sign_monte_carlo(v, R, rng, samples=ctx.pick(4000, 40000))
        t = m["halfwidth"].observed
        mc["mean"] = max(mc["mean"], float(np.max(np.abs(m["mean"].observed - m["mean"].stated))) / t)
        mc["var"] = max(mc["var"], float(np.max(np.abs(m["var"].observed - m["var"].stated))) / (2 * t))
    ok = max(worst.values()) <= 1.0 and max(mc.values()) <= 1.0
    measured = {"law_max_residual_over_tolerance": worst, "mc_max_residual_over_halfwidth": mc,
                "mc_confidence": 0.999}
    # control: the law of S_{2R} checked against the stated mean v/R
    v = np.linspace(-1, 1, 9)
    law = sign_law(v, 2.0, grid=4096)
    r = float(np.max(np.abs(law["mean"].observed - v / 1.0))) / (2 * law["resolution"].observed)
    ctl = control("wrong R", "S_2 sampled, mean stated as v/1", r <= 1.0, {"max_residual_over_tolerance": r})
    return finish("C-SR", t0, ok, measured, {"mean": "v/R", "var": "1 - v_k^2/R^2"}, [ctl],
                  "PASS iff the exact law (uniform grid) is within its resolution and the Monte-Carlo moments "
                  "within the Hoeffding half-width (99.9%)")


# ============================================================================ 004 / 001 lemmas

def _pairs_points(problem, rng, count):
    from eftheory.assumptions import sample_pairs
    return sample_pairs(problem, rng, count)


def _s004_l2(ctx):
    from eftheory.assumptions import lemma2_inequalities

    t0 = time.perf_counter()
    measured, ok_all, ctl_figs = {}, True, {}
    for label, prob in (("logistic", _logistic()), ("polynomial", _poly())):
        X, Y = _pairs_points(prob, seeded("S004-L2", label), ctx.pick(45, 300))
        lhs, rhs, cl, cr = {}, {}, {}, {}
        for x, y in zip(X, Y):
            for k, c in lemma2_inequalities(prob, x, y).items():
                lhs.setdefault(k, []).append(c.observed)
                rhs.setdefault(k, []).append(c.stated)
            for k, c in lemma2_inequalities(prob, x, y, L0=0.05 * prob.L0, L1=0.05 * prob.L1).items():
                cl.setdefault(k, []).append(c.observed)
                cr.setdefault(k, []).append(c.stated)
        figs = {k: ineq_figures(lhs[k], rhs[k]) for k in lhs}
        m = _merge(figs)
        measured[label] = {k: {"min_slack": f["min_slack"], "max_ratio": f["max_ratio"]} for k, f in figs.items()}
        ok_all &= m["holds"]
        ctl_figs[label] = _merge({k: ineq_figures(cl[k], cr[k]) for k in cl})
    ctl = control("L0,L1 x 0.05", "the four inequalities with both constants scaled by 0.05",
                  all(f["holds"] for f in ctl_figs.values()),
                  {k: {"max_ratio": f["max_ratio"]} for k, f in ctl_figs.items()})
    return finish("S004-L2", t0, ok_all, measured, "(4)-(7) with e^{L1||x-y||}", [ctl], RULE_P,
                  "independent, close and far pairs at scales 0.1-100 (clipped to the problem's box)")


def _s004_l3(ctx):
    from eftheory.assumptions import lemma3_inequality, sample_points

    t0 = time.perf_counter()
    figs = {}
    for label, prob in (("logistic", _logistic()), ("polynomial", _poly()), ("polynomial L1=1", _poly(1.0))):
        rng = seeded("S004-L3", label)
        P = np.vstack([sample_points(prob, rng, ctx.pick(60, 400)),
                       sample_points(prob, rng, ctx.pick(20, 100), scales=(1e-3, 0.1))])
        cs = [lemma3_inequality(prob, x) for x in P]
        figs[label] = ineq_figures([c.observed for c in cs], [c.stated for c in cs])
    m = _merge(figs)
    prob = _poly()
    P = sample_points(prob, seeded("S004-L3", "ctl"), 30, scales=(1e-3, 0.05))
    cs = [lemma3_inequality(prob, x, L0=0.0) for x in P]
    cf = ineq_figures([c.observed for c in cs], [c.stated for c in cs])
    ctl = control("no L0/L1 term", "polynomial near its minimiser with L0 -> 0 (the L0/L1 term dropped)",
                  cf["holds"], cf)
    return finish("S004-L3", t0, m["holds"], {k: {"min_slack": f["min_slack"], "max_ratio": f["max_ratio"]}
                                              for k, f in figs.items()},
                  "mean ||grad f_i|| <= 8L1(f - mean f_i_inf) + L0/L1 (f_i_inf replaced by lower bounds 0)",
                  [ctl], RULE_P)


def _norm_runs(ctx, record=True):
    """‖EF21‖ runs with Top-1 on the two paper problems (constant and decaying steps)."""
    from eftheory.compressors import TopK

    out = []
    K = ctx.pick(200, 1000)
    lg = _logistic()
    for s in range(ctx.pick(1, 3)):
        x0 = seeded("norm-runs", "log", s).standard_normal(10)
        for g0 in (0.1, 1.0):
            out.append(("logistic", lg, 0.1, _run("ef21-norm", lg, TopK(1), x0, K, stepsize=g0,
                                                  record_clients=record), f"gamma={g0}, seed {s}"))
    for L1 in (1.0, 4.0, 8.0):
        pb = _poly(L1)
        for s in range(ctx.pick(1, 3)):
            x0 = 20.0 + seeded("norm-runs", "poly", s).standard_normal(4)
            for g in (0.01, 0.3):
                out.append((f"polynomial L1={L1:g}", pb, 0.25, _run("ef21-norm", pb, TopK(1), x0, K, stepsize=g,
                                                                     record_clients=record), f"gamma={g}, seed {s}"))
    return out


def _s004_l4(ctx):
    from eftheory.lyapunov import normalized_descent

    t0 = time.perf_counter()
    runs = _norm_runs(ctx)
    figs, cfigs, hyp = {}, {}, {}
    for label, prob, alpha, res, tag in runs:
        q = normalized_descent(res, prob)
        figs[f"{label}, {tag}"] = ineq_figures(q.lhs, q.rhs)
        hyp[f"{label}, {tag}"] = step_length_figures(res)
        if label.startswith("polynomial"):
            c = normalized_descent(res, prob, L1=0.0)
            cfigs[f"{label}, {tag}"] = ineq_figures(c.lhs, c.rhs)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("L1 = 0", "the same inequality with the generalized-smoothness term dropped (L1 = 0) on the "
                  "polynomial runs", cm["holds"], {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    h = _all_hold(hyp, "max |step/gamma - 1|")
    return finish("S004-L4", t0, m["holds"] and h["holds"],
                  {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"],
                   "steps": sum(f["entries"] for f in figs.values()),
                   "hypothesis ||x+ - x|| = gamma_k": h["holds"], "max |step/gamma - 1|": h["max |step/gamma - 1|"]},
                  "f(x+) <= f - g||grad f|| + 2g||grad f - g|| + g^2/2 e^{gL1}(L0 + L1 mean||grad f_i||)", [ctl], RULE_P,
                  "normalized EF21, Top-1, logistic (n=20, d=10) and polynomial (d=4, L1 in {1,4,8})")


def _s004_l5(ctx):
    from eftheory.lyapunov import sequence_hypothesis, sequence_lemma

    t0 = time.perf_counter()
    rng = seeded("S004-L5")
    hyp, concl, ctlc = [], [], []
    for _ in range(ctx.pick(60, 600)):
        b1, b2, b3 = rng.uniform(0.1, 5, 3)
        L1, gamma = rng.uniform(0, 3), rng.uniform(0.01, 1.0)
        e = math.exp(L1 * gamma)
        K1 = int(min(rng.integers(2, 200), 1 + 50.0 / (b1 * e * gamma ** 2)))   # keeps exp(...) finite
        V = np.empty(K1 + 1)
        W = np.empty(K1)
        V[0] = rng.uniform(0, 10) * (rng.random() < 0.8)
        for k in range(K1):          # equality in the hypothesis, W^k a random share of its largest value
            wmax = ((1 + b1 * e * gamma ** 2) * V[k] + b3 * e * gamma ** 2) / (b2 * gamma)
            W[k] = wmax * (1.0 if rng.random() < 0.3 else rng.random())
            V[k + 1] = (1 + b1 * e * gamma ** 2) * V[k] - b2 * gamma * W[k] + b3 * e * gamma ** 2
        h = sequence_hypothesis(V, W, b1=b1, b2=b2, b3=b3, L1=L1, gamma=gamma)
        hyp.append(ineq_figures(h.lhs, h.rhs)["holds"])
        c = sequence_lemma(V, W, b1=b1, b2=b2, b3=b3, L1=L1, gamma=gamma)
        concl.append((c.lhs[0], c.rhs[0]))
        if V[0] == 0 and L1 * gamma > 0.1:
            # the conclusion evaluated without its e^{L1 gamma} factors
            c0 = sequence_lemma(V, W, b1=b1, b2=b2, b3=b3, L1=0.0, gamma=gamma)
            ctlc.append((c0.lhs[0], c0.rhs[0]))
    f = ineq_figures(*zip(*concl))
    ok = all(hyp) and f["holds"]
    cf = ineq_figures(*zip(*ctlc)) if ctlc else {"holds": True, "entries": 0}
    ctl = control("no e^{L1 gamma}", "the conclusion without its exponential factors on the same sequences "
                  "(V^0 = 0 cases)", cf["holds"], cf)
    return finish("S004-L5", t0, ok, {"sequences": len(concl), "min_slack": f["min_slack"],
                                      "max_ratio": f["max_ratio"], "hypothesis_held": bool(all(hyp))},
                  "min_k W^k <= V0 exp(b1 e^{L1g} g^2 (K+1))/(b2 g (K+1)) + b3/b2 e^{L1g} g", [ctl], RULE_P,
                  "random sequences satisfying the hypothesis with equality; W^k at its largest value in 30% of steps")


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


def _s004_l6(ctx):
    from eftheory.compressors import TopK
    from eftheory.lyapunov import error_recursion

    t0 = time.perf_counter()
    figs, cfigs, msgs = {}, {}, {}
    for label, prob, alpha, res, tag in _norm_runs(ctx):
        q = error_recursion(res, prob, alpha)
        figs[f"{label}, {tag}"] = ineq_figures(q.lhs, q.rhs)
        msgs[f"{label}, {tag}"] = message_figures(res, TopK(1))
        c = error_recursion(_mutated_memory(res, prob, TopK(1)), prob, alpha)
        cfigs[f"{label}, {tag}"] = ineq_figures(c.lhs, c.rhs)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("dropped error buffer", "memories g_i^k = C(grad f_i(x^k)) (no error feedback) on the same "
                  "trajectories", cm["holds"], {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    h = _all_hold(msgs, "max |g_i+ - g_i - C(v_i+ - g_i)|")
    return finish("S004-L6", t0, m["holds"] and h["holds"],
                  {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"], "hypothesis g_i+ = g_i + C(.)": h},
                  "||grad f_i(x+) - g_i+|| <= s||grad f_i - g_i|| + s e^{L1 g} g (L0 + L1||grad f_i||), s = sqrt(1-alpha)",
                  [ctl], RULE_P, "pathwise with Top-1 and exact gradients")


def _erratum13_instance():
    """A single-node instance where the printed Lemma 7 (no e^{L1 gamma}) fails: an overshooting step from
    next to the minimiser of the polynomial with d = 1, lambda = 1, L1 = 10 (L0 = 2.045), gamma = 5."""
    from eftheory.compressors import Identity
    from eftheory.problems.polynomial import Polynomial

    pb = Polynomial(d=1, lam=1.0, L1=10.0)
    return pb, _run("ef21-norm", pb, Identity(), np.array([20.001]), 8, stepsize=5.0)


def _s004_l7(ctx):
    from eftheory.lyapunov import lyapunov_step

    t0 = time.perf_counter()
    figs, nfigs = {}, {}
    for label, prob, alpha, res, tag in _norm_runs(ctx, record=False):
        q = lyapunov_step(res, prob, alpha)
        figs[f"{label}, {tag}"] = ineq_figures(q.lhs, q.rhs)
        n = lyapunov_step(res, prob, alpha, with_exp=False)
        nfigs[f"{label}, {tag}"] = ineq_figures(n.lhs, n.rhs)
    m, nm = _merge(figs), _merge(nfigs)
    pb, res = _erratum13_instance()
    w = ineq_figures(*lyapunov_step(res, pb, 1.0))
    p = ineq_figures(*lyapunov_step(res, pb, 1.0, with_exp=False))
    ok = m["holds"] and w["holds"]
    measured = {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"],
                "erratum_13": {"printed_lemma_on_paper_runs": {"min_slack": nm["min_slack"], "violated": not nm["holds"]},
                               "printed_lemma_on_overshoot_instance": {"min_slack": p["min_slack"],
                                                                       "violated": not p["holds"]},
                               "proof_lemma_on_overshoot_instance": {"min_slack": w["min_slack"]},
                               "instance": "polynomial d=1, lambda=1, L1=10, identity compressor, gamma=5, x0=20.001"}}
    ctl = control("printed Lemma 7", "the lemma as printed (both e^{L1 gamma} factors dropped) on the overshoot "
                  "instance", p["holds"], p)
    return finish("S004-L7", t0, ok, measured, "V^{k+1} <= V^k + c1 e^{L1g} g^2 mean||grad f_i|| - g||grad f|| + c0 e^{L1g} g^2",
                  [ctl], RULE_P, "the printed form (no exponential factors) is not violated on the paper-like runs; "
                  "it is violated on the overshoot instance (erratum 13 shown there)")


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


def _q_problem():
    from eftheory.problems.quadratic import problem_q
    return problem_q(seed=0)


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


def _s000_l2(ctx):
    from eftheory.compressors import TopK
    from eftheory.lyapunov import descent_lsmooth

    t0 = time.perf_counter()
    prob = _q_problem()
    figs, cfigs, hyp = {}, {}, {}
    for name in ("ef21-sgdm-norm", "ef21-mvr-norm", "ef21-igt-norm"):
        for s in range(ctx.pick(2, 6)):
            x0 = np.asarray(prob.x_star) + 3.0 * seeded("S000-L2", s).standard_normal(prob.dim) / math.sqrt(prob.dim)
            from eftheory.schedules import polynomial
            res = _run(name, prob, TopK(2), x0, ctx.pick(200, 1000), stepsize=polynomial(1.0, 2 / 3),
                       momentum=polynomial(1.0, 2 / 3), seed=s, record_clients=True)
            q = descent_lsmooth(res, prob)
            figs[f"{name} {s}"] = ineq_figures(q.lhs, q.rhs)
            k = np.arange(res.x.shape[0] - 1, dtype=np.float64)
            hyp[f"{name} {s}"] = step_length_figures(res, (2.0 / (k + 2.0)) ** (2 / 3))   # gamma_k of the run
        x0 = np.asarray(prob.x_star) + 3.0 * seeded("S000-L2", "un").standard_normal(prob.dim) / math.sqrt(prob.dim)
        res = _run("ef21-sgdm", prob, TopK(2), x0, 100, stepsize=1.2, momentum=0.5, seed=0,
                   record_clients=True)
        c = descent_lsmooth(res, prob)
        cfigs[name] = ineq_figures(c.lhs, c.rhs)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("unnormalized", "EF21-SGDM without normalization (gamma = 1.2, eta = 0.5) under the same inequality",
                  cm["holds"],
                  {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    h = _all_hold(hyp, "max |step/gamma - 1|")
    return finish("S000-L2", t0, m["holds"] and h["holds"],
                  {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"],
                   "hypothesis ||x+ - x|| = gamma_k": h["holds"], "max |step/gamma - 1|": h["max |step/gamma - 1|"]},
                  "f(x+) <= f - g||grad f|| + 2g||grad f - g^k|| + L/2 g^2", [ctl], RULE_P,
                  "problem Q, Top-2, three momentum variants, stochastic gradients (pathwise)")


def _s000_l3(ctx):
    from eftheory.compressors import TopK
    from eftheory.lyapunov import memory_contraction
    from eftheory.schedules import polynomial

    t0 = time.perf_counter()
    prob = _q_problem()
    figs, cfigs, msgs = {}, {}, {}
    for name in ("ef21-sgdm-norm", "ef21-mvr-norm", "ef21-hm-norm", "ef21-rhm-norm", "ef21-igt-norm"):
        x0 = np.asarray(prob.x_star) + 3.0 * seeded("S000-L3", name).standard_normal(prob.dim) / math.sqrt(prob.dim)
        res = _run(name, prob, TopK(2), x0, ctx.pick(150, 800), stepsize=polynomial(1.0, 2 / 3),
                   momentum=polynomial(1.0, 2 / 3), seed=1, record_clients=True)
        q = memory_contraction(res, TopK(2).alpha(prob.dim))
        figs[name] = ineq_figures(q.lhs, q.rhs)
        msgs[name] = message_figures(res, TopK(2))
        c = memory_contraction(res, 0.9)
        cfigs[name] = ineq_figures(c.lhs, c.rhs)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("alpha = 0.9", "Top-2 on d = 10 (alpha = 0.2) checked with the constant of alpha = 0.9",
                  cm["holds"], {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    h = _all_hold(msgs, "max |g_i+ - g_i - C(v_i+ - g_i)|")
    return finish("S000-L3", t0, m["holds"] and h["holds"],
                  {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"], "hypothesis g_i+ = g_i + C(.)": h},
                  "||g_i+ - v_i+|| <= sqrt(1-alpha)(||g_i - v_i|| + ||v_i+ - v_i||)", [ctl], RULE_P,
                  "problem Q, Top-2, all five momentum variants (pathwise for a deterministic compressor)")


def _s000_l4(ctx):
    from eftheory.lyapunov import schedule_sum

    t0 = time.perf_counter()
    T = ctx.pick(20000, 200000)
    meas, ok, ctl_growth = {}, True, {}
    for p, q in ((0.75, 0.5), (5 / 7, 4 / 7), (2 / 3, 2 / 3)):
        s = schedule_sum(p, q, T)
        ratio = s.ratio
        head, tail = float(np.max(ratio[: T // 10])), float(np.max(ratio[T // 10:]))
        growth = tail / head
        ok &= growth <= 1.0 + 1e-9
        meas[f"p={p:.3f},q={q:.3f}"] = {"sup_ratio": float(np.max(ratio)), "tail_over_head": growth}
        t = np.arange(1, T + 1, dtype=np.float64)
        eta_T = (2.0 / (t + 2.0)) ** q
        r2 = ratio / eta_T            # the same sum against gamma_T alone (1/eta_T dropped)
        ctl_growth[f"p={p:.3f},q={q:.3f}"] = float(np.max(r2[T // 10:]) / np.max(r2[: T // 10]))
    ctl = control("scale gamma_T", "the same sums against gamma_T (the 1/eta_T factor dropped)",
                  all(g <= 1.0 + 1e-9 for g in ctl_growth.values()), {"tail_over_head": ctl_growth})
    return finish("S000-L4", t0, ok, meas, "sum_t gamma_t prod_{tau>t}(1-eta_tau) <= C(p,q) gamma_T/eta_T", [ctl],
                  f"PASS iff the ratio's supremum over T in (T_max/10, T_max] does not exceed its supremum over "
                  f"T <= T_max/10 (T_max = {T}): the ratio stays bounded")


# ============================================================================ 002

class _LinearProblem:
    """n identical workers with F(x) = <1, x> and gradient noise s N(0, I): constant grad F, M^2 = d."""

    def __init__(self, d=10, n=2, s=0.1):
        self.dim, self.n_clients, self.s = d, n, s
        self.sigma2 = s * s * d

    def f(self, x):
        return float(np.sum(x))

    def f_i(self, i, x, xi=None):
        return self.f(x)

    def sample(self, i, rng):
        return rng.standard_normal(self.dim)

    def grad_i(self, i, x, xi=None):
        g = np.ones(self.dim)
        return g if xi is None else g + self.s * xi


def _homq(sigma=0.3):
    from eftheory.problems import HomogeneousNoisyQuadratic
    return HomogeneousNoisyQuadratic(n=4, d=10, sigma=sigma, seed=0)


def _saef_runs(ctx, name, prob, C, mu, seeds, iters, stepsize=0.05, **opt):
    x0 = np.full(prob.dim, 2.0)
    return [_run(name, prob, C, x0, iters, stepsize=stepsize, seed=s, mu=mu, record_clients=True, **opt)
            for s in range(seeds)]


def _mismatch(prob, res):
    """Exact epsilon_t of 002 (9)-(11) for an additive-noise quadratic (the noise cancels in the difference),
    at the evaluation points the run recorded (``eval_points``: x_t for EF, x_t - e_t^(k) for SAEF)."""
    xa = np.asarray(res.diagnostics["x_aux"])[:-1]
    y = np.asarray(res.diagnostics["eval_points"])                   # (T, n, d)
    diff = prob.h * (xa[:, None, :] - y)
    return np.mean(np.sum(diff ** 2, axis=-1), axis=1)


def _s002_mis(ctx):
    from eftheory.compressors import ScaledSign, TopK

    t0 = time.perf_counter()
    prob = _homq(0.05)
    L2, s2 = prob.L ** 2, prob.sigma ** 2
    figs, cfigs = {}, {}
    for C in (TopK(2), ScaledSign()):
        for name in ("ef", "saef"):
            runs = _saef_runs(ctx, name, prob, C, 0.5, ctx.pick(3, 10), ctx.pick(80, 300), stepsize=0.1)
            eps = np.mean([_mismatch(prob, r) for r in runs], axis=0)
            ef_b = L2 * np.mean([np.asarray(r.diagnostics["mismatch_ef"])[:-1] for r in runs], axis=0) + 4 * s2
            sa_b = L2 * np.mean([np.asarray(r.diagnostics["mismatch_saef"])[:-1] for r in runs], axis=0) + 4 * s2
            own, other = (ef_b, sa_b) if name == "ef" else (sa_b, ef_b)
            figs[f"{name} {C!r}"] = ineq_figures(eps, own)
            if name == "ef":
                cfigs[f"{name} {C!r}"] = ineq_figures(eps, other)
    m, cm = _merge(figs), _merge(cfigs)
    ctl = control("swapped proxy", "EF's mismatch checked against SAEF's (smaller) error proxy", cm["holds"],
                  {"min_slack": cm["min_slack"], "max_ratio": cm["max_ratio"]})
    return finish("S002-MIS", t0, m["holds"], {"min_slack": m["min_slack"], "max_ratio": m["max_ratio"],
                                               "parts": {k: f["max_ratio"] for k, f in figs.items()}},
                  "EF: eps_t <= L^2||e+e_bar||^2 + 4 sigma^2; SAEF: eps_t <= L^2/n sum||e+e_bar-e_k||^2 + 4 sigma^2",
                  [ctl], RULE_P + " (E over the samples is exact: additive noise cancels; seed mean of the errors)",
                  "homogeneous noisy quadratic, n = 4, d = 10, mu = 0.5, Top-2 and scaled sign")


def _s002_p1(ctx):
    from eftheory.lyapunov import proposition1_bounds

    t0 = time.perf_counter()
    rng = seeded("S002-P1")
    lhs, rhs, cl, cr = [], [], [], []
    for _ in range(ctx.pick(400, 4000)):
        n = int(rng.integers(1, 17))
        mean_sq = rng.exponential(1.0, n) * (rng.random(n) < 0.8)
        mean_sq[0] += 1e-3
        var = mean_sq * rng.random(n)
        srv = float(rng.exponential(1.0))
        a, b = proposition1_bounds(srv, var, mean_sq)
        lhs.append(a)
        rhs.append(b)
        c = proposition1_bounds(srv, mean_sq + rng.exponential(1.0, n) + 1.0, np.zeros(n) + 1e-6)
        if n > 1:
            cl.append(c.observed)
            cr.append(c.stated)
    f = ineq_figures(lhs, rhs)
    cf = ineq_figures(cl, cr)
    ctl = control("variance above mean", "errors with Var(e_k) > ||E e_k||^2 (mean almost 0), n >= 2", cf["holds"], cf)
    return finish("S002-P1", t0, f["holds"], {"min_slack": f["min_slack"], "max_ratio": f["max_ratio"],
                                              "instances": f["entries"]},
                  "SAEF bound <= EF bound when Var(e_k) <= ||E e_k||^2", [ctl], RULE_P,
                  "closed forms of the proof on random (n, server error, variances, means)")


def _lemma_runs(ctx):
    from eftheory.compressors import ScaledSign, TopK

    prob = _homq(0.3)
    out = []
    for C in (TopK(2), ScaledSign()):
        for name in ("ef", "saef"):
            for mu in (0.0, 0.5):
                out.append((f"{name} {C!r} mu={mu}", C.alpha(prob.dim),
                            _saef_runs(ctx, name, prob, C, mu, ctx.pick(6, 16), ctx.pick(50, 150))))
    return prob, out


def _gate(bc, z=4.0):
    return {"observed": bc.observed, "se": bc.se, "corrected": bc.corrected, "printed": bc.printed,
            "holds": bool(bc.observed - z * bc.se <= bc.corrected * (1 + TOL)),
            "ratio_to_corrected": bc.observed / bc.corrected if bc.corrected > 0 else math.inf}


def _M2(prob, runs):
    from eftheory.lyapunov import max_grad_sq_at_evaluation_points
    return max(max_grad_sq_at_evaluation_points(prob, r) for r in runs)


def _linear_runs(ctx, mu=0.0):
    from eftheory.compressors import TopK
    P = _LinearProblem()
    return P, [_run("saef", P, TopK(1), np.zeros(P.dim), ctx.pick(150, 300), stepsize=0.1, seed=s, mu=mu)
               for s in range(ctx.pick(8, 16))]


RULE_MC = "PASS iff (largest Monte-Carlo mean over the cells) - 4 se <= bound (corrected constant where one exists)"


def _s002_al1(ctx):
    from eftheory.lyapunov import lemma1_check

    t0 = time.perf_counter()
    prob, groups = _lemma_runs(ctx)
    res = {lab: _gate(lemma1_check(runs, M2=_M2(prob, runs), sigma2=prob.sigma ** 2)) for lab, _, runs in groups}
    ok = all(r["holds"] for r in res.values())
    P, runs = _linear_runs(ctx, mu=0.5)
    c = _gate(lemma1_check(runs, M2=float(P.dim), sigma2=P.sigma2)._replace(
        corrected=(P.dim + P.sigma2)))          # the bound of mu = 0 for a run with mu = 0.5
    ctl = control("momentum ignored", "mu = 0.5 run (constant gradient) against the mu = 0 bound M^2 + sigma^2",
                  c["holds"], c)
    return finish("S002-AL1", t0, ok, {"max_ratio": max(r["ratio_to_corrected"] for r in res.values()),
                                       "cells": {k: r["ratio_to_corrected"] for k, r in res.items()}},
                  "E||m_{t+1}^(k)||^2 <= (M^2 + sigma^2)/(1-mu)^2", [ctl], RULE_MC,
                  "M^2 measured along each run at the gradient evaluation points")


def _s002_al2(ctx):
    from eftheory.lyapunov import lemma2_check

    t0 = time.perf_counter()
    prob, groups = _lemma_runs(ctx)
    res = {lab: _gate(lemma2_check(runs, delta=a, M2=_M2(prob, runs), sigma2=prob.sigma ** 2))
           for lab, a, runs in groups}
    ok = all(r["holds"] for r in res.values())
    P, runs = _linear_runs(ctx)
    bc = lemma2_check(runs, delta=0.1, M2=float(P.dim), sigma2=P.sigma2)
    printed = _gate(bc._replace(corrected=bc.printed))
    printed["violated_beyond_4se"] = bool(bc.observed - 4 * bc.se > bc.printed)
    ctl = control("printed constant", "the printed Lemma-2 constant (1-d)/(2(1-sqrt(1-d))) on Top-1, d = 10, "
                  "constant gradient", printed["holds"], printed)
    meas = {"max_ratio_to_corrected": max(r["ratio_to_corrected"] for r in res.values()),
            "cells": {k: r["ratio_to_corrected"] for k, r in res.items()},
            "erratum_21": {"observed": bc.observed, "se": bc.se, "printed_bound": bc.printed,
                           "corrected_bound": bc.corrected, "printed_violated": printed["violated_beyond_4se"],
                           "instance": "SAEF, F = <1,x>, n = 2, d = 10, Top-1, eta = 0.1, noise 0.1"}}
    return finish("S002-AL2", t0, ok, meas, "E||e^(k)||^2 <= (1-d)/(1-sqrt(1-d))^2 B (corrected)", [ctl], RULE_MC)


def _s002_al5(ctx):
    from eftheory.lyapunov import lemma5_check

    t0 = time.perf_counter()
    prob, groups = _lemma_runs(ctx)
    res = {lab: _gate(lemma5_check(runs, delta=a, M2=_M2(prob, runs), sigma2=prob.sigma ** 2))
           for lab, a, runs in groups if lab.startswith("saef")}
    ok = all(r["holds"] for r in res.values())
    P, runs = _linear_runs(ctx)
    bc = lemma5_check(runs, delta=0.1, M2=float(P.dim), sigma2=P.sigma2)
    wrong = _gate(lemma5_check(runs, delta=0.99, M2=float(P.dim), sigma2=P.sigma2))
    ctl = control("delta = 0.99", "Top-1 on d = 10 (delta = 0.1) gated with the constant of delta = 0.99",
                  wrong["holds"], wrong)
    meas = {"max_ratio_to_corrected": max(r["ratio_to_corrected"] for r in res.values()),
            "max_ratio_to_printed": max(r["observed"] / r["printed"] for r in res.values()),
            "erratum_21_lemma5": {"observed": bc.observed, "se": bc.se, "printed_bound": bc.printed,
                                  "corrected_bound": bc.corrected,
                                  "printed_violated": bool(bc.observed - 4 * bc.se > bc.printed)}}
    return finish("S002-AL5", t0, ok, meas, "SAEF mismatch <= C (1-d)/(1-sqrt(1-d)) B as printed; gate on the "
                  "corrected chain", [ctl], RULE_MC)


def _s002_c1(ctx):
    from eftheory.lyapunov import c1_terms

    t0 = time.perf_counter()
    lhs, rhs, cl, cr = [], [], [], []
    for delta in np.linspace(0.01, 0.99, ctx.pick(40, 200)):
        for etaL in np.linspace(0.01, 1.49, ctx.pick(20, 60)):
            for n in (1, 2, 8, 64):
                a, b = c1_terms(delta, etaL, 1.0, n)
                lhs.append(a)
                rhs.append(b)
                # mutated comparison: Zheng's term without its factor 32 (1 + 16/delta^2)
                cl.append(a)
                cr.append(b / (32.0 * (1.0 + 16.0 / delta ** 2)))
    f = ineq_figures(lhs, rhs)
    strict = bool(np.all(np.asarray(lhs) < np.asarray(rhs)))
    cf = ineq_figures(cl, cr)
    ctl = control("factor dropped", "Zheng's term without its factor 32(1 + 16/delta^2)", cf["holds"], cf)
    return finish("S002-C1", t0, f["holds"] and strict, {"min_slack": f["min_slack"], "max_ratio": f["max_ratio"],
                                                          "strict": strict, "grid_points": f["entries"]},
                  "SAEF compression term (Thm 2) < Zheng et al.'s EF-SGD term for 0 < delta < 1", [ctl],
                  "PASS iff strictly smaller at every grid point (delta in [0.01,0.99], eta L in [0.01,1.49], n in {1,2,8,64})")


# ============================================================================ 003 and problems

def _s003_l1(ctx):
    from eftheory.assumptions import check_linf_smoothness, check_separable_smoothness
    from eftheory.problems.sign import HeterogeneousSignProblem, SeparableQuadratic

    t0 = time.perf_counter()
    meas, ok, cm = {}, True, {}
    for label, prob in (("separable d=4", SeparableQuadratic(4, seed=0)), ("separable d=64", SeparableQuadratic(64, seed=1)),
                        ("heterogeneous d=16", HeterogeneousSignProblem(d=16, n=4, seed=0))):
        rng = seeded("S003-L1", label)
        sep = check_separable_smoothness(prob, rng, count=ctx.pick(60, 300))
        linf = check_linf_smoothness(prob, rng, count=ctx.pick(60, 300), L_inf=float(np.sum(prob.L_vec)))
        meas[label] = {"separable_max_ratio": sep.observed, "linf_max_ratio": linf.observed}
        ok &= sep.observed <= 1 + TOL and linf.observed <= 1 + TOL
        c = check_linf_smoothness(prob, rng, count=ctx.pick(60, 300), L_inf=float(np.max(prob.L_vec)))
        cm[label] = c.observed
    ctl = control("L_inf = max L_j", "l_inf-smoothness claimed with max_j L_j instead of ||L||_1",
                  all(v <= 1 + TOL for v in cm.values()), {"max_ratio": cm})
    return finish("S003-L1", t0, ok, meas, "||grad f(x) - grad f(y)||_1 <= ||L||_1 ||x - y||_inf", [ctl],
                  "PASS iff every max ratio lhs/rhs <= 1 (+1e-9)")


def _e_logreg(ctx):
    from eftheory.assumptions import check_L0L1, check_nonconvex, check_smoothness
    from eftheory.problems import synthetic_logistic

    t0 = time.perf_counter()
    prob = _logistic()
    rng = seeded("E-LOGREG")
    c = ctx.pick(40, 200)
    meas = {"L": check_smoothness(prob, rng, count=c).observed,
            "L_i": check_smoothness(prob, rng, count=c, client="each").observed,
            "L0L1_hessian": check_L0L1(prob, rng, count=c // 2).observed,
            "L0L1_pairs": check_L0L1(prob, rng, form="pairs", count=max(3, c // 4)).observed}
    ok = all(v <= 1 + TOL for v in meas.values())
    thr = prob.lam_nonconvex
    nc = {}
    for lam in (1.5 * thr + 1e-3, 0.1):
        p2 = synthetic_logistic(n=20, d=10, lam=lam, seed=0)
        nc[f"lam={lam:.4g}"] = check_nonconvex(p2, rng, count=c).observed
    ok &= all(v < 0 for v in nc.values())
    meas["min_eig_above_threshold"] = nc
    meas["lambda_threshold"] = thr
    wrong = {"L/4": check_smoothness(prob, rng, count=c, L=prob.L / 4).observed,
             "L0/10,L1/10": check_L0L1(prob, rng, count=c // 2, L0=prob.L0 / 10, L1=prob.L1 / 10).observed}
    ctl = control("constants too small", "L / 4 and (L0, L1) / 10", all(v <= 1 + TOL for v in wrong.values()),
                  {"max_ratio": wrong})
    return finish("E-LOGREG", t0, ok, meas, "max ratios <= 1; min Hessian eigenvalue < 0 for lambda above threshold",
                  [ctl], "PASS iff every assumption ratio <= 1 and nonconvexity is exhibited above the threshold")


def _e_poly(ctx):
    from eftheory.assumptions import check_L0L1, check_nonconvex, check_smoothness, hessian

    t0 = time.perf_counter()
    rng = seeded("E-POLY")
    c = ctx.pick(60, 300)
    meas, ok, wrong = {}, True, {}
    for L1 in (1.0, 4.0, 8.0):
        prob = _poly(L1)
        r = {"L0L1_hessian": check_L0L1(prob, rng, count=c).observed,
             "box_L": check_smoothness(prob, rng, count=c).observed,
             "min_eig": check_nonconvex(prob, rng, count=c).observed}
        meas[f"L1={L1:g}"] = r
        ok &= r["L0L1_hessian"] <= 1 + TOL and r["box_L"] <= 1 + TOL and r["min_eig"] < 0
        wrong[f"L1={L1:g}"] = check_L0L1(prob, rng, count=c, L0=0.02 * prob.L0).observed
    prob = _poly(4.0)
    e1 = hessian(prob, np.r_[1.0, 0, 0, 0])[0, 0]
    meas["erratum_20"] = {"curvature_at_x1=1": float(e1), "min_curvature": prob.min_curvature,
                          "argmin_|t|": prob.min_curvature_at, "shown": bool(abs(e1) < 1e-12 and prob.min_curvature < 0)}
    ctl = control("L0 x 0.02", "(L0/50, L1) claimed", all(v <= 1 + TOL for v in wrong.values()), {"max_ratio": wrong})
    return finish("E-POLY", t0, ok, meas, "(L0, L1) pair and box L valid; negative curvature exists", [ctl],
                  "PASS iff every ratio <= 1 and a negative Hessian eigenvalue is found")


CLAIMS = [
    claim("C-TOPK", _c_topk, rule=RULE_P, controls=("alpha=(K+1)/d",), cost=0.2),
    claim("C-RANDK", _c_randk, controls=("biased selection",), cost=0.3),
    claim("C-SSIGN", _c_ssign, controls=("alpha=2/d",), cost=0.2),
    claim("C-SR", _c_sr, controls=("wrong R",), cost=0.3),
    claim("S004-L2", _s004_l2, controls=("L0,L1 x 0.05",), cost=1.5),
    claim("S004-L3", _s004_l3, controls=("no L0/L1 term",), cost=0.5),
    claim("S004-L4", _s004_l4, controls=("L1 = 0",), cost=2.0),
    claim("S004-L5", _s004_l5, controls=("no e^{L1 gamma}",), cost=0.5),
    claim("S004-L6", _s004_l6, controls=("dropped error buffer",), cost=2.0),
    claim("S004-L7", _s004_l7, controls=("printed Lemma 7",), cost=2.0),
    claim("S001-L7", _s001_l7, controls=("L1 = 0",), cost=1.0),
    claim("S001-L8", _s001_l8, controls=("dropped error buffer",), cost=1.0),
    claim("S001-L9", _s001_l9, controls=("no noise term",), cost=4.0),
    claim("S000-L2", _s000_l2, controls=("unnormalized",), cost=2.0),
    claim("S000-L3", _s000_l3, controls=("alpha = 0.9",), cost=1.5),
    claim("S000-L4", _s000_l4, controls=("scale gamma_T",), cost=0.3),
    claim("S002-MIS", _s002_mis, controls=("swapped proxy",), cost=2.0),
    claim("S002-P1", _s002_p1, controls=("variance above mean",), cost=0.2),
    claim("S002-AL1", _s002_al1, controls=("momentum ignored",), cost=3.0),
    claim("S002-AL2", _s002_al2, controls=("printed constant",), cost=3.0),
    claim("S002-AL5", _s002_al5, controls=("delta = 0.99",), cost=3.0),
    claim("S002-C1", _s002_c1, controls=("factor dropped",), cost=0.5),
    claim("S003-L1", _s003_l1, controls=("L_inf = max L_j",), cost=0.5),
    claim("E-LOGREG", _e_logreg, controls=("constants too small",), cost=2.0),
    claim("E-POLY", _e_poly, controls=("L0 x 0.02",), cost=1.0),
]
