"""Generate the student notebooks (exercises/) from the nbgrader sources (solutions/).

``python -m course_lib.grading.release`` (what ``make exercises`` runs) calls nbgrader's own
``generate_assignment`` for every assignment in solutions/, with the repository's
``nbgrader_config.py``, then replaces ``exercises/<assignment>/`` with the result. The tests call
:func:`generate` on a copy in a temporary directory and compare it with exercises/.

Run it with the virtualenv's ``bin/`` on ``PATH``: nbgrader runs ``alembic`` from there.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"


def assignment_names(solutions: Path = SOLUTIONS) -> list[str]:
    """Assignments in ``solutions``: folders ``NN_name`` holding ``NN_name.ipynb``, sorted."""
    return sorted(p.parent.name for p in solutions.glob("*/*.ipynb") if p.stem == p.parent.name)


def load_config(root: Path) -> Config:
    """The repository's nbgrader configuration, with the course directory moved to ``root``.

    Paths in ``nbgrader_config.py`` are relative to the course root, except the gradebook URL,
    which sqlite would resolve against the working directory: it is made absolute under ``root``.
    """
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    config.CourseDirectory.root = str(root)
    gradebook = root / "build" / "nbgrader" / "gradebook.db"
    gradebook.parent.mkdir(parents=True, exist_ok=True)
    config.CourseDirectory.db_url = f"sqlite:///{gradebook}"
    return config


def generate(root: Path, names: list[str]) -> Path:
    """Run nbgrader ``generate_assignment`` for ``names`` in the course at ``root``.

    ``root`` must hold the sources under the configured source directory (``solutions/``).
    Returns the release directory, which then holds ``<name>/<name>.ipynb`` for each name.
    """
    from nbgrader.apps import NbGraderAPI  # slow to import; only needed here

    config = load_config(root)
    api = NbGraderAPI(config=config)
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{result['log']}")
    return root / config.CourseDirectory.release_directory


def update_exercises() -> list[str]:
    """Regenerate every assignment into ``exercises/``; returns the assignment names."""
    names = assignment_names()
    release = generate(REPO, names)
    for name in names:
        target = EXERCISES / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(release / name, target)
    return names


if __name__ == "__main__":
    done = update_exercises()
    print(f"exercises/: regenerated {', '.join(done)}", file=sys.stderr)
