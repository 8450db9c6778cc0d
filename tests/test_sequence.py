"""Sequence functions against torch.nn.RNN/LSTM/GRU (float64) and against stepping the cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_lib.cells import gru_cell_forward, peephole_lstm_cell_forward
from course_lib.sequence import (
    dropout_mask,
    gru_forward,
    lstm_forward,
    lstm_scan,
    lstm_step,
    peephole_lstm_forward,
    rnn_forward,
    scan,
)

B, T, D, H = 4, 6, 3, 5
TOL = 1e-10
LENGTHS = torch.tensor([6, 2, 4, 1])  # unsorted on purpose; includes a full and a 1-step sequence


def randn(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool((a - b).abs().max() <= TOL)


def torch_module(kind: str, bidirectional: bool = False) -> torch.nn.RNNBase:
    torch.manual_seed(0)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    return cls(D, H, batch_first=True, bidirectional=bidirectional).double().requires_grad_(False)


def course_run(kind: str, m: torch.nn.RNNBase, x, h0, c0, sfx: str = "", **options):
    """Call the course function for ``kind`` with the weights of direction ``sfx`` of ``m``."""
    W_x, W_h = getattr(m, f"weight_ih_l0{sfx}").T, getattr(m, f"weight_hh_l0{sfx}").T
    b_x, b_h = getattr(m, f"bias_ih_l0{sfx}"), getattr(m, f"bias_hh_l0{sfx}")
    if kind == "rnn":
        return rnn_forward(x, h0, W_x, W_h, b_x + b_h, **options)
    if kind == "lstm":
        return lstm_forward(x, h0, c0, W_x, W_h, b_x + b_h, **options)
    return gru_forward(x, h0, W_x, W_h, b_x, b_h, **options)


@pytest.fixture
def data(rng: torch.Generator) -> dict[str, torch.Tensor]:
    return {"x": randn(B, T, D, gen=rng), "h0": randn(B, H, gen=rng), "c0": randn(B, H, gen=rng)}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("with_state", [True, False])
def test_matches_torch(kind: str, with_state: bool, data: dict[str, torch.Tensor]) -> None:
    m = torch_module(kind)
    h0, c0 = (data["h0"], data["c0"]) if with_state else (None, None)
    state = None if not with_state else h0[None] if kind != "lstm" else (h0[None], c0[None])
    y, final = m(data["x"], state)
    h_n, c_n = final if kind == "lstm" else (final, None)

    out, *states = course_run(kind, m, data["x"], h0, c0, return_state=True)
    assert close(out, y)
    assert close(states[0], h_n[0])
    if kind == "lstm":
        assert close(states[1], c_n[0])
    last = course_run(kind, m, data["x"], h0, c0, return_sequences=False)
    assert close(last, y[:, -1])


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_return_state_of_rnn_and_gru_is_the_last_output(kind: str, data) -> None:
    m = torch_module(kind)
    out, h_T = course_run(kind, m, data["x"], data["h0"], None, return_state=True)
    assert torch.equal(h_T, out[:, -1])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_lengths_match_packed_sequences(kind: str, data: dict[str, torch.Tensor]) -> None:
    m = torch_module(kind)
    packed = pack_padded_sequence(data["x"], LENGTHS, batch_first=True, enforce_sorted=False)
    y_packed, final = m(packed)
    y, _ = pad_packed_sequence(y_packed, batch_first=True, total_length=T)  # zeros when padded
    h_n = final[0] if kind == "lstm" else final

    out, h_T, *_ = course_run(kind, m, data["x"], None, None, return_state=True, lengths=LENGTHS)
    assert close(out, y)
    assert close(h_T, h_n[0])
    last = course_run(kind, m, data["x"], None, None, return_sequences=False, lengths=LENGTHS)
    assert close(last, y[torch.arange(B), LENGTHS - 1])  # the last *valid* step


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_go_backwards_returns_the_reversed_sequence(kind: str, data) -> None:
    m = torch_module(kind)
    backwards = course_run(kind, m, data["x"], data["h0"], data["c0"], go_backwards=True)
    forwards = course_run(kind, m, data["x"].flip(1), data["h0"], data["c0"])
    assert torch.equal(backwards, forwards)
    # In input time order, it is torch's reverse direction of a bidirectional layer.
    bi = torch_module(kind, bidirectional=True)
    y, _ = bi(data["x"])
    ours = course_run(kind, bi, data["x"], None, None, "_reverse", go_backwards=True)
    assert close(ours.flip(1), y[..., H:])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_go_backwards_with_lengths_reads_each_sequence_from_its_last_valid_step(kind, data) -> None:
    m = torch_module(kind)
    out, h_T, *_ = course_run(
        kind, m, data["x"], None, None, go_backwards=True, return_state=True, lengths=LENGTHS
    )
    for b, length in enumerate(LENGTHS.tolist()):
        alone, alone_h, *_ = course_run(
            kind, m, data["x"][b : b + 1, :length].flip(1), None, None, return_state=True
        )
        assert close(h_T[b : b + 1], alone_h)
        # Padding comes first in processing order and outputs zeros there.
        assert torch.equal(out[b, : T - length], torch.zeros(T - length, H, dtype=out.dtype))
        assert close(out[b : b + 1, T - length :], alone)


def test_zero_length_keeps_the_initial_state(data: dict[str, torch.Tensor]) -> None:
    m = torch_module("lstm")
    lengths = torch.tensor([0, 3, 6, 1])
    out, h_T, c_T = course_run(
        "lstm", m, data["x"], data["h0"], data["c0"], return_state=True, lengths=lengths
    )
    assert torch.equal(h_T[0], data["h0"][0]) and torch.equal(c_T[0], data["c0"][0])
    assert not out[0].any()


def test_peephole_matches_stepping_the_cell(rng: torch.Generator, data) -> None:
    W_x, W_h, b = randn(D, 4 * H, gen=rng), randn(H, 4 * H, gen=rng), randn(4 * H, gen=rng)
    peep = [randn(H, gen=rng) for _ in range(3)]
    h, c = data["h0"], data["c0"]
    expected = []
    for t in range(T):
        step = peephole_lstm_cell_forward(data["x"][:, t], h, c, W_x, W_h, b, *peep)
        h, c = step.h, step.c
        expected.append(h)
    out, h_T, c_T = peephole_lstm_forward(
        data["x"], data["h0"], data["c0"], W_x, W_h, b, *peep, return_state=True
    )
    assert close(out, torch.stack(expected, 1))
    assert close(h_T, h) and close(c_T, c)


@pytest.mark.parametrize("with_bias", [True, False])
def test_gru_reset_before_matches_stepping_the_cell(rng, data, with_bias: bool) -> None:
    W_x, W_h = randn(D, 3 * H, gen=rng), randn(H, 3 * H, gen=rng)
    b_x, b_h = (randn(3 * H, gen=rng), randn(3 * H, gen=rng)) if with_bias else (None, None)
    h, expected = data["h0"], []
    for t in range(T):
        h = gru_cell_forward(data["x"][:, t], h, W_x, W_h, b_x, b_h, reset_after=False).h
        expected.append(h)
    out = gru_forward(data["x"], data["h0"], W_x, W_h, b_x, b_h, reset_after=False)
    assert close(out, torch.stack(expected, 1))


def test_numpy_in_numpy_out(data: dict[str, torch.Tensor]) -> None:
    m = torch_module("lstm")
    args = [data["x"], data["h0"], data["c0"], m.weight_ih_l0.T, m.weight_hh_l0.T, m.bias_ih_l0]
    out, h_T, c_T = lstm_forward(*[a.numpy() for a in args], return_state=True)
    assert all(isinstance(a, np.ndarray) for a in (out, h_T, c_T))
    expected = lstm_forward(*args)
    assert np.abs(out - expected.numpy()).max() <= TOL


def test_bad_shapes_name_the_argument(data: dict[str, torch.Tensor]) -> None:
    x, h0 = data["x"], data["h0"]
    W_x, W_h = torch.zeros(D, H, dtype=x.dtype), torch.zeros(H, H, dtype=x.dtype)
    with pytest.raises(ValueError, match="W_h has shape"):
        rnn_forward(x, h0, W_x, W_h.T[:, :2])
    with pytest.raises(ValueError, match=r"W_x has shape \(5, 5\), expected \(D, 4H\)"):
        lstm_forward(x, None, None, torch.zeros(H, H, dtype=x.dtype), W_h.repeat(1, 4))
    with pytest.raises(ValueError, match="x has shape"):
        rnn_forward(x[0], h0, W_x, W_h)  # a (T, D) sample without its batch axis
    with pytest.raises(ValueError, match="lengths has shape"):
        rnn_forward(x, h0, W_x, W_h, lengths=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="lengths must be at most T = 6"):
        rnn_forward(x, h0, W_x, W_h, lengths=torch.tensor([1, 2, 3, T + 1]))
    with pytest.raises(TypeError, match="dtype"):
        rnn_forward(x.float(), h0, W_x, W_h)
    with pytest.raises(ValueError, match="no time steps"):
        rnn_forward(x[:, :0], h0, W_x, W_h)


def test_dropout_mask_is_inverted_and_per_sequence() -> None:
    like = torch.zeros(2000, 3, 7, dtype=torch.float64)
    mask = dropout_mask(like, 7, 0.25, torch.Generator().manual_seed(0))
    assert mask.shape == (2000, 7)
    assert set(mask.unique().tolist()) == {0.0, 1 / 0.75}
    assert abs(mask.mean().item() - 1.0) < 0.05  # inverted: the expectation is unchanged
    assert dropout_mask(like, 7, 0.0) is None
    with pytest.raises(ValueError, match="dropout probability"):
        dropout_mask(like, 7, 1.0)


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("dropped", [False, True])
def test_lstm_scan_backward_matches_autograd(padded: bool, dropped: bool, rng) -> None:
    """The hand-written backward against autograd through the very same steps."""
    a_x, h0, c0 = randn(T, B, 4 * H, gen=rng), randn(B, H, gen=rng), randn(B, H, gen=rng)
    W_h = randn(H, 4 * H, gen=rng)
    valid = torch.arange(T) < LENGTHS[:, None] if padded else None
    mask = (torch.rand(B, H, generator=rng, dtype=torch.float64) < 0.7) / 0.7 if dropped else None
    upstream = randn(B, T, H, gen=rng), randn(B, H, gen=rng), randn(B, H, gen=rng)
    grads = []
    for run in (lstm_scan, lambda *args: scan(lstm_step(args[2], args[4]), *args[:2], args[3])):
        leaves = [t.clone().requires_grad_() for t in (a_x, h0, c0, W_h)]
        outputs, (h_T, c_T) = run(leaves[0], tuple(leaves[1:3]), leaves[3], valid, mask)
        loss = sum((u * v).sum() for u, v in zip(upstream, (outputs, h_T, c_T), strict=True))
        grads.append(torch.autograd.grad(loss, leaves))
    for name, ours, autograd in zip(["a_x", "h0", "c0", "W_h"], *grads, strict=True):
        assert close(ours, autograd), name


def test_lstm_scan_gradcheck(rng: torch.Generator) -> None:
    """Centred differences, independent of any autograd formula (small sizes, float64)."""
    steps, batch, hidden = 3, 2, 2
    inputs = [
        randn(steps, batch, 4 * hidden, gen=rng),
        randn(batch, hidden, gen=rng),
        randn(batch, hidden, gen=rng),
        randn(hidden, 4 * hidden, gen=rng),
    ]
    valid = torch.tensor([[True, True, True], [True, False, False]])

    def run(a_x, h0, c0, W_h):
        outputs, (h_T, c_T) = lstm_scan(a_x, (h0, c0), W_h, valid)
        return outputs, h_T, c_T

    assert torch.autograd.gradcheck(run, [t.requires_grad_() for t in inputs])


@pytest.mark.gpu
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gpu_matches_cpu(go_backwards: bool, data: dict[str, torch.Tensor]) -> None:
    m = torch_module("lstm")
    args = [data["x"], data["h0"], data["c0"], m.weight_ih_l0.T, m.weight_hh_l0.T, m.bias_ih_l0]
    options = {"return_state": True, "go_backwards": go_backwards, "lengths": LENGTHS}
    on_cpu = lstm_forward(*args, **options)
    on_gpu = lstm_forward(*[a.cuda() for a in args], **options)
    for a, b in zip(on_gpu, on_cpu, strict=True):
        assert a.device.type == "cuda" and close(a.cpu(), b)
