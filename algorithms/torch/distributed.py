r"""The EF21 family on real processes: one ``torch.distributed`` rank per client.

Each rank i is client i. It holds its memory :math:`g_i` (and estimator :math:`v_i`), computes its
local gradient through the problem protocol, compresses :math:`c_i = \mathcal C(v_i - g_i)`,
updates :math:`g_i \leftarrow g_i + c_i`, and the messages are summed by an all-reduce, so every
rank updates the same server mirror :math:`g \leftarrow g + \frac1n\sum_i c_i` and takes the same
step :math:`x \leftarrow x - \gamma_k\,g/\|g\|` (or :math:`x - \gamma_k g` for unnormalized
members). Only compressed messages travel, apart from the round-0 initialisation
(``init="gradient"`` sends :math:`g_i^{-1}` densely once).

Supported names (their registered NumPy references define the semantics):

=================  =============================  ============================
name               estimator :math:`v_i^k`        step
=================  =============================  ============================
``ef21``           exact gradient                 :math:`\gamma_k g^k`
``ef21-norm``      exact gradient                 :math:`\gamma_k g^k/\|g^k\|`
``ef21-sgd``       stochastic gradient            :math:`\gamma_k g^k`
``ef21-sgdm``      Polyak momentum                :math:`\gamma_k g^k`
``ef21-sgdm-norm`` Polyak momentum                :math:`\gamma_k g^k/\|g^k\|`
``ef21-mvr-norm``  MVR (STORM)                    :math:`\gamma_k g^k/\|g^k\|`
=================  =============================  ============================

Randomness follows :class:`algorithms.registry.Streams` exactly as the reference does: every rank
builds ``Streams(seed)`` and replays the draws of all clients in client order, keeping its own
(minibatches from ``sample``; a random compressor's ``rng.random(d)`` rows from ``compress``), so
a run equals ``algorithms.run(name, ..., backend="numpy", seed=seed)`` up to float rounding.

Launch: :func:`run_distributed` spawns ``world_size`` processes with
:func:`torch.multiprocessing.spawn` on localhost (a free TCP port on 127.0.0.1), backend ``"gloo"``
on CPU or ``"nccl"`` on CUDA (rank i on ``cuda:i``), and returns rank 0's trajectory.
"""

from __future__ import annotations

import datetime
import math
import os
import socket
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from eftheory.validation import check_choice, check_int, check_vector

__all__ = ["run_distributed", "NAMES", "available"]

#: name -> (estimator, normalized, draws per client and step)
NAMES: dict[str, tuple[str, bool, int]] = {
    "ef21": ("gradient", False, 0),
    "ef21-norm": ("gradient", True, 0),
    "ef21-sgd": ("gradient", False, 1),
    "ef21-sgdm": ("polyak", False, 1),
    "ef21-sgdm-norm": ("polyak", True, 1),
    "ef21-mvr-norm": ("mvr", True, 1),
}
INITS = ("gradient", "compressed", "zero")


def available(backend: str = "gloo") -> tuple[bool, str]:
    """Whether ``torch.distributed`` with ``backend`` can run here, and why not."""
    import torch.distributed as dist

    if not dist.is_available():
        return False, "torch.distributed is not available in this torch build"
    if backend == "gloo" and not dist.is_gloo_available():
        return False, "the gloo backend is not available in this torch build"
    if backend == "nccl" and not (torch.cuda.is_available() and dist.is_nccl_available()):
        return False, "the nccl backend needs CUDA and an nccl-enabled torch build"
    return True, ""


@dataclass(frozen=True)
class _Config:
    name: str
    problem_factory: Callable[[], Any]
    compressor: Any
    x0: np.ndarray
    iters: int
    gammas: np.ndarray
    etas: np.ndarray | None
    init: str
    seed: int
    world_size: int
    backend: str
    device: str
    init_method: str
    timeout_s: float


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _schedule(value, name: str, iters: int, *, high: float = math.inf) -> np.ndarray:
    from eftheory.schedules import as_schedule

    return as_schedule(value, name=name, high=high).values(iters)


def run_distributed(name: str, problem_factory: Callable[[], Any], compressor, x0, iters: int, *,
                    world_size: int, stepsize, momentum=None, init: str | None = None,
                    seed: int = 0, backend: str | None = None, device: str = "cpu",
                    timeout_s: float = 120.0) -> np.ndarray:
    """Run ``name`` with one process per client and return the iterates ``(iters + 1, d)``.

    Args:
        name: one of :data:`NAMES`.
        problem_factory: a picklable zero-argument callable (e.g. a module-level class or a
            ``functools.partial``) that builds the protocol problem in every process; its
            ``n_clients`` must equal ``world_size``.
        compressor: an :mod:`eftheory.compressors` object.
        x0: starting point (d,).
        iters: number of steps K >= 1.
        world_size: number of processes = clients.
        stepsize: float or schedule ``k -> gamma_k`` (evaluated here, before spawning).
        momentum: :math:`\\eta_k` for ``ef21-sgdm``, ``ef21-sgdm-norm``, ``ef21-mvr-norm``.
        init: :math:`g_i^{-1}` (``"gradient"``, ``"compressed"``, ``"zero"``); default: the
            registered reference's default.
        seed: seed of the :class:`~algorithms.registry.Streams` every rank replays.
        backend: ``"gloo"`` (default on CPU) or ``"nccl"`` (default on CUDA).
        device: ``"cpu"`` or ``"cuda"`` (rank i uses ``cuda:i``).
        timeout_s: timeout of the process group's collective operations.

    Example::

        >>> xs = run_distributed("ef21-norm", MyProblem, TopK(2), x0, 50, world_size=3,
        ...                      stepsize=0.05)                         # doctest: +SKIP
    """
    import torch.multiprocessing as mp

    import algorithms

    check_choice("name", name, tuple(NAMES))
    world_size = check_int("world_size", world_size, low=1)
    iters = check_int("iters", iters, low=1)
    seed = check_int("seed", seed, low=0)
    device = check_choice("device", device, ("cpu", "cuda"))
    backend = check_choice("backend", backend or ("nccl" if device == "cuda" else "gloo"), ("gloo", "nccl"))
    ok, why = available(backend)
    if not ok:
        raise ValueError(f"backend must be usable here; {why}")
    if not callable(problem_factory):
        raise ValueError(f"problem_factory must be a picklable callable returning a problem; got {problem_factory!r}")
    if compressor is None or not callable(getattr(compressor, "torch", None)):
        raise ValueError(f"compressor must be an eftheory.compressors object; got {compressor!r}")
    problem = problem_factory()
    if int(problem.n_clients) != world_size:
        raise ValueError(f"world_size must equal problem.n_clients={problem.n_clients} (one rank per client); "
                         f"got {world_size}")
    d = int(problem.dim)
    x0 = check_vector("x0", x0, d)
    if hasattr(compressor, "validate"):
        compressor.validate(d)
    estimator = NAMES[name][0]
    if estimator == "gradient":
        if momentum is not None:
            raise ValueError(f"momentum must be None for {name!r}; got {momentum!r}")
        etas = None
    else:
        if momentum is None:
            raise ValueError(f"momentum must be given for {name!r}: a float or schedule in (0, 1]")
        etas = _schedule(momentum, "momentum", iters, high=1.0)
    if init is None:
        init = algorithms.get(name).options.get("init", "gradient")
    init = check_choice("init", init, INITS)
    gammas = _schedule(stepsize, "stepsize", iters)

    cfg = _Config(name=name, problem_factory=problem_factory, compressor=compressor, x0=x0,
                  iters=iters, gammas=gammas, etas=etas, init=init, seed=seed,
                  world_size=world_size, backend=backend, device=device,
                  init_method=f"tcp://127.0.0.1:{_free_port()}", timeout_s=float(timeout_s))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "trajectory.npy")
        mp.spawn(_worker, args=(cfg, out), nprocs=world_size, join=True)
        return np.load(out)


# ---------------------------------------------------------------------------------- per rank


def _worker(rank: int, cfg: _Config, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(cfg.backend, init_method=cfg.init_method, rank=rank,
                            world_size=cfg.world_size,
                            timeout=datetime.timedelta(seconds=cfg.timeout_s))
    try:
        device = torch.device(f"cuda:{rank}" if cfg.device == "cuda" else "cpu")
        xs = _client(rank, cfg, device, dist)
        if rank == 0:
            np.save(out, xs)
    finally:
        dist.destroy_process_group()


def _client(rank: int, cfg: _Config, device: torch.device, dist) -> np.ndarray:
    """Client ``rank``'s loop; returns the iterates it computed (identical on every rank)."""
    from algorithms.registry import Streams

    estimator, normalized, draws = NAMES[cfg.name]
    problem = cfg.problem_factory()
    n, d = cfg.world_size, int(problem.dim)
    C = cfg.compressor
    streams = Streams(cfg.seed)
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)  # noqa: E731

    def grad(x: torch.Tensor, xi) -> torch.Tensor:
        return as_t(problem.grad_i(rank, x.cpu().numpy(), xi))

    def compress(v: torch.Tensor) -> torch.Tensor:
        if not getattr(C, "random", False):
            return C.torch(v)
        u = streams.compress.random((n, d))[rank]      # every client's row, in client order
        return C.torch(v, u=as_t(u))

    def all_sum(t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    x = as_t(cfg.x0)
    x_prev = x.clone()
    xs = np.empty((cfg.iters + 1, d))
    xs[0] = cfg.x0
    g_i = g = v = None
    for k in range(cfg.iters):
        xi = None
        if draws:
            for j in range(n):                          # replay every client's draw, keep ours
                s = problem.sample(j, streams.sample)
                if j == rank:
                    xi = s
        G = grad(x, xi)
        if k == 0:
            v = G                                       # v_i^{-1} = grad f_i(x^0; xi_i^0)
            g_i = {"gradient": lambda: G.clone(), "compressed": lambda: compress(G),
                   "zero": lambda: torch.zeros_like(G)}[cfg.init]()
            g = all_sum(g_i) / n
        if estimator == "gradient":
            v = G
        elif estimator == "polyak":
            eta = float(cfg.etas[k])
            v = (1.0 - eta) * v + eta * G
        else:   # mvr: the previous point with the same draw
            eta = float(cfg.etas[k])
            G_prev = G if k == 0 else grad(x_prev, xi)
            v = G + (1.0 - eta) * (v - G_prev)
        c_i = compress(v - g_i)
        g_i = g_i + c_i
        g = g + all_sum(c_i) / n
        if normalized:
            norm = float(torch.linalg.vector_norm(g))
            direction = g / norm if norm > 0 else torch.zeros_like(g)
        else:
            direction = g
        x_prev, x = x, x - float(cfg.gammas[k]) * direction
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"x became non-finite at iteration {k + 1}: the run diverged; "
                             "choose a smaller stepsize (allowed: finite iterates only)")
        xs[k + 1] = x.cpu().numpy()
    # every rank must hold the same model: compare with rank 0's
    x0_rank = x.clone()
    dist.broadcast(x0_rank, src=0)
    if not torch.equal(x0_rank, x):
        raise RuntimeError(f"rank {rank} diverged from rank 0 (models differ by "
                           f"{float((x0_rank - x).abs().max()):g})")
    return xs
