"""The recorded expectation of every claim: the verdict the project has measured and accepted.

A claim's expectation is PASS unless this table records a *finding*: a verdict other than PASS
(FAIL, INCONCLUSIVE, PENDING) that was measured, investigated and explained, with the reason in
words and figures and the place where it is discussed. ``eftheory verify`` compares every
verdict with its record:

* exit 0 -- every verdict equals its record (a recorded FAIL is a finding, not a crash);
* exit 1 -- a verdict differs: a *regression* (a recorded PASS that no longer passes, or a
  finding whose verdict changed for the worse) or an *unexpected pass* (a recorded finding that
  now passes -- update the record); ``--strict`` also exits 1 on any FAIL or INCONCLUSIVE.

The records describe the quick tier (``eftheory verify --tier quick``); ``tests/test_claims.py``
reads its strict ``xfail`` marks from this table, so the test suite and the command agree.
Every row of ``ledger.json`` carries ``expected`` (the recorded verdict) and ``finding``
(``{"reason": ..., "where": ...}`` or ``null``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .claim import FAIL, INCONCLUSIVE, PASS, PENDING, VERDICTS, Outcome

__all__ = ["Finding", "FINDINGS", "expected", "finding", "mismatches", "exit_status", "measured_disagreements",
           "Recorded", "recorded"]


@dataclass(frozen=True)
class Finding:
    """A recorded verdict other than PASS: what was measured, and where it is discussed."""

    expected: str
    reason: str
    where: str

    def __post_init__(self):
        if self.expected not in (FAIL, INCONCLUSIVE, PENDING):
            raise ValueError(f"a finding's expected verdict must be one of FAIL, INCONCLUSIVE, PENDING; "
                             f"got {self.expected!r}")
        if not self.reason or not self.where:
            raise ValueError("a finding needs a reason and the place where it is discussed")

    def as_dict(self) -> dict:
        return {"reason": self.reason, "where": self.where}


_DL = "docs/papers/{}.md#claims"

#: claim id -> its recorded finding; every claim not listed is expected to PASS
#: (figures: the quick tier, `eftheory verify --tier quick`, backend torch)
FINDINGS: dict[str, Finding] = {
    "S000-Q": Finding(
        FAIL,
        "[000]'s protocol on a CPU-sized problem (digits, MLP, 10 clients, Top-10 %, 8 epochs, 3 seeds, "
        "95 % paired t-intervals): per epoch no normalized momentum variant is shown below every EF21 baseline "
        "(all INCONCLUSIVE; EF21-MVR-norm is above EF21-SGDM, late loss 0.069 vs 0.052), HM is not best "
        "(0.058 vs IGT 0.050), and per wall-clock IGT is behind EF21-SGDM-norm (0.177 vs 0.075)",
        "checks/paper_000.py (S000-Q); " + _DL.format("000")),
    "S002-Q": Finding(
        FAIL,
        "[002]'s protocol on a CPU-sized problem (digits, MLP, 10 clients, momentum 0.9, 8 epochs, 3 seeds, "
        "95 % paired t-intervals): SAEF is below EF at Top-1 % (late loss 0.340 vs 0.597) and 10 %, "
        "inconclusive at 5 %, but above uncompressed SGDM at every sparsity (1 %: 0.340 vs 0.048); the gain's "
        "growth with sparsity and the benefit of a smaller averaging period p are inconclusive",
        "checks/paper_002.py (S002-Q); " + _DL.format("002")),
    "S003-Q": Finding(
        FAIL,
        "[003]'s protocol on a CPU-sized problem (digits, MLP, 10 clients, lr and beta grid-searched, 3 seeds, "
        "95 % paired t-intervals): SMM vs signSGD, SGDM, AdamW is inconclusive (late loss 0.100 vs 0.136, "
        "0.048, 0.047); MVSM v1 (0.830) and v2 (1.516) are above majority-vote signSGD (0.144) and "
        "Signum (0.112)",
        "checks/paper_003.py (S003-Q); " + _DL.format("003")),
    "S003-T3": Finding(
        INCONCLUSIVE,
        "the bound holds with a wide margin (A_1 <= 8.7 against a bound >= 79 for n in {1, 4, 16}) and the n-part "
        "is discriminated (shared S_G draw control rejected; n-exponent -0.219 [-0.227, -0.210]), but the "
        "control without the 2dG/sqrt(n) floor holds too, so it is not rejected: the T^(-1/2) part has no "
        "discriminating test on this instance (A_1 falls like T^(-0.18 ... -0.28))",
        "docs/mutants.md#what-the-mutants-taught-the-checks"),
    "S002-T1": Finding(
        INCONCLUSIVE,
        "the bound holds (bound/measured >= 118, reached at T = 1; the printed compression term with M^2 = 605 "
        "puts the bound near 7e3 at T = 1500 against min_t E||grad F(x_tilde_t)||^2 = 0.025), but the mechanism "
        "control, plain EF (gradient at x_t), holds it too (bound/measured >= 118; final min 0.027): at T = 1 both "
        "methods sit at x0 and at the floor they differ by < 25 %, while the variance term alone is > 10x the "
        "floor. Tightest instance of a search over Top-k (k = 1, 2, 5), eta (0.05, 0.1, 0.3) and ||x0 - x*|| "
        "(0.5, 5): Top-5, eta = 0.05, ||x0 - x*|| = 5, bound/measured 7.03 for SAEF and 7.04 for EF",
        "docs/mutants.md#what-the-mutants-taught-the-checks"),
    "S002-T2": Finding(
        INCONCLUSIVE,
        "the bound holds (bound/measured >= 165, reached at T = 1; about 4.7e5 at T = 1500, min_t E||grad F(x_t)||^2 "
        "= 0.026), but plain EF (gradient at x_t) holds it too (>= 165; final min 0.022, below SAEF's): no SAEF "
        "mechanism is visible under a bound this loose. Tightest instance of the search (Top-k, eta, ||x0 - x*||): "
        "Top-5, eta = 0.05, ||x0 - x*|| = 5, bound/measured 8.37 for SAEF and 8.38 for EF",
        "docs/mutants.md#what-the-mutants-taught-the-checks"),
    "S002-T3": Finding(
        INCONCLUSIVE,
        "the bound holds (bound/measured >= 2954 at the model iterate, >= 3350 at the auxiliary one, reached at "
        "T = 1), but plain EF (gradient at x_t, mu = 0.5) holds it too (>= 2954; final min 0.065 vs SAEF's 0.053). "
        "Tightest instance of the search (Top-k, eta, ||x0 - x*||): Top-5, eta = 0.05, ||x0 - x*|| = 5, "
        "bound/measured 36.65 for SAEF and for EF",
        "docs/mutants.md#what-the-mutants-taught-the-checks"),
    "S003-T4": Finding(
        INCONCLUSIVE,
        "the bound holds (A_1 <= 6.9 against a bound >= 78), the shared-draw control is rejected (n-exponent "
        "-0.241 [-0.250, -0.231]), but the floor-free control bound holds too, so it is not rejected",
        "docs/mutants.md#what-the-mutants-taught-the-checks"),
}


def expected(claim_id: str) -> str:
    """The recorded verdict of a claim (PASS unless a finding is recorded)."""
    f = FINDINGS.get(claim_id)
    return f.expected if f is not None else PASS


def finding(claim_id: str) -> Finding | None:
    return FINDINGS.get(claim_id)


def measured_disagreements() -> dict[str, str]:
    """Executable claims whose recorded verdict is FAIL or INCONCLUSIVE: id -> reason (the tests' xfail marks)."""
    return {cid: f.reason for cid, f in FINDINGS.items() if f.expected in (FAIL, INCONCLUSIVE)}


def _verdict(o) -> tuple[str, str]:
    if isinstance(o, Outcome):
        return o.claim_id, o.verdict
    return o["id"], o["verdict"]         # a ledger row


def mismatches(outcomes) -> list[dict]:
    """Verdicts that differ from their record: [{id, verdict, expected, kind}] with kind
    ``regression`` or ``unexpected pass``. ``outcomes``: :class:`Outcome` objects or ledger rows."""
    out = []
    for o in outcomes:
        cid, got = _verdict(o)
        exp = expected(cid)
        if got != exp:
            out.append({"id": cid, "verdict": got, "expected": exp,
                        "kind": "unexpected pass" if got == PASS else "regression"})
    return out


def exit_status(outcomes, *, strict: bool = False) -> int:
    """0 if every verdict equals its record, 1 if one differs; ``strict``: also 1 on any FAIL or INCONCLUSIVE."""
    outcomes = list(outcomes)
    if mismatches(outcomes):
        return 1
    if strict and any(_verdict(o)[1] in (FAIL, INCONCLUSIVE) for o in outcomes):
        return 1
    return 0


@dataclass
class Recorded(Outcome):
    """An :class:`Outcome` with its record: ``as_dict()`` (hence the ledger row) adds ``expected`` and ``finding``."""

    expected: str = PASS
    finding: dict | None = None


def recorded(o: Outcome) -> Recorded:
    """``o`` with the claim's recorded expectation attached (all other attributes kept)."""
    r = Recorded.__new__(Recorded)
    r.__dict__.update(o.__dict__)
    f = finding(o.claim_id)
    r.expected = f.expected if f is not None else PASS
    r.finding = f.as_dict() if f is not None else None
    return r


assert all(f.expected in VERDICTS for f in FINDINGS.values())
assert {f.name for f in dataclasses.fields(Recorded)} >= {"expected", "finding"}
