"""One place that decides where tensors live, and the numpy-in/numpy-out bridge.

Students write some exercises in numpy and others in PyTorch; every reference function in
course_lib is written once, on torch tensors, and wrapped with :func:`numpy_io` so that numpy
arrays in give numpy arrays out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

F = TypeVar("F", bound=Callable[..., Any])


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU. Every other module asks here."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def map_leaves(fn: Callable[[Any], Any], value: Any) -> Any:
    """Apply ``fn`` to every leaf of ``value``, keeping tuples, named tuples, lists and dicts."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple keeps its type
        return type(value)(*(map_leaves(fn, v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(map_leaves(fn, v) for v in value)
    if isinstance(value, dict):
        return {k: map_leaves(fn, v) for k, v in value.items()}
    return fn(value)


def to_numpy(value: Any) -> Any:
    """Convert tensors (also inside tuples, named tuples, lists and dicts) to numpy arrays."""
    return map_leaves(
        lambda v: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v, value
    )


def _tensor_of(array: np.ndarray) -> torch.Tensor:
    """``array`` as a tensor sharing its memory where torch can (not a view with a negative
    stride, such as ``x[:, ::-1]``, nor a foreign byte order or a read-only array): else a copy."""
    native = array.dtype.byteorder in "=|"
    if native and min(array.strides, default=0) >= 0 and array.flags.writeable:
        return torch.from_numpy(array)
    return torch.from_numpy(np.array(array, dtype=array.dtype.newbyteorder("="), order="C"))


def to_tensors(value: Any) -> Any:
    """Convert numpy arrays (also inside containers) to tensors, sharing their memory where
    torch can (see :func:`_tensor_of`)."""
    return map_leaves(lambda v: _tensor_of(v) if isinstance(v, np.ndarray) else v, value)


def _has_numpy(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_numpy(v) for v in value)
    if isinstance(value, dict):
        return any(_has_numpy(v) for v in value.values())
    return False


def numpy_io(fn: F) -> F:
    """Let a torch function accept numpy arrays: numpy in → numpy out, torch in → torch out.

    If any argument holds a numpy array, all array arguments are turned into tensors (no copy),
    the function runs on the CPU, and every tensor it returns comes back as a numpy array.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not (_has_numpy(args) or _has_numpy(kwargs)):
            return fn(*args, **kwargs)
        result = fn(*to_tensors(args), **to_tensors(kwargs))
        return to_numpy(result)

    return wrapper  # type: ignore[return-value]
