"""The instructor's `course` command: LMS import, structure checks, sandbox isolation, statuses,
resumability, feedback and grades. The slow tests grade real submissions in bubblewrap."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from course_lib.instructor import cli, demo, sandbox
from course_lib.instructor.autograde import autograde, submission_hash
from course_lib.instructor.course import Course
from course_lib.instructor.feedback import external_fetches, local_mathjax
from course_lib.instructor.formgrader import mathjax_macro
from course_lib.instructor.grades import write_grades
from course_lib.instructor.lms import identify, import_submissions, normalise_id
from course_lib.instructor.normalise import normalise
from course_lib.instructor.sandbox import Limits, SandboxUnavailable, bwrap_command

FIXTURES = Path(__file__).parent / "instructor_fixtures"
ASSIGNMENT = "00_mini"
HAS_BWRAP = shutil.which("bwrap") is not None
needs_bwrap = pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap missing: make system-deps")


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    course = Course(tmp_path_factory.mktemp("class") / "course", solutions=FIXTURES)
    course.setup([ASSIGNMENT])
    return course


def released(course: Course) -> dict:
    return json.loads((course.root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())


# ------------------------------------------------------------------------------------------
# Fast: file-name mapping, tamper detection, output handling, offline maths
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("smithjohn_4242_9001_01_sequence_shapes.ipynb", ("4242", "01_sequence_shapes", "canvas")),
        (
            "smithjohn_LATE_4242_9002_01_sequence_shapes-1.ipynb",
            ("4242", "01_sequence_shapes", "canvas"),
        ),
        (
            "Jane Doe_77_assignsubmission_file_/02_rnn_forward (1).ipynb",
            ("77", "02_rnn_forward", "moodle"),
        ),
        (
            "Participant 123456_assignsubmission_file_/02_rnn_forward.ipynb",
            ("123456", "02_rnn_forward", "moodle"),
        ),
        ("jdoe-01_sequence_shapes.ipynb", ("jdoe", "01_sequence_shapes", "file name")),
        ("王小明/02_rnn_forward.ipynb", ("王小明", "02_rnn_forward", "file name")),
        ("02_rnn_forward.ipynb", None),  # whose?
        ("__MACOSX/jdoe_1_2_01_sequence_shapes.ipynb", None),
        ("jdoe_1_2_notes.txt", None),
    ],
)
def test_lms_file_names_map_to_students(name: str, expected: tuple | None) -> None:
    found = identify(name, ["01_sequence_shapes", "02_rnn_forward"])
    assert (found and (found.student, found.notebook, found.source)) == expected


def test_a_single_notebook_assignment_accepts_renamed_files() -> None:
    renamed = identify("smithjohn_4242_9001_Untitled (3).ipynb", ["01_sequence_shapes"])
    assert (renamed.student, renamed.notebook, renamed.exact) == (
        "4242",
        "01_sequence_shapes",
        False,
    )
    assert identify("smithjohn_4242_9001_Untitled.ipynb", ["a", "b"]) is None
    assert normalise_id(" Jane Doe ") == "jane-doe"
    assert normalise_id("Björn Ås") != normalise_id("Bjørn Ås")


def _zip(path: Path, members: dict[str, tuple[str, tuple]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, (text, when) in members.items():
            archive.writestr(zipfile.ZipInfo(name, when), text)
    return path


def test_canvas_namesakes_and_resubmissions(tmp_path: Path) -> None:
    day = lambda d: (2026, 1, d, 0, 0, 0)  # noqa: E731
    export = _zip(
        tmp_path / "canvas.zip",
        {
            "smithjohn_4242_9001_01_x.ipynb": ("first", day(1)),
            "smithjohn_LATE_4242_9007_01_x-1.ipynb": ("resubmitted", day(2)),
            "smithjohn_4243_9002_01_x.ipynb": ("the other John Smith", day(1)),
            "smithjohn_4243_9009_scratch.ipynb": ("a newer scratch file", day(3)),
            "01_x.ipynb": ("nobody's", day(1)),
            "../../evil_1_2_01_x.ipynb": ("no zip slip", day(1)),
        },
    )
    result = import_submissions(
        export, tmp_path / "submitted", "01_x", ["01_x"], {"4243": "s-4243"}
    )
    assert sorted(result.students) == ["4242", "s-4243"]
    assert (tmp_path / "submitted/4242/01_x/01_x.ipynb").read_text() == "resubmitted"
    assert (tmp_path / "submitted/s-4243/01_x/01_x.ipynb").read_text() == "the other John Smith"
    assert (tmp_path / "submitted/4242/01_x/timestamp.txt").read_text().startswith("2026-01-02")
    assert result.names == {"4242": "smithjohn", "s-4243": "smithjohn"}
    skipped = "\n".join(result.skipped)
    assert "smithjohn_4242_9001_01_x.ipynb: an earlier submission" in skipped
    assert "smithjohn_4243_9009_scratch.ipynb: a renamed file" in skipped
    assert result.unattributed == 1 and "01_x.ipynb: no student" in skipped
    assert "../../evil_1_2_01_x.ipynb: not a notebook, or a hidden" in skipped
    assert not list(tmp_path.parent.glob("evil*"))


def test_moodle_namesakes_blind_marking_and_any_script(tmp_path: Path) -> None:
    when = (2026, 1, 1, 0, 0, 0)
    export = _zip(
        tmp_path / "moodle.zip",
        {
            "Jane Doe_77_assignsubmission_file_/01_x (1).ipynb": ("jane 77", when),
            "Jane Doe_78_assignsubmission_file_/01_x (1).ipynb": ("jane 78", when),
            "Björn Ås_5_assignsubmission_file_/01_x.ipynb": ("björn", when),
            "Bjørn Ås_6_assignsubmission_file_/01_x.ipynb": ("bjørn", when),
            "王小明_9_assignsubmission_file_/01_x.ipynb": ("xiaoming", when),
            **{
                f"Participant {n}_assignsubmission_file_/01_x.ipynb": (f"p{n}", when)
                for n in (101, 102, 103, 104)
            },
        },
    )
    result = import_submissions(export, tmp_path / "submitted", "01_x", ["01_x"])
    assert sorted(result.students) == sorted(
        ["77", "78", "5", "6", "9", "101", "102", "103", "104"]
    )
    assert result.names["9"] == "王小明" and result.names["6"] == "Bjørn Ås"
    assert (tmp_path / "submitted/78/01_x/01_x.ipynb").read_text() == "jane 78"
    assert result.skipped == [] and result.unattributed == 0


def test_collect_exits_1_when_a_notebook_has_no_student(tmp_path: Path, capsys) -> None:
    course = Course(tmp_path / "course", solutions=FIXTURES)  # its own: submissions are added
    course.setup([ASSIGNMENT])
    export = tmp_path / "export"
    (export / "smithjohn_4242_9001_x").mkdir(parents=True)
    (export / "smithjohn_4242_9001_00_mini.ipynb").write_text("{}")
    (export / f"{ASSIGNMENT}.ipynb").write_text("{}")
    argv = [
        "--course-dir",
        str(course.root),
        "--solutions",
        str(FIXTURES),
        "collect",
        ASSIGNMENT,
        "--from",
        str(export),
    ]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "imported 1 student(s)" in captured.out and "00_mini.ipynb: no student" in captured.out
    assert "1 notebook(s) could not be attributed" in captured.err
    names = (course.root / "lms" / f"{ASSIGNMENT}.csv").read_text().splitlines()
    assert names == [
        "student_id,name,notebooks,source,lms_id",
        "4242,smithjohn,00_mini,canvas,4242",
    ]


def _structure(nb: dict, release: dict) -> tuple[str, list[str]]:
    result = normalise(json.dumps(nb).encode(), release, ASSIGNMENT)
    return result.status, result.reasons


def test_structure_alone_decides_tampered_and_invalid(course: Course) -> None:
    release = released(course)
    assert _structure(release, release) == ("ok", [])
    tests = [
        i for i, c in enumerate(release["cells"]) if c["metadata"].get("nbgrader", {}).get("grade")
    ]
    nb = copy.deepcopy(release)
    nb["cells"][tests[1]]["source"] = "pass"
    nb["cells"].append(copy.deepcopy(nb["cells"][tests[2]]))
    del nb["cells"][tests[0]]
    assert _structure(nb, release) == (
        "tampered",
        ["cell 'test_norm' edited", "cell 'test_count' duplicated", "cell 'test_square' deleted"],
    )
    nb = copy.deepcopy(release)
    nb["cells"][tests[0]]["metadata"]["nbgrader"]["points"] = 100
    assert _structure(nb, release)[1] == ["cell 'test_square': its grading metadata was changed"]
    nb = copy.deepcopy(release)
    nb["cells"][tests[0]], nb["cells"][tests[1]] = nb["cells"][tests[1]], nb["cells"][tests[0]]
    assert _structure(nb, release)[1] == ["protected cells were moved out of their order"]
    bonus = copy.deepcopy(release)
    bonus["cells"].append(
        {
            "cell_type": "code",
            "source": "1",
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "bonus",
                    "points": 10,
                    "solution": False,
                    "locked": True,
                }
            },
            "outputs": [],
            "execution_count": None,
        }
    )
    assert _structure(bonus, release)[1] == ["a cell 'bonus' with grading metadata was added"]


def test_honest_accidents_are_not_tampering(course: Course) -> None:
    """A duplicated answer cell (both run, in order), cells without ids, sources stored as lists
    of lines and cells of the student's own are all "ok", and what nbgrader sees is valid."""
    import nbformat

    release = released(course)
    nb = copy.deepcopy(release)
    answer = next(i for i, c in enumerate(nb["cells"]) if c["metadata"]["nbgrader"]["solution"])
    twin = copy.deepcopy(nb["cells"][answer])
    twin["source"] = "def square(x):\n    return x ** 2\n"
    nb["cells"].insert(answer + 1, twin)
    nb["cells"].insert(
        0,
        {
            "cell_type": "code",
            "source": ["x = 1\n", "y = 2\n"],
            "metadata": {},
            "outputs": [],
            "execution_count": 3,
        },
    )
    for cell in nb["cells"]:
        cell.pop("id", None)
    result = normalise(json.dumps(nb).encode(), release, ASSIGNMENT)
    assert result.status == "ok" and "'square' appears more than once" in result.notes[0]
    clean = nbformat.from_dict(result.notebook)
    nbformat.validate(clean)
    squares = [c for c in clean.cells if c.source.startswith("def square")]
    assert len(squares) == 2 and squares[1].source.endswith("x ** 2\n")  # the later one wins
    assert "nbgrader" not in squares[1].metadata  # only one cell carries the grade id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"cells": [ not json', "not JSON"),
        (b"[1, 2]", "no list of cells"),
        (b'{"cells": [], "nbformat": 3}', "nbformat 4"),
        (
            json.dumps(
                {
                    "cells": [
                        {
                            "cell_type": "code",
                            "source": "1",
                            "metadata": {"nbgrader": {"grade_id": "other_part", "solution": True}},
                        }
                    ],
                    "nbformat": 4,
                }
            ).encode(),
            "another assignment's notebook",
        ),
    ],
)
def test_what_is_not_this_assignments_notebook_is_invalid(
    course: Course, raw: bytes, reason: str
) -> None:
    result = normalise(raw, released(course), ASSIGNMENT)
    assert result.status == "invalid" and reason in result.reasons[0] and result.notebook is None


def test_the_offline_mathjax_macro_fetches_nothing() -> None:
    html = (
        '<html><head><script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/'
        'latest.js?config=TeX"> </script>\n<script type="text/x-mathjax-config">init()'
        '</script></head><body>$x$ <a href="https://www.mathjax.org">a link</a></body></html>'
    )
    assert len(external_fetches(html)) == 1  # the script, not the link
    assert external_fetches('<style>@import "https://fonts/x.css";</style>')
    assert external_fetches('<link rel="stylesheet" href="//cdn.example/x.css">')
    assert external_fetches('<div style="background: url(https://x.example/a.png)">')
    macro = mathjax_macro("var MathJaxCode = '</script>'; // {{ not a template }}")
    assert external_fetches(macro) == []
    assert "var MathJaxCode = '<\\/script>'" in macro and "{% raw %}" in macro
    assert "MathJax.Hub" in macro and "MathJax.Hub" in mathjax_macro(None)  # formgrader's call


def test_cli_reports_bad_input_as_one_sentence(course: Course, capsys) -> None:
    root = ["--course-dir", str(course.root), "--solutions", str(FIXTURES)]
    assert cli.main([*root, "autograde", "no_such_assignment"]) == 2
    assert "unknown assignment 'no_such_assignment'" in capsys.readouterr().err
    assert cli.main([*root, "collect", ASSIGNMENT, "--from", "/no/such/export.zip"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad_map = course.root.parent / "map.csv"
    bad_map.write_text("name,id\njdoe,1\n")
    assert (
        cli.main([*root, "collect", ASSIGNMENT, "--from", str(FIXTURES), "--map", str(bad_map)])
        == 2
    )
    assert "key,student_id" in capsys.readouterr().err
    assert cli.main([*root, "setup", "no_such_assignment"]) == 2
    assert "no assignment 'no_such_assignment'" in capsys.readouterr().err


@needs_bwrap
@pytest.mark.slow
def test_the_exchange_round_trip_with_feedback(tmp_path: Path) -> None:
    """release → the student fetches and submits → collect → autograde → feedback →
    release-feedback → the student fetches their feedback, all through nbgrader's exchange."""
    import getpass

    course = Course(tmp_path / "course", solutions=FIXTURES)
    exchange = tmp_path / "exchange"
    root = ["--course-dir", str(course.root), "--solutions", str(FIXTURES)]
    assert cli.main(["setup", ASSIGNMENT, *root, f"--exchange={exchange}"]) == 0
    assert oct(exchange.stat().st_mode & 0o777) == oct(0o777)  # made as nbgrader makes it
    assert cli.main([*root, "release", ASSIGNMENT]) == 0  # the exchange from the class config
    student = tmp_path / "student"
    student.mkdir()

    def nbgrader(*step: str) -> None:  # what a student does in JupyterHub
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                *step,
                ASSIGNMENT,
                f"--course={course.course_id}",
                f"--Exchange.root={exchange}",
            ],
            cwd=student,
            check=True,
            capture_output=True,
        )

    nbgrader("fetch_assignment")
    nbgrader("submit")
    root.append(f"--exchange={exchange}")
    assert cli.main([*root, "collect", ASSIGNMENT]) == 0
    me = getpass.getuser()  # nbgrader's student id for a local submission
    submitted = course.root / "submitted" / me / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert submitted.read_text() == (student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert cli.main([*root, "autograde", ASSIGNMENT, "--workers", "1"]) == 0
    assert cli.main([*root, "feedback", ASSIGNMENT]) == 0
    assert cli.main([*root, "release-feedback", ASSIGNMENT]) == 0
    nbgrader("fetch_feedback")
    fetched = list((student / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(fetched) == 1
    assert (
        fetched[0].read_text()
        == next((course.root / "feedback" / me / ASSIGNMENT).glob("*.html")).read_text()
    )


def test_a_missing_bubblewrap_is_one_clear_sentence(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        bwrap_command(tmp_path, tmp_path, tmp_path, ["python"])


def test_the_sandbox_is_an_allowlist(tmp_path: Path) -> None:
    """Nothing of the host is mounted but the system's libraries, the Python environment and
    the student package (all read-only); the job directory is the only writable mount."""
    if not HAS_BWRAP:
        pytest.skip("bubblewrap missing: make system-deps")
    cmd = bwrap_command(tmp_path / "job", tmp_path / "pkg", tmp_path / "etc", ["python"])
    binds = [
        (cmd[i], cmd[i + 1], cmd[i + 2])
        for i, arg in enumerate(cmd)
        if arg in ("--bind", "--ro-bind", "--dev-bind")
    ]
    assert [b for b in binds if b[0] == "--bind"] == [
        ("--bind", str(tmp_path / "job"), "/home/student")
    ]
    sources = {source for _, source, _ in binds}
    assert "/" not in sources and "/etc" not in sources and "/home" not in sources
    assert not any(s.startswith(("/usr/local", "/srv", "/var", "/run")) for s in sources)
    assert {"--unshare-pid", "--unshare-net", "--unshare-ipc", "--cap-drop"} <= set(cmd)
    assert cmd[cmd.index("--cap-drop") + 1] == "ALL"


# ------------------------------------------------------------------------------------------
# Slow: real sandboxes
# ------------------------------------------------------------------------------------------


def _kill_when(process: subprocess.Popen, folder: Path, records: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(folder.glob("*.json"))) >= records:
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@needs_bwrap
@pytest.mark.slow
def test_synthetic_class_every_status_and_score_even_after_a_crash(course: Course) -> None:
    kinds = {f"s{i:02d}-{kind}": kind for i, kind in enumerate(demo.KINDS)}
    expected = demo.make_submissions(course, ASSIGNMENT, kinds)
    submitted = course.root / "submitted"
    before = {s: submission_hash(submitted / s / ASSIGNMENT) for s in kinds}

    # A first run killed hard (like a power cut) after a few students...
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_lib.instructor.cli",
            "--course-dir",
            str(course.root),
            "--solutions",
            str(FIXTURES),
            "autograde",
            ASSIGNMENT,
            "--time-limit",
            "8",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = course.root / "grading" / ASSIGNMENT
    _kill_when(first, records, 3, timeout_s=180)
    done_before = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 0 < len(done_before) < len(kinds)

    # ...and a rerun finishes the class without regrading what was recorded.
    result = autograde(
        course, ASSIGNMENT, limits=Limits(wall_s=8), progress=False, students=list(kinds)
    )
    assert {
        p.name: p.stat().st_mtime_ns for p in records.glob("*.json") if p.name in done_before
    } == done_before
    got = {r.student: r for r in result}
    assert sorted(got) == sorted(kinds)
    for student, want in expected.items():
        assert (got[student].status, got[student].score) == (want.status, want.score), (
            student,
            got[student],
        )
    by_kind = {kind: got[student] for student, kind in kinds.items()}
    assert by_kind["hanging"].reason.endswith("time limit of 8 s")
    assert "SIGSEGV" in by_kind["segfault"].reason
    assert "exited with status 3" in by_kind["crashing"].reason
    assert "'test_square' deleted" in by_kind["deleted-test"].reason
    assert by_kind["deleted-test"].would_be == 6  # graded in full, its points withheld
    assert {s: submission_hash(submitted / s / ASSIGNMENT) for s in kinds} == before
    flooder = next(s for s, kind in kinds.items() if kind == "flooding")
    graded = course.root / "autograded" / flooder / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "[output truncated" in graded.read_text() and graded.stat().st_size < 2_000_000

    # The grades CSV has every student with a status and a score per part.
    with open(write_grades(course, ASSIGNMENT)) as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    parts = ("test_square", "test_norm", "test_count")
    for student, want in expected.items():
        assert rows[student]["status"] == want.status
        assert sum(float(rows[student][p]) for p in parts) == want.score
    per_part = {
        kind: [rows[student][f"{p} status"] for p in parts] for student, kind in kinds.items()
    }
    assert per_part["correct"] == ["passed"] * 3
    assert per_part["blank"] == ["failed"] * 3
    assert per_part["hanging"] == ["passed", "passed", "not run"]  # the last answer hangs
    assert per_part["deleted-test"] == ["tampered"] * 3
    assert rows[next(s for s, k in kinds.items() if k == "deleted-test")]["would_be_score"] == "6"
    assert per_part["missing"] == ["missing"] * 3
    assert per_part["invalid"] == ["invalid"] * 3
    assert all(r.max_score == 6 for r in result)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gradebook:  # feedback reads this
        for record in result:
            if record.status not in ("missing", "invalid"):
                stored = gradebook.find_submission(ASSIGNMENT, record.student).score
                assert stored == record.score, (record.student, stored, record.score)


@pytest.fixture(scope="module")
def feedback_pages(course: Course) -> dict[str, Path]:
    """Feedback HTML of a correct and a blank submission, through `course feedback`."""
    if not HAS_BWRAP:
        pytest.skip("bubblewrap missing: make system-deps")
    if local_mathjax() is None:
        pytest.skip("no local MathJax 3 to inline: make mathjax")
    kinds = {"fb-correct": "correct", "fb-blank": "blank"}
    demo.make_submissions(course, ASSIGNMENT, kinds)
    autograde(
        course,
        ASSIGNMENT,
        limits=Limits(wall_s=20),
        students=list(kinds),
        force=True,
        progress=False,
    )
    root = ["--course-dir", str(course.root), "--solutions", str(FIXTURES)]
    assert cli.main([*root, "feedback", ASSIGNMENT]) == 0
    return {
        kind: course.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        for student, kind in kinds.items()
    }


@pytest.mark.slow
def test_feedback_hides_hidden_tests_and_loads_nothing_from_outside(
    feedback_pages: dict[str, Path],
) -> None:
    for page in feedback_pages.values():
        html = page.read_text()
        assert "HIDDEN TESTS" not in html and "negative numbers" not in html
        assert 'count_params</span><span class="p">(</span><span class="mi">1' not in html
        assert external_fetches(html) == []
        assert "window.MathJax" in html
    assert "NotImplementedError" in feedback_pages["blank"].read_text()  # failures explained


@pytest.mark.slow
def test_feedback_maths_render_offline_in_a_browser(feedback_pages: dict[str, Path]) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium missing: make system-deps")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(feedback_pages["blank"].as_uri())
        page.wait_for_selector("mjx-container svg", timeout=30_000)  # the intro's $h = ...$
        browser.close()
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []


def test_two_runs_at_once_are_refused(course: Course) -> None:
    from course_lib.instructor.autograde import one_run_at_a_time
    from course_lib.instructor.course import CourseError

    with one_run_at_a_time(course), pytest.raises(CourseError, match="another `course autogr"):
        autograde(course, ASSIGNMENT, progress=False)


@needs_bwrap
@pytest.mark.slow
def test_a_missing_sandbox_stops_before_any_record_is_touched(course: Course, monkeypatch) -> None:
    demo.make_submissions(course, ASSIGNMENT, {"no-sandbox": "correct"})
    records = course.root / "grading" / ASSIGNMENT
    before = {p.name: p.read_bytes() for p in records.glob("*.json")}
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # bwrap is not on it
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        autograde(course, ASSIGNMENT, force=True, progress=False, limits=Limits(wall_s=20))
    assert {p.name: p.read_bytes() for p in records.glob("*.json")} == before


def test_the_python_environment_is_mounted_wherever_it_lives(monkeypatch, tmp_path: Path) -> None:
    """A Python under /tmp (a checkout there) is bound after the sandbox's private /tmp, not
    hidden by it; one under /usr/local is bound though /usr/lib's parent /usr was created."""
    if not HAS_BWRAP:
        pytest.skip("bubblewrap missing: make system-deps")
    for prefix in ("/tmp/unrolled-ci/.venv", "/usr/local"):
        monkeypatch.setattr(sys, "prefix", prefix)
        monkeypatch.setattr(sandbox, "_real_dirs", lambda paths, p=prefix: [p])
        cmd = bwrap_command(tmp_path / "job", tmp_path / "pkg", tmp_path / "etc", ["python"])
        binds = [i for i, arg in enumerate(cmd) if arg == "--ro-bind" and cmd[i + 2] == prefix]
        assert len(binds) == 1, f"{prefix} is not mounted in the sandbox"
        tmp_mount = next(
            i for i, arg in enumerate(cmd) if arg == "/tmp" and cmd[i - 1] == "--tmpfs"
        )
        assert tmp_mount < binds[0]  # the private /tmp first, the environment on top of it
