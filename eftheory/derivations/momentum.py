"""Schedule exponents of normalized EF21 with five momentum variants, derived by balancing.

Source: Sadiev, Demidovich, Sokolov, Malinovsky, Khirirat, Richtárik, *Improved Convergence in
Parameter-Agnostic Error Feedback through Momentum* (arXiv:2511.14501), Theorems 1–5. The
explicit schedules are reconstructed: :math:`\\eta_k=(2/(k+2))^q`,
:math:`\\gamma_k=\\gamma_0(2/(k+2))^p`.

Each theorem bounds :math:`\\mathbb E\\|\\nabla f(\\hat x^K)\\|` by
:math:`\\Gamma_K^{-1}[\\Phi_0+\\sum_k\\gamma_k(\\text{error}_k)]` with
:math:`\\Gamma_K=\\sum_k\\gamma_k\\asymp K^{1-p}`. The error terms decay like :math:`k^{-e}` with
exponents linear in :math:`(p,q)`: the noise term :math:`\\sigma\\sqrt{\\eta_k}` gives
:math:`e=q/2` and the drift term gives

* Polyak: :math:`\\gamma_k/\\eta_k`, :math:`e=p-q`;
* IGT: :math:`\\gamma_k^2/\\eta_k^2`, :math:`e=2(p-q)`;
* RHM, HM, MVR: :math:`\\gamma_k/\\sqrt{\\eta_k}`, :math:`e=p-q/2`.

The rate exponent is :math:`\\min\\{1-p,\\ q/2,\\ e_{\\rm drift}\\}`; equating the three
(``sympy.solve`` of a 2×2 linear system) gives (3/4, 1/2), (5/7, 4/7), (2/3, 2/3) and the rates
1/4, 2/7, 1/3.
"""

from __future__ import annotations

import math

import sympy as sp

from eftheory.validation import check_choice, check_int, check_real

from ._core import Derivation, register

__all__ = [
    "VARIANTS", "DRIFT_EXPONENT", "EXPONENTS", "GAMMA_SUM_LOWER",
    "schedule_exponents", "schedule_exponents_exact", "rate_exponent", "rate_exponent_exact",
    "min_exponent", "gamma_sum", "gamma_sum_lower_bound",
]

_SRC = "Sadiev et al., arXiv:2511.14501"
_THM = {"polyak": "Theorem 1", "igt": "Theorem 2", "rhm": "Theorem 3", "hm": "Theorem 4", "mvr": "Theorem 5"}
_CLAIM = {"polyak": "S000-T1", "igt": "S000-T2", "rhm": "S000-T3", "hm": "S000-T4", "mvr": "S000-T5"}

p, q = sp.symbols("p q", real=True)
k = sp.Symbol("k", nonnegative=True)
K = sp.Symbol("K", positive=True)
x = sp.Symbol("x", nonnegative=True)
gamma0 = sp.Symbol("gamma_0", positive=True)

#: the five variants, in the order of the source's theorems
VARIANTS = ("polyak", "igt", "rhm", "hm", "mvr")
_ALIASES = {"sgdm": "polyak", "storm": "mvr"}

#: decay exponent (in k) of the binding drift term of each variant
DRIFT_EXPONENT = {
    "polyak": p - q,          # gamma/eta
    "igt": 2 * (p - q),       # gamma^2/eta^2 (Hessian-Lipschitz)
    "rhm": p - q / 2,         # gamma/sqrt(eta)
    "hm": p - q / 2,          # gamma/sqrt(eta) (+ gamma^2/eta, exponent 2p - q, not binding)
    "mvr": p - q / 2,         # gamma/sqrt(eta)
}

_DRIFT_NUMERIC = {v: sp.lambdify((p, q), e, modules=["math"]) for v, e in DRIFT_EXPONENT.items()}


def min_exponent(variant: str, p_value: float, q_value: float) -> float:
    """min{1 − p, q/2, drift exponent}: the decay exponent of the bound for given (p, q)."""
    v = _ALIASES.get(_variant(variant), _variant(variant))
    e = _DRIFT_NUMERIC[v](p_value, q_value)
    terms = [1 - p_value, q_value / 2, float(e)]
    if v == "hm":
        terms.append(2 * p_value - q_value)
    return float(min(terms))


def _solve(variant: str):
    sol = sp.solve([sp.Eq(1 - p, q / 2), sp.Eq(1 - p, DRIFT_EXPONENT[variant])], [p, q], dict=True)
    (s,) = sol
    return sp.Tuple(s[p], s[q])


EXPONENTS = {
    v: register(Derivation(
        name=f"momentum.exponents_{v}", title=f"(p, q) of the {v.upper() if v != 'polyak' else 'Polyak'} variant",
        symbols=(), expr=_solve(v), source=f"{_SRC}, {_THM[v]} (schedules reconstructed)", claims=(_CLAIM[v],),
        lhs="(p, q)",
        note=(f"solve 1 − p = q/2 = {sp.sstr(DRIFT_EXPONENT[v])}; "
              f"rate exponent 1 − p = {sp.sstr(1 - _solve(v)[0])}."),
    ))
    for v in VARIANTS
}

# Gamma_K = sum_{k=0}^K gamma0 (2/(k+2))^p >= gamma0 2^p int_0^K (x+2)^{-p} dx  (decreasing summand)
_integral = sp.integrate((x + 2) ** (-p), (x, 0, K), conds="none")
GAMMA_SUM_LOWER = register(Derivation(
    name="momentum.gamma_sum_lower", title="lower bound on Γ_K = Σ_k γ_k",
    symbols=(gamma0, p, K), expr=sp.simplify(gamma0 * 2**p * _integral),
    source=f"{_SRC}, proofs of Theorems 1–5", claims=tuple(_CLAIM.values()), lhs=r"\Gamma_K\ge",
    note="Σ_{k=0}^{K} g(k) ≥ ∫_0^K g for the decreasing g(x) = γ0(2/(x+2))^p, p ∈ [0, 1); grows like K^{1−p}.",
    extra={"integral": _integral},
))


def _variant(variant) -> str:
    v = _ALIASES.get(variant, variant)
    return check_choice("variant", v, VARIANTS + tuple(_ALIASES))  # type: ignore[arg-type]


def schedule_exponents_exact(variant: str) -> tuple:
    """(p, q) as sympy Rationals."""
    v = _ALIASES.get(_variant(variant), _variant(variant))
    pe, qe = EXPONENTS[v].expr
    return pe, qe


def schedule_exponents(variant: str) -> tuple[float, float]:
    """(p, q) for γ_k = γ0(2/(k+2))^p and η_k = (2/(k+2))^q of a momentum variant.

    ``variant`` is one of ``"polyak"`` (alias ``"sgdm"``), ``"igt"``, ``"rhm"``, ``"hm"``,
    ``"mvr"`` (alias ``"storm"``).
    """
    pe, qe = schedule_exponents_exact(variant)
    return float(pe), float(qe)


def rate_exponent_exact(variant: str):
    """1 − p as a sympy Rational."""
    return 1 - schedule_exponents_exact(variant)[0]


def rate_exponent(variant: str) -> float:
    """The claimed decay exponent of E‖∇f(x̂^K)‖ (up to a log factor): 1/4, 2/7 or 1/3."""
    return float(rate_exponent_exact(variant))


def gamma_sum(gamma0: float, p: float, K: int) -> float:
    """Γ_K = Σ_{k=0}^{K} γ0(2/(k+2))^p, summed exactly in floating point."""
    g0 = check_real("gamma0", gamma0, low=0.0, low_open=True)
    pv = check_real("p", p, low=0.0, high=1.0, high_open=True)
    K = check_int("K", K, low=0)
    return math.fsum(g0 * (2.0 / (j + 2)) ** pv for j in range(K + 1))


def gamma_sum_lower_bound(gamma0: float, p: float, K: int) -> float:
    """γ0 2^p((K+2)^{1−p} − 2^{1−p})/(1−p), a lower bound on :func:`gamma_sum`."""
    g0 = check_real("gamma0", gamma0, low=0.0, low_open=True)
    pv = check_real("p", p, low=0.0, high=1.0, high_open=True)
    K = check_int("K", K, low=0)
    return float(GAMMA_SUM_LOWER.numeric(g0, pv, K))
