"""Course layers against torch.nn.RNN/LSTM/GRU (float64) and the Keras options torch lacks."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_lib.convert import from_torch
from course_lib.layers import GRU, LSTM, RNN, PeepholeLSTM
from course_lib.sequence import gru_forward, peephole_lstm_forward

B, T, D, H = 4, 6, 3, 5
TOL = 1e-10
LENGTHS = torch.tensor([6, 2, 4, 1])
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
F64 = {"dtype": torch.float64}


def randn(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
def test_matches_torch(kind, num_layers, bidirectional, batch_first, rng) -> None:
    torch.manual_seed(num_layers)
    m = TORCH[kind](
        D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    ).double()
    layer = from_torch(m, return_state=True)
    x = randn(B, T, D, gen=rng)  # the course layout; torch's is (T, B, D) unless batch_first
    n = num_layers * (2 if bidirectional else 1)
    h0, c0 = randn(n, B, H, gen=rng), randn(n, B, H, gen=rng)
    state = (h0, c0) if kind == "lstm" else h0
    x_torch = x if batch_first else x.transpose(0, 1)

    # Full sequences with an initial state.
    y, final = m(x_torch, state)
    y = y if batch_first else y.transpose(0, 1)
    out, *finals = layer(x, state)
    assert max_err(out, y) <= TOL
    for ours, theirs in zip(finals, final if kind == "lstm" else (final,), strict=True):
        assert max_err(ours, theirs) <= TOL

    # Padded sequences: lengths against a packed sequence.
    packed = pack_padded_sequence(x_torch, LENGTHS, batch_first=batch_first, enforce_sorted=False)
    y_packed, final = m(packed, state)
    y, _ = pad_packed_sequence(y_packed, batch_first=True, total_length=T)
    out, *finals = layer(x, state, lengths=LENGTHS)
    assert max_err(out, y) <= TOL
    for ours, theirs in zip(finals, final if kind == "lstm" else (final,), strict=True):
        assert max_err(ours, theirs) <= TOL


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("padded", [False, True])
def test_gradients_match_torch(kind: str, padded: bool, rng: torch.Generator) -> None:
    m = TORCH[kind](D, H, num_layers=2, bidirectional=True, batch_first=True).double()
    layer = from_torch(m, return_state=True)
    x = randn(B, T, D, gen=rng)
    weights = randn(B, T, 2 * H, gen=rng)  # a loss that weighs every output differently
    w_final = randn(4, B, H, gen=rng)  # and every final state
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    y, final = m(packed if padded else x)
    y = pad_packed_sequence(y, batch_first=True, total_length=T)[0] if padded else y
    h_n = final[0] if kind == "lstm" else final
    ((y * weights).sum() + (h_n * w_final).sum()).backward()
    out, h_n, *_ = layer(x, lengths=LENGTHS if padded else None)
    ((out * weights).sum() + (h_n * w_final).sum()).backward()
    for k in range(2):
        for d, sfx in enumerate(["", "_reverse"]):
            w = layer.cell_weights(k, d)
            assert max_err(w["W_x"].grad, getattr(m, f"weight_ih_l{k}{sfx}").grad.T) <= TOL
            assert max_err(w["W_h"].grad, getattr(m, f"weight_hh_l{k}{sfx}").grad.T) <= TOL
            assert max_err(w["b_h"].grad, getattr(m, f"bias_hh_l{k}{sfx}").grad) <= TOL


def test_last_output_of_each_direction(rng: torch.Generator) -> None:
    layer = GRU(D, H, bidirectional=True, **F64)
    x = randn(B, T, D, gen=rng)
    seq, padded = layer(x), layer(x, lengths=LENGTHS)
    layer.return_sequences = False
    # forward: its last step; backward: step 0, the last one it processed.
    assert torch.equal(layer(x), torch.cat([seq[:, -1, :H], seq[:, 0, H:]], dim=-1))
    last = layer(x, lengths=LENGTHS)
    assert torch.equal(last[:, :H], padded[torch.arange(B), LENGTHS - 1, :H])
    assert torch.equal(last[:, H:], padded[:, 0, H:])


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_go_backwards_processes_the_reversed_input(cls, rng: torch.Generator) -> None:
    torch.manual_seed(0)
    backwards = cls(D, H, num_layers=2, go_backwards=True, **F64)
    forwards = cls(D, H, num_layers=2, **F64)
    forwards.load_state_dict(backwards.state_dict())
    x = randn(B, T, D, gen=rng)
    assert torch.equal(backwards(x), forwards(x.flip(1)))


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU, PeepholeLSTM])
def test_stateful_equals_one_run_over_the_concatenation(cls, rng: torch.Generator) -> None:
    torch.manual_seed(0)
    stateful = cls(D, H, num_layers=2, bidirectional=False, stateful=True, **F64)
    plain = cls(D, H, num_layers=2, **F64)
    plain.load_state_dict(stateful.state_dict())
    x = randn(B, 2 * T, D, gen=rng)
    whole = plain(x)
    first, second = stateful(x[:, :T]), stateful(x[:, T:])
    assert max_err(torch.cat([first, second], dim=1), whole) <= TOL  # sample i seeded sample i
    with pytest.raises(ValueError, match="batch size 4 but got x with batch size 3"):
        stateful(x[:3, :T])
    stateful.reset_states()
    assert torch.equal(stateful(x[:, :T]), whole[:, :T])


def test_stateful_state_is_detached(rng: torch.Generator) -> None:
    layer = LSTM(D, H, stateful=True, **F64)
    layer(randn(B, T, D, gen=rng)).sum().backward()
    layer(randn(B, T, D, gen=rng)).sum().backward()  # would fail on a freed graph if attached


def test_recurrent_dropout_mask_is_the_same_at_every_step() -> None:
    """By construction: no input, ``W_h = s I`` and ``h0 = 1``, so ``h_t = tanh(s m ⊙ h_{t-1})``.

    A unit dropped at step 1 is zero ever after, whatever the later masks; a kept unit stays
    non-zero only if it is kept at *every* step. So the set of zero units is constant over time,
    equal to the step-1 pattern, exactly when one mask serves all steps.
    """
    p, s, steps, batch, hidden = 0.5, 0.5, 40, 8, 64
    layer = RNN(1, hidden, recurrent_dropout=p, bias=False, **F64).train()
    with torch.no_grad():
        layer.W_x_l0.zero_()
        layer.W_h_l0.copy_(s * torch.eye(hidden))
    torch.manual_seed(0)
    h = layer(torch.zeros(batch, steps, 1, **F64), torch.ones(1, batch, hidden, **F64))
    zero = h == 0
    assert torch.equal(zero, zero[:, :1].expand_as(zero))
    assert 0.3 < zero[:, 0].double().mean().item() < 0.7  # about a fraction p dropped
    assert not torch.equal(zero[0], zero[1])  # one mask per sequence, not one per batch
    kept = ~zero[:, 0]
    assert max_err(h[:, 0][kept], torch.full_like(h[:, 0][kept], math.tanh(s / (1 - p)))) <= TOL
    layer.eval()  # no dropout at evaluation time
    assert (layer(torch.zeros(1, 3, 1, **F64), torch.ones(1, 1, hidden, **F64)) != 0).all()


def test_input_dropout_mask_is_the_same_at_every_step() -> None:
    """By construction: ``W_h = 0``, ``W_x = I`` and a constant input, so ``h_t = tanh(m ⊙ x)``."""
    p, steps, batch, size = 0.5, 30, 8, 64
    layer = RNN(size, size, input_dropout=p, bias=False, **F64).train()
    with torch.no_grad():
        layer.W_x_l0.copy_(torch.eye(size))
        layer.W_h_l0.zero_()
    h = layer(torch.ones(batch, steps, size, **F64))
    assert torch.equal(h, h[:, :1].expand_as(h))  # identical at every step
    assert set(h.unique().tolist()) == {0.0, math.tanh(1 / (1 - p))}
    assert not torch.equal(h[0], h[1])


def test_dropout_between_layers_only_in_training(rng: torch.Generator) -> None:
    layer = LSTM(D, H, num_layers=2, dropout=0.5, **F64)
    no_dropout = LSTM(D, H, num_layers=2, **F64)
    no_dropout.load_state_dict(layer.state_dict())
    x = randn(B, T, D, gen=rng)
    assert torch.equal(layer.eval()(x), no_dropout(x))
    assert not torch.equal(layer.train()(x), no_dropout(x))


def test_peephole_layer_matches_the_function(rng: torch.Generator) -> None:
    layer = PeepholeLSTM(D, H, return_state=True, **F64)
    w = layer.cell_weights(0, 0)
    x = randn(B, T, D, gen=rng)
    out, h_n, c_n = layer(x)
    ref, h_T, c_T = peephole_lstm_forward(
        x,
        None,
        None,
        w["W_x"],
        w["W_h"],
        w["b_x"] + w["b_h"],
        w["p_i"],
        w["p_f"],
        w["p_o"],
        return_state=True,
    )
    assert max_err(out, ref) <= TOL and max_err(h_n[0], h_T) <= TOL and max_err(c_n[0], c_T) <= TOL


def test_gru_reset_before_layer_matches_the_function(rng: torch.Generator) -> None:
    layer = GRU(D, H, reset_after=False, **F64)
    with torch.no_grad():  # non-zero biases, so that misplacing b_h would show
        layer.b_x_l0.normal_(generator=rng)
        layer.b_h_l0.normal_(generator=rng)
    w = layer.cell_weights(0, 0)
    x = randn(B, T, D, gen=rng)
    ref = gru_forward(x, None, w["W_x"], w["W_h"], w["b_x"], w["b_h"], reset_after=False)
    assert max_err(layer(x), ref) <= TOL


def test_keras_initialisers() -> None:
    torch.manual_seed(0)
    layer = LSTM(D, H, num_layers=2, bidirectional=True, **F64)
    for k in range(2):
        for d in range(2):
            w = layer.cell_weights(k, d)
            fan_in, fan_out = w["W_x"].shape
            assert w["W_x"].abs().max() <= math.sqrt(6 / (fan_in + fan_out))
            assert max_err(w["W_h"] @ w["W_h"].T, torch.eye(H, **F64)) <= 1e-12  # orthonormal rows
            expected = torch.zeros(4 * H, **F64)
            expected[H : 2 * H] = 1.0  # unit_forget_bias
            assert torch.equal(w["b_x"], expected) and not w["b_h"].any()
    assert not LSTM(D, H, unit_forget_bias=False).b_x_l0.any()
    peep = PeepholeLSTM(D, H)
    assert peep.p_i_l0.abs().max() <= math.sqrt(3 / H) and peep.p_o_l0.any()


def test_bad_input_names_the_argument(rng: torch.Generator) -> None:
    layer = LSTM(D, H, num_layers=2, **F64)
    with pytest.raises(ValueError, match=r"x has shape \(4, 6, 7\), expected \(B, T, D\)"):
        layer(randn(B, T, 7, gen=rng))
    with pytest.raises(ValueError, match="h0 has shape"):
        layer(randn(B, T, D, gen=rng), (randn(1, B, H, gen=rng), randn(2, B, H, gen=rng)))
    with pytest.raises(ValueError, match=r"state must be \(h0, c0\)"):
        layer(randn(B, T, D, gen=rng), randn(2, B, H, gen=rng))
    with pytest.raises(TypeError, match="dtype"):
        layer(randn(B, T, D, gen=rng).float())
    with pytest.raises(TypeError, match="h0 has dtype torch.float32"):
        layer(randn(B, T, D, gen=rng), (torch.zeros(2, B, H), torch.zeros(2, B, H)))
    with pytest.raises(ValueError, match="recurrent_dropout must be in"):
        RNN(D, H, recurrent_dropout=1.0)


@pytest.mark.gpu
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU, PeepholeLSTM])
def test_gpu_matches_cpu(cls, rng: torch.Generator) -> None:
    torch.manual_seed(0)
    cpu = cls(D, H, num_layers=2, bidirectional=True, return_state=True, **F64)
    gpu = cls(D, H, num_layers=2, bidirectional=True, return_state=True, **F64).cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = randn(B, T, D, gen=rng)
    out_cpu, *states_cpu = cpu(x, lengths=LENGTHS)
    out_gpu, *states_gpu = gpu(x.cuda(), lengths=LENGTHS)  # lengths stay on the CPU, as torch's
    assert out_gpu.device.type == "cuda"
    assert max_err(out_gpu.cpu(), out_cpu) <= TOL
    for a, b in zip(states_gpu, states_cpu, strict=True):
        assert max_err(a.cpu(), b) <= TOL
    out_cpu.sum().backward()
    out_gpu.sum().backward()
    for (name, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters(), strict=True):
        assert max_err(p_gpu.grad.cpu(), p_cpu.grad) <= TOL, name
