"""Sign-based momentum methods: reconstructed bounds of Theorems 1, 2, 3, 5 and their rates.

Source: Jiang, Yu, Yang, Yang, Zhang, *Improved Analysis for Sign-based Methods with Momentum
Updates* (arXiv:2507.12091). The explicit bounds are reconstructed from the proof outlines
(standard steps: sign descent, the sign inequality, the momentum-error recursion); only the
rates are stated by the source. Treat the constants as reconstructions.

* SMM, Theorem 1 (ℓ2-smooth): with :math:`\\beta=T^{-1/2}`, :math:`\\eta=d^{-1/2}T^{-3/4}` the
  bound is at most :math:`\\sqrt d(\\Delta+2L+2\\sqrt2\\sigma)T^{-1/4}+L\\sqrt d/(2T^{3/4})`.
* MVSM v2, Theorem 5: with :math:`\\eta=\\min\\{(dT)^{-1/2},d^{-1/5}T^{-3/5}\\}` and
  :math:`\\beta=(d\\eta^2)^{1/3}` the square root of the (squared) bound is
  :math:`O(\\max\\{d^{1/4}T^{-1/4},d^{1/10}T^{-1/5}\\})` — first branch when :math:`T\\le d^3`.
"""

from __future__ import annotations

import math

import sympy as sp

from eftheory.validation import check_int, check_real

from ._core import Derivation, register

__all__ = [
    "THM1", "THM1_AT_PARAMS", "THM1_LEADING", "THM2", "THM3", "THM5", "THM5_BRANCH1", "THM5_BRANCH2",
    "monomial_exponents", "leading_exponent", "mvsm_v2_params", "mvsm_v2_rate",
    "smm_bound", "smm_linf_bound", "mvsm_v1_bound", "mvsm_v2_bound", "smm_params",
]

_SRC = "Jiang et al., arXiv:2507.12091"

Delta, L, sigma, G, Linf, sig1 = sp.symbols("Delta L sigma G L_infty sigma_1", positive=True)
eta, beta = sp.symbols("eta beta", positive=True)
d, T, n = sp.symbols("d T n", positive=True)
tau = sp.Symbol("tau", positive=True)          # T = d^tau

_thm1 = Delta / (eta * T) + L * d * eta / 2 + 2 * sp.sqrt(d) * sp.sqrt(sigma**2 / (beta * T) + L**2 * eta**2 * d / beta**2 + beta * sigma**2)
THM1 = register(Derivation(
    name="sign.theorem1", title="SMM bound under ℓ2-smoothness (Theorem 1, reconstructed)",
    symbols=(Delta, L, sigma, d, T, eta, beta), expr=_thm1, source=f"{_SRC}, Theorem 1 (bound reconstructed)",
    claims=("S003-T1",), lhs=r"\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1\le",
))
_params1 = {beta: T ** sp.Rational(-1, 2), eta: d ** sp.Rational(-1, 2) * T ** sp.Rational(-3, 4)}
THM1_AT_PARAMS = register(Derivation(
    name="sign.theorem1_at_params", title="SMM bound at β = T^{-1/2}, η = d^{-1/2}T^{-3/4}",
    symbols=(Delta, L, sigma, d, T), expr=sp.simplify(sp.powsimp(_thm1.subs(_params1), force=True)),
    source=f"{_SRC}, Theorem 1", claims=("S003-T1",), lhs=r"\text{bound}",
))
THM1_LEADING = register(Derivation(
    name="sign.theorem1_leading", title="SMM bound, leading-order upper form", symbols=(Delta, L, sigma, d, T),
    expr=sp.sqrt(d) * (Delta + 2 * L + 2 * sp.sqrt(2) * sigma) / T ** sp.Rational(1, 4) + L * sp.sqrt(d) / (2 * T ** sp.Rational(3, 4)),
    source=f"{_SRC}, Theorem 1", claims=("S003-T1",), lhs=r"\text{bound}\le",
    note="uses √(2σ² + L²) ≤ √2σ + L; rate T^{-1/4}, dimension factor √d.",
))
THM2 = register(Derivation(
    name="sign.theorem2", title="SMM bound under ℓ∞-smoothness (Theorem 2, reconstructed)",
    symbols=(Delta, Linf, sig1, T, eta, beta),
    expr=Delta / (eta * T) + Linf * eta / 2 + 2 * sig1 * sp.sqrt(beta) + 2 * sig1 / (beta * T) + 2 * Linf * eta / beta,
    source=f"{_SRC}, Theorem 2 (bound reconstructed)", claims=("S003-T2",), lhs=r"\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1\le",
    note=r"$\sigma_1 = \|\boldsymbol\sigma\|_1$; $L_\infty = \|\mathbf L\|_1$ under separable smoothness.",
))
THM3 = register(Derivation(
    name="sign.theorem3", title="MVSM v1 bound (Theorem 3, reconstructed)",
    symbols=(Delta, L, sigma, G, d, n, T, eta, beta),
    expr=Delta / (eta * T) + L * d * eta / 2
    + 2 * sp.sqrt(d) * sp.sqrt(sigma**2 / (n * beta * T) + L**2 * eta**2 * d / beta**2 + beta * sigma**2 / n)
    + 2 * d * G / sp.sqrt(n),
    source=f"{_SRC}, Theorems 3–4 (bound reconstructed)", claims=("S003-T3", "S003-T4"),
    lhs=r"\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1\le", note="the 2dG/√n floor does not vanish as T → ∞.",
))
_thm5 = 2 * G * Delta / (eta * T) + G * L * eta * d + sigma**2 / (n * beta * T) + L**2 * eta**2 * d / beta**2 + beta * sigma**2 / n
THM5 = register(Derivation(
    name="sign.theorem5", title="MVSM v2 squared-gradient bound (Theorem 5, reconstructed)",
    symbols=(Delta, L, sigma, G, d, n, T, eta, beta), expr=_thm5,
    source=f"{_SRC}, Theorem 5 (bound reconstructed)", claims=("S003-T5",),
    lhs=r"\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|^2\le", note="the ℓ2 quantity is bounded by its square root (Jensen).",
))


def _at(eta_value):
    return sp.expand(sp.powsimp(_thm5.subs({beta: (d * eta**2) ** sp.Rational(1, 3)}).subs(eta, eta_value), force=True))


THM5_BRANCH1 = register(Derivation(
    name="sign.theorem5_branch1", title="MVSM v2 bound at η = (dT)^{-1/2}, β = (dη²)^{1/3} (T ≤ d³)",
    symbols=(Delta, L, sigma, G, d, n, T), expr=_at((d * T) ** sp.Rational(-1, 2)),
    source=f"{_SRC}, Theorem 5", claims=("S003-T5",), lhs=r"\text{bound}^2",
    note="leading term d^{1/2}T^{-1/2} for T ≤ d³, so the ℓ2 rate is d^{1/4}T^{-1/4}.",
))
THM5_BRANCH2 = register(Derivation(
    name="sign.theorem5_branch2", title="MVSM v2 bound at η = d^{-1/5}T^{-3/5}, β = (dη²)^{1/3} (T ≥ d³)",
    symbols=(Delta, L, sigma, G, d, n, T), expr=_at(d ** sp.Rational(-1, 5) * T ** sp.Rational(-3, 5)),
    source=f"{_SRC}, Theorem 5", claims=("S003-T5",), lhs=r"\text{bound}^2",
    note="leading term d^{1/5}T^{-2/5} for T ≥ d³, so the ℓ2 rate is d^{1/10}T^{-1/5}.",
))


def monomial_exponents(expr) -> list[tuple]:
    """Exponents (of d, of T) of every additive term of an expanded expression in d and T."""
    out = []
    for term in sp.Add.make_args(sp.expand(sp.powsimp(expr, force=True))):
        pw = sp.powsimp(term, force=True).as_powers_dict()
        out.append((sp.nsimplify(pw.get(d, 0)), sp.nsimplify(pw.get(T, 0))))
    return out


def leading_exponent(expr, tau_value):
    """Largest exponent of d over the terms of ``expr`` when T = d^tau (sympy Rational)."""
    t = sp.nsimplify(tau_value)
    return max(ed + t * eT for ed, eT in monomial_exponents(expr))


def smm_params(d: int, T: int) -> tuple[float, float]:
    """(η, β) = (d^{-1/2}T^{-3/4}, T^{-1/2}) of Theorem 1."""
    d = check_int("d", d, low=1)
    T = check_int("T", T, low=1)
    return d ** -0.5 * T ** -0.75, T ** -0.5


def mvsm_v2_params(d: int, T: int) -> tuple[float, float]:
    """(η, β) = (min{(dT)^{-1/2}, d^{-1/5}T^{-3/5}}, (dη²)^{1/3}) of Theorem 5."""
    d = check_int("d", d, low=1)
    T = check_int("T", T, low=1)
    e = min((d * T) ** -0.5, d ** -0.2 * T ** -0.6)
    return e, (d * e * e) ** (1.0 / 3.0)


def mvsm_v2_rate(d: int, T: int) -> float:
    """max{d^{1/4}T^{-1/4}, d^{1/10}T^{-1/5}}, the stated rate of Theorem 5 (without constants)."""
    d = check_int("d", d, low=1)
    T = check_int("T", T, low=1)
    return max(d**0.25 * T**-0.25, d**0.1 * T**-0.2)


def _pos(name, v):
    return check_real(name, v, low=0.0, low_open=True)


def _nn(name, v):
    return check_real(name, v, low=0.0)


def smm_bound(Delta, L, sigma, d, T, eta, beta) -> float:
    """Theorem 1 (reconstructed) bound on the average ℓ1 gradient norm of SMM."""
    return float(THM1.numeric(_nn("Delta", Delta), _nn("L", L), _nn("sigma", sigma), check_int("d", d, low=1),
                              check_int("T", T, low=1), _pos("eta", eta),
                              check_real("beta", beta, low=0.0, high=1.0, low_open=True)))


def smm_linf_bound(Delta, L_inf, sigma_1, T, eta, beta) -> float:
    """Theorem 2 (reconstructed) bound with the ℓ∞ constant L_inf and σ_1 = ‖σ‖_1."""
    return float(THM2.numeric(_nn("Delta", Delta), _nn("L_inf", L_inf), _nn("sigma_1", sigma_1),
                              check_int("T", T, low=1), _pos("eta", eta),
                              check_real("beta", beta, low=0.0, high=1.0, low_open=True)))


def mvsm_v1_bound(Delta, L, sigma, G, d, n, T, eta, beta) -> float:
    """Theorem 3 (reconstructed) bound of MVSM v1 (includes the 2dG/√n floor)."""
    return float(THM3.numeric(_nn("Delta", Delta), _nn("L", L), _nn("sigma", sigma), _pos("G", G),
                              check_int("d", d, low=1), check_int("n", n, low=1), check_int("T", T, low=1),
                              _pos("eta", eta), check_real("beta", beta, low=0.0, high=1.0, low_open=True)))


def mvsm_v2_bound(Delta, L, sigma, G, d, n, T, eta, beta) -> float:
    """Square root of the Theorem 5 (reconstructed) bound: bounds the average ℓ2 gradient norm."""
    sq = float(THM5.numeric(_nn("Delta", Delta), _nn("L", L), _nn("sigma", sigma), _pos("G", G),
                            check_int("d", d, low=1), check_int("n", n, low=1), check_int("T", T, low=1),
                            _pos("eta", eta), check_real("beta", beta, low=0.0, high=1.0, low_open=True)))
    return math.sqrt(sq)
