"""Trusted grading: every point is decided by the grader, outside the student's process.

A class of crafted submissions of ``02_rnn_forward`` and ``05_lstm`` is graded by
``course autograde``, in one run per assignment, next to solved control students:

- **attacks**: each cheat of :data:`ATTACKS` (every class the trusted-grading issue measured,
  plus attacks on this design: forged protocol messages, stolen callbacks, a hijacked student
  process, the zygote killed, symlinks in the submission...) sits on a *blank* notebook and must
  earn nothing (the blank baseline is 0), whatever status it gets;
- **honest but unusual**: correct notebooks written in ways a name scan or a fragile grader
  would punish (:data:`HONEST`) must get full marks and status ``ok``;
- **controls**: solved students graded in the same run keep their marks;
- **probe**: a notebook looks for host files, other checkouts, the solutions, the gradebook,
  sockets, the network and DNS, and finds none of them.

The student package test checks, for every assignment, that what the sandbox gives students
holds no reference of that assignment's graded parts.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import os
import socket
import textwrap
from pathlib import Path

import nbformat
import pytest
from _nbgrader_harness import Course, Graded, answer_cells, read_source, solved

from course_lib.grading.release import SOLUTIONS, assignment_names
from course_lib.instructor.autograde import load_record
from course_lib.instructor.grades import write_grades
from course_lib.instructor.sandbox import PACKAGE_ROOT, student_package

pytestmark = pytest.mark.slow
ASSIGNMENTS = ("02_rnn_forward", "05_lstm")
# A course directory the probe must not see: the project's own checkout stands for "another
# checkout on the machine", next to the solutions and this class's gradebook.
PROJECT = PACKAGE_ROOT.parent

# ------------------------------------------------------------------------------------ attacks
# Each is Python a cheating student adds to the first answer cell of a blank notebook. `PART`
# is replaced by the first graded function's name. They run as well as they can in the sandbox:
# where a target does not exist there (a checker, a reference, a seed), they try every way in.

_FIND_SHELL = "import IPython\nshell = IPython.get_ipython()\n"
ATTACKS: dict[str, str] = {
    # --- the classes the trusted-grading issue measured
    "checker-code-via-pydoc": """
        import pydoc
        for name in ("course_lib.grading.check.run_check", "course_lib.grading.compare.compare",
                     "course_lib.grading.assignment.Assignment.score"):
            target = pydoc.locate(name)
            if target is not None:
                target.__code__ = (lambda *a, **k: None).__code__
        """,
    "fake-import": """
        import builtins, types
        real_import = builtins.__import__
        fake = types.ModuleType("fake")
        fake.grade = lambda part, fn, points: points
        fake.check = lambda *a, **k: None
        def cheat_import(name, *args, **kwargs):
            if name.startswith("course_lib.grading"):
                return types.SimpleNamespace(ex02_rnn_forward=fake, ex05_lstm=fake)
            return real_import(name, *args, **kwargs)
        builtins.__import__ = cheat_import
        """,
    "input-transformer": _FIND_SHELL
    + """
        shell.input_transformers_cleanup.append(
            lambda lines: ["pass\\n"] if any("_hidden_tests" in l for l in lines) else lines)
        """,
    "run-cell-replaced": _FIND_SHELL
    + """
        type(shell).run_cell = lambda self, *a, **k: type("R", (), {"success": True})()
        """,
    "frame-walk": """
        import sys
        frame = sys._getframe()
        while frame is not None:
            for name, value in list(frame.f_locals.items()):
                if isinstance(value, list) and value and isinstance(value[0], dict) \\
                        and "source" in value[0]:
                    for cell in value:
                        cell["source"] = ""
            frame = frame.f_back
        """,
    "forged-pipe-messages": """
        import gc, json, os, socket, struct
        job = next((o.job for o in gc.get_objects() if hasattr(o, "job") and hasattr(o, "seq")),
                   "")
        def frame(message):
            data = json.dumps(message).encode()
            return struct.pack(">I", len(data)) + data
        for fd in os.listdir("/proc/self/fd"):
            try:
                sock = socket.socket(fileno=os.dup(int(fd)))
            except OSError:
                continue
            for seq in range(1, 80):
                for message in ({"t": "done", "seq": seq, "ok": True, "count": 1},
                                {"t": "result", "seq": seq, "value": 2.0},
                                {"t": "exit", "code": 0}):
                    try:
                        sock.send(frame({**message, "job": job}))
                    except OSError:
                        break
        """,
    "torch-function-mode": """
        import torch
        from torch.overrides import TorchFunctionMode
        class Always(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                if func in (torch.allclose, torch.equal):
                    return True
                if func is torch.isclose:
                    return torch.ones_like(args[0], dtype=torch.bool)
                return func(*args, **(kwargs or {}))
        Always().__enter__()
        """,
    "settrace-skips-comparisons": """
        import sys
        def tracer(frame, event, arg):
            if frame.f_code.co_name in ("compare", "_array_problem", "run_check", "score"):
                return None
            return tracer
        sys.settrace(tracer)
        import threading
        threading.settrace(tracer)
        """,
    "ctypes-frame-writes": """
        import ctypes, sys
        frame = sys._getframe()
        while frame is not None:
            if "earned" in frame.f_locals:
                frame.f_locals["earned"] = 100.0
                ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
            frame = frame.f_back
        """,
    "gc-setattr-on-checks": """
        import gc
        for obj in gc.get_objects():
            if type(obj).__name__ in ("Check", "Assignment", "Verdict"):
                for field in ("reference", "atol", "rtol", "earned"):
                    try:
                        object.__setattr__(obj, field, (lambda *a, **k: None) if field ==
                                           "reference" else 1e9)
                    except Exception:
                        pass
        """,
    "seed-from-environment": """
        import os, secrets, random
        os.environ["UNROLLED_GRADING_SEED"] = "0"
        secrets.randbelow = lambda n: 0
        random.seed(0)
        seed = os.environ.get("UNROLLED_GRADING_SEED")
        """,
    "reference-via-pydoc": """
        import pydoc, importlib
        reference = None
        for name in ("course_lib.cells.rnn_cell_forward", "course_lib.cells.lstm_cell_forward",
                     "course_lib.rnn_cell_forward", "course_lib.lstm_cell_forward"):
            reference = reference or pydoc.locate(name)
        for module in ("course_lib.cells", "course_lib.sequence", "course_lib.grading.check"):
            try:
                importlib.import_module(module)
            except ImportError:
                pass
        if reference is not None:
            PART = reference
        """,
    # --- reading the reference, the grader or its secrets some other way
    "reference-source-from-disk": """
        import glob, os
        found = []
        for pattern in ("/**/course_lib/cells.py", "/**/course_lib/grading/ex0*.py",
                        "/**/gradebook.db", "/**/.seed-key", "/**/solutions/**/*.ipynb"):
            found += glob.glob(pattern, recursive=True)
        for path in found:
            if path.endswith("cells.py"):
                namespace = {}
                exec(open(path).read(), namespace)
        """,
    "pip-install-the-course": """
        import subprocess, sys
        subprocess.run([sys.executable, "-m", "pip", "install", "course_lib"], timeout=20)
        """,
    # --- attacks on the two-party design itself
    "hijacked-answers": """
        import numpy as np
        import course_lib.instructor.student as student
        original = student._Process.call
        def lie(self, request):
            self.send({"t": "result", "seq": self.seq, "value": {"$": "float", "text": "nan"},
                       "args": None, "kwargs": None})
        student._Process.call = lie
        """,
    "stolen-callback": """
        import course_lib.instructor.student as student, gc
        process = next(o for o in gc.get_objects() if isinstance(o, student._Process))
        original = student._Process.call
        def call(self, request):
            for number in range(3):  # ask the grader for whatever it offered, and more
                try:
                    student._Callback(self, number)(1, 2)
                except Exception:
                    pass
            return original(self, request)
        student._Process.call = call
        """,
    "answer-with-the-grader-lookup": """
        import course_lib.instructor.student as student
        original = student._Process.lookup
        def lookup(self, request):  # every name the grader asks for is "a value": 2.0
            self.send({"t": "found", "seq": self.seq, "kind": "value", "value": 2.0})
        student._Process.lookup = lookup
        """,
    "kill-the-zygote": """
        import os, signal
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) not in (os.getpid(),):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        """,
    "giant-frame": """
        import os, socket, struct
        for fd in os.listdir("/proc/self/fd"):
            try:
                socket.socket(fileno=os.dup(int(fd))).send(struct.pack(">I", 2**31) + b"x" * 4096)
            except OSError:
                pass
        """,
    "daemon-for-the-next-student": """
        import os, time
        if os.fork() == 0:
            os.setsid()
            while True:
                for name in os.listdir("/home/student") if os.path.isdir("/home/student") else []:
                    try:
                        open(os.path.join("/home/student", name), "a").write("# tampered\\n")
                    except OSError:
                        pass
                time.sleep(0.05)
        """,
    "flood-the-output": "print('x' * 5_000_000)\nimport sys\nsys.stderr.write('e' * 5_000_000)",
    "tests-grade-itself": """
        tests.grade("PART", None, points=100)
        print(3.0)
        3.0
        """,
}
# Structural cheats: a function of (release notebook) -> submission.


def _bonus_cell(nb: dict) -> dict:
    nb["cells"].append(
        {
            "cell_type": "code",
            "source": "100",
            "execution_count": None,
            "outputs": [],
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "bonus",
                    "points": 100,
                    "locked": True,
                    "solution": False,
                    "schema_version": 3,
                }
            },
        }
    )
    return nb


def _hidden_replaced(nb: dict) -> dict:
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("points"):
            cell["source"] = "3"
    return nb


def _points_raised(nb: dict) -> dict:
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            meta.update(grade=True, points=50)
    return nb


STRUCTURE_ATTACKS = {
    "bonus-cell": _bonus_cell,
    "hidden-tests-replaced": _hidden_replaced,
    "answer-made-a-graded-cell": _points_raised,
}

# ----------------------------------------------------------------------- honest but unusual
# Each turns the solved notebook into another correct one, written in a way that a name scan,
# a fragile comparison or nbgrader itself would have punished.


def _prepend(part_index: int, code: str):
    def change(nb: dict, parts: list[str]) -> dict:
        cell = answer_cells(nb)[parts[part_index]]
        cell.source = textwrap.dedent(code) + "\n" + cell.source
        return nb

    return change


def _append(part_index: int, code: str):
    def change(nb: dict, parts: list[str]) -> dict:
        cell = answer_cells(nb)[parts[part_index]]
        cell.source = cell.source + "\n" + textwrap.dedent(code)
        return nb

    return change


def _duplicate_answer(nb: dict, parts: list[str]) -> dict:
    cells = nb.cells
    index = next(
        i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == parts[0]
    )
    draft = copy.deepcopy(cells[index])
    draft.source = draft.source.replace("return", "return 0 *", 1)  # a broken first draft
    cells.insert(index, draft)
    for cell in cells:
        cell.pop("id", None)
    return nb


def _scratch_cells(nb: dict, parts: list[str]) -> dict:
    index = next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == f"{parts[1]}_hidden"
    )
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(f"{parts[0]} = None  # tidy up"))
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("My notes: row vectors!"))
    return nb


HONEST = {
    "inspect-and-sys": _prepend(
        0,
        """
        import inspect, sys
        assert sys.float_info.epsilon < 1e-10
        signature = inspect.signature(print)
        """,
    ),
    "setattr-in-a-class": _prepend(
        0,
        """
        class Config:
            def __init__(self, **kw):
                for key, value in kw.items():
                    setattr(self, key, value)
        config = Config(verbose=False)
        """,
    ),
    "magics": _prepend(0, "%time x = sum(range(10))\n%timeit -n 1 -r 1 sum(range(10))\n"),
    "logging-in-the-answer": _prepend(
        0,
        """
        import logging
        logging.basicConfig(level=logging.INFO)
        log = logging.getLogger("mine")
        log.info("defining my answer")
        """,
    ),
    "a-variable-named-tests": _prepend(0, "tests = ['my', 'own', 'list']\n"),
    "duplicated-answer-cell": _duplicate_answer,
    "scratch-and-notes": _scratch_cells,
    "heavy-but-bounded-printing": _append(
        0,
        """
        _original = PART
        def PART(*args, **kwargs):
            print("debug " * 2000)
            return _original(*args, **kwargs)
        """,
    ),
    "eval-mode-and-getattr": _append(
        3,
        """
        _original_layer = PART3
        def PART3(module, *args):
            getattr(module, "eval")()
            return _original_layer(module, *args)
        """,
    ),
}


# --------------------------------------------------------------------------------- the class


def _blank_with(release: nbformat.NotebookNode, parts: list[str], code: str) -> dict:
    nb = copy.deepcopy(release)
    cell = answer_cells(nb)[parts[0]]
    cell.source = textwrap.dedent(code).replace("PART", parts[0]) + "\n" + cell.source
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every crafted student of both assignments, graded by `course autograde` (by assignment;
    "course": the class directory)."""
    course = Course(tmp_path_factory.mktemp("trusted"), list(ASSIGNMENTS))
    results = {}
    for name in ASSIGNMENTS:
        source, release = read_source(name), course.release(name)
        parts = list(answer_cells(source))
        submissions: dict = {f"control-{i}": solved(release, source) for i in range(2)}
        for attack, code in ATTACKS.items():
            submissions[f"attack-{attack}"] = _blank_with(release, parts, code)
        for attack, change in STRUCTURE_ATTACKS.items():
            submissions[f"attack-{attack}"] = change(json.loads(nbformat.writes(release)))
        for kind, change in HONEST.items():
            nb = change(solved(release, source), parts)
            for cell in answer_cells(nb).values():
                cell.source = cell.source.replace("PART3", parts[3]).replace("PART", parts[0])
            submissions[f"honest-{kind}"] = nb
        results[name] = course.autograde(
            name,
            {
                k: nbformat.from_dict(v) if isinstance(v, dict) else v
                for k, v in submissions.items()
            },
            wall_s=60,
        )
    results["course"] = course  # type: ignore[assignment]
    return results


def _table(results: dict[str, Graded], prefix: str) -> str:
    return "\n".join(
        f"{student:<40} {g.status:<9} {g.total:g}/{sum(g.max_scores.values()):g} "
        f"{g.record.reason[:120]}"
        for student, g in results.items()
        if student.startswith(prefix)
    )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_attack_earns_nothing_and_controls_keep_their_marks(graded, name: str) -> None:
    results = graded[name]
    print(f"\n{name}\n" + _table(results, "attack-"))  # the closing note quotes this table
    earned = {
        s: (g.total, g.record.would_be)
        for s, g in results.items()
        if s.startswith("attack-") and (g.total or g.record.would_be)
    }
    assert not earned, f"attacks that earned points: {earned}"
    full = max(sum(g.max_scores.values()) for g in results.values())
    for student, result in results.items():
        if student.startswith("control-"):
            assert (result.status, result.total) == ("ok", full), (student, result.record)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_honest_but_unusual_notebooks_get_full_marks(graded, name: str) -> None:
    results = {k: v for k, v in graded[name].items() if k.startswith("honest-")}
    assert len(results) >= 8
    full = sum(graded[name]["control-0"].max_scores.values())
    wrong = {
        s: (g.status, g.total, g.record.reason, g.errors)
        for s, g in results.items()
        if (g.status, g.total) != ("ok", full)
    }
    assert not wrong, wrong
    assert all(not g.record.review for g in results.values())


def test_statuses_say_what_happened(graded) -> None:
    results = graded["02_rnn_forward"]
    status = {s.removeprefix("attack-"): g.status for s, g in results.items()}
    assert status["bonus-cell"] == status["hidden-tests-replaced"] == "tampered"
    assert status["answer-made-a-graded-cell"] == "tampered"
    # Forged frames race the real replies: alone (6 of 6 runs) and in most full runs the grader
    # reads them and stops the notebook twice ("error"); once in four CI runs under load it
    # never read them and graded the notebook as written ("ok"). Either way it earns nothing
    # (test_every_attack_earns_nothing_and_controls_keep_their_marks).
    forged = results["attack-forged-pipe-messages"]
    assert forged.status in ("error", "ok") and forged.total == 0
    if forged.status == "error":
        assert "protocol" in forged.record.reason  # out of protocol twice
    assert status["kill-the-zygote"] == "error"
    assert status["input-transformer"] == status["seed-from-environment"] == "ok"
    # a name scan flags for review, and changes nothing else
    assert "course_lib" in results["attack-reference-via-pydoc"].record.review[0]
    first_answer = next(iter(answer_cells(read_source("02_rnn_forward"))))
    assert "[output truncated" in results["attack-flood-the-output"].outputs[first_answer]


def _gradebook_score(course, name: str, student: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gradebook:
        return float(gradebook.find_submission(name, student).score)


def test_clearing_a_tampered_submission_releases_its_points(graded) -> None:
    course = graded["course"].directory
    name = "02_rnn_forward"
    bonus = load_record(course, name, "attack-bonus-cell")
    assert (bonus.status, bonus.score) == ("tampered", 0)
    folder = course.root / "submitted" / "tampered-but-solved" / name
    folder.mkdir(parents=True)
    nb = solved(
        nbformat.read(course.root / "release" / name / f"{name}.ipynb", as_version=4),
        read_source(name),
    )
    nbformat.write(
        nbformat.from_dict(_bonus_cell(json.loads(nbformat.writes(nb)))), folder / f"{name}.ipynb"
    )
    from course_lib.instructor import cli

    root = ["--course-dir", str(course.root), "--solutions", str(SOLUTIONS)]
    assert cli.main([*root, "autograde", name, "--student", "tampered-but-solved"]) == 0
    before = load_record(course, name, "tampered-but-solved")
    assert (before.status, before.score, before.would_be) == ("tampered", 0, 10)
    assert _gradebook_score(course, name, "tampered-but-solved") == 0  # the feedback's too
    with open(write_grades(course, name)) as f:
        row = next(line for line in f if line.startswith("tampered-but-solved,"))
    assert ",tampered,0,10,10," in row
    assert cli.main([*root, "clear", name, "tampered-but-solved"]) == 0
    after = load_record(course, name, "tampered-but-solved")
    assert (after.status, after.score, after.cleared) == ("ok", 10, True)
    assert _gradebook_score(course, name, "tampered-but-solved") == 10
    assert after.parts == {gid: [top, top] for gid, (_, top) in before.parts.items()}


# ------------------------------------------------------------------------------------ probe

PROBE = """
import json, os, socket, sys
report = {}
def attempt(name, action):
    try:
        report[name] = "FOUND: " + repr(action())[:100]
    except BaseException as exc:
        report[name] = "none: " + type(exc).__name__
def nonempty(result):
    if not result:
        raise FileNotFoundError("nothing")
    return result
python = tuple(os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, "/opt/unrolled"))
def host_files(top):
    # files under top, not counting the Python environment and the student package
    found = []
    for root, dirs, files in os.walk(top):
        if os.path.realpath(root).startswith(python) or root.startswith(("/proc", "/sys")):
            dirs[:] = []
            continue
        found += [os.path.join(root, f) for f in files]
    return found
attempt("uid 0", lambda: nonempty(os.getuid() == 0))
attempt("/etc/shadow", lambda: open("/etc/shadow").read(10))
attempt("/etc beyond passwd", lambda: nonempty(sorted(set(os.listdir("/etc")) - {
    "passwd", "group", "ld.so.cache", "localtime"})))
for path in ("/root", "/home", "/srv", "/mnt", "/var", "/run", "/usr/local", "/media"):
    attempt(f"files in {path}", lambda path=path: nonempty(
        [f for f in host_files(path) if not f.startswith("/home/student")]))
for label, path in PATHS.items():
    attempt(label, lambda path=path: nonempty(host_files(path) if os.path.isdir(path)
                                               else open(path, "rb").read(10)))
everything = host_files("/")
attempt("course notebooks anywhere", lambda: nonempty([f for f in everything if f.endswith(
    ".ipynb") and os.path.basename(f)[:2].isdigit() and not f.startswith("/home/student")]))
for secret in ("/gradebook.db", "/.seed-key", "/mistakes.py", "/nbgrader_config.py",
               "course_lib/cells.py", "course_lib/grading/check.py"):
    attempt(f"{secret} anywhere", lambda secret=secret: nonempty(
        [f for f in everything if f.endswith(secret)]))
attempt("the host's /tmp", lambda: open(HOST_TMP_FILE).read())
attempt("host unix socket", lambda: socket.socket(socket.AF_UNIX).connect(UNIX_PATH))
attempt("host abstract socket", lambda: socket.socket(socket.AF_UNIX).connect(ABSTRACT))
attempt("host loopback", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=3))
attempt("internet", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
attempt("dns", lambda: socket.getaddrinfo("pypi.org", 443))
import pydoc
for name in ("course_lib.cells.rnn_cell_forward", "course_lib.sequence",
             "course_lib.grading.check.run_check", "course_lib.grading.ex02_rnn_forward.ASSIGNMENT",
             "course_lib.instructor.autograde", "course_lib.backward"):
    attempt(f"locate {name}", lambda name=name: nonempty(pydoc.locate(name)))
print("PROBE" + json.dumps(report))
"""


def test_a_probing_submission_finds_nothing_of_the_host(graded, tmp_path: Path) -> None:
    course = graded["course"]
    name = "02_rnn_forward"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "host.sock"))
    unix.listen()
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0unrolled-probe")
    abstract.listen()
    other = course.root / "submitted" / "control-0" / name / f"{name}.ipynb"
    paths = {
        "the project checkout": str(PROJECT),
        "solutions": str(SOLUTIONS),
        "the course directory": str(course.root),
        "gradebook": str(course.directory.gradebook_path),
        "another student": str(other),
        "seed key": str(course.root / "grading" / ".seed-key"),
        "workspace": str(PROJECT.parent),
        "the test's tmp dir": str(tmp_path),
    }
    host_tmp = Path("/tmp") / f"unrolled-probe-{os.getpid()}"
    host_tmp.write_text("the host's /tmp")
    code = (
        PROBE.replace("PATHS", repr(paths))
        .replace("UNIX_PATH", repr(str(tmp_path / "host.sock")))
        .replace("ABSTRACT", repr("\0unrolled-probe"))
        .replace("HOST_TMP_FILE", repr(str(host_tmp)))
        .replace("PORT", str(listener.getsockname()[1]))
    )
    release, source = course.release(name), read_source(name)
    nb = nbformat.from_dict(_blank_with(release, list(answer_cells(source)), code))
    # ...and links in its folder to the source notebook and the gradebook, never followed
    folder = course.root / "submitted" / "prober" / name
    folder.mkdir(parents=True)
    os.symlink(course.root / "source" / name / f"{name}.ipynb", folder / "source.ipynb")
    os.symlink(course.directory.gradebook_path, folder / "gradebook.db")
    try:
        result = course.autograde(name, {"prober": nb})["prober"]
    finally:
        for s in (listener, unix, abstract):
            s.close()
        host_tmp.unlink()
    printed = next(text for text in result.outputs.values() if "PROBE{" in text)
    report = json.loads(printed.split("PROBE", 1)[1].splitlines()[0])
    print("\n".join(f"{k:>40}: {v}" for k, v in report.items()))  # the guide quotes these
    found = {k: v for k, v in report.items() if not v.startswith("none")}
    assert not found, found
    assert len(report) >= 25
    assert "source.ipynb is a symbolic link" in result.record.reason
    assert "gradebook.db is a symbolic link" in result.record.reason


# ------------------------------------------------------------------------ the student package


def _reference_modules(checks: str) -> set[str]:
    """course_lib modules a checks module imports: where its references live."""
    path = Path(importlib.import_module(checks).__file__)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 2:
            base = f"course_lib{'.' + node.module if node.module else ''}"
            names |= {f"{base}.{a.name}" if not node.module else base for a in node.names}
    return names - {"course_lib.models"}


@pytest.mark.parametrize("name", assignment_names())
def test_the_sandbox_gives_no_reference_of_the_assignment(name: str, tmp_path: Path) -> None:
    release = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    modules = student_package([json.loads(nbformat.writes(release))], tmp_path / "pkg")
    references = _reference_modules(f"course_lib.grading.ex{name}")
    assert references and not modules & references, modules & references
    stand_in = (tmp_path / "pkg" / "course_lib" / "grading" / f"ex{name}.py").read_text()
    assert "Assignment" not in stand_in and "import course_lib.grading.check" not in stand_in
    files = {p.relative_to(tmp_path / "pkg").as_posix() for p in (tmp_path / "pkg").rglob("*.py")}
    assert not {f for f in files if f.startswith("course_lib/grading/")} - {
        "course_lib/grading/__init__.py",
        "course_lib/grading/frames.py",
        "course_lib/grading/wire.py",
        f"course_lib/grading/ex{name}.py",
    }
