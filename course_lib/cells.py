"""One time step of each recurrent cell, in the course's row-vector convention.

Shapes (batch first inside a cell): ``x`` is ``(B, D)``, states are ``(B, H)``. Weights act from
the right: ``W_x`` is ``(D, kH)`` and ``W_h`` is ``(H, kH)`` where ``k`` is the number of gate
blocks stacked side by side (1 for RNN, 3 for GRU, 4 for LSTM). Each function accepts torch
tensors on any device, or numpy arrays (numpy in → numpy out).

The gated cells return a named tuple holding the new state *and* every gate: the gates are what
the book plots, and together with the inputs they are exactly the cache that the hand-written
backward passes in :mod:`course_lib.backward` need.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .checks import check_args
from .device import numpy_io


class LSTMStep(NamedTuple):
    """Result of one LSTM (or peephole LSTM) step; every field is ``(B, H)``."""

    h: Tensor
    c: Tensor
    i: Tensor  # input gate   σ
    f: Tensor  # forget gate  σ
    g: Tensor  # candidate    tanh
    o: Tensor  # output gate  σ


class GRUStep(NamedTuple):
    """Result of one GRU step; every field is ``(B, H)``.

    ``hn`` is the recurrent term inside the candidate before the reset gate multiplies it,
    ``h W_hn + b_hn`` (cuDNN form) or ``(r ⊙ h) W_hn + b_hn`` (Cho form); backward needs it.
    """

    h: Tensor
    r: Tensor  # reset gate   σ
    z: Tensor  # update gate  σ
    n: Tensor  # candidate    tanh
    hn: Tensor


def _bias(b: Tensor | None) -> Tensor | float:
    return 0.0 if b is None else b


@numpy_io
def rnn_cell_forward(
    x: Tensor, h_prev: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None = None
) -> Tensor:
    """Elman cell: ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``.

    Args:
        x: ``(B, D)`` input at this step.
        h_prev: ``(B, H)`` previous hidden state.
        W_x: ``(D, H)`` input-to-hidden weights.
        W_h: ``(H, H)`` hidden-to-hidden weights.
        b: ``(H,)`` bias, or None.

    Returns:
        ``(B, H)`` new hidden state.
    """
    check_args(x=(x, "B D"), h_prev=(h_prev, "B H"), W_x=(W_x, "D H"), W_h=(W_h, "H H"), b=(b, "H"))
    return torch.tanh(x @ W_x + h_prev @ W_h + _bias(b))


@numpy_io
def lstm_cell_forward(
    x: Tensor, h_prev: Tensor, c_prev: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None = None
) -> LSTMStep:
    """LSTM cell with gates in PyTorch order **i, f, g, o** stacked along the last axis::

        [a_i a_f a_g a_o] = x_t W_x + h_{t-1} W_h + b
        i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        h_t = o ⊙ tanh(c_t)

    Args:
        x: ``(B, D)``; h_prev, c_prev: ``(B, H)``;
        W_x: ``(D, 4H)``; W_h: ``(H, 4H)``; b: ``(4H,)`` or None.

    Returns:
        :class:`LSTMStep` ``(h, c, i, f, g, o)``, each ``(B, H)``.
    """
    check_args(
        x=(x, "B D"),
        h_prev=(h_prev, "B H"),
        c_prev=(c_prev, "B H"),
        W_x=(W_x, "D 4H"),
        W_h=(W_h, "H 4H"),
        b=(b, "4H"),
    )
    a_i, a_f, a_g, a_o = (x @ W_x + h_prev @ W_h + _bias(b)).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    return LSTMStep(o * torch.tanh(c), c, i, f, g, o)


@numpy_io
def peephole_lstm_cell_forward(
    x: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    p_i: Tensor,
    p_f: Tensor,
    p_o: Tensor,
) -> LSTMStep:
    """Peephole LSTM (Gers & Schmidhuber 2000; TensorFlow ``PeepholeLSTMCell`` convention).

    The gates also look at the cell through diagonal weights ``p_i, p_f, p_o`` of shape ``(H,)``;
    the input and forget gates see the *old* cell, the output gate sees the *new* one::

        i = σ(a_i + p_i ⊙ c_{t-1})   f = σ(a_f + p_f ⊙ c_{t-1})   g = tanh(a_g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        o = σ(a_o + p_o ⊙ c_t)        h_t = o ⊙ tanh(c_t)

    Shapes as :func:`lstm_cell_forward`, plus ``p_i, p_f, p_o``: ``(H,)``.
    """
    check_args(
        x=(x, "B D"),
        h_prev=(h_prev, "B H"),
        c_prev=(c_prev, "B H"),
        W_x=(W_x, "D 4H"),
        W_h=(W_h, "H 4H"),
        b=(b, "4H"),
        p_i=(p_i, "H"),
        p_f=(p_f, "H"),
        p_o=(p_o, "H"),
    )
    a_i, a_f, a_g, a_o = (x @ W_x + h_prev @ W_h + _bias(b)).chunk(4, dim=-1)
    i = torch.sigmoid(a_i + p_i * c_prev)
    f = torch.sigmoid(a_f + p_f * c_prev)
    g = torch.tanh(a_g)
    c = f * c_prev + i * g
    o = torch.sigmoid(a_o + p_o * c)
    return LSTMStep(o * torch.tanh(c), c, i, f, g, o)


@numpy_io
def gru_cell_forward(
    x: Tensor,
    h_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None = None,
    b_h: Tensor | None = None,
    *,
    reset_after: bool = True,
) -> GRUStep:
    """GRU cell with gates in PyTorch order **r, z, n** stacked along the last axis.

    ``reset_after=True`` is the PyTorch/cuDNN form (Keras ``reset_after=True``)::

        r = σ(x W_xr + b_xr + h W_hr + b_hr)      z = σ(x W_xz + b_xz + h W_hz + b_hz)
        n = tanh(x W_xn + b_xn + r ⊙ (h W_hn + b_hn))
        h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

    ``reset_after=False`` is the form of Cho et al. 2014 (Keras ``reset_after=False``): the reset
    gate scales the state *before* the matmul, ``n = tanh(x W_xn + b_xn + (r ⊙ h) W_hn + b_hn)``.
    The cuDNN form exists because it lets all three recurrent matmuls run as one ``h W_h``.

    Args:
        x: ``(B, D)``; h_prev: ``(B, H)``; W_x: ``(D, 3H)``; W_h: ``(H, 3H)``;
        b_x, b_h: ``(3H,)`` or None.

    Returns:
        :class:`GRUStep` ``(h, r, z, n, hn)``, each ``(B, H)``.
    """
    check_args(
        x=(x, "B D"),
        h_prev=(h_prev, "B H"),
        W_x=(W_x, "D 3H"),
        W_h=(W_h, "H 3H"),
        b_x=(b_x, "3H"),
        b_h=(b_h, "3H"),
    )
    hidden = h_prev.shape[-1]
    gx_r, gx_z, gx_n = (x @ W_x + _bias(b_x)).chunk(3, dim=-1)
    b_hr, b_hz, b_hn = (0.0, 0.0, 0.0) if b_h is None else b_h.chunk(3)
    W_hrz, W_hn = W_h[:, : 2 * hidden], W_h[:, 2 * hidden :]
    gh_r, gh_z = (h_prev @ W_hrz).chunk(2, dim=-1)
    r = torch.sigmoid(gx_r + gh_r + b_hr)
    z = torch.sigmoid(gx_z + gh_z + b_hz)
    if reset_after:
        hn = h_prev @ W_hn + b_hn
        n = torch.tanh(gx_n + r * hn)
    else:
        hn = (r * h_prev) @ W_hn + b_hn
        n = torch.tanh(gx_n + hn)
    return GRUStep((1 - z) * n + z * h_prev, r, z, n, hn)
