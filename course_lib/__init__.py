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

The names below are imported on first use (PEP 562), so that ``import course_lib.instructor``
(the ``course`` command) does not pay for torch until it needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module that defines it
_WHERE = {
    "gru_backward": "backward",
    "gru_cell_backward": "backward",
    "lstm_backward": "backward",
    "lstm_cell_backward": "backward",
    "rnn_backward": "backward",
    "rnn_cell_backward": "backward",
    "detach_state": "bptt",
    "truncated_bptt_epoch": "bptt",
    "GRUStep": "cells",
    "LSTMStep": "cells",
    "gru_cell_forward": "cells",
    "lstm_cell_forward": "cells",
    "peephole_lstm_cell_forward": "cells",
    "rnn_cell_forward": "cells",
    "from_torch": "convert",
    "load_torch_weights": "convert",
    "reorder_gates": "convert",
    "to_torch": "convert",
    "beam_search": "decoding",
    "greedy_decode": "decoding",
    "sample_next": "decoding",
    "softmax_with_temperature": "decoding",
    "default_device": "device",
    "classify_regime": "gradients",
    "clip_by_global_norm": "gradients",
    "clip_by_value": "gradients",
    "grad_norms_through_time": "gradients",
    "gradient_check": "gradients",
    "jacobian_norms": "gradients",
    "numerical_gradient": "gradients",
    "relative_error": "gradients",
    "spectral_radius": "gradients",
    "GRU": "layers",
    "LSTM": "layers",
    "PeepholeLSTM": "layers",
    "RNN": "layers",
    "count_module_params": "params",
    "count_params": "params",
    "gru_forward": "sequence",
    "lstm_forward": "sequence",
    "peephole_lstm_forward": "sequence",
    "rnn_forward": "sequence",
    "last_valid_step": "shapes",
    "lengths_to_mask": "shapes",
    "pack": "shapes",
    "pad_sequences": "shapes",
    "pattern_output": "shapes",
    "to_batch_major": "shapes",
    "to_time_major": "shapes",
    "unpack": "shapes",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
