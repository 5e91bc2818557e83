r"""SAEF -- step-ahead error feedback, as a ``torch.optim`` optimizer.

Paper: Xu, Huo, Huang [002], Algorithm 1, SAEF branch: worker k steps ahead by its own error,
:math:`x_{t+1/2}^{(k)} = x_t - e_t^{(k)}`, evaluates its gradient there, and every p iterations
the local errors are replaced by their mean. Guarantees: Theorems 1-3 and Corollaries 2-3
(:math:`O(1/\sqrt{nT})` with :math:`\eta \propto \sqrt{n/T}`, p = inf); claims ``S002-T1`` ...
``S002-C3``. The update is the engine's (:mod:`algorithms.torch.local_ef`, run by :mod:`algorithms.torch.optim._steps`). Registered
reference: ``"saef"``.

Closure protocol: worker k's single evaluation per step happens with the parameters at
:math:`x_t - e_t^{(k)}` (``fresh=True``).

Notes: 002 states p > 1; p = 1 is accepted (with the identity compressor SAEF is then momentum
SGD); p = inf (default) never averages.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["SAEF"]


class SAEF(CardOptimizer):
    """``saef`` on a real model: ``SAEF(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["saef"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "saef"
