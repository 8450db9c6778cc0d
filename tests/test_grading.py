"""course_lib.grading: comparisons, checks, named-mistake diagnosis, scores and seeds."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import numpy as np
import pytest
import torch

import course_lib.grading as grading
from course_lib.cells import rnn_cell_forward
from course_lib.device import numpy_io, to_tensors
from course_lib.grading import Assignment, Case, Check, CheckFailed, compare, seeded
from course_lib.grading.check import run_check
from course_lib.grading.variants import (
    permute_blocks,
    reverse_time,
    transpose,
    with_inputs,
    with_output,
)

ASSIGNMENT_MODULES = sorted(
    m.name for m in pkgutil.iter_modules(grading.__path__) if m.name.startswith("ex")
)


def _all_parts() -> list[tuple[str, str, tuple[Check, ...]]]:
    out = []
    for name in ASSIGNMENT_MODULES:
        module = importlib.import_module(f"course_lib.grading.{name}")
        out += [(name, part, checks) for part, checks in module.ASSIGNMENT.parts.items()]
    return out


ALL_PARTS = _all_parts()


def _student(check: Check, fn):
    return numpy_io(fn) if check.numpy else fn


# ------------------------------------------------------------------ every shipped check


@pytest.mark.parametrize(
    ("name", "part", "checks"), ALL_PARTS, ids=[f"{name}-{part}" for name, part, _ in ALL_PARTS]
)
def test_reference_passes_and_every_variant_is_named(name, part, checks) -> None:
    """The reference passes every check of the part; each declared mistake (a negative control)
    fails at least one check that names it, and every check it fails names *a* mistake (a
    variant may coincide with the reference on some check's cases, e.g. an option it ignores).
    """
    for check in checks:
        assert run_check(check, _student(check, check.reference), seed=11) is None, check.what
    variants = {id(v): v for check in checks for v in check.variants}.values()
    for variant in variants:
        failures = [
            run_check(check, _student(check, variant.fn), seed=11)
            for check in checks
            if variant in check.variants
        ]
        failures = [f for f in failures if f is not None]
        assert failures, f"{variant.mistake!r} passed every check of {part}"
        assert any(variant.mistake in (f.mistake, *f.others) for f in failures), "\n".join(
            map(str, failures)
        )
        assert all(f.mistake and "seed=11" in str(f) for f in failures)


# ------------------------------------------------------------------------------ compare


def test_compare_names_the_problem() -> None:
    want = torch.zeros(2, 3, 4, dtype=torch.float64)
    assert compare(want.clone(), want) is None
    assert "None" in compare(None, want)
    assert "numpy" in compare(want.numpy(), want)
    assert "torch.Tensor" in compare(want, want, numpy_part=True)
    zeros = lambda *shape: torch.zeros(*shape, dtype=torch.float64)  # noqa: E731
    assert "axis 2 has size 5 instead of 4" in compare(zeros(2, 3, 5), want)
    assert "look swapped" in compare(zeros(3, 2, 4), want)
    assert "2 axes instead of 3" in compare(zeros(2, 3), want)
    assert "dtype float32" in compare(want.float(), want)
    nan = want.clone()
    nan[1, 2, 3] = float("nan")
    assert "NaN in 1 of 24" in compare(nan, want)
    off = want.clone()
    off[0, 1, 2] = 0.5
    assert "index (0, 1, 2)" in compare(off, want)
    assert compare(want + 1e-12, want) is None
    assert "2 items, expected 3" in compare((want, want), (want, want, want))
    assert "keys" in compare({"a": want}, {"b": want})
    assert compare(np.int64(15), 15) is None and "expected 15" in compare(18, 15)
    assert "expected 'last'" in compare("all", "last")
    mask = torch.tensor([[True, False]])
    assert "1 of 2 entries are wrong" in compare(torch.tensor([[True, True]]), mask)


def test_variant_transforms() -> None:
    blocks = torch.cat([torch.full((2, 3), float(k)) for k in range(4)], dim=1)  # i f o g = 0 1 2 3
    reordered = permute_blocks("ifog", "ifgo")(blocks)
    assert reordered[0, ::3].tolist() == [0.0, 1.0, 3.0, 2.0]
    assert transpose(torch.zeros(2, 3)).shape == (3, 2)
    assert reverse_time(torch.arange(6.0).reshape(1, 3, 2))[0, 0].tolist() == [4.0, 5.0]


# ------------------------------------------------------------------------ run_check


def _rnn_case(gen: torch.Generator) -> Case:
    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    return Case({"x": r(2, 3), "h_prev": r(2, 4), "W_x": r(3, 4), "W_h": r(4, 4), "b": r(4)})


RNN_CHECK = Check(
    "one step",
    rnn_cell_forward,
    _rnn_case,
    (
        with_inputs(rnn_cell_forward, "W_h is used transposed", W_h=transpose),
        with_output(rnn_cell_forward, "tanh is missing", lambda h, args: torch.atanh(h)),
    ),
)


def test_variants_diagnose_mistakes() -> None:
    def no_tanh(x, h_prev, W_x, W_h, b):
        return x @ W_x + h_prev @ W_h + b

    failure = run_check(RNN_CHECK, no_tanh, seed=3)
    assert failure.mistake == "tanh is missing" and "wrong values" in failure.problem
    assert "seed=3" in str(failure)

    def unknown(x, h_prev, W_x, W_h, b):
        return torch.tanh(x @ W_x + h_prev @ W_h + 2 * b)

    assert run_check(RNN_CHECK, unknown, seed=3).mistake is None


def test_same_seed_same_case_and_fresh_seeds_differ() -> None:
    first = _rnn_case(torch.Generator().manual_seed(5)).args["x"]
    assert torch.equal(first, _rnn_case(torch.Generator().manual_seed(5)).args["x"])
    assert len({grading.fresh_seed() for _ in range(5)}) > 1


def test_fixed_seed_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNROLLED_GRADING_SEED", "42")
    assert grading.fresh_seed() == 42


def test_exceptions_none_and_in_place_are_explained() -> None:
    def todo(*args):
        raise NotImplementedError()

    assert "not implemented" in run_check(RNN_CHECK, todo, seed=0).problem

    def transposed_x(x, h_prev, W_x, W_h, b):
        return torch.tanh(x.T @ W_x + h_prev @ W_h + b)

    assert "Hint: a matrix product" in run_check(RNN_CHECK, transposed_x, seed=0).problem
    assert "forget to `return`" in run_check(RNN_CHECK, lambda *a: None, seed=0).problem

    def in_place(x, h_prev, W_x, W_h, b):
        h_prev += 0.0 * h_prev + 1.0
        return rnn_cell_forward(x, h_prev - 1.0, W_x, W_h, b)

    assert "modified its input `h_prev` in place" in run_check(RNN_CHECK, in_place, seed=0).problem


def test_assignment_grades_partial_credit(capsys: pytest.CaptureFixture[str]) -> None:
    half = Assignment("demo", {"step": (RNN_CHECK, Check("other", rnn_cell_forward, _rnn_case))})

    def wrong_on_purpose(x, h_prev, W_x, W_h, b):
        return torch.tanh(x @ W_x + h_prev @ W_h)  # no bias: fails both checks

    assert half.grade("step", rnn_cell_forward, points=3) == 3
    with pytest.raises(CheckFailed, match=r"0 / 3 points"):
        half.grade("step", wrong_on_purpose, points=3)
    with pytest.raises(CheckFailed, match=r"seed=7"):
        half.check("step", wrong_on_purpose, seed=7)

    calls = []

    def right_once(*args):  # right for the first check's cases only
        calls.append(1)
        return rnn_cell_forward(*args) if len(calls) <= 2 else None

    assert half.grade("step", right_once, points=3, trials=2) == 1.5
    assert "1/2 checks passed" in capsys.readouterr().out


@pytest.mark.gpu
def test_student_code_runs_on_the_references_device() -> None:
    """With CUDA, the reference and the student's torch code both run on the GPU; a result
    left on the CPU is named; numpy parts still get numpy arrays."""
    seen = []

    def spy(x, h_prev, W_x, W_h, b):
        seen.append(x.device.type)
        return rnn_cell_forward(x, h_prev, W_x, W_h, b)

    assert run_check(RNN_CHECK, spy, seed=0) is None
    assert seen == ["cuda"]
    on_cpu = run_check(RNN_CHECK, lambda *args: rnn_cell_forward(*args).cpu(), seed=0)
    assert "on device cpu, expected cuda" in on_cpu.problem
    numpy_check = dataclasses.replace(RNN_CHECK, numpy=True)
    assert run_check(numpy_check, numpy_io(rnn_cell_forward), seed=0) is None


# --------------------------------------------------------------------------- seeds


def test_seeds_derive_from_the_graders_key_per_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a class is graded the seed of each part comes from the grader's key: the same
    submission gets the same cases on every run, another part or student other cases."""
    monkeypatch.delenv("UNROLLED_GRADING_SEED", raising=False)
    with seeded("secret:01:alice:abc"):
        first = [grading.fresh_seed("pad_sequences"), grading.fresh_seed("lengths_to_mask")]
    with seeded("secret:01:alice:abc"):
        again = [grading.fresh_seed("pad_sequences"), grading.fresh_seed("lengths_to_mask")]
    with seeded("secret:01:bob:abc"):
        other = grading.fresh_seed("pad_sequences")
    assert first == again and first[0] != first[1] and other != first[0]
    assert all(0 <= s < 2**31 for s in first)


def test_score_reports_what_grade_prints() -> None:
    half = Assignment("demo", {"step": (RNN_CHECK, Check("other", rnn_cell_forward, _rnn_case))})
    verdict = half.score("step", rnn_cell_forward, points=4, seed=5)
    assert (verdict.earned, verdict.passed, verdict.checks) == (4, 2, 2)
    assert verdict.report.startswith("step: 4 / 4 points, 2/2 checks passed")
    bad = half.score("step", lambda *a: None, points=4, seed=5)
    assert bad.earned == 0 and "forget to `return`" in bad.report and "seed=5" in bad.report


def test_a_numpy_view_of_any_strides_is_compared_as_its_values() -> None:
    """``out[:, ::-1]`` is a correct answer: in the notebook as in the grader (whose wire sends
    arrays as contiguous copies), it is compared by value."""
    values = np.arange(12.0).reshape(3, 4)
    view = values[:, ::-1]
    assert compare(view, torch.from_numpy(view.copy()), numpy_part=True) is None
    assert "wrong values" in compare(view, torch.from_numpy(values), numpy_part=True)


def test_each_trial_draws_its_own_case() -> None:
    """score() runs every check on ``trials`` cases drawn with consecutive seeds."""
    seen = []

    def record(x, h_prev, W_x, W_h, b):
        seen.append(x.clone())
        return rnn_cell_forward(x, h_prev, W_x, W_h, b)

    Assignment("demo", {"step": (RNN_CHECK,)}).score("step", record, points=1, trials=3, seed=4)
    assert len(seen) == 3
    assert not torch.equal(seen[0], seen[1]) and not torch.equal(seen[1], seen[2])
    assert torch.equal(seen[0], RNN_CHECK.make_case(torch.Generator().manual_seed(4)).args["x"])


def test_stand_ins_are_removed_after_the_call() -> None:
    """During a check the student's globals see the earlier part's reference; afterwards their
    own function again (or nothing, if they had none)."""
    from course_lib.grading import ex02_rnn_forward as tests

    namespace: dict = {"np": np}
    exec(  # noqa: S102 -- a student's two cells
        "def rnn_cell_forward(x, h_prev, W_x, W_h, b):\n    return 'mine'\n"
        "def rnn_forward(x, h0, W_x, W_h, b, return_sequences=True, return_state=False,\n"
        "                go_backwards=False):\n"
        "    seen.append(rnn_cell_forward)\n    return None\n",
        namespace,
    )
    namespace["seen"] = seen = []
    mine = namespace["rnn_cell_forward"]
    with pytest.raises(CheckFailed):
        tests.check("rnn_forward", namespace["rnn_forward"])
    assert seen and seen[0] is not mine  # the reference stood in during the call
    assert namespace["rnn_cell_forward"] is mine
    del namespace["rnn_cell_forward"]
    with pytest.raises(CheckFailed):
        tests.check("rnn_forward", namespace["rnn_forward"])
    assert "rnn_cell_forward" not in namespace


def test_numpy_io_accepts_views_torch_cannot_share() -> None:
    """A stand-in (a torch reference behind numpy_io) receives whatever the student's loop
    passes: a reversed view, a big-endian or read-only array works as its values."""
    values = np.arange(6.0).reshape(2, 3)
    double = numpy_io(lambda a: a * 2)
    forms = (values[::-1], values[:, ::-1], values.astype(">f8"), np.broadcast_to(values, (2, 3)))
    for form in forms:
        assert np.array_equal(double(form), np.asarray(form) * 2)
    shared = values.copy()  # an ordinary array is still shared, not copied
    assert to_tensors(shared).data_ptr() == shared.ctypes.data
