"""Running a recurrent cell over a whole batch-major sequence ``x`` of shape ``(B, T, D)``.

Everything here is built on one loop, :func:`scan`. A cell is split in two parts:

* the *input projection* ``a_x = x_t W_x + b``, which does not depend on the state, so it is
  computed for all time steps at once as one big matmul before the loop (this is most of the
  arithmetic, and one large matmul is much faster than ``T`` small ones);
* the *step*, ``state_t = step(a_x[t], state_{t-1})``, which holds the recurrence and is all
  that runs inside the loop.

Autograd differentiates the loop, except for the LSTM: :func:`lstm_scan` runs the same scan and
step but has a hand-written backward pass, because the LSTM layer is benchmarked against
``torch.nn.LSTM`` and recording a dozen small operations per step for autograd is the slow part.

Options and their exact (Keras) semantics:

* ``return_sequences``: return every step's output ``(B, T, H)``, else only the last one ``(B, H)``.
  The output of every cell here is its hidden state ``h_t``.
* ``return_state``: also return the final state(s). For a plain RNN (and a GRU) the final state
  *is* the last output, so ``(output, h_T)`` repeats it (except for a row of length 0, below);
  an LSTM adds its cell state ``c_T``.
* ``go_backwards``: process the time-reversed input. The outputs come back in *processing* order,
  i.e. the returned sequence is reversed with respect to ``x``, and "last" means ``x[:, 0]``.
* ``lengths``: ``(B,)`` counts of valid steps of post-padded sequences. A padded step leaves the
  state unchanged and outputs zeros, so the final state is the state at the last valid step, which
  is what ``torch.nn.utils.rnn.pack_padded_sequence`` gives. With ``go_backwards`` the padding is
  met first and skipped, so each sequence is read from its own last valid step down to step 0.
  Keras, given the same mask, agrees with ``zero_output_for_mask=True`` (which ``Bidirectional``
  sets when returning sequences); by default it repeats the last valid output at padded steps
  instead of zeros, with the same states. A length of 0 (torch's packing rejects it) makes a row
  of padding only: its outputs are all zeros, so its *last output* (``return_sequences=False``)
  is zeros, while its final state is the initial one, untouched — as in Keras. Only there does
  the final ``h_T`` of an RNN or GRU differ from its last output.

Dropout (Gal & Ghahramani 2016) draws *one* mask per sequence and reuses it at every step, for the
inputs (``input_mask``) and for the state fed to the recurrent matmul (``recurrent_mask``); masks
are inverted (kept units are scaled by ``1/(1-p)``) so nothing changes at evaluation time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_args
from .device import numpy_io
from .shapes import check_lengths, require

State = tuple[Tensor, ...]
Step = Callable[[Tensor, State], State]
Weights = dict[str, Tensor]

# Number of gate blocks stacked along the last axis of W_x and W_h, and of state tensors.
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "peephole_lstm": 4}
STATES = {"rnn": 1, "gru": 1, "lstm": 2, "peephole_lstm": 2}


def scan(
    step: Step, inputs: Tensor, state0: State, valid: Tensor | None = None
) -> tuple[Tensor, State]:
    """Apply ``step`` at every time step, in order: the one loop over time in course_lib.

    Args:
        step: ``step(inputs[t], state) -> new_state``; ``new_state[0]`` is the output ``h_t``.
        inputs: ``(T, B, F)`` per-step inputs (the hoisted input projection), *time-major* so
            that each step reads one contiguous block, forwards and backwards.
        state0: initial state, a tuple of ``(B, H)`` tensors.
        valid: ``(B, T)`` bool or None. Where False the step is padding: the state is carried over
            unchanged and the output is zero.

    Returns:
        ``(outputs, state_T)``: outputs ``(B, T, H)`` and the final state tuple.
    """
    if inputs.shape[0] == 0:
        raise ValueError("the sequence has no time steps (T = 0)")
    state, outputs = state0, []
    for t, input_t in enumerate(inputs.unbind(0)):
        new = step(input_t, state)
        if valid is not None:
            keep = valid[:, t, None]  # (B, 1), broadcast over units
            new = tuple(torch.where(keep, n, s) for n, s in zip(new, state, strict=True))
            outputs.append(torch.where(keep, new[0], 0.0))
        else:
            outputs.append(new[0])
        state = new
    return torch.stack(outputs, dim=1), state


def _recurrent_input(h: Tensor, mask: Tensor | None) -> Tensor:
    """The state as the recurrent matmul sees it: dropped out by the per-sequence mask if any."""
    return h if mask is None else h * mask


def rnn_step(W_h: Tensor, recurrent_mask: Tensor | None = None) -> Step:
    """Elman step on a projected input: ``h_t = tanh(a_x + h_{t-1} W_h)``, biases inside ``a_x``."""

    def step(a_x: Tensor, state: State) -> State:
        (h,) = state
        return (torch.tanh(torch.addmm(a_x, _recurrent_input(h, recurrent_mask), W_h)),)

    return step


def lstm_step(
    W_h: Tensor, recurrent_mask: Tensor | None = None, record: list[State] | None = None
) -> Step:
    """LSTM step (gate order i, f, g, o) on a projected input; see ``cells.lstm_cell_forward``.

    If ``record`` is a list, each step appends ``(h_in, c_prev, s, g, tanh(c))`` to it, what
    :func:`lstm_scan`'s backward pass needs: ``h_in`` is the state as ``W_h`` saw it and ``s`` the
    ``(B, 4H)`` sigmoid of all four blocks, whose blocks 0, 1, 3 are ``i, f, o``.
    """
    hidden = W_h.shape[0]

    def step(a_x: Tensor, state: State) -> State:
        h, c_prev = state
        h_in = _recurrent_input(h, recurrent_mask)
        a = torch.addmm(a_x, h_in, W_h)
        # One sigmoid over all four blocks (the g block's is unused) is faster than three calls:
        # this loop is dominated by the number of small operations, not by their size.
        s = torch.sigmoid(a)
        i, f, _, o = s.chunk(4, 1)
        g = torch.tanh(a[:, 2 * hidden : 3 * hidden])
        c = torch.addcmul(f * c_prev, i, g)  # f ⊙ c_{t-1} + i ⊙ g
        tanh_c = torch.tanh(c)
        if record is not None:
            record.append((h_in, c_prev, s, g, tanh_c))
        return o * tanh_c, c

    return step


class _LSTMScan(torch.autograd.Function):
    """:func:`scan` of :func:`lstm_step` with a hand-written backward; see :func:`lstm_scan`."""

    @staticmethod
    def forward(
        ctx: Any,
        a_x: Tensor,
        h0: Tensor,
        c0: Tensor,
        W_h: Tensor,
        valid: Tensor | None,
        recurrent_mask: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        record: list[State] = []
        step = lstm_step(W_h, recurrent_mask, record)
        outputs, (h_T, c_T) = scan(step, a_x, (h0, c0), valid)
        # Through save_for_backward, not ctx attributes: autograd then checks the tensors' version
        # counters, so editing an input in place after the forward pass (h0 and c0 are the first
        # step's h_in and c_prev) raises its usual error instead of giving wrong gradients.
        ctx.save_for_backward(
            a_x, h0, c0, W_h, valid, recurrent_mask, *(t for saved in record for t in saved)
        )
        return outputs, h_T, c_T

    @staticmethod
    def backward(ctx: Any, d_outputs: Tensor, dh: Tensor, dc: Tensor) -> tuple[Tensor | None, ...]:
        a_x, h0, c0, W_h, valid, recurrent_mask, *flat = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable
            return _differentiable_lstm_backward(
                ctx.needs_input_grad[:4],
                (a_x, h0, c0, W_h),
                valid,
                recurrent_mask,
                (d_outputs, dh, dc),
            )
        record = [flat[k : k + 5] for k in range(0, len(flat), 5)]  # per step, see lstm_step
        hidden = W_h.shape[0]
        da_x = d_outputs.new_empty(len(record), d_outputs.shape[0], 4 * hidden)
        for t in reversed(range(len(record))):
            h_in, c_prev, s, g, tanh_c = record[t]
            i, f, _, o = s.chunk(4, 1)
            # dh, dc: gradients on the state after step t; the output at t adds its own.
            dh_step, dc_step = dh + d_outputs[:, t], dc
            keep = None if valid is None else valid[:, t, None]
            if keep is not None:  # a padded step changed nothing and output zeros
                dh_step, dc_step = dh_step * keep, dc_step * keep
            # h = o ⊙ tanh(c): the cell gradient collects the path through h.
            dc_step = torch.addcmul(dc_step, dh_step * o, 1 - tanh_c * tanh_c)
            # Gradients on the gate activations, written block by block into da_x[t] ...
            da = da_x[t]
            da_i, da_f, da_g, da_o = da.chunk(4, 1)
            torch.mul(dc_step, g, out=da_i)
            torch.mul(dc_step, c_prev, out=da_f)
            torch.mul(dc_step, i, out=da_g)
            torch.mul(dh_step, tanh_c, out=da_o)
            # ... then through the activations, all four blocks in one multiplication:
            slope = s * (1 - s)  # σ' = σ(1 − σ) for i, f, o
            slope[:, 2 * hidden : 3 * hidden] = 1 - g * g  # tanh' = 1 − tanh² for g
            da.mul_(slope)
            dh_prev = da @ W_h.T
            if recurrent_mask is not None:
                dh_prev = dh_prev * recurrent_mask
            dc_prev = dc_step * f  # the constant error carousel
            if keep is None:
                dh, dc = dh_prev, dc_prev
            else:  # through a padded step the state gradient passes unchanged
                dh, dc = torch.where(keep, dh_prev, dh), torch.where(keep, dc_prev, dc)
        # W_h is shared by all steps: its gradient is one matmul over all of them at once.
        h_in = torch.stack([saved[0] for saved in record]).reshape(-1, hidden)
        dW_h = h_in.T @ da_x.reshape(-1, 4 * hidden)
        return da_x, dh, dc, dW_h, None, None


def _differentiable_lstm_backward(
    needed: Sequence[bool],
    inputs: tuple[Tensor, Tensor, Tensor, Tensor],
    valid: Tensor | None,
    recurrent_mask: Tensor | None,
    grads: tuple[Tensor, Tensor, Tensor],
) -> tuple[Tensor | None, ...]:
    """:class:`_LSTMScan`'s gradients as a graph, for ``create_graph=True`` (second derivatives).

    The hand-written backward computes numbers from values saved without a graph, so their own
    derivatives would be lost. Here the same steps run again under autograd from the saved
    inputs ``(a_x, h0, c0, W_h)`` — which carry their graph — and autograd differentiates them
    with ``create_graph=True``: the gradients are autograd's own, and differentiable.
    """
    a_x, h0, c0, W_h = inputs
    wanted = [t for t, need in zip(inputs, needed, strict=True) if need]
    with torch.enable_grad():
        outputs, (h_T, c_T) = scan(lstm_step(W_h, recurrent_mask), a_x, (h0, c0), valid)
    found = iter(torch.autograd.grad((outputs, h_T, c_T), wanted, grads, create_graph=True))
    return (*(next(found) if need else None for need in needed), None, None)


def lstm_scan(
    a_x: Tensor,
    state0: State,
    W_h: Tensor,
    valid: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, State]:
    """``scan(lstm_step(W_h, recurrent_mask), a_x, state0, valid)``, with a faster backward pass.

    Same forward computation; the backward pass is written by hand (the equations of
    ``backward.lstm_cell_backward``) instead of recorded by autograd op by op: it runs a few
    fused elementwise operations per step and computes the gradient of ``W_h`` as one matmul
    over all steps. This is the LSTM layer's hot path (see ``bench/bench_lstm.py``). Second
    derivatives work too: with ``create_graph=True`` the backward pass reruns the steps under
    autograd instead (exact, at autograd's cost, only then).

    Returns:
        ``(outputs, (h_T, c_T))`` as :func:`scan`.
    """
    inputs = (a_x, *state0, W_h)
    if not (torch.is_grad_enabled() and any(t.requires_grad for t in inputs)):
        # Nothing to differentiate: the plain scan, without keeping every step for backward.
        return scan(lstm_step(W_h, recurrent_mask), a_x, state0, valid)
    outputs, h_T, c_T = _LSTMScan.apply(*inputs, valid, recurrent_mask)
    return outputs, (h_T, c_T)


def peephole_lstm_step(
    W_h: Tensor, p_i: Tensor, p_f: Tensor, p_o: Tensor, recurrent_mask: Tensor | None = None
) -> Step:
    """Peephole LSTM step on a projected input; see ``cells.peephole_lstm_cell_forward``.

    The input and forget gates peep at ``c_{t-1}``, the output gate at the new ``c_t``.
    """

    def step(a_x: Tensor, state: State) -> State:
        h, c = state
        a_i, a_f, a_g, a_o = torch.addmm(a_x, _recurrent_input(h, recurrent_mask), W_h).chunk(4, 1)
        i = torch.sigmoid(a_i + p_i * c)
        f = torch.sigmoid(a_f + p_f * c)
        c = f * c + i * torch.tanh(a_g)
        return torch.sigmoid(a_o + p_o * c) * torch.tanh(c), c

    return step


def gru_step(
    W_h: Tensor,
    b_h: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
    *,
    reset_after: bool = True,
) -> Step:
    """GRU step (gate order r, z, n) on a projected input ``a_x = x W_x + b_x``.

    ``b_h`` stays inside the step because the reset gate multiplies ``h W_hn + b_hn`` in the
    cuDNN form; see ``cells.gru_cell_forward`` for both forms. Recurrent dropout masks the state
    only where it enters a matmul; the carry term ``z ⊙ h_{t-1}`` uses the undropped state (Keras).
    """
    hidden = W_h.shape[0]
    W_hrz, W_hn = W_h[:, : 2 * hidden], W_h[:, 2 * hidden :]
    b_hrz, b_hn = (None, None) if b_h is None else (b_h[: 2 * hidden], b_h[2 * hidden :])

    def linear(h: Tensor, W: Tensor, b: Tensor | None) -> Tensor:
        return h @ W if b is None else torch.addmm(b, h, W)

    def step(a_x: Tensor, state: State) -> State:
        (h,) = state
        h_in = _recurrent_input(h, recurrent_mask)
        x_r, x_z, x_n = a_x.chunk(3, 1)
        if reset_after:
            h_r, h_z, h_n = linear(h_in, W_h, b_h).chunk(3, 1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
        else:
            h_r, h_z = linear(h_in, W_hrz, b_hrz).chunk(2, 1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + linear(r * h_in, W_hn, b_hn))
        return (torch.lerp(n, h, z),)  # (1 - z) ⊙ n + z ⊙ h_{t-1}

    return step


def _make_step(kind: str, w: Weights, recurrent_mask: Tensor | None, reset_after: bool) -> Step:
    if kind == "rnn":
        return rnn_step(w["W_h"], recurrent_mask)
    if kind == "peephole_lstm":
        return peephole_lstm_step(w["W_h"], w["p_i"], w["p_f"], w["p_o"], recurrent_mask)
    if kind == "gru":
        return gru_step(w["W_h"], w.get("b_h"), recurrent_mask, reset_after=reset_after)
    raise ValueError(f"unknown cell kind {kind!r}; expected one of {sorted(GATES)}")


def _input_bias(kind: str, w: Weights) -> Tensor | None:
    """The bias that can join the hoisted projection: all of it, except the GRU's ``b_h``."""
    b_x, b_h = w.get("b_x"), w.get("b_h")
    if kind == "gru" or b_h is None:
        return b_x
    return b_h if b_x is None else b_x + b_h


def direction_forward(
    kind: str,
    x: Tensor,
    state0: State,
    w: Weights,
    *,
    valid: Tensor | None = None,
    reverse: bool = False,
    reset_after: bool = True,
    input_mask: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, State]:
    """One layer, one direction: hoist the input projection, then :func:`scan` the step.

    Args:
        kind: "rnn", "lstm", "gru" or "peephole_lstm".
        x: ``(B, T, D)`` input; state0: tuple of ``(B, H)``.
        w: course-layout weights: ``W_x (D, kH)``, ``W_h (H, kH)``, optional ``b_x``/``b_h``
            ``(kH,)``, and ``p_i, p_f, p_o (H,)`` for the peephole LSTM.
        valid: ``(B, T)`` bool mask of real (non-padding) steps, or None.
        reverse: read the sequence from the last step to the first (``go_backwards``).
        input_mask, recurrent_mask: ``(B, D)`` / ``(B, H)`` per-sequence dropout masks, or None.

    Returns:
        ``(outputs, state_T)`` with outputs ``(B, T, H)`` in *processing* order.
    """
    if reverse:
        x = x.flip(1)
        valid = None if valid is None else valid.flip(1)
    if input_mask is not None:
        x = x * input_mask[:, None, :]  # the same mask at every step
    batch, steps, size = x.shape
    x_tm = x.transpose(0, 1).reshape(steps * batch, size)  # time-major, as scan wants it
    bias = _input_bias(kind, w)
    a_x = x_tm @ w["W_x"] if bias is None else torch.addmm(bias, x_tm, w["W_x"])
    a_x = a_x.view(steps, batch, w["W_x"].shape[1])
    if kind == "lstm":
        return lstm_scan(a_x, state0, w["W_h"], valid, recurrent_mask)
    return scan(_make_step(kind, w, recurrent_mask, reset_after), a_x, state0, valid)


def valid_steps(
    lengths: Tensor | Sequence[int], batch: int, steps: int, device: torch.device
) -> Tensor:
    """``(B, T)`` bool mask, True at the first ``lengths[b]`` steps of sample ``b`` (post-padding).

    Raises:
        TypeError: lengths are not integers (floats, or a bool mask).
        ValueError: lengths is not ``(B,)``, or a length lies outside ``[0, T]``.
    """
    lengths = check_lengths(lengths, batch=batch, max_len=steps)  # the rule of course_lib.shapes
    return torch.arange(steps, device=device) < lengths.to(device)[:, None]


def dropout_mask(
    like: Tensor, size: int, p: float, generator: torch.Generator | None = None
) -> Tensor | None:
    """One inverted-dropout mask per sequence, ``(B, size)``: entries 0 or ``1/(1-p)``.

    ``like`` is the ``(B, T, ·)`` input whose batch size, dtype and device the mask takes.
    Returns None when ``p == 0`` (no dropout).
    """
    require("real", p=p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if p == 0.0:
        return None
    keep = torch.empty(like.shape[0], size, dtype=like.dtype, device=like.device)
    return keep.bernoulli_(1.0 - p, generator=generator) / (1.0 - p)


def stacked_forward(
    kind: str,
    x: Tensor,
    states0: list[list[State]],
    weights: list[list[Weights]],
    *,
    valid: Tensor | None = None,
    go_backwards: bool = False,
    reset_after: bool = True,
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, list[list[State]]]:
    """Stacked and/or bidirectional layers, as ``torch.nn.LSTM(num_layers=L, bidirectional=...)``.

    ``weights[l][d]`` and ``states0[l][d]`` belong to layer ``l`` and direction ``d`` (0 forward,
    1 backward). The backward direction reads each sequence from its own last valid step down to
    step 0 and its outputs are flipped back to the input's time positions; the two directions are
    concatenated on the last axis, ``(B, T, 2H)``, and that is the next layer's input.

    With ``go_backwards`` the whole stack reads the time-reversed input and returns its outputs in
    that processing order. Dropout, only when ``training``:

    * ``dropout``: elementwise dropout on each layer's output except the last (torch's ``dropout``);
    * ``input_dropout``: one mask per sequence on each layer's input (Keras ``dropout``);
    * ``recurrent_dropout``: one mask per sequence on the state entering ``W_h`` (Keras).

    Returns:
        ``(outputs, last, states)``: outputs ``(B, T, dirs*H)`` of the top layer; ``last``
        ``(B, dirs*H)``, the output of the last step each top direction processed (forward: the
        last valid step; backward: step 0; zeros for a row of length 0); states ``[l][d]``, the
        final state tuples.
    """
    if go_backwards:
        x = x.flip(1)
        valid = None if valid is None else valid.flip(1)
    layer_input, finals = x, []
    for depth, (layer_weights, layer_states) in enumerate(zip(weights, states0, strict=True)):
        if depth > 0 and training and dropout > 0:
            layer_input = F.dropout(layer_input, dropout, training=True)
        outputs, layer_finals = [], []
        for direction, (w, state0) in enumerate(zip(layer_weights, layer_states, strict=True)):
            input_mask = recurrent_mask = None
            if training:  # fresh masks for every layer, direction and call
                input_mask = dropout_mask(
                    layer_input, layer_input.shape[-1], input_dropout, generator
                )
                recurrent_mask = dropout_mask(
                    layer_input, w["W_h"].shape[0], recurrent_dropout, generator
                )
            out, final = direction_forward(
                kind,
                layer_input,
                state0,
                w,
                valid=valid,
                reverse=direction == 1,
                reset_after=reset_after,
                input_mask=input_mask,
                recurrent_mask=recurrent_mask,
            )
            outputs.append(out.flip(1) if direction == 1 else out)
            layer_finals.append(final)
        layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        finals.append(layer_finals)
    last = torch.cat([_last_output(final[0], valid) for final in finals[-1]], dim=-1)
    return layer_input, last, finals


def _last_output(h_T: Tensor, valid: Tensor | None) -> Tensor:
    """The output of the last valid step, ``(B, H)``: the final ``h_T``, but zeros for a row
    with no valid step, which output only zeros (its ``h_T`` is still ``h_0``); see the module
    docstring."""
    return h_T if valid is None else torch.where(valid.any(1, keepdim=True), h_T, 0.0)


def _zeros_if_none(state: Tensor | None, x: Tensor, hidden: int) -> Tensor:
    return x.new_zeros(x.shape[0], hidden) if state is None else state


def _single(
    kind: str,
    x: Tensor,
    state0: State,
    w: Weights,
    *,
    return_sequences: bool,
    return_state: bool,
    go_backwards: bool,
    lengths: Tensor | Sequence[int] | None,
    reset_after: bool = True,
) -> Tensor | tuple[Tensor, ...]:
    """Shared tail of the four public functions: run one direction and package the result."""
    valid = None
    if lengths is not None:
        valid = valid_steps(lengths, x.shape[0], x.shape[1], x.device)
    outputs, final = direction_forward(
        kind, x, state0, w, valid=valid, reverse=go_backwards, reset_after=reset_after
    )
    output = outputs if return_sequences else _last_output(final[0], valid)
    return (output, *final) if return_state else output


@numpy_io
def rnn_forward(
    x: Tensor,
    h0: Tensor | None,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None = None,
    *,
    return_sequences: bool = True,
    return_state: bool = False,
    go_backwards: bool = False,
    lengths: Tensor | Sequence[int] | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Elman RNN over a sequence: ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)`` for t = 1..T.

    Args:
        x: ``(B, T, D)``; h0: ``(B, H)`` or None for zeros; W_x: ``(D, H)``; W_h: ``(H, H)``;
        b: ``(H,)`` or None. Options as in the module docstring.

    Returns:
        ``(B, T, H)`` outputs, or ``(B, H)`` if not ``return_sequences``; with ``return_state``
        the tuple ``(output, h_T)``, where ``h_T`` equals the last output (for a row of length
        0: the output is zeros, ``h_T`` is ``h0``).
    """
    require("given", x=x, W_x=W_x, W_h=W_h)
    check_args(x=(x, "B T D"), h0=(h0, "B H"), W_x=(W_x, "D H"), W_h=(W_h, "H H"), b=(b, "H"))
    h0 = _zeros_if_none(h0, x, W_h.shape[0])
    return _single(
        "rnn",
        x,
        (h0,),
        {"W_x": W_x, "W_h": W_h, "b_x": b},
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        lengths=lengths,
    )


@numpy_io
def lstm_forward(
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None = None,
    *,
    return_sequences: bool = True,
    return_state: bool = False,
    go_backwards: bool = False,
    lengths: Tensor | Sequence[int] | None = None,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """LSTM over a sequence, gate order i, f, g, o (see ``cells.lstm_cell_forward``)::

        [a_i a_f a_g a_o] = x_t W_x + h_{t-1} W_h + b
        c_t = σ(a_f) ⊙ c_{t-1} + σ(a_i) ⊙ tanh(a_g)      h_t = σ(a_o) ⊙ tanh(c_t)

    Args:
        x: ``(B, T, D)``; h0, c0: ``(B, H)`` or None for zeros; W_x: ``(D, 4H)``;
        W_h: ``(H, 4H)``; b: ``(4H,)`` or None. Options as in the module docstring.

    Returns:
        outputs ``(B, T, H)`` (or ``(B, H)``); with ``return_state`` ``(output, h_T, c_T)``.
    """
    require("given", x=x, W_x=W_x, W_h=W_h)
    check_args(
        x=(x, "B T D"),
        h0=(h0, "B H"),
        c0=(c0, "B H"),
        W_x=(W_x, "D 4H"),
        W_h=(W_h, "H 4H"),
        b=(b, "4H"),
    )
    hidden = W_h.shape[0]
    state0 = (_zeros_if_none(h0, x, hidden), _zeros_if_none(c0, x, hidden))
    return _single(
        "lstm",
        x,
        state0,
        {"W_x": W_x, "W_h": W_h, "b_x": b},
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        lengths=lengths,
    )


@numpy_io
def peephole_lstm_forward(
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    W_x: Tensor,
    W_h: Tensor,
    b: Tensor | None,
    p_i: Tensor,
    p_f: Tensor,
    p_o: Tensor,
    *,
    return_sequences: bool = True,
    return_state: bool = False,
    go_backwards: bool = False,
    lengths: Tensor | Sequence[int] | None = None,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Peephole LSTM over a sequence (see ``cells.peephole_lstm_cell_forward``)::

        i = σ(a_i + p_i ⊙ c_{t-1})   f = σ(a_f + p_f ⊙ c_{t-1})   c_t = f ⊙ c_{t-1} + i ⊙ tanh(a_g)
        o = σ(a_o + p_o ⊙ c_t)        h_t = o ⊙ tanh(c_t)

    Args:
        as :func:`lstm_forward`, plus peephole weights ``p_i, p_f, p_o`` of shape ``(H,)``.

    Returns:
        outputs ``(B, T, H)`` (or ``(B, H)``); with ``return_state`` ``(output, h_T, c_T)``.
    """
    require("given", x=x, W_x=W_x, W_h=W_h, p_i=p_i, p_f=p_f, p_o=p_o)
    check_args(
        x=(x, "B T D"),
        h0=(h0, "B H"),
        c0=(c0, "B H"),
        W_x=(W_x, "D 4H"),
        W_h=(W_h, "H 4H"),
        b=(b, "4H"),
        p_i=(p_i, "H"),
        p_f=(p_f, "H"),
        p_o=(p_o, "H"),
    )
    hidden = W_h.shape[0]
    state0 = (_zeros_if_none(h0, x, hidden), _zeros_if_none(c0, x, hidden))
    weights = {"W_x": W_x, "W_h": W_h, "b_x": b, "p_i": p_i, "p_f": p_f, "p_o": p_o}
    return _single(
        "peephole_lstm",
        x,
        state0,
        weights,
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        lengths=lengths,
    )


@numpy_io
def gru_forward(
    x: Tensor,
    h0: Tensor | None,
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None = None,
    b_h: Tensor | None = None,
    *,
    reset_after: bool = True,
    return_sequences: bool = True,
    return_state: bool = False,
    go_backwards: bool = False,
    lengths: Tensor | Sequence[int] | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """GRU over a sequence, gate order r, z, n (see ``cells.gru_cell_forward``)::

        r = σ(x_t W_xr + b_xr + h W_hr + b_hr)    z = σ(x_t W_xz + b_xz + h W_hz + b_hz)
        n = tanh(x_t W_xn + b_xn + r ⊙ (h W_hn + b_hn))          (reset_after=True, cuDNN)
        n = tanh(x_t W_xn + b_xn + (r ⊙ h) W_hn + b_hn)          (reset_after=False, Cho 2014)
        h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

    Args:
        x: ``(B, T, D)``; h0: ``(B, H)`` or None for zeros; W_x: ``(D, 3H)``; W_h: ``(H, 3H)``;
        b_x, b_h: ``(3H,)`` or None. Options as in the module docstring.

    Returns:
        outputs ``(B, T, H)`` (or ``(B, H)``); with ``return_state`` ``(output, h_T)``.
    """
    require("given", x=x, W_x=W_x, W_h=W_h)
    check_args(
        x=(x, "B T D"),
        h0=(h0, "B H"),
        W_x=(W_x, "D 3H"),
        W_h=(W_h, "H 3H"),
        b_x=(b_x, "3H"),
        b_h=(b_h, "3H"),
    )
    h0 = _zeros_if_none(h0, x, W_h.shape[0])
    return _single(
        "gru",
        x,
        (h0,),
        {"W_x": W_x, "W_h": W_h, "b_x": b_x, "b_h": b_h},
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        lengths=lengths,
        reset_after=reset_after,
    )
