"""One-step cells against torch.nn cells (float64), plus the conventions torch has no module for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.cells import (
    gru_cell_forward,
    lstm_cell_forward,
    peephole_lstm_cell_forward,
    rnn_cell_forward,
)

B, D, H = 3, 5, 4
TOL = 1e-12


def randn(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


@pytest.fixture
def inputs(rng: torch.Generator) -> dict[str, torch.Tensor]:
    return {"x": randn(B, D, gen=rng), "h": randn(B, H, gen=rng), "c": randn(B, H, gen=rng)}


def test_rnn_cell_matches_torch(inputs: dict[str, torch.Tensor]) -> None:
    cell = torch.nn.RNNCell(D, H).double()
    ours = rnn_cell_forward(
        inputs["x"], inputs["h"], cell.weight_ih.T, cell.weight_hh.T, cell.bias_ih + cell.bias_hh
    )
    assert torch.allclose(ours, cell(inputs["x"], inputs["h"]), atol=TOL, rtol=0)


def test_lstm_cell_matches_torch(inputs: dict[str, torch.Tensor]) -> None:
    cell = torch.nn.LSTMCell(D, H).double()
    step = lstm_cell_forward(
        inputs["x"],
        inputs["h"],
        inputs["c"],
        cell.weight_ih.T,
        cell.weight_hh.T,
        cell.bias_ih + cell.bias_hh,
    )
    h, c = cell(inputs["x"], (inputs["h"], inputs["c"]))
    assert torch.allclose(step.h, h, atol=TOL, rtol=0)
    assert torch.allclose(step.c, c, atol=TOL, rtol=0)
    # The returned gates obey the cell equations.
    assert torch.allclose(step.c, step.f * inputs["c"] + step.i * step.g, atol=TOL, rtol=0)
    assert torch.allclose(step.h, step.o * torch.tanh(step.c), atol=TOL, rtol=0)


def test_gru_cell_reset_after_matches_torch(inputs: dict[str, torch.Tensor]) -> None:
    cell = torch.nn.GRUCell(D, H).double()
    step = gru_cell_forward(
        inputs["x"], inputs["h"], cell.weight_ih.T, cell.weight_hh.T, cell.bias_ih, cell.bias_hh
    )
    assert torch.allclose(step.h, cell(inputs["x"], inputs["h"]), atol=TOL, rtol=0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_cell_without_bias(inputs: dict[str, torch.Tensor], reset_after: bool) -> None:
    cell = torch.nn.GRUCell(D, H, bias=False).double()
    W_x, W_h = cell.weight_ih.T, cell.weight_hh.T
    step = gru_cell_forward(inputs["x"], inputs["h"], W_x, W_h, reset_after=reset_after)
    if reset_after:
        assert torch.allclose(step.h, cell(inputs["x"], inputs["h"]), atol=TOL, rtol=0)
    zero = torch.zeros(3 * H, dtype=torch.float64)
    with_zero_bias = gru_cell_forward(
        inputs["x"], inputs["h"], W_x, W_h, zero, zero, reset_after=reset_after
    )
    assert torch.allclose(step.h, with_zero_bias.h, atol=TOL, rtol=0)


def test_gru_forms_agree_when_reset_gate_is_open_and_differ_when_closed(
    inputs: dict[str, torch.Tensor], rng: torch.Generator
) -> None:
    """r ⊙ (h W) = (r ⊙ h) W when r = 1; when r = 0 only the Cho form keeps b_hn."""
    W_x, W_h = randn(D, 3 * H, gen=rng), randn(H, 3 * H, gen=rng)
    b_h = randn(3 * H, gen=rng)
    for r_bias, should_agree in [(60.0, True), (-60.0, False)]:
        b_x = torch.zeros(3 * H, dtype=torch.float64)
        b_x[:H] = r_bias  # saturate the reset gate
        after = gru_cell_forward(inputs["x"], inputs["h"], W_x, W_h, b_x, b_h, reset_after=True)
        before = gru_cell_forward(inputs["x"], inputs["h"], W_x, W_h, b_x, b_h, reset_after=False)
        assert torch.allclose(after.h, before.h, atol=1e-10) == should_agree
    # With r = 0 the Cho candidate is tanh(x W_xn + b_xn + b_hn): the old state is fully reset.
    expected_n = torch.tanh(inputs["x"] @ W_x[:, 2 * H :] + b_x[2 * H :] + b_h[2 * H :])
    assert torch.allclose(before.n, expected_n, atol=1e-10)


def test_peephole_reduces_to_lstm_with_zero_peepholes(inputs: dict[str, torch.Tensor]) -> None:
    cell = torch.nn.LSTMCell(D, H).double()
    zeros = torch.zeros(H, dtype=torch.float64)
    args = (inputs["x"], inputs["h"], inputs["c"], cell.weight_ih.T, cell.weight_hh.T, cell.bias_ih)
    peep = peephole_lstm_cell_forward(*args, zeros, zeros, zeros)
    plain = lstm_cell_forward(*args)
    for a, b in zip(peep, plain, strict=True):
        assert torch.allclose(a, b, atol=TOL, rtol=0)


def test_peephole_output_gate_sees_new_cell(
    inputs: dict[str, torch.Tensor], rng: torch.Generator
) -> None:
    W_x, W_h, b = randn(D, 4 * H, gen=rng), randn(H, 4 * H, gen=rng), randn(4 * H, gen=rng)
    p_i, p_f, p_o = (randn(H, gen=rng) for _ in range(3))
    step = peephole_lstm_cell_forward(
        inputs["x"], inputs["h"], inputs["c"], W_x, W_h, b, p_i, p_f, p_o
    )
    a_i, a_f, _, a_o = (inputs["x"] @ W_x + inputs["h"] @ W_h + b).chunk(4, dim=-1)
    assert torch.allclose(step.i, torch.sigmoid(a_i + p_i * inputs["c"]), atol=TOL)
    assert torch.allclose(step.f, torch.sigmoid(a_f + p_f * inputs["c"]), atol=TOL)
    assert torch.allclose(step.o, torch.sigmoid(a_o + p_o * step.c), atol=TOL)
    assert not torch.allclose(step.o, torch.sigmoid(a_o + p_o * inputs["c"]), atol=1e-6)


def test_cells_pass_gradcheck(inputs: dict[str, torch.Tensor], rng: torch.Generator) -> None:
    W_x = randn(D, 4 * H, gen=rng).requires_grad_()
    W_h = randn(H, 4 * H, gen=rng).requires_grad_()
    p = [randn(H, gen=rng).requires_grad_() for _ in range(3)]
    x = inputs["x"].clone().requires_grad_()
    c = inputs["c"].clone().requires_grad_()

    def peephole_h_and_c(*a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        step = peephole_lstm_cell_forward(a[0], inputs["h"], a[1], a[2], a[3], None, *a[4:])
        return step.h, step.c

    assert torch.autograd.gradcheck(peephole_h_and_c, (x, c, W_x, W_h, *p))


def test_numpy_in_numpy_out(inputs: dict[str, torch.Tensor], rng: torch.Generator) -> None:
    W_x, W_h = randn(D, H, gen=rng), randn(H, H, gen=rng)
    out = rnn_cell_forward(inputs["x"].numpy(), inputs["h"].numpy(), W_x.numpy(), W_h.numpy())
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, rnn_cell_forward(inputs["x"], inputs["h"], W_x, W_h).numpy())
    step = lstm_cell_forward(
        inputs["x"].numpy(),
        inputs["h"].numpy(),
        inputs["c"].numpy(),
        np.zeros((D, 4 * H)),
        np.zeros((H, 4 * H)),
    )
    assert isinstance(step.h, np.ndarray) and step._fields[:2] == ("h", "c")


def test_bad_shapes_name_the_argument(
    inputs: dict[str, torch.Tensor], rng: torch.Generator
) -> None:
    W_x, W_h = randn(D, H, gen=rng), randn(H, H, gen=rng)
    with pytest.raises(ValueError, match=r"W_x has shape \(4, 5\), expected \(D, H\) = \(5, 4\)"):
        rnn_cell_forward(inputs["x"], inputs["h"], W_x.T, W_h)
    with pytest.raises(ValueError, match=r"b has shape \(5,\), expected \(4H\) = \(16,\)"):
        lstm_cell_forward(
            inputs["x"],
            inputs["h"],
            inputs["c"],
            randn(D, 4 * H, gen=rng),
            randn(H, 4 * H, gen=rng),
            randn(5, gen=rng),
        )
    with pytest.raises(TypeError, match="h_prev has dtype torch.float32"):
        rnn_cell_forward(inputs["x"], inputs["h"].float(), W_x, W_h)
    with pytest.raises(TypeError, match="x must be a torch.Tensor or numpy array, got list"):
        rnn_cell_forward([[1.0]], inputs["h"], W_x, W_h)


@pytest.mark.gpu
def test_cells_on_gpu_match_cpu(inputs: dict[str, torch.Tensor], rng: torch.Generator) -> None:
    W_x, W_h, b = randn(D, 4 * H, gen=rng), randn(H, 4 * H, gen=rng), randn(4 * H, gen=rng)
    args = (inputs["x"], inputs["h"], inputs["c"], W_x, W_h, b)
    cpu = lstm_cell_forward(*args)
    gpu = lstm_cell_forward(*(a.cuda() for a in args))
    assert gpu.h.device.type == "cuda"
    assert torch.allclose(gpu.h.cpu(), cpu.h, atol=1e-12)
