"""Contracts of the runner, the DDP hook and the EF/SAEF step that a uniform sample of code mutants
(``python -m checks.code_mutation --sample 150 --seed 1``) found unchecked; each test names the
contract it checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import algorithms
from algorithms import NonFiniteError
from algorithms.torch import distributed as D_
from algorithms.torch.distributed import DistributedError
from eftheory.compressors import Compressor, TopK
from test_mutkill_distributed import D, _agg, run_threads
from test_mutkill_distributed_cli import _argv, entry, no_torchrun  # noqa: F401  (fixtures)

OK, WHY = D_.available("gloo")
gloo = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")


@gloo
def test_sparse_payload_sum_is_made_on_the_payloads_device_not_torchs_default():
    """The sum of the ranks' sparse payloads is built on the aggregate's device, whatever torch's
    default device is (here ``meta``, where no arithmetic with the payloads is possible)."""
    topk = [torch.tensor([0, 0, 0, 3.0, 0, 0], dtype=torch.float64),
            torch.tensor([0, 4.0, 0, 0, 0, -3.0], dtype=torch.float64)]

    def fn(r, dist):
        agg = _agg(dist, r, 2)
        with torch.device("meta"):
            return agg.message_sum(topk[r].reshape(1, 1, D), compressor=TopK(2))

    outs, _ = run_threads(None, 2, fn)
    assert outs[0].device.type == "cpu" and torch.equal(outs[0].reshape(-1), topk[0] + topk[1])


@gloo
def test_a_rank_that_cannot_join_writes_why_to_its_side_channel(tmp_path):
    """A rank whose process group cannot start raises a DistributedError naming the cause and writes
    the same one-line cause as its communication error, which the launcher reports."""
    bad = "nonsense://nowhere"                     # no rendezvous handler: fails at once
    with pytest.raises(DistributedError, match="rank 0 could not join the process group: ") as info:
        D_._rank_main(0, 1, bad, "gloo", "cpu", 5.0, [], str(tmp_path))
    record = json.loads((tmp_path / "error.0").read_text())
    cause = str(info.value).split("could not join the process group: ", 1)[1]
    assert record == {"kind": "comm", "text": cause} and cause


@gloo
def test_a_spawned_rank_talks_over_the_loopback_interface_unless_one_is_chosen(entry, tmp_path, monkeypatch):  # noqa: F811
    """``_spawn_entry`` sets ``GLOO_SOCKET_IFNAME=lo`` for the rank when the user has not chosen an
    interface, and keeps the user's choice otherwise."""
    seen = []

    def records(*args, **kw):
        seen.append(os.environ.get("GLOO_SOCKET_IFNAME"))
        return []

    monkeypatch.setattr(D_, "_rank_main", records)
    monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    assert entry(0, 1, []) == 0
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "eth7")
    assert entry(0, 1, []) == 0
    assert seen == ["lo", "eth7"]


@gloo
def test_main_prints_a_message_that_names_its_rank_once(no_torchrun, capsys):  # noqa: F811
    """The CLI prefixes an error with ``rank r:`` unless the message already names a rank."""
    def fails(*args, **kw):
        raise DistributedError("rank 1: collective failed (timeout)")

    no_torchrun.setattr(D_, "_rank_main", fails)
    assert D_.main(_argv()) == 1
    assert capsys.readouterr().err.strip() == "rank 1: collective failed (timeout)"

    def refuses(*args, **kw):
        raise ValueError("stepsize must be positive")

    no_torchrun.setattr(D_, "_rank_main", refuses)
    assert D_.main(_argv()) == 1
    assert capsys.readouterr().err.strip() == "rank 0: stepsize must be positive"


class _DenseUnderIndices(Compressor):
    """A dense compressor (no payload format) whose count is the dense 32 d only under the
    ``values+indices`` convention."""

    name = "dense-under-indices"
    random = False

    def __call__(self, v, rng=None):
        return np.asarray(v, float).copy()

    def torch(self, v, generator=None):
        return v.clone()

    def bits(self, d, convention="values"):
        return 32.0 * d if convention == "values+indices" else 16.0 * d

    def alpha(self, d):
        return 1.0


@gloo
def test_a_hook_checks_the_wire_with_its_own_bits_convention(world_of_one):
    """The DDP hook checks a dense compressor's count under the hook's ``bits`` option: accepted
    where that count is the dense 32 d, refused under the convention where it is not."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook
    from test_ddp import make_model

    ddp = DDP(make_model())
    CompressedHook("ef21-norm", ddp, _DenseUnderIndices(), stepsize=0.1, bits="values+indices")
    with pytest.raises(ValueError, match="compressor must have a payload format"):
        CompressedHook("ef21-norm", ddp, _DenseUnderIndices(), stepsize=0.1, bits="values")


class _Noiseless:
    """A protocol problem with exact oracles: f is the mean of the f_i, a draw is None."""

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(self.n_clients)]))

    def sample(self, i, rng):
        return None


class _HugeGradient(_Noiseless):
    """Every client's gradient is 1e308 in every coordinate: finite, while mu m + g overflows."""

    n_clients, dim = 2, 3

    def f_i(self, i, x):
        return 0.0

    def grad(self, x):
        return np.full(3, 1e308)

    def grad_i(self, i, x, xi=None):
        return np.full(3, 1e308)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name", ["ef", "saef"])
def test_an_overflowing_momentum_is_the_finding(name, backend):
    """EF / SAEF with finite gradients whose momentum mu m + g overflows at t = 1: the finding names
    the momentum and that iteration on both backends."""
    with pytest.raises(NonFiniteError) as info:
        algorithms.run(name, _HugeGradient(), TopK(1), np.zeros(3), 5, stepsize=1e-300, mu=0.9, backend=backend)
    assert (info.value.quantity, info.value.iteration) == ("momentum m_i", 1)


def test_a_draw_holds_fewer_numbers_per_run_than_the_address_has_positions(monkeypatch):
    """A call of a counter-based stream may draw at most ``_POSITIONS - 1`` numbers per run (the
    positions j of the address (seed, label, call, j)); exactly ``_POSITIONS`` is refused. The limit
    (2**32) is lowered here so that the boundary can be drawn."""
    from algorithms.torch import _random

    monkeypatch.setattr(_random, "_POSITIONS", 8)
    stream = _random.CounterRandom([0, 1]).stream("sample:xi")
    assert stream.uniform((7,)).shape == (2, 1, 7)
    with pytest.raises(ValueError, match="fewer than 2\\*\\*32 numbers per run; got 8"):
        stream.uniform((8,))


@pytest.mark.parametrize("name", ["ef", "saef"])
def test_ef_reference_names_its_seed_when_the_objective_is_not_finite(name):
    """EF / SAEF on the reference: an objective that turns NaN at an iterate ends the run with a
    finding that carries the run's seed, and a finite run's Result says it came from NumPy."""
    from test_mutkill_survivors3 import _InvalidF

    with pytest.raises(NonFiniteError) as info:
        algorithms.run(name, _InvalidF(), TopK(1), np.array([0.05, 0.0]), 3, stepsize=0.1, seed=7)
    assert info.value.quantity == "objective f(x^k)" and info.value.seed == 7
    res = algorithms.run(name, _InvalidF(), TopK(1), np.array([5.0, 0.0]), 3, stepsize=0.1, seed=7)
    assert res.backend == "numpy"


def test_engine_normalize_works_on_the_last_axis_with_blocks_for_any_leading_axes():
    """``normalize(v, blocks)`` normalizes each block of the last axis on its own, for tensors with
    any number of leading axes (here (2, 3, 4) with blocks [1, 3]), and keeps zero blocks zero."""
    from algorithms.torch._core import normalize

    v = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4) - 5.0
    v[1, 2, 1:] = 0.0
    out = normalize(v, [1, 3])
    for part, got in ((v[..., :1], out[..., :1]), (v[..., 1:], out[..., 1:])):
        nrm = torch.linalg.vector_norm(part, dim=-1, keepdim=True)
        assert torch.equal(got, torch.where(nrm == 0, torch.zeros_like(part), part / nrm))
    assert torch.equal(out[1, 2, 1:], torch.zeros(3, dtype=torch.float64))


class _NanThenRefuses(_Noiseless):
    """f_i = 0.5 ||x||^2; the gradient turns NaN once x_0 < 0.5 and the problem refuses (raises)
    to be evaluated at a non-finite point, as user code may."""

    n_clients, dim = 1, 2

    def f_i(self, i, x):
        return 0.5 * float(np.dot(x, x))

    def grad_i(self, i, x, xi=None):
        x = np.asarray(x, float)
        if not np.isfinite(x).all():
            raise RuntimeError("evaluated at a non-finite point")
        return np.array([np.nan, 0.0]) if x[0] < 0.5 else x.copy()


def test_engine_with_a_user_oracle_stops_at_the_first_non_finite_step():
    """With a problem of user code the engine reads its finiteness flags after every step: the NaN
    gradient is the finding, before the next step would call the user's code at a NaN point."""
    with pytest.raises(NonFiniteError) as info:
        algorithms.run("ef21", _NanThenRefuses(), TopK(1), np.array([1.0, 1.0]), 20, stepsize=0.3,
                       backend="torch")
    assert info.value.quantity == "gradient grad_i"


def test_engine_work_buffers_live_on_the_runs_device_whatever_torchs_default():
    """``Env.buffer`` makes its work tensors on the run's device and dtype, also when torch's
    default device is another one (here ``meta``), for the default shape and a given one."""
    from algorithms.torch._core import Env
    from eftheory.problems import problem_q

    env = Env("ef21", problem_q(seed=0), np.zeros(10), seed=0, seeds=3, device="cpu", dtype="float64",
              draws=None, oracle=None)
    with torch.device("meta"):
        bufs = [env.buffer("w"), env.buffer("w2", (3, 10)), env.buffer("w")]
    assert all(b.device.type == "cpu" and b.dtype == torch.float64 for b in bufs)
    assert bufs[0].shape == (3, 4, 10) and bufs[1].shape == (3, 10) and bufs[2] is bufs[0]


class _HugeOnClientOne(_HugeGradient):
    """Client 0's gradient is 0, client 1's is 1e308 in every coordinate."""

    def grad_i(self, i, x, xi=None):
        return np.full(3, 1e308) if i == 1 else np.zeros(3)


def test_reference_names_the_client_whose_estimator_state_overflows():
    """EControl on the reference: client 1's error state e_1 = e_1 + grad - g_1 - c overflows at
    k = 1 while its messages stay finite; the finding names that state, iteration and client."""
    with pytest.raises(NonFiniteError) as info:
        algorithms.run("econtrol", _HugeOnClientOne(), TopK(1), np.zeros(3), 5, stepsize=1e-300, init="zero")
    assert (info.value.quantity, info.value.iteration, info.value.client) == ("estimator state e_i", 1, 1)


def test_ef21_reference_called_directly_reports_an_overflowing_message_not_a_numpy_warning():
    """The registered reference function, called without algorithms.run (whose errstate silences
    NumPy), still silences the overflow of its loop: an overflowing message is the project's
    NonFiniteError even where warnings are errors."""
    import warnings

    from eftheory.schedules import as_schedule
    from test_mutkill_survivors3 import _FlippingHuge

    spec = algorithms.get("ef21-sgd", "numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteError) as info:
            spec.fn(_FlippingHuge(), TopK(1), np.array([1.0, 0.0]), 3, stepsize=as_schedule(0.1), seed=0,
                    **spec.options)
    assert (info.value.quantity, info.value.iteration) == ("message c_i", 1)
