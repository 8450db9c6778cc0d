"""An assignment's graded parts, and the two calls its notebook's test cells make.

``check(part, fn)`` is for the *visible* test cells: one fixed seed, stops at the first failure
with a message the student can act on. ``grade(part, fn, points=...)`` is for the *hidden* test
cells nbgrader scores: fresh random seeds, every check of the part counted, partial credit
returned as the cell's value (nbgrader reads a number in a grade cell's output as its score).

Where the seeds come from: ``UNROLLED_GRADING_SEED`` when set (tests, a reproducible regrade);
else, while a class is graded, a key the grader sets with :func:`seeded` (a course secret, the
student and their submission's hash), so an unchanged submission gets the same cases on every
run; else a fresh random seed. The grader runs these test cells in its own process, so none of
this is visible to the student's code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .check import Check, Failure, run_check

#: Set this to an integer to make the hidden tests' "fresh" seeds reproducible (e.g. a regrade).
SEED_VARIABLE = "UNROLLED_GRADING_SEED"


class CheckFailed(AssertionError):
    """A graded function gave a wrong result; the message says what and how to reproduce it."""

    def _render_traceback_(self) -> list[str]:
        """What IPython (JupyterLab, nbgrader's Validate) shows instead of a traceback: the
        message is the whole story, and frames inside course_lib would only distract."""
        return [f"{type(self).__name__}: {self}"]


_seed_key: str | None = None


@contextlib.contextmanager
def seeded(key: str) -> Iterator[None]:
    """While active, :func:`fresh_seed` derives each part's seed from ``key`` (the grader's)."""
    global _seed_key
    saved, _seed_key = _seed_key, key
    try:
        yield
    finally:
        _seed_key = saved


def fresh_seed(part: str = "") -> int:
    """The seed of ``part``'s hidden cases: ``UNROLLED_GRADING_SEED`` if set, else derived from
    the key of :func:`seeded`, else a new random one."""
    fixed = os.environ.get(SEED_VARIABLE)
    if fixed:
        return int(fixed)
    if _seed_key is not None:
        digest = hashlib.sha256(f"{_seed_key}:{part}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 2**31
    return secrets.randbelow(2**31)


@dataclass(frozen=True)
class Verdict:
    """What the hidden tests of one part decided: points earned and the report behind them."""

    part: str
    earned: float
    points: float
    passed: int
    checks: int
    report: str


@contextlib.contextmanager
def _quiet_stderr() -> Any:
    """Route warnings and stderr to stdout: nbgrader scores a grade cell with stderr output 0."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        yield


def _reproduce(part: str, seed: int) -> str:
    return f"  Reproduce: tests.check({part!r}, {part}, seed={seed})"


class Assignment:
    """The graded parts of one exercise notebook.

    Args:
        name: the assignment id, e.g. ``"01_sequence_shapes"``.
        parts: part name (the student's function name) → the checks that grade it; a part's
            points are shared equally among its checks.
    """

    def __init__(self, name: str, parts: dict[str, Sequence[Check]]) -> None:
        self.name = name
        self.parts = {part: tuple(checks) for part, checks in parts.items()}

    def _checks(self, part: str) -> tuple[Check, ...]:
        if part not in self.parts:
            raise KeyError(f"{self.name} has no part {part!r}; parts: {', '.join(self.parts)}")
        return self.parts[part]

    def failures(self, part: str, fn: Callable[..., Any], seed: int) -> list[Failure | None]:
        """Run every check of ``part`` with ``seed``: one entry per check, ``None`` if it passed."""
        return [run_check(check, fn, seed) for check in self._checks(part)]

    def check(self, part: str, fn: Callable[..., Any], *, seed: int = 0) -> None:
        """Visible test: raise :class:`CheckFailed` at the first failing check of ``part``."""
        checks = self._checks(part)
        for check in checks:
            failure = run_check(check, fn, seed)
            if failure is not None:
                raise CheckFailed(f"{part} — {failure}\n{_reproduce(part, seed)}")
        print(f"{part}: all {len(checks)} checks passed on the random case with seed={seed}.")

    def score(
        self,
        part: str,
        fn: Callable[..., Any],
        *,
        points: float,
        trials: int = 2,
        seed: int | None = None,
    ) -> Verdict:
        """Score ``part`` out of ``points`` on ``trials`` fresh random cases per check.

        Each check earns its share of the points only if it passes on every trial.
        """
        base = fresh_seed(part) if seed is None else seed
        checks = self._checks(part)
        report = []
        passed = 0
        with _quiet_stderr():
            for check in checks:
                failure = next(
                    (f for t in range(trials) if (f := run_check(check, fn, base + t))), None
                )
                passed += failure is None
                report.append(
                    f"  ✓ {check.what}"
                    if failure is None
                    else f"  ✗ {failure}\n{_reproduce(part, failure.seed)}"
                )
        earned = round(points * passed / len(checks), 3)
        summary = f"{part}: {earned:g} / {points:g} points, {passed}/{len(checks)} checks passed\n"
        return Verdict(part, earned, points, passed, len(checks), summary + "\n".join(report))

    def grade(
        self,
        part: str,
        fn: Callable[..., Any],
        *,
        points: float,
        trials: int = 2,
        seed: int | None = None,
    ) -> float:
        """Hidden test: :meth:`score` the part, print the report, return the points earned (the
        cell's value, which nbgrader takes as partial credit); raises :class:`CheckFailed` when
        nothing passed, so the cell shows an error."""
        verdict = self.score(part, fn, points=points, trials=trials, seed=seed)
        if verdict.passed == 0:
            raise CheckFailed(verdict.report)
        print(verdict.report)
        return verdict.earned
