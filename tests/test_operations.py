"""Instructor operations at the edges: nothing a machinery failure does may cost a grade, and
every failure an instructor can hit ends in one sentence (exit status 2), or 1 when a
submission could not be graded."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from course_lib.instructor import autograde as grading
from course_lib.instructor import cli
from course_lib.instructor.autograde import Record, keep_or_save, load_record, needs_grading
from course_lib.instructor.course import Course, CourseError, check

FIXTURES = Path(__file__).parent / "instructor_fixtures"
ASSIGNMENT = "00_mini"


@pytest.fixture
def course(tmp_path: Path) -> Course:
    course = Course(tmp_path / "course", solutions=FIXTURES)
    course.setup([ASSIGNMENT])
    return course


def _record(status: str, score: float = 0.0, sha: str = "abc", failed: bool = False) -> Record:
    return Record("ada", ASSIGNMENT, status, score, 3.0, sha256=sha, grader_failed=failed)


def test_a_failed_attempt_never_replaces_a_grade(course: Course) -> None:
    keep_or_save(course, _record("ok", 3.0))
    keep_or_save(course, _record("error", failed=True))
    assert load_record(course, ASSIGNMENT, "ada").status == "ok"
    keep_or_save(course, _record("error", 1.0))  # the student's kernel died: a real verdict
    assert load_record(course, ASSIGNMENT, "ada").status == "error"


def test_a_failed_attempt_is_retried_by_a_plain_rerun() -> None:
    assert needs_grading(_record("error", sha="abc", failed=True), "abc", force=False)
    assert not needs_grading(_record("error", sha="abc"), "abc", force=False)  # a verdict
    assert not needs_grading(_record("ok", sha="abc"), "abc", force=False)
    assert needs_grading(_record("ok", sha="abc"), "def", force=False)
    assert needs_grading(None, "abc", force=False)


def test_an_unwritable_gradebook_stops_before_any_record(course: Course, monkeypatch) -> None:
    keep_or_save(course, _record("ok", 3.0))
    before = (course.root / "grading" / ASSIGNMENT / "ada.json").read_bytes()
    real_access = grading.os.access
    monkeypatch.setattr(
        grading.os,
        "access",
        lambda path, mode: (
            False if Path(path) == course.gradebook_path else real_access(path, mode)
        ),
    )
    with pytest.raises(CourseError, match="gradebook.db is not writable, so grades could not"):
        grading.autograde(course, ASSIGNMENT, progress=False)
    assert (course.root / "grading" / ASSIGNMENT / "ada.json").read_bytes() == before


def test_a_full_disk_stops_before_any_record(course: Course, monkeypatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(grading.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 10**6))
    with pytest.raises(CourseError, match="MiB free on the disk .* free some space"):
        grading.autograde(course, ASSIGNMENT, progress=False)


def test_workers_default_to_the_usable_cores() -> None:
    assert 1 <= grading.usable_cores() <= (shutil.os.cpu_count() or 1)


def test_nbgrader_failures_are_one_sentence_and_a_log(tmp_path: Path) -> None:
    result = {
        "success": False,
        "log": "[INFO] starting\n",
        "error": 'Traceback (most recent call last):\n  File "x.py", line 3\n    boom()\n'
        "ValueError: the notebook is not valid",
    }
    with pytest.raises(CourseError) as caught:
        check(result, "collect 00_mini", tmp_path / "logs")
    message = str(caught.value)
    assert message.startswith("nbgrader collect 00_mini failed: ValueError: the notebook is not")
    assert "\n" not in message and "Traceback" not in message
    log = tmp_path / "logs" / "nbgrader-collect-00_mini.log"
    assert str(log) in message and "boom()" in log.read_text()


def test_global_options_go_anywhere(course: Course, capsys) -> None:
    after = [
        "grades",
        "no_such_assignment",
        "--course-dir",
        str(course.root),
        "--solutions",
        str(FIXTURES),
    ]
    assert cli.main(after) == 2
    assert "no_such_assignment" in capsys.readouterr().err
    before = ["--course-dir", str(course.root), "--solutions", str(FIXTURES), "grades", ASSIGNMENT]
    assert cli.main(before) == 0  # the options before the command are not reset by it


def test_collecting_from_a_missing_exchange_is_one_sentence(
    course: Course, capsys, tmp_path: Path
) -> None:
    argv = [
        "collect",
        ASSIGNMENT,
        "--course-dir",
        str(course.root),
        "--solutions",
        str(FIXTURES),
        "--exchange",
        str(tmp_path / "nowhere"),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "no submissions to collect" in err and "course release" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_autograde_exits_1_when_a_submission_could_not_be_graded(
    course: Course, capsys, monkeypatch
) -> None:
    failed = _record("error", failed=True)
    failed.reason = "the grader failed on this submission: OSError('disk')"
    monkeypatch.setattr(grading, "autograde", lambda *a, **k: [failed, _record("ok", 3.0)])
    argv = ["autograde", ASSIGNMENT, "--course-dir", str(course.root), "--solutions", str(FIXTURES)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "ada: error: the grader failed" in captured.out
    assert "1 submission(s) could not be graded" in captured.err and "again" in captured.err


def test_the_exchange_is_the_one_students_nbgrader_uses(tmp_path: Path, monkeypatch) -> None:
    import jupyter_core.paths

    from course_lib.instructor import course as course_module

    system, user = tmp_path / "etc-jupyter", tmp_path / "home-jupyter"
    for folder in (system, user):
        folder.mkdir()
    monkeypatch.setattr(jupyter_core.paths, "jupyter_config_path", lambda: [str(user), str(system)])
    course = Course(tmp_path / "course", solutions=FIXTURES)
    assert course.exchange_root == course_module.NBGRADER_EXCHANGE  # nbgrader's own default
    (system / "nbgrader_config.py").write_text(f"c.Exchange.root = '{tmp_path / 'hub'}'\n")
    assert course.exchange_root == tmp_path / "hub"  # what a hub sets for every student
    (user / "nbgrader_config.py").write_text(f"c.Exchange.root = '{tmp_path / 'mine'}'\n")
    assert course.exchange_root == tmp_path / "mine"  # the more specific folder wins
    course.setup([ASSIGNMENT])
    assert Course(course.root).exchange_root == tmp_path / "mine"  # kept in the class config
    explicit = Course(course.root, exchange=tmp_path / "given")
    assert explicit.exchange_root == tmp_path / "given"


def test_an_exchange_no_one_can_write_is_one_sentence(
    course: Course, capsys, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the exchange's parent folder should be")
    assert (
        cli.main(
            [
                "--course-dir",
                str(course.root),
                "release",
                ASSIGNMENT,
                "--exchange",
                str(blocked / "exchange"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "cannot write to the exchange" in err and "chmod 1777" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap missing: make system-deps")
def test_the_time_limit_comes_from_the_solutions_run_time(course: Course, capsys) -> None:
    from course_lib.instructor import demo

    demo.make_submissions(course, ASSIGNMENT, {"ada": "correct"})
    assert cli.main(["--course-dir", str(course.root), "autograde", ASSIGNMENT]) == 0
    out = capsys.readouterr().out
    measured = grading.measured_solution(course, ASSIGNMENT)
    assert measured["score"] == measured["max_score"] > 0 and measured["seconds"] > 0
    limit, why = grading.solution_time_limit(course, ASSIGNMENT)
    assert limit == max(
        grading.MIN_TIME_LIMIT_S, -(-grading.SOLUTION_FACTOR * measured["seconds"] // 1)
    )
    assert why in out and f"{measured['seconds']:.1f} s" in why
    # a broken solution (its last answer wrong) stops grading before any student is graded
    source = course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    source.write_text(source.read_text().replace("return x * x", "return x + x"))
    record = (course.root / "grading" / ASSIGNMENT / "ada.json").read_bytes()
    assert cli.main(["--course-dir", str(course.root), "autograde", ASSIGNMENT, "--force"]) == 2
    err = capsys.readouterr().err
    assert "the instructor's solution of 00_mini scores" in err and "would be wrong" in err
    assert (course.root / "grading" / ASSIGNMENT / "ada.json").read_bytes() == record


@pytest.mark.parametrize("project_config", ["the project's", "none (a non-editable install)"])
def test_only_the_notebook_of_a_solution_reaches_students(
    tmp_path: Path, monkeypatch, project_config: str
) -> None:
    from course_lib.instructor import course as course_module

    solutions = tmp_path / "solutions"
    shutil.copytree(FIXTURES / ASSIGNMENT, solutions / ASSIGNMENT)
    for extra in ("mistakes.py", "student_mistakes.py", "helper.py", "notes.md", "key.txt"):
        (solutions / ASSIGNMENT / extra).write_text("# holds solution code\n")
    (solutions / ASSIGNMENT / "drafts").mkdir()
    (solutions / ASSIGNMENT / "drafts" / "draft.ipynb").write_text("{}")
    if project_config.startswith("none"):
        monkeypatch.setattr(course_module, "PROJECT_ROOT", tmp_path / "site-packages")
    course = Course(tmp_path / "course", solutions=solutions)
    course.setup([ASSIGNMENT])
    for folder in ("source", "release"):
        shipped = sorted(
            p.relative_to(course.root / folder / ASSIGNMENT).as_posix()
            for p in (course.root / folder / ASSIGNMENT).rglob("*")
        )
        assert shipped == [f"{ASSIGNMENT}.ipynb"], (folder, shipped)


def test_the_class_config_is_read_by_every_command(course: Course, tmp_path: Path, capsys) -> None:
    config = course.root / "nbgrader_config.py"
    assert course.course_id == "unrolled" and course.cell_timeout_s == 60  # from the project's
    config.write_text(
        config.read_text() + "c.CourseDirectory.course_id = 'rnn-2026'\n"
        "c.Execute.timeout = 90\n"
        f"c.Exchange.root = '{tmp_path / 'hub-exchange'}'\n"
    )
    assert course.course_id == "rnn-2026" and course.cell_timeout_s == 90
    assert cli.main(["--course-dir", str(course.root), "release", ASSIGNMENT]) == 0
    assert (tmp_path / "hub-exchange" / "rnn-2026" / "outbound" / ASSIGNMENT).is_dir()
    assert course.config().CourseDirectory.root == str(course.root)  # folders stay the class's
