"""Grades back into the LMS the submissions came from, as files it imports as they are.

``course grades`` writes, next to the detailed CSV, one file per LMS its students were imported
from (``course collect --from``; ``course/lms/<assignment>.csv`` records from which):

* ``<grades>-canvas.csv``, Canvas's Gradebook import (Grades > Import). The header is
  ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>``, then a ``Points Possible``
  row (the points of a new assignment), then one row per student. Canvas finds the student by
  ``ID``, the Canvas user id (by the name only when the id is unknown). It matches the column to
  the assignment titled exactly so (or ``Title (id)``); otherwise, on import, it asks whether the
  column is a new assignment or which existing one. UTF-8, without a byte-order mark, as
  Canvas's own export.
* ``<grades>-moodle.csv``, the assignment's offline grading worksheet (View all submissions >
  Grading action > Upload grading worksheet). Moodle reads three columns, by name: ``Identifier``
  (``Participant <participant id>``), ``Grade`` and ``Last modified (grade)`` (when the file
  was written: a grade changed in Moodle since is kept, unless the upload is told to overwrite
  it); ``Full name``, ``Status`` and ``Maximum Grade`` are for people. There is no ``Feedback
  comments`` column: an empty one would erase comments written in Moodle. UTF-8 with a
  byte-order mark, which Moodle strips and spreadsheets need to read names right.

The score is the one that counts (:func:`.grades.grade_rows`): a tampered submission not cleared
counts 0. A student with no grade (no submission, not graded yet, a grader failure) gets no
number, never a 0: the worksheet's cell is empty, which Moodle skips; the Canvas file leaves the
student out, because Canvas reads an empty cell as "remove the grade" when it holds one.
Students from neither LMS (the exchange, files named by student) are listed with why, and so are
two students given one LMS id (a ``--map`` mistake), who are left out.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .grades import GradeRow
from .lms import LmsStudent, read_student_list

LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle"}
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"  # Canvas's own export writes it so; the import looks for it
MOODLE_HEADER = (
    "Identifier",
    "Full name",
    "Status",
    "Grade",
    "Maximum Grade",
    "Last modified (grade)",
)
MOODLE_PARTICIPANT = "Participant "  # Moodle's "hiddenuser" string, before the participant id
WHERE = {
    "canvas": "in Canvas: Grades > Import",
    "moodle": "in Moodle: the assignment > View all submissions > Grading action > Upload "
    "grading worksheet",
}
OUT_OF = {
    "canvas": "give the Canvas assignment as many points (a new one gets them)",
    "moodle": "set the assignment's Maximum grade to as much (Moodle skips a grade above it)",
}


@dataclass
class LmsFile:
    """One file written for an LMS: who has a grade in it, who has an empty one (Moodle) and
    who was left out of it, each with why."""

    lms: str
    path: Path
    graded: list[str] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    max_score: float | None = None


@dataclass
class Exports:
    """What :func:`write_lms_files` did, and :meth:`lines` to tell the instructor."""

    files: list[LmsFile] = field(default_factory=list)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)  # in no LMS file, and why
    tampered: list[str] = field(default_factory=list)  # points withheld until `course clear`

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            out.append(
                f"{f.path}: {len(f.graded)} grade(s) for {LMS_NAMES[f.lms]} ({WHERE[f.lms]})"
            )
            if f.max_score is not None:
                out.append(f"  grades are points out of {f.max_score:g}: {OUT_OF[f.lms]}")
            out += [f"  empty grade, which Moodle leaves as it is: {g}" for g in _grouped(f.empty)]
            out += [f"  left out: {g}" for g in _grouped(f.left_out)]
        if self.files:
            if self.tampered:
                out.append(
                    f"tampered, so their points count 0 until `course clear`: "
                    f"{', '.join(self.tampered)}"
                )
            out += [f"in no LMS file: {g}" for g in _grouped(self.elsewhere)]
        return out


def _grouped(pairs: list[tuple[str, str]]) -> list[str]:
    """``[(student, why)]`` -> one ``"a, b (why)"`` per reason, in first-seen order."""
    by_why: dict[str, list[str]] = defaultdict(list)
    for student, why in pairs:
        by_why[why].append(student)
    return [f"{', '.join(students)} ({why})" for why, students in by_why.items()]


def identities(course: Course, assignment: str) -> dict[str, LmsStudent]:
    """student -> who they are in their LMS: from this assignment's import, else from another
    assignment's (a student who did not submit this one is still that LMS's student)."""
    lists = course.root / "lms"
    mine = lists / f"{assignment}.csv"
    others = sorted(p for p in lists.glob("*.csv") if p != mine) if lists.is_dir() else []
    who: dict[str, LmsStudent] = {}
    for path in others[::-1] + [mine]:  # the assignment's own list wins, then the first other
        who.update(read_student_list(path))
    return who


def _why_elsewhere(ident: LmsStudent | None, assignment: str) -> str:
    if ident is None:
        return "not imported from a Canvas or Moodle export"
    if ident.source == "file name":
        return "imported from files named by student, which no LMS can match"
    return (
        f"listed before `course collect` kept the LMS: run `course collect {assignment} "
        "--from EXPORT` again"
    )


def _why_no_grade(row: GradeRow) -> str:
    if row.status == "missing" and row.score is None:
        return "no submission"
    if row.status == "ungraded":
        return "not graded yet: run `course autograde`"
    return "the grader failed on it: run `course autograde` again"


def _clashes(
    pairs: list[tuple[GradeRow, LmsStudent]], lms: str
) -> list[tuple[GradeRow, LmsStudent, str]]:
    """Each pair with why it must be left out because another student has its LMS id, or "".

    Two students with a grade and one id are both left out (a ``--map`` mistake). A student
    without a grade who shares the id of one with a grade (the same person under two names in
    two assignments' lists) gives way to that one.
    """
    holders: dict[str, list[GradeRow]] = defaultdict(list)
    for row, ident in pairs:
        holders[ident.lms_id].append(row)
    out = []
    for row, ident in pairs:
        rows = holders[ident.lms_id]
        others = ", ".join(r.student for r in rows if r is not row)
        graded = sum(r.graded for r in rows)
        why = ""
        if graded > 1 and row.graded:
            why = (
                f"{lms} id {ident.lms_id} is also {others}'s: fix the --map of `course "
                "collect`, then run this again"
            )
        elif len(rows) > 1 and not row.graded:
            why = f"{lms} id {ident.lms_id} is also {others}'s"
        out.append((row, ident, why))
    return out


def _text(value: str) -> str:
    """A name as a spreadsheet will not run it as a formula."""
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def write_lms_files(
    course: Course,
    assignment: str,
    rows: list[GradeRow],
    grades_csv: Path,
    now: dt.datetime | None = None,
) -> Exports:
    """Write ``<grades_csv stem>-canvas.csv`` and/or ``-moodle.csv`` beside ``grades_csv`` for
    the students of ``rows`` imported from Canvas or Moodle (see the module docstring)."""
    who = identities(course, assignment)
    result = Exports()
    members: dict[str, list[tuple[GradeRow, LmsStudent]]] = {"canvas": [], "moodle": []}
    for row in rows:
        ident = who.get(row.student)
        if ident is None or ident.source not in members or not ident.lms_id:
            result.elsewhere.append((row.student, _why_elsewhere(ident, assignment)))
        else:
            members[ident.source].append((row, ident))
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    for lms, pairs in members.items():
        if not pairs:
            continue
        out = LmsFile(lms, grades_csv.with_name(f"{grades_csv.stem}-{lms}.csv"))
        out.max_score = max(
            (r.max_score for r, _ in pairs if r.max_score is not None), default=None
        )
        kept = []
        for row, ident, clash in _clashes(pairs, LMS_NAMES[lms]):
            if clash:
                out.left_out.append((row.student, clash))
            elif not row.graded and lms == "canvas":
                out.left_out.append(
                    (
                        row.student,
                        f"{_why_no_grade(row)}; an empty cell would "
                        "remove a grade Canvas already has",
                    )
                )
            else:
                kept.append((row, ident))
        if lms == "canvas":
            _write_canvas(out, assignment, kept)
        else:
            _write_moodle(out, kept, stamp)
        result.tampered += [r.student for r, _ in kept if r.graded and r.status == "tampered"]
        result.files.append(out)
    result.tampered.sort()
    return result


def _write_canvas(out: LmsFile, assignment: str, pairs: list[tuple[GradeRow, LmsStudent]]) -> None:
    out.path.parent.mkdir(parents=True, exist_ok=True)
    with open(out.path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*CANVAS_HEADER, assignment])
        writer.writerow([CANVAS_POINTS, "", "", "", "", _number(out.max_score)])
        for row, ident in pairs:
            writer.writerow(
                [_text(ident.name or row.student), ident.lms_id, "", "", "", _number(row.score)]
            )
            out.graded.append(row.student)


def _write_moodle(out: LmsFile, pairs: list[tuple[GradeRow, LmsStudent]], stamp: str) -> None:
    out.path.parent.mkdir(parents=True, exist_ok=True)
    with open(out.path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(MOODLE_HEADER)
        for row, ident in pairs:
            grade = _number(row.score) if row.graded else ""
            writer.writerow(
                [
                    MOODLE_PARTICIPANT + ident.lms_id,
                    _text(ident.name),
                    row.status,
                    grade,
                    _number(row.max_score or out.max_score),
                    stamp,
                ]
            )
            if grade:
                out.graded.append(row.student)
            else:
                out.empty.append((row.student, _why_no_grade(row)))
