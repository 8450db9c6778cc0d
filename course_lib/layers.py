"""Recurrent layers as ``nn.Module``: RNN, LSTM, GRU and PeepholeLSTM on ``(B, T, D)`` input.

They mirror ``torch.nn.RNN/LSTM/GRU`` (stacked layers, bidirectional, two biases per layer and
direction, so weights convert exactly) and add the Keras layer options (``return_sequences``,
``return_state``, ``go_backwards``, ``stateful``, variational dropout). The computation itself is
:func:`course_lib.sequence.stacked_forward`; these classes only own parameters and options.

Parameters, per layer ``l`` and direction (suffix ``_reverse`` for the backward one), in course
layout with ``k`` gate blocks (1 RNN, 3 GRU, 4 LSTM) and ``D_l`` the layer's input size
(``input_size`` for ``l = 0``, else ``num_directions * hidden_size``):

====================  ===========  ==================================================
name                  shape        role
====================  ===========  ==================================================
``W_x_l{l}``          (D_l, kH)    input-to-hidden, Glorot-uniform
``W_h_l{l}``          (H, kH)      hidden-to-hidden, orthogonal
``b_x_l{l}``          (kH,)        input bias (torch ``bias_ih``), zero
``b_h_l{l}``          (kH,)        recurrent bias (torch ``bias_hh``), zero
``p_i/p_f/p_o_l{l}``  (H,)         peepholes (PeepholeLSTM only)
====================  ===========  ==================================================

Dropout options (active only in training mode):

* ``dropout``: elementwise, on the outputs of every layer but the last (torch's ``dropout``);
* ``input_dropout``: one mask per sequence on each layer's input (Keras ``dropout``);
* ``recurrent_dropout``: one mask per sequence on the state entering ``W_h`` (Keras), Gal &
  Ghahramani 2016.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .checks import check_args
from .sequence import GATES, STATES, State, Weights, stacked_forward, valid_steps

LayerState = Tensor | tuple[Tensor, Tensor]


class RecurrentLayer(nn.Module):
    """Shared machinery of the four layers; use :class:`RNN`, :class:`LSTM`, :class:`GRU` or
    :class:`PeepholeLSTM`.

    Constructor: ``(input_size, hidden_size, *, num_layers=1, bidirectional=False, bias=True,
    dropout=0.0, input_dropout=0.0, recurrent_dropout=0.0, return_sequences=True,
    return_state=False, go_backwards=False, stateful=False, device=None, dtype=None)``, plus
    ``unit_forget_bias=True`` (LSTMs) and ``reset_after=True`` (GRU). ``go_backwards`` makes the
    whole stack read the time-reversed input and return outputs in that order; ``stateful``
    seeds sample ``i`` of each call with sample ``i``'s final state of the previous call (values
    only: no gradient flows between calls); :meth:`reset_states` forgets it.

    ``forward(x, state=None, lengths=None)``:

    Args:
        x: ``(B, T, D)`` input (batch first; transpose a time-major ``(T, B, D)`` tensor first).
        state: initial state in torch layout: ``h0`` (RNN, GRU) or the pair ``(h0, c0)`` (LSTMs),
            each ``(num_layers * num_directions, B, H)``; None means zeros, or, for a
            ``stateful`` layer, the final state of the previous call.
        lengths: ``(B,)`` valid steps of post-padded sequences, or None (see
            :mod:`course_lib.sequence`): padded steps keep the state and output zeros.

    Returns:
        ``output``: ``(B, T, num_directions * H)`` if ``return_sequences``, else ``(B,
        num_directions * H)``, the output of the last step each direction processed (zeros for
        a sequence of length 0, whose state stays the initial one, as in Keras). With
        ``return_state``: ``(output, h_n)`` (RNN, GRU) or ``(output, h_n, c_n)`` (LSTMs), states
        in torch layout ``(num_layers * num_directions, B, H)``; ``h_n``/``c_n`` can be passed back
        as ``state``.
    """

    kind = ""  # "rnn", "lstm", "gru" or "peephole_lstm", set by each subclass
    reset_after = True  # GRU only; the other cells ignore it

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = True,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(
                f"input_size, hidden_size and num_layers must be >= 1, got {input_size}, "
                f"{hidden_size}, {num_layers}"
            )
        for name, p in [
            ("dropout", dropout),
            ("input_dropout", input_dropout),
            ("recurrent_dropout", recurrent_dropout),
        ]:
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.bias = bidirectional, bias
        self.dropout, self.input_dropout = dropout, input_dropout
        self.recurrent_dropout = recurrent_dropout
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful = go_backwards, stateful
        self._state: list[list[State]] | None = None  # carried between calls when stateful

        k, hidden = GATES[self.kind], hidden_size
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else self.num_directions * hidden
            for suffix in self._suffixes():
                shapes = {"W_x": (in_size, k * hidden), "W_h": (hidden, k * hidden)}
                if bias:
                    shapes |= {"b_x": (k * hidden,), "b_h": (k * hidden,)}
                if self.kind == "peephole_lstm":
                    shapes |= {"p_i": (hidden,), "p_f": (hidden,), "p_o": (hidden,)}
                for name, shape in shapes.items():
                    param = nn.Parameter(torch.empty(shape, **factory))
                    self.register_parameter(f"{name}_l{layer}{suffix}", param)
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self) -> list[str]:
        return ["", "_reverse"][: self.num_directions]

    def cell_weights(self, layer: int, direction: int) -> Weights:
        """One layer and direction's parameters, keyed ``W_x, W_h, b_x, b_h, (p_i, p_f, p_o)``."""
        tail = f"_l{layer}{self._suffixes()[direction]}"
        names = ("W_x", "W_h", "b_x", "b_h", "p_i", "p_f", "p_o")
        return {n: self._parameters[n + tail] for n in names if n + tail in self._parameters}

    def reset_parameters(self) -> None:
        """Keras initialisers: Glorot-uniform ``W_x``, orthogonal ``W_h``, zero biases.

        Glorot-uniform draws from ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``; orthogonal
        ``W_h`` (H, kH) has orthonormal rows, which keeps ``h W_h`` from shrinking or blowing up
        the state at the start of training.
        """
        with torch.no_grad():
            for layer in range(self.num_layers):
                for direction in range(self.num_directions):
                    w = self.cell_weights(layer, direction)
                    nn.init.xavier_uniform_(w["W_x"])
                    nn.init.orthogonal_(w["W_h"])
                    for name in ("b_x", "b_h"):
                        if name in w:
                            w[name].zero_()
                    self._init_extra(w)

    def _init_extra(self, w: Weights) -> None:
        """Hook for what a subclass initialises beyond the shared parameters."""

    def reset_states(self) -> None:
        """Forget the state a ``stateful`` layer carries; the next call starts from zeros."""
        self._state = None

    def _initial_state(self, state: LayerState | None, x: Tensor) -> list[list[State]]:
        """Turn the torch-layout state (or None) into ``[layer][direction]`` tuples of (B, H)."""
        batch, n_states = x.shape[0], STATES[self.kind]
        if state is None and self.stateful and self._state is not None:
            carried = self._state[0][0][0].shape[0]
            if carried != batch:
                raise ValueError(
                    f"stateful {type(self).__name__} carries a state for batch size {carried} but "
                    f"got x with batch size {batch}; keep the batch size fixed or call "
                    "reset_states() first"
                )
            return self._state
        if state is None:
            zeros = x.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)
            parts = (zeros,) * n_states
        else:
            parts = (state,) if isinstance(state, Tensor) else tuple(state)
            if len(parts) != n_states:
                raise ValueError(
                    f"state must be {'h0' if n_states == 1 else '(h0, c0)'} for "
                    f"{type(self).__name__}, got {len(parts)} tensors"
                )
            spec = f"{self.num_layers * self.num_directions} B H"
            dims = {"B": batch, "H": self.hidden_size}
            named = {n: (p, spec) for n, p in zip(("h0", "c0"), parts, strict=False)}
            check_args(dims, x=(x, None), **named)  # also: same dtype and device as x
        return [
            [
                tuple(p[layer * self.num_directions + d] for p in parts)
                for d in range(self.num_directions)
            ]
            for layer in range(self.num_layers)
        ]

    def forward(
        self, x: Tensor, state: LayerState | None = None, lengths: Tensor | None = None
    ) -> Tensor | tuple[Tensor, ...]:
        """Run the layer over ``x`` ``(B, T, D)``; arguments and returns in the class docstring."""
        check_args({"D": self.input_size}, x=(x, "B T D"), W_x_l0=(self.W_x_l0, "D K"))
        states0 = self._initial_state(state, x)
        valid = None if lengths is None else valid_steps(lengths, *x.shape[:2], x.device)
        outputs, last, finals = stacked_forward(
            self.kind,
            x,
            states0,
            [
                [self.cell_weights(layer, d) for d in range(self.num_directions)]
                for layer in range(self.num_layers)
            ],
            valid=valid,
            go_backwards=self.go_backwards,
            reset_after=self.reset_after,
            dropout=self.dropout,
            input_dropout=self.input_dropout,
            recurrent_dropout=self.recurrent_dropout,
            training=self.training,
        )
        if self.stateful:
            # Carry values, not the graph: the next batch does not backpropagate into this one.
            self._state = [[tuple(s.detach() for s in f) for f in layer] for layer in finals]
        output = outputs if self.return_sequences else last
        if not self.return_state:
            return output
        flat = [f for layer in finals for f in layer]  # torch order: layer-major, then direction
        return (output, *(torch.stack([f[i] for f in flat]) for i in range(STATES[self.kind])))

    def extra_repr(self) -> str:
        options = [f"{self.input_size}, {self.hidden_size}"]
        defaults = {
            "num_layers": 1,
            "bidirectional": False,
            "bias": True,
            "dropout": 0.0,
            "input_dropout": 0.0,
            "recurrent_dropout": 0.0,
            "return_sequences": True,
            "return_state": False,
            "go_backwards": False,
            "stateful": False,
        }
        options += [f"{k}={getattr(self, k)}" for k, v in defaults.items() if getattr(self, k) != v]
        if self.kind == "gru" and not self.reset_after:
            options.append("reset_after=False")
        return ", ".join(options)


class RNN(RecurrentLayer):
    """Elman RNN layer: ``h_t = tanh(x_t W_x + b_x + h_{t-1} W_h + b_h)``.

    Options and shapes: see :class:`RecurrentLayer`.
    """

    kind = "rnn"


class LSTM(RecurrentLayer):
    """LSTM layer, gate order i, f, g, o (torch's)::

        [a_i a_f a_g a_o] = x_t W_x + b_x + h_{t-1} W_h + b_h
        c_t = σ(a_f) ⊙ c_{t-1} + σ(a_i) ⊙ tanh(a_g)      h_t = σ(a_o) ⊙ tanh(c_t)

    ``unit_forget_bias=True`` starts the forget-gate bias at 1 (Jozefowicz et al. 2015), so the
    cell remembers by default early in training; it goes in ``b_x``, ``b_h`` stays zero.
    Options and shapes: see :class:`RecurrentLayer`.
    """

    kind = "lstm"

    def __init__(
        self, input_size: int, hidden_size: int, *, unit_forget_bias: bool = True, **options: Any
    ) -> None:
        self.unit_forget_bias = unit_forget_bias  # read by reset_parameters() inside __init__
        super().__init__(input_size, hidden_size, **options)

    def _init_extra(self, w: Weights) -> None:
        if self.unit_forget_bias and "b_x" in w:
            w["b_x"][self.hidden_size : 2 * self.hidden_size] = 1.0


class PeepholeLSTM(LSTM):
    """LSTM with diagonal peepholes ``p_i, p_f, p_o`` (Gers & Schmidhuber 2000)::

        i = σ(a_i + p_i ⊙ c_{t-1})   f = σ(a_f + p_f ⊙ c_{t-1})   c_t = f ⊙ c_{t-1} + i ⊙ tanh(a_g)
        o = σ(a_o + p_o ⊙ c_t)        h_t = o ⊙ tanh(c_t)

    Peepholes start Glorot-uniform with fan_in = fan_out = H, i.e. ``U(-sqrt(3/H), sqrt(3/H))``,
    as TensorFlow's ``PeepholeLSTMCell`` initialises them with its kernel initialiser.
    """

    kind = "peephole_lstm"

    def _init_extra(self, w: Weights) -> None:
        super()._init_extra(w)
        bound = math.sqrt(3.0 / self.hidden_size)
        for name in ("p_i", "p_f", "p_o"):
            nn.init.uniform_(w[name], -bound, bound)


class GRU(RecurrentLayer):
    """GRU layer, gate order r, z, n (torch's)::

        r = σ(x_t W_xr + b_xr + h W_hr + b_hr)    z = σ(x_t W_xz + b_xz + h W_hz + b_hz)
        n = tanh(x_t W_xn + b_xn + r ⊙ (h W_hn + b_hn))     reset_after=True (torch, cuDNN)
        n = tanh(x_t W_xn + b_xn + (r ⊙ h) W_hn + b_hn)     reset_after=False (Cho et al. 2014)
        h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

    Options and shapes: see :class:`RecurrentLayer`.
    """

    kind = "gru"

    def __init__(
        self, input_size: int, hidden_size: int, *, reset_after: bool = True, **options: Any
    ) -> None:
        self.reset_after = reset_after
        super().__init__(input_size, hidden_size, **options)
