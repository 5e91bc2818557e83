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

``--sample N [--seed S]`` judges a uniform random sample of N of the generated mutants instead of
all of them (the first N of a seeded permutation, so a larger N extends a smaller one and reuses
its results), and reports the sample's score with its exact (Clopper-Pearson) 95 % interval for the
score over all mutants. A whole run takes hours on two cores: every surviving mutant runs every
test that covers it, and a sample of a thousand bounds the score to about +-2 points.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["main", "score", "reasons", "survivors_page", "sample_of", "score_interval"]

#: judged statuses (mutmut's names) and the ones that count against the score
_JUDGED = ("killed", "survived", "no tests", "timeout", "suspicious", "segfault")
_NOT_KILLED = _JUDGED[1:]

#: curated reasons of surviving mutants (equivalent, or the test that kills them)
REASONS = ROOT / "checks" / "mutation_reasons.tsv"


def _mutmut(*args, check=False):
    cmd = [str(Path(sys.executable).with_name("mutmut")), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=check)


def score(stats: dict) -> float:
    """killed / (killed + survived + no tests + timeout + suspicious); a mutant no test runs counts as surviving."""
    judged = sum(int(stats.get(k, 0)) for k in ("killed", "survived", "no_tests", "timeout", "suspicious"))
    return float(stats.get("killed", 0)) / judged if judged else float("nan")


def score_interval(killed: int, judged: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for the score over all mutants from a uniform sample."""
    from scipy.stats import binomtest

    if judged == 0:
        return float("nan"), float("nan")
    ci = binomtest(killed, judged).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def sample_of(names, n: int, seed: int) -> list[str]:
    """The first ``n`` of a seeded permutation of the sorted names (a larger ``n`` extends a smaller one)."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return order[:n]


def _statuses() -> dict[str, str]:
    """``mutant name -> status`` for every generated mutant (``not checked`` before its run)."""
    res = _mutmut("results", "--all", "true", check=True)
    out = {}
    for line in res.stdout.splitlines():
        if ": " in line:
            name, _, status = line.strip().rpartition(": ")
            out[name] = status
    return out


def _covered() -> bool:
    """Whether mutmut's statistics map any mutated function to a test. (``mutmut
    print-time-estimates`` run outside a ``mutmut run`` empties that map; a run on an empty map
    judges every mutant "no tests".)"""
    path = ROOT / "mutants" / "mutmut-stats.json"
    try:
        return bool(json.loads(path.read_text()).get("tests_by_mangled_function_name"))
    except (OSError, ValueError):
        return False


def _generate() -> None:
    """Write mutmut's mutants (``mutants/``) without running any: the steps ``mutmut run`` begins with."""
    code = ("import mutmut.__main__ as M, os; M.set_mutant_under_test('mutant_generation'); "
            "os.makedirs('mutants', exist_ok=True); M.copy_src_dir(); M.copy_also_copy_files(); "
            "M.setup_source_paths(); M.store_lines_covered_by_tests(); M.create_mutants(os.cpu_count() or 2)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)


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
    if doc.get("sample") and doc.get("not_checked"):
        # mutmut judges the mutants with the fewest covering tests first: an unfinished sample's
        # judged part is not uniform, so only the bracket over the whole sample is stated
        left, n = doc["not_checked"], doc["sample"]
        lines[0] = lines[0][:-1] + (f" in an unfinished uniform sample of {n} of the {doc['total']} generated "
                                    f"mutants (seed {doc['seed']}): {left} of the sample are not judged yet, "
                                    f"the ones covered by the most tests, so the judged part is not a uniform "
                                    f"sample. The sample's score lies between {doc.get('killed', 0) / n:.1%} "
                                    f"(every unjudged mutant surviving) and "
                                    f"{(doc.get('killed', 0) + left) / n:.1%} (every one killed).")
    elif doc.get("sample"):
        lo, hi = doc["score_ci95"]
        lines[0] = lines[0][:-1] + (f" in a uniform sample of {doc['sample']} of the {doc['total']} generated "
                                    f"mutants (seed {doc['seed']}): the score over all mutants lies in "
                                    f"[{lo:.1%}, {hi:.1%}] (exact 95 % interval).")
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
    p.add_argument("--sample", type=int, default=None, help="judge a uniform random sample of this many mutants")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    args = p.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        print(f"mutation: error: --sample must be a positive number of mutants, got {args.sample}", file=sys.stderr)
        return 2
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
    extra = [] if args.max_children is None else ["--max-children", str(args.max_children)]
    sample = None
    if args.sample is not None:
        try:
            if not args.skip_run:
                _generate()            # the names to sample from are those of the current sources
            status = _statuses()
        except subprocess.CalledProcessError as err:
            last = (err.stderr or "").strip().splitlines()
            print(f"mutation: error: mutmut could not list the mutants (exit {err.returncode}"
                  f"{': ' + last[-1] if last else ''})", file=sys.stderr)
            return 2
        sample = sample_of(status, args.sample, args.seed)
        pending = [name for name in sample if status[name] not in _JUDGED]
        print(f"mutation: a sample of {len(sample)} of {len(status)} mutants (seed {args.seed}); "
              f"{len(sample) - len(pending)} already judged, {len(pending)} to run")
    if not args.skip_run and (sample is None or pending):
        # named mutants are rerun even when judged, so a resumed sample names only the unjudged ones
        names = [] if sample is None else pending
        run = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run", *extra, *names], cwd=ROOT)
        if run.returncode not in (0, 1):
            print(f"mutation: error: mutmut run exited {run.returncode}", file=sys.stderr)
            return 2
    seconds = time.perf_counter() - t0
    if not _covered():
        print("mutation: error: mutmut holds no test coverage (mutants/mutmut-stats.json maps no function to a "
              "test), so every mutant would read 'no tests'; delete mutants/ and run again", file=sys.stderr)
        return 2
    if sample is None:
        _mutmut("export-cicd-stats", check=True)
        stats = json.loads((ROOT / "mutants" / "mutmut-cicd-stats.json").read_text())
        res = _mutmut("results")
        survivors = sorted((line.split(":")[0].strip(), line.rsplit(":", 1)[1].strip())
                           for line in res.stdout.splitlines()
                           if line.strip().endswith(_NOT_KILLED))
    else:
        status = _statuses()
        got = [status[name] for name in sample]
        stats = {"killed": got.count("killed"), "survived": got.count("survived"), "no_tests": got.count("no tests"),
                 "timeout": got.count("timeout"), "suspicious": got.count("suspicious") + got.count("segfault"),
                 "not_checked": sum(g not in _JUDGED for g in got), "total": len(status),
                 "sample": len(sample), "seed": args.seed}
        survivors = sorted((name, status[name]) for name in sample if status[name] in _NOT_KILLED)
        judged = len(sample) - stats["not_checked"]
        stats["score_ci95"] = [round(x, 4) for x in score_interval(stats["killed"], judged)]
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
    if sample is None:
        of = f"{stats['total']} mutants"
    elif stats["not_checked"]:
        n, left = stats["sample"], stats["not_checked"]
        of = (f"the judged part of a sample of {n} of {stats['total']} mutants ({left} not judged yet: the sample's "
              f"score lies in [{stats['killed'] / n:.1%}, {(stats['killed'] + left) / n:.1%}])")
    else:
        of = (f"a sample of {stats['sample']} of {stats['total']} mutants, 95 % interval "
              f"[{stats['score_ci95'][0]:.1%}, {stats['score_ci95'][1]:.1%}]")
    print(f"mutation score {doc['score']:.1%}: {stats['killed']} killed, {stats['survived']} survived, "
          f"{stats['no_tests']} without a test, {stats['timeout']} timeouts of {of} "
          f"({seconds / 60:.1f} min) -> {out}/mutation-survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
