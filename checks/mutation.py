"""The kill matrix: the ledger's claims run under each named mutant of :mod:`checks.mutants`.

A claim *kills* a mutant when its verdict under the mutant differs from its verdict on the
unmutated code (same tier, backend and seeds). By default each mutant runs the claims of the
papers whose mechanism it breaks. Every (mutant, claim) outcome is stored as soon as it is known
in ``<out>/mutants/outcomes/`` (one JSON file, written atomically, with the version of the sources
that claim depends on, :func:`source_version`), so an interrupted ``eftheory mutants`` resumes
where it stopped; run units are
cached like ``eftheory verify``'s (a unit the mutant cannot change is shared with the unmutated
run). The result is ``<out>/mutants.json`` and a kill-matrix section of ``report.md`` /
``report.html``. With ``pytest=True`` the fast pytest tier also runs once per mutant
(``EFTHEORY_MUTANT`` set, stopping at the first failure) and the matrix records whether it
kills the mutant and with which test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from eftheory.validation import check_choice, check_int

from .cache import code_version
from .claim import Claim
from .context import BACKENDS, TIERS, Context
from .mutants import ENV, MUTANTS, Mutant, get
from .registry import resolve_ids
from .report import _atomic_write
from .simulate import ROOT

__all__ = ["run_mutants", "kill_matrix", "claims_for", "source_version"]


#: the parts of ``checks`` every claim runs through (the claim's own modules are added per claim)
_CHECK_CORE = ("checks/mutants.py", "checks/runner.py", "checks/context.py", "checks/simulate.py",
               "checks/claim.py", "checks/catalog.py", "checks/cache.py")


#: an import of a claim module or of a shared helper module of the claims (checks.verdicts, ...)
_HELPER_IMPORT = re.compile(r"from \.(paper_\w+|verdicts|instances|experiment_protocol) import")


def _py_files(*folders: str) -> set[str]:
    """The ``.py`` files under the given folders of the checkout, as paths relative to it."""
    return {str(p.relative_to(ROOT)) for folder in folders for p in (ROOT / folder).rglob("*.py")}


def source_version(claim: Claim | None = None) -> str:
    """A hash of the sources an outcome depends on: ``algorithms/``, ``eftheory/``, the core of ``checks/``
    and the claim's own modules (``Claim.sources``, with the modules they import from). A stored outcome is
    reused only for the same code."""
    files = _py_files("algorithms", "eftheory") | set(_CHECK_CORE)
    if claim is None:
        files |= _py_files("checks")
    else:
        files.update(claim.sources)
        for src in claim.sources:                            # and the helper modules it imports from
            text = (ROOT / src).read_text() if (ROOT / src).exists() else ""
            files.update(f"checks/{m}.py" for m in _HELPER_IMPORT.findall(text))
    return code_version(files, ROOT)


def claims_for(mutant: Mutant, claims: list[Claim]) -> list[Claim]:
    """The executable claims of the papers whose mechanism ``mutant`` breaks."""
    return [c for c in claims if c.executable and set(c.paper.split("/")) & set(mutant.papers)]


def _run_one(claim_id: str, settings: dict, mutant: str | None) -> dict:
    import torch

    torch.set_num_threads(1)
    from .registry import get_claim
    from .runner import run_claim

    out = run_claim(get_claim(claim_id), Context(**settings, mutant=mutant))
    return {"verdict": out.verdict, "notes": out.notes[:400], "seconds": out.seconds,
            "controls_rejected": out.controls_rejected}


def _pytest_kills(mutant: str, timeout: float = 1800.0) -> dict:
    """Run the fast pytest tier (without the ``wallclock`` tests) under ``mutant``; killed iff it fails
    (first failing test recorded)."""
    env = {**os.environ, ENV: mutant}
    # the wallclock tests give other processes (which inherit the mutant) a time limit: they judge
    # signal and fault handling, and a loaded machine fails them whatever the mutant
    cmd = [sys.executable, "-m", "pytest", "-m", "not slow and not wallclock", "-x", "-q", "-p", "no:cacheprovider",
           "--hypothesis-profile=ci", "tests"]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"killed": None, "test": "", "note": f"timed out after {timeout:g} s"}
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.M)
    if proc.returncode not in (0, 1):         # 2-5: interrupted, internal or usage error, no tests: no verdict
        return {"killed": None, "test": "", "rc": proc.returncode,
                "note": f"pytest exited {proc.returncode} (no test verdict)"}
    return {"killed": proc.returncode == 1, "test": failed[0] if failed else "", "rc": proc.returncode}


def tests_version() -> str:
    """A hash of what a fast-tier verdict depends on: the sources (as :func:`source_version`) and ``tests/``."""
    return code_version(_py_files("tests", "algorithms", "eftheory", "checks"), ROOT)


def pytest_column(names: list[str], out, *, jobs: int = 1) -> dict:
    """The fast pytest tier under each mutant (``jobs`` at a time), stored per mutant under
    ``out/mutants/pytest`` with :func:`tests_version`, so a rerun of unchanged code and tests reuses it."""
    from concurrent.futures import ThreadPoolExecutor

    version = tests_version()
    store = Path(out) / "mutants" / "pytest"
    path_of = lambda name: store / f"{name.replace('/', '_')}.json"
    got, todo = {}, []
    for name in names:
        try:
            rec = json.loads(path_of(name).read_text())
            if rec.get("version") == version:
                got[name] = rec["result"]
                continue
        except (OSError, ValueError, KeyError):
            pass
        todo.append(name)

    def one(name):
        res = _pytest_kills(name)
        _store(path_of(name), {"version": version, "result": res})
        return name, res

    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as ex:   # each worker waits on a subprocess
        for name, res in ex.map(one, todo):
            got[name] = res
    return {name: got[name] for name in names}


def kill_matrix(baseline: dict, results: dict, mutants: list[Mutant], kinds: dict | None = None) -> dict:
    """Per mutant: the claims run, the killers, the equivalent claims; per claim: its kill count."""
    per_mutant, per_claim = {}, {}
    for m in mutants:
        cells, killers, equivalent = {}, [], {}
        for cid, res in results.get(m.name, {}).items():
            base = baseline.get(cid)
            killed = base is not None and res["verdict"] != base
            reason = m.equivalent_for(cid)
            cells[cid] = {"verdict": res["verdict"], "baseline": base, "killed": killed,
                          "equivalent": reason}
            if reason:
                equivalent[cid] = reason
            if killed:
                killers.append(cid)
                per_claim[cid] = per_claim.get(cid, 0) + 1
            else:
                per_claim.setdefault(cid, 0)
        rate_killers = [c for c in killers if (kinds or {}).get(c) in ("S", "B")]
        per_mutant[m.name] = {"papers": list(m.papers), "mechanism": m.mechanism, "description": m.description,
                              "killers": killers, "rate_or_bound_killers": rate_killers,
                              "equivalent": equivalent, "equivalent_everywhere": m.equivalent.get("*", ""),
                              "survives": not killers and not m.equivalent.get("*"), "cells": cells}
    return {"mutants": per_mutant, "claims": per_claim}


def _store(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, json.dumps(data, indent=1))


def run_mutants(mutant_names=None, claim_ids=None, *, tier: str = "quick", backend: str = "torch",
                jobs: int = 1, out="results", progress: bool = True, pytest: bool = False) -> dict:
    """Run the kill matrix (see the module docstring) and write ``mutants.json`` and the reports."""
    check_choice("tier", tier, TIERS)
    check_choice("backend", backend, BACKENDS)
    jobs = check_int("jobs", jobs, low=1)
    mutants = [get(n) for n in (mutant_names or list(MUTANTS))]
    chosen = resolve_ids(claim_ids) if claim_ids else None
    from .registry import all_claims

    every = all_claims()
    pool_claims = chosen if chosen is not None else every
    plan = {m.name: [c.id for c in claims_for(m, pool_claims)] for m in mutants}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = dict(tier=tier, backend=backend, device="cpu", out=str(out))
    version = source_version()
    by_id = {c.id: c for c in every}
    versions = {cid: source_version(by_id[cid]) for ids in plan.values() for cid in ids}
    store = out / "mutants" / "outcomes"

    def path_of(mutant, cid):
        tag = "baseline" if mutant is None else mutant.replace("/", "_")
        return store / f"{tier}-{backend}-{tag}-{cid}.json"

    tasks = sorted({(None, cid) for ids in plan.values() for cid in ids}, key=lambda t: t[1])
    tasks += [(m, cid) for m, ids in plan.items() for cid in ids]
    done: dict = {}
    todo = []
    for mutant, cid in tasks:
        p = path_of(mutant, cid)
        try:
            rec = json.loads(p.read_text())
            if rec.get("version") == versions[cid]:
                done[(mutant, cid)] = rec
                continue
        except (OSError, ValueError):
            pass
        todo.append((mutant, cid))
    cost = {c.id: c.cost for c in every}
    todo.sort(key=lambda t: -cost.get(t[1], 1.0))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="mutants x claims", unit="run")

    def finish(task, res):
        rec = {**res, "version": versions[task[1]], "mutant": task[0], "claim": task[1]}
        _store(path_of(*task), rec)
        done[task] = rec
        if bar is not None:
            bar.set_postfix_str(f"{task[0] or 'baseline'} {task[1]}")
            bar.update(1)

    try:
        if jobs == 1:
            for task in todo:
                finish(task, _run_one(task[1], settings, task[0]))
        else:
            from .runner import pool_map

            pool_map(_run_one, {(m, cid): (cid, settings, m) for m, cid in todo}, jobs, finish)
    finally:
        if bar is not None:
            bar.close()

    baseline = {cid: rec["verdict"] for (m, cid), rec in done.items() if m is None}
    results = {m.name: {cid: done[(m.name, cid)] for cid in plan[m.name]} for m in mutants}
    matrix = kill_matrix(baseline, results, mutants, {c.id: c.kind for c in every})
    if pytest:
        for name, verdict in pytest_column([m.name for m in mutants], out, jobs=jobs).items():
            matrix["mutants"][name]["pytest"] = verdict
    doc = {"tier": tier, "backend": backend, "version": version, "baseline": baseline, **matrix}
    _atomic_write(out / "mutants.json", json.dumps(doc, indent=1))
    from .report import write_mutant_reports

    write_mutant_reports(out, doc)
    return doc
