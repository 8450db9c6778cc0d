"""Checkers for the exercise notebooks: the student's function against a course_lib reference.

How a check works (:mod:`.check`): draw a fresh random case from a seed, in float64; run the
reference on :func:`course_lib.device.default_device` (the GPU when present) and the student's
function on a copy of the same case on the same device (or as numpy arrays for numpy parts);
compare (:mod:`.compare`); on a mismatch, run the reference's named *variants* — the reference
with one plausible mistake built in (:mod:`.variants`) — and name the one the student's output
matches, or, when none does, say where and how the result is wrong (:mod:`.diagnose`: which
outputs, time steps, rows or gate blocks; a factor, a sign, a transpose, a reversal). Every
failure message ends with the seed that reproduces it; an error inside the checker itself is
reported as one sentence ("the checker could not compare ..."), never as a traceback.

Where checks run: in a student's JupyterLab (and nbgrader's Validate) the test cells call them
in the notebook's own process, for instant feedback. When a class is graded
(``course autograde``), the test cells run in the *grader*, a process the student's code cannot
reach, and the student's functions run in a sandboxed process of their own: the grader sends
the arguments, gets back only the results (:mod:`.wire`, :mod:`.remote`), and every point comes
from the grader's comparison. The same code gives both verdicts.

Writing a new assignment ``NN_name``
====================================

1. **Checks** — ``course_lib/grading/exNN_name.py`` (see ``ex01_sequence_shapes.py``)::

       PART_A = (Check("what it covers", reference, make_case, variants, numpy=...), ...)
       ASSIGNMENT = Assignment("NN_name", {"part_a": PART_A, ...})
       check = ASSIGNMENT.check      # visible tests: tests.check("part_a", part_a)
       grade = ASSIGNMENT.grade      # hidden tests:  grade("part_a", part_a, points=3)
       GIVEN = {"TinyLM": TinyLM}    # optional: what `tests.` gives students (course_lib.models)

   A part is named after the function the student writes; its checks share its points equally.
   ``make_case(generator) -> Case(args_by_name, options)`` builds small float64 CPU tensors
   (keep every test cell under 2 s); its values must cross to the student's process
   (:mod:`.wire`: arrays, tensors, numbers, containers, the modules of ``wire.MODULES``).
   Variants: ``with_inputs(ref, "W_h is used transposed",
   W_h=transpose)``, ``with_output(ref, "tanh is missing", lambda out, args: ...)``, or any
   ``Variant(mistake, fn)``. Use ``observe=`` to compare something other than the return value,
   and ``stand_ins={"earlier_part": reference}`` when the student's function calls the function
   of an earlier part, so that one mistake is not paid for twice.

2. **Notebook** — ``solutions/NN_name/NN_name.ipynb``, an nbgrader source notebook (cells can be
   built with :mod:`.notebook`; ``cell id == grade_id``):

   - markdown intro with a link to ``../../book/_build/html/chapters/NN_name.html``;
   - ``setup`` — read-only (locked) code cell, *first* code cell, run before any student code::

         import numpy as np
         import torch
         from course_lib.grading import exNN_name as tests

   - per part ``P``, in this order:
       ``P`` — autograded answer: the function between ``### BEGIN SOLUTION`` /
       ``### END SOLUTION`` (nbgrader replaces it with ``raise NotImplementedError()``);
       ``P_visible`` — autograder tests, **0 points**: ``tests.check("P", P)`` first (on a
       failure it names the mistake), then a worked example the student can follow, every
       ``assert`` with a message;
       ``P_hidden`` — autograder tests carrying the part's points, a separate cell so that a
       visible traceback never shows hidden code::

           # Hidden tests for P (3 points), run when the notebook is graded.
           ### BEGIN HIDDEN TESTS
           from course_lib.grading import exNN_name as _hidden_tests
           _hidden_tests.grade("P", P, points=3)
           ### END HIDDEN TESTS

     The ``points=`` argument must equal the cell's nbgrader points: ``grade`` returns the
     points earned as the cell's value, which nbgrader reads as partial credit.
     Test cells run in the grader when a class is graded: they may use the setup cell's
     names and the student's functions, not variables of the student's other cells. The
     locked setup cell runs in both processes; a ``course_lib`` module it imports is given to
     students in the grading sandbox too, so it must hold no reference for a graded part
     (``tests/test_trusted_grading.py`` checks this for every assignment).
     Hidden seeds come from :func:`.assignment.fresh_seed`.

   The markdown before each answer states the part's **Contract.** (argument and result types,
   shapes, dtype — float64 in, float64 out —, device, no input changed in place).

3. **Mistakes** — ``solutions/NN_name/mistakes.py`` (never released; nbgrader_config ignores
   it) declares ``MISTAKES = {"P": {"A": {"find": ..., "replace": ..., "expect": ...}, "B":
   ...}}``: text replaced in part P's solution cell, and a phrase its feedback must contain.
   tests/test_exercises.py grades the solution (full marks), the blank student version (0, no
   crash) and two notebooks with every part's mistake A (resp. B) applied, asserting each part
   loses points with the expected phrase. ``solutions/NN_name/student_mistakes.py`` lists more
   (``{"P": {label: {"find", "replace", "what", "expect"}}}``): tests/test_mistakes.py asserts
   each is caught by the hidden tests and named (``expect``) by the visible cell. Then run
   ``make exercises`` and commit exercises/.
"""

from .assignment import Assignment, CheckFailed, Verdict, fresh_seed, seeded
from .check import Case, Check, Failure, Variant, run_check
from .compare import compare

__all__ = [
    "Assignment",
    "Case",
    "Check",
    "CheckFailed",
    "Failure",
    "Variant",
    "Verdict",
    "compare",
    "fresh_seed",
    "run_check",
    "seeded",
]
