"""nbgrader's executor, replaced: a notebook's cells shared between grader and student process.

``Autograde.autograde_preprocessors`` is a list whose first item is nbgrader's ``Execute``; we
swap in :class:`SandboxExecute` and keep the rest. nbgrader still sanitizes before (restoring the
instructor's tests, hidden ones included, from its gradebook) and scores after; only how the
cells run changes (:func:`run_notebook`):

- a **test cell** (a graded cell of the release that is not an answer) runs in the grader, with
  the real checkers (:func:`course_lib.grading.remote.run_test_cell`); the student's functions it
  calls run in the student's process. Its outputs, so its score, are the grader's alone;
- a **locked cell** that is not a test (the setup) runs in both: the grader needs its imports
  and so does the student's code;
- every other cell is the student's and runs in the sandboxed student process.

Nothing the student's process prints, raises or sends changes a test cell's score: it can only
answer the calls the grader makes.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from nbformat import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import determine_grade

from course_lib.grading.assignment import seeded
from course_lib.grading.remote import (
    Outputs,
    RemoteNamespace,
    StudentDied,
    StudentTimeout,
    run_test_cell,
)

from .limits import Limits
from .normalise import cell_source, nbgrader_meta
from .sandbox import SandboxWorker

WITHHELD = "PointsWithheld"


class GraderError(Exception):
    """The grader itself failed on a notebook (its own copy of a setup cell raised)."""


@dataclass
class Execution:
    """How one notebook ran: ``status`` ``ok``, ``timeout`` or ``error`` (``reason`` says why),
    and each test cell's outcome and points as the grader decided them (before withholding)."""

    status: str = "ok"
    reason: str = ""
    seconds: float = 0.0
    tests: dict[str, str] = field(default_factory=dict)  # passed/partial/failed/not run
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # (earned, max)
    # Where the seconds went (for bench/bench_autograde.py): starting and ending the student's
    # process, and the cells of each role (a test cell's time includes the student's calls).
    stages: dict[str, float] = field(default_factory=dict)

    def spend(self, stage: str, since: float) -> float:
        """Add the time since ``since`` to ``stage``; return now."""
        now = time.monotonic()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - since, 4)
        return now


def _error(ename: str, evalue: str) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": [f"{ename}: {evalue}"],
    }


def _died(code: int | None, signal: int | None) -> str:
    names = {
        9: "SIGKILL (out of memory, or killed)",
        11: "SIGSEGV (segmentation fault)",
        6: "SIGABRT (aborted)",
        7: "SIGBUS",
    }
    if signal is not None:
        return f"the kernel died from signal {signal}: {names.get(signal, 'see signal(7)')}"
    return f"the kernel exited with status {code} (os._exit or sys.exit in the code?)"


def run_notebook(
    nb: NotebookNode,
    roles: dict[str, str],
    worker: SandboxWorker,
    files: dict[str, Path],
    *,
    limits: Limits,
    seed_key: str,
    workdir: Path,
    withhold: str = "",
) -> Execution:
    """Run ``nb``'s code cells (module docstring) and write their outputs into it, in place.

    ``withhold``: a reason to withhold every test cell's points (a tampered notebook): each
    gets a ``PointsWithheld`` error after the grader's verdict, so nbgrader records 0.
    """
    start = time.monotonic()
    run = Execution()
    session = worker.open_job(files)
    mark = run.spend("student process start", start)
    namespace = RemoteNamespace(session)
    for seed in (torch.manual_seed, np.random.seed, random.seed):
        seed(0)  # the grader's own draws (in a test's worked example) repeat on every run
    stopped = ""
    died = False
    count = 0
    try:
        with seeded(seed_key), contextlib.chdir(workdir):
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                role = roles.get(nbgrader_meta(cell).get("grade_id"), "student")
                outputs = Outputs(limits.output_bytes, stderr_as_stdout=role == "test")
                if stopped:
                    name = "TimeLimitExceeded" if run.status == "timeout" else "NotExecuted"
                    outputs.add(_error(name, stopped))
                else:
                    count += 1
                    try:
                        _run_cell(cell, role, namespace, outputs, limits)
                        mark = run.spend(f"{role} cells", mark)
                    except StudentTimeout:
                        run.status, stopped = (
                            "timeout",
                            (f"the notebook ran past its time limit of {limits.wall_s:g} s"),
                        )
                        outputs.add(_error("TimeLimitExceeded", stopped))
                    except StudentDied:
                        run.status, died = "error", True
                        stopped = "the kernel stopped before this cell"
                        outputs.add(_error("DeadKernel", "the kernel died while this cell ran"))
                for output in outputs.items:
                    if output["output_type"] == "execute_result":
                        output["execution_count"] = count
                cell.outputs = [from_dict(o) for o in outputs.items]
                cell.execution_count = count
    finally:
        mark = time.monotonic()
        code, signal = worker.end_job(session)
        run.spend("student process end", mark)
    if died:
        run.reason = _died(code, signal)
    elif run.status == "timeout":
        run.reason = stopped
    _score(nb, roles, run, withhold)
    run.seconds = round(time.monotonic() - start, 3)
    return run


def _run_cell(
    cell: NotebookNode, role: str, namespace: RemoteNamespace, outputs: Outputs, limits: Limits
) -> None:
    source = cell_source(cell)
    if role == "test":
        run_test_cell(source, namespace, outputs, f"<test cell {nbgrader_meta(cell)['grade_id']}>")
        return
    if role == "shared":
        own = Outputs(limits.output_bytes)
        if not run_test_cell(source, namespace, own, "<setup cell>"):
            error = next(o for o in own.items if o["output_type"] == "error")
            raise GraderError(
                f"the grader's copy of locked cell "
                f"{nbgrader_meta(cell)['grade_id']!r} raised {error['ename']}: "
                f"{error['evalue']}"
            )
    namespace.session.run_cell(source, outputs)


def _score(nb: NotebookNode, roles: dict[str, str], run: Execution, withhold: str) -> None:
    """Each test cell's points by nbgrader's own rule, then the withholding, if any."""
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if roles.get(meta.get("grade_id")) != "test":
            continue
        earned, top = determine_grade(cell)
        earned = float(earned or 0.0)
        run.scores[meta["grade_id"]] = (earned, float(top))
        enames = {o.get("ename") for o in cell.outputs if o.get("output_type") == "error"}
        if enames & {"TimeLimitExceeded", "NotExecuted", "DeadKernel"}:
            run.tests[meta["grade_id"]] = "not run"
        elif earned >= top:
            run.tests[meta["grade_id"]] = "passed"
        else:
            run.tests[meta["grade_id"]] = "partial" if earned > 0 else "failed"
        if withhold and top > 0:  # no partial credit to read, and an error: nbgrader records 0
            cell.outputs = [o for o in cell.outputs if o.output_type != "execute_result"]
            cell.outputs.append(
                from_dict(
                    _error(
                        WITHHELD,
                        f"{withhold}; these tests would have earned {earned:g} of {top:g} "
                        "points, withheld until an instructor reviews the notebook",
                    )
                )
            )


class SandboxExecute(NbGraderPreprocessor):
    """nbgrader's ``Execute``, replaced by :func:`run_notebook`.

    nbgrader builds preprocessors from traitlets config, so the grader sets ``run`` after
    construction: ``run(nb, notebook_name) -> None``, which executes ``nb`` in place.
    """

    run: Any

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self.run(nb, resources["nbgrader"]["notebook"])
        return nb, resources
