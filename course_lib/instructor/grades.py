"""``course grades``: one CSV row per student, with a status and a score per graded part.

Columns: ``student_id, status, score, max_score, <one column per graded part>, reason``.
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
        writer.writerow(["student_id", "status", "score", "max_score", *parts, "reason"])
        for student in sorted(submitted | set(roster(course))):
            record = load_record(course, assignment, student)
            if record is not None:
                scores = [f"{record.parts.get(p, [0.0])[0]:g}" for p in parts]
                writer.writerow([student, record.status, f"{record.score:g}",
                                 f"{record.max_score:g}", *scores, record.reason])
            else:
                status = "ungraded" if student in submitted else "missing"
                writer.writerow([student, status, "", "", *[""] * len(parts),
                                 "run `course autograde`" if status == "ungraded" else ""])
    return path
