"""nbgrader's executor, replaced: run the sanitized notebook in a sandbox, then let nbgrader score.

``Autograde.autograde_preprocessors`` is a list whose first item is nbgrader's ``Execute``; we
swap in :class:`SandboxExecute` and keep the rest (IgnorePattern, LimitOutput, SaveAutoGrades...)
as they are. nbgrader still sanitizes before (ClearOutput, OverwriteCells restoring the
instructor's tests, ...) and scores after; only where the code runs changes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from nbformat import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor

from .sandbox import Execution, SandboxWorker

_REQUIRED = {
    "stream": {"name": str, "text": str},
    "display_data": {"data": dict, "metadata": dict},
    "execute_result": {"data": dict, "metadata": dict},
    "error": {"ename": str, "evalue": str, "traceback": list},
}


def _valid(output: dict[str, Any]) -> bool:
    """An output the child sent is kept only if it is well-formed nbformat (it may be forged)."""
    required = _REQUIRED.get(output.get("output_type"))  # type: ignore[arg-type]
    return required is not None and all(isinstance(output.get(k), t) for k, t in required.items())


def _coalesce(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive stream outputs of the same name, as Jupyter does."""
    merged: list[dict[str, Any]] = []
    for output in filter(_valid, outputs):
        last = merged[-1] if merged else None
        if (last is not None and output["output_type"] == "stream" == last["output_type"]
                and output["name"] == last["name"]):
            last["text"] += output["text"]
        else:
            merged.append(dict(output))
    return merged


def _error(ename: str, evalue: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"{ename}: {evalue}"]}


def apply_execution(nb: NotebookNode, execution: Execution) -> None:
    """Write an :class:`Execution`'s outputs into ``nb``'s code cells, in place.

    A cell that never finished (time limit, dead kernel) gets an error output saying why, so
    nbgrader scores its test as failed instead of as passed-with-no-output; a cell that failed
    without showing an error (a hidden traceback) gets one too; both it and a ``TamperError``
    from the checkers' guard are noted in ``execution.tampering``. A kernel that exited cleanly
    before the last cell (``os._exit(0)``) turns an ``ok`` execution into an ``error``.
    """
    unfinished = [i for i, cell in enumerate(nb.cells)
                  if cell.cell_type == "code" and i not in execution.finished]
    if execution.status == "ok" and unfinished:
        execution.status = "error"
        execution.reason = f"the kernel exited before cell {unfinished[0]} (os._exit(0)?)"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = _coalesce(execution.outputs.get(index, []))
        for output in outputs:
            if output["output_type"] == "execute_result":
                output["execution_count"] = execution.counts.get(index)
        has_error = any(o["output_type"] == "error" for o in outputs)
        if index not in execution.finished:
            if execution.status == "timeout":
                outputs.append(_error("TimeLimitExceeded", execution.reason))
            else:
                outputs.append(_error("NotExecuted", execution.reason
                                      or "the notebook stopped before this cell"))
        elif not execution.finished[index] and not has_error:
            outputs.append(_error("HiddenError", "the cell failed but its error was suppressed"))
            execution.tampering.append(f"cell {index}: an error was raised but not shown")
        tamper_errors = [o for o in outputs
                         if o["output_type"] == "error" and o["ename"] == "TamperError"]
        if tamper_errors:  # the checkers' guard saw a library or checker function rebound
            execution.tampering.append(f"cell {index}: {tamper_errors[0]['evalue'][:200]}")
        cell.outputs = [from_dict(o) for o in outputs]
        cell.execution_count = execution.counts.get(index)
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            execution.tests[meta["grade_id"]] = _test_outcome(outputs)


def _test_outcome(outputs: list[dict[str, Any]]) -> str:
    """What happened to one test cell, by nbgrader's rule (an error or stderr output fails)."""
    enames = {o["ename"] for o in outputs if o["output_type"] == "error"}
    if enames & {"TimeLimitExceeded", "NotExecuted"}:
        return "not run"
    if "TamperError" in enames:
        return "tampered"
    failed = enames or any(o["output_type"] == "stream" and o["name"] == "stderr"
                           for o in outputs)
    return "failed" if failed else "passed"


class SandboxExecute(NbGraderPreprocessor):
    """Runs the notebook in ``worker`` while ``gradebook_lock`` is released.

    Set ``worker``, ``gradebook_lock`` and ``files_dir`` after construction (nbgrader builds
    preprocessors from traitlets config, so they are plain attributes, not traits).
    ``executions`` collects one :class:`Execution` per notebook name for the status record.
    """

    worker: SandboxWorker
    gradebook_lock: threading.Lock
    files_dir: Path
    executions: dict[str, Execution]

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        files = {p.relative_to(self.files_dir).as_posix(): p
                 for p in self.files_dir.rglob("*")
                 if p.is_file() and p.suffix != ".ipynb" and p.name != "timestamp.txt"}
        # The sandbox run is the slow part: let the other worker use the gradebook meanwhile.
        self.gradebook_lock.release()
        try:
            execution = self.worker.run(nb, files)
        finally:
            self.gradebook_lock.acquire()
            # nbgrader wraps execution in utils.setenv(NBGRADER_EXECUTION=...), whose exit
            # deletes the variable: if the other worker's exit ran while we were unlocked, put
            # it back so ours finds it (every enter/exit happens under the lock).
            os.environ["NBGRADER_EXECUTION"] = "autograde"
        apply_execution(nb, execution)
        self.executions[resources["nbgrader"]["notebook"]] = execution
        return nb, resources
