r"""SAEF -- step-ahead error feedback, as a ``torch.optim`` optimizer.

Paper: Xu, Huo, Huang [002], Algorithm 1, SAEF branch: worker k steps ahead by its own error,
:math:`x_{t+1/2}^{(k)} = x_t - e_t^{(k)}`, evaluates its gradient there, and every p iterations
the local errors are replaced by their mean. Guarantees: Theorems 1-3 and Corollaries 2-3
(:math:`O(1/\sqrt{nT})` with :math:`\eta \propto \sqrt{n/T}`, p = inf); claims ``S002-T1`` ...
``S002-C3``. The update is written out in :mod:`algorithms.torch.optim._ef_saef`. Registered
reference: ``"saef"``.

Closure protocol: worker k's single evaluation per step happens with the parameters at
:math:`x_t - e_t^{(k)}` (``fresh=True``).

Notes: 002 states p > 1; p = 1 is accepted (with the identity compressor SAEF is then momentum
SGD); p = inf (default) never averages.
"""

from __future__ import annotations

import math

from ._ef_saef import _LocalErrorFeedback

__all__ = ["SAEF"]


class SAEF(_LocalErrorFeedback):
    """SAEF of [002]; arguments as :class:`~algorithms.torch.optim.EF` with ``p`` the
    error-averaging period (integer >= 1 or ``math.inf``)."""

    step_ahead = True

    def __init__(self, params, lr, *, n_clients, compressor, mu=0.0, p=math.inf,
                 double_way=True, compress="global", generator=None):
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor, mu=mu, p=p,
                         double_way=double_way, average=p != math.inf, compress=compress,
                         generator=generator)
