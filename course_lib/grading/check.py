"""Checks: run the student's function and the reference on the same fresh random case, compare.

A :class:`Check` is data: the reference, a function that draws a random :class:`Case` from a
seeded generator, and named :class:`Variant` s — the reference with one plausible mistake built
in. Running a check (:func:`run_check`) does, for one seed:

1. draw the case in float64 on the CPU, then give the reference a copy on
   :func:`course_lib.device.default_device` (the GPU when present) and the student another copy on
   the same device — or as numpy arrays, for parts written in numpy;
2. call the student's function, turning an exception into advice (:data:`ERROR_HINTS`);
3. check that no input was modified in place;
4. compare with :func:`.compare.compare`; on a mismatch, run every variant on the same case and
   name the mistake whose output the student's matches ("diagnose against named variants"), or,
   when none matches, say where and how the result is wrong (:func:`.diagnose.clues`).

An exception inside steps 3–4 is the checker's fault, never a traceback for the student: it
becomes one sentence, "the checker could not compare ...", with the seed.

The result is ``None`` (pass) or a :class:`Failure` whose message ends with the seed that
reproduces it.

The student's function is either the notebook's own (in JupyterLab, and in nbgrader's Validate)
or, when a class is graded, a :class:`.remote.RemoteFunction` that runs it in the sandboxed
student process: a check cannot tell them apart, and gives the same verdict either way.
"""

from __future__ import annotations

import contextlib
import copy
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..device import default_device, map_leaves, numpy_io, to_numpy
from .compare import compare
from .diagnose import clues

# Advice for exceptions whose message a student cannot act on directly: (substring, advice).
ERROR_HINTS: tuple[tuple[str, str], ...] = (
    (
        "backward through the graph a second time",
        "the state carried from the previous chunk still holds its graph: detach it",
    ),
    (
        "shapes cannot be multiplied",
        "a matrix product has mismatched shapes: with row vectors it is x @ W_x and h @ W_h; "
        "check for a transposed weight or swapped axes",
    ),
    (
        "mismatch in its core dimension",
        "a matrix product has mismatched shapes: with row vectors it is x @ W_x and h @ W_h; "
        "check for a transposed weight or swapped axes",
    ),
    (
        "Expected all tensors to be on the same device",
        "create new tensors on the inputs' device (device=x.device)",
    ),
    (
        "expected m1 and m2 to have the same dtype",
        "create new tensors with the inputs' dtype (dtype=x.dtype)",
    ),
    (
        "out of bounds",
        "an index runs past the end of an axis: check the loop's range (an "
        "off-by-one?) and which axis each index is for",
    ),
    (
        "tuple index out of range",
        "an axis that the array does not have: a 1-D array such as a "
        "bias has only axis 0; axis=-1 is the last axis whatever the number of axes",
    ),
    (
        "array split does not result in an equal division",
        "np.split cut an axis whose size is "
        "not a multiple of the number of pieces: stacked gate blocks sit on the last axis, axis=-1",
    ),
    (
        "not enough values to unpack",
        "fewer pieces came back than names on the left: check the "
        "axis you split or chunk along (stacked blocks sit on the last axis) and what is returned",
    ),
    (
        "too many values to unpack",
        "more pieces came back than names on the left: check the "
        "axis you split or chunk along and what the function returns",
    ),
    (
        "indexing arrays could not be broadcast",
        "two index arrays of different lengths: index "
        "one entry per sample, e.g. outputs[torch.arange(B), lengths - 1]",
    ),
    (
        "must be Tensor, not numpy.ndarray",
        "a torch function got a numpy array: in a numpy part "
        "use np.tanh, np.exp, ... (torch functions in the PyTorch parts)",
    ),
)


_UNBOUND = object()

# Frames from these places are library code, not the student's, when pointing at a line.
_LIBRARY_PATHS = ("site-packages", str(Path(__file__).resolve().parents[1]))


@dataclass(frozen=True)
class Case:
    """One set of inputs: positional arguments by name (names appear in messages), then options."""

    args: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A short summary such as ``x (2, 5, 3), lengths (2,), padding='pre'``."""
        parts = [f"{name} {_brief(value)}" for name, value in self.args.items()]
        parts += [f"{name}={value!r}" for name, value in self.options.items()]
        return ", ".join(parts)


def _brief(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return str(tuple(value.shape))
    if isinstance(value, (list, tuple)):
        return f"(list of {len(value)})"
    return repr(value) if isinstance(value, (int, float, str, bool)) else type(value).__name__


@dataclass(frozen=True)
class Variant:
    """A plausible mistake: the reference with that mistake built in (same signature).

    ``mistake`` is shown to the student when their output matches this variant's, so write it as
    what they did, e.g. ``"W_h is used transposed"``.
    """

    mistake: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Check:
    """One property of a graded function, tested on random cases.

    Args:
        what: what this check covers, e.g. ``"padding='pre'"`` (shown in reports).
        reference: the correct implementation (a course_lib function).
        make_case: draws a :class:`Case` from a seeded ``torch.Generator``, float64 on the CPU.
        variants: named mistakes used to explain a mismatch.
        numpy: the student writes numpy: inputs are given, and outputs expected, as numpy arrays.
        observe: ``observe(case, result) -> value`` chooses what is compared, when it is more than
            the return value (e.g. a model's parameters after a training loop). The case passed is
            the copy the function was called with, so effects on its arguments are visible.
        atol, rtol: tolerances for floating-point values.
        hints: extra ``(substring of an exception message, advice)`` pairs for this check.
        stand_ins: functions of earlier parts that the student's function may call by name
            (e.g. ``{"rnn_cell_forward": cells.rnn_cell_forward}``). During the call they are
            replaced in the student's globals by these references, so each part is graded on
            its own: a mistake in part 1 does not cost points again in part 2.
        gates: the gate blocks stacked on the last axis of a ``(·, len(gates) × H)`` result, in
            order (e.g. ``"ifgo"``), so a diagnosis can say which block is wrong.
    """

    what: str
    reference: Callable[..., Any]
    make_case: Callable[[torch.Generator], Case]
    variants: tuple[Variant, ...] = ()
    numpy: bool = False
    observe: Callable[[Case, Any], Any] | None = None
    atol: float = 1e-8
    rtol: float = 1e-6
    hints: tuple[tuple[str, str], ...] = ()
    stand_ins: dict[str, Callable[..., Any]] = field(default_factory=dict)
    gates: str = ""


@dataclass(frozen=True)
class Failure:
    """Why a check failed on one seed; ``str()`` gives the full message for the student."""

    check: Check
    seed: int
    problem: str
    mistake: str | None = None
    inputs: str = ""
    clues: tuple[str, ...] = ()
    others: tuple[str, ...] = ()  # further mistakes that give the same result

    def __str__(self) -> str:
        lines = [f"{self.check.what}: {self.problem}"]
        if self.mistake and self.others:
            lines.append("  Possible mistakes (each gives exactly this result):")
            lines += [f"    - {mistake}." for mistake in (self.mistake, *self.others)]
        elif self.mistake:
            lines.append(f"  Likely mistake: {self.mistake}.")
        lines += [f"  Diagnosis: {clue}{'' if clue[-1] in '.?!' else '.'}" for clue in self.clues]
        if self.inputs:
            lines.append(f"  Inputs: {self.inputs}")
        lines.append(f"  Random case seed={self.seed}")
        return "\n".join(lines)


def _to_device(value: Any, device: torch.device) -> Any:
    return map_leaves(
        lambda v: v.to(device) if isinstance(v, (torch.Tensor, torch.nn.Module)) else v, value
    )


def _prepare(case: Case, *, numpy_part: bool, device: torch.device) -> Case:
    """An independent copy of the case: numpy arrays for numpy parts, else tensors on device."""
    fresh = copy.deepcopy(case)
    convert = to_numpy if numpy_part else (lambda v: _to_device(v, device))
    return Case(convert(fresh.args), convert(fresh.options))


def _call(fn: Callable[..., Any], case: Case) -> Any:
    return fn(*case.args.values(), **case.options)


@contextlib.contextmanager
def _standing_in(check: Check, student_fn: Callable[..., Any]) -> Iterator[None]:
    """Temporarily bind ``check.stand_ins`` in the namespace the student's function reads.

    A function running in the student's process (it has ``standing_in``) gets the grader's
    functions through its own mechanism; a local one gets them in its globals.
    """
    wrap = numpy_io if check.numpy else (lambda fn: fn)
    functions = {name: wrap(fn) for name, fn in check.stand_ins.items()}
    remote = getattr(student_fn, "standing_in", None)
    if remote is not None:
        with remote(functions):
            yield
        return
    namespace = getattr(student_fn, "__globals__", None)
    if not functions or namespace is None:
        yield
        return
    saved = {name: namespace.get(name, _UNBOUND) for name in functions}
    namespace.update(functions)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _UNBOUND:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _observe(check: Check, case: Case, result: Any) -> Any:
    return result if check.observe is None else check.observe(case, result)


def _student_line(error: BaseException) -> str:
    """`` (line N: source)`` for the deepest frame in notebook code, not in a library.

    An error raised in the student's process carries that line with it (``line``).
    """
    if hasattr(error, "line"):
        return str(error.line)
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not any(part in f.filename for part in _LIBRARY_PATHS)
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" (line {frame.lineno}{code})"


def _explain_exception(check: Check, error: BaseException) -> str:
    name = getattr(error, "type_name", type(error).__name__)
    if name == "NotImplementedError":
        return "not implemented yet (it raises NotImplementedError): write your code in its cell"
    text = f"raised {name}: {error}{_student_line(error)}"
    for needle, advice in check.hints + ERROR_HINTS:
        if needle in str(error):
            return f"{text}. Hint: {advice}"
    return text


def _modified_input(check: Check, before: Case, after: Case) -> str | None:
    for name, value in before.args.items():
        if isinstance(value, (torch.Tensor, np.ndarray, list, tuple, dict)):
            changed = compare(after.args[name], value, atol=0.0, rtol=0.0, numpy_part=check.numpy)
            if changed:
                return (
                    f"your function modified its input `{name}` in place (e.g. `{name} += ...` or "
                    f"`{name}[...] = ...`); work on a copy"
                )
    return None


def _diagnose(check: Check, case: Case, got: Any, device: torch.device) -> list[str]:
    """The mistakes of the variants whose output the student's matches (several may: a wrong
    string or count can come from more than one mistake)."""
    named = []
    for variant in check.variants:
        mistaken = _prepare(case, numpy_part=False, device=device)
        try:
            expected = _observe(check, mistaken, _call(variant.fn, mistaken))
            same = (
                compare(got, expected, numpy_part=check.numpy, atol=check.atol, rtol=check.rtol)
                is None
            )
        except Exception:  # noqa: BLE001 -- a variant that cannot run here explains nothing
            continue
        if same:
            named.append(variant.mistake)
    return named


def _clues(check: Check, case: Case, got: Any, want: Any) -> tuple[str, ...]:
    try:
        return tuple(
            clues(got, want, case.args, gates=check.gates, atol=check.atol, rtol=check.rtol)
        )
    except Exception:  # noqa: BLE001 -- a diagnosis is extra; the verdict stands without it
        return ()


def _checker_failed(error: BaseException) -> str:
    return (
        f"the checker could not compare the result ({type(error).__name__}: {error}). Check "
        "that it has the form this part's contract states; if it does, the fault is the "
        "checker's: tell your instructor, with the seed below"
    )


def run_check(check: Check, student_fn: Callable[..., Any], seed: int) -> Failure | None:
    """Run ``check`` once on the case drawn with ``seed``; ``None`` means it passed."""
    device = torch.device("cpu") if check.numpy else default_device()
    case = check.make_case(torch.Generator().manual_seed(seed))
    reference_case = _prepare(case, numpy_part=False, device=default_device())
    want = _observe(check, reference_case, _call(check.reference, reference_case))

    student_case = _prepare(case, numpy_part=check.numpy, device=device)
    pristine = copy.deepcopy(student_case)
    fail = lambda problem, mistake=None: Failure(check, seed, problem, mistake, case.describe())  # noqa: E731
    try:
        with _standing_in(check, student_fn):
            result = _call(student_fn, student_case)
    except Exception as error:
        return fail(_explain_exception(check, error))
    try:
        got = _observe(check, student_case, result)
        problem = compare(
            got, want, where="the result", numpy_part=check.numpy, atol=check.atol, rtol=check.rtol
        )
        if problem:
            named = _diagnose(check, case, got, default_device())
            found = () if named else _clues(check, pristine, got, want)
            return Failure(
                check,
                seed,
                problem,
                named[0] if named else None,
                case.describe(),
                found,
                tuple(named[1:]),
            )
        modified = _modified_input(check, pristine, student_case)
    except Exception as error:  # noqa: BLE001 -- the checker's fault, said as such
        return fail(_checker_failed(error))
    return fail(modified) if modified else None
