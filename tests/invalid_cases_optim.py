"""Invalid inputs of the torch.optim optimizers (algorithms.torch.optim), in the cards' vocabulary."""

import math

import torch

from algorithms.torch import optim
from eftheory.compressors import RandK, TopK
from invalid_inputs import InvalidCase


def _params():
    return [torch.zeros(4, dtype=torch.float64, requires_grad=True)]


def _ef21(**kw):
    args = {"stepsize": 0.1, "n_clients": 2, "compressor": TopK(1), **kw}
    return optim.EF21Norm(_params(), **args)


def _sgdm(**kw):
    args = {"stepsize": 0.1, "momentum": 0.5, "n_clients": 2, "compressor": TopK(1), **kw}
    return optim.EF21SGDMNorm(_params(), **args)


def _step_without_closure():
    _ef21().step(None)


def _closure_returning_float():
    _ef21().step(lambda i, fresh: 1.0)


def _schedule_negative_stepsize():
    opt = _ef21(stepsize=lambda k: -0.1)
    p = opt.param_groups[0]["params"][0]
    opt.step(lambda i, fresh: (p ** 2).sum())


def _mvsm(**kw):
    args = {"stepsize": 0.1, "momentum": 0.5, "n_clients": 2, "G": 1.0, "generator": torch.Generator(), **kw}
    return optim.MVSMV1(_params(), **args)


CASES = [
    InvalidCase("optim-stepsize-zero", lambda: _ef21(stepsize=0.0), ("stepsize", "(0")),
    InvalidCase("optim-stepsize-negative", lambda: _ef21(stepsize=-1.0), ("stepsize", "(0")),
    InvalidCase("optim-stepsize-schedule-negative", _schedule_negative_stepsize, ("stepsize(0)", "(0")),
    InvalidCase("optim-momentum-above-one", lambda: _sgdm(momentum=1.5), ("momentum", "1]")),
    InvalidCase("optim-momentum-zero", lambda: _sgdm(momentum=0.0), ("momentum", "(0")),
    InvalidCase("optim-momentum-missing", lambda: _sgdm(momentum=None), ("momentum", "(0")),
    InvalidCase("optim-n-clients-zero", lambda: _ef21(n_clients=0), ("n_clients", "[1")),
    InvalidCase("optim-normalize-scope-unknown", lambda: _ef21(normalize_scope="layer"),
                ("normalize_scope", "'global'")),
    InvalidCase("optim-old-option-name", lambda: _ef21(normalize="global"), ("normalize", "allowed")),
    InvalidCase("optim-compress-unknown", lambda: _ef21(compress="rows"), ("compress", "'per_tensor'")),
    InvalidCase("optim-init-unknown", lambda: _ef21(init="exact"), ("init", "'gradient'")),
    InvalidCase("optim-compressor-missing", lambda: _ef21(compressor=None), ("compressor",)),
    InvalidCase("optim-topk-too-large", lambda: _ef21(compressor=TopK(9)), ("k", "d=4")),
    InvalidCase("optim-random-compressor-no-generator", lambda: _ef21(compressor=RandK(2)), ("generator",)),
    InvalidCase("optim-closure-missing", _step_without_closure, ("closure", "closure(i, fresh)")),
    InvalidCase("optim-closure-not-tensor", _closure_returning_float, ("closure", "torch.Tensor")),
    InvalidCase("optim-econtrol-eta-negative",
                lambda: optim.EControl(_params(), stepsize=0.1, n_clients=2, compressor=TopK(1), econtrol_eta=-0.1),
                ("econtrol_eta", "[0")),
    InvalidCase("optim-econtrol-step-uses",
                lambda: optim.EControl(_params(), stepsize=0.1, n_clients=2, compressor=TopK(1),
                                       econtrol_step_uses="h"), ("econtrol_step_uses", "'h_next'")),
    InvalidCase("optim-ef-mu-one",
                lambda: optim.EF(_params(), stepsize=0.1, n_clients=2, compressor=TopK(1), mu=1.0), ("mu", "1)")),
    InvalidCase("optim-ef-averaging-infinite-p",
                lambda: optim.EF(_params(), stepsize=0.1, n_clients=2, compressor=TopK(1), error_averaging=True),
                ("p", "inf")),
    InvalidCase("optim-saef-p-zero",
                lambda: optim.SAEF(_params(), stepsize=0.1, n_clients=2, compressor=TopK(1), p=0), ("p", "[1")),
    InvalidCase("optim-smm-momentum-zero", lambda: optim.SMM(_params(), stepsize=0.1, momentum=0.0),
                ("momentum", "(0")),
    InvalidCase("optim-smm-sign-zero", lambda: optim.SMM(_params(), stepsize=0.1, momentum=0.5, sign_zero=2),
                ("sign_zero", "-1, 0, 1")),
    InvalidCase("optim-mvsm-G-negative", lambda: _mvsm(G=-1.0), ("G", "(0")),
    InvalidCase("optim-mvsm-no-generator", lambda: _mvsm(generator=None), ("generator",)),
    InvalidCase("optim-sign-compressor-given", lambda: _mvsm(compressor=TopK(1)), ("compressor", "None")),
    InvalidCase("optim-rhm-uniforms", lambda: optim.EF21RHMNorm(_params(), stepsize=0.1, momentum=0.5, n_clients=2,
                                                                compressor=TopK(1), uniforms=math.pi),
                ("uniforms",)),
    InvalidCase("optim-rhm-same-sample-not-bool",
                lambda: optim.EF21RHMNorm(_params(), stepsize=0.1, momentum=0.5, n_clients=2, compressor=TopK(1),
                                          generator=torch.Generator(), rhm_same_sample=1),
                ("rhm_same_sample", "[False, True]")),
]
