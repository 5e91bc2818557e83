"""Worst-case programs (eftheory.pep): reference values, the theorems against the class worst case,
negative controls the programs must expose, input errors and the saved tables."""

from __future__ import annotations

import math
import sys

import pytest

pytest.importorskip("PEPit")
pytest.importorskip("cvxpy")
pytest.importorskip("clarabel")

from eftheory import pep  # noqa: E402
from eftheory.derivations import normalized as nz  # noqa: E402
from eftheory.derivations.ef21 import theta  # noqa: E402

REL = 1e-6       # solver accuracy allowed on a comparison with an exact value


def _ok(res):
    assert res.ok, res.status
    assert res.gap <= 1e-5 * max(1.0, abs(res.value)), res.gap
    return res.value


# ----------------------------------------------------------------------------- reference values


def test_gradient_descent_reference_value():
    # PEPit's nonconvex gradient-descent example: L = 1, gamma = 1/L, n = 5 -> (4/3) L / n = 4/15
    res = pep.gd_nonconvex_worst_case(L=1.0, gamma=1.0, n=5)
    assert _ok(res) == pytest.approx(4 / 15, rel=1e-6)
    assert res.extra["known"] == pytest.approx(4 / 15)


@pytest.mark.parametrize("L", [1.0, 2.5])
@pytest.mark.parametrize("T", [1, 3, 5])
def test_ef21_with_identity_compression_is_gradient_descent(T, L):
    # alpha = 1: the message equals its input, EF21 is GD with gamma = 1/L, and the tight average bound
    # (1/T) sum ||grad f(x^t)||^2 <= 2 L (f(x0) - f_*) / T is attained
    res = pep.ef21_worst_case(1.0, T, L=L, weights=(1.0, 0.0))
    assert res.params["gamma"] == pytest.approx(1 / L)
    assert _ok(res) == pytest.approx(2 * L / T, rel=1e-6)
    # and in the theorem's normalisation bound / PEP = 1 exactly
    assert pep.ef21_worst_case(1.0, T, L=L).extra["bound_over_pep"] == pytest.approx(1.0, rel=1e-6)


def test_weak_lower_level_is_loose():
    # the f_* modelling matters: with f_* <= f(x) - ||grad f(x)||^2/(2L) the T = 1 value is exact (EF21 at
    # alpha = 0.1: bound/PEP = 1/gamma, the worst first gradient is 2 L F0); with only f_* <= f(x^t) at the
    # visited points the program is ten times above it
    exact = _ok(pep.ef21_worst_case(0.1, 1))
    assert exact == pytest.approx(pep.ef21_theory_gamma(0.1), rel=1e-6)     # bound 1 at T = 1; worst 2 F0 = gamma
    weak = _ok(pep.ef21_worst_case(0.1, 1, lower_level="visited"))
    assert weak > 5 * exact


@pytest.mark.parametrize("alpha, T", [(0.1, 3), (0.25, 4), (0.5, 4)])
def test_probe_points_leave_ef21_unchanged(alpha, T):
    # the default f_* relaxation has no measurable slack here: adding the points x - grad f(x)/L with their own
    # interpolation and f_* constraints (a tighter relaxation) changes nothing beyond the solver accuracy
    plain = _ok(pep.ef21_worst_case(alpha, T))
    probed = _ok(pep.ef21_worst_case(alpha, T, lower_level="probes"))
    assert probed <= plain * (1 + 1e-6)
    assert probed == pytest.approx(plain, rel=1e-5)


# ----------------------------------------------------------------------------- the theorem against the class


@pytest.mark.parametrize("init", ["gradient", "zero", "compressed"])
@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.5, 0.75])
@pytest.mark.parametrize("T", [1, 2, 4])
def test_ef21_theorem_never_below_the_worst_case(alpha, T, init):
    res = pep.ef21_worst_case(alpha, T, init=init)
    value = _ok(res)
    # the theorem (normalised: numerator <= 1) says metric <= 1/T; a violation would be a finding
    assert value <= (1.0 / T) * (1 + REL), (alpha, T, init, value * T)
    assert res.extra["bound_over_pep"] >= 1 - REL


@pytest.mark.parametrize("init", ["gradient", "zero"])
@pytest.mark.parametrize("alpha", [0.5, 0.75])
def test_ef21_theorem_never_below_the_worst_case_at_T8(alpha, init):
    # where the theorem is nearly tight (bound/PEP about 1.3-1.5), so a program with a weaker compressor
    # constraint or a wrong stepsize shows up as a violation here
    res = pep.ef21_worst_case(alpha, 8, init=init)
    assert _ok(res) <= (1.0 / 8) * (1 + REL), (alpha, init, res.value * 8)
    assert res.extra["bound_over_pep"] < 1.6


def test_ef21_reported_figures():
    # the theorem's share at the theory stepsize: 19.5 (alpha 0.1, T 1), 7.46 (0.25, 1), 3.41 (0.5, 1),
    # and at T = 10 for alpha = 0.25: 1.87 (g^0 = grad f) and 1.75 (g^0 = C(grad f), the ledger's run)
    for alpha, T, init, ratio in ((0.1, 1, "gradient", 19.487), (0.25, 1, "gradient", 7.4641),
                                  (0.5, 1, "gradient", 3.4142), (0.25, 10, "gradient", 1.8714),
                                  (0.25, 10, "zero", 1.7537)):
        assert pep.ef21_worst_case(alpha, T, init=init).extra["bound_over_pep"] == pytest.approx(ratio, rel=1e-3)
    # T = 1 closed form: the worst first gradient is 2 F0 L, i.e. bound / PEP = 1 / (gamma L) = 1/(1-s)
    for alpha in (0.1, 0.5):
        g = pep.ef21_theory_gamma(alpha)
        assert pep.ef21_worst_case(alpha, 1).extra["bound_over_pep"] == pytest.approx(1 / g, rel=1e-6)


def test_two_clients():
    one = _ok(pep.ef21_worst_case(0.25, 3))
    same = _ok(pep.ef21_worst_case(0.25, 3, L=(1.0, 1.0)))
    assert same == pytest.approx(one, rel=1e-5)            # identical clients reduce to n = 1
    res = pep.ef21_worst_case(0.25, 3, L=(1.0, 3.0))        # heterogeneous L_i, L_f = 2, L~ = sqrt(5)
    assert res.params["gamma"] == pytest.approx(pep.ef21_theory_gamma(0.25, (1.0, 3.0)))
    assert _ok(res) <= (1 / 3) * (1 + REL)


# ----------------------------------------------------------------------------- negative controls


def test_control_doubled_stepsize_violates_the_bound():
    # the theorem's formula evaluated at a multiple of its stepsize (outside its hypothesis): the PEP exposes it
    # (at alpha = 0.25 the formula survives 2 gamma up to T = 10 -- the stepsize is not the worst-case limit --
    # and fails at 3 gamma)
    for alpha, T, m, floor in ((0.5, 10, 2.0, 4.0), (1.0, 5, 2.0, 9.0), (0.25, 10, 3.0, 2.5)):
        res = pep.ef21_worst_case(alpha, T, gamma=m * pep.ef21_theory_gamma(alpha))  # weights follow gamma
        assert res.status.startswith("optimal"), res.status
        assert res.value * T > floor, (alpha, T, m, res.value * T)
    assert pep.ef21_worst_case(0.25, 10, gamma=2 * pep.ef21_theory_gamma(0.25)).value * 10 < 1


def test_control_constant_too_small_violates_the_bound():
    # 2 (f(x0) - f_inf)/(gamma T) with the 2 dropped (a bound half as large): violated at alpha = 0.5, T = 10
    alpha, T = 0.5, 10
    g = pep.ef21_theory_gamma(alpha)
    res = pep.ef21_worst_case(alpha, T, weights=(1.0 / g, 1.0 / theta(alpha)))
    assert _ok(res) * T > 1.2


# ----------------------------------------------------------------------------- Lyapunov certificate


def test_lyapunov_certificate_and_floor():
    for alpha, at_thm, best in ((0.1, 1.038, 1.040), (0.25, 1.098, 1.110)):
        b = pep.ef21_lyapunov_best(alpha)
        # the theorem's one-step inequality Phi_{t+1} <= Phi_t - (gamma/2)||grad f||^2 holds (ratio >= 1)
        assert b["ratio_theorem_weight"] >= 1 - REL
        assert b["ratio_theorem_weight"] == pytest.approx(at_thm, abs=2e-3)
        assert b["ratio_best"] == pytest.approx(best, abs=5e-3)
        assert b["ratio_best"] >= b["ratio_theorem_weight"] - 1e-6
    # the all-T certificate is a floor: bound / PEP_T >= ratio_best at every T
    b = pep.ef21_lyapunov_best(0.5)
    assert pep.ef21_worst_case(0.5, 6).extra["bound_over_pep"] >= b["ratio_best"] * (1 - 1e-4)


def test_lyapunov_wrong_weight_is_not_a_certificate():
    # a weight far from the theorem's gives no descent (the program says so instead of a rate)
    g = pep.ef21_theory_gamma(0.25)
    res = pep.ef21_lyapunov_rate(0.25, 4 * g / (2 * theta(0.25)))
    assert res.value > 0 and math.isnan(res.extra["rho"])


# ----------------------------------------------------------------------------- EF14, SAEF, normalized EF21


def test_ef14_exceeds_ef21_bound_at_ef21_stepsize():
    # finding: classical error feedback at EF21's stepsize has a larger worst case than EF21's bound
    alpha, T = 0.5, 10
    g = pep.ef21_theory_gamma(alpha)
    res = pep.ef14_worst_case(alpha, T, gamma=g)
    assert res.status.startswith("optimal"), res.status
    ef14 = res.value
    ef21 = _ok(pep.ef21_worst_case(alpha, T, weights=(1.0, 0.0)))
    assert ef21 < ef14
    assert ef14 > 2 / (g * T)            # EF21's bound with F0 = 1


def test_saef_program_against_theorem2():
    # deterministic SAEF (n = 1, mu = 0, sigma = 0, delta = 0.5, eta = 0.1, M^2 = 2) against 002 Theorem 2 as printed
    from eftheory.derivations import saef as dz

    bound = dz.theorem2_bound(1.0, 0.1, 1.0, 10, 1, 0.5, 2.0, 0.0)
    assert bound == pytest.approx(1.9623, abs=1e-4)
    single = pep.saef_worst_case(0.5, 10, eta=0.1, M2=2.0, double_way=False)
    assert single.status.startswith("optimal") and single.value < bound
    # finding: with the server's second compression two delta-contractions compose into a map that can point
    # against the gradient (||C2(C1(v)) - v|| may exceed ||v|| at delta = 0.5), and the relaxed worst case is the cap
    # ||grad f(x0)||^2 <= 2 L F0 = 2: no progress in 10 steps, above Theorem 2's 1.962. A candidate violation,
    # not a proof (the PEP's f_* is a relaxation); docs/pep.md records it.
    double = pep.saef_worst_case(0.5, 10, eta=0.1, M2=2.0, double_way=True)
    assert double.status.startswith("optimal")
    assert double.value == pytest.approx(2.0, rel=1e-6) and double.value > bound
    # the tighter relaxation (probe points) keeps the cap already after 3 steps
    probed = pep.saef_worst_case(0.5, 3, eta=0.1, M2=2.0, double_way=True, probes=True)
    assert _ok(probed) == pytest.approx(2.0, rel=1e-6)


def test_normalized_profile_search_lower_estimate():
    res = pep.ef21_norm_profile_search(0.5, 1, grid=7)
    assert res.ok and res.extra["lower_estimate"]
    assert res.value <= math.sqrt(2) * (1 + 1e-6)        # min_k ||grad f|| <= ||grad f(x0)|| <= sqrt(2 L F0)
    bound = nz.lsmooth_bound(1.0, 0.5, 1.0, 1)
    assert res.extra["bound_over_pep"] == pytest.approx(bound / res.value)
    assert 1.0 <= res.extra["bound_over_pep"] == pytest.approx(3.777, abs=0.02)
    # a bound 5x too small is exposed by the (lower) estimate
    assert res.value > bound / 5


# ----------------------------------------------------------------------------- inputs and the missing extra


@pytest.mark.parametrize("kwargs, name", [({"alpha": 0.0, "T": 3}, "alpha"), ({"alpha": 1.5, "T": 3}, "alpha"),
                                          ({"alpha": 0.5, "T": 0}, "T"), ({"alpha": 0.5, "T": 3, "L": 0.0}, "L"),
                                          ({"alpha": 0.5, "T": 3, "L": (1.0, 2.0, 3.0)}, "L"),
                                          ({"alpha": 0.5, "T": 3, "init": "warm"}, "init")])
def test_bad_inputs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        pep.ef21_worst_case(**kwargs)


def test_bad_inputs_other_programs():
    with pytest.raises(ValueError, match="T"):
        pep.ef14_worst_case(0.5, 0, gamma=0.1)
    with pytest.raises(ValueError, match="delta"):
        pep.saef_worst_case(0.0, 3, eta=0.1, M2=1.0)
    with pytest.raises(ValueError, match="K"):
        pep.ef21_norm_profile_search(0.5, 0)
    with pytest.raises(ValueError, match="L"):
        pep.ef21_lyapunov_rate(0.5, 0.5, L=-1.0)


def test_missing_extra_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "PEPit", None)        # import PEPit -> ImportError
    with pytest.raises(RuntimeError, match=r"\.\[pep\]"):
        pep.ef21_worst_case(0.5, 2)
    with pytest.raises(RuntimeError, match=r"\.\[pep\]"):
        pep.require_pepit()


# ----------------------------------------------------------------------------- saved tables


def test_saved_tables_recomputed_sample():
    tables = pep.load_tables()
    assert tables, f"missing {pep.TABLE_PATH}; run python -m eftheory.pep --table"
    for key in ("0.25|5|gradient", "0.25|10|zero", "0.5|1|zero"):
        row = tables["ef21"][key]
        fresh = pep.ef21_worst_case(row["alpha"], row["T"], init=row["init"]).value
        assert fresh == pytest.approx(row["value"], rel=1e-5), key
    row = tables["norm"]["0.5|1"]
    assert pep.ef21_norm_profile_search(0.5, 1).value == pytest.approx(row["value"], rel=1e-4)
    # every saved EF21 row respects the theorem (a violation would be a finding)
    assert all(v["bound_over_pep"] >= 1 - REL for v in tables["ef21"].values())


@pytest.mark.slow
def test_saved_tables_recomputed_all():
    tables = pep.load_tables()
    for key, row in tables["ef21"].items():
        fresh = pep.ef21_worst_case(row["alpha"], row["T"], init=row["init"]).value
        assert fresh == pytest.approx(row["value"], rel=1e-5), key
    for key, row in tables["norm"].items():
        fresh = pep.ef21_norm_profile_search(row["alpha"], row["K"]).value
        assert fresh == pytest.approx(row["value"], rel=1e-3), key
    for key, row in tables["lyapunov"].items():
        fresh = pep.ef21_lyapunov_best(row["alpha"])
        assert fresh["ratio_best"] == pytest.approx(row["ratio_best"], rel=1e-3), key


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.5])
def test_ef21_theorem_longer_horizons(alpha):
    for T in (8, 12, 16):
        res = pep.ef21_worst_case(alpha, T, init="zero")
        assert _ok(res) <= (1.0 / T) * (1 + REL), (alpha, T)
    res = pep.ef21_worst_case(alpha, 8, L=(1.0, 3.0))
    assert _ok(res) <= (1.0 / 8) * (1 + REL)


def test_ledger_keys():
    from checks.paper_004 import PEP_HORIZON_EF21, _pep_ef21, _pep_norm

    out = _pep_ef21([("poly", 1, 3.0, 0.25, pep.ef21_theory_gamma(0.25) / 3.0, 2.0, 0.5, 0.01),
                     ("many", 20, 1.0, 0.1, 0.05, 1.0, 0.0, 0.01),
                     ("half step", 1, 1.0, 0.25, pep.ef21_theory_gamma(0.25) / 2, 2.0, 0.5, 0.01)])
    assert out["pep_horizon"] == PEP_HORIZON_EF21
    assert "pep_not_expressible" in out["pep_per_run"]["many"]
    r = out["pep_per_run"]["poly"]
    assert r["bound_over_pep"] * r["pep_over_measured"] == pytest.approx(r["bound_over_measured"])
    assert out["bound_over_pep"] == pytest.approx(1.7537, rel=1e-3)       # the table's value at L = 3 (scale-free)
    # another stepsize is solved, not read from the table
    half = out["pep_per_run"]["half step"]
    assert half["bound_over_pep"] == pytest.approx(
        1 / (10 * pep.ef21_worst_case(0.25, 10, gamma=pep.ef21_theory_gamma(0.25) / 2, init="zero").value))
    n = _pep_norm([("K=5", 0.5, 3.0, 0.1)], 2.0)
    assert n["bound_over_pep"] == pytest.approx(n["pep_per_run"]["K=5"]["bound"] / n["worst_case_over_class"])


def test_ledger_without_the_extra(monkeypatch):
    from checks.paper_004 import _pep_ef21, _pep_norm

    monkeypatch.setitem(sys.modules, "PEPit", None)
    out = _pep_ef21([("poly", 1, 1.0, 0.25, 0.13, 2.0, 0.5, 0.01)])
    assert set(out) == {"pep_not_available"} and ".[pep]" in out["pep_not_available"]
    assert set(_pep_norm([("Top-1", 0.5, 3.0, 0.1)], 2.0)) == {"pep_not_available"}


def test_worst_case_shape_is_read_back_and_feasible():
    """The solved worst case's messages respect the contraction (share of the budget <= 1) and the
    EF21 worst case uses nearly all of it; its gradient profile has one entry per averaged step."""
    res = pep.ef21_worst_case(0.25, 5)
    used = [u for u in res.extra["budget_used"] if u == u]
    assert len(res.extra["grad_sq_profile"]) == 5 and len(res.extra["budget_used"]) == 4
    assert all(-1e-6 <= u <= 1 + 1e-4 for u in used)
    assert res.extra["budget_used_mean"] > 0.9
    assert abs(sum(res.extra["grad_sq_profile"]) / 5 - res.value) <= 1e-4 * max(res.value, 1e-12) + 1e-7
