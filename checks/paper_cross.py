r"""Claims that several papers share ([000], [001], [004]; the catalog's paper "000/001/004").

* ``C-TOPK`` (P) -- Top-K is alpha-contractive with alpha = K/d, with equality at equal magnitudes.
* ``EF21-INV`` (I) -- the server mirror :math:`g^k` equals :math:`\frac1n\sum_i g_i^k` (diagnostic
  ``mirror_gap`` of the EF21 loop), for EF21, ‖EF21‖ and two momentum variants.

Verdict rules and helpers: :mod:`checks.verdicts`.
"""

from __future__ import annotations

import time

import numpy as np

from .catalog import claim
from .instances import _logistic, _q_problem, _run, _vectors
from .verdicts import RTOL, RULE_I, RULE_P, _contraction_control, _merge, control, finish, ineq_figures, seeded

__all__ = ["CLAIMS"]


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


CLAIMS = [
    claim("C-TOPK", _c_topk, rule=RULE_P, controls=("alpha=(K+1)/d",), cost=0.2),
    claim("EF21-INV", _ef21_inv, rule=RULE_I, controls=("server sum without 1/n",), cost=1.0),
]
