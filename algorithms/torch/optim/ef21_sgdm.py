r"""EF21-SGDM as a ``torch.optim`` optimizer (EF21 with Polyak momentum, unnormalized).

Paper: Fatkhullin, Tyurin, Richtárik 2023 (Momentum provably improves error feedback!),
EF21-SGDM; a baseline of [000] (Sec. 6.3). Registered reference: ``"ef21-sgdm"``.

.. math::

    v_i^k = (1-\eta_k) v_i^{k-1} + \eta_k \nabla f_i(x^k;\xi_i^k),\quad
    g_i^k = g_i^{k-1} + \mathcal C(v_i^k - g_i^{k-1}),\quad x^{k+1} = x^k - \gamma_k g^k.

Notes: :math:`v_i^{-1} = \nabla f_i(x^0;\xi_i^0)`; ``init`` as in :mod:`._ef21`.
"""

from __future__ import annotations

from ._ef21 import _EF21Family

__all__ = ["EF21SGDM"]


class EF21SGDM(_EF21Family):
    """EF21-SGDM; ``eta`` is the momentum weight :math:`\\eta_k \\in (0, 1]` (float or schedule)."""

    estimator = "polyak"
    normalized = False

    def __init__(self, params, lr, *, n_clients, compressor, eta, compress="global",
                 init="gradient", generator=None):
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor, eta=eta,
                         compress=compress, init=init, generator=generator)
