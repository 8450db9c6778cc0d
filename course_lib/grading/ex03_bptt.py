"""Checks for exercise 03, backpropagation through time (references: :mod:`course_lib.backward`,
:mod:`course_lib.gradients`, :mod:`course_lib.bptt`).

Parts: ``rnn_cell_backward``, ``rnn_backward``, ``numerical_gradient`` and ``relative_error``
(numpy), ``tbptt_epoch`` (PyTorch). :class:`TinyRNN` is the model the last part trains.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import backward, bptt, gradients
from ..models import Smooth, TinyRNN
from .assignment import Assignment
from .check import Case, Check, Variant
from .variants import with_output

B, T, D, H = 3, 5, 2, 4


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _weights(gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    return _randn(gen, D, H) / D**0.5, _randn(gen, H, H) / H**0.5, _randn(gen, H) * 0.5


# -------------------------------------------------------------------------- rnn_cell_backward


def _cell_case(gen: torch.Generator) -> Case:
    x, h_prev = _randn(gen, B, D), _randn(gen, B, H)
    _, cache = backward.rnn_cell_forward_cached(x, h_prev, *_weights(gen))
    return Case({"dh": _randn(gen, B, H), "cache": cache})


_CELL_BACKWARD = backward.rnn_cell_backward
RNN_CELL_BACKWARD = (
    Check(
        "gradients of one step",
        _CELL_BACKWARD,
        _cell_case,
        (
            Variant(
                "the tanh derivative is missing: da = dh * (1 - h**2), since tanh' = 1 - tanh²",
                lambda dh, cache: _CELL_BACKWARD(dh / (1 - cache.h**2), cache),
            ),
            Variant(
                "dh_prev must be da @ W_h.T: the forward pass computed h_prev @ W_h",
                lambda dh, cache: _CELL_BACKWARD(dh, cache._replace(W_h=cache.W_h.T)),
            ),
            Variant(
                "dW_h must be h_prev.T @ da (the state that entered the step), not h.T @ da",
                lambda dh, cache: {
                    **_CELL_BACKWARD(dh, cache),
                    "dW_h": _CELL_BACKWARD(dh, cache._replace(h_prev=cache.h))["dW_h"],
                },
            ),
            Variant(
                "tanh was applied to h again: the cache holds h = tanh(a) already, so "
                "tanh'(a) = 1 - h**2, not 1 - tanh(h)**2",
                lambda dh, cache: _CELL_BACKWARD(dh, cache._replace(h=torch.tanh(cache.h))),
            ),
            Variant(
                "h and h_prev were swapped when reading the cache: da uses the new state, "
                "dh * (1 - h**2), and dW_h the state that entered the step, h_prev",
                lambda dh, cache: _CELL_BACKWARD(
                    dh, cache._replace(h=cache.h_prev, h_prev=cache.h)
                ),
            ),
        ),
        numpy=True,
    ),
)

# ------------------------------------------------------------------------------- rnn_backward


def _sequence_case(gen: torch.Generator) -> Case:
    x, h0 = _randn(gen, B, T, D), _randn(gen, B, H)
    _, caches = backward.rnn_forward_cached(x, h0, *_weights(gen))
    return Case({"dh_seq": _randn(gen, B, T, H), "caches": caches})


def _bptt(
    dh_seq: Tensor,
    caches: list,
    *,
    carry: bool = True,
    accumulate: bool = True,
    backwards: bool = True,
) -> dict:
    """Backpropagation through time with one of its steps switched off, or run forward in time,
    for the variants."""
    dh_next, dxs, grads = torch.zeros_like(dh_seq[:, 0]), {}, {}
    steps = range(dh_seq.shape[1])
    for t in reversed(steps) if backwards else steps:
        step = _CELL_BACKWARD(dh_seq[:, t] + (dh_next if carry else 0), caches[t])
        dxs[t] = step.pop("dx")
        dh_next = step.pop("dh_prev")
        grads = {k: grads[k] + g if accumulate and grads else g for k, g in step.items()}
    return {"dx": torch.stack([dxs[t] for t in steps], dim=1), "dh0": dh_next, **grads}


RNN_BACKWARD = (
    Check(
        "gradients through time",
        backward.rnn_backward,
        _sequence_case,
        (
            Variant(
                "the gradient from the next step is not added: dL/dh_t = dh_seq[:, t] + the "
                "dh_prev that step t+1 sends back",
                lambda dh_seq, caches: _bptt(dh_seq, caches, carry=False),
            ),
            Variant(
                "the weight gradients are not summed over time: W_x, W_h and b are shared by "
                "every step, so add each step's gradient",
                lambda dh_seq, caches: _bptt(dh_seq, caches, accumulate=False),
            ),
            Variant(
                "the loop ran forward in time: the backward pass starts at the last step and "
                "walks back, for t in reversed(range(T)), carrying dh_prev to step t - 1",
                lambda dh_seq, caches: _bptt(dh_seq, caches, backwards=False),
            ),
        ),
        numpy=True,
        stand_ins={"rnn_cell_backward": _CELL_BACKWARD},
    ),
)

# ------------------------------------------------------------------------- numerical_gradient


def _function_case(shape: tuple[int, ...], **options: float):
    def make(gen: torch.Generator) -> Case:
        return Case({"f": Smooth(shape, generator=gen), "x": _randn(gen, *shape)}, dict(options))

    return make


def _one_sided(f, x, eps=1e-6):
    """Forward differences (f(x + eps) - f(x)) / eps: error O(eps) instead of O(eps²)."""
    point, grad = x.clone(), torch.zeros_like(x)
    for i in range(x.numel()):
        bumped = point.clone()
        bumped.view(-1)[i] += eps
        grad.view(-1)[i] = (f(bumped) - f(point)) / eps
    return grad


def _not_restored(f, x, eps=1e-6):
    """Centred differences that leave each entry at x - eps afterwards."""
    point, grad = x.clone(), torch.zeros_like(x)
    for i in range(x.numel()):
        original = point.view(-1)[i].clone()
        point.view(-1)[i] = original + eps
        plus = f(point)
        point.view(-1)[i] = original - eps
        grad.view(-1)[i] = (plus - f(point)) / (2 * eps)
    return grad


_NUMERICAL = gradients.numerical_gradient
_NUMERICAL_VARIANTS = (
    with_output(
        _NUMERICAL,
        "divided by eps instead of 2·eps: the centred difference spans 2·eps",
        lambda grad, args: 2 * grad,
    ),
    Variant(
        "one-sided difference (f(x + eps) - f(x)) / eps; use the centred difference "
        "(f(x + eps) - f(x - eps)) / (2·eps)",
        _one_sided,
    ),
    Variant(
        "x[index] was not put back after the two evaluations, so every later entry was "
        "differentiated at a shifted point: restore x[index] = original",
        _not_restored,
    ),
)
NUMERICAL_GRADIENT = (
    Check(
        "x of shape (3, 4), eps=1e-4",
        _NUMERICAL,
        _function_case((3, 4), eps=1e-4),
        _NUMERICAL_VARIANTS,
        numpy=True,
        atol=1e-8,
        rtol=1e-7,
    ),
    Check(
        "x of shape (2, 3, 2), default eps",
        _NUMERICAL,
        _function_case((2, 3, 2)),
        _NUMERICAL_VARIANTS[:1],
        numpy=True,
        atol=1e-8,
        rtol=1e-7,
    ),
)

# ----------------------------------------------------------------------------- relative_error


def _pair_case(zero: bool, sign: float = 1.0):
    """Two (3, 4) arrays; their largest difference a − b has the sign ``sign`` (so a signed
    max instead of max |a − b| shows on one of the two checks)."""

    def make(gen: torch.Generator) -> Case:
        if zero:
            a = torch.zeros(3, 4, dtype=torch.float64)
            return Case({"a": a, "b": a.clone()})
        a, step = _randn(gen, 3, 4), 1e-3 * _randn(gen, 3, 4)
        step *= -sign * torch.sign(step.flatten()[step.abs().argmax()])
        return Case({"a": a, "b": a + step})

    return make


def _unrelated_case(gen: torch.Generator) -> Case:
    """Independent arrays: max |a| + max |b| then differs from max(|a| + |b|)."""
    a, b = _randn(gen, 3, 4), _randn(gen, 3, 4)
    a.view(-1)[0], b.view(-1)[1] = 5.0, -5.0  # the largest entries in different places
    return Case({"a": a, "b": b})


_RELATIVE = gradients.relative_error
_RELATIVE_VARIANTS = (
    Variant(
        "the mean difference was used; take the largest, max |a - b|",
        lambda a, b: float((a - b).abs().mean() / (a.abs() + b.abs()).max()),
    ),
    Variant(
        "divided by max |a| only; divide by max(|a| + |b|), which is symmetric",
        lambda a, b: float((a - b).abs().max() / a.abs().max()),
    ),
    Variant(
        "the largest signed difference was used; take the largest in absolute value, max |a - b|",
        lambda a, b: float((a - b).max() / (a.abs() + b.abs()).max()),
    ),
    Variant(
        "the largest element-wise ratio |a - b| / (|a| + |b|) (CS231n's form); this part "
        "divides the largest difference by the largest sum, max |a - b| / max(|a| + |b|)",
        lambda a, b: float(((a - b).abs() / (a.abs() + b.abs()).clamp(min=1e-8)).max()),
    ),
    Variant(
        "the denominator added the two maxima, max |a| + max |b|; it is the largest sum, "
        "max(|a| + |b|), taken entry by entry",
        lambda a, b: float((a - b).abs().max() / (a.abs().max() + b.abs().max())),
    ),
)
RELATIVE_ERROR = (
    Check(
        "two close gradients, a − b largest where it is positive",
        _RELATIVE,
        _pair_case(False, sign=1.0),
        _RELATIVE_VARIANTS,
        numpy=True,
        atol=1e-12,
        rtol=1e-9,
    ),
    Check(
        "two close gradients, a − b largest where it is negative",
        _RELATIVE,
        _pair_case(False, sign=-1.0),
        _RELATIVE_VARIANTS,
        numpy=True,
        atol=1e-12,
        rtol=1e-9,
    ),
    Check(
        "two unrelated arrays (the largest |a| and |b| sit at different entries)",
        _RELATIVE,
        _unrelated_case,
        _RELATIVE_VARIANTS,
        numpy=True,
        atol=1e-12,
        rtol=1e-9,
    ),
    Check(
        "two zero arrays (0/0 must give 0)",
        _RELATIVE,
        _pair_case(True),
        (
            Variant(
                "0/0 gave NaN: guard the denominator, max(…, np.finfo(float).tiny)",
                lambda a, b: float("nan"),
            ),
        ),
        numpy=True,
        atol=1e-12,
        rtol=1e-9,
    ),
)

# -------------------------------------------------------------------------------- tbptt_epoch


def _training_case(gen: torch.Generator) -> Case:
    model = TinyRNN(generator=gen)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _randn(gen, B, 10, D), _randn(gen, B, 10, 1)
    return Case({"model": model, "x": x, "y": y, "chunk_len": 3, "optimizer": optimizer})


def _reference_epoch(model, x, y, chunk_len, optimizer):
    return bptt.truncated_bptt_epoch(model, x, y, chunk_len, F.mse_loss, optimizer)


def _chunk_losses(
    model,
    x,
    y,
    chunk_len,
    optimizer,
    *,
    carry: bool = True,
    zero_grad: str = "before backward",
    short_last: bool = True,
) -> list[float]:
    """The loss of each chunk, in order, as the notebook's tbptt_epoch returns them; the
    options build the variants (``zero_grad`` "before backward", "never" or "before step")."""
    losses = []
    state = None
    for x_chunk, y_chunk in zip(x.split(chunk_len, 1), y.split(chunk_len, 1), strict=True):
        if x_chunk.shape[1] < chunk_len and not short_last:
            break
        if zero_grad == "before backward":
            optimizer.zero_grad()
        output, state = model(x_chunk, bptt.detach_state(state) if carry else None)
        loss = F.mse_loss(output, y_chunk)
        loss.backward()
        if zero_grad == "before step":
            optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _trained_parameters(case: Case, result: object) -> dict[str, Tensor]:
    return {name: p.detach() for name, p in case.args["model"].named_parameters()}


_TBPTT_VARIANTS = (
    Variant(
        "the state was not carried: every chunk started from zeros; pass the previous "
        "chunk's final state on (detached)",
        lambda *args: _chunk_losses(*args, carry=False),
    ),
    Variant(
        "optimizer.zero_grad() is missing: each chunk's gradients were added to the previous ones'",
        lambda *args: _chunk_losses(*args, zero_grad="never"),
    ),
    Variant(
        "no step used its chunk's gradients (as when optimizer.zero_grad() runs between "
        "backward() and step(), or step() before backward()): zero, backward(), then step()",
        lambda *args: _chunk_losses(*args, zero_grad="before step"),
    ),
    Variant(
        "the short last chunk was skipped: x.split(chunk_len, dim=1), or range(0, T, "
        "chunk_len), also gives the last T % chunk_len steps",
        lambda *args: _chunk_losses(*args, short_last=False),
    ),
)
_DETACH_HINT = (
    (
        "modified by an inplace operation",
        "the carried state still holds the previous chunk's graph: detach it",
    ),
)
TBPTT_EPOCH = (
    Check(
        "parameters after one epoch of truncated BPTT (chunks of 3 steps)",
        _reference_epoch,
        _training_case,
        _TBPTT_VARIANTS,
        observe=_trained_parameters,
        hints=_DETACH_HINT,
    ),
    Check(
        "the returned losses: one float per chunk, in order, the short last chunk included",
        _chunk_losses,
        _training_case,
        _TBPTT_VARIANTS,
        hints=_DETACH_HINT,
    ),
)

ASSIGNMENT = Assignment(
    "03_bptt",
    {
        "rnn_cell_backward": RNN_CELL_BACKWARD,
        "rnn_backward": RNN_BACKWARD,
        "numerical_gradient": NUMERICAL_GRADIENT,
        "relative_error": RELATIVE_ERROR,
        "tbptt_epoch": TBPTT_EPOCH,
    },
)
#: What this module gives the notebook besides the checks (importable in the grading sandbox).
GIVEN = {"TinyRNN": TinyRNN}
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
