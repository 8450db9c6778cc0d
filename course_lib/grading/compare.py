"""Compare a student's result with the reference's and say, in one sentence, what differs.

:func:`compare` walks both results together (tensors, numpy arrays, tuples and named tuples,
lists, dicts, numbers, bools, strings) and returns ``None`` when they agree, else the *first*
problem in the order a student should fix them: nothing returned, wrong type, wrong structure,
wrong shape (and which axis), wrong dtype, wrong device, NaN/inf, wrong values.

A correct answer never fails for its form: a numpy array of any strides or byte order, a
non-contiguous or expanded tensor, a numpy scalar where a number is expected (``np.float64``,
``np.int64``, ``np.bool_``, ``np.str_``), a 0-d array or tensor for a number, a list where a
tuple is expected and the reverse, or a 1-d array or tensor for a list of numbers. What a part
does demand — numpy or torch, dtype, device — is stated in its notebook and checked here.

Every library function used here is bound to a private name when this module is imported (in a
notebook's locked setup cell, before any student code), so a later ``np.allclose = ...`` or
``torch.allclose = ...`` in the notebook has no effect on the comparison.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

_Tensor = torch.Tensor
_ndarray = np.ndarray
_generic = np.generic
_np_bool = np.bool_
_from_numpy = torch.from_numpy
_np_array = np.array
_isclose = torch.isclose
_isfinite = torch.isfinite
_isnan = torch.isnan
_isinf = torch.isinf
_abs = torch.abs
_argmax = torch.argmax
_unravel = np.unravel_index
_isinstance = isinstance
_float = float
_abs_num = abs
_len = len
_sorted = sorted
_float64 = torch.float64

# Names of torch dtypes as numpy spells them, so numpy parts get numpy words in messages.
_NUMPY_NAMES = {
    torch.float64: "float64",
    torch.float32: "float32",
    torch.float16: "float16",
    torch.bool: "bool",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.int16: "int16",
    torch.int8: "int8",
    torch.uint8: "uint8",
}


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    if _isinstance(value, _Tensor):
        return "a torch.Tensor"
    if _isinstance(value, _ndarray):
        return "a numpy array"
    return f"a {type(value).__name__}"


def _dtype_name(value: Any) -> str:
    return str(value.dtype).replace("torch.", "")


def _shape_problem(where: str, got: tuple[int, ...], want: tuple[int, ...]) -> str | None:
    if got == want:
        return None
    head = f"{where} has shape {got}, expected {want}"
    if _len(got) != _len(want):
        squeezed = tuple(s for s in got if s != 1) == tuple(s for s in want if s != 1)
        hint = " (an extra or missing axis of size 1)" if squeezed else ""
        return f"{head}: {_len(got)} axes instead of {_len(want)}{hint}"
    if _sorted(got) == _sorted(want):
        moved = [axis for axis, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
        return f"{head}: axes {', '.join(map(str, moved))} look swapped or transposed"
    axis = next(a for a, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
    return f"{head}: axis {axis} has size {got[axis]} instead of {want[axis]}"


def _dtype_problem(where: str, got: str, want: str) -> str:
    hint = ""
    if want.startswith("float") and got.startswith("float"):
        hint = f": keep the inputs' dtype, {want}; do not cast"
    elif want.startswith("float"):
        hint = ": an integer or bool result where real numbers are expected"
    elif want == "bool":
        hint = ": a mask is True/False (compare, e.g. `<`), not 0/1 numbers"
    return f"{where} has dtype {got}, expected {want}{hint}"


def _numpy_as_tensor(where: str, got: _ndarray, want: _Tensor) -> tuple[_Tensor | None, str]:
    """A CPU tensor holding a copy of ``got`` (contiguous, native byte order), or a problem.

    A view with negative strides (``x[:, ::-1]``) or a big-endian array cannot be wrapped by torch
    as it is; a copy can. Object and string arrays cannot be compared at all: say so.
    """
    expected = _NUMPY_NAMES.get(want.dtype, _dtype_name(want))
    if got.dtype.kind not in "biuf":
        return None, f"{where} has dtype {got.dtype}, expected {expected}" + (
            " (an array of arrays or of mixed objects: build it with np.stack or np.array of "
            "numbers)"
            if got.dtype.kind == "O"
            else ""
        )
    if got.dtype.name != expected:
        return None, _dtype_problem(where, got.dtype.name, expected)
    copy = _np_array(got, dtype=got.dtype.newbyteorder("="), order="C", copy=True)
    return _from_numpy(copy), ""


def _scalar_tensor(value: Any, want: _Tensor) -> _Tensor:
    """A number given where a 0-d tensor is expected, as a tensor like ``want``: a float keeps
    the expected float dtype (a Python float is a float64), an int or bool keeps its own."""
    value = value.item() if _isinstance(value, _generic) else value
    real = _isinstance(value, numbers.Real) and not _isinstance(value, bool)
    dtype = want.dtype if want.is_floating_point() and real else None
    return torch.tensor(value, dtype=dtype, device=want.device)


def _array_problem(
    where: str, got: Any, want: _Tensor, *, numpy_part: bool, atol: float, rtol: float
) -> str | None:
    expected_kind = "a numpy array" if numpy_part else "a torch.Tensor"
    if want.ndim == 0 and _isinstance(got, (numbers.Number, _generic)):
        got = _np_array(got) if numpy_part else _scalar_tensor(got, want)
    wanted_type = _ndarray if numpy_part else _Tensor
    if not _isinstance(got, wanted_type):
        language = "numpy" if numpy_part else "PyTorch"
        return f"{where} is {_kind(got)}; this part is in {language}: return {expected_kind}"
    problem = _shape_problem(where, tuple(got.shape), tuple(want.shape))
    if problem:
        return problem
    if numpy_part:
        got_t, problem = _numpy_as_tensor(where, np.asarray(got), want)
        if problem:
            return problem
    else:
        got_t = got
        if got_t.dtype != want.dtype:
            return _dtype_problem(where, _dtype_name(got_t), _dtype_name(want))
        if got_t.device != want.device:
            return (
                f"{where} is on device {got_t.device}, expected {want.device} (the inputs' device)"
            )
    got_t, want = got_t.detach().cpu(), want.detach().cpu()
    if want.dtype == torch.bool or not want.is_floating_point():
        wrong = got_t != want
        if not bool(wrong.any()):
            return None
        first = tuple(int(i) for i in _unravel(int(_argmax(wrong.flatten().int())), want.shape))
        return (
            f"{where}: {int(wrong.sum())} of {want.numel()} entries are wrong, first at index "
            f"{first} (got {got_t[first].item()}, expected {want[first].item()})"
        )
    bad = ~_isfinite(got_t) & _isfinite(want)
    if bool(bad.any()):
        nan, inf = bool((_isnan(got_t) & bad).any()), bool((_isinf(got_t) & bad).any())
        what = "NaN and inf" if nan and inf else "NaN" if nan else "inf"
        return f"{where} contains {what} in {int(bad.sum())} of {want.numel()} entries"
    close = _isclose(got_t, want, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    error = _abs(got_t.to(_float64) - want.to(_float64)).nan_to_num(nan=float("inf"))
    error = error.masked_fill(close, 0.0)
    index = tuple(int(i) for i in _unravel(int(_argmax(error.flatten())), want.shape))
    return (
        f"{where} has wrong values: max abs error {_float(error[index]):.3g} at index {index} "
        f"(got {_float(got_t[index]):.6g}, expected {_float(want[index]):.6g})"
    )


def _sequence_problem(where: str, got: Any, want: tuple | list, **options: Any) -> str | None:
    fields = getattr(want, "_fields", None)
    if _isinstance(got, (_Tensor, _ndarray)) and got.ndim == 1 and not fields:
        got = list(got)  # a 1-d array or tensor stands for a list of numbers
    if not _isinstance(got, (tuple, list)):
        what = f"a tuple {tuple(fields)}" if fields else f"{_len(want)} values"
        return f"{where} is {_kind(got)}, expected {what}"
    if _len(got) != _len(want):
        return f"{where} has {_len(got)} items, expected {_len(want)}"
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        label = f"{where}.{fields[index]}" if fields else f"{where}[{index}]"
        problem = compare(g, w, where=label, **options)
        if problem:
            return problem
    return None


def _dict_problem(where: str, got: Any, want: dict, **options: Any) -> str | None:
    if not _isinstance(got, dict):
        return f"{where} is {_kind(got)}, expected a dict with keys {_sorted(want)}"
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing or extra:
        said = ([f"lacks {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"has unexpected {', '.join(map(repr, extra))}"] if extra else []
        )
        return f"{where} {' and '.join(said)}; expected exactly the keys {_sorted(want)}"
    for key in want:
        problem = compare(got[key], want[key], where=f"{where}[{key!r}]", **options)
        if problem:
            return problem
    return None


def _scalar(got: Any) -> Any:
    """A 0-d tensor, 0-d array or numpy scalar as the Python value it holds."""
    if _isinstance(got, (_Tensor, _ndarray, _generic)) and got.ndim == 0:
        return got.item()
    return got


def _number_problem(
    where: str, got: Any, want: numbers.Number, *, atol: float, rtol: float
) -> str | None:
    got = _scalar(got)
    if not _isinstance(got, numbers.Number) or _isinstance(got, bool):
        return f"{where} is {_kind(got)}, expected a number"
    if not _isinstance(got, numbers.Real) and _isinstance(want, numbers.Real):
        return (
            f"{where} is the complex number {got!r}, expected a real number: take its "
            "modulus (abs) or its real part, whichever the part asks for"
        )
    if _isinstance(want, numbers.Integral):  # a count: exact, though 18.0 is 18
        if got == want:
            return None
        return f"{where} is {got!r}, expected {want!r}"
    got_f, want_f = _float(got), _float(want)
    if want_f != want_f:
        return None if got_f != got_f else f"{where} is {got!r}, expected nan"
    if got_f != got_f or got_f in (float("inf"), float("-inf")):
        return f"{where} is {got!r}, expected {want!r}" if got_f != want_f else None
    if _abs_num(got_f - want_f) <= atol + rtol * _abs_num(want_f):
        return None
    return f"{where} is {got!r}, expected {want!r}"


def compare(
    got: Any,
    want: Any,
    *,
    where: str = "the result",
    numpy_part: bool = False,
    atol: float = 1e-8,
    rtol: float = 1e-6,
) -> str | None:
    """Return ``None`` if ``got`` matches ``want``, else a sentence describing the first problem.

    Args:
        got: what the student's function returned.
        want: what the reference returned (tensors, possibly nested in tuples/lists/dicts).
        where: how to name ``got`` in the message, e.g. ``"the output"``.
        numpy_part: the student writes numpy, so arrays must come back as ``np.ndarray``.
        atol, rtol: tolerances for floating-point values (``|got - want| <= atol + rtol*|want|``);
            integers, bools and strings must be equal.
    """
    if got is None and want is not None:
        return f"{where} is None: did you forget to `return` it?"
    options = {"numpy_part": numpy_part, "atol": atol, "rtol": rtol}
    if _isinstance(want, (_Tensor, _ndarray)):
        want_t = want if _isinstance(want, _Tensor) else _from_numpy(_np_array(want, order="C"))
        return _array_problem(where, got, want_t, **options)
    if _isinstance(want, (tuple, list)):
        return _sequence_problem(where, got, want, **options)
    if _isinstance(want, dict):
        return _dict_problem(where, got, want, **options)
    if _isinstance(want, (bool, _np_bool)):
        got = _scalar(got)
        same = _isinstance(got, (bool, _np_bool)) and bool(got) == bool(want)
        return None if same else f"{where} is {got!r}, expected {bool(want)!r}"
    if _isinstance(want, str):
        same = _isinstance(got, str) and str(got) == want
        return None if same else f"{where} is {got!r}, expected {want!r}"
    if _isinstance(want, numbers.Number):
        return _number_problem(where, got, want, atol=atol, rtol=rtol)
    return None if got == want else f"{where} is {got!r}, expected {want!r}"
