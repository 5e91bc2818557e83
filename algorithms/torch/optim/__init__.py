r"""``torch.optim`` optimizers that simulate n clients of the papers' methods on a real model.

One optimizer instance holds the server and all n clients: the parameters of all groups form
the model vector :math:`x\in\mathbb R^d` (groups in order, tensors flattened), and one ``step``
is one iteration of the paper's algorithm, computed by the batched engine's own step on the
(1, n, d) client tensors (:mod:`._steps`; S = 1 run, the clients as the engine's n axis).
The optimizers hold no update rule of their own.

=================  ======================
class              method card / reference
=================  ======================
``EF21``           ``ef21``
``EF21Norm``       ``ef21-norm``
``EF21SGD``        ``ef21-sgd``
``EF21SGDM``       ``ef21-sgdm``
``EF21SGDMNorm``   ``ef21-sgdm-norm``
``EF21IGTNorm``    ``ef21-igt-norm``
``EF21RHMNorm``    ``ef21-rhm-norm``
``EF21HMNorm``     ``ef21-hm-norm``
``EF21MVRNorm``    ``ef21-mvr-norm``
``EF21MVR``        ``ef21-mvr``
``EControl``       ``econtrol``
``EF``             ``ef``
``SAEF``           ``saef``
``SignSGD``        ``signsgd``
``Signum``         ``signum``
``SMM``            ``smm``
``MVSignSGD``      ``mv-signsgd``
``MVSignum``       ``mv-signum``
``StoSignSGD``     ``sto-signsgd``
``MVSMV1``         ``mvsm-v1``
``MVSMV2``         ``mvsm-v2``
=================  ======================

Every class is :class:`CardOptimizer` with its card; ``OPTIMIZERS[name]`` / :func:`for_name` give the
class of a registered name.

Closure protocol
----------------
``step(closure)`` needs every client's gradient, so the closure takes the client index::

    loss = closure(i, fresh)

* ``i`` -- the client (worker, node) whose loss :math:`f_i` is evaluated, ``0 <= i < n``;
* ``fresh`` -- ``True``: draw client i's next minibatch :math:`\xi_i^k`; ``False``: reuse the
  minibatch of client i's last fresh call (MVR's gradient at :math:`x^{k-1}`, RHM's HVP with
  ``rhm_same_sample=True``). With deterministic data ignore it;
* the optimizer has already put the parameters at the point it needs (:math:`x^k`, IGT's
  :math:`y^k`, MVR's :math:`x^{k-1}`, RHM's :math:`\hat x_i^k`, SAEF's :math:`x_t - e_t^{(i)}`)
  and restores them afterwards; the closure only runs the model;
* it returns client i's loss as a scalar tensor. It should not call ``backward()``: the optimizer
  differentiates the loss itself with :func:`torch.autograd.grad` (with ``create_graph=True``
  and a second differentiation of :math:`\langle\nabla f_i, u\rangle` for the Hessian-vector
  products of HM and RHM). A closure that does call ``backward()`` works with every optimizer
  except ``EF21HMNorm`` / ``EF21RHMNorm``, which then raise ``ValueError``.

Calls within one step follow the engine: one evaluation of every client (clients 0..n-1), then
the next evaluation of every client, ...; each client's first use of a draw is fresh.
``step()`` without a closure raises a one-line ``ValueError`` saying what the closure must be,
except with ``n_clients=1`` for a method that needs only the gradient at the current parameters
(EF21, ‖EF21‖, EF21-SGD(M), ‖EF21-SGDM‖, EControl, EF, the sign methods): then the standard
``opt.zero_grad(); loss.backward(); opt.step()`` loop works and ``p.grad`` is client 0's gradient. Example with three clients holding fixed data shards and
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

    from eftheory.schedules import polynomial
    opt = EF21MVRNorm(model.parameters(), stepsize=polynomial(0.1, 2 / 3),
                      momentum=polynomial(1.0, 2 / 3), n_clients=3, compressor=TopK(5))
    for k in range(100):
        opt.step(closure)

Common options (``algorithms.run``'s vocabulary, see :mod:`algorithms.cards`)
-----------------------------------------------------------------------------
* ``stepsize`` (and ``momentum``) -- a float or a schedule ``k -> value`` indexed by the step
  counter (per iteration, as in the theory); per group values act on the group's slice of x.
  ``eftheory.schedules`` schedules pickle, so a ``state_dict`` holding one can be saved.
* the method's options by their card names: ``init``, ``normalize_scope`` (``"global"``, the
  theory, or ``"per_tensor"``: every parameter tensor's slice by its own norm), ``blocks``,
  ``rhm_same_sample``, ``econtrol_eta``, ``econtrol_step_uses``, ``mu``, ``p``, ``double_way``,
  ``error_averaging``, ``sign_zero``, ``ties``, ``momentum_convention``, ``G`` / ``B``,
  ``on_violation``, ``shared_draw``.
* ``compress`` -- ``"global"`` (default): the compressor acts on the flattened vector;
  ``"per_tensor"``: ``Blockwise(compressor, tensor sizes)`` (changes :math:`\alpha`).
* ``generator`` -- a ``torch.Generator`` for random compressors (required then), RHM's
  :math:`q_i^k` and the stochastic signs; ``uniforms`` -- ``(shape, purpose) -> tensor`` to
  replay given uniforms instead.

Renamed (earlier spellings are rejected): ``lr`` -> ``stepsize``, ``eta`` / ``beta`` ->
``momentum``, EControl's ``eta`` -> ``econtrol_eta``, ``normalize`` -> ``normalize_scope``,
``same_sample`` -> ``rhm_same_sample``, ``step_uses`` -> ``econtrol_step_uses``,
``MVSM(version=1|2)`` -> ``MVSMV1`` / ``MVSMV2``, RHM's ``interpolation`` -> ``uniforms``.

``state_dict()`` returns cloned tensors: the step counter, all client and server buffers and
the generator state; ``load_state_dict`` into a fresh optimizer of the same method over a model
with the saved parameters resumes bit for bit. A state of another method, another number of
clients or a malformed dict raises a one-line ``ValueError``.

Importing this package registers nothing.
"""

from __future__ import annotations

from ._base import CardOptimizer
from .econtrol import EControl
from .ef import EF
from .ef21 import EF21
from .ef21_hm_norm import EF21HMNorm
from .ef21_igt_norm import EF21IGTNorm
from .ef21_mvr import EF21MVR
from .ef21_mvr_norm import EF21MVRNorm
from .ef21_norm import EF21Norm
from .ef21_rhm_norm import EF21RHMNorm
from .ef21_sgd import EF21SGD
from .ef21_sgdm import EF21SGDM
from .ef21_sgdm_norm import EF21SGDMNorm
from .mv_signsgd import MVSignSGD
from .mv_signum import MVSignum
from .mvsm_v1 import MVSMV1
from .mvsm_v2 import MVSMV2
from .saef import SAEF
from .signsgd import SignSGD
from .signum import Signum
from .smm import SMM
from .sto_signsgd import StoSignSGD

#: registered name -> optimizer class (one per method card)
OPTIMIZERS = {cls.card_name: cls for cls in (
    EF21, EF21Norm, EF21SGD, EF21SGDM, EF21SGDMNorm, EF21IGTNorm, EF21RHMNorm, EF21HMNorm, EF21MVRNorm, EF21MVR, EControl, EF, SAEF, SignSGD, Signum, SMM, MVSignSGD, MVSignum, StoSignSGD, MVSMV1, MVSMV2)}


def for_name(name: str):
    """The optimizer class of a registered algorithm name."""
    try:
        return OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name must be one of {sorted(OPTIMIZERS)}; got {name!r}") from None


__all__ = ["CardOptimizer", "OPTIMIZERS", "for_name", 'EF21', 'EF21Norm', 'EF21SGD', 'EF21SGDM', 'EF21SGDMNorm', 'EF21IGTNorm', 'EF21RHMNorm', 'EF21HMNorm', 'EF21MVRNorm', 'EF21MVR', 'EControl', 'EF', 'SAEF', 'SignSGD', 'Signum', 'SMM', 'MVSignSGD', 'MVSignum', 'StoSignSGD', 'MVSMV1', 'MVSMV2']
