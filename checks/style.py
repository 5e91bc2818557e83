r"""One figure style for every plot of the project, and the notation shared by figures and reports.

* :data:`RC` -- matplotlib settings for a figure of one journal column: 3.4 x 2.5 in, 8 pt text and
  legend, a colour-blind-safe cycle (Okabe and Ito), PNG at 300 dpi, PDF/PS with TrueType (Type 42)
  fonts -- venues that reject Type 3 fonts accept these files. STIX (a Times-like face, shipped with
  matplotlib) sets both text and mathtext, so labels read like the paper they sit in.
* :func:`figure` / :func:`save` -- a figure in that style, written as ``<stem>.png`` and ``<stem>.pdf``.
* :func:`tex` -- the mathtext form of a quantity name of the ledger (``m_1`` ->
  :math:`\min_{k\le K}\mathbb E\|\nabla f(x^k)\|`, ``K`` -> :math:`K`, ...), or of a label that uses
  those names; :func:`latex` turns a formula written in the ledger's plain notation
  (``||grad f(x)||^2 <= 2 L (f - f_inf)``) into LaTeX, and :func:`unicode_math` into readable text
  (``‖∇f(x)‖² ≤ 2 L (f − f_∞)``) where no formula renderer is at hand.
"""

from __future__ import annotations

import contextlib
import re
from fractions import Fraction
from pathlib import Path

__all__ = ["RC", "COLORS", "COLUMN", "apply", "context", "figure", "save", "tex", "latex", "unicode_math", "is_mathtext",
           "rate_tex", "fraction"]

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies and in grey print)
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

#: width x height of the axes' figure, inches (one column of a two-column paper)
COLUMN = (3.4, 2.5)

RC = {
    "figure.figsize": COLUMN,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "font.family": "serif",
    "font.serif": ["STIXGeneral", "DejaVu Serif"],
    "mathtext.fontset": "stix",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 3,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.borderaxespad": 0.2,
    "legend.labelspacing": 0.25,
    "axes.prop_cycle": None,            # filled in below (needs matplotlib's cycler)
}


def _rc() -> dict:
    from cycler import cycler

    return {**RC, "axes.prop_cycle": cycler(color=list(COLORS))}


def apply() -> None:
    """Make the project style the global matplotlib setting (for code that manages its own figures;
    :func:`context` keeps it local to a block)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(_rc())


@contextlib.contextmanager
def context():
    """Use the project style inside a ``with`` block (the global rcParams stay untouched)."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(_rc()):
        yield


def figure(legend_rows: int = 0):
    """A figure and axes of one column; ``legend_rows`` legend lines go below the axes (the figure
    grows by their height, the axes keep theirs). Call inside :func:`context`."""
    import matplotlib.pyplot as plt

    w, h = COLUMN
    return plt.subplots(figsize=(w, h + 0.14 * legend_rows), layout="constrained")


def save(fig, stem) -> list[str]:
    """Write ``<stem>.png`` (300 dpi) and ``<stem>.pdf`` (vector, Type 42 fonts), close the figure."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        p = stem.with_suffix("." + ext)
        fig.savefig(p, metadata={"CreationDate": None} if ext == "pdf" else None)
        out.append(str(p))
    plt.close(fig)
    return out


# ----------------------------------------------------------------------------- notation

#: long forms (axis labels): the quantity a theorem bounds, by its ledger name
QUANTITY_TEX = {
    "m_1": r"$\min_{k\leq K}\,\mathbb{E}\|\nabla f(x^k)\|$",
    "W_K": r"$\mathbb{E}\|\nabla f(\hat{x}^K)\|$",
    "T_K": r"$T_K$",
    "A_1": r"$\frac{1}{T}\sum_{t}\mathbb{E}\|\nabla f(x_t)\|_1$",
    "A_2": r"$\frac{1}{T}\sum_{t}\mathbb{E}\|\nabla f(x_t)\|_2$",
    "m_sq": r"$\min_{t<T}\,\mathbb{E}\|\nabla F(x_t)\|^2$",
    "||grad f||": r"$\|\nabla f(x^k)\|$",
    "average ||grad f||": r"$\frac{1}{K+1}\sum_{k\leq K}\mathbb{E}\|\nabla f(x^k)\|$",
    "K": r"$K$", "T": r"$T$", "n": r"$n$", "d": r"$d$",
}

#: short symbols (legends, inline), by ledger name
SYMBOL_TEX = {"m_1": r"$m_1$", "W_K": r"$W_K$", "T_K": r"$T_K$", "A_1": r"$A_1$", "A_2": r"$A_2$",
              "m_sq": r"$m_{\mathrm{sq}}$"}


def is_mathtext(s: str) -> bool:
    """True if matplotlib's mathtext parses ``s`` (text with ``$...$`` parts)."""
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(s, dpi=72)
    except Exception:  # mathtext raises ValueError / ParseException subclasses
        return False
    return True


def tex(label: str) -> str:
    """The figure form of a label: a quantity name maps to its mathtext definition; in other labels
    the ledger's names (``m_1``, ``W_K``, ``T_K``, ``A_1``, ...) become symbols and ``K^-0.25`` a power;
    a label that already holds ``$`` is kept."""
    if not isinstance(label, str) or "$" in label:
        return label
    if label in QUANTITY_TEX:
        return QUANTITY_TEX[label]
    out = re.sub(r"\b(m_1|W_K|T_K|A_1|A_2|m_sq)\b", lambda m: SYMBOL_TEX[m.group(1)], label)
    out = re.sub(r"\b([KTnd])\^(-?)(\d+(?:\.\d+)?(?:/\d+)?)",
                 lambda m: f"${m.group(1)}^{{{m.group(2)}{fraction(m.group(3))}}}$", out)
    for k in ("average ||grad f||", "||grad f||"):
        out = out.replace(k, QUANTITY_TEX[k])
    parts = out.split("$")                     # outside math: Greek names as symbols, a true minus sign
    for i in range(0, len(parts), 2):
        t = _GREEK_RE.sub(lambda m: f"$\\{m.group(1)}$", parts[i])
        parts[i] = re.sub(r"(?<![\w.])-(?=\d)", "\u2212", t)
    out = "$".join(parts)
    return out if is_mathtext(out) else unicode_math(label)


def fraction(v, max_den: int = 12) -> str:
    """``0.25`` -> ``1/4``, ``0.2857`` -> ``2/7``; a value that no small fraction matches to 1e-3 keeps 4
    significant digits."""
    try:
        x = float(Fraction(str(v)) if isinstance(v, str) and "/" in v else v)
    except (TypeError, ValueError):
        return str(v)
    f = Fraction(x).limit_denominator(max_den)
    if abs(float(f) - x) > 1e-3:
        return f"{x:.4g}"
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def rate_tex(r: float, var: str = "K", log_factor: bool = False) -> str:
    """LaTeX of the rate :math:`\\mathcal O(K^{-r})` (tilde when a log factor is allowed)."""
    frac = fraction(abs(r))
    sign = "-" if r > 0 else ""
    O = r"\tilde{\mathcal{O}}" if log_factor else r"\mathcal{O}"
    return f"{O}({var}^{{{sign}{frac}}})"


_GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "nu", "rho", "sigma",
          "tau", "omega", "xi", "zeta", "kappa", "phi", "psi", "Delta", "Gamma", "Sigma", "Omega", "Lambda")
_GREEK_UNI = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
              "lambda": "λ", "mu": "μ", "nu": "ν", "rho": "ρ", "sigma": "σ", "tau": "τ", "omega": "ω", "xi": "ξ",
              "zeta": "ζ", "kappa": "κ", "phi": "φ", "psi": "ψ", "Delta": "Δ", "Gamma": "Γ", "Sigma": "Σ",
              "Omega": "Ω", "Lambda": "Λ"}
_GREEK_RE = re.compile(r"(?<![A-Za-z\\])(" + "|".join(sorted(_GREEK, key=len, reverse=True)) + r")(?![A-Za-z])")
_SUP = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")


def unicode_math(text: str) -> str:
    """The ledger's plain notation as readable Unicode text: ``||v||`` -> ``‖v‖``, ``grad`` -> ``∇``,
    ``<=`` -> ``≤``, Greek names -> letters, ``sqrt`` -> ``√``, ``_inf`` -> ``_∞``, ``^2`` -> ``²``."""
    if not isinstance(text, str):
        return text
    s = text.replace("||", "‖")
    s = re.sub(r"(?<![A-Za-z])grad(?![A-Za-z])\s*", "∇", s)
    for a, b in (("<=", "≤"), (">=", "≥"), ("!=", "≠"), ("->", "→"), ("+-", "±"), ("+/-", "±")):
        s = s.replace(a, b)
    s = _GREEK_RE.sub(lambda m: _GREEK_UNI[m.group(1)], s)
    s = re.sub(r"(?<![A-Za-z])sqrt(?![A-Za-z])\s*", "√", s)
    s = re.sub(r"(?<=[_^])inf(?![A-Za-z])|(?<![A-Za-z])inf(?![A-Za-z])", "∞", s)
    s = re.sub(r"(?<![A-Za-z])sum_", "∑_", s)
    s = re.sub(r"(?<=[\w)‖])\^(-?\d+)(?![\d./])", lambda m: m.group(1).translate(_SUP), s)
    s = re.sub(r"(?<![\w.])-(?=\d)|(?<= )-(?= )", "−", s)   # a minus sign, not a hyphen
    return s


_WORDS_MATH = {"sum": r"\sum", "prod": r"\prod", "min": r"\min", "max": r"\max", "sup": r"\sup", "inf": r"\infty",
               "exp": r"\exp", "log": r"\log", "sqrt": None, "grad": r"\nabla", "mean": r"\mathrm{mean}",
               "avg": r"\mathrm{avg}", "sign": r"\mathrm{sign}", "Var": r"\mathrm{Var}", "E": r"\mathbb{E}"}


def _braces(s: str, i: int) -> int:
    """Index of the parenthesis closing the one at ``s[i]``."""
    depth = 0
    for j in range(i, len(s)):
        depth += {"(": 1, ")": -1}.get(s[j], 0)
        if depth == 0:
            return j
    return -1


def latex(text: str) -> str | None:
    """LaTeX (without ``$``) of a formula in the ledger's plain notation, or None when the text is
    prose rather than a formula (no relation or operator sign, or more than two plain words), or when
    matplotlib's mathtext cannot set the result."""
    if not isinstance(text, str) or not text.strip():
        return None
    if not re.search(r"<=|>=|=|\^|_|\|\||sqrt|sum_", text):
        return None
    words = [w for w in re.findall(r"[A-Za-z]{3,}", text)
             if w not in _WORDS_MATH and w not in _GREEK and w not in ("inf",)]
    if len(words) > 2:                       # prose: leave it to unicode_math
        return None
    s = text
    while (i := s.find("sqrt(")) >= 0:       # sqrt(...) -> \sqrt{...}
        j = _braces(s, i + 4)
        if j < 0:
            return None
        s = s[:i] + "\\sqrt{" + s[i + 5:j] + "}" + s[j + 1:]
    s = re.sub(r"\^\(([^()]*)\)", r"^{(\1)}", s)                     # m^(k) -> m^{(k)}
    s = s.replace("||", r"\|")
    for a, b in (("<=", r" \leq "), (">=", r" \geq "), ("!=", r" \neq "), ("->", r" \to "), ("+-", r" \pm ")):
        s = s.replace(a, b)
    s = _GREEK_RE.sub(lambda m: "\\" + m.group(1) + " ", s)
    s = re.sub(r"(\\[A-Za-z]+) (\d)", r"\1_\2", s)                    # gamma0 -> \gamma_0

    def word(m):
        w = m.group(1)
        if _WORDS_MATH.get(w):
            return _WORDS_MATH[w] + (r"\," if w in ("mean", "avg", "sign", "Var") else " ")
        if len(w) >= 3 and w.islower():
            return r"\ \mathrm{" + w + r"}\ "
        if len(w) >= 2 and w.isupper():
            return r"\mathrm{" + w + "}"
        return w

    s = re.sub(r"(?<![A-Za-z\\])([A-Za-z]+)(?![A-Za-z])", word, s)
    s = re.sub(r"\b([A-Za-z])(\d)\b", r"\1_\2", s)                    # L1 -> L_1, x0 -> x_0
    s = re.sub(r"_([A-Za-z0-9]+|\\[A-Za-z]+ ?)_([A-Za-z0-9]+|\\[A-Za-z]+)", r"_{\1,\2}", s)  # f_i_inf
    s = re.sub(r"\^(-\d+/\d+|-?[\w.]+)", lambda m: "^{" + m.group(1) + "}", s)  # k^-1/2 -> k^{-1/2}
    s = s.replace("*", r" \cdot ")
    s = re.sub(r"\s+", " ", s).strip()
    return s if is_mathtext(f"${s}$") else None
