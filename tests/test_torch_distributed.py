"""The torch.distributed runner (one gloo process per client) equals the NumPy reference.

Each run spawns fresh processes (each imports torch), so the fast tier keeps two runs with two
ranks; the three-rank run and the stochastic / random-compressor run are in the slow tier.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import algorithms
from eftheory.compressors import RandK, TopK

dist_mod = pytest.importorskip("torch.distributed")
from algorithms.torch.distributed import available, run_distributed  # noqa: E402

OK, WHY = available("gloo")
pytestmark = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")


class LogisticProblem:
    """Nonconvex regularized logistic regression, one data shard per client (module level: picklable)."""

    def __init__(self, n_clients: int, dim: int = 6, m: int = 5, lam: float = 0.1, batch=None):
        rng = np.random.default_rng(7)
        self.A = rng.normal(size=(n_clients, m, dim))
        self.A[0] *= 2.0
        self.b = np.sign(rng.normal(size=(n_clients, m)))
        self.n_clients, self.dim, self.m, self.lam, self.batch = n_clients, dim, m, lam, batch

    def _rows(self, i, xi):
        return (self.A[i], self.b[i]) if xi is None else (self.A[i][xi], self.b[i][xi])

    def f_i(self, i, x):
        A, b = self._rows(i, None)
        return float(np.mean(np.logaddexp(0.0, -b * (A @ x))) + self.lam * np.sum(x**2 / (1 + x**2)))

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(self.n_clients)]))

    def sample(self, i, rng):
        return None if self.batch is None else rng.integers(0, self.m, size=self.batch)

    def grad_i(self, i, x, xi=None):
        A, b = self._rows(i, xi)
        s = -b / (1.0 + np.exp(b * (A @ x)))
        return A.T @ s / len(b) + self.lam * 2 * x / (1 + x**2) ** 2


def _compare(name, n, compressor, *, iters=25, batch=None, **kw):
    factory = functools.partial(LogisticProblem, n, batch=batch)
    x0 = np.linspace(-1.0, 1.0, 6)
    got = run_distributed(name, factory, compressor, x0, iters, world_size=n, seed=3, **kw)
    ref = algorithms.run(name, factory(), compressor, x0, iters, seed=3, backend="numpy", **kw)
    assert got.shape == ref.x.shape
    np.testing.assert_allclose(got, ref.x, rtol=0, atol=1e-10)
    assert np.abs(got[-1] - got[0]).max() > 1e-2


def test_ef21_norm_two_ranks_topk_exact_gradients():
    _compare("ef21-norm", 2, TopK(2), stepsize=0.1)


def test_ef21_sgdm_norm_two_ranks_topk_exact_gradients():
    _compare("ef21-sgdm-norm", 2, TopK(2), stepsize=lambda k: 0.2 / (k + 1) ** 0.75,
             momentum=lambda k: (2 / (k + 2)) ** 0.5)


@pytest.mark.slow
def test_ef21_norm_three_ranks_topk_exact_gradients():
    _compare("ef21-norm", 3, TopK(2), stepsize=0.1, init="zero")


@pytest.mark.slow
def test_ef21_mvr_norm_minibatches_and_randk_replay_the_reference_streams():
    _compare("ef21-mvr-norm", 2, RandK(3), batch=2, stepsize=0.1, momentum=0.5, init="compressed")


def test_world_size_must_match_the_problem():
    with pytest.raises(ValueError, match="world_size"):
        run_distributed("ef21-norm", functools.partial(LogisticProblem, 3), TopK(2), np.zeros(6), 3,
                        world_size=2, stepsize=0.1)


def test_unknown_name_is_rejected():
    with pytest.raises(ValueError, match="name"):
        run_distributed("saef", functools.partial(LogisticProblem, 2), TopK(2), np.zeros(6), 3,
                        world_size=2, stepsize=0.1)
