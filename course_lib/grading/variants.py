"""Builders for :class:`~course_lib.grading.check.Variant`: a reference with one mistake in it.

Most mistakes students make in this course are one of a few kinds, so each builder takes the
reference and describes the mistake as a change to its *inputs* or to its *output*:

    with_inputs(rnn_cell_forward, "W_h is used transposed", W_h=transpose)
    with_inputs(pad_sequences, "padding went at the end instead of the start", padding="post")
    with_output(rnn_cell_forward, "tanh is missing", lambda h, args: torch.atanh(h))

Variants always run on torch tensors (the reference side of a check), so transforms use torch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .check import Variant


def _bind(fn: Callable[..., Any], args: tuple, kwargs: dict) -> inspect.BoundArguments:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def with_inputs(reference: Callable[..., Any], mistake: str, **changes: Any) -> Variant:
    """The reference called with some arguments changed.

    Each keyword names a parameter of ``reference``; its value is either a function applied to
    the argument (``W_h=transpose``) or a constant that replaces it (``padding="post"``).
    """

    def mistaken(*args: Any, **kwargs: Any) -> Any:
        bound = _bind(reference, args, kwargs)
        for name, change in changes.items():
            bound.arguments[name] = change(bound.arguments[name]) if callable(change) else change
        return reference(*bound.args, **bound.kwargs)

    return Variant(mistake, mistaken)


def with_output(
    reference: Callable[..., Any], mistake: str, transform: Callable[[Any, dict[str, Any]], Any]
) -> Variant:
    """The reference's output passed through ``transform(output, arguments_by_name)``."""

    def mistaken(*args: Any, **kwargs: Any) -> Any:
        bound = _bind(reference, args, kwargs)
        return transform(reference(*bound.args, **bound.kwargs), dict(bound.arguments))

    return Variant(mistake, mistaken)


# Transforms used by many assignments.


def transpose(W: Tensor) -> Tensor:
    """Swap the last two axes (a weight used as ``W.T``)."""
    return W.transpose(-2, -1)


def permute_blocks(order: str, correct: str) -> Callable[[Tensor], Tensor]:
    """Reorder stacked gate blocks on the last axis: weights written in ``order``, read as
    ``correct`` (e.g. ``permute_blocks("ifog", "ifgo")`` for CS231n order fed to PyTorch order).
    """

    def permute(W: Tensor) -> Tensor:
        blocks = dict(zip(order, W.chunk(len(order), dim=-1), strict=True))
        return torch.cat([blocks[gate] for gate in correct], dim=-1)

    return permute


def reverse_time(x: Tensor, axis: int = 1) -> Tensor:
    """Flip the time axis (``(B, T, ...)`` by default)."""
    return x.flip(axis)
