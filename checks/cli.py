"""Command-line interface ``eftheory``: ``eftheory verify`` runs the claims ledger, ``eftheory list`` lists it,
``eftheory mutants`` runs it under the named mutants of :mod:`checks.mutants` and writes the kill matrix.

Errors a user can cause (an unknown claim id, ``--jobs 0``, an unknown tier, backend or device,
CUDA asked for and absent) print one line ``eftheory: error: ...`` on stderr and exit with 2.
The exit code of ``verify`` is 1 when a claim that is not reconstructed ([R]) FAILs.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    print(f"eftheory: error: {message}".splitlines()[0], file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="eftheory", description="Executable claims of five compressed-optimization papers.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    v = sub.add_parser("verify", help="run the claims and write ledger.json, report.md, report.html, plots/")
    v.add_argument("--tier", default="quick", help="quick (default) or full")
    v.add_argument("--claims", nargs="+", metavar="ID", help="claim ids to run (default: all)")
    v.add_argument("--backend", default="torch",
                   help="torch (default: the batched engine where registered, else the NumPy reference) or numpy")
    v.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    v.add_argument("--jobs", default="1", help="worker processes (claims run in parallel), >= 1")
    v.add_argument("--out", default="results", help="output folder (default: results)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    mu = sub.add_parser("mutants", help="run the claims under each named mutant and write the kill matrix "
                                        "(mutants.json, mutants.md, a section of report.md/html)")
    mu.add_argument("--mutants", nargs="+", metavar="NAME", help="mutant names (default: all; see --list)")
    mu.add_argument("--claims", nargs="+", metavar="ID",
                    help="claim ids to run (default: the claims of the papers each mutant breaks)")
    mu.add_argument("--tier", default="quick", help="quick (default) or full")
    mu.add_argument("--backend", default="torch", help="torch (default) or numpy")
    mu.add_argument("--jobs", default="1", help="worker processes, >= 1")
    mu.add_argument("--out", default="results", help="output folder (default: results; shares verify's cache)")
    mu.add_argument("--pytest", action="store_true", help="also run the fast pytest tier under each mutant")
    mu.add_argument("--list", action="store_true", help="list the mutants and exit")
    mu.add_argument("--quiet", action="store_true", help="no progress bar")
    ls = sub.add_parser("list", help="list the claim ids with kind, paper and status")
    ls.add_argument("--kind", help="only claims of this kind (P, B, S, I, Q)")
    return p


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer in [1, inf]; got {text!r}") from None


def _cmd_list(args) -> int:
    from .registry import all_claims, module_errors

    for c in all_claims():
        if args.kind and c.kind != args.kind:
            continue
        status = "executable" if c.executable else f"PENDING ({c.pending})"
        tag = " [R]" if c.reconstructed else ""
        print(f"{c.id:<10} {c.kind}  {c.paper:<12} {status}{tag}")
    for mod, err in module_errors().items():
        print(f"warning: {mod} failed to import: {err}", file=sys.stderr)
    return 0


def _cmd_verify(args) -> int:
    from .registry import resolve_ids
    from .runner import exit_code, verify

    jobs = _int("jobs", args.jobs)
    claims = resolve_ids(args.claims)
    outcomes = verify(args.claims, tier=args.tier, backend=args.backend, device=args.device, jobs=jobs, out=args.out,
                      progress=not args.quiet)
    counts = {}
    for o in outcomes:
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + f"  -> {args.out}/report.md")
    return exit_code(claims, outcomes)


def _cmd_mutants(args) -> int:
    from .mutants import MUTANTS, get

    if args.list:
        for m in MUTANTS.values():
            print(f"{m.name:<24} {'/'.join(m.papers):<14} {m.description}")
        return 0
    for name in args.mutants or ():
        get(name)
    from .mutation import run_mutants

    doc = run_mutants(args.mutants, args.claims, tier=args.tier, backend=args.backend, jobs=_int("jobs", args.jobs),
                      out=args.out, progress=not args.quiet, pytest=args.pytest)
    surviving = [n for n, m in doc["mutants"].items() if m["survives"]]
    for name, m in doc["mutants"].items():
        killers = ", ".join(m["killers"]) or ("equivalent" if m["equivalent_everywhere"] else "SURVIVES")
        print(f"{name:<24} {killers}")
    print(f"{len(doc['mutants']) - len(surviving)}/{len(doc['mutants'])} mutants killed or equivalent"
          f"  -> {args.out}/mutants.json, {args.out}/mutants.md")
    return int(bool(surviving))


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        if args.command == "list":
            return _cmd_list(args)
        if args.command == "mutants":
            return _cmd_mutants(args)
        return _cmd_verify(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except ValueError as exc:
        return _fail(str(exc))
    except OSError as exc:                 # an output folder that cannot be created or written
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return _fail(f"out must be a writable folder{where}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return _fail("interrupted (finished units are cached; rerun to resume)")


if __name__ == "__main__":
    sys.exit(main())
