"""Plant deliberate bugs in the grader's comparison and checks; the fast tests must catch each.

    .venv/bin/python tests/mutate_grader.py          # every mutant (a few minutes)
    .venv/bin/python tests/mutate_grader.py 3 7      # only mutants 3 and 7

Each mutant is one text replacement in ``course_lib/grading/compare.py``, ``check.py``,
``assignment.py`` or ``diagnose.py``. For each, the package is copied to a scratch folder, the
bug planted, and the fast grading tests (:data:`TESTS`) run against the copy; a mutant is
*caught* when they fail. The table lists every mutant; the exit status is 1 if any survived.
``tests/test_compare.py`` checks that every ``find`` still occurs exactly once, so this list
cannot silently go stale.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADING = "course_lib/grading"
TESTS = ["tests/test_compare.py", "tests/test_feedback.py", "tests/test_grading.py"]
# This one fails on any planted bug by design (its text no longer occurs): not a catch.
SELF_CHECK = "tests/test_compare.py::test_every_planted_bug_of_the_mutation_script_still_applies"

# (file under course_lib/grading, find, replace, what the bug is)
MUTANTS: list[tuple[str, str, str, str]] = [
    (
        "compare.py",
        "_isclose(got_t, want, rtol=rtol, atol=atol, equal_nan=True)",
        "_isclose(got_t, want, rtol=atol, atol=rtol, equal_nan=True)",
        "atol and rtol swapped",
    ),
    (
        "compare.py",
        "_isclose(got_t, want, rtol=rtol, atol=atol, equal_nan=True)",
        "_isclose(got_t, want, rtol=rtol * 1000, atol=atol * 1000, equal_nan=True)",
        "array tolerances 1000x looser",
    ),
    (
        "compare.py",
        "<= atol + rtol * _abs_num(want_f)",
        "<= 1000 * (atol + rtol * _abs_num(want_f))",
        "scalar tolerances 1000x looser",
    ),
    (
        "compare.py",
        "<= atol + rtol * _abs_num(want_f)",
        "<= rtol + atol * _abs_num(want_f)",
        "scalar atol and rtol swapped",
    ),
    (
        "compare.py",
        "bad = ~_isfinite(got_t) & _isfinite(want)",
        "bad = _isnan(got_t) & _isfinite(want)",
        "inf not reported",
    ),
    (
        "compare.py",
        'what = "NaN and inf" if nan and inf else "NaN" if nan else "inf"',
        'what = "NaN"',
        "inf reported as NaN",
    ),
    (
        "compare.py",
        "if want.dtype == torch.bool or not want.is_floating_point():",
        "if want.dtype == torch.bool:",
        "integer arrays compared with a float tolerance",
    ),
    (
        "compare.py",
        "        if got == want:\n            return None",
        "        if _abs_num(got - want) <= atol + rtol * _abs_num(want):\n            return None",
        "integer numbers compared with a float tolerance",
    ),
    (
        "compare.py",
        "same = _isinstance(got, (bool, _np_bool)) and bool(got) == bool(want)",
        "same = got == want",
        "1 accepted for True",
    ),
    ("compare.py", "    if missing or extra:", "    if missing:", "extra dict keys accepted"),
    ("compare.py", "    if missing or extra:", "    if extra:", "missing dict keys accepted"),
    (
        "compare.py",
        "        if got_t.device != want.device:",
        "        if False:",
        "the device never checked",
    ),
    (
        "compare.py",
        "        if got_t.dtype != want.dtype:",
        "        if False:",
        "torch dtype never checked",
    ),
    (
        "compare.py",
        "    if got.dtype.name != expected:",
        "    if False:",
        "numpy dtype never checked",
    ),
    (
        "compare.py",
        "    if _isinstance(got, (_Tensor, _ndarray)) and got.ndim == 1 and not fields:",
        "    if False:",
        "a 1-d array is not accepted for a list",
    ),
    (
        "compare.py",
        '    copy = _np_array(got, dtype=got.dtype.newbyteorder("="), order="C", copy=True)',
        "    copy = got",
        "numpy views wrapped without a copy",
    ),
    (
        "compare.py",
        "    if not _isinstance(got, wanted_type):",
        "    if not _isinstance(got, (_Tensor, _ndarray)):",
        "numpy and torch accepted for each other",
    ),
    (
        "compare.py",
        '    if _len(got) != _len(want):\n        return f"{where} has',
        '    if _len(got) < _len(want):\n        return f"{where} has',
        "extra tuple items accepted",
    ),
    (
        "compare.py",
        "        problem = compare(g, w, where=label, **options)\n        if problem:\n"
        "            return problem",
        "        problem = compare(g, w, where=label, **options)",
        "nested items never reported",
    ),
    (
        "compare.py",
        "    error = error.masked_fill(close, 0.0)\n",
        "",
        "the reported error may be at an entry that is right",
    ),
    (
        "compare.py",
        "        same = _isinstance(got, str) and str(got) == want",
        "        same = str(got) == want",
        "anything accepted whose str() matches",
    ),
    (
        "check.py",
        "        modified = _modified_input(check, pristine, student_case)",
        "        modified = None",
        "in-place modification of inputs never reported",
    ),
    (
        "check.py",
        "        if same:\n            named.append(variant.mistake)",
        "        if not same:\n            named.append(variant.mistake)",
        "the wrong variant named",
    ),
    (
        "check.py",
        "        if same:\n            named.append(variant.mistake)",
        "        pass",
        "no variant ever named",
    ),
    (
        "check.py",
        "    fresh = copy.deepcopy(case)",
        "    fresh = case",
        "the student shares the reference's case",
    ),
    (
        "check.py",
        "    except Exception as error:  # noqa: BLE001 -- the checker's fault, said as such",
        "    except ZeroDivisionError as error:",
        "an exception in the checker escapes to the student",
    ),
    (
        "check.py",
        "        for name, value in saved.items():\n            if value is _UNBOUND:",
        "        for name, value in []:\n            if value is _UNBOUND:",
        "stand-ins left in the student's namespace",
    ),
    (
        "check.py",
        "    convert = to_numpy if numpy_part else (lambda v: _to_device(v, device))",
        "    convert = lambda v: _to_device(v, device)",
        "numpy parts given tensors",
    ),
    (
        "check.py",
        '        lines.append(f"  Random case seed={self.seed}")',
        "        pass",
        "the seed not shown",
    ),
    (
        "check.py",
        "            found = () if named else _clues(check, pristine, got, want)",
        "            found = ()",
        "no generic diagnosis",
    ),
    (
        "check.py",
        "(torch.Tensor, np.ndarray, list, tuple, dict)",
        "(torch.Tensor, np.ndarray, list, tuple)",
        "an input dict changed in place not reported",
    ),
    (
        "compare.py",
        "    if not _isinstance(got, numbers.Real) and _isinstance(want, numbers.Real):",
        "    if False:",
        "a complex number not named",
    ),
    (
        "assignment.py",
        "        earned = round(points * passed / len(checks), 3)",
        "        earned = round(points * (passed > 0), 3)",
        "any passing check earns every point",
    ),
    (
        "assignment.py",
        "(f := run_check(check, fn, base + t))), None",
        "(f := run_check(check, fn, base))), None",
        "every trial uses the same seed",
    ),
    (
        "assignment.py",
        '        return int.from_bytes(digest[:4], "big") % 2**31',
        "        return 7",
        "every part gets the same seed",
    ),
    (
        "diagnose.py",
        "                if abs(factor + 1) < 1e-6:",
        "                if abs(factor + 1) < 1e-9 and False:",
        "a flipped sign called a constant factor",
    ),
    (
        "diagnose.py",
        "            if good == list(range(len(good))):",
        "            if False:",
        "the first right steps not said",
    ),
]


def mutate(text: str, find: str, replace: str) -> str:
    if text.count(find) != 1:
        raise ValueError(f"{find!r} occurs {text.count(find)} times, not once")
    return text.replace(find, replace)


def run(mutant: tuple[str, str, str, str] | None, scratch: Path) -> tuple[bool, float]:
    """Plant one mutant (``None``: none) in a copy of the package; True if the tests failed."""
    work = scratch / "repo"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(
        ROOT / "course_lib", work / "course_lib", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", work)
    if mutant is not None:
        file, find, replace, _ = mutant
        target = work / GRADING / file
        target.write_text(mutate(target.read_text(), find, replace))
    started = time.monotonic()
    # `python -m pytest` puts the working directory first on sys.path: the copy is imported.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            "--deselect",
            SELF_CHECK,
            *TESTS,
        ],
        cwd=work,
        capture_output=True,
        text=True,
    )
    return result.returncode != 0, time.monotonic() - started


def main(argv: list[str]) -> int:
    chosen = [int(a) for a in argv] or list(range(len(MUTANTS)))
    survivors = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as scratch:
        failed, _ = run(None, Path(scratch))
        if failed:  # a control: without a bug planted the copy must pass, or nothing is measured
            print("the tests fail on an unmutated copy: fix them first (`make test`)")
            return 2
        print(f"{'#':>3}  {'file':<14} {'caught':<7} {'s':>5}  bug")
        for number in chosen:
            caught, seconds = run(MUTANTS[number], Path(scratch))
            file, *_, what = MUTANTS[number]
            print(
                f"{number:>3}  {file:<14} {'yes' if caught else 'NO':<7} {seconds:5.1f}  {what}",
                flush=True,
            )
            if not caught:
                survivors.append(what)
    print(f"\n{len(chosen) - len(survivors)} of {len(chosen)} mutants caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
