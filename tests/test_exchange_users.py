"""The exchange round trip with real Linux accounts: two students and the instructor.

The instructor (root here, as on a course server) sets the class up and releases it to the
exchange; each student, as their own Linux user with their own home, fetches and submits with
nbgrader; the instructor collects, autogrades, writes and releases feedback; each student fetches
their own feedback and finds the score they earned, and cannot read the other's submission.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_lib.instructor import accounts, cli, demo
from course_lib.instructor.course import Course
from course_lib.instructor.feedback import local_mathjax

FIXTURES = Path(__file__).parent / "instructor_fixtures"
ASSIGNMENT = "00_mini"
STUDENTS = {"unrolled-ana": "correct", "unrolled-ben": "partial"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating Linux student accounts needs root"),
    pytest.mark.skipif(
        not all(shutil.which(c) for c in ("useradd", "userdel", "runuser")),
        reason="useradd, userdel and runuser are needed for student accounts",
    ),
    pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap missing: make system-deps"
    ),
]


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder every account can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="unrolled-exchange-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def reachable_python() -> Iterator[None]:
    """Other accounts may reach this Python (see :func:`accounts.reachable_python`)."""
    with accounts.reachable_python():
        yield


@pytest.fixture
def homes(place: Path, reachable_python: None) -> Iterator[dict[str, Path]]:
    """The student accounts, each with a home under ``place``; removed afterwards."""
    wanted = {name: place / "home" / name for name in STUDENTS}
    with accounts.linux_accounts(wanted):
        yield wanted


def as_student(name: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    """nbgrader as the student ``name`` would run it in their own JupyterLab."""
    env = [
        "env",
        "-i",
        f"HOME={home}",
        f"USER={name}",
        f"LOGNAME={name}",
        f"PATH={Path(sys.executable).parent}:/usr/bin:/bin",
    ]
    return subprocess.run(
        ["runuser", "-u", name, "--", *env, sys.executable, "-m", "nbgrader", *args],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _source(course: Course) -> dict:
    return json.loads((course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())


def test_two_students_through_the_exchange(place: Path, homes: dict[str, Path]) -> None:
    exchange = place / "exchange"
    course = Course(place / "instructor" / "course", solutions=FIXTURES)
    (place / "instructor").mkdir(mode=0o700)
    root = ["--course-dir", str(course.root), "--solutions", str(FIXTURES)]
    assert cli.main([*root, "setup", ASSIGNMENT, "--exchange", str(exchange)]) == 0
    assert cli.main([*root, "release", ASSIGNMENT]) == 0  # the exchange from the class config
    # what each student's nbgrader is told (on a hub: /etc/jupyter/nbgrader_config.py)
    student_options = [f"--course={course.course_id}", f"--Exchange.root={exchange}"]
    for name, home in homes.items():
        fetched = as_student(name, home, "fetch_assignment", ASSIGNMENT, *student_options)
        assert fetched.returncode == 0, fetched.stderr
        notebook = home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        # the student works on it: all answers (ana), all but the last (ben)
        build = demo.KINDS[STUDENTS[name]][0]
        notebook.write_text(json.dumps(build(json.loads(notebook.read_text()), _source(course))))
        shutil.chown(notebook, name)
        submitted = as_student(name, home, "submit", ASSIGNMENT, *student_options)
        assert submitted.returncode == 0, submitted.stderr
    other = as_student("unrolled-ben", homes["unrolled-ben"], "list", "--inbound", *student_options)
    assert "unrolled-ana" not in other.stdout  # a student cannot list others' submissions
    inbound = exchange / course.course_id / "inbound"
    assert oct(inbound.stat().st_mode & 0o777) == oct(0o733)

    assert cli.main([*root, "collect", ASSIGNMENT]) == 0
    assert sorted(p.name for p in (course.root / "submitted").iterdir()) == sorted(STUDENTS)
    assert cli.main([*root, "autograde", ASSIGNMENT]) == 0
    if local_mathjax() is None:
        pytest.skip("no local MathJax 3 for feedback: make mathjax")
    assert cli.main([*root, "feedback", ASSIGNMENT]) == 0
    assert cli.main([*root, "release-feedback", ASSIGNMENT]) == 0
    points = demo.points(
        json.loads((course.root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    )
    for name, home in homes.items():
        got = as_student(name, home, "fetch_feedback", ASSIGNMENT, *student_options)
        assert got.returncode == 0, got.stderr
        pages = list((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        assert len(pages) == 1, pages
        score = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", pages[0].read_text())
        want = points.full if STUDENTS[name] == "correct" else points.full - points.tail
        assert score is not None and (float(score[1]), float(score[2])) == (want, points.full)
        assert pages[0].stat().st_uid == pwd.getpwnam(name).pw_uid  # theirs, in their home
