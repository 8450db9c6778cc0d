"""Argument checks that fail with a sentence, not a broadcasting error from deep inside torch.

Shapes are written as strings of named dimensions, e.g. ``"B D"`` or ``"H 4H"``. The first
argument that uses a name binds it; later arguments must agree, and the message says where the
binding came from::

    dims = check_args(x=(x, "B D"), h_prev=(h_prev, "B H"), W_x=(W_x, "D H"))
    # W_x of shape (3, 5) raises:
    # ValueError: W_x has shape (3, 5), expected (D, H) = (5, 3) (D=5 from x, H=3 from h_prev)
"""

from __future__ import annotations

import re

import torch

_TOKEN = re.compile(r"^(\d*)([A-Za-z_]\w*)?$")


def _parse(token: str) -> tuple[int, str | None]:
    """``"4H"`` → (4, "H"); ``"H"`` → (1, "H"); ``"7"`` → (7, None)."""
    match = _TOKEN.match(token)
    if match is None:
        raise ValueError(f"bad dimension token {token!r}")
    number, name = match.groups()
    return (int(number) if number else 1), name


def check_args(
    dims: dict[str, int] | None = None, **named: tuple[object, str | None]
) -> dict[str, int]:
    """Check tensors' types, dtypes, devices and named shapes; return the bound dimensions.

    Each keyword is ``name=(value, spec)``; ``spec`` is a space-separated shape such as
    ``"B T D"`` or ``None`` to check only that the value is a tensor. A value of ``None`` is
    skipped (optional arguments). All checked tensors must be floating point with the same dtype
    and on the same device, since mixing them is the commonest source of cryptic torch errors.

    Raises:
        TypeError: a value is not a tensor, is not floating point, or dtypes differ.
        ValueError: a shape or device disagrees; the message names the argument.
    """
    dims = {} if dims is None else dims
    source: dict[str, str] = {}
    first: tuple[str, torch.Tensor] | None = None
    for arg, (value, spec) in named.items():
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            kind = type(value).__name__
            raise TypeError(f"{arg} must be a torch.Tensor or numpy array, got {kind}")
        if not value.is_floating_point():
            raise TypeError(f"{arg} must be floating point, got dtype {value.dtype}")
        if first is None:
            first = (arg, value)
        else:
            ref_name, ref = first
            if value.dtype != ref.dtype:
                raise TypeError(
                    f"{arg} has dtype {value.dtype} but {ref_name} has {ref.dtype}; "
                    "use one dtype for all arguments"
                )
            if value.device != ref.device:
                raise ValueError(
                    f"{arg} is on {value.device} but {ref_name} is on {ref.device}; "
                    "move them to one device"
                )
        if spec is None:
            continue
        tokens = [_parse(t) for t in spec.split()]
        got = tuple(value.shape)
        if len(got) != len(tokens):
            raise ValueError(
                f"{arg} has shape {got} ({len(got)} dims), expected ({', '.join(spec.split())}) "
                f"with {len(tokens)} dims"
            )
        # Bind unseen names first so that the expected shape in the message is fully known.
        for (mult, name), size in zip(tokens, got, strict=True):
            if name is not None and name not in dims:
                if size % mult:
                    raise ValueError(
                        f"{arg} has shape {got}, expected ({', '.join(spec.split())}): "
                        f"{size} is not a multiple of {mult}"
                    )
                dims[name] = size // mult
                source[name] = arg
        expected = tuple(mult * dims[name] if name else mult for mult, name in tokens)
        if got != expected:
            origin = ", ".join(
                f"{n}={dims[n]} from {source.get(n, 'the caller')}"
                for n in dict.fromkeys(name for _, name in tokens if name)
            )
            raise ValueError(
                f"{arg} has shape {got}, expected ({', '.join(spec.split())}) = {expected}"
                + (f" ({origin})" if origin else "")
            )
    return dims
