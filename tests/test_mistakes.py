"""Mistakes students make, planted one at a time in the solutions: every one is caught by the
hidden tests, the visible cell answers it with the checker's sentence (never a bare assert),
and where the mistake declares the phrase that names it, the visible cell says it.

The mistakes live in ``solutions/NN/student_mistakes.py`` (see ``tests/_mistakes.py``); the
declared mistakes A and B of ``mistakes.py`` are graded for real in test_exercises.py, and
here through the visible cell. ``bench/feedback_scores.py`` scores the same messages.
"""

from __future__ import annotations

import pytest
from _mistakes import hidden_earned, mistakes, run_visible

from course_lib.grading.release import assignment_names

STUDENT = mistakes("student")
DECLARED = mistakes("declared")


def _ids(found: list) -> list[str]:
    return [f"{m.exercise[:2]}-{m.part}-{m.label}" for m in found]


def test_enough_student_mistakes_for_every_part() -> None:
    assert len(STUDENT) >= 60
    for name in assignment_names():
        module = __import__(f"course_lib.grading.ex{name}", fromlist=["ASSIGNMENT"])
        covered = {m.part for m in STUDENT if m.exercise == name}
        assert covered == set(module.ASSIGNMENT.parts), f"{name}: parts without a mistake"


@pytest.mark.parametrize("mistake", STUDENT, ids=_ids(STUDENT))
def test_student_mistake_is_caught_and_explained(mistake) -> None:
    assert mistake.what, "say what the student did"
    assert hidden_earned(mistake.exercise, mistake) < 1, "the hidden tests give full marks"
    outcome = run_visible(mistake.exercise, mistake.part, mistake)
    assert outcome.raised and outcome.checker, f"the visible cell said: {outcome.message!r}"
    if mistake.expect:
        assert mistake.expect in outcome.message, f"does not name it:\n{outcome.message}"
    else:  # not named: then it must not name something else either
        assert "Likely mistake:" not in outcome.message, outcome.message


@pytest.mark.parametrize("mistake", DECLARED, ids=_ids(DECLARED))
def test_declared_mistake_is_named_by_the_visible_cell(mistake) -> None:
    outcome = run_visible(mistake.exercise, mistake.part, mistake)
    assert outcome.checker and mistake.expect in outcome.message, outcome.message


@pytest.mark.parametrize("name", assignment_names())
def test_the_solution_passes_every_visible_cell(name: str) -> None:
    """The control: without a mistake, every visible cell runs through."""
    for part in __import__(f"course_lib.grading.ex{name}", fromlist=["x"]).ASSIGNMENT.parts:
        outcome = run_visible(name, part)
        assert not outcome.raised, f"{part}: {outcome.message}"
