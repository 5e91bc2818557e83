"""The torch.distributed runner (one gloo process per client) equals the single-process engine.

Every rank draws only its own client's randomness; the run records those draws and the engine
replays them in one process (``draws=result.draws()``), so the trajectories must agree to 1e-12
in float64 and the bits counted from the tensors sent must equal ``Result.bits_*``. Process
start-up dominates the cost, so many runs share one process group (:func:`spawn` runs a list of
jobs in order).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import algorithms
from eftheory.compressors import Blockwise, Compressor, Identity, RandK, ScaledSign, TopK

dist_mod = pytest.importorskip("torch.distributed")
from algorithms.torch.distributed import (DistributedError, NAMES, available, make_job,  # noqa: E402
                                          run_distributed, spawn)

OK, WHY = available("gloo")
pytestmark = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")

D = 6


class LogisticProblem:
    """Nonconvex regularized logistic regression, one data shard per client (module level: picklable)."""

    def __init__(self, n_clients: int, dim: int = D, m: int = 5, lam: float = 0.1, batch=None,
                 fault=None, fault_client=1, fault_call=3):
        rng = np.random.default_rng(7)
        self.A = rng.normal(size=(n_clients, m, dim))
        self.A[0] *= 2.0
        self.b = np.sign(rng.normal(size=(n_clients, m)))
        self.n_clients, self.dim, self.m, self.lam, self.batch = n_clients, dim, m, lam, batch
        self.fault, self.fault_client, self.fault_call = fault, fault_client, fault_call
        self.calls = [0] * n_clients

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
        self.calls[i] += 1
        if self.fault and i == self.fault_client and self.calls[i] == self.fault_call:
            if self.fault == "raise":
                raise ValueError("grad_i failed on purpose")
            if self.fault == "nan":
                return np.full(self.dim, np.nan)
            if self.fault == "hang":
                time.sleep(600)
            if self.fault == "die":
                os._exit(3)                   # the process is gone: no exception, no message
        A, b = self._rows(i, xi)
        s = -b / (1.0 + np.exp(b * (A @ x)))
        return A.T @ s / len(b) + self.lam * 2 * x / (1 + x**2) ** 2

    def hvp_i(self, i, x, v, xi=None):
        A, b = self._rows(i, xi)
        sig = 1.0 / (1.0 + np.exp(b * (A @ x)))
        return A.T @ (sig * (1 - sig) * (A @ v)) / len(b) + self.lam * (2 - 6 * x**2) / (1 + x**2) ** 3 * v


def make_problem(n_clients=2, batch=2):
    """For the torchrun test: ``--problem tests.test_torch_distributed:make_problem``."""
    return LogisticProblem(n_clients, batch=batch)


X0 = np.linspace(-1.0, 1.0, D)
ITERS = 6
GAMMA, MOM = 0.05, 0.6

# (id, name, compressor, batch, kwargs) -- every registered algorithm, plus variants of the payloads
CASES = [
    ("ef21", "ef21", TopK(2), None, {"stepsize": 0.3}),
    ("ef21-norm", "ef21-norm", TopK(2), None, {"stepsize": GAMMA}),
    ("ef21-norm-randk-compressed", "ef21-norm", RandK(3), None, {"stepsize": GAMMA, "init": "compressed"}),
    ("ef21-sgd", "ef21-sgd", TopK(2), 2, {"stepsize": 0.3}),
    ("ef21-sgdm", "ef21-sgdm", TopK(2), 2, {"stepsize": 0.3, "momentum": MOM}),
    ("ef21-sgdm-norm", "ef21-sgdm-norm", TopK(2), 2, {"stepsize": GAMMA, "momentum": MOM}),
    ("ef21-igt-norm", "ef21-igt-norm", TopK(2), 2, {"stepsize": GAMMA, "momentum": MOM}),
    ("ef21-rhm-norm", "ef21-rhm-norm", RandK(2), 2, {"stepsize": GAMMA, "momentum": MOM}),
    ("ef21-rhm-norm-same", "ef21-rhm-norm", TopK(2), 2, {"stepsize": GAMMA, "momentum": MOM,
                                                          "rhm_same_sample": True}),
    ("ef21-hm-norm", "ef21-hm-norm", TopK(2), 2, {"stepsize": GAMMA, "momentum": MOM}),
    ("ef21-mvr-norm", "ef21-mvr-norm", RandK(3), 2, {"stepsize": GAMMA, "momentum": MOM, "init": "zero"}),
    ("ef21-mvr", "ef21-mvr", TopK(2), 2, {"stepsize": 0.3, "momentum": MOM, "bits": "values+indices"}),
    ("econtrol", "econtrol", TopK(2), 2, {"stepsize": 0.3, "econtrol_eta": 0.2}),
    ("econtrol-scaled-sign", "econtrol", ScaledSign(), 2, {"stepsize": 0.3, "econtrol_step_uses": "h_prev"}),
    ("ef21-norm-blockwise", "ef21-norm", Blockwise(TopK(1), [3, 3]), None,
     {"stepsize": GAMMA, "bits": "values+indices"}),
    ("ef21-identity", "ef21", Identity(), None, {"stepsize": 0.3}),
    ("ef", "ef", TopK(2), 2, {"stepsize": 0.2, "mu": 0.5}),
    ("ef-blockwise-mixed", "ef", Blockwise([RandK(1), ScaledSign()], [2, 4]), 2, {"stepsize": 0.2}),
    ("ef-randk-averaging", "ef", RandK(3), 2, {"stepsize": 0.2, "mu": 0.5, "error_averaging": True, "p": 2}),
    ("ef-scaled-sign", "ef", ScaledSign(), 2, {"stepsize": 0.2}),
    ("saef", "saef", TopK(2), 2, {"stepsize": 0.2, "mu": 0.5, "p": 3}),
    ("saef-single-way", "saef", TopK(2), 2, {"stepsize": 0.2, "double_way": False}),
    ("signsgd", "signsgd", None, 2, {"stepsize": 0.05}),
    ("signum", "signum", None, 2, {"stepsize": 0.05, "momentum": 0.3}),
    ("smm", "smm", None, 2, {"stepsize": 0.05, "momentum": 0.3}),
    ("mv-signsgd", "mv-signsgd", None, 2, {"stepsize": 0.05}),
    ("mv-signum", "mv-signum", None, 2, {"stepsize": 0.05, "momentum": 0.3, "ties": "plus"}),
    ("sto-signsgd", "sto-signsgd", None, 2, {"stepsize": 0.05, "B": 2.0}),
    ("mvsm-v1", "mvsm-v1", None, 2, {"stepsize": 0.05, "momentum": 0.3, "G": 2.0}),
    ("mvsm-v1-shared", "mvsm-v1", None, 2, {"stepsize": 0.05, "momentum": 0.3, "G": 2.0, "shared_draw": True}),
    ("mvsm-v2", "mvsm-v2", None, 2, {"stepsize": 0.05, "momentum": 0.3, "G": 2.0}),
]


def _jobs(cases, n):
    return [make_job(name, functools.partial(LogisticProblem, n, batch=batch), C, X0, ITERS, seed=3,
                     world_size=n, record_draws=True, **kw) for _, name, C, batch, kw in cases]


def _check(case, got, n, sends=True):
    _, name, C, batch, kw = case
    problem = LogisticProblem(n, batch=batch)
    ref = algorithms.run(name, problem, C, X0, ITERS, seed=0, backend="torch", draws=got.draws(),
                         seeds=1, diagnostics="light", **kw).numpy()
    xs = np.asarray(ref.x)
    xs = xs[0] if xs.ndim == 3 else xs
    np.testing.assert_allclose(got.x, xs, rtol=0, atol=1e-12, err_msg=case[0])
    assert np.abs(got.x[-1] - got.x[0]).max() > 1e-2, case[0]            # the run moved (as in the base)
    _check_bits(case, got, ref)
    assert (got.bytes_up > 0).all() if sends else (got.bytes_up == 0).all()


def _check_bits(case, got, ref):
    """The bits counted from the tensors sent equal the single-process Result's, every method."""
    up = np.asarray(ref.bits_up).reshape(-1)[:ITERS]
    down = np.asarray(ref.bits_down).reshape(-1)[:ITERS]
    np.testing.assert_array_equal(got.bits_up, up, err_msg=case[0])
    np.testing.assert_array_equal(got.bits_down, down, err_msg=case[0])
    assert got.init_bits_up == float(np.asarray(ref.init_bits_up).reshape(-1)[0]), case[0]


@pytest.fixture(scope="module")
def two_rank_runs():
    return spawn(_jobs(CASES, 2), 2, timeout_s=60)


def test_every_registered_algorithm_runs_distributed():
    assert sorted(NAMES) == algorithms.names()
    assert {c[1] for c in CASES} == set(algorithms.names())


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_two_ranks_equal_the_engine_replaying_their_draws(two_rank_runs, i):
    _check(CASES[i], two_rank_runs[i], 2)


def test_payloads_are_compressed_on_the_wire(two_rank_runs):
    by_id = {c[0]: r for c, r in zip(CASES, two_rank_runs)}
    # Top-2 of d = 6 in float64: 2 int32 indices + 2 float64 values per message
    assert by_id["ef21-norm"].bytes_up[1] == 2 * 4 + 2 * 8
    # signs: ceil(6 / 8) = 1 byte per message, plus no zero mask (stochastic signs are never 0)
    assert by_id["mvsm-v1"].bytes_up[1] == 1
    assert by_id["mvsm-v1"].control_bits_up[1] == 8          # the zero flag
    # scaled sign: 1 byte of signs + one float64 scale
    assert by_id["ef-scaled-sign"].bytes_up[1] == 1 + 8


def test_bits_equal_the_single_process_result_for_every_method(two_rank_runs):
    """Every registered method (the centralized sign methods included: 32 d up, 0 down)."""
    seen = set()
    for case, got in zip(CASES, two_rank_runs):
        _, name, C, batch, kw = case
        ref = algorithms.run(name, LogisticProblem(2, batch=batch), C, X0, ITERS, seed=3, **kw)
        _check_bits(case, got, ref)
        seen.add(name)
    assert seen == set(algorithms.names())
    central = {c[0]: r for c, r in zip(CASES, two_rank_runs) if algorithms.cards.card(c[1]).centralized}
    assert central and all((r.bits_up == 32.0 * D).all() and (r.bits_down == 0).all() for r in central.values())


def test_blockwise_travels_block_by_block(two_rank_runs):
    by_id = {c[0]: r for c, r in zip(CASES, two_rank_runs)}
    # Top-1 of two blocks of 3 in float64: per block 1 int32 index + 1 float64 value
    assert by_id["ef21-norm-blockwise"].bytes_up[1] == 2 * (4 + 8)
    # Rand-1 of 2 (index + value) and a scaled sign of 4 (1 byte of signs + one float64 scale)
    assert by_id["ef-blockwise-mixed"].bytes_up[1] == (4 + 8) + (1 + 8)
    assert by_id["ef-blockwise-mixed"].bits_up[1] == 32 + (4 + 32)


class _Halves(Compressor):
    """A compressor without a payload format: it counts d bits but would travel dense."""

    name = "halves"

    def _torch(self, v, u):
        return v / 2

    def _apply(self, v, u):
        return v / 2

    def alpha(self, d):
        return 0.75

    def bits(self, d, convention="values"):
        return float(d)


@pytest.mark.parametrize("C", [_Halves(), Blockwise([TopK(1), _Halves()], [3, 3])], ids=["plain", "in-a-block"])
def test_a_compressor_without_payload_format_is_refused(C):
    with pytest.raises(ValueError, match="compressor must have a payload format") as err:
        make_job("ef21-norm", functools.partial(LogisticProblem, 2), C, X0, 3, stepsize=0.1, world_size=2)
    assert "\n" not in str(err.value) and "_Halves" in str(err.value) and "TopK" in str(err.value)


@pytest.fixture(scope="module")
def one_rank_runs():
    cases = [c for c in CASES if c[0] in ("signsgd", "smm", "ef21-norm")]
    return cases, spawn(_jobs(cases, 1), 1, timeout_s=60)


def test_one_client_centralized_sends_nothing(one_rank_runs):
    """With one client the centralized methods' client is their node: 0 bits, as Result counts."""
    for case, got in zip(*one_rank_runs):
        centralized = algorithms.cards.card(case[1]).centralized
        _check(case, got, 1, sends=not centralized)
        if centralized:
            assert (got.bits_up == 0).all() and (got.bits_down == 0).all()


THREE = [c for c in CASES if c[0] in ("ef21-norm-randk-compressed", "econtrol", "saef", "mvsm-v2", "mv-signsgd")]


@pytest.fixture(scope="module")
def three_rank_runs(tmp_path_factory):
    """The three-rank parity runs and a checkpointed run with its resumption, in one process group."""
    folder = str(tmp_path_factory.mktemp("checkpoints"))
    kw = dict(stepsize=GAMMA, momentum=MOM, seed=4, world_size=3)
    factory = functools.partial(LogisticProblem, 3, batch=2)
    full = make_job("ef21-rhm-norm", factory, RandK(2), X0, 8, **kw)
    first = make_job("ef21-rhm-norm", factory, RandK(2), X0, 8, checkpoint_every=2, checkpoint_dir=folder,
                     stop_at=5, **kw)
    rest = make_job("ef21-rhm-norm", factory, RandK(2), X0, 8, checkpoint_dir=folder, resume=True, **kw)
    runs = spawn(_jobs(THREE, 3) + [full, first, rest], 3, timeout_s=60)
    return runs[:len(THREE)], runs[len(THREE):]


@pytest.mark.parametrize("i", range(len(THREE)), ids=[c[0] for c in THREE])
def test_three_ranks_equal_the_engine(three_rank_runs, i):
    _check(THREE[i], three_rank_runs[0][i], 3)


def test_checkpoint_and_resume_are_bit_exact(three_rank_runs):
    full, first, rest = three_rank_runs[1]
    assert first.x.shape[0] == 6 and rest.x.shape[0] == 9
    np.testing.assert_array_equal(rest.x, full.x)             # resumed from iteration 4, bit for bit
    np.testing.assert_array_equal(rest.bits_up, full.bits_up)
    assert np.abs(first.x[-1] - full.x[5]).max() == 0


def _fault(mode, timeout_s=60):
    factory = functools.partial(LogisticProblem, 2, batch=2, fault=mode, fault_client=1, fault_call=3)
    job = make_job("ef21-sgdm-norm", factory, TopK(2), X0, ITERS, stepsize=GAMMA, momentum=MOM, world_size=2)
    t0 = time.time()
    with pytest.raises(DistributedError) as err:
        spawn([job], 2, timeout_s=timeout_s)
    return str(err.value), time.time() - t0


@pytest.mark.wallclock
def test_a_rank_that_raises_stops_every_rank_with_its_own_error():
    msg, took = _fault("raise")
    assert "\n" not in msg and "rank 1" in msg and "grad_i failed on purpose" in msg
    assert "Connection" not in msg
    assert took < 60


@pytest.mark.wallclock
def test_a_nan_on_one_rank_is_a_finding_of_the_run():
    msg, took = _fault("nan")
    assert "\n" not in msg and "rank 1" in msg and "non-finite" in msg and "iteration 2" in msg
    assert took < 60


@pytest.mark.wallclock
def test_a_rank_that_dies_stops_every_rank_within_a_minute():
    """A rank gone without a word (os._exit) is named with its exit code; the others' gloo errors are not the message."""
    msg, took = _fault("die")
    assert "\n" not in msg and "rank(s) 1 (exit code 3) died" in msg, msg
    assert took < 60


def test_a_hung_rank_is_named_within_the_timeout():
    msg, took = _fault("hang", timeout_s=5)
    assert "\n" not in msg and "rank(s) 1" in msg and "stopped responding" in msg
    assert took < 60


def test_torchrun_launch_equals_the_spawned_run(tmp_path, two_rank_runs):
    """``torchrun ... -m algorithms.torch.distributed`` (env://) gives the spawned run's trajectory."""
    out, x0 = tmp_path / "run.npz", tmp_path / "x0.npy"
    np.save(x0, X0)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(_port()), "-m", "algorithms.torch.distributed", "--name", "ef21-sgdm-norm", "--problem",
           "tests.test_torch_distributed:make_problem", "--compressor", "TopK(2)", "--iters", str(ITERS),
           "--stepsize", str(GAMMA), "--momentum", str(MOM), "--seed", "3", "--x0", str(x0), "--out", str(out)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = np.load(out)
    ref = two_rank_runs[[c[0] for c in CASES].index("ef21-sgdm-norm")]
    np.testing.assert_array_equal(got["x"], ref.x)
    np.testing.assert_array_equal(got["bits_up"], ref.bits_up)


def _port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_world_size_must_match_the_problem():
    with pytest.raises(ValueError, match="world_size"):
        run_distributed("ef21-norm", functools.partial(LogisticProblem, 3), TopK(2), np.zeros(D), 3,
                        world_size=2, stepsize=0.1)


def test_unknown_names_and_options_are_rejected():
    with pytest.raises(ValueError, match="name"):
        run_distributed("ef42", functools.partial(LogisticProblem, 2), TopK(2), np.zeros(D), 3,
                        world_size=2, stepsize=0.1)
    with pytest.raises(ValueError, match="allowed"):
        run_distributed("ef21-norm", functools.partial(LogisticProblem, 2), TopK(2), np.zeros(D), 3,
                        world_size=2, stepsize=0.1, normalize="global")
