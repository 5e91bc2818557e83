r"""Counter-based randomness of the engine: every number a pure function of its address.

A normal engine run (``draws=None``) holds S runs side by side, run s with its own seed
:math:`\sigma_s` (``seed + s`` for ``seeds=S``, or ``seeds[s]`` for an explicit list). No state is
shared between runs: each random number is computed from its address

.. math::

    (\sigma_s,\ L,\ t,\ j) \;\mapsto\; u \in [0, 1),

where :math:`L` is the label of a *stream* (one per purpose: ``"sample:xi"``, ``"sample:xi_hat"``,
``"compress:c"``, ``"aux"``, ...), :math:`t = 0, 1, 2, \dots` counts the calls made on that stream
and :math:`j` is the position of the number within one call (row-major over the call's shape,
the run axis excluded). Run s of a batch of seeds therefore draws exactly what a run with
``seeds=[\sigma_s]`` draws, whatever the other runs are, and a block of consecutive calls can be
computed in one pass (the engine prefetches blocks of calls; the values do not depend on the
blocking). Runs of one batch that share a seed share their addresses: their numbers are computed
once and copied (a claim's controls run in one call with the same seeds).

Layout (all arithmetic modulo :math:`2^{64}`, :math:`\phi` = 0x9E3779B97F4A7C15):

* mixing function :math:`\mu` -- the SplitMix64 finaliser: ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
  z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31`` (logical shifts; a bijection of 64-bit words);
* label hash :math:`h(L)` -- the first 8 bytes (little endian) of BLAKE2b(L);
* stream key :math:`\kappa_{s,L} = \mu(\mu(\sigma_s + \phi) \oplus h(L))`;
* word :math:`w = \mu(\kappa_{s,L} + (2^{32} t + j)\,\phi)` (a Weyl sequence through the mixer,
  one step per address; ``j < 2^32``);
* uniform on [0, 1): :math:`\lfloor w / 2^{11}\rfloor\,2^{-53}` (53 bits, float64) or
  :math:`\lfloor w / 2^{40}\rfloor\,2^{-24}` (float32);
* standard normal (Box--Muller): a call of m normals reads :math:`m' = 2\lceil m/2\rceil` words;
  with :math:`a_p` the uniform of word p in (0, 1] (:math:`(\lfloor w/2^{11}\rfloor + 1)2^{-53}`) and
  :math:`b_p` that of word :math:`m'/2 + p`, normals :math:`p` and :math:`m'/2 + p` are
  :math:`\sqrt{-2\ln a_p}\cos(2\pi b_p)` and :math:`\sqrt{-2\ln a_p}\sin(2\pi b_p)`
  (:math:`p < m'/2`; the last one is dropped when m is odd), computed in float64;
* problems and compressors that draw through their own generator (a user's ``sample_torch``, the
  NumPy fallback oracle) get, per run and call, a generator seeded with :math:`w \bmod 2^{63}` of
  address :math:`(\sigma_s, L, t, 0)`.

Seeds are integers in :math:`[0, 2^{64})`. The reference (:mod:`algorithms.numpy`) keeps its own
NumPy streams (:class:`algorithms.Streams`); parity between the two is proven by replaying the
reference's draws (:mod:`algorithms.torch.replay`), not by sharing a generator.
"""

from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np
import torch

__all__ = ["SEED_LIMIT", "CounterRandom", "Stream", "run_seeds", "mix64"]

#: seeds are integers in [0, SEED_LIMIT)
SEED_LIMIT = 1 << 64
_MASK = SEED_LIMIT - 1
_PHI = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
#: words per chunk of the integer passes (cache-sized temporaries)
_CHUNK = 1 << 15
#: a call draws fewer than this many numbers per run (its positions j < 2**32 of the address)
_POSITIONS = 1 << 32


def _signed(z: int) -> int:
    """A 64-bit word as the int64 with the same bits."""
    z &= _MASK
    return z - SEED_LIMIT if z >> 63 else z


def mix64(z: int) -> int:
    """The mixing function :math:`\\mu` on a Python integer (a 64-bit word)."""
    z &= _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _label_hash(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


def run_seeds(seed, seeds) -> tuple[int, ...]:
    """The seeds of the S runs: ``seed, ..., seed + S - 1`` for an integer ``seeds = S``, or the
    given sequence (then ``seed`` must be left at 0). ValueError outside [0, 2**64)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer in [0, 2**64); got {seed!r}")
    if isinstance(seeds, (list, tuple)):
        if not seeds:
            raise ValueError("seeds must be an integer >= 1 or a non-empty list of seeds; got an empty list")
        if seed != 0:
            raise ValueError(f"seed must be left at 0 when seeds lists the runs' seeds (run s uses seeds[s]); "
                             f"got seed={seed!r}")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < SEED_LIMIT:
                raise ValueError(f"seeds must list integers in [0, 2**64); got {s!r}")
        return tuple(int(s) for s in seeds)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1 or a non-empty list of seeds; got {seeds!r}")
    if not 0 <= seed <= SEED_LIMIT - seeds:
        raise ValueError(f"seed must lie in [0, 2**64 - seeds] = [0, {SEED_LIMIT - seeds}] "
                         f"(run s uses seed + s < 2**64); got {seed}")
    return tuple(range(seed, seed + seeds))


def _xorshift_(z: torch.Tensor, s: int, tmp: torch.Tensor) -> None:
    """z ^= z >>> s (logical shift on int64 words), in place."""
    torch.bitwise_right_shift(z, s, out=tmp)
    tmp.bitwise_and_((1 << (64 - s)) - 1)
    z.bitwise_xor_(tmp)


def _mix_(z: torch.Tensor) -> torch.Tensor:
    """The mixing function on an int64 tensor, in place."""
    tmp = torch.empty_like(z)
    _xorshift_(z, 30, tmp)
    z.mul_(_signed(_M1))
    _xorshift_(z, 27, tmp)
    z.mul_(_signed(_M2))
    _xorshift_(z, 31, tmp)
    return z


def _chunks(R: int, m: int):
    """(rows, cols) slices covering an R x m block in pieces of about :data:`_CHUNK` words."""
    rb, cb = max(1, _CHUNK // m), min(m, _CHUNK)
    for r0 in range(0, R, rb):
        for c0 in range(0, m, cb):
            yield slice(r0, min(R, r0 + rb)), slice(c0, min(m, c0 + cb))


class Stream:
    """One labelled stream of a run batch: calls t = 0, 1, ... of (S, *shape) numbers.

    Runs of the batch that share a seed draw the same numbers (their addresses are equal): the
    words are computed once per distinct seed and the rows copied to the runs that repeat it (a
    grouped call of a claim's controls repeats its seeds, one block per control)."""

    def __init__(self, owner: "CounterRandom", label: str):
        self.owner, self.label, self.t = owner, label, 0
        h = _label_hash(label)
        self._keys = [mix64(b ^ h) for b in owner._base]
        distinct = list(dict.fromkeys(self._keys))                     # in order of first appearance
        self._U = len(distinct)
        self._expand = None
        if self._U < len(self._keys):
            row = {k: i for i, k in enumerate(distinct)}
            self._expand = torch.tensor([row[k] for k in self._keys], dtype=torch.int64, device=owner.device)
        self._key = torch.tensor([_signed(k) for k in distinct], dtype=torch.int64,
                                 device=owner.device).view(-1, 1)
        self._key_np = np.array(distinct, dtype=np.uint64).reshape(-1, 1)
        self._offsets: dict[int, torch.Tensor] = {}
        self._offsets_np: dict[int, np.ndarray] = {}

    @property
    def S(self) -> int:
        return len(self._keys)

    def _runs(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows (U, ...) of the distinct seeds as the batch's rows (S, ...)."""
        return rows if self._expand is None else rows.index_select(0, self._expand)

    def _ints(self, count: int, m: int, shift: int, bits: int, dtype) -> torch.Tensor:
        """floor(w / 2**shift) mod 2**bits of the words of calls t .. t + count - 1, positions
        0 .. m - 1, as ``dtype`` (U, count, m) for the U distinct seeds (exact: bits <= the
        mantissa); advances t.

        Computed in chunks of about :data:`_CHUNK` words, so that the passes of the mixing
        function run in the cache; the values do not depend on the chunking. On the CPU the
        words are computed by NumPy on ``uint64`` (its shifts are logical and its products wrap,
        so a pass of the mixer is one ufunc call, not torch's shift-and-mask pair on int64);
        elsewhere by torch on int64. Both are exact integer arithmetic modulo 2**64: the two
        paths give the same words (``tests/test_counter_random.py``)."""
        t0 = self._advance(count, m)
        if self.owner.device.type == "cpu":
            return torch.from_numpy(self._ints_numpy(t0, count, 0, m, shift, bits, dtype)).view(self._U, count, m)
        return self._ints_torch(t0, count, 0, m, shift, bits, dtype).view(self._U, count, m)

    def _advance(self, count: int, m: int) -> int:
        if m >= _POSITIONS:
            raise ValueError(f"a draw must hold fewer than 2**32 numbers per run; got {m}")
        t0 = self.t
        self.t += count
        return t0

    def _call_offsets(self, t0: int, count: int) -> list[int]:
        """The Weyl offsets (2**32 t) phi mod 2**64 of calls t0 .. t0 + count - 1."""
        return [(((t0 + c) << 32) * _PHI) & _MASK for c in range(count)]

    def _ints_numpy(self, t0: int, count: int, j0: int, j1: int, shift: int, bits: int, dtype) -> np.ndarray:
        """Positions j0 .. j1 - 1 of calls t0 .. t0 + count - 1: a contiguous (U * count, j1 - j0) array."""
        J = self._offsets_np.get(j1)
        if J is None:
            J = self._offsets_np[j1] = np.arange(j1, dtype=np.uint64) * np.uint64(_PHI)
        T = np.array(self._call_offsets(t0, count), dtype=np.uint64)
        KT = (self._key_np + T).reshape(-1, 1)                        # (U * count, 1)
        R, m = KT.shape[0], j1 - j0
        out = np.empty((R, m), dtype=np.float32 if dtype == torch.float32 else np.float64)
        s30, s27, s31 = np.uint64(30), np.uint64(27), np.uint64(31)
        m1, m2, sh, mask = np.uint64(_M1), np.uint64(_M2), np.uint64(shift), np.uint64((1 << bits) - 1)
        for rows, cols in _chunks(R, m):
            z = np.add(J[j0 + cols.start:j0 + cols.stop], KT[rows])
            tmp = np.empty_like(z)
            z ^= np.right_shift(z, s30, out=tmp)
            z *= m1
            z ^= np.right_shift(z, s27, out=tmp)
            z *= m2
            z ^= np.right_shift(z, s31, out=tmp)
            z >>= sh
            z &= mask
            out[rows, cols] = z                                          # exact: fewer than 2**bits
        return out

    def _ints_torch(self, t0: int, count: int, j0: int, j1: int, shift: int, bits: int, dtype) -> torch.Tensor:
        """As :meth:`_ints_numpy`, by torch on int64 words, on the stream's device."""
        dev = self.owner.device
        J = self._offsets.get(j1)
        if J is None:
            J = self._offsets[j1] = torch.arange(j1, dtype=torch.int64, device=dev).mul_(_signed(_PHI))
        T = torch.tensor([_signed(o) for o in self._call_offsets(t0, count)], dtype=torch.int64, device=dev)
        KT = torch.add(self._key, T).view(-1, 1)                      # (U * count, 1)
        R, m = KT.shape[0], j1 - j0
        out = torch.empty((R, m), dtype=dtype, device=dev)
        mask = (1 << bits) - 1
        for rows, cols in _chunks(R, m):
            z = _mix_(torch.add(J[j0 + cols.start:j0 + cols.stop], KT[rows]))
            torch.bitwise_right_shift(z, shift, out=z).bitwise_and_(mask)
            out[rows, cols].copy_(z)
        return out

    def uniform(self, shape, count: int = 1, dtype=torch.float64) -> torch.Tensor:
        """U[0, 1) numbers (S, count, *shape) of the next ``count`` calls."""
        shape = tuple(int(a) for a in shape)
        m = math.prod(shape)
        if dtype == torch.float32:
            u = self._ints(count, m, 40, 24, torch.float32).mul_(2.0 ** -24)
        else:
            u = self._ints(count, m, 11, 53, torch.float64).mul_(2.0 ** -53)
            u = u if dtype == torch.float64 else u.to(dtype)
        return self._runs(u).view(self.S, count, *shape)

    def normal(self, shape, count: int = 1, dtype=torch.float64) -> torch.Tensor:
        """Standard normal numbers (S, count, *shape) of the next ``count`` calls (Box--Muller).

        On the CPU the logarithms are NumPy's and the words and angles are computed by NumPy on
        contiguous arrays (the same IEEE products as torch's); the square roots, cosines and
        sines are torch's (its sqrt is not NumPy's correctly rounded one). Elsewhere all is torch."""
        shape = tuple(int(a) for a in shape)
        m = math.prod(shape)
        h = (m + 1) // 2
        t0 = self._advance(count, 2 * h)
        U = self._U
        out = torch.empty((U * count, 2 * h), dtype=torch.float64, device=self.owner.device)
        if self.owner.device.type == "cpu":
            a = self._ints_numpy(t0, count, 0, h, 11, 53, torch.float64)        # (U * count, h)
            b = self._ints_numpy(t0, count, h, 2 * h, 11, 53, torch.float64)
            a += 1.0
            a *= 2.0 ** -53                                                       # in (0, 1]
            np.log(a, out=a)
            r = torch.from_numpy(a).mul_(-2.0).sqrt_()                             # sqrt(-2 ln a), torch's sqrt
            b *= 2.0 ** -53 * 2.0 * math.pi
            theta = torch.from_numpy(b)
        else:
            u = self._ints_torch(t0, count, 0, 2 * h, 11, 53, torch.float64)
            a, b = u[:, :h], u[:, h:]
            r = a.add_(1.0).mul_(2.0 ** -53).log_().mul_(-2.0).sqrt_()
            theta = b.mul_(2.0 ** -53 * 2.0 * math.pi)
        torch.cos(theta, out=out[:, :h]).mul_(r)
        torch.sin(theta, out=out[:, h:]).mul_(r)
        out = out.view(U, count, 2 * h)
        if 2 * h != m:
            out = out[..., :m]
        out = self._runs(out.reshape(U, count, *shape))
        return out if dtype == torch.float64 else out.to(dtype)

    def seeds(self, count: int = 1) -> list[list[int]]:
        """Per run and call, a seed in [0, 2**63) for a generator of its own (address (σ_s, L, t, 0))."""
        out = []
        for key in self._keys:
            out.append([mix64(key + ((self.t + c) << 32) * _PHI) >> 1 for c in range(count)])
        self.t += count
        return out


class CounterRandom:
    """The streams of one batch of runs with seeds ``seeds`` (see the module docstring)."""

    def __init__(self, seeds: Sequence[int], device=None):
        self.seeds = tuple(int(s) for s in seeds)
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self._base = [mix64(s + _PHI) for s in self.seeds]
        self._streams: dict[str, Stream] = {}

    def stream(self, label: str) -> Stream:
        st = self._streams.get(label)
        if st is None:
            st = self._streams[label] = Stream(self, label)
        return st
