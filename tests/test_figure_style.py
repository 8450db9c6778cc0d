"""book/figure_style.py: the checks that fail the book's build when a figure would let a
reader down (too wide, tiny text, a legend over data, a line hidden under another)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import figure_style  # noqa: E402


@pytest.fixture(autouse=True)
def styled():
    with matplotlib.rc_context():
        figure_style.use()
        yield
    plt.close("all")


def _good() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(figure_style.WIDTH_IN, 3), layout="constrained")
    t = np.linspace(0, 1, 50)
    ax.plot(t, t, label="rising")
    ax.plot(t, 1 - t, label="falling")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


def test_a_figure_made_with_the_style_passes() -> None:
    assert figure_style.problems(_good()) == []


def test_too_wide_tiny_text_legend_over_data_and_hidden_lines_are_each_named() -> None:
    wide, ax = plt.subplots(figsize=(10, 3))
    ax.plot([0, 1], [0, 1])
    assert any("wider than the column" in p for p in figure_style.problems(wide))

    tiny = _good()
    tiny.axes[0].set_title("small", fontsize=7)
    assert any("'small' is 7.0 pt" in p for p in figure_style.problems(tiny))

    covered, ax = plt.subplots(figsize=(figure_style.WIDTH_IN, 3))
    x = np.linspace(0, 1, 400)
    ax.plot(x, 0.5 + 0.5 * np.sin(60 * x), label="top line")  # fills the whole axes
    ax.legend(loc="upper right")
    assert any("legend" in p and "top line" in p for p in figure_style.problems(covered))

    hidden, ax = plt.subplots(figsize=(figure_style.WIDTH_IN, 3))
    t = np.linspace(0, 1, 30)
    ax.plot(t, t, "-", label="LSTM")
    ax.plot(t, t + 1e-6, "-", label="peephole")
    assert any("'peephole' hides line 'LSTM'" in p for p in figure_style.problems(hidden))
    ax.lines[1].set_marker("x")  # a marker makes the second line visible: no longer a problem
    assert not any("hides" in p for p in figure_style.problems(hidden))


def test_show_refuses_a_broken_figure() -> None:
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="does not meet the book's style"):
        figure_style.show(fig)
