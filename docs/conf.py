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
exclude_patterns = ["_build", "_generated/extra", "Thumbs.db", ".DS_Store"]
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
html_extra_path = ["_generated/extra"]

# where the generator looks for the ledger of the last `eftheory verify` run
eftheory_results_dir = os.environ.get("EFTHEORY_RESULTS", str(HERE.parent / "results"))
