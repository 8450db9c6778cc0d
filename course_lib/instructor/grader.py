"""A grader process of ``course autograde``: grades the students its main process sends it.

It runs outside the sandbox and holds what decides the points: the course's checkers and
references (through the test cells it runs, :mod:`.execute`), the seeds, the gradebook. Per
student (:meth:`Grader.grade`):

1. copy ``submitted/<student>/<assignment>/`` to a scratch tree without following links (the
   submission itself is never modified; a link is reported, never followed);
2. normalise each notebook against its release (:mod:`.normalise`): ``missing``, ``invalid``
   (dropped, so nbgrader scores it 0) or ``tampered`` (a protected cell changed) is decided
   there, from the structure alone;
3. run nbgrader's own ``Autograde`` converter with its executor replaced (:mod:`.execute`):
   test cells here, the student's cells in this process's sandbox; a tampered notebook's points
   are withheld unless an instructor cleared that very submission (``course clear``);
4. return a :class:`.autograde.Record` whose scores are the grader's verdicts.

A sandbox that breaks, or a student process that says anything out of protocol, is replaced
and the notebook graded again on a fresh one; a second failure makes the notebook an ``error``.
The hidden cases' seeds derive from a course secret, the student and the submission's hash.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import secrets
import shutil
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_lib.grading.frames import ProtocolViolation

from .autograde import (
    INPUT_DIR,
    SCRATCH_DIR,
    STATUSES,
    Record,
    load_cleared,
    load_record,
    submission_hash,
)
from .course import Course
from .limits import Limits, SandboxUnavailable
from .normalise import Structure, cell_roles, cell_source, nbgrader_meta, normalise
from .sandbox import SandboxWorker, WorkerFailed, copy_without_links, student_package

if TYPE_CHECKING:
    from .execute import Execution


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
            flags.append(
                f"answer {meta['grade_id']!r} refers to course_lib, the course's reference library"
            )
    return flags


class Grader:
    """Grades students one at a time with its own sandbox; ``lock`` guards the gradebook."""

    def __init__(self, course: Course, assignment: str, limits: Limits, lock: Any) -> None:
        self.course, self.assignment, self.limits, self.lock = course, assignment, limits, lock
        self.released = {
            nb: json.loads(path.read_text())
            for nb in course.notebooks(assignment)
            if (path := course.root / "release" / assignment / f"{nb}.ipynb")
        }
        scratch = course.root / SCRATCH_DIR
        scratch.mkdir(parents=True, exist_ok=True)
        package = Path(scratch / f"package-{os.getpid()}")
        student_package(list(self.released.values()), package)
        self.worker = SandboxWorker(package, limits, scratch=scratch)
        self.roles = {nb: cell_roles(released) for nb, released in self.released.items()}
        self.secret = course_secret(course)
        self.cleared = load_cleared(course, assignment)
        self.waited = 0.0

    def close(self) -> None:
        self.worker.close()

    def grade(self, student: str) -> Record:
        start = time.monotonic()
        self.waited = 0.0  # for the gradebook lock, during this student's grading
        course, assignment = self.course, self.assignment
        submitted = course.root / "submitted" / student / assignment
        digest = submission_hash(submitted)
        staged = course.root / INPUT_DIR / student / assignment
        shutil.rmtree(course.root / INPUT_DIR / student, ignore_errors=True)
        notes = copy_without_links(submitted, staged)
        structures = self._normalise(staged, notes)
        staging = time.monotonic() - start
        cleared = self.cleared.get(student) == digest
        executions: dict[str, Execution] = {}
        failure = ""
        if any(s.status in ("ok", "tampered") for s in structures.values()):
            self.worker.ensure_ready()  # a machine without a sandbox stops here, recording nothing
            for attempt in (1, 2):
                executions.clear()
                try:
                    failure = self._run_nbgrader(
                        student,
                        structures,
                        executions,
                        f"{self.secret}:{assignment}:{student}:{digest}",
                        cleared,
                    )
                    if not failure:
                        self._forget_manual_grades_if_changed(student, digest)
                    break
                except (ProtocolViolation, WorkerFailed) as exc:
                    self.worker.close()
                    self.worker = SandboxWorker(
                        self.worker.package_dir, self.limits, scratch=course.root / SCRATCH_DIR
                    )
                    failure = (
                        "graded twice, and twice the notebook broke the grading sandbox or "
                        f"its protocol ({exc})"
                        if attempt == 2
                        else ""
                    )
        shutil.rmtree(course.root / INPUT_DIR / student, ignore_errors=True)
        record = self._record(student, digest, structures, executions, failure, cleared)
        record.stages = self._stages(time.monotonic() - start, staging, executions)
        return record

    def _stages(
        self, total: float, staging: float, executions: dict[str, Execution]
    ) -> dict[str, float]:
        """Where one submission's grading time went (seconds; the stages add up to ``total``)."""
        stages = {"copy and check structure": staging}
        for run in executions.values():
            for stage, seconds in run.stages.items():
                stages[stage] = stages.get(stage, 0.0) + seconds
        stages["waiting for the gradebook"] = self.waited
        stages["nbgrader (sanitize, scores, gradebook)"] = total - sum(stages.values())
        return {stage: round(seconds, 4) for stage, seconds in stages.items()}

    def _acquire(self) -> None:
        """Take the gradebook lock, counting the wait."""
        start = time.monotonic()
        self.lock.acquire()
        self.waited += time.monotonic() - start

    def _forget_manual_grades_if_changed(self, student: str, digest: str) -> None:
        """A changed submission's automatic grades replace manual grades of autograded cells
        (an unchanged one regraded keeps them; manually graded cells always keep theirs)."""
        from .formgrader import forget_manual_grades  # imports nbgrader: not at start-up

        previous = load_record(self.course, self.assignment, student)
        if previous is None or previous.sha256 != digest:
            with self.lock:
                forget_manual_grades(
                    f"sqlite:///{self.course.gradebook_path}", self.assignment, student
                )

    def run_solution(self) -> dict[str, Any]:
        """Run the instructor's own notebooks (``source/``: solutions and every test) as a
        submission is run, without nbgrader or the gradebook: how long a right answer takes in
        this sandbox, and whether it earns every point."""
        from nbformat import reads

        from .execute import run_notebook

        self.worker.ensure_ready()
        source = self.course.root / "source" / self.assignment
        release = self.course.root / "release" / self.assignment
        files = {
            p.relative_to(release).as_posix(): p
            for p in release.rglob("*")
            if p.is_file() and p.suffix != ".ipynb"
        }
        earned = offered = seconds = 0.0
        status, reason = "ok", ""
        for notebook in self.released:
            workdir = self.course.root / SCRATCH_DIR / f"solution-{os.getpid()}" / notebook
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            nb = reads((source / f"{notebook}.ipynb").read_text(), as_version=4)
            run = run_notebook(
                nb,
                self.roles[notebook],
                self.worker,
                files,
                limits=self.limits,
                seed_key=f"{self.secret}:{self.assignment}:solution",
                workdir=workdir,
            )
            seconds += run.seconds
            earned += sum(e for e, _ in run.scores.values())
            offered += sum(m for _, m in run.scores.values())
            if run.status != "ok" and status == "ok":
                status, reason = run.status, run.reason
        return {
            "seconds": seconds,
            "score": earned,
            "max_score": offered,
            "status": status,
            "reason": reason,
        }

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

    def _run_nbgrader(
        self,
        student: str,
        structures: dict[str, Structure],
        executions: dict[str, Execution],
        seed_key: str,
        cleared: bool,
    ) -> str:
        """nbgrader's Autograde on the staged copy; '' on success, else what went wrong."""
        # Imported here, after the sandbox was launched: both load at once.
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import Execute

        from .execute import SandboxExecute, run_notebook

        api = self.course.api(
            submitted_directory=INPUT_DIR, assignment_id=self.assignment, student_id=student
        )
        buffer = io.StringIO()  # nbgrader's messages for this student, kept off the console
        log = logging.getLogger(f"course.autograde.{os.getpid()}")
        log.handlers = [logging.StreamHandler(buffer)]
        log.propagate = False
        log.setLevel(logging.WARNING)
        converter = Autograde(coursedir=api.coursedir, parent=api, log=log)
        converter.force = True
        converter.create_student = True
        files_dir = Path(
            api.coursedir.format_path(api.coursedir.autograded_directory, student, self.assignment)
        )

        def run(nb: Any, name: str) -> None:
            structure = structures[name]
            withhold = (
                "" if cleared or structure.status != "tampered" else "; ".join(structure.reasons)
            )
            files = {
                p.relative_to(files_dir).as_posix(): p
                for p in files_dir.rglob("*")
                if p.is_file() and p.suffix != ".ipynb" and p.name != "timestamp.txt"
            }
            self.lock.release()  # the notebook's run is the slow part: free the gradebook
            try:
                executions[name] = run_notebook(
                    nb,
                    self.roles[name],
                    self.worker,
                    files,
                    limits=self.limits,
                    seed_key=seed_key,
                    workdir=files_dir,
                    withhold=withhold,
                )
            finally:
                self._acquire()

        runner = SandboxExecute(parent=converter)
        runner.run = run
        converter.autograde_preprocessors = [
            runner if p is Execute else p for p in converter.autograde_preprocessors
        ]
        self._acquire()
        try:
            converter.start()
        except Exception as exc:  # noqa: BLE001 -- one bad submission never stops the class
            lines = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
            return f"nbgrader could not grade this submission: {exc} ({' | '.join(lines[-4:])})"
        finally:
            self.lock.release()
        return ""

    def _record(
        self,
        student: str,
        digest: str,
        structures: dict[str, Structure],
        executions: dict[str, Execution],
        failure: str,
        cleared: bool,
    ) -> Record:
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
        return Record(
            student,
            self.assignment,
            worst,
            score=sum(s for s, _ in parts.values()),
            max_score=sum(m for _, m in parts.values()),
            would_be=would_be,
            parts=parts,
            part_status=part_status,
            notebooks=statuses,
            reason="; ".join(reasons),
            review=review,
            cleared=cleared,
            sha256=digest,
            seconds=round(sum(r.seconds for r in executions.values()), 3),
            grader_failed=bool(failure),
        )

    def _tests(self, notebook: str, run: Execution | None) -> dict[str, tuple[float, float]]:
        """Test grade id -> (earned, max): the grader's verdicts, or 0 where nothing ran."""
        if run is not None:
            return run.scores
        return {
            nbgrader_meta(c)["grade_id"]: (0.0, float(nbgrader_meta(c).get("points", 0)))
            for c in self.released[notebook]["cells"]
            if self.roles[notebook].get(nbgrader_meta(c).get("grade_id")) == "test"
        }

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
            return Record(
                student,
                self.assignment,
                "error",
                0.0,
                0.0,
                reason=f"the grader failed on this submission: {exc!r}",
                sha256=submission_hash(folder),
                grader_failed=True,
            )


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


def share_one_gradebook_engine() -> None:
    """Make every nbgrader ``Gradebook`` of this process share one SQLAlchemy engine per URL.

    nbgrader opens a ``Gradebook`` about ten times per submission, and each made a new engine,
    so SQLAlchemy compiled every query again (its statement cache lives on the engine): that
    was two thirds of a notebook's grading time (bench/bench_autograde.py). ``Gradebook.close``
    still disposes of the engine's pooled connections, which the next use reopens.
    """
    import functools

    import nbgrader.api
    import sqlalchemy

    if not hasattr(nbgrader.api.create_engine, "cache_info"):
        nbgrader.api.create_engine = functools.cache(sqlalchemy.create_engine)


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
    share_one_gradebook_engine()
    job = json.loads(argv[0])
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to the log, not into the records
    course = Course(
        Path(job["root"]),
        solutions=Path(job["solutions"]),
        exchange=Path(job["exchange"]) if job["exchange"] else None,
    )
    lock = GradebookLock(course.root / "grading" / ".gradebook.lock")
    grader = Grader(course, job["assignment"], Limits(**job["limits"]), lock)
    try:
        grader.worker.launch()  # its zygote imports torch while this process imports nbgrader
        out.write(json.dumps({"t": "ready"}) + "\n")
        for line in sys.stdin:
            if not line.strip():
                return
            request = json.loads(line)
            if request == {"solution": True}:
                out.write(json.dumps({"t": "solution", **grader.run_solution()}) + "\n")
                continue
            record = grader.grade_safely(request)
            out.write(json.dumps({"t": "record", "record": asdict(record)}) + "\n")
    except BaseException as exc:  # noqa: BLE001 -- reported to the main process
        out.write(json.dumps({"t": "failed", "kind": type(exc).__name__, "error": str(exc)}) + "\n")
    finally:
        grader.close()


if __name__ == "__main__":
    _serve(sys.argv[1:])
