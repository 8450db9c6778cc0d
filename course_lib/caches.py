"""Forward passes that keep what the backward passes need: one *cache* per step.

The pattern is CS231n's: ``h, cache = rnn_cell_forward_cached(...)``, then
``rnn_cell_backward(dh, cache)`` (:mod:`course_lib.backward`). The forward equations are not
re-derived here: the cached forwards call the cells of :mod:`course_lib.cells`, whose gated steps
already return every gate. This module holds no backward pass, so exercise 3 gives it to
students as it is, in their notebook and in the grading sandbox.

Conventions: row vectors; ``x`` is ``(B, D)`` per step and ``(B, T, D)`` per sequence, states
``(B, H)``, ``W_x`` ``(D, kH)``, ``W_h`` ``(H, kH)``. Every function accepts torch tensors on any
device, or numpy arrays (numpy in → numpy out).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .cells import gru_cell_forward, lstm_cell_forward, rnn_cell_forward
from .checks import check_args
from .device import numpy_io


class RNNCache(NamedTuple):
    """What :func:`rnn_cell_backward` needs from one forward step (inputs and the new state)."""

    x: Tensor
    h_prev: Tensor
    W_x: Tensor
    W_h: Tensor
    b: Tensor | None
    h: Tensor


class LSTMCache(NamedTuple):
    """Inputs of one LSTM step followed by the fields of :class:`~course_lib.cells.LSTMStep`."""

    x: Tensor
    h_prev: Tensor
    c_prev: Tensor
    W_x: Tensor
    W_h: Tensor
    b: Tensor | None
    h: Tensor
    c: Tensor
    i: Tensor
    f: Tensor
    g: Tensor
    o: Tensor


class GRUCache(NamedTuple):
    """Inputs of one GRU step, its form, then the fields of :class:`~course_lib.cells.GRUStep`."""

    x: Tensor
    h_prev: Tensor
    W_x: Tensor
    W_h: Tensor
    b_x: Tensor | None
    b_h: Tensor | None
    reset_after: bool
    h: Tensor
    r: Tensor
    z: Tensor
    n: Tensor
    hn: Tensor


@numpy_io
def rnn_cell_forward_cached(
    x: Tensor, h_prev: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None = None
) -> tuple[Tensor, RNNCache]:
    """:func:`~course_lib.cells.rnn_cell_forward` that also returns its cache.

    Shapes: x ``(B, D)``, h_prev ``(B, H)``, W_x ``(D, H)``, W_h ``(H, H)``, b ``(H,)`` or None.

    Returns:
        ``(h, cache)``: the new state ``(B, H)`` and an :class:`RNNCache`.
    """
    h = rnn_cell_forward(x, h_prev, W_x, W_h, b)
    return h, RNNCache(x, h_prev, W_x, W_h, b, h)


@numpy_io
def rnn_forward_cached(
    x: Tensor, h0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None = None
) -> tuple[Tensor, list[RNNCache]]:
    """Run the Elman cell over a sequence, keeping one cache per step.

    Args:
        x: ``(B, T, D)`` inputs; h0: ``(B, H)`` initial state; W_x ``(D, H)``; W_h ``(H, H)``;
        b: ``(H,)`` or None.

    Returns:
        ``(h_seq, caches)``: every state ``(B, T, H)`` and a list of ``T`` :class:`RNNCache`.
        ``caches[t].h`` is the very tensor fed to step ``t + 1``, so with autograd on it is the
        place to ask for ``∂L/∂h_t`` (see :func:`course_lib.gradients.grad_norms_through_time`).
    """
    check_args(x=(x, "B T D"), h0=(h0, "B H"), W_x=(W_x, "D H"), W_h=(W_h, "H H"), b=(b, "H"))
    h, caches = h0, []
    for t in range(x.shape[1]):
        h, cache = rnn_cell_forward_cached(x[:, t], h, W_x, W_h, b)
        caches.append(cache)
    return torch.stack([c.h for c in caches], dim=1), caches


@numpy_io
def lstm_cell_forward_cached(
    x: Tensor, h_prev: Tensor, c_prev: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None = None
) -> tuple[Tensor, Tensor, LSTMCache]:
    """:func:`~course_lib.cells.lstm_cell_forward` that also returns its cache.

    Shapes: x ``(B, D)``, h_prev and c_prev ``(B, H)``, W_x ``(D, 4H)``, W_h ``(H, 4H)``,
    b ``(4H,)`` or None; gate order i, f, g, o.

    Returns:
        ``(h, c, cache)``: the new states ``(B, H)`` and an :class:`LSTMCache`.
    """
    step = lstm_cell_forward(x, h_prev, c_prev, W_x, W_h, b)
    return step.h, step.c, LSTMCache(x, h_prev, c_prev, W_x, W_h, b, *step)


@numpy_io
def lstm_forward_cached(
    x: Tensor, h0: Tensor, c0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor | None = None
) -> tuple[Tensor, list[LSTMCache]]:
    """Run the LSTM cell over a sequence, keeping one cache per step.

    Args:
        x: ``(B, T, D)``; h0, c0: ``(B, H)``; W_x ``(D, 4H)``; W_h ``(H, 4H)``; b ``(4H,)`` or None.

    Returns:
        ``(h_seq, caches)``: every hidden state ``(B, T, H)`` and a list of ``T``
        :class:`LSTMCache` (the last cell state is ``caches[-1].c``).
    """
    check_args(
        x=(x, "B T D"),
        h0=(h0, "B H"),
        c0=(c0, "B H"),
        W_x=(W_x, "D 4H"),
        W_h=(W_h, "H 4H"),
        b=(b, "4H"),
    )
    h, c, caches = h0, c0, []
    for t in range(x.shape[1]):
        h, c, cache = lstm_cell_forward_cached(x[:, t], h, c, W_x, W_h, b)
        caches.append(cache)
    return torch.stack([c.h for c in caches], dim=1), caches


@numpy_io
def gru_cell_forward_cached(
    x: Tensor,
    h_prev: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None = None,
    b_h: Tensor | None = None,
    *,
    reset_after: bool = True,
) -> tuple[Tensor, GRUCache]:
    """:func:`~course_lib.cells.gru_cell_forward` that also returns its cache.

    Shapes: x ``(B, D)``, h_prev ``(B, H)``, W_x ``(D, 3H)``, W_h ``(H, 3H)``, b_x and b_h
    ``(3H,)`` or None; gate order r, z, n; ``reset_after`` picks the cuDNN (True) or Cho form.

    Returns:
        ``(h, cache)``: the new state ``(B, H)`` and a :class:`GRUCache`.
    """
    step = gru_cell_forward(x, h_prev, W_x, W_h, b_x, b_h, reset_after=reset_after)
    return step.h, GRUCache(x, h_prev, W_x, W_h, b_x, b_h, reset_after, *step)


@numpy_io
def gru_forward_cached(
    x: Tensor,
    h0: Tensor,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None = None,
    b_h: Tensor | None = None,
    *,
    reset_after: bool = True,
) -> tuple[Tensor, list[GRUCache]]:
    """Run the GRU cell over a sequence, keeping one cache per step.

    Args:
        x: ``(B, T, D)``; h0: ``(B, H)``; W_x ``(D, 3H)``; W_h ``(H, 3H)``; b_x, b_h ``(3H,)`` or
        None; reset_after: cuDNN form (True) or Cho et al. form (False).

    Returns:
        ``(h_seq, caches)``: every state ``(B, T, H)`` and a list of ``T`` :class:`GRUCache`.
    """
    check_args(
        x=(x, "B T D"),
        h0=(h0, "B H"),
        W_x=(W_x, "D 3H"),
        W_h=(W_h, "H 3H"),
        b_x=(b_x, "3H"),
        b_h=(b_h, "3H"),
    )
    h, caches = h0, []
    for t in range(x.shape[1]):
        h, cache = gru_cell_forward_cached(x[:, t], h, W_x, W_h, b_x, b_h, reset_after=reset_after)
        caches.append(cache)
    return torch.stack([c.h for c in caches], dim=1), caches
