"""nbgrader cells for writing an assignment's source notebook from Python (or for tests).

Each function returns an nbformat cell carrying the nbgrader metadata of one cell kind from
nbgrader's "Create Assignment" toolbar; the cell id is the ``grade_id`` so that ids are stable
and readable. See :mod:`course_lib.grading` for the layout an assignment uses.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(
    grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None
) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(source: str, cell_id: str) -> NotebookNode:
    """Plain text for the student (not graded, editable)."""
    return new_markdown_cell(source, id=cell_id)


def readonly(source: str, grade_id: str) -> NotebookNode:
    """A locked code cell, e.g. the setup cell that imports the tests before any student code."""
    meta = _nbgrader(grade_id, solution=False, grade=False, locked=True)
    return new_code_cell(source, id=grade_id, metadata=meta)


def answer(source: str, grade_id: str) -> NotebookNode:
    """An autograded answer: ``### BEGIN SOLUTION`` … ``### END SOLUTION`` inside ``source``."""
    meta = _nbgrader(grade_id, solution=True, grade=False, locked=False)
    return new_code_cell(source, id=grade_id, metadata=meta)


def tests(source: str, grade_id: str, points: float) -> NotebookNode:
    """Autograder tests worth ``points`` (0 for visible tests; hidden ones carry the points)."""
    return new_code_cell(
        source,
        id=grade_id,
        metadata=_nbgrader(grade_id, solution=False, grade=True, locked=True, points=points),
    )


def notebook(cells: list[NotebookNode]) -> NotebookNode:
    """A notebook with the course's Python 3 kernel."""
    return new_notebook(
        cells=cells,
        metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
    )
