"""algorithms.numpy.ef21.ef21_theory_stepsize: the closed form 1/(L + L~ sqrt(beta_EF/theta)) and its inputs.

With s = sqrt(1 - alpha): theta = 1 - s, beta_EF = (1 - alpha)/(1 - s), so sqrt(beta_EF/theta) = s/(1 - s)
(eftheory.derivations.ef21). ``L_tilde`` is the problem's own when it has one, else the quadratic mean
of ``L_i``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from algorithms.numpy.ef21 import ef21_theory_stepsize
from eftheory.compressors import TopK


def _closed_form(L, L_tilde, alpha):
    s = math.sqrt(1.0 - alpha)
    return 1.0 / (L + L_tilde * s / (1.0 - s))


def test_problem_L_tilde_wins_over_L_i():
    p = SimpleNamespace(L=2.0, L_tilde=3.0, L_i=[10.0, 20.0], dim=4)
    got = ef21_theory_stepsize(p, TopK(1))                       # alpha = 1/4
    assert got == pytest.approx(_closed_form(2.0, 3.0, 0.25), rel=1e-12)


def test_L_tilde_is_the_quadratic_mean_of_L_i():
    p = SimpleNamespace(L=2.0, L_i=[1.0, 7.0], dim=4)
    assert ef21_theory_stepsize(p, TopK(1)) == pytest.approx(_closed_form(2.0, 5.0, 0.25), rel=1e-12)


def test_L_i_given_as_large_python_integers():
    # 3e9 and 4e9 as ints: their squares exceed int64 unless computed in floating point
    p = SimpleNamespace(L=1.0, L_i=[3_000_000_000, 4_000_000_000], dim=4)
    L_tilde = math.sqrt((9e18 + 16e18) / 2.0)
    assert ef21_theory_stepsize(p, TopK(1)) == pytest.approx(_closed_form(1.0, L_tilde, 0.25), rel=1e-12)


def test_missing_constants_are_named():
    with pytest.raises(ValueError, match=r"^problem must provide the constant 'L' for the EF21 theory stepsize$"):
        ef21_theory_stepsize(SimpleNamespace(L_tilde=1.0, dim=3), TopK(1))
    with pytest.raises(ValueError, match=r"^problem must provide the constant 'L_tilde' or 'L_i' for the EF21 "
                                         r"theory stepsize$"):
        ef21_theory_stepsize(SimpleNamespace(L=1.0, dim=3), TopK(1))
