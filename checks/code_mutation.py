"""Code mutation score: mutmut over the algorithms and the compressors, judged by the fast test tier.

``make mutation`` (= ``python -m checks.code_mutation``) runs ``mutmut run`` with the
configuration of ``[tool.mutmut]`` in ``pyproject.toml`` (mutated: ``algorithms/numpy/``,
``algorithms/torch/``, ``eftheory/compressors.py``; tests: the fast tier, ``-m "not slow"``), then
prints the score -- killed / (killed + survived + no tests + timeouts) -- and writes the names of
the surviving mutants, one per line, to ``results/mutation-survivors.txt`` (``--out``) with the
counts in ``results/mutation.json``. mutmut keeps its state in ``mutants/``, so an interrupted run
resumes. This is a code-level complement of the named mutants of :mod:`checks.mutants` (which
break one *mechanism* each and are judged by the ledger); it is not part of CI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["main", "score"]


def _mutmut(*args, check=False):
    cmd = [str(Path(sys.executable).with_name("mutmut")), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=check)


def score(stats: dict) -> float:
    """killed / (killed + survived + no tests + timeout + suspicious); a mutant no test runs counts as surviving."""
    judged = sum(int(stats.get(k, 0)) for k in ("killed", "survived", "no_tests", "timeout", "suspicious"))
    return float(stats.get("killed", 0)) / judged if judged else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m checks.code_mutation", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="results", help="folder for mutation.json and mutation-survivors.txt")
    p.add_argument("--skip-run", action="store_true", help="only report the state mutmut already holds")
    p.add_argument("--max-children", type=int, default=None, help="mutmut worker processes (default: mutmut's)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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
    survivors = sorted(line.split(":")[0].strip() for line in res.stdout.splitlines()
                       if line.strip().endswith(("survived", "no tests", "timeout", "suspicious")))
    (out / "mutation-survivors.txt").write_text("\n".join(survivors) + ("\n" if survivors else ""))
    doc = {**stats, "score": score(stats), "run_seconds": round(seconds, 1)}
    (out / "mutation.json").write_text(json.dumps(doc, indent=1))
    print(f"mutation score {doc['score']:.1%}: {stats['killed']} killed, {stats['survived']} survived, "
          f"{stats['no_tests']} without a test, {stats['timeout']} timeouts of {stats['total']} mutants "
          f"({seconds / 60:.1f} min) -> {out}/mutation-survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
