"""Invalid inputs of the built-in problems, the data loader and the assumption checkers."""

import os
import tempfile

import numpy as np

from eftheory import assumptions as asm
from eftheory.problems import (
    HeterogeneousSignProblem, LogisticRegression, Polynomial, SeparableQuadratic, StochasticQuadratic,
    load_libsvm, problem_q, synthetic_logistic,
)
from invalid_inputs import InvalidCase

_A = np.arange(12.0).reshape(6, 2) / 10
_B = np.array([1.0, -1, 1, -1, 1, -1])


def _svm(text):
    fd, path = tempfile.mkstemp(suffix=".svm")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    try:
        return load_libsvm(path)
    finally:
        os.remove(path)


def _logreg():
    return LogisticRegression(_A, _B)


CASES = [
    InvalidCase("logreg-negative-lam", lambda: LogisticRegression(_A, _B, lam=-0.1), ("lam", "[0")),
    InvalidCase("logreg-A-b-mismatch", lambda: LogisticRegression(_A, _B[:5]), ("b", "(6,)")),
    InvalidCase("logreg-A-not-matrix", lambda: LogisticRegression(_A[0], _B), ("A", "(N, d)")),
    InvalidCase("logreg-labels-not-pm1", lambda: LogisticRegression(_A, np.arange(6.0)), ("b", "-1 and +1")),
    InvalidCase("logreg-batch-size-zero", lambda: LogisticRegression(_A, _B, clients=2, batch_size=0), ("batch_size", "[1")),
    InvalidCase("logreg-clients-not-dividing", lambda: LogisticRegression(_A, _B, clients=4), ("clients", "divide", "N=6")),
    InvalidCase("logreg-clients-too-many", lambda: LogisticRegression(_A, _B, clients=7), ("clients", "N=6")),
    InvalidCase("logreg-bad-partition", lambda: LogisticRegression(_A, _B, clients=[[0, 1], [1, 2]]), ("clients", "partition")),
    InvalidCase("logreg-client-out-of-range", lambda: _logreg().grad_i(6, np.zeros(2)), ("i", "n_clients-1=5")),
    InvalidCase("logreg-negative-client", lambda: _logreg().f_i(-1, np.zeros(2)), ("i", "[0")),
    InvalidCase("logreg-x-wrong-shape", lambda: _logreg().grad_i(0, np.zeros(3)), ("x", "(2,)")),
    InvalidCase("logreg-v-wrong-shape", lambda: _logreg().hvp_i(0, np.zeros(2), np.zeros(5)), ("v", "(2,)")),
    InvalidCase("synthetic-d-zero", lambda: synthetic_logistic(d=0), ("d", "[1")),
    InvalidCase("synthetic-seed-and-rng", lambda: synthetic_logistic(seed=1, rng=np.random.default_rng(0)), ("seed", "rng")),
    InvalidCase("poly-d-zero", lambda: Polynomial(d=0), ("d", "[1")),
    InvalidCase("poly-negative-lam", lambda: Polynomial(lam=-1.0), ("lam", "(0")),
    InvalidCase("poly-lam-and-L0", lambda: Polynomial(lam=1.0, L0=4.0), ("lam", "L0")),
    InvalidCase("poly-L1-zero", lambda: Polynomial(L1=0.0), ("L1", "(0")),
    InvalidCase("poly-x-wrong-shape", lambda: Polynomial(d=4).f(np.zeros(3)), ("x", "(4,)")),
    InvalidCase("q-d-zero", lambda: problem_q(d=0), ("d", "[1")),
    InvalidCase("q-negative-noise", lambda: problem_q(zeta_std=-1.0), ("zeta_std", "[0")),
    InvalidCase("q-negative-rho", lambda: problem_q(rho=-0.3), ("rho", "[0")),
    InvalidCase("q-not-symmetric", lambda: StochasticQuadratic(np.array([[[1.0, 1.0], [0.0, 1.0]]]), np.zeros((1, 2))), ("A", "symmetric")),
    InvalidCase("q-not-definite", lambda: StochasticQuadratic(-np.eye(2)[None], np.zeros((1, 2))), ("A", "positive-definite")),
    InvalidCase("q-draw-wrong-shape", lambda: problem_q(d=3, n=1).grad_i(0, np.zeros(3), np.zeros(3)), ("xi", "(2, 3)")),
    InvalidCase("q-client-out-of-range", lambda: problem_q(d=3, n=2).grad_i(2, np.zeros(3)), ("i", "n_clients-1=1")),
    InvalidCase("separable-d-zero", lambda: SeparableQuadratic(0), ("d", "[1")),
    InvalidCase("separable-bad-h", lambda: SeparableQuadratic(2, h=[1.0, -1.0]), ("h", "(0, inf)")),
    InvalidCase("separable-negative-noise", lambda: SeparableQuadratic(2, noise_std=-1.0), ("noise_std", "[0")),
    InvalidCase("sign-n-zero", lambda: HeterogeneousSignProblem(n=0), ("n", "[1")),
    InvalidCase("sign-negative-box", lambda: HeterogeneousSignProblem(box=-1.0), ("box", "(0")),
    InvalidCase("sign-noise-unknown", lambda: HeterogeneousSignProblem(noise="normal"), ("noise", "'uniform'")),
    InvalidCase("libsvm-three-labels", lambda: _svm("1 1:1\n2 1:2\n3 1:3\n"), ("labels", "two distinct values")),
    InvalidCase("libsvm-zero-index", lambda: _svm("1 0:1\n"), ("line 1", "index >= 1")),
    InvalidCase("libsvm-bad-n-features", lambda: load_libsvm("unused.svm", n_features=0), ("n_features", "[1")),
    InvalidCase("check-thetas-too-few", lambda: asm.check_L0L1(_logreg(), np.random.default_rng(0), form="pairs", thetas=8), ("thetas", "[64")),
    InvalidCase("check-no-rng", lambda: asm.check_smoothness(_logreg()), ("rng", "Generator")),
    InvalidCase("check-variance-confidence", lambda: asm.check_variance(problem_q(d=2, n=1), np.random.default_rng(0), confidence=1.0), ("confidence", "1)")),
    InvalidCase("lemma3-L1-zero", lambda: asm.lemma3_inequality(_logreg(), np.zeros(2), L1=0.0), ("L1", "(0, inf)")),
]
