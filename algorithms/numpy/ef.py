r"""Local error feedback (EF-SGD / EF-SGDM) with single- or double-way compression.

Problem and assumptions: :math:`\min_x F(x) = \mathbb E_\xi f(x;\xi)` on n workers that all
sample from the same law (002 writes K workers); F is L-smooth (A1), the stochastic gradient
has variance at most :math:`\sigma^2` (A2) and :math:`\|\nabla F(x_t)\|^2 \le M^2` along the run
(A3); the compressor is deterministic and :math:`\delta`-approximate,
:math:`\|\mathcal C(v) - v\|^2 \le (1-\delta)\|v\|^2` (scaled sign, Top-K, flattened or per block).
The code accepts any problem of the protocol: worker k differentiates its own ``f_k``.

Method: local error feedback with momentum, Algorithm 1 of [002], EF branch (lines 13-16):
every worker evaluates its stochastic gradient at the common model :math:`x_t`.

Metric: the method is the baseline of [002]; its analysis runs through the auxiliary iterate
:math:`\tilde x_t = x_t - (e_t + \bar e_t)` and the gradient mismatch
:math:`\|e_t + \bar e_t\|^2` (002 eq. (9)).

.. math::

    m_{t+1}^{(k)} &= \mu m_t^{(k)} + \nabla f(x_t; \xi_t^{(k)}),\qquad
    \Delta_{t+1}^{(k)} = e_t^{(k)} + \eta_t m_{t+1}^{(k)},\qquad
    e_{t+1}^{(k)} = \Delta_{t+1}^{(k)} - \mathcal C(\Delta_{t+1}^{(k)}) \\
    \Delta_{t+1} &= e_t + \tfrac1n\textstyle\sum_k \mathcal C(\Delta_{t+1}^{(k)}),\qquad
    e_{t+1} = \Delta_{t+1} - \mathcal C(\Delta_{t+1}),\qquad
    x_{t+1} = x_t - \mathcal C(\Delta_{t+1}).

Guarantee (identity, exact): :math:`\tilde x_{t+1} = \tilde x_t - \frac{\eta_t}{n}\sum_k m_{t+1}^{(k)}`
for any compressor (Xu, Huo, Huang [002], eq. (3)); with error averaging :math:`\bar e_t` and
hence :math:`\tilde x_t` are unchanged. The momentum virtual sequence
:math:`z_t = \tilde x_t + \frac{\mu}{1-\mu}(\tilde x_t - \tilde x_{t-1})` moves by
:math:`-\frac{\eta}{(1-\mu)n}\sum_k \nabla f(x_t;\xi_t^{(k)})` for constant :math:`\eta`
([002], App. eqs. (84)-(86)).

Claims: ``S002-AUX``, ``S002-Z``, ``S002-P1`` (baseline side), ``S002-AL1``.

Args (through :func:`algorithms.run`; ``compressor`` required, ``momentum`` must be None):
    stepsize: :math:`\eta_t` (float or schedule).
    mu: momentum constant in [0, 1) (0 gives EF-SGD); an option, not the ``momentum`` argument.
    double_way: True (default) compresses the server's broadcast and keeps a server error;
        False broadcasts :math:`\Delta_{t+1}` densely and keeps :math:`e_t \equiv 0`.
    error_averaging: False (default). True averages the local errors when (t+1) mod p = 0,
        as 002 Fig. 3 does for EF; then ``p`` must be finite.
    p: averaging period, an integer >= 1 or ``math.inf`` (default).
    bits: bit-count convention passed to ``compressor.bits`` (default ``"values"``).
    record_clients: also store every local error vector (``diagnostics["client_errors"]``).
    local_feedback: True (default). False drops the local error, :math:`e_{t+1}^{(k)} = 0`:
        compressed momentum SGD without error feedback, the mechanism control of [002]'s rate claims.

Returns:
    :class:`algorithms.Result`; diagnostics as listed in :mod:`algorithms.numpy._ef_saef_loop`.

Example::

    >>> import math, numpy as np, algorithms
    >>> from eftheory.compressors import ScaledSign
    >>> res = algorithms.run("ef", problem, ScaledSign(), np.ones(problem.dim), 100,
    ...                      stepsize=0.05, mu=0.9)                       # doctest: +SKIP

Notes:
    * 002 requires p > 1 when averaging; p = 1 (average every step) is accepted here.
    * The tentative local model :math:`x_{t+1}^{(k)}` of lines 15/16 is not stored; the loop
      uses :math:`\Delta_{t+1}^{(k)} = e_t^{(k)} + \eta_t m_{t+1}^{(k)}` directly.
    * Bits: a dense error all-reduce costs 32d bits per worker and is added to the uplink.
"""

from __future__ import annotations

import math

from ..cards import card
from ..registry import register
from ._ef_saef_loop import check_flag, check_period, run_ef_loop

__all__ = ["ef"]


@register("ef")                  # needs, options and defaults, momentum, paper: the method card
def ef(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """Local error feedback; see the module docstring. Options (defaults on the card): ``mu``,
    ``p``, ``double_way``, ``error_averaging``, ``bits``, ``record_clients``, ``local_feedback``."""
    o = card("ef").fill(options)
    error_averaging = check_flag("error_averaging", o["error_averaging"])
    p = check_period(o["p"])
    if error_averaging and p == math.inf:
        raise ValueError("p must be a finite integer in [1, inf) when error_averaging=True; got inf")
    options = {**o, "p": p, "error_averaging": error_averaging}
    return run_ef_loop("ef", problem, compressor, x0, iters, stepsize=stepsize, seed=seed,
                       point="model", mu=o["mu"], p=p, double_way=o["double_way"],
                       average=error_averaging, bits=o["bits"], record_clients=o["record_clients"],
                       local_feedback=o["local_feedback"], options=options)
