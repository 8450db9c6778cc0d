"""The course on JupyterHub: two students and an instructor, all through the hub.

The hub (deploy/jupyterhub, started by ``make hub``'s own launcher on loopback) logs each user
in with their Linux password and starts their JupyterLab as their own account. The instructor,
in a terminal of their server, sets up the class and releases an assignment; each student
fetches it, works on it (one solves it, one leaves the last part) and submits it with nbgrader's
assignment list in their server; the instructor collects, runs ``course autograde`` and
releases feedback; each student fetches their feedback and finds the score they earned. The
role split is checked on the way: a student's server has no formgrader and its JupyterLab
disables the instructor's plugins; the instructor's formgrader lists the graded class.
Afterwards no process of the hub, its proxy or any user is left.

With ``UNROLLED_HUB_SHOTS=<folder>``, the end also saves screenshots (deploy/jupyterhub/
screenshots.py): a student's lab with the assignment list, the instructor's formgrader.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from course_lib.instructor import demo
from course_lib.instructor.accounts import processes_of
from course_lib.instructor.course import COURSE_SETTINGS
from course_lib.instructor.feedback import local_mathjax

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "jupyterhub"
sys.path.insert(0, str(DEPLOY))
import demo_hub  # noqa: E402 (deploy/jupyterhub, put on the path above)
from hub_client import HubUser  # noqa: E402

FIXTURES = Path(__file__).parent / "instructor_fixtures"
ASSIGNMENT = "00_mini"
COURSE_ID = COURSE_SETTINGS["CourseDirectory.course_id"]
STUDENTS = {"unrolled-ana": "correct", "unrolled-ben": "partial"}
INSTRUCTOR = "unrolled-tutor"
INSTRUCTOR_PLUGINS = {
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the hub and its Linux accounts need root"),
    pytest.mark.skipif(
        not all(shutil.which(c) for c in ("useradd", "userdel", "chpasswd", "runuser")),
        reason="useradd, userdel, chpasswd and runuser are needed for the class's accounts",
    ),
    pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap missing: make system-deps"
    ),
    pytest.mark.skipif(
        not demo_hub.CHP.is_file(), reason="configurable-http-proxy missing: make hub-deps"
    ),
    pytest.mark.skipif(
        local_mathjax() is None, reason="no local MathJax 3 for feedback: make mathjax"
    ),
]


def page_config(html: str) -> dict:
    """The JupyterLab page's configuration (its ``jupyter-config-data`` script)."""
    found = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "no page config in the lab page"
    return json.loads(found[1])


def instructor_runs(tutor: HubUser, command: str) -> str:
    status, output = tutor.run(command)
    assert status == 0, f"`{command}` failed in the instructor's terminal:\n{output}"
    return output


def test_a_class_on_the_hub() -> None:
    with demo_hub.demo_hub(
        students=tuple(STUDENTS), instructors=(INSTRUCTOR,), port=demo_hub.free_port()
    ) as hub:
        users = {name: HubUser(hub.url, name, hub.passwords[name]) for name in hub.passwords}
        for user in users.values():
            user.login()
            user.start_server()
        tutor = users[INSTRUCTOR]
        with pytest.raises(Exception, match="refused"):
            HubUser(hub.url, INSTRUCTOR, "not-the-password").login()

        # the role split: formgrader and its lab plugins for the instructor alone
        for name in STUDENTS:
            assert users[name].request("GET", "formgrader").status_code == 404
            disabled = set(
                page_config(users[name].request("GET", "lab").text)["disabledExtensions"]
            )
            assert INSTRUCTOR_PLUGINS <= disabled, disabled
        assert tutor.request("GET", "formgrader").status_code == 200
        assert not INSTRUCTOR_PLUGINS & set(
            page_config(tutor.request("GET", "lab").text)["disabledExtensions"]
        )

        # the instructor's own copy of the solutions, in their home, as on a real course
        solutions = hub.home(INSTRUCTOR) / "solutions"
        shutil.copytree(FIXTURES / ASSIGNMENT, solutions / ASSIGNMENT)
        for path in [solutions, *solutions.rglob("*")]:
            shutil.chown(path, INSTRUCTOR, INSTRUCTOR)
        instructor_runs(tutor, f"course setup {ASSIGNMENT} --solutions ~/solutions")
        instructor_runs(tutor, f"course release {ASSIGNMENT}")

        source = json.loads((FIXTURES / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
        notebook = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        for name, kind in STUDENTS.items():
            student = users[name]
            listed = student.assignments("fetch", COURSE_ID, ASSIGNMENT)
            assert any(
                a["assignment_id"] == ASSIGNMENT and a["status"] == "fetched" for a in listed
            )
            work = demo.KINDS[kind][0](student.read(notebook)["content"], source)
            student.write_notebook(notebook, work)
            student.assignments("submit", COURSE_ID, ASSIGNMENT)
        inbound = hub.exchange / COURSE_ID / "inbound"
        assert sorted(p.name.split("+")[0] for p in inbound.iterdir()) == sorted(STUDENTS)

        graded = instructor_runs(
            tutor,
            f"course collect {ASSIGNMENT} && course autograde {ASSIGNMENT} && "
            f"course feedback {ASSIGNMENT} && course release-feedback {ASSIGNMENT}",
        )
        assert "2 ok" in graded, graded
        release = hub.home(INSTRUCTOR) / "course" / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        points = demo.points(json.loads(release.read_text()))
        earned = {
            name: points.full if kind == "correct" else points.full - points.tail
            for name, kind in STUDENTS.items()
        }
        # formgrader, in the instructor's server, lists the graded class with those scores
        rows = tutor.request("GET", f"formgrader/api/submissions/{ASSIGNMENT}").json()
        assert {r["student"]: (r["autograded"], r["score"]) for r in rows} == {
            name: (True, score) for name, score in earned.items()
        }

        for name in STUDENTS:
            student = users[name]
            student.assignments("fetch_feedback", COURSE_ID, ASSIGNMENT)
            (stamp,) = student.read(f"{ASSIGNMENT}/feedback")["content"]
            page = student.read(f"{stamp['path']}/{ASSIGNMENT}.html")["content"]
            score = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", page)
            assert score is not None
            assert (float(score[1]), float(score[2])) == (earned[name], points.full)

        if shots := os.environ.get("UNROLLED_HUB_SHOTS"):
            import screenshots

            screenshots.capture(hub, next(iter(STUDENTS)), INSTRUCTOR, ASSIGNMENT, Path(shots))
        hub_pid, uids = hub.process.pid, set(hub.uids.values())

    assert hub.process.returncode is not None
    assert not demo_hub.session_members(hub_pid), "the hub or its proxy is still running"
    assert not processes_of(uids), "a user's process is still running"
    assert not hub.place.exists()
