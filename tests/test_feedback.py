"""Feedback that teaches: what a student reads when an answer is wrong.

- Garbage of every kind returned by every part gives one clear sentence with the seed, never an
  exception out of the checker or a traceback into course_lib.
- The generic diagnosis (course_lib/grading/diagnose.py) says where and how a result is wrong.
- A failed check shows in IPython (JupyterLab, Validate) as its message alone.
"""

from __future__ import annotations

import importlib
import pkgutil
import random

import numpy as np
import pytest
import torch

import course_lib.grading as grading
from course_lib.grading import CheckFailed
from course_lib.grading.diagnose import clues

F64 = torch.float64
MODULES = sorted(m.name for m in pkgutil.iter_modules(grading.__path__) if m.name.startswith("ex"))
PARTS = [
    (name, part)
    for name in MODULES
    for part in importlib.import_module(f"course_lib.grading.{name}").ASSIGNMENT.parts
]


class _Hostile:
    """A result whose every comparison raises: the checker must not pass the error on."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    def __len__(self) -> int:
        raise RuntimeError("no measuring me")

    __hash__ = None  # type: ignore[assignment]


class _HostileTuple(tuple):
    """A tuple that will not say how long it is."""

    def __len__(self) -> int:
        raise RuntimeError("no measuring me")


def _garbage(rng: random.Random, depth: int = 0) -> object:
    """A random value of a random kind: what a confused (or broken) answer might return."""
    kinds = [
        "none",
        "str",
        "int",
        "float",
        "nan",
        "bool",
        "complex",
        "bytes",
        "set",
        "object",
        "tensor",
        "array",
        "object_array",
        "generator",
        "function",
        "hostile",
        "bigint",
    ]
    if depth < 2:
        kinds += ["list", "tuple", "dict"] * 2
    kind = rng.choice(kinds)
    shape = tuple(rng.randint(0, 4) for _ in range(rng.randint(0, 3)))
    return {
        "none": lambda: None,
        "str": lambda: rng.choice(["", "last", "stable", "vanishing", "x" * 50]),
        "int": lambda: rng.randint(-5, 100),
        "float": lambda: rng.uniform(-3, 3),
        "nan": lambda: float("nan"),
        "bool": lambda: rng.random() < 0.5,
        "complex": lambda: complex(1, 2),
        "bytes": lambda: b"\x00\x01",
        "set": lambda: {1, 2},
        "object": object,
        "tensor": lambda: torch.randn(shape, dtype=rng.choice([F64, torch.float32])).to(
            rng.choice([torch.float64, torch.int64, torch.bool])
        ),
        "array": lambda: (
            np.random.default_rng(rng.randint(0, 99))
            .normal(size=shape)
            .astype(rng.choice([np.float64, np.float32, np.int64]))
        ),
        "object_array": lambda: np.array([None, "a", 1.0], dtype=object),
        "generator": lambda: (i for i in range(3)),
        "function": lambda: lambda: 0,
        "hostile": _Hostile,
        "bigint": lambda: 10**40,
        "list": lambda: [_garbage(rng, depth + 1) for _ in range(rng.randint(0, 4))],
        "tuple": lambda: tuple(_garbage(rng, depth + 1) for _ in range(rng.randint(0, 4))),
        "dict": lambda: {
            rng.choice(["dx", "db", "h", 0]): _garbage(rng, depth + 1)
            for _ in range(rng.randint(0, 3))
        },
    }[kind]()


@pytest.mark.parametrize(("name", "part"), PARTS, ids=[f"{n}-{p}" for n, p in PARTS])
def test_garbage_results_get_one_clear_sentence(name: str, part: str) -> None:
    """Forty random garbage results per part: each ends in CheckFailed naming the part, the
    check and the seed, with no traceback and no course_lib path in it."""
    module = importlib.import_module(f"course_lib.grading.{name}")
    rng = random.Random(f"{name}:{part}")
    for trial in range(40):
        value = _garbage(rng)
        with pytest.raises(CheckFailed) as caught:
            module.ASSIGNMENT.check(part, lambda *args, _value=value, **kwargs: _value, seed=trial)
        message = str(caught.value)
        assert message.startswith(f"{part} — "), message
        assert f"seed={trial}" in message, message
        assert "Traceback" not in message and "course_lib/" not in message, message
        assert "\n  Random case seed=" in message, message


def test_a_result_that_breaks_comparison_is_the_checkers_fault() -> None:
    from course_lib.grading import ex05_lstm as tests

    with pytest.raises(CheckFailed) as caught:
        tests.check("lstm_cell_forward", lambda *a, **k: _HostileTuple((1, 2)), seed=3)
    message = str(caught.value)
    assert "the checker could not compare the result (RuntimeError: no measuring me)" in message
    assert message.startswith("lstm_cell_forward — ") and "seed=3" in message


def test_scoring_garbage_earns_nothing_and_raises_nothing() -> None:
    from course_lib.grading import ex05_lstm as tests

    for part in tests.ASSIGNMENT.parts:
        verdict = tests.ASSIGNMENT.score(part, lambda *a, **k: _HostileTuple(), points=2, seed=1)
        assert verdict.earned == 0 and verdict.passed == 0
        assert "could not compare" in verdict.report or "is a _HostileTuple" in verdict.report


# ------------------------------------------------------------------ the generic diagnosis


def _seq(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=F64)


INPUTS = {"x": _seq(3, 5, 2), "h0": _seq(3, 4)}  # batch 3, time 5
WANT = torch.tanh(_seq(3, 5, 4))


def _one(got, want=WANT, inputs=INPUTS, **options) -> str:
    found = clues(got, want, inputs, **options)
    assert found, "no clue found"
    return " | ".join(found)


def test_a_constant_factor_or_a_sign() -> None:
    assert "2 × the expected values" in _one(2 * WANT)
    assert "wrong sign" in _one(-WANT)
    assert "1/3: divided by the number of batch rows" in _one(WANT / 3)


def test_a_transpose_a_reversal_a_shift() -> None:
    square = _seq(4, 4)
    assert "transpose" in _one(square.T, square)
    assert "reversed along the time axis (1)" in _one(WANT.flip(1))
    shifted = torch.cat([WANT[:, 1:], WANT[:, :1]], dim=1)
    assert "shifted by one along the time axis (1)" in _one(shifted)


def test_an_activation_missing_or_doubled() -> None:
    pre = _seq(3, 5, 4)
    assert "pre-activation: tanh was not applied" in _one(pre, torch.tanh(pre))
    assert "sigmoid applied once too often" in _one(torch.sigmoid(WANT))


def test_equal_to_an_input() -> None:
    state = torch.tanh(_seq(3, 4) + 1)
    assert "equals the input `h0`, unchanged" in _one(INPUTS["h0"], state)


def test_which_time_steps_and_which_rows() -> None:
    later = WANT.clone()
    later[:, 1:] += 0.3
    assert "step 0 is right and steps 1–4 are wrong; your first step is right" in _one(later)
    earlier = WANT.clone()
    earlier[:, :3] *= 1.5
    said = _one(earlier)
    assert "steps 3, 4 are right and steps 0–2 are wrong" in said
    assert "the last steps are right" in said
    rows = WANT.clone()
    rows[1] += 0.2
    assert "rows 0, 2 are right and row 1 is wrong" in _one(rows)


def test_gate_blocks() -> None:
    hidden = 5
    inputs = {"h_prev": _seq(3, hidden)}
    want = _seq(4, 4 * hidden)  # (D, 4H), blocks i, f, g, o
    i, f, g, o = want.split(hidden, -1)
    assert "order i, f, o, g; expected i, f, g, o" in _one(
        torch.cat([i, f, o, g], -1), want, inputs, gates="ifgo"
    )
    wrong_f = torch.cat([i, f * 2 + 1, g, o], -1)
    assert "the f block is wrong; the i, g, o blocks are right" in _one(
        wrong_f, want, inputs, gates="ifgo"
    )


def test_which_outputs_of_a_dict_or_tuple() -> None:
    want = {"dx": WANT, "db": _seq(4), "dW": _seq(2, 4)}
    got = {"dx": WANT.clone(), "db": _seq(4) + 1, "dW": _seq(2, 4)}
    assert "wrong: the result['db']; right: the result['dx'], the result['dW']" in _one(got, want)


def test_outputs_in_the_wrong_order_signs_lost_and_shapes() -> None:
    h, c = WANT[:, 0], 2 * WANT[:, 1]
    assert "the result[0] holds what the result[1] should" in _one((c, h), (h, c))
    assert "lost its signs" in _one(WANT.abs())
    assert "reverse order, which is what .T does" in _one(WANT.permute(2, 1, 0))
    assert "axes of the input `x` in reverse order" in _one(INPUTS["x"].permute(2, 1, 0))
    by_batch = torch.zeros(3, 3, 4, dtype=F64)  # looped over the batch instead of time
    assert "axis 1 of the result has the size of the batch rows (3) where the time steps (5)" in (
        _one(by_batch)
    )


def test_a_dtype_alone_gets_no_clue_about_values() -> None:
    assert clues(WANT.float(), WANT, INPUTS) == []


def test_nothing_generic_is_said_about_noise() -> None:
    noise = WANT + 0.1 * _seq(3, 5, 4)
    assert clues(noise, WANT, INPUTS) == []


def test_a_check_adds_the_diagnosis_when_no_mistake_is_named() -> None:
    from course_lib.grading import ex02_rnn_forward as tests

    def from_h0_after_step_0(
        x, h0, W_x, W_h, b, return_sequences=True, return_state=False, go_backwards=False
    ):
        h, out = h0, []
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ W_x + h @ (W_h if t == 0 else W_h.T) + b)
            out.append(h)
        return np.stack(out, axis=1)

    with pytest.raises(CheckFailed) as caught:
        tests.check("rnn_forward", from_h0_after_step_0)
    assert "Diagnosis: in the result, step 0 is right and steps 1–4 are wrong" in str(caught.value)
    assert "Likely mistake" not in str(caught.value)


# ------------------------------------------------------------------ in IPython


def test_a_failed_check_shows_as_its_message_alone(capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell(
        "from course_lib.grading import ex02_rnn_forward as tests\n"
        "def count_params(input_size, hidden_size, bias=True):\n"
        "    return input_size * hidden_size + hidden_size\n"
        "tests.check('count_params', count_params)"
    )
    shown = capsys.readouterr().out
    assert "CheckFailed: count_params — " in shown
    assert "Likely mistake: the recurrent weights W_h (H × H) are missing" in shown
    assert "assignment.py" not in shown and "Traceback" not in shown


def test_an_input_dict_changed_in_place_is_reported() -> None:
    from course_lib.device import numpy_io
    from course_lib.grading import ex05_lstm as tests

    reference = numpy_io(tests.LSTM_CELL_BACKWARD[0].reference)

    def backward_that_edits_the_cache(dh, dc, cache):
        grads = reference(dh, dc, cache)
        cache["c"] *= 0  # "tidying up" the caller's cache
        return grads

    with pytest.raises(CheckFailed, match="modified its input `cache` in place"):
        tests.check("lstm_cell_backward", backward_that_edits_the_cache)


def test_mistakes_that_give_the_same_result_are_all_offered() -> None:
    from course_lib.grading import Assignment, Case, Check, Variant

    check = Check(
        "the count",
        lambda n: n + 1,
        lambda gen: Case({"n": 3}),
        (
            Variant("added two", lambda n: n + 2),
            Variant("doubled it, less one", lambda n: 2 * n - 1),
            Variant("added nothing", lambda n: n),
        ),
    )
    with pytest.raises(CheckFailed) as caught:
        Assignment("demo", {"count": (check,)}).check("count", lambda n: 5)
    message = str(caught.value)
    assert "Possible mistakes (each gives exactly this result):" in message
    assert "- added two." in message and "- doubled it, less one." in message
    assert "added nothing" not in message and "Likely mistake" not in message


def test_powers_softmax_and_counts() -> None:
    positive = WANT.abs() + 0.1
    assert "the square of the expected values" in _one(positive**2, positive)
    assert "the square root of the expected values" in _one(positive.sqrt(), positive)
    assert "softmax of the expected values" in _one(torch.softmax(WANT, -1))
    assert "1/10: divided by a count" in _one(WANT / 10)
    assert "(7: a sum where a mean is expected" in _one(WANT * 7)


def test_a_missing_axis_still_says_which_outputs_are_right() -> None:
    """Shapes of different lengths: the diagnosis does not break, it lists the outputs."""
    h = WANT[:, 0]
    found = clues((h, h[None].squeeze(0)[:, :3]), (h, h[None]), INPUTS)
    assert found and "wrong: the result[1]; right: the result[0]" in found[0]
