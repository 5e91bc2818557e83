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
