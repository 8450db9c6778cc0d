"""Checks for exercise 05, the LSTM (references: :mod:`course_lib.cells`, :mod:`.sequence`,
:mod:`.backward`, :mod:`.convert`, and ``torch.nn.LSTM`` itself).

Parts: ``lstm_cell_forward``, ``lstm_forward``, ``lstm_cell_backward`` (numpy),
``lstm_layer_forward`` (PyTorch, reproduces ``nn.LSTM`` from its weights) and
``lstm_from_cs231n`` (numpy, weight porting).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .. import backward, cells, convert, sequence
from .assignment import Assignment
from .check import Case, Check, Variant
from .variants import permute_blocks, reverse_time, with_inputs, with_output

F64 = torch.float64
BATCH, FEATURES, HIDDEN, STEPS = 3, 4, 5, 6  # B != T, so a swapped (T, B) axis pair shows


def _randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    return scale * torch.randn(*shape, generator=gen, dtype=F64)


def _swap_g_o(W: Tensor) -> Tensor:
    """Weights as seen by code that reads the blocks as i, f, o, g: the g and o blocks trade."""
    return permute_blocks("ifog", "ifgo")(W)


def module_variant(
    reference: Callable[..., Any], mistake: str, edit: Callable[[str, Tensor], Tensor]
) -> Variant:
    """The reference run on a copy of its first argument, an ``nn.Module``, whose parameters
    were replaced by ``edit(name, parameter)`` (e.g. gate rows permuted, a bias zeroed)."""

    def mistaken(module: nn.Module, *args: Any) -> Any:
        edited = copy.deepcopy(module)
        with torch.no_grad():
            for name, param in edited.named_parameters():
                param.copy_(edit(name, param).clone())  # clone: an edit may return a view
        return reference(edited, *args)

    return Variant(mistake, mistaken)


def torch_rows(permute: Callable[[Tensor], Tensor]) -> Callable[[str, Tensor], Tensor]:
    """Apply a gate-block permutation of the last axis to torch-layout parameters, whose gate
    blocks are *rows* (``weight_ih`` is ``(kH, D)``); biases are 1-D."""
    return lambda name, p: permute(p.T).T if p.dim() == 2 else permute(p)


# -------------------------------------------------------------------------- lstm_cell_forward


def _cell_case(gen: torch.Generator) -> Case:
    return Case(
        {
            "x": _randn(gen, BATCH, FEATURES),
            "h_prev": _randn(gen, BATCH, HIDDEN, scale=0.5),
            "c_prev": _randn(gen, BATCH, HIDDEN),
            "W_x": _randn(gen, FEATURES, 4 * HIDDEN, scale=0.5),
            "W_h": _randn(gen, HIDDEN, 4 * HIDDEN, scale=0.5),
            "b": _randn(gen, 4 * HIDDEN, scale=0.5),
        }
    )


def _cell(x: Tensor, h_prev: Tensor, c_prev: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor):
    """``(h, c)`` of one LSTM step."""
    return tuple(cells.lstm_cell_forward(x, h_prev, c_prev, W_x, W_h, b)[:2])


def _h_without_tanh(*args: Tensor) -> tuple[Tensor, Tensor]:
    step = cells.lstm_cell_forward(*args)
    return step.o * step.c, step.c


def _cell_written(
    x: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor,
    *,
    candidate: Callable[[Tensor], Tensor] = torch.tanh,
    h_from_old_cell: bool = False,
) -> tuple[Tensor, Tensor]:
    """One LSTM step written out, with the mistakes the keywords name: the candidate squashed by
    ``candidate``, or h read from ``c_prev`` instead of the new cell."""
    a_i, a_f, a_g, a_o = (x @ W_x + h_prev @ W_h + b).chunk(4, dim=-1)
    c = torch.sigmoid(a_f) * c_prev + torch.sigmoid(a_i) * candidate(a_g)
    return torch.sigmoid(a_o) * torch.tanh(c_prev if h_from_old_cell else c), c


LSTM_CELL_FORWARD = (
    Check(
        "(h, c) of one step, gates stacked i, f, g, o",
        _cell,
        _cell_case,
        (
            with_inputs(
                _cell,
                "wrong gate order: the blocks are i, f, g, o (PyTorch), not i, f, o, g (CS231n)",
                W_x=_swap_g_o,
                W_h=_swap_g_o,
                b=_swap_g_o,
            ),
            Variant("tanh(c_t) is missing in h_t = o ⊙ tanh(c_t)", _h_without_tanh),
            with_inputs(
                _cell,
                "the input and forget gates are swapped: c_t = f ⊙ c_(t-1) + i ⊙ g",
                **{w: permute_blocks("figo", "ifgo") for w in ("W_x", "W_h", "b")},
            ),
            Variant(
                "the candidate g was squashed with a sigmoid like the gates; it uses tanh: "
                "g = tanh(a_g), so it can be negative",
                functools.partial(_cell_written, candidate=torch.sigmoid),
            ),
            Variant(
                "h was computed from the old cell state c_(t-1); it reads the new one: "
                "h_t = o ⊙ tanh(c_t)",
                functools.partial(_cell_written, h_from_old_cell=True),
            ),
        ),
        numpy=True,
    ),
)

# ------------------------------------------------------------------------------ lstm_forward


def _sequence_case(gen: torch.Generator) -> Case:
    step = _cell_case(gen).args
    return Case(
        {
            "x": _randn(gen, BATCH, STEPS, FEATURES),
            "h0": step["h_prev"],
            "c0": step["c_prev"],
            "W_x": step["W_x"],
            "W_h": step["W_h"],
            "b": step["b"],
        }
    )


def _forward(x: Tensor, h0: Tensor, c0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor):
    """``(h_seq (B, T, H), h_T, c_T)``."""
    return sequence.lstm_forward(x, h0, c0, W_x, W_h, b, return_state=True)


def _cell_state_not_carried(
    x: Tensor, h0: Tensor, c0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    h, hs = h0, []
    for t in range(x.shape[1]):
        h, c = _cell(x[:, t], h, c0, W_x, W_h, b)
        hs.append(h)
    return torch.stack(hs, dim=1), h, c


LSTM_FORWARD = (
    Check(
        "(h_seq, h_T, c_T) over a (B, T, D) sequence",
        _forward,
        _sequence_case,
        (
            with_inputs(_forward, "the sequence was read backwards in time", x=reverse_time),
            Variant(
                "the cell state was not carried over time: every step got c0; pass each "
                "step the c of the step before, h, c = lstm_cell_forward(x[:, t], h, c, ...)",
                _cell_state_not_carried,
            ),
        ),
        numpy=True,
        stand_ins={"lstm_cell_forward": _cell},
        hints=(
            (
                "from x, H=",
                "the step's x and its state disagree on the batch size: x is "
                "batch first (B, T, D), so step t is x[:, t] (x[t] is sample "
                "t)",
            ),
        ),
    ),
)

# ------------------------------------------------------------------------- lstm_cell_backward


def _cache_case(gen: torch.Generator) -> Case:
    step = _cell_case(gen).args
    cache = backward.lstm_cell_forward_cached(*step.values())[2]._asdict()
    return Case(
        {"dh": _randn(gen, BATCH, HIDDEN), "dc": _randn(gen, BATCH, HIDDEN), "cache": cache}
    )


def _backward(dh: Tensor, dc: Tensor, cache: dict[str, Tensor]) -> dict[str, Tensor]:
    return backward.lstm_cell_backward(dh, dc, backward.LSTMCache(**cache))


def _no_h_path_into_c(dh: Tensor, dc: Tensor, cache: dict[str, Tensor]) -> dict[str, Tensor]:
    # The gradients are linear in (dh, dc): removing the term dh ⊙ o ⊙ (1 − tanh²(c)) from the
    # cell's gradient is subtracting the backward pass of that term alone, fed in as dc.
    through_c = dh * cache["o"] * (1 - torch.tanh(cache["c"]) ** 2)
    full, part = _backward(dh, dc, cache), _backward(torch.zeros_like(dh), through_c, cache)
    return {name: full[name] - part[name] for name in full}


def _backward_written(
    dh: Tensor,
    dc: Tensor,
    cache: dict[str, Tensor],
    *,
    do_reads_c: bool = False,
    df_reads_c: bool = False,
) -> dict[str, Tensor]:
    """The backward pass written out, with the mistakes the keywords name: ``do = dh ⊙ c`` (no
    tanh), or ``df = dc_total ⊙ c`` (the new cell instead of ``c_prev``)."""
    i, f, g, o, c = (cache[name] for name in "ifgoc")
    tanh_c = torch.tanh(c)
    do = dh * (c if do_reads_c else tanh_c)
    dc_total = dc + dh * o * (1 - tanh_c**2)
    df = dc_total * (c if df_reads_c else cache["c_prev"])
    da = torch.cat(
        [dc_total * g * i * (1 - i), df * f * (1 - f), dc_total * i * (1 - g**2), do * o * (1 - o)],
        dim=-1,
    )
    grads = {
        "dx": da @ cache["W_x"].T,
        "dh_prev": da @ cache["W_h"].T,
        "dc_prev": dc_total * f,
        "dW_x": cache["x"].T @ da,
        "dW_h": cache["h_prev"].T @ da,
    }
    if cache.get("b") is not None:
        grads["db"] = da.sum(0)
    return grads


LSTM_CELL_BACKWARD = (
    Check(
        "gradients dx, dh_prev, dc_prev, dW_x, dW_h, db of one step",
        _backward,
        _cache_case,
        (
            Variant(
                "the gradient flowing from h into c is missing: dc_total = dc + dh ⊙ o ⊙ "
                "(1 − tanh²(c_t)), not just dc",
                _no_h_path_into_c,
            ),
            with_output(
                _backward,
                "dc_prev is missing the forget gate: dc_prev = dc_total ⊙ f "
                "(the constant error carousel)",
                lambda g, a: {**g, "dc_prev": g["dc_prev"] / a["cache"]["f"]},
            ),
            Variant(
                "the output gate's gradient used c; h = o ⊙ tanh(c), so do = dh ⊙ tanh(c)",
                functools.partial(_backward_written, do_reads_c=True),
            ),
            Variant(
                "the forget gate's gradient used the new cell c; c = f ⊙ c_prev + i ⊙ g, so "
                "df = dc_total ⊙ c_prev",
                functools.partial(_backward_written, df_reads_c=True),
            ),
        ),
        numpy=True,
        gates="ifgo",
    ),
)

# ------------------------------------------------------------------------- lstm_layer_forward


def _torch_lstm_case(gen: torch.Generator) -> Case:
    lstm = nn.LSTM(FEATURES, HIDDEN, batch_first=True, dtype=F64)
    with torch.no_grad():
        for param in lstm.parameters():  # nn.LSTM draws from the global RNG: redraw from gen
            param.copy_(_randn(gen, *param.shape, scale=0.5))
    return Case({"lstm": lstm, "x": _randn(gen, BATCH, STEPS, FEATURES)})


def _torch_lstm(lstm: nn.LSTM, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    return lstm(x)


def _reshaped_not_transposed(prefix: str) -> Callable[[str, Tensor], Tensor]:
    """An edit for :func:`module_variant`, for the weights named ``prefix...``: the module
    computes ``u @ W.T``, and code that used ``W.reshape(cols, rows)`` in place of ``W.T``
    computes the same with ``W.reshape(cols, rows).T`` as the weight."""
    return lambda name, p: p.reshape(p.shape[1], -1).T if name.startswith(prefix) else p


# Advice for a state created with torch.zeros(batch, hidden): on the GPU it fails on the device,
# on the CPU on the dtype (the checks run in float64).
_LIKE_X = (
    "(torch.zeros(...) is float32 on the CPU whatever x is): create it like the input, "
    "x.new_zeros(...) or torch.zeros(..., dtype=x.dtype, device=x.device)"
)

LSTM_LAYER_FORWARD = (
    Check(
        "output and (h_n, c_n) of nn.LSTM(batch_first=True), from its weights",
        _torch_lstm,
        _torch_lstm_case,
        (
            module_variant(
                _torch_lstm,
                "wrong gate order: PyTorch stacks the rows of weight_ih as i, f, g, o",
                torch_rows(_swap_g_o),
            ),
            module_variant(
                _torch_lstm,
                "bias_hh is missing: PyTorch adds both biases, bias_ih + bias_hh",
                lambda name, p: p * 0 if name.startswith("bias_hh") else p,
            ),
            module_variant(
                _torch_lstm,
                "bias_ih is missing: PyTorch adds both biases, bias_ih + bias_hh",
                lambda name, p: p * 0 if name.startswith("bias_ih") else p,
            ),
            module_variant(
                _torch_lstm,
                "weight_hh was reshaped to (H, 4H) instead of transposed: "
                "reshape keeps the memory order and scrambles the entries; use "
                "weight_hh_l0.T",
                _reshaped_not_transposed("weight_hh"),
            ),
        ),
        hints=(
            (
                "shapes cannot be multiplied",
                "PyTorch stores weight_ih as (4H, D): use its transpose, x_t @ weight_ih.T",
            ),
            (
                "expected m1 and m2 to have the same dtype",
                f"a tensor you created has another dtype than the weights {_LIKE_X}",
            ),
            (
                "Expected all tensors to be on the same device",
                f"a tensor you created is on another device than the weights {_LIKE_X}",
            ),
        ),
    ),
)

# --------------------------------------------------------------------------- lstm_from_cs231n


def _cs231n_case(gen: torch.Generator) -> Case:
    return Case(
        {
            "Wx": _randn(gen, FEATURES, 4 * HIDDEN),
            "Wh": _randn(gen, HIDDEN, 4 * HIDDEN),
            "b": _randn(gen, 4 * HIDDEN),
        }
    )


def _g_twice(W: Tensor) -> Tensor:
    """CS231n blocks i, f, o, g after ``W[o], W[g] = W[g], W[o]`` on views: i, f, g, g."""
    i, f, _, g = W.chunk(4, dim=-1)
    return torch.cat([i, f, g, g], dim=-1)


LSTM_FROM_CS231N = (
    Check(
        "CS231n (i, f, o, g) weights and bias → course order (i, f, g, o)",
        convert.lstm_from_cs231n,
        _cs231n_case,
        (
            Variant(
                "the gates are still in CS231n order i, f, o, g: move the g block (last) "
                "before the o block",
                lambda Wx, Wh, b: (Wx, Wh, b),
            ),
            with_output(
                convert.lstm_from_cs231n,
                "the bias was not reordered: it stacks the same four gate blocks as the weights",
                lambda out, a: (*out[:2], a["b"]),
            ),
            with_output(
                convert.lstm_from_cs231n,
                "the recurrent weights Wh were not reordered",
                lambda out, a: (out[0], a["Wh"], out[2]),
            ),
            with_output(
                convert.lstm_from_cs231n,
                "the weights were transposed to PyTorch's "
                "(4H, in) layout; the course keeps CS231n's (in, 4H): only reorder the "
                "blocks",
                lambda out, a: (out[0].T, out[1].T, out[2]),
            ),
            Variant(
                "the o and g blocks were swapped in place through numpy views: the first "
                "assignment overwrites o with g, so g ends up in both; build a new array "
                "(np.concatenate), and leave the input unchanged",
                lambda Wx, Wh, b: tuple(map(_g_twice, (Wx, Wh, b))),
            ),
        ),
        numpy=True,
        gates="ifgo",
    ),
)

ASSIGNMENT = Assignment(
    "05_lstm",
    {
        "lstm_cell_forward": LSTM_CELL_FORWARD,
        "lstm_forward": LSTM_FORWARD,
        "lstm_cell_backward": LSTM_CELL_BACKWARD,
        "lstm_layer_forward": LSTM_LAYER_FORWARD,
        "lstm_from_cs231n": LSTM_FROM_CS231N,
    },
)
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
