r"""Pointwise and pathwise inequalities of the sign-based methods (Jiang, Yu, Yang, Yang, Zhang [003]).

* Sign inequality (any g, v; any c > 0 in place of v's scale):
  :math:`\langle g, \mathrm{sign}(v)\rangle \ge \|g\|_1 - 2\|g - v\|_1`, coordinatewise
  :math:`g_i\,\mathrm{sign}(v_i) \ge |g_i| - 2|g_i - v_i|` (also for sign(0) in {-1, 0, 1}).
* SMM, l2-smooth f (pathwise): :math:`f(x_{t+1}) \le f(x_t) - \eta\|\nabla f(x_t)\|_1 +
  2\eta\|\nabla f(x_t) - v_t\|_1 + \frac L2\eta^2 d`; l-infinity-smooth:
  last term :math:`\frac{L_\infty}{2}\eta^2`.
* MVSM v1 (pathwise): the same with :math:`v_t` replaced by :math:`G u_t`.
* Law of the stochastic sign: :math:`\mathbb E[R\,S_R(v)] = v` (two outcomes per coordinate).

These are the standard ingredients of the reconstructed proofs of 003 Theorems 1-4 [R]
. Each check returns a :class:`~eftheory.compressors.Pair` or a slack array
(slack >= 0 means the inequality holds). Claims: ``S003-T1``, ``S003-T2``, ``S003-T3``,
``S003-T4`` (pathwise ingredients), ``S003-T5`` (unbiasedness of :math:`S_1`).
"""

from __future__ import annotations

import numpy as np

from eftheory.compressors import Pair, UnbiasedSign
from eftheory.problems.base import global_grad
from eftheory.validation import check_choice, check_positive, check_real

__all__ = [
    "sign_inequality",
    "sign_inequality_slack",
    "smm_descent_slack",
    "mvsm_v1_descent_slack",
    "stochastic_sign_mean",
]


def _sgn(v: np.ndarray, zero: float) -> np.ndarray:
    out = np.sign(v)
    out[v == 0] = zero
    return out


def _pair_arrays(g, v):
    g = np.asarray(g, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if g.shape != v.shape or g.ndim != 1:
        raise ValueError(f"g and v must be vectors of one shape; got {g.shape} and {v.shape}")
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(v))):
        raise ValueError("g and v must be finite (allowed: finite reals)")
    return g, v


def _zero(sign_zero) -> float:
    if isinstance(sign_zero, bool) or sign_zero not in (-1, 0, 1):
        raise ValueError(f"sign_zero must be one of -1, 0, 1; got {sign_zero!r}")
    return float(sign_zero)


def sign_inequality_slack(g, v, sign_zero=0) -> np.ndarray:
    r"""Per coordinate, :math:`g_i\,\mathrm{sign}(v_i) - |g_i| + 2|g_i - v_i|` (>= 0 exactly, also in floating point)."""
    g, v = _pair_arrays(g, v)
    s = _sgn(v, _zero(sign_zero))
    return (g * s - np.abs(g)) + 2.0 * np.abs(g - v)


def sign_inequality(g, v, sign_zero=0) -> Pair:
    r"""``Pair(observed=<g, sign v>, stated=||g||_1 - 2||g - v||_1)``; the claim is observed >= stated."""
    g, v = _pair_arrays(g, v)
    s = _sgn(v, _zero(sign_zero))
    return Pair(float(g @ s), float(np.abs(g).sum() - 2.0 * np.abs(g - v).sum()))


def _descent_slack(problem, result, estimate, L, smoothness) -> np.ndarray:
    check_choice("smoothness", smoothness, ("l2", "linf"))
    L = check_real("L", L, low=0.0)
    xs = np.asarray(result.x)
    f = np.asarray(result.f)
    eta = np.asarray(result.stepsize)
    d = xs.shape[1]
    grads = np.array([global_grad(problem, x) for x in xs[:-1]])
    quad = 0.5 * L * eta ** 2 * (d if smoothness == "l2" else 1.0)
    rhs = f[:-1] - eta * np.abs(grads).sum(axis=1) + 2.0 * eta * np.abs(grads - estimate).sum(axis=1) + quad
    return rhs - f[1:]


def smm_descent_slack(problem, result, L, smoothness="l2") -> np.ndarray:
    r"""Per step, RHS - LHS of :math:`f(x_{t+1}) \le f(x_t) - \eta\|\nabla f(x_t)\|_1 + 2\eta\|\nabla f(x_t) - v_t\|_1 + \frac L2\eta^2 d`.

    ``result`` comes from a centralized sign method (``smm``, ``signsgd``, ``signum``) whose
    ``diagnostics["estimate"][k, 0]`` is the vector whose sign was taken. ``smoothness="linf"``
    uses :math:`\frac{L}{2}\eta^2` with ``L`` the :math:`L_\infty` constant. Holds pathwise for an
    L-smooth f (slack >= 0 up to rounding).
    """
    est = np.asarray(result.diagnostics["estimate"])[:, 0, :]
    return _descent_slack(problem, result, est, L, smoothness)


def mvsm_v1_descent_slack(problem, result, L, G) -> np.ndarray:
    r"""Per step, RHS - LHS of :math:`f(x_{t+1}) \le f(x_t) - \eta\|\nabla f(x_t)\|_1 + 2\eta\|\nabla f(x_t) - G u_t\|_1 + \frac L2\eta^2 d`.

    ``result`` comes from ``mvsm-v1`` (either tie rule); ``G`` is the option of the run.
    """
    G = check_positive("G", G)
    u = np.asarray(result.diagnostics["u"])
    return _descent_slack(problem, result, G * u, L, "l2")


def stochastic_sign_mean(v, R) -> Pair:
    r"""``Pair(observed=E[R S_R(v)], stated=v)`` from the law of the implementation, enumerated.

    Each coordinate has two outcomes: +1 with probability :math:`p_i = \frac12 + \frac{v_i}{2R}`
    and -1 otherwise. The probability is read off :meth:`UnbiasedSign.apply`: the map must send
    the largest uniform below :math:`p_i` to +1 and :math:`u = p_i` to -1 (so the +1 set is
    exactly :math:`[0, p_i)`); a coordinate where it does not gets NaN. Needs
    :math:`\|v\|_\infty \le R`.
    """
    R = check_positive("R", R)
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or not np.all(np.isfinite(v)) or np.any(np.abs(v) > R):
        raise ValueError(f"v must be a finite vector with ||v||_inf <= R = {R:g}")
    S = UnbiasedSign(R)
    p = 0.5 + v / (2.0 * R)
    below = np.nextafter(p, -np.inf)
    at = p.copy()
    plus_below = S.apply(v, np.clip(below, 0.0, None)) == 1.0
    minus_at = np.where(p < 1.0, S.apply(v, np.minimum(at, np.nextafter(1.0, 0.0))) == -1.0, True)
    ok = np.where(p > 0.0, plus_below, True) & minus_at
    mean = np.where(ok, R * (p * 1.0 + (1.0 - p) * (-1.0)), np.nan)
    return Pair(mean, v)
