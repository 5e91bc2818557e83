r"""‖EF21‖ -- normalized EF21 as a ``torch.optim`` optimizer.

Paper: Khirirat, Sadiev, Riabinin, Gorbunov, Richtárik [004], Algorithm 1 (= [001],
Algorithm 1); guarantee Theorem 1 (:math:`\min_k\|\nabla f(x^k)\| = O(1/\sqrt{K+1})` under
:math:`(L_0,L_1)`-smoothness with :math:`\gamma_k = \gamma_0/\sqrt{K+1}`); claims ``S004-T1``,
``S004-C1``, ``S004-C2``. Registered reference: ``algorithms.run("ef21-norm", ...)``.

Client i, step k (exact gradients; a stochastic closure gives ‖EF21-SGD‖):

.. math::

    g_i^k = g_i^{k-1} + \mathcal C\big(\nabla f_i(x^k) - g_i^{k-1}\big),\qquad
    g^k = \tfrac1n\textstyle\sum_i g_i^k,\qquad x^{k+1} = x^k - \gamma_k\, g^k/\|g^k\|.

Notes on deviations: ``normalize="per_tensor"`` divides every parameter tensor's slice of
:math:`g^k` by its own norm (the published deep-learning code) instead of the global norm of the
theory; ``compress="per_tensor"`` applies :math:`\mathcal C` per tensor (changes :math:`\alpha`);
:math:`g^k = 0` gives the direction 0.
"""

from __future__ import annotations

from ._ef21 import _EF21Family

__all__ = ["EF21Norm"]


class EF21Norm(_EF21Family):
    """‖EF21‖ (004 Algorithm 1) over the flattened parameters of all groups.

    Args:
        params: parameters or parameter groups (all groups form one vector x).
        lr: :math:`\\gamma_k`, a float > 0 or a schedule ``k -> gamma_k``.
        n_clients: number n >= 1 of simulated clients; ``closure(i, fresh)`` serves client i.
        compressor: an :mod:`eftheory.compressors` object (e.g. ``TopK(k)``).
        normalize: ``"global"`` (theory) or ``"per_tensor"``.
        compress: ``"global"`` (flattened vector) or ``"per_tensor"``.
        init: :math:`g_i^{-1}`: ``"gradient"`` (default), ``"compressed"`` or ``"zero"``.
        generator: ``torch.Generator`` of a random compressor (saved by ``state_dict``).

    Example::

        >>> opt = EF21Norm(model.parameters(), lr=0.05, n_clients=3, compressor=TopK(5))
        >>> opt.step(lambda i, fresh: loss_fn(model(X[i]), y[i]))      # doctest: +SKIP
    """

    estimator = "gradient"
    normalized = True

    def __init__(self, params, lr, *, n_clients, compressor, normalize="global",
                 compress="global", init="gradient", generator=None):
        super().__init__(params, lr, n_clients=n_clients, compressor=compressor,
                         normalize=normalize, compress=compress, init=init, generator=generator)
