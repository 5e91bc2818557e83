"""Contracts of the NumPy reference that the sampled code-mutation run found unchecked: the name a
non-finite message is reported by, and that evaluating f at an iterate never surfaces NumPy's own
floating-point warnings (the run reports non-finite values itself, by name and iteration)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import algorithms
from eftheory.compressors import TopK
from eftheory.validation import NonFiniteError


class _FlippingHuge:
    """One client whose gradient is +-1.5e308 by the sign of x_0: finite at every point, but the
    difference of two successive gradients overflows, so the first EF21 message v - g is -inf."""

    n_clients, dim = 1, 2

    def f(self, x):
        return float(abs(x[0]))

    def f_i(self, i, x):
        return self.f(x)

    def sample(self, i, rng):
        return None

    def grad_i(self, i, x, xi=None):
        return np.array([1.5e308 if x[0] >= 0 else -1.5e308, 0.0])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_an_overflowing_message_is_named_as_the_message(backend):
    """A message C(v_i - g_i) that overflows while the gradients stay finite is reported as
    ``message c_i`` at its iteration, on both backends."""
    with pytest.raises(NonFiniteError) as err:
        algorithms.run("ef21-sgd", _FlippingHuge(), TopK(1), np.array([1.0, 0.0]), 3, stepsize=0.1,
                       backend=backend)
    assert "message c_i" in str(err.value) and "iteration 1" in str(err.value)


class _InvalidF:
    """f is inf - inf (NaN, by an invalid operation) once x_0 < 0; the gradient stays finite."""

    n_clients, dim = 1, 2

    def f(self, x):
        big = np.float64(np.inf) if x[0] < 0 else np.float64(1.0)
        return big - big

    def f_i(self, i, x):
        return self.f(x)

    def sample(self, i, rng):
        return None

    def grad_i(self, i, x, xi=None):
        return np.array([1.0, 0.0])


def test_an_invalid_objective_is_reported_by_name_not_as_a_numpy_warning():
    """The reference evaluates f at every iterate with NumPy's invalid-operation warnings silenced:
    an objective that becomes NaN ends the run with the project's NonFiniteError naming f, even
    where warnings are errors (as under ``-W error``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteError) as err:
            algorithms.run("ef21", _InvalidF(), TopK(1), np.array([0.05, 0.0]), 3, stepsize=0.1)
    assert "objective f(x^k)" in str(err.value) and "iteration 1" in str(err.value)


def test_ef21_reference_reports_the_exact_gradient_norm_bit_for_bit():
    """The EF21-family reference records ||grad f(x^k)|| as the public ``exact_grad_norm(problem,
    x^k)`` computes it: the same float, not merely a close one (a row-wise norm of the same
    gradient differs from it in the last bits)."""
    from eftheory.problems import exact_grad_norm, problem_q

    p = problem_q(seed=0)
    res = algorithms.run("ef21", p, TopK(2), np.ones(p.dim), 12, stepsize=0.05, record="all")
    xs = np.asarray(res.x)
    assert xs.shape == (13, 10)
    assert [float(g) for g in res.grad_norm] == [exact_grad_norm(p, x) for x in xs]


def test_engine_compress_of_a_random_blockwise_draws_from_the_generator():
    """The engine's ``compress`` of a random compressor it has no kernel for (Rand-K per block)
    without replayed uniforms draws them from the generator: the same result as the compressor's
    own ``torch(v, generator=...)`` from an equally seeded generator."""
    import torch

    from algorithms.torch._kernels import compress
    from eftheory.compressors import Blockwise, RandK

    C = Blockwise(RandK(1), [2, 3])
    v = torch.arange(1.0, 6.0, dtype=torch.float64).reshape(1, 5)
    got = compress(C, v, generator=torch.Generator().manual_seed(4))
    want = C.torch(v, generator=torch.Generator().manual_seed(4))
    assert torch.equal(got, want) and int((got != 0).sum()) == 2
