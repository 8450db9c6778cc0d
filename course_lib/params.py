"""Parameter counts of recurrent layers, as formulas, in the course, PyTorch and Keras conventions.

One layer and direction with ``k`` gate blocks (RNN 1, GRU 3, LSTM and peephole LSTM 4), input
size ``D`` and ``H`` units has::

    weights   k·H·D + k·H·H        (W_x is D×kH, W_h is H×kH)
    biases    n_b·k·H              n_b = number of bias vectors
    peepholes 3·H                  (peephole LSTM only)

    total = k·H·(D + H + n_b) (+ 3H)

``n_b`` is where the conventions differ (with ``bias=True``):

* course (the cell functions of chapters 2–6) and Keras: one bias, ``n_b = 1``, except the GRU
  in the cuDNN form (``reset_after=True``) which needs two, ``n_b = 2``, because ``b_hn`` sits
  inside the reset gate;
* torch: always two (``bias_ih`` and ``bias_hh``), ``n_b = 2``;
* layers: the course's ``nn.Module`` layers (:mod:`course_lib.layers`) store two biases
  (``b_x``, ``b_h``) as torch does, ``n_b = 2``, but for every kind they have: the peephole
  LSTM (plus its ``3H`` peepholes) and both GRU forms.

Example: a 3-unit RNN on 2 inputs has 2·3 + 3·3 = 15 weights, 18 parameters with one bias and 21
in torch. Layer ``l > 0`` of a stack reads the previous layer's output, ``D = num_directions·H``;
a bidirectional layer has two sets of everything.
"""

from __future__ import annotations

from torch import nn

from .sequence import GATES
from .shapes import require

CONVENTIONS = ("course", "torch", "keras", "layers")


def _biases(kind: str, convention: str, reset_after: bool) -> int:
    if convention in ("torch", "layers"):
        return 2
    return 2 if kind == "gru" and reset_after else 1


def count_params(
    kind: str | nn.Module,
    input_size: int | None = None,
    hidden_size: int | None = None,
    *,
    bias: bool = True,
    convention: str = "course",
    num_layers: int = 1,
    bidirectional: bool = False,
    reset_after: bool = True,
) -> int:
    """Number of trainable parameters of a recurrent layer (formulas in the module docstring).

    Args:
        kind: "rnn", "lstm", "gru" or "peephole_lstm"; or an ``nn.Module``, whose parameters are
            then simply counted (:func:`count_module_params`) and the other arguments unused.
        input_size: ``D``; hidden_size: ``H``.
        bias: whether the layer has biases.
        convention: "course", "torch", "keras" or "layers" (how many bias vectors, see above;
            "layers" counts the course's own ``nn.Module`` layers, e.g. ``PeepholeLSTM``).
        num_layers, bidirectional: stacking, as in ``torch.nn.LSTM``.
        reset_after: GRU form; decides one or two biases in the course and Keras conventions.

    Returns:
        The total count.

    Raises:
        TypeError: a size is missing (None) or not an integer.
        ValueError: unknown kind or convention, sizes below 1, or a cell the convention's library
            does not have (torch has no peephole LSTM and only the reset-after GRU; Keras has no
            peephole LSTM layer).
    """
    if isinstance(kind, nn.Module):
        return count_module_params(kind)
    if kind not in GATES:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(GATES)}")
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {CONVENTIONS}")
    require("int", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
    if min(input_size, hidden_size, num_layers) < 1:
        raise ValueError(
            f"input_size, hidden_size and num_layers must be >= 1, got {input_size}, "
            f"{hidden_size}, {num_layers}"
        )
    if kind == "peephole_lstm" and convention not in ("course", "layers"):
        raise ValueError(
            f"{convention} has no peephole LSTM layer; use convention='course' (the cell "
            "functions) or 'layers' (the course's PeepholeLSTM module)"
        )
    if kind == "gru" and convention == "torch" and not reset_after:
        raise ValueError("torch.nn.GRU only has the reset-after form; use reset_after=True")
    k, hidden = GATES[kind], hidden_size
    directions = 2 if bidirectional else 1
    n_b = _biases(kind, convention, reset_after) if bias else 0
    peepholes = 3 * hidden if kind == "peephole_lstm" else 0
    total = 0
    for layer in range(num_layers):
        in_size = input_size if layer == 0 else directions * hidden
        total += directions * (k * hidden * (in_size + hidden + n_b) + peepholes)
    return total


def count_module_params(module: nn.Module, *, trainable_only: bool = True) -> int:
    """Sum of ``p.numel()`` over a module's parameters (only those with ``requires_grad`` unless
    ``trainable_only=False``)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
