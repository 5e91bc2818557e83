"""algorithms.torch.replay: the recorded draws are the reference's own, stacked as documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import algorithms
from algorithms import registry
from algorithms.torch import replay
from eftheory.compressors import RandK


class Quad:
    """f_i(x) = 1/2 ||x - c_i||^2 with minibatch noise drawn from the problem's rng."""

    def __init__(self, n=2, d=4, kind="array"):
        self.n_clients, self.dim, self.kind = n, d, kind
        self.c = np.arange(n * d, dtype=float).reshape(n, d) / 10

    def sample(self, i, rng):
        if self.kind == "none":
            return None
        idx = rng.integers(0, 5, size=2)
        return (idx, rng.random(1)) if self.kind == "tuple" else idx

    def grad_i(self, i, x, xi=None):
        g = x - self.c[i]
        if xi is not None:
            idx = xi[0] if isinstance(xi, tuple) else xi
            g = g + 0.01 * float(np.sum(idx))
        return g

    def f_i(self, i, x):
        return 0.5 * float(np.sum((x - self.c[i]) ** 2))

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(self.n_clients)]))


def test_recording_generator_logs_every_uniform_of_the_same_stream():
    log = []
    rec = replay._RecordingGenerator(np.random.PCG64(5), log)
    plain = np.random.Generator(np.random.PCG64(5))
    a, b = rec.random((2, 3)), rec.random()
    np.testing.assert_array_equal(a, plain.random((2, 3)))
    assert b == plain.random()
    assert len(log) == 2 and log[0].shape == (6,) and log[1].shape == (1,)
    np.testing.assert_array_equal(log[0], a.ravel())
    a[0, 0] = -1.0
    assert log[0][0] != -1.0                               # the log holds a copy


def test_recording_patches_streams_only_inside_the_block():
    original = registry.Streams.__init__
    with replay.recording() as made:
        s = registry.Streams(3)
        s.compress.random(4)
        s.aux.random(2)
        s.sample.random(1)
        assert registry.Streams.__init__ is not original
    assert registry.Streams.__init__ is original
    assert len(made) == 1
    assert [len(made[0].compress), len(made[0].aux), len(made[0].sample)] == [1, 1, 1]
    assert made[0].compress[0].shape == (4,) and made[0].aux[0].shape == (2,)
    np.testing.assert_array_equal(made[0].compress[0], registry.Streams(3).compress.random(4))
    with pytest.raises(KeyError):
        with replay.recording():
            raise KeyError("x")
    assert registry.Streams.__init__ is original


def test_sample_log_forwards_and_logs_per_client():
    p = Quad()
    log = replay._SampleLog(p)
    rng = np.random.default_rng(0)
    a = log.sample(1, rng)
    b = log.sample(1, rng)
    assert log.dim == 4 and log.n_clients == 2 and log.f_i(0, np.zeros(4)) == p.f_i(0, np.zeros(4))
    assert log.per_client[0] == [] and len(log.per_client[1]) == 2
    assert log.per_client[1][0] is a and log.per_client[1][1] is b


def _log_of(per_client):
    log = replay._SampleLog(Quad(n=len(per_client)))
    log.per_client = per_client
    return log


def test_stack_samples_shapes_and_refusals():
    assert replay._stack_samples([_log_of([[], []])]) is None
    assert replay._stack_samples([_log_of([[None], [None]])]) is None
    arr = replay._stack_samples([_log_of([[np.array([1, 2]), np.array([3, 4])], [np.array([5, 6]), np.array([7, 8])]]),
                                 _log_of([[np.array([0, 0]), np.array([0, 1])], [np.array([1, 0]), np.array([1, 1])]])])
    assert isinstance(arr, torch.Tensor) and tuple(arr.shape) == (2, 2, 2, 2)      # (S, n, J, ...)
    assert arr[0, 1, 0].tolist() == [5, 6] and arr[1, 0, 1].tolist() == [0, 1]
    tup = replay._stack_samples([_log_of([[(np.array([1]), np.array([0.5]))], [(np.array([2]), np.array([0.25]))]])])
    assert isinstance(tup, tuple) and len(tup) == 2 and tuple(tup[0].shape) == (1, 2, 1, 1)
    assert tup[1][0, 1, 0, 0] == 0.25
    with pytest.raises(ValueError, match=r"^clients made different numbers of draws \[1, 2\]; cannot stack them$"):
        replay._stack_samples([_log_of([[np.array([1])], [np.array([1]), np.array([2])]])])
    with pytest.raises(ValueError, match=r"^a problem's sample returned None for some draws only$"):
        replay._stack_samples([_log_of([[None], [np.array([1])]])])


def test_flat_concatenates_or_is_empty():
    assert replay._flat([]).shape == (0,)
    np.testing.assert_array_equal(replay._flat([np.array([1.0]), np.array([2.0, 3.0])]), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("kind", ["array", "tuple", "none"])
def test_record_draws_replays_the_reference_in_the_engine(kind):
    p = Quad(kind=kind)
    x0 = np.ones(4)
    draws, results = replay.record_draws("ef21-sgd", p, RandK(2), x0, 5, seeds=(0, 4), stepsize=0.2)
    assert draws.seeds == (0, 4) and len(results) == 2
    # init="gradient" compresses nothing at round 0: one Rand-K of d = 4 per client and iteration
    assert tuple(draws.compress.shape) == (2, 5 * 2 * 4) and tuple(draws.aux.shape) == (2, 0)
    if kind == "none":
        assert draws.sample is None
    elif kind == "tuple":
        assert [tuple(t.shape) for t in draws.sample] == [(2, 2, 5, 2), (2, 2, 5, 1)]      # (S, n, J, ...)
    else:
        assert tuple(draws.sample.shape) == (2, 2, 5, 2)
    got = algorithms.run("ef21-sgd", p, RandK(2), x0, 5, stepsize=0.2, backend="torch", draws=draws, seeds=2)
    xs = np.asarray(got.x)
    for s, res in enumerate(results):
        np.testing.assert_allclose(xs[s], np.asarray(res.x), rtol=0, atol=1e-12)
    assert np.abs(np.asarray(results[0].x)[-1] - np.asarray(results[1].x)[-1]).max() > 0


def test_record_draws_needs_a_seed():
    with pytest.raises(ValueError, match=r"^seeds must hold at least one seed; got an empty sequence$"):
        replay.record_draws("ef21", Quad(kind="none"), RandK(2), np.ones(4), 2, seeds=(), stepsize=0.1)


def test_recording_generator_keeps_dtype_and_out_and_logs_float64():
    log = []
    rec = replay._RecordingGenerator(np.random.PCG64(9), log)
    plain = np.random.Generator(np.random.PCG64(9))
    a = rec.random(3, dtype=np.float32)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, plain.random(3, dtype=np.float32))
    out = np.zeros(4)
    b = rec.random(4, out=out)
    assert b is out and (out != 0).all()
    np.testing.assert_array_equal(out, plain.random(4))
    assert [x.dtype for x in log] == [np.float64, np.float64]
    np.testing.assert_array_equal(log[0], a.astype(np.float64))


class PerClient(Quad):
    """Client i draws from range(i + 2): the log must hold each client's own draws."""

    def sample(self, i, rng):
        return rng.integers(0, i + 2, size=2)


def test_sample_log_passes_the_client_index():
    log = replay._SampleLog(PerClient())
    rng = np.random.default_rng(0)
    xi = log.sample(1, rng)
    np.testing.assert_array_equal(xi, np.random.default_rng(0).integers(0, 3, size=2))


def test_record_draws_passes_momentum_and_options_to_the_reference():
    p = Quad()
    x0 = np.ones(4)
    draws, results = replay.record_draws("ef21-sgdm", p, RandK(2), x0, 4, seeds=(2,), stepsize=0.2, momentum=0.5,
                                         init="zero")
    ref = algorithms.run("ef21-sgdm", p, RandK(2), x0, 4, stepsize=0.2, momentum=0.5, seed=2, backend="numpy",
                         init="zero")
    np.testing.assert_array_equal(np.asarray(results[0].x), np.asarray(ref.x))
    other = algorithms.run("ef21-sgdm", p, RandK(2), x0, 4, stepsize=0.2, momentum=0.5, seed=2, backend="numpy")
    assert np.abs(np.asarray(other.x) - np.asarray(ref.x)).max() > 0       # init matters here
    got = algorithms.run("ef21-sgdm", p, RandK(2), x0, 4, stepsize=0.2, momentum=0.5, backend="torch", draws=draws,
                         seeds=1, init="zero")
    np.testing.assert_allclose(np.asarray(got.x)[0], np.asarray(ref.x), rtol=0, atol=1e-12)


def test_record_draws_refuses_a_reference_with_two_streams(monkeypatch):
    def two_streams(*args, **kwargs):
        registry.Streams(0)
        registry.Streams(1)

    monkeypatch.setattr(algorithms, "run", two_streams)
    with pytest.raises(RuntimeError, match=r"^the reference of 'ef21' created 2 Streams; expected exactly one$"):
        replay.record_draws("ef21", Quad(kind="none"), RandK(2), np.ones(4), 2, seeds=(0,), stepsize=0.1)


def test_record_draws_refuses_seeds_with_different_numbers_of_uniforms(monkeypatch):
    def uneven(name, problem, compressor, x0, iters, *, seed, **kwargs):
        registry.Streams(seed).compress.random(seed + 1)       # a seed-dependent count (no real reference does)

    monkeypatch.setattr(algorithms, "run", uneven)
    with pytest.raises(ValueError, match=r"^the seeds drew different numbers of compress uniforms; cannot stack them$"):
        replay.record_draws("ef21", Quad(kind="none"), RandK(2), np.ones(4), 2, seeds=(0, 1), stepsize=0.1)
