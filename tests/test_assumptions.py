"""Assumption checkers and the pointwise lemmas of the normalized-EF21 analysis (S004-L2, S004-L3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eftheory import assumptions as asm
from eftheory.problems import Polynomial, synthetic_logistic

LOGREG = synthetic_logistic(n=20, d=10, seed=0)
POLYS = {L1: Polynomial(d=4, L0=4.0, L1=L1) for L1 in (1.0, 4.0, 8.0)}


def _holds(c: asm.Check) -> bool:
    return c.observed <= c.stated


# --------------------------------------------------------------------- Lemma 2 / 3
@pytest.mark.parametrize("problem", [LOGREG, *POLYS.values()], ids=["logistic", "poly-L1=1", "poly-L1=4", "poly-L1=8"])
def test_lemma2_and_lemma3_on_random_pairs(problem):
    rng = np.random.default_rng(0)
    X, Y = asm.sample_pairs(problem, rng, 120 if problem is LOGREG else 300)
    worst = {}
    for x, y in zip(X, Y):
        for k, c in asm.lemma2_inequalities(problem, x, y).items():
            assert _holds(c), (k, c, x, y)
            if c.stated > 0:
                worst[k] = max(worst.get(k, -np.inf), c.observed / c.stated)
        c3 = asm.lemma3_inequality(problem, x)
        assert _holds(c3), (c3, x)
    assert set(worst) == {"(4)", "(5)", "(6)", "(7)"}
    assert all(v > 0 for v in worst.values())              # the inequalities were exercised


@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=10, max_size=10),
       st.lists(st.floats(-50, 50, allow_nan=False), min_size=10, max_size=10))
def test_lemma2_and_lemma3_hypothesis_logistic(xs, ys):
    x, y = np.array(xs), np.array(ys)
    for c in asm.lemma2_inequalities(LOGREG, x, y).values():
        assert _holds(c)
    assert _holds(asm.lemma3_inequality(LOGREG, x))


def test_lemmas_reject_wrong_constants():
    # negative controls: constants ten times too small, or a lower bound above f_i^inf
    p = LOGREG
    rng = np.random.default_rng(1)
    X, Y = asm.sample_pairs(p, rng, 60, scales=(0.01, 1.0))
    bad4 = any(not _holds(asm.lemma2_inequalities(p, x, y, L0=p.L0 / 50, L1=p.L1 / 50)["(4)"]) for x, y in zip(X, Y))
    assert bad4
    x = np.zeros(p.dim)
    assert not _holds(asm.lemma3_inequality(p, x, f_i_inf=np.full(p.n_clients, p.f(x))))
    assert not _holds(asm.lemma2_inequalities(p, x, X[0], f_i_inf=[p.f_i(i, x) + 1 for i in range(p.n_clients)])["(6)"])


def test_lemma3_needs_positive_L1():
    with pytest.raises(ValueError, match="L1 must be > 0"):
        asm.lemma3_inequality(LOGREG, np.zeros(10), L1=0.0)


# ------------------------------------------------------------- checkers' behaviour
def test_checks_return_float_pairs():
    rng = np.random.default_rng(0)
    for c in (asm.check_smoothness(LOGREG, rng, count=9), asm.check_L0L1(LOGREG, rng, count=3),
              asm.check_nonconvex(LOGREG)):
        assert isinstance(c, asm.Check) and isinstance(c.observed, float) and isinstance(c.stated, float)
        obs, stated = c
        assert np.isfinite(obs)


def test_user_problem_without_hess_uses_hvps():
    """A problem defined here, with hvp_i only: the Hessian is assembled from HVPs."""

    class Cubic:
        n_clients, dim = 2, 3
        L0, L1, f_i_inf_lower = 2.0, 3.0, np.zeros(2)

        def f_i(self, i, x, xi=None):
            return float(np.sum(np.abs(x) ** 3) / 3 + (i + 1) * x @ x / 2)

        def f(self, x):
            return (self.f_i(0, x) + self.f_i(1, x)) / 2

        def sample(self, i, rng):
            return None

        def grad_i(self, i, x, xi=None):
            return np.abs(x) * x + (i + 1) * x

        def hvp_i(self, i, x, v, xi=None):
            return (2 * np.abs(x) + (i + 1)) * v

    p = Cubic()
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(asm.hessian_i(p, 1, x), np.diag(2 * np.abs(x) + 2))
    # ||H_i|| = 2m + (i+1) with m = ||x||_inf, and ||grad_i|| >= m(m + i + 1), so (L0, L1) = (2, 3)
    # is valid: 2m + i + 1 <= 2 + 3m(m + i + 1) for i in {0, 1}
    rng = np.random.default_rng(0)
    obs, stated = asm.check_L0L1(p, rng, count=200)
    assert obs <= stated
    assert asm.check_L0L1(p, rng, count=200, L0=0.5, L1=0.5).observed > 1
    for c in asm.lemma2_inequalities(p, x, -x).values():
        assert _holds(c)


def test_L0L1_pairs_form_matches_hessian_form_direction():
    # the pair form is implied by the Hessian form: never larger on the same problem (up to the grid)
    rng = np.random.default_rng(2)
    p = POLYS[4.0]
    h = asm.check_L0L1(p, rng, count=200, scales=(0.01, 100)).observed
    q = asm.check_L0L1(p, rng, form="pairs", count=60, scales=(0.01, 100)).observed
    assert h <= 1.0 and q <= 1.0


def test_sample_pairs_kinds_and_box():
    p = POLYS[1.0]
    X, Y = asm.sample_pairs(p, np.random.default_rng(0), 90, scales=(0.1, 100))
    assert X.shape == Y.shape and X.shape[1] == 4
    assert np.abs(X).max() <= p.box and np.abs(Y).max() <= p.box
    dist = np.linalg.norm(X - Y, axis=1)
    assert dist.min() < 1e-1 and dist.max() > 10                  # close and far pairs


@pytest.mark.parametrize("kwargs, what", [
    (dict(thetas=10, form="pairs"), "thetas"),
    (dict(form="grid"), "form"),
    (dict(client=99), "client"),
])
def test_checker_arguments_are_validated(kwargs, what):
    with pytest.raises(ValueError, match=what):
        asm.check_L0L1(LOGREG, np.random.default_rng(0), count=3, **kwargs)


def test_missing_rng_is_a_named_error():
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        asm.check_smoothness(LOGREG)
