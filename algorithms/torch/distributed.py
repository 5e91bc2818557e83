r"""Every registered algorithm on real processes: one ``torch.distributed`` rank per client.

Rank i is client i. It evaluates only its own oracle (``problem.grad_i(i, ...)``), draws only its
own client's randomness, and runs the engine's batched step of the method's card
(:mod:`algorithms.torch.optim._steps`, the step the ``torch.optim`` optimizers run) on (1, 1, d)
tensors: its client is the engine's client axis with n = 1 locally. What crosses clients goes over
the wire as compressed payloads and is reduced over all ranks as the engine reduces its client
axis (the sum of the messages, the mean, the vote), so the server arithmetic is the engine's up to
the order of the sum over clients (the parity tests: 1e-12 in float64).

**The server step is replicated on every rank**: each rank receives every client's message
(``all_gather``; dense vectors by ``all_reduce``), reduces them as the engine does over its
client axis (sum, mean, vote; never an (n, d) tensor), updates the same server state (EF21's mirror :math:`g`, EF's server error, the
vote) and takes the same step; no rank is a parameter server. The server's own randomness (a
random server compressor, MVSM v2's :math:`S_1`, MVSM's ``shared_draw``) comes from one server
stream every rank draws identically. The downlink -- the server's message to the clients -- is
*broadcast* from rank 0 as a compressed payload and every rank checks it against its own replica
(a divergence check that costs the downlink's bits, which are what the papers count).

Payloads (what ``bits_*`` count, from the tensors actually sent):

==========================  ==============================================================
message                     on the wire
==========================  ==============================================================
Top-K / Rand-K / scaled     (indices int32, values) through ``all_gather``; bits = 32 per value
Rand-K                      (+ the compressor's index bits with ``bits="values+indices"``)
sign / stochastic sign      the signs packed 8 per byte (``uint8``); the vote is counted from the
                            packed bits (per coordinate, set bits over ranks); bits = d
scaled sign                 packed signs + one scale; bits = d + 32
Blockwise(C, sizes)         block by block, each block in its compressor's format; bits = the
                            sum over blocks (``Blockwise.bits``)
a dense vector              the full vector through ``all_reduce``; bits = 32 d: the centralized
                            sign methods' gradients, the error averaging of EF / SAEF, EF21's
                            ``init="gradient"``, ``Identity()``
==========================  ==============================================================

These are the ``Result.bits_*`` of the single-process run, for every registered method (the
tests assert equality for each). A compressor without a payload format would travel dense and
cost more than it counts, so :func:`make_job` (and the DDP hook) refuse it with a one-line
ValueError naming the compressors allowed (:func:`check_wire`; only a compressor whose own
``bits(d)`` is the dense 32 d, like ``Identity()``, may travel dense).

Values travel in the run's dtype (float64 in the parity tests) and are counted as 32-bit floats,
the papers' convention; ``bytes_up`` / ``bytes_down`` report the bytes actually sent. A sign
message that can hold exact zeros (``sign_zero=0``, scaled sign, a tied vote) costs one control
byte per step (all ranks agree whether a zero mask follows) and, only when some entry is 0, a
second packed bitmap. The papers (and ``Result.bits_*``) count 1 bit per sign whatever its
value, so these are counted apart, in ``control_bits_*``, not in ``bits_*``: the honest wire
cost of a ternary message is ``bits_* + control_bits_*``.

The centralized sign methods (signSGD, Signum, SMM: one node in [003]) need the mean of the
clients' gradients at their one node: each client's dense gradient goes up through an
``all_reduce`` (32 d bits per client and step), every rank takes the same sign step on the
mean, and nothing else is broadcast (0 down). ``Result.bits_*`` of the single-process run count
the same (32 d up for n > 1, 0 down); with a single client the client is the node and nothing
is sent (0 / 0, no collective).

Randomness: client i draws its minibatches from ``numpy.random.default_rng([seed, i])`` and its
uniforms (random compressor, RHM's :math:`q_i`, stochastic signs) from a ``torch.Generator``
seeded from ``SeedSequence([seed, i, 1])``; the server stream from ``SeedSequence([seed, 2**32-1])``.
With ``record_draws=True`` every rank returns its draws and :meth:`DistributedResult.draws`
assembles them into the engine's :class:`~algorithms.torch.replay.Draws`, so
``algorithms.run(name, ..., backend="torch", draws=result.draws())`` replays the same
randomness in one process (the parity tests compare the two to 1e-12).

Faults: every collective runs under the process group's timeout (``timeout_s``). A rank that
raises writes its one-line error to a side channel (a folder every rank can read) before it
exits; a rank whose collective then fails reports the failing rank's own error, not the
connection reset; a rank that hangs is named by the ranks that timed out waiting for it. A
non-finite quantity on any rank is such an error (the finding names the rank and iteration).
Checkpoints: ``checkpoint_every=N`` writes every rank's state (iterate, client and server state,
generator states, accounting) every N iterations to ``checkpoint_dir``; ``resume=True`` continues
from the last checkpoint bit for bit.

Launch:

* tests and notebooks: :func:`run_distributed` (one job) or :func:`spawn` (several jobs in one
  process group) start ``world_size`` local processes (``tcp://127.0.0.1:<free port>``);
* clusters: ``torchrun --nproc-per-node N -m algorithms.torch.distributed --name ef21-norm
  --problem mypkg.problems:make --compressor "TopK(2)" --iters 100 --stepsize 0.1 --out run.npz``
  (``env://``: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).

Backend ``"gloo"`` on CPU, ``"nccl"`` on CUDA (rank i on ``cuda:LOCAL_RANK``).
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from eftheory.validation import check_choice, check_int, check_vector

from ..cards import CARDS, card as _card

__all__ = ["run_distributed", "spawn", "Job", "DistributedResult", "DistributedError", "NAMES", "available",
           "check_wire", "WIRE_FORMATS"]

#: every registered name runs distributed (the cards)
NAMES = tuple(sorted(CARDS))

_SERVER_STREAM = 2**32 - 1


class DistributedError(RuntimeError):
    """A distributed run failed; the message names the failing rank and its own error (one line)."""


class _CommError(RuntimeError):
    """A collective failed (peer gone, timeout): a consequence, not a cause."""


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


# ---------------------------------------------------------------------------------- jobs


@dataclass
class Job:
    """One run of one method (validated by :func:`make_job`)."""

    name: str
    problem_factory: Callable[[], Any]
    compressor: Any
    x0: np.ndarray
    iters: int
    stepsize: np.ndarray
    momentum: np.ndarray | None
    seed: int = 0
    options: dict = field(default_factory=dict)
    checkpoint_every: int | None = None
    checkpoint_dir: str | None = None
    resume: bool = False
    stop_at: int | None = None            # stop after this many iterations (tests of resume)
    record_draws: bool = False


def _schedule(value, name: str, iters: int, *, high: float = math.inf) -> np.ndarray:
    from eftheory.schedules import as_schedule

    return as_schedule(value, name=name, high=high).values(iters)


def check_method_args(card, compressor, momentum) -> None:
    """The compressor and momentum a method's card asks for (one-line ValueErrors otherwise)."""
    name = card.name
    if card.compressor == "required":
        if compressor is None or not callable(getattr(compressor, "torch", None)):
            raise ValueError(f"compressor must be an eftheory.compressors object for {name!r}; got {compressor!r}")
    elif compressor is not None:
        raise ValueError(f"compressor must be None for {name!r} (it sends signs); got {compressor!r}")
    if card.momentum == "none" and momentum is not None:
        raise ValueError(f"momentum must be None for {name!r} (it has no momentum parameter); got {momentum!r}")
    if card.momentum == "required" and momentum is None:
        raise ValueError(f"momentum must be given for {name!r}: a float or schedule in (0, 1]")


def make_job(name, problem_factory, compressor, x0, iters, *, stepsize, momentum=None, seed=0,
             world_size=None, checkpoint_every=None, checkpoint_dir=None, resume=False, stop_at=None,
             record_draws=False, **options) -> Job:
    """Validate one run's arguments (in the caller's process) and return its :class:`Job`."""
    card = _card(name)
    iters = check_int("iters", iters, low=1)
    seed = check_int("seed", seed, low=0)
    if not callable(problem_factory):
        raise ValueError(f"problem_factory must be a picklable callable returning a problem; got {problem_factory!r}")
    problem = problem_factory()
    if world_size is not None and int(problem.n_clients) != world_size:
        raise ValueError(f"world_size must equal problem.n_clients={problem.n_clients} (one rank per client); "
                         f"got {world_size}")
    d = int(problem.dim)
    x0 = check_vector("x0", x0, d)
    opts = card.defaults(**options)
    check_method_args(card, compressor, momentum)
    if compressor is not None and hasattr(compressor, "validate"):
        compressor.validate(d)
    check_wire(compressor, d, opts.get("bits", "values"))
    if card.momentum == "none":
        moms = None
    elif momentum is None:
        raise ValueError(f"momentum must be given for {name!r}: a float or schedule in (0, 1]")
    else:
        moms = _schedule(momentum, "momentum", iters, high=1.0)
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, low=1)
        if checkpoint_dir is None:
            raise ValueError("checkpoint_dir must be a folder when checkpoint_every is given; got None")
    if resume and checkpoint_dir is None:
        raise ValueError("checkpoint_dir must be the folder of the checkpoints to resume from; got None")
    return Job(name=name, problem_factory=problem_factory, compressor=compressor, x0=x0, iters=iters,
               stepsize=_schedule(stepsize, "stepsize", iters), momentum=moms, seed=seed, options=opts,
               checkpoint_every=checkpoint_every, checkpoint_dir=checkpoint_dir, resume=bool(resume),
               stop_at=stop_at, record_draws=bool(record_draws))


@dataclass
class DistributedResult:
    """Rank 0's view of a run: iterates and what went over the wire, per iteration.

    x : (K+1, d); bits_up / bits_down : (K,) payload bits one client sent / received from the
    server, counted from the tensors sent (they equal ``Result.bits_*`` of the single-process
    run); init_bits_up : bits of the round-0 message;
    control_bits_up / control_bits_down : (K,) the zero-flag bytes and masks of sign messages;
    bytes_up / bytes_down : (K,) bytes of the tensors rank 0 put on the wire (uplink: its own
    payload, ``bytes_up[0]`` including the round-0 message; downlink: the broadcast); seconds : (K,) wall time per iteration on rank 0;
    draws_log : per rank, the recorded draws (``record_draws=True``).
    """

    name: str
    x: np.ndarray
    bits_up: np.ndarray
    bits_down: np.ndarray
    init_bits_up: float
    control_bits_up: np.ndarray
    control_bits_down: np.ndarray
    bytes_up: np.ndarray
    bytes_down: np.ndarray
    seconds: np.ndarray
    draws_log: list | None = None

    def draws(self):
        """The recorded draws of every rank as the engine's ``Draws`` (S = 1), in the engine's order."""
        if self.draws_log is None:
            raise ValueError("draws need record_draws=True in the run")
        return _assemble_draws(self.draws_log)


# ---------------------------------------------------------------------------------- payloads


def _pack(bits: torch.Tensor) -> torch.Tensor:
    """A bool vector (d,) as uint8 bytes, 8 bits per byte (bit j of byte b is entry 8 b + j)."""
    d = bits.numel()
    pad = (-d) % 8
    b = bits.reshape(-1).to(torch.uint8)
    if pad:
        b = torch.cat([b, b.new_zeros(pad)])
    b = b.reshape(-1, 8)
    out = b[:, 0].clone()
    for j in range(1, 8):
        out.bitwise_or_(b[:, j] << j)
    return out


def _unpack(packed: torch.Tensor, d: int) -> torch.Tensor:
    """uint8 bytes (..., B) back to bool (..., d)."""
    bits = torch.stack([(packed >> j) & 1 for j in range(8)], dim=-1)
    return bits.reshape(*packed.shape[:-1], -1)[..., :d].bool()


def _count(packed: torch.Tensor, d: int) -> torch.Tensor:
    """Per coordinate, how many of the rows of ``packed`` (n, B) have the bit set: (d,) int32."""
    counts = torch.stack([((packed >> j) & 1).sum(dim=0, dtype=torch.int32) for j in range(8)], dim=-1)
    return counts.reshape(-1)[:d]


def _kind(compressor) -> str:
    from eftheory.compressors import Blockwise, RandK, ScaledRandK, ScaledSign, Sign, TopK, UnbiasedSign

    t = type(compressor)
    if t in (TopK, RandK, ScaledRandK):
        return "sparse"
    if t is ScaledSign:
        return "scaled_sign"
    if t in (Sign, UnbiasedSign):
        return "sign"
    if t is Blockwise:
        return "blockwise"
    return "dense"


#: the compressors with a payload format (a Blockwise of them travels block by block)
WIRE_FORMATS = ("TopK", "RandK", "ScaledRandK", "ScaledSign", "Sign", "UnbiasedSign", "Blockwise")


def check_wire(compressor, d: int, convention: str = "values") -> None:
    """Refuse a compressor whose messages would travel as more bits than ``Result.bits_*`` count.

    A compressor without a payload format travels dense (32 bits per value); that is honest only
    when its own ``bits(d)`` is that dense count (``Identity()``). Anything else -- a compressed
    map with no payload format here -- is a one-line ValueError naming the allowed compressors.
    """
    if compressor is None:
        return
    kind = _kind(compressor)
    if kind == "blockwise":
        for block, size in zip(compressor.compressors, compressor.sizes):
            check_wire(block, int(size), convention)
        return
    if kind != "dense":
        return
    counted = float(compressor.bits(d, convention))
    if counted != 32.0 * d:
        raise ValueError(f"compressor must have a payload format on the wire ({', '.join(WIRE_FORMATS)}, or one "
                         f"whose bits(d) is the dense 32 d, e.g. Identity()); got {compressor!r}, which would "
                         f"travel dense ({32 * d} bits for d={d}) while its messages count {counted:g} bits")


class _Meter:
    """Bits and bytes of one iteration, by direction."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.bits = {"up": 0.0, "down": 0.0}
        self.control = {"up": 0.0, "down": 0.0}
        self.bytes = {"up": 0, "down": 0}

    def add(self, direction, bits, tensors, control=0.0):
        self.bits[direction] += float(bits)
        self.control[direction] += float(control)
        self.bytes[direction] += sum(int(t.numel() * t.element_size()) for t in tensors)


class WireAggregate:
    """Exchanges the clients' messages as compressed payloads and rebuilds the engine's tensors."""

    def __init__(self, dist, rank: int, n: int, d: int, device, dtype, bits_convention: str = "values",
                 one_node: bool = False):
        self.dist, self.rank, self.n, self.d = dist, rank, n, d
        self.device, self.dtype = device, dtype
        self.convention = bits_convention
        # a centralized sign method on one client: that client is the node, nothing is sent
        self.one_node = bool(one_node) and n == 1
        self.meter = _Meter()
        self.k = 0

    # -- collectives (every failure is a _CommError) -----------------------------------------
    def _call(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except Exception as err:          # noqa: BLE001 - a peer's failure or a timeout
            raise _CommError(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err

    def _gather(self, t: torch.Tensor) -> torch.Tensor:
        t = t.contiguous()
        out = [torch.empty_like(t) for _ in range(self.n)]
        self._call(self.dist.all_gather, out, t)
        return torch.stack(out)

    def _any(self, flag: bool) -> bool:
        t = torch.tensor([1 if flag else 0], dtype=torch.uint8 if self.device.type == "cpu" else torch.int32,
                         device=self.device)
        self._call(self.dist.all_reduce, t, op=self.dist.ReduceOp.MAX)
        return bool(t.item())

    def _bcast(self, t: torch.Tensor) -> torch.Tensor:
        t = t.contiguous().clone()
        self._call(self.dist.broadcast, t, src=0)
        return t

    # -- uplink: the four reductions of LocalAggregate over all ranks -----------------------------
    def mean(self, t):
        """(1, d) mean over all clients of their dense (1, 1, d) tensors (32 d bits each)."""
        own = t.reshape(-1)
        if self.one_node:
            return own.clone().reshape(1, self.d)
        total = own.clone()
        self._call(self.dist.all_reduce, total, op=self.dist.ReduceOp.SUM)
        self.meter.add("up", 32.0 * self.d, [own])
        return (total / self.n).reshape(1, self.d)

    def message_mean(self, c, idx=None, vals=None, compressor=None):
        return self.message_sum(c, idx, vals, compressor).reshape(1, self.d) / self.n

    def message_sum(self, c, idx=None, vals=None, compressor=None):
        """(1, 1, d) sum of every client's message, from the compressed payloads."""
        return self._payload_sum(c.reshape(-1), compressor, idx, vals).reshape(1, 1, self.d)

    def _payload_sum(self, c, compressor, idx=None, vals=None):
        """(m,) sum over all ranks of the flat messages ``c`` (m,) of ``compressor``, exchanged as its
        payload (a Blockwise block by block); meters the uplink."""
        m = c.numel()
        kind = _kind(compressor)
        if kind == "blockwise":
            parts, start = [], 0
            for block, size in zip(compressor.compressors, compressor.sizes):
                parts.append(self._payload_sum(c[start:start + size], block))
                start += size
            return torch.cat(parts)
        if kind == "sparse":
            k = compressor.k
            if idx is None:           # the slow selection path: the kept entries are c's nonzeros
                order = torch.argsort((c == 0).to(torch.int8), dim=-1, stable=True)[..., :k]
                idx, vals = order, c.gather(-1, order)
            idx32 = idx.reshape(-1).to(torch.int32)
            vals = vals.reshape(-1).to(self.dtype)
            I = self._gather(idx32).to(torch.int64)            # (n, k)
            V = self._gather(vals)                             # (n, k)
            self.meter.add("up", self._sparse_bits(compressor, m), [idx32, vals])
            out = torch.zeros(m, device=self.device, dtype=self.dtype)
            for j in range(self.n):                            # rank order; no index twice per call
                out.index_add_(0, I[j], V[j])
            return out
        if kind in ("sign", "scaled_sign"):
            P, Z, S = self._sign_gather(c, scaled=kind == "scaled_sign")
            out = torch.zeros(m, device=self.device, dtype=self.dtype)
            for j in range(self.n):
                msg = torch.where(_unpack(P[j], m), 1.0, -1.0).to(self.dtype)
                if Z is not None:
                    msg = msg * _unpack(Z[j], m).to(self.dtype)
                out.add_(msg * S[j] if S is not None else msg)
            return out
        own = c.contiguous()
        total = own.clone()
        self._call(self.dist.all_reduce, total, op=self.dist.ReduceOp.SUM)
        self.meter.add("up", 32.0 * m, [own])
        return total

    def _sparse_bits(self, compressor, m: int) -> float:
        return 32.0 * compressor.k + (compressor._index_bits(m) if self.convention == "values+indices" else 0)

    def vote(self, msgs):
        """(1, d) sum of the sign messages, counted from the packed bits of every rank."""
        P, Z, _ = self._sign_gather(msgs.reshape(-1), scaled=False)
        pos = _count(P, self.d)
        nonzero = _count(Z, self.d) if Z is not None else self.n
        return (2 * pos - nonzero).to(self.dtype).reshape(1, self.d)

    def _sign_gather(self, m: torch.Tensor, *, scaled: bool):
        """Packed signs (n, B), the packed nonzero masks (n, B) or None, the scales (n,) or None."""
        d = m.numel()
        pos = _pack(m > 0)
        has_zeros = self._any(bool((m == 0).any()))
        P = self._gather(pos)
        sent, bits, control = [pos], float(d), 8.0
        S = Z = None
        if scaled:
            scale = m.abs().max().reshape(1).to(self.dtype)
            S = self._gather(scale).reshape(-1)
            sent.append(scale)
            bits += 32.0
        if has_zeros:
            nz = _pack(m != 0)
            Z = self._gather(nz)
            sent.append(nz)
            control += d
        self.meter.add("up", bits, sent, control=control)
        return P, Z, S

    # -- downlink: rank 0 broadcasts the server's message, every rank checks its replica ------
    def downlink(self, t, compressor=None, signs: bool = False):
        own = t.reshape(-1)
        got = self._payload_bcast(own, "sign" if signs else _kind(compressor), compressor)
        if not torch.equal(got, own):
            raise RuntimeError(f"rank {self.rank} diverged from rank 0 at iteration {self.k}: the server's "
                               f"replicas differ by {float((got - own).abs().max()):g}")
        return t

    def _payload_bcast(self, own, kind: str, compressor):
        """Rank 0's flat message ``own`` (m,) of ``compressor`` as every rank receives it from the
        broadcast of its payload (a Blockwise block by block); meters the downlink."""
        m = own.numel()
        if kind == "blockwise":
            parts, start = [], 0
            for block, size in zip(compressor.compressors, compressor.sizes):
                parts.append(self._payload_bcast(own[start:start + size], _kind(block), block))
                start += size
            return torch.cat(parts)
        if kind in ("sign", "scaled_sign"):
            pos = self._bcast(_pack(own > 0))
            has_zeros = bool(self._bcast(torch.tensor([int(bool((own == 0).any()))], dtype=torch.int32,
                                                      device=self.device)).item())
            got = torch.where(_unpack(pos, m), 1.0, -1.0).to(self.dtype)
            sent, control, bits = [pos], 32.0, float(m)
            if has_zeros:
                nz = self._bcast(_pack(own != 0))
                got = got * _unpack(nz, m).to(self.dtype)
                sent.append(nz)
                control += m
            if kind == "scaled_sign":
                scale = self._bcast(own.abs().max().reshape(1))
                got = got * scale
                sent.append(scale)
                bits += 32.0
        elif kind == "sparse":
            k = compressor.k
            idx = torch.argsort((own == 0).to(torch.int8), stable=True)[:k]
            idx32 = self._bcast(idx.to(torch.int32))
            vals = self._bcast(own[idx])
            got = torch.zeros_like(own).scatter_(0, idx32.to(torch.int64), vals)
            sent, control, bits = [idx32, vals], 0.0, self._sparse_bits(compressor, m)
        else:
            got = self._bcast(own)
            sent, control, bits = [own], 0.0, 32.0 * m
        self.meter.add("down", bits, sent, control=control)
        return got


# ---------------------------------------------------------------------------------- one rank


def _seed_int(*key) -> int:
    return int(np.random.SeedSequence(list(key)).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class _Progress:
    """The side channel: per-rank progress and errors in a folder every rank can read."""

    def __init__(self, folder: str | None, rank: int):
        self.folder, self.rank = folder, rank

    def at(self, job: int, k: int) -> None:
        if self.folder:
            path = os.path.join(self.folder, f"progress.{self.rank}")
            with open(path + ".tmp", "w") as fh:
                fh.write(f"{job} {k}")
            os.replace(path + ".tmp", path)

    def error(self, kind: str, text: str) -> None:
        if self.folder:
            path = os.path.join(self.folder, f"error.{self.rank}")
            with open(path + ".tmp", "w") as fh:
                json.dump({"kind": kind, "text": text}, fh)
            os.replace(path + ".tmp", path)

    def cause(self, wait_s: float = 1.5) -> str | None:
        """The first rank's own error (not a communication failure), waiting briefly for it."""
        if not self.folder:
            return None
        end = time.time() + wait_s
        while True:
            own = _read_errors(self.folder, kinds=("own",))
            if own:
                r, text = own[0]
                return f"rank {r} failed: {text}"
            if time.time() > end:
                return None
            time.sleep(0.05)


def _read_errors(folder: str, kinds=("own", "comm")) -> list[tuple[int, str]]:
    out = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("error.") and not name.endswith(".tmp"):
            try:
                with open(os.path.join(folder, name)) as fh:
                    rec = json.load(fh)
            except (OSError, ValueError):
                continue
            if rec["kind"] in kinds:
                out.append((int(name.split(".")[1]), rec["text"]))
    return sorted(out)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def _run_job(job: Job, j: int, rank: int, world: int, device, dist, progress: _Progress) -> dict:
    from .optim import _steps

    card = _card(job.name)
    problem = job.problem_factory()
    if int(problem.n_clients) != world:
        raise ValueError(f"world_size must equal problem.n_clients={problem.n_clients}; got {world}")
    d, dtype = int(problem.dim), torch.float64
    opts = dict(job.options)
    rng = np.random.default_rng([job.seed, rank])
    gen = torch.Generator(device=device).manual_seed(_seed_int(job.seed, rank, 1))
    server_gen = torch.Generator(device=device).manual_seed(_seed_int(job.seed, _SERVER_STREAM))
    record = job.record_draws
    client_log, server_log, sample_log = ([] if record else None), ([] if record else None), []
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)  # noqa: E731

    def grad(points, xi):
        return as_t(problem.grad_i(rank, points[0].cpu().numpy(), xi)).reshape(1, d)

    def hvp(points, dirs, xi):
        return as_t(problem.hvp_i(rank, points[0].cpu().numpy(), dirs[0].cpu().numpy(), xi)).reshape(1, d)

    def sample(slot):
        xi = problem.sample(rank, rng)
        if record:
            sample_log.append(xi)
        return xi

    env = _steps.ClientEnv(1, d, device=device, dtype=dtype, grad=grad,
                           hvp=hvp if hasattr(problem, "hvp_i") else None, sample=sample, generator=gen,
                           log=client_log)
    server = _steps.ClientEnv(1, d, device=device, dtype=dtype, grad=grad, generator=server_gen, log=server_log)
    agg = WireAggregate(dist, rank, world, d, device, dtype, opts.get("bits", "values"), one_node=card.centralized)
    K = job.iters
    acc = {key: np.zeros(K) for key in ("bits_up", "bits_down", "control_up", "control_down", "bytes_up",
                                        "bytes_down", "seconds")}
    xs = np.empty((K + 1, d))
    xs[0] = job.x0
    x = as_t(job.x0).reshape(1, d)
    st: dict = {}
    start, init_bits = 0, 0.0
    blocks = None
    if card.family == "ef21" and card.normalized and opts.get("normalize_scope") == "per_tensor":
        from eftheory.validation import check_blocks

        blocks = list(check_blocks(opts.get("blocks"), d))
    conv = _steps.sign_checks(card, opts) if card.family == "sign" else None
    ckpt = None if job.checkpoint_dir is None else os.path.join(job.checkpoint_dir, f"rank{rank}.pt")
    if job.resume:
        saved = torch.load(ckpt, weights_only=False)
        start, x, st, init_bits = saved["k"], saved["x"].to(device), saved["st"], saved["init_bits"]
        xs[:start + 1] = saved["xs"][:start + 1]
        for key in acc:
            acc[key][:start] = saved["acc"][key][:start]
        rng.bit_generator.state = saved["rng"]
        gen.set_state(saved["gen"])
        server_gen.set_state(saved["server_gen"])
        st = {key: (v.to(device) if isinstance(v, torch.Tensor) else v) for key, v in st.items()}
    stop = K if job.stop_at is None else min(K, int(job.stop_at))
    for k in range(start, stop):
        progress.at(j, k)
        t0 = time.perf_counter()
        env.k = server.k = agg.k = k
        agg.meter.reset()
        gamma = float(job.stepsize[k])
        mom = None if job.momentum is None else float(job.momentum[k])
        if card.family == "ef21":
            x = _steps.ef21_step(env, card, st, x, k, gamma=gamma, eta=1.0 if mom is None else mom,
                                 compressor=job.compressor, options=opts, agg=agg, blocks=blocks)
            if k == 0:                   # the round-0 message is metered with step 0's uplink
                init_bits = {"gradient": 32.0 * d, "zero": 0.0}.get(
                    opts["init"], float(job.compressor.bits(d, opts["bits"])))
                agg.meter.bits["up"] -= init_bits
        elif card.family == "local_ef":
            x = _steps.local_ef_step(env, card, st, x, k, eta=gamma, compressor=job.compressor, options=opts,
                                     agg=agg, server=server)
        else:
            x = _steps.sign_step(env, card, st, x, k, gamma=gamma, beta=mom, conv=conv, agg=agg, server=server)
        m = agg.meter
        acc["bits_up"][k], acc["bits_down"][k] = m.bits["up"], m.bits["down"]
        acc["control_up"][k], acc["control_down"][k] = m.control["up"], m.control["down"]
        acc["bytes_up"][k], acc["bytes_down"][k] = m.bytes["up"], m.bytes["down"]
        acc["seconds"][k] = time.perf_counter() - t0
        xs[k + 1] = x.reshape(-1).cpu().numpy()
        if ckpt and job.checkpoint_every and (k + 1) % job.checkpoint_every == 0:
            state = {"k": k + 1, "x": x.cpu(), "st": {key: (v.cpu() if isinstance(v, torch.Tensor) else v)
                                                       for key, v in st.items()},
                     "init_bits": init_bits, "xs": xs.copy(), "acc": {key: v.copy() for key, v in acc.items()},
                     "rng": rng.bit_generator.state, "gen": gen.get_state(), "server_gen": server_gen.get_state()}
            os.makedirs(job.checkpoint_dir, exist_ok=True)
            torch.save(state, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
    out = {"x": xs[:stop + 1], "init_bits": init_bits, **{key: v[:stop] for key, v in acc.items()}}
    if record:
        out["log"] = {"client": client_log, "server": server_log, "sample": sample_log}
    return out


def _rank_main(rank: int, world: int, init_method: str, backend: str, device_kind: str, timeout_s: float,
               jobs: list[Job], folder: str | None, local_rank: int | None = None) -> list[dict]:
    """Everything one rank does: join the group, run the jobs in order, leave."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    progress = _Progress(folder, rank)
    try:
        dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=float(timeout_s)))
    except Exception as err:   # noqa: BLE001
        progress.error("comm", _one_line(err))
        raise DistributedError(f"rank {rank} could not join the process group: {_one_line(err)}") from None
    results = []
    try:
        # inside the try: a device this rank cannot use (LOCAL_RANK beyond the GPUs) is this rank's
        # own error, told to the others, and the rank leaves the group
        device = torch.device(f"cuda:{local_rank if local_rank is not None else rank}" if device_kind == "cuda"
                              else "cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        for j, job in enumerate(jobs):
            results.append(_run_job(job, j, rank, world, device, dist, progress))
    except _CommError as err:
        text = f"rank {rank}: collective failed ({err})"
        progress.error("comm", text)
        cause = progress.cause()
        _leave(dist)
        raise DistributedError(cause or text) from None
    except Exception as err:   # noqa: BLE001 - this rank's own error: tell the others first
        text = f"{_one_line(err)}"
        progress.error("own", text)
        _leave(dist)
        raise DistributedError(f"rank {rank} failed: {text}") from None
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return results


def _leave(dist) -> None:
    """Leave the process group after a failure (the error is already told), so that a process that
    goes on -- ``main()`` called in-process, a notebook -- can join a group again."""
    try:
        dist.destroy_process_group()
    except Exception:   # noqa: BLE001 - a broken group may refuse; the error being raised is the message
        pass


# ---------------------------------------------------------------------------------- launching


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn_entry(rank, world, init_method, backend, device_kind, timeout_s, jobs, folder):
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    try:
        results = _rank_main(rank, world, init_method, backend, device_kind, timeout_s, jobs, folder)
    except DistributedError:
        os._exit(3)                      # the message is in the side channel
    except BaseException as err:         # noqa: BLE001
        _Progress(folder, rank).error("own", _one_line(err))
        os._exit(4)
    if rank == 0 or any(j.record_draws for j in jobs):
        path = os.path.join(folder, f"result.{rank}.pt")
        torch.save(results, path + ".tmp")
        os.replace(path + ".tmp", path)
    os._exit(0)


def _result(job: Job, r0: dict, logs: list | None) -> DistributedResult:
    return DistributedResult(name=job.name, x=r0["x"], bits_up=r0["bits_up"], bits_down=r0["bits_down"],
                             init_bits_up=float(r0["init_bits"]), control_bits_up=r0["control_up"],
                             control_bits_down=r0["control_down"], bytes_up=r0["bytes_up"],
                             bytes_down=r0["bytes_down"], seconds=r0["seconds"], draws_log=logs)


def spawn(jobs: list[Job], world_size: int, *, backend: str | None = None, device: str = "cpu",
          timeout_s: float = 30.0) -> list[DistributedResult]:
    """Run ``jobs`` in order in one process group of ``world_size`` local processes.

    Raises :class:`DistributedError` with one line naming the failing rank's own error (or the
    rank that stopped responding) when a rank fails; every process is gone when it returns.
    """
    import torch.multiprocessing as mp

    world_size = check_int("world_size", world_size, low=1)
    device = check_choice("device", device, ("cpu", "cuda"))
    backend = check_choice("backend", backend or ("nccl" if device == "cuda" else "gloo"), ("gloo", "nccl"))
    ok, why = available(backend)
    if not ok:
        raise ValueError(f"backend must be usable here; {why}")
    timeout_s = float(timeout_s)
    folder = tempfile.mkdtemp(prefix="eftheory-dist-")
    try:
        ctx = mp.get_context("spawn")
        init = f"tcp://127.0.0.1:{_free_port()}"
        procs = [ctx.Process(target=_spawn_entry, args=(r, world_size, init, backend, device, timeout_s, jobs,
                                                        folder), daemon=True) for r in range(world_size)]
        for p in procs:
            p.start()
        failed_at = None
        while any(p.is_alive() for p in procs):
            time.sleep(0.05)
            if failed_at is None and any(p.exitcode not in (None, 0) for p in procs):
                failed_at = time.time()
            if failed_at is not None and time.time() - failed_at > 4.0:   # the others report within ~2 s
                break                               # the rest do not exit: hung
        hung = [r for r, p in enumerate(procs) if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
        codes = [p.exitcode for p in procs]
        if hung or any(c != 0 for c in codes):
            raise DistributedError(_failure(folder, hung, codes, timeout_s))
        results = [torch.load(os.path.join(folder, "result.0.pt"), weights_only=False)]
        if any(j.record_draws for j in jobs):
            results += [torch.load(os.path.join(folder, f"result.{r}.pt"), weights_only=False)
                        for r in range(1, world_size)]
        out = []
        for j, job in enumerate(jobs):
            logs = [results[r][j]["log"] for r in range(world_size)] if job.record_draws else None
            out.append(_result(job, results[0][j], logs))
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _failure(folder: str, hung: list[int], codes: list, timeout_s: float) -> str:
    own = _read_errors(folder, kinds=("own",))
    if own:
        r, text = own[0]
        return f"distributed run failed: rank {r} raised {text}"
    where = {}
    for r in hung:
        try:
            with open(os.path.join(folder, f"progress.{r}")) as fh:
                job, k = fh.read().split()
            where[r] = f" (at iteration {k} of job {job})"
        except (OSError, ValueError):
            where[r] = ""
    if hung:
        names = ", ".join(f"{r}{where[r]}" for r in hung)
        return (f"distributed run failed: rank(s) {names} stopped responding; the others timed out after "
                f"timeout_s={timeout_s:g} s waiting for them")
    comm = _read_errors(folder, kinds=("comm",))
    spoke = {r for r, _ in comm}
    died = [r for r, c in enumerate(codes) if c not in (None, 0) and r not in spoke]
    if died:                          # gone without a word (killed, os._exit, a crash): the others' collectives fail
        how = ", ".join(f"{r} (exit code {codes[r]}{_signal_name(codes[r])})" for r in died)
        return (f"distributed run failed: rank(s) {how} died without a message; the other ranks' collectives "
                "failed on the lost connection")
    if comm:
        r, text = comm[0]
        return "distributed run failed: " + " ".join(text.split())
    return f"distributed run failed: ranks exited with codes {codes} without a message"


def _signal_name(code) -> str:
    """', killed by SIGKILL' for a negative exit code (the process was ended by a signal), else ''."""
    if isinstance(code, int) and code < 0:
        import signal

        try:
            return f", killed by {signal.Signals(-code).name}"
        except ValueError:
            return f", killed by signal {-code}"
    return ""


def run_distributed(name: str, problem_factory: Callable[[], Any], compressor, x0, iters: int, *,
                    world_size: int, stepsize, momentum=None, seed: int = 0, backend: str | None = None,
                    device: str = "cpu", timeout_s: float = 30.0, **options) -> DistributedResult:
    """Run ``name`` with one local process per client; returns rank 0's :class:`DistributedResult`.

    Args: as :func:`algorithms.run` (``stepsize``, ``momentum``, ``seed`` and the method's options by
    their card names), plus ``problem_factory`` (a picklable zero-argument callable building the
    problem in every process; ``n_clients`` must equal ``world_size``), ``backend`` (``"gloo"`` /
    ``"nccl"``), ``device`` (``"cpu"`` / ``"cuda"``), ``timeout_s`` (every collective's timeout),
    ``checkpoint_every`` / ``checkpoint_dir`` / ``resume`` and ``record_draws``.

    Example::

        >>> res = run_distributed("ef21-norm", MyProblem, TopK(2), x0, 50, world_size=3,
        ...                       stepsize=0.05)                         # doctest: +SKIP
        >>> res.x[-1], res.bits_up.sum()                                 # doctest: +SKIP
    """
    check_choice("name", name, NAMES)
    world_size = check_int("world_size", world_size, low=1)
    job = make_job(name, problem_factory, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                   seed=seed, world_size=world_size, **options)
    return spawn([job], world_size, backend=backend, device=device, timeout_s=timeout_s)[0]


# ---------------------------------------------------------------------------------- replay


def _assemble_draws(logs: list[dict]):
    """Per-rank draw logs -> the engine's Draws (S = 1): the order the engine consumes them.

    Per iteration the engine takes, from the compress stream, one (n, ...) block per client-wide
    compression (client i's row i) and then the server's draws; from the aux stream one (n, ...)
    block per call. Minibatches are per client already.
    """
    from ._core import Draws

    n = len(logs)

    def by_iter(entries, purpose):
        out: dict[int, list] = {}
        for k, p, u in entries:
            if p == purpose:
                out.setdefault(k, []).append(u.reshape(-1))
        return out

    comp = [by_iter(lg["client"], "compress") for lg in logs]
    aux = [by_iter(lg["client"], "aux") for lg in logs]
    srv = by_iter(logs[0]["server"], "compress")
    iters = sorted(set().union(*[set(c) for c in comp], set(srv), *[set(a) for a in aux]))
    cstream, astream = [], []
    for k in iters:
        calls = len(comp[0].get(k, []))
        for c in range(calls):
            cstream.extend(comp[i][k][c] for i in range(n))
        cstream.extend(srv.get(k, []))
        for c in range(len(aux[0].get(k, []))):
            astream.extend(aux[i][k][c] for i in range(n))
    flat = lambda parts: (torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)).unsqueeze(0)  # noqa
    samples = [lg["sample"] for lg in logs]
    if not samples[0] or samples[0][0] is None:
        sample = None
    else:
        first = samples[0][0]
        if isinstance(first, tuple):
            sample = tuple(torch.as_tensor(np.stack([np.stack([np.asarray(x[j]) for x in s]) for s in samples]))
                           .unsqueeze(0) for j in range(len(first)))
        else:
            sample = torch.as_tensor(np.stack([np.stack([np.asarray(x) for x in s]) for s in samples])).unsqueeze(0)
    return Draws(sample=sample, compress=flat(cstream), aux=flat(astream), seeds=(0,))


# ---------------------------------------------------------------------------------- torchrun


def _load_callable(spec: str):
    import importlib

    mod, _, attr = spec.partition(":")
    if not mod or not attr:
        raise ValueError(f"--problem must be 'package.module:callable'; got {spec!r}")
    try:
        obj = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"--problem must name an importable 'package.module:callable'; got {spec!r} "
                         f"({_one_line(err)})") from None
    if not callable(obj):
        raise ValueError(f"--problem must name a callable; got {spec!r} ({type(obj).__name__})")
    return obj


def _json_dict(flag: str, text: str) -> dict:
    """The JSON object of a CLI flag; ValueError naming the flag otherwise."""
    try:
        out = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{flag} must be a JSON object such as '{{\"key\": 1}}'; got {text!r} ({err})") from None
    if not isinstance(out, dict):
        raise ValueError(f"{flag} must be a JSON object (a dict); got {text!r}")
    return out


def _compressor(text: str | None):
    if text in (None, "", "none", "None"):
        return None
    import eftheory.compressors as C

    names = {n: getattr(C, n) for n in dir(C) if not n.startswith("_")}
    try:
        return eval(text, {"__builtins__": {}}, names)   # noqa: S307 - a compressor expression, e.g. TopK(2)
    except Exception as err:   # noqa: BLE001
        raise ValueError(f"--compressor must be an eftheory.compressors expression such as 'TopK(2)'; "
                         f"got {text!r} ({_one_line(err)})") from None


def _side_channel(rank: int, checkpoint_dir: str | None) -> str:
    """The folder every rank of a torchrun job reads errors from: ``EFTHEORY_DIST_DIR``, else the
    checkpoint folder, else ``<tmp>/eftheory-dist-<MASTER_PORT>`` (ranks on one node; set
    ``EFTHEORY_DIST_DIR`` to a shared folder across nodes). Rank 0 clears stale entries first,
    before the process group forms, so no rank has written yet."""
    folder = os.environ.get("EFTHEORY_DIST_DIR") or checkpoint_dir or os.path.join(
        tempfile.gettempdir(), f"eftheory-dist-{os.environ.get('MASTER_PORT', '0')}")
    os.makedirs(folder, exist_ok=True)
    if rank == 0:
        for name in os.listdir(folder):
            if name.startswith(("error.", "progress.")):
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass
    return folder


def main(argv=None) -> int:
    """``torchrun --nproc-per-node N -m algorithms.torch.distributed ...`` (``env://``)."""
    ap = argparse.ArgumentParser(prog="python -m algorithms.torch.distributed",
                                 description="run a registered algorithm with one torch.distributed rank per client")
    ap.add_argument("--name", required=True, choices=NAMES)
    ap.add_argument("--problem", required=True, help="package.module:callable building the problem")
    ap.add_argument("--problem-kwargs", default="{}", help="JSON keyword arguments of the problem callable")
    ap.add_argument("--compressor", default=None, help="e.g. 'TopK(2)' (methods with a compressor)")
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--stepsize", type=float, required=True)
    ap.add_argument("--momentum", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--x0", default=None, help="a .npy file (default: zeros)")
    ap.add_argument("--options", default="{}", help="JSON dict of the method's options (card names)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    ap.add_argument("--timeout-s", type=float, default=30.0)
    ap.add_argument("--checkpoint-every", type=int, default=None)
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--out", default=None, help=".npz written by rank 0 (x, bits_up, bits_down, ...)")
    args = ap.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    try:
        import functools

        build, kwargs = _load_callable(args.problem), _json_dict("--problem-kwargs", args.problem_kwargs)
        try:
            inspect.signature(build).bind(**kwargs)
        except TypeError as err:
            raise ValueError(f"--problem-kwargs do not fit {args.problem!r}: {err}") from None
        except ValueError:   # no signature to check (a builtin): the call itself tells
            pass
        factory = functools.partial(build, **kwargs)
        problem = factory()
        try:
            x0 = np.load(args.x0) if args.x0 else np.zeros(int(problem.dim))
        except (OSError, ValueError) as err:
            raise ValueError(f"--x0 must be a readable .npy file; got {args.x0!r} ({_one_line(err)})") from None
        options = _json_dict("--options", args.options)
        job = make_job(args.name, factory, _compressor(args.compressor), x0, args.iters, stepsize=args.stepsize,
                       momentum=args.momentum, seed=args.seed, world_size=world,
                       checkpoint_every=args.checkpoint_every, checkpoint_dir=args.checkpoint_dir,
                       resume=args.resume, **options)
        backend = args.backend or ("nccl" if args.device == "cuda" else "gloo")
        folder = _side_channel(rank, args.checkpoint_dir)
        init = "env://" if "MASTER_ADDR" in os.environ else f"tcp://127.0.0.1:{_free_port()}"   # plain python: 1 rank
        if init != "env://" and world != 1:
            raise ValueError("MASTER_ADDR must be set for WORLD_SIZE > 1: launch with torchrun")
        res = _rank_main(rank, world, init, backend, args.device, args.timeout_s, [job], folder, local)[0]
    except (DistributedError, ValueError) as err:
        print(f"rank {rank}: {err}" if not str(err).startswith("rank") else str(err), file=sys.stderr)
        return 1
    if rank == 0 and args.out:
        r = _result(job, res, None)
        np.savez(args.out, x=r.x, bits_up=r.bits_up, bits_down=r.bits_down, init_bits_up=r.init_bits_up,
                 bytes_up=r.bytes_up, bytes_down=r.bytes_down, seconds=r.seconds)
    if rank == 0:
        print(f"{args.name}: {args.iters} iterations on {world} ranks; uplink {res['bits_up'].sum():.0f} bits "
              f"per client ({res['bytes_up'].sum():.0f} bytes sent by rank 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
