"""The machinery every engine algorithm shares: options, randomness, compression, the result.

An engine run holds S independent runs ("seeds") of one algorithm side by side. Every state
tensor has the shape ``(S, n, d)`` (per client) or ``(S, d)`` (per run); a step is a handful of
tensor operations on the whole batch, and the only Python loop is the one over iterations.

Randomness has two sources, chosen by the ``draws`` option:

* ``draws=None`` (normal runs): counter-based streams (:mod:`algorithms.torch._random`). Run s
  has its own seed -- ``seed + s`` for ``seeds=S``, ``seeds[s]`` for a list ``seeds=[...]`` --
  and every number it draws is a function of (its seed, the stream's label, the call number,
  the position in the call) only. Hence run s of a batch is bit for bit the run with that seed
  alone (``seeds=1``), whatever the batch: same (name, seed, device, dtype), same result. The
  streams: ``sample:<slot>`` (the problem's draws, one call per iteration and slot),
  ``compress:<buffer>`` (the uniforms of a random compressor, one call per compression site and
  iteration), ``compress:shared`` (draws shared by every client's compressor) and ``aux`` (any
  other uniform, e.g. RHM's q). Draws are computed in prefetched blocks of calls (the values do
  not depend on the blocking). Run s of the engine is *not* the reference's run with the same
  seed: the reference has its own NumPy streams.
* ``draws=Draws(...)`` (replay): the engine consumes recorded draws instead (see
  :mod:`algorithms.torch.replay`), which is how parity with the reference is proven.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from eftheory.schedules import PerRun
from eftheory.validation import NonFiniteError, check_choice, check_int

from ..result import Result, current_policy
from ._kernels import compress, compress_sparse, constant
from ._random import CounterRandom, run_seeds
from .problems import batched_oracle, to_xi_batch

__all__ = ["ENGINE_OPTIONS", "Draws", "Env", "Recorder", "FiniteWatch", "resolve_device", "resolve_dtype",
           "normalize", "schedule_values", "RunValues", "CHECK_EVERY", "Recheck", "fast_watch", "exact_on_recheck"]

#: Options every engine algorithm accepts on top of the options of its NumPy counterpart.
ENGINE_OPTIONS = {"seeds": 1, "device": "cpu", "dtype": "float64", "draws": None, "oracle": None,
                  "diagnostics": "full"}

#: ``diagnostics`` option: "full" records every per-step diagnostic of the reference; "light"
#: records none of them (the result then holds x, f, grad_norm and the accounting fields --
#: stepsize, momentum, bits, oracle counts -- which equal the "full" run's; EF/SAEF keep
#: ``averaged``, and ``record_clients=True`` still records the per-client arrays).
DIAGNOSTICS = ("full", "light")

_DTYPES = {"float64": torch.float64, "float32": torch.float32,
           torch.float64: torch.float64, torch.float32: torch.float32}


def resolve_device(device) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' (or a torch.device); ValueError if CUDA is asked for and absent."""
    text = str(device) if isinstance(device, (str, torch.device)) else None
    if text is None or text.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f"device must be one of 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {text!r} needs CUDA, which is not available here (allowed: 'cpu')")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device index must lie in [0, {torch.cuda.device_count() - 1}]; got {text!r}")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    """'float64' (default) or 'float32' (strings or torch dtypes)."""
    try:
        return _DTYPES[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"dtype must be one of 'float64', 'float32'; got {dtype!r}") from None


def schedule_values(schedule, iters: int) -> np.ndarray:
    """Values of a schedule at k = 0..iters-1 (float64), validated by the schedule itself."""
    if isinstance(schedule, PerRun):
        raise ValueError("this method's engine takes one schedule for all runs; got a PerRun schedule (the "
                         "EF21 family accepts per-run schedules)")
    return np.asarray(schedule.values(iters), dtype=np.float64)


class RunValues:
    """A schedule's values as the loop reads them: ``at(k)`` is a Python float (one schedule for
    every run) or, for a :class:`~eftheory.schedules.PerRun` schedule, a tensor of shape
    (S, 1, ..., 1) (``ndim`` axes in all) holding each run's value at k.

    ``per_run`` gives the (S, iters) values for the result. Per-run values are prepared in
    blocks of :data:`_RUN_BLOCK` steps, so the loop adds one view per step.
    """

    def __init__(self, schedule, iters: int, env: "Env", ndim: int = 2):
        self.iters, self.env, self.ndim = int(iters), env, int(ndim)
        self.grouped = isinstance(schedule, PerRun)
        if self.grouped:
            if schedule.runs != env.S:
                raise ValueError(f"a PerRun schedule must cover every run: its counts sum to {schedule.runs}, the "
                                 f"call has {env.S} runs")
            self.values = np.asarray(schedule.values(iters), dtype=np.float64)          # (G, iters)
            self.group = np.repeat(np.arange(len(schedule.counts)), schedule.counts)     # run -> schedule
            self._k0, self._block = -1, None
        else:
            self.values = schedule_values(schedule, iters)
            self._list = self.values.tolist()            # Python floats: no tensor conversion per step

    def at(self, k: int):
        if not self.grouped:
            return self._list[k]
        j = k - self._k0
        if self._block is None or not 0 <= j < self._block.shape[0]:
            self._k0, j = k, 0
            block = self.values[:, k:k + _RUN_BLOCK][self.group].T                     # (steps, S)
            self._block = torch.as_tensor(np.ascontiguousarray(block), device=self.env.device).to(
                self.env.dtype).reshape(block.shape[0], self.env.S, *([1] * (self.ndim - 1)))
        return self._block[j]

    def per_run(self) -> np.ndarray:
        """(S, iters) for a PerRun schedule, else the (iters,) values."""
        return self.values[self.group] if self.grouped else self.values


#: steps of per-run schedule values prepared at once
_RUN_BLOCK = 256
#: at most this many numbers of iterates (runs x steps x d) whose statistics are evaluated at once
#: under record != "all"
_STAT_NUMBERS = 1 << 18


def normalize(v: torch.Tensor, blocks=None) -> torch.Tensor:
    """v / ||v|| over the last axis (direction 0 where v = 0).

    ``blocks``: a list of block sizes summing to d; each block is normalized on its own
    (the per-tensor convention). ``None``: one global norm.
    """
    if blocks is None:
        # v / ||v||, and 0 where ||v|| = 0 (then v = 0 and v / 1 = 0: the same zeros, one pass fewer)
        nrm = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
        return torch.div(v, nrm.masked_fill_(torch.eq(nrm, constant(0.0, nrm)), 1.0))
    return torch.cat([normalize(part) for part in torch.split(v, list(blocks), dim=-1)], dim=-1)


@dataclass
class Draws:
    """Recorded randomness for S runs, in the reference's order (:class:`algorithms.Streams`).

    sample : per client, its draws in the order it made them: ``None`` (exact oracle), a tensor
        ``(S, n, J, *shape)`` or a tuple of such tensors (J = draws per client over the run).
    compress : ``(S, M)`` -- every uniform the compression stream produced, flattened in call order.
    aux : ``(S, A)`` -- every uniform of the auxiliary stream, in order.
    """

    sample: Any
    compress: torch.Tensor
    aux: torch.Tensor
    seeds: tuple[int, ...] = ()

    @property
    def n_seeds(self) -> int:
        return int(self.compress.shape[0])


class _Cursor:
    """Reads a flat (S, M) stream of recorded uniforms in order."""

    def __init__(self, stream: torch.Tensor, what: str):
        self.stream, self.pos, self.what = stream, 0, what

    def take(self, shape) -> torch.Tensor:
        S = self.stream.shape[0]
        count = int(np.prod(shape, dtype=np.int64))
        if self.pos + count > self.stream.shape[1]:
            raise ValueError(f"draws.{self.what} holds {self.stream.shape[1]} uniforms per run; the engine "
                             f"needs more (at {self.pos} + {count}): record the draws with the same options")
        out = self.stream[:, self.pos:self.pos + count].reshape(S, *shape)
        self.pos += count
        return out


#: prefetched draws: at most this many numbers (all runs together) and calls per block
_BLOCK_NUMBERS = 1 << 16
_BLOCK_CALLS = 64


class _Block:
    """Prefetched draws of consecutive calls of one stream: ``data`` with leading (S, count)."""

    __slots__ = ("data", "t0", "count", "used", "key", "numel")

    def __init__(self, data, t0: int, count: int, key):
        self.data, self.t0, self.count, self.used, self.key = data, t0, count, 0, key
        parts = data if isinstance(data, tuple) else (data,)
        self.numel = sum(int(p.numel()) for p in parts if p is not None) // max(count, 1)

    def next(self):
        b = self.used
        self.used += 1
        if self.data is None:
            return None
        if isinstance(self.data, tuple):
            return tuple(t.select(1, b) for t in self.data)
        return self.data.select(1, b)


class Env:
    """One batched run: the oracle, the randomness and the sizes (S, n, d)."""

    def __init__(self, name: str, problem, x0, *, seed: int, seeds, device, dtype, draws, oracle,
                 diagnostics: str = "full"):
        self.name = name
        self.full = check_choice("diagnostics", diagnostics, DIAGNOSTICS) == "full"
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self.replay = draws is not None
        if self.replay and not isinstance(seeds, (list, tuple)):
            self.run_seeds = tuple(range(check_int("seeds", seeds, low=1)))
        else:
            self.run_seeds = run_seeds(seed, seeds)
        self.S = len(self.run_seeds)
        self.seed = seed
        self.oracle = batched_oracle(problem, self.device, self.dtype, oracle=oracle, seed=seed)
        self.n, self.d = self.oracle.n, self.oracle.d
        self.x0 = torch.as_tensor(np.asarray(x0, dtype=np.float64), device=self.device).to(self.dtype)
        if self.replay:
            if not isinstance(draws, Draws):
                raise ValueError(f"draws must be an algorithms.torch.replay Draws object or None; got {type(draws).__name__}")
            if draws.n_seeds != self.S:
                raise ValueError(f"seeds must equal the number of recorded runs in draws ({draws.n_seeds}); got {self.S}")
            move = dict(device=self.device)
            self._sample = to_xi_batch(draws.sample, self.device, self.dtype)
            self._sample_pos = 0
            self._u = _Cursor(draws.compress.to(**move, dtype=self.dtype), "compress")
            self._aux = _Cursor(draws.aux.to(**move, dtype=self.dtype), "aux")
        else:
            self.rand = CounterRandom(self.run_seeds, self.device)
            self._blocks: dict[str, _Block] = {}
        self._buffers: dict[tuple, torch.Tensor] = {}          # (name, shape) -> work tensor
        self._shape = (self.S, self.n, self.d)
        self._writes_out = bool(getattr(self.oracle, "writes_out", False))

    # -- workspace ----------------------------------------------------------------------------
    def buffer(self, name: str, shape=None) -> torch.Tensor:
        """A persistent work tensor (default shape (S, n, d)), allocated once per run.

        Writing results into the same memory every iteration instead of fresh tensors avoids
        the cost of allocating (and first touching) large blocks in the loop. The content is
        whatever was written last; a caller owns the names it uses.
        """
        key = (name, self._shape if shape is None else tuple(shape))
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = torch.empty(key[1], device=self.device, dtype=self.dtype)
        return buf

    # -- randomness ---------------------------------------------------------------------------
    def draw(self, label: str, make, key=None):
        """The next call's draw of stream ``label``, from a prefetched block of calls.

        ``make(stream, count)`` computes the draws of ``count`` consecutive calls with leading axes
        (S, count) (a tensor, a tuple of tensors or None); ``key`` identifies the call's shape. A
        block lasts ``count`` calls; blocks grow 1, 2, 4, ... up to :data:`_BLOCK_CALLS` calls or
        :data:`_BLOCK_NUMBERS` numbers. A call of another shape drops the rest of the block and
        rewinds the stream to it, so the values never depend on the blocking.
        """
        blk = self._blocks.get(label)
        if blk is not None and blk.used < blk.count and blk.key == key:
            return blk.next()
        stream = self.rand.stream(label)
        if blk is not None:
            stream.t = blk.t0 + blk.used                 # the calls drawn ahead and not used
        if blk is not None and blk.key == key:
            cap = max(1, min(_BLOCK_CALLS, _BLOCK_NUMBERS // max(blk.numel, 1)))
            count = min(2 * blk.count, cap)
        else:
            count = 1
        t0 = stream.t
        blk = self._blocks[label] = _Block(make(stream, count), t0, count, key)
        stream.t = t0 + count
        return blk.next()

    def sample(self, slot: str = "xi"):
        """One draw per client for every run: ``None`` or an xi batch with leading (S, n).

        The draw is a view into a prefetched block: read it, do not write into it.
        """
        if not self.replay:
            return self.draw("sample:" + slot, self.oracle.draw)
        xi = self._sample
        if xi is None:
            return None
        j = self._sample_pos
        J = (xi[0] if isinstance(xi, tuple) else xi).shape[2]
        if j >= J:
            raise ValueError(f"draws.sample holds {J} draws per client; the engine needs more: "
                             "record the draws with the same options")
        self._sample_pos += 1
        if isinstance(xi, tuple):
            return tuple(t[:, :, j] for t in xi)
        return xi[:, :, j]

    def _uniforms(self, label: str, shape) -> torch.Tensor:
        shape = tuple(int(a) for a in shape)
        return self.draw(label, lambda st, c: st.uniform(shape, c, dtype=self.dtype), shape)

    def compress_uniforms(self, *shape) -> torch.Tensor:
        """U[0, 1) draws of shape (S, *shape) from the compressors' stream (replayed in replay mode), for
        a random compressor whose uniforms are shared between messages."""
        if self.replay:
            return self._u.take(shape)
        return self._uniforms("compress:shared", shape)

    def uniform(self, *shape) -> torch.Tensor:
        """Auxiliary U[0, 1) draws of shape (S, *shape)."""
        if self.replay:
            return self._aux.take(shape)
        return self._uniforms("aux", shape)

    def _compress_u(self, compressor, v: torch.Tensor, label):
        """The uniforms of a random compressor's call on v (None for a deterministic one)."""
        if not getattr(compressor, "random", False):
            return None
        if self.replay:
            return self._u.take(tuple(v.shape[1:]))
        return self._uniforms("compress:" + (label or "v"), v.shape[1:])

    def _work(self, v: torch.Tensor, out: str | None) -> dict:
        if out is None:
            return {}
        shape = tuple(v.shape)
        return {"out": self.buffer(out, shape), "key": self.buffer(out + ":key", shape)}

    def compress(self, compressor, v: torch.Tensor, out: str | None = None, stream: str | None = None) -> torch.Tensor:
        """C applied on the last axis of v (S, ..., d), one message per leading index.

        A random compressor takes its uniforms (the shape of v) from the stream
        ``compress:<stream or out>``; in replay from the recorded stream in row-major order of
        the leading axes after S (clients 0..n-1), i.e. the reference's call order.
        ``out``: name of the work buffer C(v) is written into (where the kernel supports it).
        """
        u = self._compress_u(compressor, v, stream or out)
        return compress(compressor, v, u=u, **self._work(v, out))

    def compress_sparse(self, compressor, v: torch.Tensor, out: str | None = None, stream: str | None = None):
        """``(C(v), idx, vals)`` as :func:`._kernels.compress_sparse` (same draws as :meth:`compress`)."""
        u = self._compress_u(compressor, v, stream or out)
        return compress_sparse(compressor, v, u=u, **self._work(v, out))

    # -- oracles ------------------------------------------------------------------------------
    @staticmethod
    def clients(x: torch.Tensor) -> torch.Tensor:
        """A per-run point (S, d) as (S, 1, d): common to every client (oracles broadcast it)."""
        return x.unsqueeze(1) if x.dim() == 2 else x

    def _full(self, out: torch.Tensor) -> torch.Tensor:
        return out if out.shape[1] == self.n else out.expand(self.S, self.n, self.d)

    def grad(self, x: torch.Tensor, xi, out: str | None = None) -> torch.Tensor:
        """Local gradients (S, n, d) at per-client points x (S, n, d) or a common point (S, d).

        ``out``: the name of a work buffer to write them into (oracles with ``writes_out``).
        """
        if out is not None and self._writes_out:
            return self.oracle.grad(self.clients(x), xi, out=self.buffer(out))
        return self._full(self.oracle.grad(self.clients(x), xi))

    def grad_pair(self, x: torch.Tensor, xi):
        """(stochastic, exact) local gradients (S, n, d) at the same points, the exact ones
        computed once (oracles with additive noise derive the stochastic ones from them)."""
        if self._writes_out:
            return self.oracle.grad_and_exact(self.clients(x), xi,
                                              out=(self.buffer("grad"), self.buffer("grad:exact")))
        G, exact = self.oracle.grad_and_exact(self.clients(x), xi)
        return self._full(G), self._full(exact)

    def hvp(self, x: torch.Tensor, v: torch.Tensor, xi) -> torch.Tensor:
        """Local Hessian-vector products (S, n, d); x and v per client or common."""
        return self._full(self.oracle.hvp(self.clients(x), self.clients(v), xi))


#: steps between two reads of the non-finite flags on CUDA (each read is one host-device sync);
#: on the CPU the flags are read after every step (reading them costs no sync there).
CHECK_EVERY = 64
#: the same on the CPU: a read there is no device sync, but it is a few tensor operations and a
#: Python round trip per step, which dominate a small-d step; runs whose oracle calls user code
#: (NumPy fallback, torch problems) read after every step, so that their errors cannot overtake
#: an earlier finding
CPU_CHECK_EVERY = 32


class Recheck(Exception):
    """A one-reduction watch saw a non-finite sum: the run is repeated with exact watches
    (:func:`fast_watch`), which name the first non-finite quantity or find that a finite sum
    overflowed."""


_FAST = contextvars.ContextVar("eftheory_fast_watch", default=False)


@contextlib.contextmanager
def fast_watch():
    """Within the block, engine runs on built-in oracles watch each quantity with one reduction
    (a sum per run) instead of two; a non-finite sum raises :class:`Recheck`, and
    :func:`exact_on_recheck` repeats the run with the exact two-reduction watch."""
    token = _FAST.set(True)
    try:
        yield
    finally:
        _FAST.reset(token)


def exact_on_recheck(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` under :func:`fast_watch`; on :class:`Recheck` the same call again with
    exact watches. Engine runs are deterministic functions of their arguments (counter-based
    streams), so the repeat computes the same numbers and locates the first non-finite
    quantity exactly -- or, when only a sum of finite values overflowed, finishes the run."""
    try:
        with fast_watch():
            return fn(*args, **kwargs)
    except Recheck:
        return fn(*args, **kwargs)


class FiniteWatch:
    """Finds the first non-finite quantity of a batched run without a host sync per step.

    ``watch(quantity, tensor, k)`` computes, per run, whether ``tensor`` (leading run axis S) is
    finite: two reductions on the device (max and min over all but the run axis), no sync.
    ``watch.done(k)`` closes step k and, every ``every`` steps and at the last step, reads the
    flags of the steps since the last read (one host read). The first finding -- the earliest
    step, then the quantity watched first within it, then the lowest run -- raises
    :class:`eftheory.validation.NonFiniteError` with that step, quantity, run and seed. The
    location is exact whatever ``every`` is (the flags of every step are kept until read); a run
    only computes up to ``every - 1`` further steps on non-finite values before it stops.

    Under :func:`fast_watch` (what :func:`algorithms.run` uses) and a built-in oracle, a quantity
    costs one reduction, its sum per run: the sum is finite whenever every entry is, and
    non-finite whenever one is (NaN propagates, +inf and -inf give NaN), but a sum of finite
    entries can also overflow. A non-finite sum therefore raises :class:`Recheck`, and the run is
    repeated with the exact watch above (:func:`exact_on_recheck`).

    ``sinks``: under the fast watch, the quantities watched at every step; the others are watched
    at the last step only. A loop passes them when a non-finite value of any quantity it watches
    either reaches a sink at its step or stays in the state the loop carries until it does (NaN
    and inf propagate through the loop's arithmetic, its compressor keeps the NaN rule, and no
    carried state is overwritten): then a run whose sinks stay finite up to the last step, where
    everything is watched, has no non-finite quantity at all, and a run that has one raises
    :class:`Recheck` as before. The exact watch (the repeat) watches every quantity at every step.
    """

    def __init__(self, env: "Env", iters: int, every: int | None = None, sinks=None):
        self.env, self.iters = env, int(iters)
        builtin = getattr(getattr(env, "oracle", None), "builtin", True)
        if every is None:
            every = CPU_CHECK_EVERY if env.device.type == "cpu" else CHECK_EVERY
            if not builtin:
                every = 1
        self.every = int(every)
        self.fast = bool(_FAST.get()) and builtin
        self._sinks = frozenset(sinks) if (sinks is not None and self.fast) else None
        self._last = self.iters - 1
        self._names: list[str] = []
        self._ok: list[torch.Tensor] = []              # (S,) reductions of this step
        self._window: list = []                          # (step, names, their (S,) reductions)
        self._dims: dict[int, tuple] = {}

    def __call__(self, quantity: str, t: torch.Tensor, k: int) -> None:
        if self._sinks is not None and quantity not in self._sinks and k < self._last:
            return                                     # it reaches a sink, or the last step reads it
        if not t.is_floating_point():
            return                                     # integer tensors are finite
        dims = self._dims.get(t.dim())
        if dims is None:
            dims = self._dims[t.dim()] = tuple(range(1, t.dim()))
        if self.fast:
            self._names.append(quantity)
            self._ok.append(t.sum(dim=dims) if dims else t)
            return
        # two reductions, no temporary: max_j t_j and min_j t_j per run are both finite exactly
        # when every t_j is (both propagate NaN; +inf is the maximum, -inf the minimum)
        self._names += (quantity, quantity)
        if dims:
            self._ok += (t.amax(dim=dims), t.amin(dim=dims))
        else:
            self._ok += (t, t)

    def done(self, k: int) -> None:
        """After step k: keep its flags; read the flags when due (every ``every`` steps, last step)."""
        if self._ok:
            self._window.append((int(k), self._names, self._ok))   # stacked when read
            self._names, self._ok = [], []
        if (k + 1) % self.every == 0 or k + 1 >= self.iters:
            self.check()

    def check(self) -> None:
        if not self._window:
            return
        window, self._window = self._window, []
        every = torch.stack([t for _, _, ts in window for t in ts])        # (steps x quantities, S)
        if bool(torch.isfinite(every).all()):                             # the one host read
            return
        if self.fast:
            raise Recheck()
        for k, names, ts in window:
            bad = ~torch.isfinite(torch.stack(ts))
            if bool(bad.any()):
                q, s = (int(i) for i in bad.nonzero()[0])               # quantity order, then run
                seeds = getattr(self.env, "run_seeds", None)
                seed = seeds[s] if seeds is not None and s < len(seeds) else self.env.seed
                raise NonFiniteError(names[q], k, run=s, seed=seed)


#: per-step diagnostics with a d axis: kept only under record="all" (as in the reference)
VECTOR_DIAGNOSTICS = frozenset({"x_aux", "momentum_mean", "grad_mean", "estimate", "v_bar", "u", "direction",
                                "g_i", "v_i", "g", "client_errors", "eval_points"})


@dataclass
class Recorder:
    """Collects a batched trajectory and builds the :class:`Result`.

    What it keeps follows the record policy of the run (:mod:`algorithms.result`): under
    ``"all"`` every iterate (the exact f and gradient of all of them are evaluated at the end, in
    chunks); otherwise only the iterates of the policy's rows, with f, ||grad f||_2 and
    ||grad f||_1 of every point evaluated on the fly -- a block of up to 256 steps and
    :data:`_STAT_NUMBERS` numbers (all runs) at a time, so memory stays that of the block -- and no
    per-step vector diagnostics.
    """

    env: Env
    iters: int
    x: torch.Tensor = None
    steps: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        e = self.env
        self.policy = current_policy()
        self.rows = self.policy.rows(self.iters)
        self._slot = {int(k): j for j, k in enumerate(self.rows)}
        self.x = torch.empty((e.S, len(self.rows), e.d), device=e.device, dtype=e.dtype)
        self.diag: dict[str, torch.Tensor] = {}
        self._unset: dict[str, set] = {}
        self._online = self.policy.mode != "all"
        if self._online:
            shape = (e.S, self.iters + 1)
            self._f = torch.empty(shape, device=e.device, dtype=e.dtype)
            self._l2 = torch.empty(shape, device=e.device, dtype=e.dtype)
            self._l1 = torch.empty(shape, device=e.device, dtype=e.dtype)
        self._steps = max(1, min(256, _STAT_NUMBERS // max(e.S * e.d, 1)))
        self._pending: list[int] = []                     # consecutive steps whose points wait
        self._points: list[torch.Tensor] = []             # their points (S, d)

    def point(self, k: int, x: torch.Tensor, owned: bool = False) -> None:
        """Record the iterate x^k (S, d). ``owned``: the caller never writes into x afterwards, so
        the recorder keeps x itself until the block of points it belongs to is written (every
        :data:`_STAT_NUMBERS` numbers, at most 256 steps) instead of a copy."""
        if self._pending and self._pending[-1] + 1 != k:
            self._flush()                                 # a block holds consecutive steps only
        self._pending.append(int(k))
        self._points.append(x if owned else x.clone())
        if len(self._pending) == self._steps:
            self._flush()

    def _flush(self) -> None:
        """Write the waiting points into their rows and, online, evaluate f, ||grad f||_2 and
        ||grad f||_1 at them."""
        if not self._pending:
            return
        k0, m = self._pending[0], len(self._pending)
        X = torch.stack(self._points, dim=1)              # (S, m, d)
        j0 = self._slot.get(k0)
        if j0 is not None and self._slot.get(k0 + m - 1) == j0 + m - 1:
            self.x[:, j0:j0 + m] = X                      # every step is a row (record="all")
        else:
            for i, k in enumerate(self._pending):
                j = self._slot.get(k)
                if j is not None:
                    self.x.select(1, j).copy_(X.select(1, i))
        if self._online:
            f, G = self.exact(X)
            self._f[:, k0:k0 + m] = f
            self._l2[:, k0:k0 + m] = torch.linalg.vector_norm(G, dim=-1)
            self._l1[:, k0:k0 + m] = G.abs().sum(-1)
        self._pending, self._points = [], []

    def record(self, key: str, k: int, value, length: int | None = None) -> None:
        """Store a per-run value (S, ...) at index k of diagnostic ``key`` (allocated on first use)."""
        if key in VECTOR_DIAGNOSTICS and not self.policy.vectors:
            return
        value = torch.as_tensor(value, device=self.env.device)
        if key not in self.diag:
            L = self.iters if length is None else length
            self.diag[key] = torch.empty((self.env.S, L, *value.shape[1:]), device=self.env.device,
                                         dtype=value.dtype if value.is_floating_point() else self.env.dtype)
            self._unset[key] = set(range(L))
        self.diag[key][:, k] = value
        self._unset[key].discard(k)

    def exact(self, X: torch.Tensor):
        """(f, grad f) at every row of X (..., d), in chunks."""
        flat = X.reshape(-1, self.env.d)
        fs, gs = [], []
        for chunk in torch.split(flat, 4096):
            fs.append(self.env.oracle.f(chunk))
            gs.append(self.env.oracle.grad_f(chunk))
        return torch.cat(fs).reshape(X.shape[:-1]), torch.cat(gs).reshape(X.shape)

    def l1_norms(self, grads: list) -> torch.Tensor:
        """||grad f(x^k)||_1 (S, K+1): from the gradients :meth:`result` handed back in ``grads``
        (record="all") or from the statistics kept on the fly."""
        return self._l1 if self._online else grads[0].abs().sum(-1)

    def _check_statistics(self, fvals, gnorm) -> None:
        for what, arr in (("objective f(x^k)", fvals), ("exact gradient norm ||grad f(x^k)||", gnorm)):
            bad = ~torch.isfinite(arr)
            if bool(bad.any()):
                k = int(bad.any(dim=0).nonzero()[0, 0])
                s = int(bad[:, k].nonzero()[0, 0])
                raise NonFiniteError(what, k, run=s, seed=self.env.seed, detail=f"at the iterate x^{k}")

    def result(self, *, stepsize, momentum, bits_up, bits_down, grad_calls, hvp_calls,
               init_bits_up: float, config: dict, extra: dict | None = None,
               grads: list | None = None) -> Result:
        e = self.env
        self._flush()
        if self._online:
            fvals, gnorm = self._f, self._l2
        else:
            fvals, G = self.exact(self.x)
            if grads is not None:
                grads.append(G)
            gnorm = torch.linalg.vector_norm(G, dim=-1)
        self._check_statistics(fvals, gnorm)

        def per_run(a):
            if a is None:
                return None
            t = torch.as_tensor(np.asarray(a, dtype=np.float64), device=e.device).to(e.dtype)
            if t.dim() == 2 and t.shape[0] == e.S:      # already one row per run (PerRun schedules)
                return t
            return t.unsqueeze(0).expand(e.S, *t.shape).clone()

        for key, unset in self._unset.items():       # entries never recorded read 0
            for k in unset:
                self.diag[key][:, k] = 0
        diag = dict(self.diag)
        diag.update(extra or {})
        cfg = {**config, "backend": "torch", "seeds": e.S, "run_seeds": list(e.run_seeds), "device": str(e.device),
               "dtype": str(e.dtype).replace("torch.", ""), "replay": e.replay,
               "diagnostics": "full" if e.full else "light", "record": self.policy.label()}
        return Result(name=e.name, backend="torch", x=self.x, x_index=self.rows,
                      grad_norm=gnorm, f=fvals,
                      stepsize=per_run(stepsize), momentum=per_run(momentum),
                      bits_up=per_run(bits_up), bits_down=per_run(bits_down),
                      grad_calls=per_run(grad_calls), hvp_calls=per_run(hvp_calls),
                      init_bits_up=float(init_bits_up), diagnostics=diag, config=cfg)


def split_engine_options(options: dict) -> tuple[dict, dict]:
    """Separate the engine's own options from the algorithm's."""
    eng = {k: options.pop(k) for k in list(options) if k in ENGINE_OPTIONS}
    return {**ENGINE_OPTIONS, **eng}, options


def check_dtype_choice(dtype) -> None:
    check_choice("dtype", str(dtype).replace("torch.", ""), ("float64", "float32"))
