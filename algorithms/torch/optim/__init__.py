r"""``torch.optim`` optimizers that simulate n clients of the papers' methods on a real model.

One optimizer instance holds the server and all n clients: the parameters of all groups form
the model vector :math:`x\in\mathbb R^d` (groups in order, tensors flattened), every client's
buffers (:math:`g_i`, :math:`v_i`, :math:`e_i`, ...) are ``(n, d)`` tensors, and one ``step``
is one iteration of the paper's algorithm.

=================  =====================================  ===================================
class              method                                 registered reference
=================  =====================================  ===================================
``EF21Norm``       ‖EF21‖ (004 Alg. 1)                    ``ef21-norm``
``EF21SGDMNorm``   ‖EF21-SGDM‖ (001 Alg. 2; 000)          ``ef21-sgdm-norm``
``EF21IGTNorm``    ‖EF21-IGT‖ (000)                       ``ef21-igt-norm``
``EF21RHMNorm``    ‖EF21-RHM‖ (000)                       ``ef21-rhm-norm``
``EF21HMNorm``     ‖EF21-HM‖ (000)                        ``ef21-hm-norm``
``EF21MVRNorm``    ‖EF21-MVR‖ (000)                       ``ef21-mvr-norm``
``EF21SGD``        EF21-SGD                               ``ef21-sgd``
``EF21SGDM``       EF21-SGDM                              ``ef21-sgdm``
``EControl``       EControl                               ``econtrol``
``EF``             local error feedback (002)             ``ef``
``SAEF``           step-ahead error feedback (002)        ``saef``
``SMM``            sign momentum (003 Alg. 1)             ``smm``
``MVSM``           majority-vote sign momentum (003)      ``mvsm-v1`` / ``mvsm-v2``
=================  =====================================  ===================================

Closure protocol
----------------
``step(closure)`` needs every client's gradient, so the closure takes the client index::

    loss = closure(i, fresh)

* ``i`` -- the client (worker, node) whose loss :math:`f_i` is evaluated, ``0 <= i < n``;
* ``fresh`` -- ``True``: draw client i's next minibatch :math:`\xi_i^k`; ``False``: reuse the
  minibatch of client i's last fresh call (MVR's gradient at :math:`x^{k-1}`, RHM's HVP with
  ``same_sample=True``). With deterministic data ignore it;
* the optimizer has already put the parameters at the point it needs (:math:`x^k`, IGT's
  :math:`y^k`, MVR's :math:`x^{k-1}`, RHM's :math:`\hat x_i^k`, SAEF's :math:`x_t - e_t^{(i)}`)
  and restores them afterwards; the closure only runs the model;
* it returns client i's loss as a scalar tensor. It should not call ``backward()``: the optimizer
  differentiates the loss itself with :func:`torch.autograd.grad` (with ``create_graph=True``
  and a second differentiation of :math:`\langle\nabla f_i, u\rangle` for the Hessian-vector
  products of HM and RHM). A closure that does call ``backward()`` works with every optimizer
  except ``EF21HMNorm`` / ``EF21RHMNorm``, which then raise ``ValueError``.

Calls within one step go client by client: all of client 0's evaluations, then client 1's, ...;
each client's first call is fresh. Example with three clients holding fixed data shards and
minibatches drawn by a per-client generator::

    import torch
    from eftheory.compressors import TopK
    from algorithms.torch.optim import EF21MVRNorm

    model = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    shards = [(torch.randn(64, 10), torch.randn(64, 1)) for _ in range(3)]
    rngs = [torch.Generator().manual_seed(i) for i in range(3)]
    batch = [None] * 3

    def closure(i, fresh):
        X, y = shards[i]
        if fresh:
            batch[i] = torch.randint(0, len(X), (8,), generator=rngs[i])
        idx = batch[i]
        return torch.nn.functional.mse_loss(model(X[idx]), y[idx])

    opt = EF21MVRNorm(model.parameters(), lr=lambda k: 0.1 * (2 / (k + 2)) ** (2 / 3),
                      eta=lambda k: (2 / (k + 2)) ** (2 / 3), n_clients=3, compressor=TopK(5))
    for k in range(100):
        opt.step(closure)

Common options
--------------
* ``lr`` (and ``eta`` / ``beta``) -- a float or a schedule ``k -> value`` indexed by the step
  counter (per iteration, as in the theory); per group values act on the group's slice of x.
* ``normalize`` -- ``"global"`` (default, the theory): :math:`g/\|g\|` over the whole vector;
  ``"per_tensor"``: every parameter tensor's slice by its own norm (the published code of 000).
* ``compress`` -- ``"global"`` (default): the compressor acts on the flattened vector;
  ``"per_tensor"``: ``Blockwise(compressor, tensor sizes)`` (changes :math:`\alpha`).
* ``init`` -- the client memory :math:`g_i^{-1}`: ``"gradient"``, ``"compressed"`` or ``"zero"``.
* ``generator`` -- a ``torch.Generator`` for random compressors (required then), RHM's
  :math:`q_i^k` and MVSM's stochastic signs.

``state_dict()`` returns cloned tensors: the step counter, all client and server buffers,
:math:`x^{k-1}` where it is kept, and the generator state; ``load_state_dict`` into a fresh
optimizer over a model with the saved parameters resumes bit for bit.

Importing this package registers nothing.
"""

from __future__ import annotations

from .econtrol import EControl
from .ef import EF
from .ef21_hm_norm import EF21HMNorm
from .ef21_igt_norm import EF21IGTNorm
from .ef21_mvr_norm import EF21MVRNorm
from .ef21_norm import EF21Norm
from .ef21_rhm_norm import EF21RHMNorm
from .ef21_sgd import EF21SGD
from .ef21_sgdm import EF21SGDM
from .ef21_sgdm_norm import EF21SGDMNorm
from .mvsm import MVSM
from .saef import SAEF
from .smm import SMM

__all__ = [
    "EF21Norm", "EF21SGDMNorm", "EF21IGTNorm", "EF21RHMNorm", "EF21HMNorm", "EF21MVRNorm",
    "EF21SGD", "EF21SGDM", "EControl", "EF", "SAEF", "SMM", "MVSM",
]
