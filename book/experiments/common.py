"""What the book's experiment scripts share: layer choice, seeding, and writing results.

Every script writes ``results/<name>.json`` (settings, numbers, curves) and ``results/<name>.md``
(the table the chapter shows), and prints the command that reproduces them.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from course_lib import layers

RESULTS = Path(__file__).resolve().parent / "results"

# "course": course_lib.layers, the layers the course builds (same function as torch.nn, tested to
# 1e-10; Keras initialisers), with the time loop in Python. "torch": torch.nn's fused kernels,
# used where the loop's overhead would break the CPU budget: for tiny layers (H = 32) the course
# LSTM is 2-3x slower per step than nn.LSTM (per-step Python overhead dominates), for H = 128
# about as fast (bench/bench_lstm.py).
IMPLEMENTATIONS = ("torch", "course")
_TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
_COURSE = {"rnn": layers.RNN, "lstm": layers.LSTM, "gru": layers.GRU}


class Recurrent(nn.Module):
    """A recurrent layer on ``(B, T, D)`` that returns ``(outputs (B, T, H), state)`` whichever
    implementation is inside; ``state`` is torch's ``h_n`` or ``(h_n, c_n)``."""

    def __init__(
        self, kind: str, input_size: int, hidden_size: int, impl: str = "torch", num_layers: int = 1
    ) -> None:
        super().__init__()
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"impl must be one of {IMPLEMENTATIONS}, got {impl!r}")
        self.kind, self.impl = kind, impl
        if impl == "torch":
            self.layer = _TORCH[kind](input_size, hidden_size, num_layers, batch_first=True)
        else:
            self.layer = _COURSE[kind](
                input_size, hidden_size, num_layers=num_layers, return_state=True
            )

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        if self.impl == "torch":
            return self.layer(x, state)
        outputs, *final = self.layer(x, state)
        return outputs, final[0] if len(final) == 1 else tuple(final)

    def describe(self) -> str:
        """The class used, e.g. ``torch.nn.LSTM`` or ``course_lib.layers.LSTM``."""
        cls = type(self.layer)
        return f"{'torch.nn' if self.impl == 'torch' else 'course_lib.layers'}.{cls.__name__}"


def setup(seed: int, threads: int = 1) -> None:
    """Seed torch's global RNG (initial weights) and pin the thread count, so that a run is
    repeatable and its timing means "one core"."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def markdown_table(rows: list[dict[str, Any]], columns: dict[str, str]) -> str:
    """Rows of dicts → a Markdown table; ``columns`` maps row keys to column titles."""
    lines = [
        "| " + " | ".join(columns.values()) + " |",
        "|" + "|".join(" --- " for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row[key]) for key in columns) + " |")
    return "\n".join(lines) + "\n"


def write_results(name: str, payload: dict[str, Any], table: str) -> None:
    """Write ``results/<name>.json`` and ``results/<name>.md``; print how to reproduce them."""
    RESULTS.mkdir(exist_ok=True)
    script = Path(sys.argv[0]).stem if sys.argv[0].endswith(".py") else name
    command = f".venv/bin/python book/experiments/{script}.py " + " ".join(sys.argv[1:])
    payload = {
        "command": command.strip(),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": "cpu",
            "threads": torch.get_num_threads(),
        },
        **payload,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(table)
    print(table)
    print(f"wrote {RESULTS / name}.json and .md; reproduce with:\n  {command.strip()}")
