"""Batched torch engine (seeds x clients x d), device-agnostic; torch.optim optimizers.

Every algorithm of the reference has an engine implementation under the same name::

    res = algorithms.run("ef21-sgdm-norm", problem, compressor, x0, iters, stepsize=..., momentum=...,
                         backend="torch", seeds=16, device="cpu", dtype="float64", seed=0)

Engine options (on top of every option of the NumPy version of the same name):

* ``seeds`` -- S >= 1 independent runs computed side by side (state tensors (S, n, d)), run s
  with seed ``seed + s``; or a list of seeds (run s with ``seeds[s]``, ``seed`` left at 0). Seeds
  lie in [0, 2**64). Run s is bit for bit the run of its seed alone, whatever the batch
  (counter-based streams, :mod:`._random`);
* ``device`` -- ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"`` (ValueError without CUDA);
* ``dtype`` -- ``"float64"`` (default) or ``"float32"``;
* ``draws`` -- ``None`` (fresh randomness from the counter-based streams of each run's seed) or a
  :class:`~algorithms.torch.replay.Draws` recorded from the reference by
  :func:`~algorithms.torch.replay.record_draws` (replay: proves parity, see that module);
* ``oracle`` -- ``None`` (built-in batched oracle when the problem has one, autograd for a
  :class:`~algorithms.torch.problems.TorchProblem`, else the per-call NumPy fallback),
  ``"numpy"`` to force the fallback, or a ready :class:`~algorithms.torch.problems.BatchedOracle`;
* ``diagnostics`` -- ``"full"`` (default: every per-step diagnostic of the reference) or
  ``"light"`` (none of them: the result holds ``x``, ``f``, ``grad_norm`` and the accounting
  fields, equal to a full run's, plus ``averaged`` for EF/SAEF and the ``record_clients``
  arrays when asked for). The per-step diagnostics of the reference cost several passes over
  the (S, n, d) state per iteration; skip them when only the trajectory is needed.

The result is a :class:`~algorithms.Result` whose array fields are **torch tensors on the run's
device**. Called with ``seeds`` (any S >= 1), each field has a leading run axis S: ``x`` (S, R, d)
(R = K+1 under ``record="all"``, see :mod:`algorithms.result`), ``grad_norm`` and ``f`` (S, K+1),
``stepsize``, ``momentum``, ``bits_up``, ``bits_down``, ``grad_calls``, ``hvp_calls`` (S, K)
(identical across runs where they do not depend on the draws), every diagnostic with S in front
of the reference's shape. Called without ``seeds``, the result is one run with the reference's
shapes (``x`` (R, d), ``grad_norm`` (K+1,)). ``config`` adds ``seeds``, ``device``, ``dtype``,
``replay``, ``diagnostics`` and ``record``.
``Result.numpy()`` moves everything to NumPy. Run s of a normal engine run is the engine's run
of seed ``seed + s`` alone, not the reference's run of that seed (the reference keeps its own
NumPy streams); only replayed runs reproduce the reference.

Performance: a step is a fixed sequence of passes over (S, n, d) tensors, written into work
buffers allocated once per run (:meth:`._core.Env.buffer`) rather than into fresh tensors, with
the exact local gradients of the diagnostics evaluated once per step (oracles with additive
noise derive the stochastic ones from them) and Top-K / Rand-K selected by k rounds of
``argmax`` (k <= 4) or ``torch.topk`` on a reduced candidate set and applied by a scatter
(:mod:`._kernels`). The draws are computed ahead in blocks of calls (counter-based, so the
blocking changes no value), the finiteness of every watched quantity is one reduction on the
device, read every 32 steps on the CPU. In the small-d regime a step costs its number of torch
operators times the per-operator dispatch cost (``make bench`` prints both). The arithmetic of
every update is the reference's, operation by operation.

Layout: :mod:`._core` (options, randomness, result), :mod:`.problems` (batched oracles),
:mod:`._kernels` (O(d) Top-K / Rand-K selection), :mod:`.ef21_family`, :mod:`.local_ef`,
:mod:`.sign` (the step functions of each family), :mod:`.replay` (recording the reference's draws).
No engine module imports the reference implementations; the parity tests compare them.
"""
