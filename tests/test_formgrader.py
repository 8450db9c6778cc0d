"""formgrader, the instructor's web interface, on a class graded by `course autograde`.

One class directory set up by `course setup`, graded by `course autograde`; then `course
formgrader` (JupyterLab with nbgrader's formgrader) in a real Chromium: it lists the class, a
manual grade entered in the grading view shows in `course grades`, its Autograde button goes
through the sandboxed grader, nothing is fetched from outside, and plain `nbgrader autograde`
refuses to run students' code in that directory.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_lib.instructor import cli, demo
from course_lib.instructor.course import Course
from course_lib.instructor.feedback import local_mathjax

FIXTURES = Path(__file__).parent / "instructor_fixtures"
# jupyter finds `jupyter-nbgrader` and `jupyter-lab` on PATH: this environment's first.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
ASSIGNMENT = "00_mini"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap missing: make system-deps"
    ),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """alice solved everything, bob all but the last part; both graded by `course autograde`."""
    base = tmp_path_factory.mktemp("formgrader")
    course = Course(base / "course", solutions=FIXTURES, exchange=base / "exchange")
    root = ["--course-dir", str(course.root), "--solutions", str(FIXTURES)]
    assert cli.main([*root, "--exchange", str(base / "exchange"), "setup", ASSIGNMENT]) == 0
    demo.make_submissions(course, ASSIGNMENT, {"alice": "correct", "bob": "partial"})
    assert cli.main([*root, "autograde", ASSIGNMENT, "--workers", "1"]) == 0
    return course


def grades(course: Course) -> dict[str, dict[str, str]]:
    assert cli.main(["--course-dir", str(course.root), "grades", ASSIGNMENT]) == 0
    with open(course.root / "grades" / f"{ASSIGNMENT}.csv", newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_the_class_directory_has_its_nbgrader_config(graded: Course) -> None:
    config = (graded.root / "nbgrader_config.py").read_text()
    assert f"c.CourseDirectory.root = {str(graded.root)!r}" in config
    assert f"c.Exchange.root = {str(graded.exchange_root)!r}" in config
    # later commands read the exchange from it, without --exchange
    assert Course(graded.root).exchange_root == graded.exchange_root


def _state(course: Course) -> dict[str, bytes]:
    """Every file of the class directory nbgrader could change, with its content."""
    return {
        p.relative_to(course.root).as_posix(): p.read_bytes()
        for p in sorted(course.root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "nbgrader", "autograde"],
        [str(Path(sys.executable).with_name("nbgrader")), "autograde"],
    ],
)
def test_plain_nbgrader_autograde_refuses_and_changes_nothing(
    graded: Course, command: list[str]
) -> None:
    before = _state(graded)
    done = subprocess.run(
        [*command, ASSIGNMENT, "--student", "bob", "--force"],
        cwd=graded.root,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "course autograde ASSIGNMENT" in done.stdout + done.stderr
    assert _state(graded) == before  # the gradebook and bob's autograded folder untouched


@pytest.fixture(scope="module")
def server(graded: Course, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`course formgrader` on a free port; yields its base URL (token in TOKEN)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    env = {**ENV, "JUPYTER_TOKEN": TOKEN, "JUPYTER_RUNTIME_DIR": str(runtime)}
    log = open(runtime / "server.log", "w")  # noqa: SIM115 -- closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_lib.instructor.cli",
            "--course-dir",
            str(graded.root),
            "formgrader",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"formgrader did not start: {(runtime / 'server.log').read_text()}")
                time.sleep(0.5)
        SERVER_LOG[:] = [runtime / "server.log"]
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


TOKEN = secrets.token_hex(16)
SERVER_LOG: list[Path] = []


def api(url: str, path: str, method: str = "GET") -> object:
    request = urllib.request.Request(
        f"{url}{path}", method=method, headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def test_formgrader_in_a_browser(graded: Course, server: str) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium missing: make system-deps")
    sync_api = pytest.importorskip("playwright.sync_api")
    assert grades(graded)["bob"]["score"] == "5"
    notebooks = api(server, f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}")
    bob = next(n["id"] for n in notebooks if n["student"] == "bob")
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{server}/login?next=%2Fapi%2Fstatus&token={TOKEN}")  # the login cookie
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        # formgrader lists the class as `course autograde` graded it
        page.goto(f"{server}/formgrader/manage_submissions/{ASSIGNMENT}")
        page.wait_for_selector("text=bob")
        rows = page.inner_text("table")
        assert "6 / 6" in rows and "5 / 6" in rows
        # a manual grade in the grading view: bob's first test, 2 points given 0.5
        page.goto(f"{server}/formgrader/submissions/{bob}")
        score = page.locator("input.score").first
        # formgrader shows the automatic score as the box's placeholder, once loaded
        page.wait_for_function("document.querySelector('input.score').placeholder !== ''")
        assert score.get_attribute("placeholder") == "2" and score.input_value() == ""
        with page.expect_response(
            lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT"
        ):
            score.fill("0.5")
            score.press("Tab")
        assert page.evaluate("typeof MathJax.startup") == "object"  # maths rendered locally
        browser.close()
    assert [u for u in requests if not u.startswith(server)] == []
    assert errors == []
    # `course setup` made the exchange, so nbgrader's assignment and course lists work
    for listing in (f"/assignments?course_id={graded.course_id}", "/courses"):
        assert api(server, listing)["success"], listing
    assert "Unwritable directory" not in SERVER_LOG[0].read_text()
    row = grades(graded)["bob"]
    assert row["score"] == "3.5" and row["test_square"] == "0.5"
    assert row["test_square status"] == "manual"
    if local_mathjax() is not None:  # feedback needs it; its absence has its own test
        assert cli.main(["--course-dir", str(graded.root), "feedback", ASSIGNMENT]) == 0
        page = graded.root / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html"
        html = page.read_text()
        assert "(Score: 3.5 / 6.0)" in html and "Score: 0.5 / 2.0" in html

    # formgrader's Autograde button: the sandboxed grader; an unchanged submission keeps the
    # manual grade, a changed one gets its new automatic grades
    record = graded.root / "grading" / ASSIGNMENT / "bob.json"
    stamp = record.stat().st_mtime_ns
    result = api(server, f"/formgrader/api/submission/{ASSIGNMENT}/bob/autograde", "POST")
    assert result["success"], result
    assert record.stat().st_mtime_ns != stamp  # graded again, by `course autograde`
    assert grades(graded)["bob"]["score"] == "3.5"
    demo.make_submissions(graded, ASSIGNMENT, {"bob": "correct"})  # a resubmission
    result = api(server, f"/formgrader/api/submission/{ASSIGNMENT}/bob/autograde", "POST")
    assert result["success"], result
    row = grades(graded)["bob"]
    assert row["score"] == "6" and row["test_square status"] == "passed"
