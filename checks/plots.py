r"""Log-log plots of the rate claims: seed mean with its CI band, the fitted line, the stated rate.

Every figure is drawn in the style of :mod:`checks.style` (one column, 8 pt, Type 42 fonts, PNG at
300 dpi and a vector PDF), with the labels in mathtext.

The band belongs to the curve it surrounds: it is the pointwise percentile bootstrap (over seeds)
of the very statistic that is plotted. For a seed mean that is the bootstrap of the mean. For a
min-over-iterations statistic (:math:`m_1=\min_k\mathbb E\|\nabla f(x^k)\|`, :math:`\min_t\mathbb E\|\nabla F(x_t)\|^2`)
the plotted value at a horizon is the seed mean of the curve at the iterate :math:`\hat t` where the
seed-mean curve is smallest; the band is the bootstrap of that seed mean with :math:`\hat t` held
fixed. (Bootstrapping the minimum itself picks a new minimum in every replicate; the minimum of a
resampled, noisier curve is biased low, so that band would lie below the curve it is meant to
describe.) The verdicts do not read these bands: their slope CIs come from
:func:`eftheory.rates.bootstrap_fit`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eftheory.rates import bootstrap_counts

from . import style

__all__ = ["band", "plotted_per_seed", "loglog_plot", "anchor_point"]


def plotted_per_seed(stat) -> np.ndarray | None:
    """(S, m) per-seed values whose seed mean is the plotted curve of a min-over-iterations
    statistic (one that carries its curves as ``stat.curves``: a list of (S, T) arrays, one per
    horizon); None for any other statistic."""
    curves = getattr(stat, "curves", None)
    if curves is None:
        return None
    cols = []
    for C in curves:
        C = np.asarray(C, dtype=np.float64)
        cols.append(C[:, int(np.argmin(C.mean(axis=0)))])
    return np.stack(cols, axis=1)


def band(stat, n_seeds: int, level: float = 0.95, B: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile-bootstrap band of the plotted statistic.

    ``stat(w) -> (R, m)`` maps seed weights to the statistic at the grid. A min-over-iterations
    statistic (``stat.curves``) is bootstrapped as the seed mean at its minimising iterate
    (:func:`plotted_per_seed`, see the module docstring); any other statistic as it is.
    """
    w = bootstrap_counts(n_seeds, B, seed=1)
    per_seed = plotted_per_seed(stat)
    if per_seed is not None:
        Yb = (w @ per_seed) / w.sum(axis=1, keepdims=True)
    else:
        Yb = np.asarray(stat(w), dtype=np.float64)
    a = (1 - level) / 2
    return np.quantile(Yb, a, axis=0), np.quantile(Yb, 1 - a, axis=0)


def anchor_point(x, y) -> tuple[float, float]:
    """The point of a log-log curve at the geometric middle of its x range (log-linear interpolation):
    where a reference line :math:`cK^{-r}` is compared with the measured curve."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    mid = (lx[0] + lx[-1]) / 2
    return float(np.exp(mid)), float(np.exp(np.interp(mid, lx, ly)))


def _thin_log_labels(axis, lo: float, hi: float) -> None:
    """Log-axis labels that do not collide at column width: powers of ten only; over a range of
    less than ~1.2 decades, also the minor ticks 2 and 5 (e.g. 2×10², 5×10²)."""
    import math

    from matplotlib.ticker import FuncFormatter, NullFormatter

    if not (lo > 0 and hi > lo) or math.log10(hi / lo) >= 1.2:
        axis.set_minor_formatter(NullFormatter())
        return

    def label(v, _pos):
        e = math.floor(math.log10(v) + 1e-9)
        m = v / 10 ** e
        return f"${round(m)}\\times10^{{{e}}}$" if round(m) in (2, 5) and abs(m - round(m)) < 1e-6 else ""

    axis.set_minor_formatter(FuncFormatter(label))


def loglog_plot(path_stem: Path, *, title: str, xlabel: str, ylabel: str, series: list, fits: list = (),
                refs: list = ()) -> list[str]:
    """Write ``<stem>.png`` and ``<stem>.pdf``; return their paths.

    series: dicts {x, y, lo, hi, label, [dashed]} (the first one is the measured quantity);
    fits: {x, slope, intercept, label} (a log-log line); refs: {x, r, label, [anchor_x, anchor_y]}
    (a :math:`K^{-r}` reference line through the anchor; without one, at the geometric middle of the
    line's own range, through the first fitted line -- the two then cross where their slopes are
    compared -- or, with no fit, through the first series). Labels may be ledger names (``m_1``, ``K``, ``K^-0.25``) or
    mathtext; :func:`checks.style.tex` sets them.
    """
    n_legend = len(series) + len(fits) + len(refs)
    with style.context():
        fig, ax = style.figure(legend_rows=n_legend)
        for s in series:
            x = np.asarray(s["x"], float)
            dashed = bool(s.get("dashed"))
            line, = ax.plot(x, s["y"], "--" if dashed else "-", marker="s" if dashed else "o",
                            ms=2.2 if dashed else 2.8, lw=0.9 if dashed else 1.3, label=style.tex(s["label"]),
                            zorder=2 if dashed else 3)
            if s.get("lo") is not None:
                ax.fill_between(x, s["lo"], s["hi"], color=line.get_color(), alpha=0.22, lw=0, zorder=1)
        for f in fits:
            x = np.asarray(f["x"], float)
            ax.plot(x, np.exp(f["intercept"]) * x ** f["slope"], ":", color="k", lw=1.1, label=style.tex(f["label"]),
                    zorder=4)
        for r in refs:
            x = np.asarray(r["x"], float)
            if r.get("anchor_x") is None and (fits or series):
                ax_ = float(np.sqrt(x[0] * x[-1]))              # geometric middle of the reference's range
                if fits:                                        # on the fitted line of the measured curve
                    ay_ = float(np.exp(fits[0]["intercept"]) * ax_ ** fits[0]["slope"])
                else:                                           # on the measured curve itself
                    s0 = series[0]
                    ay_ = float(np.exp(np.interp(np.log(ax_), np.log(np.asarray(s0["x"], float)),
                                                 np.log(np.asarray(s0["y"], float)))))
            else:
                ax_, ay_ = float(r["anchor_x"]), float(r["anchor_y"])
            ax.plot(x, ay_ * (x / ax_) ** (-r["r"]), "-.", color="0.45", lw=1.0, label=style.tex(r["label"]),
                    zorder=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        xs = np.concatenate([np.asarray(s["x"], float) for s in series]) if series else np.array([1.0])
        ys = np.concatenate([np.asarray(s["y"], float) for s in series]
                            + [np.asarray(s["lo"], float) for s in series if s.get("lo") is not None]
                            + [np.asarray(s["hi"], float) for s in series if s.get("hi") is not None]) \
            if series else np.array([1.0])
        ys = ys[np.isfinite(ys) & (ys > 0)]
        _thin_log_labels(ax.xaxis, float(xs.min()), float(xs.max()))
        if ys.size:
            _thin_log_labels(ax.yaxis, float(ys.min()), float(ys.max()))
        ax.set_xlabel(style.tex(xlabel))
        ax.set_ylabel(style.tex(ylabel))
        if title:
            ax.set_title(style.tex(title))
        ax.grid(True, which="both")
        fig.legend(loc="outside lower center", ncol=1)
        return style.save(fig, path_stem)
