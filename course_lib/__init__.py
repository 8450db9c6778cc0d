"""Unrolled's reference library: recurrent cells, their backward passes and the tools around them.

Every function works on PyTorch tensors on any device; those a student writes in numpy also
accept numpy arrays and then return numpy arrays. One module per idea:

- :mod:`.cells` one time step of RNN, LSTM, peephole LSTM, GRU (both reset placements);
- :mod:`.sequence` running a cell over ``(B, T, D)`` with the Keras/PyTorch layer options;
- :mod:`.layers` ``nn.Module`` layers; :mod:`.convert` PyTorch/Keras/CS231n weight layouts;
  :mod:`.params` parameter counts;
- :mod:`.backward` hand-written backward passes; :mod:`.bptt` truncated BPTT;
  :mod:`.gradients` clipping, gradient checking, gradient flow;
- :mod:`.decoding` sampling and beam search; :mod:`.shapes` padding, masks, layouts, packing;
- :mod:`.data` offline datasets; :mod:`.device` CPU/GPU choice; :mod:`.checks` argument checks;
- :mod:`.grading` the checkers exercise notebooks call; :mod:`.instructor` the ``course`` command.
"""

from .backward import (
    gru_backward,
    gru_cell_backward,
    lstm_backward,
    lstm_cell_backward,
    rnn_backward,
    rnn_cell_backward,
)
from .bptt import detach_state, truncated_bptt_epoch
from .cells import (
    GRUStep,
    LSTMStep,
    gru_cell_forward,
    lstm_cell_forward,
    peephole_lstm_cell_forward,
    rnn_cell_forward,
)
from .convert import from_torch, load_torch_weights, reorder_gates, to_torch
from .decoding import beam_search, greedy_decode, sample_next, softmax_with_temperature
from .device import default_device
from .gradients import (
    classify_regime,
    clip_by_global_norm,
    clip_by_value,
    grad_norms_through_time,
    gradient_check,
    jacobian_norms,
    numerical_gradient,
    relative_error,
    spectral_radius,
)
from .layers import GRU, LSTM, RNN, PeepholeLSTM
from .params import count_module_params, count_params
from .sequence import gru_forward, lstm_forward, peephole_lstm_forward, rnn_forward
from .shapes import (
    last_valid_step,
    lengths_to_mask,
    pack,
    pad_sequences,
    pattern_output,
    to_batch_major,
    to_time_major,
    unpack,
)

__all__ = [
    "GRU", "LSTM", "RNN", "GRUStep", "LSTMStep", "PeepholeLSTM",
    "beam_search", "classify_regime", "clip_by_global_norm", "clip_by_value",
    "count_module_params", "count_params", "default_device", "detach_state", "from_torch",
    "grad_norms_through_time", "gradient_check", "greedy_decode", "gru_backward",
    "gru_cell_backward", "gru_cell_forward", "gru_forward", "jacobian_norms", "last_valid_step",
    "lengths_to_mask", "load_torch_weights", "lstm_backward", "lstm_cell_backward",
    "lstm_cell_forward", "lstm_forward", "numerical_gradient", "pack", "pad_sequences",
    "pattern_output", "peephole_lstm_cell_forward", "peephole_lstm_forward", "relative_error",
    "reorder_gates", "rnn_backward", "rnn_cell_backward", "rnn_cell_forward", "rnn_forward",
    "sample_next", "softmax_with_temperature", "spectral_radius", "to_batch_major", "to_torch",
    "to_time_major", "truncated_bptt_epoch", "unpack",
]  # fmt: skip
