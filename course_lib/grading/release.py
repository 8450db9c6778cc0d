"""Generate the student notebooks (exercises/) from the nbgrader sources (solutions/).

``python -m course_lib.grading.release`` (what ``make exercises`` runs) sets up a class
directory under ``build/`` with :class:`course_lib.instructor.course.Course` -- the same driver
``course setup`` and the tests use, so one configuration makes every release -- and replaces
``exercises/<assignment>/`` with what nbgrader's ``generate_assignment`` released.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"


def assignment_names(solutions: Path = SOLUTIONS) -> list[str]:
    """Assignments in ``solutions``: folders ``NN_name`` holding ``NN_name.ipynb``, sorted."""
    return sorted(p.parent.name for p in solutions.glob("*/*.ipynb") if p.stem == p.parent.name)


def generate(root: Path, names: list[str]) -> Path:
    """Release ``names`` from solutions/ in a class directory at ``root``; returns its
    ``release/`` directory, which then holds ``<name>/<name>.ipynb`` for each name."""
    from course_lib.instructor.course import Course  # nbgrader is slow to import

    course = Course(root, solutions=SOLUTIONS)
    course.setup(names)
    return course.root / "release"


def update_exercises() -> list[str]:
    """Regenerate every assignment into ``exercises/``; returns the assignment names."""
    names = assignment_names()
    root = REPO / "build" / "exercises-course"
    shutil.rmtree(root, ignore_errors=True)
    release = generate(root, names)
    for name in names:
        target = EXERCISES / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(release / name, target)
    return names


if __name__ == "__main__":
    done = update_exercises()
    print(f"exercises/: regenerated {', '.join(done)}", file=sys.stderr)
