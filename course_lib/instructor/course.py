"""The instructor's class directory: an nbgrader course built from the project's solutions.

Layout (nbgrader's own, under ``--course-dir``, default ``./course``)::

    source/<assignment>/        copied from solutions/<assignment>/ by ``course setup``
    release/<assignment>/       student versions (nbgrader generate_assignment)
    submitted/<student>/<assignment>/   what ``course collect`` brought in (never modified)
    autograded/, feedback/      nbgrader's outputs
    gradebook.db                nbgrader's gradebook
    grading/<assignment>/<student>.json  one result record per student (``course autograde``)
    autograde_input/, sandboxes/  scratch space of a ``course autograde`` run

Settings come from :data:`COURSE_SETTINGS` (course id, ignores, ``Execute.timeout``), which the
project's ``nbgrader_config.py`` also applies; only the directories are redirected to the class
directory. ``course setup`` also writes the class directory's own ``nbgrader_config.py``
(:mod:`.formgrader`), for formgrader and plain nbgrader started there. Its course id, ignores,
``Execute.timeout`` and exchange are the class's from then on: an instructor may change them
there, and every ``course`` command reads them.

The exchange is the one the students' nbgrader uses: ``--exchange``, else the class directory's
config, else nbgrader's own system-wide setting (``Exchange.root`` in an ``nbgrader_config.py``
of Jupyter's config path, such as /etc/jupyter), else nbgrader's default
(/usr/local/share/nbgrader/exchange).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

import course_lib

PROJECT_ROOT = Path(course_lib.__file__).resolve().parent.parent


# nbgrader's own default for Exchange.root (what students' nbgrader uses when nothing is set).
NBGRADER_EXCHANGE = Path("/usr/local/share/nbgrader/exchange")


# What the class directory's nbgrader_config.py may change, for `course` and nbgrader alike
# (the rest of that file is written by `course setup` and read by nbgrader only).
CLASS_SETTINGS = (
    ("CourseDirectory", "course_id"),
    ("CourseDirectory", "ignore"),
    ("Execute", "timeout"),
    ("Exchange", "root"),
)


class CourseError(RuntimeError):
    """A problem the instructor can fix (bad argument, missing directory...): printed, exit 2."""


# The course's own nbgrader settings, part of the package so that they hold wherever it is
# installed; the project's nbgrader_config.py applies the same ones for nbgrader run from the
# checkout (`make exercises`, `make lab`).
COURSE_SETTINGS = {
    "CourseDirectory.course_id": "unrolled",
    # Never given to students: the exercise tests' mistakes hold solution code (and `course
    # setup` copies nothing but notebooks anyway).
    "CourseDirectory.ignore": [
        ".ipynb_checkpoints",
        "*.pyc",
        "__pycache__",
        "feedback",
        "mistakes.py",
        "student_mistakes.py",
    ],
    # Per-cell limit for nbgrader's Validate: a solved notebook runs in well under a minute.
    "Execute.timeout": 60,
}


def apply_settings(config: Config, settings: dict[str, object]) -> Config:
    """Set ``"Section.name": value`` settings on ``config``; return it."""
    for key, value in settings.items():
        section, name = key.split(".")
        config[section][name] = value
    return config


def load_config_file(path: Path) -> Config:
    """An ``nbgrader_config.py``'s settings (empty if there is none)."""
    if not path.exists():
        return Config()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def project_config() -> Config:
    """The course's nbgrader settings (:data:`COURSE_SETTINGS`), and the project's
    ``nbgrader_config.py`` where the package runs from a checkout."""
    config = apply_settings(Config(), COURSE_SETTINGS)
    config.merge(load_config_file(PROJECT_ROOT / "nbgrader_config.py"))
    return config


def system_exchange() -> Path:
    """The exchange students' nbgrader uses when nothing else is said: ``Exchange.root`` from
    the ``nbgrader_config.py`` files of Jupyter's config path, else nbgrader's default."""
    from jupyter_core.paths import jupyter_config_path

    found = NBGRADER_EXCHANGE
    for folder in reversed(jupyter_config_path()):  # later folders are more general: read first
        root = load_config_file(Path(folder) / "nbgrader_config.py").Exchange.get("root")
        found = Path(root) if root else found
    return found


@dataclass
class Course:
    """An nbgrader class directory plus where its assignments come from."""

    root: Path
    solutions: Path = PROJECT_ROOT / "solutions"
    exchange: Path | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.solutions = Path(self.solutions).resolve()

    @property
    def gradebook_path(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def course_id(self) -> str:
        return str(self.config().CourseDirectory.get("course_id", "course"))

    @property
    def exchange_root(self) -> Path:
        """Where releases, submissions and feedback meet the students (see the module)."""
        return self._exchange_root(self.class_config())

    def _exchange_root(self, own: Config) -> Path:
        """:attr:`exchange_root`, given the class config ``own`` already read."""
        if self.exchange is not None:
            return Path(self.exchange).resolve()
        root = own.Exchange.get("root")
        return Path(root) if root else system_exchange()

    def class_config(self) -> Config:
        """The class directory's own ``nbgrader_config.py`` (written by ``course setup``)."""
        return load_config_file(self.root / "nbgrader_config.py")

    @property
    def cell_timeout_s(self) -> int:
        return int(self.config().Execute.get("timeout", 60))

    def config(self) -> Config:
        """nbgrader's settings for this class: the project's, then those an instructor may
        change in the class directory's config (:data:`CLASS_SETTINGS`), then its folders."""
        config = project_config()
        own = self.class_config()
        for section, name in CLASS_SETTINGS:
            if name in own[section]:
                config[section][name] = own[section][name]
        cd = config.CourseDirectory
        cd.root = str(self.root)
        cd.source_directory = "source"
        cd.release_directory = "release"
        cd.submitted_directory = "submitted"
        cd.autograded_directory = "autograded"
        cd.feedback_directory = "feedback"
        cd.db_url = f"sqlite:///{self.gradebook_path}"
        if "course_id" not in cd:
            cd.course_id = "course"
        # Restore test cells a student deleted (nbgrader re-inserts them from the gradebook).
        config.OverwriteCells.add_missing_cells = True
        config.Exchange.root = str(self._exchange_root(own))
        return config

    def api(self, **overrides: object):  # -> nbgrader.apps.api.NbGraderAPI
        """nbgrader's own Python API on this class directory (``overrides`` set CourseDirectory)."""
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        # nbgrader runs `alembic` from PATH: make sure this environment's bin/ is on it.
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        config = self.config()
        coursedir = CourseDirectory(config=config)
        for name, value in overrides.items():
            setattr(coursedir, name, value)
        return NbGraderAPI(coursedir=coursedir, config=config)

    def assignments(self) -> list[str]:
        source = self.root / "source"
        return sorted(p.name for p in source.iterdir() if p.is_dir()) if source.exists() else []

    def require_assignment(self, assignment: str) -> None:
        if assignment not in self.assignments():
            known = ", ".join(self.assignments()) or "none: run `course setup` first"
            raise CourseError(f"unknown assignment {assignment!r} (known: {known})")

    def notebooks(self, assignment: str) -> list[str]:
        """Names (without .ipynb) of the notebooks an assignment consists of."""
        return sorted(p.stem for p in (self.root / "release" / assignment).glob("*.ipynb"))

    # ----------------------------------------------------------------------------------------

    def setup(self, assignments: list[str] | None = None) -> list[str]:
        """Copy the notebooks of solutions/<a>/ to source/<a>/ and run nbgrader
        generate_assignment on each (nothing else of solutions/ reaches source/ or release/)."""
        if not self.solutions.is_dir():
            raise CourseError(f"no solutions directory at {self.solutions}")
        available = sorted(
            p.name for p in self.solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
        )
        chosen = available if not assignments else assignments
        for name in chosen:
            if name not in available:
                raise CourseError(
                    f"no assignment {name!r} in {self.solutions} "
                    f"(found: {', '.join(available) or 'none'})"
                )
        for name in chosen:
            target = self.root / "source" / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            # Only the notebooks: anything else beside them (the exercise tests' mistakes.py,
            # drafts, notes) may hold solution code, whatever an ignore list says or misses.
            for notebook in sorted((self.solutions / name).glob("*.ipynb")):
                shutil.copy2(notebook, target / notebook.name)
            check(
                self.api().generate_assignment(name),
                f"generate_assignment {name}",
                self.root / "logs",
            )
        self.write_config()
        return chosen

    def write_config(self) -> Path:
        """The class directory's ``nbgrader_config.py``, for formgrader and plain nbgrader run
        there (:mod:`.formgrader`), and its page templates with offline maths."""
        from .feedback import local_mathjax
        from .formgrader import write_course_config, write_templates

        config = self.config()
        write_templates(self.root, local_mathjax())
        settings = {
            "CourseDirectory.root": str(self.root),
            "CourseDirectory.course_id": self.course_id,
            "CourseDirectory.db_url": config.CourseDirectory.db_url,
            "CourseDirectory.ignore": list(config.CourseDirectory.get("ignore", [])),
            "Execute.timeout": self.cell_timeout_s,
            "Exchange.root": str(self.exchange_root),
        }
        return write_course_config(self.root, settings)

    def release(self, assignment: str) -> None:
        """nbgrader release_assignment: copy release/<a>/ into the exchange."""
        self.require_assignment(assignment)
        self.ensure_exchange()
        check(
            self.api().release_assignment(assignment),
            f"release_assignment {assignment}",
            self.root / "logs",
        )

    def ensure_exchange(self) -> Path:
        """The exchange, created if missing as nbgrader creates it (everyone may write in it);
        CourseError, in one sentence, where that is not possible."""
        exchange = self.exchange_root
        try:
            if not exchange.exists():
                exchange.mkdir(parents=True)
                exchange.chmod(0o777)
            if not os.access(exchange, os.W_OK):
                raise PermissionError
        except OSError:
            raise CourseError(
                f"cannot write to the exchange {exchange}: create it once for everyone (as root: "
                f"mkdir -p {exchange} && chmod 1777 {exchange}), or name another with "
                "--exchange and give the students' nbgrader the same Exchange.root"
            ) from None
        return exchange

    def collect_exchange(self, assignment: str) -> None:
        """nbgrader collect: copy the exchange's inbound submissions into submitted/."""
        self.require_assignment(assignment)
        exchange = Path(self.config().Exchange.root)
        if not (exchange / self.course_id / "inbound").is_dir():
            raise CourseError(
                f"no submissions to collect: {exchange / self.course_id / 'inbound'}"
                " does not exist; release the assignment first (`course release`) "
                "or pass the exchange the students use (--exchange)"
            )
        check(self.api().collect(assignment), f"collect {assignment}", self.root / "logs")

    def release_feedback(self, assignment: str) -> int:
        """nbgrader release_feedback: put each student's feedback pages (``course feedback``)
        into the exchange, where ``nbgrader fetch_feedback`` finds them; returns how many."""
        self.require_assignment(assignment)
        pages = sorted((self.root / "feedback").glob(f"*/{assignment}/*.html"))
        if not pages:
            raise CourseError(
                f"no feedback for {assignment} yet: run `course feedback {assignment}` first"
            )
        check(
            self.api().release_feedback(assignment),
            f"release_feedback {assignment}",
            self.root / "logs",
        )
        return len(pages)


def check(result: dict, what: str, log_dir: Path | None = None) -> None:
    """Raise CourseError if an NbGraderAPI call failed: one sentence (the last line of nbgrader's
    error) and, with ``log_dir``, the path of a file holding nbgrader's whole log."""
    if result.get("success", False):
        return
    error, log_text = result.get("error") or "", result.get("log") or ""
    detail = (error + "\n" + log_text).strip()

    def last_line(text: str) -> str:  # the exception's own line, not the frames above it
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return next(
            (line for line in reversed(lines) if not line.startswith(("File ", "^", "~"))), ""
        )

    last = last_line(error) or last_line(log_text) or "no message"
    where = ""
    if log_dir is not None:
        with contextlib.suppress(OSError):
            log_dir.mkdir(parents=True, exist_ok=True)
            log = log_dir / f"nbgrader-{what.replace(' ', '-')}.log"
            log.write_text(detail + "\n")
            where = f"; nbgrader's full log is in {log}"
    raise CourseError(f"nbgrader {what} failed: {last[:300]}{where}")
