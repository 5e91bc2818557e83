r"""Machinery shared by the ``torch.optim`` optimizers of :mod:`algorithms.torch.optim`.

* The parameters of all groups, in group order, form one flat vector :math:`x \in \mathbb R^d`
  (the vector of the theory). Per-group ``lr`` (and momentum) values act on their group's slice.
* Client state lives in ``self.state["ef"]`` as flat tensors: ``(n, d)`` per-client buffers
  (:math:`g_i`, :math:`v_i`, :math:`e_i`, ...), ``(d,)`` server buffers, the step counter ``k``.
* Oracle calls go through :meth:`_ClientOptimizer._oracle`, which puts the parameters at the
  requested point, calls ``closure(i, fresh)`` and differentiates the returned loss (twice for a
  Hessian-vector product).

Nothing here registers an algorithm; importing this module costs one ``import torch``.
"""

from __future__ import annotations

import copy
import math

import torch
from torch.optim import Optimizer

from eftheory.schedules import as_schedule
from eftheory.validation import check_choice, check_flag, check_int, check_period

__all__: list[str] = []

SCOPES = ("global", "per_tensor")
_STATE_KEY = "ef"


def check_compressor(compressor):
    """A compressor object with a batched ``torch(v, generator=None, u=None)`` method."""
    if compressor is None or not callable(getattr(compressor, "torch", None)):
        raise ValueError(
            "compressor must be an eftheory.compressors object with a torch(v, generator) "
            f"method; got {compressor!r}")
    return compressor


def check_closure(closure):
    if closure is None or not callable(closure):
        raise ValueError(
            "closure must be a callable closure(i, fresh) returning client i's loss "
            f"(this optimizer evaluates every client's gradient itself); got {closure!r}")
    return closure


def check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    return generator


def schedule_value(group: dict, name: str, k: int, *, high: float = math.inf,
                   low_open: bool = True) -> float:
    """Value at step k of the group's hyper-parameter ``name`` (float or schedule)."""
    value = group[name]
    if low_open:
        return as_schedule(value, name=name, high=high)(k)
    # [0, high]: a zero value is allowed (EControl's eta = 0 recovers EF21)
    v = value(k) if callable(value) else value
    from eftheory.validation import check_real
    return check_real(name if not callable(value) else f"{name}({k})", v, low=0.0, high=high)


class _ClientOptimizer(Optimizer):
    """Flat-vector optimizer simulating ``n_clients`` clients; subclasses implement ``_step``.

    Subclasses set ``_hyper`` = {name: (high, low_open)} for their per-group schedules; each is
    validated in every group at construction and read per step with :func:`schedule_value`.
    """

    _hyper: dict[str, tuple[float, bool]] = {"lr": (math.inf, True)}
    _needs_hvp = False

    def __init__(self, params, defaults: dict, *, n_clients: int, generator=None):
        super().__init__(params, defaults)
        self.n_clients = check_int("n_clients", n_clients, low=1)
        self.generator = check_generator(generator)
        for group in self.param_groups:
            for name, (high, low_open) in self._hyper.items():
                value = group[name]
                if not callable(value):
                    if low_open:
                        as_schedule(value, name=name, high=high)
                    else:
                        schedule_value(group, name, 0, high=high, low_open=False)
            for p in group["params"]:
                if not p.requires_grad:
                    raise ValueError("params must all require gradients (requires_grad=True); "
                                     "leave frozen tensors out of the optimizer")

    # ---------------------------------------------------------------- layout / flat views
    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def _slices(self) -> list[slice]:
        out, start = [], 0
        for p in self._params():
            out.append(slice(start, start + p.numel()))
            start += p.numel()
        return out

    def _group_slices(self) -> list[tuple[dict, slice]]:
        out, start = [], 0
        for group in self.param_groups:
            size = sum(p.numel() for p in group["params"])
            out.append((group, slice(start, start + size)))
            start += size
        return out

    @property
    def dim(self) -> int:
        return sum(p.numel() for p in self._params())

    def _flat(self) -> torch.Tensor:
        """The current parameters as one detached vector x."""
        return torch.cat([p.detach().reshape(-1) for p in self._params()])

    @torch.no_grad()
    def _set_flat(self, x: torch.Tensor) -> None:
        for p, sl in zip(self._params(), self._slices()):
            p.copy_(x[sl].view_as(p))

    def _per_group(self, name: str, k: int, like: torch.Tensor, **kw) -> torch.Tensor | float:
        """The hyper-parameter ``name`` at step k: a float if all groups agree, else a (d,) vector."""
        vals = [(schedule_value(g, name, k, **kw), sl) for g, sl in self._group_slices()]
        if all(v == vals[0][0] for v, _ in vals):
            return vals[0][0]
        out = torch.empty(like.shape[-1], dtype=like.dtype, device=like.device)
        for v, sl in vals:
            out[sl] = v
        return out

    # ---------------------------------------------------------------- state
    @property
    def _st(self) -> dict:
        return self.state[_STATE_KEY]

    def _new_state(self, x: torch.Tensor) -> dict:
        return {"k": 0}

    def _state(self, x: torch.Tensor) -> dict:
        st = self.state[_STATE_KEY]
        if not st:
            st.update(self._new_state(x))
            st["n_clients"] = self.n_clients
            st["dim"] = x.numel()
        elif st["dim"] != x.numel():
            raise ValueError(f"params changed size since the first step (d={st['dim']} -> {x.numel()}); "
                             "create a new optimizer")
        return st

    def state_dict(self) -> dict:
        """State with cloned tensors: step counter, client/server buffers, generator state."""
        sd = super().state_dict()
        sd["state"] = copy.deepcopy(sd["state"])
        if self.generator is not None:
            sd["state"].setdefault(_STATE_KEY, {})["generator"] = self.generator.get_state()
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = copy.deepcopy(state_dict)
        st = state_dict["state"].get(_STATE_KEY, {})
        if st and st.get("n_clients", self.n_clients) != self.n_clients:
            raise ValueError(f"n_clients must equal the saved n_clients={st['n_clients']}; "
                             f"got {self.n_clients}")
        gen_state = st.pop("generator", None)
        super().load_state_dict(state_dict)
        ref = self._params()[0]
        ef = self.state[_STATE_KEY]
        for key, value in list(ef.items()):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                ef[key] = value.to(device=ref.device, dtype=ref.dtype)
        if gen_state is not None:
            if self.generator is None:
                raise ValueError("generator must be a torch.Generator to restore a state saved with one; got None")
            self.generator.set_state(gen_state)

    # ---------------------------------------------------------------- oracle
    def _oracle(self, closure, i: int, x: torch.Tensor, *, fresh: bool,
                direction: torch.Tensor | None = None):
        """Gradient of client i's loss at x (and its Hessian times ``direction``).

        Returns ``(grad, hvp, loss)`` with flat detached tensors (``hvp`` is None without a
        direction). The parameters are left at x.
        """
        params = self._params()
        self._set_flat(x)
        for p in params:
            p.grad = None
        with torch.enable_grad():
            loss = closure(i, fresh)
            if not isinstance(loss, torch.Tensor):
                raise ValueError(f"closure must return client i's loss as a torch.Tensor; got {type(loss).__name__}")
            if any(p.grad is not None for p in params):
                if direction is not None:
                    raise ValueError("closure must return the loss without calling backward() for "
                                     f"{type(self).__name__} (it needs Hessian-vector products by double backprop)")
                grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
                for p in params:
                    p.grad = None
            else:
                if not loss.requires_grad:
                    raise ValueError("closure must return a loss that depends on the parameters "
                                     "(a tensor with requires_grad=True)")
                grads = torch.autograd.grad(loss, params, create_graph=direction is not None,
                                            allow_unused=True)
                grads = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params)]
            grad = torch.cat([g.reshape(-1) for g in grads])
            hvp = None
            if direction is not None:
                dot = (grad * direction).sum()
                if dot.requires_grad:
                    hv = torch.autograd.grad(dot, params, allow_unused=True)
                    hv = [h if h is not None else torch.zeros_like(p) for h, p in zip(hv, params)]
                    hvp = torch.cat([h.reshape(-1) for h in hv]).detach()
                else:   # loss linear in the parameters
                    hvp = torch.zeros_like(grad)
        return grad.detach(), hvp, loss.detach()


class _Compressing:
    """Mixin: compressor applied to the flattened vector or per parameter tensor."""

    def _init_compression(self, compressor, compress: str) -> None:
        self.compressor = check_compressor(compressor)
        self.compress = check_choice("compress", compress, SCOPES)
        if compress == "per_tensor":
            from eftheory.compressors import Blockwise

            self._block_compressor = Blockwise(compressor, [p.numel() for p in self._params()])
        if hasattr(compressor, "validate"):
            if compress == "global":
                compressor.validate(self.dim)
            else:
                for p in self._params():
                    compressor.validate(p.numel())
        if getattr(compressor, "random", False) and self.generator is None:
            raise ValueError(f"generator must be a torch.Generator for the random compressor {compressor!r}; "
                             "got None")

    def _compress(self, V: torch.Tensor) -> torch.Tensor:
        """C along the last axis of V (clients batched): on the flattened vector, or per tensor
        as ``Blockwise(C, tensor sizes)`` (one draw of uniforms for the whole vector)."""
        C = self.compressor if self.compress == "global" else self._block_compressor
        return C.torch(V, generator=self.generator)


class _Normalizing:
    """Mixin: the normalized direction g/||g|| over the global vector or per tensor (0 -> 0)."""

    def _init_normalization(self, normalize: str) -> None:
        self.normalize = check_choice("normalize", normalize, SCOPES)

    @staticmethod
    def _unit(g: torch.Tensor) -> torch.Tensor:
        nrm = torch.linalg.vector_norm(g)
        return g / nrm if float(nrm) > 0 else torch.zeros_like(g)

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        if self.normalize == "global":
            return self._unit(g)
        return torch.cat([self._unit(g[sl]) for sl in self._slices()])
