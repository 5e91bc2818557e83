"""Autodoc guard: a docstring that is not valid reStructuredText is shown verbatim, and named.

Every docstring (after napoleon has turned its Google/NumPy sections into reST) is parsed on its
own with docutils, with Sphinx's build environment in the settings so that Sphinx's roles and
directives (``:mod:``, ``:func:``, ``:math:``, ``.. math::``) work as they do on the page. If
that parse reports a problem (an unclosed inline literal, a broken indentation, an undefined
substitution), the docstring is shown as a literal block instead of half-rendered markup, and:

* a docstring named in ``eftheory_verbatim_docstrings`` (conf.py: name -> reason) gets an info
  line in the build log;
* any other one gets a warning (an error under ``sphinx -W``), so a new broken docstring is
  mended instead of being hidden.
"""

from __future__ import annotations

import io

from sphinx.util import logging

logger = logging.getLogger(__name__)

# messages about names the stand-alone parse cannot know; the real parse resolves (or reports) them
_IGNORED = ("Unknown interpreted text role", "Unknown directive type", "No role entry", "No directive entry",
            "Unknown target name", "undefined label")


def docstring_problems(text: str, env=None) -> list[str]:
    """docutils messages (level >= WARNING) of a docstring parsed on its own.

    ``env`` is Sphinx's build environment: inside a build, Sphinx's roles and directives
    (``:mod:``, ``:func:``, ``.. math::``) read it from the document settings, so the stand-alone
    parse gets the same one. Messages about names only the full build knows are ignored.
    """
    from docutils.core import publish_doctree

    stream = io.StringIO()
    overrides = {"report_level": 2, "halt_level": 5, "warning_stream": stream,
                 "file_insertion_enabled": False, "raw_enabled": False}
    if env is not None:
        overrides["env"] = env
    try:
        publish_doctree(text, settings_overrides=overrides)
    except Exception as exc:  # a role or directive that cannot run outside its page: not the docstring's fault
        logger.debug("eftheory: stand-alone parse of a docstring failed: %s", exc)
        return []
    out = []
    for line in stream.getvalue().splitlines():
        if ("(WARNING/" in line or "(ERROR/" in line or "(SEVERE/" in line) and not any(s in line for s in _IGNORED):
            out.append(line.replace("<string>:", "line ", 1))
    return out


def guard_docstring(app, what, name, obj, options, lines):
    """``autodoc-process-docstring`` handler: a docstring with problems becomes a literal block."""
    if not lines:
        return
    text = "\n".join(lines)
    problems = docstring_problems(text, getattr(app, "env", None))
    if not problems:
        return
    msg = f"docstring of {name} is not valid reStructuredText, shown verbatim: {'; '.join(problems)}"
    if name in app.config.eftheory_verbatim_docstrings:
        logger.info("eftheory: %s", msg)
    else:
        logger.warning(msg, type="eftheory", subtype="docstring")
    lines[:] = ["::", ""] + ["    " + ln for ln in text.splitlines()] + [""]


def setup(app):
    # docstrings known to be invalid reStructuredText: shown verbatim with an info line, not a warning
    app.add_config_value("eftheory_verbatim_docstrings", {}, "env")
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-docstring", guard_docstring, priority=900)   # after napoleon (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
