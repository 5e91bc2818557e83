"""The NumPy reference of the EF21 family: invariants, options, accounting, every problem, reruns."""

from __future__ import annotations

import numpy as np
import pytest

import algorithms
from algorithms.numpy.ef21 import ef21_theory_stepsize
from algorithms.registry import Streams
from eftheory.compressors import Identity, RandK, TopK
from eftheory.derivations.ef21 import theta, theory_stepsize
from eftheory.problems.logistic import synthetic_logistic
from eftheory.problems.polynomial import Polynomial
from eftheory.problems.quadratic import problem_q, problem_q4

EXACT = ["ef21", "ef21-norm"]
NORMALIZED = ["ef21-norm", "ef21-sgdm-norm", "ef21-igt-norm", "ef21-rhm-norm", "ef21-hm-norm", "ef21-mvr-norm"]
MOMENTUM = ["ef21-sgdm", "ef21-sgdm-norm", "ef21-igt-norm", "ef21-rhm-norm", "ef21-hm-norm", "ef21-mvr-norm",
            "ef21-mvr"]
HVP = ["ef21-rhm-norm", "ef21-hm-norm"]
NAMES = sorted(set(EXACT + NORMALIZED + MOMENTUM + ["ef21-sgd", "econtrol"]))


def run(name, problem, C, x0, K, gamma=0.05, eta=0.5, **kw):
    mom = eta if name in MOMENTUM else None
    return algorithms.run(name, problem, C, x0, K, stepsize=gamma, momentum=mom, **kw)


def test_every_name_is_registered_with_its_paper():
    specs = {s.name: s for s in algorithms.specs()}
    assert set(NAMES) <= set(specs)
    for name in NAMES:
        assert specs[name].paper in {"000", "001", "004"}
        assert (specs[name].momentum == "required") == (name in MOMENTUM)
        assert ("hvp_i" in specs[name].needs) == (name in HVP)


@pytest.mark.parametrize("name", NAMES)
def test_mirror_invariant_and_result_shapes(name, logistic, x0):
    K = 40
    r = run(name, logistic, RandK(3), x0, K, seed=3)
    scale = 1.0 + r.diagnostics["g_norm"].max()
    assert r.diagnostics["mirror_gap"].max() <= 1e-12 * scale          # EF21-INV
    assert r.x.shape == (K + 1, 10) and r.grad_norm.shape == (K + 1,) and r.f.shape == (K + 1,)
    for field in ("stepsize", "bits_up", "bits_down", "grad_calls", "hvp_calls"):
        assert getattr(r, field).shape == (K,)
    assert (r.momentum is None) == (name not in MOMENTUM)
    for key in ("err_grad_g", "err_g_v", "err_v_grad", "err_v_grad_avg", "mirror_gap", "g_norm",
                "mean_grad_i_norm"):
        assert r.diagnostics[key].shape == (K,) and np.all(np.isfinite(r.diagnostics[key]))
    grads = np.array([logistic.grad_i(i, r.x[-1]) for i in range(20)])
    assert np.isclose(r.grad_norm[-1], np.linalg.norm(grads.mean(0)), rtol=1e-12)
    assert r.f[0] == pytest.approx(logistic.f(x0), rel=1e-14)
    assert r.config["name"] == name and r.config["seed"] == 3


@pytest.mark.parametrize("name", NORMALIZED)
def test_normalized_step_has_length_gamma(name, logistic, x0):
    gamma = lambda k: 0.1 / (k + 1) ** 0.5  # noqa: E731
    r = algorithms.run(name, logistic, TopK(2), x0, 30, stepsize=gamma,
                       momentum=0.3 if name in MOMENTUM else None)
    steps = np.linalg.norm(np.diff(r.x, axis=0), axis=1)
    assert np.allclose(steps, r.stepsize, rtol=1e-12, atol=0)
    assert np.allclose(r.stepsize, [gamma(k) for k in range(30)])


def test_zero_mirror_gives_zero_direction():
    class Flat:  # every gradient vanishes: g = 0 and the normalized step must not move
        n_clients, dim = 2, 3

        def f(self, x):
            return 0.0

        def f_i(self, i, x):
            return 0.0

        def sample(self, i, rng):
            return None

        def grad_i(self, i, x, xi=None):
            return np.zeros(3)

    r = algorithms.run("ef21-norm", Flat(), TopK(1), np.ones(3), 5, stepsize=1.0)
    assert np.array_equal(r.x, np.ones((6, 3)))


@pytest.mark.parametrize("name", NAMES)
def test_first_target_is_the_initial_stochastic_gradient(name):
    """v_i^0 = grad f_i(x^0; xi_i^0) for every variant, whatever eta_0 (momentum 0.3 here)."""
    p = problem_q(seed=2, d=6, n=3)
    x0 = np.linspace(-1, 1, 6)
    r = run(name, p, TopK(2), x0, 3, eta=0.3, seed=11, record_clients=True)
    rng = Streams(11).sample
    for i in range(3):
        xi = None if name in EXACT else p.sample(i, rng)
        if name == "ef21-rhm-norm":
            p.sample(i, rng)                       # the independent HVP draw follows the first
        assert np.allclose(r.diagnostics["v_i"][0, i], p.grad_i(i, x0, xi), rtol=0, atol=1e-13)


def test_init_modes_and_round_zero_bits(logistic, x0):
    C = TopK(2)
    grads = np.array([logistic.grad_i(i, x0) for i in range(20)])
    res = {m: algorithms.run("ef21-norm", logistic, C, x0, 2, stepsize=0.1, init=m, record_clients=True)
           for m in ("gradient", "compressed", "zero")}
    g0 = {m: r.diagnostics["g_i"][0] for m, r in res.items()}
    assert np.array_equal(g0["gradient"], grads)
    assert np.allclose(g0["zero"], [C(v) for v in grads])
    assert np.allclose(g0["compressed"], [C(v) + C(v - C(v)) for v in grads])
    assert res["gradient"].init_bits_up == 32 * 10
    assert res["compressed"].init_bits_up == C.bits(10, "values") == 64
    assert res["zero"].init_bits_up == 0
    assert np.all(res["zero"].bits_up == 64)


def test_defaults_follow_the_papers():
    specs = {s.name: s for s in algorithms.specs()}
    assert specs["ef21"].options["init"] == "zero"              # EF21 paper: g_i^0 = C(grad f_i(x^0))
    assert specs["ef21-norm"].options["init"] == "gradient"     # 004 experiments
    assert specs["ef21-sgdm-norm"].options["init"] == "zero"    # 001 Theorem 2
    for name in ("ef21-igt-norm", "ef21-rhm-norm", "ef21-hm-norm", "ef21-mvr-norm", "econtrol"):
        assert specs[name].options["init"] == "gradient"        # 000 code
    assert specs["ef21-rhm-norm"].options["rhm_same_sample"] is False
    assert specs["econtrol"].options["econtrol_eta"] == 0.1
    assert specs["econtrol"].options["econtrol_step_uses"] == "h_next"
    for name in NORMALIZED:
        assert specs[name].options["normalize_scope"] == "global"
    for name in NAMES:
        assert specs[name].options["bits"] == "values"
        assert specs[name].options["record_clients"] is False


def test_bits_conventions(logistic, x0):
    r_v = algorithms.run("ef21", logistic, TopK(3), x0, 2, stepsize=0.1)
    r_vi = algorithms.run("ef21", logistic, TopK(3), x0, 2, stepsize=0.1, bits="values+indices")
    assert np.all(r_v.bits_up == 3 * 32)
    assert np.all(r_vi.bits_up == TopK(3).bits(10, "values+indices")) and np.all(r_vi.bits_up > 3 * 32)
    assert np.all(r_v.bits_down == 0)
    assert np.array_equal(r_v.x, r_vi.x)


@pytest.mark.parametrize("name,grad,hvp", [
    ("ef21", [1, 1, 1], [0, 0, 0]), ("ef21-sgd", [1, 1, 1], [0, 0, 0]),
    ("ef21-sgdm-norm", [1, 1, 1], [0, 0, 0]), ("ef21-igt-norm", [1, 1, 1], [0, 0, 0]),
    ("ef21-rhm-norm", [1, 1, 1], [1, 1, 1]), ("ef21-hm-norm", [1, 1, 1], [1, 1, 1]),
    ("ef21-mvr-norm", [1, 2, 2], [0, 0, 0]), ("ef21-mvr", [1, 2, 2], [0, 0, 0]),
    ("econtrol", [1, 1, 1], [0, 0, 0]),
])
def test_oracle_call_counts(name, grad, hvp):
    p = problem_q(seed=0, d=4, n=2)
    r = run(name, p, TopK(1), np.ones(4), 3)
    assert list(r.grad_calls) == grad and list(r.hvp_calls) == hvp


def test_per_tensor_normalization(logistic, x0):
    glob = algorithms.run("ef21-norm", logistic, TopK(3), x0, 20, stepsize=0.05)
    one = algorithms.run("ef21-norm", logistic, TopK(3), x0, 20, stepsize=0.05, normalize_scope="per_tensor")
    assert np.array_equal(glob.x, one.x)                         # one block = the global norm
    per = algorithms.run("ef21-norm", logistic, TopK(3), x0, 20, stepsize=0.05,
                         normalize_scope="per_tensor", blocks=(4, 6), record_clients=True)
    g = per.diagnostics["g"]
    nonzero = (np.linalg.norm(g[:, :4], axis=1) > 0).astype(int) + (np.linalg.norm(g[:, 4:], axis=1) > 0)
    steps = np.linalg.norm(np.diff(per.x, axis=0), axis=1)
    assert np.allclose(steps, 0.05 * np.sqrt(nonzero), rtol=1e-12)
    assert not np.allclose(per.x, glob.x)
    # blocks are ignored under the global scope
    gb = algorithms.run("ef21-norm", logistic, TopK(3), x0, 20, stepsize=0.05, blocks=(4, 6))
    assert np.array_equal(gb.x, glob.x)


def test_rhm_same_sample_option_changes_the_draws():
    p = problem_q(seed=1, d=5, n=2)
    a = algorithms.run("ef21-rhm-norm", p, TopK(2), np.ones(5), 20, stepsize=0.05, momentum=0.5)
    b = algorithms.run("ef21-rhm-norm", p, TopK(2), np.ones(5), 20, stepsize=0.05, momentum=0.5,
                       rhm_same_sample=True)
    assert a.config["options"]["rhm_same_sample"] is False
    assert not np.allclose(a.x[2:], b.x[2:])


def test_econtrol_step_uses_option():
    p = problem_q(seed=1, d=5, n=2)
    nxt = algorithms.run("econtrol", p, TopK(2), np.ones(5), 10, stepsize=0.1, record_clients=True)
    prv = algorithms.run("econtrol", p, TopK(2), np.ones(5), 10, stepsize=0.1, econtrol_step_uses="h_prev",
                         record_clients=True, init="zero")
    assert np.allclose(nxt.x[1:], nxt.x[:-1] - 0.1 * nxt.diagnostics["g"])
    assert np.array_equal(prv.x[1], prv.x[0])                    # h^0 = 0 under init "zero"
    assert np.allclose(prv.x[2:], prv.x[1:-1] - 0.1 * prv.diagnostics["g"][:-1])


@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_reruns_and_seed_dependence(name):
    p = problem_q4(seed=0, d=6, n=3)
    a = run(name, p, RandK(2), np.ones(6), 15, seed=5)
    b = run(name, p, RandK(2), np.ones(6), 15, seed=5)
    c = run(name, p, RandK(2), np.ones(6), 15, seed=6)
    for field in ("x", "grad_norm", "f", "bits_up", "grad_calls", "hvp_calls"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    for key in a.diagnostics:
        assert np.array_equal(a.diagnostics[key], b.diagnostics[key])
    assert not np.array_equal(a.x, c.x)


def _problems():
    yield "logistic", synthetic_logistic(20, 10, seed=0), False
    yield "polynomial", Polynomial(d=4, L0=4.0, L1=4.0), False
    yield "quadratic", problem_q(seed=0, d=10, n=4, zeta_std=0.0, eps_std=0.0), False
    yield "Q", problem_q(seed=0), True
    yield "Q4", problem_q4(seed=0), True
    yield "logistic-minibatch", synthetic_logistic(40, 10, seed=0, clients=4, batch_size=3), True


@pytest.mark.parametrize("name", NAMES)
def test_every_name_on_every_applicable_builtin_problem(name):
    ran = 0
    for label, p, stochastic in _problems():
        if stochastic and name in EXACT:
            continue                        # exact-gradient methods are run on exact oracles only
        x0 = np.full(p.dim, 0.5)
        r = run(name, p, TopK(1), x0, 30, gamma=0.01, eta=0.5, seed=1)
        assert np.all(np.isfinite(r.x)), label
        assert r.diagnostics["mirror_gap"].max() <= 1e-12 * (1 + r.diagnostics["g_norm"].max()), label
        ran += 1
    assert ran >= 3


class Toy:
    """A problem defined here through the protocol only: f_i(x; xi) = 1/2 ||x - c_i - xi||^2 + 1/4 sum x^4."""

    def __init__(self):
        self.n_clients, self.dim = 3, 2
        self.c = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.0]])

    def f_i(self, i, x, xi=None):
        shift = 0 if xi is None else xi
        return 0.5 * float(np.sum((x - self.c[i] - shift) ** 2)) + 0.25 * float(np.sum(x ** 4))

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(3)]))

    def sample(self, i, rng):
        return 0.1 * rng.standard_normal(2)

    def grad_i(self, i, x, xi=None):
        shift = 0 if xi is None else xi
        return x - self.c[i] - shift + x ** 3

    def hvp_i(self, i, x, v, xi=None):
        return v + 3 * x ** 2 * v


@pytest.mark.parametrize("name", NAMES)
def test_user_defined_problem_runs_through_every_name(name):
    p = Toy()
    r = run(name, p, TopK(1), np.array([2.0, -2.0]), 200, gamma=0.02, eta=0.5, seed=4)
    assert np.all(np.isfinite(r.x))
    assert r.grad_norm[-1] < 0.5 * r.grad_norm[0]


def test_theory_stepsize_helper_and_ef21_bound(logistic, x0):
    C = TopK(1)
    gamma = ef21_theory_stepsize(logistic, C)
    assert gamma == theory_stepsize(logistic.L, logistic.L_tilde, 0.1)
    K = 300
    r = algorithms.run("ef21", logistic, C, x0, K, stepsize=gamma, record_clients=True)
    grads0 = np.array([logistic.grad_i(i, x0) for i in range(20)])
    G0 = np.mean(np.sum((r.diagnostics["g_i"][0] - grads0) ** 2, axis=1))
    lhs = np.mean(r.grad_norm[:K] ** 2)                           # EF21-T1, pathwise for Top-K
    rhs = 2 * (r.f[0] - 0.0) / (gamma * K) + G0 / (theta(0.1) * K)
    assert lhs <= rhs
    assert r.grad_norm[-1] < r.grad_norm[0]


def test_theory_stepsize_needs_constants():
    with pytest.raises(ValueError, match="L"):
        ef21_theory_stepsize(Toy(), TopK(1))
    assert ef21_theory_stepsize(Polynomial(d=4), Identity()) == pytest.approx(1 / Polynomial(d=4).L)

    class OnlyLi(Toy):
        L, L_i = 2.0, np.array([1.0, 2.0, 2.0])

    assert ef21_theory_stepsize(OnlyLi(), TopK(1)) == theory_stepsize(2.0, np.sqrt(3.0), 0.5)

    class OnlyL(Toy):
        L = 2.0

    with pytest.raises(ValueError, match="L_tilde"):
        ef21_theory_stepsize(OnlyL(), TopK(1))
