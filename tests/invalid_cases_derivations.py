"""Invalid inputs of eftheory.derivations."""

import numpy as np

from eftheory.derivations import ef21, momentum, normalized, problems, saef, sgdm, sign
from invalid_inputs import InvalidCase

CASES = [
    InvalidCase("deriv-theta-alpha-zero", lambda: ef21.theta(0.0), ("alpha", "(0, 1]")),
    InvalidCase("deriv-beta-alpha-big", lambda: ef21.beta(1.5), ("alpha", "(0, 1]")),
    InvalidCase("deriv-stepsize-negative-L", lambda: ef21.theory_stepsize(-1.0, 1.0, 0.5), ("L", "(0")),
    InvalidCase("deriv-stepsize-negative-Ltilde", lambda: ef21.theory_stepsize(1.0, -1.0, 0.5), ("L_tilde", "[0")),
    InvalidCase("deriv-stepsize-alpha-nan", lambda: ef21.theory_stepsize(1.0, 1.0, float("nan")), ("alpha", "finite")),
    InvalidCase("deriv-logreg-negative-lam", lambda: problems.logistic_constants(np.ones((2, 2)), -0.1), ("lam", "[0")),
    InvalidCase("deriv-logreg-1d-A", lambda: problems.logistic_constants(np.ones(3), 0.1), ("A", "(N, d)")),
    InvalidCase("deriv-logreg-nan-A", lambda: problems.logistic_constants(np.full((2, 2), np.nan), 0.1), ("A", "finite")),
    InvalidCase("deriv-poly-L0-zero-L1", lambda: problems.polynomial_L0(0.0, 0.1, 4), ("L1", "(0")),
    InvalidCase("deriv-poly-lambda-d0", lambda: problems.polynomial_lambda(4.0, 1.0, 0), ("d", "[1")),
    InvalidCase("deriv-poly-boxL-negative-D", lambda: problems.polynomial_box_L(0.1, 4, -1.0), ("D", "(0")),
    InvalidCase("deriv-norm-c-alpha", lambda: normalized.c_factor(2.0), ("alpha", "(0, 1]")),
    InvalidCase("deriv-norm-thm1-gamma0", lambda: normalized.theorem1_bound(1, 1, 1, 0.5, 0, 0.0, 10), ("gamma0", "(0")),
    InvalidCase("deriv-norm-thm1-K", lambda: normalized.theorem1_bound(1, 1, 1, 0.5, 0, 1.0, -1), ("K", "[0")),
    InvalidCase("deriv-sgdm-gamma0max-L1", lambda: sgdm.gamma0_max(0.0, 0.5, 10), ("L1", "(0")),
    InvalidCase("deriv-sgdm-rho-beta", lambda: sgdm.theorem3_rho(-2.0, 0.5), ("beta", "(0")),
    InvalidCase("deriv-sgdm-thm3-rho-ge-1", lambda: sgdm.theorem3_bound(1, 1, 1, 1.0, 2.0, 10), ("beta", "rho")),
    InvalidCase("deriv-momentum-variant", lambda: momentum.schedule_exponents("adam"), ("variant", "'polyak'")),
    InvalidCase("deriv-momentum-p-one", lambda: momentum.gamma_sum_lower_bound(1.0, 1.0, 10), ("p", "1)")),
    InvalidCase("deriv-saef-delta", lambda: saef.c_const(0.0, 4), ("delta", "(0, 1]")),
    InvalidCase("deriv-saef-n", lambda: saef.c_const(0.5, 0), ("n", "[1")),
    InvalidCase("deriv-saef-beta1-range", lambda: saef.lemma2_factor(0.5, 2.0), ("beta1", "(0, 1)")),
    InvalidCase("deriv-saef-thm2-eta", lambda: saef.theorem2_bound(1, 2.0, 1, 10, 4, 0.5, 1, 1), ("eta", "3/(2L)")),
    InvalidCase("deriv-saef-mu", lambda: saef.alpha_mu(0.1, 1.0, 1.0), ("mu", "[0, 1)")),
    InvalidCase("deriv-sign-T", lambda: sign.mvsm_v2_params(4, 0), ("T", "[1")),
    InvalidCase("deriv-sign-beta", lambda: sign.smm_bound(1, 1, 1, 4, 10, 0.1, 1.5), ("beta", "(0, 1]")),
]
