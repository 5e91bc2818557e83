r"""One declarative method card per algorithm: what every path that runs a method reads.

A :class:`MethodCard` states, once, what the registry, the batched engine's method tables, the
``torch.optim`` optimizers (:mod:`algorithms.torch.optim`), the ``torch.distributed`` runner
(:mod:`algorithms.torch.distributed`) and the DDP communication hooks (:mod:`algorithms.torch.ddp`)
need to know of a method: its family and client estimator, whether the server step is
normalized, the server step, the options with their defaults and allowed values, the oracle
needs, the bit convention and the paper (seed id and Algorithm box). The update rules
themselves live in the engine (:mod:`algorithms.torch.ef21_family`, :mod:`.local_ef`,
:mod:`.sign`) and, independently, in the NumPy reference; a card holds no update code.

The card is the one declaration of a method's metadata: ``@register(name)``
(:func:`algorithms.registry.spec_meta`) takes the needs, the options and their defaults, the
momentum and compressor arguments, the paper and the summary from it, on both backends (the
engine only adds its own options, ``seeds``, ``device``, ...; a registration that restates a
card field with another value is refused), and the implementations fill their options from
:meth:`MethodCard.fill`. Changing a default here changes the NumPy reference, the engine, the
optimizers, the distributed runner and the DDP hooks alike (``tests/test_cards.py`` checks it).

One option vocabulary
---------------------
Every path spells a method's parameters as ``algorithms.run`` does:

=============================  ===========================================================
``stepsize``                   :math:`\gamma_k` (002's :math:`\eta_t`, 003's :math:`\eta_t`)
``momentum``                   :math:`\eta_k` of the EF21 momentum variants, 003's :math:`\beta_t`
``init``                       the EF21 client memory entering step 0
``normalize_scope``            ``"global"`` or ``"per_tensor"`` normalization
``rhm_same_sample``            RHM's HVP at the gradient's minibatch
``econtrol_eta``               EControl's error weight
``econtrol_step_uses``         ``"h_next"`` or ``"h_prev"``
``mu``, ``p``, ``double_way``,  EF / SAEF ([002])
``error_averaging``
``sign_zero``, ``ties``,       the sign methods ([003])
``momentum_convention``,
``G`` / ``B``,
``on_violation``,
``shared_draw``
=============================  ===========================================================

Renamed in the optimizers (earlier spellings, now rejected): ``lr`` -> ``stepsize``;
``eta`` (momentum) / ``beta`` -> ``momentum``; ``eta`` of EControl -> ``econtrol_eta``;
``normalize`` -> ``normalize_scope``; ``same_sample`` -> ``rhm_same_sample``; ``step_uses`` ->
``econtrol_step_uses``; ``MVSM(version=1|2)`` -> ``MVSMV1`` / ``MVSMV2``. In the distributed
runner ``init=`` became an ordinary option. Options that exist only where a real model runs
(``n_clients``, ``compressor``, ``generator``, ``compress``) are not method options and are
not on the cards.

Usage::

    from algorithms.cards import card, CARDS
    card("ef21-mvr-norm").estimator        # 'mvr'
    card("mvsm-v2").downlink              # 'stochastic_sign'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["MethodCard", "CARDS", "card", "names", "FAMILIES"]

FAMILIES = ("ef21", "local_ef", "sign")


@dataclass(frozen=True)
class MethodCard:
    r"""What one algorithm is, declaratively (no update code).

    name : the registered name.
    family : ``"ef21"`` (client memories + server mirror), ``"local_ef"`` (EF / SAEF of [002])
        or ``"sign"`` (the sign methods of [003]).
    estimator : the client estimator -- EF21: ``exact``, ``sgd``, ``polyak``, ``igt``, ``rhm``,
        ``hm``, ``mvr``, ``econtrol`` (keys of the engine's ``ESTIMATORS``); local EF: ``ef``,
        ``saef``; sign: ``grad``, ``signum``, ``smm``.
    normalized : the server step is :math:`x - \gamma g/\|g\|` (EF21 family).
    server_step : the server step in words.
    options : option -> default (the registry's options of the NumPy reference).
    allowed : option -> allowed values (a tuple) or a range in words (a str).
    momentum : ``"none"`` | ``"optional"`` | ``"required"`` (the ``momentum`` argument).
    compressor : ``"required"`` or ``"none"`` (sign methods bring their own).
    needs : problem-protocol methods used (``grad_i``, ``hvp_i``, ``sample``, ``f``).
    draws : stochastic draws per client and step (``"option"``: RHM, 1 or 2 by ``rhm_same_sample``).
    hvp : the estimator uses Hessian-vector products.
    bits : the bit convention of ``Result.bits_up`` / ``bits_down``.
    uplink, downlink : sign family: ``"none"`` (centralized: the dense gradients are averaged, see
        ``bits``), ``"sign"``, ``"stochastic_sign"``.
    bound : sign family with a stochastic sign: the name of the bound option (``G`` or ``B``).
    step_ahead : local EF: SAEF evaluates at :math:`x_t - e_t^{(k)}`.
    paper : seed id (``../shared/seeds``); box : the Algorithm box.
    """

    name: str
    family: str
    estimator: str
    options: Mapping[str, Any]
    allowed: Mapping[str, Any]
    momentum: str = "none"
    normalized: bool = False
    server_step: str = ""
    compressor: str = "required"
    needs: tuple[str, ...] = ("grad_i",)
    draws: Any = 1
    hvp: bool = False
    bits: str = ""
    uplink: str = "compressed"
    downlink: str = "none"
    bound: str | None = None
    step_ahead: bool = False
    paper: str = ""
    box: str = ""
    summary: str = ""

    def __post_init__(self):
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "allowed", MappingProxyType(dict(self.allowed)))
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}; got {self.family!r}")
        missing = sorted(set(self.options) - set(self.allowed))
        if missing:
            raise ValueError(f"card {self.name!r}: options {missing} have no allowed values")

    # ------------------------------------------------------------------ reading a card
    @property
    def centralized(self) -> bool:
        """A sign method of one node (signSGD, Signum, SMM): no compressed messages (with n > 1
        clients each sends its dense gradient, 32 d bits; see :attr:`bits`)."""
        return self.family == "sign" and self.uplink == "none"

    def defaults(self, **given) -> dict:
        """The option dict of a run: the card's defaults updated by ``given``; unknown names raise."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"options {unknown} are not options of {self.name!r} (allowed: {allowed})")
        out = dict(self.options)
        out.update(given)
        for key, value in given.items():
            choices = self.allowed[key]
            if isinstance(choices, tuple) and not any(value is c or (type(value) is type(c) and value == c)
                                                      for c in choices):
                raise ValueError(f"{key} must be one of {list(choices)} for {self.name!r}; got {value!r}")
        return out

    def fill(self, given: Mapping[str, Any]) -> dict:
        """The card's defaults updated by ``given`` (the options of one call); unknown names raise.

        Unlike :meth:`defaults` the values are not checked here: each implementation validates
        its own options with its own one-line messages (the NumPy reference and the engine stay
        independent code).
        """
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"options {unknown} are not options of {self.name!r} (allowed: {allowed})")
        return {**self.options, **given}

    def registry_meta(self) -> dict:
        """The ``@register`` metadata this card implies (every backend; the engine adds its options)."""
        return {"needs": self.needs, "options": dict(self.options), "momentum": self.momentum,
                "compressor": self.compressor, "paper": self.paper, "summary": self.summary}


# ---------------------------------------------------------------------------------- the cards

_EF21_COMMON = {"init": "gradient", "bits": "values", "record_clients": False}
_EF21_ALLOWED = {"init": ("gradient", "compressed", "zero"), "bits": ("values", "values+indices"),
                 "record_clients": (False, True), "normalize_scope": ("global", "per_tensor"),
                 "blocks": "None or block sizes summing to d", "rhm_same_sample": (False, True),
                 "econtrol_eta": "a real in [0, 1]", "econtrol_step_uses": ("h_next", "h_prev")}
_NORMALIZED = {"normalize_scope": "global", "blocks": None}
_EF21_BITS = "uplink: compressor.bits(d, bits) per client and step (init: 32 d for 'gradient'); downlink 0"
_STEP = "x - gamma_k g^k"
_STEP_NORM = "x - gamma_k g^k / ||g^k||"


def _ef21(name, estimator, normalized, init, momentum, paper, box, summary, *, extra=None,
          needs=("grad_i",), draws=1, hvp=False):
    opts = {**_EF21_COMMON, "init": init, **(_NORMALIZED if normalized else {}), **(extra or {})}
    return MethodCard(name=name, family="ef21", estimator=estimator, normalized=normalized,
                      options=opts, allowed={k: _EF21_ALLOWED[k] for k in opts}, momentum=momentum,
                      server_step=_STEP_NORM if normalized else _STEP, needs=needs, draws=draws,
                      hvp=hvp, bits=_EF21_BITS, downlink="none", paper=paper, box=box, summary=summary)


_LOCAL_ALLOWED = {"mu": "a real in [0, 1)", "p": "an integer >= 1 or math.inf",
                  "double_way": (True, False), "error_averaging": (False, True),
                  "bits": ("values", "values+indices"), "record_clients": (False, True),
                  "local_feedback": (True, False)}
_SIGN_ALLOWED = {"sign_zero": (-1, 0, 1), "ties": ("zero", "plus"),
                 "momentum_convention": ("new_weight", "old_weight"), "on_violation": ("clip", "raise"),
                 "shared_draw": (False, True), "G": "a real in (0, inf)", "B": "a real in (0, inf)"}
_SIGN_NEEDS = ("sample", "grad_i", "f")
#: the centralized sign methods are one node in [003]; run on n > 1 clients, the node (the
#: server) needs every client's dense gradient, so each client sends 32 d bits (float32, as
#: EF21's ``init="gradient"`` message and Identity()) and the server's sign step is taken on
#: the mean that every client receives from the reduction: nothing else is broadcast (0 down).
_VOTE_BITS = ("d bits up and down per node (1 bit per sign, the papers' count; where a message holds "
              "exact zeros the distributed runner also sends a zero flag and mask: its control_bits)")
_CENTRAL_BITS = ("uplink: 32 d per client and step (its dense gradient) when n > 1, 0 with one client; "
                 "downlink 0 (the sign step is taken on the reduced mean, nothing else is broadcast)")


def _local(name, step_ahead, options, box, summary):
    return MethodCard(name=name, family="local_ef", estimator=name, options=options,
                      allowed={k: _LOCAL_ALLOWED[k] for k in options}, momentum="none",
                      server_step="Delta = e + mean_k C(Delta^(k)); x - C(Delta) (double way) or x - Delta",
                      needs=("sample", "grad_i", "f"), step_ahead=step_ahead,
                      bits="uplink: compressor.bits(d, bits) (+32 d when errors are averaged); downlink: "
                           "the same (double way) or 32 d", downlink="compressed", paper="002", box=box,
                      summary=summary)


def _sign(name, estimator, uplink, downlink, momentum, options, summary, box, bound=None):
    return MethodCard(name=name, family="sign", estimator=estimator, options=options,
                      allowed={k: _SIGN_ALLOWED[k] for k in options}, momentum=momentum,
                      server_step="x - eta_t s_t", compressor="none", needs=_SIGN_NEEDS,
                      bits=_CENTRAL_BITS if uplink == "none" else _VOTE_BITS,
                      uplink=uplink, downlink=downlink, bound=bound, paper="003", box=box,
                      summary=summary)


_ALL = [
    _ef21("ef21", "exact", False, "zero", "none", "004", "EF21 (Richtárik et al. 2021, Alg. 1)",
          "EF21 (Richtárik, Sokolov, Fatkhullin 2021): error feedback with exact local gradients",
          draws=0),
    _ef21("ef21-norm", "exact", True, "gradient", "none", "004", "Algorithm 1",
          "||EF21|| (Khirirat et al. [004] Alg. 1): EF21 with a normalized step", draws=0),
    _ef21("ef21-sgd", "sgd", False, "gradient", "none", "000", "EF21-SGD (Fatkhullin et al. 2021)",
          "EF21-SGD (Fatkhullin et al. 2021): EF21 with one stochastic gradient per client"),
    _ef21("ef21-sgdm", "polyak", False, "gradient", "required", "000", "EF21-SGDM (Fatkhullin et al. 2023)",
          "EF21-SGDM (Fatkhullin, Tyurin, Richtárik 2023): EF21 with Polyak momentum, unnormalized"),
    _ef21("ef21-sgdm-norm", "polyak", True, "zero", "required", "001", "Algorithm 2 (001); Algorithm 1 (000)",
          "||EF21-SGDM|| ([001] Alg. 2; [000] Alg. 1, Polyak): normalized EF21 with Polyak momentum"),
    _ef21("ef21-igt-norm", "igt", True, "gradient", "required", "000", "Algorithm 1 (IGT)",
          "||EF21-IGT|| ([000] Alg. 1): normalized EF21 with implicit gradient transport"),
    _ef21("ef21-rhm-norm", "rhm", True, "gradient", "required", "000", "Algorithm 1 (RHM)",
          "||EF21-RHM|| ([000] Alg. 1): normalized EF21 with randomized Hessian momentum",
          extra={"rhm_same_sample": False}, needs=("grad_i", "hvp_i"), draws="option", hvp=True),
    _ef21("ef21-hm-norm", "hm", True, "gradient", "required", "000", "Algorithm 1 (HM)",
          "||EF21-HM|| ([000] Alg. 1): normalized EF21 with Hessian momentum",
          needs=("grad_i", "hvp_i"), hvp=True),
    _ef21("ef21-mvr-norm", "mvr", True, "gradient", "required", "000", "Algorithm 1 (MVR)",
          "||EF21-MVR|| ([000] Alg. 1): normalized EF21 with STORM momentum"),
    _ef21("ef21-mvr", "mvr", False, "gradient", "required", "000", "EF21-MVR (Fatkhullin et al. 2023)",
          "EF21-MVR (Fatkhullin, Tyurin, Richtárik 2023): EF21 with STORM momentum, unnormalized"),
    _ef21("econtrol", "econtrol", False, "gradient", "none", "000", "EControl (Gao, Islamov, Stich 2023)",
          "EControl (Gao, Islamov, Stich 2023): EF21-style memory with a controlled error buffer",
          extra={"econtrol_eta": 0.1, "econtrol_step_uses": "h_next"}),
    _local("ef", False, {"mu": 0.0, "p": math.inf, "double_way": True, "error_averaging": False,
                         "bits": "values", "record_clients": False, "local_feedback": True}, "Algorithm 1, EF branch (lines 13-16)",
           "local error feedback with momentum, single/double-way compression (002 Alg. 1, EF)"),
    _local("saef", True, {"mu": 0.0, "p": math.inf, "double_way": True, "bits": "values",
                          "record_clients": False, "local_feedback": True}, "Algorithm 1, SAEF branch (lines 5-12)",
           "step-ahead error feedback with error averaging of period p (002 Alg. 1, SAEF)"),
    _sign("signsgd", "grad", "none", "none", "none", {"sign_zero": 0},
          "signSGD (centralized sign step; baseline of 003)", "baseline"),
    _sign("signum", "signum", "none", "none", "required", {"sign_zero": 0},
          "Signum (sign of the EMA of gradients; baseline of 003)", "baseline"),
    _sign("smm", "smm", "none", "none", "required", {"momentum_convention": "new_weight", "sign_zero": 0},
          "sign-based momentum method SMM (003 Alg. 1)", "Algorithm 1"),
    _sign("mv-signsgd", "grad", "sign", "sign", "none", {"sign_zero": 0, "ties": "zero"},
          "signSGD with majority vote (baseline of 003)", "baseline"),
    _sign("mv-signum", "signum", "sign", "sign", "required", {"sign_zero": 0, "ties": "zero"},
          "Signum with majority vote (baseline of 003)", "baseline"),
    _sign("sto-signsgd", "grad", "stochastic_sign", "sign", "none",
          {"B": None, "on_violation": "clip", "ties": "zero"},
          "stochastic-sign SGD with majority vote (Jin et al.; baseline of 003)", "baseline", bound="B"),
    _sign("mvsm-v1", "smm", "stochastic_sign", "sign", "required",
          {"G": None, "on_violation": "clip", "momentum_convention": "new_weight", "ties": "zero",
           "shared_draw": False},
          "majority-vote sign momentum, sign downlink (003 Alg. 2, v1)", "Algorithm 2 (v1)", bound="G"),
    _sign("mvsm-v2", "smm", "stochastic_sign", "stochastic_sign", "required",
          {"G": None, "on_violation": "clip", "momentum_convention": "new_weight"},
          "majority-vote sign momentum, stochastic-sign downlink (003 Alg. 2, v2)", "Algorithm 2 (v2)",
          bound="G"),
]

#: name -> card, every registered algorithm.
CARDS: Mapping[str, MethodCard] = MappingProxyType({c.name: c for c in _ALL})


def names(family: str | None = None) -> list[str]:
    """Every carded algorithm name (sorted), optionally of one family."""
    return sorted(n for n, c in CARDS.items() if family is None or c.family == family)


def card(name: str) -> MethodCard:
    """The card of ``name``; ValueError naming the allowed names otherwise."""
    try:
        return CARDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name must be one of the algorithms {names()}; got {name!r}") from None
