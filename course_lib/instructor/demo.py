"""A synthetic class: submissions built to earn a known status and score, then graded.

Each :data:`KINDS` entry turns the released notebook (and the instructor's solutions) into one
student's submission and says what it should earn, as ``(status, score)`` where the score is
computed from the notebook's own points, never from running it:

- ``full``: every test's points; ``tail``: the points of the tests after the last solution cell
  (a student who breaks the last solution loses exactly those, since the tests run in order).

``make demo-class`` runs :func:`main`: ~60 students over two assignments, graded end to end by
``course autograde``, printed as a status table next to what each student was built to earn.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .autograde import Record, autograde
from .course import PROJECT_ROOT, Course
from .grades import write_grades
from .limits import Limits
from .normalise import cell_source, nbgrader_meta

Notebook = dict[str, Any]


@dataclass(frozen=True)
class Points:
    """The points a notebook offers: all tests, and the tests after its last solution cell."""

    full: float
    tail: float


def _is_test(cell: dict[str, Any]) -> bool:
    return bool(nbgrader_meta(cell).get("grade")) and not nbgrader_meta(cell).get("solution")


def _is_solution(cell: dict[str, Any]) -> bool:
    return bool(nbgrader_meta(cell).get("solution")) and cell.get("cell_type") == "code"


def points(released: Notebook) -> Points:
    cells = released["cells"]
    last = max(i for i, c in enumerate(cells) if _is_solution(c))
    tests = [
        (i, float(nbgrader_meta(c).get("points", 0))) for i, c in enumerate(cells) if _is_test(c)
    ]
    return Points(sum(p for _, p in tests), sum(p for i, p in tests if i > last))


def _solved(released: Notebook, solution: Notebook, *, skip_last: bool = False) -> Notebook:
    """The released notebook with the instructor's solutions pasted into its solution cells."""
    answers = {
        nbgrader_meta(c).get("grade_id"): cell_source(c)
        for c in solution["cells"]
        if _is_solution(c)
    }
    nb = copy.deepcopy(released)
    solution_cells = [c for c in nb["cells"] if _is_solution(c)]
    for cell in solution_cells[:-1] if skip_last else solution_cells:
        cell["source"] = answers[nbgrader_meta(cell)["grade_id"]]
    return nb


def _append_to_solution(nb: Notebook, code: str, *, last: bool = True) -> Notebook:
    cells = [c for c in nb["cells"] if _is_solution(c)]
    cell = cells[-1] if last else cells[0]
    cell["source"] = cell_source(cell) + "\n" + code
    return nb


def _prepend_to_first_solution(nb: Notebook, code: str) -> Notebook:
    cell = next(c for c in nb["cells"] if _is_solution(c))
    cell["source"] = code + "\n" + cell_source(cell)
    return nb


def _delete_first_test(nb: Notebook) -> Notebook:
    first = next(i for i, c in enumerate(nb["cells"]) if _is_test(c))
    del nb["cells"][first]
    return nb


def _edit_tests(nb: Notebook) -> Notebook:
    for cell in nb["cells"]:
        if _is_test(cell):
            cell["source"] = "pass  # tests? what tests?"
    return nb


SNOOP = """
import glob, os, socket
for pattern in ["/work/*", "/root/*", "/home/*", "/tmp/*", "/srv/*"]:
    print(pattern, glob.glob(pattern)[:5])
try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    print("network: reached pypi.org")
except OSError as exc:
    print("network:", exc)
"""
MONKEYPATCH = """
import numpy, torch
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.isclose = lambda *a, **k: torch.tensor(True)
torch.testing.assert_close = lambda *a, **k: None
"""

# kind -> (build the submission (None: no notebook; bytes: raw file), expected status, score)
Build = Callable[[Notebook, Notebook], Notebook | bytes | None]
KINDS: dict[str, tuple[Build, str, Callable[[Points], float]]] = {
    "correct": (lambda r, s: _solved(r, s), "ok", lambda p: p.full),
    "partial": (lambda r, s: _solved(r, s, skip_last=True), "ok", lambda p: p.full - p.tail),
    "blank": (lambda r, s: copy.deepcopy(r), "ok", lambda p: 0.0),
    "hanging": (
        lambda r, s: _append_to_solution(_solved(r, s), "import time\ntime.sleep(10**6)"),
        "timeout",
        lambda p: p.full - p.tail,
    ),
    "crashing": (
        lambda r, s: _append_to_solution(_solved(r, s), "import os\nos._exit(3)"),
        "error",
        lambda p: p.full - p.tail,
    ),
    "segfault": (
        lambda r, s: _append_to_solution(_solved(r, s), "import ctypes\nctypes.string_at(0)"),
        "error",
        lambda p: p.full - p.tail,
    ),
    "flooding": (
        lambda r, s: _append_to_solution(_solved(r, s), "print('spam ' * 2_000_000)", last=False),
        "ok",
        lambda p: p.full,
    ),
    # A protected cell changed: graded, but its points wait for an instructor (course clear).
    "deleted-test": (lambda r, s: _delete_first_test(_solved(r, s)), "tampered", lambda p: 0.0),
    "edited-tests": (lambda r, s: _edit_tests(copy.deepcopy(r)), "tampered", lambda p: 0.0),
    # Tricks on the student's own process: the tests run in the grader, so they earn nothing.
    "hidden-errors": (
        lambda r, s: _prepend_to_first_solution(
            copy.deepcopy(r), "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"
        ),
        "ok",
        lambda p: 0.0,
    ),
    "emptied-cells": (
        lambda r, s: _prepend_to_first_solution(
            copy.deepcopy(r), "get_ipython().input_transformers_cleanup.append(lambda lines: [])"
        ),
        "ok",
        lambda p: 0.0,
    ),
    "monkeypatch": (
        lambda r, s: _prepend_to_first_solution(copy.deepcopy(r), MONKEYPATCH),
        "ok",
        lambda p: 0.0,
    ),
    "snooping": (
        lambda r, s: _prepend_to_first_solution(copy.deepcopy(r), SNOOP),
        "ok",
        lambda p: 0.0,
    ),
    "missing": (lambda r, s: None, "missing", lambda p: 0.0),
    "invalid": (lambda r, s: b'{"cells": [ this is not json', "invalid", lambda p: 0.0),
}

# How often each kind appears in a demo class (the rest are drawn in these proportions).
MIX = {
    "correct": 10,
    "partial": 4,
    "blank": 2,
    "hanging": 1,
    "crashing": 1,
    "segfault": 1,
    "flooding": 1,
    "deleted-test": 1,
    "edited-tests": 1,
    "hidden-errors": 1,
    "emptied-cells": 1,
    "monkeypatch": 1,
    "snooping": 1,
    "missing": 1,
    "invalid": 1,
}


@dataclass(frozen=True)
class Expected:
    kind: str
    status: str
    score: float


def make_submissions(course: Course, assignment: str, kinds: dict[str, str]) -> dict[str, Expected]:
    """Write one submission per ``student -> kind`` into submitted/; return what each earns.

    The assignment must have one notebook (all the course's exercises do).
    """
    (notebook,) = course.notebooks(assignment)
    released = json.loads((course.root / "release" / assignment / f"{notebook}.ipynb").read_text())
    solution = json.loads((course.root / "source" / assignment / f"{notebook}.ipynb").read_text())
    offered = points(released)
    expected = {}
    for student, kind in kinds.items():
        build, status, score = KINDS[kind]
        folder = course.root / "submitted" / student / assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        made = build(released, solution)
        if isinstance(made, bytes):
            (folder / f"{notebook}.ipynb").write_bytes(made)
        elif made is not None:
            (folder / f"{notebook}.ipynb").write_text(json.dumps(made, indent=1))
        else:
            (folder / "README.txt").write_text("I forgot to attach my notebook.\n")
        expected[student] = Expected(kind, status, score(offered))
    return expected


def class_kinds(size: int, seed: int = 0) -> dict[str, str]:
    """``size`` students: every kind at least once, the rest drawn from :data:`MIX`."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    while len(kinds) < size:
        kinds += rng.choices(list(MIX), weights=list(MIX.values()), k=size - len(kinds))
    rng.shuffle(kinds)
    return {f"student{i + 1:03d}": kind for i, kind in enumerate(kinds[:size])}


def table(records: list[Record], expected: dict[str, Expected]) -> tuple[str, int]:
    """A text table of every student (got vs built-to-earn) and the number of mismatches."""
    lines = [f"{'student':<11} {'kind':<14} {'status':<9} {'score':>11} {'expected':>17}  reason"]
    wrong = 0
    for record in records:
        want = expected[record.student]
        ok = record.status == want.status and abs(record.score - want.score) < 1e-9
        wrong += not ok
        lines.append(
            f"{record.student:<11} {want.kind:<14} {record.status:<9} "
            f"{record.score:>5g}/{record.max_score:<5g} {want.status:>9} {want.score:>5g}"
            f"{'' if ok else '  <-- MISMATCH'}  {record.reason[:60]}"
        )
    return "\n".join(lines), wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course-dir", type=Path, default=PROJECT_ROOT / "build" / "demo-class")
    parser.add_argument("--students", type=int, default=30, help="per assignment")
    parser.add_argument(
        "--assignments", nargs="*", default=["01_sequence_shapes", "02_rnn_forward"]
    )
    parser.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args(argv)
    shutil.rmtree(args.course_dir, ignore_errors=True)
    course = Course(args.course_dir)
    available = [a for a in args.assignments if (course.solutions / a).is_dir()]
    if not available:
        print(f"none of {args.assignments} exists in {course.solutions}", file=sys.stderr)
        return 2
    course.setup(available)
    mismatches = 0
    for offset, assignment in enumerate(available):
        expected = make_submissions(course, assignment, class_kinds(args.students, seed=offset))
        start = time.perf_counter()
        records = autograde(course, assignment, limits=Limits(wall_s=args.time_limit))
        seconds = time.perf_counter() - start
        text, wrong = table(records, expected)
        mismatches += wrong
        counts = Counter(r.status for r in records)
        print(
            f"\n== {assignment}: {len(records)} students in {seconds:.1f} s; "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        )
        print(text)
        csv_path = write_grades(course, assignment)
        print(f"grades: {csv_path}")
    print(f"\n{mismatches} student(s) graded differently from what they were built to earn")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
