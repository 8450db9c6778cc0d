"""Backward passes written by hand for the RNN, LSTM and GRU cells, one step and whole sequences.

The pattern is CS231n's: a forward pass that also returns a *cache* (everything the backward pass
needs), and a backward pass that takes the upstream gradient and the cache and returns a dict of
gradients. The forward equations are not re-derived here: the cached forwards call the cells of
:mod:`course_lib.cells`, whose gated steps already return every gate.

Conventions (row vectors, as everywhere in the course): ``x`` is ``(B, D)`` per step and
``(B, T, D)`` per sequence, states are ``(B, H)``, ``W_x`` is ``(D, kH)``, ``W_h`` is ``(H, kH)``.
For a layer ``a = u W`` the backward pass is always the same two products, which
:func:`_linear_backward` computes::

    du = da W^T        dW = u^T da        db = sum over the batch of da

Gradient dicts use the names of the forward arguments with a ``d`` in front: ``dx``, ``dh_prev``
(``dh0`` for a sequence), ``dc_prev`` / ``dc0``, ``dW_x``, ``dW_h``, ``db`` (``db_x``, ``db_h`` for
the GRU). A bias that was ``None`` in the forward pass has no gradient: its key is left out, so
the dict holds exactly one gradient per tensor that was given.

Every function accepts torch tensors on any device, or numpy arrays (numpy in → numpy out).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .caches import (
    GRUCache,
    LSTMCache,
    RNNCache,
    gru_cell_forward_cached,
    gru_forward_cached,
    lstm_cell_forward_cached,
    lstm_forward_cached,
    rnn_cell_forward_cached,
    rnn_forward_cached,
)
from .checks import check_args
from .device import numpy_io

Grads = dict[str, Tensor]

# The cached forwards live in :mod:`course_lib.caches` (exercise 3 gives that module to students
# without these backward passes); they are part of this module's API because every backward
# pass here takes their caches.
__all__ = [
    "GRUCache",
    "Grads",
    "LSTMCache",
    "RNNCache",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward_cached",
    "gru_forward_cached",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward_cached",
    "lstm_forward_cached",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward_cached",
    "rnn_forward_cached",
]


def _linear_backward(da: Tensor, u: Tensor, W: Tensor) -> tuple[Tensor, Tensor]:
    """Backward of ``a = u W``: returns ``(du, dW) = (da W^T, u^T da)``."""
    return da @ W.T, u.T @ da


# ---------------------------------------------------------------------------------------------
# Elman RNN
# ---------------------------------------------------------------------------------------------


@numpy_io
def rnn_cell_backward(dh: Tensor, cache: RNNCache) -> Grads:
    """Backward pass of one Elman step ``h = tanh(a)``, ``a = x W_x + h_prev W_h + b``.

    Since ``tanh'(a) = 1 − tanh(a)² = 1 − h²``, the gradient reaching the pre-activation is
    ``da = dh ⊙ (1 − h²)``; the rest is :func:`_linear_backward` for each weight::

        dx = da W_x^T    dh_prev = da W_h^T    dW_x = x^T da    dW_h = h_prev^T da    db = Σ_B da

    Args:
        dh: ``(B, H)`` upstream gradient ``∂L/∂h``.
        cache: from :func:`rnn_cell_forward_cached`.

    Returns:
        dict with ``dx (B, D)``, ``dh_prev (B, H)``, ``dW_x (D, H)``, ``dW_h (H, H)`` and, when
        the forward pass had a bias, ``db (H,)``.
    """
    check_args(**{"cache.h": (cache.h, "B H")}, dh=(dh, "B H"))
    da = dh * (1 - cache.h**2)
    grads: Grads = {}
    grads["dx"], grads["dW_x"] = _linear_backward(da, cache.x, cache.W_x)
    grads["dh_prev"], grads["dW_h"] = _linear_backward(da, cache.h_prev, cache.W_h)
    if cache.b is not None:
        grads["db"] = da.sum(0)
    return grads


@numpy_io
def rnn_backward(dh_seq: Tensor, caches: list[RNNCache], dh_T: Tensor | None = None) -> Grads:
    """Backpropagation through time for :func:`rnn_forward_cached`.

    The state ``h_t`` is used twice: by the loss (upstream ``dh_seq[:, t]``) and by step ``t+1``
    (``dh_prev`` of that step), so ``∂L/∂h_t = dh_seq[:, t] + dh_prev(t+1)``. The weights are
    shared by every step, so their gradient is the **sum over time** of the per-step gradients.

    Args:
        dh_seq: ``(B, T, H)`` upstream gradient on every step's state.
        caches: from :func:`rnn_forward_cached`.
        dh_T: optional extra ``(B, H)`` gradient on the last state (e.g. a loss on ``h_n``).

    Returns:
        dict with ``dx (B, T, D)``, ``dh0 (B, H)``, ``dW_x``, ``dW_h`` and ``db`` when there was a
        bias.
    """
    return _backward_through_time(dh_seq, caches, rnn_cell_backward, {"h": dh_T})


# ---------------------------------------------------------------------------------------------
# LSTM
# ---------------------------------------------------------------------------------------------


@numpy_io
def lstm_cell_backward(dh: Tensor, dc: Tensor, cache: LSTMCache) -> Grads:
    """Backward pass of one LSTM step (gate order i, f, g, o).

    Walking the forward equations backwards, with ``τ = tanh(c)``::

        h = o ⊙ τ              →  do = dh ⊙ τ,   dc_total = dc + dh ⊙ o ⊙ (1 − τ²)
        c = f ⊙ c_prev + i ⊙ g →  di = dc_total ⊙ g,  df = dc_total ⊙ c_prev,
                                  dg = dc_total ⊙ i,  dc_prev = dc_total ⊙ f
        gates                  →  da_i = di ⊙ i(1 − i)   da_f = df ⊙ f(1 − f)
                                  da_g = dg ⊙ (1 − g²)   da_o = do ⊙ o(1 − o)

    ``dc_prev = dc_total ⊙ f`` is the constant error carousel: along the cell path the gradient is
    only scaled by the forget gate, never multiplied by a weight matrix. The four ``da`` blocks,
    concatenated in gate order, go through :func:`_linear_backward` as for the RNN.

    Args:
        dh: ``(B, H)`` upstream ``∂L/∂h``; dc: ``(B, H)`` upstream ``∂L/∂c`` (zeros if the loss
            does not read the cell state directly).
        cache: from :func:`lstm_cell_forward_cached`.

    Returns:
        dict with ``dx (B, D)``, ``dh_prev``, ``dc_prev (B, H)``, ``dW_x (D, 4H)``,
        ``dW_h (H, 4H)`` and ``db (4H,)`` when there was a bias.
    """
    check_args(**{"cache.c": (cache.c, "B H")}, dh=(dh, "B H"), dc=(dc, "B H"))
    i, f, g, o = cache.i, cache.f, cache.g, cache.o
    tanh_c = torch.tanh(cache.c)
    do = dh * tanh_c
    dc_total = dc + dh * o * (1 - tanh_c**2)
    di, df, dg = dc_total * g, dc_total * cache.c_prev, dc_total * i
    da = torch.cat([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], dim=-1)
    grads: Grads = {"dc_prev": dc_total * f}
    grads["dx"], grads["dW_x"] = _linear_backward(da, cache.x, cache.W_x)
    grads["dh_prev"], grads["dW_h"] = _linear_backward(da, cache.h_prev, cache.W_h)
    if cache.b is not None:
        grads["db"] = da.sum(0)
    return grads


@numpy_io
def lstm_backward(
    dh_seq: Tensor,
    caches: list[LSTMCache],
    dh_T: Tensor | None = None,
    dc_T: Tensor | None = None,
) -> Grads:
    """Backpropagation through time for :func:`lstm_forward_cached`.

    As for :func:`rnn_backward`, with two carried gradients: ``∂L/∂h_t = dh_seq[:, t] +
    dh_prev(t+1)`` and ``∂L/∂c_t = dc_prev(t+1)`` (plus ``dc_T`` at the last step).

    Args:
        dh_seq: ``(B, T, H)`` upstream gradient on every hidden state.
        caches: from :func:`lstm_forward_cached`.
        dh_T, dc_T: optional extra ``(B, H)`` gradients on the final ``h`` and ``c``.

    Returns:
        dict with ``dx (B, T, D)``, ``dh0``, ``dc0 (B, H)``, ``dW_x``, ``dW_h`` and ``db`` when
        there was a bias.
    """
    return _backward_through_time(dh_seq, caches, lstm_cell_backward, {"h": dh_T, "c": dc_T})


# ---------------------------------------------------------------------------------------------
# GRU
# ---------------------------------------------------------------------------------------------


@numpy_io
def gru_cell_backward(dh: Tensor, cache: GRUCache) -> Grads:
    """Backward pass of one GRU step, in either form (``cache.reset_after``).

    Common part, from ``h = (1 − z) ⊙ n + z ⊙ h_prev``::

        dn = dh ⊙ (1 − z)    dz = dh ⊙ (h_prev − n)    dh_prev gets dh ⊙ z directly
        da_n = dn ⊙ (1 − n²)  (tanh')     da_z = dz ⊙ z(1 − z)  (σ' = σ(1 − σ))

    The reset gate is where the forms differ. ``hn`` is the recurrent term of the candidate:

    * ``reset_after=True``: ``n = tanh(x W_xn + b_xn + r ⊙ hn)``, ``hn = h_prev W_hn + b_hn``, so
      ``dr = da_n ⊙ hn`` and ``dhn = da_n ⊙ r``; all three recurrent blocks share the input
      ``h_prev``: ``[da_r, da_z, dhn]`` goes through one ``_linear_backward`` with ``W_h``.
    * ``reset_after=False``: ``n = tanh(x W_xn + b_xn + hn)``, ``hn = (r ⊙ h_prev) W_hn + b_hn``,
      so ``dhn = da_n``, ``d(r ⊙ h_prev) = dhn W_hn^T``, ``dr = d(r ⊙ h_prev) ⊙ h_prev`` and
      ``dh_prev`` gets ``d(r ⊙ h_prev) ⊙ r``; the r, z blocks of ``W_h`` see ``h_prev`` and the
      n block sees ``r ⊙ h_prev``.

    With ``da_r = dr ⊙ r(1 − r)``, the input side is ``[da_r, da_z, da_n]`` through ``W_x``;
    ``db_x`` sums ``[da_r, da_z, da_n]`` and ``db_h`` sums ``[da_r, da_z, dhn]`` over the batch.

    Args:
        dh: ``(B, H)`` upstream ``∂L/∂h``.
        cache: from :func:`gru_cell_forward_cached`.

    Returns:
        dict with ``dx (B, D)``, ``dh_prev (B, H)``, ``dW_x (D, 3H)``, ``dW_h (H, 3H)`` and,
        for each bias given in the forward pass, ``db_x`` / ``db_h`` ``(3H,)``.
    """
    check_args(**{"cache.h": (cache.h, "B H")}, dh=(dh, "B H"))
    h_prev, r, z, n = cache.h_prev, cache.r, cache.z, cache.n
    hidden = h_prev.shape[-1]
    da_n = dh * (1 - z) * (1 - n**2)
    da_z = dh * (h_prev - n) * z * (1 - z)
    grads: Grads = {}
    if cache.reset_after:
        dhn = da_n * r
        da_r = da_n * cache.hn * r * (1 - r)
        da_h = torch.cat([da_r, da_z, dhn], dim=-1)
        dh_rec, grads["dW_h"] = _linear_backward(da_h, h_prev, cache.W_h)
    else:
        dhn = da_n
        d_rh, dW_hn = _linear_backward(dhn, r * h_prev, cache.W_h[:, 2 * hidden :])
        da_r = d_rh * h_prev * r * (1 - r)
        da_h = torch.cat([da_r, da_z, dhn], dim=-1)
        dh_rz, dW_hrz = _linear_backward(da_h[:, : 2 * hidden], h_prev, cache.W_h[:, : 2 * hidden])
        dh_rec = dh_rz + d_rh * r
        grads["dW_h"] = torch.cat([dW_hrz, dW_hn], dim=-1)
    da_x = torch.cat([da_r, da_z, da_n], dim=-1)
    grads["dx"], grads["dW_x"] = _linear_backward(da_x, cache.x, cache.W_x)
    grads["dh_prev"] = dh * z + dh_rec
    if cache.b_x is not None:
        grads["db_x"] = da_x.sum(0)
    if cache.b_h is not None:
        grads["db_h"] = da_h.sum(0)
    return grads


@numpy_io
def gru_backward(dh_seq: Tensor, caches: list[GRUCache], dh_T: Tensor | None = None) -> Grads:
    """Backpropagation through time for :func:`gru_forward_cached` (either form).

    Args:
        dh_seq: ``(B, T, H)`` upstream gradient on every state.
        caches: from :func:`gru_forward_cached`.
        dh_T: optional extra ``(B, H)`` gradient on the last state.

    Returns:
        dict with ``dx (B, T, D)``, ``dh0 (B, H)``, ``dW_x``, ``dW_h`` and ``db_x`` / ``db_h`` for
        the biases that were given.
    """
    return _backward_through_time(dh_seq, caches, gru_cell_backward, {"h": dh_T})


# ---------------------------------------------------------------------------------------------
# The loop shared by the three sequence backward passes
# ---------------------------------------------------------------------------------------------


def _backward_through_time(
    dh_seq: Tensor,
    caches: list,
    cell_backward: Callable[..., Grads],
    final: dict[str, Tensor | None],
) -> Grads:
    """Walk the steps from last to first, carrying the state gradients backwards.

    ``final`` names the carried states (``"h"``, and ``"c"`` for the LSTM) and holds the extra
    gradient on their last value, or None for zero. At step ``t`` the cell's backward receives
    ``dh_seq[:, t] + carried dh`` (and the carried ``dc``); it returns ``dh_prev`` (``dc_prev``),
    which is carried to step ``t − 1``; every other gradient except ``dx`` belongs to a shared
    weight and is summed over time.
    """
    if not caches:
        raise ValueError("caches is empty: the forward pass had no time steps (T = 0)")
    batch, hidden = caches[-1].h.shape
    check_args(
        {"B": batch, "T": len(caches), "H": hidden},
        dh_seq=(dh_seq, "B T H"),
        **{f"d{k}_T": (v, "B H") for k, v in final.items()},
    )
    carried = {k: torch.zeros_like(caches[-1].h) if v is None else v for k, v in final.items()}
    dxs: list[Tensor] = []
    summed: Grads = {}
    for t in reversed(range(len(caches))):
        carried["h"] = carried["h"] + dh_seq[:, t]
        step = cell_backward(*carried.values(), caches[t])
        dxs.append(step.pop("dx"))
        carried = {k: step.pop(f"d{k}_prev") for k in carried}
        for name, grad in step.items():
            summed[name] = summed[name] + grad if name in summed else grad
    initial = {f"d{k}0": grad for k, grad in carried.items()}
    return {"dx": torch.stack(dxs[::-1], dim=1), **initial, **summed}
