"""Compare a student's result with the reference's and say, in one sentence, what differs.

:func:`compare` walks both results together (tensors, numpy arrays, tuples and named tuples,
lists, dicts, numbers, strings) and returns ``None`` when they agree, else the *first* problem in
the order a student should fix them: nothing returned, wrong type, wrong structure, wrong shape
(and which axis), wrong dtype, wrong device, NaN/inf, wrong values.

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
_as_tensor = torch.as_tensor
_isclose = torch.isclose
_isfinite = torch.isfinite
_isnan = torch.isnan
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
_NUMPY_NAMES = {torch.float64: "float64", torch.float32: "float32", torch.bool: "bool",
                torch.int64: "int64", torch.int32: "int32"}  # fmt: skip


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


def _array_problem(
    where: str, got: Any, want: _Tensor, *, numpy_part: bool, atol: float, rtol: float
) -> str | None:
    expected_kind = "a numpy array" if numpy_part else "a torch.Tensor"
    wanted_type = _ndarray if numpy_part else _Tensor
    if not _isinstance(got, wanted_type):
        language = "numpy" if numpy_part else "PyTorch"
        return f"{where} is {_kind(got)}; this part is in {language}: return {expected_kind}"
    problem = _shape_problem(where, tuple(got.shape), tuple(want.shape))
    if problem:
        return problem
    # A numpy view may have negative strides (x[:, ::-1]), which torch cannot wrap: copy it.
    got_t = _as_tensor(np.ascontiguousarray(got)) if numpy_part else got
    if got_t.dtype != want.dtype:
        expected = _NUMPY_NAMES.get(want.dtype, _dtype_name(want)) if numpy_part else want.dtype
        return f"{where} has dtype {_dtype_name(got)}, expected {expected}"
    if not numpy_part and got_t.device != want.device:
        return f"{where} is on device {got_t.device}, expected {want.device} (the inputs' device)"
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
        what = "NaN" if bool(_isnan(got_t).any()) else "inf"
        return f"{where} contains {what} in {int(bad.sum())} of {want.numel()} entries"
    close = _isclose(got_t, want, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    error = _abs(got_t.to(_float64) - want.to(_float64)).nan_to_num(nan=float("inf"))
    index = tuple(int(i) for i in _unravel(int(_argmax(error.flatten())), want.shape))
    return (
        f"{where} has wrong values: max abs error {_float(error[index]):.3g} at index {index} "
        f"(got {_float(got_t[index]):.6g}, expected {_float(want[index]):.6g})"
    )


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
        atol, rtol: tolerances for floating-point values (``|got - want| <= atol + rtol*|want|``).
    """
    if got is None and want is not None:
        return f"{where} is None: did you forget to `return` it?"
    if _isinstance(want, (_Tensor, _ndarray)):
        want_t = _as_tensor(want)
        if numpy_part and _isinstance(got, numbers.Number) and want_t.ndim == 0:
            got = np.asarray(got)
        return _array_problem(where, got, want_t, numpy_part=numpy_part, atol=atol, rtol=rtol)
    if _isinstance(want, (tuple, list)):
        fields = getattr(want, "_fields", None)
        if not _isinstance(got, (tuple, list)):
            what = f"a tuple {tuple(fields)}" if fields else f"{_len(want)} values"
            return f"{where} is {_kind(got)}, expected {what}"
        if _len(got) != _len(want):
            return f"{where} has {_len(got)} items, expected {_len(want)}"
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            label = f"{where}.{fields[index]}" if fields else f"{where}[{index}]"
            problem = compare(g, w, where=label, numpy_part=numpy_part, atol=atol, rtol=rtol)
            if problem:
                return problem
        return None
    if _isinstance(want, dict):
        if not _isinstance(got, dict):
            return f"{where} is {_kind(got)}, expected a dict with keys {_sorted(want)}"
        if set(got) != set(want):
            return f"{where} has keys {_sorted(got)}, expected {_sorted(want)}"
        for key in want:
            problem = compare(got[key], want[key], where=f"{where}[{key!r}]",
                              numpy_part=numpy_part, atol=atol, rtol=rtol)  # fmt: skip
            if problem:
                return problem
        return None
    if _isinstance(want, (bool, str)):
        same = type(got) is type(want) and got == want
        return None if same else f"{where} is {got!r}, expected {want!r}"
    if _isinstance(want, numbers.Number):
        if _isinstance(got, (_Tensor, _ndarray, np.generic)) and got.ndim == 0:
            got = got.item()  # a 0-d tensor or numpy scalar stands for a plain number
        if not _isinstance(got, numbers.Number) or _isinstance(got, bool):
            return f"{where} is {_kind(got)}, expected a number"
        tolerance = 0.0 if _isinstance(want, numbers.Integral) else atol + rtol * _abs_num(want)
        both_nan = _float(got) != _float(got) and _float(want) != _float(want)
        if not (both_nan or _abs_num(_float(got) - _float(want)) <= tolerance):  # NaN fails
            return f"{where} is {got!r}, expected {want!r}"
        return None
    return None if got == want else f"{where} is {got!r}, expected {want!r}"
