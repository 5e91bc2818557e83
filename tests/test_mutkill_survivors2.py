"""More small contracts: the distributed runner's checks and failure
reports, the draws of the diagonal and NumPy-fallback oracles, the engine's work buffers and
compressor streams, the EF step's reuse of its error buffers, and the sign loop's downlinks.

* :func:`algorithms.torch.distributed.make_job` refuses ``checkpoint_every < 1`` and ``resume``
  without a folder; :func:`~algorithms.torch.distributed.available` says why
  ``torch.distributed`` cannot run; :func:`~algorithms.torch.distributed.spawn` picks nccl for
  CUDA and gloo for the CPU, accepts ``backend="nccl"``, and its clean-up never hides the run's
  own error; ``_failure`` names the rank that died without a word, and a collective's error.
* :class:`~algorithms.torch.problems.DiagonalOracle` draws U[-a, a] noise from a stream;
  :class:`~algorithms.torch.problems.NumpyFallbackOracle` seeds its generators with 0 by default.
* :class:`algorithms.torch._core.Env`: a random compressor's uniforms come from the stream
  ``compress:<stream or out>``, and C(v) is written into the work buffer ``out``;
  :class:`algorithms.torch.optim._steps.ClientEnv` keeps its work buffers.
* The EF / SAEF step writes Delta into ``st["spare"]`` and hands the entering errors' memory back
  as the next spare; a non-finite message is reported as ``"message c_i"``.
* The NumPy sign loop: majority vote up with the stochastic sign S_1 down; its ``downlink`` check.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile

import numpy as np
import pytest
import torch

from algorithms.numpy._sign_loop import run_sign_loop
from algorithms.registry import Streams
from algorithms.torch import _core
from algorithms.torch import distributed as D_
from algorithms.torch import optim
from algorithms.torch._kernels import compress as kernel_compress
from algorithms.torch._random import CounterRandom
from algorithms.torch.distributed import make_job
from algorithms.torch.optim import _steps
from algorithms.torch.problems import DiagonalOracle, NumpyFallbackOracle
from eftheory.compressors import TopK, UnbiasedSign
from eftheory.problems import HeterogeneousSignProblem
from eftheory.schedules import as_schedule
from eftheory.validation import NonFiniteError
from test_torch_distributed import X0, LogisticProblem
from test_mutkill_survivors import _RaggedDraws

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# the distributed runner: make_job, available, spawn, _failure
# ---------------------------------------------------------------------------------------------

def _job(**kw):
    return make_job("ef21-norm", functools.partial(LogisticProblem, 1), TopK(2), X0, 4, stepsize=0.05, **kw)


@pytest.mark.parametrize("every", [0, -2])
def test_make_job_refuses_a_checkpoint_period_below_one(every, tmp_path):
    """checkpoint_every is an integer >= 1: 0 or a negative period is refused with a one-line
    ValueError naming the option and its range."""
    with pytest.raises(ValueError, match=rf"^checkpoint_every must be an integer in \[1, inf\]; got {every}$"):
        _job(checkpoint_every=every, checkpoint_dir=str(tmp_path))
    assert _job(checkpoint_every=1, checkpoint_dir=str(tmp_path)).checkpoint_every == 1


def test_make_job_names_the_folder_a_resume_needs():
    """resume=True without checkpoint_dir is refused with a message saying what the folder is for."""
    with pytest.raises(ValueError) as err:
        _job(resume=True)
    assert str(err.value) == "checkpoint_dir must be the folder of the checkpoints to resume from; got None"


def test_available_says_when_torch_distributed_is_missing(monkeypatch):
    """Without torch.distributed in the torch build, available() is (False, the reason in words)."""
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_available", lambda: False)
    assert D_.available("gloo") == (False, "torch.distributed is not available in this torch build")
    assert D_.available("nccl") == (False, "torch.distributed is not available in this torch build")


def _record_available(monkeypatch):
    asked = []

    def fake(backend="gloo"):
        asked.append(backend)
        return False, "stand-in reason"

    monkeypatch.setattr(D_, "available", fake)
    return asked


@pytest.mark.parametrize("device,backend,want", [("cuda", None, "nccl"), ("cpu", None, "gloo"),
                                                 ("cpu", "nccl", "nccl"), ("cuda", "gloo", "gloo")])
def test_spawn_chooses_and_accepts_the_backend(monkeypatch, device, backend, want):
    """spawn's backend defaults to nccl on CUDA and gloo on the CPU; 'nccl' and 'gloo' given
    explicitly are accepted and checked for usability (here a stand-in says no: the ValueError
    carries its reason)."""
    asked = _record_available(monkeypatch)
    with pytest.raises(ValueError, match=r"^backend must be usable here; stand-in reason$"):
        D_.spawn([], 1, backend=backend, device=device)
    assert asked == [want]


def test_spawn_refuses_an_unknown_backend(monkeypatch):
    """A backend other than gloo / nccl is refused by name before anything else is tried."""
    asked = _record_available(monkeypatch)
    with pytest.raises(ValueError, match=r"^backend must be one of 'gloo', 'nccl'; got 'mpi'$"):
        D_.spawn([], 1, backend="mpi")
    assert asked == []


def test_spawn_clean_up_never_hides_the_runs_own_error(monkeypatch):
    """spawn removes its temporary folder when it ends, and a folder already gone (or not
    removable) does not replace the error that ended the run."""
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kw):
        made.append(real_mkdtemp(*args, **kw))
        return made[-1]

    def get_context(method):
        shutil.rmtree(made[-1])
        raise RuntimeError("cannot start processes here")

    import torch.multiprocessing as mp

    monkeypatch.setattr(D_, "available", lambda backend="gloo": (True, ""))
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(mp, "get_context", get_context)
    with pytest.raises(RuntimeError, match=r"^cannot start processes here$"):
        D_.spawn([], 1)
    assert len(made) == 1 and not os.path.exists(made[0])


def test_failure_names_the_rank_that_died_without_a_message(tmp_path):
    """A rank gone with a non-zero code and no word in the side channel is the one named (with its
    exit code and signal), not the ranks that reported their failed collectives."""
    D_._Progress(str(tmp_path), 2).error("comm", "rank 2: collective failed (RuntimeError: peer gone)")
    msg = D_._failure(str(tmp_path), [], [0, -9, 3], 30.0)
    assert msg == ("distributed run failed: rank(s) 1 (exit code -9, killed by SIGKILL) died without a message; "
                   "the other ranks' collectives failed on the lost connection")


def test_failure_reports_a_collectives_error_in_one_line(tmp_path):
    """When every failed rank reported only a failed collective, the report is the first such
    message, its whitespace folded into single spaces."""
    D_._Progress(str(tmp_path), 1).error("comm", "rank 1: collective failed\n  (RuntimeError:   timeout)")
    D_._Progress(str(tmp_path), 0).error("comm", "rank 0: collective failed (RuntimeError: reset)")
    msg = D_._failure(str(tmp_path), [], [3, 3], 30.0)
    assert msg == "distributed run failed: rank 0: collective failed (RuntimeError: reset)"
    os.remove(tmp_path / "error.0")
    assert D_._failure(str(tmp_path), [], [0, 3], 30.0) == \
        "distributed run failed: rank 1: collective failed (RuntimeError: timeout)"


# ---------------------------------------------------------------------------------------------
# oracle draws
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a", [0.25, 3.0])
def test_diagonal_oracle_stream_draws_are_uniform_on_minus_a_to_a(a):
    """The heterogeneous sign problem's noise drawn from a counter stream is (2u - 1) a, u the
    stream's uniforms: U[-a, a] with a = noise_half_width."""
    p = HeterogeneousSignProblem(d=5, n=3, seed=2, noise_half_width=a)
    o = DiagonalOracle(p, CPU, torch.float64)
    xi = o.draw(CounterRandom([4, 9]).stream("sample:xi"), 3)
    u = CounterRandom([4, 9]).stream("sample:xi").uniform((3, 5), 3, dtype=torch.float64)
    assert xi.shape == (2, 3, 3, 5)
    torch.testing.assert_close(xi, (2.0 * u - 1.0) * a, rtol=0, atol=1e-15 * a)
    assert float(xi.abs().max()) <= a


class _NormalDraws(_RaggedDraws):
    """A protocol problem whose client i draws rng.normal(size=2) + 10 i."""

    n_clients, dim = 2, 2

    def sample(self, i, rng):
        return rng.normal(size=2) + 10.0 * i


def test_numpy_fallback_generators_are_seeded_with_0_by_default():
    """Without a seed, the fallback's run s draws from numpy.random.default_rng([0, s]), clients in order."""
    o = NumpyFallbackOracle(_NormalDraws(), CPU, torch.float64)
    xi = o.sample(None, 2)
    assert xi.shape == (2, 2, 2)
    for s in range(2):
        rng = np.random.default_rng([0, s])
        want = np.stack([_NormalDraws().sample(i, rng) for i in range(2)])
        np.testing.assert_array_equal(xi[s].numpy(), want)


# ---------------------------------------------------------------------------------------------
# the engine's compressor calls and work buffers
# ---------------------------------------------------------------------------------------------

def _env(seeds=(3, 5)):
    p = HeterogeneousSignProblem(d=4, n=3, seed=1)
    return _core.Env("mvsm-v2", p, np.zeros(4), seed=0, seeds=list(seeds), device="cpu", dtype="float64",
                     draws=None, oracle=None, diagnostics="light")


V = torch.tensor([[[0.5, -1.0, 1.5, 0.0], [-0.25, 0.75, -1.75, 1.0], [1.25, 0.0, -0.5, -1.5]],
                  [[-0.5, 1.0, 0.25, -1.25], [1.5, -0.75, 0.0, 0.5], [-1.0, 1.75, -0.25, 0.75]]],
                 dtype=torch.float64)


@pytest.mark.parametrize("out,stream,label", [("msgs", None, "compress:msgs"), (None, "up", "compress:up"),
                                              ("msgs", "up", "compress:up"), (None, None, "compress:v")])
def test_env_compress_draws_from_the_stream_named_by_stream_or_out(out, stream, label):
    """A random compressor's call env.compress(C, v, out, stream) takes its uniforms (the shape of v
    after the run axis) from the counter stream compress:<stream or out>, compress:v without either."""
    C = UnbiasedSign(2.0, on_violation="clip")
    got = _env().compress(C, V, out=out, stream=stream)
    u = CounterRandom([3, 5]).stream(label).uniform((3, 4), 1, dtype=torch.float64)[:, 0]
    assert torch.equal(got, kernel_compress(C, V, u=u))


@pytest.mark.parametrize("C", [TopK(2), UnbiasedSign(2.0, on_violation="clip")], ids=["topk", "sign"])
def test_env_compress_writes_into_the_named_work_buffer(C):
    """env.compress(C, v, out=name) writes C(v) into the run's work buffer of that name (Top-K and
    the stochastic sign support it): the result is env.buffer(name, v.shape)."""
    env = _env()
    got = env.compress(C, V, out="msgs")
    buf = env.buffer("msgs", V.shape)
    assert got.data_ptr() == buf.data_ptr()
    assert torch.equal(buf, got)


def test_client_env_keeps_its_work_buffers():
    """ClientEnv.buffer(name) is a persistent work tensor: the same tensor on every call of the
    same name and shape, (1, n, d) by default; another name or shape gives another tensor."""
    env = _steps.ClientEnv(2, 3, device=CPU, dtype=torch.float64, grad=lambda pts, xi: pts)
    a = env.buffer("y")
    assert a.shape == (1, 2, 3) and a.dtype == torch.float64
    assert env.buffer("y") is a and env.buffer("y", (1, 2, 3)) is a
    assert env.buffer("tmp") is not a
    b = env.buffer("y", (1, 1, 3))
    assert b.shape == (1, 1, 3) and env.buffer("y", (1, 1, 3)) is b


# ---------------------------------------------------------------------------------------------
# the EF / SAEF step
# ---------------------------------------------------------------------------------------------

A2 = torch.tensor([[1.0, 2.0, 0.5, 1.5], [2.0, 0.5, 1.0, 1.0]], dtype=torch.float64)
C2 = torch.tensor([[0.5, -1.0, 2.0, 0.0], [1.5, 1.0, -2.0, 0.5]], dtype=torch.float64)


@pytest.mark.parametrize("step_ahead", [False, True], ids=["ef", "saef"])
def test_local_ef_step_writes_delta_into_the_spare_and_rotates_it(step_ahead):
    """With st["spare"] given, the step writes Delta^(k) = e + eta m into the spare's memory (with
    Top-K the new local errors stay there) and the entering errors' memory becomes the next spare:
    over the steps the errors alternate between the two buffers, none allocated per step."""
    from algorithms.torch.local_ef import local_ef_step

    env = _steps.ClientEnv(2, 4, device=CPU, dtype=torch.float64, grad=lambda pts, xi: A2 * (pts - C2))
    agg = _steps.LocalAggregate(2)
    x = torch.zeros((1, 4), dtype=torch.float64)
    m = torch.zeros((1, 2, 4), dtype=torch.float64)
    e0, spare0 = torch.zeros_like(m), torch.empty_like(m)
    st = {"m": m, "e_loc": e0, "e_srv": torch.zeros_like(x), "spare": spare0}
    mems = (e0.data_ptr(), spare0.data_ptr())
    for t in range(4):
        entering = st["e_loc"]
        spare = st["spare"]
        x = local_ef_step(env, st, x, t, eta=0.1, mu=0.5, p=10, step_ahead=step_ahead, average=step_ahead,
                          double_way=True, compressor=TopK(1), agg=agg, watch=_steps.watch)
        assert st["e_loc"].data_ptr() == spare.data_ptr()
        assert st["spare"] is entering
        assert {st["e_loc"].data_ptr(), st["spare"].data_ptr()} == set(mems)
    assert bool((x != 0).any())


def test_ef_optimizer_names_a_non_finite_message():
    """A finite gradient and momentum whose step eta m overflows make the compressed message c_i the
    first non-finite quantity: NonFiniteError says "message c_i" at that iteration."""
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    big = torch.tensor([1e308, -1e308, 1e300], dtype=torch.float64)
    opt = optim.EF([w], stepsize=10.0, n_clients=1, compressor=TopK(1), mu=0.0)
    with pytest.raises(NonFiniteError) as err:
        opt.step(lambda i, fresh: (big * w).sum())
    assert err.value.quantity == "message c_i" and err.value.iteration == 0
    assert str(err.value).startswith("message c_i became non-finite (NaN or inf) at iteration 0")


# ---------------------------------------------------------------------------------------------
# the NumPy sign loop
# ---------------------------------------------------------------------------------------------

def _sign_loop(**kw):
    p = HeterogeneousSignProblem(d=4, n=3, seed=5, noise_half_width=0.5)
    args = dict(stepsize=as_schedule(0.1), momentum=None, seed=7, estimator="grad", uplink="sign",
                downlink="stochastic_sign", options={})
    args.update(kw)
    return p, run_sign_loop("mv-sto-down", p, np.array([1.0, -2.0, 0.5, 3.0]), 5, **args)


def test_sign_loop_majority_vote_up_and_stochastic_sign_down():
    """Majority vote up (each node sends sign(g_j)) with the stochastic sign down: the server
    broadcasts s = S_1(u), u the mean of the signs, drawn from the compress stream; x <- x - eta s."""
    p, res = _sign_loop()
    streams = Streams(7)
    x = np.array([1.0, -2.0, 0.5, 3.0])
    S1 = UnbiasedSign(1.0, on_violation="clip")
    want = [x]
    for _ in range(5):
        g = np.stack([p.grad_i(j, x, p.sample(j, streams.sample)) for j in range(3)])
        u = np.sign(g).sum(axis=0) / 3
        s = S1(u, streams.compress)
        x = x - 0.1 * s
        want.append(x)
    np.testing.assert_array_equal(res.x, np.stack(want))
    assert res.bits_up.tolist() == [4.0] * 5 and res.bits_down.tolist() == [4.0] * 5


def test_sign_loop_names_a_bad_downlink():
    """The sign loop refuses an unknown downlink with a message naming the argument and its choices."""
    with pytest.raises(ValueError, match=r"^downlink must be one of 'none', 'sign', 'stochastic_sign'; got 'vote'$"):
        _sign_loop(downlink="vote")
