r"""Step-ahead error feedback (SAEF-SGD / SAEF-SGDM) with error averaging of period p.

Problem and assumptions: :math:`\min_x F(x) = \mathbb E_\xi f(x;\xi)` on n identical workers
(002 writes K); F is L-smooth (A1), stochastic gradients have variance at most
:math:`\sigma^2` (A2), :math:`\|\nabla F(x_t)\|^2 \le M^2` (A3); the compressor is deterministic and
:math:`\delta`-approximate (scaled sign, Top-K, flattened or per block). Any problem of the
protocol is accepted: worker k differentiates its own ``f_k``.

Method: SAEF, Algorithm 1 of [002], lines 5-12: every worker steps ahead by its own error,
:math:`x_{t+1/2}^{(k)} = x_t - e_t^{(k)}`, and evaluates its gradient there; every p
iterations the local errors are replaced by their mean.

Metric: :math:`\min_t \mathbb E\|\nabla F(x_t)\|^2` (and at :math:`\tilde x_t`), through the
gradient-mismatch proxy :math:`\frac1n\sum_k\|e_t + \bar e_t - e_t^{(k)}\|^2` (002 eq. (10)).

.. math::

    &e_t^{(k)} \leftarrow \bar e_t \ \text{ if } (t+1) \bmod p = 0,\qquad
     x_{t+1/2}^{(k)} = x_t - e_t^{(k)} \\
    &m_{t+1}^{(k)} = \mu m_t^{(k)} + \nabla f(x_{t+1/2}^{(k)}; \xi_t^{(k)}),\qquad
     \Delta_{t+1}^{(k)} = e_t^{(k)} + \eta_t m_{t+1}^{(k)},\qquad
     e_{t+1}^{(k)} = \Delta_{t+1}^{(k)} - \mathcal C(\Delta_{t+1}^{(k)}) \\
    &\Delta_{t+1} = e_t + \tfrac1n\textstyle\sum_k \mathcal C(\Delta_{t+1}^{(k)}),\qquad
     e_{t+1} = \Delta_{t+1} - \mathcal C(\Delta_{t+1}),\qquad
     x_{t+1} = x_t - \mathcal C(\Delta_{t+1}).

Guarantees (upper bounds; Xu, Huo, Huang [002]), for p = inf and constant :math:`\eta`:
Theorem 1 (:math:`\mu = 0`, :math:`\eta < 3/(4L)`, auxiliary iterate), Theorem 2
(:math:`\mu = 0`, :math:`\eta < 3/(2L)`, model iterate), Theorem 3 (momentum, with
:math:`\alpha_\mu > 0`); Corollaries 2-3: :math:`O(1/\sqrt{nT})` with
:math:`\eta \propto \sqrt{n/T}`. Exact identities: eq. (3) for :math:`\tilde x_t` and
App. eqs. (84)-(86) for :math:`z_t`. Lemma 2's minimum printed as
:math:`\frac{1-\delta}{2(1-\sqrt{1-\delta})}` is :math:`\frac{1-\delta}{(1-\sqrt{1-\delta})^2}`
(see :mod:`eftheory.lyapunov.saef`).

Claims: ``S002-AUX``, ``S002-Z``, ``S002-P1``, ``S002-AL1``, ``S002-AL2``, ``S002-AL5``,
``S002-T1``, ``S002-T2``, ``S002-C2``, ``S002-T3``, ``S002-C3``.

Args (through :func:`algorithms.run`; ``compressor`` required, ``momentum`` must be None):
    stepsize: :math:`\eta_t` (float or schedule).
    mu: momentum constant in [0, 1) (0 gives SAEF-SGD).
    p: error-averaging period, integer >= 1 or ``math.inf`` (default: never average; the
        setting of the theorems).
    double_way: True (default) compresses the broadcast too; False broadcasts densely, e = 0.
    bits: bit-count convention passed to ``compressor.bits`` (default ``"values"``).
    record_clients: also store every local error vector.
    local_feedback: True (default). False drops the local error (:math:`e_{t+1}^{(k)} = 0`, so the
        step-ahead point is :math:`x_t`): compressed momentum SGD without error feedback, the
        mechanism control of ``S002-C2`` / ``S002-C3``.

Returns:
    :class:`algorithms.Result`; diagnostics as listed in :mod:`algorithms.numpy._ef_saef_loop`.

Example::

    >>> res = algorithms.run("saef", problem, TopK(2), x0, 200, stepsize=0.05,
    ...                      mu=0.9, p=4)                                  # doctest: +SKIP

Notes:
    * 002 states p > 1; p = 1 (average every step) is accepted and, with the identity
      compressor, reduces SAEF to momentum SGD.
    * The averaging happens before the step ahead of the same iteration (line 6-9 order).
    * The tentative local model is not stored (see :mod:`algorithms.numpy.ef`).
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._ef_saef_loop import run_ef_loop

__all__ = ["saef"]


@register("saef")                # needs, options and defaults, momentum, paper: the method card
def saef(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Step-ahead error feedback; see the module docstring. Options (defaults on the card): ``mu``,
    ``p``, ``double_way``, ``bits``, ``record_clients``, ``local_feedback``."""
    o = card("saef").fill(options)
    return run_ef_loop("saef", problem, compressor, x0, iters, stepsize=stepsize, seed=seed,
                       point="step_ahead", mu=o["mu"], p=o["p"], double_way=o["double_way"], average=True,
                       bits=o["bits"], record_clients=o["record_clients"],
                       local_feedback=o["local_feedback"], options=o)
