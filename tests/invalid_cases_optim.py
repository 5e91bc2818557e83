"""Invalid inputs of the torch.optim optimizers (algorithms.torch.optim)."""

import math

import torch

from algorithms.torch import optim
from eftheory.compressors import RandK, TopK
from invalid_inputs import InvalidCase


def _params():
    return [torch.zeros(4, dtype=torch.float64, requires_grad=True)]


def _ef21(**kw):
    args = {"lr": 0.1, "n_clients": 2, "compressor": TopK(1), **kw}
    return optim.EF21Norm(_params(), **args)


def _sgdm(**kw):
    args = {"lr": 0.1, "eta": 0.5, "n_clients": 2, "compressor": TopK(1), **kw}
    return optim.EF21SGDMNorm(_params(), **args)


def _step_without_closure():
    _ef21().step(None)


def _closure_returning_float():
    _ef21().step(lambda i, fresh: 1.0)


def _schedule_negative_lr():
    opt = _ef21(lr=lambda k: -0.1)
    p = opt.param_groups[0]["params"][0]
    opt.step(lambda i, fresh: (p ** 2).sum())


CASES = [
    InvalidCase("optim-lr-zero", lambda: _ef21(lr=0.0), ("lr", "(0")),
    InvalidCase("optim-lr-negative", lambda: _ef21(lr=-1.0), ("lr", "(0")),
    InvalidCase("optim-lr-schedule-negative", _schedule_negative_lr, ("lr(0)", "(0")),
    InvalidCase("optim-eta-above-one", lambda: _sgdm(eta=1.5), ("eta", "1]")),
    InvalidCase("optim-eta-zero", lambda: _sgdm(eta=0.0), ("eta", "(0")),
    InvalidCase("optim-eta-missing", lambda: _sgdm(eta=None), ("eta", "(0")),
    InvalidCase("optim-n-clients-zero", lambda: _ef21(n_clients=0), ("n_clients", "[1")),
    InvalidCase("optim-normalize-unknown", lambda: _ef21(normalize="layer"), ("normalize", "'global'")),
    InvalidCase("optim-compress-unknown", lambda: _ef21(compress="rows"), ("compress", "'per_tensor'")),
    InvalidCase("optim-init-unknown", lambda: _ef21(init="exact"), ("init", "'gradient'")),
    InvalidCase("optim-compressor-missing", lambda: _ef21(compressor=None), ("compressor",)),
    InvalidCase("optim-topk-too-large", lambda: _ef21(compressor=TopK(9)), ("k", "d=4")),
    InvalidCase("optim-random-compressor-no-generator", lambda: _ef21(compressor=RandK(2)), ("generator",)),
    InvalidCase("optim-closure-missing", _step_without_closure, ("closure",)),
    InvalidCase("optim-closure-not-tensor", _closure_returning_float, ("closure", "torch.Tensor")),
    InvalidCase("optim-econtrol-eta-negative",
                lambda: optim.EControl(_params(), lr=0.1, n_clients=2, compressor=TopK(1), eta=-0.1),
                ("eta", "[0")),
    InvalidCase("optim-econtrol-step-uses",
                lambda: optim.EControl(_params(), lr=0.1, n_clients=2, compressor=TopK(1), step_uses="h"),
                ("step_uses", "'h_next'")),
    InvalidCase("optim-ef-mu-one",
                lambda: optim.EF(_params(), lr=0.1, n_clients=2, compressor=TopK(1), mu=1.0), ("mu", "1)")),
    InvalidCase("optim-ef-averaging-infinite-p",
                lambda: optim.EF(_params(), lr=0.1, n_clients=2, compressor=TopK(1), error_averaging=True),
                ("p", "inf")),
    InvalidCase("optim-saef-p-zero",
                lambda: optim.SAEF(_params(), lr=0.1, n_clients=2, compressor=TopK(1), p=0), ("p", "[1")),
    InvalidCase("optim-smm-beta-zero", lambda: optim.SMM(_params(), lr=0.1, beta=0.0), ("beta", "(0")),
    InvalidCase("optim-smm-sign-zero", lambda: optim.SMM(_params(), lr=0.1, beta=0.5, sign_zero=2),
                ("sign_zero", "-1, 0, 1")),
    InvalidCase("optim-mvsm-version",
                lambda: optim.MVSM(_params(), lr=0.1, beta=0.5, n_clients=2, G=1.0, version=3,
                                   generator=torch.Generator()), ("version", "[1, 2]")),
    InvalidCase("optim-mvsm-G-negative",
                lambda: optim.MVSM(_params(), lr=0.1, beta=0.5, n_clients=2, G=-1.0,
                                   generator=torch.Generator()), ("G", "(0")),
    InvalidCase("optim-mvsm-no-generator",
                lambda: optim.MVSM(_params(), lr=0.1, beta=0.5, n_clients=2, G=1.0), ("generator",)),
    InvalidCase("optim-rhm-interpolation",
                lambda: optim.EF21RHMNorm(_params(), lr=0.1, eta=0.5, n_clients=2, compressor=TopK(1),
                                          interpolation=math.pi), ("interpolation",)),
]
