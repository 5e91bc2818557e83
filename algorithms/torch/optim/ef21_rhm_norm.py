r"""‖EF21-RHM‖ -- normalized EF21 with randomized Hessian momentum, as a ``torch.optim`` optimizer.

Paper: [000], Algorithm 1 with the RHM estimator (Salehkaleybar et al. 2022), Theorem 3:
:math:`\tilde O(K^{-1/3})` with :math:`\eta_k = \gamma_k/\gamma_0 = (2/(k+2))^{2/3}` (schedules
reconstructed); no Hessian-Lipschitz assumption. Claim ``S000-T3``. Registered reference:
``"ef21-rhm-norm"``.

.. math::

    q_i^k \sim \mathcal U[0,1],\quad \hat x_i^k = q_i^k x^k + (1-q_i^k) x^{k-1},\\
    v_i^k = (1-\eta_k)\big(v_i^{k-1} + \nabla^2 f_i(\hat x_i^k;\hat\xi_i^k)(x^k - x^{k-1})\big)
            + \eta_k\nabla f_i(x^k;\xi_i^k).

Closure protocol, per client and step: ``closure(i, True)`` at :math:`x^k` (gradient), then at
:math:`\hat x_i^k` the HVP evaluation with ``fresh=True`` (independent minibatch
:math:`\hat\xi_i^k`, the paper's text; default) or ``fresh=False`` (same minibatch,
``same_sample=True``, the published code). The HVP is by double backprop, so the closure must
return the loss without calling ``backward()``.

Notes: :math:`q_i^k` come from ``generator`` (``torch.rand``), or from ``interpolation(k)``
(n values in [0, 1]) to replay given draws.
"""

from __future__ import annotations

from ._ef21 import _EF21Family

__all__ = ["EF21RHMNorm"]


class EF21RHMNorm(_EF21Family):
    """‖EF21-RHM‖; arguments as :class:`~algorithms.torch.optim.EF21SGDMNorm` plus
    ``same_sample`` (bool) and ``interpolation`` (callable ``k -> q^k`` or None)."""

    estimator = "rhm"
    normalized = True

    def __init__(self, params, lr, *, n_clients, compressor, eta, normalize="global",
                 compress="global", init="gradient", generator=None, same_sample=False,
                 interpolation=None):
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor, eta=eta,
                         normalize=normalize, compress=compress, init=init, generator=generator,
                         same_sample=same_sample, interpolation=interpolation)
