"""Weight conversion: torch modules, Keras and CS231n layouts, written-out reference equations."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from course_lib.convert import (
    from_torch,
    gru_from_keras,
    gru_to_keras,
    load_torch_weights,
    lstm_from_cs231n,
    lstm_from_keras,
    lstm_to_cs231n,
    lstm_to_keras,
    reorder_gates,
    to_torch,
)
from course_lib.layers import GRU, LSTM, RNN, PeepholeLSTM
from course_lib.sequence import gru_forward, lstm_forward, rnn_forward

B, T, D, H = 3, 5, 4, 6
TOL = 1e-10
F64 = {"dtype": torch.float64}


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


# Reference recurrences written from each library's own equations and gate order, in numpy, so
# that a conversion is checked against the convention it claims to implement.
def keras_lstm(x, kernel, recurrent_kernel, bias):
    """Keras LSTM: z = x K + h R + bias, gates i, f, c, o."""
    h = c = np.zeros((x.shape[0], recurrent_kernel.shape[0]))
    out = []
    for t in range(x.shape[1]):
        z_i, z_f, z_c, z_o = np.split(x[:, t] @ kernel + h @ recurrent_kernel + bias, 4, axis=1)
        c = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
        h = sigmoid(z_o) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1)


def keras_gru(x, kernel, recurrent_kernel, bias, reset_after):
    """Keras GRU, gates z, r, h, and ``h = z ⊙ h_prev + (1 − z) ⊙ hh``."""
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, 0.0)
    out = []
    for t in range(x.shape[1]):
        x_z, x_r, x_h = np.split(x[:, t] @ kernel + b_in, 3, axis=1)
        if reset_after:
            r_z, r_r, r_h = np.split(h @ recurrent_kernel + b_rec, 3, axis=1)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            hh = np.tanh(x_h + r * r_h)
        else:
            r_z, r_r = np.split(h @ recurrent_kernel[:, : 2 * units], 2, axis=1)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            hh = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * units :])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, 1)


def cs231n_lstm(x, Wx, Wh, b):
    """CS231n lstm_forward: a = x Wx + h Wh + b split as i, f, o (sigmoid) and g (tanh)."""
    hidden = Wh.shape[0]
    h = c = np.zeros((x.shape[0], hidden))
    out = []
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o, g = np.split(a, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1)


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max())


def all_equal(arrays, expected) -> bool:
    return all(np.array_equal(a, e) for a, e in zip(arrays, expected, strict=True))


@pytest.fixture
def np_rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_reorder_gates_moves_whole_blocks() -> None:
    W = torch.cat([torch.full((2, 3), float(k)) for k in range(4)], dim=1)  # blocks 0,1,2,3
    moved = reorder_gates(W, "ifgo", "ifog")
    assert torch.equal(moved, torch.cat([torch.full((2, 3), float(k)) for k in (0, 1, 3, 2)], 1))
    assert torch.equal(reorder_gates(moved, "ifog", "ifgo"), W)
    bias = np.arange(6.0)
    assert np.array_equal(reorder_gates(bias, "zrn", "rzn"), [2.0, 3.0, 0.0, 1.0, 4.0, 5.0])


def test_reorder_gates_rejects_bad_orders() -> None:
    with pytest.raises(ValueError, match="permutations"):
        reorder_gates(torch.zeros(8), "ifco", "ifgo")
    with pytest.raises(ValueError, match="does not split into 3 gate blocks"):
        reorder_gates(torch.zeros(2, 8), "rzn", "zrn")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_torch_round_trip(kind: str, bias: bool, rng: torch.Generator) -> None:
    torch.manual_seed(0)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    m = cls(D, H, num_layers=2, bidirectional=True, bias=bias, batch_first=True).double()
    layer = from_torch(m)
    assert layer.W_x_l1_reverse.dtype == torch.float64 and layer.bias == bias
    x = torch.randn(B, T, D, generator=rng, **F64)
    assert (layer(x) - m(x)[0]).abs().max() <= TOL
    back = to_torch(layer, batch_first=False)
    assert not back.batch_first
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in m.named_parameters()]
    for (name, p), q in zip(m.named_parameters(), back.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_load_torch_weights_checks_structure() -> None:
    with pytest.raises(TypeError, match="cannot load torch GRU weights into LSTM"):
        load_torch_weights(LSTM(D, H), torch.nn.GRU(D, H))
    with pytest.raises(ValueError, match="differ in"):
        load_torch_weights(LSTM(D, H), torch.nn.LSTM(D, H + 1))
    with pytest.raises(ValueError, match="differ in"):
        load_torch_weights(LSTM(D, H), torch.nn.LSTM(D, H, bidirectional=True))
    with pytest.raises(ValueError, match="tanh"):
        from_torch(torch.nn.RNN(D, H, nonlinearity="relu"))
    with pytest.raises(ValueError, match="proj_size"):
        from_torch(torch.nn.LSTM(D, H, proj_size=2))
    with pytest.raises(ValueError, match="torch has no module for PeepholeLSTM"):
        to_torch(PeepholeLSTM(D, H))
    with pytest.raises(ValueError, match="reset_after=False"):
        to_torch(GRU(D, H, reset_after=False))
    with pytest.raises(ValueError, match="recurrent_dropout"):
        to_torch(RNN(D, H, recurrent_dropout=0.2))


def test_keras_lstm(np_rng: np.random.Generator) -> None:
    x = np_rng.standard_normal((B, T, D))
    kernel, recurrent = np_rng.standard_normal((D, 4 * H)), np_rng.standard_normal((H, 4 * H))
    bias = np_rng.standard_normal(4 * H)
    W_x, W_h, b = lstm_from_keras(kernel, recurrent, bias)
    ours = lstm_forward(x, None, None, W_x, W_h, b)
    assert max_abs(ours, keras_lstm(x, kernel, recurrent, bias)) <= TOL
    # Course weights with two biases → Keras, and back.
    b_x, b_h = np_rng.standard_normal(4 * H), np_rng.standard_normal(4 * H)
    k2, r2, bias2 = lstm_to_keras(W_x, W_h, b_x, b_h)
    expected = lstm_forward(x, None, None, W_x, W_h, b_x + b_h)
    assert max_abs(keras_lstm(x, k2, r2, bias2), expected) <= TOL
    assert all_equal(lstm_from_keras(k2, r2, bias2), (W_x, W_h, b_x + b_h))


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru(reset_after: bool, np_rng: np.random.Generator) -> None:
    x = np_rng.standard_normal((B, T, D))
    kernel, recurrent = np_rng.standard_normal((D, 3 * H)), np_rng.standard_normal((H, 3 * H))
    bias = np_rng.standard_normal((2, 3 * H) if reset_after else 3 * H)
    W_x, W_h, b_x, b_h = gru_from_keras(kernel, recurrent, bias, reset_after=reset_after)
    ours = gru_forward(x, None, W_x, W_h, b_x, b_h, reset_after=reset_after)
    assert max_abs(ours, keras_gru(x, kernel, recurrent, bias, reset_after)) <= TOL
    back = gru_to_keras(W_x, W_h, b_x, b_h, reset_after=reset_after)
    assert all_equal(back, (kernel, recurrent, bias))


def test_torch_gru_to_keras_reproduces_torch(rng: torch.Generator) -> None:
    m = torch.nn.GRU(D, H, batch_first=True).double()
    x = torch.randn(B, T, D, generator=rng, **F64)
    layer = from_torch(m)
    w = {k: v.detach().numpy() for k, v in layer.cell_weights(0, 0).items()}
    kernel, recurrent, bias = gru_to_keras(w["W_x"], w["W_h"], w["b_x"], w["b_h"])
    assert bias.shape == (2, 3 * H)
    expected = m(x)[0].detach().numpy()
    assert max_abs(keras_gru(x.numpy(), kernel, recurrent, bias, True), expected) <= TOL


def test_keras_shape_errors(np_rng: np.random.Generator) -> None:
    kernel, recurrent = np_rng.standard_normal((D, 3 * H)), np_rng.standard_normal((H, 3 * H))
    with pytest.raises(ValueError, match="bias has shape"):
        gru_from_keras(kernel, recurrent, np_rng.standard_normal(3 * H), reset_after=True)
    with pytest.raises(ValueError, match="recurrent_kernel has shape"):
        lstm_from_keras(np_rng.standard_normal((D, 4 * H)), recurrent)


def test_cs231n_lstm(np_rng: np.random.Generator) -> None:
    x = np_rng.standard_normal((B, T, D))
    Wx, Wh, b = (np_rng.standard_normal(s) for s in [(D, 4 * H), (H, 4 * H), (4 * H,)])
    W_x, W_h, b_course = lstm_from_cs231n(Wx, Wh, b)
    ours = lstm_forward(x, None, None, W_x, W_h, b_course)
    assert max_abs(ours, cs231n_lstm(x, Wx, Wh, b)) <= TOL
    assert all_equal(lstm_to_cs231n(W_x, W_h, b_course), (Wx, Wh, b))


# Against Keras itself (Keras 3 on its torch backend, a dev dependency). Keras' generic RNN loop
# computes `keras.ops.matmul` in float32 even for float64 inputs on this backend (measured), so
# the tolerance is float32's; a wrong convention or option would be off by far more.
KERAS_TOL = 1e-6
# Keras 3.15 turns its variables into arrays in a way numpy 2 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="Keras 3 (a dev dependency) is not installed")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras runs on {keras.backend.backend()}; these tests need the torch backend")
    keras.config.set_floatx("float64")
    return keras


def keras_run(layer, x: np.ndarray, mask: np.ndarray | None = None) -> list[np.ndarray]:
    mask = None if mask is None else torch.from_numpy(mask)
    out = layer(torch.from_numpy(x), mask=mask)
    return [t.detach().numpy() for t in (out if isinstance(out, list | tuple) else [out])]


def randomise_bias(layer, np_rng: np.random.Generator) -> list[np.ndarray]:
    """Keras starts biases at zero (forget gate 1); random ones make a misplaced bias show."""
    *weights, bias = layer.get_weights()
    layer.set_weights([*weights, np_rng.standard_normal(bias.shape)])
    return layer.get_weights()


LENGTHS = np.array([5, 2, 4])


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_keras_lstm_layer(keras, np_rng, go_backwards: bool, padded: bool) -> None:
    layer = keras.layers.LSTM(
        H,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=True,
    )
    x = np_rng.standard_normal((B, T, D))
    layer.build((B, T, D))
    W_x, W_h, b = lstm_from_keras(*randomise_bias(layer, np_rng))
    mask = np.arange(T) < LENGTHS[:, None] if padded else None
    theirs = keras_run(layer, x, mask)
    ours = lstm_forward(
        x,
        None,
        None,
        W_x,
        W_h,
        b,
        return_state=True,
        go_backwards=go_backwards,
        lengths=LENGTHS if padded else None,
    )
    for a, e in zip(ours, theirs, strict=True):  # output, h_T, c_T
        assert max_abs(a, e) <= KERAS_TOL


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_layer(keras, np_rng, reset_after: bool) -> None:
    layer = keras.layers.GRU(
        H,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        reset_after=reset_after,
        zero_output_for_mask=True,
    )
    x = np_rng.standard_normal((B, T, D))
    layer.build((B, T, D))
    weights = gru_from_keras(*randomise_bias(layer, np_rng), reset_after=reset_after)
    theirs = keras_run(layer, x, np.arange(T) < LENGTHS[:, None])
    ours = gru_forward(
        x,
        None,
        *weights,
        reset_after=reset_after,
        return_state=True,
        go_backwards=True,
        lengths=LENGTHS,
    )
    for a, e in zip(ours, theirs, strict=True):
        assert max_abs(a, e) <= KERAS_TOL


@pytest.mark.parametrize("kind", ["SimpleRNN", "GRU", "LSTM"])
def test_keras_row_of_length_0(keras, np_rng, kind: str) -> None:
    """A row with no valid step, after a non-zero initial state: Keras returns zeros as its last
    output and the initial state, untouched, as its final state; so does the course. (Keras'
    default last output, the last *valid* one; zero_output_for_mask=True would zero it for every
    row shorter than T.)"""
    layer = getattr(keras.layers, kind)(H, return_sequences=False, return_state=True)
    x = np_rng.standard_normal((B, T, D))
    layer.build((B, T, D))
    weights = randomise_bias(layer, np_rng)
    states = [np_rng.standard_normal((B, H)) for _ in range(2 if kind == "LSTM" else 1)]
    lengths = np.array([5, 0, 2])
    out = layer(
        torch.from_numpy(x),
        initial_state=[torch.from_numpy(s) for s in states],
        mask=torch.from_numpy(np.arange(T) < lengths[:, None]),
    )
    theirs = [t.detach().numpy() for t in out]
    options = {"return_sequences": False, "return_state": True, "lengths": lengths}
    if kind == "SimpleRNN":
        ours = rnn_forward(x, states[0], *weights, **options)
    elif kind == "GRU":
        ours = gru_forward(x, states[0], *gru_from_keras(*weights), **options)
    else:
        ours = lstm_forward(x, *states, *lstm_from_keras(*weights), **options)
    assert not theirs[0][1].any() and np.array_equal(theirs[1][1], states[0][1])  # measured
    for a, e in zip(ours, theirs, strict=True):  # last output, then the states
        assert max_abs(a, e) <= KERAS_TOL


def test_keras_simple_rnn_state_is_its_last_output(keras, np_rng) -> None:
    layer = keras.layers.SimpleRNN(H, return_sequences=False, return_state=True)
    x = np_rng.standard_normal((B, T, D))
    layer.build((B, T, D))
    kernel, recurrent, bias = randomise_bias(layer, np_rng)  # the course layout already
    last, state = keras_run(layer, x)
    ours, h_T = rnn_forward(
        x, None, kernel, recurrent, bias, return_sequences=False, return_state=True
    )
    assert max_abs(ours, last) <= KERAS_TOL and np.array_equal(ours, h_T)
    assert np.array_equal(last, state)


def test_keras_stateful_lstm(keras, np_rng) -> None:
    theirs = keras.layers.LSTM(H, return_sequences=True, stateful=True)
    theirs.build((B, T, D))
    kernel, recurrent, bias = randomise_bias(theirs, np_rng)
    ours = LSTM(D, H, stateful=True, **F64)
    with torch.no_grad():
        for name, value in zip(
            ("W_x", "W_h", "b_x"), lstm_from_keras(kernel, recurrent, bias), strict=True
        ):
            getattr(ours, f"{name}_l0").copy_(torch.from_numpy(value))
        ours.b_h_l0.zero_()  # Keras has one bias
        for _ in range(2):  # the second batch starts from the first one's final state
            x = np_rng.standard_normal((B, T, D))
            assert max_abs(ours(torch.from_numpy(x)).numpy(), keras_run(theirs, x)[0]) <= KERAS_TOL
