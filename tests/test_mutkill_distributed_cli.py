"""The distributed runner's entry points, in this process: the torchrun CLI (``main``), the spawned
rank's entry (``_spawn_entry``), ``run_distributed``'s hand-off to ``spawn``, the compressor
expressions of ``--compressor``, the assembly of recorded draws, and the DDP hook's state.

``_spawn_entry`` ends its process with ``os._exit``; here ``os._exit`` is replaced by an exception
carrying the exit code, so a world of one on the real gloo backend runs the entry where the tests
can see its exit code, its result file and its side-channel error.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import torch

from algorithms.torch import distributed as D_
from algorithms.torch.distributed import DistributedError, make_job
from eftheory.compressors import TopK
from test_ddp import loss_of, make_model
from test_mutkill_distributed import run_threads
from test_torch_distributed import D, ITERS, X0, LogisticProblem

OK, WHY = D_.available("gloo")
pytestmark = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")

PROBLEM = "test_torch_distributed:make_problem"
ONE_CLIENT = '{"n_clients": 1, "batch": null}'


@pytest.fixture
def no_torchrun(monkeypatch, tmp_path):
    """A plain ``python -m`` environment: no torchrun variables, the side channel in tmp_path."""
    for var in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "EFTHEORY_DIST_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EFTHEORY_DIST_DIR", str(tmp_path / "side"))
    return monkeypatch


def _argv(*extra, name="ef21-norm", stepsize="0.05"):
    out = []
    if name is not None:
        out += ["--name", name]
    out += ["--problem", PROBLEM, "--problem-kwargs", ONE_CLIENT, "--compressor", "TopK(2)",
            "--iters", str(ITERS)]
    if stepsize is not None:
        out += ["--stepsize", stepsize]
    return out + list(extra)


class _Recorder:
    """Stands in for ``_rank_main``: records what it was handed, returns a one-job result."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kw):
        self.calls.append((args, kw))
        return [{"bits_up": np.zeros(ITERS), "bytes_up": np.zeros(ITERS)}]


# ---------------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("flag", ["name", "stepsize"])
def test_main_requires_the_flag(flag, no_torchrun, capsys):
    """``--name`` and ``--stepsize`` are required flags: without one the parser exits with code 2,
    names the flag and starts no rank."""
    rec = _Recorder()
    no_torchrun.setattr(D_, "_rank_main", rec)
    with pytest.raises(SystemExit) as ex:
        D_.main(_argv(**{flag: None}))
    assert ex.value.code == 2
    assert f"the following arguments are required: --{flag}" in capsys.readouterr().err
    assert rec.calls == []


def test_main_accepts_device_cuda(no_torchrun, capsys):
    """``--device cuda`` is a valid choice of the parser: the run goes on to the next check (here a
    bad ``--problem``, reported in one line with exit code 1), not to an argparse error."""
    rc = D_.main(["--name", "ef21-norm", "--problem", "no_such_module_xyz:make", "--iters", "3",
                  "--stepsize", "0.1", "--device", "cuda"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("rank 0: --problem must name an importable"), err
    assert "invalid choice" not in err


def test_main_help_documents_the_json_flags(capsys):
    """``--help`` tells the user that ``--options`` and ``--problem-kwargs`` take JSON."""
    with pytest.raises(SystemExit) as ex:
        D_.main(["--help"])
    assert ex.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "JSON dict of the method's options (card names)" in text
    assert "JSON keyword arguments of the problem callable" in text


def test_main_hands_the_rank_its_backend_device_timeout_and_local_rank(no_torchrun, capsys):
    """The rank runs with gloo by default on the CPU, with ``--backend`` when given, with the
    ``--timeout-s`` given, and on the device of ``LOCAL_RANK`` (passed to the rank as its local rank)."""
    rec = _Recorder()
    no_torchrun.setattr(D_, "_rank_main", rec)
    no_torchrun.setenv("LOCAL_RANK", "5")
    assert D_.main(_argv("--timeout-s", "7.5")) == 0, capsys.readouterr().err
    assert D_.main(_argv("--backend", "gloo")) == 0, capsys.readouterr().err
    assert len(rec.calls) == 2
    (args, kw), (args2, _) = rec.calls
    rank, world, init, backend, device, timeout_s, jobs, folder, *rest = args
    assert (rank, world, backend, device, timeout_s) == (0, 1, "gloo", "cpu", 7.5)
    assert init.startswith("tcp://127.0.0.1:")
    assert len(jobs) == 1 and jobs[0].name == "ef21-norm" and jobs[0].momentum is None
    assert folder == os.environ["EFTHEORY_DIST_DIR"]
    local = rest[0] if rest else kw.get("local_rank")
    assert local == 5
    assert args2[3] == "gloo" and args2[5] == 30.0
    assert "ef21-norm: 6 iterations on 1 ranks" in capsys.readouterr().out


def test_run_distributed_passes_its_timeout_to_spawn(monkeypatch):
    """``run_distributed(..., timeout_s=...)`` runs the job under that timeout (and the given backend
    and device): it is what ``spawn`` receives."""
    seen = []

    def fake_spawn(jobs, world_size, **kw):
        seen.append((jobs, world_size, kw))
        return ["result"]

    monkeypatch.setattr(D_, "spawn", fake_spawn)
    got = D_.run_distributed("ef21-norm", functools.partial(LogisticProblem, 2), TopK(2), X0, 3, world_size=2,
                             stepsize=0.05, backend="gloo", device="cpu", timeout_s=7.5)
    assert got == "result"
    (jobs, world, kw), = seen
    assert world == 2 and len(jobs) == 1 and jobs[0].name == "ef21-norm"
    assert kw == {"backend": "gloo", "device": "cpu", "timeout_s": 7.5}


# ---------------------------------------------------------------------------------- --compressor, errors


def test_compressor_expression_cannot_reach_builtins():
    """A ``--compressor`` expression sees only the names of eftheory.compressors: a builtin
    (``abs``, ``__import__``) is an unknown name, reported as a one-line ValueError."""
    with pytest.raises(ValueError, match=r"^--compressor must be an eftheory.compressors expression such as "
                                         r"'TopK\(2\)'; got 'abs\(-2\)' \(NameError: name 'abs' is not defined\)$"):
        D_._compressor("abs(-2)")
    with pytest.raises(ValueError, match=r"NameError: name '__import__' is not defined"):
        D_._compressor("__import__('os').getcwd()")
    assert isinstance(D_._compressor("TopK(2)"), TopK)
    assert D_._compressor("None") is None


def test_one_line_of_an_error_without_a_message():
    """An error with no message is reported as its type name and an empty text (``'TimeoutError: '``)."""
    assert D_._one_line(TimeoutError()) == "TimeoutError: "
    assert D_._one_line(ValueError("  \n ")) == "ValueError: "
    assert D_._one_line(ValueError("first\nsecond")) == "ValueError: first"


def test_a_failed_collective_of_a_gloo_rank_names_the_rank_and_the_error(monkeypatch):
    """When a collective fails and no rank reports an error of its own, the rank raises a
    DistributedError ``rank R: collective failed (<the collective's error>)`` and leaves the group."""
    import torch.distributed as dist

    def broken(*args, **kw):
        raise RuntimeError("peer gone\nsecond line")

    monkeypatch.setattr(dist, "all_gather", broken)
    job = make_job("ef21-norm", functools.partial(LogisticProblem, 1), TopK(2), X0, 2, stepsize=0.05, world_size=1)
    try:
        with pytest.raises(DistributedError) as err:
            D_._rank_main(0, 1, f"tcp://127.0.0.1:{D_._free_port()}", "gloo", "cpu", 30.0, [job], None)
        left = not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert str(err.value) == "rank 0: collective failed (RuntimeError: peer gone)"
    assert left


def test_a_rank_whose_device_cannot_be_set_reports_it_and_leaves_the_group(monkeypatch, tmp_path):
    """A CUDA device a rank cannot select (its local rank beyond the GPUs) is that rank's own
    error: a DistributedError ``rank R failed: ...``, told on the side channel, and the rank
    leaves the process group."""
    import torch
    import torch.distributed as dist

    def no_such_device(device):
        raise RuntimeError(f"invalid device ordinal {device}")

    monkeypatch.setattr(torch.cuda, "set_device", no_such_device)
    job = make_job("ef21-norm", functools.partial(LogisticProblem, 1), TopK(2), X0, 2, stepsize=0.05, world_size=1)
    try:
        with pytest.raises(DistributedError) as err:
            D_._rank_main(0, 1, f"tcp://127.0.0.1:{D_._free_port()}", "gloo", "cuda", 30.0, [job], str(tmp_path),
                          local_rank=3)
        left = not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert str(err.value) == "rank 0 failed: RuntimeError: invalid device ordinal cuda:3"
    assert left
    assert any("invalid device ordinal" in p.read_text() for p in tmp_path.iterdir())


# ---------------------------------------------------------------------------------- the spawned entry


class _Exit(BaseException):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


@pytest.fixture
def entry(monkeypatch, tmp_path):
    """``_spawn_entry`` run in this process: ``os._exit(code)`` raises ``_Exit(code)``."""
    def fake_exit(code):
        raise _Exit(code)

    for var in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", os.environ.get("GLOO_SOCKET_IFNAME", "lo"))
    monkeypatch.setattr(os, "_exit", fake_exit)

    def run(rank, world, jobs, folder=str(tmp_path)):
        try:
            D_._spawn_entry(rank, world, f"tcp://127.0.0.1:{D_._free_port()}", "gloo", "cpu", 30.0, jobs, folder)
        except _Exit as ex:
            return ex.code
        finally:
            if torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
        raise AssertionError("_spawn_entry returned without exiting")

    return run


def test_spawn_entry_writes_the_ranks_results_and_exits_0(entry, tmp_path):
    """A rank that finishes saves its jobs' results to ``result.<rank>.pt`` in the folder (no
    temporary file left behind) and exits with code 0; the results are the rank's run."""
    job = make_job("ef21-norm", functools.partial(LogisticProblem, 1), TopK(2), X0, ITERS, stepsize=0.05, seed=3,
                   world_size=1)
    assert entry(0, 1, [job]) == 0
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("result")) == ["result.0.pt"]
    res = torch.load(tmp_path / "result.0.pt", weights_only=False)
    assert isinstance(res, list) and len(res) == 1
    ref, _ = run_threads(job, 1)
    np.testing.assert_array_equal(res[0]["x"], ref[0]["x"])
    np.testing.assert_array_equal(res[0]["bits_up"], ref[0]["bits_up"])
    assert res[0]["x"].shape == (ITERS + 1, D)


def test_spawn_entry_reports_an_unexpected_error_and_exits_4(entry, tmp_path, monkeypatch):
    """An error the rank did not turn into a DistributedError is written to the side channel as
    this rank's own one-line error, and the process exits with code 4 (no result file)."""
    def boom(*args, **kw):
        raise KeyboardInterrupt("stopped\nby the user")

    monkeypatch.setattr(D_, "_rank_main", boom)
    assert entry(2, 3, []) == 4
    assert D_._read_errors(str(tmp_path)) == [(2, "KeyboardInterrupt: stopped")]
    assert D_._failure(str(tmp_path), [], [3, 3, 4], 30.0) == \
        "distributed run failed: rank 2 raised KeyboardInterrupt: stopped"
    assert not any(n.startswith("result") for n in os.listdir(tmp_path))


def test_spawn_entry_exits_3_after_a_distributed_error(entry, tmp_path, monkeypatch):
    """A DistributedError (its message is already in the side channel) ends the rank with code 3 and
    nothing more written."""
    def fails(*args, **kw):
        raise DistributedError("rank 0 failed: ValueError: x")

    monkeypatch.setattr(D_, "_rank_main", fails)
    assert entry(0, 1, []) == 3
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------- replay


def test_assemble_draws_interleaves_every_ranks_aux_draws():
    """The aux stream of the assembled Draws takes, per iteration and per call, every rank's draw in
    rank order (as the engine draws one (n, ...) block per call); the compress stream likewise, then
    the server's draws."""
    t = lambda *v: torch.tensor(v, dtype=torch.float64)   # noqa: E731
    logs = [
        {"client": [(0, "compress", t(1.0)), (0, "aux", t(10.0, 11.0)), (0, "aux", t(12.0)),
                    (1, "aux", t(13.0))],
         "server": [(0, "compress", t(100.0)), (1, "compress", t(101.0))], "sample": []},
        {"client": [(0, "compress", t(2.0)), (0, "aux", t(20.0, 21.0)), (0, "aux", t(22.0)),
                    (1, "aux", t(23.0))],
         "server": [(0, "compress", t(100.0)), (1, "compress", t(101.0))], "sample": []},
    ]
    dr = D_._assemble_draws(logs)
    assert dr.sample is None and dr.seeds == (0,)
    assert dr.compress.tolist() == [[1.0, 2.0, 100.0, 101.0]]
    assert dr.aux.tolist() == [[10.0, 11.0, 20.0, 21.0, 12.0, 22.0, 13.0, 23.0]]


# ---------------------------------------------------------------------------------- the DDP hook


def _ddp_steps(hook_from, steps):
    from torch.nn.parallel import DistributedDataParallel as DDP

    model = make_model()
    ddp = DDP(model)
    hook = hook_from(ddp)
    ddp.register_comm_hook(None, hook.hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=1.0)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(ddp, 0).backward()
        opt.step()
    return hook, torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def flat_model():
    return torch.cat([p.detach().reshape(-1) for p in make_model().parameters()])


def test_hook_buffers_follow_the_model_not_the_default_device(world_of_one):
    """A hook built while torch's default device is another one (here ``meta``) keeps its buffers on
    the model's device: training with it equals training with a hook built normally."""
    from algorithms.torch.ddp import CompressedHook

    def plain(ddp):
        return CompressedHook("ef21-norm", ddp, TopK(3), stepsize=0.05)

    def under_meta(ddp):
        with torch.device("meta"):
            return CompressedHook("ef21-norm", ddp, TopK(3), stepsize=0.05)

    _, ref = _ddp_steps(plain, 2)
    _, got = _ddp_steps(under_meta, 2)
    assert torch.equal(got, ref)
    assert (got != flat_model()).any()


@pytest.mark.parametrize("double_way", [True, False])
def test_saef_hook_state_keeps_the_engine_layout(world_of_one, double_way):
    """SAEF's hook state has the engine's layout, with or without ``double_way``: the server model
    ``x`` and the server error ``e_srv`` are (1, d), the local errors and momentum (1, 1, d)."""
    from algorithms.torch.ddp import CompressedHook

    hook, _ = _ddp_steps(lambda ddp: CompressedHook("saef", ddp, TopK(3), stepsize=0.2, mu=0.5, p=2,
                                                    double_way=double_way), 3)
    st = hook.state_dict()["st"]
    d = hook.d
    assert st["x"].shape == (1, d) and st["e_srv"].shape == (1, d)
    assert st["e_loc"].shape == (1, 1, d) and st["m"].shape == (1, 1, d)
    assert hook.model().shape == (d,)
