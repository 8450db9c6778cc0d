"""Diagnosis beyond the named mistakes: where a wrong result is wrong, and how, in words.

When a student's result matches no named variant of a check, :func:`clues` looks at it with a
few generic lenses that apply to every part:

- **which outputs**: of a tuple or dict, which entries are wrong and which are right, and an
  output that holds what another one should (outputs in the wrong order);
- **a relation to the expected value**: a constant factor (1/B, 1/n: a mean for a sum), a
  flipped sign, lost signs, a square or a square root, a transpose, a reversal or a shift by one
  along an axis, gate blocks in another order, an activation (tanh, sigmoid, softmax) missing
  or applied twice;
- **a wrong shape**: an input's axes reversed (``.T`` on three axes), or the size of another
  named axis where one belongs (a loop over the batch instead of time);
- **a relation to the inputs**: equal to an argument the student had in hand (``h_prev``, the
  upstream gradient ``dh``, ...);
- **where**: which time steps (and whether the first or the last is right), which batch rows,
  which gate blocks of a ``(·, 4H)`` or ``(·, 3H)`` result.

Axes are named from the case: the course is batch first, so the first axis of the first
``(B, T, ·)`` input is the batch and its second is time; a result axis of the same size carries
the same name. Every clue is a sentence; an empty list means nothing generic was found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..device import to_tensors
from .compare import compare

_MAX_CLUES = 3
_MAX_LISTED = 8  # list which outputs are right only for results of a few arrays


def clues(
    got: Any,
    want: Any,
    inputs: dict[str, Any],
    *,
    gates: str = "",
    atol: float = 1e-8,
    rtol: float = 1e-6,
) -> list[str]:
    """Sentences saying where and how ``got`` differs from ``want`` (both already compared and
    found different in value). ``inputs`` are the case's arguments by name; ``gates`` names the
    blocks stacked on a last axis of ``len(gates) × H`` (e.g. ``"ifgo"``)."""
    leaves = dict(_leaves("the result", got, want))
    arrays = {name: v for name, v in _leaves_of_inputs(inputs)}
    axes = _axis_names(arrays)
    found: list[str] = []
    wrong = [name for name, (g, w) in leaves.items() if not _same_values(g, w, atol, rtol)]
    if len(leaves) > 1 and wrong and len(wrong) < len(leaves) and len(leaves) <= _MAX_LISTED:
        right = [name for name in leaves if name not in wrong]
        found.append(f"wrong: {_join(wrong)}; right: {_join(right)}")
    swapped = _swapped_outputs(leaves, wrong, atol, rtol)
    if swapped:
        found.append(swapped)
    hidden_sizes = {size for v in arrays.values() for size in v.shape}  # H, for gate blocks
    said: set[str] = set()  # the same clue about several outputs is said once
    for name in wrong:
        g, w = leaves[name]
        if not (isinstance(g, Tensor) and isinstance(w, Tensor)):
            continue
        if g.shape != w.shape:
            clue = _shape_clue(name, tuple(g.shape), tuple(w.shape), axes, arrays)
        elif not (w.is_floating_point() and torch.isfinite(g).all()):
            continue
        else:
            lens = _Lens(name, g, w, atol, rtol)
            clue = (
                lens.equal_input(arrays)
                or lens.relation(axes, gates, hidden_sizes)
                or lens.where(axes, gates, hidden_sizes)
            )
        if clue and clue.replace(name, "·") not in said:
            said.add(clue.replace(name, "·"))
            found.append(clue)
        if len(found) >= _MAX_CLUES:
            break
    return found[:_MAX_CLUES]


# ------------------------------------------------------------------------------ the leaves


def _as_tensor(value: Any) -> Any:
    """Arrays and tensors as float64/bool/int CPU tensors; anything else as it is."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return to_tensors(value)  # any strides or byte order (copied only where torch must)
    if isinstance(value, Tensor):
        return value.detach().cpu()
    return value


def _leaves(where: str, got: Any, want: Any) -> Iterator[tuple[str, tuple[Any, Any]]]:
    """(name, (got, want)) for every array or number in ``want``, paired with ``got``'s."""
    sequences = isinstance(want, (tuple, list)) and isinstance(got, (tuple, list))
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if key in got:
                yield from _leaves(f"{where}[{key!r}]", got[key], want[key])
    elif sequences and len(got) == len(want):
        fields = getattr(want, "_fields", None)
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            yield from _leaves(f"{where}.{fields[index]}" if fields else f"{where}[{index}]", g, w)
    else:
        yield where, (_as_tensor(got), _as_tensor(want))


def _leaves_of_inputs(inputs: dict[str, Any]) -> Iterator[tuple[str, Tensor]]:
    for name, value in inputs.items():
        if isinstance(value, dict):
            yield from ((f"{name}[{k!r}]", v) for k, v in _leaves_of_inputs(value))
        elif isinstance(value, (tuple, list)) and len(value) <= 16:
            yield from ((f"{name}[{i}]", v) for i, v in _leaves_of_inputs(dict(enumerate(value))))
        else:
            value = _as_tensor(value)
            if isinstance(value, Tensor) and value.is_floating_point():
                yield str(name), value


def _same_values(got: Any, want: Any, atol: float, rtol: float) -> bool:
    """Whether ``got`` holds the right values, whatever its dtype or device (those have their
    own messages: a float32 copy of the right values is not "wrong" here)."""
    try:
        if isinstance(got, Tensor) and isinstance(want, Tensor) and got.shape == want.shape:
            if got.dtype == torch.bool or want.dtype == torch.bool:
                return bool(torch.equal(got.bool(), want.bool()))
            return bool(
                torch.isclose(
                    got.double(), want.double(), rtol=rtol * 10, atol=atol * 10, equal_nan=True
                ).all()
            )
        return compare(got, want, numpy_part=False, atol=atol, rtol=rtol) is None
    except Exception:  # noqa: BLE001 -- an entry that cannot be compared is not "right"
        return False


def _swapped_outputs(
    leaves: dict[str, tuple[Any, Any]], wrong: list[str], atol: float, rtol: float
) -> str | None:
    """A wrong output that holds what another output should: outputs in the wrong order."""
    for name in wrong:
        got = leaves[name][0]
        for other, (_, want) in leaves.items():
            if (
                other != name
                and isinstance(want, Tensor)
                and isinstance(got, Tensor)
                and (want.numel() > 1 and _same_values(got, want, atol, rtol))
            ):
                return f"{name} holds what {other} should: are the outputs in the right order?"
    return None


def _shape_clue(
    name: str,
    got: tuple[int, ...],
    want: tuple[int, ...],
    axes: dict[int, str],
    inputs: dict[str, Tensor],
) -> str | None:
    """What a wrong shape suggests: axes reversed (``.T`` on 3+ axes), or an axis whose size is
    another named axis's (a loop or an index over the wrong axis)."""
    reversed_input = next((n for n, v in inputs.items() if v.ndim > 2 and got == v.shape[::-1]), "")
    if len(got) > 2 and (got == want[::-1] or reversed_input):
        whose = f"the input `{reversed_input}`" if reversed_input else "the expected result"
        return (
            f"{name} has the axes of {whose} in reverse order, which is what .T does to "
            "more than two axes: swap only the axes you mean (e.g. transpose(0, 1))"
        )
    if len(got) != len(want):
        return None
    differ = [axis for axis, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    if len(differ) != 1:
        return None
    axis = differ[0]
    g, w = got[axis], want[axis]
    if g in axes and w in axes and axes[g] != axes[w]:
        return (
            f"axis {axis} of {name} has the size of the {axes[g]}s ({g}) where the "
            f"{axes[w]}s ({w}) belong: a loop or an index over the wrong axis?"
        )
    return None


def _join(names: list[str]) -> str:
    return ", ".join(names)


def _axis_names(inputs: dict[str, Tensor]) -> dict[int, str]:
    """Axis size → name, from the first (B, T, ·) input (else the first (B, ·) input)."""
    for value in inputs.values():
        if value.ndim == 3 and value.shape[0] != value.shape[1]:
            return {value.shape[0]: "batch row", value.shape[1]: "time step"}
    for value in inputs.values():
        if value.ndim == 2:
            return {value.shape[0]: "batch row"}
    return {}


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``"0–2, 5"``."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


# ------------------------------------------------------------------------------ the lenses


class _Lens:
    """One wrong float array ``got`` against ``want`` (same shape), looked at several ways."""

    def __init__(self, name: str, got: Tensor, want: Tensor, atol: float, rtol: float) -> None:
        self.name, self.got, self.want = name, got.to(torch.float64), want.to(torch.float64)
        # Generous tolerances: a relation found is a hint, not a verdict.
        self.atol, self.rtol = max(atol, 1e-8) * 10, max(rtol, 1e-6) * 10

    def _close(self, a: Tensor, b: Tensor) -> bool:
        close = a.shape == b.shape and torch.isclose(a, b, rtol=self.rtol, atol=self.atol).all()
        return bool(close)

    def _axis(self, axis: int, axes: dict[int, str]) -> str:
        size = self.want.shape[axis]
        sizes = list(self.want.shape)
        if size in axes and sizes.count(size) == 1:
            return f"the {axes[size].split()[0]} axis ({axis})"
        return f"axis {axis}"

    def relation(self, axes: dict[int, str], gates: str, hidden: set[int]) -> str | None:
        """The whole of ``got`` is a simple transform of ``want``."""
        got, want, name = self.got, self.want, self.name
        if float(want.abs().max()) > 0 and want.numel() > 1:
            factor = float((got * want).sum() / (want * want).sum())
            if abs(factor - 1) > 1e-6 and self._close(got, factor * want):
                if abs(factor + 1) < 1e-6:
                    return f"{name} has the wrong sign: it is exactly −1 × the expected values"
                return (
                    f"{name} is {factor:.4g} × the expected values: a constant factor is "
                    f"wrong{self._factor_hint(factor, axes)}"
                )
        if want.ndim >= 2 and want.shape[-1] == want.shape[-2] and self._close(got, want.mT):
            return f"{name} is the transpose of the expected value (last two axes swapped)"
        for axis in range(want.ndim):
            if want.shape[axis] < 2:
                continue
            where = self._axis(axis, axes)
            if self._close(got, want.flip(axis)):
                return f"{name} is reversed along {where}"
            if want.shape[axis] > 2:
                late, early = (
                    want.narrow(axis, 1, want.shape[axis] - 1),
                    got.narrow(axis, 0, want.shape[axis] - 1),
                )
                if self._close(early, late):
                    return (
                        f"{name} is shifted by one along {where}: entry k holds what belongs "
                        "at k + 1"
                    )
                if self._close(
                    got.narrow(axis, 1, want.shape[axis] - 1),
                    want.narrow(axis, 0, want.shape[axis] - 1),
                ):
                    return (
                        f"{name} is shifted by one along {where}: entry k holds what belongs "
                        "at k − 1"
                    )
        order = self._block_order(gates, hidden)
        if order:
            return (
                f"{name} has its gate blocks in the order {', '.join(order)}; expected "
                f"{', '.join(gates)}"
            )
        if bool((want < 0).any()) and self._close(got, want.abs()):
            return f"{name} has lost its signs: it is |the expected values|"
        if self._close(got, want * want):
            return f"{name} is the square of the expected values: a square root missing?"
        if bool((want >= 0).all()) and self._close(got, want.sqrt()):
            return f"{name} is the square root of the expected values: a square missing?"
        if want.ndim >= 1 and want.shape[-1] > 1:
            if self._close(got, torch.softmax(want, -1)):
                return (
                    f"{name} is the softmax of the expected values: return the raw scores "
                    "(logits); the loss or the sampler applies the softmax"
                )
            if self._close(got, torch.log_softmax(want, -1)):
                return f"{name} is the log-softmax of the expected values: return the raw scores"
        for activation, words in ((torch.tanh, "tanh"), (torch.sigmoid, "sigmoid")):
            if self._close(activation(got), want):
                return f"{name} is the pre-activation: {words} was not applied to it"
            if self._close(got, activation(want)):
                return f"{name} has {words} applied once too often"
        return None

    def _factor_hint(self, factor: float, axes: dict[int, str]) -> str:
        for size, axis in axes.items():
            if abs(factor * size - 1) < 1e-6:
                return f" (1/{size}: divided by the number of {axis}s, a mean instead of a sum?)"
            if abs(factor - size) < 1e-6:
                return f" ({size}: summed over {axis}s where each counts once?)"
        if abs(factor - 2) < 1e-6 or abs(factor - 0.5) < 1e-6:
            return " (a term counted twice, or half of it missing?)"
        count = round(1 / factor) if 0 < factor < 1 else round(factor)
        if 2 < count <= 10_000 and abs(factor * count - 1) < 1e-6 * count:
            return f" (1/{count}: divided by a count, a mean where a sum is expected?)"
        if 2 < count <= 10_000 and abs(factor - count) < 1e-6 * count:
            return f" ({count}: a sum where a mean is expected, or counted {count} times?)"
        return ""

    def _blocks(self, gates: str, hidden: set[int]) -> int:
        """The width of one gate block of the last axis, or 0 if it does not stack ``gates``."""
        if not gates or self.want.ndim < 1:
            return 0
        width, rest = divmod(self.want.shape[-1], len(gates))
        return width if rest == 0 and width in hidden and width > 1 else 0

    def _block_order(self, gates: str, hidden: set[int]) -> list[str] | None:
        width = self._blocks(gates, hidden)
        if not width:
            return None
        got_blocks, want_blocks = self.got.split(width, -1), self.want.split(width, -1)
        order = []
        for g in got_blocks:
            match = [gate for gate, w in zip(gates, want_blocks, strict=True) if self._close(g, w)]
            if len(match) != 1:
                return None
            order.append(match[0])
        return order if sorted(order) == sorted(gates) and order != list(gates) else None

    def equal_input(self, inputs: dict[str, Tensor]) -> str | None:
        for input_name, value in inputs.items():
            if value.shape == self.got.shape and self._close(self.got, value.to(torch.float64)):
                return f"{self.name} equals the input `{input_name}`, unchanged"
            if value.shape == self.got.shape and self._close(self.got, -value.to(torch.float64)):
                return f"{self.name} equals minus the input `{input_name}`"
        return None

    def where(self, axes: dict[int, str], gates: str, hidden: set[int]) -> str | None:
        """Which part of ``got`` is wrong, along the axis where the errors are most confined."""
        wrong = ~torch.isclose(self.got, self.want, rtol=self.rtol / 10, atol=self.atol / 10)
        width = self._blocks(gates, hidden)
        if width:
            bad = [
                gate
                for gate, block in zip(gates, wrong.split(width, -1), strict=True)
                if bool(block.any())
            ]
            if bad and len(bad) < len(gates):
                good = [g for g in gates if g not in bad]
                return (
                    f"in {self.name}, the {', '.join(bad)} block{'s' * (len(bad) > 1)} "
                    f"{'are' if len(bad) > 1 else 'is'} wrong; the {', '.join(good)} "
                    f"block{'s' * (len(good) > 1)} {'are' if len(good) > 1 else 'is'} right"
                )
        candidates = []
        for axis in range(wrong.ndim):
            size = wrong.shape[axis]
            if size < 2:
                continue
            along = wrong.movedim(axis, 0).reshape(size, -1).any(dim=1)
            bad = [i for i in range(size) if bool(along[i])]
            if len(bad) < size:
                candidates.append((len(bad) / size, axis, bad))
        if not candidates or not bool(wrong.any()):
            return None
        _, axis, bad = min(candidates)
        return self._say_where(axis, bad, axes)

    def _say_where(self, axis: int, bad: list[int], axes: dict[int, str]) -> str:
        size = self.want.shape[axis]
        label = axes.get(size, "") if list(self.want.shape).count(size) == 1 else ""
        good = [i for i in range(size) if i not in bad]
        noun = label.split()[-1] if label else "index"

        def say(indices: list[int], verdict: str) -> str:
            many = len(indices) > 1
            plural = ("indices" if noun == "index" else f"{noun}s") if many else noun
            return f"{plural} {_ranges(indices)} {'are' if many else 'is'} {verdict}"

        along = "" if label else f" along axis {axis}"
        text = f"in {self.name}{along}, {say(good, 'right')} and {say(bad, 'wrong')}"
        if label == "time step":
            if good == list(range(len(good))):
                hint = (
                    "your first step is right, later ones are not: check what is carried "
                    "from one step to the next"
                    if len(good) == 1
                    else f"the error starts at step {bad[0]}: what changes there?"
                )
                return f"{text}; {hint}"
            if bad == list(range(len(bad))):
                return (
                    f"{text}; the last steps are right, earlier ones are not: is what flows "
                    "back from later steps carried (and added) into earlier ones?"
                )
        if label == "batch row":
            return f"{text}: what is different about the wrong samples?"
        return text
