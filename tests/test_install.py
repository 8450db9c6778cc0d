"""An ordinary, non-editable `pip install` of the project, in a fresh virtual environment.

What a student or an instructor gets without the checkout: the library and its data, JupyterLab
with nbgrader (Validate, formgrader) and a kernel, and a `course` command that starts, finds the
course's settings in the package, and releases nothing of a solution folder but its notebook.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# This session's environment (pip's settings among it), without what points at the checkout.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path) -> str:
    """``command``'s output; run away from the checkout, so that only the install is found."""
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1200,
        env=CLEAN_ENV,
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_a_plain_pip_install_works_for_every_role(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: the build writes next to the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "course_lib", source / "course_lib", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = tmp_path / "env"
    venv.create(env, with_pip=True)
    python, bin_dir = env / "bin" / "python", env / "bin"
    run(python, "-m", "pip", "install", "--quiet", str(source), cwd=tmp_path)

    where = run(
        python,
        "-c",
        "import course_lib, nbgrader, ipykernel, jupyterlab, traitlets; print(course_lib.__file__)",
        cwd=tmp_path,
    ).strip()
    assert where.startswith(str(env)), where  # the installed copy, not the checkout
    # a student's data ships with the install: chapter 7's plays inside the package, the digits
    # and MNIST subset in its dependencies (nothing is downloaded)
    code = (
        "from course_lib import data; print(len(data.load_shakespeare('hamlet')), "
        "len(data.shakespeare_plays()), data.load_mnist_subset()[0].shape[0], "
        "len(data.load_digits_sequences()[0]))"
    )
    hamlet, plays, mnist, digits = map(int, run(python, "-c", code, cwd=tmp_path).split())
    assert (hamlet > 100_000, plays, mnist, digits) == (True, 38, 5000, 1797)
    # a student's JupyterLab has nbgrader's extension (Validate, the assignment list)
    listed = subprocess.run(
        [bin_dir / "jupyter", "server", "extension", "list"],
        cwd=tmp_path,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    extensions = listed.stdout + listed.stderr  # jupyter prints this list on stderr
    assert "nbgrader.server_extensions.validate_assignment" in extensions
    assert "autograde" in run(bin_dir / "course", "--help", cwd=tmp_path)
    # an instructor's class from the project's solutions: the package's own settings apply
    course = tmp_path / "course"
    run(
        bin_dir / "course",
        "--course-dir",
        course,
        "--solutions",
        ROOT / "solutions",
        "--exchange",
        tmp_path / "exchange",
        "setup",
        "01_sequence_shapes",
        cwd=tmp_path,
    )
    config = (course / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'unrolled'" in config
    assert "c.Execute.timeout = 60" in config
    for folder in ("source", "release"):
        shipped = sorted(p.name for p in (course / folder / "01_sequence_shapes").rglob("*"))
        assert shipped == ["01_sequence_shapes.ipynb"], (folder, shipped)
