"""The engine's selection kernels and its small helpers, against their documented contracts.

* :func:`algorithms.torch._kernels.largest_k_mask`: the k largest keys on the last axis, ties
  broken by the lowest index -- compared with a brute-force stable ranking, on keys with one,
  two and three axes and many ties.
* :func:`algorithms.torch._kernels.compress` with :class:`~eftheory.compressors.UnbiasedSign`:
  the compressor's own NumPy ``apply`` (given uniforms) and its ``torch`` method (the same
  generator), both violation modes, the scalar and 1-D cases, the NaN rule, and the work
  tensor ``out`` that C(v) is written into.
* ``check_dtype_choice``, ``split_engine_options`` of :mod:`algorithms.torch._core`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from algorithms.torch import _core
from algorithms.torch._kernels import compress, largest_k_mask
from eftheory.compressors import RandK, TopK, UnbiasedSign


def _brute_mask(key: np.ndarray, k: int) -> np.ndarray:
    """The k largest entries of every row of ``key`` (ties: lowest index first), by a stable sort."""
    flat = key.reshape(-1, key.shape[-1])
    out = np.zeros(flat.shape, dtype=bool)
    for r, row in enumerate(flat):
        order = sorted(range(row.size), key=lambda i: (-row[i], i))
        out[r, order[:k]] = True
    return out.reshape(key.shape)


def _tied_keys():
    rng = np.random.default_rng(11)
    cases = [
        (np.array([[[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 5.0]]]), 1),    # surplus ties in row 0 only
        (np.array([[[2.0, 2.0, 2.0, 1.0], [3.0, 3.0, 1.0, 1.0]]]), 2),
        (np.array([[[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]]), 2),
    ]
    for shape in [(7,), (3, 8), (2, 3, 6), (2, 5, 9), (4, 2, 5)]:
        for k in (1, 2, 3, shape[-1] - 1, shape[-1]):
            cases.append((rng.integers(0, 3, size=shape).astype(float), k))
    return cases


@pytest.mark.parametrize("key,k", _tied_keys())
def test_largest_k_mask_is_the_stable_top_k(key, k):
    got = largest_k_mask(torch.as_tensor(key), k)
    assert got.dtype == torch.bool and got.shape == key.shape
    np.testing.assert_array_equal(got.numpy(), _brute_mask(key, k))
    assert (got.sum(-1) == k).all()


def test_largest_k_mask_keeps_everything_when_k_reaches_d():
    key = torch.tensor([[[3.0, -1.0, 2.0]], [[0.0, 0.0, 0.0]]])
    assert largest_k_mask(key, 3).all()
    assert largest_k_mask(key, 5).all()


@pytest.mark.parametrize("compressor", [TopK(6), RandK(6)])
def test_mask_path_writes_the_message_into_out(compressor):
    """Ties across the k-th key send Top-K / Rand-K through the mask; C(v) still lands in ``out``."""
    v = torch.tensor([[1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 0.5, 1.0, -1.0]] * 2, dtype=torch.float64)
    u = torch.tensor([[0.5] * 10] * 2, dtype=torch.float64)   # all uniforms tied (Rand-K)
    out, key = torch.empty_like(v), torch.empty_like(v)
    c = compress(compressor, v, u=u, out=out, key=key)
    assert c.data_ptr() == out.data_ptr()
    ref = compressor.apply(v.numpy(), u.numpy()) if compressor.random else compressor.apply(v.numpy())
    np.testing.assert_array_equal(c.numpy(), ref)


# ----------------------------------------------------------------------------- the stochastic sign

def _sign_inputs():
    rng = np.random.default_rng(3)
    v = rng.normal(scale=1.5, size=(2, 3, 8))
    v[0, 0, :3] = [0.0, 4.0, -4.0]                       # p = 1/2 exactly, and two clipped entries
    u = rng.random(v.shape)
    u[0, 0, 0] = 0.5                                     # u = p: -1 (+1 iff u < p)
    u[0, 1, :] = 0.5 + v[0, 1, :] / 4.0                  # u = p on a whole row (R = 2)
    return v, u


@pytest.mark.parametrize("shape", [(8,), (3, 8), (2, 3, 8)])
def test_unbiased_sign_matches_numpy_apply(shape):
    rows = int(np.prod(shape[:-1]))
    v, u = (a.reshape(-1, 8)[:rows].reshape(shape) for a in _sign_inputs())
    S = UnbiasedSign(2.0, on_violation="clip")
    got = compress(S, torch.as_tensor(v), u=torch.as_tensor(u))
    np.testing.assert_array_equal(got.numpy(), S.apply(v, u))
    assert got.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("work", [False, True])
def test_unbiased_sign_draws_as_its_torch_method(dtype, work):
    """Without ``u`` the uniforms are ``torch.rand(v.shape, generator, dtype=v.dtype)`` -- the compressor's own draw."""
    v = torch.as_tensor(_sign_inputs()[0], dtype=dtype)
    S = UnbiasedSign(2.0, on_violation="clip")
    kw = {"out": torch.empty_like(v), "key": torch.empty_like(v)} if work else {}
    got = compress(S, v, generator=torch.Generator().manual_seed(5), **kw)
    want = S.torch(v, generator=torch.Generator().manual_seed(5))
    assert got.dtype == dtype
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_unbiased_sign_writes_into_out():
    v, u = (torch.as_tensor(a) for a in _sign_inputs())
    S = UnbiasedSign(2.0, on_violation="clip")
    out, key = torch.empty_like(v), torch.empty_like(v)
    got = compress(S, v, u=u, out=out, key=key)
    assert got.data_ptr() == out.data_ptr()
    np.testing.assert_array_equal(got.numpy(), S.apply(v.numpy(), u.numpy()))
    got = compress(S, v, generator=torch.Generator().manual_seed(1), out=out, key=key)
    assert got.data_ptr() == out.data_ptr()


def test_unbiased_sign_keeps_the_nan_rule():
    v = torch.tensor([[0.5, float("nan"), float("inf"), -float("inf"), -0.5]], dtype=torch.float64)
    u = torch.full_like(v, 0.25)
    S = UnbiasedSign(1.0, on_violation="clip")
    got = compress(S, v, u=u)
    np.testing.assert_array_equal(got.numpy(), S.apply(v.numpy(), u.numpy()))
    assert torch.isnan(got[0, 1:4]).all() and got[0, 0] == 1.0 and got[0, 4] == -1.0


def test_unbiased_sign_raise_mode_uses_the_compressor():
    S = UnbiasedSign(1.0, on_violation="raise")
    v = torch.tensor([[0.2, -0.9, 0.0], [0.5, 0.5, -0.1]], dtype=torch.float64)
    u = torch.tensor([[0.7, 0.01, 0.5], [0.2, 0.9, 0.3]], dtype=torch.float64)
    np.testing.assert_array_equal(compress(S, v, u=u).numpy(), S.apply(v.numpy(), u.numpy()))
    got = compress(S, v, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(got, S.torch(v, generator=torch.Generator().manual_seed(9)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="R must bound every"):
        compress(S, 2.0 * v, u=u)
    with pytest.raises(ValueError, match="R must bound every"):
        compress(S, 2.0 * v, generator=torch.Generator().manual_seed(9))


@pytest.mark.parametrize("mode", ["raise", "clip"])
def test_unbiased_sign_rejects_a_scalar(mode):
    S = UnbiasedSign(1.0, on_violation=mode)
    with pytest.raises(ValueError, match="at least one axis"):
        compress(S, torch.tensor(0.3, dtype=torch.float64), u=torch.tensor(0.1, dtype=torch.float64))


# ----------------------------------------------------------------------------- _core helpers

@pytest.mark.parametrize("dtype", ["float64", "float32", torch.float64, torch.float32])
def test_check_dtype_choice_accepts_the_engine_dtypes(dtype):
    assert _core.check_dtype_choice(dtype) is None


@pytest.mark.parametrize("dtype,shown", [("float16", "'float16'"), (torch.float16, "'float16'"),
                                         (torch.bfloat16, "'bfloat16'")])
def test_check_dtype_choice_rejects_other_dtypes(dtype, shown):
    """The message names the option and shows the dtype without the "torch." prefix."""
    with pytest.raises(ValueError) as err:
        _core.check_dtype_choice(dtype)
    assert str(err.value) == f"dtype must be one of 'float64', 'float32'; got {shown}"


def test_split_engine_options_separates_and_fills_defaults():
    options = {"mu": 0.5, "seeds": 3, "dtype": "float32", "p": 2}
    eng, rest = _core.split_engine_options(options)
    assert rest is options and rest == {"mu": 0.5, "p": 2}
    assert eng == {**_core.ENGINE_OPTIONS, "seeds": 3, "dtype": "float32"}
    eng, rest = _core.split_engine_options({})
    assert eng == _core.ENGINE_OPTIONS and rest == {}
