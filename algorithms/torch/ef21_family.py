r"""The EF21 family on the batched engine: one loop, a batched client-estimator step per method.

Same semantics as the reference (:mod:`algorithms.numpy` EF21 family), written for tensors of
shape (S runs, n clients, d). One iteration k = 0..K-1, all runs and clients at once:

.. math::

   v^k &= \text{estimator}(v^{k-1}, x^k, x^{k-1}, \eta_k, \xi^k),\qquad
   c^k = \mathcal C(v^k - g^{k-1}),\qquad g_i^k = g_i^{k-1} + c_i^k,\qquad
   g^k = g^{k-1} + \tfrac1n\textstyle\sum_i c_i^k, \\
   x^{k+1} &= x^k - \gamma_k\, g^k \ \ \text{or}\ \ x^k - \gamma_k\, g^k/\|g^k\| .

Estimators (client i, batched over runs and clients; :math:`G = \nabla f_i(\cdot;\xi_i^k)`):

============  ======================================================================================
exact / sgd   :math:`v = \nabla f_i(x^k)` / :math:`\nabla f_i(x^k;\xi_i^k)`
polyak        :math:`v = (1-\eta)v + \eta\,\nabla f_i(x^k;\xi)`
igt           :math:`v = (1-\eta)v + \eta\,\nabla f_i(y;\xi)`, :math:`y = x^k + \frac{1-\eta}{\eta}(x^k - x^{k-1})`
rhm           :math:`v = (1-\eta)(v + \nabla^2 f_i(\hat x_i;\hat\xi)(x^k - x^{k-1})) + \eta\nabla f_i(x^k;\xi)`,
              :math:`\hat x_i = q_i x^k + (1-q_i)x^{k-1}`, :math:`q_i\sim U[0,1)` (aux stream)
hm            as rhm with the HVP at :math:`x^k` and the same draw
mvr           :math:`v = \nabla f_i(x^k;\xi) + (1-\eta)(v - \nabla f_i(x^{k-1};\xi))`
econtrol      :math:`v = \nabla f_i(x^k;\xi) + \eta_{ec} e_i`; after compression
              :math:`e_i \leftarrow e_i + \nabla f_i(x^k;\xi) - g_i^{k-1} - c_i`
============  ======================================================================================

Initialisation (option ``init``, the memory entering iteration 0): ``"gradient"`` (the
uncompressed :math:`\nabla f_i(x^0;\xi_i^0)`), ``"compressed"`` (its compression, drawn before
iteration 0's compressions) or ``"zero"``. The gradient at :math:`x^0` with the draw of
iteration 0 is evaluated once and reused at k = 0 (so :math:`v^0 = \nabla f_i(x^0;\xi_i^0)`
for Polyak/IGT/MVR; RHM/HM add an HVP along :math:`x^0 - x^{-1} = 0`). Oracle-call counts,
bits and diagnostics are those of the reference (``err_grad_g``, ``err_g_v``, ``err_v_grad``,
``err_v_grad_avg``, ``mirror_gap``, ``g_norm``, ``mean_grad_i_norm``; with
``record_clients=True`` also ``g_i``, ``v_i`` (S, K, n, d) and ``g`` (S, K, d)), each with the
leading run axis S.

Draw order (replay): per iteration, each client's sample draw(s) (RHM with an independent HVP
sample takes two), RHM's n uniforms from the aux stream, then the n compressions in client
order (preceded at k = 0 by the n initial ones of ``init="compressed"``).
"""

from __future__ import annotations

import torch

from eftheory.validation import check_blocks, check_choice, check_real

from ..registry import register
from ._core import ENGINE_OPTIONS, Env, FiniteWatch, Recorder, RunValues, normalize
from ._kernels import constant, keeps_non_finite

__all__: list[str] = []

INITS = ("gradient", "compressed", "zero")
BITS = ("values", "values+indices")
SCOPES = ("global", "per_tensor")
COMMON = {"init": "gradient", "bits": "values", "record_clients": False}
NORMALIZED = {"normalize_scope": "global", "blocks": None}


# --------------------------------------------------------------------------- batched estimators
# Each takes the loop context ``c`` (tensors of this iteration) and returns v^k (S, n, d).


def _exact(c):
    return c.G


def per_point(a):
    """A momentum-derived coefficient for a per-run point (S, d): a float as it is, a per-run
    (S, 1, 1) tensor as (S, 1)."""
    return a.reshape(a.shape[0], 1) if isinstance(a, torch.Tensor) else a


def _momentum(v, G, eta, tmp):
    """(1 - eta) v + eta G, written into v (``tmp``: scratch of the shape of G)."""
    return v.mul_(1.0 - eta).add_(torch.mul(G, eta, out=tmp))


def _polyak(c):
    return _momentum(c.v, c.G, c.eta, c.tmp)


def _igt(c):
    if c.k == 0:
        G = c.G                         # y^0 = x^0: the shared initial gradient
    else:
        y = c.x + per_point((1.0 - c.eta) / c.eta) * (c.x - c.x_prev)
        G = c.env.grad(y, c.xi, out="grad")
        c.watch("gradient grad_i", G, c.k)
    return _momentum(c.v, G, c.eta, c.tmp)


def _hessian_momentum(c, randomized: bool):
    step = c.x - c.x_prev
    if randomized:
        q = c.env.uniform(c.env.n).unsqueeze(-1)                     # (S, n, 1)
        x_hat = q * c.x.unsqueeze(1) + (1.0 - q) * c.x_prev.unsqueeze(1)
        xi = c.xi if c.options["rhm_same_sample"] else c.xi_hat
        h = c.env.hvp(x_hat, step, xi)
    else:
        h = c.env.hvp(c.x, step, c.xi)
    c.watch("Hessian-vector product hvp_i", h, c.k)
    c.hvp_calls += 1
    # (1 - eta)(v + h) + eta G
    return c.v.add_(h).mul_(1.0 - c.eta).add_(torch.mul(c.G, c.eta, out=c.tmp))


def _mvr(c):
    G_prev = c.G if c.k == 0 else c.env.grad(c.x_prev, c.xi, out="grad:prev")
    if c.k:
        c.watch("gradient grad_i", G_prev, c.k)
    v = c.v.sub_(G_prev).mul_(1.0 - c.eta)                         # G + (1 - eta)(v - G_prev)
    return torch.add(c.G, v, out=v)


def _econtrol(c):
    return c.G + c.options["econtrol_eta"] * c.e


# --------------------------------------------------------------------------- the error-feedback step


def _message(env, compressor, v, g_i, tmp):
    """``(c, idx, vals)``: the messages :math:`c_i = \\mathcal C(v_i - g_i)`, with the kept indices
    and values when the compressor is sparse (else ``idx = vals = None``)."""
    return env.compress_sparse(compressor, torch.sub(v, g_i, out=tmp), out="c")


def _mirror_update(g, c, n: int, g_i, k: int):
    """The server mirror :math:`g^k = g^{k-1} + \\frac1n\\sum_i c_i^k` (``g_i``: the clients'
    memories, read by no correct server step)."""
    return g + c.sum(dim=1).div_(constant(n, g))


#: estimators that carry v^{k-1} into the update (they update their own copy of v in place)
CARRIES_V = ("polyak", "igt", "rhm", "hm", "mvr")

ESTIMATORS = {
    "exact": (_exact, 0, 0),             # (update, sample draws per iteration, extra gradients at k >= 1)
    "sgd": (_exact, 1, 0),
    "polyak": (_polyak, 1, 0),
    "igt": (_igt, 1, 0),
    "rhm": (lambda c: _hessian_momentum(c, True), None, 0),
    "hm": (lambda c: _hessian_momentum(c, False), 1, 0),
    "mvr": (_mvr, 1, 1),
    "econtrol": (_econtrol, 1, 0),
}


class _Ctx:
    """The tensors one iteration's estimator sees."""

    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.hvp_calls = 0


# --------------------------------------------------------------------------- the loop


def _check_options(options: dict, normalized: bool, d: int):
    check_choice("init", options["init"], INITS)
    check_choice("bits", options["bits"], BITS)
    if not isinstance(options["record_clients"], bool):
        raise ValueError(f"record_clients must be True or False; got {options['record_clients']!r}")
    blocks = None
    if normalized:
        scope = check_choice("normalize_scope", options["normalize_scope"], SCOPES)
        raw = options["blocks"]
        if raw is not None:
            sizes = check_blocks(raw, d)
            if scope == "per_tensor":
                blocks = sizes
    return blocks


class LocalAggregate:
    """Every client of a run lives in this process: the reductions over the client axis.

    The ``torch.distributed`` runner's aggregate (``WireAggregate``) has the same reductions over
    all ranks' clients, computed from the compressed payloads it exchanges, so the server
    arithmetic of :func:`ef21_step` is the same in the engine, the optimizers and the ranks.
    """

    def __init__(self, n: int):
        self.n = int(n)

    def mean(self, t):
        """(S, d) mean over the clients of a dense (S, n, d) tensor."""
        return t.mean(dim=1)

    def message_sum(self, c, idx=None, vals=None, compressor=None):
        """The messages, (S, m, d) with their sum over axis 1 the sum over all clients (here c itself)."""
        return c

    def message_mean(self, c, idx=None, vals=None, compressor=None):
        """(S, d) mean over all clients of the messages c (S, n, d)."""
        return c.mean(dim=1)

    def vote(self, msgs):
        """(S, d) sum of the clients' sign messages (entries in {-1, 0, 1})."""
        return msgs.sum(dim=1)

    def downlink(self, t, compressor=None, signs: bool = False):
        """The server's broadcast: here every client already holds it."""
        return t


def ef21_step(env, st: dict, x, k: int, *, estimator: str, normalized: bool, gamma, eta, compressor,
              options: dict, agg, watch, blocks=None, step_uses_previous_mirror: bool = False):
    """One iteration k of an EF21-family method; returns x^{k+1} (S, d).

    The one implementation of the step outside the reference: the engine's loop
    (:func:`ef21_engine`), the ``torch.optim`` optimizers, the ``torch.distributed`` runner and
    the DDP hooks all call it. ``env``: the engine's :class:`~._core.Env` or an environment with
    its interface (``sample``, ``grad``, ``grad_pair`` under ``full``, ``hvp``, ``uniform``,
    ``compress_sparse``, ``buffer``); ``agg``: the reductions over clients
    (:class:`LocalAggregate` or the distributed runner's); ``watch(quantity, tensor, k)``: the
    finiteness watch. ``st`` carries the state between calls (filled at k = 0): ``g_i`` (S, n, d),
    ``g`` (S, d), ``v``, ``e``, ``x_prev``; after the call it also holds this iteration's ``grads``
    (exact local gradients under full diagnostics, else None), ``idx`` (the kept indices of a
    sparse message, else None) and ``hvp_calls``, which the engine's diagnostics read.
    """
    update, n_draws, _ = ESTIMATORS[estimator]
    if n_draws is None:                   # RHM: a second, independent sample for the HVP
        n_draws = 1 if options["rhm_same_sample"] else 2
    full = env.full
    xi = env.sample("xi") if n_draws >= 1 else None
    xi_hat = env.sample("xi_hat") if n_draws >= 2 else None
    # grad f_i(x^k; xi_i^k), (S, n, d); IGT needs it only at k = 0 (y^0 = x^0). The exact
    # local gradients at x^k (diagnostics) come with it from one oracle evaluation.
    grads = None
    if k == 0 or estimator != "igt":
        if full:
            G, grads = env.grad_pair(x, xi)
        else:
            G = env.grad(x, xi, out="grad")
        watch("gradient grad_i", G, k)
    else:
        G = None
        if full:
            grads = env.grad(x, None, out="grad:exact")
    if k == 0:
        init = options["init"]
        if init == "gradient":
            g_i = G.clone()
            g = agg.mean(g_i)
        elif init == "compressed":
            g_i, idx0, vals0 = env.compress_sparse(compressor, G)
            watch("message c_i", g_i, k)
            if g_i.untyped_storage().data_ptr() == G.untyped_storage().data_ptr():
                g_i = g_i.clone()             # g_i is updated in place below
            g = agg.message_mean(g_i, idx0, vals0, compressor)
        else:
            g_i = torch.zeros_like(G)
            g = torch.zeros_like(x)           # the mean of zero memories: nothing is sent
        v = G
        if estimator in CARRIES_V:            # v is updated in place: its own memory
            v = torch.empty(G.shape, device=G.device, dtype=G.dtype).copy_(G)
        st.update(g_i=g_i, g=g, v=v, e=torch.zeros_like(G), x_prev=x)
    g_i, g, e, tmp = st["g_i"], st["g"], st["e"], env.buffer("tmp")
    ctx = _Ctx(k=k, env=env, x=x, x_prev=st["x_prev"], eta=eta, G=G, v=st["v"], xi=xi, xi_hat=xi_hat,
               options=options, e=e, tmp=tmp, watch=watch)
    v = update(ctx)
    if v is not G:
        watch("estimator v_i", v, k)
    # compression against the memories; the server mirror
    c, idx, vals = _message(env, compressor, v, g_i, tmp)
    watch("message c_i", c, k)
    if estimator == "econtrol":
        e = e + G - g_i - c
        watch("estimator state e_i", e, k)
    if idx is not None:
        g_i.scatter_add_(-1, idx, vals)        # g_i + c: c is zero off idx
        watch("memory g_i", g_i.gather(-1, idx), k)   # the only entries that changed
    else:
        g_i.add_(c)
        watch("memory g_i", g_i, k)
    g_new = _mirror_update(g, agg.message_sum(c, idx, vals, compressor), agg.n, g_i, k)
    watch("mirror g", g_new, k)
    # server step
    mirror = g if step_uses_previous_mirror else g_new
    direction = normalize(mirror, blocks) if normalized else mirror
    x_new = x - gamma * direction
    watch("iterate x", x_new, k)
    st.update(g=g_new, v=v, e=e, x_prev=x, grads=grads, idx=idx, hvp_calls=ctx.hvp_calls)
    return x_new


def ef21_engine(name, problem, compressor, x0, iters, *, stepsize, momentum, seed, estimator: str,
                normalized: bool, options: dict, step_uses_previous_mirror: bool = False):
    """Run one EF21-family method on the batched engine (see the module docstring)."""
    eng = {k: options.pop(k) for k in ENGINE_OPTIONS}
    env = Env(name, problem, x0, seed=seed, seeds=eng["seeds"], device=eng["device"],
              dtype=eng["dtype"], draws=eng["draws"], oracle=eng["oracle"], diagnostics=eng["diagnostics"])
    S, n, d = env.S, env.n, env.d
    blocks = _check_options(options, normalized, d)
    extra_grads = ESTIMATORS[estimator][2]
    record = options["record_clients"]

    gamma = RunValues(stepsize, iters, env, ndim=2)             # floats, or (S, 1) per run (PerRun)
    eta = RunValues(momentum, iters, env, ndim=3) if momentum is not None else None   # (S, 1, 1) per run
    up_bits = float(compressor.bits(d, options["bits"]))
    init_bits = {"gradient": 32.0 * d, "zero": 0.0}.get(options["init"], up_bits)
    grad_calls = torch.ones(iters, dtype=torch.float64, device="cpu")
    grad_calls[1:] += extra_grads
    hvp_calls = [0.0] * iters

    rec = Recorder(env, iters)
    # a non-finite value of any watched quantity reaches x at its step or stays in the carried
    # state (g_i, g, v, e and x are only added to and scaled, the compressor keeps the NaN rule)
    # until it does: the fast watch reads x at every step and every quantity at the last step
    watch = FiniteWatch(env, iters, sinks=("iterate x",) if keeps_non_finite(compressor) else None)
    agg = LocalAggregate(n)
    full = env.full
    x = env.x0.unsqueeze(0).expand(S, d).clone()
    rec.point(0, x, owned=True)
    st: dict = {}
    for k in range(iters):
        x = ef21_step(env, st, x, k, estimator=estimator, normalized=normalized, gamma=gamma.at(k),
                      eta=1.0 if eta is None else eta.at(k),
                      compressor=compressor, options=options, agg=agg, watch=watch, blocks=blocks,
                      step_uses_previous_mirror=step_uses_previous_mirror)
        hvp_calls[k] = float(st["hvp_calls"])
        if full:
            g_i, v, idx, tmp = st["g_i"], st["v"], st["idx"], env.buffer("tmp")
            if idx is not None:
                # tmp still holds v - g_i^{k-1}, which is -(g_i^k - v) off idx (g_i unchanged
                # there): only the kept entries need g_i^k - v recomputed for ||g_i^k - v||
                tmp.scatter_(-1, idx, g_i.gather(-1, idx).sub_(v.gather(-1, idx)))
                err_g_v = torch.linalg.vector_norm(tmp, dim=-1).mean(dim=1)
            else:
                err_g_v = None
            _diagnose(rec, k, g_i, v, st["g"], st["grads"], tmp, err_g_v)
        if record:
            rec.record("g_i", k, st["g_i"])
            rec.record("v_i", k, st["v"])
            rec.record("g", k, st["g"])
        watch.done(k)
        rec.point(k + 1, x, owned=True)             # x^{k+1} is a new tensor, never written into

    return rec.result(
        stepsize=gamma.per_run(), momentum=None if eta is None else eta.per_run(), bits_up=[up_bits] * iters, bits_down=[0.0] * iters,
        grad_calls=grad_calls.numpy(), hvp_calls=hvp_calls, init_bits_up=init_bits,
        config={"name": name, "seed": seed, "options": dict(options), "stepsize": stepsize.label,
                "momentum": None if momentum is None else momentum.label,
                "compressor": repr(compressor), "estimator": estimator, "normalized": normalized,
                "blocks": blocks if blocks is not None else (d,), "bits": options["bits"],
                "bits_down": "model broadcast not counted (as in the papers)"})


def _diagnose(rec: Recorder, k: int, g_i, v, g, grads, tmp, err_g_v=None) -> None:
    """The reference's per-step diagnostics; ``grads``: exact local gradients at x^k;
    ``err_g_v``: that diagnostic when already known."""
    norm = lambda t: torch.linalg.vector_norm(t, dim=-1)
    if err_g_v is None:
        err_g_v = norm(torch.sub(g_i, v, out=tmp)).mean(dim=1)
    rec.record("err_grad_g", k, norm(torch.sub(grads, g_i, out=tmp)).mean(dim=1))
    rec.record("err_g_v", k, err_g_v)
    rec.record("err_v_grad", k, norm(torch.sub(v, grads, out=tmp)).mean(dim=1))
    grads_mean = grads.mean(dim=1)
    rec.record("err_v_grad_avg", k, norm(v.mean(dim=1) - grads_mean))
    rec.record("mirror_gap", k, norm(g - g_i.mean(dim=1)))
    rec.record("g_norm", k, norm(g))
    rec.record("mean_grad_i_norm", k, norm(grads).mean(dim=1))


# --------------------------------------------------------------------------- registration

# name: (estimator, normalized, init default, extra options, needs, momentum), read from the
# method cards (algorithms.cards), the one declaration of every method.
from ..cards import CARDS as _CARDS  # noqa: E402

_METHODS = {
    _c.name: (_c.estimator, _c.normalized, _c.options["init"],
              {k: v for k, v in _c.options.items() if k not in COMMON}, _c.needs, _c.momentum)
    for _c in _CARDS.values() if _c.family == "ef21"
}


def _make(name, estimator, normalized, defaults):
    def fn(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
        options = {**defaults, **options}
        uses_prev = False
        if estimator == "rhm" and not isinstance(options["rhm_same_sample"], bool):
            raise ValueError(f"rhm_same_sample must be True or False; got {options['rhm_same_sample']!r}")
        if estimator == "econtrol":
            options["econtrol_eta"] = check_real("econtrol_eta", options["econtrol_eta"], low=0.0, high=1.0)
            uses = check_choice("econtrol_step_uses", options["econtrol_step_uses"], ("h_next", "h_prev"))
            uses_prev = uses == "h_prev"
        return ef21_engine(name, problem, compressor, x0, iters, stepsize=stepsize, momentum=momentum,
                           seed=seed, estimator=estimator, normalized=normalized, options=options,
                           step_uses_previous_mirror=uses_prev)

    fn.__name__ = name.replace("-", "_")
    fn.__doc__ = f"{name} on the batched engine; see :mod:`algorithms.torch.ef21_family`."
    return fn


for _name, (_est, _norm, _init, _extra, _needs, _mom) in _METHODS.items():
    _defaults = {**COMMON, "init": _init, **_extra, **ENGINE_OPTIONS}
    register(_name, backend="torch", options=ENGINE_OPTIONS)(_make(_name, _est, _norm, _defaults))
