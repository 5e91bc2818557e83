r"""EF -- local error feedback with momentum and double-way compression, as a ``torch.optim`` optimizer.

Paper: Xu, Huo, Huang [002], Algorithm 1, EF branch (the baseline of the paper): every
worker evaluates its gradient at the common model :math:`x_t`. Exact identity:
:math:`\tilde x_{t+1} = \tilde x_t - \frac{\eta_t}{n}\sum_k m_{t+1}^{(k)}` with
:math:`\tilde x_t = x_t - (e_t + \bar e_t)` (002 eq. (3); claim ``S002-AUX``). The update is
the engine's (:mod:`algorithms.torch.local_ef`, run by :mod:`algorithms.torch.optim._steps`). Registered reference: ``"ef"``.

Notes: error averaging is off by default (``error_averaging=True`` with a finite ``p`` turns it
on, as 002 Fig. 3 does for EF); ``double_way=False`` broadcasts :math:`\Delta_{t+1}` densely.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EF"]


class EF(CardOptimizer):
    """``ef`` on a real model: ``EF(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["ef"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "ef"
