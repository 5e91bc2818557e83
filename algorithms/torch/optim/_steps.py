r"""The engine's batched steps, run on one model: S = 1 run, the clients as the n axis.

The ``torch.optim`` optimizers, the ``torch.distributed`` runner and the DDP hooks hold no
update rule of their own. They build a :class:`ClientEnv` -- the engine's environment interface
(:class:`algorithms.torch._core.Env`: ``sample``, ``grad``, ``hvp``, ``uniform``, ``compress``,
``compress_sparse``, ``buffer``) for a model's flattened parameters :math:`x\in\mathbb R^d`
and the n clients it serves -- and call one of the three steps below, which apply the engine's
own batched pieces to (1, n, d) tensors:

* :func:`ef21_step` -- the engine's own iteration, :func:`algorithms.torch.ef21_family.ef21_step`
  (the same function the engine's loop calls: estimators, message, memories, server mirror,
  normalization and server step);
* :func:`local_ef_step` -- EF / SAEF: the engine's own iteration,
  :func:`algorithms.torch.local_ef.local_ef_step`;
* :func:`sign_step` -- the sign methods: the engine's own step, :func:`algorithms.torch.sign.sign_step`.

What crosses clients goes through an *aggregate* object: :class:`LocalAggregate` (all n clients
in this process: the messages are the (1, n, d) tensor itself) or the distributed runner's,
which exchanges the compressed payloads and rebuilds the same (1, n, d) tensor, so the server
arithmetic is the engine's, operation by operation, in every path. Which step, estimator and
options apply is read from the method card (:mod:`algorithms.cards`).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from eftheory.compressors import UnbiasedSign
from eftheory.validation import NonFiniteError, check_choice

from .._kernels import compress as _compress
from .._kernels import compress_sparse as _compress_sparse
from ..ef21_family import LocalAggregate
from ..ef21_family import ef21_step as _ef21_step
from ..local_ef import local_ef_step as _local_ef_step
from ..sign import _check_bound, _check_sign_zero
from ..sign import sign_step as _sign_step

__all__ = ["ClientEnv", "LocalAggregate", "ef21_step", "local_ef_step", "sign_step", "sample_draws", "watch"]

def watch(quantity: str, t: torch.Tensor, k: int) -> None:
    """Raise the finding of a non-finite ``quantity`` at step k at once (S = 1: no batching to wait for)."""
    if not bool(torch.isfinite(t).all()):
        raise NonFiniteError(quantity, k)


class ClientEnv:
    """The engine's environment for one run (S = 1) of ``n`` clients over a flat vector of size d.

    grad(points (n, d), xi) -> (n, d): client i's gradient at points[i] with draw xi;
    hvp(points (n, d), dirs (n, d), xi) -> (n, d); sample(slot) -> a draw (any object) or None.
    Uniforms (random compressors, RHM's q, stochastic signs) come from ``uniforms(shape, purpose)``
    when given (purpose ``"compress"`` or ``"aux"``; replay), else from ``generator``.
    ``log``: a list that receives ``(k, purpose, tensor)`` for every uniform drawn (k: ``self.k``).
    """

    S = 1
    full = False
    replay = False

    def __init__(self, n: int, d: int, *, device, dtype, grad: Callable, hvp: Callable | None = None,
                 sample: Callable | None = None, generator: torch.Generator | None = None,
                 uniforms: Callable | None = None, log: list | None = None):
        self.n, self.d = int(n), int(d)
        self.device, self.dtype = torch.device(device), dtype
        self._grad, self._hvp, self._sample = grad, hvp, sample
        self.gen, self._uniforms, self.log = generator, uniforms, log
        self._buffers: dict[str, torch.Tensor] = {}
        self.k = 0                          # the iteration, set by the caller (tags the log)

    # -- workspace / randomness --------------------------------------------------------------
    def buffer(self, name: str, shape=None) -> torch.Tensor:
        shape = (1, self.n, self.d) if shape is None else tuple(shape)
        buf = self._buffers.get(name)
        if buf is None or tuple(buf.shape) != shape:
            buf = self._buffers[name] = torch.empty(shape, device=self.device, dtype=self.dtype)
        return buf

    def sample(self, slot: str = "xi"):
        return None if self._sample is None else self._sample(slot)

    def draw(self, shape, purpose: str) -> torch.Tensor:
        """U[0, 1) of ``shape`` for ``purpose`` ("compress" or "aux")."""
        shape = tuple(int(s) for s in shape)
        if self._uniforms is not None:
            u = torch.as_tensor(self._uniforms(shape, purpose), device=self.device).to(self.dtype).reshape(shape)
        else:
            if self.gen is None:
                raise ValueError("generator must be a torch.Generator for this method's random draws "
                                 "(random compressor, RHM's q, stochastic sign); got None")
            u = torch.rand(shape, generator=self.gen, device=self.device, dtype=self.dtype)
        if self.log is not None:
            self.log.append((self.k, purpose, u.detach().clone()))
        return u

    def uniform(self, *shape) -> torch.Tensor:
        return self.draw((1, *shape), "aux")

    def compress_uniforms(self, *shape) -> torch.Tensor:
        return self.draw((1, *shape), "compress")

    def _u(self, compressor, v):
        return self.draw(v.shape, "compress") if getattr(compressor, "random", False) else None

    def compress(self, compressor, v, out=None):
        return _compress(compressor, v, u=self._u(compressor, v))

    def compress_sparse(self, compressor, v, out=None):
        return _compress_sparse(compressor, v, u=self._u(compressor, v))

    # -- oracles --------------------------------------------------------------------------------
    def _points(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1) if x.dim() == 2 else x
        return x[0].expand(self.n, self.d)

    def grad(self, x, xi, out=None) -> torch.Tensor:
        return self._grad(self._points(x), xi).reshape(1, self.n, self.d)

    def hvp(self, x, v, xi) -> torch.Tensor:
        if self._hvp is None:
            raise ValueError("this method needs Hessian-vector products, which this oracle does not provide")
        return self._hvp(self._points(x), self._points(v), xi).reshape(1, self.n, self.d)


# ---------------------------------------------------------------------------------- EF21 family


def ef21_step(env, card, st: dict, x: torch.Tensor, k: int, *, gamma, eta, compressor, options: dict,
              agg, blocks=None) -> torch.Tensor:
    """One iteration of an EF21-family method: the engine's own step
    (:func:`algorithms.torch.ef21_family.ef21_step`) with the card's estimator and normalization
    and a finiteness watch that raises at once. ``st`` carries the state between calls.
    Returns x^{k+1} (1, d).
    """
    return _ef21_step(env, st, x, k, estimator=card.estimator, normalized=card.normalized, gamma=gamma,
                      eta=eta, compressor=compressor, options=options, agg=agg, watch=watch, blocks=blocks,
                      step_uses_previous_mirror=options.get("econtrol_step_uses", "h_next") == "h_prev")


# ---------------------------------------------------------------------------------- EF / SAEF


def local_ef_step(env, card, st: dict, x: torch.Tensor, t: int, *, eta, compressor, options: dict,
                  agg, server=None) -> torch.Tensor:
    """One iteration of EF / SAEF ([002] Algorithm 1): the engine's own step
    (:func:`algorithms.torch.local_ef.local_ef_step`). ``st``: ``m``, ``e_loc`` (1, n, d), ``e_srv`` (1, d).

    ``server``: the environment of the server's compression (default ``env``; the distributed
    runner passes the server stream every rank shares). Returns x_{t+1}.
    """
    if not st:
        z = torch.zeros((1, env.n, env.d), device=env.device, dtype=env.dtype)
        st.update(m=z, e_loc=z.clone(), e_srv=torch.zeros_like(x), averaged=0.0)
    return _local_ef_step(env, st, x, t, eta=eta, mu=options["mu"], p=options["p"], step_ahead=card.step_ahead,
                          average=card.step_ahead or options.get("error_averaging", False),
                          double_way=options["double_way"], compressor=compressor, agg=agg, watch=watch,
                          server=server, local_feedback=options.get("local_feedback", True))


# ---------------------------------------------------------------------------------- sign methods


def sign_checks(card, options: dict) -> dict:
    """The sign engine's conventions, validated (the run's options, the card's names)."""
    out = {"zero": _check_sign_zero(options.get("sign_zero", 0)),
           "ties": check_choice("ties", options.get("ties", "zero"), ("zero", "plus")),
           "convention": check_choice("momentum_convention", options.get("momentum_convention", "new_weight"),
                                      ("new_weight", "old_weight")),
           "on_violation": check_choice("on_violation", options.get("on_violation", "clip"), ("clip", "raise")),
           "shared_draw": options.get("shared_draw", False)}
    if not isinstance(out["shared_draw"], bool):
        raise ValueError(f"shared_draw must be True or False; got {out['shared_draw']!r}")
    if card.uplink == "stochastic_sign":
        out["S_up"] = UnbiasedSign(_check_bound(card.bound, options.get(card.bound), card.name), on_violation="clip")
        out["R"] = float(options[card.bound])
    if card.downlink == "stochastic_sign":
        out["S_down"] = UnbiasedSign(1.0, on_violation="clip")
    return out


def sign_step(env, card, st: dict, x: torch.Tensor, k: int, *, gamma, beta, conv: dict, agg,
              server=None) -> torch.Tensor:
    """One step of a sign method of [003]: the engine's own step (:func:`algorithms.torch.sign.sign_step`)
    with the card's estimator, uplink and downlink. ``st``: ``v``. Returns x_{k+1}."""
    if "v" not in st:
        rows = 1 if card.centralized else env.n
        st["v"] = torch.zeros((1, rows, env.d), device=env.device, dtype=env.dtype)
    if card.estimator == "signum":
        top = float(torch.as_tensor(beta, device=env.device).max())     # per-group values may form a vector
        if top >= 1.0:
            raise ValueError(f"momentum must lie in (0, 1) for {card.name!r} (Signum weighs the previous "
                             f"momentum by beta); got {top:g}")
    full = {"zero": conv["zero"], "ties": conv["ties"], "convention": conv["convention"],
            "on_violation": conv["on_violation"], "shared_draw": conv["shared_draw"],
            "S_up": conv.get("S_up"), "S_down": conv.get("S_down"), "R": conv.get("R"), "R_name": card.bound}
    return _sign_step(env, st, x, k, gamma=gamma, beta=beta, estimator=card.estimator, uplink=card.uplink,
                      downlink=card.downlink, conv=full, agg=agg, watch=watch, server=server)


def sample_draws(problem, client: int, rng) -> Callable[[str], Any]:
    """A ``ClientEnv.sample`` that draws ``problem.sample(client, rng)`` (one client's stream)."""
    return lambda slot="xi": problem.sample(client, rng)
