"""Checks for exercise 06, GRU and peephole LSTM (references: :mod:`course_lib.cells`,
:mod:`.params`, :mod:`.convert`, and ``torch.nn.GRU`` itself).

Parts: ``gru_cell_forward`` (numpy, both reset placements), ``peephole_lstm_cell_forward``
(numpy), ``count_params`` (plain Python) and ``gru_layer_forward`` (PyTorch, reproduces
``nn.GRU`` from its weights).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .. import cells, convert, params
from .assignment import Assignment
from .check import Case, Check, Variant
from .ex05_lstm import module_variant, torch_rows
from .variants import permute_blocks, with_inputs

F64 = torch.float64
BATCH, FEATURES, HIDDEN, STEPS = 3, 4, 5, 6


def _randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    return scale * torch.randn(*shape, generator=gen, dtype=F64)


# ---------------------------------------------------------------------------- gru_cell_forward


def _gru_case(reset_after: bool):
    def make(gen: torch.Generator) -> Case:
        return Case(
            {
                "x": _randn(gen, BATCH, FEATURES),
                "h_prev": _randn(gen, BATCH, HIDDEN, scale=0.5),
                "W_x": _randn(gen, FEATURES, 3 * HIDDEN, scale=0.5),
                "W_h": _randn(gen, HIDDEN, 3 * HIDDEN, scale=0.5),
                "b_x": _randn(gen, 3 * HIDDEN, scale=0.5),
                "b_h": _randn(gen, 3 * HIDDEN, scale=0.5),
            },
            {"reset_after": reset_after},
        )

    return make


def _gru_h(
    x: Tensor,
    h_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor,
    b_h: Tensor,
    reset_after: bool = True,
) -> Tensor:
    return cells.gru_cell_forward(x, h_prev, W_x, W_h, b_x, b_h, reset_after=reset_after).h


def _update_swapped(*args: Tensor, reset_after: bool = True) -> Tensor:
    step = cells.gru_cell_forward(*args, reset_after=reset_after)
    return step.z * step.n + (1 - step.z) * args[1]


def _update_with_reset_gate(*args: Tensor, reset_after: bool = True) -> Tensor:
    step = cells.gru_cell_forward(*args, reset_after=reset_after)
    return (1 - step.r) * step.n + step.r * args[1]


def _b_hn_outside_reset(
    x: Tensor,
    h_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor,
    b_h: Tensor,
    reset_after: bool = True,
) -> Tensor:
    """The cuDNN form with b_hn added after the reset gate: r ⊙ (h W_hn) + b_hn."""
    step = cells.gru_cell_forward(x, h_prev, W_x, W_h, b_x, b_h, reset_after=True)
    b_hn, hidden = b_h.chunk(3)[2], h_prev.shape[-1]
    x_n = x @ W_x[:, 2 * hidden :] + b_x[2 * hidden :]
    n = torch.tanh(x_n + step.r * (step.hn - b_hn) + b_hn)
    return (1 - step.z) * n + step.z * h_prev


_Z_R_N = permute_blocks("zrn", "rzn")
_GRU_VARIANTS = (
    Variant(
        "z and 1 − z are swapped: here h_t = (1 − z) ⊙ n + z ⊙ h_(t-1) (Keras writes "
        "z ⊙ h + (1 − z) ⊙ hh, the same thing with other labels)",
        _update_swapped,
    ),
    with_inputs(
        _gru_h,
        "wrong gate order: the blocks are r, z, n (PyTorch), not z, r, n (Keras)",
        **{w: _Z_R_N for w in ("W_x", "W_h", "b_x", "b_h")},
    ),
    Variant(
        "the new state was mixed with the reset gate r; the update gate z mixes it: "
        "h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)",
        _update_with_reset_gate,
    ),
    with_inputs(
        _gru_h,
        "the input projection's blocks were read as z, r, n but the hidden ones "
        "as r, z, n: both stack r, z, n",
        W_x=_Z_R_N,
        b_x=_Z_R_N,
    ),
)
GRU_CELL_FORWARD = (
    Check(
        "reset_after=True (PyTorch/cuDNN): n = tanh(x W_xn + b_xn + r ⊙ (h W_hn + b_hn))",
        _gru_h,
        _gru_case(True),
        (
            *_GRU_VARIANTS,
            with_inputs(
                _gru_h,
                "the reset gate was applied before the matmul (Cho et al.); "
                "with reset_after=True it multiplies h W_hn + b_hn",
                reset_after=False,
            ),
            Variant(
                "b_hn was added outside the reset gate; with reset_after=True the reset gate "
                "multiplies h W_hn + b_hn, bias included",
                _b_hn_outside_reset,
            ),
        ),
        numpy=True,
    ),
    Check(
        "reset_after=False (Cho et al. 2014): n = tanh(x W_xn + b_xn + (r ⊙ h) W_hn + b_hn)",
        _gru_h,
        _gru_case(False),
        (
            *_GRU_VARIANTS,
            with_inputs(
                _gru_h,
                "the reset gate was applied after the matmul; with "
                "reset_after=False it scales h before it: (r ⊙ h) W_hn",
                reset_after=True,
            ),
        ),
        numpy=True,
    ),
)

# ------------------------------------------------------------------ peephole_lstm_cell_forward


def _peephole_case(gen: torch.Generator) -> Case:
    return Case(
        {
            "x": _randn(gen, BATCH, FEATURES),
            "h_prev": _randn(gen, BATCH, HIDDEN, scale=0.5),
            "c_prev": _randn(gen, BATCH, HIDDEN),
            "W_x": _randn(gen, FEATURES, 4 * HIDDEN, scale=0.5),
            "W_h": _randn(gen, HIDDEN, 4 * HIDDEN, scale=0.5),
            "b": _randn(gen, 4 * HIDDEN, scale=0.5),
            "p_i": _randn(gen, HIDDEN),
            "p_f": _randn(gen, HIDDEN),
            "p_o": _randn(gen, HIDDEN),
        }
    )


def _peephole(
    x: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor,
    p_i: Tensor,
    p_f: Tensor,
    p_o: Tensor,
) -> tuple[Tensor, Tensor]:
    """``(h, c)`` of one peephole LSTM step."""
    step = cells.peephole_lstm_cell_forward(x, h_prev, c_prev, W_x, W_h, b, p_i, p_f, p_o)
    return step.h, step.c


def _output_gate_sees_old_cell(*args: Tensor) -> tuple[Tensor, Tensor]:
    step = cells.peephole_lstm_cell_forward(*args)
    c_prev, p_o = args[2], args[8]
    # Undo the sigmoid, swap the peephole term p_o ⊙ c_t for p_o ⊙ c_(t-1), redo it.
    o = torch.sigmoid(torch.logit(step.o) - p_o * step.c + p_o * c_prev)
    return o * torch.tanh(step.c), step.c


def _swapped_i_f(*args: Tensor) -> tuple[Tensor, Tensor]:
    *rest, p_i, p_f, p_o = args
    return _peephole(*rest, p_f, p_i, p_o)


def _input_gate_uses_p_f(*args: Tensor) -> tuple[Tensor, Tensor]:
    *rest, _, p_f, p_o = args
    return _peephole(*rest, p_f, p_f, p_o)


def _peephole_written(
    x: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor,
    p_i: Tensor,
    p_f: Tensor,
    p_o: Tensor,
    *,
    o_peeks: Callable[[Tensor], Tensor] = lambda c: c,
    coupled: bool = False,
) -> tuple[Tensor, Tensor]:
    """One peephole step written out, with the mistakes the keywords name: the output gate peeks
    at ``o_peeks(c_t)``, or the input gate is replaced by ``1 − f`` (coupled gates)."""
    a_i, a_f, a_g, a_o = (x @ W_x + h_prev @ W_h + b).chunk(4, dim=-1)
    f = torch.sigmoid(a_f + p_f * c_prev)
    i = 1 - f if coupled else torch.sigmoid(a_i + p_i * c_prev)
    c = f * c_prev + i * torch.tanh(a_g)
    return torch.sigmoid(a_o + p_o * o_peeks(c)) * torch.tanh(c), c


PEEPHOLE_LSTM_CELL_FORWARD = (
    Check(
        "(h, c) with peepholes p_i, p_f on c_(t-1) and p_o on c_t",
        _peephole,
        _peephole_case,
        (
            Variant(
                "the output gate looked at the old cell state; it sees the new one: "
                "o = σ(a_o + p_o ⊙ c_t)",
                _output_gate_sees_old_cell,
            ),
            with_inputs(
                _peephole,
                "the forget gate's peephole p_f ⊙ c_(t-1) is missing",
                p_f=torch.zeros_like,
            ),
            with_inputs(
                _peephole,
                "the input gate's peephole p_i ⊙ c_(t-1) is missing",
                p_i=torch.zeros_like,
            ),
            Variant("p_i and p_f are swapped", _swapped_i_f),
            Variant(
                "the input gate used the forget gate's peephole p_f; it has its own: "
                "i = σ(a_i + p_i ⊙ c_(t-1))",
                _input_gate_uses_p_f,
            ),
            Variant(
                "the output gate peeked at tanh(c_t); the peephole reads the cell state "
                "itself: o = σ(a_o + p_o ⊙ c_t)",
                functools.partial(_peephole_written, o_peeks=torch.tanh),
            ),
            Variant(
                "the input gate was replaced by 1 − f (coupled gates); this cell has its own "
                "input gate: c_t = f ⊙ c_(t-1) + i ⊙ g",
                functools.partial(_peephole_written, coupled=True),
            ),
        ),
        numpy=True,
    ),
)

# ------------------------------------------------------------------------------- count_params


def _count(kind: str, input_size: int, hidden_size: int, convention: str = "course") -> int:
    return params.count_params(kind, input_size, hidden_size, convention=convention)


def _sizes_case(kind: str, convention: str):
    def make(gen: torch.Generator) -> Case:
        input_size, hidden_size = (int(n) for n in torch.randint(2, 40, (2,), generator=gen))
        return Case(
            {"kind": kind, "input_size": input_size, "hidden_size": hidden_size},
            {"convention": convention},
        )

    return make


def _without_biases(kind: str, input_size: int, hidden_size: int, **_: Any) -> int:
    return params.count_params(kind, input_size, hidden_size, bias=False)


_COUNT_VARIANTS = {
    "no_bias": Variant("the biases are not counted", _without_biases),
    "one_bias": Variant(
        "one bias vector per gate block; torch has two, bias_ih and bias_hh",
        lambda kind, d, h, convention: _count(kind, d, h),
    ),
    "gru_one_bias": Variant(
        "the cuDNN-form GRU (reset_after=True) needs two bias vectors, b_x and b_h, because b_hn "
        "sits inside the reset gate",
        lambda kind, d, h, convention: params.count_params(kind, d, h, reset_after=False),
    ),
    "no_peepholes": Variant(
        "the three peephole vectors p_i, p_f, p_o (3H) are not counted",
        lambda kind, d, h, convention: _count("lstm", d, h),
    ),
    "square_peepholes": Variant(
        "the peepholes were counted as H×H matrices; they are diagonal, H each",
        lambda kind, d, h, convention: _count(kind, d, h) + 3 * h * h - 3 * h,
    ),
    "four_peepholes": Variant(
        "a peephole was counted for the candidate g too; only the gates i, f and o have one (3H)",
        lambda kind, d, h, convention: _count(kind, d, h) + h,
    ),
    "gru_two_blocks": Variant(
        "the GRU was counted with two blocks (r and z); it has three: the candidate n has its "
        "own weights and biases too",
        lambda kind, d, h, convention: _count(kind, d, h, convention) * 2 // 3,
    ),
}


def _count_check(kind: str, convention: str, *variants: str) -> Check:
    return Check(
        f"{kind}, {convention} convention",
        _count,
        _sizes_case(kind, convention),
        (_COUNT_VARIANTS["no_bias"], *(_COUNT_VARIANTS[v] for v in variants)),
    )


COUNT_PARAMS = (
    _count_check("rnn", "course"),
    _count_check("lstm", "course"),
    _count_check("gru", "course", "gru_one_bias", "gru_two_blocks"),
    _count_check("peephole_lstm", "course", "no_peepholes", "square_peepholes", "four_peepholes"),
    _count_check("rnn", "torch", "one_bias"),
    _count_check("lstm", "torch", "one_bias"),
    _count_check("gru", "torch", "gru_two_blocks"),
)

# ---------------------------------------------------------------------------- gru_layer_forward


def _torch_gru_case(gen: torch.Generator) -> Case:
    gru = nn.GRU(FEATURES, HIDDEN, batch_first=True, dtype=F64)
    with torch.no_grad():
        for param in gru.parameters():  # nn.GRU draws from the global RNG: redraw from gen
            param.copy_(_randn(gen, *param.shape, scale=0.5))
    return Case({"gru": gru, "x": _randn(gen, BATCH, STEPS, FEATURES)})


def _torch_gru(gru: nn.GRU, x: Tensor) -> tuple[Tensor, Tensor]:
    return gru(x)


def _cho_form(gru: nn.GRU, x: Tensor) -> tuple[Tensor, Tensor]:
    return tuple(convert.from_torch(gru, reset_after=False, return_state=True)(x))


def _keras_update(gru: nn.GRU, x: Tensor) -> tuple[Tensor, Tensor]:
    """nn.GRU's loop with the new state mixed as z ⊙ n + (1 − z) ⊙ h."""
    h, outputs = x.new_zeros(x.shape[0], gru.hidden_size), []
    for t in range(x.shape[1]):
        x_r, x_z, x_n = (x[:, t] @ gru.weight_ih_l0.T + gru.bias_ih_l0).chunk(3, dim=-1)
        h_r, h_z, h_n = (h @ gru.weight_hh_l0.T + gru.bias_hh_l0).chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        h = z * torch.tanh(x_n + r * h_n) + (1 - z) * h
        outputs.append(h)
    return torch.stack(outputs, dim=1), h.unsqueeze(0)


def _returned_hidden_n_block(gru: nn.GRU, x: Tensor) -> tuple[Tensor, Tensor]:
    """The right output, with h_n replaced by the last step's n block of h W_hh^T + b_hh (the
    h it reads is the state before the last step)."""
    output, _ = gru(x)
    hidden = gru.hidden_size
    before_last = output[:, -2] if output.shape[1] > 1 else torch.zeros_like(output[:, 0])
    n_block = before_last @ gru.weight_hh_l0[2 * hidden :].T + gru.bias_hh_l0[2 * hidden :]
    return output, n_block.unsqueeze(0)


GRU_LAYER_FORWARD = (
    Check(
        "output and h_n of nn.GRU(batch_first=True), from its weights",
        _torch_gru,
        _torch_gru_case,
        (
            module_variant(
                _torch_gru,
                "wrong gate order: PyTorch stacks the rows of weight_ih as "
                "r, z, n (Keras uses z, r, h)",
                torch_rows(_Z_R_N),
            ),
            Variant(
                "the reset gate was applied before the matmul (Cho et al.); nn.GRU applies it "
                "after: n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))",
                _cho_form,
            ),
            Variant(
                "z and 1 − z are swapped: nn.GRU keeps z of the old state, h_t = (1 − z) ⊙ n "
                "+ z ⊙ h_(t-1), not z ⊙ n + (1 − z) ⊙ h_(t-1)",
                _keras_update,
            ),
            module_variant(
                _torch_gru,
                "bias_hh is missing: nn.GRU adds both biases, bias_ih to "
                "x W_ih^T and bias_hh to h W_hh^T",
                lambda name, p: p * 0 if name.startswith("bias_hh") else p,
            ),
            Variant(
                "the returned h_n is the n block of the hidden projection h W_hh^T + b_hh, not "
                "nn.GRU's final state: return the last h, output[:, -1] with a leading axis "
                "of size 1",
                _returned_hidden_n_block,
            ),
        ),
        hints=(
            (
                "shapes cannot be multiplied",
                "PyTorch stores weight_ih as (3H, D): use its transpose, x_t @ weight_ih.T",
            ),
        ),
    ),
)

ASSIGNMENT = Assignment(
    "06_gru_peephole",
    {
        "gru_cell_forward": GRU_CELL_FORWARD,
        "peephole_lstm_cell_forward": PEEPHOLE_LSTM_CELL_FORWARD,
        "count_params": COUNT_PARAMS,
        "gru_layer_forward": GRU_LAYER_FORWARD,
    },
)
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
