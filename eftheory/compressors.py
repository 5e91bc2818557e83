r"""Compression operators of the papers, on NumPy and torch, with their constants and bit costs.

Every compressor maps a vector :math:`v\in\mathbb R^d` to a message :math:`\mathcal C(v)`; it acts on
the **last axis**, so any leading batch shape (seeds x clients x d) is allowed. Two families of
guarantees are used by the papers:

* *contractive* (assumption A-C): :math:`\mathbb E\|\mathcal C(v)-v\|^2\le(1-\alpha)\|v\|^2` with
  :math:`\alpha\in(0,1]` (called :math:`\delta` in [002]);
* *unbiased* (assumption A-U): :math:`\mathbb E\mathcal Q(v)=v`,
  :math:`\mathbb E\|\mathcal Q(v)-v\|^2\le\omega\|v\|^2`.

=====================  ==========================  ====================  ===========================  ==================================
compressor             ``alpha(d)``                ``omega(d)``          ``bits(d)`` "values"         ``bits(d)`` "values+indices"
=====================  ==========================  ====================  ===========================  ==================================
``Identity()``         1                           0                     32 d                         32 d
``TopK(k)``            k/d (tight when equal)      -- (biased)           32 k                         32 k + min(k ceil(log2 d), d)
``RandK(k)``           k/d (exact for every v)     -- (biased)           32 k                         32 k (+ index bits if not shared)
``ScaledRandK(k)``     2 - d/k, only if k > d/2    d/k - 1               32 k                         32 k (+ index bits if not shared)
``ScaledSign()``       1/d (worst case)            -- (biased)           d + 32                       d + 32
``Sign()``             not contractive             -- (biased)           d                            d
``UnbiasedSign(R)``    not contractive             -- (mean v/R)         d                            d
``Blockwise(C, s)``    min over blocks             max over blocks       sum over blocks              sum over blocks
=====================  ==========================  ====================  ===========================  ==================================

Random draws (the contract the torch engine replays): a random compressor consumes exactly
``rng.random(v.shape)`` per call -- one uniform per coordinate, nothing else -- and
``C(v, rng) == C.apply(v, rng.random(v.shape))``. Deterministic compressors never touch ``rng``.
:meth:`Compressor.torch` computes the same map on a tensor and equals :meth:`Compressor.apply`
bit for bit in float64 on the CPU for identical uniforms (ties included).

Check helpers shared by the tests and the claims ledger (each returns ``(observed, stated)``
pairs): :func:`contraction_ratio` (C-TOPK, C-RANDK, C-SSIGN), :func:`enumerate_randk_moments`
(C-RANDK), :func:`sign_law` and :func:`sign_monte_carlo` (C-SR), :func:`scaled_sign_error` (C-SSIGN).

Conventions (where peer codebases differ):

* Top-K keeps the k largest :math:`|v_i|`; ties are broken by the lowest index (stable sort of
  :math:`-|v|`).
* Rand-K keeps the k coordinates with the smallest uniforms ``u`` (stable sort; ties among the
  uniforms have probability zero).
* :math:`\operatorname{sign}(0)=0` in :class:`Sign` and :class:`ScaledSign`; the outputs of both
  are built from the comparisons ``v > 0`` and ``v < 0``, so a zero entry maps to ``+0.0``.
* Non-finite inputs are never hidden (the NaN rule, identical in :mod:`algorithms.torch._kernels`):
  wherever :math:`v_i` is NaN or :math:`\pm\infty`, :math:`\mathcal C(v)_i` is NaN, for every
  compressor except :class:`Identity` (which returns v itself). Top-K ranks a NaN as the largest
  magnitude (equal to inf, ties by the lowest index), so the k - #non-finite remaining slots go to
  the largest finite magnitudes; Rand-K selects by its uniforms as usual, and the non-finite
  coordinates are NaN whether or not they were selected. A message is therefore non-finite
  exactly when its input is, so a NaN gradient cannot vanish behind a sparsifier or a sign.
* 32 bits per float value; index bits are ``ceil(log2 d)`` per index, or a ``d``-bit bitmap
  when that is cheaper; Rand-K with a seed shared by sender and receiver sends no indices.
"""

from __future__ import annotations

import itertools
import math
from math import comb
from typing import NamedTuple, Sequence

import numpy as np

from eftheory.validation import check_choice, check_int, check_positive, check_real, check_unit_interval

__all__ = [
    "Compressor",
    "Identity",
    "TopK",
    "RandK",
    "ScaledRandK",
    "ScaledSign",
    "Sign",
    "UnbiasedSign",
    "Blockwise",
    "Pair",
    "BITS_PER_FLOAT",
    "CONVENTIONS",
    "contraction_ratio",
    "enumerate_randk_moments",
    "sign_law",
    "sign_monte_carlo",
    "scaled_sign_error",
]

#: Bits charged per float value sent (the papers' plots count 32).
BITS_PER_FLOAT = 32
#: Bit-accounting conventions accepted by :meth:`Compressor.bits`.
CONVENTIONS = ("values", "values+indices")


class Pair(NamedTuple):
    """A measured figure beside the figure the theory states."""

    observed: object
    stated: object


def _index_bits(k: int, d: int) -> int:
    """Bits to name k of d coordinates: k indices of ceil(log2 d) bits, or a d-bit bitmap if cheaper."""
    return min(k * math.ceil(math.log2(d)), d) if d > 1 else 0


def _as_array(v) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("v must have at least one axis (compressors act on the last axis); got a scalar")
    return arr


def _check_u(u, shape) -> np.ndarray:
    if u is None:
        raise ValueError(f"u must be an array of uniforms in [0, 1) of shape {tuple(shape)}; got None")
    u = np.asarray(u, dtype=np.float64)
    if u.shape != tuple(shape):
        raise ValueError(f"u must have the shape of v, {tuple(shape)}; got {u.shape}")
    return u


def _sign_np(v: np.ndarray) -> np.ndarray:
    # sign(0) = 0, and always +0.0 (the torch twin builds the same bits)
    return (v > 0).astype(np.float64) - (v < 0).astype(np.float64)


def _sign_torch(v):
    return (v > 0).to(v.dtype) - (v < 0).to(v.dtype)


def _keep_non_finite(compressor, v: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The non-finite rule: a NaN or inf input coordinate gives NaN in the message (see the module docstring)."""
    if compressor.keeps_non_finite:
        return out
    return np.where(np.isfinite(v), out, np.nan)


def _keep_non_finite_torch(compressor, v, out):
    import torch

    if compressor.keeps_non_finite:
        return out
    return torch.where(torch.isfinite(v), out, torch.full((), math.nan, dtype=out.dtype, device=out.device))


def _magnitude_key_np(v: np.ndarray) -> np.ndarray:
    """Top-K's ranking key |v|, with NaN ranked as the largest magnitude (like inf)."""
    key = np.abs(v)
    return np.where(np.isnan(key), np.inf, key)


class Compressor:
    r"""Base class: a (possibly random) map :math:`\mathcal C:\mathbb R^d\to\mathbb R^d` on the last axis.

    Subclasses define ``_apply(v, u)`` (NumPy) and ``_torch(v, u)`` (torch), both deterministic
    given the uniforms ``u`` (``None`` for deterministic compressors), and the constants
    :meth:`alpha`, :meth:`omega`, :meth:`bits`.

    Attributes:
        name: a stable identifier (``"topk"``, ``"randk"``, ...); ``repr`` adds the parameters.
        unbiased: whether :math:`\mathbb E\,\mathcal C(v)=v` with a finite :math:`\omega`.
        random: whether the map consumes uniforms (then ``__call__`` needs ``rng``).
        scale: ``scale * C(v)`` is the estimate of ``v`` that algorithms use (1 except for
            :class:`UnbiasedSign`, where it is R).
    """

    name: str = "compressor"
    unbiased: bool = False
    random: bool = False
    scale: float = 1.0
    #: whether the map passes non-finite entries through itself (Identity); others apply the NaN rule
    keeps_non_finite: bool = False

    # -- the map -------------------------------------------------------------------------
    def __call__(self, v, rng=None) -> np.ndarray:
        """Compress ``v`` (last axis); a random compressor draws ``rng.random(v.shape)`` exactly once."""
        v = _as_array(v)
        if not self.random:
            return self.apply(v)
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"rng must be a numpy.random.Generator for the random compressor {self!r}; got {type(rng).__name__}"
            )
        self.validate(v.shape[-1])
        return self.apply(v, rng.random(v.shape))

    def apply(self, v, u=None) -> np.ndarray:
        """The same map as ``__call__``, deterministic given the uniforms ``u`` (same shape as ``v``)."""
        v = _as_array(v)
        self.validate(v.shape[-1])
        if self.random:
            u = _check_u(u, v.shape)
        else:
            u = None
        return _keep_non_finite(self, v, self._apply(v, u))

    def torch(self, v, generator=None, u=None):
        """The map on a tensor (batched over leading dims, same device and dtype as ``v``).

        Uses ``u`` when given (replay of the NumPy draws); otherwise draws
        ``torch.rand(v.shape, generator=generator, device=v.device, dtype=v.dtype)``.
        """
        import torch

        if not isinstance(v, torch.Tensor):
            raise ValueError(f"v must be a torch.Tensor; got {type(v).__name__}")
        if v.dim() == 0:
            raise ValueError("v must have at least one axis (compressors act on the last axis); got a scalar")
        self.validate(v.shape[-1])
        if not self.random:
            return _keep_non_finite_torch(self, v, self._torch(v, None))
        if u is None:
            if not isinstance(generator, torch.Generator):
                raise ValueError(
                    f"generator must be a torch.Generator (or pass u) for the random compressor {self!r}; "
                    f"got {type(generator).__name__}"
                )
            u = torch.rand(v.shape, generator=generator, device=v.device, dtype=v.dtype)
        else:
            u = torch.as_tensor(u, device=v.device, dtype=v.dtype)
            if tuple(u.shape) != tuple(v.shape):
                raise ValueError(f"u must have the shape of v, {tuple(v.shape)}; got {tuple(u.shape)}")
        return _keep_non_finite_torch(self, v, self._torch(v, u))

    # -- constants -----------------------------------------------------------------------
    def validate(self, d) -> None:
        """Raise ValueError if the compressor cannot act on dimension ``d``."""
        check_int("d", d, low=1)

    def alpha(self, d) -> float:
        """Contraction parameter: the largest alpha with E||C(v)-v||^2 <= (1-alpha)||v||^2 for all v."""
        raise NotImplementedError

    def omega(self, d) -> float:
        """Variance parameter of an unbiased compressor (ValueError for biased ones)."""
        raise ValueError(f"omega is defined only for unbiased compressors; {self!r} is biased (unbiased=False)")

    def bits(self, d, convention: str = "values") -> float:
        """Bits of one message for a vector of dimension ``d`` under ``convention`` (see CONVENTIONS)."""
        raise NotImplementedError

    def _check_bits_args(self, d, convention):
        check_choice("convention", convention, CONVENTIONS)
        self.validate(d)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def params(self) -> dict:
        """``{"class": "module.QualName", <attribute>: value, ...}``: the class and the public instance
        attributes (the constructor's parameters, ``k``, ``shared_seed``, ``R``, the blocks of
        :class:`Blockwise` as their own ``params()``), so a run description can be keyed by them."""
        out = {"class": f"{type(self).__module__}.{type(self).__qualname__}"}
        for name, value in sorted(vars(self).items()):
            if name.startswith("_"):
                continue
            if isinstance(value, (tuple, list)):
                value = [v.params() if isinstance(v, Compressor) else v for v in value]
            elif isinstance(value, Compressor):
                value = value.params()
            out[name] = value
        return out


class Identity(Compressor):
    r"""The identity :math:`\mathcal C(v)=v` (no compression).

    Definition: :math:`\mathcal C(v)=v`; :math:`\alpha=1`, :math:`\omega=0`, a dense message of
    :math:`32d` bits. With it every EF21-type method reduces to its uncompressed counterpart.

    Example:
        >>> Identity()(np.array([1.0, -2.0]))
        array([ 1., -2.])
    """

    name = "identity"
    unbiased = True
    keeps_non_finite = True

    def _apply(self, v, u):
        return v.copy()

    def _torch(self, v, u):
        return v.clone()

    def alpha(self, d) -> float:
        self.validate(d)
        return 1.0

    def omega(self, d) -> float:
        self.validate(d)
        return 0.0

    def bits(self, d, convention="values") -> float:
        self._check_bits_args(d, convention)
        return float(BITS_PER_FLOAT * d)


class _KSparsifier(Compressor):
    """Shared parts of the k-sparse compressors (Top-K, Rand-K)."""

    def __init__(self, k):
        self.k = check_int("k", k, low=1)

    @classmethod
    def from_ratio(cls, ratio, d, **kwargs):
        """The compressor with ``k = max(1, floor(ratio * d))`` (the papers' compression level)."""
        ratio = check_unit_interval("ratio", ratio)
        d = check_int("d", d, low=1)
        return cls(max(1, math.floor(ratio * d)), **kwargs)

    def validate(self, d) -> None:
        d = check_int("d", d, low=1)
        check_int("k", self.k, low=1, high=d, high_label=f"d={d}")

    def _index_bits(self, d) -> int:
        return _index_bits(self.k, d)

    def bits(self, d, convention="values") -> float:
        self._check_bits_args(d, convention)
        b = BITS_PER_FLOAT * self.k
        if convention == "values+indices":
            b += self._index_bits(d)
        return float(b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class TopK(_KSparsifier):
    r"""Top-K sparsification: keep the k entries of largest magnitude, zero the rest.

    Definition: with :math:`S` the indices of the k largest :math:`|v_i|`,
    :math:`[\mathcal C(v)]_i = v_i` for :math:`i\in S` and 0 otherwise.

    Guarantee (tight): :math:`\|\mathcal C(v)-v\|^2=\sum_{i\notin S}v_i^2\le(1-\tfrac kd)\|v\|^2`,
    so :math:`\alpha=k/d`, with equality when all magnitudes are equal [004, Example of a
    contractive compressor]. Serves ``C-TOPK``.

    Args:
        k: number of kept entries, an integer in [1, d].

    Example:
        >>> TopK(2)(np.array([3.0, -1.0, 3.0, 4.0]))
        array([3., 0., 0., 4.])

    Notes:
        Ties are broken by the lowest index (stable sort of :math:`-|v|`; torch uses
        ``torch.sort(..., stable=True)``, not ``topk``). Papers choose
        ``k = max(1, floor(ratio*d))`` (:meth:`from_ratio`). Applied to the flattened vector;
        use :class:`Blockwise` for per-layer compression.
    """

    name = "topk"

    def _apply(self, v, u):
        order = np.argsort(-_magnitude_key_np(v), axis=-1, kind="stable")[..., : self.k]
        mask = np.zeros(v.shape, dtype=bool)
        np.put_along_axis(mask, order, True, axis=-1)
        return np.where(mask, v, 0.0)

    def _torch(self, v, u):
        import torch

        key = v.abs()
        key = torch.where(torch.isnan(key), torch.full((), math.inf, dtype=key.dtype, device=key.device), key)
        order = torch.sort(-key, dim=-1, stable=True).indices[..., : self.k]
        mask = torch.zeros(v.shape, dtype=torch.bool, device=v.device).scatter_(-1, order, True)
        return torch.where(mask, v, torch.zeros((), dtype=v.dtype, device=v.device))

    def alpha(self, d) -> float:
        self.validate(d)
        return self.k / d


class _RandKBase(_KSparsifier):
    random = True
    _scaled = False

    def __init__(self, k, *, shared_seed: bool = True):
        super().__init__(k)
        if not isinstance(shared_seed, bool):
            raise ValueError(f"shared_seed must be a bool (True or False); got {shared_seed!r}")
        self.shared_seed = shared_seed

    def _index_bits(self, d) -> int:
        return 0 if self.shared_seed else _index_bits(self.k, d)

    def _factor(self, d) -> float:
        return d / self.k if self._scaled else 1.0

    def _apply(self, v, u):
        order = np.argsort(u, axis=-1, kind="stable")[..., : self.k]
        mask = np.zeros(v.shape, dtype=bool)
        np.put_along_axis(mask, order, True, axis=-1)
        kept = v * self._factor(v.shape[-1]) if self._scaled else v
        return np.where(mask, kept, 0.0)

    def _torch(self, v, u):
        import torch

        order = torch.sort(u, dim=-1, stable=True).indices[..., : self.k]
        mask = torch.zeros(v.shape, dtype=torch.bool, device=v.device).scatter_(-1, order, True)
        kept = v * self._factor(v.shape[-1]) if self._scaled else v
        return torch.where(mask, kept, torch.zeros((), dtype=v.dtype, device=v.device))

    def __repr__(self) -> str:
        extra = "" if self.shared_seed else ", shared_seed=False"
        return f"{type(self).__name__}(k={self.k}{extra})"


class RandK(_RandKBase):
    r"""Rand-K sparsification, biased (unscaled): keep k coordinates chosen uniformly, zero the rest.

    Definition: :math:`S` uniform among the k-subsets of :math:`\{1..d\}`,
    :math:`[\mathcal C(v)]_i=v_i\,\mathbb 1[i\in S]`.

    Guarantee (exact for every v): :math:`\mathbb E\mathcal C(v)=\tfrac kd v` and
    :math:`\mathbb E\|\mathcal C(v)-v\|^2=(1-\tfrac kd)\|v\|^2`, so :math:`\alpha=k/d`.
    It equals :math:`\frac1{\omega+1}` times :class:`ScaledRandK`.
    Serves ``C-RANDK``.

    Args:
        k: number of kept coordinates, an integer in [1, d].
        shared_seed: sender and receiver share the random seed, so no index bits are sent
            (default True).

    Example:
        >>> RandK(1).apply(np.array([5.0, 6.0, 7.0]), np.array([0.9, 0.1, 0.5]))
        array([0., 6., 0.])

    Notes:
        S is the set of the k smallest uniforms ``u`` (stable sort); one uniform per coordinate.
    """

    name = "randk"

    def alpha(self, d) -> float:
        self.validate(d)
        return self.k / d


class ScaledRandK(_RandKBase):
    r"""Rand-K sparsification, unbiased: :math:`\mathcal Q(v)=\tfrac dk\,\mathbb 1_S\odot v`.

    Definition: :math:`S` uniform among the k-subsets, kept entries multiplied by :math:`d/k`.

    Guarantee (exact for every v): :math:`\mathbb E\mathcal Q(v)=v`,
    :math:`\mathbb E\|\mathcal Q(v)-v\|^2=(\tfrac dk-1)\|v\|^2`, so :math:`\omega=d/k-1`
    (the code of [000] scales by d/r). Serves ``C-RANDK``.

    ``alpha(d)`` is the contraction parameter of the map itself, :math:`1-\omega=2-d/k`, which is
    positive only for :math:`k>d/2`; otherwise it raises, because the map is not contractive
    (its rescaled version :class:`RandK` is, with :math:`\alpha=k/d`).

    Args:
        k: number of kept coordinates, an integer in [1, d].
        shared_seed: as in :class:`RandK`.

    Example:
        >>> ScaledRandK(1).apply(np.array([5.0, 6.0, 7.0]), np.array([0.9, 0.1, 0.5]))
        array([ 0., 18.,  0.])
    """

    name = "scaled_randk"
    unbiased = True
    _scaled = True

    def omega(self, d) -> float:
        self.validate(d)
        return d / self.k - 1.0

    def alpha(self, d) -> float:
        self.validate(d)
        if 2 * self.k <= d:
            raise ValueError(
                f"alpha exists for ScaledRandK only when k > d/2 (E||Q(v)-v||^2 = (d/k-1)||v||^2); "
                f"got k={self.k}, d={d}; use RandK(k) (alpha = k/d) for a contractive Rand-K"
            )
        return 2.0 - d / self.k


class ScaledSign(Compressor):
    r"""Scaled sign ([002], eq. 2): :math:`\mathcal C(v)=\frac{\|v\|_1}{d}\operatorname{sign}(v)`.

    Definition: one scale :math:`\|v\|_1/d` and the d signs, :math:`\operatorname{sign}(0)=0`.

    Guarantee (exact identity, then bound):
    :math:`\|\mathcal C(v)-v\|^2=\|v\|^2-\frac{\|v\|_1^2}{d}\big(2-\frac{\mathrm{nnz}(v)}{d}\big)
    \le\big(1-\frac{\|v\|_1^2}{d\|v\|^2}\big)\|v\|^2`, equality iff v has no zero entry; hence
    :math:`\alpha=1/d` in the worst case (approached by :math:`(1,\epsilon,\dots,\epsilon)`) and
    :math:`\alpha(v)=1` at equal magnitudes [002, §3 and its δ-approximate compressor
    assumption]. Serves ``C-SSIGN``.

    Example:
        >>> ScaledSign()(np.array([3.0, -1.0, 0.0, 4.0]))
        array([ 2., -2.,  0.,  2.])

    Notes:
        :math:`\|v\|_1` is accumulated left to right (a cumulative sum) in both NumPy and torch,
        so the two agree bit for bit on the CPU. Bits: d signs and one 32-bit scale. Paper [002]
        applies it per layer (:class:`Blockwise`), which gives :math:`\alpha=\min_l 1/d_l`.
    """

    name = "scaled_sign"

    def _apply(self, v, u):
        l1 = np.cumsum(np.abs(v), axis=-1)[..., -1:]
        return (l1 / v.shape[-1]) * _sign_np(v)

    def _torch(self, v, u):
        import torch

        l1 = torch.cumsum(v.abs(), dim=-1)[..., -1:]
        return (l1 / v.shape[-1]) * _sign_torch(v)

    def alpha(self, d) -> float:
        self.validate(d)
        return 1.0 / d

    def bits(self, d, convention="values") -> float:
        self._check_bits_args(d, convention)
        return float(d + BITS_PER_FLOAT)


class Sign(Compressor):
    r"""Plain sign, :math:`\mathcal C(v)=\operatorname{sign}(v)` with :math:`\operatorname{sign}(0)=0`.

    Not a contractive compressor: the output has norm :math:`\sqrt{\mathrm{nnz}(v)}` whatever the
    scale of v, so no :math:`\alpha` works for all v (``alpha`` raises). It is used inside
    signSGD, SMM and majority vote, where the step length per coordinate is the stepsize.
    A message is d bits.

    Example:
        >>> Sign()(np.array([3.0, -1.0, 0.0]))
        array([ 1., -1.,  0.])
    """

    name = "sign"

    def _apply(self, v, u):
        return _sign_np(v)

    def _torch(self, v, u):
        return _sign_torch(v)

    def alpha(self, d) -> float:
        raise ValueError(
            "alpha is undefined for Sign: it is not a contractive compressor (||sign(v)|| does not scale "
            "with ||v||); use ScaledSign (alpha = 1/d) for error feedback"
        )

    def bits(self, d, convention="values") -> float:
        self._check_bits_args(d, convention)
        return float(d)


class UnbiasedSign(Compressor):
    r"""Unbiased stochastic sign :math:`S_R` ([003], Definition 1; Jin et al. stochastic sign).

    Assumption: :math:`\|v\|_\infty\le R` (A-G with :math:`R=G`).

    Definition, independently per coordinate j: :math:`[S_R(v)]_j=+1` with probability
    :math:`\tfrac12+\tfrac{v_j}{2R}` and :math:`-1` otherwise; here :math:`+1` iff
    :math:`u_j<\tfrac12+\tfrac{v_j}{2R}`.

    Guarantee: :math:`\mathbb E S_R(v)=v/R`, :math:`\operatorname{Var}[S_R(v)]_j=1-v_j^2/R^2`,
    so ``scale * S_R(v)`` with ``scale = R`` is unbiased for v with
    :math:`\mathbb E\|R\,S_R(v)-v\|^2=dR^2-\|v\|^2` [003, remark after Definition 1 (the
    probabilities are reconstructed [R] as the unique ±1 law with that mean)].
    Serves ``C-SR``.

    ``unbiased`` is False: the map itself has mean v/R, and its variance does not shrink with
    :math:`\|v\|`, so no finite :math:`\omega` exists (``omega`` raises); neither is it
    contractive (``alpha`` raises). A message is d bits.

    Args:
        R: the bound on :math:`\|v\|_\infty`, a real > 0.
        on_violation: what to do when some :math:`|v_j|>R`: ``"raise"`` (ValueError naming R and
            the largest :math:`|v_j|`) or ``"clip"`` (clip the probability into [0, 1]; count the
            clipped coordinates with :meth:`violations`).

    Example:
        >>> UnbiasedSign(2.0).apply(np.array([1.0, -1.0]), np.array([0.7, 0.3]))
        array([ 1., -1.])
    """

    name = "unbiased_sign"
    random = True

    def __init__(self, R, on_violation: str = "raise"):
        self.R = check_positive("R", R)
        self.on_violation = check_choice("on_violation", on_violation, ("raise", "clip"))

    @property
    def scale(self) -> float:  # R * S_R(v) is unbiased for v
        return self.R

    def violations(self, v) -> int:
        """Number of entries with ``|v_j| > R`` (over all axes): the coordinates whose probability is clipped."""
        try:
            import torch

            if isinstance(v, torch.Tensor):
                return int((v.abs() > self.R).sum().item())
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        return int(np.count_nonzero(np.abs(np.asarray(v, dtype=np.float64)) > self.R))

    def _raise_violation(self, vmax: float):
        raise ValueError(
            f"R must bound every |v_j| (R >= ||v||_inf) for UnbiasedSign with on_violation='raise'; "
            f"got max |v_j| = {vmax:g} > R = {self.R:g}"
        )

    def _apply(self, v, u):
        if self.on_violation == "raise":
            vmax = float(np.max(np.abs(v))) if v.size else 0.0
            if not vmax <= self.R:  # also catches NaN
                self._raise_violation(vmax)
        p = np.clip(0.5 + v / (2.0 * self.R), 0.0, 1.0)
        return np.where(u < p, 1.0, -1.0)

    def _torch(self, v, u):
        import torch

        if self.on_violation == "raise" and v.numel():
            vmax = float(v.abs().max().item())  # one device sync per call in "raise" mode
            if not vmax <= self.R:
                self._raise_violation(vmax)
        p = torch.clamp(0.5 + v / (2.0 * self.R), 0.0, 1.0)
        one = torch.ones((), dtype=v.dtype, device=v.device)
        return torch.where(u < p, one, -one)

    def alpha(self, d) -> float:
        raise ValueError(
            "alpha is undefined for UnbiasedSign: S_R outputs +-1 whatever ||v|| is, so it is not a "
            "contractive compressor (its mean is v/R and R*S_R(v) has error dR^2 - ||v||^2)"
        )

    def bits(self, d, convention="values") -> float:
        self._check_bits_args(d, convention)
        return float(d)

    def __repr__(self) -> str:
        return f"UnbiasedSign(R={self.R:g}, on_violation={self.on_violation!r})"


class Blockwise(Compressor):
    r"""Apply a compressor per block of the last axis (layer-wise compression).

    Definition: the last axis is split into consecutive blocks of sizes :math:`d_1,\dots,d_L`
    (:math:`\sum_l d_l=d`); block l is compressed by :math:`\mathcal C_l`.

    Guarantee: the squared errors add up, so :math:`\alpha=\min_l\alpha_l(d_l)` and, for unbiased
    blocks, :math:`\omega=\max_l\omega_l(d_l)`; bits add up ([002]'s experiments [000]'s
    code: per-tensor compression).

    Args:
        compressor: one :class:`Compressor` used for every block, or a sequence of them, one per
            block (e.g. ``[TopK.from_ratio(0.1, s) for s in sizes]``).
        sizes: the block sizes, positive integers.

    Example:
        >>> Blockwise(TopK(1), [2, 2])(np.array([1.0, -3.0, 2.0, 0.5]))
        array([ 0., -3.,  2.,  0.])

    Notes:
        A random Blockwise still consumes exactly ``rng.random(v.shape)`` per call (one uniform per
        coordinate of the whole vector); block l uses the uniforms of its own coordinates.
    """

    name = "blockwise"

    def __init__(self, compressor, sizes: Sequence[int]):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise ValueError(f"sizes must be a non-empty sequence of integers in [1, inf]; got {sizes!r}")
        sizes = [check_int("sizes", s, low=1) for s in sizes]
        if not sizes:
            raise ValueError("sizes must be a non-empty sequence of integers in [1, inf]; got []")
        if isinstance(compressor, Compressor):
            blocks = [compressor] * len(sizes)
        else:
            blocks = list(compressor) if hasattr(compressor, "__iter__") else [compressor]
            if len(blocks) != len(sizes) or not all(isinstance(c, Compressor) for c in blocks):
                raise ValueError(
                    f"compressor must be a Compressor or a sequence of {len(sizes)} Compressors (one per "
                    f"block); got {compressor!r}"
                )
        self.sizes = tuple(sizes)
        self.compressors = tuple(blocks)
        self.random = any(c.random for c in blocks)
        self.unbiased = all(c.unbiased for c in blocks)
        self._bounds = np.cumsum((0,) + self.sizes)
        for c, s in zip(self.compressors, self.sizes):
            c.validate(s)

    @property
    def scale(self) -> float:
        scales = {float(c.scale) for c in self.compressors}
        if len(scales) != 1:
            raise ValueError(f"scale is defined for Blockwise only when all blocks share it; got {sorted(scales)}")
        return scales.pop()

    def validate(self, d) -> None:
        d = check_int("d", d, low=1)
        total = int(sum(self.sizes))
        if d != total:
            raise ValueError(f"d must equal sum(sizes)={total} for this Blockwise; got {d}")

    def _blocks(self):
        for c, a, b in zip(self.compressors, self._bounds[:-1], self._bounds[1:]):
            yield c, int(a), int(b)

    def _apply(self, v, u):
        parts = [c._apply(v[..., a:b], None if (u is None or not c.random) else u[..., a:b])
                 for c, a, b in self._blocks()]
        return np.concatenate(parts, axis=-1)

    def _torch(self, v, u):
        import torch

        parts = [c._torch(v[..., a:b], None if (u is None or not c.random) else u[..., a:b])
                 for c, a, b in self._blocks()]
        return torch.cat(parts, dim=-1)

    def alpha(self, d) -> float:
        self.validate(d)
        return min(c.alpha(s) for c, s in zip(self.compressors, self.sizes))

    def omega(self, d) -> float:
        self.validate(d)
        if not self.unbiased:
            return super().omega(d)
        return max(c.omega(s) for c, s in zip(self.compressors, self.sizes))

    def bits(self, d, convention="values") -> float:
        self._check_bits_args(d, convention)
        return float(sum(c.bits(s, convention) for c, s in zip(self.compressors, self.sizes)))

    def violations(self, v) -> int:
        """Sum of the blocks' violation counts (blocks without ``violations`` count 0)."""
        arr = _as_array(v)
        return sum(c.violations(arr[..., a:b]) for c, a, b in self._blocks() if hasattr(c, "violations"))

    def __repr__(self) -> str:
        if all(c is self.compressors[0] for c in self.compressors):
            return f"Blockwise({self.compressors[0]!r}, {list(self.sizes)})"
        return f"Blockwise({list(self.compressors)!r}, {list(self.sizes)})"


# ---------------------------------------------------------------------------------------------
# Check helpers (one source of truth for the tests and the claims ledger)
# ---------------------------------------------------------------------------------------------

def _nonzero_rows(v: np.ndarray) -> np.ndarray:
    s = np.max(np.abs(v), axis=-1, keepdims=True)
    if np.any(s == 0):
        raise ValueError("v must be nonzero in every row (the ratio ||C(v)-v||^2/||v||^2 needs ||v|| > 0)")
    return s


def contraction_ratio(C: Compressor, v, u=None) -> Pair:
    r"""Observed :math:`\|\mathcal C(v)-v\|^2/\|v\|^2` beside the stated :math:`1-\alpha(d)`.

    Serves ``C-TOPK``, ``C-RANDK`` (one draw per call; average over draws for the expectation) and
    ``C-SSIGN``. Batched over leading axes (observed has the batch shape). Both norms are
    computed on ``v / max|v|`` (per row), so the ratio is accurate across a huge dynamic range;
    this relies on C being positively homogeneous, as every contractive compressor here is.

    Args:
        C: a compressor with ``alpha`` (not :class:`Sign`/:class:`UnbiasedSign`).
        v: nonzero vector(s), last axis of length d.
        u: the uniforms for a random C (required then).

    Returns:
        ``Pair(observed, stated)``; the claim is ``observed <= stated`` (+ rounding), with
        equality for Top-K at equal magnitudes.
    """
    v = _as_array(v)
    d = v.shape[-1]
    stated = 1.0 - C.alpha(d)
    s = _nonzero_rows(v)
    cv = C.apply(v, u)
    e = (cv - v) / s
    w = v / s
    observed = np.sum(e * e, axis=-1) / np.sum(w * w, axis=-1)
    return Pair(observed if observed.ndim else float(observed), stated)


def _ranks_for_subset(d: int, subset) -> np.ndarray:
    """Uniforms that make Rand-K select exactly ``subset``: its members get the smallest values."""
    rest = [j for j in range(d) if j not in set(subset)]
    u = np.empty(d)
    for r, j in enumerate(list(subset) + rest):
        u[j] = (r + 0.5) / d
    return u


#: Largest number of masks :func:`enumerate_randk_moments` enumerates.
MAX_MASKS = 20_000


def enumerate_randk_moments(C: Compressor, v) -> dict[str, Pair]:
    r"""Exact mean and mean squared error of a Rand-K compressor by enumerating all C(d,k) masks.

    Every mask is produced by :meth:`Compressor.apply` with uniforms that rank its members first,
    so the code under test is the real map. Serves ``C-RANDK``.

    Stated values: :class:`RandK` -- mean :math:`\tfrac kd v`, error :math:`(1-\tfrac kd)\|v\|^2`;
    :class:`ScaledRandK` -- mean :math:`v`, error :math:`(\tfrac dk-1)\|v\|^2`.

    Args:
        C: a :class:`RandK` or :class:`ScaledRandK`.
        v: one vector of small dimension (at most ``MAX_MASKS`` masks).

    Returns:
        ``{"mean": Pair(E C(v), stated), "error": Pair(E||C(v)-v||^2, stated)}``.
    """
    if not isinstance(C, _RandKBase):
        raise ValueError(f"C must be a RandK or ScaledRandK; got {C!r}")
    v = _as_array(v)
    if v.ndim != 1:
        raise ValueError(f"v must be one vector (ndim 1); got shape {v.shape}")
    d = v.shape[0]
    C.validate(d)
    n_masks = comb(d, C.k)
    if n_masks > MAX_MASKS:
        raise ValueError(f"v must be small enough for enumeration: C(d, k) <= {MAX_MASKS}; got C({d}, {C.k}) = {n_masks}")
    subsets = list(itertools.combinations(range(d), C.k))
    U = np.stack([_ranks_for_subset(d, S) for S in subsets])
    out = C.apply(np.broadcast_to(v, U.shape), U)
    mean = out.mean(axis=0)
    err = float(np.mean(np.sum((out - v) ** 2, axis=-1)))
    sq = float(v @ v)
    if C.unbiased:
        stated_mean, stated_err = v.copy(), (d / C.k - 1.0) * sq
    else:
        stated_mean, stated_err = (C.k / d) * v, (1.0 - C.k / d) * sq
    return {"mean": Pair(mean, stated_mean), "error": Pair(err, stated_err)}


def sign_law(v, R, grid: int = 4096) -> dict[str, Pair]:
    r"""The law of :math:`S_R(v)` read off :meth:`UnbiasedSign.apply` over a grid of uniforms.

    For the midpoint grid :math:`u_m=(m+\tfrac12)/M`, :math:`m=0..M-1`, the fraction of grid
    points mapped to +1 equals :math:`\Pr[+1]` up to :math:`1/(2M)` (the map is a threshold in
    u). Serves ``C-SR``.

    Args:
        v: a vector with :math:`\|v\|_\infty\le R`.
        R: the bound, a real > 0.
        grid: M, the number of grid points (an integer >= 2).

    Returns:
        A dict of ``Pair(observed, expected)`` entries, namely ``p_plus`` with 1/2 + v/(2R),
        ``mean`` with v/R, ``var`` with 1 - v^2/R^2, ``error`` = E||R S_R(v) - v||^2 with
        dR^2 - ||v||^2, and ``resolution`` = 1/(2M) twice. The tolerance of ``p_plus`` is the
        resolution, that of ``mean`` and ``var`` twice and four times it.
    """
    C = UnbiasedSign(R)
    M = check_int("grid", grid, low=2)
    v = _as_array(v)
    if v.ndim != 1:
        raise ValueError(f"v must be one vector (ndim 1); got shape {v.shape}")
    u = (np.arange(M, dtype=np.float64) + 0.5) / M
    U = np.broadcast_to(u[:, None], (M, v.shape[0]))
    S = C.apply(np.broadcast_to(v, U.shape), U)
    p_plus = np.mean(S > 0, axis=0)
    mean = S.mean(axis=0)
    var = np.mean(S * S, axis=0) - mean ** 2
    err = float(np.mean(np.sum((C.R * S - v) ** 2, axis=-1)))
    R = C.R
    return {
        "p_plus": Pair(p_plus, 0.5 + v / (2 * R)),
        "mean": Pair(mean, v / R),
        "var": Pair(var, 1.0 - v ** 2 / R ** 2),
        "error": Pair(err, v.shape[0] * R ** 2 - float(v @ v)),
        "resolution": Pair(0.5 / M, 0.5 / M),
    }


def sign_monte_carlo(v, R, rng, samples: int = 20_000, confidence: float = 0.999) -> dict[str, Pair]:
    r"""Monte-Carlo moments of :math:`S_R(v)` with a Hoeffding half-width at a stated confidence.

    Each coordinate of :math:`S_R(v)` lies in [-1, 1], so by Hoeffding's inequality and a union
    bound over the d coordinates, with probability at least ``confidence`` every sample mean is
    within :math:`t=\sqrt{2\ln(2d/(1-\text{confidence}))/N}` of :math:`v_j/R`; since
    :math:`S_R(v)_j^2=1`, the sample variance :math:`1-\hat m_j^2` is then within :math:`2t` of
    :math:`1-v_j^2/R^2`. Serves ``C-SR``.

    Args:
        v: a vector with :math:`\|v\|_\infty\le R`.
        R: the bound, a real > 0.
        rng: a ``numpy.random.Generator`` (consumes ``rng.random((samples, d))``).
        samples: N, an integer >= 1.
        confidence: in (0, 1).

    Returns:
        A dict of ``Pair(observed, expected)`` entries, namely ``mean`` (sample mean with v/R),
        ``var`` (1 - mean^2 from the samples with 1 - v^2/R^2) and ``halfwidth`` (t and 2t, the
        tolerances of mean and var).
    """
    C = UnbiasedSign(R)
    N = check_int("samples", samples, low=1)
    conf = check_real("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    v = _as_array(v)
    if v.ndim != 1:
        raise ValueError(f"v must be one vector (ndim 1); got shape {v.shape}")
    d = v.shape[0]
    S = C(np.broadcast_to(v, (N, d)), rng)
    mean = S.mean(axis=0)
    var = np.mean(S * S, axis=0) - mean ** 2
    t = math.sqrt(2.0 * math.log(2.0 * d / (1.0 - conf)) / N)
    return {
        "mean": Pair(mean, v / C.R),
        "var": Pair(var, 1.0 - v ** 2 / C.R ** 2),
        "halfwidth": Pair(t, 2.0 * t),
    }


def scaled_sign_error(v) -> dict[str, Pair]:
    r"""Computed :math:`\|\mathcal C(v)-v\|^2` of :class:`ScaledSign` beside its closed form and bound.

    Closed form: :math:`\|v\|^2-\frac{\|v\|_1^2}{d}\big(2-\frac{\mathrm{nnz}(v)}{d}\big)`; bound:
    :math:`\|v\|^2-\|v\|_1^2/d` (equal to the closed form iff v has no zero entry). Computed on
    ``v / max|v|`` and rescaled by ``max|v|^2`` (both sides are 2-homogeneous), so a huge dynamic
    range neither overflows nor underflows. Serves ``C-SSIGN``.

    Args:
        v: one vector.

    Returns:
        A dict of ``Pair`` entries, namely ``error`` (computed with the closed form), ``bound``
        (computed with the bound) and ``norm_sq`` (||v||^2 twice, the scale for relative
        tolerances).
    """
    v = _as_array(v)
    if v.ndim != 1:
        raise ValueError(f"v must be one vector (ndim 1); got shape {v.shape}")
    d = v.shape[0]
    s = float(np.max(np.abs(v)))
    if s == 0.0:
        return {"error": Pair(0.0, 0.0), "bound": Pair(0.0, 0.0), "norm_sq": Pair(0.0, 0.0)}
    w = v / s
    e = ScaledSign().apply(w) - w
    sq, l1, nnz = float(w @ w), float(np.sum(np.abs(w))), int(np.count_nonzero(w))
    computed = float(e @ e) * s * s
    closed = (sq - l1 * l1 / d * (2.0 - nnz / d)) * s * s
    bound = (sq - l1 * l1 / d) * s * s
    return {"error": Pair(computed, closed), "bound": Pair(computed, bound), "norm_sq": Pair(sq * s * s, sq * s * s)}
