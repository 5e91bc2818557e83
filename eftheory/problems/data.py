r"""Real data for the logistic problem: a LIBSVM-format reader and the bundled breast-cancer set.

Problem and assumptions
-----------------------
Binary classification data :math:`(A,b)`, :math:`A\in\mathbb R^{N\times d}`,
:math:`b\in\{-1,+1\}^N`, features scaled column-wise to [-1, 1] as in the experiments of
Khirirat et al. [004] §4.1 (their LIBSVM sets are used with scaled features).

Definition
----------
Column scaling: :math:`a'_{rj}=2\,(a_{rj}-m_j)/(M_j-m_j)-1` with :math:`m_j,M_j` the column
minimum and maximum (implicit zeros of the sparse format included); a constant column maps to 0.
Labels: two distinct values :math:`u<v` map to :math:`-1,+1` (e.g. {2, 4}, {0, 1}, {-1, +1}).

Claims served: ``E-LOGREG`` on real data; the logistic runs of ``S004-T1``.
"""

from __future__ import annotations

import os

import numpy as np

from eftheory.validation import check_int

from .logistic import LogisticRegression

__all__ = ["load_libsvm", "scale_columns", "map_labels", "breast_cancer"]


def scale_columns(A: np.ndarray) -> np.ndarray:
    """Affine map of every column of ``A`` onto [-1, 1] (constant columns become 0)."""
    A = np.asarray(A, dtype=np.float64)
    lo, hi = A.min(axis=0), A.max(axis=0)
    span = hi - lo
    out = np.zeros_like(A)
    ok = span > 0
    out[:, ok] = 2.0 * (A[:, ok] - lo[ok]) / span[ok] - 1.0
    return out


def map_labels(y, *, source: str = "labels") -> np.ndarray:
    """Two label values u < v (or only -1/+1 values) -> -1.0 / +1.0; ValueError otherwise."""
    y = np.asarray(y, dtype=np.float64)
    values = np.unique(y)
    if np.all(np.isin(values, (-1.0, 1.0))):
        return y.copy()
    if values.size != 2:
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (" ..." if values.size > 5 else "")
        raise ValueError(f"{source}: labels must take exactly two distinct values (mapped to -1, +1); "
                         f"got {values.size}: {shown}")
    return np.where(y == values[0], -1.0, 1.0)


def load_libsvm(path, n_features=None, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""Read a LIBSVM sparse text file into dense ``(A, b)`` with labels ±1.

    Every non-blank line is ``label index:value index:value ...`` with 1-based, strictly
    increasing integer indices; text after ``#`` is a comment.

    Args:
        path: file to read. n_features: d (default: the largest index found); an index above it is
            an error. scale: map every column to [-1, 1] (see the module docstring).

    Returns:
        ``A`` (N, d) float64 and ``b`` (N,) in {-1.0, +1.0}.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.svm"; _ = p.write_text("2 1:1 3:2\n4 2:1\n")
        >>> A, b = load_libsvm(p, scale=False); A.tolist(), b.tolist()
        ([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], [-1.0, 1.0])

    Notes:
        A malformed line raises ValueError naming the file and the 1-based line number.
    """
    if n_features is not None:
        n_features = check_int("n_features", n_features, low=1)
    name = os.fspath(path)
    labels: list[float] = []
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    d_max = 0
    with open(name, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{name}, line {lineno}"
            tokens = line.split()
            try:
                lab = float(tokens[0])
            except ValueError:
                raise ValueError(f"{where}: the label must be a number; got {tokens[0]!r}") from None
            if not np.isfinite(lab):
                raise ValueError(f"{where}: the label must be finite; got {tokens[0]!r}")
            idx = np.empty(len(tokens) - 1, dtype=np.intp)
            val = np.empty(len(tokens) - 1)
            for k, tok in enumerate(tokens[1:]):
                j, sep, v = tok.partition(":")
                try:
                    if not sep:
                        raise ValueError
                    idx[k] = int(j)
                    val[k] = float(v)
                except ValueError:
                    raise ValueError(f"{where}: features must be 'index:value' with an integer index >= 1; "
                                     f"got {tok!r}") from None
                if idx[k] < 1:
                    raise ValueError(f"{where}: feature indices are 1-based (index >= 1); got {tok!r}")
                if not np.isfinite(val[k]):
                    raise ValueError(f"{where}: feature values must be finite; got {tok!r}")
                if k and idx[k] <= idx[k - 1]:
                    raise ValueError(f"{where}: feature indices must be strictly increasing; got {tok!r}")
                if n_features is not None and idx[k] > n_features:
                    raise ValueError(f"{where}: feature index must be in [1, n_features={n_features}]; got {tok!r}")
            if idx.size:
                d_max = max(d_max, int(idx[-1]))
            labels.append(lab)
            rows.append((idx - 1, val))
    if not rows:
        raise ValueError(f"{name}: the file must hold at least one data line; got none")
    d = n_features if n_features is not None else d_max
    if d < 1:
        raise ValueError(f"{name}: the data must have at least one feature (n_features >= 1); got none")
    A = np.zeros((len(rows), d))
    for r, (idx, val) in enumerate(rows):
        A[r, idx] = val
    b = map_labels(labels, source=name)
    if scale:
        A = scale_columns(A)
    return A, b


def breast_cancer(lam: float = 0.1, *, clients=None, batch_size=None) -> LogisticRegression:
    r"""Logistic problem on scikit-learn's bundled breast-cancer set (no download).

    That set is the Wisconsin *diagnostic* data: N = 569 rows, d = 30 features (the LIBSVM
    "breast-cancer" file of [004] is the 683 x 10 *original* Wisconsin set; read it with
    :func:`load_libsvm` when available). Features are scaled to [-1, 1]; target 0 (malignant)
    becomes -1 and 1 (benign) +1.

    Args:
        lam: λ ≥ 0. clients, batch_size: passed to :class:`LogisticRegression`.

    Example:
        >>> breast_cancer().A.shape  # doctest: +SKIP
        (569, 30)
    """
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        raise ImportError("breast_cancer needs scikit-learn (pip install scikit-learn); it is not installed") from None
    data = load_breast_cancer()
    A = scale_columns(np.asarray(data.data, dtype=np.float64))
    b = map_labels(data.target, source="load_breast_cancer")
    return LogisticRegression(A, b, lam=lam, clients=clients, batch_size=batch_size)
