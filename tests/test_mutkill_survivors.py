"""Small contracts of the engine's randomness, oracles, optimizer steps and compressor interface.

* :meth:`algorithms.torch._random.Stream.normal` on the CPU: the Box--Muller transform of the
  stream's own words with NumPy's logarithm, bit for bit (the module docstring's layout).
* Option names in error messages and options forwarded by the optimizers (``sign_zero``,
  ``momentum_convention``, the default ``local_feedback=True`` of the EF / SAEF step).
* Batched oracles: tuple draws and per-call draws of a ``sample_torch`` problem, the dtype of
  the quadratic's draws, the device of a torch problem's NumPy-fallback draws, the message for
  draws of varying shapes, per-client losses ``f_i(i, x, None)`` that use ``i``, NumPy points of
  other float types.
* The state of the sign methods lives on the parameters' device whatever torch's default
  device is; the :class:`~eftheory.compressors.Compressor` interface's ``bits``.
"""

from __future__ import annotations

import contextlib
import inspect
import math

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import algorithms
from algorithms.cards import card as _card
from algorithms.torch import optim
from algorithms.torch._random import CounterRandom
from algorithms.torch.optim import _steps
from algorithms.torch.problems import NumpyFallbackOracle, TorchProblem, TorchProblemOracle, batched_oracle
from eftheory.compressors import Compressor, Identity, TopK
from eftheory.problems import problem_q4
from test_mutkill_oracles import META, _quadratic

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# counter-based normals
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("m", [2001, 4000])
def test_cpu_normals_are_box_muller_of_the_stream_words_with_numpy_log(m):
    """On the CPU, a call of m normals is sqrt(-2 ln a_p) cos / sin(2 pi b_p) of the stream's own
    words (a_p = (floor(w_p / 2**11) + 1) 2**-53, b_p the word m'/2 + p), with NumPy's logarithm."""
    seeds, count = [5, 17], 2
    z = CounterRandom(seeds).stream("sample:xi").normal((m,), count)
    h = (m + 1) // 2
    u = CounterRandom(seeds).stream("sample:xi").uniform((2 * h,), count)    # the same words, in [0, 1)
    a, b = u[..., :h], u[..., h:]
    a.add_(2.0 ** -53)                                                       # (floor(w / 2**11) + 1) 2**-53, exact
    an = a.numpy()
    np.log(an, out=an)
    r = a.mul_(-2.0).sqrt_()
    theta = b.mul_(2.0 ** 53).mul_(2.0 ** -53 * 2.0 * math.pi)
    want = torch.empty((len(seeds), count, 2 * h), dtype=torch.float64)
    torch.cos(theta, out=want[..., :h]).mul_(r)
    torch.sin(theta, out=want[..., h:]).mul_(r)
    assert z.shape == (len(seeds), count, m)
    assert torch.equal(z, want[..., :m])


# ---------------------------------------------------------------------------------------------
# option names and forwarded options
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ef", "saef"])
def test_engine_names_local_feedback_when_it_is_not_a_flag(name):
    """The torch engine refuses a non-boolean local_feedback with a message naming the option."""
    p = problem_q4(seed=1, d=4, n=2)
    with pytest.raises(ValueError, match=r"^local_feedback must be True or False; got 1$"):
        algorithms.run(name, p, TopK(1), np.zeros(4), 2, backend="torch", stepsize=0.1, local_feedback=1)


A2 = torch.tensor([[1.0, 2.0, 0.5, 1.5], [2.0, 0.5, 1.0, 1.0]], dtype=torch.float64)
C2 = torch.tensor([[0.5, -1.0, 2.0, 0.0], [1.5, 1.0, -2.0, 0.5]], dtype=torch.float64)


def _local_ef_run(options, steps=4):
    env = _steps.ClientEnv(2, 4, device=CPU, dtype=torch.float64, grad=lambda pts, xi: A2 * (pts - C2))
    agg = _steps.LocalAggregate(2)
    x = torch.zeros((1, 4), dtype=torch.float64)
    st: dict = {}
    for t in range(steps):
        x = _steps.local_ef_step(env, _card("ef"), st, x, t, eta=0.1, compressor=TopK(1), options=options, agg=agg)
    return x


def test_local_ef_step_keeps_the_local_error_by_default():
    """The optimizers' EF / SAEF step without a local_feedback option keeps the local error
    (local_feedback=True, the card's default), which differs from dropping it."""
    base = {"mu": 0.0, "p": math.inf, "double_way": False}
    default = _local_ef_run(base)
    assert torch.equal(default, _local_ef_run({**base, "local_feedback": True}))
    assert not torch.equal(default, _local_ef_run({**base, "local_feedback": False}))


@pytest.mark.parametrize("zero", [-1, 0, 1])
def test_sign_optimizer_uses_the_given_sign_of_zero(zero):
    """SignSGD's sign_zero is the value of sign(0): a coordinate with an exactly zero gradient
    moves by -stepsize * sign_zero, the others by -stepsize * sign(g)."""
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.0, 0.0, -3.0], dtype=torch.float64)
    opt = optim.SignSGD([w], stepsize=0.25, n_clients=1, sign_zero=zero)
    opt.step(lambda i, fresh: (c * w).sum())
    want = torch.tensor([1.0 - 0.25, -2.0 - 0.25 * zero, 0.5 + 0.25], dtype=torch.float64)
    assert torch.equal(w.detach(), want)


def _smm_reference(w0, beta, gamma, steps, convention):
    """SMM on f(w) = 1/2 sum a_j (w_j - c_j)^2: v_1 = g_1, then (1 - beta) v + beta g (new_weight)
    or beta v + (1 - beta) g (old_weight); w <- w - gamma sign(v)."""
    a, c = A2[0].numpy(), C2[0].numpy()
    w, v = w0.copy(), None
    for k in range(steps):
        g = a * (w - c)
        if k == 0:
            v = g.copy()
        elif convention == "new_weight":
            v = (1.0 - beta) * v + beta * g
        else:
            v = beta * v + (1.0 - beta) * g
        w = w - gamma * np.sign(v)
    return w


@pytest.mark.parametrize("convention", ["new_weight", "old_weight"])
def test_smm_optimizer_uses_the_given_momentum_convention(convention):
    """SMM's momentum_convention chooses which of v and g the momentum weighs by beta."""
    w0 = np.array([3.0, -2.0, 4.0, 1.0])
    w = torch.tensor(w0, requires_grad=True)
    opt = optim.SMM([w], stepsize=0.3, momentum=0.2, n_clients=1, momentum_convention=convention)
    for _ in range(6):
        opt.step(lambda i, fresh: 0.5 * (A2[0] * (w - C2[0]) ** 2).sum())
    want = _smm_reference(w0, 0.2, 0.3, 6, convention)
    np.testing.assert_allclose(w.detach().numpy(), want, rtol=0, atol=1e-12)
    other = _smm_reference(w0, 0.2, 0.3, 6, "old_weight" if convention == "new_weight" else "new_weight")
    assert np.abs(want - other).max() > 0.1                      # the two conventions part ways here


class _AllocateOnMeta(TorchFunctionMode):
    """Allocation functions called without a device allocate on torch's "meta" device: a stand-in,
    on every machine, for a default device (``torch.set_default_device``) other than the parameters'."""

    FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.rand, torch.randn}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = META
        return func(*args, **kwargs)


@pytest.mark.parametrize("cls,n", [(optim.Signum, 1), (optim.MVSignum, 2), (optim.SMM, 1)])
def test_sign_momentum_state_lives_on_the_parameters_device(cls, n):
    """The sign methods' momentum is allocated on the parameters' device, not on the default
    device: steps taken while allocations default to another device give the same parameters."""
    def run(mode):
        w = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
        opt = cls([w], stepsize=0.1, momentum=0.5, n_clients=n)
        closure = lambda i, fresh: 0.5 * (A2[i] * (w - C2[i]) ** 2).sum()     # noqa: E731
        with mode:
            for _ in range(3):
                opt.step(closure)
        return w.detach().clone()

    plain = run(contextlib.nullcontext())
    elsewhere = run(_AllocateOnMeta())
    assert elsewhere.device == CPU
    assert torch.equal(elsewhere, plain)


# ---------------------------------------------------------------------------------------------
# batched oracles
# ---------------------------------------------------------------------------------------------

def _tuple_sample_torch(generator, S):
    a = torch.rand((S, 2, 3), generator=generator, dtype=torch.float64)
    j = torch.randint(0, 5, (S, 2, 2), generator=generator)
    return a, j


def _plain_sample_torch(generator, S):
    return torch.rand((S, 2, 3), generator=generator, dtype=torch.float64)


def _quad_loss(x, xi):
    return 0.5 * (x * x).sum(-1)


@pytest.mark.parametrize("sample_torch", [_tuple_sample_torch, _plain_sample_torch], ids=["tuple", "array"])
def test_sample_torch_draws_are_one_call_per_run_and_call(sample_torch):
    """draw(stream, count) of a sample_torch problem: leading (S, count, n), and call c of run s is
    sample_torch(generator seeded from the stream, 1) -- a tuple stays a tuple, component by component."""
    o = TorchProblemOracle(TorchProblem(2, 3, loss=_quad_loss, sample_torch=sample_torch), CPU, torch.float64)
    seeds, count = [3, 8], 3
    xi = o.draw(CounterRandom(seeds).stream("sample:xi"), count)
    per_call = CounterRandom(seeds).stream("sample:xi").seeds(count)
    parts = xi if isinstance(xi, tuple) else (xi,)
    assert isinstance(xi, tuple) == (sample_torch is _tuple_sample_torch)
    for s in range(len(seeds)):
        for c in range(count):
            one = sample_torch(torch.Generator().manual_seed(per_call[s][c]), 1)
            one = one if isinstance(one, tuple) else (one,)
            assert len(parts) == len(one)
            for got, want in zip(parts, one):
                assert got.shape[:3] == (len(seeds), count, 2)
                assert got.shape[3:] == want.shape[2:]
                assert torch.equal(got[s, c], want[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_quadratic_stream_draws_take_the_engine_dtype(dtype):
    """The quadratic's draws from a counter stream are in the engine's dtype: the stream's normals
    of that dtype, scaled by (zeta_std, eps_std)."""
    o = batched_oracle(_quadratic(0.5, 0.25), CPU, dtype)
    xi = o.draw(CounterRandom([4]).stream("sample:xi"), 2)
    assert xi.dtype == dtype and xi.shape == (1, 2, 2, 2, 3)
    z = CounterRandom([4]).stream("sample:xi").normal((2, 2, 3), 2, dtype=dtype)
    scale = torch.tensor([0.5, 0.25], dtype=dtype)
    assert torch.equal(xi, z * scale[:, None])


def test_torch_problem_numpy_fallback_draws_on_the_oracle_device():
    """A torch problem with only a NumPy sample draws through the fallback on the oracle's device."""
    p = TorchProblem(2, 3, loss=_quad_loss, sample=lambda i, rng: rng.uniform(-0.5, 0.5, size=3))
    o = TorchProblemOracle(p, META, torch.float64, seed=1)
    xi = o.sample(torch.Generator().manual_seed(0), 2)
    assert xi.device == META and xi.shape == (2, 2, 3)
    drawn = o.draw(CounterRandom([0, 1]).stream("sample:xi"), 3)
    assert drawn.device == META and drawn.shape == (2, 3, 2, 3)


class _RaggedDraws:
    """A protocol problem whose clients draw vectors of different lengths."""

    n_clients, dim = 2, 3

    def f_i(self, i, x, xi=None):
        return float(x @ x)

    def f(self, x):
        return float(x @ x)

    def grad_i(self, i, x, xi=None):
        return 2.0 * np.asarray(x, dtype=np.float64)

    def sample(self, i, rng):
        return rng.normal(size=3 + i)


def test_fallback_sample_names_the_draw_contract():
    """Draws of different shapes cannot form a batch: a ValueError says what sample must return."""
    o = NumpyFallbackOracle(_RaggedDraws(), CPU, torch.float64)
    msg = ("sample must return draws of one fixed kind and shape per problem (None, an array or a "
           "tuple of arrays) for the batched engine")
    with pytest.raises(ValueError) as err:
        o.sample(None, 2)
    assert str(err.value) == msg


def test_per_client_losses_without_a_draw_evaluate_each_client():
    """With a per-client f_i(i, x, xi), losses(x, None) holds f_i(i, x[..., i, :], None) in column i."""
    weights = torch.tensor([1.0, 3.0, -2.0], dtype=torch.float64)

    def f_i(i, x, xi):
        return weights[i] * (x * x).sum()

    p = TorchProblem(3, 2, f_i=f_i)
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(2, 3, 2)))
    want = weights * (x * x).sum(-1)
    assert torch.equal(p.losses(x, None), want)
    np.testing.assert_allclose(p.grad_i(1, x[0, 1].numpy()), (6.0 * x[0, 1]).numpy(), rtol=1e-15)
    assert p.f_i(2, x[1, 2].numpy()) == pytest.approx(float(want[1, 2]), rel=1e-15)


def test_torch_problem_numpy_methods_accept_points_of_other_float_types():
    """The NumPy methods of a TorchProblem evaluate in float64 whatever float type the point has."""
    p = TorchProblem(2, 3, loss=lambda x, xi: 0.5 * (torch.arange(1.0, 4.0, dtype=x.dtype) * x * x).sum(-1))
    x64 = np.array([0.5, -1.25, 2.0])
    for x in (x64.astype(np.longdouble), x64.astype(np.float32), [0.5, -1.25, 2.0]):
        assert p.f_i(1, x) == p.f_i(1, x64)
        np.testing.assert_array_equal(p.grad_i(0, x), p.grad_i(0, x64))
        np.testing.assert_array_equal(p.hvp_i(1, x, x64), p.hvp_i(1, x64, x64))


# ---------------------------------------------------------------------------------------------
# the compressor interface
# ---------------------------------------------------------------------------------------------

def test_compressor_interface_bits_defaults_to_values_and_is_abstract():
    """Compressor.bits is the interface every compressor implements: convention defaults to
    "values" (as in Identity and Top-K), and the base class itself raises NotImplementedError."""
    for cls in (Compressor, Identity, TopK):
        assert inspect.signature(cls.bits).parameters["convention"].default == "values"

    class Bare(Compressor):
        name = "bare"

    with pytest.raises(NotImplementedError):
        Bare().bits(4)
    with pytest.raises(NotImplementedError):
        Bare().bits(4, "values+indices")
