"""Invalid inputs of the EF21 family (NumPy reference)."""

import numpy as np

import algorithms
from eftheory.compressors import TopK
from eftheory.problems.logistic import synthetic_logistic
from eftheory.problems.polynomial import Polynomial
from invalid_inputs import InvalidCase


class _NoHvp:
    """A problem without hvp_i: HM / RHM must refuse it."""

    n_clients, dim = 2, 3

    def f(self, x):
        return float(x @ x)

    def f_i(self, i, x):
        return float(x @ x)

    def sample(self, i, rng):
        return None

    def grad_i(self, i, x, xi=None):
        return 2 * np.asarray(x, float)


_P = synthetic_logistic(4, 3, seed=0)
_X0 = np.ones(3)


def _run(name, *, C=None, x0=_X0, iters=3, stepsize=0.1, problem=_P, **kw):
    return lambda: algorithms.run(name, problem, TopK(1) if C is None else C, x0, iters, stepsize=stepsize, **kw)


CASES = [
    InvalidCase("ef21-unknown-init", _run("ef21", init="ones"), ("init", "'gradient'", "'zero'")),
    InvalidCase("ef21-norm-unknown-scope", _run("ef21-norm", normalize_scope="layer"), ("normalize_scope", "'per_tensor'")),
    InvalidCase("ef21-norm-blocks-sum", _run("ef21-norm", normalize_scope="per_tensor", blocks=(1, 1)), ("blocks", "d=3")),
    InvalidCase("ef21-norm-blocks-nonpositive", _run("ef21-norm", normalize_scope="per_tensor", blocks=(0, 3)), ("blocks", "[1")),
    InvalidCase("ef21-norm-blocks-empty", _run("ef21-norm", blocks=()), ("blocks", "d=3")),
    InvalidCase("ef21-norm-blocks-not-sequence", _run("ef21-norm", blocks=3), ("blocks", "d=3")),
    InvalidCase("ef21-unknown-bits", _run("ef21", bits="indices"), ("bits", "'values'")),
    InvalidCase("ef21-record-clients-not-bool", _run("ef21", record_clients="yes"), ("record_clients", "True or False")),
    InvalidCase("econtrol-unknown-step-uses", _run("econtrol", econtrol_step_uses="h"), ("econtrol_step_uses", "'h_next'")),
    InvalidCase("econtrol-eta-negative", _run("econtrol", econtrol_eta=-0.1), ("econtrol_eta", "[0, 1]")),
    InvalidCase("econtrol-eta-above-one", _run("econtrol", econtrol_eta=1.5), ("econtrol_eta", "[0, 1]")),
    InvalidCase("ef21-rhm-same-sample-not-bool", _run("ef21-rhm-norm", momentum=0.5, rhm_same_sample=1), ("rhm_same_sample", "True or False")),
    InvalidCase("ef21-sgdm-eta-zero", _run("ef21-sgdm-norm", momentum=0.0), ("momentum", "(0, 1]")),
    InvalidCase("ef21-sgdm-eta-above-one", _run("ef21-sgdm", momentum=1.5), ("momentum", "(0, 1]")),
    InvalidCase("ef21-sgdm-momentum-missing", _run("ef21-igt-norm"), ("momentum", "(0, 1]")),
    InvalidCase("ef21-negative-stepsize", _run("ef21", stepsize=-0.1), ("stepsize", "(0")),
    InvalidCase("ef21-nan-stepsize", _run("ef21-norm", stepsize=float("nan")), ("stepsize", "finite")),
    InvalidCase("ef21-negative-stepsize-schedule", _run("ef21-norm", stepsize=lambda k: 0.1 - k), ("stepsize(1)", "(0")),
    InvalidCase("ef21-momentum-to-momentum-free", _run("ef21-norm", momentum=0.5), ("momentum", "None")),
    InvalidCase("ef21-hm-needs-hvp", _run("ef21-hm-norm", problem=_NoHvp(), momentum=0.5), ("hvp_i",)),
    InvalidCase("ef21-rhm-needs-hvp", _run("ef21-rhm-norm", problem=_NoHvp(), momentum=0.5), ("hvp_i",)),
    InvalidCase("ef21-x0-wrong-shape", _run("ef21", x0=np.ones(4)), ("x0", "(3,)")),
    InvalidCase("ef21-topk-k-above-d", _run("ef21", C=TopK(5)), ("k", "d=3")),
    InvalidCase("ef21-diverges-on-polynomial",
                lambda: algorithms.run("ef21", Polynomial(d=4, L0=4.0, L1=4.0), TopK(1), np.full(4, 20.0), 50, stepsize=10.0),
                ("non-finite", "gradient grad_i", "iteration 4")),
    InvalidCase("ef21-zero-iters", _run("ef21", iters=0), ("iters", "[1")),
]
