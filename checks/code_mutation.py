"""Code mutation score: mutmut over the algorithms and the compressors, judged by the fast test tier.

``make mutation`` (= ``python -m checks.code_mutation``) runs ``mutmut run`` with the
configuration of ``[tool.mutmut]`` in ``pyproject.toml`` (mutated: ``algorithms/numpy/``,
``algorithms/torch/``, ``eftheory/compressors.py``; tests: the fast tier, ``-m "not slow"``), then
prints the score -- killed / (killed + survived + no tests + timeouts) -- and writes the names of
the surviving mutants, one per line, to ``results/mutation-survivors.txt`` (``--out``) with the
counts in ``results/mutation.json``. mutmut keeps its state in ``mutants/``, so an interrupted run
resumes. This is a code-level complement of the named mutants of :mod:`checks.mutants` (which
break one *mechanism* each and are judged by the ledger); it is not part of CI.

Each survivor is listed with its reason from ``checks/mutation_reasons.tsv`` (``name<TAB>reason``:
why the mutant is equivalent, or the test written for it), or "no reason recorded".
``--docs FILE`` also writes the survivors, their reasons and the score as a Markdown page section
(the docs include ``docs/mutation_survivors.md``, written this way).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["main", "score", "reasons", "survivors_page"]

#: curated reasons of surviving mutants (equivalent, or the test that kills them)
REASONS = ROOT / "checks" / "mutation_reasons.tsv"


def _mutmut(*args, check=False):
    cmd = [str(Path(sys.executable).with_name("mutmut")), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=check)


def score(stats: dict) -> float:
    """killed / (killed + survived + no tests + timeout + suspicious); a mutant no test runs counts as surviving."""
    judged = sum(int(stats.get(k, 0)) for k in ("killed", "survived", "no_tests", "timeout", "suspicious"))
    return float(stats.get("killed", 0)) / judged if judged else float("nan")


def reasons(path: Path = REASONS) -> dict[str, str]:
    """``mutant name -> reason`` from the tab-separated reasons file (``#`` lines are comments)."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition("\t")
            out[name.strip()] = why.strip()
    return out


def _module(name: str) -> str:
    """``algorithms.torch._kernels.x_f__mutmut_3`` -> ``algorithms.torch._kernels``."""
    head = name.split("__mutmut_")[0]
    return head.rsplit(".", 1)[0] if "." in head else head


def survivors_page(survivors: list[tuple[str, str]], doc: dict, why: dict[str, str]) -> str:
    """A Markdown section: the score, survivors per module, and every survivor with its reason."""
    judged = sum(int(doc.get(k, 0)) for k in ("killed", "survived", "no_tests", "timeout", "suspicious"))
    lines = [f"Score **{doc['score']:.1%}**: {doc.get('killed', 0)} of {judged} judged mutants killed "
             f"({doc.get('total', 0)} generated; {doc.get('survived', 0)} survived, {doc.get('no_tests', 0)} "
             f"reached by no test, {doc.get('timeout', 0)} timeouts).", ""]
    per = {}
    for name, _ in survivors:
        per[_module(name)] = per.get(_module(name), 0) + 1
    lines += ["| module | survivors |", "|---|---|"] + [f"| `{m}` | {c} |" for m, c in sorted(per.items())]
    lines += ["", "| mutant | status | reason |", "|---|---|---|"]
    for name, status in survivors:
        reason = why.get(name, "no reason recorded").replace("|", "\\|")
        lines.append(f"| `{name}` | {status} | {reason} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m checks.code_mutation", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results", help="folder for mutation.json and mutation-survivors.txt")
    p.add_argument("--skip-run", action="store_true", help="only report the state mutmut already holds")
    p.add_argument("--max-children", type=int, default=None, help="mutmut worker processes (default: mutmut's)")
    p.add_argument("--docs", default=None, help="also write the survivors and their reasons as Markdown here")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"mutation: error: --out {args.out!r} cannot be created ({err.strerror})", file=sys.stderr)
        return 2
    if not Path(sys.executable).with_name("mutmut").exists():
        print("mutation: error: mutmut is not installed in this environment (make mutation installs it: "
              "pip install -e '.[mutation]')", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if not args.skip_run:
        extra = [] if args.max_children is None else ["--max-children", str(args.max_children)]
        run = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run", *extra], cwd=ROOT)
        if run.returncode not in (0, 1):
            print(f"mutation: error: mutmut run exited {run.returncode}", file=sys.stderr)
            return 2
    seconds = time.perf_counter() - t0
    _mutmut("export-cicd-stats", check=True)
    stats = json.loads((ROOT / "mutants" / "mutmut-cicd-stats.json").read_text())
    res = _mutmut("results")
    survivors = sorted((line.split(":")[0].strip(), line.rsplit(":", 1)[1].strip())
                       for line in res.stdout.splitlines()
                       if line.strip().endswith(("survived", "no tests", "timeout", "suspicious")))
    why = reasons()
    (out / "mutation-survivors.txt").write_text(
        "".join(f"{name}\t{status}\t{why.get(name, 'no reason recorded')}\n" for name, status in survivors))
    doc = {**stats, "score": score(stats), "run_seconds": round(seconds, 1)}
    (out / "mutation.json").write_text(json.dumps(doc, indent=1))
    if args.docs:
        try:
            Path(args.docs).write_text(survivors_page(survivors, doc, why))
        except OSError as err:
            print(f"mutation: error: --docs {args.docs!r} cannot be written ({err.strerror})", file=sys.stderr)
            return 2
    print(f"mutation score {doc['score']:.1%}: {stats['killed']} killed, {stats['survived']} survived, "
          f"{stats['no_tests']} without a test, {stats['timeout']} timeouts of {stats['total']} mutants "
          f"({seconds / 60:.1f} min) -> {out}/mutation-survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
