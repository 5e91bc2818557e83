r"""The protocol of the experiment (kind Q) claims S000-Q, S002-Q and S003-Q.

The experiments of [000] Sec. 7, [002] Sec. 5 and [003] Sec. 6 run on scikit-learn's bundled
``digits`` (and ``breast_cancer``) with a small MLP / CNN and n = 10 clients split as in [000]
(:mod:`eftheory.experiments`). Every method is tuned by its paper's protocol (a stepsize grid,
and the momentum where it is free; best final training loss on separate tuning seeds), then run on
the evaluation seeds. Every ordering of a paper ("A trains faster than B") is a sub-claim judged on
the late-phase training loss (mean of the last quarter of the epoch-end losses) by a paired
t-interval over seeds of A - B: PASS when the whole 95 % interval is below 0, FAIL when it is above
0, INCONCLUSIVE otherwise. A claim is PASS iff every sub-claim is, FAIL if one is FAIL. Each
ordering has a negative control judged by the same rule -- the winner with the credited mechanism
removed (no momentum, no compression) or an independent replicate of an arm, on fresh seeds,
against the arm it is compared with -- which must not PASS.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .claim import FAIL, INCONCLUSIVE, PASS
from .verdicts import control

__all__ = ["REPLICATE", "TUNE_SEEDS", "LEVEL"]


# ----------------------------------------------------------------------------- real-data experiments

_EXP_SOURCES = ("eftheory/experiments.py", "eftheory/compressors.py", "eftheory/schedules.py",
                "eftheory/derivations/momentum.py", "algorithms/cards.py")
REPLICATE = 500          # seed offset of the replicate arms of the controls
TUNE_SEEDS = (1000,)     # tuning seeds (never among the evaluation seeds)
LEVEL = 0.95


def _version() -> str:
    from .cache import code_version
    from .simulate import ROOT

    files = list(_EXP_SOURCES)
    files += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "algorithms" / "torch").rglob("*.py"))
    return code_version(files, ROOT)


@lru_cache(maxsize=4)
def _federation(dataset: str, n_clients: int):
    from eftheory import experiments as ex
    return ex.make_federation(dataset, n_clients, seed=0)


class _Runner:
    """Runs (or loads from the ledger's cache) one training run per (method, hp, seed)."""

    def __init__(self, ctx, **setting):
        self.ctx, self.setting = ctx, dict(setting)
        self.setting.setdefault("n_clients", 10)
        self.version = _version()

    def __call__(self, method, hp, seed):
        from eftheory import experiments as ex
        from .cache import Cache

        ctx = self.ctx
        cfg = {"experiment": "real-data-1", "method": method, "hp": hp, **self.setting}
        key = Cache.key(cfg, [seed], "torch-optim", self.version)
        arrays = ctx.cache.get(key)
        if arrays is None:
            fed = _federation(self.setting["dataset"], self.setting["n_clients"])
            arrays = ex.run(method, hp, seed=int(seed), fed=fed, **self.setting)
            ctx.cache.put(key, arrays, claim=ctx.claim_id, label=f"{method} {hp} seed={seed}")
            ctx.computed += 1
        else:
            ctx.cached += 1
        return {k: np.asarray(v) for k, v in arrays.items()}

    def tuned(self, method, grid, seeds, fixed=None):
        """The paper protocol: the grid point with the lowest final training loss on the tuning
        seeds, then the evaluation seeds at that point."""
        from eftheory import experiments as ex

        grid = [{**(fixed or {}), **g} for g in grid]
        t = ex.tune(method, grid, self, TUNE_SEEDS)
        return {"hp": t["hp"], "grid": t["grid"], "recs": [self(method, t["hp"], s) for s in seeds]}


def _grid(**axes):
    out = [{}]
    for name, values in axes.items():
        out = [{**g, name: v} for g in out for v in values]
    return out


def _late(recs, metric="train_loss"):
    from eftheory.experiments import late_phase
    return np.array([late_phase(r[metric]) for r in recs])


def _cmp(a_name, a, b_name, b):
    from eftheory.experiments import paired_ordering
    r = paired_ordering(a, b, level=LEVEL)
    return {"a": a_name, "b": b_name, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()}}


_SUB_RULE = ("each sub-claim: every listed ordering PASSes a 95 % paired t-interval over seeds of the "
             "late-phase training loss; PASS iff all sub-claims PASS, FAIL if one FAILs")


def _combine(verdicts) -> str:
    verdicts = list(verdicts)
    if verdicts and all(v == PASS for v in verdicts):
        return PASS
    return FAIL if FAIL in verdicts else INCONCLUSIVE


def _sub(statement, comparisons) -> dict:
    return {"statement": statement, "verdict": _combine(c["verdict"] for c in comparisons),
            "confidence": f"{LEVEL:.0%} paired t-interval of the difference over {comparisons[0]['seeds']} seeds",
            "comparisons": comparisons}


def _summary(recs, metrics=("train_loss", "test_acc", "grad_norm", "grad_norm_l1")) -> dict:
    from eftheory.experiments import seed_band
    out = {}
    for m in metrics:
        v = _late(recs, m)
        mean, lo, hi = seed_band(v[:, None])
        out[f"late_{m}"] = {"mean": round(float(mean[0]), 5), "lo": round(float(lo[0]), 5), "hi": round(float(hi[0]), 5)}
    out["diverged_runs"] = int(sum(int(r["diverged"][-1]) for r in recs))
    return out


def _at_edge(arm) -> list:
    """The tuned axes whose chosen value is the smallest or largest value of the grid (the grid may
    not bracket the optimum there)."""
    out = []
    for axis, value in arm["hp"].items():
        values = sorted({g["hp"][axis] for g in arm["grid"]}, key=float)
        if len(values) > 1 and value in (values[0], values[-1]):
            out.append(axis)
    return out


def _method_table(arms) -> dict:
    return {name: {"chosen": a["hp"], "chosen_at_grid_edge": _at_edge(a),
                   "grid": [{"hp": g["hp"], "final_loss": round(g["final_loss"], 5)} for g in a["grid"]],
                   **_summary(a["recs"])}
            for name, a in arms.items()}


def _control_of(name, description, cmp_) -> object:
    return control(name, description, cmp_["verdict"] == PASS, cmp_)


def _plots(ctx, stem, arms, title, metrics=("train_loss", "test_acc", "grad_norm")) -> list:
    if ctx.plot_dir is None:
        return []
    from eftheory.experiments import plot_curves
    try:
        return plot_curves(ctx.plot_dir / stem, {k: a["recs"] for k, a in arms.items()}, title=title,
                           metrics=metrics)
    except Exception as exc:   # a plotting failure must not change the verdict
        return [f"plot failed: {exc}"]


def _setting(ctx, arch_quick="mlp", arch_full="cnn", dataset="digits"):
    return {"dataset": dataset, "arch": ctx.pick(arch_quick, arch_full), "epochs": ctx.pick(8, 30),
            "batch": 32, "schedule": "iteration"}
