"""Invalid inputs of the batched torch engine (device, dtype, seeds, replay draws, oracle)."""

import numpy as np
import torch

import algorithms
from algorithms.torch.problems import TorchProblem
from eftheory.compressors import RandK, TopK
from eftheory.problems import problem_q
from invalid_inputs import InvalidCase


def _run(name="ef21-sgd", compressor=None, **options):
    p = problem_q(seed=0, d=4, n=2)
    kw = {"stepsize": 0.1}
    spec = algorithms.get(name, "torch")
    if spec.momentum == "required":
        kw["momentum"] = 0.5
    if compressor is None and spec.compressor == "required":
        compressor = TopK(2)
    return lambda: algorithms.run(name, p, compressor, np.ones(4), 3, backend="torch", **kw, **options)


CASES = [
    InvalidCase("torch-unknown-device", _run(device="tpu"), ("device", "'cpu'")),
    InvalidCase("torch-device-not-a-string", _run(device=3), ("device", "'cuda'")),
    InvalidCase("torch-bad-dtype", _run(dtype="float16"), ("dtype", "'float64'")),
    InvalidCase("torch-seeds-zero", _run(seeds=0), ("seeds", ">= 1")),
    InvalidCase("torch-seeds-not-int", _run(seeds=2.5), ("seeds", "integer")),
    InvalidCase("torch-draws-wrong-type", _run(draws=[1, 2]), ("draws", "Draws")),
    InvalidCase("torch-unknown-oracle", _run(oracle="jax"), ("oracle", "'numpy'")),
    InvalidCase("torch-bad-diagnostics", _run(diagnostics="none"), ("diagnostics", "'light'")),
    InvalidCase("torch-unknown-option", _run(nope=1), ("nope", "allowed")),
    InvalidCase("torch-bad-init", _run(init="random"), ("init", "'gradient'")),
    InvalidCase("torch-bad-blocks", _run("ef21-norm", normalize_scope="per_tensor", blocks=(1, 2)), ("blocks", "d=4")),
    InvalidCase("torch-randk-k-above-d", _run(compressor=RandK(9)), ("k", "d")),
    InvalidCase("torch-econtrol-eta", _run("econtrol", econtrol_eta=2.0), ("econtrol_eta", "1]")),
    InvalidCase("torch-ef-mu", _run("ef", mu=1.0), ("mu", "1)")),
    InvalidCase("torch-saef-period", _run("saef", p=0), ("p", "[1, inf]")),
    InvalidCase("torch-mvsm-missing-G", _run("mvsm-v1", compressor=None), ("G", "None")),
    InvalidCase("torch-sign-zero", _run("signsgd", sign_zero=2), ("sign_zero", "-1, 0, 1")),
    InvalidCase("torch-problem-two-losses",
                lambda: TorchProblem(1, 2, loss=lambda x, xi: x.sum(-1), f_i=lambda i, x, xi: x.sum()),
                ("loss/f_i", "exactly one")),
]
if not torch.cuda.is_available():
    CASES.append(InvalidCase("torch-cuda-unavailable", _run(device="cuda"), ("device", "CUDA")))
