"""Run a solution notebook with one mistake planted, as a student would in JupyterLab, and read
what the visible test cell and the hidden grading say about it.

Mistakes come from two files per exercise, both ``MISTAKES = {part: {label: change}}`` where a
change is ``{"find", "replace", "expect"?, "what"?}``:

- ``solutions/NN/mistakes.py`` — the declared mistakes A and B of every part;
- ``solutions/NN/student_mistakes.py`` — mistakes students make that nobody listed there.

``expect`` is a phrase whose presence in the message means the message *names* the mistake.
:func:`feedback_score` scores a message on the scale of the course's feedback issue:
2 names the mistake, 1 points the way (a checker's sentence about what is wrong, where),
0 bare (an assertion with no message, or nothing at all), −1 misleading (it names another
mistake).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import runpy
from dataclasses import dataclass
from typing import Any

import nbformat

from course_lib.grading import CheckFailed
from course_lib.grading.release import SOLUTIONS, assignment_names

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
FILES = {"declared": "mistakes.py", "student": "student_mistakes.py"}


@dataclass(frozen=True)
class Mistake:
    exercise: str
    part: str
    label: str
    find: str
    replace: str
    expect: str  # "" when no message can be expected to name it
    what: str
    kind: str  # "declared" or "student"


def mistakes(kind: str, exercise: str | None = None) -> list[Mistake]:
    """Every mistake of ``kind`` ("declared" or "student"), of one exercise or of all."""
    found = []
    for name in [exercise] if exercise else assignment_names():
        path = SOLUTIONS / name / FILES[kind]
        if not path.exists():
            continue
        for part, changes in runpy.run_path(str(path))["MISTAKES"].items():
            for label, change in changes.items():
                found.append(
                    Mistake(
                        name,
                        part,
                        label,
                        change["find"],
                        change["replace"],
                        change.get("expect", ""),
                        change.get("what", ""),
                        kind,
                    )
                )
    return found


def _cells(exercise: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(SOLUTIONS / exercise / f"{exercise}.ipynb", as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _grade_id(cell: nbformat.NotebookNode) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _strip(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in MARKERS)


def namespace(exercise: str, mistake: Mistake | None = None) -> dict[str, Any]:
    """The setup cell and every answer cell run in order, ``mistake`` planted in its part."""
    names: dict[str, Any] = {"__name__": "__main__"}
    for cell in _cells(exercise):
        meta = cell.metadata.get("nbgrader", {})
        if not (_grade_id(cell) == "setup" or meta.get("solution")):
            continue
        source = cell.source
        if mistake is not None and _grade_id(cell) == mistake.part:
            if source.count(mistake.find) != 1:
                count = source.count(mistake.find)
                raise ValueError(
                    f"{mistake.exercise} {mistake.part} {mistake.label}: `find` "
                    f"occurs {count} times in the cell"
                )
            source = source.replace(mistake.find, mistake.replace)
        exec(compile(_strip(source), f"<{_grade_id(cell)}>", "exec"), names)  # noqa: S102
    return names


def visible_cell(exercise: str, part: str) -> str:
    return next(c.source for c in _cells(exercise) if _grade_id(c) == f"{part}_visible")


@dataclass(frozen=True)
class Outcome:
    """What the student sees running the visible cell: ``checker`` is True for a CheckFailed."""

    raised: bool
    checker: bool
    message: str


def run_visible(exercise: str, part: str, mistake: Mistake | None = None) -> Outcome:
    """Run ``part``'s visible test cell after the answers (with ``mistake`` planted)."""
    names = namespace(exercise, mistake)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(visible_cell(exercise, part), "<visible>", "exec"), names)  # noqa: S102
    except CheckFailed as error:
        return Outcome(True, True, str(error))
    except Exception as error:  # noqa: BLE001 -- what the student would see
        return Outcome(True, False, f"{type(error).__name__}: {error}")
    return Outcome(False, False, "")


def hidden_earned(exercise: str, mistake: Mistake, seeds: tuple[int, ...] = (0, 1, 2)) -> float:
    """The fraction of the part's points the hidden tests give, the worst over ``seeds``."""
    module = importlib.import_module(f"course_lib.grading.ex{exercise}")
    fn = namespace(exercise, mistake)[mistake.part]
    return min(module.ASSIGNMENT.score(mistake.part, fn, points=1, seed=s).earned for s in seeds)


def feedback_score(outcome: Outcome, mistake: Mistake) -> int:
    """2 names the mistake, 1 points the way, 0 bare, −1 misleading (see the module doc)."""
    if not outcome.raised:
        return 0
    if mistake.expect and mistake.expect in outcome.message:
        return 2
    if "Likely mistake:" in outcome.message:
        return -1
    if outcome.checker or (outcome.message and not outcome.message.startswith("AssertionError")):
        return 1 if outcome.message.split(":", 1)[-1].strip() else 0
    return 0
