r"""‖EF21-MVR‖ -- normalized EF21 with momentum variance reduction (STORM), as a ``torch.optim`` optimizer.

Paper: [000], Algorithm 1 with the MVR estimator (Cutkosky & Orabona 2019; EF21-MVR of
Fatkhullin, Tyurin, Richtárik 2023), Theorem 5: :math:`\tilde O(K^{-1/3})` with
:math:`\eta_k = \gamma_k/\gamma_0 = (2/(k+2))^{2/3}`, two gradients per step and no large initial
batch. Claim ``S000-T5``. Registered reference: ``"ef21-mvr-norm"``.

.. math::

    v_i^k = \nabla f_i(x^k;\xi_i^k) + (1-\eta_k)\big(v_i^{k-1} - \nabla f_i(x^{k-1};\xi_i^k)\big),
    \quad x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

Closure protocol, per client and step: ``closure(i, True)`` at :math:`x^k`, then
``closure(i, False)`` at :math:`x^{k-1}`, which must reuse the same minibatch.
"""

from __future__ import annotations

from ._ef21 import _EF21Family

__all__ = ["EF21MVRNorm"]


class EF21MVRNorm(_EF21Family):
    """‖EF21-MVR‖; arguments as :class:`~algorithms.torch.optim.EF21SGDMNorm`."""

    estimator = "mvr"
    normalized = True

    def __init__(self, params, lr, *, n_clients, compressor, eta, normalize="global",
                 compress="global", init="gradient", generator=None):
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor, eta=eta,
                         normalize=normalize, compress=compress, init=init, generator=generator)
