r"""Identities, constants and lemma checks of step-ahead error feedback (Xu, Huo, Huang [002]).

Notation (002's K workers are n here; :math:`s := \sqrt{1-\delta}` for a :math:`\delta`-approximate
compressor; :math:`B := \eta_{\max}^2(M^2+\sigma^2)/(1-\mu)^2`):

* auxiliary iterate :math:`\tilde x_t = x_t - (e_t + \bar e_t)` with
  :math:`\tilde x_{t+1} = \tilde x_t - \frac{\eta_t}{n}\sum_k m_{t+1}^{(k)}` (eq. (3), ``S002-AUX``);
* momentum virtual sequence :math:`z_t = \tilde x_t + \frac{\mu}{1-\mu}(\tilde x_t - \tilde x_{t-1})`
  with :math:`z_{t+1} - z_t = -\frac{\eta}{(1-\mu)n}\sum_k \nabla f(x_{t+1/2}^{(k)};\xi_t^{(k)})`
  (App. (84)-(86), ``S002-Z``);
* :math:`C = \frac{2-\delta}{1-s} + \frac{n-1}{n}` and the Lemma-2 function
  :math:`h(\beta_1) = \frac{(1-\delta)(1+1/\beta_1)}{1-(1-\delta)(1+\beta_1)}`, minimal at
  :math:`\beta_1 = 1/s - 1` with value :math:`\frac{1-\delta}{(1-s)^2}`; 002 prints
  :math:`\frac{1-\delta}{2(1-s)}` (an erratum; e.g. :math:`\delta = 0.5`: 5.83 vs 0.854).
  Corrected chain: server error :math:`\le \frac{2(2-\delta)(1-\delta)}{(1-s)^4}B`, SAEF mismatch
  :math:`\le \big[\frac{4(2-\delta)(1-\delta)}{(1-s)^4} + \frac{2(n-1)(1-\delta)}{n(1-s)^2}\big]B`.

The closed forms come from :mod:`eftheory.derivations.saef` (exposed here as :func:`constant_C`, :func:`lemma2_h`, :func:`lemma2_min_printed`,
:func:`lemma2_min_corrected`, :func:`server_error_constant_corrected`,
:func:`lemma5_constant_printed`, :func:`lemma5_constant_corrected`, :func:`alpha_mu`).

Checks return :class:`Pair` ``(observed, stated)`` values or residual/slack arrays. Claims:
``S002-AUX``, ``S002-Z``, ``S002-P1``, ``S002-C1``, ``S002-AL1``, ``S002-AL2``, ``S002-AL5``.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from eftheory.compressors import Pair
from eftheory.derivations import saef as _d002
from eftheory.problems.base import global_grad
from eftheory.validation import check_int, check_real

__all__ = [
    "BoundCheck",
    "constant_C",
    "lemma2_h",
    "lemma2_min_printed",
    "lemma2_min_corrected",
    "server_error_constant_corrected",
    "lemma5_constant_printed",
    "lemma5_constant_corrected",
    "alpha_mu",
    "aux_residual",
    "z_residual",
    "proposition1_bounds",
    "c1_terms",
    "max_grad_sq_at_evaluation_points",
    "lemma1_check",
    "lemma2_check",
    "lemma5_check",
]


class BoundCheck(NamedTuple):
    """A Monte-Carlo figure beside the bound with the corrected constant (the gate) and the printed one.

    ``observed`` is the largest Monte-Carlo mean over the cells (t, k) and ``se`` the standard
    error of that mean over the seeds; a check at confidence z reads
    ``observed - z * se <= corrected``.
    """

    observed: float
    se: float
    corrected: float
    printed: float


def _delta(delta) -> float:
    return check_real("delta", delta, low=0.0, high=1.0, low_open=True)


def _n(n) -> int:
    return check_int("n", n, low=1)


# The closed forms of [002] are derived symbolically in :mod:`eftheory.derivations.saef`; the
# names below are the ones the checks of this module use.
constant_C = _d002.c_const                                   #: C of Lemma 1 / Theorems 1-3
lemma2_min_printed = _d002.lemma2_min_printed                #: minimum of h as printed [erratum]
lemma2_min_corrected = _d002.lemma2_min                      #: true minimum of h
server_error_constant_corrected = _d002.server_error_const   #: Lemma 4 with both minimisers
lemma5_constant_printed = _d002.mismatch_const_printed       #: Lemma 1/5 as printed
lemma5_constant_corrected = _d002.mismatch_const             #: corrected Lemma 5
alpha_mu = _d002.alpha_mu                                    #: alpha of Theorem 3


def lemma2_h(beta1, delta) -> float:
    """:math:`h(\\beta_1)` of [002] Lemma 2, for :math:`0 < \\beta_1 < \\delta/(1-\\delta)`."""
    return _d002.lemma2_factor(delta, beta1)


# -- identities along a run ---------------------------------------------------------------

def aux_residual(result) -> np.ndarray:
    r"""Per step, :math:`\max_i |\tilde x_{t+1} - \tilde x_t + \eta_t \bar m_{t+1}|_i` (stated value 0).

    ``result`` is an ``ef`` or ``saef`` :class:`Result`. Serves ``S002-AUX``.
    """
    xa = np.asarray(result.diagnostics["x_aux"])
    eta = np.asarray(result.stepsize)[:, None]
    m_bar = np.asarray(result.diagnostics["momentum_mean"])
    return np.max(np.abs(xa[1:] - xa[:-1] + eta * m_bar), axis=1)


def z_residual(result) -> np.ndarray:
    r"""Per step, :math:`\max_i |z_{t+1} - z_t + \frac{\eta}{1-\mu}\bar g_t|_i` (stated value 0).

    :math:`z_t = \tilde x_t + p_t`, :math:`p_0 = 0`, :math:`p_t = \frac{\mu}{1-\mu}(\tilde x_t - \tilde x_{t-1})`;
    :math:`\bar g_t` is the mean stochastic gradient of step t at the evaluation points.
    Needs a constant stepsize (ValueError otherwise). Serves ``S002-Z``.
    """
    eta = np.asarray(result.stepsize)
    if not np.all(eta == eta[0]):
        raise ValueError("stepsize must be constant for the z_t identity of 002 (allowed: a constant float)")
    mu = float(np.asarray(result.momentum)[0])
    xa = np.asarray(result.diagnostics["x_aux"])
    g_bar = np.asarray(result.diagnostics["grad_mean"])
    p = np.zeros_like(xa)
    p[1:] = mu / (1.0 - mu) * (xa[1:] - xa[:-1])
    z = xa + p
    return np.max(np.abs(z[1:] - z[:-1] + eta[0] / (1.0 - mu) * g_bar), axis=1)


# -- Proposition 1 and Corollary 1 (closed forms) -------------------------------------------

def proposition1_bounds(server_sq, var, mean_sq) -> Pair:
    r"""002 Proposition 1: the two mismatch bounds for the same errors.

    Args:
        server_sq: :math:`\mathbb E\|e_t\|^2` (>= 0).
        var: per-worker :math:`\mathrm{Var}(e_t^{(k)}) = \mathbb E\|e_t^{(k)} - \mathbb E e_t^{(k)}\|^2`, shape (n,).
        mean_sq: per-worker :math:`\|\mathbb E e_t^{(k)}\|^2`, shape (n,).

    Returns:
        ``Pair(observed=SAEF bound, stated=EF bound)`` with
        SAEF :math:`2\mathbb E\|e_t\|^2 + \frac{2(n-1)}{n^2}\sum_k \mathrm{Var}` (eq. (33)) and
        EF :math:`2\mathbb E\|e_t\|^2 + \frac{2}{n^2}\sum_k \mathrm{Var} + \frac2n\sum_k\|\mathbb E e^{(k)}\|^2`
        (eq. (34)). The proposition: SAEF < EF whenever every
        :math:`\mathrm{Var}(e^{(k)}) \le \|\mathbb E e^{(k)}\|^2` and some mean is non-zero.
    """
    server_sq = check_real("server_sq", server_sq, low=0.0)
    var = np.asarray(var, dtype=np.float64)
    mean_sq = np.asarray(mean_sq, dtype=np.float64)
    if var.ndim != 1 or var.shape != mean_sq.shape or var.size == 0:
        raise ValueError(f"var and mean_sq must be vectors of one length n >= 1; got {var.shape} and {mean_sq.shape}")
    if np.any(var < 0) or np.any(mean_sq < 0) or not np.all(np.isfinite(var + mean_sq)):
        raise ValueError("var and mean_sq must be finite and >= 0 (allowed: [0, inf))")
    n = var.size
    saef = 2.0 * server_sq + 2.0 * (n - 1) / n ** 2 * float(var.sum())
    ef = 2.0 * server_sq + 2.0 / n ** 2 * float(var.sum()) + 2.0 / n * float(mean_sq.sum())
    return Pair(saef, ef)


def c1_terms(delta, eta, L, n, second_moment=1.0) -> Pair:
    r"""002 Corollary 1: SAEF-SGD's compression term (Theorem 2) vs EF-SGD's (Zheng et al. 2019).

    SAEF: :math:`\big(1 + \frac{8C}{3-2\eta L}\big)\frac{1-\delta}{1-\sqrt{1-\delta}}\eta^2L^2(M^2+\sigma^2)`;
    Zheng et al.: :math:`\frac{32L^2(1-\delta)(M^2+\sigma^2)}{\delta^2}\big(1+\frac{16}{\delta^2}\big)\frac{\eta^2}{3-2\eta L}`.
    ``second_moment`` is :math:`M^2+\sigma^2`; needs :math:`0 < \eta L < 3/2`.

    Returns:
        ``Pair(observed=SAEF term, stated=Zheng term)``; the corollary claims observed < stated
        for :math:`0 < \delta < 1` (both vanish at :math:`\delta = 1`).
    """
    delta, n = _delta(delta), _n(n)
    eta = check_real("eta", eta, low=0.0, low_open=True)
    L = check_real("L", L, low=0.0, low_open=True)
    if eta * L >= 1.5:
        raise ValueError(f"eta*L must lie in (0, 1.5) for [002] Theorem 2; got {eta * L:g}")
    m2 = check_real("second_moment", second_moment, low=0.0)
    saef = _d002.theorem2_compression_term(eta, L, n, delta, m2, 0.0)
    zheng = _d002.zheng_term(eta, L, delta, m2, 0.0)
    return Pair(saef, zheng)


# -- Monte-Carlo lemma checks ---------------------------------------------------------------

def max_grad_sq_at_evaluation_points(problem, result) -> float:
    r""":math:`\max \|\nabla F(y)\|^2` over the points where step t evaluated gradients.

    The points are the ones the run recorded (``eval_points``, with ``record_clients=True``): EF's
    :math:`y = x_t`, SAEF's :math:`y = x_t - e_t^{(k)}`. This is the :math:`M^2` of 002 Assumption 3
    along the run.
    """
    if "eval_points" not in result.diagnostics:
        raise ValueError("result must come from a run with record_clients=True (allowed: True): "
                         "the evaluation points are read from its diagnostics['eval_points']")
    ev = np.asarray(result.diagnostics["eval_points"])
    ys = ev.reshape(-1, ev.shape[-1])
    return max(float(np.sum(global_grad(problem, y) ** 2)) for y in ys)


def _B(eta_max, M2, sigma2, mu) -> float:
    return eta_max ** 2 * (M2 + sigma2) / (1.0 - mu) ** 2


def _common(results: Sequence, M2, sigma2):
    if len(results) == 0:
        raise ValueError("results must hold at least one run (allowed: a non-empty sequence)")
    M2 = check_real("M2", M2, low=0.0)
    sigma2 = check_real("sigma2", sigma2, low=0.0)
    mu = float(np.asarray(results[0].momentum)[0])
    eta_max = max(float(np.max(r.stepsize)) for r in results)
    return M2, sigma2, mu, eta_max


def _max_cell(samples: np.ndarray) -> tuple[float, float]:
    """Largest mean over seeds (axis 0) and the standard error of that cell."""
    mean = samples.mean(axis=0)
    idx = np.unravel_index(int(np.argmax(mean)), mean.shape)
    cell = samples[(slice(None), *idx)]
    se = float(cell.std(ddof=1) / math.sqrt(cell.size)) if cell.size > 1 else math.inf
    return float(mean[idx]), se


def lemma1_check(results: Sequence, *, M2, sigma2) -> BoundCheck:
    r"""002 Lemma 1 (``S002-AL1``): :math:`\max_{t,k}\widehat{\mathbb E}\|m_{t+1}^{(k)}\|^2` vs :math:`(M^2+\sigma^2)/(1-\mu)^2`.

    ``results`` are runs of one configuration over independent seeds; the expectation is their
    mean. The lemma has no compression constant, so ``corrected == printed``. With
    :math:`\mu = 0` and a constant :math:`\nabla F` the bound is attained (equality).
    """
    M2, sigma2, mu, _ = _common(results, M2, sigma2)
    obs, se = _max_cell(np.array([np.asarray(r.diagnostics["momentum_sq_norm"]) for r in results]))
    bound = (M2 + sigma2) / (1.0 - mu) ** 2
    return BoundCheck(obs, se, bound, bound)


def lemma2_check(results: Sequence, *, delta, M2, sigma2) -> BoundCheck:
    r"""002 Lemma 2 (``S002-AL2``): :math:`\max_{t,k}\widehat{\mathbb E}\|e_{t+1}^{(k)}\|^2` vs
    :math:`\frac{1-\delta}{(1-\sqrt{1-\delta})^2}B` (corrected) and :math:`\frac{1-\delta}{2(1-\sqrt{1-\delta})}B` (printed).

    Valid without error averaging (p = inf), as in the lemma.
    """
    M2, sigma2, mu, eta_max = _common(results, M2, sigma2)
    B = _B(eta_max, M2, sigma2, mu)
    obs, se = _max_cell(np.array([np.asarray(r.diagnostics["client_error_norm"])[1:] ** 2 for r in results]))
    return BoundCheck(obs, se, lemma2_min_corrected(delta) * B, lemma2_min_printed(delta) * B)


def lemma5_check(results: Sequence, *, delta, M2, sigma2) -> BoundCheck:
    r"""002 Lemma 1/5 (``S002-AL5``): :math:`\max_t \widehat{\mathbb E}\frac1n\sum_k\|e_t + \bar e_t - e_t^{(k)}\|^2`
    vs the corrected constant (gate) and :math:`C\frac{1-\delta}{1-\sqrt{1-\delta}}B` (printed)."""
    M2, sigma2, mu, eta_max = _common(results, M2, sigma2)
    B = _B(eta_max, M2, sigma2, mu)
    n = int(results[0].config["n"])
    obs, se = _max_cell(np.array([np.asarray(r.diagnostics["mismatch_saef"]) for r in results]))
    return BoundCheck(obs, se, lemma5_constant_corrected(delta, n) * B, lemma5_constant_printed(delta, n) * B)
