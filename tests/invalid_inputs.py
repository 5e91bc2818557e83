"""The registry of invalid inputs the tests walk (one list, extended by ``invalid_cases_*`` modules).

Each :class:`InvalidCase` is a zero-argument callable that must raise ``ValueError`` whose message
contains every string in ``expect`` (the parameter name and, where there is one, the range).
Add cases in a module ``tests/invalid_cases_<area>.py`` defining ``CASES: list[InvalidCase]``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class InvalidCase:
    id: str
    call: Callable[[], object]
    expect: tuple[str, ...]


def all_cases() -> list[InvalidCase]:
    here = Path(__file__).parent
    cases: list[InvalidCase] = []
    for mod in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if mod.name.startswith("invalid_cases_"):
            cases.extend(importlib.import_module(mod.name).CASES)
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise RuntimeError(f"duplicate invalid-case ids: {sorted(dup)}")
    return cases
