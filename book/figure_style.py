"""One figure style for every chapter: drawn for the text column, legible, colour-blind safe.

A chapter calls :func:`use` once in its hidden set-up cell and ends each figure with
``show(fig)``. :func:`show` checks the figure before it is displayed and raises (failing the
book's build) when a reader would be let down:

- the figure is wider than the text column, so the browser would shrink it and its text;
- a piece of text is smaller than ``MIN_FONT_PT`` (11 CSS px at 100 %);
- a legend lies over a line or marker of its own axes;
- one line hides another (the same points drawn with the same line style and markers).

Figures are SVG: at the column's width one point of text is 96/72 CSS pixels, and a phone
that shows the column at half that width keeps the vectors sharp when the reader zooms in.
"""

from __future__ import annotations

import itertools

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

# The width a figure gets in the book's content column at a 1280 px window (the 688 px column
# less the figure's own margins), in CSS pixels; SVG has 96 px per inch.
COLUMN_PX = 672
WIDTH_IN = COLUMN_PX / 96
# 11 CSS px: the smallest text the book draws (tick labels and legends are 12 px).
MIN_FONT_PT = 11 * 72 / 96

# Okabe & Ito's colour-blind-safe palette, without its yellow (too pale on white).
PALETTE = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "black": "#000000",
}
# Each colour also gets its own dash pattern, so that lines differ without colour too.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2))]


def use() -> None:
    """Apply the book's style to matplotlib and make the notebook display figures as SVG."""
    mpl.rcParams.update(
        {
            "figure.figsize": (WIDTH_IN, 3.4),
            "figure.dpi": 96,
            "savefig.format": "svg",
            "svg.fonttype": "path",  # text as shapes: looks the same on every reader's machine
            "font.size": 10.5,
            "axes.titlesize": 11,
            "axes.labelsize": 10.5,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.framealpha": 0.92,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "lines.linewidth": 1.8,
            "axes.prop_cycle": cycler(color=list(PALETTE.values())) + cycler(linestyle=LINESTYLES),
            "image.cmap": "viridis",
        }
    )
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # outside a notebook: nothing to configure
        return
    set_matplotlib_formats("svg")


def problems(fig: Figure) -> list[str]:
    """Every way ``fig`` falls short of the book's figure rules, as sentences (empty: none)."""
    found: list[str] = []
    if fig.get_figwidth() > WIDTH_IN + 1e-6:
        found.append(
            f"the figure is {fig.get_figwidth():.2f} in wide, wider than the column "
            f"({WIDTH_IN:.2f} in): the browser would shrink its text"
        )
    fig.canvas.draw()  # lay out text and legends so that their extents are known
    for text in fig.findobj(Text):
        words = text.get_text().strip()
        if words and text.get_visible() and text.get_fontsize() < MIN_FONT_PT - 1e-6:
            found.append(
                f"text {words[:40]!r} is {text.get_fontsize():.1f} pt, under the "
                f"{MIN_FONT_PT:.2f} pt (11 px) floor"
            )
    for ax in fig.axes:
        found.extend(_legend_over_data(ax))
        found.extend(_hidden_lines(ax))
    return found


def show(fig: Figure) -> None:
    """Check ``fig`` against the book's rules (raise if it breaks one), then display it."""
    broken = problems(fig)
    if broken:
        plt.close(fig)
        raise ValueError("figure does not meet the book's style: " + "; ".join(broken))
    plt.show()


def _legend_over_data(ax: mpl.axes.Axes) -> list[str]:
    legend = ax.get_legend()
    if legend is None or not legend.get_visible():
        return []
    box = legend.get_window_extent()
    covered = []
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        path = line.get_path().transformed(line.get_transform())
        points = path.vertices
        inside = (
            (points[:, 0] >= box.x0)
            & (points[:, 0] <= box.x1)
            & (points[:, 1] >= box.y0)
            & (points[:, 1] <= box.y1)
        )
        crosses = line.get_linestyle() not in ("None", "", " ") and path.intersects_bbox(
            box, filled=False
        )
        if inside.any() or crosses:
            covered.append(line.get_label())
    for collection in ax.collections:
        offsets = collection.get_offset_transform().transform(collection.get_offsets())
        if len(offsets) and box.count_contains(offsets):
            covered.append(collection.get_label())
    if not covered:
        return []
    title = ax.get_title() or "an axes"
    return [f"the legend of {title!r} covers data ({', '.join(map(str, covered))[:80]})"]


def _hidden_lines(ax: mpl.axes.Axes) -> list[str]:
    found = []
    lines = [line for line in ax.get_lines() if line.get_visible()]
    for a, b in itertools.combinations(lines, 2):
        pa = a.get_transform().transform(a.get_xydata())
        pb = b.get_transform().transform(b.get_xydata())
        if pa.shape != pb.shape or len(pa) < 2:
            continue
        close = np.abs(pa - pb).max() < max(a.get_linewidth(), b.get_linewidth()) * 96 / 72
        if close and _same_look(a, b):
            found.append(
                f"line {b.get_label()!r} hides line {a.get_label()!r} in "
                f"{ax.get_title() or 'an axes'!r}: give one a marker or another dash"
            )
    return found


def _same_look(a: Line2D, b: Line2D) -> bool:
    return a.get_linestyle() == b.get_linestyle() and a.get_marker() == b.get_marker()
