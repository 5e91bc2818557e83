"""The distributed runner's per-rank code, run inside the test process.

:func:`algorithms.torch.distributed._run_job` takes the ``torch.distributed`` module as an argument
(``dist``), and :class:`~algorithms.torch.distributed.WireAggregate` only calls its ``all_gather``,
``all_reduce`` (SUM / MAX) and ``broadcast``. Here the n ranks are n threads of this process and
``dist`` is an in-process stand-in that performs those three collectives exactly (every rank's
tensor, in rank order), so the ranks' code -- payloads, packing, votes, metering, checkpoints --
runs where the tests can see it. The runs must equal the single-process engine replaying their
draws (1e-12) and count the bits the single-process ``Result`` counts, as the spawned runs of
``tests/test_torch_distributed.py`` do. One world of size 1 runs on the real gloo backend in this
process (:func:`~algorithms.torch.distributed._rank_main`, the torchrun entry's own path for one rank).
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np
import pytest
import torch

import algorithms
from algorithms.torch import distributed as D_
from algorithms.torch.distributed import DistributedError, make_job
from eftheory.compressors import Blockwise, RandK, ScaledSign, Sign, TopK, UnbiasedSign
from test_torch_distributed import CASES, D, ITERS, X0, LogisticProblem, _check

OK, WHY = D_.available("gloo")
pytestmark = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")

ReduceOp = torch.distributed.ReduceOp


class ThreadGroup:
    """An in-process process group of n threads: exact all_gather / all_reduce / broadcast."""

    def __init__(self, n: int):
        self.n = n
        # a rank that waits longer than this for the others fails (a mutated rank may skip a collective)
        self.barrier = threading.Barrier(n, timeout=float(os.environ.get("EFTHEORY_THREAD_RANKS_TIMEOUT_S", "10")))
        self.slots: list = [None] * n
        self.calls: list[tuple[int, str]] = []

    def _exchange(self, rank: int, t: torch.Tensor) -> list[torch.Tensor]:
        self.slots[rank] = t.detach().clone()
        self.barrier.wait()
        got = [s.clone() for s in self.slots]
        self.barrier.wait()
        return got

    def rank(self, r: int) -> "RankDist":
        return RankDist(self, r)


class RankDist:
    """One rank's view of a :class:`ThreadGroup`, with the ``torch.distributed`` calls WireAggregate uses."""

    ReduceOp = ReduceOp

    def __init__(self, group: ThreadGroup, rank: int):
        self.group, self.r = group, rank

    def all_gather(self, out, t):
        self.group.calls.append((self.r, "all_gather"))
        for o, v in zip(out, self.group._exchange(self.r, t), strict=True):
            assert o.shape == v.shape and o.dtype == v.dtype
            o.copy_(v)

    def all_reduce(self, t, op=ReduceOp.SUM):
        self.group.calls.append((self.r, "all_reduce"))
        vals = self.group._exchange(self.r, t)
        total = vals[0].clone()
        for v in vals[1:]:
            total = torch.maximum(total, v) if op == ReduceOp.MAX else total + v
        assert op in (ReduceOp.SUM, ReduceOp.MAX)
        t.copy_(total)

    def broadcast(self, t, src=0):
        self.group.calls.append((self.r, "broadcast"))
        t.copy_(self.group._exchange(self.r, t)[src])


def run_threads(job, n, fn=None):
    """Every rank's ``_run_job`` output (or ``fn(rank, dist)``'s) on n threads; errors re-raised by rank."""
    group = ThreadGroup(n)
    outs, errs = [None] * n, [None] * n

    def body(r):
        try:
            d = group.rank(r)
            outs[r] = fn(r, d) if fn else D_._run_job(job, 0, r, n, torch.device("cpu"), d, D_._Progress(None, r))
        except BaseException as err:   # noqa: BLE001
            errs[r] = err
            group.barrier.abort()

    threads = [threading.Thread(target=body, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    own = [(r, e) for r, e in enumerate(errs) if e is not None and not isinstance(e, threading.BrokenBarrierError)
           and not isinstance(e, D_._CommError)]
    if own:
        raise own[0][1]
    if any(e is not None for e in errs):
        raise next(e for e in errs if e is not None)
    return outs, group


def _job(case, n, **extra):
    _, name, C, batch, kw = case
    return make_job(name, functools.partial(LogisticProblem, n, batch=batch), C, X0, ITERS, seed=3,
                    world_size=n, record_draws=True, **{**kw, **extra})


def _dist_result(job, outs):
    return D_._result(job, outs[0], [o["log"] for o in outs])


BY_ID = {c[0]: c for c in CASES}


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_two_thread_ranks_equal_the_engine_and_its_bits(i):
    case = CASES[i]
    job = _job(case, 2)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    _check(case, got, 2)
    # every rank holds the same replica of the run (the server step is replicated)
    np.testing.assert_array_equal(outs[1]["x"], outs[0]["x"])
    assert got.x.shape == (ITERS + 1, D) and got.seconds.shape == (ITERS,) and (got.seconds >= 0).all()


@pytest.mark.parametrize("cid", ["econtrol", "mvsm-v2", "mv-signsgd", "ef-randk-averaging", "ef21-rhm-norm"])
def test_three_thread_ranks_equal_the_engine(cid):
    case = BY_ID[cid]
    job = _job(case, 3)
    outs, _ = run_threads(job, 3)
    _check(case, _dist_result(job, outs), 3)


def test_payload_bytes_follow_the_wire_table():
    """The bytes rank 0 puts on the wire (module docstring's table), float64 values, int32 indices."""
    def bytes_of(cid, **extra):
        job = _job(BY_ID[cid], 2, **extra)
        outs, _ = run_threads(job, 2)
        return _dist_result(job, outs)

    r = bytes_of("ef21-norm")                       # Top-2 of 6 up and down
    assert r.bytes_up[1] == 2 * 4 + 2 * 8 and r.control_bits_up[1] == 0
    assert r.bits_up[1] == 2 * 32
    r = bytes_of("mvsm-v1")                         # stochastic signs: never 0, one flag byte
    assert r.bytes_up[1] == 1 and r.control_bits_up[1] == 8 and r.bits_up[1] == D
    r = bytes_of("ef-scaled-sign")                  # 1 byte of signs + one float64 scale
    assert r.bytes_up[1] == 1 + 8 and r.bits_up[1] == D + 32
    r = bytes_of("ef-blockwise-mixed")
    assert r.bytes_up[1] == (4 + 8) + (1 + 8) and r.bits_up[1] == 32 + (4 + 32)
    r = bytes_of("ef21-norm-blockwise")
    assert r.bytes_up[1] == 2 * (4 + 8)
    r = bytes_of("signsgd")                         # centralized: the dense gradient, nothing down
    assert r.bytes_up[1] == D * 8 and r.bits_up[1] == 32 * D and r.bits_down[1] == 0 and r.bytes_down[1] == 0
    r = bytes_of("ef21-identity")                   # Identity travels dense
    assert r.bytes_up[1] == D * 8 and r.bits_up[1] == 32 * D


def test_rand_k_values_plus_indices_counts_the_index_bits():
    C = RandK(2, shared_seed=False)
    case = ("ef21-norm-randk-vi", "ef21-norm", C, None, {"stepsize": 0.05, "bits": "values+indices"})
    job = _job(case, 2)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    _check(case, got, 2)
    # 2 indices of ceil(log2 6) = 3 bits each: min(2 * 3, 6) = 6 index bits (eftheory.compressors._index_bits)
    assert got.bits_up[1] == 2 * 32 + 6


def test_init_gradient_is_dense_and_counted_apart():
    case = ("ef21-norm-grad", "ef21-norm", TopK(2), None, {"stepsize": 0.05, "init": "gradient"})
    job = _job(case, 2)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    _check(case, got, 2)
    assert got.init_bits_up == 32.0 * D
    assert got.bytes_up[0] == D * 8 + got.bytes_up[1]      # bytes_up[0] includes the round-0 message


def test_sign_messages_with_zeros_send_a_mask():
    """``sign_zero=0``: an exact 0 gradient entry is sent as a second packed bitmap, counted in control bits."""
    class ZeroCoord(LogisticProblem):
        def grad_i(self, i, x, xi=None):
            g = super().grad_i(i, x, xi)
            g[2] = 0.0
            return g

    _, name, C, batch, kw = BY_ID["mv-signsgd"]
    assert algorithms.cards.card(name).defaults()["sign_zero"] == 0
    job = make_job(name, functools.partial(ZeroCoord, 2, batch=batch), C, X0, ITERS, seed=3, world_size=2,
                   record_draws=True, **kw)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    ref = algorithms.run(name, ZeroCoord(2, batch=batch), C, X0, ITERS, seed=0, backend="torch",
                         draws=got.draws(), seeds=1, diagnostics="light", **kw).numpy()
    xs = np.asarray(ref.x)
    np.testing.assert_allclose(got.x, xs[0] if xs.ndim == 3 else xs, rtol=0, atol=1e-12)
    assert (got.x[:, 2] == X0[2]).all()                  # a zero vote does not move the coordinate
    assert got.x[-1, 0] != X0[0]
    # up: 1 byte of signs + 1 byte of mask; control: the flag byte and the d-bit mask
    assert got.control_bits_up[1] == 8 + D and got.bytes_up[1] == 2
    # down: the vote's signs, the flag (int32) and the mask
    assert got.control_bits_down[1] == 32 + D and got.bytes_down[1] == 1 + 1
    np.testing.assert_array_equal(got.bits_up, np.asarray(ref.bits_up).reshape(-1)[:ITERS])
    np.testing.assert_array_equal(got.bits_down, np.asarray(ref.bits_down).reshape(-1)[:ITERS])


def test_checkpoint_and_resume_are_bit_exact(tmp_path):
    folder = str(tmp_path)
    kw = dict(stepsize=0.05, momentum=0.6, seed=4, world_size=2)
    factory = functools.partial(LogisticProblem, 2, batch=2)
    full = make_job("ef21-rhm-norm", factory, RandK(2), X0, 8, **kw)
    first = make_job("ef21-rhm-norm", factory, RandK(2), X0, 8, checkpoint_every=2, checkpoint_dir=folder,
                     stop_at=5, **kw)
    rest = make_job("ef21-rhm-norm", factory, RandK(2), X0, 8, checkpoint_dir=folder, resume=True, **kw)
    f, _ = run_threads(full, 2)
    a, _ = run_threads(first, 2)
    assert sorted(os.listdir(folder)) == ["rank0.pt", "rank1.pt"]
    saved = torch.load(os.path.join(folder, "rank0.pt"), weights_only=False)
    assert saved["k"] == 4                                  # the last multiple of 2 before stop_at=5
    b, _ = run_threads(rest, 2)
    for r in range(2):
        assert a[r]["x"].shape == (6, D) and b[r]["x"].shape == (9, D)
        np.testing.assert_array_equal(a[r]["x"], f[r]["x"][:6])
        np.testing.assert_array_equal(b[r]["x"], f[r]["x"])
        for key in ("bits_up", "bits_down", "control_up", "control_down", "bytes_up", "bytes_down"):
            np.testing.assert_array_equal(b[r][key], f[r][key], err_msg=key)
        assert b[r]["init_bits"] == f[r]["init_bits"]


def test_resume_of_a_sign_method_with_server_draws_is_bit_exact(tmp_path):
    folder = str(tmp_path)
    kw = dict(stepsize=0.05, momentum=0.3, seed=2, world_size=2, G=2.0)
    factory = functools.partial(LogisticProblem, 2, batch=2)
    full = make_job("mvsm-v2", factory, None, X0, 6, **kw)
    first = make_job("mvsm-v2", factory, None, X0, 6, checkpoint_every=3, checkpoint_dir=folder, stop_at=3, **kw)
    rest = make_job("mvsm-v2", factory, None, X0, 6, checkpoint_dir=folder, resume=True, **kw)
    f, _ = run_threads(full, 2)
    run_threads(first, 2)
    b, _ = run_threads(rest, 2)
    np.testing.assert_array_equal(b[0]["x"], f[0]["x"])
    np.testing.assert_array_equal(b[0]["bits_up"], f[0]["bits_up"])


def test_non_finite_gradient_is_named_with_its_iteration():
    factory = functools.partial(LogisticProblem, 2, batch=2, fault="nan", fault_client=1, fault_call=3)
    job = make_job("ef21-sgdm-norm", factory, TopK(2), X0, ITERS, stepsize=0.05, momentum=0.6, world_size=2)
    from eftheory.validation import NonFiniteError

    with pytest.raises(NonFiniteError, match="non-finite") as err:
        run_threads(job, 2)
    assert "at iteration 2 " in str(err.value)


def test_world_size_must_equal_the_problem_in_the_rank():
    job = _job(BY_ID["ef21-norm"], 2)
    with pytest.raises(ValueError, match="world_size must equal problem.n_clients=2"):
        D_._run_job(job, 0, 0, 3, torch.device("cpu"), None, D_._Progress(None, 0))


# ---------------------------------------------------------------------------------- payload helpers


def test_pack_puts_entry_8b_plus_j_in_bit_j_of_byte_b():
    bits = torch.zeros(11, dtype=torch.bool)
    bits[[0, 3, 8, 10]] = True
    p = D_._pack(bits)
    assert p.dtype == torch.uint8 and p.tolist() == [1 + 8, 1 + 4]
    assert D_._pack(torch.ones(8, dtype=torch.bool)).tolist() == [255]
    assert D_._unpack(p, 11).tolist() == bits.tolist()


@pytest.mark.parametrize("d", [1, 7, 8, 9, 16, 23])
def test_pack_unpack_count_round_trip(d):
    g = torch.Generator().manual_seed(d)
    rows = torch.rand(3, d, generator=g) > 0.5
    packed = torch.stack([D_._pack(r) for r in rows])
    assert packed.shape == (3, -(-d // 8))
    assert torch.equal(D_._unpack(packed, d), rows)
    assert D_._count(packed, d).tolist() == rows.sum(dim=0).tolist()
    assert D_._count(packed, d).dtype == torch.int32


def test_kind_of_each_compressor():
    assert D_._kind(TopK(1)) == D_._kind(RandK(1)) == "sparse"
    assert D_._kind(ScaledSign()) == "scaled_sign"
    assert D_._kind(Sign()) == D_._kind(UnbiasedSign(2.0)) == "sign"
    assert D_._kind(Blockwise(TopK(1), [1, 1])) == "blockwise"
    from eftheory.compressors import Identity
    assert D_._kind(Identity()) == "dense"


def _agg(dist, rank, n, d=D, **kw):
    return D_.WireAggregate(dist, rank, n, d, torch.device("cpu"), torch.float64, **kw)


def test_wire_aggregate_reductions_over_two_ranks():
    """mean, message_sum / message_mean, vote: the engine's sums over the client axis, from the payloads."""
    v = [torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 0.0], dtype=torch.float64),
         torch.tensor([0.0, 4.0, -0.5, 1.0, 2.0, -3.0], dtype=torch.float64)]
    topk = [torch.tensor([0, 0, 0, 3.0, 0, 0], dtype=torch.float64) * 1,
            torch.tensor([0, 4.0, 0, 0, 0, -3.0], dtype=torch.float64)]

    def fn(r, dist):
        agg = _agg(dist, r, 2)
        mean = agg.mean(v[r].reshape(1, 1, D))
        s = agg.message_sum(topk[r].reshape(1, 1, D), compressor=TopK(2))
        mm = agg.message_mean(topk[r].reshape(1, 1, D), compressor=TopK(2))
        vote = agg.vote(torch.sign(v[r]).reshape(1, 1, D))
        sg = agg.message_sum(torch.sign(v[r]).reshape(1, 1, D) + (v[r] == 0), compressor=Sign())
        sc = agg.message_sum(v[r].reshape(1, 1, D), compressor=ScaledSign())
        return mean, s, mm, vote, sg, sc, dict(agg.meter.bits), dict(agg.meter.control), dict(agg.meter.bytes)

    outs, group = run_threads(None, 2, fn)
    mean, s, mm, vote, sg, sc, bits, control, nbytes = outs[0]
    assert mean.shape == (1, D) and torch.equal(mean[0], (v[0] + v[1]) / 2)
    assert s.shape == (1, 1, D) and torch.equal(s.reshape(-1), topk[0] + topk[1])
    assert mm.shape == (1, D) and torch.equal(mm.reshape(-1), (topk[0] + topk[1]) / 2)
    assert vote.shape == (1, D) and vote.dtype == torch.float64
    assert torch.equal(vote.reshape(-1), torch.sign(v[0]) + torch.sign(v[1]))
    assert torch.equal(sg.reshape(-1), (torch.sign(v[0]) + (v[0] == 0)) + (torch.sign(v[1]) + (v[1] == 0)))
    scaled = sum(torch.where(x > 0, 1.0, -1.0).double() * (x != 0) * x.abs().max() for x in v)
    assert torch.equal(sc.reshape(-1), scaled)
    # bits: mean 32 d, Top-2 twice 2 * 32 each, vote d (+ mask), sign d, scaled sign d + 32
    assert bits["up"] == 32 * D + 2 * 64 + D + D + (D + 32) and bits["down"] == 0
    # control: one flag byte per sign message, plus the mask of d bits when some entry is 0
    assert control["up"] == (8 + D) + 8 + (8 + D)
    assert nbytes["up"] == D * 8 + 2 * (2 * 4 + 2 * 8) + (1 + 1) + 1 + (1 + 8 + 1)
    assert {c for _, c in group.calls} == {"all_gather", "all_reduce"}


def test_one_node_mean_sends_nothing():
    agg = _agg(None, 0, 1, one_node=True)
    t = torch.arange(D, dtype=torch.float64).reshape(1, 1, D)
    out = agg.mean(t)
    assert torch.equal(out, t.reshape(1, D)) and agg.meter.bits["up"] == 0 and agg.meter.bytes["up"] == 0
    out[0, 0] = 99.0
    assert t[0, 0, 0] == 0                               # a copy, not a view of the client's tensor
    assert not _agg(None, 0, 2, one_node=True).one_node  # only one client is its own node


@pytest.mark.parametrize("C, msg", [
    (TopK(2), [0, 0, 1.5, 0, -2.0, 0]),
    (RandK(2), [0, 3.0, 0, 0, 0, -1.0]),
    (ScaledSign(), [0.5, -0.5, 0.5, 0.0, -0.5, 0.5]),
    (Sign(), [1.0, -1.0, 1.0, 1.0, -1.0, -1.0]),
    (None, [0.25, -1.0, 2.0, 0.0, 1.0, 3.0]),
    (Blockwise([TopK(1), ScaledSign()], [2, 4]), [0, -2.0, 1.0, -1.0, 1.0, 0.0]),
])
def test_downlink_broadcasts_and_meters_the_payload(C, msg):
    t = torch.tensor(msg, dtype=torch.float64).reshape(1, D)

    def fn(r, dist):
        agg = _agg(dist, r, 2)
        out = agg.downlink(t, compressor=C, signs=isinstance(C, Sign))
        return out, dict(agg.meter.bits), dict(agg.meter.control), dict(agg.meter.bytes)

    outs, group = run_threads(None, 2, fn)
    for out, bits, control, nbytes in outs:
        assert out is t
        assert bits["up"] == 0
        if C is None:
            assert bits["down"] == 32 * D and nbytes["down"] == 8 * D and control["down"] == 0
        elif isinstance(C, Sign):
            assert bits["down"] == D and control["down"] == 32 and nbytes["down"] == 1
        elif isinstance(C, ScaledSign):
            assert bits["down"] == D + 32 and control["down"] == 32 + D and nbytes["down"] == 1 + 1 + 8
        elif isinstance(C, Blockwise):
            assert bits["down"] == 32 + (4 + 32) and nbytes["down"] == (4 + 8) + (1 + 1 + 8)
            assert control["down"] == 32 + 4
        else:
            assert bits["down"] == 2 * 32 and nbytes["down"] == 2 * 4 + 2 * 8 and control["down"] == 0
    assert {c for _, c in group.calls} == {"broadcast"}


def test_downlink_rejects_a_replica_that_diverged():
    msgs = [torch.tensor([1.0, 0, 0, 0, 0, 2.0], dtype=torch.float64),
            torch.tensor([1.0, 0, 0, 0, 0, 2.5], dtype=torch.float64)]

    def fn(r, dist):
        agg = _agg(dist, r, 2)
        agg.k = 7
        try:
            agg.downlink(msgs[r].reshape(1, D), compressor=TopK(2))
        except RuntimeError as err:
            return str(err)
        return None

    outs, _ = run_threads(None, 2, fn)
    assert outs[0] is None
    assert outs[1] == "rank 1 diverged from rank 0 at iteration 7: the server's replicas differ by 0.5"


def test_a_failing_collective_is_a_comm_error_of_one_line():
    class Broken:
        ReduceOp = ReduceOp

        def all_reduce(self, t, op=None):
            raise RuntimeError("peer gone\nsecond line")

    agg = _agg(Broken(), 0, 2)
    with pytest.raises(D_._CommError) as err:
        agg.mean(torch.zeros(1, 1, D, dtype=torch.float64))
    assert str(err.value) == "RuntimeError: peer gone"
    assert isinstance(err.value.__cause__, RuntimeError)


def test_slow_sparse_path_selects_the_nonzeros():
    """Without (idx, vals) the kept entries of a sparse message are its nonzeros."""
    c = [torch.tensor([0, 0, 1.5, 0, -2.0, 0], dtype=torch.float64),
         torch.tensor([3.0, 0, 0, 0, 0, 1.0], dtype=torch.float64)]

    def fn(r, dist):
        agg = _agg(dist, r, 2)
        return agg.message_sum(c[r], compressor=TopK(2)), agg.meter.bytes["up"]

    outs, _ = run_threads(None, 2, fn)
    assert torch.equal(outs[0][0].reshape(-1), c[0] + c[1]) and outs[0][1] == 2 * 4 + 2 * 8


# ---------------------------------------------------------------------------------- one real gloo rank


def _progress_files(folder):
    return sorted(n for n in os.listdir(folder) if not n.endswith(".tmp"))


def test_one_gloo_rank_in_process_equals_the_engine(tmp_path):
    """``_rank_main`` with a world of one on gloo (torchrun's path for one rank) runs the jobs in order."""
    folder = str(tmp_path)
    cases = [BY_ID["signsgd"], BY_ID["smm"], BY_ID["ef21-norm"], BY_ID["ef-scaled-sign"]]
    jobs = [_job(c, 1) for c in cases]
    res = D_._rank_main(0, 1, f"tcp://127.0.0.1:{D_._free_port()}", "gloo", "cpu", 30.0, jobs, folder)
    assert not torch.distributed.is_initialized()                 # it left the group
    assert len(res) == len(cases)
    for case, job, r in zip(cases, jobs, res):
        got = D_._result(job, r, [r["log"]])
        centralized = algorithms.cards.card(case[1]).centralized
        _check(case, got, 1, sends=not centralized)
        if centralized:
            assert (got.bits_up == 0).all() and (got.bits_down == 0).all()
    with open(os.path.join(folder, "progress.0")) as fh:
        assert fh.read() == f"{len(cases) - 1} {ITERS - 1}"             # the last job's last iteration


def test_one_gloo_rank_reports_its_own_error(tmp_path):
    folder = str(tmp_path)
    factory = functools.partial(LogisticProblem, 1, batch=2, fault="raise", fault_client=0, fault_call=2)
    job = make_job("ef21-sgdm-norm", factory, TopK(2), X0, ITERS, stepsize=0.05, momentum=0.6, world_size=1)
    try:
        with pytest.raises(DistributedError) as err:
            D_._rank_main(0, 1, f"tcp://127.0.0.1:{D_._free_port()}", "gloo", "cpu", 30.0, [job], folder)
        left = not torch.distributed.is_initialized()          # a failed rank leaves the group
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert left
    assert str(err.value) == "rank 0 failed: ValueError: grad_i failed on purpose"
    assert D_._read_errors(folder) == [(0, "ValueError: grad_i failed on purpose")]
    assert D_._read_errors(folder, kinds=("comm",)) == []
    assert D_._failure(folder, [], [3], 30.0) == "distributed run failed: rank 0 raised ValueError: grad_i failed on purpose"
    with open(os.path.join(folder, "progress.0")) as fh:
        assert fh.read() == "0 1"


def test_progress_side_channel(tmp_path):
    folder = str(tmp_path)
    p = D_._Progress(folder, 2)
    p.at(3, 5)
    p.error("comm", "rank 2: collective failed")
    assert _progress_files(folder) == ["error.2", "progress.2"]
    assert D_._read_errors(folder) == [(2, "rank 2: collective failed")]
    assert p.cause(wait_s=0.0) is None
    D_._Progress(folder, 1).error("own", "ValueError: bad")
    assert p.cause(wait_s=0.0) == "rank 1 failed: ValueError: bad"
    assert D_._read_errors(folder) == [(1, "ValueError: bad"), (2, "rank 2: collective failed")]
    quiet = D_._Progress(None, 0)
    quiet.at(0, 0)
    quiet.error("own", "x")
    assert quiet.cause() is None


def test_main_runs_one_rank_without_torchrun(tmp_path, monkeypatch, capsys):
    """``python -m algorithms.torch.distributed`` with no torchrun environment: one rank, in this process."""
    for var in ("MASTER_ADDR", "RANK", "WORLD_SIZE", "LOCAL_RANK", "EFTHEORY_DIST_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EFTHEORY_DIST_DIR", str(tmp_path / "side"))
    out, x0 = tmp_path / "run.npz", tmp_path / "x0.npy"
    np.save(x0, X0)
    rc = D_.main(["--name", "ef21-norm", "--problem", "test_torch_distributed:make_problem", "--problem-kwargs",
                  '{"n_clients": 1, "batch": null}', "--compressor", "TopK(2)", "--iters", str(ITERS),
                  "--stepsize", "0.05", "--seed", "3", "--x0", str(x0), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    got = np.load(out)
    job = make_job("ef21-norm", functools.partial(LogisticProblem, 1), TopK(2), X0, ITERS, stepsize=0.05, seed=3)
    outs, _ = run_threads(job, 1)
    np.testing.assert_array_equal(got["x"], outs[0]["x"])
    np.testing.assert_array_equal(got["bits_up"], outs[0]["bits_up"])
    ref = algorithms.run("ef21-norm", LogisticProblem(1), TopK(2), X0, ITERS, stepsize=0.05, seed=3)
    np.testing.assert_allclose(got["x"], np.asarray(ref.x).reshape(ITERS + 1, D), rtol=0, atol=1e-12)
    assert "ef21-norm: 6 iterations on 1 ranks" in capsys.readouterr().out


def test_main_reports_a_bad_flag_in_one_line(monkeypatch, capsys):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    rc = D_.main(["--name", "ef21-norm", "--problem", "no_such_module_xyz:make", "--iters", "3",
                  "--stepsize", "0.1"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("rank 0: --problem must name an importable") and err.count("\n") == 1


def test_wire_aggregate_defaults_meter_one_client_and_count_values():
    """Defaults: ``bits_convention="values"`` (no index bits) and ``one_node=False`` (a lone client sends)."""
    def fn(r, dist):
        agg = D_.WireAggregate(dist, r, 1, D, torch.device("cpu"), torch.float64)
        agg.mean(torch.ones(1, 1, D, dtype=torch.float64))
        agg.message_sum(torch.tensor([0, 0, 1.0, 0, 2.0, 0], dtype=torch.float64), compressor=TopK(2))
        return dict(agg.meter.bits), agg.k

    outs, _ = run_threads(None, 1, fn)
    bits, k = outs[0]
    assert bits["up"] == 32 * D + 2 * 32 and k == 0


def test_a_fresh_aggregate_reports_iteration_zero():
    msgs = [torch.ones(D, dtype=torch.float64), torch.full((D,), 2.0, dtype=torch.float64)]

    def fn(r, dist):
        try:
            _agg(dist, r, 2).downlink(msgs[r].reshape(1, D))
        except RuntimeError as err:
            return str(err)

    outs, _ = run_threads(None, 2, fn)
    assert outs[1] == "rank 1 diverged from rank 0 at iteration 0: the server's replicas differ by 1"


def test_a_collective_failing_without_a_message_is_named_by_its_type():
    class Broken:
        ReduceOp = ReduceOp

        def all_gather(self, out, t):
            raise TimeoutError()

    with pytest.raises(D_._CommError) as err:
        _agg(Broken(), 0, 2).message_sum(torch.zeros(D, dtype=torch.float64), compressor=TopK(1))
    assert str(err.value) == "TimeoutError: "


def test_blockwise_of_three_blocks_travels_block_by_block():
    """Three blocks (each a Top-1 of 2 entries): every block's offset is the sum of the sizes before it."""
    C3 = Blockwise(TopK(1), [2, 2, 2])
    c = [torch.tensor([0, 1.0, -2.0, 0, 0, 3.0], dtype=torch.float64),
         torch.tensor([4.0, 0, 0, 5.0, -6.0, 0], dtype=torch.float64)]

    def fn(r, dist):
        agg = _agg(dist, r, 2)
        s = agg.message_sum(c[r], compressor=C3)
        agg.downlink(c[0].reshape(1, D), compressor=C3)
        return s, dict(agg.meter.bits), dict(agg.meter.bytes)

    outs, _ = run_threads(None, 2, fn)
    s, bits, nbytes = outs[0]
    assert torch.equal(s.reshape(-1), c[0] + c[1])
    assert bits == {"up": 3 * 32.0, "down": 3 * 32.0} and nbytes == {"up": 3 * (4 + 8), "down": 3 * (4 + 8)}


class ClientSample(LogisticProblem):
    """Client i draws its minibatch from its first m - i samples (a draw that depends on the client)."""

    def sample(self, i, rng):
        return rng.integers(0, self.m - i, size=self.batch)


def test_rank_streams_follow_the_documented_seeds():
    """Client i: minibatches from ``default_rng([seed, i])``, uniforms from a torch.Generator seeded from
    ``SeedSequence([seed, i, 1])``; the server stream from ``SeedSequence([seed, 2**32 - 1])``."""
    assert D_._seed_int(3, 1, 1) == int(np.random.SeedSequence([3, 1, 1]).generate_state(1, dtype=np.uint64)[0] >> 1)
    seed = 3
    job = make_job("ef21-sgdm-norm", functools.partial(ClientSample, 2, batch=2), RandK(2), X0, 3, seed=seed,
                   world_size=2, record_draws=True, stepsize=0.05, momentum=0.6)
    outs, _ = run_threads(job, 2)
    for r in range(2):
        log = outs[r]["log"]
        k, purpose, u = log["client"][0]
        assert (k, purpose) == (0, "compress")
        g = torch.Generator().manual_seed(D_._seed_int(seed, r, 1))
        assert torch.equal(u, torch.rand(u.shape, generator=g, dtype=torch.float64))
        rng = np.random.default_rng([seed, r])
        assert len(log["sample"]) == 3
        np.testing.assert_array_equal(log["sample"][0], rng.integers(0, 5 - r, size=2))     # client r's own draw
    assert not torch.equal(outs[0]["log"]["client"][0][2], outs[1]["log"]["client"][0][2])
    job = make_job("mvsm-v2", functools.partial(LogisticProblem, 2, batch=2), None, X0, 2, seed=seed, world_size=2,
                   record_draws=True, stepsize=0.05, momentum=0.3, G=2.0)
    outs, _ = run_threads(job, 2)
    k, purpose, u = outs[0]["log"]["server"][0]
    g = torch.Generator().manual_seed(D_._seed_int(seed, 2**32 - 1))
    assert k == 0 and torch.equal(u, torch.rand(u.shape, generator=g, dtype=torch.float64))
    assert torch.equal(outs[1]["log"]["server"][0][2], u)               # every rank draws the server's stream


class Float32Oracle(LogisticProblem):
    """An oracle that answers in float32: the run still computes in float64 (the engine's dtype)."""

    def grad_i(self, i, x, xi=None):
        return super().grad_i(i, x, xi).astype(np.float32)


def test_an_oracle_answering_in_float32_runs_in_float64():
    case = ("ef21-sgdm-norm-f32", "ef21-sgdm-norm", TopK(2), 2, {"stepsize": 0.05, "momentum": 0.6})
    job = make_job("ef21-sgdm-norm", functools.partial(Float32Oracle, 2, batch=2), TopK(2), X0, ITERS, seed=3,
                   world_size=2, record_draws=True, stepsize=0.05, momentum=0.6)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    ref = algorithms.run("ef21-sgdm-norm", Float32Oracle(2, batch=2), TopK(2), X0, ITERS, seed=0, backend="torch",
                         draws=got.draws(), seeds=1, diagnostics="light", **case[4]).numpy()
    np.testing.assert_allclose(got.x, np.asarray(ref.x).reshape(ITERS + 1, D), rtol=0, atol=1e-12)
    assert got.x.dtype == np.float64


def test_a_method_needing_hvps_names_the_missing_oracle():
    class Plain:
        """LogisticProblem without hvp_i."""

        def __init__(self, n):
            self._p = LogisticProblem(n, batch=2)
            self.n_clients, self.dim = n, D

        def grad_i(self, i, x, xi=None):
            return self._p.grad_i(i, x, xi)

        def sample(self, i, rng):
            return self._p.sample(i, rng)

    job = make_job("ef21-hm-norm", functools.partial(Plain, 2), TopK(2), X0, 3, seed=1, world_size=2, stepsize=0.05,
                   momentum=0.5)
    with pytest.raises(ValueError, match=r"^this method needs Hessian-vector products, which this oracle does not provide$"):
        run_threads(job, 2)


@pytest.mark.parametrize("blocks", [[2, 4], [1, 2, 3]])
def test_per_tensor_normalization_uses_the_given_blocks(blocks):
    """``normalize_scope="per_tensor"`` with ``blocks``: the ranks normalize block by block, as the engine."""
    case = ("ef21-norm-per-tensor", "ef21-norm", TopK(2), None,
            {"stepsize": 0.05, "normalize_scope": "per_tensor", "blocks": blocks})
    job = _job(case, 2)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    _check(case, got, 2)
    glob = _job(("g", "ef21-norm", TopK(2), None, {"stepsize": 0.05}), 2)
    g_outs, _ = run_threads(glob, 2)
    assert np.abs(g_outs[0]["x"][-1] - got.x[-1]).max() > 1e-6          # per-tensor is not global here


def test_seconds_are_wall_times_of_the_iterations():
    job = _job(BY_ID["ef21-norm"], 2)
    outs, _ = run_threads(job, 2)
    assert ((outs[0]["seconds"] >= 0) & (outs[0]["seconds"] < 30)).all()


def test_checkpoints_every_three_iterations(tmp_path):
    folder = str(tmp_path)
    kw = dict(stepsize=0.05, seed=4, world_size=2)
    factory = functools.partial(LogisticProblem, 2)
    job = make_job("ef21-norm", factory, TopK(2), X0, 8, checkpoint_every=3, checkpoint_dir=folder, stop_at=5, **kw)
    run_threads(job, 2)
    saved = torch.load(os.path.join(folder, "rank1.pt"), weights_only=False)
    assert saved["k"] == 3                                  # written after iterations 3 (and 6, not reached)


def test_compressed_init_counts_the_convention():
    case = ("ef21-norm-topk-compressed-vi", "ef21-norm", TopK(2), None,
            {"stepsize": 0.05, "init": "compressed", "bits": "values+indices"})
    job = _job(case, 2)
    outs, _ = run_threads(job, 2)
    got = _dist_result(job, outs)
    _check(case, got, 2)
    assert got.init_bits_up == TopK(2).bits(D, "values+indices") == 2 * 32 + 6
