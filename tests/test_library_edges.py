"""Edges of the library that its main tests do not reach (issue 12): autograd contracts of the
hand-written LSTM backward, rows of length 0, bad arguments named in a sentence, and behaviours
that a plausible one-line slip would silently change."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from course_lib.cells import lstm_cell_forward
from course_lib.convert import from_torch, gru_from_keras, gru_to_keras, to_torch
from course_lib.decoding import beam_search, sample_next, softmax_with_temperature
from course_lib.gradients import (
    classify_regime,
    clip_by_global_norm,
    clip_by_value,
    grad_norms_through_time,
    jacobian_norms,
    largest_singular_value,
    numerical_gradient,
    relative_error,
    spectral_radius,
)
from course_lib.layers import GRU, LSTM, RNN, PeepholeLSTM
from course_lib.params import count_module_params, count_params
from course_lib.sequence import (
    dropout_mask,
    gru_forward,
    lstm_forward,
    lstm_scan,
    peephole_lstm_forward,
    rnn_forward,
)
from course_lib.shapes import last_valid_step, lengths_to_mask, pack, pad_sequences, unpack

B, T, D, H = 3, 4, 2, 3
TOL = 1e-12
F64 = {"dtype": torch.float64}


def randn(*shape: int, gen: torch.Generator, grad: bool = False) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_(grad)


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def lstm_weights(gen: torch.Generator, grad: bool = True) -> dict[str, torch.Tensor]:
    return {
        "W_x": randn(D, 4 * H, gen=gen, grad=grad),
        "W_h": randn(H, 4 * H, gen=gen, grad=grad),
        "b": randn(4 * H, gen=gen, grad=grad),
    }


def autograd_lstm(x, h0, c0, W_x, W_h, b, lengths=None):
    """Stepping ``cells.lstm_cell_forward`` under plain autograd: no hand-written backward."""
    h, c, outputs = h0, c0, []
    for t in range(x.shape[1]):
        step = lstm_cell_forward(x[:, t], h, c, W_x, W_h, b)
        keep = (
            torch.ones(x.shape[0], 1, dtype=torch.bool)
            if lengths is None
            else (torch.as_tensor(lengths)[:, None] > t)
        )
        h, c = torch.where(keep, step.h, h), torch.where(keep, step.c, c)
        outputs.append(torch.where(keep, step.h, 0.0))
    return torch.stack(outputs, 1)


# ------------------------------------------------------- the hand-written LSTM backward pass


@pytest.mark.parametrize("edited", ["h0", "c0", "W_h", "W_x"])
@pytest.mark.parametrize("run", [lstm_forward, autograd_lstm], ids=["course", "autograd"])
def test_lstm_backward_refuses_inputs_edited_in_place(edited: str, run, rng) -> None:
    """Editing an input between forward and backward is caught as autograd catches it."""
    inputs = {
        "x": randn(B, T, D, gen=rng, grad=True),
        "h0": randn(B, H, gen=rng, grad=True),
        "c0": randn(B, H, gen=rng, grad=True),
        **lstm_weights(rng),
    }
    out = run(*inputs.values())
    with torch.no_grad():
        inputs[edited].add_(1.0)  # e.g. an optimizer step taken before backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@pytest.mark.parametrize("edited", [0, 1], ids=["h0", "c0"])
def test_lstm_layer_backward_refuses_a_state_edited_in_place(edited: int, rng) -> None:
    layer = LSTM(D, H, num_layers=2, **F64)
    state = [randn(2, B, H, gen=rng, grad=True) for _ in range(2)]
    out = layer(randn(B, T, D, gen=rng), state)
    with torch.no_grad():
        state[edited].mul_(0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_lstm_second_derivatives_match_autograd(lengths, rng) -> None:
    """A gradient penalty, ``‖∂L/∂(W_x, W_h)‖²``, differentiated again, against plain autograd."""
    x, h0, c0 = (
        randn(B, T, D, gen=rng, grad=True),
        randn(B, H, gen=rng, grad=True),
        randn(B, H, gen=rng, grad=True),
    )
    w = lstm_weights(rng)
    leaves = [x, h0, c0, *w.values()]
    results = []
    for run in (lstm_forward, autograd_lstm):
        out = run(x, h0, c0, *w.values(), lengths=lengths)
        first = torch.autograd.grad((out**2).sum(), [w["W_x"], w["W_h"]], create_graph=True)
        penalty = sum((g**2).sum() for g in first)
        results.append(torch.autograd.grad(penalty, leaves))
    for name, ours, expected in zip(["x", "h0", "c0", "W_x", "W_h", "b"], *results, strict=True):
        assert max_err(ours, expected) <= 1e-10, name


def test_lstm_gradgradcheck(rng) -> None:
    """Second derivatives against centred differences of the first (small sizes, float64)."""
    x, h0, c0 = (
        randn(2, 3, 2, gen=rng, grad=True),
        randn(2, 2, gen=rng, grad=True),
        randn(2, 2, gen=rng, grad=True),
    )
    W_x, W_h, b = (randn(*s, gen=rng, grad=True) for s in [(2, 8), (2, 8), (8,)])

    def run(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return lstm_forward(*args, return_state=True, lengths=[3, 1])

    inputs = (x, h0, c0, W_x, W_h, b)
    assert torch.autograd.gradcheck(run, inputs)
    assert torch.autograd.gradgradcheck(run, inputs)


def test_lstm_scan_gradgradcheck_with_dropout_padding_and_a_constant_state(rng) -> None:
    a_x, c0, W_h = (
        randn(3, 2, 8, gen=rng, grad=True),
        randn(2, 2, gen=rng, grad=True),
        randn(2, 8, gen=rng, grad=True),
    )
    h0 = randn(2, 2, gen=rng)  # needs no gradient: only the others get one
    mask = (torch.rand(2, 2, generator=rng, dtype=torch.float64) < 0.6) / 0.6
    valid = torch.tensor([[True, True, True], [True, False, False]])

    def run(a_x: torch.Tensor, c0: torch.Tensor, W_h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs, (h_T, c_T) = lstm_scan(a_x, (h0, c0), W_h, valid, mask)
        return outputs, h_T, c_T

    assert torch.autograd.gradgradcheck(run, (a_x, c0, W_h))


def test_lstm_layer_second_derivatives_match_torch(rng) -> None:
    layer = LSTM(D, H, num_layers=2, bidirectional=True, **F64)
    module = to_torch(layer)
    x = randn(B, T, D, gen=rng)
    for model in (layer, module):
        leaf = x.clone().requires_grad_()
        out = model(leaf)
        out = out[0] if isinstance(out, tuple) else out
        (dx,) = torch.autograd.grad((out**2).sum(), leaf, create_graph=True)
        (dx**2).sum().backward()  # an input-gradient penalty
    for (name, ours), theirs in zip(layer.named_parameters(), module.parameters(), strict=True):
        expected = theirs.grad.T if name.startswith("W_") else theirs.grad
        assert max_err(ours.grad, expected) <= 1e-10, name


# ---------------------------------------------------------------------- gradients.py defects


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("fn", [spectral_radius, largest_singular_value])
def test_matrix_functions_refuse_nan_and_inf_before_lapack(fn, bad) -> None:
    W = torch.eye(3, **F64)
    W[1, 2] = bad
    with pytest.raises(ValueError, match=r"W contains NaN or inf: 1 of its 9 entries"):
        fn(W)
    with pytest.raises(ValueError, match="W contains NaN or inf"):
        fn(W.numpy())


def test_clip_by_global_norm_error_if_nonfinite_as_torch(rng) -> None:
    def params(poison: float | None) -> list[torch.nn.Parameter]:
        ps = [torch.nn.Parameter(torch.zeros(3, **F64)), torch.nn.Parameter(torch.zeros(2, **F64))]
        gen = torch.Generator().manual_seed(0)
        for p in ps:
            p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64)
        if poison is not None:
            ps[1].grad[0] = poison
        return ps

    for poison in (math.nan, math.inf):
        ours, theirs = params(poison), params(poison)
        with pytest.raises(RuntimeError, match="non-finite"):
            torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match=r"total norm of order 2.0 of the gradients is"):
            clip_by_global_norm(ours, 1.0, error_if_nonfinite=True)
        for a, b in zip(ours, theirs, strict=True):  # neither scaled anything before raising
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0, equal_nan=True)
        with pytest.raises(RuntimeError, match="error_if_nonfinite=False"):
            clip_by_global_norm([p.grad for p in ours], 1.0, error_if_nonfinite=True)
        # Default False: scaled by the non-finite norm, as torch does.
        total = clip_by_global_norm(ours, 1.0)
        torch.testing.assert_close(
            total, torch.nn.utils.clip_grad_norm_(theirs, 1.0), equal_nan=True
        )
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0, equal_nan=True)
    ours, theirs = params(None), params(None)  # finite: no error, torch's result
    for norm_type in (2.0, math.inf):
        total = clip_by_global_norm(ours, 0.5, norm_type, error_if_nonfinite=True)
        expected = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type, error_if_nonfinite=True)
        assert torch.equal(total, expected)
        assert all(torch.equal(a.grad, b.grad) for a, b in zip(ours, theirs, strict=True))


# ------------------------------------------------------------------------ true docstrings


def test_sample_next_top_k_ties_are_torch_topks() -> None:
    """The documented rule: exactly k tokens kept, the ones torch.topk picks (not by index)."""
    logits = torch.zeros(5, **F64)  # five-way tie for every place
    kept = set(torch.topk(logits, 2).indices.tolist())
    draws = {int(sample_next(logits, top_k=2, seed=s)) for s in range(200)}
    assert draws == kept
    assert int(sample_next(logits, top_k=1, temperature=0)) == int(torch.topk(logits, 1).indices)


def test_pad_sequences_returns_a_tensor_only_if_every_sequence_is_one() -> None:
    tensors = [torch.tensor([1.0, 2.0]), torch.tensor([3.0])]
    assert isinstance(pad_sequences(tensors), torch.Tensor)
    assert isinstance(pad_sequences([tensors[0], [3.0]]), np.ndarray)  # one list: numpy out
    assert isinstance(pad_sequences([tensors[0], np.array([3.0])]), np.ndarray)
    assert isinstance(pad_sequences([[1.0, 2.0], [3.0]]), np.ndarray)
    np.testing.assert_array_equal(pad_sequences([tensors[0], [3.0]]), [[1.0, 2.0], [0.0, 3.0]])


def test_pad_sequences_dtype_comes_from_the_sequences_with_values() -> None:
    assert pad_sequences([[1, 2], []]).dtype == np.int64  # [] alone would say float64
    assert pad_sequences([torch.tensor([1, 2]), torch.tensor([])]).dtype == torch.int64
    assert pad_sequences([[1, 2], [3.5]]).dtype == np.float64  # mixed values still promote
    assert pad_sequences([[], []]).shape == (2, 0)


# ------------------------------------------------------------------------- rows of length 0


def _run(kind: str, x, h0, c0, gen, **options):
    if kind == "rnn":
        args = (x, h0, randn(D, H, gen=gen), randn(H, H, gen=gen), randn(H, gen=gen))
        return rnn_forward(*args, **options)
    if kind == "gru":
        args = (x, h0, randn(D, 3 * H, gen=gen), randn(H, 3 * H, gen=gen), randn(3 * H, gen=gen))
        return gru_forward(*args, randn(3 * H, gen=gen), **options)
    w = (randn(D, 4 * H, gen=gen), randn(H, 4 * H, gen=gen), randn(4 * H, gen=gen))
    if kind == "lstm":
        return lstm_forward(x, h0, c0, *w, **options)
    peepholes = (randn(H, gen=gen) for _ in range(3))
    return peephole_lstm_forward(x, h0, c0, *w, *peepholes, **options)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "peephole_lstm"])
def test_a_row_of_length_0_outputs_zeros_and_keeps_its_state(kind, go_backwards, rng) -> None:
    """As Keras (see test_convert.py): every output of the empty row is zero, its last output
    too, and its final state is its initial state."""
    x, h0, c0 = randn(B, T, D, gen=rng), randn(B, H, gen=rng), randn(B, H, gen=rng)
    lengths = torch.tensor([4, 0, 2])
    options = {"return_state": True, "go_backwards": go_backwards, "lengths": lengths}
    seed = int(torch.randint(0, 2**31, (), generator=rng))
    outputs, *states = _run(kind, x, h0, c0, torch.Generator().manual_seed(seed), **options)
    last, *same_states = _run(
        kind, x, h0, c0, torch.Generator().manual_seed(seed), return_sequences=False, **options
    )
    assert torch.equal(outputs[1], torch.zeros(T, H, **F64))
    assert torch.equal(last[1], torch.zeros(H, **F64))
    assert torch.equal(states[0][1], h0[1])
    if kind.endswith("lstm"):
        assert torch.equal(states[1][1], c0[1])
    # The other rows are untouched: their last output is their final state.
    assert torch.equal(last[[0, 2]], states[0][[0, 2]])
    for a, b in zip(states, same_states, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("layer_type", [RNN, LSTM, GRU, PeepholeLSTM])
def test_layer_row_of_length_0_last_output_is_zeros(layer_type, rng) -> None:
    layer = layer_type(D, H, bidirectional=True, return_sequences=False, return_state=True, **F64)
    x, lengths = randn(B, T, D, gen=rng), torch.tensor([4, 0, 2])
    h0 = randn(2, B, H, gen=rng)
    state = (h0, randn(2, B, H, gen=rng)) if layer_type in (LSTM, PeepholeLSTM) else h0
    last, h_n, *_ = layer(x, state, lengths)
    assert torch.equal(last[1], torch.zeros(2 * H, **F64))
    assert torch.equal(h_n[:, 1], h0[:, 1])
    assert last[0].abs().min() > 0


# ------------------------------------------------------------------------------ bool lengths


@pytest.mark.parametrize(
    "lengths",
    [torch.tensor([True, False, True]), np.array([True, False, True]), [True, False, True]],
    ids=["tensor", "numpy", "list"],
)
def test_bool_lengths_are_refused_everywhere(lengths, rng) -> None:
    x, W_x, W_h = randn(B, T, D, gen=rng), randn(D, H, gen=rng), randn(H, H, gen=rng)
    message = "lengths must hold integers, got dtype torch.bool"
    with pytest.raises(TypeError, match=message):
        rnn_forward(x, None, W_x, W_h, lengths=lengths)
    with pytest.raises(TypeError, match=message):
        LSTM(D, H, **F64)(x, lengths=lengths)
    with pytest.raises(TypeError, match=message):
        lengths_to_mask(lengths, T)
    with pytest.raises(TypeError, match=message):
        pack(x, lengths)


def test_integer_lengths_of_every_kind_still_work(rng) -> None:
    x, W_x, W_h = randn(B, T, D, gen=rng), randn(D, H, gen=rng), randn(H, H, gen=rng)
    expected = rnn_forward(x, None, W_x, W_h, lengths=torch.tensor([4, 1, 2]))
    for lengths in (
        [4, 1, 2],
        np.array([4, 1, 2], dtype=np.int32),
        torch.tensor([4, 1, 2], dtype=torch.int32),
        (np.int64(4), 1, 2),
    ):
        out = rnn_forward(x, None, W_x, W_h, lengths=lengths)  # numpy lengths: numpy out
        assert torch.equal(torch.as_tensor(out), expected)


# ------------------------------------------------------------------ count_params conventions


@pytest.mark.parametrize(
    ("layer_type", "kind", "options"),
    [
        (RNN, "rnn", {}),
        (LSTM, "lstm", {}),
        (GRU, "gru", {}),
        (GRU, "gru", {"reset_after": False}),
        (PeepholeLSTM, "peephole_lstm", {}),
    ],
)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_layers_convention_counts_the_course_layers(
    layer_type, kind, options, num_layers, bidirectional, bias
) -> None:
    sizes = {"num_layers": num_layers, "bidirectional": bidirectional, "bias": bias}
    module = layer_type(7, 5, **sizes, **options)
    expected = sum(p.numel() for p in module.parameters())
    assert count_params(kind, 7, 5, convention="layers", **sizes, **options) == expected


def test_peephole_counts_of_the_issue() -> None:
    assert count_params("peephole_lstm", 7, 5, convention="layers") == 295
    assert count_module_params(PeepholeLSTM(7, 5)) == 295
    assert count_params("peephole_lstm", 7, 5) == 275  # the cell functions: one bias


# ------------------------------------------------------ bad arguments, named in a sentence

LOGITS = torch.zeros(2, 5, **F64)
GRADS = [torch.ones(3, **F64)]
X = torch.zeros(B, T, D, **F64)
WX, WH = torch.zeros(D, H, **F64), torch.zeros(H, H, **F64)
WX4, WH4 = WX.repeat(1, 4), WH.repeat(1, 4)
NAN_LOGITS = torch.tensor([0.0, math.nan, 1.0], **F64)


def _step(tokens: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
    return torch.log_softmax(torch.zeros(len(tokens), 3, **F64), -1), state


BAD_ARGUMENTS = [
    # decoding
    (lambda: sample_next(None), TypeError, "logits is required"),
    (lambda: sample_next(NAN_LOGITS), ValueError, "logits contains NaN or"),
    (lambda: sample_next(torch.tensor([0.0, math.inf]), seed=0), ValueError, "logits contains"),
    (lambda: sample_next(torch.full((3,), -math.inf)), ValueError, "all -inf"),
    (lambda: sample_next(torch.zeros(0)), ValueError, "V = 0"),
    (lambda: sample_next(torch.zeros(2, 0)), ValueError, "V = 0"),
    (lambda: sample_next(LOGITS, top_k=2.0), TypeError, r"top_k must be an integer, got 2.0"),
    (lambda: sample_next(LOGITS, top_k="2"), TypeError, "top_k must be an integer"),
    (lambda: sample_next(LOGITS, temperature=None), TypeError, "temperature is required"),
    (lambda: sample_next(LOGITS, temperature=math.nan), ValueError, "temperature must be a num"),
    (lambda: sample_next(LOGITS, seed=1.5), TypeError, "seed must be an integer"),
    (lambda: softmax_with_temperature(None), TypeError, "logits is required"),
    (lambda: softmax_with_temperature(LOGITS, "hot"), TypeError, "temperature must be a number"),
    (lambda: beam_search(None, None, 0, beam_width=2, max_len=2), TypeError, "step_fn"),
    (lambda: beam_search(_step, None, None, beam_width=2, max_len=2), TypeError, "start_token"),
    (lambda: beam_search(_step, None, 1.5, beam_width=2, max_len=2), TypeError, "start_token"),
    (lambda: beam_search(_step, None, 0, beam_width=2.0, max_len=2), TypeError, "beam_width"),
    (lambda: beam_search(_step, None, 0, beam_width=1, max_len=1, end_token=0.5), TypeError, "end"),
    # shapes
    (lambda: pad_sequences(None), TypeError, "sequences is required"),
    (lambda: pad_sequences([[1, 2]], maxlen=2.5), TypeError, r"maxlen must be an integer"),
    (lambda: pad_sequences([[1, 2]], maxlen="3"), TypeError, "maxlen must be an integer"),
    (lambda: lengths_to_mask([1, 2], max_len=2.5), TypeError, "max_len must be an integer"),
    (lambda: lengths_to_mask([1, 2], max_len=-1), ValueError, "max_len must be >= 0"),
    (lambda: lengths_to_mask(None), TypeError, "lengths is required"),
    (lambda: lengths_to_mask(["a", "b"]), TypeError, "lengths must hold integers"),
    (lambda: last_valid_step(None, [1]), TypeError, "outputs is required"),
    (lambda: pack(None, [1]), TypeError, "x is required"),
    (lambda: unpack(pack(X, [4, 2, 1]), total_length="4"), TypeError, "total_length must be"),
    # sequence
    (lambda: rnn_forward(None, None, WX, WH), TypeError, "x is required"),
    (lambda: rnn_forward(X, None, None, WH), TypeError, "W_x is required"),
    (lambda: lstm_forward(X, None, None, WX, None), TypeError, "W_h is required"),
    (lambda: gru_forward(X, None, None, WH), TypeError, "W_x is required"),
    (lambda: peephole_lstm_forward(X, None, None, WX4, WH4, None, *[None] * 3), TypeError, "p_i"),
    (lambda: dropout_mask(X, H, None), TypeError, "p is required"),
    # gradients
    (lambda: spectral_radius(None), TypeError, "W is required"),
    (lambda: spectral_radius(torch.zeros(0, 0, **F64)), ValueError, r"W has shape \(0, 0\)"),
    (lambda: largest_singular_value(None), TypeError, "W is required"),
    (lambda: jacobian_norms(None, X), TypeError, "W_h is required"),
    (lambda: clip_by_global_norm(GRADS, 1.0, norm_type="two"), ValueError, "norm_type must be"),
    (lambda: clip_by_global_norm(GRADS, 1.0, norm_type=0), ValueError, "norm_type must be"),
    (lambda: clip_by_global_norm(GRADS, 1.0, norm_type=None), TypeError, "norm_type"),
    (lambda: clip_by_global_norm(GRADS, math.nan), ValueError, "max_norm must be a number"),
    (lambda: clip_by_global_norm(GRADS, -1.0), ValueError, "max_norm must be >= 0"),
    (lambda: clip_by_global_norm(None, 1.0), TypeError, "grads is required"),
    (lambda: clip_by_value([GRADS[0], None], 1.0), TypeError, r"grads\[1\] is required"),
    (lambda: clip_by_value(GRADS, math.nan), ValueError, "clip_value must be a number"),
    (lambda: clip_by_value(GRADS, None), TypeError, "clip_value is required"),
    (lambda: numerical_gradient(lambda v: v.sum(), GRADS[0], eps=0.0), ValueError, "eps"),
    (lambda: numerical_gradient(None, GRADS[0]), TypeError, "f must be a callable"),
    (lambda: relative_error(None, 1.0), TypeError, "a is required"),
    (lambda: grad_norms_through_time([GRADS[0]], None), TypeError, "loss is required"),
    (lambda: classify_regime([1.0, 0.5], tol=None), TypeError, "tol is required"),
    # params
    (lambda: count_params("rnn", 2.5, 3), TypeError, "input_size must be an integer"),
    (lambda: count_params("rnn", 2, None), TypeError, "hidden_size is required"),
    (lambda: count_params("lstm", 2, 3, num_layers=1.5), TypeError, "num_layers must be an int"),
    (lambda: count_module_params(None), TypeError, "module must be a torch.nn.Module"),
]


@pytest.mark.parametrize(("call", "error", "words"), BAD_ARGUMENTS)
def test_bad_arguments_raise_a_sentence_naming_them(call, error, words) -> None:
    with pytest.raises(error, match=words):
        call()


def test_valid_arguments_of_other_types_still_work() -> None:
    """numpy and tensor integers where integers are asked for; 0-d tensors for numbers."""
    logits = torch.tensor([0.0, 5.0, -math.inf], **F64)
    assert int(sample_next(logits, top_k=np.int64(2), seed=np.int32(0))) in (0, 1)
    assert int(sample_next(logits, top_k=torch.tensor(1))) == 1
    assert int(sample_next(logits, temperature=torch.tensor(0.0))) == 1
    assert pad_sequences([[1, 2, 3]], maxlen=np.int64(2)).tolist() == [[2, 3]]
    assert lengths_to_mask([1], max_len=np.int16(2)).tolist() == [[True, False]]
    assert count_params("rnn", np.int64(2), np.int32(3)) == 18
    clipped, total = clip_by_global_norm(GRADS, torch.tensor(1.0), norm_type="inf")
    assert float(total) == 1.0
    assert largest_singular_value(torch.zeros(0, 3, **F64)) == 0.0  # the empty map's norm
    result = beam_search(_step, None, np.int64(0), beam_width=np.int64(2), max_len=2)
    assert len(result.sequences) == 2


# ------------------------------------------------- behaviours pinned against one-line slips


def test_torch_dropout_never_touches_the_first_layers_input(rng) -> None:
    """``dropout`` is torch's: between layers only, on the outputs of every layer but the last.
    Reproduced draw for draw from the global generator; dropping the input too would differ."""
    x = randn(B, T, D, gen=rng)
    one = LSTM(D, H, dropout=0.9, **F64)
    assert torch.equal(one.train()(x), one.eval()(x))  # one layer: nothing between layers
    two = LSTM(D, H, num_layers=2, dropout=0.5, **F64).train()
    torch.manual_seed(0)
    out = two(x)
    torch.manual_seed(0)
    hidden = x
    for layer in range(2):
        if layer:
            hidden = F.dropout(hidden, 0.5, training=True)
        w = two.cell_weights(layer, 0)
        hidden = lstm_forward(hidden, None, None, w["W_x"], w["W_h"], w["b_x"] + w["b_h"])
    assert max_err(out, hidden) <= TOL


def test_cho_gru_recurrent_dropout_masks_the_reset_state(rng) -> None:
    """``reset_after=False``: ``n = tanh(x W_xn + b_xn + (r ⊙ (m ⊙ h)) W_hn + b_hn)`` with the
    recurrent mask ``m`` (Keras' GRUCell), the carry ``z ⊙ h`` undropped, written out."""
    layer = GRU(D, H, reset_after=False, recurrent_dropout=0.5, **F64).train()
    with torch.no_grad():
        layer.b_x_l0.normal_(generator=rng)
        layer.b_h_l0.normal_(generator=rng)
    x, h0 = randn(B, T, D, gen=rng), randn(1, B, H, gen=rng)
    torch.manual_seed(0)
    out = layer(x, h0)
    torch.manual_seed(0)
    mask = dropout_mask(x, H, 0.5)  # the layer's one draw (no input dropout)
    w, h, expected = layer.cell_weights(0, 0), h0[0], []
    (xr, xz, xn), (hr, hz, hn) = w["W_x"].chunk(3, 1), w["W_h"].chunk(3, 1)
    (bxr, bxz, bxn), (bhr, bhz, bhn) = w["b_x"].chunk(3), w["b_h"].chunk(3)
    for t in range(T):
        dropped = h * mask
        r = torch.sigmoid(x[:, t] @ xr + bxr + dropped @ hr + bhr)
        z = torch.sigmoid(x[:, t] @ xz + bxz + dropped @ hz + bhz)
        n = torch.tanh(x[:, t] @ xn + bxn + (r * dropped) @ hn + bhn)
        h = (1 - z) * n + z * h
        expected.append(h)
    assert max_err(out, torch.stack(expected, 1)) <= TOL


def test_gru_to_keras_reset_before_keeps_both_biases(rng) -> None:
    W_x, W_h = randn(D, 3 * H, gen=rng), randn(H, 3 * H, gen=rng)
    b_x, b_h = randn(3 * H, gen=rng), randn(3 * H, gen=rng)
    x = randn(B, T, D, gen=rng)
    keras_weights = gru_to_keras(W_x, W_h, b_x, b_h, reset_after=False)
    back = gru_from_keras(*keras_weights, reset_after=False)  # b_x + b_h as one bias
    ours = gru_forward(x, None, W_x, W_h, b_x, b_h, reset_after=False)
    assert max_err(gru_forward(x, None, *back, reset_after=False), ours) <= TOL


def test_from_torch_copies_dropout() -> None:
    module = torch.nn.LSTM(D, H, num_layers=2, dropout=0.3)
    assert from_torch(module).dropout == 0.3
    assert to_torch(from_torch(module)).dropout == 0.3
    assert from_torch(module, dropout=0.1).dropout == 0.1  # an explicit option wins


def test_pack_enforce_sorted_accepts_equal_lengths(rng) -> None:
    x = randn(3, T, D, gen=rng)
    ours = pack(x, [3, 3, 1], enforce_sorted=True)
    theirs = pack_padded_sequence(x, torch.tensor([3, 3, 1]), batch_first=True)
    assert torch.equal(ours.data, theirs.data)
    assert torch.equal(ours.batch_sizes, theirs.batch_sizes)


def test_pad_sequences_promotes_mixed_int_and_float() -> None:
    out = pad_sequences([[1, 2], [0.5]])  # numpy: int64 and float64
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1.0, 2.0], [0.0, 0.5]])
    out = pad_sequences([torch.tensor([1, 2]), torch.tensor([0.5])], padding="post")
    assert out.dtype == torch.float32
    assert out.tolist() == [[1.0, 2.0], [0.5, 0.0]]
