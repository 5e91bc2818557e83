r"""Helpers of the sign-based optimizers ([003]): sign with a declared sign(0), the
momentum estimator of SMM/MVSM, and argument checks."""

from __future__ import annotations

import torch

from eftheory.validation import check_choice

__all__: list[str] = []

CONVENTIONS = ("new_weight", "old_weight")
TIES = ("zero", "plus")


def check_sign_zero(value) -> float:
    if isinstance(value, bool) or value not in (-1, 0, 1):
        raise ValueError(f"sign_zero must be one of -1, 0, 1 (the value of sign(0)); got {value!r}")
    return float(value)


def check_convention(value) -> str:
    return check_choice("momentum_convention", value, CONVENTIONS)


def sgn(v: torch.Tensor, zero: float) -> torch.Tensor:
    """Coordinatewise sign with sign(0) = ``zero``."""
    return torch.where(v == 0, torch.full_like(v, zero), torch.sign(v))


def momentum_update(v, g, beta, k: int, convention: str):
    r""":math:`v_1 = g_1`; then :math:`(1-\beta)v + \beta g` (``"new_weight"``, 003 [R]) or
    :math:`\beta v + (1-\beta) g` (``"old_weight"``)."""
    if k == 0:
        return g.clone()
    if convention == "new_weight":
        return (1 - beta) * v + beta * g
    return beta * v + (1 - beta) * g
