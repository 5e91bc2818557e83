r"""signSGD: one sign step per stochastic gradient (Bernstein et al. 2018; 003 eq. (3)).

Problem and assumptions: :math:`\min_x f(x) = \mathbb E_\xi f(x;\xi)`; the baseline needs
separable smoothness and large batches (or unimodal symmetric noise) for its guarantees.

Method: signSGD, the centralized baseline of Jiang et al. [003].

Metric: :math:`\frac1T\sum_t \mathbb E\|\nabla f(x_t)\|_1` (003 Table 1).

.. math::

    x_{t+1} = x_t - \eta\,\mathrm{sign}\big(\nabla f(x_t; \xi_t)\big).

Guarantee: none without large batches or unimodal noise (the reason [003] adds momentum);
used as a baseline and negative control for ``S003-T1``/``S003-T2``.

Args (through :func:`algorithms.run`; ``compressor`` and ``momentum`` must be None):
    stepsize: :math:`\eta` (float or schedule).
    sign_zero: value of sign(0), one of -1, 0 (default), 1.

Returns:
    :class:`algorithms.Result`; diagnostics as in :mod:`algorithms.numpy._sign_loop`.

Example::

    >>> res = algorithms.run("signsgd", problem, None, x0, 100, stepsize=1e-2)  # doctest: +SKIP

Notes:
    * With n > 1 clients the step uses the sign of the average of one stochastic gradient per
      client (the stochastic gradient of :math:`f = \frac1n\sum_j f_j`).
    * Indexing: step k = 0..K-1 is 003's t = k + 1.
"""

from __future__ import annotations

from ..cards import card
from ..registry import register
from ._sign_loop import run_sign_loop

__all__ = ["signsgd"]


@register("signsgd")             # needs, options and defaults, momentum, paper: the method card
def signsgd(problem, compressor, x0, iters, *, stepsize, momentum=None, seed=0, **options):
    """signSGD; see the module docstring. Options: ``sign_zero`` (default on the card)."""
    o = card("signsgd").fill(options)
    return run_sign_loop("signsgd", problem, x0, iters, stepsize=stepsize, momentum=None,
                         seed=seed, estimator="grad", uplink="none", downlink="none",
                         options=o, sign_zero=o["sign_zero"])
