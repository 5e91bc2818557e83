"""Build-time generator of the documentation's data-driven pages, and the site's offline assets.

On ``config-inited`` it writes, under ``docs/_generated/`` (git-ignored):

* ``derivations.inc`` — every :func:`eftheory.derivations.all_derivations` record: LaTeX, source,
  claim ids, note;
* ``ledger.inc`` — the claims ledger of the last ``eftheory verify`` run (``results/ledger.json``),
  with coloured verdicts and the rate plots embedded, or the catalog of claims marked "not run"
  when there is no ledger; the plots are copied to ``_generated/plots/`` (nothing is run);
* ``claims_<paper>.inc`` and ``algorithms_<paper>.inc`` — per-paper claim and algorithm tables;
* ``api.inc`` — autodoc directives for every module that imports; a module that fails to import
  gets a visible note instead of a directive;
* ``static/mathjax/`` — the MathJax 3 bundle (``tex-svg-full.js``, TeX input and SVG output with
  its fonts in one file) and its licence, copied from the installed ``django-static-mathjax``
  package, so the pages typeset their formulas without a network.

It also adds the ``verdict`` role (``{verdict}`PASS```: a coloured badge) and loads
:mod:`eftheory_docstrings`, the guard that shows a docstring that is not valid reStructuredText
verbatim, with a warning naming it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shutil
import traceback
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

PAPERS = {
    "000": "Sadiev et al., arXiv:2511.14501",
    "001": "Khirirat et al., arXiv:2410.16871 (with ‖EF21-SGDM‖)",
    "002": "Xu, Huo, Huang, AAAI 2021",
    "003": "Jiang et al., arXiv:2507.12091",
    "004": "Khirirat et al., arXiv:2410.16871 (‖EF21‖ version)",
}
API_MODULES = [
    "eftheory", "eftheory.compressors", "eftheory.problems", "eftheory.schedules", "eftheory.rates",
    "eftheory.validation",
    "eftheory.derivations", "eftheory.derivations.ef21", "eftheory.derivations.problems",
    "eftheory.derivations.normalized", "eftheory.derivations.sgdm", "eftheory.derivations.momentum",
    "eftheory.derivations.saef", "eftheory.derivations.sign",
    "algorithms", "checks", "checks.mutants", "checks.mutation",
]
# the one MathJax file the pages load: TeX input, SVG output and the fonts as paths, no lazy loads
MATHJAX_FILE = "tex-svg-full.js"
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
EMBED_SUFFIXES = (".png", ".svg")
MAX_CELL = 320   # characters of a measured/stated figure shown in the table (the report has all)


# ----------------------------------------------------------------------------------- text helpers
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>$|~#!])")


def _md(x) -> str:
    """Plain text as literal Markdown: one line, every character MyST could read as markup escaped."""
    s = "" if x is None else str(x)
    s = " ".join(s.split())
    return _MD_SPECIAL.sub(r"\\\1", s)


def _cell(x) -> str:
    """Text already written as Markdown, made safe for one table cell."""
    s = "" if x is None else str(x)
    return s.replace("|", "\\|").replace("\n", " ").strip()


def _clip(s: str, n: int = MAX_CELL) -> str:
    return s if len(s) <= n else s[: n - 1].rstrip() + "…"


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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).strip().lower()).strip("-") or "none"


def _verdict(v) -> str:
    """A verdict as the ``verdict`` role (an empty verdict reads "not run")."""
    text = str(v or "not run").replace("`", "")
    return f"{{verdict}}`{text}`"


def verdict_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{verdict}`PASS``` -> ``<span class="verdict verdict-pass">PASS</span>`` (colours in eftheory.css)."""
    node = nodes.inline(rawtext, text, classes=["verdict", f"verdict-{_slug(text)}"])
    return [node], []


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
    """(rows, document) of ``results/ledger.json``; (None, None) when it is absent or unreadable."""
    path = results / "ledger.json"
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, None
    rows = data.get("claims", data.get("rows", [])) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return None, None
    return [r for r in rows if isinstance(r, dict)], (data if isinstance(data, dict) else {})


def _catalog():
    try:
        from checks.catalog import CATALOG
    except Exception:
        return []
    return [c.meta() for c in CATALOG.values()]


def _controls(merged: dict) -> str:
    ctrls = [c for c in merged.get("controls") or [] if isinstance(c, dict)]
    if not ctrls:
        return "–"
    kept = [c.get("name", "?") for c in ctrls if not c.get("rejected")]
    if not kept:
        return f"{len(ctrls)}/{len(ctrls)} rejected"
    return "not rejected: " + ", ".join(f"`{_md(n).replace('`', '')}`" for n in kept)


def _row(r: dict) -> dict:
    out = r.get("outcome") if isinstance(r.get("outcome"), dict) else {}
    merged = {**r, **out}
    return dict(
        id=str(merged.get("id") or merged.get("claim_id", "?")),
        paper=str(merged.get("paper", "")),
        statement=merged.get("statement", ""),
        stated=_fmt_value(merged.get("stated")),
        measured=_fmt_value(merged.get("measured")),
        verdict=merged.get("verdict", merged.get("status", "")),
        controls=_controls(merged),
        plots=merged.get("plots") or [],
    )


def _copy_plots(rows, results: Path, dest: Path) -> dict:
    """Copy each row's plots into ``dest``; claim id -> [file names] of the files found."""
    links: dict = {}
    for r in rows:
        cands = [Path(p) for p in r["plots"] if isinstance(p, str)]
        cands = cands or [results / "plots" / f"{r['id']}{s}" for s in PLOT_SUFFIXES]
        for p in cands:
            src = p if p.is_absolute() else results / p
            if not src.is_file() and (results / "plots" / p.name).is_file():
                src = results / "plots" / p.name
            if src.is_file() and src.suffix in PLOT_SUFFIXES and src.name not in links.get(r["id"], []):
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / src.name)
                links.setdefault(r["id"], []).append(src.name)
    return links


def _label(claim_id: str) -> str:
    return f"plot-{_slug(claim_id)}"


def _embeddable(names) -> list:
    return [n for n in names if Path(n).suffix in EMBED_SUFFIXES]


def _table(rows, links) -> str:
    """The claims table, inside a container that scrolls sideways when the table is wider than the page."""
    head = ("| id | paper | statement | stated | measured | verdict | controls | plot |\n"
            "|---|---|---|---|---|---|---|---|\n")
    body = []
    for r in rows:
        plot = f"{{ref}}`plot <{_label(r['id'])}>`" if _embeddable(links.get(r["id"], [])) else ""
        body.append("| " + " | ".join(_cell(x) for x in (
            f"`{r['id']}`", _md(r["paper"]).replace("/", "/\u200b"), _md(r["statement"]), _md(_clip(r["stated"])),
            _md(_clip(r["measured"])), _verdict(r["verdict"]), r["controls"], plot)) + " |")
    return "`````{container} ledger-table\n" + head + "\n".join(body) + "\n`````\n"


def _plots_section(rows, links) -> str:
    """One figure per claim with a plot: heading with the verdict, statement, image, download links."""
    out = []
    for r in rows:
        names = links.get(r["id"], [])
        shown = _embeddable(names)
        if not shown:
            continue
        out += [f"({_label(r['id'])})=", f"### `{r['id']}` {_verdict(r['verdict'])}", "", _md(r["statement"]), ""]
        for name in shown:
            out += [f"```{{image}} /_generated/plots/{name}", f":alt: log-log plot of claim {r['id']}",
                    ":class: ledger-plot", "```", ""]
        files = " · ".join(f"{{download}}`{Path(n).suffix[1:]} </_generated/plots/{n}>`" for n in names)
        out += [f"Files: {files}", ""]
    if not out:
        return ""
    return ("## Plots\n\nEach rate claim's log-log plot from the same run: the seed mean with its "
            "confidence band, the fitted line and the stated rate.\n\n" + "\n".join(out))


def _summary(rows, doc: dict) -> str:
    counts: dict = {}
    for r in rows:
        counts[r["verdict"] or "not run"] = counts.get(r["verdict"] or "not run", 0) + 1
    order = ["PASS", "FAIL", "INCONCLUSIVE", "PENDING"]
    keys = sorted(counts, key=lambda k: (order.index(k) if k in order else len(order), k))
    tally = ", ".join(f"{_verdict(k)} {counts[k]}" for k in keys)
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    run = [f"{k} {_md(settings[k])}" for k in ("tier", "backend", "device") if settings.get(k) is not None]
    when = f", created {_md(doc['created'])}" if doc.get("created") else ""
    about = f" ({', '.join(run)}{when})" if run or when else ""
    text = f"Ledger of the last `eftheory verify` run{about}: {tally}.\n\n"
    errors = doc.get("module_errors") or {}
    if errors:
        text += ("```{warning}\nSome claim modules failed to load in that run: "
                 + _md("; ".join(f"{k}: {v}" for k, v in errors.items())) + "\n```\n\n")
    return text


def _in_paper(row, paper) -> bool:
    return paper in row["paper"].split("/") or row["id"].startswith(f"S{paper}")


def ledger_pages(results: Path, gen: Path) -> dict:
    """The ledger page and the per-paper claim tables as MyST text: file name -> text.

    Reads ``results/ledger.json`` (nothing is run) and copies the plots it names into
    ``gen/plots``; without a ledger every claim of the catalog reads "not run".
    """
    plots_dir = gen / "plots"
    if plots_dir.exists():
        shutil.rmtree(plots_dir)
    ledger, doc = _load_ledger(results)
    pages = {}
    if ledger is None:
        rows = [dict(_row(m), verdict="not run", measured="", controls="–") for m in _catalog()]
        links: dict = {}
        intro = ("```{note}\nNo ledger found (`ledger.json` in the results directory): every claim is "
                 "shown as **not run**. Run `make verify` and rebuild the docs to fill this table.\n```\n\n")
    else:
        rows = [_row(r) for r in ledger]
        links = _copy_plots(rows, results, plots_dir)
        intro = _summary(rows, doc)
    if rows:
        pages["ledger.inc"] = intro + _table(rows, links) + "\n" + _plots_section(rows, links)
    else:
        pages["ledger.inc"] = intro + "_The claim catalog could not be loaded._\n"
    for paper in PAPERS:
        prow = [r for r in rows if _in_paper(r, paper)]
        txt = _table(prow, links) if prow else "_No claims listed for this paper._\n"
        if ledger is None:
            txt = "Status: **not run** (no ledger found when the docs were built).\n\n" + txt
        pages[f"claims_{paper}.inc"] = txt
    return pages


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


# ----------------------------------------------------------------------------------- MathJax
def mathjax_source() -> Path | None:
    """The MathJax bundle of the installed ``django-static-mathjax`` package (None when not installed)."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        src = Path(root) / "static" / "mathjax" / "es5" / MATHJAX_FILE
        if src.is_file():
            return src
    return None


def _install_mathjax(gen: Path) -> Path:
    """Copy the MathJax bundle and its licence to ``gen/static/mathjax``; returns ``gen/static``."""
    src = mathjax_source()
    if src is None:
        raise ExtensionError(
            f"MathJax ({MATHJAX_FILE}) not found: the docs typeset formulas with a local MathJax from the "
            "'django-static-mathjax' package; install the docs extra: pip install -e '.[docs]'")
    dest = gen / "static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    for f in (src, src.parent.parent / "LICENSE"):
        target = dest / f.name
        if f.is_file() and (not target.is_file() or target.stat().st_size != f.stat().st_size):
            shutil.copy2(f, target)
    return dest.parent


# ----------------------------------------------------------------------------------- build hook
def generate(app, config) -> None:
    docs = Path(app.confdir)
    gen = docs / "_generated"
    gen.mkdir(exist_ok=True)
    stale = gen / "extra"          # plots used to be copied here; they are Sphinx images now
    if stale.exists():
        shutil.rmtree(stale)

    def write(name, text):
        p = gen / name
        if not p.exists() or p.read_text() != text:   # unchanged files keep Sphinx's cache valid
            p.write_text(text)

    write("derivations.inc", _derivations_page())
    for name, text in ledger_pages(Path(config.eftheory_results_dir), gen).items():
        write(name, text)
    for paper in PAPERS:
        write(f"algorithms_{paper}.inc", _algorithms(paper))
    write("api.inc", _api())
    write("mutants.inc", _mutants_page(Path(config.eftheory_results_dir)))

    static = str(_install_mathjax(gen))
    if static not in config.html_static_path:
        config.html_static_path.append(static)


def setup(app):
    app.add_config_value("eftheory_results_dir", "", "env")
    app.add_role("verdict", verdict_role)
    app.connect("config-inited", generate, priority=400)
    app.setup_extension("eftheory_docstrings")
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
