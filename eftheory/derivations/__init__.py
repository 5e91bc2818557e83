"""Symbolic derivations (sympy) of the constants, stepsizes, schedule exponents and bounds.

Every expression is a :class:`~eftheory.derivations._core.Derivation`: a sympy expression with
its LaTeX, its source, the claim ids it serves, and a cached numeric function that the rest of
the package calls. :func:`all_derivations` lists them all (the documentation renders this list).

Modules: :mod:`~eftheory.derivations.ef21` (EF21 constants), :mod:`~eftheory.derivations.problems`
(test-problem constants), :mod:`~eftheory.derivations.normalized` (normalized EF21, Theorem 1
and corollaries), :mod:`~eftheory.derivations.sgdm` (normalized EF21-SGDM and the single-node
result), :mod:`~eftheory.derivations.momentum` (schedule exponents of the five momentum
variants), :mod:`~eftheory.derivations.saef` (step-ahead error feedback),
:mod:`~eftheory.derivations.sign` (sign methods with momentum and majority vote).
"""

from __future__ import annotations

import importlib

from ._core import Derivation, registry
from . import ef21, problems
from .ef21 import beta, theta, theory_stepsize
from .problems import logistic_constants, polynomial_box_L, polynomial_L0, polynomial_lambda

__all__ = [
    "Derivation", "all_derivations", "MODULES",
    "theta", "beta", "theory_stepsize",
    "logistic_constants", "polynomial_L0", "polynomial_lambda", "polynomial_box_L",
]

#: every module that registers derivations, in documentation order
MODULES = ("ef21", "normalized", "sgdm", "momentum", "saef", "sign", "problems")


def all_derivations() -> list[Derivation]:
    """Every registered :class:`Derivation`, grouped by module in :data:`MODULES` order."""
    for mod in MODULES:
        try:
            importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:  # a module not written yet
            if exc.name != f"{__name__}.{mod}":
                raise
    reg = registry()
    order = {m: i for i, m in enumerate(MODULES)}
    return sorted(reg.values(), key=lambda d: (order.get(d.name.split(".")[0], len(order)), list(reg).index(d.name)))
