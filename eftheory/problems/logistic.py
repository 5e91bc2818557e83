r"""Logistic regression with the nonconvex regulariser :math:`h(x)=\sum_j x_j^2/(1+x_j^2)`.

Problem and assumptions
-----------------------
Distributed finite sum over ``n`` clients, client ``i`` holding the rows :math:`R_i` of the data
matrix :math:`A\in\mathbb R^{N\times d}` (rows :math:`a_r`) and labels :math:`b_r\in\{-1,+1\}`.
Every :math:`f_i` is bounded below by 0 (A-LB, A-LBi), :math:`L_i`-smooth (A-Li) and
:math:`(L_0,L_1)`-smooth in the symmetric sense (A-(L0,L1)); :math:`f` is nonconvex as soon as
:math:`\lambda>\lambda_{\min}(A^\top A)/(2N)` (one row per client).

Definition
----------
.. math::

   \ell_r(x)=\log\bigl(1+e^{-b_r a_r^\top x}\bigr),\qquad
   f_i(x)=\frac1{|R_i|}\sum_{r\in R_i}\ell_r(x)+\lambda h(x),\qquad
   f(x)=\frac1n\sum_{i=1}^n f_i(x),

   \nabla f_i(x)=-\frac1{|R_i|}\sum_{r\in R_i}\frac{b_r a_r}{1+e^{b_r a_r^\top x}}
   +\lambda\Bigl(\frac{2x_j}{(1+x_j^2)^2}\Bigr)_j,\qquad
   \nabla^2 f_i(x)=\frac1{|R_i|}\sum_{r\in R_i}s_r(1-s_r)a_ra_r^\top
   +\lambda\,\mathrm{diag}\Bigl(\frac{2(1-3x_j^2)}{(1+x_j^2)^3}\Bigr),

with :math:`s_r=(1+e^{-b_r a_r^\top x})^{-1}`. A minibatch draw :math:`\xi` is a vector of
``batch_size`` row indices drawn uniformly with replacement from :math:`R_i`;
:math:`f_i(x;\xi)` replaces the client mean by the mean over those rows (the regulariser is kept).

Constants
---------
Khirirat et al. [004], §4.1 / App. E (one row per client, computed by
:func:`eftheory.derivations.problems.logistic_constants`):
:math:`L=\|A\|^2/(4N)+2\lambda`, :math:`L_i=\|a_i\|^2/4+2\lambda`,
:math:`\tilde L=(\frac1n\sum_iL_i^2)^{1/2}`, :math:`L_0=2\lambda+\lambda\sqrt d\max_i\|a_i\|`,
:math:`L_1=\max_i\|a_i\|`. For clients with several rows the same function applied to the
client's block gives :math:`L_i=\|A_{R_i}\|^2/(4|R_i|)+2\lambda`; see the class notes for
:math:`L_0` in that case.

Claims served: ``E-LOGREG`` (constants valid, nonconvexity), ``S004-L2``, ``S004-L3``, and every
claim run on the logistic problem (``S004-T1`` ...).

The regulariser follows the appendix of [004] (:math:`\lambda h` inside every :math:`f_i`), not
the :math:`\lambda/n` of its main text (erratum 15 of the specification).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from eftheory.derivations.problems import logistic_constants
from eftheory.validation import check_int, check_matrix, check_real

from ._common import Parametrised, as_direction, as_point, check_client

__all__ = ["LogisticRegression", "synthetic_logistic", "reg_h", "reg_grad", "reg_curv"]


def reg_h(x: np.ndarray) -> float:
    r""":math:`h(x)=\sum_j x_j^2/(1+x_j^2)` (values in [0, d))."""
    x2 = x * x
    return float(np.sum(x2 / (1.0 + x2)))


def reg_grad(x: np.ndarray) -> np.ndarray:
    r""":math:`\nabla h(x)_j=2x_j/(1+x_j^2)^2` (each entry bounded by :math:`3\sqrt3/8`)."""
    return 2.0 * x / (1.0 + x * x) ** 2


def reg_curv(x: np.ndarray) -> np.ndarray:
    r"""Diagonal of :math:`\nabla^2 h(x)`: :math:`2(1-3x_j^2)/(1+x_j^2)^3\in[-1/2,2]`."""
    x2 = x * x
    return 2.0 * (1.0 - 3.0 * x2) / (1.0 + x2) ** 3


def _as_data(A, b):
    A = check_matrix("A", A)
    try:
        b = np.array(b, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"b must be a vector of N={A.shape[0]} labels in {{-1, +1}}; got {type(b).__name__}") from None
    if b.shape != (A.shape[0],):
        raise ValueError(f"b must have shape (N,) = ({A.shape[0]},) to match A of shape {A.shape}; got {b.shape}")
    bad = ~np.isin(b, (-1.0, 1.0))
    if np.any(bad):
        raise ValueError(f"b must contain only labels -1 and +1; got {b[bad][0]!r} at row {int(np.argmax(bad))}")
    return A, b


def _partition(clients, N: int) -> tuple[np.ndarray, ...]:
    if clients is None:
        return tuple(np.array([r], dtype=np.intp) for r in range(N))
    if isinstance(clients, (int, np.integer)) and not isinstance(clients, bool):
        c = check_int("clients", clients, low=1, high=N, high_label=f"N={N}")
        if N % c:
            raise ValueError(f"clients must divide the number of rows N={N} (each client gets N/clients rows); got {c}")
        m = N // c
        return tuple(np.arange(i * m, (i + 1) * m, dtype=np.intp) for i in range(c))
    try:
        parts = tuple(np.asarray(p, dtype=np.intp).reshape(-1) for p in clients)
    except (TypeError, ValueError):
        raise ValueError("clients must be an integer in [1, N] dividing N or a partition of range(N) "
                         f"into non-empty index lists; got {type(clients).__name__}") from None
    allrows = np.concatenate(parts) if parts else np.array([], dtype=np.intp)
    if not parts or any(p.size == 0 for p in parts) or allrows.size != N \
            or not np.array_equal(np.sort(allrows), np.arange(N)):
        raise ValueError(f"clients must be a partition of range(N={N}) into non-empty index lists "
                         "(every row in exactly one client)")
    return parts


class LogisticRegression(Parametrised):
    r"""Nonconvex-regularised logistic regression (see the module docstring for the formulas).

    Attributes (read by the batched engine; all float64 / intp NumPy arrays):

    * ``A`` (N, d), ``b`` (N,) -- data rows and ±1 labels; ``lam`` -- regularisation λ ≥ 0.
    * ``n_rows`` = N, ``dim`` = d, ``n_clients`` = n.
    * ``client_rows`` -- tuple of n int arrays, the rows :math:`R_i` of each client;
      ``rows_per_client`` -- the common size m when all clients have the same, else None;
      ``A_i``, ``b_i`` -- tuples of the per-client blocks ``A[client_rows[i]]``, ``b[...]``.
    * ``row_weight`` (N,) -- :math:`w_r=1/(n|R_i|)` for r in client i, so that
      :math:`f(x)=\sum_r w_r\ell_r(x)+\lambda h(x)`.
    * ``batch_size`` -- None (exact local oracles, ``sample`` returns None) or the size of a
      minibatch draw: an intp array of global row indices, shape (batch_size,).
    * constants ``L``, ``L_i`` (n,), ``L_tilde``, ``L0``, ``L1``, ``ell`` (smoothness of every
      :math:`f_i(\cdot;\xi)`: :math:`\max_r\|a_r\|^2/4+2\lambda`), ``sigma`` and ``sigma_H``
      (bounds on the gradient / Hessian noise; 0 for exact oracles), ``f_inf_lower = 0``,
      ``f_i_inf_lower`` (n,) zeros, ``lam_nonconvex`` (the threshold
      :math:`\lambda_{\min}(\sum_r w_ra_ra_r^\top)/2` above which f is nonconvex).

    Args:
        A: data matrix (N, d). b: labels in {-1, +1}, shape (N,). lam: λ ≥ 0.
        clients: None (one row per client, n = N), an integer n dividing N (consecutive blocks
            of N/n rows), or an explicit partition of ``range(N)``.
        batch_size: None, or an integer ≥ 1 for minibatch draws (with replacement).

    Example:
        >>> p = synthetic_logistic(n=20, d=10, seed=0)
        >>> p.n_clients, p.dim, round(p.L1, 3) == round(float(max(np.linalg.norm(p.A, axis=1))), 3)
        (20, 10, True)

    Notes:
        With several rows per client the pair :math:`(2\lambda+\lambda\sqrt d L_1, L_1)` is not
        valid in general (the gradients of the rows can cancel while the Hessian does not), so
        ``L0`` is then :math:`\max(2\lambda+\lambda\sqrt dL_1,\max_iL_i)`, which is valid because
        :math:`\|\nabla^2f_i\|\le L_i`. With one row per client the constants are exactly those of
        [004]. ``sigma`` is :math:`\max_i(\frac1{b|R_i|}\sum_{r\in R_i}\|a_r\|^2)^{1/2}` (variance
        ≤ second moment and :math:`\|\nabla\ell_r\|<\|a_r\|`); :meth:`variance_at` gives the exact
        variance at a point.
    """

    def __init__(self, A, b, lam: float = 0.1, clients=None, batch_size=None):
        A, b = _as_data(A, b)
        self.lam = check_real("lam", lam, low=0.0)
        self.A, self.b = A, b
        self.n_rows, self.dim = A.shape
        parts = _partition(clients, self.n_rows)
        self.client_rows = parts
        self.n_clients = len(parts)
        sizes = np.array([p.size for p in parts])
        self.rows_per_client = int(sizes[0]) if np.all(sizes == sizes[0]) else None
        self.A_i = tuple(A[p] for p in parts)
        self.b_i = tuple(b[p] for p in parts)
        w = np.empty(self.n_rows)
        for p in parts:
            w[p] = 1.0 / (self.n_clients * p.size)
        self.row_weight = w
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, low=1)

        rows = logistic_constants(A, self.lam)          # per-row constants of [004]
        self.L1 = rows["L1"]
        self.ell = float(np.max(rows["L_i"]))
        if np.all(sizes == 1):
            order = np.concatenate(parts)
            self.L = rows["L"]
            self.L_i = rows["L_i"][order]
            self.L0 = rows["L0"]
        else:
            self.L = logistic_constants(A * np.sqrt(self.n_rows * w)[:, None], self.lam)["L"]
            self.L_i = np.array([logistic_constants(Ai, self.lam)["L"] for Ai in self.A_i])
            self.L0 = max(rows["L0"], float(self.L_i.max()))
        self.L_tilde = float(np.sqrt(np.mean(self.L_i ** 2)))
        self.f_inf_lower = 0.0
        self.f_i_inf_lower = np.zeros(self.n_clients)
        G = A.T @ (w[:, None] * A)
        self.lam_nonconvex = float(np.linalg.eigvalsh(G)[0]) / 2.0
        if self.batch_size is None:
            self.sigma = 0.0
            self.sigma_H = 0.0
        else:
            sq = np.sum(A * A, axis=1)
            m2 = np.array([np.mean(sq[p]) for p in parts])
            m4 = np.array([np.mean(sq[p] ** 2) for p in parts])
            self.sigma = float(np.sqrt(m2.max() / self.batch_size))
            self.sigma_H = float(np.sqrt(m4.max() / (16.0 * self.batch_size)))

    # ----------------------------------------------------------------- oracles
    def _block(self, i: int, xi):
        if xi is None:
            return self.A_i[i], self.b_i[i]
        idx = np.asarray(xi)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"xi must be None or a 1-D integer array of row indices in [0, N-1={self.n_rows - 1}]; "
                             f"got {idx.dtype} array of shape {idx.shape}")
        return self.A[idx], self.b[idx]

    def sample(self, i: int, rng: np.random.Generator):
        """One draw for client ``i``: None (exact oracle) or ``batch_size`` global row indices."""
        i = check_client(i, self.n_clients)
        if self.batch_size is None:
            return None
        rows = self.client_rows[i]
        return rows[rng.integers(0, rows.size, size=self.batch_size)]

    def f_i(self, i: int, x, xi=None) -> float:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        Ai, bi = self._block(i, xi)
        return float(np.mean(np.logaddexp(0.0, -bi * (Ai @ x)))) + self.lam * reg_h(x)

    def grad_i(self, i: int, x, xi=None) -> np.ndarray:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        Ai, bi = self._block(i, xi)
        c = -bi * expit(-bi * (Ai @ x))
        return Ai.T @ c / bi.size + self.lam * reg_grad(x)

    def hvp_i(self, i: int, x, v, xi=None) -> np.ndarray:
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        v = as_direction(v, self.dim)
        Ai, bi = self._block(i, xi)
        s = expit(bi * (Ai @ x))
        return Ai.T @ (s * (1.0 - s) * (Ai @ v)) / bi.size + self.lam * reg_curv(x) * v

    def hess_i(self, i: int, x, xi=None) -> np.ndarray:
        """Exact Hessian of :math:`f_i` (or of :math:`f_i(\\cdot;\\xi)`), shape (d, d)."""
        i = check_client(i, self.n_clients)
        x = as_point(x, self.dim)
        Ai, bi = self._block(i, xi)
        s = expit(bi * (Ai @ x))
        return (Ai.T * (s * (1.0 - s))) @ Ai / bi.size + np.diag(self.lam * reg_curv(x))

    def f(self, x) -> float:
        x = as_point(x, self.dim)
        return float(self.row_weight @ np.logaddexp(0.0, -self.b * (self.A @ x))) + self.lam * reg_h(x)

    def grad(self, x) -> np.ndarray:
        x = as_point(x, self.dim)
        c = -self.b * expit(-self.b * (self.A @ x))
        return self.A.T @ (self.row_weight * c) + self.lam * reg_grad(x)

    def hess(self, x) -> np.ndarray:
        x = as_point(x, self.dim)
        s = expit(self.b * (self.A @ x))
        return (self.A.T * (self.row_weight * s * (1.0 - s))) @ self.A + np.diag(self.lam * reg_curv(x))

    # ------------------------------------------------------------- constants
    def variance_at(self, x) -> np.ndarray:
        r"""Exact :math:`\mathbb E\|\nabla f_i(x;\xi)-\nabla f_i(x)\|^2` for every client, shape (n,).

        With replacement: :math:`\frac1{b}\frac1{|R_i|}\sum_{r\in R_i}\|\nabla\ell_r(x)-\nabla\bar\ell_i(x)\|^2`
        (zeros for exact oracles).
        """
        x = as_point(x, self.dim)
        if self.batch_size is None:
            return np.zeros(self.n_clients)
        out = np.empty(self.n_clients)
        for i, (Ai, bi) in enumerate(zip(self.A_i, self.b_i)):
            G = (-bi * expit(-bi * (Ai @ x)))[:, None] * Ai
            out[i] = np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)) / self.batch_size
        return out

    def delta_inf_upper(self, x_best) -> float:
        r"""Upper bound :math:`f(x_{best})-\frac1n\sum_i\ell_i\ge\delta^{\inf}` with :math:`\ell_i=0\le f_i^{\inf}` (A-LBi)."""
        return self.f(x_best) - float(np.mean(self.f_i_inf_lower))

    def nonconvex_witness(self) -> np.ndarray:
        r"""The point :math:`x=\mathbf 1` where :math:`\lambda_{\min}(\nabla^2f)\le\lambda_{\min}(\sum_rw_ra_ra_r^\top)/4-\lambda/2`,

        negative whenever ``lam > lam_nonconvex`` (there :math:`h''=-1/2` in every coordinate and
        :math:`s(1-s)\le1/4`).
        """
        return np.ones(self.dim)

    def __repr__(self) -> str:
        return (f"LogisticRegression(N={self.n_rows}, d={self.dim}, n_clients={self.n_clients}, "
                f"lam={self.lam:g}, batch_size={self.batch_size})")


def synthetic_logistic(n: int = 20, d: int = 10, *, lam: float = 0.1, seed=None, rng=None,
                       clients=None, batch_size=None) -> LogisticRegression:
    r"""The synthetic instance of [004] §4.1: :math:`A_{ij}\sim\mathcal N(0,1)`, :math:`b_i=\pm1` w.p. 1/2.

    Draws ``A = rng.standard_normal((n, d))`` then ``b = where(rng.random(n) < 1/2, -1, +1)``
    from ``rng`` (or from ``numpy.random.default_rng(seed)``, seed 0 when neither is given).

    Args:
        n: rows (= clients by default). d: dimension. lam: λ. seed / rng: the randomness (not both).
        clients, batch_size: passed to :class:`LogisticRegression`.

    Example:
        >>> synthetic_logistic(seed=1).A.shape
        (20, 10)
    """
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    if rng is not None and seed is not None:
        raise ValueError("seed and rng are exclusive: give one of them (allowed: seed=None or rng=None)")
    if rng is None:
        rng = np.random.default_rng(0 if seed is None else seed)
    A = rng.standard_normal((n, d))
    b = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return LogisticRegression(A, b, lam=lam, clients=clients, batch_size=batch_size)
