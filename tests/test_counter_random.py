"""The counter-based words of :mod:`algorithms.torch._random`: the NumPy path (CPU) and the torch
path (other devices) compute the same words, and both equal the address formula of the module
docstring evaluated on Python integers."""

import numpy as np
import pytest
import torch

from algorithms.torch import _random
from algorithms.torch._random import CounterRandom, mix64


def _words(stream, t0, count, m, shift, bits):
    """The module docstring's formula, on Python integers: (S, count, m)."""
    out = np.empty((stream.S, count, m), dtype=np.float64)
    for s, key in enumerate(stream._keys):
        for c in range(count):
            for j in range(m):
                w = mix64(key + (((t0 + c) << 32) + j) * _random._PHI)
                out[s, c, j] = (w >> shift) & ((1 << bits) - 1)
    return out


@pytest.mark.parametrize("seeds,count,m", [([0], 1, 1), ([3, 2 ** 64 - 1], 3, 7), ([5, 6, 7], 2, 40)])
@pytest.mark.parametrize("shift,bits,dtype", [(11, 53, torch.float64), (40, 24, torch.float32)])
def test_numpy_and_torch_words_equal_the_formula(seeds, count, m, shift, bits, dtype):
    st = CounterRandom(seeds).stream("sample:xi")
    st.t = 5
    ref = _words(st, 5, count, m, shift, bits)
    a = torch.from_numpy(st._ints_numpy(5, count, 0, m, shift, bits, dtype)).view(len(seeds), count, m)
    b = st._ints_torch(5, count, 0, m, shift, bits, dtype).view(len(seeds), count, m)
    assert a.dtype == b.dtype == dtype and a.shape == b.shape == (len(seeds), count, m)
    assert torch.equal(a, b)
    np.testing.assert_array_equal(a.double().numpy(), ref)


@pytest.mark.parametrize("chunk", [1, 3, 8, 64])
def test_words_do_not_depend_on_the_chunking(monkeypatch, chunk):
    st = CounterRandom([1, 2]).stream("compress:c")
    whole = torch.from_numpy(st._ints_numpy(0, 4, 0, 10, 11, 53, torch.float64))
    monkeypatch.setattr(_random, "_CHUNK", chunk)
    assert torch.equal(torch.from_numpy(st._ints_numpy(0, 4, 0, 10, 11, 53, torch.float64)), whole)
    assert torch.equal(st._ints_torch(0, 4, 0, 10, 11, 53, torch.float64), whole)
    assert torch.equal(torch.from_numpy(st._ints_numpy(0, 4, 3, 10, 11, 53, torch.float64)), whole[:, 3:])
    assert torch.equal(st._ints_torch(0, 4, 3, 10, 11, 53, torch.float64), whole[:, 3:])


def test_ints_advances_the_call_counter_on_either_path():
    st = CounterRandom([9]).stream("aux")
    first = st._ints(2, 3, 11, 53, torch.float64)
    assert st.t == 2
    second = st._ints(1, 3, 11, 53, torch.float64)
    assert st.t == 3
    assert torch.equal(second[:, 0], st._ints_torch(2, 1, 0, 3, 11, 53, torch.float64))
    assert not torch.equal(first[:, 0], second[:, 0])
