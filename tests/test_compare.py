"""The grader's comparison, tested like the reference: each kind of wrong result is planted and
must be reported (with the right words), and each unusual form of a right result must pass.

``tests/mutate_grader.py`` plants deliberate bugs in compare.py and check.py and asserts that
these fast tests catch every one of them.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch

from course_lib.grading import compare

F64 = torch.float64
WANT = torch.linspace(-1.0, 1.0, 24, dtype=F64).reshape(2, 3, 4)


# ------------------------------------------------------------------ tolerances, exactly


@pytest.mark.parametrize("numpy_part", [False, True])
def test_tolerance_is_atol_plus_rtol_times_the_expected_value(numpy_part: bool) -> None:
    """|got − want| <= atol + rtol·|want|: both terms count, neither is swapped or loosened."""
    atol, rtol = 1e-8, 1e-6

    def check(got: float, want: float) -> str | None:
        g, w = torch.tensor([got], dtype=F64), torch.tensor([want], dtype=F64)
        return compare(
            g.numpy() if numpy_part else g, w, numpy_part=numpy_part, atol=atol, rtol=rtol
        )

    # Large values: rtol·|want| = 1e-3 dominates.
    assert check(1e3 + 9e-4, 1e3) is None
    assert "wrong values" in check(1e3 + 1.1e-3, 1e3)
    # Around 1: 1e-6 + 1e-8; just outside fails, so 1000x looser tolerances would be caught.
    assert check(1 + 0.9e-6, 1.0) is None
    assert "wrong values" in check(1 + 3e-6, 1.0)
    # Small values: atol dominates; swapping atol and rtol would accept this.
    assert "wrong values" in check(1e-3 + 1e-7, 1e-3)
    assert check(0.0 + 0.9e-8, 0.0) is None
    assert "wrong values" in check(0.0 + 5e-8, 0.0)


def test_scalar_tolerance_matches_the_array_one() -> None:
    assert compare(1e3 + 9e-4, 1e3) is None
    assert "expected 1000.0" in compare(1e3 + 1.1e-3, 1e3)
    assert compare(1 + 0.9e-6, 1.0) is None
    assert compare(1 + 3e-6, 1.0) is not None
    assert compare(1e-3 + 1e-7, 1e-3) is not None
    assert compare(2.0, 1.0, atol=1.5) is None and compare(2.0, 1.0, rtol=1.0) is None


def test_the_reported_error_is_the_largest_among_wrong_entries() -> None:
    got = WANT.clone()
    got[1, 2, 3] += 0.5
    got[0, 0, 0] += 0.1
    message = compare(got, WANT)
    assert "max abs error 0.5 at index (1, 2, 3)" in message
    assert "got 1.5, expected 1" in message
    with_nan = WANT.clone()
    with_nan[0, 0, 0] = float("nan")  # NaN where the reference has NaN too is right
    got = with_nan.clone()
    got[1, 1, 1] += 0.25
    assert "max abs error 0.25 at index (1, 1, 1)" in compare(got, with_nan)


# ------------------------------------------------------------------ NaN and inf


@pytest.mark.parametrize(
    ("bad", "word"), [(float("nan"), "NaN"), (float("inf"), "inf"), (float("-inf"), "inf")]
)
@pytest.mark.parametrize("numpy_part", [False, True])
def test_nan_and_inf_are_reported_by_name(bad: float, word: str, numpy_part: bool) -> None:
    got = WANT.clone()
    got[0, 1, 2] = bad
    got[1, 0, 0] = bad
    message = compare(got.numpy() if numpy_part else got, WANT, numpy_part=numpy_part)
    assert f"contains {word} in 2 of 24 entries" in message
    assert ("NaN" in message) == (word == "NaN")


def test_nan_or_inf_where_the_reference_has_them_is_right() -> None:
    want = torch.tensor([float("nan"), float("inf"), 1.0], dtype=F64)
    assert compare(want.clone(), want) is None
    assert compare(torch.tensor([float("nan"), float("inf"), 2.0], dtype=F64), want) is not None
    assert "contains NaN" in compare(
        torch.tensor([float("nan"), float("inf"), float("nan")], dtype=F64), want
    )
    assert compare(float("nan"), float("nan")) is None
    assert compare(float("inf"), float("inf")) is None
    assert "expected nan" in compare(1.0, float("nan"))
    assert "inf" in compare(float("inf"), 1.0) and "nan" in compare(float("nan"), 1.0)


# ------------------------------------------------------------------ integers and bools


def test_integer_arrays_are_compared_exactly() -> None:
    want = torch.tensor([3, 1, 4], dtype=torch.int64)
    assert compare(want.clone(), want) is None
    message = compare(torch.tensor([3, 2, 4]), want)
    assert "1 of 3 entries are wrong, first at index (1,) (got 2, expected 1)" in message
    assert "dtype float64" in compare(want.to(F64), want)
    assert "1 of 3" in compare(np.array([3, 1, 5]), want, numpy_part=True, atol=10.0, rtol=10.0)


def test_integer_numbers_are_exact_even_with_tolerances() -> None:
    assert compare(15, 15) is None and compare(np.int64(15), 15) is None
    assert compare(15.0, 15) is None  # 15.0 is 15
    assert "expected 15" in compare(18, 15)
    assert compare(15 + 1e-9, 15, atol=1e-3, rtol=1e-3) is not None
    assert compare(16, 15, atol=2.0) is not None
    assert "expected a number" in compare("15", 15)
    assert "expected a number" in compare(True, 1)  # a bool is not a count


def test_bools_need_a_bool() -> None:
    assert compare(True, True) is None and compare(np.bool_(True), True) is None
    assert compare(torch.tensor(False), False) is None
    assert "expected True" in compare(1, True)
    assert "expected True" in compare(1.0, True)
    assert "expected False" in compare(True, False)
    mask = torch.tensor([[True, False]])
    assert "dtype float64" in compare(mask.to(F64), mask)
    assert "dtype int64" in compare(mask.long(), mask)
    assert "not 0/1 numbers" in compare(mask.long(), mask)
    assert "1 of 2 entries are wrong" in compare(torch.tensor([[True, True]]), mask)
    assert compare(np.array([[True, False]]), mask, numpy_part=True) is None


# ------------------------------------------------------------------ containers


def test_dict_keys_missing_or_extra_are_named() -> None:
    want = {"dx": WANT, "db": WANT[0, 0]}
    assert compare({"db": WANT[0, 0].clone(), "dx": WANT.clone()}, want) is None
    extra = compare({"dx": WANT, "db": WANT[0, 0], "dW": WANT}, want)
    assert "unexpected 'dW'" in extra
    missing = compare({"dx": WANT}, want)
    assert "lacks 'db'" in missing
    assert "expected a dict" in compare([WANT, WANT[0, 0]], want)
    wrong = WANT.clone()
    wrong[0, 0, 0] = 5
    assert "['dx'] has wrong values" in compare({"dx": wrong, "db": WANT[0, 0]}, want)


def test_nested_tuples_and_named_tuples() -> None:
    Pair = namedtuple("Pair", "h c")
    want = (WANT, Pair(WANT[0], WANT[1]))
    assert compare([WANT, [WANT[0], WANT[1]]], want) is None  # lists for tuples: fine
    wrong = WANT[1].clone()
    wrong[2, 3] = 7
    assert "the result[1].c has wrong values" in compare((WANT, (WANT[0], wrong)), want)
    assert "2 items, expected 3" in compare((WANT, WANT), (WANT, WANT, WANT))
    assert "3 items, expected 2" in compare((WANT, WANT, WANT), (WANT, WANT))
    assert "expected a tuple ('h', 'c')" in compare(WANT[0], Pair(WANT[0], WANT[1]))
    assert "the result[0][1] is 3, expected 4" in compare([[1, 3]], [[1, 4]])


def test_a_one_dimensional_array_stands_for_a_list_of_numbers() -> None:
    want = [0.5, 0.25, 0.125]
    assert compare(np.array(want), want) is None
    assert compare(torch.tensor(want, dtype=F64), want) is None
    assert "the result[2] is" in compare(np.array([0.5, 0.25, 0.2]), want)
    assert "expected 3 values" in compare(np.array(want)[None], want)


# ------------------------------------------------------------------ types, dtype and device


def test_numpy_and_torch_parts_want_their_own_arrays() -> None:
    assert "this part is in numpy" in compare(WANT, WANT, numpy_part=True)
    assert "this part is in PyTorch" in compare(WANT.numpy(), WANT)
    assert "is a list" in compare(WANT.tolist(), WANT)
    assert "did you forget to `return`" in compare(None, WANT)


def test_dtype_is_checked_in_the_students_words() -> None:
    assert "has dtype float32, expected float64: keep the inputs' dtype" in compare(
        WANT.float(), WANT
    )
    numpy_message = compare(WANT.numpy().astype(np.float32), WANT, numpy_part=True)
    assert "has dtype float32, expected float64" in numpy_message
    assert "torch." not in numpy_message
    assert "dtype int64" in compare(WANT.numpy().astype(np.int64), WANT, numpy_part=True)
    objects = np.empty(2, dtype=object)
    assert "np.stack" in compare(objects, WANT[0, 0, :2], numpy_part=True)


def test_the_device_is_checked() -> None:
    meta = torch.empty(2, 3, 4, dtype=F64, device="meta")
    message = compare(meta, WANT)
    assert "is on device meta, expected cpu" in message
    assert "device" in compare(WANT, meta)


def test_shapes_name_the_axis() -> None:
    zeros = lambda *s: torch.zeros(*s, dtype=F64)  # noqa: E731
    assert "axis 2 has size 5 instead of 4" in compare(zeros(2, 3, 5), WANT)
    assert "axes 0, 1 look swapped" in compare(zeros(3, 2, 4), WANT)
    assert "2 axes instead of 3" in compare(zeros(2, 3), WANT)
    assert "extra or missing axis of size 1" in compare(zeros(2, 3, 4, 1), WANT)
    assert "axis 0 has size 1 instead of 2" in compare(zeros(1, 3, 4), WANT)


def test_strings() -> None:
    class Looks:
        def __str__(self) -> str:
            return "last"

    assert "expected 'last'" in compare(Looks(), "last")  # only a string is a string
    assert compare("last", "last") is None and compare(np.str_("last"), "last") is None
    assert "expected 'last'" in compare("all", "last")
    assert "expected 'last'" in compare(None, "last") or "None" in compare(None, "last")


# ------------------------------------------------------------------ right answers, any form


def _forms(values: np.ndarray) -> list[np.ndarray]:
    """The same values as arrays of unusual layout: views of any strides, other byte orders."""
    flipped = np.ascontiguousarray(values[:, ::-1])[:, ::-1]
    wide = np.zeros((values.shape[0], values.shape[1] * 2))
    wide[:, ::2] = values
    return [
        flipped,  # negative strides
        wide[:, ::2],  # a strided view
        np.asfortranarray(values),
        values.astype(">f8"),  # big-endian
        np.broadcast_to(values, values.shape),  # read-only
        np.array(values, copy=True).T.T,
    ]


def test_any_numpy_layout_of_the_right_values_passes() -> None:
    values = np.arange(12.0).reshape(3, 4) / 7
    want = torch.from_numpy(values.copy())
    for form in _forms(values):
        assert compare(form, want, numpy_part=True) is None, form.strides
        wrong = np.array(form)
        wrong[2, 1] += 1
        assert "index (2, 1)" in compare(wrong, want, numpy_part=True)


def test_any_tensor_layout_of_the_right_values_passes() -> None:
    values = torch.arange(12.0, dtype=F64).reshape(3, 4) / 7
    forms = [
        values.T.contiguous().T,
        values.clone().requires_grad_(),
        torch.nn.Parameter(values.clone()),
        values[:1].expand(3, 4).clone() * 0 + values,
    ]
    for form in forms:
        assert compare(form, values) is None
    row = values[:1]
    assert compare(row.expand(3, 4), row.expand(3, 4).clone()) is None  # stride 0


def test_scalars_of_any_type_pass_for_numbers_and_zero_d_results() -> None:
    assert compare(np.float64(0.25), 0.25) is None
    assert compare(np.float32(0.25), 0.25) is None
    assert compare(torch.tensor(0.25, dtype=F64), 0.25) is None
    assert compare(np.array(0.25), 0.25) is None
    zero_d = torch.tensor(5.0, dtype=F64)
    assert compare(5.0, zero_d) is None and compare(5, zero_d) is None
    assert compare(np.float64(5.0), zero_d) is None
    assert "expected 5" in compare(6.0, zero_d)
    assert compare(0.25, np.array(0.25), numpy_part=True) is None
    assert "dtype float32" in compare(np.float32(0.25), np.array(0.25), numpy_part=True)


def test_every_planted_bug_of_the_mutation_script_still_applies() -> None:
    """tests/mutate_grader.py plants each bug by text: each must still occur exactly once."""
    import runpy
    from pathlib import Path

    script = runpy.run_path(str(Path(__file__).with_name("mutate_grader.py")))
    grading = Path(__file__).resolve().parents[1] / "course_lib" / "grading"
    for file, find, replace, what in script["MUTANTS"]:
        text = (grading / file).read_text()
        assert text.count(find) == 1, f"{what}: {find!r} occurs {text.count(find)} times"
        assert script["mutate"](text, find, replace) != text


def test_a_complex_number_for_a_real_one_is_named() -> None:
    assert "complex number" in compare(complex(0.9, 0.1), 0.9)
    assert "complex number" in compare(np.complex128(0.9), 0.9)
