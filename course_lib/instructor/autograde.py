"""``course autograde``: grade a whole class, isolated, in parallel, resumable.

For each student, in one of ``workers`` threads (each owning a warm :class:`SandboxWorker`):

1. copy ``submitted/<student>/<assignment>/`` to a scratch input tree (the submission itself
   is never modified);
2. give each notebook a provisional status: ``missing`` (no file), ``invalid`` (not a readable
   notebook; dropped from the copy so nbgrader scores it 0), ``tampered`` (a protected cell --
   a test or read-only cell -- deleted, duplicated or edited, compared with the released
   version; nbgrader's OverwriteCells then restores the instructor's version, re-adding deleted
   cells; or an answer cell that the checkers' ``suspicious_code`` flags);
3. run nbgrader's own ``Autograde`` converter with its executor replaced by
   :class:`SandboxExecute` (``timeout`` / ``error`` come from the sandbox run, ``tampered``
   also from IPython tricks and from the checkers' ``TamperError``);
4. read the scores back from nbgrader's gradebook and write one JSON record per student,
   atomically (write, then rename). A rerun skips students whose record matches their
   submission's hash, so an interrupted run resumes and gives the same grades.

nbgrader's gradebook is SQLite: one lock serialises everything that touches it, and is released
while a notebook runs in its sandbox -- the part that takes time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import queue
import shutil
import threading
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .course import PROJECT_ROOT, Course, CourseError
from .execute import SandboxExecute
from .sandbox import Limits, SandboxUnavailable, SandboxWorker

# Worst first: a student's status is the worst of their notebooks'.
STATUSES = ("missing", "invalid", "error", "timeout", "tampered", "ok")
INPUT_DIR = "autograde_input"
# The workers' job directories; whatever a killed run left there is removed by the next run.
SCRATCH_DIR = "sandboxes"


@dataclass
class Record:
    """The result of grading one student's submission of one assignment."""

    student: str
    assignment: str
    status: str
    score: float
    max_score: float
    parts: dict[str, list[float]] = field(default_factory=dict)  # grade id -> [score, max]
    # grade id -> passed / partial / failed / not run / tampered, or the notebook's status
    # (missing, invalid, error) when it did not run at all
    part_status: dict[str, str] = field(default_factory=dict)
    notebooks: dict[str, str] = field(default_factory=dict)      # notebook -> status
    reason: str = ""
    sha256: str = ""
    seconds: float = 0.0


def submission_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes: identifies a submission's content."""
    digest = hashlib.sha256()
    if folder.exists():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def records_dir(course: Course, assignment: str) -> Path:
    return course.root / "grading" / assignment


def load_record(course: Course, assignment: str, student: str) -> Record | None:
    path = records_dir(course, assignment) / f"{student}.json"
    try:
        return Record(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # absent or half-written by a crash in an older version: regrade


def save_record(course: Course, record: Record) -> None:
    folder = records_dir(course, record.assignment)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{record.student}.json.tmp"
    tmp.write_text(json.dumps(asdict(record), indent=1))
    os.replace(tmp, folder / f"{record.student}.json")  # atomic: old record or new, never half


# ---------------------------------------------------------------------------------------------
# Provisional statuses, before nbgrader runs
# ---------------------------------------------------------------------------------------------


def nbgrader_meta(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's nbgrader metadata (grade_id, grade, solution, locked, points), or {}."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat files may store it as a list of lines)."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def tamper_report(submitted: dict[str, Any], released: dict[str, Any]) -> list[str]:
    """What a student changed in the cells they were not meant to change (empty: nothing).

    Protected cells are the released notebook's locked cells and test cells (graded, not a
    solution). Each must appear exactly once, by grade id, with the same type, source and
    nbgrader flags.
    """
    def flags(cell: dict[str, Any]) -> tuple:
        meta = nbgrader_meta(cell)
        return tuple(meta.get(k) for k in ("grade", "solution", "locked", "points"))

    protected = {}
    for cell in released.get("cells", []):
        meta = nbgrader_meta(cell)
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            protected[meta.get("grade_id")] = cell
    cells = [c for c in submitted.get("cells", []) if isinstance(c, dict)]
    found = Counter(nbgrader_meta(c).get("grade_id") for c in cells)
    problems = []
    for grade_id, cell in protected.items():
        if found[grade_id] == 0:
            problems.append(f"cell {grade_id!r} deleted")
        elif found[grade_id] > 1:
            problems.append(f"cell {grade_id!r} duplicated")
        else:
            mine = next(c for c in cells if nbgrader_meta(c).get("grade_id") == grade_id)
            if (cell_source(mine).rstrip() != cell_source(cell).rstrip()
                    or mine.get("cell_type") != cell.get("cell_type")
                    or flags(mine) != flags(cell)):
                problems.append(f"cell {grade_id!r} edited")
    return problems


def _read_notebook(path: Path) -> dict[str, Any] | None:
    """The notebook as a dict if it is a readable nbformat-4 notebook, else None."""
    import nbformat

    try:
        with warnings.catch_warnings():  # e.g. cells without ids: old but readable
            warnings.simplefilter("ignore")
            nb = nbformat.read(str(path), as_version=4)
            nbformat.validate(nb)
    except Exception:  # noqa: BLE001 -- any way of failing to read is "invalid"
        return None
    return nb


def suspicious_answers(submitted: dict[str, Any]) -> list[str]:
    """Answer cells whose code reaches for what an answer never needs (``sys``, ``setattr``,
    ``get_ipython``, assignments to ``np.``/``torch.`` attributes...), per the checkers' own
    :func:`course_lib.grading.guard.suspicious_code`. Flagged for a human, not penalised."""
    from course_lib.grading.guard import suspicious_code

    problems = []
    for cell in submitted.get("cells", []):
        if cell.get("cell_type") == "code" and nbgrader_meta(cell).get("solution"):
            reasons = suspicious_code(cell_source(cell))
            if reasons:
                grade_id = nbgrader_meta(cell).get("grade_id")
                problems.append(f"answer {grade_id!r} {', '.join(reasons[:3])}")
    return problems


def precheck(course: Course, assignment: str, folder: Path) -> dict[str, tuple[str, str]]:
    """Notebook -> (provisional status, reason); drops invalid notebooks from ``folder``."""
    result = {}
    for notebook in course.notebooks(assignment):
        path = folder / f"{notebook}.ipynb"
        if not path.exists():
            result[notebook] = ("missing", "no notebook submitted")
            continue
        nb = _read_notebook(path)
        if nb is None:
            path.unlink()
            result[notebook] = ("invalid", "not a readable Jupyter notebook")
            continue
        released = json.loads((course.root / "release" / assignment / path.name).read_text())
        problems = tamper_report(nb, released) + suspicious_answers(nb)
        result[notebook] = ("tampered", "; ".join(problems)) if problems else ("ok", "")
    return result


# ---------------------------------------------------------------------------------------------
# Grading one student, and the class
# ---------------------------------------------------------------------------------------------


class Grader:
    """Grades students one at a time with its own sandbox; share ``lock`` between Graders."""

    def __init__(self, course: Course, assignment: str, limits: Limits, lock: threading.Lock):
        self.course, self.assignment, self.limits, self.lock = course, assignment, limits, lock
        hidden = [course.root, course.solutions, PROJECT_ROOT]
        if course.exchange is not None:
            hidden.append(Path(course.exchange))
        self.worker = SandboxWorker(hidden, limits, scratch=course.root / SCRATCH_DIR)

    def close(self) -> None:
        self.worker.close()

    def grade(self, student: str) -> Record:
        course, assignment = self.course, self.assignment
        submitted = course.root / "submitted" / student / assignment
        digest = submission_hash(submitted)
        staged = course.root / INPUT_DIR / student / assignment
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(submitted, staged)
        statuses = precheck(course, assignment, staged)
        executions: dict[str, Any] = {}
        grader_error = ""
        with self.lock:
            if any(s not in ("missing", "invalid") for s, _ in statuses.values()):
                grader_error = self._run_nbgrader(student, executions)
                if grader_error:
                    statuses = {nb: ("error", grader_error) for nb in statuses}
            for notebook, execution in executions.items():
                status, reason = statuses[notebook]
                reasons = "; ".join(r for r in (execution.reason, reason, *execution.tampering)
                                    if r)
                if execution.status != "ok":  # timeout/error outrank tampered
                    statuses[notebook] = (execution.status, reasons)
                elif execution.tampering:
                    statuses[notebook] = ("tampered", reasons)
            # After a failed nbgrader run the gradebook may hold an older grading: ignore it.
            parts = self._scores(student, graded=not grader_error)
        shutil.rmtree(course.root / INPUT_DIR / student, ignore_errors=True)
        worst = min((s for s, _ in statuses.values()), key=STATUSES.index, default="missing")
        reason = "; ".join(f"{nb}: {r}" for nb, (s, r) in statuses.items() if r)
        tests = {gid: t for e in executions.values() for gid, t in e.tests.items()}
        part_status = {}
        for gid, (score, top) in parts.items():
            outcome = tests.get(gid, worst)
            partial = outcome == "passed" and score < top
            part_status[gid] = "partial" if partial else outcome
        return Record(student, assignment, worst,
                      score=sum(s for s, _ in parts.values()),
                      max_score=sum(m for _, m in parts.values()), parts=parts,
                      part_status=part_status,
                      notebooks={nb: s for nb, (s, _) in statuses.items()}, reason=reason,
                      sha256=digest,
                      seconds=round(sum(e.seconds for e in executions.values()), 3))

    def grade_safely(self, student: str) -> Record:
        """:meth:`grade`, turning an unexpected failure into an ``error`` record.

        One strange submission (say, an unreadable file in its folder) must not stop the class;
        a sandbox that cannot start at all is the machine's problem and is raised.
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

    def _run_nbgrader(self, student: str, executions: dict[str, Any]) -> str:
        """nbgrader's Autograde on the staged copy; '' on success, else the error."""
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import Execute

        api = self.course.api(submitted_directory=INPUT_DIR, assignment_id=self.assignment,
                              student_id=student)
        # A logger per grader: nbgrader's messages for this student, kept off the console.
        buffer = io.StringIO()
        log = logging.getLogger(f"course.autograde.{id(self)}")
        log.handlers = [logging.StreamHandler(buffer)]
        log.propagate = False
        log.setLevel(logging.WARNING)
        converter = Autograde(coursedir=api.coursedir, parent=api, log=log)
        converter.force = True
        converter.create_student = True
        runner = SandboxExecute(parent=converter)
        runner.worker, runner.gradebook_lock, runner.executions = self.worker, self.lock, executions
        runner.files_dir = Path(api.coursedir.format_path(
            api.coursedir.autograded_directory, student, self.assignment))
        converter.autograde_preprocessors = [
            runner if p is Execute else p for p in converter.autograde_preprocessors]
        try:
            converter.start()
        except Exception as exc:  # noqa: BLE001 -- one bad submission never stops the class
            log = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
            return f"nbgrader could not grade this submission: {exc} ({' | '.join(log[-4:])})"
        return ""

    def _scores(self, student: str, graded: bool) -> dict[str, list[float]]:
        """grade id -> [score, max score] from the gradebook; 0 where nothing was graded."""
        from nbgrader.api import Gradebook, MissingEntry

        parts: dict[str, list[float]] = {}
        with Gradebook(f"sqlite:///{self.course.gradebook_path}") as gb:
            for notebook in gb.find_assignment(self.assignment).notebooks:
                for cell in notebook.grade_cells:
                    parts[cell.name] = [0.0, float(cell.max_score)]
                if not graded or not (self.course.root / INPUT_DIR / student /
                                      self.assignment / f"{notebook.name}.ipynb").exists():
                    continue  # missing/invalid: stale gradebook entries must not count
                try:
                    grades = gb.find_submission_notebook(notebook.name, self.assignment,
                                                         student).grades
                except MissingEntry:
                    continue
                for grade in grades:
                    parts[grade.name] = [float(grade.score or 0.0), float(grade.max_score)]
        return parts


def students_of(course: Course, assignment: str) -> list[str]:
    """Students with a folder for ``assignment`` under submitted/."""
    base = course.root / "submitted"
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir())


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
    todo = queue.Queue[str]()
    for student in everyone:
        record = load_record(course, assignment, student)
        digest = submission_hash(course.root / "submitted" / student / assignment)
        if force or record is None or record.sha256 != digest:
            todo.put(student)
    bar = tqdm(total=todo.qsize(), desc=f"autograde {assignment}", unit="student",
               disable=not progress)
    lock = threading.Lock()
    failures: list[BaseException] = []
    # Left by a run that was killed (one run at a time per class directory, like nbgrader's).
    shutil.rmtree(course.root / SCRATCH_DIR, ignore_errors=True)
    shutil.rmtree(course.root / INPUT_DIR, ignore_errors=True)

    def work() -> None:
        grader = Grader(course, assignment, limits, lock)
        try:
            while not failures:
                try:
                    student = todo.get_nowait()
                except queue.Empty:
                    return
                save_record(course, grader.grade_safely(student))
                bar.update()
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the main thread
            failures.append(exc)
        finally:
            grader.close()

    threads = [threading.Thread(target=work, daemon=True)
               for _ in range(max(1, min(workers, todo.qsize())))]
    from nbformat.warnings import MissingIDFieldWarning
    from sqlalchemy.exc import SAWarning

    try:
        with warnings.catch_warnings():
            # nbgrader's gradebook emits SQLAlchemy "not in session" warnings on every new
            # submission, and the test cells it re-inserts have no cell id; both are about its
            # internals and would bury the progress bar.
            warnings.simplefilter("ignore", SAWarning)
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        bar.close()
    if failures:
        raise failures[0]
    return [r for s in everyone if (r := load_record(course, assignment, s)) is not None]
