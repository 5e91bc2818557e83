"""The batched torch engine on its own: shapes, determinism, oracles, samplers, kernels, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import algorithms
from algorithms.torch._kernels import compress, compress_sparse, largest_k_index, largest_k_mask
from algorithms.torch.problems import (NumpyFallbackOracle, TorchProblem, batched_oracle)
from eftheory.compressors import Identity, RandK, ScaledRandK, ScaledSign, TopK, UnbiasedSign
from eftheory.problems import (HeterogeneousSignProblem, LogisticRegression, Polynomial,
                               SeparableQuadratic, problem_q4, synthetic_logistic)
from test_fuzz_inputs import required_kwargs

F64 = torch.float64


def _kwargs(name, problem):
    spec = algorithms.get(name, "torch")
    C = RandK(2) if spec.compressor == "required" else None
    return C, required_kwargs(spec, bound=5.0)


@pytest.mark.parametrize("name", algorithms.names("torch"))
def test_batched_result_shapes_and_determinism(name):
    p = problem_q4(seed=1, d=5, n=3) if "sign" not in name and "mvsm" not in name and name not in ("smm", "signum") \
        else HeterogeneousSignProblem(d=5, n=3, seed=1)
    C, kw = _kwargs(name, p)
    x0 = np.full(5, 0.5)
    S, K = 4, 6
    a = algorithms.run(name, p, C, x0, K, backend="torch", seeds=S, seed=3, **kw)
    b = algorithms.run(name, p, C, x0, K, backend="torch", seeds=S, seed=3, **kw)
    c = algorithms.run(name, p, C, x0, K, backend="torch", seeds=S, seed=4, **kw)
    assert a.backend == "torch" and a.config["seeds"] == S
    assert isinstance(a.x, torch.Tensor) and a.x.shape == (S, K + 1, 5) and a.x.dtype == F64
    for field in ("grad_norm", "f"):
        assert getattr(a, field).shape == (S, K + 1)
    for field in ("stepsize", "bits_up", "bits_down", "grad_calls", "hvp_calls"):
        assert getattr(a, field).shape == (S, K)
    for key, value in a.diagnostics.items():
        assert value.shape[0] == S, key
    def differ(r, s, i=slice(None), j=slice(None)):
        pairs = [(r.x, s.x)] + [(r.diagnostics[key], s.diagnostics[key]) for key in r.diagnostics]
        return any(not torch.equal(u[i], w[j]) for u, w in pairs)

    assert torch.equal(a.x, b.x) and not differ(a, b)             # same seed: bit-identical
    assert differ(a, c)                                           # another seed: other draws
    assert differ(a, a, 0, 1)                                     # the S runs are independent
    assert torch.allclose(a.x[:, 0], torch.as_tensor(x0, dtype=F64))
    npres = a.numpy()
    assert isinstance(npres.x, np.ndarray) and npres.x.shape == (S, K + 1, 5)


def test_float32_runs_in_float32():
    p = problem_q4(seed=0, d=6, n=2)
    r = algorithms.run("ef21-hm-norm", p, TopK(2), np.ones(6), 5, stepsize=0.1, momentum=0.5,
                       backend="torch", seeds=2, dtype="float32")
    assert r.x.dtype == torch.float32 and r.grad_norm.dtype == torch.float32
    assert torch.isfinite(r.x).all()


def test_identity_ef21_is_gradient_descent():
    p = synthetic_logistic(n=6, d=4, seed=2)
    x0 = np.full(4, 0.3)
    r = algorithms.run("ef21", p, Identity(), x0, 10, stepsize=0.5, backend="torch", seeds=2)
    x = x0.copy()
    for k in range(10):
        x = x - 0.5 * p.grad(x)
        np.testing.assert_allclose(r.x[1, k + 1].numpy(), x, rtol=1e-12, atol=1e-12)


def test_divergence_raises_named_error():
    p = problem_q4(seed=0, d=4, n=2)
    with pytest.raises(ValueError, match="non-finite"):
        algorithms.run("ef21", p, Identity(), np.full(4, 50.0), 50, stepsize=10.0, backend="torch")


def test_fallback_oracle_runs_a_plain_numpy_problem():
    from test_seed_batch import _Plain as Plain

    oracle = batched_oracle(Plain(), torch.device("cpu"), F64)
    assert isinstance(oracle, NumpyFallbackOracle)
    r = algorithms.run("ef21-sgd", Plain(), TopK(1), np.ones(3), 5, stepsize=0.05, backend="torch", seeds=3)
    assert r.x.shape == (3, 6, 3) and not torch.equal(r.x[0], r.x[1])


# --------------------------------------------------------------------------- oracles


def _problems():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 5))
    b = np.where(rng.random(40) < 0.5, -1.0, 1.0)
    return {
        "logistic-exact": synthetic_logistic(n=4, d=5, seed=1),
        "logistic-blocks": LogisticRegression(A[:12], b[:12], lam=0.2, clients=4, batch_size=2),
        "logistic-gather": LogisticRegression(A, b, lam=0.2, clients=2, batch_size=1),
        "logistic-uneven": LogisticRegression(A[:7], b[:7], lam=0.2, clients=[[0, 1, 2], [3], [4, 5, 6]], batch_size=2),
        "quadratic-q4": problem_q4(seed=2, d=5, n=3),
        "polynomial": Polynomial(d=5),
        "separable": SeparableQuadratic(5, seed=1),
        "hetero": HeterogeneousSignProblem(d=5, n=3, seed=1),
    }


@pytest.mark.parametrize("key", list(_problems()))
def test_builtin_oracle_equals_numpy_methods(key):
    p = _problems()[key]
    oracle = batched_oracle(p, torch.device("cpu"), F64)
    assert not isinstance(oracle, NumpyFallbackOracle)
    S, n, d = 2, p.n_clients, p.dim
    rng = np.random.default_rng(7)
    x = rng.normal(size=(S, n, d))
    v = rng.normal(size=(S, n, d))
    xi = [[p.sample(i, rng) for i in range(n)] for _ in range(S)]
    xt = None if xi[0][0] is None else torch.as_tensor(np.array(xi))
    for draws, xb in ((xi, xt), ([[None] * n] * S, None)):
        G = oracle.grad(torch.as_tensor(x), xb).numpy()
        H = oracle.hvp(torch.as_tensor(x), torch.as_tensor(v), xb).numpy()
        for s in range(S):
            for i in range(n):
                np.testing.assert_allclose(G[s, i], p.grad_i(i, x[s, i], draws[s][i]), rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(H[s, i], p.hvp_i(i, x[s, i], v[s, i], draws[s][i]), rtol=1e-12, atol=1e-12)
    common = torch.as_tensor(x[:, :1])
    Gc = oracle.grad(common, xt).expand(S, n, d).numpy()
    for s in range(S):
        for i in range(n):
            np.testing.assert_allclose(Gc[s, i], p.grad_i(i, x[s, 0], xi[s][i]), rtol=1e-12, atol=1e-12)
    X = torch.as_tensor(x[:, 0])
    np.testing.assert_allclose(oracle.f(X).numpy(), [p.f(r) for r in x[:, 0]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(oracle.grad_f(X).numpy(), [p.grad(r) for r in x[:, 0]], rtol=1e-12, atol=1e-12)


def test_builtin_samplers_follow_the_problem_law():
    gen = torch.Generator().manual_seed(0)
    p = _problems()["logistic-uneven"]
    idx = batched_oracle(p, torch.device("cpu"), F64).sample(gen, 2000)
    for i, rows in enumerate(p.client_rows):
        got = idx[:, i].flatten().numpy()
        assert set(np.unique(got)) == set(rows)                   # every row of client i, only those
    q = problem_q4(seed=0, d=4, n=2, zeta_std=0.5, eps_std=0.2)
    z = batched_oracle(q, torch.device("cpu"), F64).sample(gen, 20000)
    assert z.shape == (20000, 2, 2, 4)
    np.testing.assert_allclose(z[:, :, 0].std().item(), 0.5, rtol=0.02)
    np.testing.assert_allclose(z[:, :, 1].std().item(), 0.2, rtol=0.02)
    assert abs(z.mean().item()) < 0.01
    h = HeterogeneousSignProblem(d=4, n=2, seed=0)
    u = batched_oracle(h, torch.device("cpu"), F64).sample(gen, 20000)
    a = h.noise_half_width
    assert u.abs().max().item() <= a and u.abs().max().item() > 0.99 * a


# --------------------------------------------------------------------------- torch problems


def _tp(per_client: bool):
    w = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]], dtype=F64)

    def loss(x, xi):
        base = torch.log1p(torch.exp(-(x * w).sum(-1))) + 0.1 * (x ** 4).sum(-1)
        return base if xi is None else base + (xi * x).sum(-1)

    if per_client:
        return TorchProblem(2, 3, f_i=lambda i, x, xi: loss(x, None if xi is None else xi) if False else
                            (torch.log1p(torch.exp(-(x * w[i]).sum())) + 0.1 * (x ** 4).sum()
                             + (0 if xi is None else (xi * x).sum())),
                            sample=lambda i, r: r.normal(size=3))
    return TorchProblem(2, 3, loss=loss, sample=lambda i, r: r.normal(size=3))


def test_torch_problem_gradient_and_hvp_match_finite_differences():
    p = _tp(False)
    x = np.array([0.3, -0.2, 0.5])
    v = np.array([1.0, 0.5, -0.3])
    xi = np.array([0.1, 0.2, -0.1])
    h = 1e-6
    for i in range(2):
        fd = [(p.f_i(i, x + h * e, xi) - p.f_i(i, x - h * e, xi)) / (2 * h) for e in np.eye(3)]
        np.testing.assert_allclose(p.grad_i(i, x, xi), fd, atol=1e-8)
        fd_h = (p.grad_i(i, x + h * v, xi) - p.grad_i(i, x - h * v, xi)) / (2 * h)
        np.testing.assert_allclose(p.hvp_i(i, x, v, xi), fd_h, atol=1e-7)


def test_per_client_and_batched_torch_problems_agree():
    a, b = _tp(False), _tp(True)
    x = torch.randn(3, 2, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    xi = torch.randn(3, 2, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a.batched_grad(x, xi), b.batched_grad(x, xi))
    torch.testing.assert_close(a.batched_hvp(x, xi, xi), b.batched_hvp(x, xi, xi))
    r = algorithms.run("ef21-mvr-norm", a, RandK(2), np.ones(3), 4, stepsize=0.1, momentum=0.5,
                       backend="torch", seeds=2)
    assert torch.isfinite(r.x).all()


# --------------------------------------------------------------------------- selection kernels

_vectors = st.lists(st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 3.0]), min_size=1, max_size=12)


@given(rows=st.lists(_vectors, min_size=1, max_size=4).filter(lambda r: len({len(x) for x in r}) == 1),
       kfrac=st.floats(0.0, 1.0))
def test_topk_kernel_equals_compressor_on_ties(rows, kfrac):
    v = torch.tensor(rows, dtype=F64)
    d = v.shape[-1]
    k = max(1, min(d, round(kfrac * d)))
    C = TopK(k)
    assert torch.equal(compress(C, v), C.torch(v))
    np.testing.assert_array_equal(compress(C, v).numpy(), C.apply(v.numpy()))


@given(d=st.integers(1, 16), k=st.integers(1, 16), seed=st.integers(0, 10_000))
def test_randk_kernel_equals_compressor(d, k, seed):
    k = min(k, d)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(3, d, dtype=F64, generator=g)
    u = torch.floor(torch.rand(3, d, dtype=F64, generator=g) * 4) / 4      # many tied uniforms
    for C in (RandK(k), ScaledRandK(k)):
        assert torch.equal(compress(C, v, u=u), C.torch(v, u=u))


def test_largest_k_mask_counts_exactly_k():
    key = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 3.0, 3.0]])
    m = largest_k_mask(key, 2)
    assert m.tolist() == [[True, True, False, False], [True, False, True, False]]


@pytest.mark.parametrize("rows,d,k", [(12, 1000, 10), (5, 400, 4), (4, 97, 3), (3, 50, 10), (2, 10, 1)])
@pytest.mark.parametrize("law", ["continuous", "ties", "nonfinite"])
def test_largest_k_index_is_the_mask_or_declines(rows, d, k, law):
    """The fast index path (blocked or not) selects exactly the mask's set, or returns None."""
    g = torch.Generator().manual_seed(d + k)
    key = torch.rand(rows, d, dtype=F64, generator=g)
    if law == "ties":
        key = torch.floor(key * 8)
    elif law == "nonfinite":
        key[0, 3] = float("nan")
    idx = largest_k_index(key, k)
    if idx is None:
        assert law != "continuous"
        return
    assert idx.shape == (rows, k)
    got = torch.zeros((rows, d), dtype=torch.bool).scatter_(-1, idx, True)
    assert torch.equal(got, largest_k_mask(key, k))
    for C in (TopK(k), ScaledRandK(k)):
        v = torch.randn(rows, d, dtype=F64, generator=g)
        dense, i2, vals = compress_sparse(C, v, u=torch.rand(rows, d, dtype=F64, generator=g))
        if i2 is not None:
            assert torch.equal(torch.zeros_like(v).scatter_(-1, i2, vals), dense)


def test_unbiased_sign_kernel_equals_compressor():
    g = torch.Generator().manual_seed(3)
    v = 3.0 * torch.randn(4, 50, dtype=F64, generator=g)
    u = torch.rand(4, 50, dtype=F64, generator=g)
    C = UnbiasedSign(2.0, on_violation="clip")
    assert torch.equal(compress(C, v, u=u), C.torch(v, u=u))


def test_other_compressors_go_through_their_torch_method():
    v = torch.tensor([[1.0, -2.0, 0.0, 4.0]], dtype=F64)
    C = ScaledSign()
    assert torch.equal(compress(C, v), C.torch(v))


# --------------------------------------------------------------------------- benchmark harness


def test_benchmark_measures_and_fits(capsys):
    from benchmarks import engine as bench

    row = bench.measure("ef21-norm", 2, 50, 2, 2, "cpu", "float64")
    assert row["speedup"] > 0 and row["eng_updates_per_s"] == pytest.approx(2 * 2 * 50 / row["eng_s_per_iter"])
    rows = [dict(row, n=n, d=d, ref_s_per_iter=1e-6 * n * d) for n, d in ((2, 10), (4, 10), (4, 100))]
    assert bench.scaling_exponent(rows, "ref_s_per_iter") == pytest.approx(1.0)
    assert bench.main(["--algorithms", "nope"]) == 2
    assert "name must be one of" in capsys.readouterr().err


def test_benchmark_compares_separate_and_grouped_runs(capsys):
    """The grouped-runs row: the same figures (asserted inside) and both times measured."""
    from benchmarks import engine as bench

    row = bench.grouped_runs(iters=20, seeds=4, batch=2)
    assert row["runs"] == 12 and row["separate_s"] > 0 and row["grouped_s"] > 0
    assert "figures bit-identical" in capsys.readouterr().out


def test_compile_probe_reports_a_failing_compiler_in_its_row(monkeypatch):
    """Without a working torch.compile the probe still times eager and names the error; its core is
    the normalized EF21-MVR step: a unit direction and messages of two entries per client."""
    from benchmarks import engine as bench

    def broken(fn, **kw):
        raise RuntimeError("no compiler here\nmore detail")

    monkeypatch.setattr(torch, "compile", broken)
    row = bench.compile_probe(S=2, calls=3)
    assert row["eager_s_per_call"] > 0 and row["error"] == "RuntimeError: no compiler here"
    gen = torch.Generator().manual_seed(3)
    G, Gp, v, g_i = (torch.randn(2, 4, 10, dtype=torch.float64, generator=gen) for _ in range(4))
    g, x = torch.zeros(2, 10, dtype=torch.float64), torch.zeros(2, 10, dtype=torch.float64)
    v_new, g_i_new, g_new, x_new, _ = bench._mvr_core(G, Gp, v, g_i, g, x, 0.1, 0.5, 4)
    assert torch.equal(v_new, G + 0.5 * (v - Gp))
    assert ((g_i_new - g_i) != 0).sum(-1).eq(2).all()
    assert torch.allclose(torch.linalg.vector_norm(x_new, dim=-1), torch.full((2,), 0.1, dtype=torch.float64))


def test_constant_operands_give_the_results_of_python_numbers():
    """The engine's 0-dim constants (made once per value, dtype and device) compute what the
    Python numbers they replace compute, bit for bit, in float64 and float32, and stay normal
    tensors when first made in inference mode."""
    from algorithms.torch._kernels import constant

    for dtype in (torch.float64, torch.float32):
        v = torch.randn(5, 3, 7, dtype=dtype, generator=torch.Generator().manual_seed(1))
        assert torch.equal(v.sum(dim=1).div_(constant(3, v)), v.sum(dim=1) / 3)
        assert torch.equal(torch.mul(v, constant(0.1, v)), v * 0.1)
        assert torch.equal(torch.eq(v.round(), constant(0.0, v)), v.round() == 0)
        assert constant(0.1, v) is constant(0.1, v) and constant(0.1, v).dtype == dtype
    with torch.inference_mode():
        c = constant(7.5, torch.zeros(1, dtype=torch.float64))
    assert not c.is_inference()
