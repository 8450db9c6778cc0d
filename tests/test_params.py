"""Parameter counts: worked examples by hand, torch modules and course layers."""

from __future__ import annotations

import pytest
import torch

from course_lib.layers import GRU, LSTM, RNN, PeepholeLSTM
from course_lib.params import count_module_params, count_params

TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
COURSE = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def test_worked_examples() -> None:
    # A 3-unit RNN on 2 inputs: 2·3 + 3·3 weights, plus one bias (course, Keras) or two (torch).
    assert count_params("rnn", 2, 3, bias=False) == 15
    assert count_params("rnn", 2, 3) == 18
    assert count_params("rnn", 2, 3, convention="keras") == 18
    assert count_params("rnn", 2, 3, convention="torch") == 21
    # LSTM(32) on 10 features: 4·(10·32 + 32·32 + 32).
    assert count_params("lstm", 10, 32, convention="keras") == 4 * (320 + 1024 + 32)
    # Keras GRU(3) on 2 inputs: reset_after=True carries two biases, False one.
    assert count_params("gru", 2, 3, convention="keras") == 3 * (6 + 9 + 6)
    assert count_params("gru", 2, 3, convention="keras", reset_after=False) == 3 * (6 + 9 + 3)
    # Peephole LSTM: an LSTM plus three diagonal (H,) peepholes.
    assert count_params("peephole_lstm", 2, 3) == count_params("lstm", 2, 3) + 9


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_torch_convention_counts_torch_modules(kind, num_layers, bidirectional, bias) -> None:
    options = {"num_layers": num_layers, "bidirectional": bidirectional, "bias": bias}
    module = TORCH[kind](7, 5, **options)
    expected = sum(p.numel() for p in module.parameters())
    assert count_params(kind, 7, 5, convention="torch", **options) == expected
    assert count_params(module) == expected
    # Course layers store two biases as torch does, so they count alike.
    assert count_module_params(COURSE[kind](7, 5, **options)) == expected


def test_peephole_layer_count() -> None:
    layer = PeepholeLSTM(4, 6, num_layers=2, bidirectional=True)
    lstm = count_params("lstm", 4, 6, convention="torch", num_layers=2, bidirectional=True)
    assert count_module_params(layer) == lstm + 2 * 2 * 3 * 6  # layers · directions · 3H


def test_count_module_params_skips_frozen() -> None:
    layer = RNN(2, 3)
    layer.W_h_l0.requires_grad_(False)
    assert count_module_params(layer) == 2 * 3 + 3 + 3
    assert count_module_params(layer, trainable_only=False) == 21


def test_errors() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        count_params("transformer", 2, 3)
    with pytest.raises(ValueError, match="unknown convention"):
        count_params("rnn", 2, 3, convention="jax")
    with pytest.raises(ValueError, match="torch has no peephole"):
        count_params("peephole_lstm", 2, 3, convention="torch")
    with pytest.raises(ValueError, match="reset-after"):
        count_params("gru", 2, 3, convention="torch", reset_after=False)
    with pytest.raises(ValueError, match=">= 1"):
        count_params("lstm", 0, 3)
