"""Accessible names for the theme's controls, fixed in the built pages themselves.

The book theme labels some controls with words that differ from what they show, which
screen-reader and voice-control users trip over (axe-core: label-content-name-mismatch), and
sphinxcontrib-bibtex gives its list entries a role that is not a list item
(aria-required-children). A script in the page could relabel them, but only after the theme's
own scripts ran, a race a reader (or the browser test) can lose; so the pages are mended once,
when Sphinx has written them:

- the search button shows "Search Ctrl+K": it loses its aria-label "Search" and is named by its
  text;
- the colour-mode button is labelled "Color mode": its icons lose their own titles ("Light",
  "Dark", ...) and are hidden from assistive technology;
- a hidden cell's toggle shows "Show code cell source": it loses its aria-label "Toggle hidden
  content";
- a bibliography entry (role "doc-biblioentry", deprecated and no list item) becomes a
  "listitem" of its list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

# (pattern, replacement) pairs applied to every HTML page, in order.
MENDS = [
    (re.compile(r'(<button class="btn search-button-field[^>]*?) aria-label="Search"'), r"\1"),
    (re.compile(r'(<i class="theme-switch[^>]*?) title="[^"]*"'), r'\1 aria-hidden="true"'),
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    (re.compile(r'(<div class="citation"[^>]*?) role="doc-biblioentry"'), r'\1 role="listitem"'),
]


def mend(html: str) -> str:
    """``html`` with the theme's controls and the bibliography made accessible (module doc)."""
    for pattern, replacement in MENDS:
        html = pattern.sub(replacement, html)
    return html


def _mend_site(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        mended = mend(text)
        if mended != text:
            page.write_text(mended, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", _mend_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
