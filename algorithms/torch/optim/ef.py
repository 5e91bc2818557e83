r"""EF -- local error feedback with momentum and double-way compression, as a ``torch.optim`` optimizer.

Paper: Xu, Huo, Huang [002], Algorithm 1, EF branch (the baseline of the paper): every
worker evaluates its gradient at the common model :math:`x_t`. Exact identity:
:math:`\tilde x_{t+1} = \tilde x_t - \frac{\eta_t}{n}\sum_k m_{t+1}^{(k)}` with
:math:`\tilde x_t = x_t - (e_t + \bar e_t)` (002 eq. (3); claim ``S002-AUX``). The update is
written out in :mod:`algorithms.torch.optim._ef_saef`. Registered reference: ``"ef"``.

Notes: error averaging is off by default (``error_averaging=True`` with a finite ``p`` turns it
on, as 002 Fig. 3 does for EF); ``double_way=False`` broadcasts :math:`\Delta_{t+1}` densely.
"""

from __future__ import annotations

import math

from ._base import check_flag
from ._ef_saef import _LocalErrorFeedback

__all__ = ["EF"]


class EF(_LocalErrorFeedback):
    """EF of [002].

    Args:
        params, lr: parameters and the learning rate :math:`\\eta_t` (float or schedule).
        n_clients: number n of workers; ``closure(k, fresh)`` serves worker k.
        compressor: an :mod:`eftheory.compressors` object (scaled sign, Top-K, ...).
        mu: momentum :math:`\\mu \\in [0, 1)` (0: EF-SGD).
        double_way: compress the broadcast too (default True).
        error_averaging: average the local errors when (t+1) mod p = 0; p: the period.
        compress: ``"global"`` or ``"per_tensor"``; generator: for random compressors.
    """

    step_ahead = False

    def __init__(self, params, lr, *, n_clients, compressor, mu=0.0, double_way=True,
                 error_averaging=False, p=math.inf, compress="global", generator=None):
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor, mu=mu, p=p,
                         double_way=double_way,
                         average=check_flag("error_averaging", error_averaging),
                         compress=compress, generator=generator)
