r"""Kind-Q claims in a small form that runs on a CPU: the experiments' qualitative statements.

* ``E-FIG`` -- the polynomial experiment (d = 4, Top-1, L1 in {1, 4, 8}): normalized EF21 with
  either stepsize reaches :math:`\|\nabla f\|^2 < 10^{-4}` in fewer iterations than EF21 with its
  theory stepsize, and EF21 with the stepsize computed from L0 diverges (the run raises on a
  non-finite iterate).
* ``S002-Q`` -- a small synthetic form of the SAEF experiments: SAEF's mismatch proxy below EF's,
  SAEF's loss below EF's on average over the iterations, larger gains with sparser Top-K, and a
  shorter error-averaging period helping. Each sub-claim is measured and reported; the image
  benchmarks (ResNet-56 / CIFAR-100) are not run.
* ``S003-Q`` -- a small synthetic form of the sign experiments: SMM below signSGD, and MVSM (v1)
  below majority-vote signSGD, in the l1 gradient average; the image benchmarks are not run.

Verdict rule: PASS iff every sub-claim holds on the measured figures; a negative control with
the compared methods made identical (no compression / no momentum) must be rejected.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .catalog import claim
from .claims_pointwise import _poly, _run, control, finish, seeded

__all__ = ["CLAIMS"]

TARGET = 1e-4


def _first_below(res, target=TARGET):
    g2 = np.asarray(res.grad_norm) ** 2
    idx = np.flatnonzero(g2 < target)
    return int(idx[0]) if idx.size else None


def _e_fig(ctx):
    from eftheory.compressors import TopK
    from eftheory.derivations import normalized as nz
    from eftheory.derivations.ef21 import theory_stepsize

    t0 = time.perf_counter()
    meas, ok = {}, True
    horizons = {1.0: 2000, 4.0: 5000, 8.0: 16000}
    for L1 in ctx.pick((4.0,), (1.0, 4.0, 8.0)):
        prob = _poly(L1)
        C = TopK(1)
        a = C.alpha(4)
        x0 = 20.0 + seeded("E-FIG", L1).standard_normal(4)
        K = horizons[L1]
        ka = _first_below(_run("ef21-norm", prob, C, x0, K, stepsize=1.0 / (2 * nz.c1(L1, a))))
        kb = _first_below(_run("ef21-norm", prob, C, x0, K, stepsize=1.0 / math.sqrt(K + 1)))
        reached = [k for k in (ka, kb) if k is not None]
        horizon = max(reached) if reached else K
        g_ef = theory_stepsize(prob.L, prob.L, a)
        try:
            ke = _first_below(_run("ef21", prob, C, x0, horizon, stepsize=g_ef))
        except ValueError:
            ke = None
        sub = {"norm_const_iters": ka, "norm_decay_iters": kb, "ef21_iters_within_horizon": ke,
               "ef21_gamma": g_ef, "horizon": horizon}
        sub["holds"] = ka is not None and kb is not None and (ke is None or ke > max(ka, kb))
        ok &= sub["holds"]
        meas[f"L1={L1:g}"] = sub

    def diverges(gamma, K=5000):
        try:
            _run("ef21", _poly(4.0), TopK(1), 20.0 + seeded("E-FIG", 4.0).standard_normal(4), K, stepsize=gamma)
        except ValueError as exc:
            return True, str(exc).splitlines()[0][:120]
        return False, ""

    p4 = _poly(4.0)
    g_l0 = theory_stepsize(p4.L0, p4.L0, 0.25)
    div, msg = diverges(g_l0)
    meas["divergence_L0_step"] = {"gamma": g_l0, "diverged": div, "error": msg}
    ok &= div
    g_l = theory_stepsize(p4.L, p4.L, 0.25)
    div_ctl, _ = diverges(g_l, K=2000)
    ctl = control("theory step", "the divergence sub-claim applied to EF21 with its L-based theory stepsize",
                  div_ctl, {"gamma": g_l, "diverged": div_ctl})
    return finish("E-FIG", t0, ok, meas, "normalized EF21 first below 1e-4 in ||grad f||^2; EF21 with the L0 step diverges",
                  [ctl], "PASS iff both normalized runs reach the target and EF21 has not reached it by then, and the "
                  "L0-step EF21 run raises on a non-finite iterate",
                  "quick tier: L1 = 4 only; full tier: L1 in {1, 4, 8}")


# ----------------------------------------------------------------------------- S002-Q

def _saef_q_runs(ctx, name, C, seeds, T, **opt):
    from eftheory.problems import HomogeneousNoisyQuadratic
    prob = HomogeneousNoisyQuadratic(n=8, d=100, sigma=1.0, seed=0)
    x0 = np.asarray(prob.x_star) + 3.0 * seeded("S002-Q").standard_normal(prob.dim)
    out = [_run(name, prob, C, x0, T, stepsize=0.05, seed=s, mu=0.9, **opt) for s in range(seeds)]
    loss = np.mean([np.asarray(r.f) - prob.f_inf for r in out], axis=0)
    return out, loss


def _s002_q(ctx):
    from eftheory.compressors import Identity, TopK

    t0 = time.perf_counter()
    seeds, T = ctx.pick(3, 8), ctx.pick(300, 1000)
    meas, gains = {}, {}
    for k in (1, 5, 10):
        ef, le = _saef_q_runs(ctx, "ef", TopK(k), seeds, T)
        sa, ls = _saef_q_runs(ctx, "saef", TopK(k), seeds, T)
        mis_ef = float(np.mean([np.mean(r.diagnostics["mismatch_ef"]) for r in ef]))
        mis_sa = float(np.mean([np.mean(r.diagnostics["mismatch_saef"]) for r in sa]))
        gains[k] = float(np.mean(le) - np.mean(ls))
        meas[f"top-{k}%"] = {"mismatch_ef": mis_ef, "mismatch_saef": mis_sa, "mean_loss_ef": float(np.mean(le)),
                             "mean_loss_saef": float(np.mean(ls)), "loss_gain": gains[k],
                             "saef_loss_below_ef_share_of_iterations": float(np.mean(ls < le))}
    ploss = {}
    for p in (math.inf, 20, 5, 1):
        _, lp = _saef_q_runs(ctx, "saef", TopK(1), seeds, T, p=p)
        ploss[str(p)] = float(np.mean(lp))
    pv = list(ploss.values())
    subs = {"mismatch_saef_below_ef": all(m["mismatch_saef"] < m["mismatch_ef"] for m in meas.values()),
            "loss_saef_below_ef": all(m["loss_gain"] > 0 for m in meas.values()),
            "gain_grows_with_sparsity": gains[1] > gains[5] > gains[10],
            "smaller_p_helps": all(pv[i + 1] <= pv[i] for i in range(len(pv) - 1))}
    meas["mean_loss_by_p"] = ploss
    meas["sub_claims"] = subs
    ok = all(subs.values())
    ef, le = _saef_q_runs(ctx, "ef", Identity(), seeds, T)
    sa, ls = _saef_q_runs(ctx, "saef", Identity(), seeds, T)
    ctl = control("no compression", "EF vs SAEF with the identity compressor (identical methods)",
                  bool(np.mean(le) - np.mean(ls) > 0), {"loss_gain": float(np.mean(le) - np.mean(ls))})
    return finish("S002-Q", t0, ok, meas, "SAEF beats EF; more with sparser Top-K; smaller p helps", [ctl],
                  "PASS iff all four sub-claims hold (strict inequalities on seed means)",
                  "small synthetic form: homogeneous noisy quadratic, n = 8, d = 100, mu = 0.9, eta = 0.05, "
                  "Top-{1,5,10}% ; the image benchmarks (ResNet-56 / CIFAR-100) are not run")


# ----------------------------------------------------------------------------- S003-Q

def _a1(runs):
    return float(np.mean([np.mean(r.diagnostics["grad_norm_l1"]) for r in runs]))


# Grids of the paper's protocol (each method gets its own grid-searched eta and beta); eta is a
# multiple of the method's theory scale, beta the new-gradient weight.
ETA_SCALES = (0.25, 1.0, 4.0, 16.0)
BETAS = (0.1, 0.5, 0.9)


def _best(name, problem, x0, T, seeds, eta0, betas, **kw):
    """Seed-mean A_1 of the best (eta, beta) on the grid, and that setting."""
    best = None
    for c in ETA_SCALES:
        for beta in betas:
            mom = {} if beta is None else {"momentum": beta}
            a1 = _a1([_run(name, problem, None, x0, T, stepsize=c * eta0, seed=s, **mom, **kw)
                      for s in range(seeds)])
            if best is None or a1 < best[0]:
                best = (a1, c * eta0, beta)
    return {"A1": best[0], "eta": best[1], "beta": best[2]}


def _s003_q(ctx):
    from eftheory.problems.sign import HeterogeneousSignProblem, SeparableQuadratic

    t0 = time.perf_counter()
    T, seeds = ctx.pick(1000, 4000), ctx.pick(4, 16)
    d = 16
    sq = SeparableQuadratic(d, noise_std=1.0, seed=0)
    x0 = np.full(d, 2.0 / math.sqrt(d) * 2)
    eta_smm = d ** -0.5 * T ** -0.75
    smm = _best("smm", sq, x0, T, seeds, eta_smm, BETAS)
    sgn = _best("signsgd", sq, x0, T, seeds, eta_smm, (None,))
    hp = HeterogeneousSignProblem(d=d, n=8, seed=0)
    xh = np.full(d, 1.0)
    eta_mv = (d * T) ** -0.5
    mv1 = _best("mvsm-v1", hp, xh, T, seeds, eta_mv, BETAS, G=hp.G)
    mv2 = _best("mvsm-v2", hp, xh, T, seeds, eta_mv, BETAS, G=hp.G)
    mvs = _best("mv-signsgd", hp, xh, T, seeds, eta_mv, (None,))
    meas = {"smm": smm, "signsgd": sgn, "mvsm_v1": mv1, "mvsm_v2": mv2, "mv_signsgd": mvs, "G": hp.G}
    subs = {"smm_below_signsgd": smm["A1"] < sgn["A1"],
            "mvsm_v1_below_mv_signsgd": mv1["A1"] < mvs["A1"]}
    meas["sub_claims"] = subs
    same = _a1([_run("smm", sq, None, x0, T, stepsize=sgn["eta"], momentum=1.0, seed=s) for s in range(seeds)])
    ctl = control("no momentum", "SMM with beta = 1 (signSGD) at signSGD's best eta, against signSGD",
                  same < sgn["A1"], {"A1_smm_beta1": same, "A1_signsgd": sgn["A1"]})
    return finish("S003-Q", t0, all(subs.values()), meas, "SMM beats signSGD; MVSM beats majority-vote signSGD",
                  [ctl], "PASS iff the best grid point of each method (seed-mean l1 gradient average) is strictly "
                  "smaller than the baseline's best",
                  "small synthetic form with the experiments' protocol (eta and beta grid-searched per method): "
                  "separable quadratic d = 16 for SMM vs signSGD; heterogeneous sign problem d = 16, n = 8 for "
                  "MVSM v1 (the verdict) and v2 (reported) vs majority-vote signSGD, G = the problem's bound on "
                  "the box; the image benchmarks are not run")


CLAIMS = [
    claim("E-FIG", _e_fig, controls=("theory step",), cost=5.0),
    claim("S002-Q", _s002_q, controls=("no compression",), cost=8.0),
    claim("S003-Q", _s003_q, controls=("no momentum",), cost=50.0),
]
