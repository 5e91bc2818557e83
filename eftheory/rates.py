r"""Log-log rate fits with percentile-bootstrap confidence intervals over seeds.

A rate claim bounds a quantity :math:`Q_K` by :math:`C K^{-r}` (up to a log factor). This module
measures the exponent from runs made with several seeds and decides the claim by a rule that can
fail.

Quantities from one anytime run (prefix sums, no per-K reruns):

* :func:`weighted_average` -- :math:`W_K=\sum_{k\le K}\gamma_k\|\nabla f(x^k)\|/\sum_{k\le K}\gamma_k`, the exact
  conditional expectation of :math:`\|\nabla f(\hat x^K)\|` when :math:`\Pr[\hat x^K=x^k]\propto\gamma_k`.
* :func:`window_average` -- :math:`T_K=[\Gamma_KW_K-\Gamma_{K/2}W_{K/2}]/(\Gamma_K-\Gamma_{K/2})`, the
  :math:`\gamma`-weighted mean over :math:`K/2<k\le K`. Since :math:`T_K\le W_K/(1-\Gamma_{K/2}/\Gamma_K)`, a bound
  :math:`W_K=\tilde O(K^{-r})` implies :math:`T_K=\tilde O(K^{-r})`; unlike :math:`W_K` the window carries no
  transient constant, so its log-log slope shows :math:`r` without the log bias.

Statistics over seeds are seed means; a bootstrap replicate resamples the seeds with replacement
(the same draw for every point of a curve, and for both members of a paired comparison) and refits.

Verdict rules (each returns PASS / FAIL / INCONCLUSIVE from the CI):

* :func:`rate_rule` -- upper-bound rate: the slope is at most :math:`-r+\mathrm{tol}` on the whole grid
  **and** on its upper half (a plateau after a transient passes a whole-grid fit but not the upper
  half). PASS if the CI's upper end is at most the threshold, FAIL if its lower end exceeds it.
* :func:`paired_rule` -- faster-than: the slope of :math:`\log(Q^A_K/Q^B_K)` (same seeds, so common random
  numbers and log factors cancel) is at least a threshold, e.g. :math:`(r_B-r_A)/2`.
* :func:`range_rule` -- an exponent lies in an interval (e.g. a dimension exponent in [0.4, 0.6]).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from .validation import check_int, check_real

__all__ = [
    "PASS", "FAIL", "INCONCLUSIVE",
    "Fit", "RuleResult",
    "log_grid", "ols_slope", "ols_slopes",
    "weighted_average", "window_average", "prefix_min",
    "bootstrap_counts", "bootstrap_fit", "mean_stat",
    "upper_half", "threshold_verdict", "combine_verdicts",
    "rate_rule", "paired_rule", "range_rule",
    "DEFAULT_BOOTSTRAP", "DEFAULT_BOOTSTRAP_SEED",
]

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
DEFAULT_BOOTSTRAP = 1000
DEFAULT_BOOTSTRAP_SEED = 20240917


# ----------------------------------------------------------------------------- grids and fits

def log_grid(lo: int, hi: int, m: int) -> np.ndarray:
    """``m`` distinct integers log-spaced from ``lo`` to ``hi`` (both included)."""
    lo = check_int("lo", lo, low=1)
    hi = check_int("hi", hi, low=lo)
    m = check_int("m", m, low=1)
    if m == 1:
        return np.array([hi], dtype=np.int64)
    g = np.unique(np.round(np.exp(np.linspace(np.log(lo), np.log(hi), m))).astype(np.int64))
    if len(g) != m:
        raise ValueError(f"m must be at most the number of distinct integers in [{lo}, {hi}] on a log grid; got {m}")
    return g


def ols_slopes(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """OLS slopes of each row of ``Y`` (B, m) on ``x`` (m,)."""
    x = np.asarray(x, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    xc = x - x.mean()
    return (Y - Y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)


def ols_slope(x, y) -> float:
    """OLS slope of ``y`` on ``x``."""
    return float(ols_slopes(x, np.asarray(y, dtype=np.float64)[None, :])[0])


# ----------------------------------------------------------------------------- anytime quantities

def _prefix(gamma: np.ndarray, g: np.ndarray):
    gamma = np.asarray(gamma, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if gamma.shape[-1] != g.shape[-1]:
        raise ValueError(f"gamma must have the length of the curve ({g.shape[-1]}); got {gamma.shape[-1]}")
    if np.any(gamma <= 0):
        raise ValueError("gamma must be positive (allowed: (0, inf))")
    G = np.cumsum(gamma, axis=-1)
    S = np.cumsum(gamma * g, axis=-1)
    return G, S


def weighted_average(gamma, g, K=None) -> np.ndarray:
    r""":math:`W_K` for every K (or at the indices ``K``); ``g`` (..., n) holds :math:`\|\nabla f(x^k)\|`, k = 0..n-1."""
    G, S = _prefix(gamma, g)
    W = S / G
    return W if K is None else W[..., np.asarray(K)]


def window_average(gamma, g, K) -> np.ndarray:
    r""":math:`T_K` at the indices ``K`` (each >= 1): the :math:`\gamma`-weighted mean of g over :math:`\lfloor K/2\rfloor<k\le K`."""
    G, S = _prefix(gamma, g)
    K = np.asarray(K, dtype=np.int64)
    if np.any(K < 1) or np.any(K >= g.shape[-1]):
        raise ValueError(f"K must lie in [1, {g.shape[-1] - 1}]; got {K.tolist()}")
    h = K // 2
    return (S[..., K] - S[..., h]) / (G[..., K] - G[..., h])


def prefix_min(g, K=None) -> np.ndarray:
    """Running minimum of a curve along its last axis (at the indices ``K`` if given)."""
    m = np.minimum.accumulate(np.asarray(g, dtype=np.float64), axis=-1)
    return m if K is None else m[..., np.asarray(K)]


# ----------------------------------------------------------------------------- bootstrap

def bootstrap_counts(n_seeds: int, B: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_BOOTSTRAP_SEED) -> np.ndarray:
    """(B, n_seeds) resampling weights: row b counts how often each seed is drawn (rows sum to n_seeds)."""
    n_seeds = check_int("n_seeds", n_seeds, low=2)
    B = check_int("B", B, low=10)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_seeds, size=(B, n_seeds))
    counts = np.zeros((B, n_seeds))
    np.add.at(counts, (np.repeat(np.arange(B), n_seeds), idx.ravel()), 1.0)
    return counts


def mean_stat(Y) -> Callable[[np.ndarray], np.ndarray]:
    """Statistic of per-seed values ``Y`` (S, m): the weighted seed mean, weights (B, S) -> (B, m)."""
    Y = np.asarray(Y, dtype=np.float64)

    def stat(w: np.ndarray) -> np.ndarray:
        return (w @ Y) / w.sum(axis=1, keepdims=True)

    stat.n_seeds = Y.shape[0]
    return stat


@dataclass(frozen=True)
class Fit:
    """A log-log slope with its percentile-bootstrap CI over seeds."""

    slope: float
    lo: float
    hi: float
    level: float
    n_seeds: int
    n_boot: int
    x: tuple          # grid (e.g. K values)
    y: tuple          # seed-mean statistic at the grid
    intercept: float

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_fit(x, stat: Callable[[np.ndarray], np.ndarray], n_seeds: int, *, B: int = DEFAULT_BOOTSTRAP,
                  seed: int = DEFAULT_BOOTSTRAP_SEED, level: float = 0.95, log_y: bool = True) -> Fit:
    """Slope of ``log stat`` on ``log x`` with a percentile bootstrap CI over seeds.

    ``stat(w)`` maps seed weights (R, S) to the statistic at the grid (R, m); the point estimate
    uses equal weights. ``log_y=False`` fits ``stat`` itself (already a log, e.g. a log-ratio).
    """
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x must be a grid of at least 2 points; got {x.tolist()}")
    lx = np.log(x)
    tr = (lambda v: np.log(v)) if log_y else (lambda v: v)
    y0 = np.asarray(stat(np.ones((1, n_seeds))), dtype=np.float64)[0]
    if log_y and np.any(y0 <= 0):
        raise ValueError("stat must be positive on the grid for a log-log fit")
    slope0 = ols_slope(lx, tr(y0))
    intercept0 = float(np.mean(tr(y0)) - slope0 * lx.mean())
    Yb = np.asarray(stat(bootstrap_counts(n_seeds, B, seed)), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sl = ols_slopes(lx, tr(Yb))
    sl = sl[np.isfinite(sl)]
    a = (1 - level) / 2
    lo, hi = (float(v) for v in np.quantile(sl, [a, 1 - a]))
    return Fit(slope=slope0, lo=lo, hi=hi, level=level, n_seeds=int(n_seeds), n_boot=int(B),
               x=tuple(float(v) for v in x), y=tuple(float(v) for v in y0), intercept=intercept0)


# ----------------------------------------------------------------------------- verdict rules

def threshold_verdict(fit: Fit, threshold: float, *, direction: str = "le") -> str:
    """``le``: slope <= threshold claimed; ``ge``: slope >= threshold claimed; decided from the CI."""
    if direction == "le":
        return PASS if fit.hi <= threshold else FAIL if fit.lo > threshold else INCONCLUSIVE
    if direction == "ge":
        return PASS if fit.lo >= threshold else FAIL if fit.hi < threshold else INCONCLUSIVE
    raise ValueError(f"direction must be one of 'le', 'ge'; got {direction!r}")


def combine_verdicts(verdicts: Sequence[str]) -> str:
    """All PASS -> PASS; any FAIL -> FAIL; otherwise INCONCLUSIVE."""
    if any(v == FAIL for v in verdicts):
        return FAIL
    if verdicts and all(v == PASS for v in verdicts):
        return PASS
    return INCONCLUSIVE


def upper_half(x) -> np.ndarray:
    """Boolean mask of the grid points in the upper half of the log range (at least 2 points)."""
    lx = np.log(np.asarray(x, dtype=np.float64))
    mask = lx >= (lx[0] + lx[-1]) / 2 - 1e-12
    if mask.sum() < 2:
        mask[-2:] = True
    return mask


@dataclass(frozen=True)
class RuleResult:
    """Verdict of a rule with the fits it used."""

    verdict: str
    threshold: object     # a float, or (low, high) for range_rule
    fits: dict            # name -> Fit
    rule: str

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "threshold": self.threshold, "rule": self.rule,
                "fits": {k: f.as_dict() for k, f in self.fits.items()}}


def _restrict(stat, mask):
    return lambda w: stat(w)[:, mask]


def rate_rule(x, stat, n_seeds: int, r: float, tol: float, *, upper: bool = True,
              B: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_BOOTSTRAP_SEED) -> RuleResult:
    """Upper-bound rate rule: slope <= -r + tol on the whole grid and (``upper``) on its upper half."""
    x = np.asarray(x, dtype=np.float64)
    th = -float(r) + float(tol)
    fits = {"all": bootstrap_fit(x, stat, n_seeds, B=B, seed=seed)}
    if upper:
        m = upper_half(x)
        fits["upper"] = bootstrap_fit(x[m], _restrict(stat, m), n_seeds, B=B, seed=seed)
    verdict = combine_verdicts([threshold_verdict(f, th) for f in fits.values()])
    desc = f"slope <= -{r:.4g} + {tol:g} = {th:.4g}" + (" on the whole grid and its upper half" if upper else "")
    return RuleResult(verdict, th, fits, desc)


def paired_rule(x, stat_a, stat_b, n_seeds: int, threshold: float, *, B: int = DEFAULT_BOOTSTRAP,
                seed: int = DEFAULT_BOOTSTRAP_SEED) -> RuleResult:
    """Slope of log(A/B) >= threshold, resampling the same seeds for A and B."""
    x = np.asarray(x, dtype=np.float64)

    def ratio(w):
        return np.log(stat_a(w)) - np.log(stat_b(w))

    fit = bootstrap_fit(x, ratio, n_seeds, B=B, seed=seed, log_y=False)
    v = threshold_verdict(fit, threshold, direction="ge")
    return RuleResult(v, float(threshold), {"ratio": fit}, f"slope of log(A/B) >= {threshold:.4g}")


def range_rule(x, stat, n_seeds: int, low: float, high: float, *, B: int = DEFAULT_BOOTSTRAP,
               seed: int = DEFAULT_BOOTSTRAP_SEED) -> RuleResult:
    """Exponent in [low, high]: PASS if the CI lies inside, FAIL if it is disjoint, else INCONCLUSIVE."""
    fit = bootstrap_fit(np.asarray(x, dtype=np.float64), stat, n_seeds, B=B, seed=seed)
    if low <= fit.lo and fit.hi <= high:
        v = PASS
    elif fit.hi < low or fit.lo > high:
        v = FAIL
    else:
        v = INCONCLUSIVE
    return RuleResult(v, (float(low), float(high)), {"exponent": fit}, f"exponent in [{low:g}, {high:g}]")
