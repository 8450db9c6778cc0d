"""``course grades``: one CSV row per student, with a status and a score per graded part.

Columns: ``student_id, status, score, max_score, would_be_score``, then for each graded part its
score and its status (``<part> status``: passed, partial, failed, not run, tampered -- or the
notebook's status when it did not run: missing, invalid, error), then ``review`` (things for a
human to look at, which change no score) and ``reason``. A tampered submission scores 0 until an
instructor clears it (``course clear``); ``would_be_score`` is what the grader's verdicts gave.
Students known to the gradebook who never submitted appear with status ``missing``; a
submission that was never graded (``course autograde`` not run, or interrupted before it)
appears as ``ungraded``, never as a silent 0.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .autograde import load_record, students_of
from .course import Course


def part_names(course: Course, assignment: str) -> list[str]:
    """Grade cell ids of the assignment, in notebook order (from nbgrader's gradebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gb:
        return [cell.name for nb in gb.find_assignment(assignment).notebooks
                for cell in nb.grade_cells]


def roster(course: Course) -> list[str]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gb:
        return [student.id for student in gb.students]


def write_grades(course: Course, assignment: str, path: Path | None = None) -> Path:
    """Write the grades CSV (default ``<course>/grades/<assignment>.csv``); return its path."""
    course.require_assignment(assignment)
    parts = part_names(course, assignment)
    path = path or course.root / "grades" / f"{assignment}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    submitted = set(students_of(course, assignment))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        part_columns = [c for p in parts for c in (p, f"{p} status")]
        writer.writerow(["student_id", "status", "score", "max_score", "would_be_score",
                         *part_columns, "review", "reason"])
        for student in sorted(submitted | set(roster(course))):
            record = load_record(course, assignment, student)
            if record is not None:
                cells = [c for p in parts for c in (f"{record.parts.get(p, [0.0])[0]:g}",
                                                    record.part_status.get(p, record.status))]
                writer.writerow([student, record.status, f"{record.score:g}",
                                 f"{record.max_score:g}", f"{record.would_be:g}", *cells,
                                 "; ".join(record.review), record.reason])
            else:
                status = "ungraded" if student in submitted else "missing"
                writer.writerow([student, status, "", "", "", *[""] * len(part_columns), "",
                                 "run `course autograde`" if status == "ungraded" else ""])
    return path
