"""EF21 constants: θ, β_EF, the theory stepsize, and the bound √(β/θ) ≤ 2/α − 1.

Source: Richtárik, Sokolov, Fatkhullin, *EF21: A New, Simpler, Theoretically Better, and
Practically Faster Error Feedback* (NeurIPS 2021), Theorem 1, as restated by Khirirat et al.
(arXiv:2410.16871, Section 4.1):

.. math::

   \\theta = 1-\\sqrt{1-\\alpha},\\qquad
   \\beta_{EF} = \\frac{1-\\alpha}{1-\\sqrt{1-\\alpha}},\\qquad
   \\gamma = \\frac{1}{L + \\tilde L\\sqrt{\\beta_{EF}/\\theta}} .

With :math:`s=\\sqrt{1-\\alpha}\\in[0,1)` one has :math:`\\sqrt{\\beta_{EF}/\\theta}=s/(1-s)` and
:math:`2/\\alpha-1-s/(1-s) = 1/(1+s) > 0`, which :data:`SQRT_RATIO_GAP` records symbolically.
"""

from __future__ import annotations

import sympy as sp

from eftheory.validation import check_real, check_unit_interval

from ._core import Derivation, register

__all__ = [
    "alpha", "L", "L_tilde", "s",
    "THETA", "BETA", "STEPSIZE", "SQRT_RATIO", "SQRT_RATIO_BOUND", "SQRT_RATIO_GAP",
    "theta", "beta", "sqrt_beta_over_theta", "theory_stepsize", "sqrt_ratio_gap_simplified",
    "EF21_SOURCE",
]

EF21_SOURCE = "Richtárik, Sokolov, Fatkhullin (NeurIPS 2021), Theorem 1; restated in Khirirat et al., arXiv:2410.16871, Sec. 4.1"

alpha = sp.Symbol("alpha", positive=True)
L = sp.Symbol("L", positive=True)
L_tilde = sp.Symbol("L_tilde", nonnegative=True)
#: s = sqrt(1 - alpha), the variable in which the EF21 constants become rational.
s = sp.Symbol("s", nonnegative=True)

_theta = 1 - sp.sqrt(1 - alpha)
_beta = (1 - alpha) / (1 - sp.sqrt(1 - alpha))

THETA = register(Derivation(
    name="ef21.theta", title="EF21 contraction gain θ", symbols=(alpha,), expr=_theta,
    source=EF21_SOURCE, claims=("EF21-T1",), lhs=r"\theta",
))
BETA = register(Derivation(
    name="ef21.beta", title="EF21 error-growth constant β_EF", symbols=(alpha,), expr=_beta,
    source=EF21_SOURCE, claims=("EF21-T1",), lhs=r"\beta_{EF}",
))
STEPSIZE = register(Derivation(
    name="ef21.stepsize", title="EF21 theory stepsize", symbols=(L, L_tilde, alpha),
    expr=1 / (L + L_tilde * sp.sqrt(_beta / _theta)),
    source=EF21_SOURCE, claims=("EF21-T1", "E-FIG"), lhs=r"\gamma",
    note=r"$\tilde L = (\frac1n\sum_i L_i^2)^{1/2}$; for $\alpha = 1$ it equals $1/L$.",
))
SQRT_RATIO = register(Derivation(
    name="ef21.sqrt_ratio", title="√(β_EF/θ) in closed form", symbols=(alpha,),
    expr=sp.sqrt(1 - alpha) / (1 - sp.sqrt(1 - alpha)),
    source=EF21_SOURCE, claims=("EF21-T1", "S004-C2"), lhs=r"\sqrt{\beta_{EF}/\theta}",
))
SQRT_RATIO_BOUND = register(Derivation(
    name="ef21.sqrt_ratio_bound", title="upper bound √(β_EF/θ) ≤ 2/α − 1", symbols=(alpha,),
    expr=sp.Le(sp.sqrt(1 - alpha) / (1 - sp.sqrt(1 - alpha)), 2 / alpha - 1),
    source=EF21_SOURCE, claims=("S004-C2",),
    note="Holds for every α ∈ (0, 1]; the gap is 1/(1+√(1−α)) ≥ 1/2 (see ef21.sqrt_ratio_gap).",
))
#: the gap 2/α − 1 − √(β/θ) written in s = √(1−α); simplifies to 1/(1+s).
SQRT_RATIO_GAP = register(Derivation(
    name="ef21.sqrt_ratio_gap", title="gap 2/α − 1 − √(β_EF/θ) in s = √(1−α)", symbols=(s,),
    expr=2 / (1 - s**2) - 1 - s / (1 - s),
    source=EF21_SOURCE, claims=("S004-C2",), lhs=r"\frac{2}{\alpha}-1-\sqrt{\beta_{EF}/\theta}",
    note="Simplifies to 1/(1+s) > 0 for s ∈ [0,1), which proves the bound.",
))


def sqrt_ratio_gap_simplified() -> sp.Expr:
    """The gap of :data:`SQRT_RATIO_GAP` after ``sympy.simplify`` (equals ``1/(s+1)``)."""
    return sp.factor(sp.simplify(SQRT_RATIO_GAP.expr))


def _alpha(value) -> float:
    return check_unit_interval("alpha", value)


def theta(alpha: float) -> float:
    """θ = 1 − √(1−α) for α ∈ (0, 1]."""
    return float(THETA.numeric(_alpha(alpha)))


def beta(alpha: float) -> float:
    """β_EF = (1−α)/(1−√(1−α)) for α ∈ (0, 1] (0 at α = 1)."""
    return float(BETA.numeric(_alpha(alpha)))


def sqrt_beta_over_theta(alpha: float) -> float:
    """√(β_EF/θ) = √(1−α)/(1−√(1−α)) for α ∈ (0, 1]."""
    return float(SQRT_RATIO.numeric(_alpha(alpha)))


def theory_stepsize(L: float, L_tilde: float, alpha: float) -> float:
    """EF21 theory stepsize 1/(L + L̃√(β_EF/θ)); equals 1/L when α = 1.

    ``L`` > 0 is the smoothness constant of f, ``L_tilde`` ≥ 0 the quadratic mean of the L_i.
    """
    L = check_real("L", L, low=0.0, low_open=True)
    L_tilde = check_real("L_tilde", L_tilde, low=0.0)
    a = _alpha(alpha)
    if a == 1.0:
        return 1.0 / L
    return float(STEPSIZE.numeric(L, L_tilde, a))
