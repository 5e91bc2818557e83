"""DDP communication hooks: two gloo ranks train a small model with the standard loop, and the
trajectory equals the single-process optimizer simulating the same two clients."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch

from algorithms.torch import optim
from algorithms.torch.distributed import _free_port, available
from eftheory.compressors import Blockwise, ScaledSign, TopK
from test_torch_distributed import _Halves

OK, WHY = available("gloo")
pytestmark = pytest.mark.skipif(not OK, reason=WHY or "gloo unavailable")

N, M, P, H = 2, 8, 3, 4
K1, K2 = 4, 3

# (id, name, compressor, kwargs)
CASES = [
    ("ef21-norm", "ef21-norm", TopK(3), {"stepsize": 0.05}),
    ("ef21-sgdm-norm", "ef21-sgdm-norm", TopK(3), {"stepsize": 0.05, "momentum": 0.5}),
    ("ef21", "ef21", TopK(5), {"stepsize": 0.3}),
    ("econtrol", "econtrol", TopK(3), {"stepsize": 0.3, "econtrol_eta": 0.2}),
    ("ef", "ef", TopK(3), {"stepsize": 0.2, "mu": 0.5}),
    ("ef-scaled-sign", "ef", ScaledSign(), {"stepsize": 0.2}),
    ("saef", "saef", TopK(3), {"stepsize": 0.2, "mu": 0.5, "p": 2}),
    ("mv-signum", "mv-signum", None, {"stepsize": 0.01, "momentum": 0.3}),
    ("smm", "smm", None, {"stepsize": 0.01, "momentum": 0.3}),
]


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(P, H), torch.nn.Tanh(), torch.nn.Linear(H, 1)).double()


def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, M, P))
    X[1] += 0.7
    y = np.sign(rng.normal(size=(N, M)))
    return torch.from_numpy(X), torch.from_numpy(y)


def loss_of(model, i):
    X, y = data()
    return torch.nn.functional.softplus(-y[i] * model(X[i]).squeeze(-1)).mean()


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def _train(ddp, opt, rank, steps, hook):
    xs = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(ddp, rank).backward()          # DDP's forward on this rank's shard; the hook runs here
        opt.step()
        xs.append(hook.model())                # the server model (SAEF's ranks hold x - e^(i))
    return xs


def _worker(rank, port, folder):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=N)
    out = {}
    for cid, name, C, kw in CASES:
        model = make_model()
        ddp = DDP(model, bucket_cap_mb=1e-4)            # several buckets: the hook spans them all
        hook = CompressedHook(name, ddp, C, **kw)
        ddp.register_comm_hook(None, hook.hook)
        opt = torch.optim.SGD(ddp.parameters(), lr=1.0)
        xs = [flat(model)] + _train(ddp, opt, rank, K1, hook)
        saved, params = hook.state_dict(), {k: v.clone() for k, v in model.state_dict().items()}
        xs += _train(ddp, opt, rank, K2, hook)
        # resume from the saved hook state in a fresh DDP model
        model2 = make_model()
        model2.load_state_dict(params)
        ddp2 = DDP(model2, bucket_cap_mb=1e-4)
        hook2 = CompressedHook(name, ddp2, C, **kw)
        hook2.load_state_dict(saved)
        ddp2.register_comm_hook(None, hook2.hook)
        resumed = _train(ddp2, torch.optim.SGD(ddp2.parameters(), lr=1.0), rank, K2, hook2)
        out[cid] = (torch.stack(xs).numpy(), torch.stack(resumed).numpy())
    dist.barrier()
    dist.destroy_process_group()
    torch.save(out, os.path.join(folder, f"rank{rank}.pt"))


@pytest.fixture(scope="module")
def ddp_runs():
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(_worker, args=(_free_port(), folder), nprocs=N, join=True)
        return [torch.load(os.path.join(folder, f"rank{r}.pt"), weights_only=False) for r in range(N)]


def _simulated(name, C, kw, iters, n=N):
    """The flat model after each of ``iters`` optimizer steps over ``n`` simulated clients, (iters + 1, d)."""
    model = make_model()
    opt = optim.for_name(name)(model.parameters(), n_clients=n, compressor=C, **kw)
    xs = [flat(model)]
    for _ in range(iters):
        opt.step(lambda i, fresh: loss_of(model, i))
        xs.append(flat(model))
    return torch.stack(xs).numpy()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_ddp_hook_equals_the_simulated_clients(ddp_runs, case):
    cid, name, C, kw = case
    got, resumed = ddp_runs[0][cid]
    np.testing.assert_array_equal(ddp_runs[1][cid][0], got)          # every rank has the same server model
    ref = _simulated(name, C, kw, K1 + K2)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert np.abs(got[-1] - got[0]).max() > 1e-3
    np.testing.assert_array_equal(resumed, got[K1 + 1:])             # the hook state round-trips


def test_methods_a_hook_cannot_run_are_refused():
    from algorithms.torch.ddp import SUPPORTED

    assert "ef21-mvr-norm" not in SUPPORTED and "ef21-hm-norm" not in SUPPORTED
    assert {"ef21-norm", "ef", "saef", "mvsm-v1"} <= set(SUPPORTED)


def test_a_hook_refuses_a_compressor_without_payload_format():
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algorithms.torch.ddp import CompressedHook

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        ddp = DDP(make_model())
        with pytest.raises(ValueError, match="compressor must have a payload format") as err:
            CompressedHook("ef21-norm", ddp, _Halves(), stepsize=0.1)
        assert "\n" not in str(err.value)
        CompressedHook("ef21-norm", ddp, Blockwise(TopK(1), [12, 9]), stepsize=0.1)    # blocks of layers travel
    finally:
        dist.destroy_process_group()
