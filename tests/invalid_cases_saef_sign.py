"""Invalid inputs of EF/SAEF (002), the sign family (003) and their check helpers."""

import numpy as np

import algorithms
from eftheory.compressors import TopK
from eftheory.lyapunov import saef as ly_saef
from eftheory.lyapunov import sign as ly_sign
from eftheory.problems import HeterogeneousSignProblem, problem_q
from invalid_inputs import InvalidCase

_Q = problem_q(seed=0)
_H = HeterogeneousSignProblem(d=4, n=2, seed=0)


def _ef(name, **opts):
    return lambda: algorithms.run(name, _Q, TopK(2), np.zeros(_Q.dim), 3, stepsize=0.1, **opts)


def _sign(name, x0=None, **opts):
    x0 = np.zeros(_H.dim) if x0 is None else x0
    return lambda: algorithms.run(name, _H, None, x0, 3, stepsize=0.1, **opts)


CASES = [
    InvalidCase("saef-p-zero", _ef("saef", p=0), ("p", "[1, inf]")),
    InvalidCase("saef-p-float", _ef("saef", p=2.5), ("p", "[1, inf]")),
    InvalidCase("ef-p-negative", _ef("ef", p=-1, error_averaging=True), ("p", "[1, inf]")),
    InvalidCase("ef-averaging-needs-finite-p", _ef("ef", error_averaging=True), ("p", "finite")),
    InvalidCase("saef-mu-one", _ef("saef", mu=1.0), ("mu", "[0, 1)")),
    InvalidCase("ef-mu-negative", _ef("ef", mu=-0.1), ("mu", "[0, 1)")),
    InvalidCase("saef-double-way-not-bool", _ef("saef", double_way="yes"), ("double_way", "True or False")),
    InvalidCase("ef-local-feedback-not-bool", _ef("ef", local_feedback="no"), ("local_feedback", "True or False")),
    InvalidCase("ef-bits-unknown", _ef("ef", bits="bytes"), ("bits", "'values'")),
    InvalidCase("saef-momentum-argument", _ef("saef", momentum=0.9), ("momentum", "None")),
    InvalidCase("mvsm-v1-G-missing", _sign("mvsm-v1", momentum=0.5), ("G", "(0, inf)")),
    InvalidCase("mvsm-v1-G-zero", _sign("mvsm-v1", momentum=0.5, G=0.0), ("G", "(0")),
    InvalidCase("mvsm-v2-G-negative", _sign("mvsm-v2", momentum=0.5, G=-1.0), ("G", "(0")),
    InvalidCase("sto-signsgd-B-zero", _sign("sto-signsgd", B=0.0), ("B", "(0")),
    InvalidCase("sto-signsgd-B-missing", _sign("sto-signsgd"), ("B", "(0, inf)")),
    InvalidCase("mvsm-v1-on-violation-unknown", _sign("mvsm-v1", momentum=0.5, G=1.0, on_violation="warn"),
                ("on_violation", "'clip'")),
    InvalidCase("smm-convention-unknown", _sign("smm", momentum=0.5, momentum_convention="ema"),
                ("momentum_convention", "'new_weight'")),
    InvalidCase("mvsm-v2-convention-unknown", _sign("mvsm-v2", momentum=0.5, G=1.0, momentum_convention="x"),
                ("momentum_convention", "'old_weight'")),
    InvalidCase("mv-signsgd-ties-unknown", _sign("mv-signsgd", ties="random"), ("ties", "'zero'")),
    InvalidCase("signsgd-sign-zero-bad", _sign("signsgd", sign_zero=2), ("sign_zero", "-1, 0, 1")),
    InvalidCase("smm-momentum-missing", _sign("smm"), ("momentum", "(0, 1]")),
    InvalidCase("smm-momentum-above-one", _sign("smm", momentum=1.5), ("momentum", "1]")),
    InvalidCase("signum-beta-one", _sign("signum", momentum=1.0), ("momentum", "(0, 1)")),
    InvalidCase("mvsm-v1-G-violation-raise",
                _sign("mvsm-v1", x0=np.full(_H.dim, 3.0), momentum=0.5, G=0.5, on_violation="raise"),
                ("G", "||v||_inf", "on_violation='clip'")),
    InvalidCase("sto-signsgd-B-violation-raise",
                _sign("sto-signsgd", x0=np.full(_H.dim, 3.0), B=0.5, on_violation="raise"), ("B", "||v||_inf")),
    InvalidCase("lyapunov-c1-etaL-too-large", lambda: ly_saef.c1_terms(0.5, 2.0, 1.0, 4), ("eta*L", "(0, 1.5)")),
    InvalidCase("lyapunov-delta-zero", lambda: ly_saef.lemma2_min_corrected(0.0), ("delta", "(0, 1]")),
    InvalidCase("lyapunov-beta1-out-of-range", lambda: ly_saef.lemma2_h(2.0, 0.5), ("beta1", "(0, 1)")),
    InvalidCase("lyapunov-alpha-mu-mu-one", lambda: ly_saef.alpha_mu(0.1, 1.0, 1.0), ("mu", "[0, 1)")),
    InvalidCase("lyapunov-prop1-negative-var",
                lambda: ly_saef.proposition1_bounds(0.0, [-1.0], [1.0]), ("var", "[0, inf)")),
    InvalidCase("lyapunov-sign-zero-bad", lambda: ly_sign.sign_inequality([1.0], [0.0], sign_zero=3),
                ("sign_zero", "-1, 0, 1")),
    InvalidCase("lyapunov-stochastic-sign-R-too-small",
                lambda: ly_sign.stochastic_sign_mean([2.0], 1.0), ("v", "R = 1")),
]
