r"""The loop shared by local error feedback (EF) and step-ahead error feedback (SAEF).

Both are Algorithm 1 of Xu, Huo, Huang [002] ("Distributed momentum SGD with double-way
compression"); they differ only in the point where worker k evaluates its stochastic gradient:

* EF:   at the common model, :math:`x_t`;
* SAEF: one step ahead, :math:`x_{t+1/2}^{(k)} = x_t - e_t^{(k)}`.

State (002's symbols; 002 writes K for the number of workers, here ``n``): the common model
:math:`x_t`, per worker the momentum buffer :math:`m_t^{(k)}` and the local error
:math:`e_t^{(k)}`, on the server the error :math:`e_t`. Everything starts at zero.

One iteration t = 0, ..., T-1 (``iters = T``):

.. math::

    &\text{if averaging and } (t+1) \bmod p = 0:\quad e_t^{(k)} \leftarrow \bar e_t
        = \tfrac1n \textstyle\sum_{k'} e_t^{(k')} \\
    &y^{(k)} = x_t \ \text{(EF)}\quad\text{or}\quad y^{(k)} = x_t - e_t^{(k)}\ \text{(SAEF)} \\
    &m_{t+1}^{(k)} = \mu m_t^{(k)} + \nabla f_k(y^{(k)}; \xi_t^{(k)}),\qquad
     \Delta_{t+1}^{(k)} = e_t^{(k)} + \eta_t m_{t+1}^{(k)} \\
    &e_{t+1}^{(k)} = \Delta_{t+1}^{(k)} - \mathcal C(\Delta_{t+1}^{(k)}) \\
    &\Delta_{t+1} = e_t + \tfrac1n \textstyle\sum_k \mathcal C(\Delta_{t+1}^{(k)}),\qquad
     e_{t+1} = \Delta_{t+1} - \mathcal C(\Delta_{t+1})\ \text{(double way; single way: }
     \mathcal C = \mathrm{id},\ e \equiv 0) \\
    &x_{t+1} = x_t - \mathcal C(\Delta_{t+1}).

The tentative local model of the pseudo-code (lines 11/15) only serves to define
:math:`\Delta_{t+1}^{(k)}`; the identity :math:`\Delta_{t+1}^{(k)} = e_t^{(k)} + \eta_t m_{t+1}^{(k)}`
is used directly.

Randomness follows :class:`algorithms.registry.Streams`: per iteration, ``sample`` draws
``problem.sample(k, rng)`` for workers k = 0..n-1 in order; a random compressor draws from
``compress`` for workers 0..n-1, then once for the server (double way only).

Diagnostics (all float64; "state" entries are indexed t = 0..T, "step" entries t = 0..T-1):

* ``grad_norm_l1`` (T+1,): :math:`\|\nabla f(x_t)\|_1`.
* ``x_aux`` (T+1, d): :math:`\tilde x_t = x_t - (e_t + \bar e_t)`.
* ``server_error_norm`` (T+1,): :math:`\|e_t\|`.
* ``client_error_norm`` (T+1, n): :math:`\|e_t^{(k)}\|`; ``client_errors`` (T+1, n, d) with
  ``record_clients=True``, and with it ``eval_points`` (T, n, d): the point :math:`y^{(k)}` where
  worker k evaluated its gradient at step t.
* ``mismatch_ef`` / ``mismatch_saef`` (T+1,): the two gradient-mismatch proxies of 002 Fig. 3,
  :math:`\|e_t + \bar e_t\|^2` and :math:`\tfrac1n\sum_k \|e_t + \bar e_t - e_t^{(k)}\|^2`, both
  recorded for both methods. For t < T they use the errors that step t works with (after the
  averaging of step t, which changes the SAEF proxy but neither :math:`\bar e_t` nor
  :math:`\tilde x_t`); the entry t = T uses the final errors.
* ``momentum_mean`` (T, d): :math:`\tfrac1n\sum_k m_{t+1}^{(k)}` (S002-AUX);
  ``grad_mean`` (T, d): :math:`\tfrac1n\sum_k \nabla f_k(y^{(k)}; \xi_t^{(k)})` (S002-Z);
  ``momentum_sq_norm`` (T, n): :math:`\|m_{t+1}^{(k)}\|^2` (S002-AL1).
* ``averaged`` (T,): 1.0 where step t averaged the local errors.

Bits per worker and step: uplink ``compressor.bits(d, bits)`` plus 32d for the dense error
all-reduce at an averaging step; downlink ``compressor.bits(d, bits)`` (double way) or 32d
(single way).
"""

from __future__ import annotations


import numpy as np

from eftheory.validation import (check_choice, check_draw, check_finite_quantity, check_flag,
                                 check_oracle_output, check_period, check_real)

from ..registry import Streams
from ..result import Result, current_policy
from ._record import Trajectory

__all__: list[str] = []

POINTS = ("model", "step_ahead")


def _bits(compressor, d: int, convention) -> float:
    return float(compressor.bits(d, convention))


def _compress(compressor, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(compressor(v, rng), dtype=np.float64)


def evaluation_point(x: np.ndarray, e_k: np.ndarray, point: str) -> np.ndarray:
    """Where worker k evaluates its gradient: :math:`x_t` (EF) or :math:`x_t - e_t^{(k)}` (SAEF)."""
    return x if point == "model" else x - e_k


def momentum_step(m_k: np.ndarray, g_k: np.ndarray, mu: float) -> np.ndarray:
    """The heavy-ball buffer :math:`m_{t+1}^{(k)} = \\mu m_t^{(k)} + \\nabla f_k(y^{(k)};\\xi)`."""
    return mu * m_k + g_k


def local_error(delta_k: np.ndarray, c_k: np.ndarray) -> np.ndarray:
    """The error fed back: :math:`e_{t+1}^{(k)} = \\Delta_{t+1}^{(k)} - \\mathcal C(\\Delta_{t+1}^{(k)})`."""
    return delta_k - c_k


def run_ef_loop(name: str, problem, compressor, x0: np.ndarray, iters: int, *, stepsize,
                seed: int, point: str, mu, p, double_way, average: bool, bits,
                record_clients, options: dict, local_feedback) -> Result:
    """Run EF (``point="model"``) or SAEF (``point="step_ahead"``); see the module docstring."""
    mu = check_real("mu", mu, low=0.0, high=1.0, high_open=True)
    p = check_period(p)
    double_way = check_flag("double_way", double_way)
    record_clients = check_flag("record_clients", record_clients)
    local_feedback = check_flag("local_feedback", local_feedback)
    from eftheory.compressors import CONVENTIONS

    check_choice("bits", bits, CONVENTIONS)
    if point not in POINTS:
        raise ValueError(f"point must be one of {POINTS}; got {point!r}")

    n, d = int(problem.n_clients), int(problem.dim)
    streams = Streams(seed)
    up_bits = _bits(compressor, d, bits)
    down_bits = up_bits if double_way else 32.0 * d

    x = x0.copy()
    m = np.zeros((n, d))          # m_t^{(k)}
    e_loc = np.zeros((n, d))      # e_t^{(k)}
    e_srv = np.zeros(d)           # e_t

    policy = current_policy()
    if record_clients and not policy.vectors:
        raise ValueError(f"record_clients=True needs record='all' (it keeps every (n, d) state); got record={policy.label()!r}")
    traj = Trajectory(problem, iters, d, policy, norm="global", l1=True)
    vec = policy.vectors                 # per-step vectors (x_aux, momentum_mean, grad_mean) kept
    x_aux = np.empty((iters + 1, d)) if vec else None
    srv_norm = np.empty(iters + 1)
    cl_norm = np.empty((iters + 1, n))
    cl_err = np.empty((iters + 1, n, d)) if record_clients else None
    ev_pts = np.empty((iters, n, d)) if record_clients else None
    mis_ef = np.empty(iters + 1)
    mis_saef = np.empty(iters + 1)
    m_mean = np.empty((iters, d)) if vec else None
    g_mean = np.empty((iters, d)) if vec else None
    m_sq = np.empty((iters, n))
    averaged = np.zeros(iters)
    gammas = np.empty(iters)
    bits_up = np.empty(iters)
    bits_down = np.full(iters, down_bits)

    def record_state(t: int) -> None:
        e_bar = e_loc.mean(axis=0)
        traj.point(t, x)
        if x_aux is not None:
            x_aux[t] = x - (e_srv + e_bar)
        srv_norm[t] = np.linalg.norm(e_srv)
        cl_norm[t] = np.linalg.norm(e_loc, axis=1)
        if cl_err is not None:
            cl_err[t] = e_loc
        mis_ef[t] = float(np.sum((e_srv + e_bar) ** 2))
        mis_saef[t] = float(np.mean(np.sum((e_srv + e_bar - e_loc) ** 2, axis=1)))

    def finite(quantity, value, client=None):
        check_finite_quantity(quantity, value, t, seed=seed, client=client)

    for t in range(iters):
        eta = stepsize(t)
        gammas[t] = eta
        # error averaging (all-reduce of the local errors)
        if average and (t + 1) % p == 0:
            e_loc[:] = e_loc.mean(axis=0)
            averaged[t] = 1.0
        record_state(t)
        # workers
        c_loc = np.empty((n, d))
        g = np.empty((n, d))
        for k in range(n):
            xi = check_draw(problem.sample(k, streams.sample))
            y = evaluation_point(x, e_loc[k], point)
            if ev_pts is not None:
                ev_pts[t, k] = y
            g[k] = check_oracle_output("grad_i", problem.grad_i(k, y, xi), d)
            finite("gradient grad_i", g[k], k)
            m[k] = momentum_step(m[k], g[k], mu)
            finite("momentum m_i", m[k], k)
            delta_k = e_loc[k] + eta * m[k]
            c_loc[k] = _compress(compressor, delta_k, streams.compress)
            finite("message c_i", c_loc[k], k)
            # without local feedback (the control of [002]'s rate claims) the error is dropped: e = 0
            e_loc[k] = local_error(delta_k, c_loc[k]) if local_feedback else 0.0
            finite("memory e_i", e_loc[k], k)
        if vec:
            m_mean[t] = m.mean(axis=0)
            g_mean[t] = g.mean(axis=0)
        m_sq[t] = np.sum(m ** 2, axis=1)
        # server
        delta = e_srv + c_loc.mean(axis=0)
        if double_way:
            c = _compress(compressor, delta, streams.compress)
            finite("server message C(Delta)", c)
            e_srv = delta - c
            finite("server memory e", e_srv)
        else:
            c = delta
        # every worker re-updates the common model
        x = x - c
        finite("iterate x", x)
        bits_up[t] = up_bits + (32.0 * d if averaged[t] else 0.0)
    record_state(iters)

    traj.check(seed)
    diagnostics = {
        "grad_norm_l1": traj.l1,
        "x_aux": x_aux,
        "server_error_norm": srv_norm,
        "client_error_norm": cl_norm,
        "mismatch_ef": mis_ef,
        "mismatch_saef": mis_saef,
        "momentum_mean": m_mean,
        "grad_mean": g_mean,
        "momentum_sq_norm": m_sq,
        "averaged": averaged,
    }
    if not vec:
        for key in ("x_aux", "momentum_mean", "grad_mean"):
            del diagnostics[key]
    if cl_err is not None:
        diagnostics["client_errors"] = cl_err
        diagnostics["eval_points"] = ev_pts
    return Result(
        name=name, backend="numpy", x=traj.xs, x_index=traj.rows,
        grad_norm=traj.grad_norm, f=traj.f,
        stepsize=gammas, momentum=np.full(iters, mu),
        bits_up=bits_up, bits_down=bits_down,
        grad_calls=np.ones(iters), hvp_calls=np.zeros(iters),
        init_bits_up=0.0, diagnostics=diagnostics,
        config={"name": name, "seed": seed, "options": dict(options), "stepsize": stepsize.label,
                "compressor": repr(compressor), "bits": bits, "n": n, "d": d, "record": policy.label()},
    )
