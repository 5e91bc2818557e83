r"""Local error feedback (EF) and step-ahead error feedback (SAEF) of [002] on the batched engine.

Same semantics as the reference (:mod:`algorithms.numpy.ef`, :mod:`algorithms.numpy.saef`),
on tensors of shape (S runs, n workers, d). One iteration t, all runs and workers at once:

.. math::

    &e^{(k)} \leftarrow \bar e \ \text{ if averaging and } (t+1) \bmod p = 0,\qquad
     y^{(k)} = x_t \ (\text{EF})\ \text{ or }\ x_t - e_t^{(k)}\ (\text{SAEF}) \\
    &m^{(k)} \leftarrow \mu m^{(k)} + \nabla f_k(y^{(k)};\xi_t^{(k)}),\quad
     \Delta^{(k)} = e^{(k)} + \eta_t m^{(k)},\quad e^{(k)} \leftarrow \Delta^{(k)} - \mathcal C(\Delta^{(k)}) \\
    &\Delta = e + \tfrac1n\textstyle\sum_k \mathcal C(\Delta^{(k)}),\quad
     e \leftarrow \Delta - \mathcal C(\Delta)\ (\text{double way; single way: } e = 0),\quad
     x_{t+1} = x_t - \mathcal C(\Delta).

Diagnostics, bits and call counts are the reference's (``grad_norm_l1``, ``x_aux``,
``server_error_norm``, ``client_error_norm``, ``mismatch_ef``, ``mismatch_saef``,
``momentum_mean``, ``grad_mean``, ``momentum_sq_norm``, ``averaged``, and ``client_errors`` with
``record_clients=True``), each with a leading run axis S. Draw order (replay): per iteration,
one sample per worker; the n worker compressions, then the server's (double way).
"""

from __future__ import annotations

import math

import torch

from eftheory.validation import check_flag as _check_flag
from eftheory.validation import check_period as _check_period
from eftheory.validation import check_real

from ..cards import card as _card
from ..registry import register
from ._core import ENGINE_OPTIONS, Env, FiniteWatch, Recorder, RunValues
from ._kernels import keeps_non_finite
from .ef21_family import LocalAggregate

__all__: list[str] = []


def _evaluation_point(env, x, e_loc, step_ahead: bool):
    """Where the workers evaluate their gradients: :math:`x_t` (EF) or :math:`x_t - e_t^{(k)}` (SAEF)."""
    return torch.sub(x.unsqueeze(1), e_loc, out=env.buffer("y")) if step_ahead else x


def _momentum_step(m, g, mu: float):
    """:math:`m \\leftarrow \\mu m + g`, in place."""
    return m.mul_(mu).add_(g)


def _local_error(delta_k, c_loc, idx, vals):
    """The error fed back, :math:`\\Delta^{(k)} - \\mathcal C(\\Delta^{(k)})`; with a sparse message
    (``idx``, ``vals``) it is written into ``delta_k`` (c is zero off idx)."""
    if idx is not None:
        kept = delta_k.gather(-1, idx).sub_(vals)
        return delta_k.scatter_(-1, idx, kept)
    return delta_k - c_loc


def local_ef_step(env, st: dict, x, t: int, *, eta, mu: float, p, step_ahead: bool, average: bool,
                  double_way: bool, compressor, agg, watch, rec=None, before=None, record_clients=False,
                  server=None, local_feedback: bool = True):
    """One iteration t of EF / SAEF (the module docstring's update); returns x_{t+1} (S, d).

    The one implementation of the step outside the reference: the engine's loop, the
    ``torch.optim`` optimizers and the ``torch.distributed`` runner call it. ``st`` carries
    ``m``, ``e_loc`` (S, n, d), ``e_srv`` (S, d) and optionally ``spare`` (a buffer of the shape
    of m that the next :math:`\\Delta^{(k)}` is written into); after the call also ``averaged``
    (1.0 when the local errors were averaged at t) and ``x``. ``agg``: the reductions over
    workers; ``server``: the environment of the server's compression (default ``env``);
    ``before(t, x, e_loc, e_srv)``: called with the state entering the step (the engine's
    recorder); ``rec``: the engine's recorder (per-step diagnostics under full diagnostics).
    """
    e_loc, m, e_srv = st["e_loc"], st["m"], st["e_srv"]
    shape = e_loc.shape
    st["averaged"] = 0.0
    if average and (t + 1) % p == 0:
        e_loc = agg.mean(e_loc).unsqueeze(1).expand(*shape).clone()
        st["averaged"] = 1.0
    if before is not None:
        before(t, x, e_loc, e_srv)
    xi = env.sample()
    y = _evaluation_point(env, x, e_loc, step_ahead)
    if record_clients and rec is not None:
        rec.record("eval_points", t, y.expand(*shape) if y.dim() == 3 else y.unsqueeze(1).expand(*shape))
    g = env.grad(y, xi, out="grad")
    watch("gradient grad_i", g, t)
    m = _momentum_step(m, g, mu)
    watch("momentum m_i", m, t)
    spare = st.get("spare")
    delta_k = torch.mul(m, eta, out=spare).add_(e_loc)             # e_loc + eta m
    c_loc, idx, vals = env.compress_sparse(compressor, delta_k, out="c")
    watch("message c_i", c_loc, t)
    mean_msg = agg.message_mean(c_loc, idx, vals, compressor)
    e_new = _local_error(delta_k, c_loc, idx, vals) if local_feedback else delta_k.zero_()
    watch("memory e_i", e_new, t)
    if spare is not None and e_new.data_ptr() == delta_k.data_ptr():
        st["spare"] = e_loc          # e_new took the spare's memory; the entering errors' is free now
    if rec is not None and env.full:
        tmp = env.buffer("tmp")
        rec.record("momentum_mean", t, m.mean(dim=1))
        rec.record("grad_mean", t, g.mean(dim=1))
        rec.record("momentum_sq_norm", t, torch.pow(m, 2, out=tmp).sum(-1))
    delta = e_srv + mean_msg
    if double_way:
        c = (server or env).compress(compressor, delta)
        watch("server message C(Delta)", c, t)
        e_srv = delta - c
        watch("server memory e", e_srv, t)
        c = agg.downlink(c, compressor)
    else:
        c = agg.downlink(delta)
    x_new = x - c
    watch("iterate x", x_new, t)
    st.update(m=m, e_loc=e_new, e_srv=e_srv, x=x_new)
    return x_new


def local_ef_engine(name, problem, compressor, x0, iters, *, stepsize, seed, step_ahead: bool,
                    average: bool, options: dict, engine: dict):
    mu = check_real("mu", options["mu"], low=0.0, high=1.0, high_open=True)
    p = _check_period(options["p"])
    double_way = _check_flag("double_way", options["double_way"])
    record_clients = _check_flag("record_clients", options["record_clients"])
    local_feedback = _check_flag("local_feedback", options["local_feedback"])
    env = Env(name, problem, x0, seed=seed, seeds=engine["seeds"], device=engine["device"],
              dtype=engine["dtype"], draws=engine["draws"], oracle=engine["oracle"],
              diagnostics=engine["diagnostics"])
    S, n, d = env.S, env.n, env.d
    up = float(compressor.bits(d, options["bits"]))
    down = up if double_way else 32.0 * d
    eta = RunValues(stepsize, iters, env, ndim=3)          # floats, or (S, 1, 1) per run (PerRun)

    rec = Recorder(env, iters)
    # a non-finite value of any watched quantity stays in the carried state (m, e_loc, e_srv and x
    # are only added to and scaled; a dropped local error has passed into the message first) or
    # reaches x at its step, the compressor keeping the NaN rule: the fast watch reads x at every
    # step and the rest at the last step
    watch = FiniteWatch(env, iters, sinks=("iterate x",) if keeps_non_finite(compressor) else None)
    T1 = iters + 1
    x = env.x0.unsqueeze(0).expand(S, d).clone()
    m = torch.zeros((S, n, d), device=env.device, dtype=env.dtype)
    e_loc = torch.zeros_like(m)
    e_srv = torch.zeros_like(x)
    averaged = torch.zeros(iters, dtype=torch.float64, device="cpu")
    norm = lambda t: torch.linalg.vector_norm(t, dim=-1)

    full = env.full
    tmp = env.buffer("tmp")                        # scratch (S, n, d)

    def record_state(t, x, e_loc, e_srv):
        rec.point(t, x)
        if not full:
            if record_clients:
                rec.record("client_errors", t, e_loc, T1)
            return
        e_bar = e_loc.mean(dim=1)
        rec.record("x_aux", t, x - (e_srv + e_bar), T1)
        rec.record("server_error_norm", t, norm(e_srv), T1)
        rec.record("client_error_norm", t, norm(e_loc), T1)
        if record_clients:
            rec.record("client_errors", t, e_loc, T1)
        e_tot = e_srv + e_bar
        rec.record("mismatch_ef", t, (e_tot ** 2).sum(-1), T1)
        # ((e_tot - e_loc) ** 2).sum(-1).mean(1), in the scratch buffer
        rec.record("mismatch_saef", t, torch.sub(e_tot.unsqueeze(1), e_loc, out=tmp).pow_(2).sum(-1).mean(1), T1)

    agg = LocalAggregate(n)
    st = {"m": m, "e_loc": e_loc, "e_srv": e_srv, "spare": torch.empty_like(m)}
    for t in range(iters):
        x = local_ef_step(env, st, x, t, eta=eta.at(t), mu=mu, p=p, step_ahead=step_ahead, average=average,
                          double_way=double_way, compressor=compressor, agg=agg, watch=watch,
                          rec=rec, before=record_state, record_clients=record_clients,
                          local_feedback=local_feedback)
        averaged[t] = st["averaged"]
        watch.done(t)
    x, e_loc, e_srv = st["x"], st["e_loc"], st["e_srv"]
    record_state(iters, x, e_loc, e_srv)

    grads = []
    res = rec.result(
        stepsize=eta.per_run(), momentum=[mu] * iters,
        bits_up=(up + 32.0 * d * averaged).numpy(), bits_down=[down] * iters,
        grad_calls=[1.0] * iters, hvp_calls=[0.0] * iters, init_bits_up=0.0,
        extra={"averaged": averaged.to(env.device, env.dtype).unsqueeze(0).expand(S, iters).clone()},
        grads=grads,
        config={"name": name, "seed": seed, "options": dict(options), "stepsize": stepsize.label,
                "compressor": repr(compressor), "bits": options["bits"], "n": n, "d": d})
    if full:
        res.diagnostics["grad_norm_l1"] = rec.l1_norms(grads)
    return res


# needs, options and their defaults, momentum, paper: the method cards; the engine adds its options
@register("ef", backend="torch", options=ENGINE_OPTIONS)
def ef(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """EF on the batched engine; see the module docstring."""
    engine = {k: options.pop(k, v) for k, v in ENGINE_OPTIONS.items()}
    options = _card("ef").fill(options)
    error_averaging = _check_flag("error_averaging", options["error_averaging"])
    p = _check_period(options["p"])
    if error_averaging and p == math.inf:
        raise ValueError("p must be a finite integer in [1, inf) when error_averaging=True; got inf")
    return local_ef_engine("ef", problem, compressor, x0, iters, stepsize=stepsize, seed=seed,
                           step_ahead=False, average=error_averaging, options=options, engine=engine)


@register("saef", backend="torch", options=ENGINE_OPTIONS)
def saef(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """SAEF on the batched engine; see the module docstring."""
    engine = {k: options.pop(k, v) for k, v in ENGINE_OPTIONS.items()}
    options = _card("saef").fill(options)
    return local_ef_engine("saef", problem, compressor, x0, iters, stepsize=stepsize, seed=seed,
                           step_ahead=True, average=True, options=options, engine=engine)
