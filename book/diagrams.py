"""The course's cell diagrams (tanh RNN, LSTM, GRU in both reset placements, peephole LSTM), as SVG.

Each function returns the text of one self-contained SVG, written by hand from a few primitives
(rectangles, circles, paths with arrowheads, text with subscripts) so that the drawing is
deterministic and needs nothing but the standard library. The chapters paste the SVG *inline*
(a glued ``text/html`` output inside a ``{glue:figure}``), so that it follows the page's theme:

* lines and labels are drawn in ``currentColor``, the page's text colour, on a transparent
  background;
* the gate colours (Okabe & Ito's colour-blind-safe hues, darkened for a white page) are CSS
  variables, switched to lighter tints by ``html[data-theme="dark"]``, the attribute that
  pydata-sphinx-theme sets and its theme button toggles; a saved file (``write_all``) switches on
  ``prefers-color-scheme`` instead, and only when it is the document itself (``:root``), never
  inside a page;
* colour is never the only cue: every gate is labelled with its function (σ or tanh) and its
  output with its symbol (f_t, i_t, ...), and the peepholes are dashed.

All text is at least ``MIN_FONT_SIZE`` user units and no diagram is wider than ``MAX_WIDTH``, so
that in the book's column on a 390 px phone (342 px wide) every label is at least 9 px, and
17 px on a desktop.

Usage: ``python book/diagrams.py OUT_DIR`` writes every diagram to ``OUT_DIR/<name>.svg``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

SVG_NS = "http://www.w3.org/2000/svg"
FONT_SIZE = 21  # labels
SUB_SIZE = 17  # subscripts
MIN_FONT_SIZE = 17  # no text is smaller (in user units)
MAX_WIDTH = 640  # user units; 17 * 342 / 640 > 9 px on a phone
SUB_SHIFT = 5  # how far a subscript drops below the baseline

# Gate colours: (on a light page, on a dark page). Okabe & Ito hues; the light-page variants are
# darkened so that each has a contrast of at least 4.5 : 1 on white, the dark-page ones at least
# 4.5 : 1 on the theme's dark backgrounds (#14181e, and #121212 behind the book's article).
PALETTE: dict[str, tuple[str, str]] = {
    "vermillion": ("#B85000", "#E8853B"),
    "blue": ("#0072B2", "#56B4E9"),
    "green": ("#007A5A", "#2FB38E"),
    "orange": ("#9A6700", "#E69F00"),
    "purple": ("#A8508A", "#D88CB8"),
}
LIGHT_BACKGROUND = "#ffffff"
DARK_BACKGROUNDS = ("#14181e", "#121212")  # pydata-sphinx-theme's, sphinx-book-theme's body
DARK_TEXT = "#ced6dd"  # its --pst-color-text-base, for a saved file shown in dark mode

FONT_FAMILY = "'STIX Two Text', 'Cambria', 'Times New Roman', 'Liberation Serif', serif"
TITLE_FONT = "system-ui, -apple-system, 'Segoe UI', 'Liberation Sans', 'DejaVu Sans', sans-serif"


def _variables(index: int) -> str:
    return ";".join(f"--cd-{name}:{pair[index]}" for name, pair in PALETTE.items())


_STYLE = (
    f".cell-diagram{{{_variables(0)};display:block;margin:0 auto;height:auto;"
    "background:transparent}"
    f'html[data-theme="dark"] .cell-diagram{{{_variables(1)}}}'
    f"@media (prefers-color-scheme:dark){{svg.cell-diagram:root{{{_variables(1)};"
    f"color:{DARK_TEXT}}}}}"
    f".cell-diagram text{{fill:currentColor;stroke:none;font-family:{FONT_FAMILY}}}"
    f".cell-diagram text.title{{font-family:{TITLE_FONT}}}"
    ".cell-diagram .wire{fill:none;stroke:currentColor;stroke-width:2}"
    ".cell-diagram .frame{fill:none;stroke:currentColor;stroke-width:1.5;stroke-opacity:.45}"
    ".cell-diagram .op{fill:none;stroke:currentColor;stroke-width:2}"
    ".cell-diagram .dot{fill:currentColor;stroke:none}"
    ".cell-diagram .box{stroke-width:2.5;fill-opacity:.14}"
    ".cell-diagram .plain{fill:none;stroke:currentColor;stroke-width:2}"
    ".cell-diagram .peephole{fill:none;stroke:var(--cd-purple);stroke-width:2.5;"
    "stroke-dasharray:7 4}"
    ".cell-diagram .head{fill:currentColor}"
    ".cell-diagram .head-peephole,.cell-diagram .dot-peephole{fill:var(--cd-purple)}"
    + "".join(
        f".cell-diagram .box.{name}{{stroke:var(--cd-{name});fill:var(--cd-{name})}}"
        for name in PALETTE
    )
)

_MATH_RUN = re.compile(r"([A-Za-zσ]+)")


def _runs(text: str) -> str:
    """Letters in italics, as MathJax sets them (except function names such as tanh)."""
    out = []
    for part in _MATH_RUN.split(text):
        if not part:
            continue
        if _MATH_RUN.fullmatch(part) and part != "tanh":
            out.append(f'<tspan font-style="italic">{escape(part)}</tspan>')
        else:
            out.append(escape(part))
    return "".join(out)


def _label_tspans(label: str) -> str:
    """``"c_{t−1}"`` as tspans: the base, then the subscript dropped and smaller."""
    out, shifted = [], False
    for piece in re.split(r"(_\{[^}]*\})", label):
        if not piece:
            continue
        if piece.startswith("_{"):
            out.append(
                f'<tspan class="sub" dy="{SUB_SHIFT}" font-size="{SUB_SIZE}">'
                f"{_runs(piece[2:-1])}</tspan>"
            )
            shifted = True
        else:
            dy = f' dy="{-SUB_SHIFT}"' if shifted else ""
            out.append(f"<tspan{dy}>{_runs(piece)}</tspan>")
            shifted = False
    return "".join(out)


class _Drawing:
    """A list of SVG elements, with helpers in the diagrams' own vocabulary."""

    def __init__(self, key: str, width: int, height: int, title: str, desc: str) -> None:
        assert width <= MAX_WIDTH
        self.key, self.width, self.height = key, width, height
        self.title, self.desc = title, desc
        self.items: list[str] = []

    # --- primitives -------------------------------------------------------------------------
    def text(
        self,
        x: float,
        y: float,
        label: str,
        anchor: str = "middle",
        size: int = FONT_SIZE,
        cls: str = "label",
    ) -> None:
        self.items.append(
            f'<text class="{cls}" x="{x:g}" y="{y:g}" font-size="{size}" '
            f'text-anchor="{anchor}">{_label_tspans(label)}</text>'
        )

    def wire(
        self,
        points: list[tuple[float, float]],
        arrow: bool = True,
        cls: str = "wire",
        hops: tuple[tuple[float, float], ...] = (),
        **data: str,
    ) -> None:
        """A polyline of axis-parallel segments, ending in an arrowhead at its last point.

        ``hops`` are points where the wire crosses another one without joining it: the wire
        jumps over with a small half-circle there.
        """
        pts = [tuple(map(float, p)) for p in points]
        if arrow:  # stop short so that the arrowhead's tip, not the line's end, is at the point
            (x0, y0), (x1, y1) = pts[-2], pts[-1]
            length = abs(x1 - x0) + abs(y1 - y0)
            pts[-1] = (x1 - 3 * (x1 - x0) / length, y1 - 3 * (y1 - y0) / length)
        d = [f"M{pts[0][0]:g},{pts[0][1]:g}"]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            for hx, hy in sorted(
                (h for h in hops if _on_segment(h, (x0, y0), (x1, y1))),
                key=lambda h: abs(h[0] - x0) + abs(h[1] - y0),
            ):
                r = 6.0
                if x0 == x1:  # vertical: bulge to the right
                    s = 1 if y1 > y0 else -1
                    d.append(f"L{hx:g},{hy - s * r:g}")
                    d.append(f"A{r:g},{r:g} 0 0 {1 if s < 0 else 0} {hx:g},{hy + s * r:g}")
                else:  # horizontal: bulge upwards
                    s = 1 if x1 > x0 else -1
                    d.append(f"L{hx - s * r:g},{hy:g}")
                    d.append(f"A{r:g},{r:g} 0 0 {1 if s > 0 else 0} {hx + s * r:g},{hy:g}")
            d.append(f"L{x1:g},{y1:g}")
        head = "head-peephole" if cls == "peephole" else "head"
        marker = f' marker-end="url(#{self.key}-{head})"' if arrow else ""
        attrs = "".join(f" data-{k}={quoteattr(v)}" for k, v in sorted(data.items()))
        self.items.append(f'<path class="{cls}" d="{" ".join(d)}"{marker}{attrs}/>')

    def dot(self, x: float, y: float, cls: str = "dot") -> None:
        """A junction: the wire branches here."""
        self.items.append(f'<circle class="{cls}" cx="{x:g}" cy="{y:g}" r="4"/>')

    # --- the diagrams' vocabulary ---------------------------------------------------------------
    def frame(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.items.append(
            f'<rect class="frame" x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" '
            f'height="{y1 - y0:g}" rx="18"/>'
        )

    def box(
        self,
        cx: float,
        cy: float,
        label: str,
        colour: str | None,
        w: float = 56,
        h: float = 40,
        role: str = "",
    ) -> None:
        """A layer: a coloured box (its function inside), or an uncoloured one (a linear map)."""
        cls = f"box {colour}" if colour else "plain"
        self.items.append(
            f'<g data-role="{role}" data-cx="{cx:g}" data-cy="{cy:g}">'
            f'<rect class="{cls}" x="{cx - w / 2:g}" y="{cy - h / 2:g}" width="{w:g}" '
            f'height="{h:g}" rx="6"/></g>'
        )
        self.text(cx, cy + 7, label)

    def pill(self, cx: float, cy: float, label: str) -> None:
        """A pointwise function (the tanh of c_t): a rounded outline, no colour."""
        w, h = 64, 30
        self.items.append(
            f'<rect class="op" x="{cx - w / 2:g}" y="{cy - h / 2:g}" width="{w}" height="{h}" '
            f'rx="{h / 2:g}"/>'
        )
        self.text(cx, cy + 7, label)

    def mul(self, cx: float, cy: float, role: str = "") -> None:
        """⊙, the elementwise product: a circle with a dot in the middle."""
        self.items.append(
            f'<g class="mul" data-role="{role}" data-cx="{cx:g}" data-cy="{cy:g}">'
            f"<title>⊙</title>"
            f'<circle class="op" cx="{cx:g}" cy="{cy:g}" r="12"/>'
            f'<circle class="dot" cx="{cx:g}" cy="{cy:g}" r="3"/></g>'
        )

    def add(self, cx: float, cy: float, role: str = "") -> None:
        """+, the elementwise sum: a circle with a plus."""
        self.items.append(
            f'<g class="add" data-role="{role}" data-cx="{cx:g}" data-cy="{cy:g}">'
            f"<title>+</title>"
            f'<circle class="op" cx="{cx:g}" cy="{cy:g}" r="12"/>'
            f'<path class="op" d="M{cx - 7:g},{cy:g} H{cx + 7:g} M{cx:g},{cy - 7:g} '
            f'V{cy + 7:g}"/></g>'
        )

    def one_minus(self, cx: float, cy: float) -> None:
        """1 − z: a circle labelled "1−"."""
        self.items.append(f'<circle class="op" cx="{cx:g}" cy="{cy:g}" r="16"/>')
        self.text(cx, cy + 6, "1−", size=18)

    # --- output -------------------------------------------------------------------------------
    def svg(self) -> str:
        k = self.key
        defs = "".join(
            f'<marker id="{k}-{head}" viewBox="0 0 10 8" refX="7" refY="4" markerWidth="10" '
            f'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path class="{head}" d="M0,0 L10,4 L0,8 z"/></marker>'
            for head in ("head", "head-peephole")
        )
        return (
            f'<svg xmlns="{SVG_NS}" class="cell-diagram" id="{k}" role="img" '
            f'aria-labelledby="{k}-title {k}-desc" viewBox="0 0 {self.width} {self.height}" '
            f'width="100%" style="max-width:{self.width}px">'
            f'<title id="{k}-title">{escape(self.title)}</title>'
            f'<desc id="{k}-desc">{escape(self.desc)}</desc>'
            f"<style>{_STYLE}</style><defs>{defs}</defs>" + "".join(self.items) + "</svg>\n"
        )


def _on_segment(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> bool:
    (x, y), (x0, y0), (x1, y1) = p, a, b
    if x0 == x1 == x:
        return min(y0, y1) < y < max(y0, y1)
    if y0 == y1 == y:
        return min(x0, x1) < x < max(x0, x1)
    return False


# ---------------------------------------------------------------------------------------------
def rnn_cell_svg() -> str:
    """The tanh cell: h_t = tanh(x_t W_x + h_{t−1} W_h + b)."""
    d = _Drawing(
        "cd-rnn",
        520,
        278,
        "The tanh RNN cell",
        "Tanh RNN cell. The previous state h_{t−1} enters from the left and is multiplied by "
        "the recurrent weights W_h; the input x_t enters from below and is multiplied by the "
        "input weights W_x. The two products and the bias b are added, tanh is applied, and the "
        "result, the new state h_t = tanh(x_t W_x + h_{t−1} W_h + b), leaves on the right, "
        "towards the output layer and the next step.",
    )
    d.frame(70, 30, 440, 220)
    d.text(8, 102, "h_{t−1}", anchor="start")
    d.wire([(50, 95), (118, 95)])
    d.box(150, 95, "·W_{h}", None, w=64)
    d.wire([(182, 95), (238, 95)])
    d.add(250, 95)
    d.text(250, 262, "x_{t}")
    d.wire([(250, 238), (250, 187)])
    d.box(250, 165, "·W_{x}", None, w=64)
    d.wire([(250, 145), (250, 107)])
    d.text(262, 62, "b", anchor="start")
    d.wire([(250, 44), (250, 83)])
    d.wire([(262, 95), (308, 95)])
    d.box(340, 95, "tanh", "green", w=64)
    d.wire([(372, 95), (490, 95)])
    d.text(512, 102, "h_{t}", anchor="end")
    return d.svg()


def lstm_cell_svg(peephole: bool = False) -> str:
    """The LSTM cell (PyTorch's i, f, g, o), optionally with Gers & Schmidhuber's peepholes."""
    name = "Peephole LSTM cell" if peephole else "LSTM cell"
    desc = (
        f"{name}. The cell state c_{{t−1}} enters at the top left and runs along the top: it is "
        "multiplied elementwise (⊙) by the forget gate f_t, then the product i_t ⊙ g_t of the "
        "input gate and the candidate is added (+), giving the new cell state c_t, which leaves "
        "at the top right. The previous hidden state h_{t−1} (left) and the input x_t (bottom) "
        "feed four layers, each an affine map followed by its function: the forget gate "
        "f_t = σ(·), the input gate i_t = σ(·), the candidate g_t = tanh(·) and the output gate "
        "o_t = σ(·). The new cell state c_t goes through tanh and is multiplied by o_t: "
        "h_t = o_t ⊙ tanh(c_t) leaves at the bottom right."
    )
    if peephole:
        desc += (
            " Dashed lines are the peephole connections: the old cell state c_{t−1} feeds the "
            "forget and input gates through the diagonal weights p_f and p_i, and the new cell "
            "state c_t feeds the output gate through p_o."
        )
    d = _Drawing(
        "cd-peephole" if peephole else "cd-lstm",
        600,
        392 if not peephole else 415,
        name,
        desc,
    )
    top, bus = 85, 295
    d.frame(70, 45, 560, 330)
    # The cell path along the top: c_{t-1} -> forget ⊙ -> + -> c_t.
    d.text(8, top + 7, "c_{t−1}", anchor="start")
    d.wire([(48, top), (163, top)])
    d.mul(175, top, role="forget")
    d.wire([(187, top), (303, top)])
    d.add(315, top, role="write")
    d.wire([(327, top), (570, top)])
    d.dot(480, top)
    d.text(592, top + 7, "c_{t}", anchor="end")
    # The gates, fed by the bus [h_{t-1}, x_t].
    d.text(8, bus + 7, "h_{t−1}", anchor="start")
    d.wire([(50, bus), (400, bus), (400, 245)])
    d.text(120, 377, "x_{t}")
    d.wire([(120, 355), (120, bus)], arrow=False)
    d.dot(120, bus)
    for x in (175, 245, 315):
        d.dot(x, bus)
        d.wire([(x, bus), (x, 245)])
    for x, label, colour, gate in (
        (175, "σ", "vermillion", "f"),
        (245, "σ", "blue", "i"),
        (315, "tanh", "green", "g"),
        (400, "σ", "orange", "o"),
    ):
        d.box(x, 225, label, colour, role=f"gate-{gate}")
    # f_t up to the forget ⊙; i_t and g_t to their product, and on to the +.
    d.wire([(175, 205), (175, top + 12)])
    d.text(183, 140, "f_{t}", anchor="start")
    d.wire([(245, 205), (245, 150), (303, 150)])
    d.text(253, 185, "i_{t}", anchor="start")
    d.wire([(315, 205), (315, 162)])
    d.text(323, 185, "g_{t}", anchor="start")
    d.mul(315, 150, role="input")
    d.wire([(315, 138), (315, top + 12)])
    # The output: h_t = o_t ⊙ tanh(c_t).
    d.wire([(480, top), (480, 135)])
    d.pill(480, 150, "tanh")
    d.wire([(480, 165), (480, 213)])
    d.wire([(428, 225), (468, 225)])
    d.text(448, 216, "o_{t}")
    d.mul(480, 225, role="output")
    d.wire([(480, 237), (480, bus), (570, bus)])
    d.text(592, bus + 7, "h_{t}", anchor="end")
    if peephole:
        # c_{t-1}, before the forget ⊙, to f and i; c_t, after the +, to o.
        d.dot(105, top, cls="dot-peephole")
        d.wire([(105, top), (105, 225), (147, 225)], cls="peephole", to="f", tap="c_{t−1}")
        d.text(126, 248, "p_{f}")
        d.dot(105, 180, cls="dot-peephole")
        d.wire(
            [(105, 180), (228, 180), (228, 205)],
            cls="peephole",
            hops=((175, 180),),
            to="i",
            tap="c_{t−1}",
        )
        d.text(140, 172, "p_{i}")
        d.dot(400, top, cls="dot-peephole")
        d.wire([(400, top), (400, 205)], cls="peephole", to="o", tap="c_{t}")
        d.text(408, 150, "p_{o}", anchor="start")
        # A key, in words: dashed means peephole.
        d.items.append(
            '<path class="peephole" d="M300,398 H340" data-key="1"/>'
            '<text class="title" x="348" y="404" font-size="17" text-anchor="start">'
            "peephole (diagonal weights)</text>"
        )
    return d.svg()


def gru_cell_svg(reset_after: bool = False) -> str:
    """The GRU (PyTorch's r, z, n), with the reset gate before or after the recurrent matmul."""
    if reset_after:
        key, title = "cd-gru-after", "GRU cell, reset after W_h (reset_after=True, cuDNN/Keras)"
        heading = "reset after $W_{h}$ (reset_after=True, cuDNN/Keras)"
        where = (
            "The previous state first goes through its own affine map, h_{t−1} W_hn + b_hn; the "
            "reset gate r_t multiplies that result (⊙), which is then added to x_t W_xn + b_xn "
            "and squashed by tanh into the candidate n_t = tanh(x_t W_xn + b_xn + "
            "r_t ⊙ (h_{t−1} W_hn + b_hn))."
        )
    else:
        key, title = "cd-gru-before", "GRU cell, reset before W_h (Cho et al. 2014)"
        heading = "reset before $W_{h}$ (Cho et al. 2014)"
        where = (
            "The reset gate r_t multiplies the previous state (⊙) before the recurrent matrix: "
            "r_t ⊙ h_{t−1} goes through W_hn, is added to x_t W_xn + b_n and squashed by tanh "
            "into the candidate n_t = tanh(x_t W_xn + (r_t ⊙ h_{t−1}) W_hn + b_n)."
        )
    desc = (
        f"{title}. The previous state h_{{t−1}} enters at the top left and runs along the top. "
        "Together with the input x_t (bottom) it feeds two gates, the update gate z_t = σ(·) and "
        f"the reset gate r_t = σ(·). {where} Along the top, h_{{t−1}} is multiplied by z_t, the "
        "candidate n_t is multiplied by 1 − z_t, and the sum h_t = (1 − z_t) ⊙ n_t + "
        "z_t ⊙ h_{t−1} leaves at the top right."
    )
    d = _Drawing(key, 640, 462, title, desc)
    top, hbus, xbus = 85, 350, 390
    # The heading, with W_h as maths.
    pieces = re.split(r"\$([^$]*)\$", heading)
    body = "".join(
        _label_tspans(p) if i % 2 else f"<tspan>{escape(p)}</tspan>" for i, p in enumerate(pieces)
    )
    d.items.append(
        f'<text class="title" x="{d.width / 2:g}" y="26" font-size="19" '
        f'text-anchor="middle">{body}</text>'
    )
    d.frame(70, 48, 590, 410)
    # The state path along the top: h_{t-1} -> z ⊙ -> + -> h_t.
    d.text(8, top + 7, "h_{t−1}", anchor="start")
    d.wire([(50, top), (288, top)])
    d.dot(100, top)
    d.mul(300, top, role="keep")
    d.wire([(312, top), (508, top)])
    d.add(520, top, role="mix")
    d.wire([(532, top), (612, top)])
    d.text(632, top + 7, "h_{t}", anchor="end")
    # Two buses: h_{t-1} (tapped from the top) and x_t (from below).
    d.text(120, 447, "x_{t}")
    d.wire([(100, top), (100, hbus)], arrow=False)
    d.wire([(120, 425), (120, xbus), (520, xbus), (520, 370)])
    for cx in (160, 250):  # z and r read both buses
        d.dot(cx - 12, hbus)
        d.wire([(cx - 12, hbus), (cx - 12, 310)])
        d.dot(cx + 12, xbus)
        d.wire([(cx + 12, xbus), (cx + 12, 310)], hops=((cx + 12, hbus),))
    d.box(160, 290, "σ", "vermillion", role="gate-z")
    d.box(250, 290, "σ", "blue", role="gate-r")
    # z_t: to the ⊙ on the top path, and through 1 − z_t to the candidate's ⊙.
    d.wire([(160, 270), (160, 145), (300, 145), (300, top + 12)])
    d.text(168, 215, "z_{t}", anchor="start")
    d.dot(300, 145)
    d.wire([(300, 145), (394, 145)])
    d.one_minus(410, 145)
    d.wire([(426, 145), (508, 145)])
    d.mul(520, 145, role="write")
    d.wire([(520, 133), (520, top + 12)])
    # The candidate n_t: where r_t enters is the whole difference.
    if reset_after:
        d.wire([(100, hbus), (320, hbus)])
        d.box(370, hbus, "·W_{hn}+b_{hn}", None, w=100, role="hn-linear")
        d.wire([(370, 330), (370, 302)])
        d.wire([(278, 290), (358, 290)])
        d.text(318, 282, "r_{t}")
        d.mul(370, 290, role="reset")
        d.wire([(382, 290), (508, 290)])
        x_label = "·W_{xn}+b_{xn}"
    else:
        d.wire([(100, hbus), (313, hbus)])
        d.wire([(278, 290), (325, 290), (325, hbus - 12)])
        d.text(300, 282, "r_{t}")
        d.mul(325, hbus, role="reset")
        d.wire([(337, hbus), (378, hbus)])
        d.box(410, hbus, "·W_{hn}", None, w=64, role="hn-linear")
        d.wire([(410, 330), (410, 290), (508, 290)])
        x_label = "·W_{xn}+b_{n}"
    d.box(520, hbus, x_label, None, w=96, role="xn-linear")
    d.wire([(520, 330), (520, 302)])
    d.add(520, 290, role="candidate-sum")
    d.wire([(520, 278), (520, 238)])
    d.box(520, 220, "tanh", "green", h=36, role="gate-n")
    d.wire([(520, 202), (520, 157)])
    d.text(528, 185, "n_{t}", anchor="start")
    return d.svg()


DIAGRAMS = {
    "rnn_cell": rnn_cell_svg,
    "lstm_cell": lstm_cell_svg,
    "peephole_lstm_cell": lambda: lstm_cell_svg(peephole=True),
    "gru_cell_reset_before": lambda: gru_cell_svg(reset_after=False),
    "gru_cell_reset_after": lambda: gru_cell_svg(reset_after=True),
}


def write_all(out_dir: str | Path) -> list[Path]:
    """Write every diagram to ``out_dir/<name>.svg``; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in DIAGRAMS.items():
        path = out / f"{name}.svg"
        path.write_text(make(), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_all(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(written)
