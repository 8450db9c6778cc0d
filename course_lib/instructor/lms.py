"""Bring in submissions exported by a learning-management system: a folder or a zip of notebooks.

The rule from a file to a student (documented in the instructor guide). Students are keyed by
the LMS's own ids; names are for display only, so two students with one name stay two:

1. Only ``*.ipynb`` files count, anywhere in the folder or zip; a path with a part starting
   with ``.`` (hidden files, ``../``) or ``__MACOSX`` is skipped.
2. **Canvas** names each file ``name_userid_submissionid_original.ipynb`` (``name_LATE_...``
   when late; resubmissions get ``-1``, ``-2`` before ``.ipynb``): the student is the user id.
   **Moodle** puts each submission in a folder ``Full Name_participantid_assignsubmission_file_``
   (with blind marking ``Participant N_...``): the student is the participant id. Anything else
   (a folder of ``jdoe-NB.ipynb`` or ``jdoe/NB.ipynb``) is keyed by the text before the notebook
   name, or by the folder of a file named just ``NB.ipynb``; such keys keep any letters, in any
   script (``Björn Ås`` -> ``björn-ås``).
3. The notebook: the original file name (without a Canvas version ``-1`` or a copy ``(1)``) is
   ``NB`` or ends with ``_NB``, ``-NB`` or `` NB``. An assignment with a single notebook also
   takes any other ``.ipynb`` (students rename files), but a file named for the notebook wins.
4. Two files for one student and notebook: the one named for the notebook wins over a renamed
   one, then the later submission (Canvas's submission id, else the file time); every other
   file is listed with its reason.
5. A CSV map (header ``key,student_id``) renames students: a key is an LMS id, a name, a key of
   rule 2 or a whole file name.

Nothing is extracted by path (no zip-slip): each accepted member is read and written to
``submitted/<student>/<assignment>/<NB>.ipynb`` with nbgrader's ``timestamp.txt``.

``course collect`` writes ``course/lms/<assignment>.csv`` (columns
:data:`STUDENT_LIST_COLUMNS`, read by :func:`read_student_list`): per imported student, the
name, the notebooks, where the student came from (``source``: canvas, moodle or file name) and
the LMS's own id (``lms_id``: Canvas user id, Moodle participant id; it differs from
``student_id`` when a map renamed the student). :mod:`.lms_export` sends grades back by them.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .course import CourseError

_CANVAS = re.compile(
    r"^(?P<name>[^_]+?)(?:_late)?_(?P<id>\d+)_(?P<order>\d+)_(?P<file>.+)$", re.IGNORECASE
)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_\w*$")
_MOODLE_BLIND = re.compile(r"^(?P<name>Participant (?P<id>\d+))_assignsubmission_\w*$")
_COPY = re.compile(r"(?:-\d+| ?\(\d+\))$")  # Canvas's resubmission -1, a download's " (1)"


@dataclass(frozen=True)
class Found:
    """Whose file it is, and which notebook: ``exact`` when its name is the notebook's."""

    student: str
    name: str
    notebook: str
    exact: bool
    order: float  # later submissions are larger (Canvas's submission id, else 0)
    source: str  # "canvas", "moodle" or "file name"


@dataclass
class Imported:
    """What an import did: student -> notebooks written, their display names, files skipped
    and why, and how many of those could not be attributed to any student."""

    students: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unattributed: int = 0
    sources: dict[str, str] = field(default_factory=dict)  # "canvas", "moodle", "file name"
    lms_ids: dict[str, str] = field(default_factory=dict)  # Canvas user / Moodle participant id


@dataclass(frozen=True)
class LmsStudent:
    """A row of ``lms/<assignment>.csv``: who an imported student is in their LMS. ``source``
    is "" in a list written before sources were recorded; ``lms_id`` is "" unless the source is
    Canvas or Moodle."""

    student: str
    name: str
    source: str
    lms_id: str


STUDENT_LIST_COLUMNS = ["student_id", "name", "notebooks", "source", "lms_id"]


def read_student_list(path: Path) -> dict[str, LmsStudent]:
    """student id -> :class:`LmsStudent` from ``lms/<assignment>.csv``; {} if there is none. A
    list from before ``source`` and ``lms_id`` were recorded reads with both empty."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return {}
    students = {}
    for row in rows:
        student = (row.get("student_id") or "").strip()
        if student:
            students[student] = LmsStudent(
                student,
                row.get("name") or "",
                (row.get("source") or "").strip(),
                (row.get("lms_id") or "").strip(),
            )
    return students


def read_map(path: Path) -> dict[str, str]:
    """Read a ``key,student_id`` CSV into a dict; clear errors for a malformed file."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"key", "student_id"} <= set(reader.fieldnames):
            raise CourseError(f"{path}: a student map needs the header 'key,student_id'")
        mapping = {}
        for row in reader:
            key, student = (row["key"] or "").strip(), (row["student_id"] or "").strip()
            if not key or not student:
                raise CourseError(f"{path}, line {reader.line_num}: empty key or student_id")
            mapping[key] = student
    return mapping


def normalise_id(key: str) -> str:
    """A folder-safe student id that keeps letters of any script: ``Jane Doe`` -> ``jane-doe``."""
    key = unicodedata.normalize("NFC", key).strip().lower()
    return re.sub(r"[^\w.-]+", "-", key).strip("-._")


def _notebook(file_stem: str, notebooks: list[str]) -> tuple[str, bool] | None:
    """(notebook, named for it) for a file's stem, or None."""
    stem = _COPY.sub("", file_stem)
    for notebook in sorted(notebooks, key=len, reverse=True):
        if stem == notebook or any(stem.endswith(sep + notebook) for sep in "_- "):
            return notebook, True
    return (notebooks[0], False) if len(notebooks) == 1 else None


def _ignored(member: str) -> bool:
    """Not a notebook, or hidden (``.x``, ``../``) or macOS metadata (``__MACOSX``)."""
    path = PurePosixPath(member)
    return path.suffix != ".ipynb" or any(p.startswith((".", "__MACOSX")) for p in path.parts)


def identify(member: str, notebooks: list[str]) -> Found | None:
    """Whose notebook a file of the export is (see the module docstring), or None.

    >>> identify("smithjohn_4242_9001_02_rnn_forward.ipynb", ["02_rnn_forward"]).student
    '4242'
    """
    path = PurePosixPath(member)
    if _ignored(member):
        return None
    for folder in reversed(path.parts[:-1]):
        moodle = _MOODLE_BLIND.match(folder) or _MOODLE.match(folder)
        if moodle:
            found = _notebook(path.stem, notebooks)
            return found and Found(moodle["id"], moodle["name"], *found, 0.0, "moodle")
    canvas = _CANVAS.match(path.stem)
    if canvas:
        found = _notebook(canvas["file"], notebooks)
        return found and Found(
            canvas["id"], canvas["name"], *found, float(canvas["order"]), "canvas"
        )
    found = _notebook(path.stem, notebooks)
    if found is None:
        return None
    notebook, exact = found
    prefix = _COPY.sub("", path.stem)[: -len(notebook)].rstrip("_- ") if exact else path.stem
    key = prefix or path.parent.name
    return Found(normalise_id(key), key, notebook, exact, 0.0, "file name") if key else None


def _members(source: Path) -> Iterator[tuple[str, float, bytes]]:
    """(relative name, modification time, bytes) of every file in a folder or a zip."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                yield path.relative_to(source).as_posix(), path.stat().st_mtime, path.read_bytes()
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    when = dt.datetime(*info.date_time).timestamp()
                    yield info.filename, when, archive.read(info)
    else:
        raise CourseError(f"{source} is neither a folder nor a zip file")


def import_submissions(
    source: Path,
    submitted: Path,
    assignment: str,
    notebooks: list[str],
    student_map: dict[str, str] | None = None,
) -> Imported:
    """Copy an LMS export into nbgrader's ``submitted/`` tree (see the module docstring)."""
    if not notebooks:
        raise CourseError(f"assignment {assignment!r} has no released notebooks")
    student_map = student_map or {}
    chosen: dict[tuple[str, str], tuple[tuple[bool, float, float], str, bytes, Found]] = {}
    result = Imported()
    for name, mtime, data in _members(Path(source)):
        if _ignored(name):
            result.skipped.append(f"{name}: not a notebook, or a hidden or system file")
            continue
        found = identify(name, notebooks)
        if found is None:
            result.unattributed += 1
            result.skipped.append(f"{name}: no student or no notebook of {assignment} in its name")
            continue
        base = PurePosixPath(name).name
        student = next(
            (student_map[k] for k in (base, found.student, found.name) if k in student_map),
            found.student,
        )
        rank = (found.exact, found.order, mtime)
        previous = chosen.get((student, found.notebook))
        if previous is not None:
            loser, winner = (name, previous[1]) if rank <= previous[0] else (previous[1], name)
            why = (
                "a renamed file; the student also submitted one named for the notebook"
                if found.exact != previous[3].exact
                else "an earlier submission"
            )
            result.skipped.append(f"{loser}: {why} ({winner} is used for {student})")
            if rank <= previous[0]:
                continue
        chosen[(student, found.notebook)] = (rank, name, data, found)
    for (student, notebook), (rank, _, data, found) in sorted(chosen.items()):
        folder = submitted / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{notebook}.ipynb").write_bytes(data)
        stamp = dt.datetime.fromtimestamp(rank[2], dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        (folder / "timestamp.txt").write_text(stamp)
        result.students.setdefault(student, []).append(notebook)
        result.names[student] = found.name
        result.sources[student] = found.source
        result.lms_ids[student] = found.student if found.source != "file name" else ""
    return result
