"""Unrolled's reference library: recurrent cells, their backward passes and the tools around them.

Every function works on PyTorch tensors on any device; those a student writes in numpy also
accept numpy arrays and then return numpy arrays.
"""

from .cells import (
    GRUStep,
    LSTMStep,
    gru_cell_forward,
    lstm_cell_forward,
    peephole_lstm_cell_forward,
    rnn_cell_forward,
)
from .device import default_device

__all__ = [
    "GRUStep",
    "LSTMStep",
    "default_device",
    "gru_cell_forward",
    "lstm_cell_forward",
    "peephole_lstm_cell_forward",
    "rnn_cell_forward",
]
