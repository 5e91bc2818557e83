r"""The one ``torch.optim.Optimizer`` behind every optimizer of :mod:`algorithms.torch.optim`.

:class:`CardOptimizer` reads its method card (:mod:`algorithms.cards`) and runs the engine's
batched step of the card's family (:mod:`._steps`) on the model's flattened parameters:

* the parameters of all groups, in group order, form one vector :math:`x \in \mathbb R^d`;
  per-group ``stepsize`` (and ``momentum``) values act on the group's slice;
* the n simulated clients are the engine's client axis: state tensors are (1, n, d) (the
  engine's (S, n, d) with S = 1), kept in ``self.state["ef"]``;
* every oracle call the engine's step makes (``env.grad``, ``env.hvp``) becomes one call of
  ``closure(i, fresh)`` per client with the parameters put at the requested point, and
  :func:`torch.autograd.grad` of the returned loss (twice for a Hessian-vector product).

Nothing here registers an algorithm.
"""

from __future__ import annotations

import copy
import inspect
import math

import torch
from torch.optim import Optimizer

from eftheory.schedules import as_schedule
from eftheory.validation import check_blocks, check_choice, check_flag, check_int, check_period, check_real

from ...cards import card as _card
from . import _steps

__all__ = ["CardOptimizer"]

SCOPES = ("global", "per_tensor")
_STATE_KEY = "ef"

CLOSURE_HELP = ("closure(i, fresh) returning client i's loss as a scalar tensor (without calling "
                "backward()): the optimizer simulates every client and differentiates the loss itself, "
                "so call opt.step(closure) instead of loss.backward(); opt.step() -- see the "
                "optimizer's docstring for an example")


def check_compressor(compressor):
    """A compressor object with a batched ``torch(v, generator=None, u=None)`` method."""
    if compressor is None or not callable(getattr(compressor, "torch", None)):
        raise ValueError(
            "compressor must be an eftheory.compressors object with a torch(v, generator) "
            f"method; got {compressor!r}")
    return compressor


def check_closure(closure):
    if closure is None:
        raise ValueError(f"step() needs a closure here (more than one client, or a method that evaluates "
                         f"other points): pass {CLOSURE_HELP}")
    if not callable(closure):
        raise ValueError(f"closure must be a callable {CLOSURE_HELP}; got {closure!r}")
    try:
        inspect.signature(closure).bind(0, True)
    except TypeError:
        raise ValueError(f"closure must take (i, fresh): pass {CLOSURE_HELP}; got {closure!r}") from None
    except ValueError:   # no signature to check (a builtin): the call itself tells
        pass
    return closure


def check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    return generator


class CardOptimizer(Optimizer):
    """An optimizer simulating ``n_clients`` clients of the method ``card_name`` on a real model.

    Args:
        params: parameters or parameter groups (all groups form one vector x).
        stepsize: :math:`\\gamma_k` (002/003's :math:`\\eta_t`), a float > 0 or a schedule ``k -> value``.
        momentum: the method's momentum (EF21's :math:`\\eta_k`, 003's :math:`\\beta_t`) in (0, 1],
            float or schedule; ``None`` for methods without momentum.
        n_clients: number n >= 1 of simulated clients; ``closure(i, fresh)`` serves client i.
        compressor: an :mod:`eftheory.compressors` object (methods with a compressor only).
        compress: ``"global"`` (the flattened vector) or ``"per_tensor"`` (``Blockwise`` over the
            parameter tensors; changes :math:`\\alpha`).
        generator: ``torch.Generator`` of every random draw (random compressor, RHM's
            :math:`q_i^k`, stochastic signs); saved by ``state_dict``.
        uniforms: optional ``(shape, purpose) -> tensor`` replacing the generator's uniforms
            (``purpose`` is ``"compress"`` or ``"aux"``), to replay given draws.
        **options: the method's options, named and defaulted as on its card (``algorithms.run``'s
            vocabulary, e.g. ``init``, ``normalize_scope``, ``rhm_same_sample``, ``econtrol_eta``).

    Example (three clients, each with its own data shard; the closure returns client i's loss
    and does not call ``backward()``)::

        import torch
        from algorithms.torch.optim import EF21Norm
        from eftheory.compressors import TopK

        model = torch.nn.Linear(5, 1)
        shards = [(torch.randn(16, 5), torch.randn(16, 1)) for _ in range(3)]
        opt = EF21Norm(model.parameters(), stepsize=0.05, n_clients=3, compressor=TopK(2))

        def closure(i, fresh):
            X, y = shards[i]
            return torch.nn.functional.mse_loss(model(X), y)

        for k in range(100):
            opt.step(closure)
    """

    card_name = ""

    def __init__(self, params, stepsize, momentum=None, *, n_clients=1, compressor=None,
                 compress="global", generator=None, uniforms=None, **options):
        card = self.card = _card(self.card_name)
        super().__init__(params, {"stepsize": stepsize, "momentum": momentum, "method": card.name})
        self.n_clients = check_int("n_clients", n_clients, low=1)
        self.generator = check_generator(generator)
        if uniforms is not None and not callable(uniforms):
            raise ValueError(f"uniforms must be a callable (shape, purpose) -> tensor or None; got {uniforms!r}")
        self.uniforms = uniforms
        for group in self.param_groups:
            if group.get("method", card.name) != card.name:
                raise ValueError(f"param group method must be {card.name!r}; got {group['method']!r}")
            self._check_hyper(group)
            for p in group["params"]:
                if not p.requires_grad:
                    raise ValueError("params must all require gradients (requires_grad=True); "
                                     "leave frozen tensors out of the optimizer")
        self.options = self._check_options(card.defaults(**options))
        if card.compressor == "required":
            self.compressor = check_compressor(compressor)
            self.compress = check_choice("compress", compress, SCOPES)
            if self.compress == "per_tensor":
                from eftheory.compressors import Blockwise

                self._compressor = Blockwise(compressor, [p.numel() for p in self._params()])
                for p in self._params():
                    if hasattr(compressor, "validate"):
                        compressor.validate(p.numel())
            else:
                self._compressor = compressor
                if hasattr(compressor, "validate"):
                    compressor.validate(self.dim)
            if getattr(compressor, "random", False) and generator is None and uniforms is None:
                raise ValueError(f"generator must be a torch.Generator for the random compressor {compressor!r}; "
                                 "got None")
        else:
            if compressor is not None:
                raise ValueError(f"compressor must be None for {card.name!r} (it sends signs); got {compressor!r}")
            self.compressor = self._compressor = None
        needs_draws = (card.hvp and card.estimator == "rhm") or card.uplink == "stochastic_sign" \
            or card.downlink == "stochastic_sign"
        if needs_draws and generator is None and uniforms is None:
            raise ValueError(f"generator must be a torch.Generator for {card.name!r}'s random draws; got None")

    # ---------------------------------------------------------------- validation
    def _check_hyper(self, group) -> None:
        card = self.card
        value = group["stepsize"]
        if value is None:
            raise ValueError(f"stepsize must be given for {card.name!r}: a float or schedule > 0")
        if not callable(value):
            as_schedule(value, name="stepsize")
        mom = group.get("momentum")
        if card.momentum == "none" and mom is not None:
            raise ValueError(f"momentum must be None for {card.name!r} (it has no momentum parameter); got {mom!r}")
        if card.momentum == "required" and mom is None:
            raise ValueError(f"momentum must be given for {card.name!r}: a float or schedule in (0, 1]")
        if mom is not None and not callable(mom):
            as_schedule(mom, name="momentum", high=1.0)

    def _check_options(self, o: dict) -> dict:
        card = self.card
        if card.family == "ef21":
            check_choice("init", o["init"], ("gradient", "compressed", "zero"))
            check_choice("bits", o["bits"], ("values", "values+indices"))
            if "normalize_scope" in o:
                check_choice("normalize_scope", o["normalize_scope"], SCOPES)
            if "rhm_same_sample" in o:
                check_flag("rhm_same_sample", o["rhm_same_sample"])
            if "econtrol_eta" in o:
                o["econtrol_eta"] = check_real("econtrol_eta", o["econtrol_eta"], low=0.0, high=1.0)
                check_choice("econtrol_step_uses", o["econtrol_step_uses"], ("h_next", "h_prev"))
        elif card.family == "local_ef":
            o["mu"] = check_real("mu", o["mu"], low=0.0, high=1.0, high_open=True)
            o["p"] = check_period(o["p"])
            check_flag("double_way", o["double_way"])
            if check_flag("error_averaging", o.get("error_averaging", False)) and o["p"] == math.inf:
                raise ValueError("p must be a finite integer in [1, inf) when error_averaging=True; got inf")
        else:
            self._conv = _steps.sign_checks(card, o)
        return o

    # ---------------------------------------------------------------- layout / flat views
    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def _slices(self) -> list[slice]:
        out, start = [], 0
        for p in self._params():
            out.append(slice(start, start + p.numel()))
            start += p.numel()
        return out

    @property
    def dim(self) -> int:
        return sum(p.numel() for p in self._params())

    def _flat(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params()])

    @torch.no_grad()
    def _set_flat(self, x: torch.Tensor) -> None:
        x = x.reshape(-1)
        for p, sl in zip(self._params(), self._slices()):
            p.copy_(x[sl].view_as(p))

    def _per_group(self, name: str, k: int, like: torch.Tensor, high: float = math.inf):
        """The hyper-parameter ``name`` at step k: a float if all groups agree, else a (d,) vector."""
        vals, start = [], 0
        for group in self.param_groups:
            size = sum(p.numel() for p in group["params"])
            vals.append((as_schedule(group[name], name=name, high=high)(k), slice(start, start + size)))
            start += size
        if all(v == vals[0][0] for v, _ in vals):
            return vals[0][0]
        out = torch.empty(like.shape[-1], dtype=like.dtype, device=like.device)
        for v, sl in vals:
            out[sl] = v
        return out

    # ---------------------------------------------------------------- state
    def _state(self, x: torch.Tensor) -> dict:
        st = self.state[_STATE_KEY]
        if not st:
            st.update({"k": 0, "n_clients": self.n_clients, "dim": x.numel(), "method": self.card.name,
                       "step": {}})
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
        """Load a state saved by an optimizer of the same method; ValueError (one line) otherwise."""
        mine = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"state_dict must be a {mine}.state_dict() (keys 'state' and 'param_groups'); got {got}")
        groups = state_dict["param_groups"]
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise ValueError(f"state_dict['param_groups'] must be a list of dicts as {mine}.state_dict() gives")
        methods = {g.get("method") for g in groups}
        st = state_dict["state"].get(_STATE_KEY, {}) if isinstance(state_dict["state"], dict) else None
        if st is None:
            raise ValueError(f"state_dict['state'] must be a dict as {mine}.state_dict() gives")
        if st:
            methods.add(st.get("method"))
        if methods != {self.card.name}:
            raise ValueError(f"state_dict was saved by an optimizer of {sorted(map(str, methods))}, not of "
                             f"{self.card.name!r}: load it into the optimizer of that method")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups)} param groups; this optimizer has {len(self.param_groups)}")
        if st and st.get("n_clients") != self.n_clients:
            raise ValueError(f"n_clients must equal the saved n_clients={st.get('n_clients')}; got {self.n_clients}")
        if st and st.get("dim") != self.dim:
            raise ValueError(f"params must have the saved size d={st.get('dim')}; got d={self.dim}")
        state_dict = copy.deepcopy(state_dict)
        st = state_dict["state"].get(_STATE_KEY, {})
        gen_state = st.pop("generator", None)
        if gen_state is not None and self.generator is None:
            raise ValueError("generator must be a torch.Generator to restore a state saved with one; got None")
        try:
            super().load_state_dict(state_dict)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"state_dict does not fit this {mine}: {err}") from None
        ref = self._params()[0]
        step = self.state[_STATE_KEY].get("step", {})
        for key, value in list(step.items()):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                step[key] = value.to(device=ref.device, dtype=ref.dtype)
        if gen_state is not None:
            self.generator.set_state(gen_state)

    # ---------------------------------------------------------------- oracle
    def _oracle(self, closure, i: int, x: torch.Tensor, *, fresh: bool,
                direction: torch.Tensor | None = None):
        """Gradient of client i's loss at x (and its Hessian times ``direction``), flat, detached."""
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

    def _env(self, closure, x: torch.Tensor) -> _steps.ClientEnv:
        """The engine environment of one step: every oracle call goes through ``closure``."""
        n, d = self.n_clients, x.numel()
        seen: set = set()
        tokens: list = []
        losses: dict[int, torch.Tensor] = {}

        def fresh(xi, i):
            if xi is None:
                return True
            key = (id(xi), i)
            if key in seen:
                return False
            seen.add(key)
            return True

        def grad(points, xi):
            out = torch.empty((n, d), dtype=x.dtype, device=x.device)
            for i in range(n):
                out[i], _, loss = self._oracle(closure, i, points[i], fresh=fresh(xi, i))
                losses.setdefault(i, loss)
            return out

        def hvp(points, dirs, xi):
            out = torch.empty((n, d), dtype=x.dtype, device=x.device)
            for i in range(n):
                _, out[i], loss = self._oracle(closure, i, points[i], fresh=fresh(xi, i), direction=dirs[i])
                losses.setdefault(i, loss)
            return out

        def sample(slot):
            token = object()                # one draw of every client: its first use is fresh
            tokens.append(token)
            return token

        env = _steps.ClientEnv(n, d, device=x.device, dtype=x.dtype, grad=grad, hvp=hvp, sample=sample,
                               generator=self.generator, uniforms=self.uniforms)
        env.losses = losses
        return env

    # ---------------------------------------------------------------- the step
    def _standard_loop(self) -> bool:
        """Whether ``step()`` may use the gradients ``loss.backward()`` left in ``p.grad``: one client
        whose step needs only the gradient at the current parameters."""
        card = self.card
        if self.n_clients != 1:
            return False
        if card.family == "ef21" and card.estimator not in ("exact", "sgd", "polyak", "econtrol"):
            return False
        if card.family == "local_ef" and card.step_ahead:
            return False
        return all(p.grad is not None for p in self._params())

    def _grad_env(self, x: torch.Tensor) -> _steps.ClientEnv:
        """The engine environment of a standard-loop step: the oracle is the gradient in ``p.grad``."""
        G = torch.cat([p.grad.detach().reshape(-1) for p in self._params()]).to(x.dtype).reshape(1, -1)
        env = _steps.ClientEnv(1, x.numel(), device=x.device, dtype=x.dtype, grad=lambda points, xi: G,
                               generator=self.generator, uniforms=self.uniforms)
        env.losses = {}
        return env

    def step(self, closure=None):
        """One iteration of the method; every client evaluates through ``closure(i, fresh)``.

        With ``n_clients=1`` and a method that needs only the gradient at the current parameters
        (EF21, ‖EF21‖, EF21-SGD(M), ‖EF21-SGDM‖, EControl, EF, the sign methods), ``step()`` without
        a closure uses the gradient ``loss.backward()`` left in ``p.grad`` (the standard loop).
        Returns the mean over clients of each client's first loss of the step (None without closure).
        """
        if closure is None and self._standard_loop():
            closure_env = self._grad_env
        else:
            closure = check_closure(closure)
            closure_env = lambda x: self._env(closure, x)     # noqa: E731
        card = self.card
        x_flat = self._flat()
        st = self._state(x_flat)
        k = st["k"]
        x = x_flat.unsqueeze(0)                                   # (S=1, d)
        env = closure_env(x_flat)
        agg = _steps.LocalAggregate(self.n_clients)
        gamma = self._per_group("stepsize", k, x_flat)
        mom = None if card.momentum == "none" else self._per_group("momentum", k, x_flat, high=1.0)
        if card.family == "ef21":
            blocks = None
            if card.normalized and self.options.get("normalize_scope") == "per_tensor":
                raw = self.options.get("blocks")
                blocks = check_blocks(raw, self.dim) if raw is not None else [p.numel() for p in self._params()]
            x_new = _steps.ef21_step(env, card, st["step"], x, k, gamma=gamma, eta=1.0 if mom is None else mom,
                                     compressor=self._compressor, options=self.options, agg=agg, blocks=blocks)
        elif card.family == "local_ef":
            x_new = _steps.local_ef_step(env, card, st["step"], x, k, eta=gamma, compressor=self._compressor,
                                         options=self.options, agg=agg)
        else:
            x_new = _steps.sign_step(env, card, st["step"], x, k, gamma=gamma, beta=mom, conv=self._conv, agg=agg)
        self._set_flat(x_new)
        st["k"] = k + 1
        losses = [env.losses[i] for i in sorted(env.losses)]
        return torch.stack(losses).mean() if losses else None
