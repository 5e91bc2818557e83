r"""The loop shared by the sign-based methods (Jiang, Yu, Yang, Yang, Zhang [003] and baselines).

003 indexes iterations t = 1..T from :math:`x_1`; here step k = 0..K-1 maps to t = k + 1 and
:math:`x_1 \to x^0`. One iteration:

1. every node j draws :math:`\xi^j` and computes :math:`g^j = \nabla f_j(x; \xi^j)` (node order);
2. *centralized* methods (signSGD, Signum, SMM) average the node gradients,
   :math:`g = \frac1n\sum_j g^j` -- the stochastic gradient of :math:`f = \frac1n\sum_j f_j`;
   with one client this is 003's centralized setting;
3. the estimator is updated (per node for distributed methods):

   * ``"grad"``: :math:`v = g`;
   * ``"signum"`` (Bernstein et al.): :math:`m_t = \beta m_{t-1} + (1-\beta) g_t`, :math:`m_0 = 0`;
   * ``"smm"`` (003 eq. (5)/(10)): :math:`v_1 = g_1`, then
     :math:`v_t = (1-\beta) v_{t-1} + \beta g_t` (``momentum_convention="new_weight"``, [R]) or
     :math:`v_t = \beta v_{t-1} + (1-\beta) g_t` (``"old_weight"``);
4. the direction :math:`s` is formed and :math:`x \leftarrow x - \eta s`:

   * centralized: :math:`s = \mathrm{sign}(v)`;
   * majority vote with uplink ``"sign"``: node sends :math:`\mathrm{sign}(v^j)`;
     uplink ``"stochastic_sign"``: node sends :math:`S_R(v^j) \in \{\pm1\}^d`;
     the server forms the sum :math:`\Sigma = \sum_j(\cdot)` and :math:`u = \Sigma/n`;
     downlink ``"sign"``: :math:`s = \mathrm{sign}(\Sigma)`; downlink ``"stochastic_sign"``:
     :math:`s = S_1(u)`.

Declared conventions:

* ``sign_zero``: value of :math:`\mathrm{sign}(0)` for a centralized step or a node's message
  (default 0; -1 or +1 allowed).
* ``ties``: the server's sign of an exactly-zero vote sum (possible with an even number of nodes):
  ``"zero"`` (default: no move on that coordinate) or ``"plus"`` (+1). Their count per step is
  ``diagnostics["ties"]``.
* :math:`S_R` (:class:`eftheory.compressors.UnbiasedSign`): coordinate k is +1 iff
  :math:`u_k < \frac12 + \frac{v_k}{2R}` with :math:`u \sim U[0,1)^d`. A coordinate with
  :math:`|v_k| > R` violates the law; ``on_violation="clip"`` (default) clips it to
  :math:`\pm R` and counts it in ``diagnostics["violations"]``, ``"raise"`` raises ValueError.

Randomness follows :class:`algorithms.registry.Streams`: ``sample`` draws nodes 0..n-1 in order;
``compress`` draws ``rng.random(d)`` for each node's :math:`S_R` (node order; with
``shared_draw=True`` one draw that every node uses), then one for the server's :math:`S_1`.

Diagnostics (float64): ``grad_norm_l1`` (K+1,) :math:`\|\nabla f(x^k)\|_1`; ``estimate``
(K, m, d) the estimators used by step k (m = 1 centralized, m = n distributed); ``v_bar``
(K, d) their mean; ``u`` (K, d) the server's mean message (distributed only; zeros otherwise);
``direction`` (K, d) :math:`s`; ``ties`` (K,) and ``violations`` (K,) counts.

Bits per node and step: majority vote sends d bits up and d bits down (1 bit per sign, also
when ``sign_zero = 0`` produces zeros: the papers' count; the distributed runner, which must
also say where the zeros are, reports that cost apart, in ``control_bits_*``). A centralized
method is one node in [003]; on a problem of n > 1 clients that node needs each client's
gradient, so each client sends a dense vector, 32 d bits (the float32 convention of
``Identity()`` and of EF21's ``init="gradient"``), and nothing is broadcast back (the sign step
is taken on the mean, as the distributed runner does after its all-reduce): ``bits_up`` = 32 d,
``bits_down`` = 0; with a single client nothing is sent (0 / 0).
"""

from __future__ import annotations

import numpy as np

from eftheory.validation import (check_choice, check_draw, check_finite_quantity, check_oracle_output,
                                 check_positive)

from ..registry import Streams
from ..result import Result, current_policy
from ._record import Trajectory

__all__: list[str] = []

ESTIMATORS = ("grad", "signum", "smm")
UPLINKS = ("none", "sign", "stochastic_sign")
DOWNLINKS = ("none", "sign", "stochastic_sign")
TIES = ("zero", "plus")
CONVENTIONS = ("new_weight", "old_weight")
ON_VIOLATION = ("clip", "raise")


def sgn(v: np.ndarray, zero: float) -> np.ndarray:
    """Coordinatewise sign with :math:`\\mathrm{sign}(0) = ` ``zero``."""
    out = np.sign(v)
    out[v == 0] = zero
    return out


def majority_vote(total: np.ndarray, n: int, ties: str) -> np.ndarray:
    """The server's vote :math:`\\mathrm{sign}(\\Sigma)` of the sum of the n messages; an exactly-zero
    sum gives 0 (``ties="zero"``) or +1 (``"plus"``)."""
    s = np.sign(total)
    s[total == 0] = 1.0 if ties == "plus" else 0.0
    return s


def check_sign_zero(value) -> float:
    if isinstance(value, bool) or value not in (-1, 0, 1):
        raise ValueError(f"sign_zero must be one of -1, 0, 1 (the value of sign(0)); got {value!r}")
    return float(value)


def check_bound(name: str, value, algorithm: str) -> float:
    if value is None:
        raise ValueError(
            f"{name} must be given for {algorithm!r}: a real in (0, inf) bounding "
            f"||grad f_j(x; xi)||_inf; got None"
        )
    return check_positive(name, value)


def run_sign_loop(name: str, problem, x0: np.ndarray, iters: int, *, stepsize, momentum, seed: int,
                  estimator: str, uplink: str, downlink: str, options: dict,
                  sign_zero=0, ties="zero", momentum_convention="new_weight",
                  R=None, R_name="G", on_violation="clip", shared_draw=False) -> Result:
    """Run one member of the sign family; see the module docstring."""
    check_choice("estimator", estimator, ESTIMATORS)
    check_choice("uplink", uplink, UPLINKS)
    check_choice("downlink", downlink, DOWNLINKS)
    zero = check_sign_zero(sign_zero)
    check_choice("ties", ties, TIES)
    check_choice("momentum_convention", momentum_convention, CONVENTIONS)
    check_choice("on_violation", on_violation, ON_VIOLATION)
    if not isinstance(shared_draw, bool):
        raise ValueError(f"shared_draw must be True or False; got {shared_draw!r}")
    centralized = uplink == "none"
    S_up = S_down = None
    if uplink == "stochastic_sign" or downlink == "stochastic_sign":
        from eftheory.compressors import UnbiasedSign

        if uplink == "stochastic_sign":
            R = check_bound(R_name, R, name)
            S_up = UnbiasedSign(R, on_violation="clip")
        if downlink == "stochastic_sign":
            S_down = UnbiasedSign(1.0, on_violation="clip")

    n, d = int(problem.n_clients), int(problem.dim)
    m_rows = 1 if centralized else n
    streams = Streams(seed)

    x = x0.copy()
    v = np.zeros((m_rows, d))
    policy = current_policy()
    traj = Trajectory(problem, iters, d, policy, norm="global", l1=True)
    traj.point(0, x)
    vec = policy.vectors                 # per-step vectors (estimate, v_bar, u, direction) kept
    est = np.empty((iters, m_rows, d)) if vec else None
    v_bar = np.empty((iters, d)) if vec else None
    u_rec = np.zeros((iters, d)) if vec else None
    direction = np.empty((iters, d)) if vec else None
    tie_count = np.zeros(iters)
    viol_count = np.zeros(iters)
    gammas = np.empty(iters)
    betas = np.full(iters, np.nan) if momentum is not None else None

    def finite(quantity, value, client=None):
        check_finite_quantity(quantity, value, k, seed=seed, client=client)

    for k in range(iters):
        eta = stepsize(k)
        gammas[k] = eta
        g = np.empty((n, d))
        for j in range(n):
            xi = check_draw(problem.sample(j, streams.sample))
            g[j] = check_oracle_output("grad_i", problem.grad_i(j, x, xi), d)
            finite("gradient grad_i", g[j], j)
        if centralized:
            g = g.mean(axis=0, keepdims=True)
        # estimator update
        if estimator == "grad":
            v = g
        else:
            beta = momentum(k)
            betas[k] = beta
            if estimator == "signum":
                if beta >= 1.0:
                    raise ValueError(
                        f"momentum must lie in (0, 1) for {name!r} (Signum weighs the previous "
                        f"momentum by beta); got {beta:g}"
                    )
                v = beta * v + (1.0 - beta) * g
            elif k == 0:
                v = g.copy()
            elif momentum_convention == "new_weight":
                v = (1.0 - beta) * v + beta * g
            else:
                v = beta * v + (1.0 - beta) * g
        finite("estimator v", v)
        if vec:
            est[k] = v
            v_bar[k] = v.mean(axis=0)
        # direction
        if centralized:
            s = sgn(v[0], zero)
        else:
            if uplink == "sign":
                msgs = sgn(v, zero)
            else:
                msgs = np.empty((n, d))
                shared_u = streams.compress.random(d) if shared_draw else None
                for j in range(n):
                    bad = S_up.violations(v[j])
                    if bad and on_violation == "raise":
                        raise ValueError(
                            f"{R_name} must bound ||v||_inf for the stochastic sign S_{R_name}: "
                            f"node {j} at iteration {k} has ||v||_inf = {np.max(np.abs(v[j])):g} > "
                            f"{R_name} = {R:g}; raise {R_name} or use on_violation='clip'"
                        )
                    viol_count[k] += bad
                    msgs[j] = S_up(v[j], streams.compress) if shared_u is None else S_up.apply(v[j], shared_u)
            finite("message", msgs)
            total = msgs.sum(axis=0)
            u_k = total / n
            if vec:
                u_rec[k] = u_k
            if downlink == "sign":
                tie_count[k] = np.count_nonzero(total == 0)
                s = majority_vote(total, n, ties)
            else:
                s = np.asarray(S_down(u_k, streams.compress), dtype=np.float64)
        finite("direction s", s)
        if vec:
            direction[k] = s
        x = x - eta * s
        finite("iterate x", x)
        traj.point(k + 1, x)

    traj.check(seed)
    # per client and step: a majority-vote node sends d signs and receives d; a centralized method
    # on n > 1 clients needs every client's dense gradient at its one node (32 d, the float32
    # convention of a dense message), 0 with a single client, and broadcasts nothing else
    up = (32.0 * d if n > 1 else 0.0) if centralized else float(d)
    down = 0.0 if centralized else float(d)
    diagnostics = {"grad_norm_l1": traj.l1, "ties": tie_count, "violations": viol_count}
    if vec:
        diagnostics.update({"estimate": est, "v_bar": v_bar, "u": u_rec, "direction": direction})
    return Result(
        name=name, backend="numpy", x=traj.xs, x_index=traj.rows,
        grad_norm=traj.grad_norm, f=traj.f,
        stepsize=gammas, momentum=betas,
        bits_up=np.full(iters, up), bits_down=np.full(iters, down),
        grad_calls=np.ones(iters), hvp_calls=np.zeros(iters), init_bits_up=0.0,
        diagnostics=diagnostics,
        config={"name": name, "seed": seed, "options": dict(options), "stepsize": stepsize.label,
                "momentum": None if momentum is None else momentum.label, "n": n, "d": d,
                "centralized": centralized, "record": policy.label()},
    )
