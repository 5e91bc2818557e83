"""Collects ``CLAIMS`` from every ``checks/paper_*.py`` module (one per paper, and ``paper_cross`` for the
claims several papers share) and merges them with the catalog.

Every catalog id appears exactly once in :func:`all_claims`: the executable claim a module
defines, or the catalog row (PENDING, with its reason). A module may define only catalog ids and
no id twice.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path

from .catalog import CATALOG
from .claim import Claim

__all__ = ["claim_modules", "all_claims", "get_claim", "resolve_ids", "module_errors", "DEFAULT_PENDING"]

DEFAULT_PENDING = "no executable check in this version"


def claim_modules() -> list[str]:
    here = Path(__file__).parent
    return sorted(f"checks.{m.name}" for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("paper_"))


_ERRORS: dict[str, str] = {}


def module_errors() -> dict[str, str]:
    """Claim modules that failed to import: module -> one-line error (their claims show as PENDING)."""
    _collect()
    return dict(_ERRORS)


@lru_cache(maxsize=None)
def _collect() -> tuple:
    found: dict[str, tuple[Claim, str]] = {}
    for mod_name in claim_modules():
        try:
            mod = importlib.import_module(mod_name)
        except Exception as exc:  # a broken module must not hide the others' claims
            _ERRORS[mod_name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            continue
        for c in getattr(mod, "CLAIMS", []):
            if not isinstance(c, Claim):
                raise TypeError(f"{mod_name}.CLAIMS must hold Claim objects; got {type(c).__name__}")
            if c.id not in CATALOG:
                raise ValueError(f"{mod_name} defines claim {c.id!r}, which is not a catalog id")
            if c.id in found:
                raise ValueError(f"claim {c.id!r} is defined twice ({found[c.id][1]} and {mod_name})")
            found[c.id] = (c, mod_name)
    out = []
    for cid, row in CATALOG.items():
        if cid in found:
            c, mod_name = found[cid]
            srcs = tuple(dict.fromkeys((*c.sources, mod_name.replace(".", "/") + ".py")))
            out.append(c.__class__(**{**c.__dict__, "sources": srcs}))
        else:
            out.append(row if row.pending else row.__class__(**{**row.__dict__, "pending": DEFAULT_PENDING}))
    return tuple(out)


def all_claims() -> list[Claim]:
    """Every catalog claim in catalog order (executable or pending)."""
    return list(_collect())


def get_claim(claim_id: str) -> Claim:
    for c in _collect():
        if c.id == claim_id:
            return c
    raise ValueError(f"claim id must be one of the {len(CATALOG)} catalog ids (see `eftheory list`); got {claim_id!r}")


def resolve_ids(ids=None) -> list[Claim]:
    """The claims named by ``ids`` (all if None), validating every id."""
    if not ids:
        return all_claims()
    out = []
    for i in ids:
        c = get_claim(i)
        if c not in out:
            out.append(c)
    return out
