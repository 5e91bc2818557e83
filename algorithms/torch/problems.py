r"""Batched oracles: gradients, Hessian-vector products and draws for S runs x n clients at once.

An oracle acts on points ``x`` of shape ``(S, n, d)`` (run s, client i evaluates
:math:`\nabla f_i(x_{s,i}; \xi_{s,i})`) and on a batch of draws ``xi`` whose leading axes are
``(S, n)`` (``None`` for exact oracles). Three kinds:

* **Built-in problems** (:mod:`eftheory.problems`): vectorised analytic oracles built from the
  problem's public attributes only (matrices, vectors, constants), see :data:`BUILTIN`.
* **Torch problems** (:class:`TorchProblem`): the user writes a per-client loss in torch;
  gradients come from autograd and Hessian-vector products from ``torch.func`` (forward-over-reverse).
  A :class:`TorchProblem` is also a NumPy protocol problem, so the reference runs it too.
* **Any other protocol problem** (:class:`NumpyFallbackOracle`): calls the problem's NumPy
  methods once per (run, client) and stacks the answers -- slow, but correct for every problem.

Draws. A draw ``xi`` of the NumPy protocol is ``None`` or an array (or tuple of arrays) of a fixed
shape per problem; here a batch of draws is the same object with two leading axes ``(S, n)``.
Floating draws take the engine's dtype, integer draws (minibatch indices) stay ``int64``.

Two ways to draw: ``sample(generator, S)`` (a ``torch.Generator``, one batch) and
``draw(stream, count)``, which the engine uses: the draws of ``count`` consecutive calls of a
counter-based stream (:mod:`algorithms.torch._random`), leading axes ``(S, count)``, each run's
numbers a function of its own seed only. Built-in oracles map the stream's uniforms / normals
to their law in one pass; other oracles fall back to one generator per run and call, seeded
from the stream (:meth:`BatchedOracle.draw`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from eftheory.problems.base import global_grad
from eftheory.validation import check_draw, check_oracle_output, checked_value

__all__ = ["BatchedOracle", "NumpyFallbackOracle", "TorchProblem", "TorchProblemOracle", "LogisticOracle",
           "PolynomialOracle", "QuadraticOracle", "DiagonalOracle",
           "batched_oracle", "to_xi_batch", "BUILTIN", "register_oracle"]

#: problem class name -> oracle factory ``(problem, device, dtype) -> BatchedOracle``.
BUILTIN: dict[str, Callable[..., "BatchedOracle"]] = {}


def register_oracle(class_name: str):
    """Decorator: the batched oracle of the built-in problem class named ``class_name``."""

    def deco(factory):
        BUILTIN[class_name] = factory
        return factory

    return deco


def _tensor(a, device, dtype) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        t = a.to(device)
    else:
        t = torch.as_tensor(np.asarray(a), device=device)
    if t.is_floating_point():
        return t.to(dtype)
    if t.dtype == torch.bool:
        return t
    return t.to(torch.int64)


def to_xi_batch(xi, device, dtype):
    """Move a batch of draws (``None``, array or tuple of arrays) to ``device`` / ``dtype``."""
    if xi is None:
        return None
    if isinstance(xi, tuple):
        return tuple(_tensor(t, device, dtype) for t in xi)
    return _tensor(xi, device, dtype)


def _index(xi, s: int, i: int):
    """The NumPy draw of run s, client i from a batch of draws."""
    if xi is None:
        return None
    if isinstance(xi, tuple):
        return tuple(t[s, i].cpu().numpy() for t in xi)
    return xi[s, i].cpu().numpy()


def _stack(draws: list[list[Any]], device, dtype):
    """Stack NumPy draws [[xi_{s,i}]] into a batch (S, n, ...)."""
    first = draws[0][0]
    if first is None:
        return None
    if isinstance(first, tuple):
        return tuple(to_xi_batch(np.stack([np.stack([d[j] for d in row]) for row in draws]), device, dtype)
                     for j in range(len(first)))
    return to_xi_batch(np.stack([np.stack([np.asarray(d) for d in row]) for row in draws]), device, dtype)


def _stack_calls(rows):
    """[[batch (1, ...) per call] per run] -> one batch (S, count, ...) (or a tuple of such)."""
    first = rows[0][0]
    if isinstance(first, tuple):
        return tuple(torch.stack([torch.cat([c[j] for c in calls]) for calls in rows]) for j in range(len(first)))
    return torch.stack([torch.cat(calls) for calls in rows])


class BatchedOracle:
    """Interface of a batched oracle (see the module docstring for shapes).

    Attributes ``n``, ``d``, ``device``, ``dtype``. Methods:

    * ``sample(generator, S)`` -> a batch of draws with leading (S, n), or ``None``;
    * ``grad(x, xi)`` -> (S, n, d); ``hvp(x, v, xi)`` -> (S, n, d); ``x`` and ``v`` are (S, n, d) or
      (S, 1, d) for a point common to all clients (the result may then keep a client axis of 1
      where it does not depend on the client);
    * ``f(X)`` -> (B,) and ``grad_f(X)`` -> (B, d): the exact global objective and gradient at the
      rows of X (B, d) (used for the ``f`` / ``grad_norm`` fields of the result).
    """

    n: int
    d: int
    #: False for oracles that call user code per evaluation (the engine then reads its finiteness
    #: flags after every step)
    builtin: bool = True

    def __init__(self, n: int, d: int, device, dtype):
        self.n, self.d, self.device, self.dtype = int(n), int(d), device, dtype

    def sample(self, generator: torch.Generator, S: int):
        return None

    def draw(self, stream, count: int):
        """Draws of ``count`` consecutive calls of ``stream`` (a :class:`._random.Stream`), leading
        (S, count), or ``None``. Default: per run and call, ``sample`` with a ``torch.Generator``
        of its own, seeded from the stream (so run s never depends on the other runs)."""
        if type(self).sample is BatchedOracle.sample:
            return None
        rows = []
        for per_run in stream.seeds(count):
            calls = []
            for sd in per_run:
                gen = torch.Generator(device=self.device)
                gen.manual_seed(sd)
                xi = self.sample(gen, 1)
                if xi is None:
                    return None
                calls.append(xi)
            rows.append(calls)
        return _stack_calls(rows)

    def grad(self, x, xi):  # pragma: no cover - interface
        raise NotImplementedError

    def hvp(self, x, v, xi):  # pragma: no cover - interface
        raise NotImplementedError

    def grad_and_exact(self, x, xi):
        """``(grad(x, xi), grad(x, None))``; oracles whose noise is additive override this to
        evaluate the exact gradient once."""
        G = self.grad(x, xi)
        return G, (G if xi is None else self.grad(x, None))

    def f(self, X):  # pragma: no cover - interface
        raise NotImplementedError

    def grad_f(self, X):  # pragma: no cover - interface
        raise NotImplementedError

    def t(self, a) -> torch.Tensor:
        """A problem attribute as a tensor on the oracle's device and dtype."""
        return _tensor(a, self.device, self.dtype)


class NumpyFallbackOracle(BatchedOracle):
    """Any NumPy protocol problem, one call per (run, client).

    Normal runs draw with one NumPy generator per run and call, seeded from the run's stream; replayed runs pass the
    recorded draws through. Correct for every protocol problem; its cost grows with S*n Python
    calls per oracle call, so prefer a built-in or a :class:`TorchProblem` for speed.
    """

    builtin = False

    def __init__(self, problem, device, dtype, seed: int = 0):
        super().__init__(problem.n_clients, problem.dim, device, dtype)
        self.problem = problem
        self._seed = int(seed)
        self._rngs: list[np.random.Generator] = []

    def sample(self, generator, S):
        while len(self._rngs) < S:
            self._rngs.append(np.random.default_rng([self._seed, len(self._rngs)]))
        draws = [[check_draw(self.problem.sample(i, self._rngs[s])) for i in range(self.n)] for s in range(S)]
        try:
            return _stack(draws, self.device, self.dtype)
        except (ValueError, TypeError, RuntimeError, AttributeError, IndexError):
            raise ValueError("sample must return draws of one fixed kind and shape per problem (None, an "
                             "array or a tuple of arrays) for the batched engine") from None

    def draw(self, stream, count):
        """Per run and call, a NumPy generator seeded from the stream draws every client's xi."""
        batches = []
        for per_run in stream.seeds(count):
            calls = []
            for sd in per_run:
                rng = np.random.default_rng(sd)
                calls.append([check_draw(self.problem.sample(i, rng)) for i in range(self.n)])
            batches.append(_stack(calls, self.device, self.dtype))     # (count, n, ...)
        if batches[0] is None:
            return None
        if isinstance(batches[0], tuple):
            return tuple(torch.stack([b[j] for b in batches]) for j in range(len(batches[0])))
        return torch.stack(batches)

    def _per_client(self, fn, x, xi, *vs):
        S = x.shape[0]
        x = x.expand(S, self.n, self.d)
        vs = [v.expand(S, self.n, self.d) for v in vs]
        xn = x.detach().cpu().numpy().astype(np.float64)
        vn = [v.detach().cpu().numpy().astype(np.float64) for v in vs]
        out = np.empty((S, self.n, self.d))
        for s in range(S):
            for i in range(self.n):
                out[s, i] = fn(i, xn[s, i], *(v[s, i] for v in vn), _index(xi, s, i))
        return self.t(out)

    def grad(self, x, xi):
        d = self.d
        return self._per_client(lambda i, xx, z: check_oracle_output("grad_i", self.problem.grad_i(i, xx, z), d),
                                x, xi)

    def hvp(self, x, v, xi):
        d = self.d
        return self._per_client(
            lambda i, xx, vv, z: check_oracle_output("hvp_i", self.problem.hvp_i(i, xx, vv, z), d), x, xi, v)

    def f(self, X):
        Xn = X.detach().cpu().numpy().astype(np.float64)
        return self.t(np.array([checked_value("f", self.problem.f(r)) for r in Xn]))

    def grad_f(self, X):
        Xn = X.detach().cpu().numpy().astype(np.float64)
        return self.t(np.array([check_oracle_output("grad_i", global_grad(self.problem, r), self.d) for r in Xn]))


class TorchProblem:
    r"""A user-defined problem written in torch, usable by the reference and the engine.

    Give either a batched ``loss(x, xi) -> (...)`` acting on points ``x`` of shape ``(..., n, d)``
    (client i's loss at ``x[..., i, :]``; ``xi`` a draw batch with the same leading axes, or None),
    or a per-client ``f_i(i, x, xi) -> scalar`` on one point ``x`` of shape ``(d,)``.
    ``sample(i, rng)`` (NumPy, optional) makes one draw for the reference; ``sample_torch(generator,
    S)`` (optional) a batch (S, n, ...) for normal engine runs (without it, the engine calls
    ``sample`` per run and client). The exact objective uses ``xi = None``.

    Gradients come from autograd; Hessian-vector products are the forward derivative of the
    gradient (``torch.func.jvp`` over ``torch.func.grad``), so the loss must be written with
    ``torch.func``-compatible operations. NumPy methods evaluate in float64 on the CPU.
    """

    def __init__(self, n_clients: int, dim: int, *, loss=None, f_i=None, sample=None, sample_torch=None):
        if (loss is None) == (f_i is None):
            raise ValueError("loss/f_i: give exactly one of a batched loss(x, xi) or a per-client f_i(i, x, xi)")
        self.n_clients, self.dim = int(n_clients), int(dim)
        self._loss, self._f_i = loss, f_i
        self._sample, self.sample_torch = sample, sample_torch

    # batched losses (..., n, d) -> (..., n)
    def losses(self, x: torch.Tensor, xi=None) -> torch.Tensor:
        if self._loss is not None:
            return self._loss(x, xi)
        lead = x.shape[:-2]
        xs = x.reshape(-1, self.n_clients, self.dim)
        cols = []
        for i in range(self.n_clients):
            if xi is None:
                cols.append(torch.stack([self._f_i(i, r, None) for r in xs[:, i]]))
            else:
                xis = (tuple(t.reshape(-1, *t.shape[len(lead):])[:, i] for t in xi) if isinstance(xi, tuple)
                       else xi.reshape(-1, *xi.shape[len(lead):])[:, i])
                cols.append(torch.stack([self._f_i(i, xs[b, i], _row(xis, b)) for b in range(xs.shape[0])]))
        return torch.stack(cols, dim=-1).reshape(*lead, self.n_clients)

    def batched_grad(self, x: torch.Tensor, xi=None) -> torch.Tensor:
        return torch.func.grad(lambda z: self.losses(z, xi).sum())(x)

    def batched_hvp(self, x: torch.Tensor, v: torch.Tensor, xi=None) -> torch.Tensor:
        return torch.func.jvp(lambda z: self.batched_grad(z, xi), (x,), (v,))[1]

    # the NumPy protocol (float64, CPU)
    def _at(self, i: int, x) -> torch.Tensor:
        X = torch.zeros((self.n_clients, self.dim), dtype=torch.float64)
        X[i] = torch.as_tensor(np.asarray(x, dtype=np.float64))
        return X

    def _xi_row(self, i: int, xi):
        if xi is None:
            return None
        conv = lambda a: _tensor(np.broadcast_to(np.asarray(a), (self.n_clients, *np.shape(a))).copy(),
                                 "cpu", torch.float64)
        return tuple(conv(a) for a in xi) if isinstance(xi, tuple) else conv(xi)

    def f_i(self, i: int, x, xi=None) -> float:
        return float(self.losses(self._at(i, x), self._xi_row(i, xi))[i])

    def f(self, x) -> float:
        X = torch.as_tensor(np.asarray(x, dtype=np.float64)).expand(self.n_clients, self.dim)
        return float(self.losses(X, None).mean())

    def grad_i(self, i: int, x, xi=None) -> np.ndarray:
        return self.batched_grad(self._at(i, x), self._xi_row(i, xi))[i].numpy()

    def hvp_i(self, i: int, x, v, xi=None) -> np.ndarray:
        V = torch.zeros((self.n_clients, self.dim), dtype=torch.float64)
        V[i] = torch.as_tensor(np.asarray(v, dtype=np.float64))
        return self.batched_hvp(self._at(i, x), V, self._xi_row(i, xi))[i].numpy()

    def sample(self, i: int, rng: np.random.Generator):
        return None if self._sample is None else self._sample(i, rng)


def _row(xi, b):
    return tuple(t[b] for t in xi) if isinstance(xi, tuple) else xi[b]


class TorchProblemOracle(BatchedOracle):
    """The batched oracle of a :class:`TorchProblem` (autograd / ``torch.func``)."""

    builtin = False

    def __init__(self, problem: TorchProblem, device, dtype, seed: int = 0):
        super().__init__(problem.n_clients, problem.dim, device, dtype)
        self.problem = problem
        self._fallback = NumpyFallbackOracle(problem, device, dtype, seed)

    def sample(self, generator, S):
        if self.problem.sample_torch is not None:
            return to_xi_batch(self.problem.sample_torch(generator, S), self.device, self.dtype)
        if self.problem._sample is None:
            return None
        return self._fallback.sample(generator, S)

    def draw(self, stream, count):
        if self.problem.sample_torch is not None:
            return BatchedOracle.draw(self, stream, count)
        if self.problem._sample is None:
            return None
        return self._fallback.draw(stream, count)

    def grad(self, x, xi):
        return self.problem.batched_grad(x.expand(-1, self.n, -1).contiguous(), xi)

    def hvp(self, x, v, xi):
        full = lambda t: t.expand(-1, self.n, -1).contiguous()
        return self.problem.batched_hvp(full(x), full(v), xi)

    def f(self, X):
        Xc = X.unsqueeze(-2).expand(*X.shape[:-1], self.n, self.d)
        return self.problem.losses(Xc, None).mean(-1)

    def grad_f(self, X):
        Xc = X.unsqueeze(-2).expand(*X.shape[:-1], self.n, self.d).contiguous()
        return self.problem.batched_grad(Xc, None).mean(-2)


def batched_oracle(problem, device, dtype, *, oracle=None, seed: int = 0) -> BatchedOracle:
    """The fastest correct oracle for ``problem``.

    ``oracle``: None (choose), ``"builtin"``, ``"torch"`` or ``"numpy"`` (force the per-call fallback),
    or a ready :class:`BatchedOracle`.
    """
    if isinstance(oracle, BatchedOracle):
        return oracle
    if oracle not in (None, "builtin", "torch", "numpy"):
        raise ValueError(f"oracle must be one of None, 'builtin', 'torch', 'numpy' or a BatchedOracle; got {oracle!r}")
    if oracle == "numpy":
        return NumpyFallbackOracle(problem, device, dtype, seed)
    if isinstance(problem, TorchProblem) and oracle in (None, "torch"):
        return TorchProblemOracle(problem, device, dtype, seed)
    factory = BUILTIN.get(type(problem).__name__)
    if factory is not None and oracle in (None, "builtin") and type(problem).__module__.startswith("eftheory."):
        return factory(problem, device, dtype)
    if oracle is not None:
        raise ValueError(f"oracle {oracle!r} is not available for {type(problem).__name__} (allowed: None, 'numpy')")
    return NumpyFallbackOracle(problem, device, dtype, seed)


# --------------------------------------------------------------------------- built-in problems
# Each oracle reads only the problem's public attributes and restates its formulas for tensors.
#
# Batch invariance: the value an oracle computes for one run must not depend on the other runs
# of the batch (run s of seeds=S equals the run of its seed alone, bit for bit). A matrix
# product of a whole batch (``X @ M``) does not guarantee this -- the BLAS picks kernels and
# summation orders by the number of rows --, nor do some vectorised functions (``sigmoid``,
# ``logaddexp``) whose result depends on an element's position in the vector. The oracles
# therefore multiply every row on its own (:func:`_rows_times`: one 1 x d product per row),
# reduce over fixed axes, and use functions that are exact per element (exp, log1p, division).


def _rows_times(X: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """X (..., d) @ M (d, r), one row at a time (the result of a row never depends on the others)."""
    lead = X.shape[:-1]
    Xf = X.reshape(-1, 1, X.shape[-1])
    return torch.bmm(Xf, M.expand(Xf.shape[0], *M.shape)).reshape(*lead, M.shape[-1])


def _per_client_times(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Row (s, i) of x (S, n, d) times A_i (A: (n, d, r)), one 1 x d product per (s, i)."""
    return torch.matmul(x.unsqueeze(-2), A).squeeze(-2)


def _sigmoid(t: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-t)), exact per element (``torch.sigmoid``'s vector path is not)."""
    return torch.exp(-t).add_(1.0).reciprocal_()


def _softplus(t: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(t)) = max(t, 0) + log1p(exp(-|t|)), stable and exact per element."""
    return torch.log1p(torch.exp(-t.abs())).add_(t.clamp(min=0.0))


def _reg_h(x):
    x2 = x * x
    return (x2 / (1.0 + x2)).sum(-1)


def _reg_grad(x):
    t = torch.addcmul(torch.ones_like(x), x, x)
    return torch.div(x, t.mul_(t)).mul_(2.0)


def _reg_curv(x):
    x2 = x * x
    t = 1.0 + x2
    return torch.div(torch.mul(x2, -3.0).add_(1.0).mul_(2.0), t.mul_(t).mul_(1.0 + x2))


class LogisticOracle(BatchedOracle):
    r"""Logistic loss + :math:`\lambda\sum_j x_j^2/(1+x_j^2)` (:class:`eftheory.problems.LogisticRegression`).

    Client i's rows :math:`R_i` are held as one padded block (n, m, d) (zero-weight padding).
    The exact oracle weighs every row by :math:`1/|R_i|`; a draw (``batch_size`` global row
    indices per run and client) becomes per-row coefficients :math:`c_r/B` scattered onto the
    client's block, so a gradient is two batched products with the block (no gathering of
    rows) when :math:`m \le 8B`; larger blocks gather the drawn rows instead.
    """

    def __init__(self, p, device, dtype):
        super().__init__(p.n_clients, p.dim, device, dtype)
        self.A, self.b, self.lam = self.t(p.A), self.t(p.b), float(p.lam)
        self.w = self.t(p.row_weight)
        self.batch = p.batch_size
        sizes = [len(r) for r in p.client_rows]
        m = max(sizes)
        rows = np.zeros((self.n, m), dtype=np.int64)
        weight = np.zeros((self.n, m))
        slot = np.zeros(p.n_rows, dtype=np.int64)
        owner = np.zeros(p.n_rows, dtype=np.int64)
        for i, r in enumerate(p.client_rows):
            rows[i, :len(r)] = r
            weight[i, :len(r)] = 1.0 / len(r)
            slot[r] = np.arange(len(r))
            owner[r] = i
        self.m = m
        self.rows = torch.as_tensor(rows, device=device)
        self.sizes = torch.as_tensor(np.array(sizes, dtype=np.float64), device=device)
        self.slot = torch.as_tensor(slot, device=device)
        self.owner = torch.as_tensor(owner, device=device)
        self.clients = torch.arange(self.n, device=device)[None, :, None]
        self.Ab, self.bb, self.wb = self.A[self.rows], self.b[self.rows], self.t(weight)  # (n, m, d), (n, m)
        self.AbT = self.Ab.transpose(1, 2).contiguous()                                      # (n, d, m)
        self.Ab_flatT = self.Ab.reshape(self.n * m, self.d).T.contiguous()                   # (d, n m)
        self.AT = self.A.T.contiguous()

    def sample(self, generator, S):
        if self.batch is None:
            return None
        u = torch.rand((S, self.n, self.batch), generator=generator, device=self.device, dtype=torch.float64)
        j = (u * self.sizes[:, None]).long()
        return torch.gather(self.rows.expand(S, -1, -1), 2, j)

    def draw(self, stream, count):
        if self.batch is None:
            return None
        u = stream.uniform((self.n, self.batch), count, dtype=torch.float64)    # (S, count, n, B)
        j = (u * self.sizes[:, None]).long()
        return torch.gather(self.rows.expand(*u.shape[:2], -1, -1), 3, j)

    def _use_block(self, xi) -> bool:
        return xi is None or (self.m <= 8 * xi.shape[-1] and bool((self.owner[xi] == self.clients).all()))

    def _coefficients(self, x, xi, per_row):
        """sum_r coef_r a_r for every (run, client): per_row(z, b) -> coefficient of each used row."""
        if self._use_block(xi):
            z = self._block_rows(x)
            if xi is None:
                coef = per_row(z, self.bb, slice(None)) * self.wb
            else:
                slots = self.slot[xi]
                zs = torch.gather(z, 2, slots)
                c = per_row(zs, self.b[xi], slots) / xi.shape[-1]
                coef = torch.zeros_like(z).scatter_add_(2, slots, c)
            return _per_client_times(coef, self.Ab)
        A, b = self.A[xi], self.b[xi]                              # (S, n, B, d), (S, n, B)
        x = x.expand(-1, self.n, -1)
        z = torch.matmul(A, x.unsqueeze(-1)).squeeze(-1)
        return torch.matmul(per_row(z, b, None, A).unsqueeze(-2), A).squeeze(-2) / xi.shape[-1]

    def _block_rows(self, x):
        """a_r^T x for every row r of every client's block: (S, n, m), x common (S, 1, d) or per client."""
        if x.shape[1] == 1:
            return _rows_times(x[:, 0], self.Ab_flatT).reshape(x.shape[0], self.n, self.m)
        return _per_client_times(x, self.AbT)

    def grad(self, x, xi):
        coef = lambda z, b, *_: -b * _sigmoid(-b * z)
        return self._coefficients(x, xi, coef) + self.lam * _reg_grad(x)

    def hvp(self, x, v, xi):
        def coef(z, b, slots, A=None):
            s = _sigmoid(b * z)
            if A is not None:
                Av = torch.matmul(A, v.expand(-1, self.n, -1).unsqueeze(-1)).squeeze(-1)
            else:
                Av = self._block_rows(v)
                if slots is not None and not isinstance(slots, slice):
                    Av = torch.gather(Av, 2, slots)
            return s * (1.0 - s) * Av
        return self._coefficients(x, xi, coef) + self.lam * _reg_curv(x) * v

    def f(self, X):
        z = _rows_times(X, self.AT)
        return (_softplus(-self.b * z) * self.w).sum(-1) + self.lam * _reg_h(X)

    def grad_f(self, X):
        z = _rows_times(X, self.AT)
        return _rows_times(-self.b * _sigmoid(-self.b * z) * self.w, self.A) + self.lam * _reg_grad(X)


class PolynomialOracle(BatchedOracle):
    r""":math:`a\sum_j x_j^4 + \lambda\sum_j x_j^2/(1+x_j^2)`, one client, exact (:class:`eftheory.problems.Polynomial`)."""

    def __init__(self, p, device, dtype):
        super().__init__(p.n_clients, p.dim, device, dtype)
        self.a, self.lam = float(p.a), float(p.lam)

    def grad(self, x, xi):
        return 4.0 * self.a * x ** 3 + self.lam * _reg_grad(x)

    def hvp(self, x, v, xi):
        return (12.0 * self.a * x * x + self.lam * _reg_curv(x)) * v

    def f(self, X):
        return self.a * (X ** 4).sum(-1) + self.lam * _reg_h(X)

    def grad_f(self, X):
        return self.grad(X, None)


class QuadraticOracle(BatchedOracle):
    r""":math:`\tfrac12x^\top(A_i+\mathrm{diag}\,\zeta)x-(b_i+\varepsilon)^\top x+\tfrac\rho4\sum_jx_j^4`
    (:class:`eftheory.problems.StochasticQuadratic`); a draw is (ζ, ε), shape (2, d)."""

    def __init__(self, p, device, dtype):
        super().__init__(p.n_clients, p.dim, device, dtype)
        self.A, self.b = self.t(p.A), self.t(p.b)
        self.A_mean, self.b_mean = self.t(p.A_mean), self.t(p.b_mean)
        self.rho, self.zs, self.es = float(p.rho), float(p.zeta_std), float(p.eps_std)
        self.A_cat = self.A.permute(1, 0, 2).reshape(self.d, self.n * self.d).contiguous()   # [A_1 ... A_n]
        self._A_cat_batch: dict[int, torch.Tensor] = {}

    def _times_A(self, x):
        """x_i^T A_i for every run and client: x common (S, 1, d) or per client (S, n, d)."""
        if x.shape[1] == 1:                          # one 1 x d product per run (batch-invariant)
            S = x.shape[0]
            M = self._A_cat_batch.get(S)
            if M is None:
                M = self._A_cat_batch[S] = self.A_cat.expand(S, self.d, self.n * self.d)
            return torch.bmm(x, M).view(S, self.n, self.d)
        return _per_client_times(x, self.A)

    def sample(self, generator, S):
        z = torch.randn((S, self.n, 2, self.d), generator=generator, device=self.device, dtype=self.dtype)
        scale = torch.tensor([self.zs, self.es], device=self.device, dtype=self.dtype)
        return z * scale[:, None]

    def draw(self, stream, count):
        z = stream.normal((self.n, 2, self.d), count, dtype=self.dtype)          # (S, count, n, 2, d)
        scale = torch.tensor([self.zs, self.es], device=self.device, dtype=self.dtype)
        return z.mul_(scale[:, None])

    def grad(self, x, xi):
        g = self._times_A(x).sub_(self.b)           # a fresh tensor: updated in place
        if self.rho:
            g.add_(self.rho * x ** 3)
        if xi is not None:
            g.add_(torch.mul(xi.select(2, 0), x)).sub_(xi.select(2, 1))
        return g

    def hvp(self, x, v, xi):
        h = self._times_A(v)
        if self.rho:
            h = h + 3.0 * self.rho * x * x * v
        if xi is not None:
            h = h + xi[:, :, 0] * v
        return h

    def f(self, X):
        return (0.5 * (_rows_times(X, self.A_mean) * X).sum(-1) - (X * self.b_mean).sum(-1)
                + 0.25 * self.rho * (X ** 4).sum(-1))

    def grad_f(self, X):
        return _rows_times(X, self.A_mean) - self.b_mean + self.rho * X ** 3


class DiagonalOracle(BatchedOracle):
    r""":math:`\tfrac12\sum_kh_kx_k^2+(c_i+\xi)^\top x` with additive noise: :class:`eftheory.problems.SeparableQuadratic`
    (c = 0, Gaussian ξ) and :class:`eftheory.problems.HeterogeneousSignProblem` (zero-sum c_i, uniform ξ)."""

    def __init__(self, p, device, dtype):
        super().__init__(p.n_clients, p.dim, device, dtype)
        self.h = self.t(p.h)
        self.c = self.t(getattr(p, "c", np.zeros((self.n, self.d))))
        if hasattr(p, "noise_half_width"):
            self.law = getattr(p, "noise", "uniform")
            # skewed: the two-point law in units of sigma_j = a / sqrt(3), as the reference draws it
            self.scale = float(p.noise_half_width) if self.law == "uniform" else float(p.noise_scale)
        else:
            self.law, self.scale = getattr(p, "noise", "normal"), float(p.noise_std) / float(np.sqrt(self.d))

    #: sample / grad / grad_and_exact accept ``out`` tensors (S, n, d) to write into
    writes_out = True

    def sample(self, generator, S, out=None):
        shape = (S, self.n, self.d)
        if self.law == "uniform":
            u = torch.rand(shape, generator=generator, device=self.device, dtype=self.dtype, out=out)
            # (2u - 1) * scale: u - 1/2 and 2 * scale are exact, so (u - 1/2) * (2 scale) is the
            # same real number, rounded once -- the same value in one pass fewer
            return u.sub_(0.5).mul_(2.0 * self.scale)
        if self.law == "skewed":
            from eftheory.problems.sign import SKEW_HIGH, SKEW_LOW, SKEW_P

            u = torch.rand(shape, generator=generator, device=self.device, dtype=self.dtype)
            hi = torch.full((), SKEW_HIGH * self.scale, device=self.device, dtype=self.dtype)
            lo = torch.full((), SKEW_LOW * self.scale, device=self.device, dtype=self.dtype)
            return torch.where(u < SKEW_P, hi, lo, out=out) if out is not None else torch.where(u < SKEW_P, hi, lo)
        z = torch.randn(shape, generator=generator, device=self.device, dtype=self.dtype, out=out)
        return z.mul_(self.scale)

    def draw(self, stream, count):
        shape = (self.n, self.d)
        if self.law == "uniform":
            # (2u - 1) * scale as (u - 1/2) * (2 scale): the same real number, rounded once
            return stream.uniform(shape, count, dtype=self.dtype).sub_(0.5).mul_(2.0 * self.scale)
        if self.law == "skewed":
            from eftheory.problems.sign import SKEW_HIGH, SKEW_LOW, SKEW_P

            u = stream.uniform(shape, count, dtype=self.dtype)
            hi = torch.full((), SKEW_HIGH * self.scale, device=self.device, dtype=self.dtype)
            lo = torch.full((), SKEW_LOW * self.scale, device=self.device, dtype=self.dtype)
            return torch.where(u < SKEW_P, hi, lo)
        return stream.normal(shape, count, dtype=self.dtype).mul_(self.scale)

    def _exact(self, x, out=None):
        if x.shape[-2] == self.n:
            return torch.mul(self.h, x, out=out).add_(self.c)
        return torch.add(torch.mul(self.h, x), self.c, out=out)   # a common point (S, 1, d)

    def grad(self, x, xi, out=None):
        g = self._exact(x, out)
        return g if xi is None else g.add_(xi)

    def grad_and_exact(self, x, xi, out=None):
        G_out, exact_out = (None, None) if out is None else out
        g = self._exact(x, exact_out)
        return (g if xi is None else torch.add(g, xi, out=G_out)), g

    def hvp(self, x, v, xi):
        return self.h * v

    def f(self, X):
        return 0.5 * torch.mul(self.h, X).mul_(X).sum(-1)         # 0.5 * (h * X * X).sum(-1)

    def grad_f(self, X):
        return self.h * X


BUILTIN.update({
    "LogisticRegression": LogisticOracle,
    "Polynomial": PolynomialOracle,
    "StochasticQuadratic": QuadraticOracle,
    "SeparableQuadratic": DiagonalOracle,
    "HeterogeneousSignProblem": DiagonalOracle,
})
