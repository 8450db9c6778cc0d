"""Sequence shapes: padding, masks, the last valid step, layouts, packing, and I/O patterns.

Course functions take batches **batch-major**, ``(B, T, D)``: sample ``b`` at time ``t`` is
``x[b, t]`` (Keras, and PyTorch with ``batch_first=True``). Sequences of different lengths are
padded to a common ``T``; ``lengths[b]`` says how many steps of sample ``b`` are real. With
*post* padding the real steps come first (``[x0 x1 x2 0 0]``), with *pre* padding they come last
(``[0 0 x0 x1 x2]``, the Keras default).

Each function accepts torch tensors on any device, or numpy arrays (numpy in → numpy out).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .checks import check_args
from .device import numpy_io

Side = Literal["pre", "post"]

# Which outputs of the recurrent layer the next layer reads, for each input/output pattern.
PATTERN_OUTPUTS: dict[str, str] = {
    "one-to-one": "last",
    "one-to-many": "all",
    "many-to-one": "last",
    "many-to-many-aligned": "all",
    "many-to-many-unaligned": "state",
}


def require(
    kind: Literal["given", "int", "real"], /, *, minimum: float | None = None, **named: Any
) -> None:
    """Check arguments that :func:`~course_lib.checks.check_args` does not, in a sentence.

    ``check_args`` skips ``None`` (it marks an optional tensor) and checks only tensors; this
    covers the rest, for every public function of the library. Each keyword is
    ``name=value``, e.g. ``require("int", minimum=1, top_k=top_k)``. Kinds:

    * ``"given"``: a required argument, anything but ``None``;
    * ``"int"``: a whole number: a Python or numpy integer or a one-element integer tensor, not
      a bool and not a float such as ``2.0`` (which ``range`` or a shape would reject later,
      with a message that does not name the argument);
    * ``"real"``: a number (int, float, numpy scalar, one-element tensor) that is not NaN.

    ``minimum``: the smallest allowed value ("int" and "real").

    Raises:
        TypeError: a value is None or not of the kind.
        ValueError: a value is NaN or below ``minimum``.
    """
    what = "an integer" if kind == "int" else "a number"
    for name, value in named.items():
        if value is None:
            raise TypeError(f"{name} is required, got None")
        if kind == "given":
            continue
        try:
            if isinstance(value, (bool, np.bool_, str, bytes)):  # int(True), float("2") would pass
                raise TypeError
            number = operator.index(value) if kind == "int" else float(value)
        except (TypeError, ValueError, RuntimeError):
            kind_name = type(value).__name__
            raise TypeError(f"{name} must be {what}, got {value!r} ({kind_name})") from None
        if math.isnan(number):
            raise ValueError(f"{name} must be a number, got NaN")
        if minimum is not None and number < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _check_side(name: str, side: str) -> None:
    if side not in ("pre", "post"):
        raise ValueError(f"{name} must be 'pre' or 'post', got {side!r}")


def _torch_dtype(dtype: Any) -> torch.dtype:
    """A torch dtype from a torch dtype, a numpy dtype or a name such as ``"float32"``."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def check_lengths(
    lengths: Any, *, batch: int | None = None, max_len: int | None = None, min_len: int = 0
) -> Tensor:
    """Validate sequence lengths and return them as a 1-D int64 tensor (same device as given).

    Args:
        lengths: ``(B,)`` integers (tensor, numpy array or list).
        batch: the expected ``B``, if known (e.g. from ``outputs``).
        max_len: the largest allowed length (the padded ``T``), if known.
        min_len: the smallest allowed length (1 where a sequence must have a step to pick).

    Raises:
        TypeError: ``lengths`` is None or not integer-valued (a bool mask is not lengths).
        ValueError: wrong number of dimensions or entries, or a length out of range.
    """
    require("given", lengths=lengths)
    if not isinstance(lengths, Tensor):
        array = np.asarray(lengths)
        if array.dtype.kind not in "biuf":  # strings, None inside a list: no numbers at all
            raise TypeError(f"lengths must hold integers, got {array.dtype} values {lengths!r}")
        lengths = torch.as_tensor(array)
    if lengths.dtype == torch.bool:  # read as 0/1 it would silently mean lengths 0 and 1
        raise TypeError(
            "lengths must hold integers, got dtype torch.bool; for a mask of valid steps pass "
            "its lengths, mask.sum(1)"
        )
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex:
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths has shape {tuple(lengths.shape)}, expected (B,): one per sample")
    if batch is not None and lengths.numel() != batch:
        raise ValueError(f"lengths has shape ({lengths.numel()},), expected (B,) = ({batch},)")
    lengths = lengths.long()
    if lengths.numel():
        low, high = int(lengths.min()), int(lengths.max())
        if low < min_len:
            raise ValueError(f"lengths must be at least {min_len}, got {low}")
        if max_len is not None and high > max_len:
            raise ValueError(f"lengths must be at most T = {max_len}, got {high}")
    return lengths


def pad_sequences(
    sequences: Sequence[Any],
    maxlen: int | None = None,
    *,
    padding: Side = "pre",
    truncating: Side = "pre",
    value: float = 0.0,
    dtype: Any = None,
) -> Any:
    """Pad (and truncate) variable-length sequences into one array, with Keras semantics.

    Args:
        sequences: ``B`` sequences, each ``(T_i,)`` or ``(T_i, D...)`` with the same trailing
            shape: lists, numpy arrays or tensors. Empty sequences are allowed (all padding).
        maxlen: the padded length ``T``; ``None`` means the longest ``T_i``.
        padding: ``"pre"`` puts the padding before the sequence, ``"post"`` after it.
        truncating: a sequence longer than ``maxlen`` loses its first steps (``"pre"``) or its
            last steps (``"post"``).
        value: the padding value.
        dtype: dtype of the result (torch or numpy dtype, or a name). ``None`` keeps the
            common dtype of the non-empty sequences (Keras instead defaults to ``"int32"``).

    Returns:
        ``(B, T, D...)``: a tensor (on the first sequence's device) if every sequence is a
        tensor; a numpy array as soon as one is a list or an array (numpy in → numpy out).

    Example (Keras defaults, pre/pre)::

        pad_sequences([[1, 2, 3], [4]], maxlen=2)  # [[2, 3], [0, 4]]
    """
    require("given", sequences=sequences)
    if maxlen is not None:
        require("int", minimum=0, maxlen=maxlen)
    seqs = [s if isinstance(s, Tensor) else np.asarray(s) for s in sequences]
    return _pad(seqs, maxlen, padding=padding, truncating=truncating, value=value, dtype=dtype)


@numpy_io
def _pad(
    seqs: list[Tensor],
    maxlen: int | None,
    *,
    padding: Side,
    truncating: Side,
    value: float,
    dtype: Any,
) -> Tensor:
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    if not seqs:
        raise ValueError("sequences is empty: there is nothing to pad")
    for i, s in enumerate(seqs):
        if s.dim() == 0:
            raise ValueError(f"sequences[{i}] is a scalar; each sequence needs a time axis")
    # Empty sequences carry no step shape (np.asarray([]) is (0,)), so take it from a non-empty one.
    nonempty = [s for s in seqs if s.shape[0] > 0] or seqs
    step_shape = tuple(nonempty[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.shape[0] > 0 and tuple(s.shape[1:]) != step_shape:
            raise ValueError(
                f"sequences[{i}] has steps of shape {tuple(s.shape[1:])}, expected {step_shape} "
                "like the other sequences"
            )
    if maxlen is None:
        maxlen = max(s.shape[0] for s in seqs)
    if dtype is None:
        # Only sequences with values decide it: np.asarray([]) is float64 though it holds none.
        dtype = nonempty[0].dtype
        for s in nonempty[1:]:
            dtype = torch.promote_types(dtype, s.dtype)
    out = torch.full(
        (len(seqs), maxlen, *step_shape), value, dtype=_torch_dtype(dtype), device=seqs[0].device
    )
    for i, s in enumerate(seqs):
        n = min(s.shape[0], maxlen)
        if n == 0:
            continue
        kept = s[s.shape[0] - n :] if truncating == "pre" else s[:n]
        if padding == "post":
            out[i, :n] = kept
        else:
            out[i, maxlen - n :] = kept
    return out


@numpy_io
def lengths_to_mask(lengths: Any, max_len: int | None = None, *, padding: Side = "post") -> Tensor:
    """Boolean mask of the real (not padded) steps: ``mask[b, t]`` is True where step t is real.

    Post padding: ``mask[b, t] = t < lengths[b]``.
    Pre padding: ``mask[b, t] = t >= T - lengths[b]``.

    Args:
        lengths: ``(B,)`` integers.
        max_len: ``T``; ``None`` means ``max(lengths)``.
        padding: where the padding sits, ``"post"`` (default) or ``"pre"``.

    Returns:
        ``(B, T)`` bool, on the device of ``lengths``.
    """
    _check_side("padding", padding)
    if max_len is not None:
        require("int", minimum=0, max_len=max_len)
    lengths = check_lengths(lengths, max_len=max_len)
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    steps = torch.arange(max_len, device=lengths.device)
    if padding == "post":
        return steps[None, :] < lengths[:, None]
    return steps[None, :] >= max_len - lengths[:, None]


@numpy_io
def last_valid_step(outputs: Tensor, lengths: Any, *, padding: Side = "post") -> Tensor:
    """Each sample's output at its last real step — what a many-to-one head must read.

    ``outputs[:, -1]`` is right only without padding, or with *pre* padding; with post padding
    it reads a padded step for every shorter sequence. This picks ``outputs[b, lengths[b] - 1]``
    (post) or ``outputs[b, T - 1]`` (pre).

    Args:
        outputs: ``(B, T, H)`` per-step outputs of a recurrent layer.
        lengths: ``(B,)`` integers in ``1..T``.
        padding: ``"post"`` (default) or ``"pre"``.

    Returns:
        ``(B, H)``.
    """
    _check_side("padding", padding)
    require("given", outputs=outputs)
    dims = check_args(outputs=(outputs, "B T H"))
    lengths = check_lengths(lengths, batch=dims["B"], max_len=dims["T"], min_len=1)
    lengths = lengths.to(outputs.device)
    if padding == "post":
        last = lengths - 1
    else:
        last = torch.full_like(lengths, dims["T"] - 1)
    return outputs[torch.arange(dims["B"], device=outputs.device), last]


def _check_sequence_batch(x: Any, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}, expected at least 2 dims (batch, time)"
        )


@numpy_io
def to_time_major(x: Tensor) -> Tensor:
    """``(B, T, D...)`` → ``(T, B, D...)`` (a view: swaps the first two axes, copies nothing).

    Time-major is PyTorch's default layout (``batch_first=False``) and what a loop over time
    steps wants: ``x[t]`` is the whole batch at step t.

    The final state of ``nn.RNN``/``nn.LSTM``/``nn.GRU``, ``h_n`` (and ``c_n``), is always
    ``(num_layers * num_directions, B, H)`` — **whatever** ``batch_first`` says: that flag only
    changes the layout of the input and of the per-step ``output``. So ``h_n[-1]`` is the last
    layer's final state for a one-directional network, and for a bidirectional one the last
    layer's forward and backward states are ``h_n[-2]`` and ``h_n[-1]``.
    """
    _check_sequence_batch(x)
    return x.transpose(0, 1)


@numpy_io
def to_batch_major(x: Tensor) -> Tensor:
    """``(T, B, D...)`` → ``(B, T, D...)``, the inverse of :func:`to_time_major` (a view)."""
    _check_sequence_batch(x)
    return x.transpose(0, 1)


def pack(x: Tensor, lengths: Any, *, enforce_sorted: bool = False) -> PackedSequence:
    """Pack a post-padded batch so that an ``nn.RNN/LSTM/GRU`` skips the padded steps.

    A thin wrapper over ``torch.nn.utils.rnn.pack_padded_sequence(batch_first=True)`` that
    validates first and puts ``lengths`` on the CPU, which torch requires even when ``x`` is on
    a GPU. With ``enforce_sorted=False`` torch sorts the batch itself and the RNN's ``h_n`` comes
    back in the original order.

    Args:
        x: ``(B, T, D)`` post-padded batch, on any device.
        lengths: ``(B,)`` integers in ``1..T`` (torch rejects empty sequences).
        enforce_sorted: require lengths in decreasing order (needed only for ONNX export).

    Returns:
        A ``PackedSequence`` to pass to the recurrent layer.
    """
    require("given", x=x)
    dims = check_args(x=(x, "B T D"))
    lengths = check_lengths(lengths, batch=dims["B"], max_len=dims["T"], min_len=1).cpu()
    if enforce_sorted and bool((lengths[1:] > lengths[:-1]).any()):
        raise ValueError(
            f"enforce_sorted=True needs lengths in decreasing order, got {lengths.tolist()}; "
            "sort the batch or pass enforce_sorted=False"
        )
    return pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)


def unpack(packed: PackedSequence, total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack`: a post-padded ``(B, T, ...)`` batch and its ``(B,)`` lengths.

    Args:
        packed: the ``PackedSequence`` (from :func:`pack` or a recurrent layer's output).
        total_length: pad to this ``T`` (e.g. the input's ``T``); ``None`` means the longest
            length. Padded steps are zero.

    Returns:
        ``(padded (B, T, ...), lengths (B,) int64 on the CPU)``, in the batch's original order.
    """
    if not isinstance(packed, PackedSequence):
        raise TypeError(f"packed must be a PackedSequence, got {type(packed).__name__}")
    longest = int(packed.batch_sizes.numel())
    if total_length is not None:
        require("int", total_length=total_length)
        if total_length < longest:
            raise ValueError(
                f"total_length is {total_length}, but the longest packed sequence has {longest} "
                "steps"
            )
    return pad_packed_sequence(packed, batch_first=True, total_length=total_length)


def pattern_output(pattern: str) -> str:
    """Which outputs of a recurrent layer an input/output pattern uses.

    ===========================  ==========  ===================================================
    pattern                      returns     meaning
    ===========================  ==========  ===================================================
    ``one-to-one``               ``"last"``  one step, one output (a feed-forward net, ``T = 1``)
    ``one-to-many``              ``"all"``   one input, an output at every generated step
                                             (captioning, music generation)
    ``many-to-one``              ``"last"``  read the last *valid* step only
                                             (``return_sequences=False``; sentiment,
                                             sequence classification)
    ``many-to-many-aligned``     ``"all"``   an output at every input step
                                             (``return_sequences=True``; per-frame labels)
    ``many-to-many-unaligned``   ``"state"`` the encoder's final state seeds a decoder, which
                                             then produces the outputs (translation)
    ===========================  ==========  ===================================================

    Args:
        pattern: one of the names above; case, spaces and underscores are forgiven
            (``"Many to one"`` and ``"many_to_one"`` work).

    Returns:
        ``"last"``, ``"all"`` or ``"state"``.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a string, got {type(pattern).__name__}")
    key = "-".join(pattern.lower().replace("_", " ").replace("-", " ").split())
    if key not in PATTERN_OUTPUTS:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {sorted(PATTERN_OUTPUTS)}")
    return PATTERN_OUTPUTS[key]
