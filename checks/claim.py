"""The :class:`Claim` record of the ledger and the :class:`Outcome` of running its check.

A claim names its paper (seed id), theorem, algorithm, problem, schedule, the measured quantity
(exactly the one the theorem bounds, in the legend below), the stated exponent or bound and the
verdict rule. Its ``run(ctx)`` returns an :class:`Outcome` holding the measured figure with its CI
beside the stated one, and the outcome of every negative control under the same rule (a control
must be REJECTED, i.e. the rule's verdict on it is FAIL).

Quantity legend (the only names a claim may use):

* ``m_1`` -- :math:`\\min_{k\\le K}\\mathbb E\\|\\nabla f(x^k)\\|`
* ``W_K`` -- :math:`\\mathbb E\\|\\nabla f(\\hat x^K)\\|`, :math:`\\Pr[\\hat x^K=x^k]\\propto\\gamma_k` (gamma-weighted random iterate)
* ``A_1`` -- :math:`\\frac1T\\sum_t\\mathbb E\\|\\nabla f(x_t)\\|_1`;  ``A_2`` -- the same with the l2 norm
* ``m_sq`` -- :math:`\\min_t\\mathbb E\\|\\nabla F(\\cdot)\\|^2`
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

__all__ = ["Claim", "Outcome", "ControlOutcome", "VERDICTS", "KINDS", "PAPERS", "QUANTITIES",
           "PASS", "FAIL", "INCONCLUSIVE", "PENDING", "SKIPPED"]

PASS, FAIL, INCONCLUSIVE, PENDING, SKIPPED = "PASS", "FAIL", "INCONCLUSIVE", "PENDING", "SKIPPED"
VERDICTS = (PASS, FAIL, INCONCLUSIVE, PENDING, SKIPPED)
KINDS = ("P", "B", "S", "I", "Q")
PAPERS = ("000", "001", "002", "003", "004")
QUANTITIES = {
    "m_1": "min_k E||grad f(x^k)||",
    "W_K": "E||grad f(x_hat^K)||, P[x_hat^K = x^k] proportional to gamma_k",
    "A_1": "(1/T) sum_t E||grad f(x_t)||_1",
    "A_2": "(1/T) sum_t E||grad f(x_t)||_2",
    "m_sq": "min_t E||grad F(x_t)||^2",
}


@dataclass
class ControlOutcome:
    """A negative control run under the claim's own rule; ``rejected`` iff that rule says FAIL."""

    name: str
    description: str
    verdict: str
    measured: dict = field(default_factory=dict)
    rejected: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Outcome:
    """What a claim's check found.

    ``measured``: name -> {value, lo, hi, ...} (e.g. fitted slopes with their CI);
    ``stated``: the paper's figure (an exponent, a bound, a range) in words and numbers.
    """

    claim_id: str
    verdict: str
    measured: dict = field(default_factory=dict)
    stated: Any = None
    controls: list = field(default_factory=list)
    plots: list = field(default_factory=list)
    notes: str = ""
    rule: str = ""
    seconds: float = 0.0
    units_computed: int = 0
    units_cached: int = 0

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}; got {self.verdict!r}")

    @property
    def controls_rejected(self) -> Optional[bool]:
        """True if every negative control was rejected, False if one was not, None if none ran."""
        if not self.controls:
            return None
        return all(c.rejected for c in self.controls)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["controls"] = [c.as_dict() if hasattr(c, "as_dict") else c for c in self.controls]
        d["controls_rejected"] = self.controls_rejected
        return d


@dataclass(frozen=True)
class Claim:
    """One checkable claim of a paper (a row of the ledger)."""

    id: str
    paper: str
    theorem: str
    kind: str
    statement: str
    algorithm: str = ""
    problem: str = ""
    schedule: str = ""
    quantity: str = ""
    stated: Any = None
    rule: str = ""
    reconstructed: bool = False
    controls: tuple = ()                       # names / descriptions of the negative controls
    run: Optional[Callable[[Any], Outcome]] = None
    pending: str = ""                          # reason when there is no executable check
    cost: float = 1.0                          # rough quick-tier seconds, for scheduling
    sources: tuple = ()                        # files whose source defines the check (cache version)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.paper not in PAPERS and not all(p in PAPERS for p in self.paper.split("/")):
            raise ValueError(f"paper must be one of {', '.join(PAPERS)} (or several joined by '/'); got {self.paper!r}")
        if self.quantity and self.quantity not in QUANTITIES and not self.quantity.startswith("other:"):
            raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)} or 'other: ...'; got {self.quantity!r}")

    @property
    def executable(self) -> bool:
        return self.run is not None

    def meta(self) -> dict:
        return {k: getattr(self, k) for k in ("id", "paper", "theorem", "kind", "statement", "algorithm",
                                              "problem", "schedule", "quantity", "stated", "rule",
                                              "reconstructed", "controls", "pending")}
