"""Writes the ledger: ``ledger.json`` (machine-readable), ``report.md`` and ``report.html``.

The reports read only the ledger (:func:`render_reports` renders them again from a ``ledger.json``):

* a summary per paper (PASS / FAIL / INCONCLUSIVE / PENDING / SKIPPED counts);
* one compact row per claim: verdict, the stated figure beside the measured headline figure (with
  its 95 % bootstrap CI where it has one), the negative controls rejected (x of y), the tightness of
  a bound (bound/measured, *loose* above :data:`LOOSE`), for bound claims the worst case over the
  problem class when a performance-estimation (PEP) figure is recorded, and a flag when a verdict
  differs from the recorded one;
* the recorded findings (claims whose verdict is an investigated, recorded result);
* a details section per claim: every measured figure (4 significant digits, nested figures as
  nested tables, nothing cut), the controls, the rule and notes, the stated formula set as
  mathematics, and the plot.

``report.html`` is self-contained: formulas are inline SVG drawn by matplotlib's mathtext, plots
are PNG data URIs, and it references nothing outside the file. ``report.md`` writes formulas as
``$...$`` and links the plots by their paths relative to the report.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from . import style
from .claim import VERDICTS, Claim, Outcome

__all__ = ["write_reports", "render_reports", "ledger", "format_measured", "write_mutant_reports",
           "bound_over_measured", "headline", "fmt", "LOOSE", "PEP_KEYS"]

KILL_MD = "## Kill matrix"
KILL_HTML = "<h2 id='kill-matrix'>"

#: a bound more than this many times above the measurement is labelled *loose* in the reports
LOOSE = 100.0

#: keys of a bound claim's measured figures from a performance-estimation (worst case over the class) run
PEP_KEYS = ("worst_case_over_class", "bound_over_pep", "pep_over_measured", "pep_horizon", "pep_not_expressible",
            "pep_not_available")

PAPER_TITLES = {
    "000": "Sadiev et al., Improved Convergence in Parameter-Agnostic Error Feedback through Momentum",
    "001": "Khirirat et al., Error Feedback under (L0,L1)-Smoothness: Normalization and Momentum",
    "002": "Xu, Huo, Huang, Step-Ahead Error Feedback for Distributed Training with Compressed Gradient",
    "003": "Jiang et al., Improved Analysis for Sign-based Methods with Momentum Updates",
    "004": "Khirirat et al., Communication-efficient Algorithms Under Generalized Smoothness Assumptions",
}


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
    """Write ``text`` to a temporary file beside ``path`` and move it into place (no half-written file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def _finding_of(o, findings: dict | None, cid: str) -> dict:
    """``expected`` / ``finding`` of a claim: from the ``findings`` mapping or the outcome's attributes."""
    out = {}
    src = (findings or {}).get(cid) or {}
    for key in ("expected", "finding"):
        v = src.get(key) if isinstance(src, dict) else None
        if v is None:
            v = getattr(o, key, None)
        if v is not None:
            out[key] = v
    return out


def ledger(claims: list[Claim], outcomes: list[Outcome], settings: dict, module_errors: dict | None = None,
           findings: dict | None = None) -> dict:
    """The ledger document. ``findings`` (optional): claim id -> {"expected": verdict, "finding": reason}."""
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
        d.update(_finding_of(o, findings, c.id))
        rows.append(d)
    counts = Counter(o.verdict for o in outcomes)
    return _clean({"version": eftheory.__version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "settings": settings, "summary": {v: counts.get(v, 0) for v in VERDICTS},
                   "module_errors": module_errors or {}, "claims": rows})


# ----------------------------------------------------------------------------- numbers and values

def _sig_int(n: int) -> int:
    s = str(abs(int(n))).rstrip("0")
    return max(len(s), 1)


def fmt(v, *, html_out: bool = False) -> str:
    """One value, for a report: numbers to 4 significant digits (an integer with more than 4
    significant digits too), booleans as yes/no, strings in readable notation (‖v‖, ∇, ≤, γ).
    ``html_out``: an escaped HTML fragment, powers of ten as superscripts and a true minus sign."""
    if v is None:
        s = "–"
    elif isinstance(v, bool):
        s = "yes" if v else "no"
    elif isinstance(v, int):
        s = str(v) if _sig_int(v) <= 4 else f"{v:.4g}"
    elif isinstance(v, float):
        if math.isnan(v):
            s = "NaN"
        elif math.isinf(v):
            s = "∞" if v > 0 else "-∞"
        elif v == 0:
            s = "0"
        elif v.is_integer() and abs(v) < 1e6 and _sig_int(int(v)) <= 4:
            s = str(int(v))                                  # 10000.0 -> 10000 (a grid point, a count)
        else:
            s = f"{v:.4g}"
    elif isinstance(v, str):
        if v in ("inf", "-inf", "nan", "Infinity", "-Infinity", "NaN"):       # non-finite floats stored as text
            s = {"inf": "∞", "Infinity": "∞", "-inf": "-∞", "-Infinity": "-∞"}.get(v, "NaN")
        else:
            t = style.unicode_math(v)
            return html.escape(t) if html_out else t
    else:
        t = str(v)
        return html.escape(t) if html_out else t
    if not html_out:
        return s
    m = re.fullmatch(r"(-?[\d.]+)e([+-]\d+)", s)
    if m:
        mant, ex = m.group(1), int(m.group(2))
        s = f"{mant}×10<sup>{ex}</sup>"
    return "<span class='num'>" + s.replace("-", "−") + "</span>"


def _is_fit(v) -> bool:
    return isinstance(v, dict) and "value" in v and "lo" in v and "hi" in v


def _fit_text(v: dict, html_out: bool = False) -> str:
    f = lambda x: fmt(x, html_out=html_out)  # noqa: E731
    out = f"{f(v['value'])} [{f(v['lo'])}, {f(v['hi'])}]"
    extra = []
    if isinstance(v.get("grid"), (list, tuple)) and len(v["grid"]) == 2:
        extra.append(f"grid {f(v['grid'][0])}–{f(v['grid'][1])}")
    if v.get("points") is not None:
        extra.append(f"{f(v['points'])} points")
    if v.get("seeds") is not None:
        extra.append(f"{f(v['seeds'])} seeds")
    for k, w in v.items():
        if k not in ("value", "lo", "hi", "grid", "points", "seeds"):
            extra.append(f"{fmt(k, html_out=html_out)} {_inline(w, html_out)}")
    return out + (" (" + ", ".join(extra) + ")" if extra else "")


def _inline(v, html_out: bool = False) -> str:
    """A value on one line, in full (nested dicts and lists included)."""
    if _is_fit(v):
        return _fit_text(v, html_out)
    if isinstance(v, dict):
        return "{" + "; ".join(f"{fmt(k, html_out=html_out)}: {_inline(w, html_out)}" for k, w in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_inline(w, html_out) for w in v) + "]"
    return fmt(v, html_out=html_out)


def format_measured(m: dict) -> str:
    """One-line rendering of measured figures: value [lo, hi] for a fit, 4 significant digits, nested
    figures in full (nothing is cut)."""
    return "; ".join(f"{fmt(k)}: {_inline(v)}" for k, v in (m or {}).items())


# ----------------------------------------------------------------------------- headline figures

def _walk(d, path=()):
    """(path, key, value) of every entry of nested dicts, skipping errata and reported-only parts."""
    if not isinstance(d, dict):
        return
    for k, v in d.items():
        if k.startswith("erratum") or "reported" in k:
            continue
        yield path, k, v
        if isinstance(v, dict) and not _is_fit(v):
            yield from _walk(v, path + (k,))


def _category(key: str):
    """(aggregate, stated, order) of a figure by its name, or None: the largest ratio of the two sides of
    an inequality (stated <= 1), the largest residual of an identity (0), the smallest slack (>= 0)."""
    k = key.lower()
    if k.startswith("mc_") or "confidence" in k:
        return None
    if "residual_over" in k:
        return max, "≤ 1", 1
    if re.search(r"(max_ratio|sup_ratio)", k):
        return max, "ratio ≤ 1", 0
    if "residual" in k:
        return max, "residual 0", 2
    if "bound_over_measured" in k and k.startswith("min"):
        return min, "bound/measured ≥ 1", 3
    if "min_slack" in k:
        return min, "slack ≥ 0", 4
    return None


def _numbers(v):
    if isinstance(v, bool):
        return []
    if isinstance(v, (int, float)):
        return [v]
    if isinstance(v, dict) and not _is_fit(v):
        return [x for w in v.values() for x in _numbers(w)]
    return []


def headline(r: dict) -> dict:
    """The claim's headline figure: {stated, label, value, lo, hi}.

    Rates (kind S): the whole-grid slope (or the n-exponent) with its CI against the stated exponent;
    bounds (B): the smallest bound/measured ratio against 1; pathwise inequalities and identities
    (P, I): the largest ratio of the two sides, the largest residual or the smallest slack, over every
    part of the check; qualitative claims (Q): the sub-claims that hold; otherwise the first figure.
    """
    m, kind, st = r.get("measured") or {}, r.get("kind"), r.get("stated")
    out = {"stated": "", "label": "", "value": None, "lo": None, "hi": None}
    if "error" in m:
        return {**out, "label": "error", "value": m["error"]}
    fits = [(k, v) for k, v in m.items() if _is_fit(v) and "reported" not in k] or \
        [(k, v) for k, v in m.items() if _is_fit(v)]
    if kind == "S" or (kind == "B" and r.get("bound_over_measured") is None and fits):
        slopes = [(k, v) for k, v in fits if "slope (all)" in k]
        pick = (max(slopes, key=lambda t: t[1]["hi"]) if slopes else None) or next(
            ((k, v) for k, v in fits if "exponent" in k), None) or (fits[0] if fits else None)
        if pick is not None:
            k, v = pick
            out.update(label=k, value=v["value"], lo=v["lo"], hi=v["hi"])
            if isinstance(st, dict):
                if k.startswith("n-") and "n_exponent" in st:
                    out["stated"] = f"n-slope {style.fraction(st['n_exponent'])}"
                elif k.startswith("n-") and "n_floor_exponent" in st:
                    out["stated"] = f"n-slope < 0 (floor n^{style.fraction(st['n_floor_exponent'])})"
                elif "exponent" in st:
                    out["stated"] = f"slope −{style.fraction(st['exponent'])}"
            th = m.get("threshold")
            if th is None and ":" in k:                     # per-setup thresholds: "logistic: threshold"
                th = m.get(k.split(":")[0] + ": threshold")
            if len(slopes) > 1:
                out["label"] = f"{k} (the largest of {len(slopes)} setups)"
            rated = not k.startswith("n-") or (isinstance(st, dict) and "n_exponent" in st)
            if rated and isinstance(th, (int, float)) and not isinstance(th, bool) and out["stated"]:
                out["stated"] += f" (rule ≤ {fmt(th)})"
            return out
    if kind == "B" and r.get("bound_over_measured") is not None:
        return {**out, "stated": "bound/measured ≥ 1", "label": "min bound/measured",
                "value": r["bound_over_measured"]}
    hits = []                                            # (order, key, path, value, aggregate, stated)
    for path, k, v in _walk(m):
        cat = _category(k)
        if cat is None:
            continue
        for x in _numbers(v):
            hits.append((cat[2], k, path, x, cat[0], cat[1]))
    if hits:
        order = min(h[0] for h in hits)
        same = [h for h in hits if h[0] == order]
        agg = same[0][4]
        best = agg(same, key=lambda h: h[3])
        where = " / ".join(best[2])
        label = best[1].replace("_", " ")
        if len(same) > 1:
            label += f" ({agg.__name__} over {len(same)} parts" + (f"; at {where})" if where else ")")
        return {**out, "stated": best[5], "label": label, "value": best[3]}
    subs = m.get("sub_claims")
    if isinstance(subs, dict) and subs:
        held = [k for k, v in subs.items() if v is True]
        nots = [k.replace("_", " ") for k, v in subs.items() if v is not True]
        return {**out, "stated": f"{len(subs)} sub-claims hold", "label": "sub-claims that hold",
                "value": f"{len(held)} of {len(subs)}" + (f" (not: {', '.join(nots)})" if nots else "")}
    holds = [(p, v) for p, k, v in _walk(m) if k == "holds" and isinstance(v, bool)]
    if holds:
        n = sum(v for _, v in holds)
        return {**out, "stated": "holds", "label": "holds", "value": f"{n} of {len(holds)}"}
    if fits:
        k, v = fits[0]
        return {**out, "label": k, "value": v["value"], "lo": v["lo"], "hi": v["hi"]}
    for path, k, v in _walk(m):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return {**out, "label": k + (f" ({' / '.join(path)})" if path else ""), "value": v}
    return out


def _pep(m: dict) -> dict | None:
    """The PEP figures of a bound claim (top level first, else the first nested dict that has them)."""
    if not isinstance(m, dict):
        return None
    top = {k: m[k] for k in PEP_KEYS if k in m}
    if top:
        return top
    for _, _, v in _walk(m):
        if isinstance(v, dict) and any(k in v for k in PEP_KEYS):
            return {k: v[k] for k in PEP_KEYS if k in v}
    return None


def _pep_cell(p: dict | None, html_out: bool) -> str:
    if not p:
        return "–"
    if p.get("pep_not_expressible"):
        return "not expressible"
    if p.get("pep_not_available"):
        return "not available"
    if "worst_case_over_class" in p:
        return _inline(p["worst_case_over_class"], html_out)
    return "–"


def _pep_lines(r: dict, html_out: bool) -> list[str]:
    p = _pep(r.get("measured") or {})
    if not p:
        return []
    f = lambda x: _inline(x, html_out)  # noqa: E731
    lines = []
    if p.get("pep_not_expressible"):
        why = p["pep_not_expressible"]
        lines.append("Worst case over the class: not expressible as a PEP" + ("" if why is True else f" ({f(why)})"))
    if p.get("pep_not_available"):
        why = p["pep_not_available"]
        lines.append("Worst case over the class: not available" + ("" if why is True else f" ({f(why)})"))
    if "worst_case_over_class" in p:
        h = f" at horizon {f(p['pep_horizon'])}" if "pep_horizon" in p else ""
        lines.append(f"Worst case over the class (PEP{h}): {f(p['worst_case_over_class'])}")
    a, b, c = p.get("bound_over_pep"), p.get("pep_over_measured"), r.get("bound_over_measured")
    num = lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)  # noqa: E731
    if num(a) and num(b):
        prod = a * b
        lines.append(f"bound/measured = (bound/PEP) × (PEP/measured) = {f(a)} × {f(b)} = {f(prod)}"
                     + (f" (recorded bound/measured {f(c)})" if num(c) else "")
                     + "; bound/PEP is the slack of the proof, PEP/measured how far the runs are from the worst case")
    elif a is not None or b is not None:
        lines.append(f"bound/PEP {f(a)}, PEP/measured {f(b)}")
    return lines


def _controls_xy(r: dict) -> tuple[int, int, list[str]]:
    cs = r.get("controls") or []
    kept = [c.get("name", "?") for c in cs if not c.get("rejected")]
    return len(cs) - len(kept), len(cs), kept


def _finding_text(f, html_out: bool) -> str:
    """A recorded finding: its reason and where it is discussed (any other form in full)."""
    if isinstance(f, dict) and "reason" in f:
        rest = {k: v for k, v in f.items() if k not in ("reason", "where")}
        out = fmt(f["reason"], html_out=html_out)
        if f.get("where"):
            out += f" (discussed in {fmt(f['where'], html_out=html_out)})"
        return out + (f"; {_inline(rest, html_out)}" if rest else "")
    return _inline(f, html_out)


def _flag(r: dict) -> str:
    exp = r.get("expected")
    if exp and exp != r.get("verdict"):
        return f"verdict differs from the recorded {exp}"
    return ""


# ----------------------------------------------------------------------------- formulas

def _stated_latex(r: dict) -> list[tuple[str, str | None, str]]:
    """(label, latex or None, text) of the stated figures of a claim."""
    st, q = r.get("stated"), r.get("quantity") or ""
    qtex = style.QUANTITY_TEX.get(q, "").strip("$") or (r"Q" if r.get("kind") == "S" else "")
    var = "T" if r.get("paper") in ("002", "003") else "K"
    out = []
    if isinstance(st, dict):
        if isinstance(st.get("exponent"), (int, float)) and not isinstance(st.get("exponent"), bool):
            rt = style.rate_tex(float(st["exponent"]), var, bool(st.get("log factor")))
            lhs = qtex if qtex else "Q"
            out.append(("rate", f"{lhs} = {rt}", f"{style.unicode_math(q) or 'Q'} = O({var}^-{style.fraction(st['exponent'])})"))
        for k, v in st.items():
            if k == "exponent":
                continue
            if k.endswith("_exponent") and isinstance(v, (int, float)) and not isinstance(v, bool):
                sym = k.split("_")[0]
                out.append((k.replace("_", " "), f"\\propto {sym}^{{{'-' if v < 0 else ''}{style.fraction(abs(v))}}}",
                            f"{sym}^{style.fraction(v)}"))
            elif isinstance(v, str):
                out.append((k, style.latex(v), style.unicode_math(v)))
            else:
                out.append((k, None, fmt(v)))
    elif isinstance(st, str):
        out.append(("", style.latex(st), style.unicode_math(st)))
    elif st is not None:
        out.append(("", None, fmt(st)))
    return out


_SVG_CACHE: dict = {}


def _svg(latex: str) -> str | None:
    """Inline SVG of ``$latex$`` (matplotlib mathtext, glyphs as paths, ids made unique), or None."""
    if latex in _SVG_CACHE:
        return _SVG_CACHE[latex]
    try:
        import matplotlib
        from matplotlib import mathtext

        matplotlib.use("Agg")
        buf = io.BytesIO()
        from matplotlib.font_manager import FontProperties

        with style.context(), matplotlib.rc_context({"svg.hashsalt": "eftheory"}):
            mathtext.math_to_image(f"${latex}$", buf, prop=FontProperties(size=11), format="svg", dpi=72)
        s = buf.getvalue().decode("utf-8")
    except Exception:  # mathtext's parse and layout errors: the text form is shown instead
        _SVG_CACHE[latex] = None
        return None
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>", "", s, flags=re.S)
    s = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", s)
    n = len(_SVG_CACHE)
    s = re.sub(r'id="([^"]+)"', lambda m: f'id="m{n}-{m.group(1)}"', s)
    s = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#m{n}-{m.group(2)}"', s)
    s = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#m{n}-{m.group(1)})", s)
    s = s.replace("<svg", f"<svg class='math' role='img' aria-label='{html.escape(latex, quote=True)}'", 1)
    _SVG_CACHE[latex] = s
    return s


def _math_html(latex: str | None, text: str) -> str:
    svg = _svg(latex) if latex else None
    return svg if svg else html.escape(text)


# ----------------------------------------------------------------------------- rendering

_CSS = """body{font-family:system-ui,'DejaVu Sans',sans-serif;font-size:13px;margin:1.2em 2em;color:#222;max-width:1500px}
h1{font-size:20px}h2{font-size:17px;margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:15px;margin:.2em 0}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #bbb;padding:2px 6px;vertical-align:top;text-align:left}
th{background:#f2f2f2}table.kv{margin:0}table.kv th{background:#fafafa;font-weight:normal;color:#444}
.verdict{font-weight:bold;padding:0 4px;border-radius:3px}
.PASS{background:#d4f4d4}.FAIL{background:#f8d0d0}.INCONCLUSIVE{background:#fff2c0}.PENDING{background:#e8e8e8}
.SKIPPED{background:#e0e8f8}.flag{color:#a00;font-weight:bold}.loose{color:#a60;font-weight:bold}
section.claim{border:1px solid #ddd;border-radius:4px;padding:.4em .8em;margin:.8em 0}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:.4em 0}dl.meta dt{color:#555}
dl.meta dd{margin:0}svg.math{vertical-align:middle}img.plot{width:510px;max-width:100%;display:block;margin:.4em 0}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}td.num{text-align:right}.small{color:#555;font-size:12px}
"""


def _verdict_html(v: str) -> str:
    return f"<span class='verdict {html.escape(v)}'>{html.escape(v)}</span>"


def _summary(led: dict) -> tuple[list[str], list[list], list]:
    """Rows of the per-paper summary (a claim of several papers counts for each) and the total."""
    papers: dict = {}
    for r in led["claims"]:
        for p in str(r.get("paper", "")).split("/"):
            papers.setdefault(p, Counter())[r["verdict"]] += 1
    rows = [[p, PAPER_TITLES.get(p, "")] + [papers[p].get(v, 0) for v in VERDICTS] + [sum(papers[p].values())]
            for p in sorted(papers)]
    tot = Counter(r["verdict"] for r in led["claims"])
    total = ["all", ""] + [tot.get(v, 0) for v in VERDICTS] + [len(led["claims"])]
    return ["paper", "title", *VERDICTS, "claims"], rows, total


def _has_pep(led: dict) -> bool:
    return any(r.get("kind") == "B" and _pep(r.get("measured") or {}) for r in led["claims"])


def _row_cells(r: dict, html_out: bool) -> dict:
    h = headline(r)
    f = lambda x: fmt(x, html_out=html_out)  # noqa: E731
    meas = "–"
    if h["value"] is not None:
        meas = (_inline(h["value"], html_out) if not isinstance(h["value"], str) else f(h["value"]))
        if h["lo"] is not None:
            meas += f" [{f(h['lo'])}, {f(h['hi'])}]"
        if h["label"]:
            meas = f"{fmt(h['label'], html_out=html_out)}: {meas}"
    elif r.get("verdict") == "PENDING":
        meas = "not run"
    x, y, kept = _controls_xy(r)
    ctrl = "–" if y == 0 else f"{x} of {y}" + (f" (not rejected: {', '.join(fmt(k, html_out=html_out) for k in kept)})"
                                               if kept else "")
    b = r.get("bound_over_measured")
    tight = "–" if b is None else f(b) + (" (loose: > 100×)" if r.get("loose") else "")
    return {"stated": f(h["stated"]) if h["stated"] else "–", "measured": meas, "controls": ctrl, "tight": tight,
            "pep": _pep_cell(_pep(r.get("measured") or {}), html_out) if r.get("kind") == "B" else "–",
            "flag": _flag(r)}


def _md_cell(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _md_value(v, indent: int = 0) -> list[str]:
    pad = "  " * indent
    if isinstance(v, dict) and not _is_fit(v):
        lines = []
        for k, w in v.items():
            if isinstance(w, dict) and not _is_fit(w) and w:
                lines.append(f"{pad}- **{fmt(k)}**:")
                lines += _md_value(w, indent + 1)
            else:
                lines.append(f"{pad}- **{fmt(k)}**: {_inline(w)}")
        return lines
    return [f"{pad}- {_inline(v)}"]


def _md_stated(r) -> list[str]:
    out = []
    for label, lt, text in _stated_latex(r):
        body = f"${lt}$" if lt else text
        out.append(f"- stated{(' ' + label) if label else ''}: {body}")
    return out


def render_markdown(led: dict) -> str:
    s = led.get("settings", {})
    pep = _has_pep(led)
    md = [f"# eftheory {led.get('version', '')} claims ledger", "",
          f"Tier {s.get('tier')}, backend {s.get('backend')}, device {s.get('device', '-')}, "
          f"{s.get('seconds', '?')} s, created {led.get('created', '?')}. "
          "[R] = reconstructed claim (a FAIL there does not fail the run).", ""]
    summ = led.get("summary", {})
    md += ["Summary: " + ", ".join(f"{v} {summ.get(v, 0)}" for v in VERDICTS) + ".", ""]
    if led.get("module_errors"):
        md += ["Claim modules that failed to import: " + "; ".join(f"{k}: {v}" for k, v in led["module_errors"].items()),
               ""]
    head, rows, total = _summary(led)
    md += ["## Summary per paper", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows + [total]]
    cols = ["id", "paper", "kind", "verdict", "stated", "measured (95 % CI where there is one)", "controls rejected",
            "bound/measured"] + (["worst case over the class"] if pep else []) + ["flag"]
    md += ["", "## Claims", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in led["claims"]:
        c = _row_cells(r, False)
        rid = f"[{r['id']}](#{r['id'].lower()})" + (" [R]" if r.get("reconstructed") else "")
        cells = [rid, r.get("paper", ""), r.get("kind", ""), f"**{r['verdict']}**", c["stated"], c["measured"],
                 c["controls"], c["tight"]] + ([c["pep"]] if pep else []) + [c["flag"] or ""]
        md.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
    found = [r for r in led["claims"] if r.get("finding")]
    if found:
        md += ["", "## Recorded findings", "", "| id | verdict | recorded verdict | finding |", "|---|---|---|---|"]
        for r in found:
            md.append("| " + " | ".join(_md_cell(x) for x in (r["id"], r["verdict"], r.get("expected") or "–",
                                                              _finding_text(r["finding"], False))) + " |")
    md += ["", "## Details", ""]
    for r in led["claims"]:
        md += [f"### {r['id']}", "",
               f"{fmt(r.get('statement', ''))} ({r.get('theorem', '')}, paper {r.get('paper', '')}, kind {r.get('kind', '')}"
               + (", reconstructed" if r.get("reconstructed") else "") + f"). Verdict **{r['verdict']}**"
               + (f"; {_flag(r)}" if _flag(r) else "") + ".", ""]
        for k in ("algorithm", "problem", "schedule", "quantity", "rule"):
            if r.get(k):
                md.append(f"- {k}: {fmt(r[k])}")
        md += _md_stated(r)
        if r.get("finding"):
            md.append(f"- recorded finding (verdict {r.get('expected') or '–'}): {_finding_text(r['finding'], False)}")
        if _tightness(r):
            md.append(f"- tightness: {_tightness(r).strip()} bound/measured > {LOOSE:g} is labelled loose")
        md += [f"- {line}" for line in _pep_lines(r, False)]
        if r.get("notes"):
            md.append(f"- notes: {fmt(r['notes'])}")
        if r.get("measured"):
            md += ["", "Measured:", ""] + _md_value(r["measured"])
        if r.get("controls"):
            md += ["", "Negative controls (rejected = the claim's rule says FAIL on them):", ""]
            for c in r["controls"]:
                md.append(f"- **{fmt(c.get('name', ''))}** ({fmt(c.get('description', ''))}): verdict {c.get('verdict')}, "
                          f"rejected {fmt(bool(c.get('rejected')))}")
                md += _md_value(c.get("measured") or {}, 1)
        pngs = [p for p in r.get("plots", []) if p.endswith(".png")]
        pdfs = [p for p in r.get("plots", []) if p.endswith(".pdf")]
        for p in pngs:
            md += ["", f"![{r['id']}]({p})"]
        if pdfs:
            md += ["", "Vector figure: " + ", ".join(f"[{Path(p).name}]({p})" for p in pdfs)]
        md.append("")
    return "\n".join(md) + "\n"


def _html_value(v) -> str:
    if _is_fit(v):
        return _fit_text(v, True)
    if isinstance(v, dict):
        if not v:
            return "–"
        rows = "".join(f"<tr><th>{fmt(k, html_out=True)}</th><td>{_html_value(w)}</td></tr>" for k, w in v.items())
        return f"<table class='kv'>{rows}</table>"
    if isinstance(v, (list, tuple)) and any(isinstance(w, (dict, list, tuple)) for w in v):
        return "<ol>" + "".join(f"<li>{_html_value(w)}</li>" for w in v) + "</ol>"
    return _inline(v, True)


def _png_uri(out: Path, rel: str) -> str | None:
    try:
        data = (out / rel).read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def render_html(led: dict, out: Path) -> str:
    e = html.escape
    s = led.get("settings", {})
    pep = _has_pep(led)
    summ = led.get("summary", {})
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>eftheory claims ledger</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>eftheory {e(str(led.get('version', '')))} claims ledger</h1>",
             f"<p class='small'>Tier {e(str(s.get('tier')))}, backend {e(str(s.get('backend')))}, device "
             f"{e(str(s.get('device', '-')))}, {e(str(s.get('seconds', '?')))} s, created {e(str(led.get('created', '?')))}. "
             "[R] = reconstructed claim (a FAIL there does not fail the run). Figures are given to 4 significant "
             "digits; [lo, hi] is a 95 % percentile-bootstrap CI over seeds.</p>",
             "<p id='summary-line'>Summary: " + ", ".join(f"{_verdict_html(v)} {summ.get(v, 0)}" for v in VERDICTS)
             + ".</p>"]
    if led.get("module_errors"):
        parts.append("<p class='flag'>Claim modules that failed to import: "
                     + e("; ".join(f"{k}: {v}" for k, v in led["module_errors"].items())) + "</p>")
    head, rows, total = _summary(led)
    parts.append("<h2 id='summary'>Summary per paper</h2><table><tr>"
                 + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>")
    for row in rows + [total]:
        parts.append(f"<tr data-paper='{e(str(row[0]))}'>" + "".join(
            f"<td class='num' data-verdict='{e(h)}'>{c}</td>" if isinstance(c, int) else f"<td>{e(str(c))}</td>"
            for h, c in zip(head, row)) + "</tr>")
    parts.append("</table>")
    cols = ["id", "paper", "kind", "verdict", "stated", "measured (95 % CI where there is one)", "controls rejected",
            "bound/measured"] + (["worst case over the class"] if pep else []) + ["flag"]
    parts.append("<h2 id='claims'>Claims</h2><table id='claims-table'><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols)
                 + "</tr>")
    for r in led["claims"]:
        c = _row_cells(r, True)
        rid = f"<a href='#claim-{e(r['id'])}'>{e(r['id'])}</a>" + (" <b>[R]</b>" if r.get("reconstructed") else "")
        tight = c["tight"] if not r.get("loose") else f"<span class='loose'>{c['tight']}</span>"
        cells = [rid, e(str(r.get("paper", ""))), e(str(r.get("kind", ""))), _verdict_html(r["verdict"]), c["stated"],
                 c["measured"], c["controls"], tight] + ([c["pep"]] if pep else []) + \
                [f"<span class='flag'>{e(c['flag'])}</span>" if c["flag"] else
                 ("recorded finding" if r.get("finding") else "")]
        parts.append(f"<tr class='claim-row' id='row-{e(r['id'])}' data-verdict='{e(r['verdict'])}'>"
                     + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    parts.append("</table>")
    found = [r for r in led["claims"] if r.get("finding")]
    if found:
        parts.append("<h2 id='findings'>Recorded findings</h2><p>Claims whose verdict is an investigated, recorded "
                     "result.</p><table id='findings-table'><tr><th>id</th><th>verdict</th><th>recorded verdict</th>"
                     "<th>finding</th></tr>")
        for r in found:
            flag = f" <span class='flag'>({e(_flag(r))})</span>" if _flag(r) else ""
            parts.append(f"<tr><td><a href='#claim-{e(r['id'])}'>{e(r['id'])}</a></td><td>{_verdict_html(r['verdict'])}"
                         f"{flag}</td><td>{e(str(r.get('expected') or '–'))}</td><td>{_finding_text(r['finding'], True)}</td></tr>")
        parts.append("</table>")
    parts.append("<h2 id='details'>Details</h2>")
    for r in led["claims"]:
        parts.append(_html_details(r, out))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _html_details(r: dict, out: Path) -> str:
    e = html.escape
    rid = e(r["id"])
    flag = f" <span class='flag'>{e(_flag(r))}</span>" if _flag(r) else ""
    p = [f"<section class='claim' id='claim-{rid}'><h3>{rid} {_verdict_html(r['verdict'])}{flag}</h3>",
         f"<p>{fmt(r.get('statement', ''), html_out=True)} <span class='small'>({e(str(r.get('theorem', '')))}, paper "
         f"{e(str(r.get('paper', '')))}, kind {e(str(r.get('kind', '')))}{', reconstructed' if r.get('reconstructed') else ''})"
         "</span></p>", "<dl class='meta'>"]
    for label, lt, text in _stated_latex(r):
        p.append(f"<dt>stated{(' ' + e(label)) if label else ''}</dt><dd>{_math_html(lt, text)}</dd>")
    q = r.get("quantity")
    if q:
        qt = style.QUANTITY_TEX.get(q)
        p.append(f"<dt>quantity</dt><dd>{_math_html(qt.strip('$') if qt else None, style.unicode_math(q))}</dd>")
    for k in ("algorithm", "problem", "schedule", "rule"):
        if r.get(k):
            p.append(f"<dt>{k}</dt><dd>{fmt(r[k], html_out=True)}</dd>")
    if r.get("finding"):
        p.append(f"<dt>recorded finding</dt><dd>verdict {e(str(r.get('expected') or '–'))}: "
                 f"{_finding_text(r['finding'], True)}</dd>")
    if _tightness(r):
        loose = " <span class='loose'>loose</span>" if r.get("loose") else ""
        p.append(f"<dt>tightness</dt><dd>bound/measured {fmt(r['bound_over_measured'], html_out=True)}{loose} "
                 f"(above {LOOSE:g} is labelled loose)</dd>")
    for line in _pep_lines(r, True):
        p.append(f"<dt>worst case</dt><dd>{line}</dd>")
    if r.get("notes"):
        p.append(f"<dt>notes</dt><dd>{fmt(r['notes'], html_out=True)}</dd>")
    p.append(f"<dt>time</dt><dd>{fmt(r.get('seconds'), html_out=True)} s</dd></dl>")
    if r.get("measured"):
        p.append(f"<h4>Measured</h4>{_html_value(r['measured'])}")
    if r.get("controls"):
        p.append("<h4>Negative controls</h4><p class='small'>rejected = the claim's own rule says FAIL on the "
                 "control</p><table class='controls'><tr><th>control</th><th>description</th><th>verdict</th>"
                 "<th>rejected</th><th>measured</th></tr>")
        for c in r["controls"]:
            p.append(f"<tr><td>{fmt(c.get('name', ''), html_out=True)}</td><td>{fmt(c.get('description', ''), html_out=True)}"
                     f"</td><td>{_verdict_html(str(c.get('verdict', '')))}</td><td>{fmt(bool(c.get('rejected')), html_out=True)}"
                     f"</td><td>{_html_value(c.get('measured') or {})}</td></tr>")
        p.append("</table>")
    for rel in r.get("plots", []):
        if not rel.endswith(".png"):
            continue
        uri = _png_uri(out, rel)
        if uri:
            p.append(f"<figure><img class='plot' alt='{rid}: {e(rel)}' src='{uri}'>"
                     f"<figcaption class='small'>{e(rel)} (vector: {e(rel[:-4])}.pdf)</figcaption></figure>")
        else:
            p.append(f"<p class='flag'>plot file missing: {e(rel)}</p>")
    p.append("</section>")
    return "".join(p)


def render_reports(out, led: dict | None = None) -> dict:
    """Write ``report.md`` and ``report.html`` from a ledger (read from ``<out>/ledger.json`` when not
    given), with the kill-matrix section when ``eftheory mutants`` wrote one for the same settings."""
    out = Path(out)
    if led is None:
        led = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    _atomic_write(out / "report.md", render_markdown(led))
    _atomic_write(out / "report.html", render_html(led, out))
    doc = _load_mutants(out, led.get("settings", {}))
    if doc is not None:
        write_mutant_reports(out, doc)
    return led


def write_reports(out, claims, outcomes, *, settings: dict, module_errors: dict | None = None,
                  findings: dict | None = None) -> dict:
    """Write ``ledger.json``, ``report.md`` and ``report.html`` into ``out``; return the ledger."""
    out = Path(out)
    led = ledger(claims, outcomes, settings, module_errors, findings)
    _atomic_write(out / "ledger.json", json.dumps(led, indent=1, sort_keys=False))
    return render_reports(out, led)


# ----------------------------------------------------------------------------- kill matrix

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
        yield [name, "/".join(m["papers"]), style.unicode_math(m["description"]), str(len(m["killers"])), killers,
               bound, style.unicode_math(str(equiv)), py_cell]


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
    md += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in _kill_rows(doc)]
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
