"""Writes the ledger: ``ledger.json`` (machine-readable), ``report.md`` and ``report.html``."""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from .claim import VERDICTS, Claim, Outcome

__all__ = ["write_reports", "ledger", "format_measured", "write_mutant_reports"]

KILL_MD = "## Kill matrix"
KILL_HTML = "<h2 id='kill-matrix'>"


def _clean(v):
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        return {str(k): _clean(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(w) for w in v]
    if hasattr(v, "item") and callable(v.item):
        return _clean(v.item())
    return v


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


#: a bound more than this many times above the measurement is labelled *loose* in the reports
LOOSE = 100.0


def bound_over_measured(measured: dict):
    """The smallest bound/measured ratio a B claim reports (keys ``min_bound_over_measured`` or
    ``bound / measured ...``), or None."""
    vals = [v for k, v in (measured or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and (k == "min_bound_over_measured" or k.startswith("bound / measured"))]
    return float(min(vals)) if vals else None


def _tightness(r: dict) -> str:
    b = r.get("bound_over_measured")
    if b is None:
        return ""
    return f"bound/measured {b:.3g}" + (" (loose: > 100x)" if r.get("loose") else "") + "; "


def ledger(claims: list[Claim], outcomes: list[Outcome], settings: dict, module_errors: dict | None = None) -> dict:
    import eftheory

    rows = []
    for c, o in zip(claims, outcomes):
        d = o.as_dict()
        d.update({"id": c.id, "paper": c.paper, "theorem": c.theorem, "kind": c.kind, "statement": c.statement,
                  "algorithm": c.algorithm, "problem": c.problem, "schedule": c.schedule, "quantity": c.quantity,
                  "reconstructed": c.reconstructed, "rule": o.rule or c.rule,
                  "stated": o.stated if o.stated is not None else c.stated})
        d["plots"] = [os.path.relpath(p, settings.get("out", ".")) for p in o.plots]
        d["bound_over_measured"] = bound_over_measured(d["measured"]) if c.kind == "B" else None
        d["loose"] = d["bound_over_measured"] is not None and d["bound_over_measured"] > LOOSE
        rows.append(d)
    counts = Counter(o.verdict for o in outcomes)
    return _clean({"version": eftheory.__version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "settings": settings, "summary": {v: counts.get(v, 0) for v in VERDICTS},
                   "module_errors": module_errors or {}, "claims": rows})


def format_measured(m: dict) -> str:
    """Compact one-cell rendering of measured figures: value [lo, hi]."""
    parts = []
    for k, v in (m or {}).items():
        if isinstance(v, dict) and "value" in v:
            parts.append(f"{k}: {v['value']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]")
        elif isinstance(v, (int, float, str, bool)):
            parts.append(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
        elif isinstance(v, dict):
            parts.append(f"{k}: " + json.dumps(_clean(v))[:300])
    return "; ".join(parts)


def _controls_cell(o: dict) -> str:
    if not o["controls"]:
        return "-"
    flag = {True: "yes", False: "NO", None: "-"}[o["controls_rejected"]]
    inner = ", ".join(f"{c['name']}: {c['verdict']}" for c in o["controls"])
    return f"{flag} ({inner})"


def _stated(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {w:.4g}" if isinstance(w, float) else f"{k} {w}" for k, w in v.items())
    return "-" if v is None else str(v)


def write_reports(out, claims, outcomes, *, settings: dict, module_errors: dict | None = None) -> dict:
    out = Path(out)
    led = ledger(claims, outcomes, settings, module_errors)
    _atomic_write(out / "ledger.json", json.dumps(led, indent=1, sort_keys=False))
    s = led["summary"]
    summary = ", ".join(f"{v} {s[v]}" for v in VERDICTS)
    head = (f"eftheory {led['version']} claims ledger - tier {settings.get('tier')}, backend {settings.get('backend')}, "
            f"{settings.get('seconds', '?')} s")
    md = [f"# {head}", "", f"Summary: {summary}. [R] = reconstructed claim (a FAIL there does not fail the run).", ""]
    if led["module_errors"]:
        md += ["Claim modules that failed to import: " + "; ".join(f"{k}: {v}" for k, v in led["module_errors"].items()), ""]
    md += ["| id | paper | kind | statement | stated | measured (CI) | verdict | controls rejected? | plot |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in led["claims"]:
        rid = r["id"] + (" [R]" if r["reconstructed"] else "")
        plot = next((p for p in r["plots"] if p.endswith(".png")), "")
        meas = _tightness(r) + (format_measured(r["measured"]) or r["notes"])
        cells = [rid, r["paper"], r["kind"], r["statement"], _stated(r["stated"]), meas, r["verdict"],
                 _controls_cell(r), f"[plot]({plot})" if plot else "-"]
        md.append("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |")
    md += ["", "## Notes and rules", ""]
    for r in led["claims"]:
        if r["verdict"] == "PENDING":
            continue
        md.append(f"* **{r['id']}** - rule: {r['rule']}. {r['notes']}")
    _atomic_write(out / "report.md", "\n".join(md) + "\n")

    colors = {"PASS": "#d4f4d4", "FAIL": "#f8d0d0", "INCONCLUSIVE": "#fff2c0", "PENDING": "#e8e8e8",
              "SKIPPED": "#e0e8f8"}
    e = html.escape
    rows = []
    for r in led["claims"]:
        plot = next((p for p in r["plots"] if p.endswith(".png")), "")
        rid = e(r["id"]) + (" <b>[R]</b>" if r["reconstructed"] else "")
        rows.append(
            f"<tr style='background:{colors.get(r['verdict'], '#fff')}'><td>{rid}</td><td>{e(r['paper'])}</td>"
            f"<td>{e(r['kind'])}</td><td>{e(r['statement'])}</td><td>{e(_stated(r['stated']))}</td>"
            f"<td>{e(_tightness(r) + (format_measured(r['measured']) or r['notes']))}</td><td><b>{e(r['verdict'])}</b></td>"
            f"<td>{e(_controls_cell(r))}</td><td>{f'<a href={chr(34)}{e(plot)}{chr(34)}>plot</a>' if plot else '-'}</td></tr>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>eftheory claims ledger</title>
<style>body{{font-family:sans-serif;font-size:13px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:3px 6px;vertical-align:top}}</style></head><body>
<h1>{e(head)}</h1><p>Summary: {e(summary)}. [R] = reconstructed claim.</p>
<table><tr><th>id</th><th>paper</th><th>kind</th><th>statement</th><th>stated</th><th>measured (CI)</th>
<th>verdict</th><th>controls rejected?</th><th>plot</th></tr>
{''.join(rows)}
</table></body></html>
"""
    _atomic_write(out / "report.html", page)
    doc = _load_mutants(out, settings)
    if doc is not None:
        write_mutant_reports(out, doc)
    return led


def _load_mutants(out: Path, settings: dict):
    """The kill matrix of the same tier and backend, if ``eftheory mutants`` wrote one into ``out``."""
    try:
        doc = json.loads((out / "mutants.json").read_text())
    except (OSError, ValueError):
        return None
    if doc.get("tier") != settings.get("tier") or doc.get("backend") != settings.get("backend"):
        return None
    return doc


def _kill_rows(doc: dict):
    for name, m in doc["mutants"].items():
        everywhere = m.get("equivalent_everywhere")
        killers = ", ".join(m["killers"]) or ("equivalent" if everywhere else "NONE (survives)")
        bound = ", ".join(m.get("rate_or_bound_killers", [])) or "-"
        equiv = everywhere or "; ".join(f"{c}: {r}" for c, r in m["equivalent"].items()) or "-"
        py = m.get("pytest")
        py_cell = "-" if py is None else ("killed" + (f" ({py['test']})" if py.get("test") else "")
                                          if py.get("killed") else ("survives" if py.get("killed") is False
                                                                    else py.get("note", "?")))
        yield [name, "/".join(m["papers"]), m["description"], str(len(m["killers"])), killers, bound, equiv, py_cell]


_KILL_HEAD = ["mutant", "papers", "defect", "kills", "killed by (verdict differs from the unmutated run)",
              "rate/bound killers", "equivalent for", "fast pytest tier"]


def _kill_summary(doc: dict) -> str:
    ms = doc["mutants"].values()
    killed = sum(1 for m in ms if m["killers"])
    equiv = sum(1 for m in ms if not m["killers"] and m.get("equivalent_everywhere"))
    surv = [n for n, m in doc["mutants"].items() if m["survives"]]
    return (f"{len(doc['mutants'])} mutants: {killed} killed by a ledger claim, {equiv} equivalent everywhere, "
            f"{len(surv)} surviving" + (f" ({', '.join(surv)})" if surv else "") + f"; tier {doc['tier']}, "
            f"backend {doc['backend']}.")


def write_mutant_reports(out, doc: dict) -> None:
    """Write ``mutants.md`` and put the kill-matrix section into ``report.md`` / ``report.html``."""
    out = Path(out)
    md = [KILL_MD, "", _kill_summary(doc), "",
          "| " + " | ".join(_KILL_HEAD) + " |", "|" + "---|" * len(_KILL_HEAD)]
    md += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in _kill_rows(doc)]
    counts = ", ".join(f"{c}: {k}" for c, k in sorted(doc["claims"].items(), key=lambda t: (-t[1], t[0])))
    md += ["", f"Kills per claim: {counts}.", ""]
    section = "\n".join(md) + "\n"
    _atomic_write(out / "mutants.md", section.replace(KILL_MD, "# Kill matrix", 1))
    rep = out / "report.md"
    if rep.exists():
        text = rep.read_text(encoding="utf-8").split("\n" + KILL_MD, 1)[0].rstrip("\n")
        _atomic_write(rep, text + "\n\n" + section)
    page = out / "report.html"
    if page.exists():
        e = html.escape
        text = page.read_text(encoding="utf-8").split(KILL_HTML, 1)[0].replace("</body></html>", "").rstrip()
        head = "".join(f"<th>{e(h)}</th>" for h in _KILL_HEAD)
        rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in _kill_rows(doc))
        block = (f"{KILL_HTML}Kill matrix</h2><p>{e(_kill_summary(doc))}</p><table><tr>{head}</tr>{rows}</table>"
                 f"<p>Kills per claim: {e(counts)}.</p></body></html>\n")
        _atomic_write(page, text + "\n" + block)
