"""formgrader (nbgrader's web interface) and plain nbgrader on a class directory, made safe.

``course setup`` writes ``<course>/nbgrader_config.py`` (:func:`write_course_config`). Every
nbgrader started in the class directory reads it, the formgrader inside JupyterLab included:

- **Autograde** in formgrader runs ``course autograde ASSIGNMENT --student S --force``: the same
  sandboxed two-party grader as the command line (:func:`sandboxed_autograde`), never plain
  nbgrader, which would run the student's code as the instructor, outside any sandbox;
- a plain ``nbgrader autograde`` in the directory stops with one sentence as it reads the
  config, before it changes the gradebook or any folder; and should nbgrader's Autograde be
  reached another way, :class:`RefuseUnsandboxed` replaces its steps, ``Execute`` first. Both work
  even where ``course_lib`` cannot be imported (the class is named by a string);
- **maths offline**: nbgrader's pages (the grading view, feedback) call nbconvert's
  ``mathjax()`` macro, which loads MathJax 2 from a CDN. The class directory's own copy of that
  macro (``.formgrader/templates``, found first) inlines MathJax 3 and the one MathJax 2 call
  formgrader's script makes (``MathJax.Hub.Startup.signal.Interest``);
- feedback made by formgrader's button hides hidden tests as ``course feedback`` does;
- the exchange, the gradebook and the course id are the ones the ``course`` command uses.

Manual grades entered in formgrader live in nbgrader's gradebook; :func:`manual_grades` reads
them for ``course grades``. When a *changed* submission is autograded, the manual grades of its
autograded cells are cleared (:func:`forget_manual_grades`): the new automatic grades count.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor

TEMPLATES = Path(".formgrader") / "templates"
# By import path, so that it refuses even where course_lib cannot be imported (see above).
REFUSE = f"{__name__}.RefuseUnsandboxed"

# formgrader's script waits for MathJax 2's "End" signal before it focuses the first grade box.
_HUB_SHIM = """MathJax.Hub = {Startup: {signal: {Interest: function (listener) {
  var done = MathJax.startup && MathJax.startup.promise;
  if (done) { done.then(function () { listener("End"); }); } else { listener("End"); }
}}}};"""
_MATHJAX_CONFIG = """window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], processEscapes: true},
  svg: {fontCache: 'global'}
};"""


REFUSAL = (
    "nbgrader autograde is switched off in this class directory: it would run students' "
    "code as you, outside any sandbox. Grade with `course autograde ASSIGNMENT` (or "
    "formgrader's Autograde button), which runs it in the grading sandbox."
)


class RefuseUnsandboxed(NbGraderPreprocessor):
    """In place of nbgrader's ``Execute``: nbgrader's Autograde, reached other than through the
    command line (which the config stops earlier), stops before running any cell."""

    def preprocess(self, nb: Any, resources: dict) -> Any:
        raise RuntimeError(REFUSAL)


def mathjax_macro(mathjax_js: str | None) -> str:
    """nbconvert's ``mathjax()`` macro, offline: MathJax 3 inlined (or, without it, no maths
    rendering but a working page), plus the MathJax 2 call formgrader makes."""
    if mathjax_js is None:
        scripts = f"<script>window.MathJax = {{}}; {_HUB_SHIM}</script>"
    else:
        inline = mathjax_js.replace("</script", "<\\/script")
        scripts = (
            f"<script>{_MATHJAX_CONFIG}</script>\n<script>{inline}</script>\n"
            f"<script>{_HUB_SHIM}</script>"
        )
    # {% raw %}: MathJax's source is not a template.
    return (
        "{%- macro mathjax(url=None) -%}\n{% raw %}" + scripts + "{% endraw %}\n{%- endmacro %}\n"
    )


def write_templates(root: Path, mathjax_js: str | None) -> Path:
    """The class directory's template folder (one ``mathjax.html.j2`` per page kind)."""
    base = root / TEMPLATES
    macro = mathjax_macro(mathjax_js)
    for kind in ("formgrade", "feedback"):
        (base / kind).mkdir(parents=True, exist_ok=True)
        (base / kind / "mathjax.html.j2").write_text(macro)
    return base


def template_basedirs(root: Path) -> list[str]:
    """Where nbconvert looks for nbgrader's page templates: the class directory's first."""
    from nbgrader.server_extensions.formgrader import handlers

    return [str(root / TEMPLATES), handlers.template_path]


def write_course_config(root: Path, settings: dict[str, Any]) -> Path:
    """Write ``root/nbgrader_config.py``: ``settings`` ("Section.name" -> value, plain Python
    literals) plus the lines that make formgrader and plain nbgrader grade safely."""
    lines = [
        "# Written by `course setup` (rerunning it rewrites this file). nbgrader reads it in",
        "# every process started in this directory, formgrader's included: see",
        f"# {__name__} for what each part does.",
        "c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)",
    ]
    lines += [f"c.{key} = {value!r}" for key, value in settings.items()]
    lines += [
        "# Plain `nbgrader autograde` would run students' code as you, outside any sandbox:",
        "# it stops here, before it touches the gradebook or any folder...",
        "import os.path as _path, sys as _sys  # noqa: E401",
        "_program = _sys.argv[0] if _sys.argv else ''",
        "if _sys.argv[1:2] == ['autograde'] and 'nbgrader' in (",
        "        _path.basename(_program), _path.basename(_path.dirname(_program))):",
        f"    raise SystemExit({REFUSAL!r})",
        "# ...and, should it be reached another way, where it would run the first cell.",
        f"c.Autograde.autograde_preprocessors = {[REFUSE]!r}",
        "try:",
        f"    from {__name__} import configure",
        "except ImportError:  # another environment: formgrader's Autograde then refuses",
        "    pass",
        "else:",
        "    configure(c)",
    ]
    path = root / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def configure(c: Any) -> None:
    """What the class directory's config does with ``course_lib`` importable (see the module)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    from .feedback import HideHiddenTestTracebacks

    root = Path(c.CourseDirectory.root)
    c.HTMLExporter.extra_template_basedirs = template_basedirs(root)
    c.GenerateFeedback.preprocessors = [
        GetGrades,
        HideHiddenTestTracebacks,
        ClearHiddenTests,
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    NbGraderAPI.autograde = sandboxed_autograde


def sandboxed_autograde(
    api: Any, assignment_id: str, student_id: str, force: bool = True, create: bool = True
) -> dict[str, Any]:
    """``NbGraderAPI.autograde`` (formgrader's Autograde button), done by ``course autograde``.

    Returns nbgrader's result shape: ``success``, and ``error`` and ``log`` when it failed.
    """
    command = [
        sys.executable,
        "-m",
        "course_lib.instructor.cli",
        "autograde",
        assignment_id,
        "--course-dir",
        str(api.coursedir.root),
        "--student",
        student_id,
        "--force",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    log = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        return {"success": True, "log": log}
    last = next((line for line in reversed(log.splitlines()) if line.strip()), "no message")
    return {"success": False, "error": last, "log": log}


# ---------------------------------------------------------------------------------------------
# Manual grades
# ---------------------------------------------------------------------------------------------


def manual_grades(gradebook_url: str, assignment: str) -> dict[str, dict[str, float]]:
    """student -> {grade id: score} for every grade an instructor set by hand (formgrader's
    manual score, plus its extra credit)."""
    from nbgrader.api import Gradebook, MissingEntry

    found: dict[str, dict[str, float]] = {}
    with Gradebook(gradebook_url) as gb:
        try:
            submissions = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return found
        for submission in submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.manual_score is not None:
                        found.setdefault(submission.student.id, {})[grade.name] = float(
                            grade.manual_score + (grade.extra_credit or 0.0)
                        )
    return found


def forget_manual_grades(gradebook_url: str, assignment: str, student: str) -> list[str]:
    """Clear the manual grades of ``student``'s autograded cells (a changed submission was just
    graded: its automatic grades count). Manually graded cells keep theirs. Returns the ids."""
    from nbgrader.api import Gradebook, MissingEntry

    cleared = []
    with Gradebook(gradebook_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return cleared
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.auto_score is not None and grade.manual_score is not None:
                    grade.manual_score = None
                    grade.extra_credit = None
                    grade.needs_manual_grade = False
                    cleared.append(grade.name)
        gb.db.commit()
    return cleared
