"""Batched oracles (algorithms.torch.problems): draws, dtypes, out tensors and noisy Hessian-vector products.

Expected values come from the NumPy problems of eftheory.problems (grad_i), from closed forms of small
hand-written problems (gradient (1 + xi) x, Hessian-vector product (1 + xi) v, ...), or from the
documented contracts: "Floating draws take the engine's dtype, integer draws stay int64"; draws
of ``sample`` have leading axes (S, n); oracles carry ``n``, ``d``, ``device``, ``dtype``;
DiagonalOracle's ``grad_and_exact`` writes into the ``out`` tensors it is given.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from algorithms.torch import problems as tp
from algorithms.torch.problems import (
    BUILTIN,
    NumpyFallbackOracle,
    TorchProblem,
    TorchProblemOracle,
    batched_oracle,
    register_oracle,
)
from eftheory.problems import (
    HeterogeneousSignProblem,
    LogisticRegression,
    Polynomial,
    SeparableQuadratic,
    StochasticQuadratic,
)

CPU = torch.device("cpu")


class TupleNoiseProblem:
    """f_i(x; (a, j)) = 0.5 ||x||^2 + (c_i + a)^T x + 0 * j: a protocol problem whose draw is a tuple
    (a real vector a of shape (d,), an integer pair j). Gradient x + c_i + a."""

    def __init__(self, n=2, d=3):
        self.n_clients, self.dim = n, d
        self.c = np.arange(n * d, dtype=np.float64).reshape(n, d) / 10.0

    def f_i(self, i, x, xi=None):
        a = 0.0 if xi is None else xi[0]
        return float(0.5 * x @ x + (self.c[i] + a) @ x)

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(self.n_clients)]))

    def grad_i(self, i, x, xi=None):
        a = 0.0 if xi is None else np.asarray(xi[0], dtype=np.float64)
        return np.asarray(x, dtype=np.float64) + self.c[i] + a

    def hvp_i(self, i, x, v, xi=None):
        return np.asarray(v, dtype=np.float64).copy()

    def sample(self, i, rng):
        return rng.normal(size=self.dim), rng.integers(0, 5, size=2)


class VectorNoiseProblem(TupleNoiseProblem):
    """The same problem with a plain array draw a (gradient x + c_i + a)."""

    def f_i(self, i, x, xi=None):
        return super().f_i(i, x, None if xi is None else (xi,))

    def grad_i(self, i, x, xi=None):
        return super().grad_i(i, x, None if xi is None else (xi,))

    def sample(self, i, rng):
        return rng.normal(size=self.dim)


# ---------------------------------------------------------------------------------------------
# NumpyFallbackOracle: draws are stacked (S, n, ...), in the engine's dtype, reproducible by seed
# ---------------------------------------------------------------------------------------------

def test_fallback_tuple_draws_are_stacked_with_their_dtypes():
    p = TupleNoiseProblem(n=2, d=3)
    o = NumpyFallbackOracle(p, CPU, torch.float32, seed=4)
    xi = o.sample(None, 3)
    assert isinstance(xi, tuple) and len(xi) == 2
    a, j = xi
    assert a.shape == (3, 2, 3) and a.dtype == torch.float32 and a.device == CPU
    assert j.shape == (3, 2, 2) and j.dtype == torch.int64
    assert bool(((j >= 0) & (j < 5)).all())
    assert not torch.equal(a[0], a[1])             # each run draws its own values


def test_fallback_draws_are_reproducible_from_the_seed():
    p = TupleNoiseProblem(n=2, d=3)
    a1, j1 = NumpyFallbackOracle(p, CPU, torch.float64, seed=7).sample(None, 2)
    a2, j2 = NumpyFallbackOracle(p, CPU, torch.float64, seed=7).sample(None, 2)
    assert torch.equal(a1, a2) and torch.equal(j1, j2)
    q = VectorNoiseProblem(n=2, d=3)
    assert torch.equal(NumpyFallbackOracle(q, CPU, torch.float64, seed=7).sample(None, 2),
                       NumpyFallbackOracle(q, CPU, torch.float64, seed=7).sample(None, 2))


def test_fallback_array_draws_take_the_engine_dtype():
    o = NumpyFallbackOracle(VectorNoiseProblem(n=2, d=3), CPU, torch.float32, seed=0)
    xi = o.sample(None, 2)
    assert isinstance(xi, torch.Tensor) and xi.shape == (2, 2, 3) and xi.dtype == torch.float32


def test_fallback_one_client():
    o = NumpyFallbackOracle(TupleNoiseProblem(n=1, d=2), CPU, torch.float64, seed=0)
    a, j = o.sample(None, 2)
    assert a.shape == (2, 1, 2) and j.shape == (2, 1, 2)
    o = NumpyFallbackOracle(VectorNoiseProblem(n=1, d=2), CPU, torch.float64, seed=0)
    assert o.sample(None, 2).shape == (2, 1, 2)


def test_fallback_grad_with_tuple_draws_matches_grad_i():
    p = TupleNoiseProblem(n=2, d=3)
    o = NumpyFallbackOracle(p, CPU, torch.float64, seed=1)
    xi = o.sample(None, 2)
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(2, 2, 3)))
    G = o.grad(x, xi)
    for s in range(2):
        for i in range(2):
            draw = (xi[0][s, i].numpy(), xi[1][s, i].numpy())
            np.testing.assert_allclose(G[s, i].numpy(), p.grad_i(i, x[s, i].numpy(), draw), rtol=1e-15)
            np.testing.assert_allclose(G[s, i].numpy(), x[s, i].numpy() + p.c[i] + draw[0], rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# TorchProblem: noisy Hessian-vector products and tuple draws for per-client losses
# ---------------------------------------------------------------------------------------------

def _curvature_noise_problem(n=2, d=3, **kw):
    """f_i(x; xi) = 0.5 sum_k (1 + xi_k) x_k^2: gradient (1 + xi) x, Hessian-vector product (1 + xi) v."""
    def loss(x, xi):
        w = 1.0 if xi is None else 1.0 + xi
        return 0.5 * (w * x * x).sum(-1)
    return TorchProblem(n, d, loss=loss, **kw)


def test_torch_problem_hvp_i_uses_the_draw():
    p = _curvature_noise_problem()
    x, v, xi = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -4.0]), np.array([0.5, -0.25, 2.0])
    np.testing.assert_allclose(p.hvp_i(1, x, v, xi), (1.0 + xi) * v, rtol=1e-15)
    np.testing.assert_allclose(p.hvp_i(0, x, v), v, rtol=1e-15)
    np.testing.assert_allclose(p.grad_i(1, x, xi), (1.0 + xi) * x, rtol=1e-15)


def test_torch_problem_batched_hvp_and_oracle_hvp_use_the_draw():
    p = _curvature_noise_problem()
    rng = np.random.default_rng(3)
    x = torch.as_tensor(rng.normal(size=(2, 2, 3)))
    v = torch.as_tensor(rng.normal(size=(2, 2, 3)))
    xi = torch.as_tensor(rng.uniform(-0.5, 0.5, size=(2, 2, 3)))
    torch.testing.assert_close(p.batched_hvp(x, v, xi), (1.0 + xi) * v, rtol=1e-15, atol=0)
    o = TorchProblemOracle(p, CPU, torch.float64)
    torch.testing.assert_close(o.hvp(x, v, xi), (1.0 + xi) * v, rtol=1e-15, atol=0)
    # a point and direction common to all clients (S, 1, d)
    torch.testing.assert_close(o.hvp(x[:, :1], v[:, :1], xi), (1.0 + xi) * v[:, :1], rtol=1e-15, atol=0)


def test_torch_problem_per_client_loss_with_tuple_draws():
    # f_i(x; (a, b)) = a^T x + b * ||x||^2 (b a 1-vector): gradient a + 2 b x
    def f_i(i, x, xi):
        if xi is None:
            return (x * x).sum()
        a, b = xi
        return (a * x).sum() + b[0] * (x * x).sum()

    p = TorchProblem(2, 3, f_i=f_i)
    o = TorchProblemOracle(p, CPU, torch.float64)
    rng = np.random.default_rng(8)
    x = torch.as_tensor(rng.normal(size=(2, 2, 3)))
    a = torch.as_tensor(rng.normal(size=(2, 2, 3)))
    b = torch.as_tensor(rng.uniform(0.5, 1.5, size=(2, 2, 1)))
    torch.testing.assert_close(o.grad(x, (a, b)), a + 2.0 * b * x, rtol=1e-14, atol=1e-15)
    # the NumPy protocol: one client's draw
    np.testing.assert_allclose(p.grad_i(1, x[0, 1].numpy(), (a[0, 1].numpy(), b[0, 1].numpy())),
                               (a[0, 1] + 2.0 * b[0, 1] * x[0, 1]).numpy(), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# TorchProblemOracle.sample
# ---------------------------------------------------------------------------------------------

def _sample_torch(generator, S):
    return torch.rand((S, 2, 3), generator=generator, dtype=torch.float64)


def test_torch_problem_oracle_sample_torch_uses_the_generator_and_engine_dtype():
    p = _curvature_noise_problem(sample_torch=_sample_torch)
    o = TorchProblemOracle(p, CPU, torch.float32)
    xi = o.sample(torch.Generator().manual_seed(11), 4)
    expected = _sample_torch(torch.Generator().manual_seed(11), 4).to(torch.float32)
    assert xi.dtype == torch.float32 and xi.device == CPU and xi.shape == (4, 2, 3)
    assert torch.equal(xi, expected)


def test_torch_problem_oracle_sample_numpy_fallback():
    p = _curvature_noise_problem(sample=lambda i, rng: rng.uniform(-0.5, 0.5, size=3))
    o = TorchProblemOracle(p, CPU, torch.float32, seed=2)
    xi = o.sample(torch.Generator().manual_seed(0), 3)
    assert xi is not None and xi.shape == (3, 2, 3) and xi.dtype == torch.float32
    assert bool((xi.abs() <= 0.5).all())
    assert TorchProblemOracle(_curvature_noise_problem(), CPU, torch.float32).sample(None, 3) is None


# ---------------------------------------------------------------------------------------------
# built-in oracles
# ---------------------------------------------------------------------------------------------

def _logistic():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(12, 4))
    b = np.where(rng.random(12) < 0.5, -1.0, 1.0)
    return LogisticRegression(A, b, lam=0.1, clients=3, batch_size=2)


def _quadratic(zeta_std=0.5, eps_std=0.25):
    rng = np.random.default_rng(0)
    M = rng.normal(size=(2, 3, 3))
    A = M @ M.transpose(0, 2, 1) + np.eye(3)
    return StochasticQuadratic(A, rng.normal(size=(2, 3)), zeta_std=zeta_std, eps_std=eps_std)


@pytest.mark.parametrize("make", [lambda: Polynomial(d=4), _logistic, _quadratic,
                                  lambda: SeparableQuadratic(5, seed=1),
                                  lambda: HeterogeneousSignProblem(d=4, n=2, seed=0)],
                         ids=["polynomial", "logistic", "quadratic", "separable", "hetero"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_builtin_oracles_carry_shape_device_and_dtype(make, dtype):
    p = make()
    o = batched_oracle(p, CPU, dtype)
    assert type(o) is BUILTIN[type(p).__name__]
    assert (o.n, o.d, o.device, o.dtype) == (p.n_clients, p.dim, CPU, dtype)


def test_logistic_sample_follows_the_generator():
    o = batched_oracle(_logistic(), CPU, torch.float64)
    j1 = o.sample(torch.Generator().manual_seed(5), 3)
    j2 = o.sample(torch.Generator().manual_seed(5), 3)
    assert j1.shape == (3, 3, 2) and j1.dtype == torch.int64
    assert torch.equal(j1, j2)
    # every index is a row of its own client
    owner = torch.as_tensor(np.concatenate([np.full(len(r), i) for i, r in enumerate(_logistic().client_rows)]))
    rows = torch.as_tensor(np.concatenate(_logistic().client_rows))
    own = torch.empty(12, dtype=torch.int64)
    own[rows] = owner
    assert torch.equal(own[j1], torch.arange(3)[None, :, None].expand(3, 3, 2))


def test_quadratic_sample_scales_the_same_normals_by_the_stated_stds():
    # xi = (zeta_std * z_0, eps_std * z_1) with the generator's normals z: 0.1 is not a float32
    # number, so the scaling must be done in the engine's float64
    g = lambda: torch.Generator().manual_seed(9)
    unit = batched_oracle(_quadratic(1.0, 1.0), CPU, torch.float64).sample(g(), 3)
    xi = batched_oracle(_quadratic(0.1, 0.3), CPU, torch.float64).sample(g(), 3)
    assert xi.shape == (3, 2, 2, 3) and xi.dtype == torch.float64
    assert torch.equal(xi[:, :, 0], unit[:, :, 0] * 0.1)
    assert torch.equal(xi[:, :, 1], unit[:, :, 1] * 0.3)


def test_quadratic_sample_float64_draws_have_float64_resolution():
    xi = batched_oracle(_quadratic(1.0, 1.0), CPU, torch.float64).sample(torch.Generator().manual_seed(1), 8)
    as32 = xi.to(torch.float32).to(torch.float64)
    assert (xi != as32).float().mean() > 0.9     # float32 normals would all be float32 numbers


@pytest.mark.parametrize("make", [lambda: SeparableQuadratic(5, seed=1),
                                  lambda: HeterogeneousSignProblem(d=5, n=3, seed=1)],
                         ids=["separable", "hetero"])
@pytest.mark.parametrize("common", [False, True], ids=["per-client", "common-point"])
def test_diagonal_grad_and_exact_matches_numpy_and_writes_out(make, common):
    p = make()
    o = batched_oracle(p, CPU, torch.float64)
    S, n, d = 2, p.n_clients, p.dim
    rng = np.random.default_rng(2)
    x = torch.as_tensor(rng.normal(size=(S, 1 if common else n, d)))
    xi = o.sample(torch.Generator().manual_seed(3), S)
    exact_np = np.stack([[p.grad_i(i, x[s, 0 if common else i].numpy()) for i in range(n)] for s in range(S)])
    noisy_np = np.stack([[p.grad_i(i, x[s, 0 if common else i].numpy(), xi[s, i].numpy()) for i in range(n)]
                         for s in range(S)])

    G, E = o.grad_and_exact(x, xi)
    np.testing.assert_allclose(E.numpy(), exact_np, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(G.numpy(), noisy_np, rtol=1e-14, atol=1e-15)

    G0, E0 = o.grad_and_exact(x, None)
    np.testing.assert_allclose(G0.numpy(), exact_np, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(E0.numpy(), exact_np, rtol=1e-14, atol=1e-15)

    G_out, E_out = torch.full((S, n, d), np.nan, dtype=torch.float64), torch.full((S, n, d), np.nan,
                                                                                   dtype=torch.float64)
    G1, E1 = o.grad_and_exact(x, xi, out=(G_out, E_out))
    np.testing.assert_allclose(G_out.numpy(), noisy_np, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(E_out.numpy(), exact_np, rtol=1e-14, atol=1e-15)
    assert G1.data_ptr() == G_out.data_ptr() and E1.data_ptr() == E_out.data_ptr()


def test_register_oracle_records_the_factory():
    def factory(problem, device, dtype):  # pragma: no cover - never called
        raise AssertionError

    try:
        assert register_oracle("MutkillOnlyProblem")(factory) is factory
        assert BUILTIN["MutkillOnlyProblem"] is factory
    finally:
        BUILTIN.pop("MutkillOnlyProblem", None)
    assert tp.BUILTIN is BUILTIN


# ---------------------------------------------------------------------------------------------
# draws live on the oracle's device (torch's "meta" device exists on every machine)
# ---------------------------------------------------------------------------------------------

META = torch.device("meta")


@pytest.mark.parametrize("make", [_logistic, _quadratic, lambda: TupleNoiseProblem(), lambda: VectorNoiseProblem(),
                                  lambda: _curvature_noise_problem(sample_torch=_sample_torch)],
                         ids=["logistic", "quadratic", "fallback-tuple", "fallback-array", "torch-problem"])
def test_sample_draws_on_the_oracle_device(make):
    o = batched_oracle(make(), META, torch.float64)
    assert o.device == META
    xi = o.sample(torch.Generator().manual_seed(0), 2)
    parts = xi if isinstance(xi, tuple) else (xi,)
    assert all(t.device == META and t.shape[:2] == (2, o.n) for t in parts)
