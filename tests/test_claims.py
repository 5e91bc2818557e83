"""The claims ledger: the registry is complete, and the quick tier's claims hold with their controls rejected.

A claim whose measurement disagrees with its paper is marked ``xfail(strict=True)`` below with
the measured figures; the marks are read from the recorded findings of ``checks/expectations.py``
(measurements of ``eftheory verify``, the same table the command's exit status is judged by).
"""

from __future__ import annotations

import pytest

from checks.catalog import CATALOG
from checks.claim import KINDS, PASS, PENDING, QUANTITIES, Outcome
from checks.context import Context
from checks.expectations import measured_disagreements
from checks.registry import all_claims, claim_modules, module_errors
from checks.runner import run_claim

CLAIMS = all_claims()

#: measured disagreements: id -> the measured figures, from the project's one record of them
#: (checks/expectations.py, which `eftheory verify` compares every verdict with)
MEASURED_FAILS: dict[str, str] = measured_disagreements()


def _check(c, tmp_path, tier="quick"):
    out = run_claim(c, Context(tier=tier, out=tmp_path, progress=False))
    assert isinstance(out, Outcome)
    assert out.verdict == PASS, (out.verdict, out.measured, out.notes)
    assert out.controls, f"{c.id} ran no negative control"
    assert out.controls_rejected, [(k.name, k.verdict, k.measured) for k in out.controls]
    return out


def _param(c):
    marks = []
    if c.id in MEASURED_FAILS:
        marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=MEASURED_FAILS[c.id]))
    return pytest.param(c, id=c.id, marks=marks)


# ------------------------------------------------------------------------------- the registry

def test_registry_holds_every_catalog_id_once():
    assert [c.id for c in CLAIMS] == list(CATALOG)
    assert len(CLAIMS) == 55
    assert {f"checks.paper_{p}" for p in ("000", "001", "002", "003", "004", "cross")} == set(claim_modules())
    assert module_errors() == {}


def test_claim_metadata():
    for c in CLAIMS:
        assert c.kind in KINDS and c.statement and c.theorem
        assert not c.quantity or c.quantity in QUANTITIES or c.quantity.startswith("other:")
        assert c.executable or c.pending, c.id
        if c.kind == "S":
            assert c.stated is not None, c.id
    # the experiment claims run (on the real-data harness of eftheory.experiments)
    by_id = {c.id: c for c in CLAIMS}
    assert all(by_id[q].executable for q in ("S000-Q", "S002-Q", "S003-Q"))
    assert {c.id for c in CLAIMS if c.kind == "S"} >= {"S000-T1", "S000-T2", "S000-T3", "S000-T4", "S000-T5",
                                                       "S004-T1", "S001-T2", "S002-C2", "S002-C3", "S003-T1",
                                                       "S003-T5"}


def test_pass_needs_every_control_rejected():
    from checks.claim import FAIL, INCONCLUSIVE, ControlOutcome
    from checks.runner import settle

    rejected = ControlOutcome("no-momentum", "eta = 1", FAIL, rejected=True)
    kept = ControlOutcome("bound-without-floor", "floor removed", PASS, rejected=False)
    assert settle(Outcome("X", PASS, controls=[rejected])).verdict == PASS
    out = settle(Outcome("X", PASS, controls=[rejected, kept]))
    assert out.verdict == INCONCLUSIVE and "bound-without-floor" in out.notes
    assert settle(Outcome("X", PASS)).verdict == INCONCLUSIVE
    assert settle(Outcome("X", FAIL, controls=[kept])).verdict == FAIL


def test_pending_claim_reports_pending(tmp_path):
    import dataclasses

    pending = dataclasses.replace(CATALOG["S000-Q"], run=None, pending="needs ResNet-18 on CIFAR-10")
    out = run_claim(pending, Context(out=tmp_path))
    assert out.verdict == PENDING and "ResNet" in out.notes


# ------------------------------------------------------------------------------- P, I, B claims (quick tier)
# tests/test_claims_pib.py runs the P, I, B and Q claims of the paper modules (checks/paper_*.py) it
# imports in the fast tier, on the NumPy reference, except the B claims checked on the engine (its
# ON_ENGINE); here every P, I, B claim of the registry (any module) runs, in the fast tier only those of
# modules that file does not cover and those it leaves to the engine, so a new claim module is tested the
# day it is added.

_PIB_COVERED = {"checks.paper_cross", "checks.paper_000", "checks.paper_001", "checks.paper_002", "checks.paper_003",
                "checks.paper_004"}
_PIB_ON_ENGINE = {"S003-T2"}          # = tests/test_claims_pib.py's ON_ENGINE


def _module(c):
    return next((s.replace("/", ".")[:-3] for s in c.sources if s.startswith("checks/paper_")), "")


_PIB = [c for c in CLAIMS if c.kind in ("P", "I", "B") and c.executable]


@pytest.mark.parametrize("c", [_param(c) for c in _PIB if _module(c) not in _PIB_COVERED or c.id in _PIB_ON_ENGINE] or
                         [pytest.param(None, marks=pytest.mark.skip(reason="all P/I/B modules covered elsewhere"))])
def test_quick_pib_claims_of_other_modules(c, tmp_path):
    _check(c, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("c", [_param(c) for c in _PIB])
def test_quick_pib_claims(c, tmp_path):
    _check(c, tmp_path)


# ------------------------------------------------------------------------------- S claims

def test_s004_t1_logistic(tmp_path):
    """Normalized EF21, fixed horizon, logistic problem: m_1 slope <= -1/2 + 0.08; constant step rejected."""
    out = _check(next(c for c in CLAIMS if c.id == "S004-T1"), tmp_path)
    assert (tmp_path / "plots" / "S004-T1.png").exists() and (tmp_path / "plots" / "S004-T1.pdf").exists()
    assert out.measured["logistic: slope (all)"]["hi"] <= -0.42


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["S000-T1", "S000-T5"])
def test_s000_quick(cid, tmp_path):
    """Window slope and (T5) paired ratio vs Polyak; constant step, unnormalized, wrong schedules rejected."""
    _check(next(c for c in CLAIMS if c.id == cid), tmp_path)
    assert (tmp_path / "plots" / f"{cid}.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("c", [_param(c) for c in CLAIMS if c.kind == "S" and c.executable])
def test_quick_s_claims(c, tmp_path):
    _check(c, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("c", [_param(c) for c in CLAIMS if c.executable and c.kind != "Q"])
def test_full_tier(c, tmp_path):
    _check(c, tmp_path, tier="full")
