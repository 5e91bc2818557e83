r"""Lyapunov functions and one-step inequalities of the EF21 family, evaluated along a run.

Every check returns an :class:`Inequality` of per-step arrays ``(lhs, rhs)``: the claim is
``lhs <= rhs`` at every entry; ``slack = rhs - lhs`` and ``min_slack`` summarise it. Nothing here
returns a bare boolean. With a deterministic compressor (Top-K) and exact gradients the lemmas
stated in expectation hold pathwise, which is how the checks below read them.

Indexing: a run of K steps has iterates :math:`x^0..x^K` and per-step client states
:math:`g_i^k, v_i^k` for k = 0..K-1 (recorded with ``record_clients=True``). Two-step inequalities
(k -> k+1 in the client states) therefore have K-1 entries.

Functions, with the claim ids they serve:

* :func:`lyapunov_ef21_norm` -- :math:`V^k` of ‖EF21‖ ([004], Theorem 1), weight
  :math:`A_k = 2\gamma_k/(1-\sqrt{1-\alpha})`.
* :func:`lyapunov_momentum` -- :math:`\Phi_k` of [000] (§5.3, weights :math:`A_k`,
  :math:`B_k=\sqrt{1-\alpha}A_k`, reconstructed); :func:`lyapunov_sgdm` -- :math:`V^k` of [001]
  (the same with a constant stepsize).
* :func:`normalized_descent` -- S004-L4; :func:`descent_lsmooth` -- S000-L2;
  :func:`descent_split` -- S001-L7.
* :func:`error_recursion` -- S004-L6; :func:`lyapunov_step` -- S004-L7 (with the
  :math:`e^{L_1\gamma_k}` factors of the proof, erratum 13, or without them as printed).
* :func:`memory_contraction` -- S000-L3; :func:`momentum_error_recursion` -- S001-L8 (σ = 0 pathwise).
* :func:`sequence_hypothesis`, :func:`sequence_lemma` -- S004-L5 on given sequences.
* :func:`schedule_sum` -- S000-L4 (the ratio of the weighted schedule sum to :math:`\gamma_T/\eta_T`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from eftheory.derivations.normalized import c0 as c0_const
from eftheory.derivations.normalized import c1 as c1_const
from eftheory.derivations.sgdm import c_alpha
from eftheory.validation import check_int, check_real, check_unit_interval

__all__ = [
    "Inequality",
    "lyapunov_ef21_norm", "lyapunov_momentum", "lyapunov_sgdm",
    "normalized_descent", "descent_lsmooth", "descent_split",
    "error_recursion", "lyapunov_step", "memory_contraction", "momentum_error_recursion",
    "sequence_hypothesis", "sequence_lemma", "schedule_sum",
]


class Inequality(NamedTuple):
    """Per-entry sides of an inequality ``lhs <= rhs``."""

    lhs: np.ndarray
    rhs: np.ndarray

    @property
    def slack(self) -> np.ndarray:
        return np.asarray(self.rhs) - np.asarray(self.lhs)

    @property
    def min_slack(self) -> float:
        return float(np.min(self.slack))

    @property
    def ratio(self) -> np.ndarray:
        """lhs / rhs (for bounds whose right side is a scale, e.g. :func:`schedule_sum`)."""
        return np.asarray(self.lhs) / np.asarray(self.rhs)


# --------------------------------------------------------------------------- helpers


def _clients(result):
    d = result.diagnostics
    if "g_i" not in d or "v_i" not in d:
        raise ValueError("result must come from a run with record_clients=True "
                         "(allowed: results whose diagnostics hold 'g_i' and 'v_i')")
    return np.asarray(d["g_i"]), np.asarray(d["v_i"]), np.asarray(d["g"])


def _local_grads(problem, xs) -> np.ndarray:
    """Exact local gradients, shape (len(xs), n, d)."""
    n = int(problem.n_clients)
    return np.array([[np.asarray(problem.grad_i(i, x), dtype=np.float64) for i in range(n)] for x in xs])


def _f_inf(problem, f_inf) -> float:
    if f_inf is not None:
        return check_real("f_inf", f_inf)
    for attr in ("f_inf", "f_inf_lower"):
        if hasattr(problem, attr):
            return float(getattr(problem, attr))
    raise ValueError("f_inf must be given for a problem without 'f_inf' or 'f_inf_lower' (allowed: a real lower bound)")


def _constant(problem, name: str, value) -> float:
    if value is not None:
        return check_real(name, value, low=0.0)
    if not hasattr(problem, name):
        raise ValueError(f"{name} must be given for a problem without the constant '{name}' (allowed: a real >= 0)")
    return float(getattr(problem, name))


def _weight(gammas, alpha) -> np.ndarray:
    """A_k = 2 gamma_k / C_alpha with C_alpha = 1 - sqrt(1 - alpha) ([004], Theorem 1)."""
    a = check_unit_interval("alpha", alpha)
    return 2.0 * np.asarray(gammas, dtype=np.float64) / c_alpha(a)


def _norms(a: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a, axis=-1)


# --------------------------------------------------------------------------- Lyapunov functions


def lyapunov_ef21_norm(result, problem, alpha: float, f_inf=None) -> np.ndarray:
    r""":math:`V^k=f(x^k)-f^{\inf}+A_k\frac1n\sum_i\|\nabla f_i(x^k)-g_i^k\|`, k = 0..K-1 ([004])."""
    K = result.iters
    A = _weight(result.stepsize, alpha)
    return np.asarray(result.f[:K]) - _f_inf(problem, f_inf) + A * np.asarray(result.diagnostics["err_grad_g"])


def lyapunov_momentum(result, problem, alpha: float, f_inf=None) -> np.ndarray:
    r""":math:`\Phi_k=f(x^k)-f^{\inf}+A_k\frac1n\sum_i\|g_i^k-v_i^k\|+B_k\frac1n\sum_i\|v_i^k-\nabla f_i(x^k)\|`.

    :math:`A_k=2\gamma_k/(1-\sqrt{1-\alpha})`, :math:`B_k=\sqrt{1-\alpha}A_k` ([000] §5.3, reconstructed).
    """
    K = result.iters
    A = _weight(result.stepsize, alpha)
    B = math.sqrt(1.0 - alpha) * A
    dg = result.diagnostics
    return (np.asarray(result.f[:K]) - _f_inf(problem, f_inf) + A * np.asarray(dg["err_g_v"])
            + B * np.asarray(dg["err_v_grad"]))


def lyapunov_sgdm(result, problem, alpha: float, f_inf=None) -> np.ndarray:
    r""":math:`V^k` of [001] (‖EF21-SGDM‖): :math:`\Phi_k` with the constant stepsize γ
    (weights :math:`a=2\gamma/(1-\sqrt{1-\alpha})`, :math:`c=a\sqrt{1-\alpha}`)."""
    g = np.asarray(result.stepsize)
    if not np.all(g == g[0]):
        raise ValueError("stepsize must be constant for the seed-001 Lyapunov function (allowed: gamma_k = gamma)")
    return lyapunov_momentum(result, problem, alpha, f_inf)


# --------------------------------------------------------------------------- descent lemmas


def _descent_parts(result, problem):
    K = result.iters
    xs = np.asarray(result.x)
    grads = _local_grads(problem, xs[:K])
    gamma = np.asarray(result.stepsize, dtype=np.float64)
    grad = grads.mean(axis=1)
    return K, xs, grads, grad, gamma


def normalized_descent(result, problem, L0=None, L1=None) -> Inequality:
    r"""S004-L4: :math:`f(x^{k+1})\le f(x^k)-\gamma_k\|\nabla f(x^k)\|+2\gamma_k\|\nabla f(x^k)-g^k\|
    +\frac{\gamma_k^2}2e^{\gamma_kL_1}(L_0+\frac{L_1}n\sum_i\|\nabla f_i(x^k)\|)`, k = 0..K-1."""
    L0, L1 = _constant(problem, "L0", L0), _constant(problem, "L1", L1)
    _, _, g = _clients(result)
    K, xs, grads, grad, gamma = _descent_parts(result, problem)
    f = np.asarray(result.f)
    rhs = (f[:K] - gamma * _norms(grad) + 2 * gamma * _norms(grad - g)
           + 0.5 * gamma ** 2 * np.exp(gamma * L1) * (L0 + L1 * _norms(grads).mean(axis=1)))
    return Inequality(f[1:], rhs)


def descent_lsmooth(result, problem, L=None) -> Inequality:
    r"""S000-L2: :math:`f(x^{k+1})\le f(x^k)-\gamma_k\|\nabla f(x^k)\|+2\gamma_k\|\nabla f(x^k)-g^k\|+\frac L2\gamma_k^2`."""
    L = _constant(problem, "L", L)
    _, _, g = _clients(result)
    K, xs, grads, grad, gamma = _descent_parts(result, problem)
    f = np.asarray(result.f)
    rhs = f[:K] - gamma * _norms(grad) + 2 * gamma * _norms(grad - g) + 0.5 * L * gamma ** 2
    return Inequality(f[1:], rhs)


def descent_split(result, problem, L0=None, L1=None) -> Inequality:
    r"""S001-L7: the descent of S004-L4 with :math:`\|\nabla f-g^k\|\le\|\nabla f-v^k\|+\|v^k-g^k\|`."""
    L0, L1 = _constant(problem, "L0", L0), _constant(problem, "L1", L1)
    _, v_i, g = _clients(result)
    K, xs, grads, grad, gamma = _descent_parts(result, problem)
    v = v_i.mean(axis=1)
    f = np.asarray(result.f)
    rhs = (f[:K] - gamma * _norms(grad) + 2 * gamma * _norms(grad - v) + 2 * gamma * _norms(v - g)
           + 0.5 * gamma ** 2 * np.exp(gamma * L1) * (L0 + L1 * _norms(grads).mean(axis=1)))
    return Inequality(f[1:], rhs)


# --------------------------------------------------------------------------- error recursions


def error_recursion(result, problem, alpha: float, L0=None, L1=None) -> Inequality:
    r"""S004-L6 per client, shape (K-1, n):
    :math:`\|\nabla f_i(x^{k+1})-g_i^{k+1}\|\le\sqrt{1-\alpha}\|\nabla f_i(x^k)-g_i^k\|
    +\sqrt{1-\alpha}e^{L_1\gamma_k}\gamma_k(L_0+L_1\|\nabla f_i(x^k)\|)`."""
    L0, L1 = _constant(problem, "L0", L0), _constant(problem, "L1", L1)
    s = math.sqrt(1.0 - check_unit_interval("alpha", alpha))
    g_i, _, _ = _clients(result)
    K = result.iters
    grads = _local_grads(problem, np.asarray(result.x)[:K])
    gamma = np.asarray(result.stepsize)[:K - 1, None]
    err = _norms(grads - g_i)
    rhs = s * err[:-1] + s * np.exp(L1 * gamma) * gamma * (L0 + L1 * _norms(grads[:-1]))
    return Inequality(err[1:], rhs)


def lyapunov_step(result, problem, alpha: float, L0=None, L1=None, f_inf=None, *,
                  with_exp: bool = True) -> Inequality:
    r"""S004-L7, k = 0..K-2: :math:`V^{k+1}\le V^k+c_1e^{L_1\gamma_k}\gamma_k^2\frac1n\sum_i\|\nabla f_i(x^k)\|
    -\gamma_k\|\nabla f(x^k)\|+c_0e^{L_1\gamma_k}\gamma_k^2` (needs non-increasing γ).

    ``with_exp=False`` drops both :math:`e^{L_1\gamma_k}` factors, as the printed lemma does (erratum 13).
    """
    L0, L1 = _constant(problem, "L0", L0), _constant(problem, "L1", L1)
    V = lyapunov_ef21_norm(result, problem, alpha, f_inf)
    K = result.iters
    gamma = np.asarray(result.stepsize)[:K - 1]
    if np.any(np.diff(np.asarray(result.stepsize)) > 0):
        raise ValueError("stepsize must be non-increasing for Lemma 7 (allowed: gamma_{k+1} <= gamma_k)")
    e = np.exp(L1 * gamma) if with_exp else np.ones_like(gamma)
    mean_gi = np.asarray(result.diagnostics["mean_grad_i_norm"])[:K - 1]
    rhs = (V[:-1] + c1_const(L1, alpha) * e * gamma ** 2 * mean_gi
           - gamma * np.asarray(result.grad_norm)[:K - 1] + c0_const(L0, alpha) * e * gamma ** 2)
    return Inequality(V[1:], rhs)


def memory_contraction(result, alpha: float) -> Inequality:
    r"""S000-L3 per client, shape (K-1, n):
    :math:`\|g_i^{k+1}-v_i^{k+1}\|\le\sqrt{1-\alpha}(\|g_i^k-v_i^k\|+\|v_i^{k+1}-v_i^k\|)`."""
    s = math.sqrt(1.0 - check_unit_interval("alpha", alpha))
    g_i, v_i, _ = _clients(result)
    err = _norms(g_i - v_i)
    return Inequality(err[1:], s * (err[:-1] + _norms(v_i[1:] - v_i[:-1])))


def momentum_error_recursion(result, problem, alpha: float, L0=None, L1=None, sigma: float = 0.0) -> Inequality:
    r"""S001-L8 per client, shape (K-1, n), pathwise form for Polyak momentum:
    :math:`\|v_i^{k+1}-g_i^{k+1}\|\le\sqrt{1-\alpha}\|v_i^k-g_i^k\|+\sqrt{1-\alpha}\eta_{k+1}
    (\|v_i^k-\nabla f_i(x^k)\|+\sigma+e^{L_1\gamma_k}\gamma_k(L_0+L_1\|\nabla f_i(x^k)\|))`.

    With exact gradients (σ = 0) and a deterministic compressor the inequality holds pathwise.
    """
    L0, L1 = _constant(problem, "L0", L0), _constant(problem, "L1", L1)
    sigma = check_real("sigma", sigma, low=0.0)
    s = math.sqrt(1.0 - check_unit_interval("alpha", alpha))
    if result.momentum is None:
        raise ValueError("result must come from a method with momentum (allowed: results with eta_k)")
    g_i, v_i, _ = _clients(result)
    K = result.iters
    grads = _local_grads(problem, np.asarray(result.x)[:K])
    gamma = np.asarray(result.stepsize)[:K - 1, None]
    eta = np.asarray(result.momentum)[1:K, None]
    err = _norms(v_i - g_i)
    drift = _norms(v_i - grads)[:-1] + sigma + np.exp(L1 * gamma) * gamma * (L0 + L1 * _norms(grads[:-1]))
    return Inequality(err[1:], s * err[:-1] + s * eta * drift)


# --------------------------------------------------------------------------- sequence lemmas


def sequence_hypothesis(V, W, *, b1: float, b2: float, b3: float, L1: float, gamma: float) -> Inequality:
    r"""Hypothesis of S004-L5 per step: :math:`V^{k+1}\le(1+b_1e^{L_1\gamma}\gamma^2)V^k-b_2\gamma W^k+b_3e^{L_1\gamma}\gamma^2`."""
    V, W = np.asarray(V, dtype=np.float64), np.asarray(W, dtype=np.float64)
    e = math.exp(L1 * gamma)
    return Inequality(V[1:], (1 + b1 * e * gamma ** 2) * V[:-1] - b2 * gamma * W[:len(V) - 1] + b3 * e * gamma ** 2)


def sequence_lemma(V, W, *, b1: float, b2: float, b3: float, L1: float, gamma: float) -> Inequality:
    r"""Conclusion of S004-L5 for K+1 = len(W) terms:
    :math:`\min_{k\le K}W^k\le\frac{V^0\exp(b_1e^{L_1\gamma}\gamma^2(K+1))}{b_2\gamma(K+1)}+\frac{b_3}{b_2}e^{L_1\gamma}\gamma`.

    Returns one-entry arrays ``(min W, bound)``.
    """
    V, W = np.asarray(V, dtype=np.float64), np.asarray(W, dtype=np.float64)
    b2 = check_real("b2", b2, low=0.0, low_open=True)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)
    K1 = len(W)
    e = math.exp(L1 * gamma)
    bound = V[0] * math.exp(b1 * e * gamma ** 2 * K1) / (b2 * gamma * K1) + b3 / b2 * e * gamma
    return Inequality(np.array([W.min()]), np.array([bound]))


def schedule_sum(p: float, q: float, T_max: int, gamma0: float = 1.0) -> Inequality:
    r"""S000-L4 for T = 1..T_max: ``lhs`` = :math:`\sum_{t<T}\gamma_t\prod_{\tau=t+1}^{T-1}(1-\eta_\tau)`,
    ``rhs`` = :math:`\gamma_T/\eta_T`, with :math:`\eta_t=(2/(t+2))^q`, :math:`\gamma_t=\gamma_0(2/(t+2))^p`.

    The lemma says ``ratio = lhs/rhs`` stays below a constant C(p, q) for every T.
    """
    p = check_real("p", p, low=0.0)
    q = check_real("q", q, low=0.0)
    T_max = check_int("T_max", T_max, low=1)
    t = np.arange(T_max + 1, dtype=np.float64)
    gamma = gamma0 * (2.0 / (t + 2.0)) ** p
    eta = (2.0 / (t + 2.0)) ** q
    S = np.empty(T_max)
    acc = 0.0
    for T in range(1, T_max + 1):          # S_T = (1 - eta_{T-1}) S_{T-1} + gamma_{T-1}, S_1 = gamma_0
        acc = (1.0 - eta[T - 1]) * acc + gamma[T - 1] if T > 1 else gamma[0]
        S[T - 1] = acc
    return Inequality(S, gamma[1:] / eta[1:])
