"""Selection kernels of the engine: Top-K / Rand-K in O(d) instead of a full sort.

:class:`eftheory.compressors.TopK` keeps the k largest |v_i| with ties broken by the lowest
index, and Rand-K keeps the k smallest uniforms u_i with the same rule. The compressors'
own ``torch`` methods realise this with a stable sort, O(d log d) per message; the engine
needs only the k-th largest key (``torch.topk``) and the rank of each tie:

    kept = (key > t) | (key == t and #{j <= i : key_j == t} <= k - #{key > t}),

which is the same set exactly (the parity tests compare it with the reference, ties included).

Fast path (CPU): ``torch.topk`` with k + 1 entries gives the k-th and (k+1)-th largest keys;
when the k-th is finite and strictly larger than the (k+1)-th in every row, the k kept indices
are exactly those ``topk`` returned (no tie crosses the boundary), and C(v) is written by one
scatter into zeros -- no full-length comparisons, cumulative sums or ``where``. For k << d,
``topk`` first selects the k strided blocks of d / b keys with the largest maxima and then
searches only their k*b keys (see :func:`largest_k_index`). Otherwise (and
always on CUDA, where the check would cost a device sync) the mask formula above is used.
:func:`compress_sparse` also hands back the kept indices and values, so callers can update
their memories with a scatter instead of a dense pass.

:class:`eftheory.compressors.UnbiasedSign` is evaluated with the same arithmetic as its
``torch`` method, in place. Every other compressor (and subclasses of these) goes through its
``torch`` method unchanged.

Small k (k <= :data:`SMALL_K`, any device): the k indices come from k rounds of ``argmax``
(first maximal key, then that key set to -inf), exact for ties and without a host sync.

Every path keeps the compressors' NaN rule (:mod:`eftheory.compressors`: a NaN or inf input
coordinate gives NaN in the message; Top-K ranks NaN as the largest magnitude). The fast Top-K
path runs only when every key among the k + 1 largest is finite (``topk`` ranks NaN first), hence
when v is finite; the other paths add ``0 * v`` to the message, which is exact on finite entries.
"""

from __future__ import annotations

import functools
import math

import torch

from eftheory.compressors import RandK, ScaledRandK, TopK, UnbiasedSign

__all__ = ["largest_k_mask", "largest_k_index", "compress", "compress_sparse", "keeps_non_finite", "constant"]


_CONSTANTS: dict = {}


def constant(value: float, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a 0-dim tensor of ``like``'s dtype and device, made once.

    An operator with a Python number operand wraps it into a tensor at every call, which costs
    more than the arithmetic on a small tensor; the result is the same (the number is converted
    to the tensor's dtype either way)."""
    key = (float(value), like.dtype, like.device)
    t = _CONSTANTS.get(key)
    if t is None:
        with torch.inference_mode(False):          # a normal tensor, usable inside and outside inference mode
            t = _CONSTANTS[key] = torch.tensor(float(value), dtype=like.dtype, device=like.device)
    return t


def keeps_non_finite(compressor) -> bool:
    """Whether ``compressor`` is one of :mod:`eftheory.compressors`' own classes (not a subclass),
    whose messages are non-finite wherever their input is (the NaN rule; Identity passes the input
    itself), Blockwise when every block's compressor is."""
    import eftheory.compressors as ec

    kind = type(compressor)
    if kind is ec.Blockwise:
        return all(keeps_non_finite(c) for c in compressor.compressors)
    return kind.__module__ == ec.__name__ and issubclass(kind, ec.Compressor)


def largest_k_mask(key: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the k largest entries of ``key`` on the last axis (ties: lowest index first)."""
    d = key.shape[-1]
    if k >= d:
        return torch.ones_like(key, dtype=torch.bool)
    t = torch.topk(key, k, dim=-1, sorted=False).values.amin(dim=-1, keepdim=True)
    above = key > t
    tied = key == t
    need = k - above.sum(dim=-1, keepdim=True)
    if key.device.type == "cpu" and bool((tied.sum(dim=-1, keepdim=True) <= need).all()):
        return above | tied                       # no surplus ties: skip the ranking
    return above | (tied & (torch.cumsum(tied, dim=-1) <= need))


@functools.lru_cache(maxsize=256)
def _block_size(d: int, k: int) -> int:
    """A block size b (b >= 2 dividing d, d / b >= k + 1) near sqrt(d / k), or 0 if none helps."""
    if k < 1 or 8 * k > d:
        return 0
    target = max(2, round((d / k) ** 0.5))
    top = min(d // (k + 1), 4 * target)
    for step in range(0, top):                     # target, target - 1, target + 1, ...
        for b in (target - step, target + step):
            if 2 <= b <= top and d % b == 0:
                return b
    return 0


def _strict_top(key: torch.Tensor, k: int):
    """Indices (..., k) of the k largest keys and whether that set is unambiguous in every row.

    ``topk`` (unsorted) gives the k + 1 largest; the set of the k largest is unique when the
    smallest of those k + 1 (the (k+1)-th largest key) occurs once among them and all are finite.
    """
    vals, idx = torch.topk(key, k + 1, dim=-1, sorted=False)
    low = vals.amin(dim=-1, keepdim=True)
    keep = vals != low
    ok = bool(((keep.sum(dim=-1) == k) & torch.isfinite(vals).all(dim=-1)).all())
    if not ok:
        return None, False
    return idx[keep].reshape(*key.shape[:-1], k), True


def largest_k_index(key: torch.Tensor, k: int) -> torch.Tensor | None:
    """Indices (..., k) of the k largest keys on the last axis when no tie crosses the k-th
    largest in any row and those keys are finite (CPU only); ``None`` otherwise.

    For k << d the search is two-staged: the row is cut into d / b strided blocks
    {j, j + d/b, j + 2d/b, ...}; the k blocks with the largest maxima (strictly above the
    (k+1)-th block maximum) hold every one of the k largest keys, since those are >= the k-th
    block maximum and every other block lies strictly below it. ``topk`` then runs on the k*b
    keys of those blocks instead of all d.
    """
    d = key.shape[-1]
    if key.device.type != "cpu" or k >= d or key.numel() == 0:
        return None
    b = _block_size(d, k)
    if b:
        lead, nb = key.shape[:-1], d // b
        blocks = key.reshape(*lead, b, nb)                          # element i*nb + j in block j
        chosen, ok = _strict_top(blocks.amax(dim=-2), k)            # (..., k) block numbers
        if ok:
            cand = blocks.gather(-1, chosen.unsqueeze(-2).expand(*lead, b, k)).reshape(*lead, b * k)
            pos, ok = _strict_top(cand, k)
            if ok:
                row, col = pos // k, pos % k                       # candidate (i, chosen block)
                return row * nb + chosen.gather(-1, col)
        # a tie or a non-finite key among the block maxima or candidates: search all d keys
    idx, ok = _strict_top(key, k)
    return idx if ok else None


def _non_finite_to_nan(c: torch.Tensor, v: torch.Tensor, scratch: torch.Tensor | None) -> torch.Tensor:
    """The compressors' NaN rule, in place: c_i + 0 * v_i is c_i where v_i is finite (exactly, signed
    zeros included) and NaN where v_i is NaN or inf (``scratch``: a spent tensor of v's shape)."""
    zeros = torch.mul(v, constant(0.0, v), out=scratch) if scratch is not None else v * 0.0
    return c.add_(zeros)


_LAST_VALID: list = [None, None]


def _validate(compressor, d: int) -> None:
    """``compressor.validate(d)``, skipped when the same compressor object was just validated for d
    (a loop compresses with one compressor every step)."""
    if _LAST_VALID[0] is compressor and _LAST_VALID[1] == (d, getattr(compressor, "k", None)):
        return
    compressor.validate(d)
    _LAST_VALID[0], _LAST_VALID[1] = compressor, (d, getattr(compressor, "k", None))


#: Top-K / Rand-K with k <= SMALL_K select by k rounds of argmax (see :func:`_argmax_index`)
SMALL_K = 4


def _argmax_index(key: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (..., k) of the k largest keys (no NaN among them), ties by the lowest index:
    k rounds of ``argmax`` (which returns the first maximal entry), each followed by setting the
    chosen key to -inf. The same set as the stable sort of the reference, with 2k - 1 passes
    over the keys and no host sync -- the cheapest exact selection for small k. Overwrites ``key``."""
    cols = []
    for j in range(k):
        i = key.argmax(dim=-1, keepdim=True)
        cols.append(i)
        if j + 1 < k:
            key.scatter_(-1, i, -math.inf)
    return cols[0] if k == 1 else torch.cat(cols, dim=-1)


def _scatter(v: torch.Tensor, idx: torch.Tensor, vals: torch.Tensor, out) -> torch.Tensor:
    out = torch.zeros_like(v) if out is None else out.zero_()
    return out.scatter_(-1, idx, vals)


def _where(mask, kept, out):
    return torch.where(mask, kept, torch.zeros((), dtype=kept.dtype, device=kept.device), out=out)


def compress_sparse(compressor, v: torch.Tensor, *, u: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, out: torch.Tensor | None = None,
                    key: torch.Tensor | None = None):
    """``(C(v), idx, vals)``: ``idx`` (..., k) and ``vals`` the kept indices and values of C(v)
    when the fast path applies (Top-K / Rand-K on the CPU, see the module docstring), else
    ``idx = vals = None``. C(v) is the same tensor :func:`compress` returns.

    ``out`` / ``key``: optional work tensors of the shape of ``v`` for C(v) and the selection
    keys (Top-K / Rand-K only; other compressors return a new tensor).
    """
    kind = type(compressor)
    if kind is TopK:
        _validate(compressor, v.shape[-1])
        key = torch.abs(v, out=key)
        if compressor.k <= SMALL_K and compressor.k < v.shape[-1]:
            key.nan_to_num_(nan=math.inf, posinf=math.inf)   # the NaN rule: NaN ranks as the largest |v_i|
            idx = _argmax_index(key, compressor.k)
            vals = v.gather(-1, idx)
            return _non_finite_to_nan(_scatter(v, idx, vals, out), v, key), idx, vals
        idx = largest_k_index(key, compressor.k)
        if idx is not None:                       # every key finite: v is finite
            vals = v.gather(-1, idx)
            return _scatter(v, idx, vals, out), idx, vals
        key.nan_to_num_(nan=math.inf, posinf=math.inf)   # the NaN rule: NaN ranks as the largest |v_i|
        c = _where(largest_k_mask(key, compressor.k), v, out)
        return _non_finite_to_nan(c, v, key), None, None
    if kind in (RandK, ScaledRandK):
        d = v.shape[-1]
        _validate(compressor, d)
        if u is None:
            u = torch.rand(v.shape, generator=generator, device=v.device, dtype=v.dtype)
        key = torch.neg(u, out=key)
        if compressor.k <= SMALL_K and compressor.k < d:
            idx = _argmax_index(key, compressor.k)
        else:
            idx = largest_k_index(key, compressor.k)
        if idx is not None:
            vals = v.gather(-1, idx)
            if kind is ScaledRandK:
                vals = vals * compressor._factor(d)
            return _non_finite_to_nan(_scatter(v, idx, vals, out), v, key), idx, vals
        kept = v * compressor._factor(d) if kind is ScaledRandK else v
        c = _where(largest_k_mask(key, compressor.k), kept, out)
        return _non_finite_to_nan(c, v, key), None, None
    return compress(compressor, v, u=u, generator=generator, out=out, key=key), None, None


def _unbiased_sign(compressor: UnbiasedSign, v: torch.Tensor, u: torch.Tensor | None,
                   generator: torch.Generator | None, out=None, key=None) -> torch.Tensor:
    """``UnbiasedSign.torch`` with the same operations, without temporaries (``out``, ``key``:
    optional work tensors of the shape of v for the result and the uniforms)."""
    if compressor.on_violation == "raise" or v.dim() == 0:
        return compressor.torch(v, generator=generator) if u is None else compressor.torch(v, u=u)
    compressor.validate(v.shape[-1])
    if u is None:
        u = torch.rand(v.shape, generator=generator, device=v.device, dtype=v.dtype, out=key)
    p = torch.div(v, 2.0 * compressor.R, out=out)
    p.add_(0.5).clamp_(0.0, 1.0)                  # clamp(0.5 + v / (2R), 0, 1)
    one = torch.ones((), dtype=v.dtype, device=v.device)
    s = torch.where(u < p, one, -one, out=p)
    return s.add_(v * 0.0)                        # the NaN rule: NaN where v_i is not finite


def compress(compressor, v: torch.Tensor, *, u: torch.Tensor | None = None,
             generator: torch.Generator | None = None, out: torch.Tensor | None = None,
             key: torch.Tensor | None = None) -> torch.Tensor:
    """C(v) on the last axis; uniforms ``u`` (replay) or drawn from ``generator`` for random C.

    ``out`` / ``key``: optional work tensors of the shape of ``v`` (used by Top-K, Rand-K and
    the unbiased stochastic sign; other compressors return a new tensor).
    """
    kind = type(compressor)
    if kind in (TopK, RandK, ScaledRandK):
        return compress_sparse(compressor, v, u=u, generator=generator, out=out, key=key)[0]
    if kind is UnbiasedSign:
        return _unbiased_sign(compressor, v, u, generator, out, key)
    if not getattr(compressor, "random", False):
        return compressor.torch(v)
    if u is not None:
        return compressor.torch(v, u=u)
    return compressor.torch(v, generator=generator)
