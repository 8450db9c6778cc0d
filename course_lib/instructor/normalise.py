"""A submitted notebook, checked and put in order against its release before nbgrader sees it.

nbgrader crashes on notebooks whose structure it did not make (a duplicated cell id, changed
metadata, a cell with an unknown grade id), so every submission is normalised first, and its
structure alone decides whether it was tampered with:

- **invalid**: an empty file, not JSON, not an nbformat-4 notebook, or a notebook none of whose
  cells belong to this assignment (another assignment's notebook). Graded 0, with that reason.
- **tampered**: a *protected* cell of the release (a test cell, or any locked cell such as the
  setup) was edited, deleted, duplicated, moved, or had its grading metadata changed; a cell
  was added that claims grading metadata (a "bonus" test); an answer cell's grading metadata
  was changed. The notebook is graded with the release's protected cells restored, and its
  points are withheld until an instructor clears it (``course clear``).
- anything else is **ok**, including a duplicated answer cell (every copy runs, in order, as in
  JupyterLab: the later definition wins), extra cells of the student's own, cells without ids,
  and cells stored as lists of lines.

The normalised notebook has the release's protected cells, the student's answers under the
release's metadata, unique cell ids and no outputs.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

MAX_NOTEBOOK_BYTES = 50 * 2**20
_FLAGS = ("grade", "solution", "locked", "task", "points")


@dataclass
class Structure:
    """What normalising one notebook found. ``notebook`` is None when it is invalid."""

    status: str  # "ok", "tampered" or "invalid"
    reasons: list[str] = field(default_factory=list)  # why it is tampered or invalid
    notes: list[str] = field(default_factory=list)  # harmless things put right
    notebook: dict[str, Any] | None = None


def nbgrader_meta(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's nbgrader metadata (grade_id, grade, solution, locked, points), or {}."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return meta if isinstance(meta, dict) else {}


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat files may store it as a list of lines)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def is_protected(cell: dict[str, Any]) -> bool:
    """Locked cells and test cells: the ones a student must leave as they were released."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked") or (meta.get("grade") and not meta.get("solution")))


def cell_roles(released: dict[str, Any]) -> dict[str, str]:
    """Release grade id -> ``test`` (a test cell: runs in the grader) or ``shared`` (a locked
    cell that is not a test, such as the setup: runs in the grader and the student's process).
    Every other cell is the student's."""
    roles = {}
    for cell in released["cells"]:
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and is_protected(cell):
            roles[meta["grade_id"]] = "test" if meta.get("grade") else "shared"
    return roles


def _flags(meta: dict[str, Any]) -> tuple:
    return tuple(bool(meta.get(k)) if k != "points" else float(meta.get(k) or 0) for k in _FLAGS)


def _claims_grading(meta: dict[str, Any]) -> bool:
    return bool(meta.get("grade") or meta.get("locked") or meta.get("task") or meta.get("points"))


def _plain(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell as the student wrote it, without grading metadata or outputs."""
    kind = cell.get("cell_type")
    metadata = (
        {k: v for k, v in (cell.get("metadata") or {}).items() if k != "nbgrader"}
        if isinstance(cell.get("metadata"), dict)
        else {}
    )
    plain: dict[str, Any] = {"cell_type": kind, "metadata": metadata, "source": cell_source(cell)}
    if kind == "code":
        plain.update(outputs=[], execution_count=None)
    elif isinstance(cell.get("attachments"), dict):
        plain["attachments"] = cell["attachments"]
    return plain


def _released_copy(cell: dict[str, Any]) -> dict[str, Any]:
    """A release cell as the normalised notebook holds it: source as one string, no outputs."""
    mine = copy.deepcopy(cell)
    mine["source"] = cell_source(cell)
    if mine.get("cell_type") == "code":
        mine.update(outputs=[], execution_count=None)
    return mine


def _invalid(reason: str) -> Structure:
    return Structure("invalid", [reason])


def normalise(raw: bytes, released: dict[str, Any], assignment: str) -> Structure:
    """Check ``raw`` (a submitted file's bytes) against ``released`` (see the module docstring)."""
    if not raw.strip():
        return _invalid("the file is empty")
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return _invalid(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        nb = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return _invalid(f"not a Jupyter notebook: it is not JSON ({str(exc)[:80]})")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return _invalid("not a Jupyter notebook: it has no list of cells")
    if nb.get("nbformat") != 4:
        return _invalid(f"not an nbformat 4 notebook (nbformat {nb.get('nbformat')!r})")
    release_cells = released["cells"]
    protected = {nbgrader_meta(c)["grade_id"]: c for c in release_cells if is_protected(c)}
    answers = {
        nbgrader_meta(c)["grade_id"]: c
        for c in release_cells
        if nbgrader_meta(c).get("solution") and not is_protected(c)
    }
    cells = [c for c in nb["cells"] if isinstance(c, dict)]
    ids = {nbgrader_meta(c).get("grade_id") for c in cells}
    if not ids & (set(protected) | set(answers)):
        return _invalid(
            f"none of its cells belong to {assignment}: is it another assignment's "
            "notebook, or one made from scratch?"
        )
    result = Structure("ok")
    tamper = result.reasons.append
    out: list[dict[str, Any]] = []
    placed: dict[str, int] = {}  # release grade id -> position in out
    dropped = len(nb["cells"]) - len(cells)
    for cell in cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            dropped += 1
            continue
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
        if grade_id in protected:
            mine = protected[grade_id]
            if grade_id in placed:
                tamper(f"cell {grade_id!r} duplicated")
                continue
            if (
                cell.get("cell_type") != mine["cell_type"]
                or cell_source(cell).rstrip() != cell_source(mine).rstrip()
            ):
                tamper(f"cell {grade_id!r} edited")
            elif _flags(meta) != _flags(nbgrader_meta(mine)):
                tamper(f"cell {grade_id!r}: its grading metadata was changed")
            placed[grade_id] = len(out)
            out.append(_released_copy(mine))
        elif grade_id in answers and grade_id not in placed:
            if _flags(meta) != _flags(nbgrader_meta(answers[grade_id])):
                tamper(f"answer cell {grade_id!r}: its grading metadata was changed")
            answer = _plain(cell)
            answer.update(
                cell_type=answers[grade_id]["cell_type"],
                metadata={
                    **answer["metadata"],
                    "nbgrader": copy.deepcopy(nbgrader_meta(answers[grade_id])),
                },
            )
            if answer["cell_type"] == "code":
                answer.setdefault("outputs", [])
                answer.setdefault("execution_count", None)
            placed[grade_id] = len(out)
            out.append(answer)
        else:
            if grade_id in answers:
                result.notes.append(
                    f"answer cell {grade_id!r} appears more than once; every copy ran, in order"
                )
            elif meta and _claims_grading(meta):
                tamper(f"a cell {grade_id or '(no id)'!r} with grading metadata was added")
            out.append(_plain(cell))
    if dropped:
        result.notes.append(f"{dropped} malformed cell(s) dropped")
    _restore_missing(release_cells, protected, placed, out, tamper)
    order = [grade_id for grade_id in protected if grade_id in placed]
    found = sorted(
        order,
        key=lambda g: next(i for i, c in enumerate(out) if nbgrader_meta(c).get("grade_id") == g),
    )
    if found != order:
        tamper("protected cells were moved out of their order")
    if result.reasons:
        result.status = "tampered"
    result.notebook = {
        "cells": _with_unique_ids(out),
        "metadata": copy.deepcopy(released.get("metadata", {})),
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return result


def _restore_missing(
    release_cells: list[dict[str, Any]],
    protected: dict[str, Any],
    placed: dict[str, int],
    out: list[dict[str, Any]],
    tamper: Any,
) -> None:
    """Put each deleted protected cell back after the release cell that precedes it."""
    for position, cell in enumerate(release_cells):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id not in protected or grade_id in placed:
            continue
        tamper(f"cell {grade_id!r} deleted")
        before = [nbgrader_meta(c).get("grade_id") for c in release_cells[:position]]
        anchor = next((g for g in reversed(before) if g in placed), None)
        index = 0 if anchor is None else _index_of(out, anchor) + 1
        out.insert(index, _released_copy(cell))
        placed[grade_id] = index


def _index_of(cells: list[dict[str, Any]], grade_id: str) -> int:
    return next(i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id") == grade_id)


def _with_unique_ids(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cell ids as nbformat 4.5 wants them: unique, 1-64 of ``[a-zA-Z0-9-_]``."""
    seen: set[str] = set()
    for cell in cells:
        cell_id = cell.get("id")
        valid = (
            isinstance(cell_id, str)
            and 0 < len(cell_id) <= 64
            and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in cell_id)
        )
        if not valid or cell_id in seen:
            cell_id = uuid.uuid4().hex[:12]
        cell["id"] = cell_id
        seen.add(cell_id)
    return cells
