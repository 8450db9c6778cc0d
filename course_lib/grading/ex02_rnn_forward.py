"""Checks for exercise 02, the recurrence (references: :mod:`course_lib.cells`,
:mod:`course_lib.sequence`, :mod:`course_lib.params`, :mod:`course_lib.convert`).

Parts: ``rnn_cell_forward`` and ``rnn_forward`` (numpy), ``count_params`` (plain Python),
``torch_rnn_weights`` and ``stateful_rnn`` (PyTorch ``nn.RNN``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import cells, convert, params, sequence
from .assignment import Assignment
from .check import Case, Check, Variant
from .variants import reverse_time, transpose, with_inputs, with_output

B, T, D, H = 3, 5, 2, 4  # distinct sizes, so that a swapped axis shows in the shape


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _weights(gen: torch.Generator) -> dict[str, Tensor]:
    """``W_x (D, H)``, ``W_h (H, H)`` scaled so the state neither saturates nor vanishes, ``b``."""
    return {
        "W_x": _randn(gen, D, H) / D**0.5,
        "W_h": _randn(gen, H, H) / H**0.5,
        "b": _randn(gen, H) * 0.5,
    }


# --------------------------------------------------------------------------- rnn_cell_forward


def _cell_case(gen: torch.Generator) -> Case:
    return Case({"x": _randn(gen, B, D), "h_prev": _randn(gen, B, H), **_weights(gen)})


_CELL = cells.rnn_cell_forward
RNN_CELL_FORWARD = (
    Check(
        "h_t = tanh(x_t W_x + h_{t-1} W_h + b)",
        _CELL,
        _cell_case,
        (
            with_output(
                _CELL,
                "tanh is missing: h_t = tanh(x_t W_x + h_{t-1} W_h + b)",
                lambda h, args: torch.atanh(h),
            ),
            with_inputs(
                _CELL,
                "W_h is used transposed: with row vectors the recurrent term is h_prev @ W_h",
                W_h=transpose,
            ),
            with_inputs(_CELL, "the bias b is missing", b=lambda b: b * 0),
            with_output(
                _CELL, "sigmoid instead of tanh", lambda h, args: torch.sigmoid(torch.atanh(h))
            ),
        ),
        numpy=True,
    ),
)

# -------------------------------------------------------------------------------- rnn_forward


def _sequence_case(**options: bool):
    def make(gen: torch.Generator) -> Case:
        return Case(
            {"x": _randn(gen, B, T, D), "h0": _randn(gen, B, H), **_weights(gen)}, dict(options)
        )

    return make


_FORWARD = sequence.rnn_forward
_SHIFTED = with_output(
    _FORWARD,
    "off by one in time: output t holds the state *before* step t "
    "(h0 first, the last state missing); store h after updating it",
    lambda out, args: torch.cat([args["h0"][:, None], out[:, :-1]], dim=1),
)
_NOT_CARRIED = Variant(
    "the state is not carried: every step used h0 instead of the previous step's h",
    lambda x, h0, W_x, W_h, b=None, **options: torch.tanh(x @ W_x + (h0 @ W_h + b)[:, None, :]),
)
# Numpy; the student's loop may call their rnn_cell_forward, graded in part 1 on its own.
_FORWARD_OPTIONS = {"numpy": True, "stand_ins": {"rnn_cell_forward": cells.rnn_cell_forward}}
RNN_FORWARD = (
    Check(
        "return_sequences=True (default): every step's state (B, T, H)",
        _FORWARD,
        _sequence_case(),
        (_SHIFTED, _NOT_CARRIED),
        **_FORWARD_OPTIONS,
    ),
    Check(
        "return_sequences=False: the last state (B, H)",
        _FORWARD,
        _sequence_case(return_sequences=False),
        (
            with_inputs(
                _FORWARD,
                "returned the state after the first step, not the last",
                x=lambda x: x[:, :1],
            ),
        ),
        **_FORWARD_OPTIONS,
    ),
    Check(
        "return_state=True: (outputs, h_T)",
        _FORWARD,
        _sequence_case(return_state=True),
        **_FORWARD_OPTIONS,
    ),
    Check(
        "go_backwards=True: reversed input, outputs in processing order",
        _FORWARD,
        _sequence_case(go_backwards=True),
        (
            with_output(
                _FORWARD,
                "go_backwards returns the outputs in processing order (the "
                "reverse of x's order); they were flipped back",
                lambda out, args: reverse_time(out),
            ),
            with_inputs(
                _FORWARD, "go_backwards was ignored: read x from its last step", go_backwards=False
            ),
            with_inputs(
                _FORWARD,
                "go_backwards reversed the batch axis (axis 0); it reverses time, x[:, ::-1]",
                x=lambda x: x.flip(0),
                go_backwards=False,
            ),
        ),
        **_FORWARD_OPTIONS,
    ),
)

# ------------------------------------------------------------------------------- count_params


def _count(input_size: int, hidden_size: int, bias: bool = True) -> int:
    """The course convention for one RNN layer (one bias vector)."""
    return params.count_params("rnn", input_size, hidden_size, bias=bias)


def _sizes_case(bias: bool):
    def make(gen: torch.Generator) -> Case:
        d, h = (int(v) for v in torch.randint(2, 60, (2,), generator=gen))
        return Case({"input_size": d, "hidden_size": h}, {"bias": bias})

    return make


_MISSING_W_H = Variant(
    "the recurrent weights W_h (H × H) are missing",
    lambda input_size, hidden_size, bias=True: input_size * hidden_size + hidden_size * bias,
)
_W_H_AS_D_H = Variant(
    "W_h counted as D × H; it maps the state to the state, H × H",
    lambda input_size, hidden_size, bias=True: 2 * input_size * hidden_size + hidden_size * bias,
)
_TWO_BIASES = Variant(
    "two bias vectors counted: PyTorch has b_ih and b_hh, the course layer has one b",
    lambda input_size, hidden_size, bias=True: (
        _count(input_size, hidden_size, bias) + hidden_size * bias
    ),
)
COUNT_PARAMS = (
    Check(
        "with bias: D·H + H·H + H",
        _count,
        _sizes_case(True),
        (_MISSING_W_H, _TWO_BIASES, _W_H_AS_D_H),
    ),
    Check(
        "without bias: D·H + H·H",
        _count,
        _sizes_case(False),
        (
            _MISSING_W_H,
            _W_H_AS_D_H,
            Variant(
                "bias=False was ignored: without a bias, count only W_x and W_h",
                lambda input_size, hidden_size, bias=True: _count(input_size, hidden_size),
            ),
        ),
    ),
)

# -------------------------------------------------------------------------- torch_rnn_weights


def _torch_rnn_case(gen: torch.Generator) -> Case:
    rnn = nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(_randn(gen, *p.shape) * 0.5)
    return Case({"rnn": rnn})


def _course_weights(rnn: nn.RNN) -> tuple[Tensor, Tensor, Tensor]:
    """The reference: ``(W_x, W_h, b)`` in course layout, via :func:`convert.from_torch`."""
    layer = convert.from_torch(rnn)
    return layer.W_x_l0, layer.W_h_l0, layer.b_x_l0 + layer.b_h_l0


def _reproduce(case: Case, weights: object) -> Tensor:
    """The course recurrence with the returned weights, on a fixed input through the module."""
    rnn = case.args["rnn"]
    x = torch.linspace(-2, 2, B * T * D, dtype=torch.float64, device=rnn.weight_ih_l0.device)
    with torch.no_grad():
        return sequence.rnn_forward(x.reshape(B, T, D), None, *weights)


_TORCH_VARIANTS = (
    with_output(
        _course_weights,
        "torch stores weights as (out, in): transpose weight_ih_l0 and weight_hh_l0",
        lambda w, args: (w[0].T, w[1].T, w[2]),
    ),
    with_output(
        _course_weights,
        "a bias is missing: torch adds both biases, b = bias_ih + bias_hh",
        lambda w, args: (w[0], w[1], args["rnn"].bias_ih_l0),
    ),
    with_output(
        _course_weights,
        "W_h is transposed: torch's weight_hh_l0 is (out, in) = W_h.T",
        lambda w, args: (w[0], w[1].T, w[2]),
    ),
    with_output(
        _course_weights,
        "the two biases were averaged; nn.RNN adds them: b = bias_ih + bias_hh",
        lambda w, args: (w[0], w[1], w[2] / 2),
    ),
)
# Untransposed weights cannot even run in the recurrence (the first check names that mistake).
TORCH_RNN_WEIGHTS = (
    Check("(W_x, W_h, b) in course layout", _course_weights, _torch_rnn_case, _TORCH_VARIANTS),
    Check(
        "the course recurrence with them reproduces nn.RNN's output",
        _course_weights,
        _torch_rnn_case,
        _TORCH_VARIANTS[1:],
        observe=_reproduce,
    ),
)

# ------------------------------------------------------------------------------- stateful_rnn


def _stateful(rnn: nn.RNN, batches: list[Tensor], *, carry: bool = True) -> list[Tensor]:
    """The reference: a stateful course layer with ``rnn``'s weights over the batches in order."""
    layer = convert.from_torch(rnn, stateful=carry)
    return [layer(x) for x in batches]


def _batches_case(gen: torch.Generator) -> Case:
    """Three batches, so that a state carried only once (from the first batch) shows."""
    rnn = _torch_rnn_case(gen).args["rnn"]
    return Case({"rnn": rnn, "batches": [_randn(gen, B, T, D) for _ in range(3)]})


def _carried_once(rnn: nn.RNN, batches: list[Tensor]) -> list[Tensor]:
    first, state = rnn(batches[0])
    return [first, *(rnn(x, state)[0] for x in batches[1:])]


def _states_to_other_samples(rnn: nn.RNN, batches: list[Tensor]) -> list[Tensor]:
    outputs, state = [], None
    for x in batches:
        output, state = rnn(x, None if state is None else state.flip(1))
        outputs.append(output)
    return outputs


STATEFUL_RNN = (
    Check(
        "each batch starts where the one before ended",
        _stateful,
        _batches_case,
        (
            Variant(
                "not stateful: the second batch restarted from zeros; pass the first batch's "
                "h_n as the second batch's initial state",
                lambda rnn, batches: _stateful(rnn, batches, carry=False),
            ),
            Variant(
                "states were passed to the wrong samples: sample i's final state must seed "
                "sample i of the next batch",
                _states_to_other_samples,
            ),
            Variant(
                "only the first batch's final state was carried: every batch must start "
                "from the final state of the batch just before it",
                _carried_once,
            ),
        ),
        hints=(
            (
                "hx should also be 3-D",
                "nn.RNN's state h0/h_n is (num_layers * "
                "num_directions, B, H) even with batch_first=True: keep the first axis",
            ),
            (
                "Expected hidden size",
                "the state passed on has the wrong shape: with "
                "batch_first=True the output is (B, T, H) and h_n is (1, B, H): pass h_n on",
            ),
        ),
    ),
)

ASSIGNMENT = Assignment(
    "02_rnn_forward",
    {
        "rnn_cell_forward": RNN_CELL_FORWARD,
        "rnn_forward": RNN_FORWARD,
        "count_params": COUNT_PARAMS,
        "torch_rnn_weights": TORCH_RNN_WEIGHTS,
        "stateful_rnn": STATEFUL_RNN,
    },
)
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
