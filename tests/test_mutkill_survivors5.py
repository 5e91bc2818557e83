"""Contracts that a third uniform sample of code mutants (``python -m checks.code_mutation --sample
150 --seed 2``) found unchecked; each test names the contract it checks."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import algorithms
from algorithms import NonFiniteError, PerRun
from algorithms.torch import distributed as D_
from eftheory.schedules import constant
from invalid_cases_core import _HalveNoTorch
from test_mutkill_survivors4 import _Noiseless


class _NanHvpOnClientOne(_Noiseless):
    """Two clients of 1/2 ||x||^2 with exact gradients; client 1's Hessian-vector product is NaN."""

    n_clients, dim = 2, 3

    def f_i(self, i, x):
        return 0.5 * float(np.dot(x, x))

    def grad_i(self, i, x, xi=None):
        return np.asarray(x, dtype=float)

    def hvp_i(self, i, x, u, xi=None):
        return np.asarray(u, dtype=float) if i == 0 else np.full(3, np.nan)


def test_reference_names_the_client_whose_hessian_vector_product_is_not_finite():
    """EF21-HM on the reference: client 1's first HVP (in step k = 0) is NaN; the finding names the
    quantity, the iteration and that client."""
    from eftheory.compressors import TopK

    with pytest.raises(NonFiniteError) as info:
        algorithms.run("ef21-hm-norm", _NanHvpOnClientOne(), TopK(1), np.ones(3), 4, stepsize=0.1, momentum=0.5)
    assert (info.value.quantity, info.value.iteration, info.value.client) == ("Hessian-vector product hvp_i", 0, 1)


def test_a_per_run_schedule_is_refused_by_an_engine_that_takes_one_schedule_naming_perrun():
    """An engine without per-run schedules refuses a PerRun stepsize with a message that names the
    class by its name, PerRun."""
    from algorithms.torch._core import schedule_values

    with pytest.raises(ValueError, match=r"got a PerRun schedule"):
        schedule_values(PerRun((constant(0.1), constant(0.2)), (1, 1)), 3)


class _HalveWithTorch(_HalveNoTorch):
    """The duck-typed compressor v -> v/2 with a ``torch`` method too, and still no ``random``
    attribute: a compressor that draws nothing need not say so."""

    def torch(self, v, generator=None, u=None):
        return v / 2


def test_a_compressor_without_a_random_attribute_is_deterministic_on_the_engine():
    """The engine treats a compressor without ``random`` as deterministic (it draws no uniforms for
    it) and its run equals the reference's."""
    from eftheory.problems import problem_q

    p = problem_q(seed=0)
    x0 = np.asarray(p.x_star) + 0.5
    ref = algorithms.run("ef21", p, _HalveWithTorch(), x0, 6, stepsize=0.05, backend="numpy")
    eng = algorithms.run("ef21", p, _HalveWithTorch(), x0, 6, stepsize=0.05, backend="torch").numpy()
    np.testing.assert_allclose(np.asarray(eng.x).reshape(np.shape(ref.x)), ref.x, rtol=0, atol=1e-12)


def test_run_distributed_uses_seed_0_unless_told(monkeypatch):
    """``run_distributed`` without ``seed`` runs seed 0, the default of :func:`algorithms.run`."""
    from eftheory.compressors import TopK
    from test_torch_distributed import LogisticProblem

    seen = []
    monkeypatch.setattr(D_, "spawn", lambda jobs, world_size, **kw: seen.append(jobs) or ["result"])
    D_.run_distributed("ef21-norm", functools.partial(LogisticProblem, 2), TopK(2), np.zeros(LogisticProblem(2).dim),
                       3, world_size=2, stepsize=0.05)
    assert len(seen) == 1 and [j.seed for j in seen[0]] == [0]


class _HugeHvp(_Noiseless):
    """One client whose gradient and Hessian-vector product are 1e308 in coordinate 0: both finite,
    while the HM estimator (1 - eta)(v + hvp) + eta g overflows in the first step (k = 0)."""

    n_clients, dim = 1, 2

    def f_i(self, i, x):
        return 0.0

    def grad_i(self, i, x, xi=None):
        return np.array([1e308, 0.0])

    def hvp_i(self, i, x, u, xi=None):
        return np.array([1e308, 0.0])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_an_overflowing_estimator_is_named_as_the_estimator(backend):
    """EF21-HM whose estimator overflows in step k = 0 while its oracles stay finite: the finding names
    the estimator and that iteration on both backends."""
    from eftheory.compressors import TopK

    with pytest.raises(NonFiniteError) as info:
        algorithms.run("ef21-hm-norm", _HugeHvp(), TopK(1), np.zeros(2), 4, stepsize=0.1, momentum=0.5,
                       backend=backend)
    assert (info.value.quantity, info.value.iteration) == ("estimator v_i", 0)
