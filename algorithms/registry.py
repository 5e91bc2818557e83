"""One registry drives ``algorithms.run``, the parity tests, the invalid-input tests and the claims.

An implementation registers itself with :func:`register`; ``algorithms.names()`` lists every
registered name. Implementations live in ``algorithms/numpy`` (reference) and
``algorithms/torch`` (engine); both packages import all their modules on import.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["AlgorithmSpec", "register", "spec_meta", "get", "names", "specs", "BACKENDS", "Streams", "import_all"]

BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class AlgorithmSpec:
    """What the registry knows of one (name, backend) implementation.

    Its ``fn`` is called as::

        fn(problem, compressor, x0, iters, *, stepsize: Schedule, momentum: Schedule | None,
           seed: int, **options) -> Result
    """

    name: str
    backend: str
    fn: Callable[..., Any]
    needs: tuple[str, ...] = ("grad_i",)        # problem methods used
    options: dict[str, Any] = field(default_factory=dict)   # documented options -> defaults
    momentum: str = "none"                      # "none" | "optional" | "required"
    compressor: str = "required"                # "required" | "none" (centralized / sign methods)
    paper: str = ""                             # seed id, e.g. "004"
    summary: str = ""


_REGISTRY: dict[tuple[str, str], AlgorithmSpec] = {}


#: the card fields a registration may restate (checked against the card, never overriding it)
_CARD_FIELDS = ("needs", "momentum", "compressor", "paper")
_BACKEND_NOTE = {"numpy": "", "torch": " (batched torch engine)"}


def _same(a, b) -> bool:
    """Equal values of the same type (``False`` is not ``0``, ``1.0`` is not ``1``)."""
    return a is b or (type(a) is type(b) and a == b)


def spec_meta(name: str, backend: str = "numpy", **meta) -> dict:
    """The :class:`AlgorithmSpec` metadata of ``name`` on ``backend``: read from its method card.

    The card (``algorithms.cards.CARDS[name]``) is the one declaration of the needs, the options
    and their defaults, the momentum and compressor arguments, the paper and the summary.
    ``meta`` may only *add* backend options (``options`` with names the card does not have,
    e.g. the engine's ``seeds`` / ``device``); a restated card field or card option must equal
    the card (RuntimeError otherwise), so no backend can drift from its card. The summary is
    the card's, tagged with the backend.
    """
    from .cards import CARDS

    card = CARDS.get(name)
    if card is None:
        raise RuntimeError(f"algorithm {name!r} has no method card in algorithms.cards; add one first")
    unknown = sorted(set(meta) - {*_CARD_FIELDS, "options", "summary"})
    if unknown:
        raise RuntimeError(f"register({name!r}) got {unknown}: the metadata of a method come from its card")
    out = card.registry_meta()
    for key in _CARD_FIELDS:
        if key in meta and not _same(tuple(meta[key]) if key == "needs" else meta[key], out[key]):
            raise RuntimeError(f"register({name!r}, backend={backend!r}) states {key}={meta[key]!r} but its "
                               f"card says {out[key]!r}: change the card (algorithms/cards.py), not the backend")
    extra = dict(meta.get("options") or {})
    for key, value in extra.items():
        if key in card.options and not _same(value, card.options[key]):
            raise RuntimeError(f"register({name!r}, backend={backend!r}) gives option {key}={value!r} but its "
                               f"card's default is {card.options[key]!r}: change the card, not the backend")
    out["options"] = {**card.options, **{k: v for k, v in extra.items() if k not in card.options}}
    out["summary"] = card.summary + _BACKEND_NOTE.get(backend, f" ({backend})")
    return out


def register(name: str, *, backend: str = "numpy", **meta) -> Callable:
    """Decorator registering ``fn`` under ``name`` for ``backend``, with the metadata of its card.

    ``@register("ef21")`` is the whole registration of a NumPy reference; the engine adds its
    own options (``@register(name, backend="torch", options=ENGINE_OPTIONS)``). See
    :func:`spec_meta` for what ``meta`` may hold. A name without a card cannot be registered.
    """
    meta = spec_meta(name, backend, **meta)

    def deco(fn):
        key = (name, backend)
        if key in _REGISTRY and _REGISTRY[key].fn is not fn:
            raise RuntimeError(f"algorithm {name!r} registered twice for backend {backend!r}")
        _REGISTRY[key] = AlgorithmSpec(name=name, backend=backend, fn=fn, **meta)
        return fn

    return deco


def import_all(package_name: str) -> None:
    """Import every module of a package so that its ``@register`` decorators run."""
    pkg = importlib.import_module(package_name)
    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{package_name}.{mod.name}")


def _load(backend: str) -> None:
    if backend == "numpy":
        import_all("algorithms.numpy")
    else:
        import_all("algorithms.torch")


def names(backend: str = "numpy") -> list[str]:
    """Every registered algorithm name (sorted) for a backend (each has a method card)."""
    _load(backend)
    return sorted(n for (n, b) in _REGISTRY if b == backend)


def specs(backend: str = "numpy") -> list[AlgorithmSpec]:
    _load(backend)
    return [_REGISTRY[(n, backend)] for n in names(backend)]


def get(name: str, backend: str = "numpy") -> AlgorithmSpec:
    from eftheory.validation import check_choice

    check_choice("backend", backend, BACKENDS)
    _load(backend)
    key = (name, backend)
    if key not in _REGISTRY:
        raise ValueError(f"name must be one of the registered algorithms {names(backend)}; got {name!r}")
    return _REGISTRY[key]


class Streams:
    """Independent NumPy random streams of one run, by purpose (the reference's draw contract).

    ``Streams(seed)`` spawns three generators from ``numpy.random.SeedSequence(seed)``:

    * ``sample`` -- stochastic draws ``problem.sample(i, rng)``: per iteration k, clients i = 0..n-1
      in order; a client that needs a second, independent draw in the same iteration (RHM's HVP
      sample) takes it right after its first.
    * ``compress`` -- every call of a random compressor consumes ``rng.random(shape)`` in call order:
      per iteration, clients 0..n-1, then the server's compressions.
    * ``aux`` -- any other draw (RHM's q_i^k ~ U[0,1], one per client per iteration, client order).

    The torch engine replays exactly these draws to prove parity with the reference.
    """

    def __init__(self, seed: int):
        ss = np.random.SeedSequence(seed)
        self.sample, self.compress, self.aux = (np.random.default_rng(s) for s in ss.spawn(3))
