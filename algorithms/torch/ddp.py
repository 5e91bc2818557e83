r"""DDP communication hooks: the compressed aggregate of a method replaces DDP's all-reduce.

Each DDP rank is one client of the method. Register the hook on any ``nn.Module`` wrapped in
``DistributedDataParallel`` and keep the standard loop; the optimizer is plain SGD with
``lr=1`` because the hook hands DDP the method's whole update :math:`u` (``p.grad = u``,
``p <- p - u``)::

    from torch.nn.parallel import DistributedDataParallel as DDP
    from algorithms.torch.ddp import CompressedHook

    model = DDP(net)                                     # one process per client, gloo or nccl
    hook = CompressedHook("ef21-sgdm-norm", model, TopK(100), stepsize=0.01, momentum=0.1)
    model.register_comm_hook(hook, hook.hook)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    for X, y in loader:
        opt.zero_grad()
        loss_fn(model(X), y).backward()                   # the hook runs inside backward()
        opt.step()                                        # x <- x - u

What the hook computes is the engine's step of the method's card (:mod:`algorithms.torch.optim._steps`,
the step the optimizers and the distributed runner run), on the flattened gradient of *all*
parameters (the vector of the theory, not one DDP bucket at a time): the hook collects each
bucket's gradient, leaves the buckets' futures pending until the last bucket arrives, then runs
one step on the whole vector (compression, the payload exchange of
:class:`algorithms.torch.distributed.WireAggregate`, the replicated server step, normalization
over the whole vector) and completes every bucket with its slice of :math:`u`. Its state is keyed by
parameter, so DDP's bucket rebuilding after the first iteration does not disturb it.

Methods (the local gradient is the one ``backward()`` gave, at the common model):

* EF21 family: ``ef21``, ``ef21-norm``, ``ef21-sgd``, ``ef21-sgdm``, ``ef21-sgdm-norm``,
  ``econtrol`` (the estimators that need only :math:`\nabla f_i(x^k;\xi_i^k)`); IGT, HM, RHM
  and MVR need oracle calls at other points or HVPs and are refused -- use the optimizers;
* ``ef`` and ``saef``: SAEF evaluates at :math:`x_t - e_t^{(i)}`, so between steps rank i's
  parameters hold that step-ahead point (the hook moves them there) and :meth:`CompressedHook.model`
  gives the server model :math:`x_t`;
* every sign method of [003].

Error-feedback state (memories, estimators, errors, the server state, the step counter, the
generators) lives in the hook object; :meth:`CompressedHook.state_dict` /
:meth:`~CompressedHook.load_state_dict` round-trip it (resume bit for bit; for SAEF,
``load_state_dict`` after wrapping the model in DDP also restores this rank's step-ahead
parameters, which DDP's construction overwrote with rank 0's).
"""

from __future__ import annotations

import copy

import torch

from eftheory.schedules import as_schedule
from eftheory.validation import check_int

from ..cards import CARDS
from ..cards import card as _card

__all__ = ["CompressedHook", "SUPPORTED"]

_EF21_OK = ("exact", "sgd", "polyak", "econtrol")

#: the names a hook runs
#: (from the cards: every method whose client estimator needs only the gradient backward() gave)
SUPPORTED = tuple(sorted(name for name, c in CARDS.items() if c.family != "ef21" or c.estimator in _EF21_OK))


class CompressedHook:
    """The communication hook of method ``name`` for a DDP model (one rank = one client).

    Args:
        name: a name of :data:`SUPPORTED`.
        model: the ``DistributedDataParallel`` module (its parameters that require gradients,
            in ``parameters()`` order, form the vector x).
        compressor: an :mod:`eftheory.compressors` object (None for the sign methods).
        stepsize, momentum: as in :func:`algorithms.run` (floats or schedules).
        seed: seeds this client's generator ``(seed, rank)`` and the server's ``seed``.
        process_group: default group if None.
        **options: the method's options by their card names.
    """

    def __init__(self, name, model, compressor=None, *, stepsize, momentum=None, seed: int = 0,
                 process_group=None, **options):
        import torch.distributed as dist

        from .distributed import _seed_int, _SERVER_STREAM, check_method_args, check_wire
        from .optim import _steps

        if name not in SUPPORTED:
            raise ValueError(f"name must be one of the methods a DDP hook runs {list(SUPPORTED)}; got {name!r} "
                             "(methods that evaluate other points or HVPs run with algorithms.torch.optim)")
        self.card = card = _card(name)
        self.options = card.defaults(**options)
        check_method_args(card, compressor, momentum)
        self.compressor = compressor
        self.stepsize = as_schedule(stepsize, name="stepsize")
        self.momentum = None if momentum is None else as_schedule(momentum, name="momentum", high=1.0)
        seed = check_int("seed", seed, low=0)
        if not dist.is_available() or not dist.is_initialized():
            raise ValueError("process_group: torch.distributed must be initialized "
                             "(dist.init_process_group) before a CompressedHook is built")
        self.group = process_group
        self.dist = dist
        self.rank = dist.get_rank(process_group)
        self.n = dist.get_world_size(process_group)
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("model must have parameters that require gradients; got none")
        ref = self.params[0]
        self.device, self.dtype = ref.device, ref.dtype
        self.slices, start = {}, 0
        for p in self.params:
            self.slices[id(p)] = slice(start, start + p.numel())
            start += p.numel()
        self.d = start
        if compressor is not None and hasattr(compressor, "validate"):
            compressor.validate(self.d)
        check_wire(compressor, self.d, self.options.get("bits", "values"))
        self.gen = torch.Generator(device=self.device).manual_seed(_seed_int(seed, self.rank, 1))
        self.server_gen = torch.Generator(device=self.device).manual_seed(_seed_int(seed, _SERVER_STREAM))
        self.conv = _steps.sign_checks(card, self.options) if card.family == "sign" else None
        self.k = 0
        self.st: dict = {}
        self._grad = torch.zeros(self.d, device=self.device, dtype=self.dtype)
        self._pending: list = []
        self._steps = _steps

    # -- the hook ---------------------------------------------------------------------------------
    def hook(self, state, bucket):
        """DDP calls this per bucket; every bucket's future completes when the last bucket arrives."""
        fut = torch.futures.Future()
        for p, g in zip(bucket.parameters(), bucket.gradients()):
            self._grad[self.slices[id(p)]] = g.reshape(-1)
        self._pending.append((bucket, fut))
        if bucket.is_last():
            try:
                u = self._update()
                for b, f in self._pending:
                    for p, g in zip(b.parameters(), b.gradients()):
                        g.copy_(u[self.slices[id(p)]].view_as(g))
                    f.set_result(b.buffer())
            except Exception as err:   # noqa: BLE001 - every pending bucket learns the failure
                for _, f in self._pending:
                    f.set_exception(err)
            finally:
                self._pending = []
        return fut

    def _update(self) -> torch.Tensor:
        """One step of the method on the collected gradient; returns u with x_{k+1} = x_k - u."""
        from .distributed import WireAggregate

        steps, card, k = self._steps, self.card, self.k
        G = self._grad.reshape(1, self.d).clone()
        env = steps.ClientEnv(1, self.d, device=self.device, dtype=self.dtype, grad=lambda pts, xi: G,
                              generator=self.gen)
        server = steps.ClientEnv(1, self.d, device=self.device, dtype=self.dtype, grad=lambda pts, xi: G,
                                 generator=self.server_gen)
        agg = WireAggregate(self.dist, self.rank, self.n, self.d, self.device, self.dtype,
                            self.options.get("bits", "values"), one_node=card.centralized)
        env.k = server.k = agg.k = k
        zero = torch.zeros((1, self.d), device=self.device, dtype=self.dtype)
        gamma = self.stepsize(k)
        mom = None if self.momentum is None else self.momentum(k)
        if card.family == "ef21":
            blocks = None
            if card.normalized and self.options.get("normalize_scope") == "per_tensor":
                blocks = list(self.options.get("blocks") or [p.numel() for p in self.params])
            x_new = steps.ef21_step(env, card, self.st, zero, k, gamma=gamma, eta=1.0 if mom is None else mom,
                                    compressor=self.compressor, options=self.options, agg=agg, blocks=blocks)
        elif card.family == "local_ef" and card.step_ahead:
            return self._saef_update(steps, env, server, agg, gamma, k)
        elif card.family == "local_ef":
            x_new = steps.local_ef_step(env, card, self.st, zero, k, eta=gamma, compressor=self.compressor,
                                        options=self.options, agg=agg, server=server)
        else:
            x_new = steps.sign_step(env, card, self.st, zero, k, gamma=gamma, beta=mom, conv=self.conv, agg=agg,
                                    server=server)
        self.k = k + 1
        return torch.neg(x_new).reshape(-1)

    def _saef_update(self, steps, env, server, agg, gamma, k) -> torch.Tensor:
        """SAEF: rank i's parameters hold its step-ahead point y = x - e^(i), so ``backward()`` gave
        the gradient there; the hook keeps the server model x, runs the engine's EF step at x (the
        errors of iteration k were averaged at the end of step k - 1, as the engine averages them at
        the start of step k) and moves the parameters to the next step-ahead point."""
        import dataclasses

        y = torch.cat([p.detach().reshape(-1) for p in self.params]).reshape(1, self.d)
        x = self.st["x"] if "x" in self.st else y.clone()           # e^(i) = 0 at k = 0
        plain = dataclasses.replace(self.card, step_ahead=False)
        x_new = steps.local_ef_step(env, plain, self.st, x, k, eta=gamma, compressor=self.compressor,
                                    options={**self.options, "error_averaging": False}, agg=agg, server=server)
        if (k + 2) % self.options["p"] == 0:                        # step k + 1 starts with averaged errors
            self.st["e_loc"] = agg.mean(self.st["e_loc"]).unsqueeze(1).expand(1, 1, self.d).clone()
        self.st["x"] = x_new
        self.k = k + 1
        return (y - (x_new - self.st["e_loc"][:, 0])).reshape(-1)

    def model(self) -> torch.Tensor:
        """The server model x (flat): the parameters, except for SAEF, whose ranks hold x - e^(i)."""
        if self.card.step_ahead and "x" in self.st:
            return self.st["x"].reshape(-1).clone()
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The error-feedback state: step counter, client/server tensors, generator states."""
        return {"method": self.card.name, "k": self.k, "d": self.d, "n": self.n, "rank": self.rank,
                "st": copy.deepcopy({key: (v.detach().clone() if isinstance(v, torch.Tensor) else v)
                                     for key, v in self.st.items()}),
                "gen": self.gen.get_state(), "server_gen": self.server_gen.get_state()}

    def load_state_dict(self, sd: dict) -> None:
        if not isinstance(sd, dict) or sd.get("method") != self.card.name:
            got = sd.get("method") if isinstance(sd, dict) else type(sd).__name__
            raise ValueError(f"state_dict must be a {self.card.name!r} hook's state_dict(); got one of {got!r}")
        missing = sorted({"k", "st", "gen", "server_gen"} - set(sd))
        if missing:
            raise ValueError(f"state_dict must be a hook's state_dict(); this one lacks the keys {missing}")
        for key, mine in (("d", self.d), ("n", self.n), ("rank", self.rank)):
            if sd.get(key) != mine:
                raise ValueError(f"state_dict was saved with {key}={sd.get(key)}; this hook has {key}={mine}")
        self.k = int(sd["k"])
        self.st = {key: (v.to(self.device) if isinstance(v, torch.Tensor) and not v.is_floating_point()
                         else v.to(self.device, self.dtype) if isinstance(v, torch.Tensor) else v)
                   for key, v in sd["st"].items()}
        self.gen.set_state(sd["gen"])
        self.server_gen.set_state(sd["server_gen"])
        if self.card.step_ahead and "x" in self.st:
            # DDP made every rank's parameters rank 0's when it was built: put this rank's back at
            # its step-ahead point x - e^(i)
            y = (self.st["x"] - self.st["e_loc"][:, 0]).reshape(-1)
            with torch.no_grad():
                for p in self.params:
                    p.copy_(y[self.slices[id(p)]].view_as(p))
