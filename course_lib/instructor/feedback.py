"""``course feedback``: nbgrader's feedback HTML, without hidden tests and with offline maths.

nbgrader's ``GenerateFeedback`` renders the autograded notebooks. Two things it does not do:

- hide hidden tests. Their source is removed by nbgrader's own ``ClearHiddenTests``, but a
  failing hidden test's IPython traceback quotes the failing source lines, so
  :class:`HideHiddenTestTracebacks` first cuts the traceback of every error in a cell that holds
  hidden tests down to ``ExceptionName: message`` (the message is the test author's text);
- render maths offline. Its template loads MathJax 2 from a CDN; :func:`offline_maths` replaces
  that with MathJax 3 (``tex-svg.js``, fonts included) inlined into the page, so a feedback file
  is one self-contained HTML that works without internet.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets.config import Config

from .course import PROJECT_ROOT, Course, CourseError, check

# Where a local MathJax 3 may be (the book's build installs the npm package).
MATHJAX_CANDIDATES = (
    PROJECT_ROOT / "book" / "_static" / "mathjax" / "tex-svg.js",
    PROJECT_ROOT / "book" / "_static" / "mathjax" / "es5" / "tex-svg.js",
    PROJECT_ROOT / "build" / "npm" / "node_modules" / "mathjax" / "es5" / "tex-svg.js",
    PROJECT_ROOT / "node_modules" / "mathjax" / "es5" / "tex-svg.js",
)
MATHJAX_CONFIG = """window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], processEscapes: true},
  svg: {fontCache: 'global'}
};"""
# What makes a browser fetch from another host: an element's src, a stylesheet link, CSS url()
# and @import. (Plain <a href> links are navigation, not requests.)
_FETCHED = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed|input)\b[^>]*\ssrc\s*=\s*["']?\s*"""
    r"""(?:https?:)?//|<link\b[^>]*\shref\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE)


class HideHiddenTestTracebacks(NbGraderPreprocessor):
    """In cells with hidden tests, keep only ``ename: evalue`` of errors (no source lines)."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        delimiter = ClearHiddenTests().begin_test_delimeter
        if cell.cell_type == "code" and delimiter in cell.source:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


def find_mathjax() -> Path:
    for path in MATHJAX_CANDIDATES:
        if path.exists():
            return path
    raise CourseError("no local MathJax 3 found (tex-svg.js); build the book once (`make book`) "
                      "or `npm install mathjax@3` in the project, then rerun `course feedback`")


def offline_maths(html: str, mathjax_js: str) -> str:
    """Replace the CDN MathJax 2 loader and its config with an inlined MathJax 3."""
    html = re.sub(r"<script[^>]*src=[\"'][^\"']*mathjax[^\"']*[\"'][^>]*>\s*</script>", "",
                  html, flags=re.IGNORECASE)
    html = re.sub(r"<script type=\"text/x-mathjax-config\">.*?</script>", "", html,
                  flags=re.DOTALL)
    inline = mathjax_js.replace("</script", "<\\/script")
    local = f"<script>{MATHJAX_CONFIG}</script>\n<script>{inline}</script>\n"
    return html.replace("</head>", local + "</head>", 1)


def external_fetches(html: str) -> list[str]:
    """Snippets of ``html`` that would make a browser fetch something from another host."""
    return [html[max(0, m.start() - 20): m.end() + 40] for m in _FETCHED.finditer(html)]


def generate_feedback(course: Course, assignment: str) -> list[Path]:
    """nbgrader generate_feedback for every autograded student, then the two fixes above."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    course.require_assignment(assignment)
    mathjax_js = find_mathjax().read_text()
    api = course.api()
    config = Config()
    config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTestTracebacks,
                                             ClearHiddenTests, CSSHTMLHeaderPreprocessor]
    api.config.merge(config)
    check(api.generate_feedback(assignment), f"generate_feedback {assignment}",
          course.root / "logs")
    pages = sorted((course.root / "feedback").glob(f"*/{assignment}/*.html"))
    for page in pages:
        page.write_text(offline_maths(page.read_text(), mathjax_js))
    return pages
