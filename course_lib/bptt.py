"""Truncated backpropagation through time (TBPTT).

A long sequence ``(B, T, ...)`` is cut into chunks of ``chunk_len`` steps. The model runs over
the chunks in order, **carrying** its state from one chunk to the next (so the forward pass sees
the whole history), but the state is **detached** at each chunk boundary, so each backward pass
stops there: memory and time per update are ``O(chunk_len)`` instead of ``O(T)``, and the
weights are updated once per chunk.

The price is a biased gradient. Full BPTT gives ``∂L/∂θ = Σ_t Σ_{k≤t} ∂L_t/∂h_t · ∂h_t/∂h_k ·
∂h_k/∂θ``; truncation drops every term whose path ``h_k → h_t`` crosses a chunk boundary, i.e.
any dependence longer than the chunk (at most ``chunk_len − 1`` steps back, fewer for steps near
the start of a chunk). The model can still *use* older information carried in the state, but it
gets no gradient telling it to *store* information for longer than that, and the dropped terms
are not zero-mean noise: the bias is systematic towards short-range dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .gradients import clip_by_global_norm

State = Any  # None, a tensor, or a (nested) tuple/list of tensors such as LSTM's (h, c)


def detach_state(state: State) -> State:
    """Cut the autograd history of a recurrent state, keeping its values.

    Works on ``None`` (returned as is), a tensor (``h.detach()``), and tuples/lists of them,
    nested or not (an LSTM's ``(h, c)``: each element is detached), keeping the container type.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(
        f"state must be None, a tensor, or a tuple/list of tensors, got {type(state).__name__}"
    )


def truncated_bptt_epoch(
    model: Callable[[Tensor, State], tuple[Tensor, State]],
    x: Tensor,
    y: Tensor,
    chunk_len: int,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    clip: float | None = None,
    state: State = None,
    progress: bool = False,
) -> tuple[float, State]:
    """One pass over a long batch of sequences with truncated BPTT: one update per chunk.

    For each chunk ``x[:, s:s+chunk_len]``: detach the carried state, zero the gradients,
    ``output, state = model(x_chunk, state)``, ``loss_fn(output, y_chunk).backward()``, clip the
    global gradient norm to ``clip`` (if given), ``optimizer.step()``.

    Args:
        model: ``model(x_chunk, state) -> (output, new_state)``; ``state`` None means "start
            fresh". ``nn.RNN``/``nn.GRU``/``nn.LSTM`` with ``batch_first=True`` fit as they are.
        x: ``(B, T, ...)`` inputs, batch first.
        y: ``(B, T, ...)`` targets aligned with ``x`` step by step (any dtype, e.g. class ids).
        chunk_len: steps per chunk, ``k >= 1``; the last chunk may be shorter.
        loss_fn: ``loss_fn(output, y_chunk)``, a scalar *mean* over the chunk's steps.
        optimizer: anything with ``zero_grad()`` and ``step()``.
        clip: max global gradient norm (:func:`course_lib.gradients.clip_by_global_norm`, the
            semantics of ``clip_grad_norm_``), or None for no clipping. Needs ``model`` to be an
            ``nn.Module``.
        state: the state to start from (e.g. the one returned by the previous epoch, for a
            stateful model), or None.
        progress: show a tqdm bar over the chunks with the running loss.

    Returns:
        ``(mean_loss, state)``: the loss averaged over all ``T`` steps (chunk losses weighted by
        chunk length, so a short last chunk counts for what it is) and the final state, detached.
    """
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        raise TypeError("x and y must be torch tensors")
    if x.dim() < 2 or x.shape[1] == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected (B, T, ...) with T >= 1")
    if tuple(y.shape[:2]) != tuple(x.shape[:2]):
        raise ValueError(
            f"y has shape {tuple(y.shape)}, expected (B, T, ...) = {tuple(x.shape[:2])} + (...) "
            f"(B, T from x)"
        )
    if not isinstance(chunk_len, int) or chunk_len < 1:
        raise ValueError(f"chunk_len must be a positive int, got {chunk_len!r}")
    if clip is not None and not isinstance(model, nn.Module):
        raise TypeError("clip needs model to be an nn.Module (its parameters are clipped)")

    chunks = list(zip(x.split(chunk_len, dim=1), y.split(chunk_len, dim=1), strict=True))
    total, steps = 0.0, 0
    bar = tqdm(chunks, desc="truncated BPTT", unit="chunk", disable=not progress)
    for x_chunk, y_chunk in bar:
        # Without this detach, backward() would run on into the previous chunk's graph
        # (which is already freed, so torch raises) instead of stopping at the boundary.
        state = detach_state(state)
        optimizer.zero_grad()
        output, state = model(x_chunk, state)
        loss = loss_fn(output, y_chunk)
        loss.backward()
        if clip is not None:
            clip_by_global_norm(model.parameters(), clip)
        optimizer.step()
        total += loss.item() * x_chunk.shape[1]
        steps += x_chunk.shape[1]
        bar.set_postfix(loss=f"{total / steps:.4f}")
    return total / steps, detach_state(state)
