"""The adding problem (Hochreiter & Schmidhuber 1997): a tanh RNN against an LSTM.

Each sequence has ``T`` steps of two inputs: a value drawn from U(0, 1) and a marker that is 1 at
exactly two steps, one in the first half of the sequence and one in the second, and 0 elsewhere.
The target, read from the last step's output, is the sum of the two marked values. Always
predicting 1 (the target's mean) gives MSE = Var(u1 + u2) = 2/12 ≈ 0.167; a network only beats
that by remembering the first marked value for at least T/2 steps.

The layers are torch.nn's by default (``--impl course`` runs course_lib.layers instead, 2-3x
slower at this tiny width, beyond the experiment's few-minute budget).

Run from the repository root (about 3 minutes on one CPU core)::

    .venv/bin/python book/experiments/adding_problem.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make `book.experiments` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from book.experiments.common import (  # noqa: E402
    IMPLEMENTATIONS,
    Recurrent,
    markdown_table,
    setup,
    write_results,
)
from course_lib.params import count_module_params  # noqa: E402

BASELINE_MSE = 2 / 12  # Var(u1 + u2) for two independent U(0, 1) values
SOLVED_MSE = 0.01  # "solved": test MSE below 6% of the baseline


def adding_batch(n: int, steps: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` sequences ``(n, T, 2)`` of (value, marker) and their targets ``(n, 1)``."""
    values = torch.rand(n, steps, generator=generator)
    first = torch.randint(0, steps // 2, (n,), generator=generator)
    second = torch.randint(steps // 2, steps, (n,), generator=generator)
    markers = torch.zeros(n, steps)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(1, keepdim=True)


class Adder(nn.Module):
    """Recurrent layer, then a linear read-out of the last step's output (many-to-one)."""

    def __init__(self, kind: str, hidden: int, impl: str) -> None:
        super().__init__()
        self.rnn = Recurrent(kind, 2, hidden, impl)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.rnn(x)
        return self.head(outputs[:, -1])


def run(kind: str, steps: int, args: argparse.Namespace) -> dict:
    """Train one model on sequences of length ``steps``; return its row and test-MSE curve."""
    setup(args.seed)
    model = Adder(kind, args.hidden, args.impl)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_gen = torch.Generator().manual_seed(args.seed + 1)
    x_test, y_test = adding_batch(args.test_size, steps, torch.Generator().manual_seed(10_000))

    def test_mse() -> float:
        with torch.no_grad():
            return nn.functional.mse_loss(model(x_test), y_test).item()

    curve, solved_at = [], None
    start = time.perf_counter()
    bar = tqdm(range(1, args.iterations + 1), desc=f"{kind.upper():4s} T={steps}", unit="it")
    for it in bar:
        x, y = adding_batch(args.batch, steps, train_gen)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        if it % args.eval_every == 0:
            mse = test_mse()
            curve.append([it, mse])
            if solved_at is None and mse < SOLVED_MSE:
                solved_at = it
            bar.set_postfix(test_mse=f"{mse:.4f}")
    mse = test_mse()
    return {
        "model": kind.upper(),
        "T": steps,
        "layer": model.rnn.describe(),
        "params": count_module_params(model),
        "test_mse": mse,
        "ratio_to_baseline": mse / BASELINE_MSE,
        "solved": mse < SOLVED_MSE,
        "first_solved_at": solved_at,
        "seconds": time.perf_counter() - start,
        "curve": curve,
    }


def results_table(rows: list[dict], args: argparse.Namespace) -> str:
    """The chapter's Markdown table, with the settings underneath."""
    shown = [
        {
            **row,
            "mse": f"{row['test_mse']:.4f}",
            "ratio": f"{row['ratio_to_baseline']:.3f}",
            "ok": "yes" if row["solved"] else "no",
            "at": row["first_solved_at"] or "—",
            "s": f"{row['seconds']:.0f}",
        }
        for row in rows
    ]
    columns = {
        "T": "T",
        "model": "model",
        "params": "params",
        "mse": "test MSE",
        "ratio": "MSE / 0.167",
        "ok": f"solved (MSE < {SOLVED_MSE})",
        "at": "first solved at iteration",
        "s": "seconds",
    }
    return markdown_table(shown, columns) + (
        f"\n{args.hidden} units, Adam lr {args.lr}, batch {args.batch}, {args.iterations} "
        f"iterations (fresh random batches), global-norm clipping at {args.clip}, seed "
        f"{args.seed}; test MSE on {args.test_size} held-out sequences, checked every "
        f"{args.eval_every} iterations; baseline (always predict 1) = {BASELINE_MSE:.3f}; "
        f"layers: {rows[0]['layer'].rsplit('.', 1)[0]}; one CPU thread.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument(
        "--models", nargs="+", default=["rnn", "lstm"], choices=["rnn", "lstm", "gru"]
    )
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, default="torch")
    args = parser.parse_args(argv)

    rows = [run(kind, steps, args) for steps in args.lengths for kind in args.models]
    write_results(
        "adding_problem",
        {
            "settings": vars(args),
            "baseline_mse": BASELINE_MSE,
            "solved_threshold": SOLVED_MSE,
            "runs": rows,
        },
        results_table(rows, args),
    )


if __name__ == "__main__":
    main()
