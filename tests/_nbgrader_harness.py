"""Grade the course's assignments for real, through the driver instructors run.

:class:`Course` sets up a temporary class directory with
:class:`course_lib.instructor.course.Course` (``course setup``), then grades whatever
submissions a test builds (:func:`solved`, :func:`with_mistakes`, or the blank release notebook)
with :func:`course_lib.instructor.autograde.autograde` (``course autograde``: test cells in the
grader, the student's cells in the sandbox). The results come back as :class:`Graded`: per-cell
scores from the grader's record, per-cell output text from the autograded notebook (what the
student's feedback shows), and the total nbgrader's gradebook holds, which must agree.

Cell naming convention (see course_lib.grading): the answer cell of part ``P`` has grade id
``P``; its tests are ``P_visible`` (0 points) and ``P_hidden`` (the part's points).
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_lib.grading.release import SOLUTIONS
from course_lib.instructor import autograde as grading
from course_lib.instructor.course import Course as ClassDirectory
from course_lib.instructor.limits import Limits

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


def solved(
    release: NotebookNode,
    source: NotebookNode,
    mistake: str | None = None,
    mistakes: dict | None = None,
) -> NotebookNode:
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
    """One graded submission."""

    status: str
    scores: dict[str, float]  # grade cell id → points earned
    max_scores: dict[str, float]
    outputs: dict[str, str]  # code cell id → its outputs as text (stdout, results, errors)
    errors: dict[str, tuple[str, str]]  # code cell id → (exception name, message)
    total: float  # the record's score
    gradebook_total: float  # what nbgrader's gradebook holds for the submission
    record: grading.Record


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
    """A temporary class directory with the given assignments released from ``solutions``."""

    def __init__(self, root: Path, names: list[str], solutions: Path = SOLUTIONS) -> None:
        self.directory = ClassDirectory(root / "course", solutions=solutions)
        self.directory.setup(names)
        self.root = self.directory.root
        self.release_dir = self.root / "release"

    def release(self, name: str) -> NotebookNode:
        return nbformat.read(self.release_dir / name / f"{name}.ipynb", as_version=4)

    def autograde(
        self, name: str, submissions: dict[str, NotebookNode | bytes], wall_s: float = 120.0
    ) -> dict[str, Graded]:
        """Submit each notebook as a student, grade them all with `course autograde`."""
        from nbgrader.api import Gradebook

        for student, nb in submissions.items():
            folder = self.root / "submitted" / student / name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.ipynb"
            if isinstance(nb, bytes):
                path.write_bytes(nb)
            else:
                nbformat.write(nb, path)
        records = grading.autograde(
            self.directory,
            name,
            limits=Limits(wall_s=wall_s),
            students=list(submissions),
            force=True,
            progress=False,
        )
        graded = {}
        with Gradebook(f"sqlite:///{self.directory.gradebook_path}") as gradebook:
            for record in records:
                try:
                    total = float(gradebook.find_submission(name, record.student).score)
                except Exception:  # noqa: BLE001 -- invalid or missing: nbgrader has nothing
                    total = 0.0
                graded[record.student] = self._read(record, name, total)
        return graded

    def _read(self, record: grading.Record, name: str, total: float) -> Graded:
        scores = {gid: score for gid, (score, _) in record.parts.items()}
        max_scores = {gid: top for gid, (_, top) in record.parts.items()}
        autograded = self.root / "autograded" / record.student / name / f"{name}.ipynb"
        outputs, errors = {}, {}
        if autograded.exists():
            code = [
                c for c in nbformat.read(autograded, as_version=4).cells if c.cell_type == "code"
            ]
            outputs = {grade_id(c) or c.id: _output_text(c) for c in code}
            errors = {
                grade_id(c) or c.id: (out.ename, out.evalue)
                for c in code
                for out in c.outputs
                if out.output_type == "error"
            }
        return Graded(
            record.status, scores, max_scores, outputs, errors, record.score, total, record
        )
