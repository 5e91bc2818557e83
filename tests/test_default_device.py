"""The engines and the optimizers place every tensor they make on the run's device, whatever
torch's default device is: a run under ``torch.set_default_device("meta")`` (a device on which
nothing can be computed or read back) gives the same iterates as a run under the CPU default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import algorithms
from algorithms.torch import optim
from eftheory.compressors import RandK
from eftheory.problems import HeterogeneousSignProblem, problem_q
from test_torch_optim import CASES, N


def _engine_run(name, default):
    spec = algorithms.get(name, "torch")
    if spec.compressor != "required":                          # a sign method: it forms its own messages
        problem, x0 = HeterogeneousSignProblem(d=12, n=3, seed=0), np.full(12, 0.3)
    else:
        problem = problem_q(seed=0)
        x0 = np.asarray(problem.x_star) + 0.5
    kw = {"stepsize": 0.05}
    if spec.momentum == "required":
        kw["momentum"] = 0.3
    for bound in ("G", "B"):
        if bound in spec.options:
            kw[bound] = 50.0
    compressor = RandK(3) if spec.compressor == "required" else None
    with torch.device(default):                                # torch's default device inside the block
        res = algorithms.run(name, problem, compressor, x0, 6, backend="torch", seeds=2, diagnostics="full", **kw)
    return np.asarray(res.x)


@pytest.mark.parametrize("name", algorithms.names())
def test_engine_run_ignores_torchs_default_device(name):
    want = _engine_run(name, "cpu")
    assert np.abs(want[-1] - want[0]).max() > 0                # the run moved
    np.testing.assert_array_equal(_engine_run(name, "meta"), want)


_X = torch.randn(N, 6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
_Y = torch.sign(torch.randn(N, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64))


def _optimizer_run(name, kw, compressor, default):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()
    kw = dict(kw, n_clients=N, generator=torch.Generator(device="cpu").manual_seed(3))
    if compressor is not None:
        kw["compressor"] = compressor
    opt = optim.for_name(name)(model.parameters(), **kw)

    def closure(i, fresh):
        return torch.nn.functional.softplus(-_Y[i] * model(_X[i]).squeeze(-1)).mean()

    with torch.device(default):
        for _ in range(3):
            opt.step(closure)
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_optimizer_step_ignores_torchs_default_device(case):
    _, name, kw, compressor, _, _ = case
    want = _optimizer_run(name, kw, compressor, "cpu")
    assert torch.equal(_optimizer_run(name, kw, compressor, "meta"), want)
