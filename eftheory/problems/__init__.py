"""Test problems with known constants, and the problem protocol (:mod:`eftheory.problems.base`).

Built-ins: :class:`LogisticRegression` (with :func:`synthetic_logistic`, :func:`breast_cancer`,
:func:`load_libsvm`), :class:`Polynomial`, :class:`StochasticQuadratic` (problems Q and Q4 via
:func:`problem_q`, :func:`problem_q4`), :class:`SeparableQuadratic`,
:class:`HeterogeneousSignProblem`, :class:`HomogeneousNoisyQuadratic` and :class:`NoisyLinear`.

Every built-in problem names itself by its class and constructor arguments (``params()``, from
:class:`eftheory.problems._common.Parametrised`), which is what a ledger run is keyed by.
"""

from .base import Problem, exact_grad_norm, global_grad, require
from .data import breast_cancer, load_libsvm
from .linear import NoisyLinear
from .logistic import LogisticRegression, synthetic_logistic
from .polynomial import Polynomial
from .quadratic import HomogeneousNoisyQuadratic, StochasticQuadratic, problem_q, problem_q4
from .sign import HeterogeneousSignProblem, SeparableQuadratic

__all__ = [
    "HomogeneousNoisyQuadratic",
    "Problem", "exact_grad_norm", "global_grad", "require",
    "LogisticRegression", "synthetic_logistic", "load_libsvm", "breast_cancer",
    "Polynomial", "StochasticQuadratic", "problem_q", "problem_q4",
    "SeparableQuadratic", "HeterogeneousSignProblem", "NoisyLinear",
]
