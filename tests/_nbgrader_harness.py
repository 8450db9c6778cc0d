"""Drive nbgrader for real on the course's assignments, in a temporary course directory.

:class:`Course` copies solutions/ into a temporary root, runs ``generate_assignment`` once, then
autogrades whatever submissions a test builds (:func:`solved`, :func:`with_mistakes`, or the
blank release notebook) and exports the grades to CSV — nbgrader's own pipeline, unchanged.
The results come back as :class:`Graded`: per-cell scores from the gradebook and per-cell
output text from the autograded notebook (what the student's feedback shows).

Cell naming convention (see course_lib.grading): the answer cell of part ``P`` has grade id
``P``; its tests are ``P_visible`` (0 points) and ``P_hidden`` (the part's points).
"""

from __future__ import annotations

import csv
import runpy
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_lib.grading.release import SOLUTIONS, generate, load_config

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answer_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The autograded answer cells, by part name."""
    return {grade_id(c): c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def read_source(name: str) -> NotebookNode:
    return nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)


def declared_mistakes(name: str) -> dict[str, dict[str, dict[str, str]]]:
    """``MISTAKES`` from solutions/<name>/mistakes.py: part → {"A"|"B": find/replace/expect}."""
    return runpy.run_path(str(SOLUTIONS / name / "mistakes.py"))["MISTAKES"]


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in SOLUTION_MARKERS)


def solved(release: NotebookNode, source: NotebookNode, mistake: str | None = None,
           mistakes: dict | None = None) -> NotebookNode:  # fmt: skip
    """The release notebook with every answer cell filled in as a student would from the
    solution — with mistake ``mistake`` ("A"/"B") of ``mistakes`` applied to every part."""
    answers = answer_cells(source)
    submission = nbformat.from_dict(release)
    for part, cell in answer_cells(submission).items():
        text = answers[part].source
        if mistake is not None:
            change = mistakes[part][mistake]
            assert text.count(change["find"]) == 1, f"{part} {mistake}: find must match once"
            text = text.replace(change["find"], change["replace"])
        cell.source = _strip_markers(text)
    return submission


@dataclass
class Graded:
    """One autograded submission."""

    scores: dict[str, float]  # grade cell id → points earned
    max_scores: dict[str, float]
    outputs: dict[str, str]  # code cell id → its outputs as text (stdout, results, errors)
    errors: dict[str, tuple[str, str]]  # code cell id → (exception name, message)
    total: float  # the total in nbgrader's CSV export


def _output_text(cell: NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


class Course:
    """A temporary nbgrader course with the given assignments generated from solutions/."""

    def __init__(self, root: Path, names: list[str]) -> None:
        self.root = root
        for name in names:
            shutil.copytree(SOLUTIONS / name, root / "solutions" / name)
        self.release_dir = generate(root, names)
        self.config = load_config(root)

    def release(self, name: str) -> NotebookNode:
        return nbformat.read(self.release_dir / name / f"{name}.ipynb", as_version=4)

    def autograde(self, name: str, submissions: dict[str, NotebookNode]) -> dict[str, Graded]:
        """Submit each notebook as a student, autograde them all, export, read the results."""
        from nbgrader.api import Gradebook
        from nbgrader.apps import NbGraderAPI
        from nbgrader.plugins.export import CsvExportPlugin

        api = NbGraderAPI(config=self.config)
        for student, nb in submissions.items():
            folder = self.root / "submitted" / student / name
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
            result = api.autograde(name, student, force=True, create=True)
            assert result["success"], f"nbgrader autograde {student} failed:\n{result['log']}"
        csv_path = self.root / "grades.csv"
        with Gradebook(self.config.CourseDirectory.db_url) as gradebook:
            CsvExportPlugin(to=str(csv_path)).export(gradebook)
            graded = {student: self._read(gradebook, name, student) for student in submissions}
        with open(csv_path) as f:
            for row in csv.DictReader(f):
                if row["assignment"] == name and row["student_id"] in graded:
                    graded[row["student_id"]].total = float(row["score"])
        return graded

    def _read(self, gradebook: object, name: str, student: str) -> Graded:
        notebook = gradebook.find_submission_notebook(name, name, student)
        scores = {g.name: g.score for g in notebook.grades}
        max_scores = {g.name: g.max_score for g in notebook.grades}
        autograded = self.root / "autograded" / student / name / f"{name}.ipynb"
        cells = nbformat.read(autograded, as_version=4).cells
        code = [c for c in cells if c.cell_type == "code"]
        outputs = {grade_id(c) or c.id: _output_text(c) for c in code}
        errors = {
            grade_id(c) or c.id: (out.ename, out.evalue)
            for c in code for out in c.outputs if out.output_type == "error"
        }  # fmt: skip
        return Graded(scores, max_scores, outputs, errors, total=float("nan"))
