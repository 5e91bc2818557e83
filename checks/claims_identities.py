r"""Kind-I claims: identities and invariants that must hold to floating-point accuracy along a run.

Verdict rule: PASS iff the largest residual, relative to the scale of the quantities involved,
is at most ``1e-10``; the measured figure is that maximal residual. Each claim runs a negative
control -- a mutated state or a mutated reference -- whose residual the same rule must reject.

* ``EF21-INV`` -- the server mirror :math:`g^k` equals :math:`\frac1n\sum_i g_i^k` (diagnostic
  ``mirror_gap`` of the EF21 loop), for EF21, ‖EF21‖ and two momentum variants.
* ``S000-RED`` -- with the identity compressor and one client every normalized momentum variant
  is its centralized method (NSGD-M, NSGD with IGT, normalized second-order momentum, Tran et
  al.'s Hessian momentum, normalized STORM; short reference loops below, drawing the same samples);
  with :math:`\eta\equiv1` and exact gradients ‖EF21-SGDM‖ is ‖EF21‖.
* ``S002-AUX`` / ``S002-Z`` -- :func:`eftheory.lyapunov.aux_residual` and
  :func:`eftheory.lyapunov.z_residual` on EF and SAEF runs.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .catalog import claim
from .claims_pointwise import _logistic, _q_problem, _run, control, finish, seeded

__all__ = ["CLAIMS", "RTOL"]

RTOL = 1e-10
RULE_I = "PASS iff the largest relative residual is <= 1e-10"


def _ef21_inv(ctx):
    from eftheory.compressors import TopK
    from eftheory.schedules import polynomial

    t0 = time.perf_counter()
    lg, q = _logistic(), _q_problem()
    K = ctx.pick(150, 1000)
    runs = [("ef21", lg, TopK(1), {"stepsize": 0.05}), ("ef21-norm", lg, TopK(1), {"stepsize": 0.5}),
            ("ef21-sgdm-norm", q, TopK(2), {"stepsize": polynomial(1.0, 0.75), "momentum": polynomial(1.0, 0.5)}),
            ("ef21-mvr-norm", q, TopK(2), {"stepsize": polynomial(1.0, 2 / 3), "momentum": polynomial(1.0, 2 / 3)})]
    meas, ctl_res = {}, {}
    for name, prob, C, kw in runs:
        x0 = seeded("EF21-INV", name).standard_normal(prob.dim)
        res = _run(name, prob, C, x0, K, record_clients=True, **kw)
        dg = res.diagnostics
        scale = 1.0 + float(np.max(dg["g_norm"]))
        meas[name] = float(np.max(dg["mirror_gap"])) / scale
        # mutated server: g^k = g^{k-1} + sum_i c_i^k (the 1/n dropped), replayed from the recorded memories
        g_i = np.asarray(dg["g_i"])
        c = np.diff(g_i, axis=0).sum(axis=1)
        g_bad = g_i[0].mean(axis=0) + np.vstack([np.zeros((1, prob.dim)), np.cumsum(c, axis=0)])
        ctl_res[name] = float(np.max(np.linalg.norm(g_bad - g_i.mean(axis=1), axis=1))) / scale
    ok = max(meas.values()) <= RTOL
    ctl = control("server sum without 1/n", "the mirror updated with the sum of the messages instead of their mean",
                  max(ctl_res.values()) <= RTOL, {"max_rel_residual": ctl_res})
    return finish("EF21-INV", t0, ok, {"max_rel_residual": max(meas.values()), "per_method": meas}, 0.0, [ctl], RULE_I)


# ----------------------------------------------------------------------------- S000-RED references

def _reference(variant, problem, x0, K, gamma, eta, seed, normalize=True, rhm_same_sample=False):
    """Centralized (n = 1, no compression) normalized momentum methods, drawing samples like the loop."""
    from algorithms.registry import Streams

    st = Streams(seed)
    gam = gamma.values(K)
    et = eta.values(K)
    x_prev = x = np.asarray(x0, dtype=np.float64).copy()
    v = None
    xs = [x.copy()]
    for k in range(K):
        xi = problem.sample(0, st.sample)
        xi_hat = problem.sample(0, st.sample) if variant == "rhm" and not rhm_same_sample else xi
        grad = lambda p: problem.grad_i(0, p, xi)  # noqa: E731
        e = float(et[k])
        if v is None:
            v = grad(x)
            if variant == "rhm":
                st.aux.random()
        elif variant == "polyak":                      # NSGD-M (Cutkosky & Mehta)
            v = (1 - e) * v + e * grad(x)
        elif variant == "igt":                         # NSGD with implicit gradient transport
            v = (1 - e) * v + e * grad(x + (1 - e) / e * (x - x_prev))
        elif variant == "rhm":                         # normalized second-order momentum (Salehkaleybar et al.)
            qk = st.aux.random()
            v = (1 - e) * (v + problem.hvp_i(0, qk * x + (1 - qk) * x_prev, x - x_prev, xi_hat)) + e * grad(x)
        elif variant == "hm":                          # Hessian-corrected momentum (Tran et al.)
            v = (1 - e) * (v + problem.hvp_i(0, x, x - x_prev, xi)) + e * grad(x)
        elif variant == "mvr":                         # normalized STORM
            v = grad(x) + (1 - e) * (v - grad(x_prev))
        nv = float(np.linalg.norm(v))
        step = v / nv if (normalize and nv > 0) else v
        x_prev, x = x, x - gam[k] * step
        xs.append(x.copy())
    return np.array(xs)


def _s000_red(ctx):
    from eftheory.compressors import Identity, TopK
    from eftheory.problems.quadratic import problem_q4
    from eftheory.schedules import polynomial

    t0 = time.perf_counter()
    prob = problem_q4(seed=0, n=1, d=6)
    K = ctx.pick(120, 600)
    x0 = np.asarray(prob.x_star) + seeded("S000-RED").standard_normal(prob.dim)
    g, e = polynomial(1.0, 2 / 3), polynomial(1.0, 2 / 3)
    names = {"polyak": "ef21-sgdm-norm", "igt": "ef21-igt-norm", "rhm": "ef21-rhm-norm", "hm": "ef21-hm-norm",
             "mvr": "ef21-mvr-norm"}
    meas, ctl_res = {}, {}
    for var, name in names.items():
        res = _run(name, prob, Identity(), x0, K, stepsize=g, momentum=e, seed=3)
        ref = _reference(var, prob, x0, K, g, e, 3)
        scale = 1.0 + float(np.max(np.abs(ref)))
        meas[f"{name} = centralized {var}"] = float(np.max(np.abs(np.asarray(res.x) - ref))) / scale
        gs = polynomial(0.05, 2 / 3)            # a small step, so the unnormalized reference stays finite
        good = _run(name, prob, Identity(), x0, 40, stepsize=gs, momentum=e, seed=3)
        bad = _reference(var, prob, x0, 40, gs, e, 3, normalize=False)
        ctl_res[var] = float(np.max(np.abs(np.asarray(good.x) - bad))) / scale
    # eta = 1 with exact gradients: ||EF21-SGDM|| is ||EF21||
    lg = _logistic()
    x0l = seeded("S000-RED", "eta1").standard_normal(lg.dim)
    a = _run("ef21-sgdm-norm", lg, TopK(1), x0l, K, stepsize=0.3, momentum=1.0, init="gradient")
    b = _run("ef21-norm", lg, TopK(1), x0l, K, stepsize=0.3)
    meas["ef21-sgdm-norm(eta=1) = ef21-norm"] = float(np.max(np.abs(np.asarray(a.x) - np.asarray(b.x)))) / (
        1.0 + float(np.max(np.abs(b.x))))
    ok = max(meas.values()) <= RTOL
    ctl = control("unnormalized reference", "the centralized references without normalization (gamma0 = 0.05, 40 steps)",
                  max(ctl_res.values()) <= RTOL, {"max_rel_residual": ctl_res})
    return finish("S000-RED", t0, ok, {"max_rel_residual": max(meas.values()), "per_reduction": meas}, 0.0, [ctl],
                  RULE_I, "problem Q4 with n = 1, d = 6, identity compressor, schedules (2/(k+2))^(2/3); "
                  "RHM's HVP from an independent sample")


# ----------------------------------------------------------------------------- 002

def _saef_configs(ctx):
    from eftheory.compressors import Blockwise, ScaledSign, TopK

    from .claims_pointwise import _homq
    prob = _homq(0.3)
    comps = [TopK(2), ScaledSign(), Blockwise(ScaledSign(), [4, 6])]
    cfgs = [("ef", {}), ("ef", {"error_averaging": True, "p": 3}), ("saef", {}), ("saef", {"p": 3}),
            ("ef", {"double_way": False}), ("saef", {"double_way": False, "p": 2})]
    return prob, comps, cfgs


def _s002_aux(ctx):
    from eftheory.lyapunov import aux_residual
    from eftheory.schedules import polynomial

    t0 = time.perf_counter()
    prob, comps, cfgs = _saef_configs(ctx)
    meas, ctl_res = {}, {}
    x0 = np.full(prob.dim, 2.0)
    for C in comps:
        for name, opt in cfgs:
            for mu in (0.0, 0.9):
                res = _run(name, prob, C, x0, ctx.pick(60, 300), stepsize=polynomial(0.1, 0.5), seed=1, mu=mu, **opt)
                scale = 1.0 + float(np.max(np.abs(res.diagnostics["x_aux"])))
                key = f"{name} {opt} {C!r} mu={mu}"
                meas[key] = float(np.max(aux_residual(res))) / scale
                dg = dict(res.diagnostics)
                dg["x_aux"] = np.asarray(res.x)                  # the error buffers dropped
                ctl_res[key] = float(np.max(aux_residual(replace(res, diagnostics=dg)))) / scale
    ok = max(meas.values()) <= RTOL
    ctl = control("dropped error buffer", "x_t in place of x_t - (e_t + e_bar_t)", max(ctl_res.values()) <= RTOL,
                  {"max_rel_residual": max(ctl_res.values()), "min_rel_residual": min(ctl_res.values())})
    return finish("S002-AUX", t0, ok, {"max_rel_residual": max(meas.values()), "configs": len(meas)}, 0.0, [ctl],
                  RULE_I, "EF and SAEF, single/double way, with and without error averaging, Top-2 / scaled sign / "
                  "layer-wise scaled sign, decaying stepsize")


def _s002_z(ctx):
    from eftheory.lyapunov import z_residual

    t0 = time.perf_counter()
    prob, comps, cfgs = _saef_configs(ctx)
    meas, ctl_res = {}, {}
    x0 = np.full(prob.dim, 2.0)
    for C in comps:
        for name, opt in cfgs:
            for mu in (0.0, 0.5, 0.9):
                res = _run(name, prob, C, x0, ctx.pick(60, 300), stepsize=0.05, seed=2, mu=mu, **opt)
                scale = 1.0 + float(np.max(np.abs(res.diagnostics["x_aux"])))
                key = f"{name} {opt} {C!r} mu={mu}"
                meas[key] = float(np.max(z_residual(res))) / scale
                if mu > 0:
                    bad = replace(res, momentum=np.asarray(res.momentum) * 0.5)   # p_t built with mu/2
                    ctl_res[key] = float(np.max(z_residual(bad))) / scale
    ok = max(meas.values()) <= RTOL
    ctl = control("wrong mu in p_t", "z_t built with mu/2 instead of mu", max(ctl_res.values()) <= RTOL,
                  {"min_rel_residual": min(ctl_res.values())})
    return finish("S002-Z", t0, ok, {"max_rel_residual": max(meas.values()), "configs": len(meas)}, 0.0, [ctl],
                  RULE_I, "constant stepsize 0.05; the same configurations as S002-AUX")


CLAIMS = [
    claim("EF21-INV", _ef21_inv, rule=RULE_I, controls=("server sum without 1/n",), cost=1.0),
    claim("S000-RED", _s000_red, rule=RULE_I, controls=("unnormalized reference",), cost=1.5),
    claim("S002-AUX", _s002_aux, rule=RULE_I, controls=("dropped error buffer",), cost=1.5),
    claim("S002-Z", _s002_z, rule=RULE_I, controls=("wrong mu in p_t",), cost=2.0),
]
