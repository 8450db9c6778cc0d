"""What crosses between the grader and a student's process: data as JSON frames, never code.

When a class is graded, the grader and the process running a student's notebook talk over one
socket per notebook (:mod:`course_lib.instructor.sandbox`). Everything they exchange goes
through this module, on both sides:

- **Frames** (:mod:`.frames`): a 4-byte length, then one JSON object.
- **Values**: :func:`encode` turns a value into JSON and :func:`decode` builds it back. Only data
  crosses: ``None``, bools, ints, floats, complex numbers, strings, bytes, lists, tuples, named
  tuples, dicts, numpy arrays and scalars, torch tensors (dtype, shape, device and
  ``requires_grad`` kept), the modules of :data:`MODULES` with their weights (built again from
  their constructor arguments, then given the weights), ``torch.optim.SGD`` over such a module,
  the student's own functions by name (:class:`FunctionRef`), and the grader's functions as
  *callbacks*: a number the student's process calls the grader back with, during that one call
  (a test's ``f`` for the student's ``numerical_gradient(f, x)``). Nothing is pickled and no
  decoded value carries code, so a student's process can lie about a result but cannot make the
  grader run anything it did not offer.

Arrays cross as C-contiguous copies, whatever their strides (``x[:, ::-1]`` included). Decoding
checks every size it is told against the bytes it got and rejects what it cannot build with
:class:`WireError`, whose message names the value.
"""

from __future__ import annotations

import base64
import functools
import importlib
import math
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .frames import WireError, _bounded_int

MAX_DEPTH = 40
MAX_ELEMENTS = 2**26
MAX_NDIM = 8


# ------------------------------------------------------------------------------------ values


class FunctionRef:
    """A function of the student's, named: it crosses as its name and is looked up there."""

    def __init__(self, name: str) -> None:
        self.name = name


def _module_kwargs_rnn(m: nn.RNNBase) -> dict[str, Any]:
    kwargs = {
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bias": m.bias,
        "batch_first": m.batch_first,
        "dropout": float(m.dropout),
        "bidirectional": m.bidirectional,
    }
    if isinstance(m, nn.RNN):
        kwargs["nonlinearity"] = m.nonlinearity
    if isinstance(m, nn.LSTM):
        kwargs["proj_size"] = m.proj_size
    return kwargs


#: Modules that cross with their weights: ``type name -> constructor arguments of an instance``.
#: Decoding builds ``cls(**arguments)`` on the meta device (so arguments that ask for a huge
#: module allocate nothing), then assigns the weights that came with it, whose dtype, device and
#: size travel with them. Course helpers are imported by name, lazily, on both sides.
MODULES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "torch.nn.RNN": _module_kwargs_rnn,
    "torch.nn.LSTM": _module_kwargs_rnn,
    "torch.nn.GRU": _module_kwargs_rnn,
    "torch.nn.Linear": lambda m: {
        "in_features": m.in_features,
        "out_features": m.out_features,
        "bias": m.bias is not None,
    },
    "torch.nn.Embedding": lambda m: {
        "num_embeddings": m.num_embeddings,
        "embedding_dim": m.embedding_dim,
        "padding_idx": m.padding_idx,
    },
    "course_lib.models.TinyRNN": lambda m: m.constructor_arguments(),
    "course_lib.models.TinyLM": lambda m: m.constructor_arguments(),
    "course_lib.models.Smooth": lambda m: m.constructor_arguments(),
}
_SGD_OPTIONS = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

_TORCH_DTYPES = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.uint8,
        torch.bool,
    )
}
_NUMPY_KINDS = frozenset("biufc")


def _module_type(module: nn.Module) -> str | None:
    """The :data:`MODULES` name of the module's exact class, or None."""
    return next((name for name in MODULES if type(module) is _class(name)), None)


@functools.cache
def _class(name: str) -> type:
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Encoder:
    """One encoding pass: remembers the modules it has sent, so an optimizer can point at one.

    ``callback(fn) -> int`` registers a function to be called back; without it, functions
    cannot cross.
    """

    def __init__(self, callback: Callable[[Callable[..., Any]], int] | None = None) -> None:
        self.modules: list[nn.Module] = []
        self.callback = callback

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"the value is nested more than {MAX_DEPTH} levels deep")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.integer):
            return value if abs(value) < 2**63 else {"$": "bigint", "text": str(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$": "float", "text": repr(value)}
        if isinstance(value, complex):
            return {"$": "complex", "re": self(value.real), "im": self(value.imag)}
        if isinstance(value, bytes):
            return {"$": "bytes", "data": _bytes(value)}
        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        if isinstance(value, np.ndarray):
            return self._ndarray(value)
        if isinstance(value, np.generic):
            array = self._ndarray(np.asarray(value))
            return {**array, "$": "npscalar"}
        if isinstance(value, FunctionRef):
            return {"$": "function", "name": value.name}
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return {
                "$": "namedtuple",
                "name": type(value).__name__,
                "fields": list(value._fields),
                "items": [self(v, depth + 1) for v in value],
            }
        if isinstance(value, tuple):
            return {"$": "tuple", "items": [self(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return [self(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {
                "$": "dict",
                "items": [[self(k, depth + 1), self(v, depth + 1)] for k, v in value.items()],
            }
        if isinstance(value, nn.Module):
            return self._module(value)
        if isinstance(value, torch.optim.SGD):
            return self._optimizer(value)
        if callable(value) and self.callback is not None and not isinstance(value, type):
            return {"$": "callback", "id": self.callback(value)}
        raise WireError(
            f"a {type(value).__name__} cannot be sent between the grader and a "
            "notebook (send arrays, tensors, numbers, strings, lists, tuples or dicts)"
        )

    def _tensor(self, t: torch.Tensor) -> dict[str, Any]:
        dtype = str(t.dtype).removeprefix("torch.")
        if dtype not in _TORCH_DTYPES:
            raise WireError(f"a tensor of dtype {dtype} cannot be sent")
        cpu = t.detach().to("cpu").contiguous()
        raw = cpu.view(torch.int16) if t.dtype == torch.bfloat16 else cpu
        return {
            "$": "tensor",
            "dtype": dtype,
            "shape": list(t.shape),
            "data": _bytes(raw.numpy().tobytes()),
            "device": str(t.device),
            "requires_grad": bool(t.requires_grad),
        }

    @staticmethod
    def _ndarray(a: np.ndarray) -> dict[str, Any]:
        if a.dtype.kind not in _NUMPY_KINDS:
            raise WireError(f"a numpy array of dtype {a.dtype} cannot be sent (numbers only)")
        little = a.astype(a.dtype.newbyteorder("<"), copy=False)
        return {
            "$": "ndarray",
            "dtype": little.dtype.str,
            "shape": list(a.shape),
            "data": _bytes(np.ascontiguousarray(little).tobytes()),
        }

    def _module(self, m: nn.Module) -> dict[str, Any]:
        name = _module_type(m)
        if name is None:
            raise WireError(
                f"a {type(m).__name__} module cannot be sent (known: "
                f"{', '.join(n.rsplit('.', 1)[1] for n in MODULES)})"
            )
        self.modules.append(m)
        state = {k: self._tensor(v) for k, v in m.state_dict(keep_vars=True).items()}
        grads = {k: self._tensor(p.grad) for k, p in m.named_parameters() if p.grad is not None}
        return {
            "$": "module",
            "type": name,
            "init": MODULES[name](m),
            "state": state,
            "grads": grads,
            "training": m.training,
            "index": len(self.modules) - 1,
        }

    def _optimizer(self, opt: torch.optim.SGD) -> dict[str, Any]:
        params = [p for group in opt.param_groups for p in group["params"]]
        for index, module in enumerate(self.modules):
            if [p for p in module.parameters()] == params and len(opt.param_groups) == 1:
                group = opt.param_groups[0]
                return {
                    "$": "sgd",
                    "module": index,
                    "options": {k: group[k] for k in _SGD_OPTIONS if k in group},
                }
        raise WireError(
            "an SGD optimizer can be sent only after the one module whose parameters it updates"
        )


def encode(value: Any, *, callback: Callable[[Callable[..., Any]], int] | None = None) -> Any:
    """``value`` as JSON-ready data (see the module docstring for what can cross); functions
    cross only as ``callback(fn)``, the number the receiver calls back with."""
    return _Encoder(callback)(value)


class _Decoder:
    """One decoding pass; ``resolve_function(name)`` gives the student's function for a name,
    ``resolve_callback(number)`` a function that calls the grader back."""

    def __init__(
        self,
        resolve_function: Callable[[str], Any] | None,
        resolve_callback: Callable[[int], Any] | None,
        device: Callable[[str], torch.device],
    ) -> None:
        self.resolve_function = resolve_function
        self.resolve_callback = resolve_callback
        self.device = device
        self.modules: list[nn.Module] = []

    def __call__(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value is nested more than {MAX_DEPTH} levels deep")
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            _check_length(data)
            return [self(v, depth + 1) for v in data]
        if not isinstance(data, dict):
            raise WireError(f"unexpected JSON value of type {type(data).__name__}")
        tag = data.get("$")
        items = data.get("items")
        if tag == "tuple":
            return tuple(self(v, depth + 1) for v in _check_length(items))
        if tag == "namedtuple":
            name, fields = data.get("name"), data.get("fields")
            if not (
                isinstance(fields, list)
                and len(fields) <= 256
                and all(isinstance(f, str) for f in fields)
            ):
                raise WireError("a named tuple without (at most 256) field names")
            values = [self(v, depth + 1) for v in _check_length(items)]
            try:
                cls = _namedtuple(str(name), tuple(fields))
                return cls(*values)
            except (TypeError, ValueError) as exc:
                raise WireError(f"a named tuple that cannot be built: {exc}") from None
        if tag == "dict":
            pairs = [(self(k, depth + 1), self(v, depth + 1)) for k, v in _check_pairs(items)]
            try:
                return dict(pairs)
            except TypeError:
                raise WireError("a dict whose keys are not hashable") from None
        if tag == "bigint":
            return _bounded_int(str(data.get("text")))
        if tag == "float":
            text = str(data.get("text"))
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"unknown float {text!r}")
            return float(text)
        if tag == "complex":
            return complex(self._number(data.get("re")), self._number(data.get("im")))
        if tag == "bytes":
            return _unbase64(data.get("data"))
        if tag == "tensor":
            return self._tensor(data)
        if tag == "ndarray":
            return _ndarray(data)
        if tag == "npscalar":
            return _ndarray(data)[()]
        if tag == "function":
            if self.resolve_function is None:
                raise WireError("a function reference, where none can be resolved")
            return self.resolve_function(str(data.get("name")))
        if tag == "callback":
            number = data.get("id")
            if self.resolve_callback is None or not isinstance(number, int):
                raise WireError("a callback, where none can be made")
            return self.resolve_callback(number)
        if tag == "module":
            return self._module(data)
        if tag == "sgd":
            return self._sgd(data)
        raise WireError(f"unknown value tag {tag!r}")

    def _number(self, value: Any) -> float:
        number = self(value)
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            raise WireError("a complex number with a non-numeric part")
        return float(number)

    def _tensor(self, data: Any) -> torch.Tensor:
        if not isinstance(data, dict):
            raise WireError("a tensor without its description")
        dtype = _TORCH_DTYPES.get(str(data.get("dtype")))
        if dtype is None:
            raise WireError(f"a tensor of unknown dtype {data.get('dtype')!r}")
        shape = _shape(data.get("shape"))
        numpy_dtype = (
            torch.empty(0, dtype=torch.int16 if dtype == torch.bfloat16 else dtype).numpy().dtype
        )
        array = _array_from_bytes(_unbase64(data.get("data")), numpy_dtype.newbyteorder("<"), shape)
        tensor = torch.from_numpy(array.astype(numpy_dtype, copy=True))
        if dtype == torch.bfloat16:
            tensor = tensor.view(torch.bfloat16)
        tensor = tensor.to(self.device(str(data.get("device", "cpu"))))
        if data.get("requires_grad") is True:
            if not (tensor.is_floating_point() or tensor.is_complex()):
                raise WireError("requires_grad on a tensor of integers")
            tensor.requires_grad_(True)
        return tensor

    def _module(self, data: dict[str, Any]) -> nn.Module:
        name = data.get("type")
        if name not in MODULES:
            raise WireError(f"a module of unknown type {name!r}")
        init, state, grads = data.get("init"), data.get("state"), data.get("grads", {})
        if not (isinstance(init, dict) and isinstance(state, dict) and isinstance(grads, dict)):
            raise WireError(f"a {name} without its arguments or weights")
        try:
            with torch.device("meta"):
                module = _class(name)(**{str(k): self(v) for k, v in init.items()})
            weights = {str(k): self._tensor(v) for k, v in state.items()}
            module.load_state_dict(weights, assign=True)  # strict: every weight must come
        except (TypeError, ValueError, RuntimeError, KeyError) as exc:
            raise WireError(f"a {name.rsplit('.', 1)[1]} that cannot be rebuilt: {exc}") from None
        if any(t.is_meta for t in [*module.parameters(), *module.buffers()]):
            raise WireError(f"a {name.rsplit('.', 1)[1]} without all of its weights")
        params = dict(module.named_parameters())
        for key, value in grads.items():
            param = params.get(str(key))
            if param is None:
                raise WireError(f"a gradient for unknown parameter {key!r}")
            param.grad = self._tensor(value)
        module.train(bool(data.get("training", True)))
        self.modules.append(module)
        return module

    def _sgd(self, data: dict[str, Any]) -> torch.optim.SGD:
        index, options = data.get("module"), data.get("options")
        if not (
            isinstance(index, int) and 0 <= index < len(self.modules) and isinstance(options, dict)
        ):
            raise WireError("an optimizer that does not point at a module sent before it")
        clean = {k: options[k] for k in _SGD_OPTIONS if k in options}
        try:
            return torch.optim.SGD(self.modules[index].parameters(), **clean)
        except (TypeError, ValueError) as exc:
            raise WireError(f"an SGD optimizer that cannot be built: {exc}") from None


def _local_device(name: str) -> torch.device:
    """The device a tensor asks for, if this process has it; else the CPU."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise WireError(f"unknown device {name!r}") from None
    if device.type == "cuda" and torch.cuda.is_available():
        return device
    return torch.device("cpu")


def decode(
    data: Any,
    *,
    resolve_function: Callable[[str], Any] | None = None,
    resolve_callback: Callable[[int], Any] | None = None,
    device: Callable[[str], torch.device] = _local_device,
) -> Any:
    """Build back a value :func:`encode` produced; raises :class:`WireError` on anything else."""
    try:
        return _Decoder(resolve_function, resolve_callback, device)(data)
    except WireError:
        raise
    except RecursionError:
        raise WireError("a value nested too deeply") from None
    except (TypeError, ValueError, AttributeError, OverflowError, KeyError, RuntimeError) as exc:
        # what a decoder of untrusted data did not foresee is still the data's fault
        raise WireError(f"a value that cannot be built: {exc}") from None


def _check_length(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise WireError("a container without its items")
    if len(items) > MAX_ELEMENTS:
        raise WireError("a container with too many items")
    return items


def _check_pairs(items: Any) -> list[list[Any]]:
    pairs = _check_length(items)
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise WireError("a dict whose items are not (key, value) pairs")
    return pairs


def _shape(shape: Any) -> tuple[int, ...]:
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_NDIM
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise WireError(f"an array with an invalid shape {shape!r}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise WireError(f"an array of shape {tuple(shape)} is too large to send")
    return tuple(shape)


def _unbase64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise WireError("binary data missing")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise WireError("binary data that is not base64") from None


def _array_from_bytes(raw: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise WireError(f"an array of shape {shape} and dtype {dtype} with {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _ndarray(data: dict[str, Any]) -> np.ndarray:
    try:
        dtype = np.dtype(str(data.get("dtype")))
    except TypeError:
        raise WireError(f"an array of unknown dtype {data.get('dtype')!r}") from None
    if dtype.kind not in _NUMPY_KINDS or dtype.byteorder == ">":
        raise WireError(f"an array of dtype {dtype} cannot be received")
    raw = _array_from_bytes(_unbase64(data.get("data")), dtype, _shape(data.get("shape")))
    return raw.astype(dtype.newbyteorder("="), copy=True)


_NAMEDTUPLES: dict[tuple[str, tuple[str, ...]], type] = {}


def _namedtuple(name: str, fields: tuple[str, ...]) -> type:
    """One class per (name, fields), so that equal named tuples decode to equal types."""
    key = (name, fields)
    if key not in _NAMEDTUPLES:
        _NAMEDTUPLES[key] = namedtuple(name, fields)  # validates both as identifiers
    return _NAMEDTUPLES[key]


# -------------------------------------------------------------------------------- write-back


class InputChanged(Exception):
    """The student's function changed an argument in a way that cannot be copied back."""


def write_back(local: Any, remote: Any, where: str = "the argument") -> None:
    """Copy what a call did to its arguments (``remote``, as the student's process saw them
    after the call) into the grader's own objects (``local``), in place.

    Tensors, arrays and module weights are copied into; lists and dicts take the new items.
    Raises :class:`InputChanged` when an array changed shape or type, which no in-place
    operation can copy back.
    """
    if isinstance(local, torch.Tensor):
        if (
            not isinstance(remote, torch.Tensor)
            or remote.shape != local.shape
            or remote.dtype != local.dtype
        ):
            raise InputChanged(f"{where} changed its shape or dtype")
        with torch.no_grad():
            local.copy_(remote.to(local.device))
    elif isinstance(local, np.ndarray):
        if (
            not isinstance(remote, np.ndarray)
            or remote.shape != local.shape
            or remote.dtype != local.dtype
        ):
            raise InputChanged(f"{where} changed its shape or dtype")
        if local.flags.writeable:
            local[...] = remote
    elif isinstance(local, nn.Module):
        if type(remote) is not type(local):
            raise InputChanged(f"{where} changed type")
        theirs = {**dict(remote.named_parameters()), **dict(remote.named_buffers())}
        for name, tensor in [*local.named_parameters(), *local.named_buffers()]:
            if name not in theirs:
                raise InputChanged(f"{where} lost its {name}")
            write_back(tensor, theirs[name], f"{where}.{name}")
            grad = getattr(theirs[name], "grad", None)
            if isinstance(tensor, nn.Parameter):
                tensor.grad = None if grad is None else grad.to(tensor.device)
        local.train(remote.training)
    elif isinstance(local, list) and isinstance(remote, list):
        if len(local) == len(remote):
            for index, (mine, theirs) in enumerate(zip(local, remote, strict=True)):
                if _mutable(mine):
                    write_back(mine, theirs, f"{where}[{index}]")
                else:
                    local[index] = theirs
        else:
            local[:] = remote
    elif isinstance(local, dict) and isinstance(remote, dict):
        for key in list(local):
            if key not in remote:
                del local[key]
        for key, theirs in remote.items():
            if key in local and _mutable(local[key]):
                write_back(local[key], theirs, f"{where}[{key!r}]")
            else:
                local[key] = theirs
    elif isinstance(local, tuple) and isinstance(remote, tuple) and len(local) == len(remote):
        for index, (mine, theirs) in enumerate(zip(local, remote, strict=True)):
            if _mutable(mine):
                write_back(mine, theirs, f"{where}[{index}]")


def _mutable(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray, nn.Module, list, dict, tuple))
