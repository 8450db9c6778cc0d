"""Tamper detection: notice when notebook code rebinds a library function the checks rely on.

A student's answer cell runs in the same Python process as the tests, so it *can* write
``np.allclose = lambda *a, **k: True`` or ``torch.tanh = my_tanh``. Two defences work together:

1. The comparison code in :mod:`course_lib.grading.compare` keeps private references to the
   functions it calls, taken when the module is imported — in the notebook's locked setup cell,
   before any student code runs — so rebinding ``np.allclose`` later changes nothing for it.
2. This module snapshots the namespaces of numpy, torch, ``torch.Tensor``, builtins and every
   ``course_lib`` module (the references *and* the checkers) at the same moment, and every check
   calls :func:`verify` before and after running student code. A rebinding would otherwise still
   reach the reference (``torch.tanh`` patched to the identity makes "missing tanh" right), so
   any change fails the check with :class:`TamperError` instead of grading a poisoned run.

New names appearing in a module are allowed (numpy and torch load submodules lazily); names
that change value or disappear are not. ``torch.Tensor`` is a class, so there a *new* name is
also tampering: it would shadow the C implementation of a method such as ``__matmul__``.
"""

from __future__ import annotations

import ast
import builtins
import sys
from pathlib import Path
from types import ModuleType

import numpy
import numpy.linalg
import numpy.testing
import torch
import torch._dynamo  # noqa: F401  (see _LIBRARIES)
import torch.linalg
import torch.nn.functional
import torch.testing

_MISSING = object()

# Library namespaces whose functions the references and comparisons call. torch._dynamo is
# imported above, before the snapshot, because the first torch.optim optimizer imports it and it
# rebinds torch.manual_seed: a student creating an optimizer must not look like tampering.
_LIBRARIES: tuple[ModuleType, ...] = (
    numpy, numpy.linalg, numpy.testing,
    torch, torch.linalg, torch.nn.functional, torch.testing,
)  # fmt: skip


class TamperError(AssertionError):
    """Raised when notebook code has rebound a function that grading depends on."""


class _Snapshot:
    """The namespace of one module or class as it was when the grader was loaded."""

    def __init__(self, owner: object, label: str, *, new_names_are_tampering: bool) -> None:
        self.owner = owner
        self.label = label
        self.strict = new_names_are_tampering
        self.names = dict(vars(owner))

    def changes(self) -> list[str]:
        now = vars(self.owner)
        changed = [
            f"{self.label}.{name}"
            for name, value in self.names.items()
            if now.get(name, _MISSING) is not value
            and not _ignored(self.owner, name)
            and not _library_wrapper(now.get(name, _MISSING), value)
        ]
        if self.strict:
            changed += [f"{self.label}.{name}" for name in now if name not in self.names]
        return changed


# ipykernel rebinds ``input`` around every cell it runs (to route it to the frontend), and the
# interpreter and IPython keep private bookkeeping in builtins (e.g. ``_``).
_KERNEL_BUILTINS = frozenset({"input", "raw_input", "getpass"})


def _ignored(owner: object, name: str) -> bool:
    return owner is builtins and (name.startswith("_") or name in _KERNEL_BUILTINS)


# torch wraps some of its own functions when a submodule loads lazily (importing torch._dynamo,
# which optimizers do, replaces torch.manual_seed by a wrapper around the original).
_TORCH_DIR = str(Path(torch.__file__).resolve().parent)


def _library_wrapper(value: object, original: object) -> bool:
    """True for a wrapper around ``original`` whose own code lives inside torch."""
    code = getattr(value, "__code__", None)
    return (
        code is not None
        and getattr(value, "__wrapped__", None) is original
        and str(Path(code.co_filename).resolve()).startswith(_TORCH_DIR)
    )


_snapshots: dict[str, _Snapshot] = {}


def _watch(owner: object, label: str, *, strict: bool = False) -> None:
    if label not in _snapshots:
        _snapshots[label] = _Snapshot(owner, label, new_names_are_tampering=strict)


def watch_loaded_modules() -> None:
    """Snapshot every library module and ``course_lib`` module imported so far (idempotent).

    Each assignment's checker module calls this at the end of its import, so the snapshot also
    covers the reference modules it pulled in. Modules already watched keep their first snapshot.
    """
    for module in _LIBRARIES:
        _watch(module, module.__name__)
    _watch(builtins, "builtins")
    _watch(torch.Tensor, "torch.Tensor", strict=True)
    for name, module in list(sys.modules.items()):
        if (name == "course_lib" or name.startswith("course_lib.")) and module is not None:
            _watch(module, name)


def tampered_names() -> list[str]:
    """Dotted names that were rebound or deleted since they were snapshotted."""
    return [name for snap in _snapshots.values() for name in snap.changes()]


def verify() -> None:
    """Raise :class:`TamperError` naming every rebound function, if there is any."""
    changed = tampered_names()
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise TamperError(
            f"TAMPERED: code in this notebook replaced {shown} after the tests were loaded. "
            "Grading cannot trust this run; remove the code that reassigns library or course_lib "
            "functions, restart the kernel and run all cells."
        )


watch_loaded_modules()


# Names an answer cell never needs. Reaching for them is how code escapes the runtime checks
# above (patching the checkers themselves, calling the references, rewriting modules), so an
# autograder should flag a submission that uses them for an instructor to look at.
_SUSPICIOUS_NAMES = frozenset({
    "course_lib", "tests", "_hidden_tests", "sys", "importlib", "__import__", "builtins",
    "__builtins__", "globals", "locals", "vars", "setattr", "delattr", "exec", "eval", "compile",
    "gc", "inspect", "ctypes", "get_ipython", "__dict__", "__code__", "__globals__",
    "__closure__", "__subclasses__",
})  # fmt: skip
# Library aliases whose attributes an answer cell must not assign to.
_MODULE_ALIASES = frozenset({"np", "numpy", "torch", "nn", "F", "math", "scipy"})


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def suspicious_code(source: str) -> list[str]:
    """Reasons to suspect tampering in an answer cell's source; empty when there are none.

    Flags uses of names an exercise answer never needs (``course_lib``, the test modules,
    ``sys``, ``importlib``, ``setattr``, ``globals``, ...) and assignments to attributes of
    library modules (``np.allclose = ...``, ``torch.Tensor.__eq__ = ...``). Meant for the
    instructor's autograder, which runs it on every answer cell before executing a submission:
    the runtime :func:`verify` cannot see code that replaces the checkers' own entry points.
    Source that does not parse is returned as one reason (the kernel will report the error).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [f"does not parse: {error.msg} (line {error.lineno})"]
    reasons = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _SUSPICIOUS_NAMES:
            reasons.append(f"uses `{node.id}` (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr in _SUSPICIOUS_NAMES:
            reasons.append(f"uses `.{node.attr}` (line {node.lineno})")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in node.names]
            reasons += [f"imports `{m}` (line {node.lineno})"
                        for m in modules if m.split(".")[0] in _SUSPICIOUS_NAMES]  # fmt: skip
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign))
                   else [])  # fmt: skip
        for target in targets:
            if isinstance(target, ast.Attribute) and _root_name(target) in _MODULE_ALIASES:
                reasons.append(f"assigns to `{ast.unparse(target)}` (line {node.lineno})")
    return sorted(set(reasons), key=reasons.index)
