"""``course autograde``: grade a whole class, two-party, isolated, in parallel, resumable.

The main process (this module) decides who needs grading, starts ``workers`` grader processes
(:mod:`.grader`, each with its own warm sandbox), hands them one student at a time, and writes
each record it gets back: one JSON file per student, atomically (write, then rename). A rerun
skips students whose record matches their submission's hash (a failed attempt never does: a
rerun tries again); the hidden cases of an unchanged submission are the same on every run, so
an interrupted run resumes with the same grades. One run at a time per class directory; before
any record is touched, :func:`preflight` checks the gradebook and the disk. A failed attempt
(the machinery failed: ``Record.grader_failed``) is never written over a record that holds a
grade.

Grader processes (not threads) keep each notebook's test cells apart: stdout, the working
directory, the seeds and torch's global RNG belong to one notebook at a time. nbgrader's
gradebook is SQLite: one lock, shared by the processes, serialises everything that touches it.
This module imports neither torch nor nbgrader's converters: the ``course`` command starts fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .course import Course, CourseError
from .limits import Limits, SandboxUnavailable

# Worst first: a student's status is the worst of their notebooks'.
STATUSES = ("missing", "invalid", "error", "timeout", "tampered", "ok")
INPUT_DIR = "autograde_input"
# The workers' job directories and the sandbox's package; a rerun clears what a killed run left.
SCRATCH_DIR = "sandboxes"
# Without --time-limit, a notebook may take this many times as long as the instructor's solution
# took in the same sandbox (measured once per version of the assignment), and at least the floor.
SOLUTION_FACTOR = 5.0
MIN_TIME_LIMIT_S = 20.0
# Free space a run needs: nbgrader copies every submission, the sandboxes hold packages and logs.
MIN_FREE_BYTES = 512 * 2**20


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
    # The grading machinery failed (nbgrader, the gradebook, the grader itself), not the
    # student's code: such an ``error`` is a failed attempt, not a verdict.
    grader_failed: bool = False
    # Seconds per stage of grading this submission (bench/bench_autograde.py's breakdown).
    stages: dict[str, float] = field(default_factory=dict)


def submission_hash(folder: Path) -> str:
    """SHA-256 over every entry's relative path and content (a link: its target, unfollowed)."""
    digest = hashlib.sha256()
    if folder.is_symlink():
        digest.update(b"link:" + os.readlink(folder).encode())
    elif folder.is_dir():
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
        raise CourseError(
            f"{student} has no graded submission of {assignment}: run `course autograde` first"
        )
    digest = submission_hash(course.root / "submitted" / student / assignment)
    cleared = load_cleared(course, assignment)
    cleared[student] = digest
    path = cleared_path(course, assignment)
    path.with_suffix(".tmp").write_text(json.dumps(cleared, indent=1, sort_keys=True))
    os.replace(path.with_suffix(".tmp"), path)
    return digest


# ---------------------------------------------------------------------------------------------
# The class
# ---------------------------------------------------------------------------------------------


def students_of(course: Course, assignment: str) -> list[str]:
    """Students with a folder for ``assignment`` under submitted/."""
    base = course.root / "submitted"
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir())


def usable_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def preflight(course: Course) -> None:
    """Stop, in one sentence, before any record is touched if the run could not save its work.

    The sandbox itself is checked by each grader process as it starts (before any grading).
    """
    gradebook = course.gradebook_path
    for path in (course.root, course.root / "grading", gradebook):
        if path.exists() and not os.access(path, os.W_OK):
            raise CourseError(
                f"{path} is not writable, so grades could not be saved: fix its "
                "permissions (e.g. chmod u+w), then run this again"
            )
    free = shutil.disk_usage(course.root).free
    if free < MIN_FREE_BYTES:
        raise CourseError(
            f"only {free / 2**20:.0f} MiB free on the disk of {course.root}; a run "
            f"needs at least {MIN_FREE_BYTES / 2**20:.0f} MiB: free some space, "
            "then run this again"
        )


def needs_grading(record: Record | None, digest: str, force: bool) -> bool:
    """Whether a student must be graded: no record, a changed submission, a failed attempt."""
    return force or record is None or record.grader_failed or record.sha256 != digest


def keep_or_save(course: Course, record: Record) -> None:
    """Save ``record``, unless it is a failed attempt and the saved record holds a grade."""
    if record.grader_failed:
        saved = load_record(course, record.assignment, record.student)
        if saved is not None and not saved.grader_failed:
            return
    save_record(course, record)


@contextlib.contextmanager
def one_run_at_a_time(course: Course) -> Iterator[None]:
    """Refuse a second ``course autograde`` on the same class directory while one runs."""
    path = course.root / "grading" / ".autograde.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CourseError(
                f"another `course autograde` is running on {course.root}; wait "
                "for it to finish (or stop it), then run this again"
            ) from None
        yield


def solution_path(course: Course, assignment: str) -> Path:
    return records_dir(course, assignment) / "solution.json"


def measured_solution(course: Course, assignment: str) -> dict[str, Any]:
    """How the instructor's solution ran in the grading sandbox (:meth:`.grader.Grader.
    run_solution`): measured once per version of the assignment (its source and release)."""
    version = submission_hash(course.root / "source" / assignment) + submission_hash(
        course.root / "release" / assignment
    )
    path = solution_path(course, assignment)
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads(path.read_text())
        if saved.get("version") == version:
            return saved
    # A generous limit for the measurement itself: nbgrader's per-cell timeout, twice.
    limits = Limits(wall_s=2.0 * course.cell_timeout_s)
    log = course.root / SCRATCH_DIR / "graders.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    grader = _GraderProcess(_job(course, assignment, limits), log)
    try:
        grader.proc.stdin.write(json.dumps({"solution": True}) + "\n")  # type: ignore[union-attr]
        grader.proc.stdin.flush()  # type: ignore[union-attr]
        for line in grader.proc.stdout:  # type: ignore[union-attr]
            message = json.loads(line)
            if message["t"] == "failed":
                _stopped(f"{message['kind']}: {message['error']}")
            if message["t"] == "solution":
                break
        else:
            _stopped(f"died: a grader process stopped while running the solution (see {log})")
    finally:
        grader.close()
    measured = {"version": version, **{k: v for k, v in message.items() if k != "t"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(measured, indent=1))
    return measured


def solution_time_limit(course: Course, assignment: str) -> tuple[float, str]:
    """The default time limit per notebook, and the sentence that explains it. Stops with one
    sentence if the solution itself does not earn every point in the sandbox."""
    solution = measured_solution(course, assignment)
    score, offered = solution["score"], solution["max_score"]
    if solution["status"] != "ok" or score < offered:
        how = ": ".join(filter(None, [solution["status"], solution["reason"]]))
        raise CourseError(
            f"the instructor's solution of {assignment} scores {score:g}/{offered:g} in the "
            f"grading sandbox ({how}), so students' grades would be wrong: check source/ and "
            f"the grading environment (measured in {solution_path(course, assignment)})"
        )
    seconds = solution["seconds"]
    limit = float(max(MIN_TIME_LIMIT_S, -(-SOLUTION_FACTOR * seconds // 1)))
    return limit, (
        f"time limit {limit:g} s per notebook ({SOLUTION_FACTOR:g} x the "
        f"solution's {seconds:.1f} s in the sandbox, at least "
        f"{MIN_TIME_LIMIT_S:g} s; --time-limit sets another)"
    )


def autograde(
    course: Course,
    assignment: str,
    *,
    limits: Limits | None = None,
    workers: int | None = None,
    force: bool = False,
    students: list[str] | None = None,
    progress: bool = True,
) -> list[Record]:
    """Grade every submitted student of ``assignment``; return all their records.

    Students whose record already matches their submission are skipped unless ``force``.
    ``workers`` defaults to :func:`usable_cores`; the time limit, where ``limits.wall_s`` is
    None, to :func:`solution_time_limit`. A student whose attempt failed in this run is
    returned with that failed record, even where an earlier record was kept on disk.
    """
    workers = workers or usable_cores()
    course.require_assignment(assignment)
    limits = limits or Limits()
    everyone = students_of(course, assignment)
    if students:
        unknown = sorted(set(students) - set(everyone))
        if unknown:
            raise CourseError(f"no submission of {assignment} from: {', '.join(unknown)}")
        everyone = [s for s in everyone if s in students]
    with one_run_at_a_time(course):
        preflight(course)
        todo_list = []
        for student in everyone:
            record = load_record(course, assignment, student)
            digest = submission_hash(course.root / "submitted" / student / assignment)
            if needs_grading(record, digest, force):
                todo_list.append(student)
        # Left by a run that was killed.
        shutil.rmtree(course.root / SCRATCH_DIR, ignore_errors=True)
        shutil.rmtree(course.root / INPUT_DIR, ignore_errors=True)
        failed: dict[str, Record] = {}
        if todo_list and limits.wall_s is None:
            wall_s, why = solution_time_limit(course, assignment)
            limits = dataclasses.replace(limits, wall_s=wall_s)
            if progress:
                print(why, flush=True)
        if todo_list:
            _grade_all(course, assignment, limits, workers, todo_list, progress, failed)
    return [
        failed.get(s) or r
        for s in everyone
        if (r := load_record(course, assignment, s)) is not None or s in failed
    ]


class _GraderProcess:
    """The main process's handle on one grader process."""

    def __init__(self, job: dict[str, Any], log: Path) -> None:
        with open(log, "ab") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "course_lib.instructor.grader", json.dumps(job)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
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


def _grade_all(
    course: Course,
    assignment: str,
    limits: Limits,
    workers: int,
    todo: list[str],
    progress: bool,
    failed: dict[str, Record],
) -> None:
    """Grade ``todo`` in ``workers`` grader processes, saving each record as it comes (failed
    attempts also go into ``failed``)."""
    job = _job(course, assignment, limits)
    log = course.root / SCRATCH_DIR / "graders.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pending = list(reversed(todo))
    graders = [_GraderProcess(job, log) for _ in range(max(1, min(workers, len(todo))))]
    streams = {g.proc.stdout.fileno(): g for g in graders}  # type: ignore[union-attr]
    bar = tqdm(
        total=len(todo), desc=f"autograde {assignment}", unit="student", disable=not progress
    )
    failure = ""
    try:
        while streams:
            ready, _, _ = select.select(list(streams), [], [])
            for fd in ready:
                grader = streams[fd]
                line = grader.proc.stdout.readline()  # type: ignore[union-attr]
                message = (
                    json.loads(line)
                    if line.strip()
                    else {
                        "t": "failed",
                        "kind": "died",
                        "error": "a grader process stopped (see "
                        f"{log})" + (f" while grading {grader.student}" if grader.student else ""),
                    }
                )
                if message["t"] == "record":
                    record = Record(**message["record"])
                    keep_or_save(course, record)
                    if record.grader_failed:
                        failed[record.student] = record
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
    if failure:
        _stopped(failure)


def _job(course: Course, assignment: str, limits: Limits) -> dict[str, Any]:
    """What a grader process is started with."""
    return {
        "root": str(course.root),
        "solutions": str(course.solutions),
        "exchange": str(course.exchange) if course.exchange else "",
        "assignment": assignment,
        "limits": asdict(limits),
    }


def _stopped(failure: str) -> None:
    """Raise the error for a grader process that stopped (``failure``: "kind: message")."""
    if failure.startswith("SandboxUnavailable: "):
        raise SandboxUnavailable(failure.removeprefix("SandboxUnavailable: "))
    raise CourseError(
        f"grading stopped: {failure}; students already graded keep their "
        "records: run the command again to grade the rest"
    )
