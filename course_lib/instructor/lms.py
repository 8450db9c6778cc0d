"""Bring in submissions exported by a learning-management system: a folder or a zip of notebooks.

The mapping rule from a file to a student (documented in the instructor guide):

1. Only ``*.ipynb`` files count, anywhere in the folder or zip; a path with a part starting
   with ``.`` (hidden files, ``../``) or ``__MACOSX`` is skipped. A file belongs to notebook
   ``NB`` of the assignment when its name, without ``.ipynb``, is ``NB`` or ends with ``_NB`` /
   ``-NB``. An assignment with a single notebook also takes any other ``.ipynb`` (students
   rename files).
2. The student key is the first ``_``-separated token of what precedes the notebook name -- in
   ``jdoe_12345_01_sequence_shapes.ipynb`` (Canvas: login_userid_...) it is ``jdoe``. A file
   named just ``NB.ipynb`` takes the key from its folder instead (Moodle exports one folder per
   student, ``Jane Doe_12345_assignsubmission_file_/``, whose key is ``Jane Doe``).
3. A CSV map (header ``key,student_id``) renames keys -- or whole file names -- to student ids.
   Without one, the id is the key lower-cased, with every character outside ``a-z0-9.-``
   replaced by ``-`` (``Jane Doe`` -> ``jane-doe``).
4. Two files for the same student and notebook: the newer one (file or zip-entry time) wins and
   the duplicate is reported.

Nothing is extracted by path (no zip-slip): each accepted member is read and written to
``submitted/<student>/<assignment>/<NB>.ipynb`` with nbgrader's ``timestamp.txt``.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .course import CourseError


@dataclass
class Imported:
    """What an import did: student -> notebooks written, plus files skipped and why."""

    students: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def read_map(path: Path) -> dict[str, str]:
    """Read a ``key,student_id`` CSV into a dict; clear errors for a malformed file."""
    with open(path, newline="") as f:
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
    return re.sub(r"[^a-z0-9.-]+", "-", key.strip().lower()).strip("-.")


def match(member: str, notebooks: list[str]) -> tuple[str, str] | None:
    """(student key, notebook) for one file path inside the export, or None if it is no notebook.

    >>> match("jdoe_12345_01_sequence_shapes.ipynb", ["01_sequence_shapes"])
    ('jdoe', '01_sequence_shapes')
    """
    path = PurePosixPath(member)
    if path.suffix != ".ipynb" or any(p.startswith((".", "__MACOSX")) for p in path.parts):
        return None
    stem = path.stem
    for notebook in sorted(notebooks, key=len, reverse=True):
        if stem == notebook:
            folder = path.parent.name
            return (folder.split("_")[0], notebook) if folder else None
        for sep in ("_", "-"):
            if stem.endswith(sep + notebook):
                prefix = stem[: -len(notebook) - 1]
                return prefix.split("_")[0], notebook
    if len(notebooks) == 1:  # a renamed file of a one-notebook assignment
        return stem.split("_")[0], notebooks[0]
    return None


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


def import_submissions(source: Path, submitted: Path, assignment: str, notebooks: list[str],
                       student_map: dict[str, str] | None = None) -> Imported:
    """Copy an LMS export into nbgrader's ``submitted/`` tree (see the module docstring)."""
    if not notebooks:
        raise CourseError(f"assignment {assignment!r} has no released notebooks")
    student_map = student_map or {}
    chosen: dict[tuple[str, str], tuple[float, str, bytes]] = {}
    result = Imported()
    for name, mtime, data in _members(Path(source)):
        found = match(name, notebooks)
        if found is None:
            result.skipped.append(f"{name}: not a notebook of {assignment}")
            continue
        key, notebook = found
        student = student_map.get(PurePosixPath(name).name) or student_map.get(key)
        student = student or normalise_id(key)
        if not student:
            result.skipped.append(f"{name}: no student id in the file name")
            continue
        previous = chosen.get((student, notebook))
        if previous is not None:
            older = name if mtime < previous[0] else previous[1]
            result.skipped.append(f"{older}: older duplicate for {student}/{notebook}")
            if mtime < previous[0]:
                continue
        chosen[(student, notebook)] = (mtime, name, data)
    for (student, notebook), (mtime, _, data) in sorted(chosen.items()):
        folder = submitted / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{notebook}.ipynb").write_bytes(data)
        stamp = dt.datetime.fromtimestamp(mtime, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        (folder / "timestamp.txt").write_text(stamp)
        result.students.setdefault(student, []).append(notebook)
    return result
