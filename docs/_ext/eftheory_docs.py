"""Build-time generator of the documentation's data-driven pages.

On ``config-inited`` it writes, under ``docs/_generated/`` (git-ignored):

* ``derivations.inc`` — every :func:`eftheory.derivations.all_derivations` record: LaTeX, source,
  claim ids, note;
* ``ledger.inc`` — the claims ledger of the last ``eftheory verify`` run (``results/ledger.json``),
  or the catalog of claims marked "not run" when there is no ledger; plots are copied into the
  build (``extra/plots``);
* ``claims_<paper>.inc`` and ``algorithms_<paper>.inc`` — per-paper claim and algorithm tables;
* ``api.inc`` — autodoc directives for every module that imports; a module that fails to import
  gets a visible note instead of a directive.
"""

from __future__ import annotations

import importlib
import json
import shutil
import traceback
from pathlib import Path

PAPERS = {
    "000": "Sadiev et al., arXiv:2511.14501",
    "001": "Khirirat et al., arXiv:2410.16871 (with ‖EF21-SGDM‖)",
    "002": "Xu, Huo, Huang, AAAI 2021",
    "003": "Jiang et al., arXiv:2507.12091",
    "004": "Khirirat et al., arXiv:2410.16871 (‖EF21‖ version)",
}
API_MODULES = [
    "eftheory", "eftheory.compressors", "eftheory.problems", "eftheory.schedules", "eftheory.validation",
    "eftheory.derivations", "eftheory.derivations.ef21", "eftheory.derivations.problems",
    "eftheory.derivations.normalized", "eftheory.derivations.sgdm", "eftheory.derivations.momentum",
    "eftheory.derivations.saef", "eftheory.derivations.sign",
    "algorithms", "checks", "checks.mutants", "checks.mutation",
]


def _cell(x) -> str:
    s = "" if x is None else str(x)
    return s.replace("|", "\\|").replace("\n", " ").strip()


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        if "value" in v:
            out = _fmt_value(v["value"])
            if v.get("lo") is not None and v.get("hi") is not None:
                out += f" [{_fmt_value(v['lo'])}, {_fmt_value(v['hi'])}]"
            return out
        return "; ".join(f"{k}: {_fmt_value(val)}" for k, val in list(v.items())[:4])
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_value(t) for t in v[:4])
    return "" if v is None else str(v)


# ----------------------------------------------------------------------------------- derivations
def _derivations_page() -> str:
    lines = []
    try:
        from eftheory.derivations import all_derivations
        ds = all_derivations()
    except Exception as exc:  # keep the build alive, say why
        return f"```{{note}}\nThe derivations could not be loaded: {type(exc).__name__}: {exc}\n```\n"
    current = None
    for d in ds:
        group = d.name.split(".")[0]
        if group != current:
            current = group
            mod = importlib.import_module(f"eftheory.derivations.{group}")
            head = (mod.__doc__ or group).strip().splitlines()[0].rstrip(".")
            lines += [f"## `{group}` — {head}", ""]
        lines += [f"### {d.title}", "", f"`{d.name}`", "", "```{math}", d.latex, "```", ""]
        lines.append(f"- **Source:** {d.source}")
        if d.claims:
            lines.append("- **Claims:** " + ", ".join(f"`{c}`" for c in d.claims))
        if d.note:
            lines.append(f"- **Note:** {d.note}")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- ledger
def _load_ledger(results: Path):
    path = results / "ledger.json"
    if not path.is_file():
        return None, path
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, path
    rows = data.get("claims", data.get("rows", [])) if isinstance(data, dict) else data
    return [r for r in rows if isinstance(r, dict)], path


def _catalog():
    try:
        from checks.catalog import CATALOG
    except Exception:
        return []
    return [c.meta() for c in CATALOG.values()]


def _row(r: dict) -> dict:
    out = r.get("outcome") if isinstance(r.get("outcome"), dict) else {}
    merged = {**r, **out}
    return dict(
        id=merged.get("id") or merged.get("claim_id", "?"),
        paper=str(merged.get("paper", "")),
        statement=merged.get("statement", ""),
        stated=_fmt_value(merged.get("stated")),
        measured=_fmt_value(merged.get("measured")),
        verdict=merged.get("verdict", merged.get("status", "")),
        plots=merged.get("plots") or [],
    )


def _copy_plots(rows, results: Path, extra: Path) -> dict:
    links = {}
    dest = extra / "plots"
    for r in rows:
        cands = [Path(p) for p in r["plots"]] or [results / "plots" / f"{r['id']}.png"]
        for p in cands:
            src = p if p.is_absolute() else results / p
            if not src.is_file() and (results / "plots" / p.name).is_file():
                src = results / "plots" / p.name
            if src.is_file() and src.suffix in (".png", ".pdf", ".svg"):
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / src.name)
                links.setdefault(r["id"], []).append(src.name)
    return links


def _table(rows, links, root: str) -> str:
    head = "| id | paper | statement | stated | measured | verdict | plot |\n|---|---|---|---|---|---|---|\n"
    body = []
    for r in rows:
        plot = " ".join(f'<a href="{root}plots/{name}">{Path(name).suffix[1:]}</a>' for name in links.get(r["id"], []))
        body.append("| " + " | ".join(_cell(x) for x in (
            f"`{r['id']}`", r["paper"], r["statement"], r["stated"], r["measured"], r["verdict"] or "not run", plot)) + " |")
    return head + "\n".join(body) + "\n"


def _in_paper(row, paper) -> bool:
    return paper in row["paper"].split("/") or row["id"].startswith(f"S{paper}")


# ----------------------------------------------------------------------------------- algorithms
def _algorithms(paper: str) -> str:
    try:
        from algorithms.registry import specs
        sp = [s for s in specs("numpy") if paper in str(s.paper).split("/")]
    except Exception as exc:
        return f"```{{note}}\nThe algorithm registry could not be loaded: {type(exc).__name__}: {exc}\n```\n"
    if not sp:
        return "_No registered algorithm names this paper._\n"
    lines = ["| registered name | summary |", "|---|---|"]
    lines += [f"| `{s.name}` | {_cell(s.summary)} |" for s in sp]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- API
def _api() -> str:
    out = []
    for mod in API_MODULES:
        out.append(f"## `{mod}`\n")
        try:
            importlib.import_module(mod)
        except Exception as exc:
            msg = traceback.format_exception_only(type(exc), exc)[-1].strip()
            out.append(f"```{{note}}\nModule `{mod}` could not be imported when the docs were built: {msg}\n```\n")
            continue
        out.append(f"```{{eval-rst}}\n.. automodule:: {mod}\n   :members:\n```\n")
    return "\n".join(out)


def generate(app, config) -> None:
    docs = Path(app.confdir)
    gen = docs / "_generated"
    gen.mkdir(exist_ok=True)
    extra = gen / "extra"
    if extra.exists():
        shutil.rmtree(extra)
    extra.mkdir()
    (extra / ".keep").write_text("")

    def write(name, text):
        p = gen / name
        if not p.exists() or p.read_text() != text:   # unchanged files keep Sphinx's cache valid
            p.write_text(text)

    write("derivations.inc", _derivations_page())

    results = Path(config.eftheory_results_dir)
    ledger, path = _load_ledger(results)
    if ledger is None:
        rows = [dict(_row(m), verdict="not run", stated=_fmt_value(m.get("stated")), measured="")
                for m in _catalog()]
        links = {}
        intro = (f"```{{note}}\nNo ledger found (`{path.name}` in the results directory): every claim is "
                 "shown as **not run**. Run `make verify` and rebuild the docs to fill this table.\n```\n\n")
    else:
        rows = [_row(r) for r in ledger]
        links = _copy_plots(rows, results, extra)
        counts = {}
        for r in rows:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        intro = ("Ledger of the last `eftheory verify` run: "
                 + ", ".join(f"{k or 'no verdict'}: {v}" for k, v in sorted(counts.items())) + ".\n\n")
    write("ledger.inc", intro + (_table(rows, links, "") if rows else "_The claim catalog could not be loaded._\n"))
    for paper in PAPERS:
        prow = [r for r in rows if _in_paper(r, paper)]
        txt = _table(prow, links, "../") if prow else "_No claims listed for this paper._\n"
        if ledger is None:
            txt = "Status: **not run** (no ledger found when the docs were built).\n\n" + txt
        write(f"claims_{paper}.inc", txt)
        write(f"algorithms_{paper}.inc", _algorithms(paper))
    write("api.inc", _api())
    write("mutants.inc", _mutants_page(results))


def _mutants_page(results: Path) -> str:
    """The mutant catalogue (from :mod:`checks.mutants`) and, when ``mutants.json`` exists, its kill matrix."""
    try:
        from checks.mutants import MUTANTS
    except Exception as exc:  # pragma: no cover - shown on the page
        return f"_The mutant catalogue could not be loaded: {_cell(exc)}_\n"
    out = ["| mutant | papers | mechanism | defect | equivalent for |", "|---|---|---|---|---|"]
    for m in MUTANTS.values():
        equiv = "; ".join(f"{k}: {v}" for k, v in m.equivalent.items()) or "-"
        out.append(f"| `{m.name}` | {'/'.join(m.papers)} | {_cell(m.mechanism)} | {_cell(m.description)} | "
                   f"{_cell(equiv)} |")
    try:
        doc = json.loads((results / "mutants.json").read_text())
    except (OSError, ValueError):
        out += ["", "```{note}\nNo kill matrix found (`mutants.json` in the results directory). Run "
                "`eftheory mutants` and rebuild the docs to show it.\n```"]
        return "\n".join(out) + "\n"
    out += ["", f"## Kill matrix ({doc.get('tier')} tier, {doc.get('backend')} backend)", "",
            "| mutant | killed by | rate / bound killers |", "|---|---|---|"]
    for name, m in doc.get("mutants", {}).items():
        killers = ", ".join(m.get("killers", [])) or ("equivalent" if m.get("equivalent_everywhere") else "**survives**")
        out.append(f"| `{name}` | {_cell(killers)} | {_cell(', '.join(m.get('rate_or_bound_killers', [])) or '-')} |")
    return "\n".join(out) + "\n"


def setup(app):
    app.add_config_value("eftheory_results_dir", "", "env")
    app.connect("config-inited", generate, priority=400)
    _setup_guard(app)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


# ----------------------------------------------------------------------------------- docstrings
_IGNORED = ("Unknown interpreted text role", "Unknown directive type", "No role entry", "No directive entry",
            "Unknown target name", "undefined label")


def _docstring_problems(text: str) -> list[str]:
    """docutils messages (level >= WARNING) of a docstring, ignoring Sphinx-only roles/directives."""
    import io

    from docutils.core import publish_doctree

    stream = io.StringIO()
    try:
        publish_doctree(text, settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": stream})
    except Exception as exc:  # pragma: no cover - defensive
        return [str(exc)]
    out = []
    for line in stream.getvalue().splitlines():
        if ("(WARNING/" in line or "(ERROR/" in line or "(SEVERE/" in line) and not any(s in line for s in _IGNORED):
            out.append(line)
    return out


def _guard_docstring(app, what, name, obj, options, lines):
    """Show a docstring that is not valid reStructuredText verbatim, instead of failing the build."""
    if not lines:
        return
    text = "\n".join(lines)
    if _docstring_problems(text):
        lines[:] = ["::", ""] + ["    " + ln for ln in text.splitlines()] + [""]


def _setup_guard(app):
    app.connect("autodoc-process-docstring", _guard_docstring, priority=900)
