"""Log-log plots of the rate claims: seed mean with a CI band, the fitted line, the stated rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eftheory.rates import bootstrap_counts

__all__ = ["band", "loglog_plot"]


def band(stat, n_seeds: int, level: float = 0.95, B: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile-bootstrap band of a seed statistic ``stat(w) -> (R, m)``."""
    Yb = stat(bootstrap_counts(n_seeds, B, seed=1))
    a = (1 - level) / 2
    return np.quantile(Yb, a, axis=0), np.quantile(Yb, 1 - a, axis=0)


def loglog_plot(path_stem: Path, *, title: str, xlabel: str, ylabel: str, series: list, fits: list = (),
                refs: list = ()) -> list[str]:
    """Write ``<stem>.png`` and ``<stem>.pdf``.

    series: dicts {x, y, lo, hi, label, [dashed]}; fits: {x, slope, intercept, label} (log-log line);
    refs: {x, r, anchor_x, anchor_y, label} (a K^-r reference line through the anchor).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for s in series:
        x = np.asarray(s["x"], float)
        line, = ax.plot(x, s["y"], "--" if s.get("dashed") else "-", marker="o", ms=3, lw=1.4, label=s["label"])
        if s.get("lo") is not None:
            ax.fill_between(x, s["lo"], s["hi"], color=line.get_color(), alpha=0.2, lw=0)
    for f in fits:
        x = np.asarray(f["x"], float)
        ax.plot(x, np.exp(f["intercept"]) * x ** f["slope"], ":", color="k", lw=1.2, label=f["label"])
    for r in refs:
        x = np.asarray(r["x"], float)
        ax.plot(x, r["anchor_y"] * (x / r["anchor_x"]) ** (-r["r"]), "-.", color="grey", lw=1.0, label=r["label"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        p = path_stem.with_suffix("." + ext)
        fig.savefig(p, dpi=110)
        out.append(str(p))
    plt.close(fig)
    return out
