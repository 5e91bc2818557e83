"""The :class:`Derivation` record and the registry behind :func:`all_derivations`.

A derivation is one closed-form expression of a paper (a constant, a stepsize, a bound, a
schedule exponent) kept as a sympy object. From it come

* its LaTeX (``d.latex``), shown on the documentation's derivations page;
* a plain-Python numeric function (``d.numeric``, built once with :func:`sympy.lambdify` and
  cached), which is the function the rest of the package calls;
* an exact evaluation (``d.exact(**values)``) with rationals, used by the tests to show that the
  numeric function and the symbolic expression agree.

Each record names its source (authors, result) and the ledger claim ids it serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import sympy as sp

__all__ = ["Derivation", "register", "registry"]

_REGISTRY: dict[str, "Derivation"] = {}

#: how symbols whose Python names are not LaTeX are typeset
LATEX_NAMES = {
    "L_tilde": r"\tilde L", "delta_inf": r"\delta^{\inf}", "sigma2": r"\sigma^2", "M2": "M^2",
    "L_infty": r"L_\infty", "sigma_1": r"\|\boldsymbol\sigma\|_1", "a_norm": r"\|a_i\|", "A_norm": r"\|A\|",
    "a_max": r"\max_i\|a_i\|", "lam": r"\lambda", "C_alpha": r"C_\alpha",
}


@dataclass(frozen=True)
class Derivation:
    """A named sympy expression with its source, LaTeX and numeric function.

    Attributes
    ----------
    name:
        Unique dotted identifier, e.g. ``"ef21.theta"``.
    title:
        Short human-readable description.
    symbols:
        The free symbols, in the argument order of :attr:`numeric`.
    expr:
        The sympy expression (a scalar, a relation, or a tuple for exponent pairs).
    source:
        Citation, e.g. ``"Khirirat et al., arXiv:2409.xxxx, Theorem 1"``.
    claims:
        Claim ids of the ledger that use this expression.
    note:
        Free text shown next to the expression in the docs (erratum, reconstruction status).
    lhs:
        Optional LaTeX for the left-hand side (``\\gamma =``); defaults to :attr:`name`.
    """

    name: str
    title: str
    symbols: tuple
    expr: object
    source: str
    claims: tuple[str, ...] = ()
    note: str = ""
    lhs: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def latex(self) -> str:
        """LaTeX of the expression, with its left-hand side when one is given."""
        names = {sym: LATEX_NAMES[sym.name] for sym in getattr(self.expr, "free_symbols", ()) if sym.name in LATEX_NAMES}
        body = sp.latex(self.expr, symbol_names=names)
        return f"{self.lhs} = {body}" if self.lhs else body

    @cached_property
    def numeric(self) -> Callable[..., float]:
        """A float-valued function of :attr:`symbols` (lambdified once, then cached)."""
        return sp.lambdify(self.symbols, self.numeric_form, modules=["math"])

    @property
    def numeric_form(self):
        """The expression that :attr:`numeric` evaluates: :attr:`expr` with every
        ``1 - sqrt(1 - a)`` (a a symbol) rewritten as ``a/(1 + sqrt(1 - a))``, which is equal but
        free of cancellation for small ``a``."""
        expr = self.expr
        if not hasattr(expr, "xreplace"):
            return expr
        rules = {1 - sp.sqrt(1 - a): a / (1 + sp.sqrt(1 - a)) for a in self.symbols}
        return expr.xreplace(rules)

    def exact(self, **values):
        """Evaluate the expression exactly: values are converted with :func:`sympy.nsimplify`
        (floats) or :class:`sympy.Rational` (ints / fractions) and substituted."""
        subs = {}
        by_name = {s.name: s for s in self.symbols}
        for key, val in values.items():
            if key not in by_name:
                raise ValueError(
                    f"{key} is not a symbol of derivation {self.name!r}; allowed: {', '.join(by_name)}"
                )
            subs[by_name[key]] = sp.Rational(val) if not isinstance(val, sp.Basic) else val
        return sp.simplify(self.expr.subs(subs)) if hasattr(self.expr, "subs") else self.expr

    def __call__(self, *args) -> float:
        return float(self.numeric(*args))


def register(d: Derivation) -> Derivation:
    """Add ``d`` to the registry (names must be unique) and return it."""
    if d.name in _REGISTRY and _REGISTRY[d.name] is not d:
        raise RuntimeError(f"duplicate derivation name {d.name!r}")
    _REGISTRY[d.name] = d
    return d


def registry() -> dict[str, Derivation]:
    return dict(_REGISTRY)


def isclose(a: float, b: float, rel: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel)
