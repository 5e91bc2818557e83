r"""The one loop of the EF21 family, with a pluggable client estimator (NumPy reference).

Every method of the family keeps a client memory :math:`g_i` and a server mirror
:math:`g = \frac1n\sum_i g_i`, and differs only in the vector :math:`v_i^k` ("target") that a
client compresses against its memory. One iteration k = 0, 1, ..., K-1 reads

.. math::

   v_i^k &= \text{estimator}_i(v_i^{k-1}, x^k, x^{k-1}, \eta_k, \xi_i^k)
        \qquad\text{(client i = 0..n-1, in order)} \\
   c_i^k &= \mathcal C(v_i^k - g_i^{k-1}),\quad g_i^k = g_i^{k-1} + c_i^k,\quad
   g^k = g^{k-1} + \tfrac1n \textstyle\sum_i c_i^k \\
   x^{k+1} &= x^k - \gamma_k\, g^k \quad\text{or}\quad x^k - \gamma_k\, g^k/\|g^k\|
   \ \ (\text{normalized; direction } 0 \text{ if } g^k = 0).

This is the order of Khirirat et al. ([004], Algorithm 1): compress at :math:`x^k`, then
step. The EF21 paper (Richtárik, Sokolov, Fatkhullin 2021) writes the step first,
:math:`x^{t+1} = x^t - \gamma g^t`, then compresses :math:`\nabla f_i(x^{t+1}) - g_i^t`; with its
initial memory :math:`g_i^0 = \mathcal C(\nabla f_i(x^0))`, which is this loop's ``init="zero"``
(iteration 0 computes :math:`\mathcal C(\nabla f_i(x^0) - 0)`), both orders produce the same
iterates :math:`x^0, x^1, \dots`.

Initialisation (option ``init``): the client memory :math:`g_i^{-1}` entering iteration 0 is

* ``"gradient"`` -- :math:`\nabla f_i(x^0;\xi_i^0)` uncompressed (sent densely: 32d bits);
* ``"compressed"`` -- :math:`\mathcal C(\nabla f_i(x^0;\xi_i^0))` (``C.bits`` bits);
* ``"zero"`` -- 0 (nothing sent).

:math:`\xi_i^0` is the draw of iteration 0 (no extra draw). Momentum estimators start from
:math:`v_i^{-1} = \nabla f_i(x^0;\xi_i^0)` and :math:`x^{-1} = x^0`, so every variant gives
:math:`v_i^0 = \nabla f_i(x^0;\xi_i^0)` at iteration 0, whatever :math:`\eta_0`.

Random draws follow :class:`algorithms.registry.Streams`: per iteration, ``sample`` gives each
client (in order) its draw(s) -- estimators with a second independent draw take it right after
the first; ``aux`` gives RHM's :math:`q_i^k`; ``compress`` is consumed by the compressions of
clients 0..n-1, preceded at k = 0 by the n initial compressions of ``init="compressed"``.
Iteration 0 draws and computes exactly what later iterations do (RHM/HM evaluate an HVP
along :math:`x^0 - x^{-1} = 0`).

Oracle-call counting (``grad_calls``, ``hvp_calls``, per client and step): every evaluation is
counted, except that at k = 0 the gradient :math:`\nabla f_i(x^0;\xi_i^0)` that initialises the
memories is evaluated once and shared by every later request of the same point at k = 0 (MVR's
:math:`x^{-1}`, IGT's :math:`y^0`), so step 0 costs one gradient for every variant.

Diagnostics (per step k, after the client update, at :math:`x^k` with EXACT local gradients;
momentum-free methods use :math:`v_i^k` = their target):

* ``err_grad_g`` = :math:`\frac1n\sum_i\|\nabla f_i(x^k) - g_i^k\|`
* ``err_g_v`` = :math:`\frac1n\sum_i\|g_i^k - v_i^k\|`
* ``err_v_grad`` = :math:`\frac1n\sum_i\|v_i^k - \nabla f_i(x^k)\|`
* ``err_v_grad_avg`` = :math:`\|v^k - \nabla f(x^k)\|`, :math:`v^k = \frac1n\sum_i v_i^k`
* ``mirror_gap`` = :math:`\|g^k - \frac1n\sum_i g_i^k\|` (invariant EF21-INV: float error only)
* ``g_norm`` = :math:`\|g^k\|`, ``mean_grad_i_norm`` = :math:`\frac1n\sum_i\|\nabla f_i(x^k)\|`
* with ``record_clients=True`` also ``g_i``, ``v_i`` of shape (K, n, d) and ``g`` of shape (K, d).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from algorithms.registry import Streams
from algorithms.result import Result, current_policy
from eftheory.validation import (check_blocks, check_choice, check_draw, check_finite_quantity,
                                 check_oracle_output)

from ._record import Trajectory

__all__ = [
    "Estimator", "Oracle", "Step", "ClientState", "LoopState",
    "INITS", "NORMALIZE_SCOPES", "BITS_CONVENTIONS",
    "ef21_loop", "normalized_direction", "check_blocks",
    "EXACT", "STOCHASTIC", "POLYAK", "IGT", "RHM", "HM", "MVR",
]

INITS = ("gradient", "compressed", "zero")
NORMALIZE_SCOPES = ("global", "per_tensor")
BITS_CONVENTIONS = ("values", "values+indices")
FLOAT_BITS = 32

# The options of each member and their defaults are on its method card (algorithms/cards.py).


# --------------------------------------------------------------------------- oracle and estimators


class Oracle:
    """Client i's stochastic oracle at one iteration: gradients/HVPs at the iteration's draw(s).

    ``xi`` is the draw of the gradient, ``xi_hat`` an optional independent second draw (RHM's HVP
    sample). ``known`` is an optional ``(point, gradient)`` pair that is returned without a new
    evaluation when the same point is requested with the first draw (the shared initial gradient).
    """

    def __init__(self, problem, i: int, xi=None, xi_hat=None, known=None, k: int = 0, seed=None):
        self.problem, self.i, self.xi, self.xi_hat = problem, i, xi, xi_hat
        self.known = known
        self.k, self.seed = k, seed
        self.grad_calls = 0
        self.hvp_calls = 0

    def grad(self, point: np.ndarray) -> np.ndarray:
        if self.known is not None and np.array_equal(point, self.known[0]):
            return self.known[1]
        self.grad_calls += 1
        out = check_oracle_output("grad_i", self.problem.grad_i(self.i, point, self.xi), point.shape[0])
        check_finite_quantity("gradient grad_i", out, self.k, seed=self.seed, client=self.i)
        return out

    def hvp(self, point: np.ndarray, u: np.ndarray, *, second_draw: bool = False) -> np.ndarray:
        self.hvp_calls += 1
        xi = self.xi_hat if second_draw else self.xi
        out = check_oracle_output("hvp_i", self.problem.hvp_i(self.i, point, u, xi), point.shape[0])
        check_finite_quantity("Hessian-vector product hvp_i", out, self.k, seed=self.seed, client=self.i)
        return out


@dataclass(frozen=True)
class Step:
    """What an estimator sees at iteration k for one client."""

    k: int
    x: np.ndarray          # x^k
    x_prev: np.ndarray     # x^{k-1} (x^{-1} = x^0)
    eta: float             # eta_k (1.0 for momentum-free methods)
    oracle: Oracle
    aux: np.random.Generator
    options: dict


@dataclass(frozen=True)
class Estimator:
    """A client estimator rule in explicit-state form (init -> update -> state).

    ``init(grad0) -> state`` builds the state before iteration 0 from
    :math:`\\nabla f_i(x^0;\\xi_i^0)`; ``update(state, step) -> state`` returns the new state whose
    ``state["v"]`` is the target :math:`v_i^k` to compress against :math:`g_i^{k-1}`;
    ``after_compress(state, g_prev, c) -> state`` (optional) sees the message once it is known.
    ``draws(options)`` is the number of sample draws per client per iteration (0: exact oracle).
    """

    name: str
    update: Callable[[dict, Step], dict]
    init: Callable[[np.ndarray], dict] = lambda grad0: {"v": grad0}
    draws: Callable[[dict], int] = lambda options: 1
    after_compress: Callable[[dict, np.ndarray, np.ndarray], dict] | None = None


def _target_update(state: dict, s: Step) -> dict:
    return {"v": s.oracle.grad(s.x)}


#: exact local gradient (EF21, ||EF21||): no draws.
EXACT = Estimator("exact gradient", _target_update, draws=lambda o: 0)
#: one stochastic gradient at x^k (EF21-SGD).
STOCHASTIC = Estimator("stochastic gradient", _target_update)


def _polyak(state: dict, s: Step) -> dict:
    return {"v": (1.0 - s.eta) * state["v"] + s.eta * s.oracle.grad(s.x)}


def _igt(state: dict, s: Step) -> dict:
    y = s.x + (1.0 - s.eta) / s.eta * (s.x - s.x_prev)
    return {"v": (1.0 - s.eta) * state["v"] + s.eta * s.oracle.grad(y)}


def _rhm(state: dict, s: Step) -> dict:
    q = s.aux.random()
    x_hat = q * s.x + (1.0 - q) * s.x_prev
    hvp = s.oracle.hvp(x_hat, s.x - s.x_prev, second_draw=not s.options["rhm_same_sample"])
    return {"v": (1.0 - s.eta) * (state["v"] + hvp) + s.eta * s.oracle.grad(s.x)}


def _hm(state: dict, s: Step) -> dict:
    hvp = s.oracle.hvp(s.x, s.x - s.x_prev)
    return {"v": (1.0 - s.eta) * (state["v"] + hvp) + s.eta * s.oracle.grad(s.x)}


def _mvr(state: dict, s: Step) -> dict:
    return {"v": s.oracle.grad(s.x) + (1.0 - s.eta) * (state["v"] - s.oracle.grad(s.x_prev))}


POLYAK = Estimator("Polyak momentum", _polyak)
IGT = Estimator("implicit gradient transport", _igt)
RHM = Estimator("randomized Hessian momentum", _rhm,
                draws=lambda o: 1 if o["rhm_same_sample"] else 2)
HM = Estimator("Hessian momentum", _hm)
MVR = Estimator("momentum variance reduction (STORM)", _mvr)


# --------------------------------------------------------------------------- state


@dataclass
class ClientState:
    g: np.ndarray          # g_i^{k-1}
    est: dict              # estimator state (holds v_i^{k-1})


@dataclass
class LoopState:
    k: int
    x: np.ndarray          # x^k
    x_prev: np.ndarray     # x^{k-1}
    g: np.ndarray          # server mirror g^{k-1}
    clients: list[ClientState] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def normalized_direction(g: np.ndarray, blocks: tuple[int, ...]) -> np.ndarray:
    """g/||g|| over the given blocks (one block = the global norm); a zero block gets direction 0."""
    out = np.zeros_like(g)
    start = 0
    for size in blocks:
        part = g[start:start + size]
        norm = float(np.linalg.norm(part))
        if norm > 0.0:
            out[start:start + size] = part / norm
        start += size
    return out


def message(compressor, target: np.ndarray, memory: np.ndarray, rng) -> np.ndarray:
    """Client i's message :math:`c_i^k = \\mathcal C(v_i^k - g_i^{k-1})` (the error-feedback step)."""
    return np.asarray(compressor(target - memory, rng), dtype=np.float64)


def mirror_update(g: np.ndarray, c_sum: np.ndarray, n: int, memories: list, k: int) -> np.ndarray:
    """The server mirror :math:`g^k = g^{k-1} + \\frac1n\\sum_i c_i^k` (``memories``: the clients'
    :math:`g_i^k`, read by no correct server step)."""
    return g + c_sum / n


def _message_bits(compressor, d: int, convention: str) -> float:
    """Uplink bits of one compressed d-vector under ``convention``."""
    return float(compressor.bits(d, convention))


# --------------------------------------------------------------------------- the loop


def ef21_loop(problem, compressor, x0, iters, *, stepsize, momentum, seed, name: str,
              estimator: Estimator, normalized: bool, options: dict,
              step_uses_previous_mirror: bool = False) -> Result:
    """Run one member of the EF21 family; see the module docstring for the exact semantics.

    ``options`` holds the option values (defaults merged in): ``init``, ``bits``,
    ``record_clients`` and, for normalized members, ``normalize_scope`` / ``blocks`` are validated
    here; estimator-specific options reach the estimator through :class:`Step`.
    ``step_uses_previous_mirror`` makes the model step use :math:`g^{k-1}` (EControl's ``h_prev``).
    """
    n, d = int(problem.n_clients), int(problem.dim)
    init = check_choice("init", options["init"], INITS)
    bits_convention = check_choice("bits", options["bits"], BITS_CONVENTIONS)
    record = options["record_clients"]
    if not isinstance(record, bool):
        raise ValueError(f"record_clients must be True or False; got {record!r}")
    blocks = (d,)
    if normalized:
        scope = check_choice("normalize_scope", options["normalize_scope"], NORMALIZE_SCOPES)
        blocks = check_blocks(options["blocks"], d)
        if scope == "global":
            blocks = (d,)
    draws = estimator.draws(options)
    streams = Streams(seed)

    gammas = stepsize.values(iters)
    etas = momentum.values(iters) if momentum is not None else None
    up_bits = _message_bits(compressor, d, bits_convention)
    init_bits = {"gradient": float(FLOAT_BITS * d), "zero": 0.0}.get(init, up_bits)

    policy = current_policy()
    traj = Trajectory(problem, iters, d, policy, norm="exact")
    grad_calls = np.zeros(iters)
    hvp_calls = np.zeros(iters)
    diag_keys = ("err_grad_g", "err_g_v", "err_v_grad", "err_v_grad_avg", "mirror_gap", "g_norm",
                 "mean_grad_i_norm")
    diags = {key: np.empty(iters) for key in diag_keys}
    if record and not policy.vectors:
        raise ValueError(f"record_clients=True needs record='all' (it keeps every (n, d) state); got record={policy.label()!r}")
    if record:
        diags["g_i"] = np.empty((iters, n, d))
        diags["v_i"] = np.empty((iters, n, d))
        diags["g"] = np.empty((iters, d))

    state = LoopState(k=0, x=x0.copy(), x_prev=x0.copy(), g=np.zeros(d))
    traj.point(0, state.x)

    def finite(quantity, value, client=None):
        check_finite_quantity(quantity, value, k, seed=seed, client=client)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(iters):
            eta = 1.0 if etas is None else float(etas[k])
            # (1) clients: draws, oracle calls and the estimator update
            oracles, targets = [], []
            for i in range(n):
                xi = check_draw(problem.sample(i, streams.sample)) if draws >= 1 else None
                xi_hat = check_draw(problem.sample(i, streams.sample)) if draws >= 2 else None
                oracle = Oracle(problem, i, xi, xi_hat, k=k, seed=seed)
                if k == 0:
                    grad0 = oracle.grad(state.x)
                    oracle.known = (state.x.copy(), grad0)
                    state.clients.append(ClientState(g=np.zeros(d), est=estimator.init(grad0)))
                    if init == "gradient":
                        state.clients[i].g = grad0.copy()
                oracles.append(oracle)
            if k == 0 and init == "compressed":
                for i in range(n):
                    c0 = np.asarray(compressor(oracles[i].known[1], streams.compress), dtype=np.float64)
                    finite("message c_i", c0, i)
                    state.clients[i].g = c0
            if k == 0:
                state.g = sum((c.g for c in state.clients), np.zeros(d)) / n
            for i in range(n):
                step = Step(k=k, x=state.x, x_prev=state.x_prev, eta=eta, oracle=oracles[i],
                            aux=streams.aux, options=options)
                state.clients[i].est = estimator.update(state.clients[i].est, step)
                finite("estimator v_i", state.clients[i].est["v"], i)
                targets.append(state.clients[i].est["v"])
            # (2) compression against the memories; server mirror
            g_prev_server = state.g.copy()
            c_sum = np.zeros(d)
            for i, client in enumerate(state.clients):
                c = message(compressor, targets[i], client.g, streams.compress)
                finite("message c_i", c, i)
                if estimator.after_compress is not None:
                    client.est = estimator.after_compress(client.est, client.g, c)
                    for key, value in client.est.items():
                        if key not in ("v", "grad"):      # v_i and the gradient are checked above
                            finite(f"estimator state {key}_i", value, i)
                client.g = client.g + c
                finite("memory g_i", client.g, i)
                c_sum = c_sum + c
            state.g = mirror_update(state.g, c_sum, n, [c.g for c in state.clients], k)
            finite("mirror g", state.g)
            grad_calls[k] = oracles[0].grad_calls
            hvp_calls[k] = oracles[0].hvp_calls
            _diagnose(problem, state, k, diags, record)
            # (3) server step
            mirror = g_prev_server if step_uses_previous_mirror else state.g
            direction = normalized_direction(mirror, blocks) if normalized else mirror
            x_next = state.x - gammas[k] * direction
            finite("iterate x", x_next)
            state.x_prev, state.x, state.k = state.x, x_next, k + 1
            traj.point(k + 1, x_next)

    traj.check(seed)
    return Result(
        name=name, backend="numpy", x=traj.xs, x_index=traj.rows, grad_norm=traj.grad_norm, f=traj.f,
        stepsize=gammas, momentum=etas,
        bits_up=np.full(iters, up_bits), bits_down=np.zeros(iters),
        grad_calls=grad_calls, hvp_calls=hvp_calls, init_bits_up=init_bits,
        diagnostics=diags,
        config={"name": name, "seed": seed, "options": dict(options),
                "stepsize": stepsize.label,
                "momentum": None if momentum is None else momentum.label,
                "compressor": repr(compressor), "estimator": estimator.name,
                "normalized": normalized, "blocks": blocks, "bits": bits_convention,
                "bits_down": "model broadcast not counted (as in the papers)",
                "record": policy.label()},
    )


def _diagnose(problem, state: LoopState, k: int, diags: dict, record: bool) -> None:
    n = len(state.clients)
    d = state.x.shape[0]
    grads = np.array([check_oracle_output("grad_i", problem.grad_i(i, state.x), d) for i in range(n)])
    g_i = np.array([c.g for c in state.clients])
    v_i = np.array([c.est["v"] for c in state.clients])
    norm = np.linalg.norm
    diags["err_grad_g"][k] = norm(grads - g_i, axis=1).mean()
    diags["err_g_v"][k] = norm(g_i - v_i, axis=1).mean()
    diags["err_v_grad"][k] = norm(v_i - grads, axis=1).mean()
    diags["err_v_grad_avg"][k] = norm(v_i.mean(axis=0) - grads.mean(axis=0))
    diags["mirror_gap"][k] = norm(state.g - g_i.mean(axis=0))
    diags["g_norm"][k] = norm(state.g)
    diags["mean_grad_i_norm"][k] = norm(grads, axis=1).mean()
    if record:
        diags["g_i"][k] = g_i
        diags["v_i"][k] = v_i
        diags["g"][k] = state.g
