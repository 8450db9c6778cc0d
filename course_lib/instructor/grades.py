"""``course grades``: one CSV row per student, with a status and a score per graded part.

Columns: ``student_id, status, score, max_score, would_be_score``, then for each graded part its
score and its status (``<part> status``: passed, partial, failed, not run, tampered -- or the
notebook's status when it did not run: missing, invalid, error), then ``review`` (things for a
human to look at, which change no score) and ``reason``. A tampered submission scores 0 until an
instructor clears it (``course clear``); ``would_be_score`` is what the grader's verdicts gave.
Students known to the gradebook who never submitted appear with status ``missing``; a
submission that was never graded (``course autograde`` not run, or interrupted before it)
appears as ``ungraded``, never as a silent 0. A grade entered by hand in formgrader replaces
the automatic one of its part (``<part> status`` reads ``manual``) until a changed submission
is autograded (:mod:`.formgrader`).

:func:`grade_rows` is the one place a student's final result is decided; this CSV and the LMS
files of :mod:`.lms_export` are both written from its rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .autograde import load_record, students_of
from .course import Course


@dataclass(frozen=True)
class GradeRow:
    """One student's final result for an assignment.

    ``score`` is what counts (0 for a tampered submission not cleared), ``None`` when there is
    no record. ``graded`` says whether the score is a verdict that may go to an LMS: it is false
    for ``missing`` and ``ungraded`` students and for a record the grading machinery failed on
    (that ``error`` is no verdict on the student's work).
    """

    student: str
    status: str
    score: float | None
    max_score: float | None
    would_be: float | None
    graded: bool
    parts: dict[str, tuple[float, str]] = field(default_factory=dict)  # part -> (score, status)
    review: tuple[str, ...] = ()
    reason: str = ""


def part_names(course: Course, assignment: str) -> list[str]:
    """Grade cell ids of the assignment, in notebook order (from nbgrader's gradebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gb:
        return [
            cell.name for nb in gb.find_assignment(assignment).notebooks for cell in nb.grade_cells
        ]


def roster(course: Course) -> list[str]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gb:
        return [student.id for student in gb.students]


def grade_rows(course: Course, assignment: str) -> list[GradeRow]:
    """Every student's final result (submitted or in the gradebook), sorted by student id."""
    from .formgrader import manual_grades

    course.require_assignment(assignment)
    parts = part_names(course, assignment)
    submitted = set(students_of(course, assignment))
    manual = manual_grades(f"sqlite:///{course.gradebook_path}", assignment)
    rows = []
    for student in sorted(submitted | set(roster(course))):
        record = load_record(course, assignment, student)
        if record is None:
            status = "ungraded" if student in submitted else "missing"
            rows.append(
                GradeRow(
                    student,
                    status,
                    None,
                    None,
                    None,
                    graded=False,
                    reason="run `course autograde`" if status == "ungraded" else "",
                )
            )
            continue
        scores = {
            p: (record.parts.get(p, [0.0])[0], record.part_status.get(p, record.status))
            for p in parts
        }
        # A grade entered in formgrader replaces the automatic one (withheld points stay so).
        hand = {
            p: (value, "manual")
            for p, value in manual.get(student, {}).items()
            if p in scores and scores[p][1] != "tampered"
        }
        score = record.score + sum(v for v, _ in hand.values()) - sum(scores[p][0] for p in hand)
        scores.update(hand)
        rows.append(
            GradeRow(
                student,
                record.status,
                score,
                record.max_score,
                record.would_be,
                graded=not record.grader_failed,
                parts=scores,
                review=tuple(record.review),
                reason=record.reason,
            )
        )
    return rows


def write_grades(
    course: Course, assignment: str, path: Path | None = None, rows: list[GradeRow] | None = None
) -> Path:
    """Write the grades CSV (default ``<course>/grades/<assignment>.csv``) from ``rows`` (default
    :func:`grade_rows`); return its path."""
    course.require_assignment(assignment)
    parts = part_names(course, assignment)
    rows = grade_rows(course, assignment) if rows is None else rows
    path = path or course.root / "grades" / f"{assignment}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        part_columns = [c for p in parts for c in (p, f"{p} status")]
        writer.writerow(
            [
                "student_id",
                "status",
                "score",
                "max_score",
                "would_be_score",
                *part_columns,
                "review",
                "reason",
            ]
        )
        for row in rows:
            if row.score is None:
                writer.writerow(
                    [row.student, row.status, "", "", "", *[""] * len(part_columns), "", row.reason]
                )
                continue
            cells = [c for p in parts for c in (f"{row.parts[p][0]:g}", row.parts[p][1])]
            writer.writerow(
                [
                    row.student,
                    row.status,
                    f"{row.score:g}",
                    f"{row.max_score:g}",
                    f"{row.would_be:g}",
                    *cells,
                    "; ".join(row.review),
                    row.reason,
                ]
            )
    return path
