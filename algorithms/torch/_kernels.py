"""Selection kernels of the engine: Top-K / Rand-K masks in O(d) instead of a full sort.

:class:`eftheory.compressors.TopK` keeps the k largest |v_i| with ties broken by the lowest
index, and Rand-K keeps the k smallest uniforms u_i with the same rule. The compressors'
own ``torch`` methods realise this with a stable sort, O(d log d) per message; the engine
needs only the k-th largest key (``torch.topk``) and the rank of each tie:

    kept = (key > t) | (key == t and #{j <= i : key_j == t} <= k - #{key > t}),

which is the same set exactly (the parity tests compare it with the reference, ties included).
Every other compressor (and subclasses of these) goes through its ``torch`` method unchanged.
"""

from __future__ import annotations

import torch

from eftheory.compressors import RandK, ScaledRandK, TopK

__all__ = ["largest_k_mask", "compress"]


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


def compress(compressor, v: torch.Tensor, *, u: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """C(v) on the last axis; uniforms ``u`` (replay) or drawn from ``generator`` for random C."""
    kind = type(compressor)
    if kind is TopK:
        compressor.validate(v.shape[-1])
        return torch.where(largest_k_mask(v.abs(), compressor.k), v, torch.zeros((), dtype=v.dtype, device=v.device))
    if kind in (RandK, ScaledRandK):
        d = v.shape[-1]
        compressor.validate(d)
        if u is None:
            u = torch.rand(v.shape, generator=generator, device=v.device, dtype=v.dtype)
        kept = v * (d / compressor.k) if kind is ScaledRandK else v
        return torch.where(largest_k_mask(-u, compressor.k), kept, torch.zeros((), dtype=v.dtype, device=v.device))
    if not getattr(compressor, "random", False):
        return compressor.torch(v)
    if u is not None:
        return compressor.torch(v, u=u)
    return compressor.torch(v, generator=generator)
