r"""The sign-based methods of [003] and their baselines on the batched engine.

Same semantics as the reference (:mod:`algorithms.numpy` sign family), on tensors of shape
(S runs, n nodes, d). One step k (003's t = k + 1), all runs and nodes at once:

1. :math:`g^j = \nabla f_j(x;\xi^j)`; centralized methods (signSGD, Signum, SMM) use the mean
   over nodes :math:`g = \frac1n\sum_j g^j` (one "node");
2. estimator: ``grad`` :math:`v = g`; ``signum`` :math:`v = \beta v + (1-\beta)g` from 0;
   ``smm`` :math:`v = g` at k = 0, then :math:`(1-\beta)v + \beta g` (``"new_weight"``) or
   :math:`\beta v + (1-\beta)g` (``"old_weight"``);
3. direction: centralized :math:`s = \mathrm{sign}(v)`; majority vote: node messages
   :math:`\mathrm{sign}(v^j)` or :math:`S_R(v^j)`, :math:`\Sigma = \sum_j`, :math:`u = \Sigma/n`,
   and :math:`s = \mathrm{sign}(\Sigma)` (ties by ``ties``) or :math:`s = S_1(u)`;
4. :math:`x \leftarrow x - \eta_k s`.

Diagnostics (``grad_norm_l1``, ``estimate`` (S, K, m, d), ``v_bar``, ``u``, ``direction``,
``ties``, ``violations``), bits and call counts are the reference's, with a leading run axis.
Draw order (replay): one sample per node; then the n nodes' :math:`S_R` uniforms, then the
server's :math:`S_1` uniforms.
"""

from __future__ import annotations

import torch

from eftheory.compressors import UnbiasedSign
from eftheory.validation import check_choice, check_positive

from ..cards import CARDS
from ..cards import card as _card
from ..registry import register
from ._core import ENGINE_OPTIONS, Env, FiniteWatch, Recorder, RunValues
from ._kernels import compress, constant
from .ef21_family import LocalAggregate

__all__: list[str] = []


def _sgn(v: torch.Tensor, zero: float) -> torch.Tensor:
    return torch.sign(v).masked_fill_(torch.eq(v, constant(0.0, v)), zero)   # sign, with sign(0) = zero


def _majority_vote(total: torch.Tensor, n: int, ties: str) -> torch.Tensor:
    """sign of the vote sum (S, d); an exactly-zero sum gives 0 (``ties="zero"``) or +1 (``"plus"``)."""
    tie = constant(1.0 if ties == "plus" else 0.0, total)
    return torch.where(torch.eq(total, constant(0.0, total)), tie, torch.sign(total))


def _check_sign_zero(value) -> float:
    if isinstance(value, bool) or value not in (-1, 0, 1):
        raise ValueError(f"sign_zero must be one of -1, 0, 1 (the value of sign(0)); got {value!r}")
    return float(value)


def _check_bound(name, value, algorithm) -> float:
    if value is None:
        raise ValueError(f"{name} must be given for {algorithm!r}: a real in (0, inf) bounding "
                         f"||grad f_j(x; xi)||_inf; got None")
    return check_positive(name, value)


def sign_step(env, st: dict, x, k: int, *, gamma, beta, estimator: str, uplink: str, downlink: str, conv: dict,
              agg, watch, rec=None, server=None):
    """One step k of a sign method (steps 1-4 of the module docstring); returns x_{k+1} (S, d).

    The one implementation of the step outside the reference: the engine's loop, the
    ``torch.optim`` optimizers, the ``torch.distributed`` runner and the DDP hooks call it.
    ``st["v"]`` carries the momentum (zeros before step 0, (S, 1, d) centralized, (S, n, d) with a
    vote); ``conv``: the conventions (``zero``, ``ties``, ``convention``, ``on_violation``,
    ``shared_draw``) and the stochastic signs ``S_up`` / ``S_down`` with the bound ``R`` named
    ``R_name``; ``agg``: the reductions over nodes (:class:`~.ef21_family.LocalAggregate` or the
    distributed runner's); ``rec``: the engine's recorder for the full diagnostics (or None);
    ``server``: the environment of the server's draws (default ``env``).
    """
    centralized = uplink == "none"
    srv = server or env
    n, d = agg.n, x.shape[-1]
    g = env.grad(x, env.sample(), out="grad")
    watch("gradient grad_i", g, k)
    if centralized:
        g = agg.mean(g).unsqueeze(1)                 # the one node's gradient, (S, 1, d)
    tmp = env.buffer("tmp", g.shape)
    v = g if estimator == "grad" else _sign_momentum(st["v"], g, beta, k, estimator, conv["convention"], tmp)
    st["v"] = v
    watch("estimator v", v, k)
    if rec is not None:
        rec.record("estimate", k, v)
        rec.record("v_bar", k, v.mean(dim=1))
    if centralized:
        s = _sgn(v[:, 0], conv["zero"])
        u = torch.zeros_like(s)
    else:
        if uplink == "sign":
            msgs = _sgn(v, conv["zero"])
        else:
            R, R_name = conv["R"], conv["R_name"]
            if conv["on_violation"] == "raise" or rec is not None:
                over = torch.abs(v, out=tmp) > R
            if conv["on_violation"] == "raise" and bool(over.any()):
                j = int(over.any(dim=-1).any(dim=0).nonzero()[0])
                vmax = float(v[:, j].abs().max())
                raise ValueError(
                    f"{R_name} must bound ||v||_inf for the stochastic sign S_{R_name}: "
                    f"node {j} at iteration {k} has ||v||_inf = {vmax:g} > "
                    f"{R_name} = {R:g}; raise {R_name} or use on_violation='clip'")
            if rec is not None:
                rec.record("violations", k, over.sum(dim=(1, 2)).to(v.dtype))
            if conv["shared_draw"]:           # one draw per step, used by every node's S_R
                msgs = compress(conv["S_up"], v, u=srv.compress_uniforms(1, d).expand(*v.shape))
            else:
                msgs = env.compress(conv["S_up"], v, out="msgs")
        watch("message", msgs, k)
        total = agg.vote(msgs)
        u = torch.div(total, constant(n, total))
        if downlink == "sign":
            if rec is not None:
                rec.record("ties", k, (total == 0).sum(-1).to(v.dtype))
            s = _majority_vote(total, n, conv["ties"])
        else:
            s = srv.compress(conv["S_down"], u)
        s = agg.downlink(s, signs=True)
    if rec is not None:
        rec.record("u", k, u)
        rec.record("direction", k, s)
    watch("direction s", s, k)
    x_new = x - gamma * s
    watch("iterate x", x_new, k)
    return x_new


def sign_engine(name, problem, x0, iters, *, stepsize, momentum, seed, estimator, uplink, downlink,
                options, engine, sign_zero=0, ties="zero", momentum_convention="new_weight",
                R=None, R_name="G", on_violation="clip", shared_draw=False):
    zero = _check_sign_zero(sign_zero)
    if not isinstance(shared_draw, bool):
        raise ValueError(f"shared_draw must be True or False; got {shared_draw!r}")
    check_choice("ties", ties, ("zero", "plus"))
    check_choice("momentum_convention", momentum_convention, ("new_weight", "old_weight"))
    check_choice("on_violation", on_violation, ("clip", "raise"))
    centralized = uplink == "none"
    S_up = S_down = None
    if uplink == "stochastic_sign":
        R = _check_bound(R_name, R, name)
        S_up = UnbiasedSign(R, on_violation="clip")
    if downlink == "stochastic_sign":
        S_down = UnbiasedSign(1.0, on_violation="clip")
    env = Env(name, problem, x0, seed=seed, seeds=engine["seeds"], device=engine["device"],
              dtype=engine["dtype"], draws=engine["draws"], oracle=engine["oracle"],
              diagnostics=engine["diagnostics"])
    full = env.full
    S, n, d = env.S, env.n, env.d
    m_rows = 1 if centralized else n
    gamma = RunValues(stepsize, iters, env, ndim=2)                    # floats, or (S, 1) per run (PerRun)
    beta = RunValues(momentum, iters, env, ndim=3) if (momentum is not None and estimator != "grad") else None
    if estimator == "signum" and beta is not None and (beta.values >= 1.0).any():
        raise ValueError(f"momentum must lie in (0, 1) for {name!r} (Signum weighs the previous "
                         f"momentum by beta); got {float(beta.values[beta.values >= 1.0][0]):g}")

    conv = {"zero": zero, "ties": ties, "convention": momentum_convention, "on_violation": on_violation,
            "shared_draw": shared_draw, "S_up": S_up, "S_down": S_down, "R": R, "R_name": R_name}
    rec = Recorder(env, iters)
    watch = FiniteWatch(env, iters)        # every quantity at every step: torch.sign(NaN) is 0, so a
    agg = LocalAggregate(n)                # non-finite gradient need not reach the iterate
    x = env.x0.unsqueeze(0).expand(S, d).clone()
    rec.point(0, x, owned=True)
    st = {"v": torch.zeros((S, m_rows, d), device=env.device, dtype=env.dtype)}
    for k in range(iters):
        x = sign_step(env, st, x, k, gamma=gamma.at(k), beta=None if beta is None else beta.at(k),
                      estimator=estimator, uplink=uplink, downlink=downlink, conv=conv, agg=agg, watch=watch,
                      rec=rec if full else None)
        watch.done(k)
        rec.point(k + 1, x, owned=True)             # x^{k+1} is a new tensor, never written into

    if full:
        for key in ("ties", "violations"):
            rec.diag.setdefault(key, torch.zeros((S, iters), device=env.device, dtype=env.dtype))
    up, down = _bits(centralized, n, d)
    grads = []
    res = rec.result(
        stepsize=gamma.per_run(), momentum=None if beta is None else beta.per_run(), bits_up=[up] * iters, bits_down=[down] * iters,
        grad_calls=[1.0] * iters, hvp_calls=[0.0] * iters, init_bits_up=0.0, grads=grads,
        config={"name": name, "seed": seed, "options": dict(options), "stepsize": stepsize.label,
                "momentum": None if momentum is None else momentum.label, "n": n, "d": d,
                "centralized": centralized})
    if full:
        res.diagnostics["grad_norm_l1"] = rec.l1_norms(grads)
    return res


def _bits(centralized: bool, n: int, d: int) -> tuple[float, float]:
    """Bits per client and step (up, down), the reference's convention: majority vote d and d;
    a centralized method 32 d up with n > 1 clients (each sends its dense gradient to the one
    node that takes the sign step on their mean), 0 with one client, and 0 down."""
    if centralized:
        return (32.0 * d if n > 1 else 0.0), 0.0
    return float(d), float(d)


def _sign_momentum(v, g, beta, k: int, estimator: str, convention: str, tmp=None):
    """The momentum v_k of Signum (``beta v + (1-beta) g``) and of SMM / MVSM (``v_1 = g_1``, then
    ``(1-beta) v + beta g`` in the ``new_weight`` convention of [003], ``beta v + (1-beta) g`` in
    ``old_weight``), updated in place where possible; ``beta`` a float or a broadcastable tensor."""
    if estimator == "signum":
        return v.mul_(beta).add_(torch.mul(g, 1.0 - beta, out=tmp))
    if k == 0:
        return g.clone()
    if convention == "new_weight":
        return v.mul_(1.0 - beta).add_(torch.mul(g, beta, out=tmp))
    return v.mul_(beta).add_(torch.mul(g, 1.0 - beta, out=tmp))


#: name -> (estimator, uplink, downlink, bound option): read from the method cards
_METHODS = {n: (c.estimator, c.uplink, c.downlink, c.bound) for n, c in CARDS.items() if c.family == "sign"}


def _make(name, estimator, uplink, downlink, R_name):
    def fn(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
        engine = {k: options.pop(k, v) for k, v in ENGINE_OPTIONS.items()}
        options = _card(name).fill(options)
        conv = {k: options[k] for k in ("sign_zero", "ties", "momentum_convention", "on_violation", "shared_draw")
                if k in options}
        if R_name is not None:
            conv.update(R=options[R_name], R_name=R_name)
        return sign_engine(name, problem, x0, iters, stepsize=stepsize,
                           momentum=momentum if estimator != "grad" else None, seed=seed,
                           estimator=estimator, uplink=uplink, downlink=downlink,
                           options=options, engine=engine, **conv)

    fn.__name__ = name.replace("-", "_")
    fn.__doc__ = f"{name} on the batched engine; see :mod:`algorithms.torch.sign`."
    return fn


# needs, options and their defaults, momentum, paper: the method cards; the engine adds its options
for _name, (_est, _up, _down, _R) in _METHODS.items():
    register(_name, backend="torch", options=ENGINE_OPTIONS)(_make(_name, _est, _up, _down, _R))
