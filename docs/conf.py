"""Sphinx configuration of the eftheory documentation (MyST Markdown)."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))

project = "eftheory"
author = "eftheory contributors"
copyright = "eftheory contributors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "eftheory_docs",
]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "mutation_survivors.md",
                    "mutation_survivors_seed1.md", "mutation_survivors_seed0.md"]   # included by mutants.md
autodoc_mock_imports = []
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
napoleon_numpy_docstring = True
napoleon_google_docstring = True
napoleon_use_ivar = True   # "Attributes" sections as fields, so dataclass fields are described once
# Docstrings written for readers of the code may contain constructs docutils reads loosely;
# only the reference-target kind is silenced, so real errors still fail the -W build.
suppress_warnings = ["ref.python"]
html_theme = "alabaster"
html_title = "eftheory"
# a wider page than the theme's 940px: the ledger and the derivations need the room
html_theme_options = {"page_width": "1180px", "sidebar_width": "230px"}
html_static_path = ["_static"]      # the extension adds _generated/static (the MathJax bundle)
html_css_files = ["eftheory.css"]   # tables fitted to the page, coloured verdicts, plots

# Formulas are typeset in the browser by a MathJax 3 copied from an installed package (see
# docs/_ext/eftheory_docs.py), never from a CDN: the pages render offline.
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {
    "tex": {"tags": "ams"},            # \begin{align} from MyST's amsmath is numbered as in LaTeX
    "svg": {"fontCache": "global"},    # one copy of each glyph per page
}

# where the generator looks for the ledger of the last `eftheory verify` run
eftheory_results_dir = os.environ.get("EFTHEORY_RESULTS", str(HERE.parent / "results"))

# Docstrings that are not valid reStructuredText are shown verbatim; the build warns about any
# other one. These are known and shown verbatim with an info line until their text is mended.
eftheory_verbatim_docstrings = {}
