"""Checks for exercise 01, sequences and their shapes (references: :mod:`course_lib.shapes`).

Parts: ``pad_sequences`` (numpy), ``lengths_to_mask``, ``last_valid_step``, ``to_time_major``
(PyTorch) and ``pattern_output`` (plain Python).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import shapes
from .assignment import Assignment
from .check import Case, Check, Variant
from .variants import with_inputs, with_output

# ---------------------------------------------------------------------------- pad_sequences


def _sequences(gen: torch.Generator) -> list[Tensor]:
    """2-4 sequences of 1-6 steps of 2 features; one is always the longest by 2 steps or more."""
    count = int(torch.randint(2, 5, (1,), generator=gen))
    lengths = torch.randint(1, 5, (count,), generator=gen)
    lengths[int(torch.randint(0, count, (1,), generator=gen))] = 6
    return [torch.randn(int(n), 2, generator=gen, dtype=torch.float64) for n in lengths]


def _pad_case(**options: object):
    def make(gen: torch.Generator) -> Case:
        return Case({"sequences": _sequences(gen)}, dict(options))

    return make


def _pad_check(what: str, options: dict, *variants: Variant) -> Check:
    return Check(what, shapes.pad_sequences, _pad_case(**options), variants, numpy=True)


_PAD = shapes.pad_sequences
PAD_SEQUENCES = (
    _pad_check(
        "padding='pre' (the default, as in Keras)",
        {},
        with_inputs(
            _PAD,
            "the padding went after the sequence; the default, 'pre', puts it before",
            padding="post",
        ),
        Variant(
            "T was taken from the first sequence; without maxlen, T is the length of the longest",
            lambda sequences, **options: _PAD(
                sequences, **{**options, "maxlen": len(sequences[0])}
            ),
        ),
    ),
    _pad_check(
        "padding='post'",
        {"padding": "post"},
        with_inputs(
            _PAD, "the padding went before the sequence; 'post' puts it after", padding="pre"
        ),
    ),
    _pad_check(
        "truncating='pre' with maxlen=4",
        {"maxlen": 4, "padding": "post"},
        with_inputs(
            _PAD,
            "long sequences kept their first steps; truncating='pre' drops "
            "the first steps and keeps the last maxlen",
            truncating="post",
        ),
        with_inputs(_PAD, "maxlen was ignored", maxlen=None),
    ),
    _pad_check(
        "truncating='post' with maxlen=3",
        {"maxlen": 3, "truncating": "post"},
        with_inputs(
            _PAD,
            "long sequences kept their last steps; truncating='post' keeps the first maxlen steps",
            truncating="pre",
        ),
        with_inputs(_PAD, "maxlen was ignored", maxlen=None),
    ),
    _pad_check(
        "value=-1.0",
        {"value": -1.0, "padding": "post"},
        with_inputs(_PAD, "the padding value was ignored (padded with 0)", value=0.0),
    ),
)

# -------------------------------------------------------------------------- lengths_to_mask


def _lengths_case(with_max_len: bool):
    def make(gen: torch.Generator) -> Case:
        lengths = torch.randint(1, 7, (4,), generator=gen)
        options = {"max_len": int(lengths.max()) + 2} if with_max_len else {}
        return Case({"lengths": lengths}, options)

    return make


def _mask_inclusive(lengths: Tensor, max_len: int | None = None) -> Tensor:
    steps = torch.arange(int(lengths.max()) if max_len is None else max_len, device=lengths.device)
    return steps[None, :] <= lengths[:, None]


_MASK_VARIANTS = (
    with_output(
        shapes.lengths_to_mask,
        "the mask is inverted: True must mark the real steps, False the padding",
        lambda mask, args: ~mask,
    ),
    Variant(
        "off by one: `t <= length` marks one padded step as real; step t is real when t < length",
        _mask_inclusive,
    ),
)
LENGTHS_TO_MASK = (
    Check(
        "max_len=None (T is the longest length)",
        shapes.lengths_to_mask,
        _lengths_case(False),
        _MASK_VARIANTS,
    ),
    Check(
        "max_len longer than every sequence",
        shapes.lengths_to_mask,
        _lengths_case(True),
        (
            *_MASK_VARIANTS,
            with_inputs(
                shapes.lengths_to_mask,
                "max_len was ignored: when it is given, the mask has "
                "max_len columns (steps), however short the sequences",
                max_len=None,
            ),
        ),
    ),
)

# -------------------------------------------------------------------------- last_valid_step


def _outputs_case(gen: torch.Generator) -> Case:
    batch, steps = 5, 6
    lengths = torch.randint(1, steps, (batch,), generator=gen)
    lengths[0] = steps  # one full-length sample: reading index `lengths` then runs off the end
    outputs = torch.randn(batch, steps, 3, generator=gen, dtype=torch.float64)
    return Case({"outputs": outputs, "lengths": lengths})


LAST_VALID_STEP = (
    Check(
        "post-padded outputs of different lengths",
        shapes.last_valid_step,
        _outputs_case,
        (
            Variant(
                "read outputs[:, -1], the last step, which is padding for shorter sequences",
                lambda outputs, lengths: outputs[:, -1],
            ),
            Variant("read outputs[:, 0], the first step", lambda outputs, lengths: outputs[:, 0]),
            Variant(
                "outputs[:, lengths - 1] takes the steps of every length for every sample "
                "(a (B, B, H) block): index both axes, outputs[torch.arange(B), lengths - 1]",
                lambda outputs, lengths: outputs[:, lengths - 1],
            ),
        ),
        hints=(
            (
                "out of bounds",
                "an index runs past the end of an axis, an off-by-one in "
                "time or an index on the wrong axis: sample b's last real step is at index "
                "lengths[b] - 1 of the time axis (axis 1); the batch index goes on axis 0",
            ),
        ),
    ),
)

# ---------------------------------------------------------------------------- to_time_major


def _batch_case(*trailing: int):
    def make(gen: torch.Generator) -> Case:
        return Case({"x": torch.randn(3, 5, *trailing, generator=gen, dtype=torch.float64)})

    return make


_RESHAPED = with_output(
    shapes.to_time_major,
    "x was reshaped instead of transposed: reshape "
    "keeps the memory order, so steps of different samples get mixed up",
    lambda out, args: args["x"].reshape(out.shape),
)
_MORE_AXES = (
    (
        "does not match the length of the desired ordering",
        "x may have more than three axes: swap only the first two, x.transpose(0, 1)",
    ),
)
TO_TIME_MAJOR = (
    Check("(B, T, D) → (T, B, D)", shapes.to_time_major, _batch_case(2), (_RESHAPED,)),
    Check(
        "(B, T, H, W) → (T, B, H, W), e.g. video frames",
        shapes.to_time_major,
        _batch_case(2, 4),
        (_RESHAPED,),
        hints=_MORE_AXES,
    ),
)

# ---------------------------------------------------------------------------- pattern_output


def _pattern_check(pattern: str, wrong: str, mistake: str) -> Check:
    return Check(
        f"pattern {pattern!r}",
        shapes.pattern_output,
        lambda gen: Case({"pattern": pattern}),
        (Variant(mistake, lambda p: wrong),),
    )


PATTERN_OUTPUT = (
    _pattern_check("one-to-one", "all", "one-to-one has a single step: its one (last) output"),
    _pattern_check(
        "one-to-many",
        "last",
        "one-to-many (e.g. captioning) emits an output at every generated step",
    ),
    _pattern_check(
        "many-to-one",
        "all",
        "many-to-one (e.g. sentiment) reads only the last valid step, not every step",
    ),
    _pattern_check(
        "many-to-many-aligned",
        "last",
        "aligned many-to-many (per-frame labels) needs the output at every step",
    ),
    _pattern_check(
        "many-to-many-unaligned",
        "all",
        "unaligned many-to-many (translation): the "
        "encoder's final state seeds the decoder; its per-step outputs are not used",
    ),
)

ASSIGNMENT = Assignment(
    "01_sequence_shapes",
    {
        "pad_sequences": PAD_SEQUENCES,
        "lengths_to_mask": LENGTHS_TO_MASK,
        "last_valid_step": LAST_VALID_STEP,
        "to_time_major": TO_TIME_MAJOR,
        "pattern_output": PATTERN_OUTPUT,
    },
)
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
