"""Sign-based methods (Jiang, Yu, Yang, Yang, Zhang [003] and baselines): conventions, laws, inequalities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import algorithms
from algorithms.registry import Streams
from eftheory.lyapunov import sign as ly
from eftheory.problems import HeterogeneousSignProblem, SeparableQuadratic

NAMES = ["signsgd", "signum", "smm", "mv-signsgd", "mv-signum", "sto-signsgd", "mvsm-v1", "mvsm-v2"]
CENTRAL = ["signsgd", "signum", "smm"]


def _kwargs(name, problem, beta=0.5):
    spec = algorithms.get(name)
    kw = {}
    if spec.momentum == "required":
        kw["momentum"] = beta
    if "G" in spec.options:
        kw["G"] = problem.G
    if "B" in spec.options:
        kw["B"] = problem.G
    return kw


def _het(n=4):
    return HeterogeneousSignProblem(d=16, n=n, seed=0)


# -- registration, reruns, built-in problems -------------------------------------------------

def test_all_sign_names_registered():
    assert set(NAMES) <= set(algorithms.names())
    for name in CENTRAL:
        assert algorithms.get(name).compressor == "none"


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_heterogeneous_problem_and_reruns_bit_identical(name):
    P = _het()
    x0 = np.full(P.dim, 1.0)
    a = algorithms.run(name, P, None, x0, 150, stepsize=0.02, seed=5, **_kwargs(name, P))
    b = algorithms.run(name, P, None, x0, 150, stepsize=0.02, seed=5, **_kwargs(name, P))
    assert np.array_equal(a.x, b.x)
    for key in a.diagnostics:
        assert np.array_equal(a.diagnostics[key], b.diagnostics[key]), key
    c = algorithms.run(name, P, None, x0, 150, stepsize=0.02, seed=6, **_kwargs(name, P))
    assert not np.array_equal(a.x, c.x)
    assert a.diagnostics["grad_norm_l1"][-1] < a.diagnostics["grad_norm_l1"][0]
    g = np.array([P.grad(x) for x in a.x])
    np.testing.assert_allclose(a.diagnostics["grad_norm_l1"], np.abs(g).sum(axis=1), rtol=1e-14)
    if name in CENTRAL:      # n clients each send their dense gradient to the one node; nothing comes back
        assert P.n_clients > 1
        assert np.all(a.bits_up == 32 * P.dim) and np.all(a.bits_down == 0)
    else:
        assert np.all(a.bits_up == P.dim) and np.all(a.bits_down == P.dim)


@pytest.mark.parametrize("name", CENTRAL)
def test_centralized_runs_on_separable_quadratic(name):
    P = SeparableQuadratic(8, seed=0)
    res = algorithms.run(name, P, None, np.full(8, 2.0), 200, stepsize=0.01, **_kwargs(name, P))
    assert res.f[-1] < 0.5 * res.f[0]


def test_centralized_step_uses_sign_of_mean_client_gradient():
    P = _het(n=4)
    x0 = np.full(P.dim, 0.3)
    res = algorithms.run("signsgd", P, None, x0, 1, stepsize=0.1, seed=2)
    rng = Streams(2).sample
    g = np.mean([P.grad_i(j, x0, P.sample(j, rng)) for j in range(4)], axis=0)
    np.testing.assert_array_equal(res.x[1], x0 - 0.1 * np.sign(g))


# -- conventions: sign(0), ties, momentum -------------------------------------------------------

class ZeroCoord:
    """f(x) = 1/2 ||x||^2 except that coordinate 0 has zero gradient; node j's gradient of coordinate 1 is (-1)^j."""

    def __init__(self, n=1):
        self.n_clients, self.dim = n, 3

    def f(self, x):
        return 0.5 * float(x[2] ** 2)

    def f_i(self, i, x):
        return self.f(x)

    def sample(self, i, rng):
        return None

    def grad_i(self, i, x, xi=None):
        return np.array([0.0, (-1.0) ** i, x[2]])


@pytest.mark.parametrize("zero,move", [(0, 0.0), (1, -1.0), (-1, 1.0)])
def test_sign_zero_option(zero, move):
    res = algorithms.run("signsgd", ZeroCoord(), None, np.array([0.0, 0.0, 1.0]), 5, stepsize=0.1,
                         sign_zero=zero)
    np.testing.assert_allclose(res.x[:, 0], move * 0.1 * np.arange(6), atol=1e-15)


@pytest.mark.parametrize("ties,move", [("zero", 0.0), ("plus", -1.0)])
def test_majority_vote_ties(ties, move):
    """Two nodes vote +1 and -1 on coordinate 1: the vote sum is 0 (a tie) at every step."""
    res = algorithms.run("mv-signsgd", ZeroCoord(n=2), None, np.array([0.0, 0.0, 1.0]), 4,
                         stepsize=0.1, ties=ties)
    np.testing.assert_allclose(res.x[:, 1], move * 0.1 * np.arange(5), atol=1e-15)
    # coordinate 0: both nodes send sign(0) = 0, a zero sum too
    np.testing.assert_array_equal(res.diagnostics["ties"], np.full(4, 2.0))


def test_momentum_conventions_are_mirror_images():
    P = SeparableQuadratic(6, seed=1)
    x0 = np.ones(6)
    a = algorithms.run("smm", P, None, x0, 80, stepsize=0.01, momentum=0.25)
    b = algorithms.run("smm", P, None, x0, 80, stepsize=0.01, momentum=0.75, momentum_convention="old_weight")
    assert np.array_equal(a.x, b.x)
    c = algorithms.run("smm", P, None, x0, 80, stepsize=0.01, momentum=0.25, momentum_convention="old_weight")
    assert not np.array_equal(a.diagnostics["estimate"], c.diagnostics["estimate"])


def test_smm_with_beta_one_is_signsgd_and_first_estimate_is_first_gradient():
    P = SeparableQuadratic(6, seed=1)
    x0 = np.ones(6)
    a = algorithms.run("smm", P, None, x0, 50, stepsize=0.01, momentum=1.0, seed=3)
    b = algorithms.run("signsgd", P, None, x0, 50, stepsize=0.01, seed=3)
    assert np.array_equal(a.x, b.x)
    c = algorithms.run("smm", P, None, x0, 50, stepsize=0.01, momentum=0.1, seed=3)
    np.testing.assert_array_equal(c.diagnostics["estimate"][0], b.diagnostics["estimate"][0])
    v1, g2 = c.diagnostics["estimate"][0, 0], b.diagnostics["estimate"][1, 0]
    assert not np.array_equal(c.diagnostics["estimate"][1, 0], g2)
    assert c.momentum[1] == 0.1 and v1.shape == (6,)


def test_signum_rejects_beta_one():
    P = SeparableQuadratic(4)
    with pytest.raises(ValueError, match="momentum must lie in"):
        algorithms.run("signum", P, None, np.ones(4), 3, stepsize=0.1, momentum=1.0)


# -- majority-vote outputs, stochastic signs, G violations -------------------------------------

@pytest.mark.parametrize("n", [1, 2, 4, 5])
def test_mvsm_output_sets(n):
    P = _het(n=n)
    x0 = np.full(P.dim, 1.0)
    v1 = algorithms.run("mvsm-v1", P, None, x0, 100, stepsize=0.02, momentum=0.5, G=P.G)
    v2 = algorithms.run("mvsm-v2", P, None, x0, 100, stepsize=0.02, momentum=0.5, G=P.G)
    assert set(np.unique(v1.diagnostics["direction"])) <= {-1.0, 0.0, 1.0}
    assert set(np.unique(v2.diagnostics["direction"])) == {-1.0, 1.0}
    assert np.all(np.abs(v1.diagnostics["u"]) <= 1.0)
    ties = v1.diagnostics["ties"].sum()
    if n % 2 == 1:
        assert ties == 0 and 0.0 not in v1.diagnostics["direction"]
    else:
        assert ties > 0 and np.count_nonzero(v1.diagnostics["direction"] == 0) == ties
    plus = algorithms.run("mvsm-v1", P, None, x0, 100, stepsize=0.02, momentum=0.5, G=P.G, ties="plus")
    assert 0.0 not in plus.diagnostics["direction"]


@given(st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=12), st.sampled_from([1e-3, 1.0, 7.5, 1e6]))
def test_stochastic_sign_is_unbiased_from_its_law(fracs, R):
    """E[R S_R(v)] = v and E[S_1(u)] = u, enumerating both outcomes per coordinate (boundaries included)."""
    v = np.array(fracs + [-1.0, 0.0, 1.0]) * R
    mean, stated = ly.stochastic_sign_mean(v, R)
    np.testing.assert_allclose(mean, stated, rtol=0, atol=4e-16 * R)
    mean1, u = ly.stochastic_sign_mean(v / R, 1.0)
    np.testing.assert_allclose(mean1, u, rtol=0, atol=4e-16)


def test_mvsm_v1_one_node_huge_G_is_a_fair_random_walk():
    """Documented behaviour: with n = 1, sign(S_G(v)) = S_G(v); for G >> |v| each coordinate moves by
    -+eta with probability 1/2 +- v/(2G) -- a near-symmetric random walk that does not descend."""
    P = _het(n=1)
    K, G = 2000, 1e6
    res = algorithms.run("mvsm-v1", P, None, np.full(P.dim, 1.0), K, stepsize=0.01, momentum=0.5, G=G)
    s = res.diagnostics["direction"]
    np.testing.assert_array_equal(s, res.diagnostics["u"])
    assert res.diagnostics["ties"].sum() == 0 and res.diagnostics["violations"].sum() == 0
    N = s.size
    frac_plus = np.mean(s > 0)
    expected = 0.5 + np.mean(res.diagnostics["v_bar"]) / (2 * G)
    assert abs(frac_plus - expected) <= 4 * math.sqrt(0.25 / N)
    # the same node with a valid G descends
    good = algorithms.run("mvsm-v1", P, None, np.full(P.dim, 1.0), K, stepsize=0.01, momentum=0.5, G=P.G)
    assert good.f[-100:].mean() < 0.2 * res.f[-100:].mean()


def test_G_violation_is_clipped_and_counted():
    P = _het(n=2)
    res = algorithms.run("mvsm-v1", P, None, np.full(P.dim, 3.0), 30, stepsize=0.02, momentum=0.5, G=0.5)
    assert res.diagnostics["violations"].sum() > 0
    ok = algorithms.run("mvsm-v1", P, None, np.full(P.dim, 3.0), 30, stepsize=0.02, momentum=0.5, G=P.G)
    assert ok.diagnostics["violations"].sum() == 0
    sto = algorithms.run("sto-signsgd", P, None, np.full(P.dim, 3.0), 30, stepsize=0.02, B=0.5)
    assert sto.diagnostics["violations"].sum() > 0


# -- the sign inequality (pointwise) ---------------------------------------------------------------

_coord = st.one_of(st.just(0.0), st.just(-0.0), st.floats(-1e150, 1e150, allow_nan=False),
                   st.sampled_from([1e-300, -1e-300, 5e-324, 1.0, -1.0, 1e150, -1e150]))


@given(st.integers(1, 16).flatmap(lambda d: st.tuples(st.lists(_coord, min_size=d, max_size=d),
                                                      st.lists(_coord, min_size=d, max_size=d))),
       st.sampled_from([-1, 0, 1]), st.sampled_from([1e-3, 1.0, 1e3]))
def test_sign_inequality_adversarial(gv, zero, c):
    g, v = (np.array(a) for a in gv)
    slack = ly.sign_inequality_slack(g, c * v, sign_zero=zero)
    assert np.all(slack >= 0.0)
    obs, stated = ly.sign_inequality(g, c * v, sign_zero=zero)
    scale = np.abs(g).sum() + 2 * np.abs(g - c * v).sum()
    assert obs >= stated - 1e-12 * scale


def test_sign_inequality_is_tight_and_can_fail_without_the_factor_two():
    g, v = np.array([1.0, -2.0]), np.array([-1e-9, -2.0])
    obs, stated = ly.sign_inequality(g, v)
    assert obs == pytest.approx(stated, abs=1e-8)           # tight up to the tiny |v_0|
    # with factor 1 instead of 2 the inequality is false here
    assert obs < np.abs(g).sum() - 1.0 * np.abs(g - v).sum()


# -- pathwise descent inequalities of §5.5 ------------------------------------------------------

@pytest.mark.parametrize("name,beta", [("smm", 0.1), ("smm", 1.0), ("signum", 0.9), ("signsgd", None)])
@pytest.mark.parametrize("smoothness", ["l2", "linf"])
def test_smm_pathwise_descent(name, beta, smoothness):
    P = SeparableQuadratic(10, seed=2, noise_std=1.0)
    kw = {} if beta is None else {"momentum": beta}
    res = algorithms.run(name, P, None, np.full(10, 2.0), 400, stepsize=0.02, seed=1, **kw)
    L = P.L if smoothness == "l2" else P.L_inf
    slack = ly.smm_descent_slack(P, res, L, smoothness=smoothness)
    assert slack.shape == (400,)
    assert np.min(slack) >= -1e-12 * (1 + np.max(np.abs(res.f)))
    # negative control: without the momentum-error term the bound fails somewhere (noise)
    est = res.diagnostics["estimate"][:, 0]
    g = np.array([P.grad(x) for x in res.x[:-1]])
    assert np.min(slack - 2 * res.stepsize * np.abs(g - est).sum(axis=1)) < 0


@pytest.mark.parametrize("n,ties", [(1, "zero"), (4, "zero"), (4, "plus"), (5, "zero")])
def test_mvsm_v1_pathwise_descent(n, ties):
    P = _het(n=n)
    res = algorithms.run("mvsm-v1", P, None, np.full(P.dim, 1.0), 300, stepsize=0.02, momentum=0.5,
                         G=P.G, ties=ties, seed=4)
    assert res.diagnostics["violations"].sum() == 0
    slack = ly.mvsm_v1_descent_slack(P, res, P.L, P.G)
    assert np.min(slack) >= -1e-12 * (1 + np.max(np.abs(res.f)))
    g = np.array([P.grad(x) for x in res.x[:-1]])
    gu = P.G * res.diagnostics["u"]
    assert np.min(slack - 2 * res.stepsize * np.abs(g - gu).sum(axis=1)) < 0


def test_skewed_noise_has_zero_mean_unit_variance_and_a_biased_sign():
    """SeparableQuadratic(noise="skewed"): zero mean and the Gaussian law's variance, but P[xi_j < 0] = 0.9,
    so sign(g + xi) is biased where |g| is small (what S003-T1/T2 need to separate SMM from signSGD)."""
    from eftheory.problems import SeparableQuadratic

    P = SeparableQuadratic(4, seed=0, noise="skewed", noise_std=2.0)
    rng = np.random.default_rng(0)
    xi = np.array([P.sample(0, rng) for _ in range(200_000)])
    s = P.noise_std / np.sqrt(P.dim)
    np.testing.assert_allclose(np.unique(np.round(xi / s, 12)), [-1 / 3, 3.0], rtol=1e-11)
    np.testing.assert_allclose(xi.mean(axis=0), 0.0, atol=5e-3)
    np.testing.assert_allclose(xi.var(axis=0), s ** 2, rtol=2e-2)
    assert abs(np.mean(xi < 0) - 0.9) < 5e-3
    with pytest.raises(ValueError, match="noise must be one of"):
        SeparableQuadratic(4, noise="cauchy")


def test_skewed_noise_engine_replays_reference():
    from algorithms.torch.replay import record_draws
    from eftheory.problems import SeparableQuadratic

    P = SeparableQuadratic(5, seed=1, noise="skewed")
    x0 = np.linspace(-0.8, 1.1, 5)
    draws, refs = record_draws("smm", P, None, x0, 12, seeds=(0, 1), stepsize=0.05, momentum=0.2)
    eng = algorithms.run("smm", P, None, x0, 12, backend="torch", seeds=2, draws=draws, stepsize=0.05,
                         momentum=0.2).numpy()
    for s, ref in enumerate(refs):
        np.testing.assert_allclose(eng.x[s], ref.x, rtol=1e-12, atol=1e-12)
    # without replay the engine draws the same law: the per-coordinate sign of the noise is -1 w.p. 0.9
    import torch

    from algorithms.torch.problems import batched_oracle

    oracle = batched_oracle(P, "cpu", torch.float64)
    z = oracle.sample(torch.Generator().manual_seed(0), 20_000)
    assert abs(float((z < 0).double().mean()) - 0.9) < 1e-2 and abs(float(z.mean())) < 5e-3
