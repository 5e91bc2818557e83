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

__all__ = ["write_reports", "ledger", "format_measured"]


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
        meas = format_measured(r["measured"]) or r["notes"]
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
            f"<td>{e(format_measured(r['measured']) or r['notes'])}</td><td><b>{e(r['verdict'])}</b></td>"
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
    return led
