"""The documentation: docstrings rendered (not verbatim), the tutorial's code runs, the ledger page
is built from saved results, and the math renders offline (a bundled MathJax, no CDN).

The fast tests build small temporary Sphinx projects; the slow one builds the whole site and opens
its derivations page in headless Chromium with every network request refused.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXT = DOCS / "_ext"
TUTORIAL = DOCS / "tutorial.md"

sphinx = pytest.importorskip("sphinx", reason="the docs extra is not installed")
pytest.importorskip("myst_parser", reason="the docs extra is not installed")

if str(EXT) not in sys.path:
    sys.path.insert(0, str(EXT))


def _build(src: Path, out: Path, builder: str = "html") -> str:
    """Build ``src`` with Sphinx in this process; returns the warnings (and info lines) it printed."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    status, warning = io.StringIO(), io.StringIO()
    with patch_docutils(src), docutils_namespace():   # roles and nodes registered by one build stay in it
        app = Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), builder,
                     status=status, warning=warning, freshenv=True, verbosity=0)
        app.build(force_all=True)
    return warning.getvalue() + status.getvalue()


# --------------------------------------------------------------------------- docstrings

_GOOD = r'''
"""A module for the docstring guard."""


def contraction(v):
    r"""Top-K keeps :math:`\|\mathcal C(v)-v\|^2\le(1-\alpha)\|v\|^2`; see :mod:`os.path`.

    Args:
        v: a vector, :math:`v\in\mathbb R^d` (see :func:`os.path.join`).

    Returns:
        The ratio :math:`\|\mathcal C(v)-v\|^2/\|v\|^2`.
    """


def broken(v):
    """An *unclosed emphasis and an ``unclosed literal.

    Args:
        v: anything.
    """
'''


def _guard_project(tmp_path: Path, verbatim: dict) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "guarded_mod.py").write_text(_GOOD)
    (src / "conf.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(src)!r}, {str(EXT)!r}]
        extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "eftheory_docstrings"]
        mathjax_path = "mathjax.js"
        eftheory_verbatim_docstrings = {verbatim!r}
    """))
    (src / "index.rst").write_text("Guard\n=====\n\n.. automodule:: guarded_mod\n   :members:\n")
    return src


def _section(html: str, name: str) -> str:
    """The HTML of one documented function (from its signature to the next one)."""
    start = html.index(f'id="guarded_mod.{name}"')
    nxt = html.find('<dl class="py function">', start)
    return html[start: nxt if nxt > 0 else len(html)]


def test_docstring_with_math_and_mod_roles_is_rendered_not_verbatim(tmp_path):
    src = _guard_project(tmp_path, {})
    log = _build(src, tmp_path / "out")
    html = (tmp_path / "out" / "index.html").read_text()
    good = _section(html, "contraction")
    assert ":math:" not in good and ":mod:" not in good and ":func:" not in good
    assert "<pre>" not in good and "literal-block" not in good
    assert good.count('class="math notranslate nohighlight"') == 3          # roles became math nodes
    assert 'class="xref py py-mod' in good and "os.path" in good             # :mod: became a reference
    # the broken one: shown verbatim, and the build names it in a warning
    bad = _section(html, "broken")
    assert "<pre>" in bad and "unclosed literal" in bad
    assert re.search(r"WARNING: docstring of guarded_mod\.broken is not valid reStructuredText", log), log
    assert "guarded_mod.contraction" not in log


def test_known_broken_docstring_is_an_info_line_not_a_warning(tmp_path):
    src = _guard_project(tmp_path, {"guarded_mod.broken": "known"})
    log = _build(src, tmp_path / "out")
    assert "WARNING: docstring of guarded_mod.broken" not in log
    assert "eftheory: docstring of guarded_mod.broken is not valid reStructuredText" in log
    assert "<pre>" in _section((tmp_path / "out" / "index.html").read_text(), "broken")


def test_docstring_problems_reports_real_defects_only():
    from eftheory_docstrings import docstring_problems

    assert docstring_problems("Fine :math:`x^2` and :mod:`os` and ``code``.") == []
    assert docstring_problems("Unknown roles are the full build's business: :foo:`bar`.") == []
    probs = docstring_problems("Value |t| and an ``open literal.")
    assert len(probs) == 2 and any("substitution" in p for p in probs)


# --------------------------------------------------------------------------- ledger page

def _fake_results(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    (res / "plots").mkdir(parents=True)
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    (res / "plots" / "S9-T1.png").write_bytes(png)
    (res / "plots" / "S9-T1.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    claims = [
        dict(id="S9-T1", paper="000", statement="A rate with a | pipe and *stars*", verdict="PASS",
             stated={"exponent": 0.25}, measured={"slope": {"value": -0.3, "lo": -0.32, "hi": -0.28}},
             controls=[{"name": "const-step", "rejected": True}], plots=["plots/S9-T1.png", "plots/S9-T1.pdf"]),
        dict(id="S9-L1", paper="001", statement="A bound", verdict="FAIL", stated="x <= y",
             measured={"max_ratio": 1.5}, controls=[{"name": "zero", "rejected": False}], plots=[]),
        dict(id="S9-L2", paper="001", statement="Unsure", verdict="INCONCLUSIVE", stated=None, measured={},
             controls=[], plots=[]),
        dict(id="S9-Q", paper="003", statement="Later", verdict="PENDING", stated=None, measured={},
             controls=[], plots=[]),
    ]
    (res / "ledger.json").write_text(json.dumps({"version": "0", "created": "2026-01-01T00:00:00",
                                                 "settings": {"tier": "quick"}, "claims": claims}))
    return res


def test_ledger_page_has_coloured_verdicts_and_embedded_plots(tmp_path):
    import eftheory_docs

    res = _fake_results(tmp_path)
    gen = tmp_path / "_generated"
    pages = eftheory_docs.ledger_pages(res, gen)
    led = pages["ledger.inc"]
    for v in ("PASS", "FAIL", "INCONCLUSIVE", "PENDING"):
        assert f"{{verdict}}`{v}`" in led
    assert "`````{container} ledger-table" in led                                # the scroll container
    assert "```{image} /_generated/plots/S9-T1.png" in led                        # embedded, not linked
    assert "{download}`pdf </_generated/plots/S9-T1.pdf>`" in led
    assert "{ref}`plot <plot-s9-t1>`" in led and "(plot-s9-t1)=" in led
    assert "\\| pipe and \\*stars\\*" in led                                      # text is escaped
    assert "not rejected: `zero`" in led and "1/1 rejected" in led
    assert (gen / "plots" / "S9-T1.png").is_file() and (gen / "plots" / "S9-T1.pdf").is_file()
    assert "{verdict}`PASS`" in pages["claims_000.inc"] and "S9-L1" in pages["claims_001.inc"]
    assert "S9-L1" not in pages["claims_000.inc"]


def test_ledger_page_without_results_lists_claims_as_not_run(tmp_path):
    import eftheory_docs

    pages = eftheory_docs.ledger_pages(tmp_path / "nothing", tmp_path / "_generated")
    assert "No ledger found" in pages["ledger.inc"]
    assert "{verdict}`not run`" in pages["ledger.inc"] or "could not be loaded" in pages["ledger.inc"]


def test_verdict_role_and_page_render(tmp_path):
    """The ledger text renders in a MyST project: coloured badges, the image, the container class."""
    import eftheory_docs

    res = _fake_results(tmp_path)
    src = tmp_path / "src"
    (src / "_static").mkdir(parents=True)
    shutil.copy(DOCS / "_static" / "eftheory.css", src / "_static")
    for name, text in eftheory_docs.ledger_pages(res, src / "_generated").items():
        (src / "_generated" / name).write_text(text)
    (src / "conf.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(EXT)!r})
        import eftheory_docs
        extensions = ["myst_parser"]
        html_static_path = ["_static"]
        html_css_files = ["eftheory.css"]
        def setup(app):
            app.add_role("verdict", eftheory_docs.verdict_role)
    """))
    (src / "index.md").write_text("# Ledger\n\n```{include} _generated/ledger.inc\n```\n")
    log = _build(src, tmp_path / "out")
    assert "WARNING" not in log, log
    html = (tmp_path / "out" / "index.html").read_text()
    for v in ("pass", "fail", "inconclusive", "pending"):
        assert f'class="verdict verdict-{v}"' in html
    assert 'class="ledger-table docutils container"' in html
    assert re.search(r'<img[^>]+src="_images/S9-T1\.png"', html)
    assert (tmp_path / "out" / "_images" / "S9-T1.png").is_file()
    css = (DOCS / "_static" / "eftheory.css").read_text()
    for v, colour in (("pass", "#1e7e34"), ("fail", "#c62828"), ("inconclusive", "#f0a500")):
        assert re.search(rf"span\.verdict-{v} {{[^}}]*{colour}", css)


# --------------------------------------------------------------------------- offline math

def _script_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]*)"', html)


def test_math_page_loads_a_local_mathjax(tmp_path):
    """With the site's own conf.py and extension, a page with math loads MathJax from _static."""
    import eftheory_docs

    assert eftheory_docs.mathjax_source() is not None, "django-static-mathjax (docs extra) is not installed"
    src = tmp_path / "src"
    shutil.copytree(DOCS / "_static", src / "_static")
    conf = (DOCS / "conf.py").read_text()
    assert "HERE = Path(__file__).resolve().parent" in conf
    conf = conf.replace("HERE = Path(__file__).resolve().parent", f"HERE = Path({str(DOCS)!r})")
    (src / "conf.py").write_text(conf + f"\neftheory_results_dir = {str(tmp_path / 'none')!r}\n")
    (src / "index.md").write_text("# Math\n\nInline $\\theta = 1-\\sqrt{1-\\alpha}$ and\n\n"
                                  "$$\\beta = \\frac{1-\\alpha}{1-\\sqrt{1-\\alpha}}$$\n")
    _build(src, tmp_path / "out")
    html = (tmp_path / "out" / "index.html").read_text()
    assert _script_urls(html) == []
    assert re.search(r'<script[^>]+src="_static/mathjax/tex-svg-full\.js', html)
    assert (tmp_path / "out" / "_static" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000
    assert (tmp_path / "out" / "_static" / "mathjax" / "LICENSE").is_file()


# --------------------------------------------------------------------------- tutorial

def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", TUTORIAL.read_text(), re.S | re.M)


def test_tutorial_python_blocks_run(tmp_path, monkeypatch):
    blocks = _blocks("python")
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)          # the tutorial writes my_rate.csv into the working folder
    ns: dict = {"__name__": "tutorial"}
    for i, code in enumerate(blocks, 1):
        exec(compile(code, f"{TUTORIAL.name}, python block {i}", "exec"), ns)
    assert ns["claim"].verdict == "PASS" and ns["control"].verdict == "FAIL"
    assert (tmp_path / "my_rate.csv").read_text().splitlines()[0] == "seed,K,T"


def _cli_commands() -> list[list[str]]:
    cmds = []
    for block in _blocks("console"):
        for cmd in block.replace("\\\n", " ").splitlines():
            if cmd.startswith("$ "):
                argv = shlex.split(cmd[2:])
                assert Path(argv[0]).name == "eftheory", cmd
                cmds.append(argv[1:])
    return cmds


def test_tutorial_cli_lines_match_the_parser():
    """Every `eftheory ...` line of the tutorial parses with the CLI's own parser (nothing is run)."""
    from checks import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    cmds = _cli_commands()
    assert {c[0] for c in cmds} >= {"run", "fit"}
    missing = sorted({c[0] for c in cmds} - set(sub.choices))
    assert not missing, f"the tutorial uses commands the CLI does not have: {', '.join(missing)}"
    for argv in cmds:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # pragma: no cover - the message says which line
            pytest.fail(f"tutorial command does not parse: eftheory {' '.join(argv)} (exit {exc.code})")


# --------------------------------------------------------------------------- whole site, in a browser

def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _offline_dom(browser: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its scripts ran, with every network request refused."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=20000", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_site_builds_and_derivations_render_offline_in_chromium(tmp_path):
    out = tmp_path / "html"
    env = {**os.environ, "EFTHEORY_RESULTS": str(tmp_path / "no-results")}
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    remote = {str(f.relative_to(out)): _script_urls(f.read_text()) for f in out.rglob("*.html")}
    assert not {k: v for k, v in remote.items() if v}, "pages load scripts or styles from the network"
    page = out / "derivations.html"
    html = page.read_text()
    n_math = len(re.findall(r'class="math notranslate nohighlight"', html))
    assert n_math > 20
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium)")
    dom = _offline_dom(browser, page, tmp_path / "profile")
    assert dom.count("<mjx-container") >= n_math
    assert not re.search(r'<g[^>]*data-mml-node="merror"', dom)             # no TeX error boxes
    # no math element still holds its TeX source, and no raw \[ or \( is left in the visible text
    assert not re.search(r'class="math notranslate nohighlight">\s*\\[\[(]', dom)
    visible = re.sub(r"<(script|style|pre|code|mjx-assistive-mml)\b.*?</\1>", "", dom, flags=re.S)
    visible = re.sub(r"<[^>]+>", "", visible)
    assert "\\[" not in visible and "\\(" not in visible
