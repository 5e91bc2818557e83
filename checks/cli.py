"""Command-line interface ``eftheory`` (the parser and the dispatch; the commands live in :mod:`checks.commands`).

* ``eftheory verify`` runs the claims ledger and compares every verdict with its record
  (:mod:`checks.expectations`): exit 0 when all match, 1 when one differs (``--strict``: also on
  any FAIL or INCONCLUSIVE);
* ``eftheory list`` lists the claims, ``eftheory mutants`` runs the ledger under named mutants;
* ``eftheory run`` runs one algorithm on one problem and saves its trajectory and plot,
  ``eftheory fit`` fits a rate to a CSV file with the ledger's rule, ``eftheory plot`` redraws the
  plots of a finished command, ``eftheory derive`` shows the symbolic derivations.

Errors a user can cause (an unknown name, a bad number, a folder that cannot be written, CUDA
asked for and absent) print one line ``eftheory: error: ...`` on stderr and exit with 2; Ctrl-C
prints one line and exits with 130; a closed output pipe (``eftheory list | head``) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main", "build_parser"]

from .claim import KINDS
from .context import BACKENDS, DEVICES, TIERS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    print(f"eftheory: error: {message}".splitlines()[0], file=sys.stderr)
    return 2


def _version() -> str:
    import eftheory

    return f"eftheory {eftheory.__version__}"


def build_parser() -> argparse.ArgumentParser:
    from .commands import COMPRESSORS, PROBLEMS

    p = _Parser(prog="eftheory", description="Executable claims of five compressed-optimization papers.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    v = sub.add_parser("verify", help="run the claims; write ledger.json, report.md, report.html, plots/",
                       description="Run the claims and compare every verdict with its record "
                                   "(checks/expectations.py). Exit 0: every verdict matches; 1: one differs "
                                   "(a regression or an unexpected pass, printed); 2: a usage error.")
    v.add_argument("--tier", default="quick", choices=TIERS, help="quick (default) or full")
    v.add_argument("--claims", nargs="+", metavar="ID", help="claim ids to run (default: all; see `eftheory list`)")
    v.add_argument("--backend", default="torch", choices=BACKENDS,
                   help="torch (default: the batched engine where registered, else the NumPy reference) or numpy")
    v.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda")
    v.add_argument("--jobs", default="1", help="worker processes (claims run in parallel), >= 1")
    v.add_argument("--out", default="results", help="output folder (default: results)")
    v.add_argument("--strict", action="store_true", help="also exit 1 on any FAIL or INCONCLUSIVE, recorded or not")
    v.add_argument("--json", action="store_true", help="print the summary as JSON")
    v.add_argument("--quiet", action="store_true", help="no progress bar")

    ls = sub.add_parser("list", help="list the claim ids with kind, paper, status and recorded verdict")
    ls.add_argument("--kind", choices=KINDS, help="only claims of this kind")
    ls.add_argument("--json", action="store_true", help="print a JSON list")

    mu = sub.add_parser("mutants", help="run the claims under each named mutant and write the kill matrix "
                                        "(mutants.json, mutants.md, a section of report.md/html)")
    mu.add_argument("--mutants", nargs="+", metavar="NAME", help="mutant names (default: all; see --list)")
    mu.add_argument("--claims", nargs="+", metavar="ID",
                    help="claim ids to run (default: the claims of the papers each mutant breaks)")
    mu.add_argument("--tier", default="quick", choices=TIERS, help="quick (default) or full")
    mu.add_argument("--backend", default="torch", choices=BACKENDS, help="torch (default) or numpy")
    mu.add_argument("--jobs", default="1", help="worker processes, >= 1")
    mu.add_argument("--out", default="results", help="output folder (default: results; shares verify's cache)")
    mu.add_argument("--pytest", action="store_true", help="also run the fast pytest tier under each mutant")
    mu.add_argument("--list", action="store_true", help="list the mutants and exit")
    mu.add_argument("--quiet", action="store_true", help="no progress bar")

    r = sub.add_parser("run", help="run one algorithm on one problem; save the trajectory (npz, csv) and a plot",
                       description="Run ALGORITHM (see `python -c 'import algorithms; print(algorithms.names())'`) "
                                   "for --seeds runs and write trajectory.npz, trajectory.csv (k, seed, grad_norm, "
                                   "f, bits), run.json and plots/grad_norm.png|pdf.")
    r.add_argument("algorithm", metavar="ALGORITHM", help="a registered algorithm name, e.g. ef21-sgdm-norm")
    r.add_argument("--problem", default="Q", metavar="NAME[:k=v,...]",
                   help=f"problem and its parameters, NAME one of {', '.join(PROBLEMS)} (default: Q), "
                        "e.g. Q:d=20,n=8,eps_std=3")
    r.add_argument("--compressor", metavar="SPEC",
                   help=f"one of {', '.join(COMPRESSORS)} (default: topk:2; 'none' for the sign methods)")
    r.add_argument("--iters", default="1000", metavar="K", help="iterations K >= 1 (default: 1000)")
    r.add_argument("--seeds", default="4", metavar="S", help="independent runs S >= 1 (default: 4)")
    r.add_argument("--seed", default=None, metavar="N", help="first seed (default: 0)")
    r.add_argument("--stepsize", default="0.01", metavar="SPEC",
                   help="a number (constant), poly:G0:P (G0*(2/(k+2))^P) or horizon:G0 (G0/sqrt(K+1)); default 0.01")
    r.add_argument("--momentum", default=None, metavar="SPEC",
                   help="momentum parameter in (0, 1], same forms as --stepsize (methods with momentum)")
    r.add_argument("--x0", default="normal:1", metavar="SPEC",
                   help="starting point: zeros, normal[:SD] (default normal:1, one draw for all runs) or "
                        "around-opt[:SCALE] (x* + SCALE z/sqrt(d))")
    r.add_argument("--option", default=None, metavar="k=v,...", help="algorithm options (its docstring lists them)")
    r.add_argument("--backend", default="numpy", choices=BACKENDS, help="numpy (default, the reference) or torch")
    r.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda (torch backend)")
    r.add_argument("--out", default=None, help="output folder (default: results/runs/ALGORITHM)")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    f = sub.add_parser("fit", help="fit a log-log rate with a bootstrap CI over seeds to your own CSV (ledger rule)",
                       description="Fit log(mean_seeds Y) against log(X) with a percentile bootstrap over the seeds "
                                   "and, with --stated R, decide PASS/FAIL/INCONCLUSIVE by the ledger's rate rule.")
    f.add_argument("file", metavar="FILE.csv", help="CSV with a header row, one row per (seed, x)")
    f.add_argument("--x", required=True, metavar="COLUMN", help="the horizon column, e.g. K")
    f.add_argument("--y", required=True, metavar="COLUMN", help="the measured quantity's column")
    f.add_argument("--seed-column", default="seed", metavar="COLUMN", help="the seed column (default: seed)")
    f.add_argument("--stated", type=float, default=None, metavar="R", help="the stated rate: quantity = O(x^-R)")
    f.add_argument("--rule", default="tight", choices=("tight", "bound"),
                   help="tight (default): slope <= -R + tol on the grid and its upper half and the slope CI within "
                        "-R +- tol; bound: only slope <= -R + tol (the quantity decays at least as fast)")
    f.add_argument("--tol", type=float, default=None, help="tolerance (default: 0.04 tight, 0.08 bound, as the ledger)")
    f.add_argument("--window", default=None, metavar="a:b", help="keep rows with a <= x <= b (either end may be empty)")
    f.add_argument("--out", default=None, help="output folder (default: results/fit/<file stem>)")
    f.add_argument("--json", action="store_true", help="print the result as JSON")

    pl = sub.add_parser("plot", help="redraw the plots of a finished verify / run / fit from its saved results")
    pl.add_argument("dir", metavar="DIR", help="the output folder of `eftheory verify`, `run` or `fit`")
    pl.add_argument("--out", default=None, help="where to draw (default: DIR; plots go to <out>/plots/)")
    pl.add_argument("--json", action="store_true", help="print the written files as JSON")

    d = sub.add_parser("derive", help="list the symbolic derivations; show one as LaTeX and its value",
                       description="Without NAME: list every derivation (NAME may also be a module prefix such as "
                                   "ef21). With NAME: its source, LaTeX and, with --at, its value.")
    d.add_argument("name", nargs="?", metavar="NAME", help="a derivation name, e.g. ef21.theta")
    d.add_argument("--at", nargs="+", metavar="SYMBOL=VALUE", help="values of its symbols, e.g. alpha=0.1")
    d.add_argument("--json", action="store_true", help="print as JSON")
    return p


def _dispatch(args) -> int:
    from . import commands

    return {"list": commands.cmd_list, "verify": commands.cmd_verify, "mutants": commands.cmd_mutants,
            "run": commands.cmd_run, "fit": commands.cmd_fit, "plot": commands.cmd_plot,
            "derive": commands.cmd_derive}[args.command](args)


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        rc = _dispatch(args)
        sys.stdout.flush()
        return rc
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except ValueError as exc:
        return _fail(str(exc))
    except OSError as exc:                 # after commands.check_out: e.g. a disk that fills during the run
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        return _fail(f"cannot read or write{where}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print("eftheory: interrupted (finished units of verify/mutants are cached; rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
