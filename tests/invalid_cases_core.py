"""Invalid inputs of the core: validation helpers, schedules, algorithms.run."""

import numpy as np

import algorithms
from eftheory import schedules
from invalid_inputs import InvalidCase


class _Tiny:
    n_clients, dim = 1, 2

    def f(self, x):
        return float(x @ x) / 2

    def f_i(self, i, x):
        return self.f(x)

    def sample(self, i, rng):
        return None

    def grad_i(self, i, x, xi=None):
        return np.asarray(x, float)


CASES = [
    InvalidCase("schedule-negative-stepsize", lambda: schedules.constant(-1.0), ("stepsize", "(0")),
    InvalidCase("schedule-nan-gamma0", lambda: schedules.polynomial(float("nan"), 0.5), ("gamma0", "finite")),
    InvalidCase("schedule-negative-p", lambda: schedules.polynomial(1.0, -0.5), ("p", "[0")),
    InvalidCase("schedule-bad-base", lambda: schedules.polynomial(1.0, 0.5, base="k"), ("base", "2/(k+2)")),
    InvalidCase("schedule-horizon-negative-K", lambda: schedules.horizon(1.0, -1), ("K", "[0")),
    InvalidCase("momentum-above-one", lambda: schedules.as_schedule(1.5, name="momentum", high=1.0)(0), ("momentum", "1]")),
    InvalidCase("run-unknown-algorithm", lambda: algorithms.run("nope", _Tiny(), None, np.zeros(2), 3, stepsize=0.1), ("name", "registered")),
    InvalidCase("run-unknown-backend", lambda: algorithms.run("ef21", _Tiny(), None, np.zeros(2), 3, stepsize=0.1, backend="jax"), ("backend", "'numpy'")),
]


class _BadGrad(_Tiny):
    """grad_i of the wrong shape (d + 1): named, not a broadcasting error."""

    def grad_i(self, i, x, xi=None):
        return np.ones(3)


class _RowGrad(_Tiny):
    """grad_i of shape (1, d): refused instead of broadcast into a row."""

    def grad_i(self, i, x, xi=None):
        return np.ones((1, 2))


class _NanAt3(_Tiny):
    """A stochastic gradient that turns NaN at its fourth call (iteration 3); the exact gradient
    (called without a draw argument, for the recorded statistics) stays finite."""

    def __init__(self):
        self.calls = 0

    def grad_i(self, i, x, xi="exact"):
        if isinstance(xi, str):
            return np.asarray(x, float)
        self.calls += 1
        return np.full(2, np.nan) if self.calls == 4 else np.asarray(x, float)


def _ef21(problem, C=None, backend="numpy", **kw):
    """The case's call; ``problem``: an instance, or a class built afresh at every call (a
    stateful oracle such as :class:`_NanAt3` gives the same run whichever tests ran it before)."""
    from eftheory.compressors import TopK

    return lambda: algorithms.run("ef21-sgd", problem() if isinstance(problem, type) else problem,
                                  TopK(1) if C is None else C, np.ones(2), 5, stepsize=0.1, backend=backend, **kw)


class _HalveNoTorch:
    """A duck-typed compressor v -> v/2 with the NumPy interface only (no ``torch`` method)."""

    def __call__(self, v, rng=None):
        return np.asarray(v) / 2

    def alpha(self, d):
        return 0.75

    def bits(self, d, convention=None):
        return 64.0 * d


def _classes():
    from eftheory.compressors import ScaledRandK, Sign, TopK

    return TopK, Sign(), ScaledRandK(1)


CASES += [
    InvalidCase("run-grad-i-shape-d-plus-1", _ef21(_BadGrad()), ("grad_i", "shape (2,)")),
    InvalidCase("run-grad-i-shape-1-by-d", _ef21(_RowGrad()), ("grad_i", "(1, 2)")),
    InvalidCase("run-grad-i-shape-torch", _ef21(_BadGrad(), backend="torch"), ("grad_i", "shape (2,)")),
    InvalidCase("run-compressor-class", _ef21(_Tiny(), C=_classes()[0]), ("compressor", "class TopK")),
    InvalidCase("run-compressor-sign-no-alpha", _ef21(_Tiny(), C=_classes()[1]), ("compressor", "alpha")),
    InvalidCase("run-compressor-scaled-randk-no-alpha", _ef21(_Tiny(), C=_classes()[2]), ("compressor", "k > d/2")),
    InvalidCase("run-compressor-without-torch-method", _ef21(_Tiny(), C=_HalveNoTorch(), backend="torch"),
                ("compressor", "torch(v, generator) method")),
    InvalidCase("run-problem-class", lambda: algorithms.run("ef21", _Tiny, None, np.zeros(2), 3, stepsize=0.1),
                ("problem", "class _Tiny")),
    InvalidCase("run-record-unknown", _ef21(_Tiny(), record="some"), ("record", "'stats'")),
    InvalidCase("run-iters-beyond-memory", lambda: algorithms.run("ef21", _Tiny(), _classes()[0](1), np.zeros(2),
                                                                  10**12, stepsize=0.1), ("iters", "GiB")),
    InvalidCase("run-nan-gradient-numpy", _ef21(_NanAt3), ("gradient grad_i", "iteration 3")),
    InvalidCase("run-nan-gradient-torch", _ef21(_NanAt3, backend="torch"), ("gradient grad_i", "iteration 3")),
]
