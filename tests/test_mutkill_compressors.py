"""Documented behaviour of eftheory.compressors that the older tests left unchecked.

Validation messages (the parameter named first), the torch twin's handling of ``u``, ties and devices,
the bit cost of index sets, Blockwise violation counts, and the stated side of the check helpers
(contraction_ratio, enumerate_randk_moments, sign_law, sign_monte_carlo, scaled_sign_error).

Every expected value is a closed form from a docstring, the NumPy twin of the same map, or a
hand computation on a vector of a few entries. Device checks use torch's "meta" device (present on
every machine): the compressors state that the output lives on the device of ``v``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from eftheory import compressors as cp
from eftheory.compressors import Blockwise, Identity, RandK, ScaledRandK, Sign, TopK, UnbiasedSign

META = torch.device("meta")


# ---------------------------------------------------------------------------------------------
# Compressor.torch: validation messages
# ---------------------------------------------------------------------------------------------

def test_torch_rejects_non_tensor_naming_its_type():
    with pytest.raises(ValueError, match=r"^v must be a torch\.Tensor; got list$"):
        TopK(1).torch([1.0, 2.0])


def test_torch_rejects_scalar_tensor():
    with pytest.raises(ValueError, match="^" + re.escape(
            "v must have at least one axis (compressors act on the last axis); got a scalar")):
        TopK(1).torch(torch.tensor(1.0))


def test_torch_random_needs_generator_naming_what_was_given():
    with pytest.raises(ValueError, match=r"^generator must be a torch\.Generator \(or pass u\) for the random "
                                         r"compressor RandK\(k=1\); got str$"):
        RandK(1).torch(torch.ones(3), generator="seed")


def test_torch_u_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match="^" + re.escape("u must have the shape of v, (2, 3); got (3,)")):
        RandK(1).torch(torch.ones(2, 3), u=np.zeros(3))


def test_torch_u_takes_the_dtype_of_v_for_unbiased_sign():
    # u is converted to v's dtype (docstring: same device and dtype as v). In float32,
    # 0.49999999999 rounds to 0.5, and S_R(0) is +1 iff u < 1/2: so -1.
    v = torch.zeros(4, dtype=torch.float32)
    u = np.full(4, 0.49999999999)
    out = UnbiasedSign(1.0).torch(v, u=u)
    assert out.dtype == torch.float32
    assert torch.equal(out, -torch.ones(4))
    assert torch.equal(out, UnbiasedSign(1.0).torch(v, u=torch.as_tensor(u, dtype=torch.float32)))


def test_torch_u_takes_the_dtype_of_v_for_randk_ties():
    # two uniforms distinct in float64 but equal in float32: the float32 tie goes to the lowest index
    v = torch.tensor([5.0, 6.0, 7.0], dtype=torch.float32)
    u = np.array([0.30000001, 0.3, 0.9])
    assert np.float32(u[0]) == np.float32(u[1])
    out = RandK(1).torch(v, u=u)
    assert torch.equal(out, torch.tensor([5.0, 0.0, 0.0]))


# ---------------------------------------------------------------------------------------------
# ties: the torch map equals apply "bit for bit ... (ties included)"
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d,k", [(64, 5), (2048, 300)])
def test_randk_torch_breaks_uniform_ties_by_lowest_index(d, k):
    # all uniforms tied: the stable sort keeps the first k coordinates
    v = np.arange(1.0, d + 1.0)
    u = np.full(d, 0.25)
    expected = np.where(np.arange(d) < k, v, 0.0)
    np.testing.assert_array_equal(RandK(k).apply(v, u), expected)
    out = RandK(k).torch(torch.as_tensor(v), u=torch.as_tensor(u)).numpy()
    np.testing.assert_array_equal(out, expected)
    out = ScaledRandK(k).torch(torch.as_tensor(v), u=torch.as_tensor(u)).numpy()
    np.testing.assert_array_equal(out, expected * (d / k))


@pytest.mark.parametrize("d,k", [(64, 5), (2048, 300)])
def test_topk_torch_breaks_magnitude_ties_by_lowest_index(d, k):
    v = np.where(np.arange(d) % 2 == 0, 1.0, -1.0)
    expected = np.where(np.arange(d) < k, v, 0.0)
    np.testing.assert_array_equal(TopK(k).apply(v), expected)
    np.testing.assert_array_equal(TopK(k).torch(torch.as_tensor(v)).numpy(), expected)


def test_unbiased_sign_torch_threshold_is_strict():
    # +1 iff u_j < 1/2 + v_j/(2R): at u = p exactly the output is -1
    C = UnbiasedSign(2.0)
    v = np.array([0.0, 1.0, -1.0])
    u = np.array([0.5, 0.75, 0.25])
    np.testing.assert_array_equal(C.apply(v, u), [-1.0, -1.0, -1.0])
    np.testing.assert_array_equal(C.torch(torch.as_tensor(v), u=torch.as_tensor(u)).numpy(), [-1.0, -1.0, -1.0])


def test_unbiased_sign_torch_raise_mode():
    C = UnbiasedSign(2.0)
    with pytest.raises(ValueError, match=re.escape("got max |v_j| = 3 > R = 2")):
        C.torch(torch.tensor([1.0, -3.0]), u=torch.zeros(2))
    # |v_j| = R is allowed (the assumption is ||v||_inf <= R)
    out = C.torch(torch.tensor([2.0, -2.0]), u=torch.full((2,), 0.5))
    np.testing.assert_array_equal(out.numpy(), [1.0, -1.0])


# ---------------------------------------------------------------------------------------------
# devices: the output lives on v's device ("meta" exists on every machine)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("C", [TopK(2), RandK(2), ScaledRandK(2), UnbiasedSign(1.0, "clip")], ids=repr)
def test_torch_output_on_the_device_of_v(C):
    v = torch.zeros((2, 3), device=META, dtype=torch.float64)
    kw = {"u": torch.zeros((2, 3), device=META)} if C.random else {}
    out = C.torch(v, **kw)
    assert out.device == META and out.shape == (2, 3) and out.dtype == torch.float64


@pytest.mark.parametrize("C", [RandK(2), ScaledRandK(2), UnbiasedSign(1.0, "clip")], ids=repr)
def test_torch_draws_uniforms_on_the_device_of_v(C):
    gen = torch.Generator().manual_seed(0)
    out = C.torch(torch.zeros((2, 3), device=META), generator=gen)
    assert out.device == META and out.shape == (2, 3)


@pytest.mark.parametrize("C", [RandK(2), UnbiasedSign(1.0, "clip")], ids=repr)
def test_torch_moves_given_uniforms_to_the_device_of_v(C):
    out = C.torch(torch.zeros((2, 3), device=META), u=np.zeros((2, 3)))
    assert out.device == META


# ---------------------------------------------------------------------------------------------
# constants and bits
# ---------------------------------------------------------------------------------------------

def test_identity_omega_is_zero_and_validates_d():
    assert Identity().omega(7) == 0.0
    with pytest.raises(ValueError, match=r"^d must be"):
        Identity().omega(0)


def test_index_bits_at_d_2():
    # ceil(log2 2) = 1 bit per index (cheaper than or equal to the 2-bit bitmap)
    assert TopK(1).bits(2, "values+indices") == 32 + 1
    assert TopK(2).bits(2, "values+indices") == 64 + 2
    assert RandK(1, shared_seed=False).bits(2, "values+indices") == 33


def test_from_ratio_messages_and_kwargs():
    with pytest.raises(ValueError, match=r"^ratio must lie in \(0, 1\]"):
        TopK.from_ratio(1.5, 10)
    with pytest.raises(ValueError, match=r"^d must be"):
        TopK.from_ratio(0.5, 0)
    C = RandK.from_ratio(0.25, 10, shared_seed=False)
    assert C.k == 2 and C.shared_seed is False


def test_sign_alpha_message():
    with pytest.raises(ValueError, match="^" + re.escape(
            "alpha is undefined for Sign: it is not a contractive compressor (||sign(v)|| does not scale "
            "with ||v||); use ScaledSign (alpha = 1/d) for error feedback")):
        Sign().alpha(3)


def test_unbiased_sign_alpha_message():
    with pytest.raises(ValueError, match="^" + re.escape(
            "alpha is undefined for UnbiasedSign: S_R outputs +-1 whatever ||v|| is, so it is not a "
            "contractive compressor (its mean is v/R and R*S_R(v) has error dR^2 - ||v||^2)")):
        UnbiasedSign(1.0).alpha(3)


def test_blockwise_violations_sum_over_blocks():
    # block 1: UnbiasedSign(R=1) on 3 coords (two exceed 1); block 2: TopK (no violations);
    # block 3: UnbiasedSign(R=5) on 2 coords (one exceeds 5)
    C = Blockwise([UnbiasedSign(1.0, "clip"), TopK(1), UnbiasedSign(5.0, "clip")], [3, 2, 2])
    v = np.array([2.0, 0.5, -3.0, 9.0, 9.0, 6.0, 4.0])
    assert C.violations(v) == 3
    assert C.violations(np.zeros(7)) == 0
    assert Blockwise(TopK(1), [2, 2]).violations(np.ones(4)) == 0


# ---------------------------------------------------------------------------------------------
# check helpers
# ---------------------------------------------------------------------------------------------

def test_nonzero_rows_message():
    with pytest.raises(ValueError, match=r"^" + re.escape(
            "v must be nonzero in every row (the ratio ||C(v)-v||^2/||v||^2 needs ||v|| > 0)") + r"$"):
        cp.contraction_ratio(TopK(1), np.zeros(3))


def test_contraction_ratio_random_uses_u():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    u = np.array([0.9, 0.1, 0.5, 0.2])        # RandK(2) keeps coordinates 1 and 3
    obs, stated = cp.contraction_ratio(RandK(2), v, u)
    assert obs == pytest.approx((1.0 + 9.0) / 30.0, rel=1e-14)
    assert stated == 0.5


def test_contraction_ratio_batched_is_per_row_and_scalar_is_float():
    v = np.array([[3.0, -1.0, 0.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    obs, stated = cp.contraction_ratio(TopK(1), v)
    assert obs.shape == (2,)
    np.testing.assert_allclose(obs, [10.0 / 26.0, 3.0 / 4.0], rtol=1e-14)
    assert stated == 0.75
    one, _ = cp.contraction_ratio(TopK(1), v[0])
    assert type(one) is float and one == pytest.approx(10.0 / 26.0, rel=1e-14)


@pytest.mark.parametrize("d,subset", [(5, (1, 3)), (4, (0,)), (6, (5, 2, 0))])
def test_ranks_for_subset_are_uniforms_ranking_the_subset_first(d, subset):
    u = cp._ranks_for_subset(d, subset)
    assert np.all(u >= 0.0) and np.all(u < 1.0)
    # midpoints (r + 1/2)/d of the d equal cells of [0, 1)
    np.testing.assert_allclose(np.sort(u), (np.arange(d) + 0.5) / d, rtol=0, atol=1e-15)
    assert set(np.argsort(u)[: len(subset)]) == set(subset)


def test_enumerate_randk_moments_rejects_matrix():
    with pytest.raises(ValueError, match="^" + re.escape("v must be one vector (ndim 1); got shape (2, 2)")):
        cp.enumerate_randk_moments(RandK(1), np.ones((2, 2)))


# -- sign_law ---------------------------------------------------------------------------------

def test_sign_law_resolution_and_default_grid():
    res = cp.sign_law(np.array([0.5, -0.25]), 1.0, grid=10)["resolution"]
    assert res == (0.05, 0.05)
    # the default grid is M = 4096 (signature), resolution 1/(2M)
    assert cp.sign_law(np.array([0.5]), 1.0)["resolution"] == (0.5 / 4096, 0.5 / 4096)


def test_sign_law_validation_messages():
    with pytest.raises(ValueError, match=r"^grid must be an integer in \[2, inf\]"):
        cp.sign_law(np.array([0.5]), 1.0, grid=1)
    with pytest.raises(ValueError, match="^" + re.escape("v must be one vector (ndim 1); got shape (1, 2)")):
        cp.sign_law(np.ones((1, 2)) * 0.5, 1.0)


# -- sign_monte_carlo -------------------------------------------------------------------------

def _hoeffding(d, conf, N):
    return math.sqrt(2.0 * math.log(2.0 * d / (1.0 - conf)) / N)


def test_sign_monte_carlo_halfwidth_closed_form():
    v = np.array([0.5, -0.25, 0.0])
    out = cp.sign_monte_carlo(v, 1.0, np.random.default_rng(0), samples=500, confidence=0.99)
    t = _hoeffding(3, 0.99, 500)
    assert out["halfwidth"].observed == pytest.approx(t, rel=1e-14)
    assert out["halfwidth"].stated == pytest.approx(2.0 * t, rel=1e-14)


def test_sign_monte_carlo_default_samples():
    # default N = 20_000 (signature) and confidence 0.999
    out = cp.sign_monte_carlo(np.array([0.5]), 1.0, np.random.default_rng(0))
    assert out["halfwidth"].observed == pytest.approx(_hoeffding(1, 0.999, 20_000), rel=1e-14)


def test_sign_monte_carlo_one_sample_is_allowed():
    out = cp.sign_monte_carlo(np.array([0.5, -0.5]), 1.0, np.random.default_rng(1), samples=1)
    assert set(np.abs(out["mean"].observed)) == {1.0}
    assert out["halfwidth"].observed == pytest.approx(_hoeffding(2, 0.999, 1), rel=1e-14)


def test_sign_monte_carlo_validation_messages():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^samples must be an integer in \[1, inf\]"):
        cp.sign_monte_carlo(np.array([0.5]), 1.0, rng, samples=0)
    with pytest.raises(ValueError, match=r"^confidence must"):
        cp.sign_monte_carlo(np.array([0.5]), 1.0, rng, confidence=1.0)
    with pytest.raises(ValueError, match="^" + re.escape("v must be one vector (ndim 1); got shape (1, 1)")):
        cp.sign_monte_carlo(np.array([[0.5]]), 1.0, rng)


# -- scaled_sign_error ------------------------------------------------------------------------

def test_scaled_sign_error_zero_vector():
    out = cp.scaled_sign_error(np.zeros(3))
    assert out == {"error": (0.0, 0.0), "bound": (0.0, 0.0), "norm_sq": (0.0, 0.0)}


def test_scaled_sign_error_norm_sq_is_the_squared_norm():
    v = np.array([3.0, -1.0, 0.0, 4.0])   # ||v||^2 = 26, max|v| = 4
    out = cp.scaled_sign_error(v)
    assert out["norm_sq"].observed == pytest.approx(26.0, rel=1e-14)
    assert out["norm_sq"].stated == pytest.approx(26.0, rel=1e-14)
    # C(v) = 2 sign(v) (docstring example): error (3-2)^2 + (-1+2)^2 + 0 + (4-2)^2 = 6
    assert out["error"].observed == pytest.approx(6.0, rel=1e-14)
    assert out["error"].stated == pytest.approx(6.0, rel=1e-14)


def test_scaled_sign_error_rejects_matrix():
    with pytest.raises(ValueError, match="^" + re.escape("v must be one vector (ndim 1); got shape (2, 1)")):
        cp.scaled_sign_error(np.ones((2, 1)))


def test_enumerate_randk_moments_mask_limit_is_inclusive(monkeypatch):
    # the stated limit is C(d, k) <= MAX_MASKS: exactly MAX_MASKS masks are enumerated
    monkeypatch.setattr(cp, "MAX_MASKS", math.comb(5, 2))
    v = np.array([1.0, -2.0, 3.0, 0.5, 4.0])
    out = cp.enumerate_randk_moments(RandK(2), v)
    np.testing.assert_allclose(out["mean"].observed, 0.4 * v, rtol=1e-14)
    assert out["error"].observed == pytest.approx(0.6 * float(v @ v), rel=1e-14)
    with pytest.raises(ValueError, match=re.escape("got C(5, 3) = 10")):
        monkeypatch.setattr(cp, "MAX_MASKS", 9)
        cp.enumerate_randk_moments(RandK(3), v)
