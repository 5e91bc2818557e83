"""Batched torch engine (seeds x clients x d), device-agnostic; torch.optim optimizers.

Every algorithm of the reference has an engine implementation under the same name::

    res = algorithms.run("ef21-sgdm-norm", problem, compressor, x0, iters, stepsize=..., momentum=...,
                         backend="torch", seeds=16, device="cpu", dtype="float64", seed=0)

Engine options (on top of every option of the NumPy version of the same name):

* ``seeds`` -- S >= 1 independent runs computed side by side (state tensors (S, n, d));
* ``device`` -- ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"`` (ValueError without CUDA);
* ``dtype`` -- ``"float64"`` (default) or ``"float32"``;
* ``draws`` -- ``None`` (fresh randomness from one ``torch.Generator`` seeded with ``seed``) or a
  :class:`~algorithms.torch.replay.Draws` recorded from the reference by
  :func:`~algorithms.torch.replay.record_draws` (replay: proves parity, see that module);
* ``oracle`` -- ``None`` (built-in batched oracle when the problem has one, autograd for a
  :class:`~algorithms.torch.problems.TorchProblem`, else the per-call NumPy fallback),
  ``"numpy"`` to force the fallback, or a ready :class:`~algorithms.torch.problems.BatchedOracle`.

The result is a :class:`~algorithms.Result` whose array fields are **torch tensors on the run's
device**, each with a leading run axis S: ``x`` (S, K+1, d), ``grad_norm`` and ``f`` (S, K+1),
``stepsize``, ``momentum``, ``bits_up``, ``bits_down``, ``grad_calls``, ``hvp_calls`` (S, K)
(identical across runs where they do not depend on the draws), every diagnostic with S in front
of the reference's shape; ``config`` adds ``seeds``, ``device``, ``dtype`` and ``replay``.
``Result.numpy()`` moves everything to NumPy. Run s of a normal engine run is not the
reference's run with seed ``seed + s``; only replayed runs reproduce the reference.

Layout: :mod:`._core` (options, randomness, result), :mod:`.problems` (batched oracles),
:mod:`._kernels` (O(d) Top-K / Rand-K selection), :mod:`.ef21_family`, :mod:`.local_ef`,
:mod:`.sign` (the step functions of each family), :mod:`.replay` (recording the reference's draws).
No engine module imports the reference implementations; the parity tests compare them.
"""
