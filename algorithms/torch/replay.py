r"""Replay: feed the engine the reference's own random draws, to prove the two equal.

The reference draws everything from :class:`algorithms.registry.Streams` -- three NumPy
generators, ``sample`` (problem draws), ``compress`` (one ``rng.random(v.shape)`` per call of a
random compressor) and ``aux`` (e.g. RHM's :math:`q_i^k`). :func:`record_draws` runs the
reference once per seed with

* the three generators replaced by recording generators (same bit stream; every uniform that
  ``random`` hands out is logged, in order), and
* the problem's ``sample`` wrapped so that each client's draws are logged in the order it made
  them,

and stacks the logs of S seeds into a :class:`Draws` (``sample`` as ``(S, n, J, *shape)``,
``compress`` and ``aux`` as flat ``(S, M)`` streams). The engine then runs with ``draws=`` and
``seeds=S``: wherever the reference consumed a draw, the engine consumes the same one -- a
client's j-th sample, the next ``n*d`` compressor uniforms for the compressions of clients
0..n-1 (row-major, so client 0 first), and so on. Only the *order of consumption* is shared;
the engine computes every update with its own code.

Recording needs the reference's run to draw through ``Streams`` only (the contract of every
reference algorithm) and the compressor to take its uniforms with ``rng.random`` (the contract of
:mod:`eftheory.compressors`). ``Draws`` hold tensors; the engine moves them to its device/dtype.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import numpy as np
import torch

from .. import registry
from ._core import Draws

__all__ = ["Draws", "record_draws", "recording"]


class _RecordingGenerator(np.random.Generator):
    """A NumPy generator that logs every uniform produced by :meth:`random`."""

    def __init__(self, bit_generator, log: list):
        super().__init__(bit_generator)
        self._log = log

    def random(self, size=None, dtype=np.float64, out=None):
        u = super().random(size, dtype=dtype, out=out)
        self._log.append(np.asarray(u, dtype=np.float64).ravel().copy())
        return u


class _Logs:
    def __init__(self):
        self.sample: list = []
        self.compress: list = []
        self.aux: list = []


@contextlib.contextmanager
def recording():
    """Within the block, every new ``Streams`` logs its uniforms; yields the list of logs (one per Streams)."""
    made: list[_Logs] = []
    original = registry.Streams.__init__

    def init(self, seed):
        original(self, seed)
        logs = _Logs()
        made.append(logs)
        self.sample = _RecordingGenerator(self.sample.bit_generator, logs.sample)
        self.compress = _RecordingGenerator(self.compress.bit_generator, logs.compress)
        self.aux = _RecordingGenerator(self.aux.bit_generator, logs.aux)

    registry.Streams.__init__ = init
    try:
        yield made
    finally:
        registry.Streams.__init__ = original


class _SampleLog:
    """Wraps a protocol problem: forwards everything, logs ``sample(i, rng)`` per client."""

    def __init__(self, problem):
        self._problem = problem
        self.per_client: list[list] = [[] for _ in range(int(problem.n_clients))]

    def __getattr__(self, name):
        return getattr(self._problem, name)

    def sample(self, i, rng):
        xi = self._problem.sample(i, rng)
        self.per_client[i].append(xi)
        return xi


def _stack_samples(logs: list[_SampleLog]):
    """[[per client draws] per seed] -> None | array (S, n, J, ...) | tuple of arrays."""
    counts = {len(c) for log in logs for c in log.per_client}
    if counts == {0}:
        return None
    if len(counts) != 1:
        raise ValueError(f"clients made different numbers of draws {sorted(counts)}; cannot stack them")
    first = logs[0].per_client[0][0]
    if first is None:
        if any(x is not None for log in logs for c in log.per_client for x in c):
            raise ValueError("a problem's sample returned None for some draws only")
        return None

    def stack(get):
        return np.stack([np.stack([np.stack([np.asarray(get(x)) for x in c]) for c in log.per_client])
                         for log in logs])

    if isinstance(first, tuple):
        return tuple(torch.as_tensor(stack(lambda x, j=j: x[j])) for j in range(len(first)))
    return torch.as_tensor(stack(lambda x: x))


def _flat(stream: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(stream) if stream else np.zeros(0)


def record_draws(name: str, problem, compressor, x0, iters: int, *, seeds: Sequence[int] = (0, 1, 2),
                 stepsize, momentum=None, **options):
    """Run the reference of ``name`` once per seed, recording its draws.

    Returns ``(draws, results)``: the stacked :class:`Draws` (S = len(seeds)) and the reference's
    :class:`~algorithms.Result` of each seed, in order. Pass ``draws=draws, seeds=len(seeds)``
    to the engine (same problem, compressor, x0, iters, schedules and options) to replay them.
    """
    import algorithms

    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed; got an empty sequence")
    sample_logs, stream_logs, results = [], [], []
    for s in seeds:
        wrapped = _SampleLog(problem)
        with recording() as made:
            res = algorithms.run(name, wrapped, compressor, x0, iters, stepsize=stepsize,
                                 momentum=momentum, seed=s, backend="numpy", **options)
        if len(made) != 1:
            raise RuntimeError(f"the reference of {name!r} created {len(made)} Streams; expected exactly one")
        sample_logs.append(wrapped)
        stream_logs.append(made[0])
        results.append(res)

    def flat_stack(what):
        rows = [_flat(getattr(log, what)) for log in stream_logs]
        if len({r.size for r in rows}) != 1:
            raise ValueError(f"the seeds drew different numbers of {what} uniforms; cannot stack them")
        return torch.as_tensor(np.stack(rows))

    draws = Draws(sample=_stack_samples(sample_logs), compress=flat_stack("compress"),
                  aux=flat_stack("aux"), seeds=seeds)
    return draws, results
