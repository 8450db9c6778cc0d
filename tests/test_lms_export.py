"""Grades back into Canvas and Moodle: `course grades` writes, beside the detailed CSV, the
Gradebook import CSV of Canvas and the offline grading worksheet of Moodle, for the students an
LMS export brought in. The exports here have the real layouts (Canvas's
``name_userid_submissionid_file``, Moodle's ``Full Name_participantid_assignsubmission_file_/``);
the records are written directly instead of grading, which other tests cover."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from course_lib.instructor import cli
from course_lib.instructor.autograde import Record, save_record
from course_lib.instructor.course import Course
from course_lib.instructor.grades import grade_rows, write_grades
from course_lib.instructor.lms import read_student_list
from course_lib.instructor.lms_export import write_lms_files

FIXTURES = Path(__file__).parent / "instructor_fixtures"
ASSIGNMENT = "00_mini"
PARTS = ("test_square", "test_norm", "test_count")  # 2 points each
BOM = b"\xef\xbb\xbf"
NOW = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = Course(tmp_path_factory.mktemp("template") / "course", solutions=FIXTURES)
    course.setup([ASSIGNMENT])
    return course.root


@pytest.fixture
def course(template: Path, tmp_path: Path) -> Course:
    """A fresh class directory (a copy: `course setup` takes seconds)."""
    shutil.copytree(template, tmp_path / "course")
    return Course(tmp_path / "course", solutions=FIXTURES)


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(zipfile.ZipInfo(name, (2026, 2, 1, 9, 0, 0)), "{}")
    return path


def _cli(course: Course, *argv: str) -> int:
    return cli.main(["--course-dir", str(course.root), "--solutions", str(FIXTURES), *argv])


def _graded(
    course: Course, student: str, points: tuple[float, float, float], tampered: bool = False
) -> None:
    """A record as `course autograde` writes it (a tampered one: its points withheld)."""
    parts = {p: [0.0 if tampered else s, 2.0] for p, s in zip(PARTS, points, strict=True)}
    status = {
        p: "tampered" if tampered else "passed" if s == 2 else "partial"
        for p, s in zip(PARTS, points, strict=True)
    }
    save_record(
        course,
        Record(
            student,
            ASSIGNMENT,
            "tampered" if tampered else "ok",
            sum(s for s, _ in parts.values()),
            6.0,
            sum(points),
            parts,
            status,
            reason="cell 'test_norm' edited" if tampered else "",
        ),
    )


def _add_to_gradebook(course: Course, *students: str) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gradebook:
        for student in students:
            gradebook.add_student(student)


def _canvas_class(course: Course, tmp_path: Path) -> None:
    """Two John Smiths (4242, 4243: tampered), a late resubmission graded 4.5, one not graded
    yet, a student collected outside any LMS, and a Canvas student of another assignment who
    did not submit this one."""
    export = _zip(
        tmp_path / "submissions.zip",
        [
            "smithjohn_4242_9001_00_mini.ipynb",
            "smithjohn_4243_9002_00_mini.ipynb",
            "müllerjörg_4245_9003_00_mini.ipynb",
            "müllerjörg_LATE_4245_9010_00_mini-1.ipynb",
            "leeann_4244_9004_00_mini.ipynb",
        ],
    )
    assert _cli(course, "collect", ASSIGNMENT, "--from", str(export)) == 0
    _graded(course, "4242", (2, 2, 2))
    _graded(course, "4243", (2, 2, 1), tampered=True)
    _graded(course, "4245", (2, 1.5, 1))
    (course.root / "submitted" / "ada" / ASSIGNMENT).mkdir(parents=True)  # from the exchange
    _graded(course, "ada", (2, 2, 2))
    other = course.root / "lms" / "99_other.csv"
    other.write_text("student_id,name,notebooks,source,lms_id\n4250,parkmin,99_other,canvas,4250\n")
    _add_to_gradebook(course, "4250")


def _moodle_class(course: Course, tmp_path: Path) -> None:
    """Two John Smiths (77, 78), names in other scripts (5: Björn Ås, 9: 王小明, tampered), a
    blind-marked submission not graded yet, and a Moodle student of another assignment who did
    not submit this one."""
    export = _zip(
        tmp_path / "moodle.zip",
        [
            "John Smith_77_assignsubmission_file_/00_mini.ipynb",
            "John Smith_78_assignsubmission_file_/00_mini (1).ipynb",
            "Björn Ås_5_assignsubmission_file_/00_mini.ipynb",
            "王小明_9_assignsubmission_file_/00_mini.ipynb",
            "Participant 123456_assignsubmission_file_/00_mini.ipynb",
        ],
    )
    assert _cli(course, "collect", ASSIGNMENT, "--from", str(export)) == 0
    _graded(course, "77", (2, 1, 0))
    _graded(course, "78", (1, 1, 0))
    _graded(course, "5", (2, 2, 2))
    _graded(course, "9", (2, 2, 2), tampered=True)
    other = course.root / "lms" / "99_other.csv"
    other.write_text("student_id,name,notebooks,source,lms_id\n79,Jane Roe,99_other,moodle,79\n")
    _add_to_gradebook(course, "79")


def _read(path: Path, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def test_collect_records_each_students_lms_and_id(course: Course, tmp_path: Path) -> None:
    export = _zip(
        tmp_path / "canvas.zip",
        [
            "smithjohn_4242_9001_00_mini.ipynb",
            "smithjohn_4243_9002_00_mini.ipynb",
            "jdoe-00_mini.ipynb",
        ],
    )
    students = tmp_path / "students.csv"
    students.write_text("key,student_id\n4243,s-4243\n")
    assert _cli(course, "collect", ASSIGNMENT, "--from", str(export), "--map", str(students)) == 0
    listed = course.root / "lms" / f"{ASSIGNMENT}.csv"
    assert listed.read_text(encoding="utf-8").splitlines() == [
        "student_id,name,notebooks,source,lms_id",
        "4242,smithjohn,00_mini,canvas,4242",
        "jdoe,jdoe,00_mini,file name,",
        "s-4243,smithjohn,00_mini,canvas,4243",  # renamed by the map: Canvas still knows 4243
    ]
    # A list written before the LMS was recorded still reads; its students just have no source.
    listed.write_text("student_id,name,notebooks\n4242,smithjohn,00_mini\n", encoding="utf-8")
    old = read_student_list(listed)
    assert (old["4242"].name, old["4242"].source, old["4242"].lms_id) == ("smithjohn", "", "")


def test_canvas_gradebook_import_through_the_cli(
    course: Course, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _canvas_class(course, tmp_path)
    capsys.readouterr()
    assert _cli(course, "grades", ASSIGNMENT) == 0
    out = capsys.readouterr().out
    grades = course.root / "grades" / f"{ASSIGNMENT}.csv"
    canvas = course.root / "grades" / f"{ASSIGNMENT}-canvas.csv"
    assert out.splitlines()[0] == str(grades)
    assert not (course.root / "grades" / f"{ASSIGNMENT}-moodle.csv").exists()

    raw = canvas.read_bytes()
    assert not raw.startswith(BOM)  # plain UTF-8, as Canvas's own export
    header, points, *students = _read(canvas, "utf-8")
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert points == ["    Points Possible", "", "", "", "", "6"]
    assert all(len(row) == len(header) for row in students)
    by_id = {row[1]: row for row in students}
    assert sorted(by_id) == ["4242", "4243", "4245"]  # the Canvas user ids, nothing else
    assert by_id["4242"][0] == by_id["4243"][0] == "smithjohn"  # namesakes stay two rows
    assert by_id["4242"][5] == "6"
    assert by_id["4243"][5] == "0"  # tampered, not cleared: counts 0
    assert by_id["4245"] == ["müllerjörg", "4245", "", "", "", "4.5"]  # the late resubmission

    # No grade is never an empty cell in Canvas (it would remove a grade Canvas holds).
    assert "4244 (not graded yet: run `course autograde`; an empty cell would remove" in out
    assert "4250 (no submission; an empty cell would remove a grade Canvas already has)" in out
    assert "tampered, so their points count 0 until `course clear`: 4243" in out
    assert "in no LMS file: ada (not imported from a Canvas or Moodle export)" in out
    assert f"{canvas}: 3 grade(s) for Canvas (in Canvas: Grades > Import)" in out

    # The detailed CSV keeps every student, whatever the LMS.
    with open(grades, newline="") as f:
        detailed = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(detailed) == ["4242", "4243", "4244", "4245", "4250", "ada"]
    assert (detailed["4243"]["score"], detailed["4243"]["would_be_score"]) == ("0", "5")
    assert (detailed["4244"]["status"], detailed["4244"]["score"]) == ("ungraded", "")


def test_moodle_grading_worksheet(course: Course, tmp_path: Path) -> None:
    _moodle_class(course, tmp_path)
    rows = grade_rows(course, ASSIGNMENT)
    grades = write_grades(course, ASSIGNMENT, tmp_path / "out" / "unit1.csv", rows)
    exports = write_lms_files(course, ASSIGNMENT, rows, grades, now=NOW)
    worksheet = tmp_path / "out" / "unit1-moodle.csv"
    assert [f.path for f in exports.files] == [worksheet]  # beside -o's CSV; no Canvas file

    raw = worksheet.read_bytes()
    assert raw.startswith(BOM) and not raw.startswith(BOM * 2)
    header, *students = _read(worksheet, "utf-8-sig")
    assert header == [
        "Identifier",
        "Full name",
        "Status",
        "Grade",
        "Maximum Grade",
        "Last modified (grade)",
    ]
    assert "Feedback comments" not in header  # an empty one would erase Moodle's comments
    assert all(len(row) == len(header) for row in students)
    by_id = {row[0]: row for row in students}
    assert sorted(by_id) == [
        "Participant 123456",
        "Participant 5",
        "Participant 77",
        "Participant 78",
        "Participant 79",
        "Participant 9",
    ]
    grade = {ident: row[3] for ident, row in by_id.items()}
    assert grade == {
        "Participant 77": "3",
        "Participant 78": "2",
        "Participant 5": "6",
        "Participant 9": "0",  # tampered, not cleared
        "Participant 123456": "",  # blind marking, not graded yet: Moodle skips it
        "Participant 79": "",
    }  # no submission: empty, never 0
    assert by_id["Participant 77"][1] == by_id["Participant 78"][1] == "John Smith"
    assert by_id["Participant 5"][1] == "Björn Ås" and by_id["Participant 9"][1] == "王小明"
    assert by_id["Participant 123456"][1] == "Participant 123456"
    assert (by_id["Participant 9"][2], by_id["Participant 79"][2]) == ("tampered", "missing")
    assert {row[4] for row in students} == {"6"}
    stamps = {dt.datetime.fromisoformat(row[5]) for row in students}
    assert stamps == {NOW}

    lines = "\n".join(exports.lines())
    assert f"{worksheet}: 4 grade(s) for Moodle (in Moodle: the assignment > View all " in lines
    assert "Upload grading worksheet" in lines
    assert "grades are points out of 6: set the assignment's Maximum grade to as much" in lines
    assert "empty grade, which Moodle leaves as it is: 123456 (not graded yet" in lines
    assert "empty grade, which Moodle leaves as it is: 79 (no submission)" in lines
    assert "count 0 until `course clear`: 9" in lines


def test_no_grade_from_a_failed_grader_and_no_shared_ids(course: Course, tmp_path: Path) -> None:
    """An `error` the grading machinery caused is no verdict: no 0 goes to the LMS. Two students
    given one Canvas id (a map mistake) are both left out rather than one overwriting the other;
    a student with no grade gives way to the one with a grade under the same id."""
    _canvas_class(course, tmp_path)
    save_record(
        course,
        Record("4244", ASSIGNMENT, "error", 0.0, 6.0, reason="OSError('disk')", grader_failed=True),
    )
    listed = course.root / "lms" / f"{ASSIGNMENT}.csv"
    text = listed.read_text(encoding="utf-8").replace(
        "4243,smithjohn,00_mini,canvas,4243", "4243,smithjohn,00_mini,canvas,4242"
    )
    listed.write_text(text, encoding="utf-8")  # as if the map had sent 4243's files elsewhere
    other = course.root / "lms" / "99_other.csv"
    other.write_text(other.read_text() + "jmuller,müllerjörg,99_other,canvas,4245\n")
    _add_to_gradebook(course, "jmuller")
    rows = grade_rows(course, ASSIGNMENT)
    exports = write_lms_files(
        course, ASSIGNMENT, rows, write_grades(course, ASSIGNMENT, None, rows)
    )
    (canvas,) = exports.files
    header, points, *students = _read(canvas.path, "utf-8")
    assert students == [["müllerjörg", "4245", "", "", "", "4.5"]]
    left_out = dict(canvas.left_out)
    assert left_out["4244"].startswith("the grader failed on it: run `course autograde` again")
    assert left_out["4242"] == (
        "Canvas id 4242 is also 4243's: fix the --map of `course collect`, then run this again"
    )
    assert left_out["4243"].startswith("Canvas id 4242 is also 4242's: fix the --map")
    assert left_out["jmuller"] == "Canvas id 4245 is also 4245's"  # no grade: gives way
    assert sorted(left_out) == ["4242", "4243", "4244", "4250", "jmuller"]


def test_a_list_from_before_sources_is_named_not_guessed(course: Course, tmp_path: Path) -> None:
    _moodle_class(course, tmp_path)
    listed = course.root / "lms" / f"{ASSIGNMENT}.csv"
    old = ["student_id,name,notebooks"] + [
        ",".join(line.split(",")[:3])
        for line in listed.read_text(encoding="utf-8").splitlines()[1:]
    ]
    listed.write_text("\n".join(old) + "\n", encoding="utf-8")
    rows = grade_rows(course, ASSIGNMENT)
    exports = write_lms_files(course, ASSIGNMENT, rows, tmp_path / "g.csv", now=NOW)
    (moodle,) = exports.files  # only 79, from the other assignment's (new) list
    assert [row[0] for row in _read(moodle.path, "utf-8-sig")[1:]] == ["Participant 79"]
    elsewhere = dict(exports.elsewhere)
    assert elsewhere["77"] == (
        "listed before `course collect` kept the LMS: run `course collect "
        f"{ASSIGNMENT} --from EXPORT` again"
    )


def test_no_lms_no_extra_files_and_the_same_output(
    course: Course, capsys: pytest.CaptureFixture
) -> None:
    (course.root / "submitted" / "ada" / ASSIGNMENT).mkdir(parents=True)
    _graded(course, "ada", (2, 2, 2))
    assert _cli(course, "grades", ASSIGNMENT) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(course.root / "grades" / f"{ASSIGNMENT}.csv")
    ]
    assert sorted(p.name for p in (course.root / "grades").iterdir()) == [f"{ASSIGNMENT}.csv"]
