"""Sphinx configuration for qlsock's documentation.

Build it with ``make docs``, or by hand (warnings are errors, references are checked)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# The checkout's qlsock (not an installed copy) and this folder's extension.
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

import qlsock  # noqa: E402  (importable once the path is set)

project = "qlsock"
author = "qlsock founders"
copyright = "qlsock founders, MIT License"  # noqa: A001  (Sphinx's name for it)
release = version = qlsock.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "qlsock_docs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Every cross-reference must resolve (`make docs` runs with -n -W).
nitpicky = True
# The build runs offline, so there is no intersphinx: names from the standard
# library and from gevent, greenlet and zope.interface are shown without a link.
nitpick_ignore_regex = [
    ("py:.*", r"(collections\.abc|typing|typing_extensions|enum|os|socket|_socket|"
              r"argparse|gevent|greenlet|zope)(\..+)?"),
]

myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": True}

html_theme = "alabaster"
html_title = f"qlsock {release}"
html_theme_options = {
    "description": "Qt's QLocalServer and QLocalSocket on gevent's hub",
    "fixed_sidebar": True,
}
