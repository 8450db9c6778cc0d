"""Explicit weight conversion between the course layout, PyTorch, Keras and CS231n.

Layouts of one layer and direction, ``k`` gate blocks of ``H`` units stacked on one axis:

===========  =====================  =====================  ====================  ===========
layout       input weights          recurrent weights      biases                gate order
===========  =====================  =====================  ====================  ===========
course       ``W_x (D, kH)``        ``W_h (H, kH)``        ``b_x, b_h (kH,)``    torch's
PyTorch      ``weight_ih (kH, D)``  ``weight_hh (kH, H)``  ``bias_ih, bias_hh``  LSTM i,f,g,o
                                                                                 GRU r,z,n
Keras        ``kernel (D, kH)``     ``recurrent_kernel``   ``bias (kH,)``;       LSTM i,f,c,o
                                    ``(H, kH)``            GRU reset_after:      GRU z,r,h
                                                           ``(2, 3H)``
CS231n       ``Wx (D, 4H)``         ``Wh (H, 4H)``         ``b (4H,)``           LSTM i,f,o,g
===========  =====================  =====================  ====================  ===========

PyTorch stores weights ``(out, in)``, so the course weights are their transposes, and its names
are ``weight_ih_l{k}`` with a ``_reverse`` suffix for the backward direction. Keras' LSTM order
``i, f, c, o`` *is* torch's ``i, f, g, o`` (``c`` names the candidate that torch calls ``g``); the
only difference is the single bias, which is ``b_x + b_h``. A Keras ``SimpleRNN`` has exactly the
course layout (``kernel = W_x``, ``recurrent_kernel = W_h``, ``bias = b``): nothing to convert.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .checks import check_args
from .device import numpy_io
from .layers import GRU, LSTM, RNN, RecurrentLayer

_TORCH_TO_COURSE: dict[type[nn.RNNBase], type[RecurrentLayer]] = {
    nn.RNN: RNN,
    nn.LSTM: LSTM,
    nn.GRU: GRU,
}
# (torch name, course name, transpose?) for one layer and direction.
_NAMES = [
    ("weight_ih", "W_x", True),
    ("weight_hh", "W_h", True),
    ("bias_ih", "b_x", False),
    ("bias_hh", "b_h", False),
]


@numpy_io
def reorder_gates(W: Tensor, src_order: Sequence[str], dst_order: Sequence[str]) -> Tensor:
    """Permute the gate blocks stacked along the last axis of ``W`` from one order to another.

    Args:
        W: ``(..., kH)`` weights or bias whose last axis holds ``k`` blocks of ``H``.
        src_order, dst_order: the ``k`` gate labels, e.g. ``"ifog"`` (CS231n) and ``"ifgo"``
            (torch). They must be permutations of each other: write Keras' ``c`` as ``g`` and its
            ``h`` (GRU candidate) as ``n``.

    Returns:
        A new tensor with the blocks in ``dst_order``.

    Example: ``reorder_gates(W_keras_gru, "zrn", "rzn")``.
    """
    src, dst = list(src_order), list(dst_order)
    if sorted(src) != sorted(dst) or len(set(src)) != len(src):
        raise ValueError(
            f"gate orders must be permutations of the same distinct labels, got {src_order!r} "
            f"and {dst_order!r}"
        )
    check_args(W=(W, None))
    if W.dim() == 0 or W.shape[-1] % len(src):
        raise ValueError(
            f"W has shape {tuple(W.shape)}: its last axis ({W.shape[-1]}) does not split into "
            f"{len(src)} gate blocks"
        )
    blocks = dict(zip(src, W.chunk(len(src), dim=-1), strict=True))
    return torch.cat([blocks[g] for g in dst], dim=-1)


def _kind_of(module: nn.Module) -> type[RecurrentLayer]:
    for torch_type, course_type in _TORCH_TO_COURSE.items():
        if type(module) is torch_type:
            return course_type
    raise TypeError(f"expected torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")


def _check_torch_module(module: nn.RNNBase) -> None:
    if isinstance(module, nn.RNN) and module.nonlinearity != "tanh":
        raise ValueError(f"course RNN layers use tanh; this nn.RNN uses {module.nonlinearity}")
    if isinstance(module, nn.LSTM) and module.proj_size:
        raise ValueError(
            f"course LSTM layers have no projection; this one has proj_size={module.proj_size}"
        )


@torch.no_grad()
def _copy_weights(layer: RecurrentLayer, module: nn.RNNBase, *, into_torch: bool) -> None:
    """Copy every layer's and direction's weights one way or the other (structures must match)."""
    for k in range(layer.num_layers):
        for d, suffix in enumerate(["", "_reverse"][: layer.num_directions]):
            w = layer.cell_weights(k, d)
            for torch_name, name, transpose in _NAMES[: 4 if layer.bias else 2]:
                theirs, mine = getattr(module, f"{torch_name}_l{k}{suffix}"), w[name]
                if transpose:  # torch stores (out, in): view it as the course's (in, out)
                    theirs = theirs.T
                destination, source = (theirs, mine) if into_torch else (mine, theirs)
                destination.copy_(source)


def load_torch_weights(layer: RecurrentLayer, module: nn.RNNBase) -> RecurrentLayer:
    """Copy the weights of a ``torch.nn.RNN/LSTM/GRU`` into a course layer, in place.

    ``W_x = weight_ih.T``, ``W_h = weight_hh.T``, ``b_x = bias_ih``, ``b_h = bias_hh`` for every
    layer and direction; the gate orders are the same. ``batch_first`` does not matter: it changes
    the input layout, not the weights (course layers always take ``(B, T, D)``).

    Raises:
        TypeError: the kinds differ (e.g. an nn.GRU into an LSTM layer).
        ValueError: sizes, number of layers, directions or bias differ.
    """
    expected = _kind_of(module)
    if type(layer) is not expected:
        raise TypeError(
            f"cannot load torch {type(module).__name__} weights into {type(layer).__name__}"
        )
    _check_torch_module(module)
    mine = (layer.input_size, layer.hidden_size, layer.num_layers, layer.bidirectional, layer.bias)
    theirs = (
        module.input_size,
        module.hidden_size,
        module.num_layers,
        module.bidirectional,
        module.bias,
    )
    if mine != theirs:
        raise ValueError(
            "layer and torch module differ in (input_size, hidden_size, num_layers, "
            f"bidirectional, bias): {mine} vs {theirs}"
        )
    _copy_weights(layer, module, into_torch=False)
    return layer


def from_torch(module: nn.RNNBase, **options: object) -> RecurrentLayer:
    """A course layer with the same structure, weights, dtype and device as a torch module.

    ``options`` are passed to the layer (e.g. ``return_state=True``); ``dropout`` is copied.
    """
    cls = _kind_of(module)
    _check_torch_module(module)
    param = module.weight_ih_l0
    layer = cls(
        module.input_size,
        module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        bias=module.bias,
        dropout=options.pop("dropout", module.dropout),
        dtype=param.dtype,
        device=param.device,
        **options,
    )
    return load_torch_weights(layer, module)


def to_torch(layer: RecurrentLayer, *, batch_first: bool = True) -> nn.RNNBase:
    """A ``torch.nn.RNN/LSTM/GRU`` computing what ``layer`` computes (the inverse of
    :func:`from_torch`).

    Raises:
        ValueError: the layer has no torch counterpart (peephole LSTM, GRU with
            ``reset_after=False``, Keras-style input or recurrent dropout).
    """
    inverse = {course: torch_type for torch_type, course in _TORCH_TO_COURSE.items()}
    if type(layer) not in inverse:
        raise ValueError(f"torch has no module for {type(layer).__name__}")
    if isinstance(layer, GRU) and not layer.reset_after:
        raise ValueError(
            "torch.nn.GRU applies the reset gate after the matmul; this GRU has reset_after=False"
        )
    if layer.input_dropout or layer.recurrent_dropout:
        raise ValueError("torch modules have no input_dropout or recurrent_dropout; set them to 0")
    param = layer.W_x_l0
    module = inverse[type(layer)](
        layer.input_size,
        layer.hidden_size,
        num_layers=layer.num_layers,
        bias=layer.bias,
        batch_first=batch_first,
        dropout=layer.dropout,
        bidirectional=layer.bidirectional,
        dtype=param.dtype,
        device=param.device,
    )
    _copy_weights(layer, module, into_torch=True)
    return module


@numpy_io
def lstm_from_keras(
    kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Keras LSTM weights → course ``(W_x, W_h, b)`` for :func:`course_lib.sequence.lstm_forward`.

    Keras' order i, f, c, o equals torch's i, f, g, o, so the arrays carry over unchanged; they are
    checked and copied. Shapes: kernel ``(D, 4H)``, recurrent_kernel ``(H, 4H)``, bias ``(4H,)``.
    """
    check_args(
        kernel=(kernel, "D 4H"), recurrent_kernel=(recurrent_kernel, "H 4H"), bias=(bias, "4H")
    )
    return kernel.clone(), recurrent_kernel.clone(), None if bias is None else bias.clone()


@numpy_io
def lstm_to_keras(
    W_x: Tensor, W_h: Tensor, b_x: Tensor | None = None, b_h: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Course LSTM weights → Keras ``(kernel, recurrent_kernel, bias)``; ``bias = b_x + b_h``."""
    check_args(W_x=(W_x, "D 4H"), W_h=(W_h, "H 4H"), b_x=(b_x, "4H"), b_h=(b_h, "4H"))
    bias = W_x.new_zeros(W_x.shape[1])
    for b in (b_x, b_h):
        if b is not None:
            bias = bias + b
    return W_x.clone(), W_h.clone(), bias


@numpy_io
def gru_from_keras(
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    *,
    reset_after: bool = True,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Keras GRU weights → course ``(W_x, W_h, b_x, b_h)`` for ``gru_forward``.

    Keras stacks the gates z, r, h; the course (torch) order is r, z, n. With ``reset_after=True``
    Keras' bias is ``(2, 3H)``: row 0 the input bias ``b_x``, row 1 the recurrent bias ``b_h``;
    with ``reset_after=False`` it is one ``(3H,)`` bias, returned as ``b_x`` with ``b_h = None``
    (in that form ``b_hn`` sits outside the reset gate, so one bias loses nothing).
    """
    check_args(kernel=(kernel, "D 3H"), recurrent_kernel=(recurrent_kernel, "H 3H"))
    if bias is None:
        b_x = b_h = None
    elif reset_after:
        check_args({"H": recurrent_kernel.shape[0]}, bias=(bias, "2 3H"))
        b_x, b_h = reorder_gates(bias[0], "zrn", "rzn"), reorder_gates(bias[1], "zrn", "rzn")
    else:
        check_args({"H": recurrent_kernel.shape[0]}, bias=(bias, "3H"))
        b_x, b_h = reorder_gates(bias, "zrn", "rzn"), None
    W_x, W_h = reorder_gates(kernel, "zrn", "rzn"), reorder_gates(recurrent_kernel, "zrn", "rzn")
    return W_x, W_h, b_x, b_h


@numpy_io
def gru_to_keras(
    W_x: Tensor,
    W_h: Tensor,
    b_x: Tensor | None = None,
    b_h: Tensor | None = None,
    *,
    reset_after: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:
    """Course GRU weights → Keras ``(kernel, recurrent_kernel, bias)``; gates r,z,n → z,r,h.

    ``reset_after=True``: bias ``(2, 3H)`` = rows ``[b_x, b_h]``. ``reset_after=False``: bias
    ``(3H,)`` = ``b_x + b_h``, exact because in that form every bias adds outside the gates.
    """
    check_args(W_x=(W_x, "D 3H"), W_h=(W_h, "H 3H"), b_x=(b_x, "3H"), b_h=(b_h, "3H"))
    zeros = W_x.new_zeros(W_x.shape[1])
    b_x = zeros if b_x is None else b_x
    b_h = zeros if b_h is None else b_h
    bias = torch.stack([b_x, b_h]) if reset_after else b_x + b_h
    kernel, recurrent = reorder_gates(W_x, "rzn", "zrn"), reorder_gates(W_h, "rzn", "zrn")
    return kernel, recurrent, reorder_gates(bias, "rzn", "zrn")


@numpy_io
def lstm_from_cs231n(Wx: Tensor, Wh: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """CS231n LSTM weights (gate order i, f, o, g; same row-vector shapes) → course i, f, g, o."""
    check_args(Wx=(Wx, "D 4H"), Wh=(Wh, "H 4H"), b=(b, "4H"))
    return tuple(reorder_gates(w, "ifog", "ifgo") for w in (Wx, Wh, b))  # type: ignore[return-value]


@numpy_io
def lstm_to_cs231n(W_x: Tensor, W_h: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Course LSTM weights (i, f, g, o) → CS231n order i, f, o, g."""
    check_args(W_x=(W_x, "D 4H"), W_h=(W_h, "H 4H"), b=(b, "4H"))
    return tuple(reorder_gates(w, "ifgo", "ifog") for w in (W_x, W_h, b))  # type: ignore[return-value]
