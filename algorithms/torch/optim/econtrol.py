r"""EControl as a ``torch.optim`` optimizer (Gao, Islamov, Stich 2023; a baseline of [000]).

Client i, step t (in the package's notation :math:`h_i` is the EF21 memory :math:`g_i`):

.. math::

    \Delta_i^t &= \mathcal C\big(\eta\, e_i^t + \nabla f_i(x^t;\xi_i^t) - h_i^t\big),\qquad
    e_i^{t+1} = e_i^t + \nabla f_i(x^t;\xi_i^t) - h_i^t - \Delta_i^t,\\
    h_i^{t+1} &= h_i^t + \Delta_i^t,\qquad h^{t+1} = h^t + \tfrac1n\textstyle\sum_i \Delta_i^t,\qquad
    x^{t+1} = x^t - \gamma_t\, h^{t+1}.

With :math:`\eta = 0` it is EF21-SGD. Theory value :math:`\eta = \delta/400`; [000]'s code uses
0.1 (default). Registered reference: ``"econtrol"`` (same options ``econtrol_eta``,
``econtrol_step_uses``).

Notes on deviations: whether the step uses :math:`h^{t+1}` ([000]'s code, default
``econtrol_step_uses="h_next"``) or :math:`h^t` (``"h_prev"``) is not settled by the sources; the initial
memory is the uncompressed gradient (``init="gradient"``) with :math:`e_i^0 = 0`.
"""

from __future__ import annotations

from ._base import CardOptimizer

__all__ = ["EControl"]


class EControl(CardOptimizer):
    """``econtrol`` on a real model: ``EControl(params, stepsize, momentum=None, *, n_clients, ...,
    **options)`` with the options of its method card (:data:`algorithms.cards.CARDS` ``["econtrol"]``);
    see :class:`~algorithms.torch.optim.CardOptimizer` for the arguments and the closure protocol."""

    card_name = "econtrol"
