"""Property tests of eftheory.compressors: claims C-TOPK, C-RANDK, C-SSIGN, C-SR, bit costs,
NumPy/torch equality and the random-draw contract.

Tolerances: ``REL`` = 1e-12 relative is the rounding allowance of float64 sums over at most a few
dozen terms; it never absorbs a modelling error (a wrong constant moves the figures by > 1e-3).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from eftheory import compressors as cp
from eftheory.compressors import (
    Blockwise,
    Identity,
    RandK,
    ScaledRandK,
    ScaledSign,
    Sign,
    TopK,
    UnbiasedSign,
)

REL = 1e-12

# ---------------------------------------------------------------------------------------------
# adversarial vectors: zeros, ties, equal magnitudes, 1e-150 .. 1e150 mixed, d = 1
# ---------------------------------------------------------------------------------------------

_huge_range = st.builds(
    lambda s, m, e: s * m * 10.0 ** e,
    st.sampled_from([-1.0, 1.0]),
    st.sampled_from([1.0, 1.5, 3.0]),
    st.integers(-150, 150),
)
_entry = st.one_of(
    st.just(0.0),
    st.sampled_from([1.0, -1.0, 2.0, -2.0]),
    _huge_range,
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)


@st.composite
def vectors(draw, min_d=1, max_d=12, nonzero=False):
    d = draw(st.integers(min_d, max_d))
    kind = draw(st.sampled_from(["mixed", "equal", "sparse"]))
    if kind == "equal":
        c = draw(st.sampled_from([1.0, 3.0, 1e-150, 7e149]))
        signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=d, max_size=d))
        v = np.array(signs) * c
    else:
        v = np.array(draw(st.lists(_entry, min_size=d, max_size=d)), dtype=np.float64)
        if kind == "sparse":
            v[: d // 2] = 0.0
            v = v[::-1].copy()              # zeros at the end, behind the nonzero entries
    if nonzero:
        assume(np.any(v != 0.0))
    return v


@st.composite
def vector_and_k(draw, **kw):
    v = draw(vectors(**kw))
    k = draw(st.integers(1, v.shape[0]))
    return v, k


def _bits_equal(a, b) -> bool:
    a, b = np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


# ---------------------------------------------------------------------------------------------
# C-TOPK
# ---------------------------------------------------------------------------------------------

@given(vector_and_k(nonzero=True))
def test_topk_ratio_at_most_one_minus_k_over_d(vk):
    v, k = vk
    observed, stated = cp.contraction_ratio(TopK(k), v)
    assert stated == pytest.approx(1 - k / v.shape[0], rel=0, abs=0)
    assert observed <= stated * (1 + REL) + 1e-300


@given(st.integers(1, 40), st.data())
def test_topk_ratio_is_tight_at_equal_magnitudes(d, data):
    k = data.draw(st.integers(1, d))
    c = data.draw(st.sampled_from([1.0, 1e-150, 1e150, 0.3]))
    signs = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=d, max_size=d)))
    observed, stated = cp.contraction_ratio(TopK(k), c * signs)
    assert abs(observed - stated) <= REL * max(stated, 1e-300)


@given(vector_and_k())
def test_topk_keeps_largest_with_lowest_index_ties(vk):
    v, k = vk
    out = TopK(k)(v)
    keep = sorted(range(v.shape[0]), key=lambda i: (-abs(v[i]), i))[:k]
    expected = np.zeros_like(v)
    expected[keep] = v[keep]
    assert _bits_equal(out, expected)


def test_topk_tie_rule_examples():
    assert np.array_equal(TopK(2)(np.array([1.0, -1.0, 1.0, 1.0])), [1.0, -1.0, 0.0, 0.0])
    assert np.array_equal(TopK(1)(np.array([0.0, 0.0, 0.0])), [0.0, 0.0, 0.0])
    assert np.array_equal(TopK(1)(np.array([5.0])), [5.0])
    assert np.array_equal(TopK(2)(np.array([[2.0, 3.0, -3.0], [1.0, 1.0, 1.0]])), [[0, 3, -3], [1, 1, 0]])


def test_topk_from_ratio_and_alpha():
    assert TopK.from_ratio(0.1, 100).k == 10
    assert TopK.from_ratio(0.01, 50).k == 1
    assert TopK.from_ratio(1.0, 7).k == 7
    assert TopK(3).alpha(12) == 0.25
    assert RandK.from_ratio(0.5, 9).k == 4
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, d=10\]; got 12"):
        TopK(12).validate(10)


# ---------------------------------------------------------------------------------------------
# C-RANDK (exact enumeration of all masks)
# ---------------------------------------------------------------------------------------------

@given(vector_and_k(max_d=7))
def test_randk_biased_exact_moments(vk):
    v, k = vk
    v = v / max(np.max(np.abs(v)), 1.0)      # moments are 1- and 2-homogeneous: keep sums in range
    m = cp.enumerate_randk_moments(RandK(k), v)
    scale = max(float(v @ v), 1e-300)
    assert np.allclose(m["mean"].observed, m["mean"].stated, rtol=REL, atol=REL * math.sqrt(scale))
    assert abs(m["error"].observed - m["error"].stated) <= REL * scale
    assert m["error"].stated == pytest.approx((1 - RandK(k).alpha(v.shape[0])) * float(v @ v), rel=REL)


@given(vector_and_k(max_d=7))
def test_randk_scaled_exact_unbiased_with_omega(vk):
    v, k = vk
    v = v / max(np.max(np.abs(v)), 1.0)
    C = ScaledRandK(k)
    d = v.shape[0]
    m = cp.enumerate_randk_moments(C, v)
    scale = max(float(v @ v), 1e-300)
    assert np.allclose(m["mean"].observed, v, rtol=REL, atol=REL * math.sqrt(scale))
    assert abs(m["error"].observed - C.omega(d) * float(v @ v)) <= REL * scale
    assert C.omega(d) == d / k - 1


def test_randk_enumeration_rejects_a_wrong_constant():
    # negative control: the scaled error is (d/k - 1)||v||^2, not (1 - k/d)||v||^2
    v = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    m = cp.enumerate_randk_moments(ScaledRandK(2), v)
    assert abs(m["error"].observed - (1 - 2 / 5) * float(v @ v)) > 1.0
    biased = cp.enumerate_randk_moments(RandK(2), v)
    assert not np.allclose(biased["mean"].observed, v)


@given(st.integers(1, 30), st.data())
def test_randk_mask_has_exactly_k_entries(d, data):
    k = data.draw(st.integers(1, d))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((3, d)) + 5.0          # no zero entries
    for C in (RandK(k), ScaledRandK(k)):
        out = C(v, rng)
        assert np.all(np.count_nonzero(out, axis=-1) == k)
    # the mask is the k smallest uniforms; ties (probability 0) by the lowest index
    u = np.full(d, 0.5)
    assert np.array_equal(np.nonzero(RandK(k).apply(np.ones(d), u))[0], np.arange(k))


def test_randk_is_scaled_randk_over_omega_plus_one():
    rng = np.random.default_rng(3)
    v, u = rng.standard_normal((4, 9)), rng.random((4, 9))
    C = ScaledRandK(3)
    assert np.allclose(RandK(3).apply(v, u), C.apply(v, u) / (C.omega(9) + 1), rtol=1e-15, atol=0)


def test_scaled_randk_alpha_only_above_half():
    assert ScaledRandK(4).alpha(4) == 1.0
    assert ScaledRandK(3).alpha(4) == pytest.approx(2 - 4 / 3)
    v = np.array([1.0, 2.0, -1.0, 0.5])
    m = cp.enumerate_randk_moments(ScaledRandK(3), v)
    assert m["error"].observed / float(v @ v) == pytest.approx(1 - ScaledRandK(3).alpha(4), rel=REL)
    with pytest.raises(ValueError, match="k > d/2"):
        ScaledRandK(2).alpha(4)


# ---------------------------------------------------------------------------------------------
# C-SSIGN
# ---------------------------------------------------------------------------------------------

@given(vectors())
def test_scaled_sign_error_closed_form_and_bound(v):
    r = cp.scaled_sign_error(v)
    scale = max(r["norm_sq"].observed, 1e-300)
    assert abs(r["error"].observed - r["error"].stated) <= REL * scale
    assert r["bound"].observed <= r["bound"].stated + REL * scale
    if np.all(v != 0):      # equality iff there is no zero entry
        assert abs(r["bound"].observed - r["bound"].stated) <= REL * scale


@given(vectors(nonzero=True))
def test_scaled_sign_ratio_within_worst_case_alpha(v):
    observed, stated = cp.contraction_ratio(ScaledSign(), v)
    d = v.shape[0]
    assert stated == 1 - 1 / d
    w = v / np.max(np.abs(v))
    per_vector = 1 - np.sum(np.abs(w)) ** 2 / (d * float(w @ w))
    assert observed <= per_vector + REL
    assert observed <= stated + REL


@pytest.mark.parametrize("d", [2, 5, 50])
def test_scaled_sign_alpha_one_over_d_is_approached(d):
    eps = 1e-9
    v = np.array([1.0] + [eps] * (d - 1))
    observed, stated = cp.contraction_ratio(ScaledSign(), v)
    assert observed <= stated
    assert stated - observed <= 3 * eps          # the analytic gap is 2(d-1)eps/d + O(eps^2)
    # equal magnitudes: exact, alpha(v) = 1
    assert cp.contraction_ratio(ScaledSign(), np.array([2.0, -2.0] * d))[0] == 0.0


def test_sign_of_zero_is_zero():
    v = np.array([0.0, -0.0, 2.0, -3.0])
    assert _bits_equal(Sign()(v), [0.0, 0.0, 1.0, -1.0])
    assert _bits_equal(ScaledSign()(v), [0.0, 0.0, 1.25, -1.25])
    assert np.array_equal(ScaledSign()(np.zeros(3)), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# C-SR
# ---------------------------------------------------------------------------------------------

@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=8),
       st.sampled_from([1.0, 2.5, 1e-3]))
def test_sign_law_exact_from_apply(entries, R):
    v = np.array(entries) * R
    law = cp.sign_law(v, R, grid=2048)
    res = law["resolution"].observed
    assert np.all(np.abs(law["p_plus"].observed - law["p_plus"].stated) <= res + 1e-15)
    assert np.all(np.abs(law["mean"].observed - law["mean"].stated) <= 2 * res + 1e-15)
    assert np.all(np.abs(law["var"].observed - law["var"].stated) <= 4 * res + 1e-15)
    d = v.shape[0]
    assert abs(law["error"].observed - law["error"].stated) <= 4 * res * d * R * R + 1e-12 * d * R * R


def test_sign_law_extremes_are_deterministic():
    law = cp.sign_law(np.array([1.0, -1.0, 0.0]), 1.0, grid=1000)
    assert np.array_equal(law["p_plus"].observed, [1.0, 0.0, 0.5])


def test_sign_monte_carlo_at_999_confidence():
    v = np.array([0.9, -0.4, 0.0, 0.25, -1.0, 1.0])
    R = 1.0
    mc = cp.sign_monte_carlo(v, R, np.random.default_rng(20240601), samples=20_000, confidence=0.999)
    t_mean, t_var = mc["halfwidth"]
    assert t_mean == pytest.approx(math.sqrt(2 * math.log(2 * 6 / 0.001) / 20_000))
    assert np.all(np.abs(mc["mean"].observed - mc["mean"].stated) <= t_mean)
    assert np.all(np.abs(mc["var"].observed - mc["var"].stated) <= t_var)
    # negative control: the same interval rejects the mean v/(2R) of a wrongly scaled law
    assert np.any(np.abs(mc["mean"].observed - v / (2 * R)) > t_mean)


def test_unbiased_sign_scale_and_variance_docs():
    C = UnbiasedSign(2.0)
    assert C.scale == 2.0 and C.random and not C.unbiased
    with pytest.raises(ValueError, match="biased"):
        C.omega(3)
    with pytest.raises(ValueError, match="not a contractive"):
        C.alpha(3)


def test_unbiased_sign_violation_modes():
    v = np.array([[0.5, 3.0], [-4.0, 0.0]])
    u = np.full(v.shape, 0.999)
    with pytest.raises(ValueError, match=r"R .*max \|v_j\| = 4 > R = 2"):
        UnbiasedSign(2.0).apply(v, u)
    C = UnbiasedSign(2.0, on_violation="clip")
    assert C.violations(v) == 2
    grid = np.linspace(0.0, 1.0, 257)[:-1]
    for g in grid:
        out = C.apply(v, np.full(v.shape, g))
        assert out[0, 1] == 1.0 and out[1, 0] == -1.0   # probability clipped to 1 and to 0
    # no violation at |v_j| = R exactly; the raise mode then agrees with the clip mode
    w = np.array([2.0, -2.0, 1.0])
    uw = np.array([0.999, 0.0, 0.7])
    assert UnbiasedSign(2.0).violations(w) == 0
    assert np.array_equal(UnbiasedSign(2.0).apply(w, uw), C.apply(w, uw))
    assert np.array_equal(UnbiasedSign(2.0).apply(w, uw), [1.0, -1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# bits under both conventions
# ---------------------------------------------------------------------------------------------

BITS = [
    # compressor, d, "values", "values+indices"
    (Identity(), 10, 320, 320),
    (TopK(3), 1000, 96, 96 + 3 * 10),
    (TopK(200), 1000, 6400, 6400 + 1000),           # bitmap cheaper than 200*10 index bits
    (TopK(1), 1, 32, 32),
    (RandK(3), 1000, 96, 96),                        # shared seed: no index bits
    (RandK(3, shared_seed=False), 1000, 96, 126),
    (ScaledRandK(3), 1000, 96, 96),
    (ScaledRandK(3, shared_seed=False), 1000, 96, 126),
    (ScaledSign(), 100, 132, 132),
    (Sign(), 100, 100, 100),
    (UnbiasedSign(1.0), 100, 100, 100),
    (Blockwise(ScaledSign(), [10, 20]), 30, 30 + 64, 30 + 64),
    (Blockwise(TopK(2), [8, 16]), 24, 128, 128 + 2 * 3 + 2 * 4),
]


@pytest.mark.parametrize("C,d,values,with_indices", BITS, ids=[repr(b[0]) for b in BITS])
def test_bits_both_conventions(C, d, values, with_indices):
    assert C.bits(d) == values
    assert C.bits(d, convention="values") == values
    assert C.bits(d, convention="values+indices") == with_indices


# ---------------------------------------------------------------------------------------------
# Blockwise
# ---------------------------------------------------------------------------------------------

def test_blockwise_is_per_block_application_and_min_alpha():
    rng = np.random.default_rng(7)
    sizes = [3, 5, 2]
    v, u = rng.standard_normal((2, 4, 10)), rng.random((2, 4, 10))
    for inner in (TopK(2), RandK(2), ScaledSign()):
        B = Blockwise(inner, sizes)
        out = B.apply(v, u)
        expected = np.concatenate([inner.apply(v[..., a:b], u[..., a:b] if inner.random else None)
                                   for a, b in [(0, 3), (3, 8), (8, 10)]], axis=-1)
        assert _bits_equal(out, expected)
    assert Blockwise(TopK(2), sizes).alpha(10) == 2 / 5
    assert Blockwise(ScaledSign(), sizes).alpha(10) == 1 / 5
    assert Blockwise([TopK.from_ratio(0.5, s) for s in sizes], sizes).alpha(10) == 1 / 3
    assert Blockwise(ScaledRandK(1), sizes).omega(10) == 4.0
    observed, stated = cp.contraction_ratio(Blockwise(TopK(1), [2, 2]), np.array([1.0, 1.0, 1.0, 1.0]))
    assert observed == stated == 0.5


# ---------------------------------------------------------------------------------------------
# randomness contract: exactly rng.random(v.shape) per call
# ---------------------------------------------------------------------------------------------

ALL = [Identity(), TopK(2), RandK(2), ScaledRandK(3), ScaledSign(), Sign(),
       UnbiasedSign(5.0), UnbiasedSign(0.5, on_violation="clip"),
       Blockwise(RandK(1), [2, 3, 2]), Blockwise([TopK(1), UnbiasedSign(9.0)], [3, 4])]


@pytest.mark.parametrize("C", ALL, ids=repr)
@pytest.mark.parametrize("shape", [(7,), (3, 7), (2, 3, 7)])
def test_draw_contract(C, shape):
    rng = np.random.default_rng(11)
    v = np.round(rng.standard_normal(shape), 1)
    twin = copy.deepcopy(rng)
    out = C(v, rng)
    if C.random:
        u = twin.random(shape)
        assert _bits_equal(out, C.apply(v, u))
    else:
        assert _bits_equal(out, C.apply(v))
    assert np.array_equal(rng.random(4), twin.random(4))      # both generators are in the same state


def test_random_compressor_needs_rng_deterministic_ignores_it():
    with pytest.raises(ValueError, match="rng"):
        RandK(1)(np.ones(3))
    assert np.array_equal(TopK(1)(np.array([1.0, 2.0])), [0.0, 2.0])


# ---------------------------------------------------------------------------------------------
# NumPy == torch (float64, CPU, bit for bit), batched (S, n, d)
# ---------------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), st.integers(0, 2**32 - 1),
       st.sampled_from(["normal", "ties", "huge", "zeros"]))
def test_numpy_equals_torch_cpu(S, n, d, seed, kind):
    rng = np.random.default_rng(seed)
    v = _batch(rng, (S, n, d), kind)
    u = rng.random(v.shape)
    for C in _every_compressor(d):
        a = C.apply(v, u)
        b = C.torch(torch.from_numpy(v), u=torch.from_numpy(u))
        assert b.dtype == torch.float64 and b.device.type == "cpu"
        assert _bits_equal(a, b.numpy()), repr(C)


def test_torch_draws_from_the_generator():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    v = torch.randn(2, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = RandK(2).torch(v, generator=g1)
    u = torch.rand(v.shape, generator=g2, dtype=v.dtype)
    assert torch.equal(out, RandK(2).torch(v, u=u))
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
    with pytest.raises(ValueError, match="generator"):
        RandK(2).torch(v)


@pytest.mark.gpu
def test_numpy_equals_torch_cuda():
    rng = np.random.default_rng(1)
    for kind in ("normal", "ties", "huge", "zeros"):
        for d in (1, 7, 300):
            v = _batch(rng, (3, 4, d), kind)
            u = rng.random(v.shape)
            for C in _every_compressor(d):
                a = C.apply(v, u)
                b = C.torch(torch.from_numpy(v).cuda(), u=torch.from_numpy(u).cuda())
                assert b.device.type == "cuda"
                b = b.cpu().numpy()
                if isinstance(C, ScaledSign):   # the CUDA cumulative sum adds in another order
                    assert np.allclose(a, b, rtol=1e-13, atol=0), repr(C)
                else:
                    assert _bits_equal(a, b), repr(C)


def _batch(rng, shape, kind):
    if kind == "ties":
        return rng.integers(-2, 3, shape).astype(np.float64)
    if kind == "huge":
        return rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.integers(-150, 151, shape)
    if kind == "zeros":
        v = rng.standard_normal(shape)
        v[rng.random(shape) < 0.5] = 0.0
        return v
    return rng.standard_normal(shape)


def _every_compressor(d):
    k = max(1, d // 2)
    half = d // 2
    out = [Identity(), TopK(k), TopK(d), RandK(k), ScaledRandK(k), ScaledSign(), Sign(),
           UnbiasedSign(1e151, on_violation="raise"), UnbiasedSign(0.7, on_violation="clip")]
    if half >= 1:
        out.append(Blockwise([TopK(1), ScaledRandK(1)], [half, d - half]))
    return out


# ---------------------------------------------------------------------------------------------
# The NaN rule: a NaN or inf input coordinate is never dropped (NumPy, torch method, engine kernel)
# ---------------------------------------------------------------------------------------------

def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal entries (NaN equal to NaN) with equal signs of the finite entries (signed zeros)."""
    fin = np.isfinite(a)
    return (np.array_equal(a, b, equal_nan=True) and np.array_equal(fin, np.isfinite(b))
            and np.array_equal(np.signbit(a[fin]), np.signbit(b[fin])))


@given(st.integers(1, 3), st.integers(1, 12), st.integers(0, 2**32 - 1),
       st.lists(st.tuples(st.integers(0, 11), st.sampled_from([math.nan, math.inf, -math.inf])),
                min_size=1, max_size=5),
       st.sampled_from(["normal", "ties", "zeros"]))
def test_non_finite_rule_is_the_same_on_every_backend(rows, d, seed, bad, kind):
    from algorithms.torch._kernels import compress as engine_compress

    rng = np.random.default_rng(seed)
    v = _batch(rng, (rows, d), kind)
    for j, value in bad:
        v[rng.integers(rows), j % d] = value
    u = rng.random(v.shape)
    nonfinite = ~np.isfinite(v)
    for C in _every_compressor(d):
        if isinstance(C, UnbiasedSign) and C.on_violation == "raise":
            for call in (lambda: C.apply(v, u), lambda: C.torch(torch.from_numpy(v), u=torch.from_numpy(u))):
                with pytest.raises(ValueError, match="R must bound"):
                    call()
            continue
        a = C.apply(v, u)
        b = C.torch(torch.from_numpy(v), u=torch.from_numpy(u)).numpy()
        e = engine_compress(C, torch.from_numpy(v.copy()), u=torch.from_numpy(u)).numpy()
        assert _same(a, b) and _same(a, e), repr(C)
        if isinstance(C, Identity):
            assert _same(a, v)
            continue
        # nothing non-finite vanishes: NaN at every non-finite input
        assert np.all(np.isnan(a[nonfinite])), repr(C)
        if isinstance(C, ScaledSign):     # one non-finite entry makes the row's scale ||v||_1 / d non-finite
            assert np.all(~np.isfinite(a[nonfinite.any(axis=-1)])), repr(C)
            continue
        assert np.array_equal(np.isnan(a), nonfinite), repr(C)    # and only there


def test_top_k_ranks_nan_as_the_largest_magnitude():
    v = np.array([np.nan, 1.0, 2.0, 3.0])
    expect = np.array([np.nan, 0.0, 0.0, 3.0])
    assert _same(TopK(2)(v), expect)
    assert _same(TopK(2).torch(torch.from_numpy(v)).numpy(), expect)
    from algorithms.torch._kernels import compress as engine_compress

    assert _same(engine_compress(TopK(2), torch.from_numpy(v)).numpy(), expect)
    # a sign of NaN is NaN, not 0; Rand-K does not drop an unselected NaN
    assert np.isnan(Sign()(v)[0]) and np.isnan(RandK(1).apply(v, np.array([0.9, 0.1, 0.5, 0.6]))[0])
