"""Test problems with known constants, and the problem protocol (:mod:`eftheory.problems.base`)."""

from .base import Problem, exact_grad_norm, global_grad, require

__all__ = ["Problem", "exact_grad_norm", "global_grad", "require"]
