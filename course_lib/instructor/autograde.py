"""``course autograde``: grade a whole class, two-party, isolated, in parallel, resumable.

For each student, in one of ``workers`` grader processes (each owning a warm sandbox):

1. copy ``submitted/<student>/<assignment>/`` to a scratch tree without following links (the
   submission itself is never modified; a link is reported, never followed);
2. normalise each notebook against its release (:mod:`.normalise`): ``missing``, ``invalid``
   (dropped, so nbgrader scores it 0) or ``tampered`` (a protected cell changed) is decided
   there, from the structure alone;
3. run nbgrader's own ``Autograde`` converter with its executor replaced (:mod:`.execute`): the
   test cells run in the grader process, the student's cells in the sandbox; ``timeout`` and
   ``error`` come from how the student's process behaved; a tampered notebook's points are
   withheld until ``course clear``;
4. write one JSON record per student (from the main process, atomically): its scores are the
   grader's verdicts. A rerun skips students whose record matches their submission's hash; the
   hidden cases of an unchanged submission are the same on every run (their seeds derive from a
   course secret, the student and the hash), so a rerun gives the same grades.

A worker whose sandbox breaks, or whose student process says anything out of protocol, is
replaced, and the notebook is graded again on a fresh one; a second failure is an ``error``.
Grader processes (not threads) keep each notebook's test cells apart: stdout, the working
directory, the seeds and torch's global RNG belong to one notebook at a time. nbgrader's
gradebook is SQLite: one lock, shared by the processes, serialises everything that touches it
and is released while a notebook runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import secrets
import select
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from course_lib.grading.remote import ProtocolViolation

from .course import Course, CourseError
from .execute import Execution, SandboxExecute, cell_roles, run_notebook
from .normalise import Structure, cell_source, nbgrader_meta, normalise
from .sandbox import (
    Limits,
    SandboxUnavailable,
    SandboxWorker,
    WorkerFailed,
    copy_without_links,
    student_package,
)

# Worst first: a student's status is the worst of their notebooks'.
STATUSES = ("missing", "invalid", "error", "timeout", "tampered", "ok")
INPUT_DIR = "autograde_input"
# The workers' job directories and the sandbox's package; a rerun clears what a killed run left.
SCRATCH_DIR = "sandboxes"


@dataclass
class Record:
    """The result of grading one student's submission of one assignment.

    ``score`` is what counts; ``would_be`` is what the grader's verdicts gave before points were
    withheld from a tampered submission (equal to ``score`` otherwise).
    """

    student: str
    assignment: str
    status: str
    score: float
    max_score: float
    would_be: float = 0.0
    parts: dict[str, list[float]] = field(default_factory=dict)  # grade id -> [score, max]
    # grade id -> passed / partial / failed / not run, or the notebook's status (missing,
    # invalid, error, tampered) when its points do not count
    part_status: dict[str, str] = field(default_factory=dict)
    notebooks: dict[str, str] = field(default_factory=dict)  # notebook -> status
    reason: str = ""
    review: list[str] = field(default_factory=list)  # for a human to look at; change nothing
    cleared: bool = False
    sha256: str = ""
    seconds: float = 0.0


def submission_hash(folder: Path) -> str:
    """SHA-256 over every entry's relative path and content (a link: its target, unfollowed)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
                path = Path(root, name)
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                if path.is_symlink():
                    digest.update(b"link:" + os.readlink(path).encode() + b"\0")
                elif path.is_file():
                    digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def records_dir(course: Course, assignment: str) -> Path:
    return course.root / "grading" / assignment


def load_record(course: Course, assignment: str, student: str) -> Record | None:
    path = records_dir(course, assignment) / f"{student}.json"
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in dataclasses.fields(Record)}
        return Record(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError):
        return None  # absent or half-written by a crash in an older version: regrade


def save_record(course: Course, record: Record) -> None:
    folder = records_dir(course, record.assignment)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{record.student}.json.tmp"
    tmp.write_text(json.dumps(asdict(record), indent=1))
    os.replace(tmp, folder / f"{record.student}.json")  # atomic: old record or new, never half


def cleared_path(course: Course, assignment: str) -> Path:
    return records_dir(course, assignment) / "cleared.json"


def load_cleared(course: Course, assignment: str) -> dict[str, str]:
    """student -> the submission hash an instructor cleared (its withheld points count)."""
    try:
        return dict(json.loads(cleared_path(course, assignment).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def clear(course: Course, assignment: str, student: str) -> str:
    """Clear ``student``'s current submission: its withheld points will count. Returns the hash."""
    record = load_record(course, assignment, student)
    if record is None:
        raise CourseError(f"{student} has no graded submission of {assignment}: run "
                          "`course autograde` first")
    digest = submission_hash(course.root / "submitted" / student / assignment)
    cleared = load_cleared(course, assignment)
    cleared[student] = digest
    path = cleared_path(course, assignment)
    path.with_suffix(".tmp").write_text(json.dumps(cleared, indent=1, sort_keys=True))
    os.replace(path.with_suffix(".tmp"), path)
    return digest


def course_secret(course: Course) -> str:
    """A per-course random key (never inside a sandbox) from which hidden seeds derive."""
    path = course.root / "grading" / ".seed-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        os.replace(path.with_suffix(".tmp"), path)
    return path.read_text().strip()


def review_flags(notebook: dict[str, Any]) -> list[str]:
    """Things in the answers an instructor may want to look at; they change no score."""
    flags = []
    for cell in notebook["cells"]:
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") != "code" or not meta.get("solution"):
            continue
        source = cell_source(cell)
        if "course_lib" in source:
            flags.append(f"answer {meta['grade_id']!r} refers to course_lib, the course's "
                         "reference library")
    return flags


# ---------------------------------------------------------------------------------------------
# Grading one student (in a grader process)
# ---------------------------------------------------------------------------------------------


class Grader:
    """Grades students one at a time with its own sandbox; ``lock`` guards the gradebook."""

    def __init__(self, course: Course, assignment: str, limits: Limits, lock: Any,
                 package: Path) -> None:  # fmt: skip
        self.course, self.assignment, self.limits, self.lock = course, assignment, limits, lock
        self.worker = SandboxWorker(package, limits, scratch=course.root / SCRATCH_DIR)
        self.released = {nb: json.loads(path.read_text())
                         for nb in course.notebooks(assignment)
                         if (path := course.root / "release" / assignment / f"{nb}.ipynb")}
        self.roles = {nb: cell_roles(released) for nb, released in self.released.items()}
        self.secret = course_secret(course)
        self.cleared = load_cleared(course, assignment)

    def start(self) -> None:
        self.worker.start()

    def close(self) -> None:
        self.worker.close()

    def grade(self, student: str) -> Record:
        course, assignment = self.course, self.assignment
        submitted = course.root / "submitted" / student / assignment
        digest = submission_hash(submitted)
        staged = course.root / INPUT_DIR / student / assignment
        shutil.rmtree(course.root / INPUT_DIR / student, ignore_errors=True)
        notes = copy_without_links(submitted, staged)
        structures = self._normalise(staged, notes)
        cleared = self.cleared.get(student) == digest
        executions: dict[str, Execution] = {}
        failure = ""
        if any(s.status in ("ok", "tampered") for s in structures.values()):
            for attempt in (1, 2):
                executions.clear()
                try:
                    failure = self._run_nbgrader(student, structures, executions,
                                                 f"{self.secret}:{assignment}:{student}:{digest}",
                                                 cleared)
                    break
                except (ProtocolViolation, WorkerFailed) as exc:
                    self.worker.close()
                    self.worker = SandboxWorker(self.worker.package_dir, self.limits,
                                                scratch=course.root / SCRATCH_DIR)
                    failure = (f"graded twice, and twice the notebook broke the grading sandbox or its "
                               f"protocol ({exc})" if attempt == 2 else "")
        shutil.rmtree(course.root / INPUT_DIR / student, ignore_errors=True)
        return self._record(student, digest, structures, executions, failure, cleared)

    def _normalise(self, staged: Path, notes: list[str]) -> dict[str, Structure]:
        structures = {}
        for notebook, released in self.released.items():
            path = staged / f"{notebook}.ipynb"
            if not path.is_file():
                structures[notebook] = Structure("missing", ["no notebook submitted"])
                continue
            structure = normalise(path.read_bytes(), released, self.assignment)
            structure.notes += notes
            if structure.notebook is None:
                path.unlink()
            else:
                path.write_text(json.dumps(structure.notebook))
            structures[notebook] = structure
        return structures

    def _run_nbgrader(self, student: str, structures: dict[str, Structure],
                      executions: dict[str, Execution], seed_key: str, cleared: bool) -> str:
        """nbgrader's Autograde on the staged copy; '' on success, else what went wrong."""
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import Execute

        api = self.course.api(submitted_directory=INPUT_DIR, assignment_id=self.assignment,
                              student_id=student)
        buffer = io.StringIO()  # nbgrader's messages for this student, kept off the console
        log = logging.getLogger(f"course.autograde.{os.getpid()}")
        log.handlers = [logging.StreamHandler(buffer)]
        log.propagate = False
        log.setLevel(logging.WARNING)
        converter = Autograde(coursedir=api.coursedir, parent=api, log=log)
        converter.force = True
        converter.create_student = True
        files_dir = Path(api.coursedir.format_path(api.coursedir.autograded_directory, student,
                                                   self.assignment))

        def run(nb: Any, name: str) -> None:
            structure = structures[name]
            withhold = ("" if cleared or structure.status != "tampered"
                        else "; ".join(structure.reasons))
            files = {p.relative_to(files_dir).as_posix(): p for p in files_dir.rglob("*")
                     if p.is_file() and p.suffix != ".ipynb" and p.name != "timestamp.txt"}
            self.lock.release()  # the notebook's run is the slow part: free the gradebook
            try:
                executions[name] = run_notebook(
                    nb, self.roles[name], self.worker, files, limits=self.limits,
                    seed_key=seed_key, workdir=files_dir, withhold=withhold)
            finally:
                self.lock.acquire()

        runner = SandboxExecute(parent=converter)
        runner.run = run
        converter.autograde_preprocessors = [
            runner if p is Execute else p for p in converter.autograde_preprocessors]
        with self.lock:
            try:
                converter.start()
            except Exception as exc:  # noqa: BLE001 -- one bad submission never stops the class
                lines = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
                return f"nbgrader could not grade this submission: {exc} ({' | '.join(lines[-4:])})"
        return ""

    def _record(self, student: str, digest: str, structures: dict[str, Structure],
                executions: dict[str, Execution], failure: str, cleared: bool) -> Record:
        parts: dict[str, list[float]] = {}
        part_status: dict[str, str] = {}
        statuses: dict[str, str] = {}
        reasons: list[str] = []
        review: list[str] = []
        would_be = 0.0
        for notebook, structure in structures.items():
            run = executions.get(notebook)
            status = structure.status
            if failure and status in ("ok", "tampered"):
                status, run = "error", None
            elif run is not None and run.status != "ok":
                status = run.status  # timeout and error outrank tampered
            statuses[notebook] = status
            why = structure.reasons + ([run.reason] if run is not None and run.reason else [])
            why += structure.notes + ([failure] if failure and status == "error" else [])
            if structure.status == "tampered" and cleared:
                why.append("cleared by an instructor: its points count")
            reasons += [f"{notebook}: {r}" for r in why]
            if structure.notebook is not None:
                review += review_flags(structure.notebook)
            withheld = structure.status == "tampered" and not cleared
            for grade_id, (earned, top) in self._tests(notebook, run).items():
                would_be += earned
                parts[grade_id] = [0.0 if withheld else earned, top]
                if run is None:
                    part_status[grade_id] = status
                else:
                    part_status[grade_id] = "tampered" if withheld else run.tests[grade_id]
        worst = min(statuses.values(), key=STATUSES.index, default="missing")
        if worst == "tampered" and cleared:
            worst = "ok"
        return Record(student, self.assignment, worst,
                      score=sum(s for s, _ in parts.values()),
                      max_score=sum(m for _, m in parts.values()), would_be=would_be,
                      parts=parts, part_status=part_status, notebooks=statuses,
                      reason="; ".join(reasons), review=review, cleared=cleared, sha256=digest,
                      seconds=round(sum(r.seconds for r in executions.values()), 3))

    def _tests(self, notebook: str, run: Execution | None) -> dict[str, tuple[float, float]]:
        """Test grade id -> (earned, max): the grader's verdicts, or 0 where nothing ran."""
        if run is not None:
            return run.scores
        return {nbgrader_meta(c)["grade_id"]: (0.0, float(nbgrader_meta(c).get("points", 0)))
                for c in self.released[notebook]["cells"]
                if self.roles[notebook].get(nbgrader_meta(c).get("grade_id")) == "test"}

    def grade_safely(self, student: str) -> Record:
        """:meth:`grade`, turning an unexpected failure into an ``error`` record.

        One strange submission must not stop the class; a sandbox that cannot start at all is
        the machine's problem and is raised.
        """
        try:
            return self.grade(student)
        except SandboxUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            folder = self.course.root / "submitted" / student / self.assignment
            return Record(student, self.assignment, "error", 0.0, 0.0,
                          reason=f"the grader failed on this submission: {exc!r}",
                          sha256=submission_hash(folder))


# ---------------------------------------------------------------------------------------------
# The class
# ---------------------------------------------------------------------------------------------


def students_of(course: Course, assignment: str) -> list[str]:
    """Students with a folder for ``assignment`` under submitted/."""
    base = course.root / "submitted"
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir())


@contextlib.contextmanager
def one_run_at_a_time(course: Course) -> Iterator[None]:
    """Refuse a second ``course autograde`` on the same class directory while one runs."""
    path = course.root / "grading" / ".autograde.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CourseError(f"another `course autograde` is running on {course.root}; wait "
                              "for it to finish (or stop it), then run this again") from None
        yield


class GradebookLock:
    """A lock on the class's gradebook shared by the grader processes (``flock`` on a file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def acquire(self) -> None:
        if self.handle is None:
            self.handle = open(self.path, "a")  # noqa: SIM115 -- held open for the run
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)

    def __enter__(self) -> GradebookLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _serve(argv: list[str]) -> None:
    """A grader process (``python -m course_lib.instructor.autograde COURSE_JSON``): grades the
    students the main process sends on stdin, one JSON line each, and answers each with its
    record on stdout; an empty line ends it."""
    from nbformat.warnings import MissingIDFieldWarning
    from sqlalchemy.exc import SAWarning

    # nbgrader's gradebook warns about SQLAlchemy sessions on every new submission, and the
    # cells it re-inserts have no cell id: both are its internals and would bury the output.
    warnings.simplefilter("ignore", SAWarning)
    warnings.simplefilter("ignore", MissingIDFieldWarning)
    job = json.loads(argv[0])
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to the log, not into the records
    course = Course(Path(job["root"]), solutions=Path(job["solutions"]),
                    exchange=Path(job["exchange"]) if job["exchange"] else None)
    lock = GradebookLock(course.root / "grading" / ".gradebook.lock")
    grader = Grader(course, job["assignment"], Limits(**job["limits"]), lock, Path(job["package"]))
    try:
        grader.start()
        out.write(json.dumps({"t": "ready"}) + "\n")
        for line in sys.stdin:
            if not line.strip():
                return
            record = grader.grade_safely(json.loads(line))
            out.write(json.dumps({"t": "record", "record": asdict(record)}) + "\n")
    except BaseException as exc:  # noqa: BLE001 -- reported to the main process
        out.write(json.dumps({"t": "failed", "kind": type(exc).__name__, "error": str(exc)})
                  + "\n")
    finally:
        grader.close()


def autograde(course: Course, assignment: str, *, limits: Limits | None = None,
              workers: int = 2, force: bool = False, students: list[str] | None = None,
              progress: bool = True) -> list[Record]:
    """Grade every submitted student of ``assignment``; return all their records.

    Students whose record already matches their submission are skipped unless ``force``.
    """
    course.require_assignment(assignment)
    limits = limits or Limits(wall_s=2.0 * course.cell_timeout_s)
    everyone = students_of(course, assignment)
    if students:
        unknown = sorted(set(students) - set(everyone))
        if unknown:
            raise CourseError(f"no submission of {assignment} from: {', '.join(unknown)}")
        everyone = [s for s in everyone if s in students]
    with one_run_at_a_time(course):
        todo_list = []
        for student in everyone:
            record = load_record(course, assignment, student)
            digest = submission_hash(course.root / "submitted" / student / assignment)
            if force or record is None or record.sha256 != digest:
                todo_list.append(student)
        # Left by a run that was killed.
        shutil.rmtree(course.root / SCRATCH_DIR, ignore_errors=True)
        shutil.rmtree(course.root / INPUT_DIR, ignore_errors=True)
        if todo_list:
            _grade_all(course, assignment, limits, workers, todo_list, progress)
    return [r for s in everyone if (r := load_record(course, assignment, s)) is not None]


class _GraderProcess:
    """The main process's handle on one grader process."""

    def __init__(self, job: dict[str, Any], log: Path) -> None:
        with open(log, "ab") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "course_lib.instructor.autograde", json.dumps(job)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.student: str | None = None

    def send(self, student: str | None) -> None:
        assert self.proc.stdin is not None
        self.student = student
        self.proc.stdin.write(json.dumps(student) + "\n" if student else "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send(None)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _grade_all(course: Course, assignment: str, limits: Limits, workers: int,
               todo: list[str], progress: bool) -> None:  # fmt: skip
    """Grade ``todo`` in ``workers`` grader processes, saving each record as it comes."""
    releases = [json.loads((course.root / "release" / assignment / f"{name}.ipynb").read_text())
                for name in course.notebooks(assignment)]
    package = course.root / SCRATCH_DIR / "package"
    student_package(releases, package)
    job = {"root": str(course.root), "solutions": str(course.solutions),
           "exchange": str(course.exchange) if course.exchange else "",
           "assignment": assignment, "limits": asdict(limits), "package": str(package)}
    log = course.root / SCRATCH_DIR / "graders.log"
    pending = list(reversed(todo))
    graders = [_GraderProcess(job, log) for _ in range(max(1, min(workers, len(todo))))]
    streams = {g.proc.stdout.fileno(): g for g in graders}  # type: ignore[union-attr]
    bar = tqdm(total=len(todo), desc=f"autograde {assignment}", unit="student",
               disable=not progress)
    failure = ""
    try:
        while streams:
            ready, _, _ = select.select(list(streams), [], [])
            for fd in ready:
                grader = streams[fd]
                line = grader.proc.stdout.readline()  # type: ignore[union-attr]
                message = json.loads(line) if line.strip() else {
                    "t": "failed", "kind": "died", "error": "a grader process stopped (see "
                    f"{log})" + (f" while grading {grader.student}" if grader.student else "")}
                if message["t"] == "record":
                    save_record(course, Record(**message["record"]))
                    bar.update()
                elif message["t"] == "failed":
                    failure = failure or (f"{message['kind']}: {message['error']}")
                    pending.clear()
                if message["t"] == "failed" or not pending:
                    grader.close()
                    del streams[fd]
                else:
                    grader.send(pending.pop())
    finally:
        bar.close()
        for grader in graders:
            grader.close()
    if failure.startswith("SandboxUnavailable: "):
        raise SandboxUnavailable(failure.removeprefix("SandboxUnavailable: "))
    if failure:
        raise CourseError(f"grading stopped: {failure}; students already graded keep their "
                          "records: run the command again to grade the rest")


if __name__ == "__main__":
    _serve(sys.argv[1:])
