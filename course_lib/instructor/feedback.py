"""``course feedback``: nbgrader's feedback HTML, without hidden tests and with offline maths.

nbgrader's ``GenerateFeedback`` renders the autograded notebooks. Two things it does not do:

- hide hidden tests. Their source is removed by nbgrader's own ``ClearHiddenTests``, but a
  failing hidden test's IPython traceback quotes the failing source lines, so
  :class:`HideHiddenTestTracebacks` first cuts the traceback of every error in a cell that holds
  hidden tests down to ``ExceptionName: message`` (the message is the test author's text);
- render maths offline. Its template loads MathJax 2 from a CDN; the class directory's copy of
  nbconvert's ``mathjax()`` macro (:mod:`.formgrader`, shared with formgrader's pages) inlines a
  local MathJax 3 (``tex-svg.js``, fonts included), so a feedback file is one self-contained HTML
  that works without internet. :func:`local_mathjax` says where that MathJax comes from.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets.config import Config

from .course import PROJECT_ROOT, Course, CourseError, check

# Where a local MathJax 3 may be: $COURSE_MATHJAX, else what `make mathjax` (or the book's
# build) installs from npm, else an npm install in the project.
MATHJAX_CANDIDATES = (
    PROJECT_ROOT / "build" / "npm" / "node_modules" / "mathjax" / "es5" / "tex-svg.js",
    PROJECT_ROOT / "node_modules" / "mathjax" / "es5" / "tex-svg.js",
)
# What makes a browser fetch from another host: an element's src, a stylesheet link, CSS url()
# and @import. (Plain <a href> links are navigation, not requests.)
_FETCHED = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed|input)\b[^>]*\ssrc\s*=\s*["']?\s*"""
    r"""(?:https?:)?//|<link\b[^>]*\shref\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


class HideHiddenTestTracebacks(NbGraderPreprocessor):
    """In cells with hidden tests, keep only ``ename: evalue`` of errors (no source lines)."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        delimiter = ClearHiddenTests().begin_test_delimeter
        if cell.cell_type == "code" and delimiter in cell.source:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


def local_mathjax() -> str | None:
    """MathJax 3's ``tex-svg.js`` (its source), or None where there is none."""
    named = os.environ.get("COURSE_MATHJAX")
    for path in [Path(named)] if named else MATHJAX_CANDIDATES:
        if path.is_file():
            return path.read_text()
    return None


def require_mathjax() -> str:
    """:func:`local_mathjax`, or one sentence saying how to get it."""
    found = local_mathjax()
    if found is None:
        where = os.environ.get("COURSE_MATHJAX") or "none found"
        raise CourseError(
            f"feedback needs a local MathJax 3 ({where}): run `make mathjax` in the "
            "project once (npm), or set COURSE_MATHJAX to a tex-svg.js, then run "
            "this again"
        )
    return found


def external_fetches(html: str) -> list[str]:
    """Snippets of ``html`` that would make a browser fetch something from another host."""
    return [html[max(0, m.start() - 20) : m.end() + 40] for m in _FETCHED.finditer(html)]


def generate_feedback(course: Course, assignment: str) -> list[Path]:
    """nbgrader generate_feedback for every autograded student, hidden tests hidden, maths
    offline (the same page templates as formgrader's)."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .formgrader import template_basedirs, write_templates

    course.require_assignment(assignment)
    write_templates(course.root, require_mathjax())
    api = course.api()
    config = Config()
    config.GenerateFeedback.preprocessors = [
        GetGrades,
        HideHiddenTestTracebacks,
        ClearHiddenTests,
        CSSHTMLHeaderPreprocessor,
    ]
    config.HTMLExporter.extra_template_basedirs = template_basedirs(course.root)
    api.config.merge(config)
    check(
        api.generate_feedback(assignment), f"generate_feedback {assignment}", course.root / "logs"
    )
    return sorted((course.root / "feedback").glob(f"*/{assignment}/*.html"))
