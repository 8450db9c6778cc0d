"""The cell diagrams of book/diagrams.py: well-formed, accessible, legible, saying the right thing.

What a diagram *looks like* is checked by a person on the rendered pages; these tests pin down
what can be read from the SVG text: its structure, labels, sizes and which wire goes where.
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("diagrams", ROOT / "book" / "diagrams.py")
diagrams = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(diagrams)

NS = {"s": "http://www.w3.org/2000/svg"}
S = "{http://www.w3.org/2000/svg}"
NAMES = list(diagrams.DIAGRAMS)
# px: the book's content column at a 390 px phone (measured in Chromium) and a 1280 px window
PHONE_COLUMN, DESKTOP_COLUMN = 342, 688


def _svg(name: str) -> ET.Element:
    return ET.fromstring(diagrams.DIAGRAMS[name]())


def _label(text: ET.Element) -> str:
    """A <text> as the course writes it: subscripts as _{...} (``c_{t−1}``)."""
    out = [text.text or ""]
    for child in text:
        inner = "".join(child.itertext())
        out.append(f"_{{{inner}}}" if child.get("class") == "sub" else inner)
        out.append(child.tail or "")
    return "".join(out).strip()


def _labels(root: ET.Element) -> list[str]:
    return sorted(_label(t) for t in root.iter(f"{S}text") if t.get("class") == "label")


def _role(root: ET.Element, role: str) -> tuple[float, float]:
    (group,) = [g for g in root.iter(f"{S}g") if g.get("data-role") == role]
    return float(group.get("data-cx")), float(group.get("data-cy"))


def _start(path: ET.Element) -> tuple[float, float]:
    x, y = re.match(r"M([-\d.]+),([-\d.]+)", path.get("d")).groups()
    return float(x), float(y)


@pytest.mark.parametrize("name", NAMES)
def test_well_formed_and_accessible(name: str) -> None:
    root = _svg(name)
    assert root.tag == f"{S}svg"
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    (title,) = root.findall("s:title", NS)
    (desc,) = root.findall("s:desc", NS)
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert len(title.text) > 8 and len(desc.text.split()) > 30  # words, not a placeholder
    assert root.get("width") == "100%" and "height" not in root.attrib  # scales to the column


@pytest.mark.parametrize("name", NAMES)
def test_text_is_large_enough_on_a_phone_and_a_desktop(name: str) -> None:
    root = _svg(name)
    width = float(root.get("viewBox").split()[2])
    assert f"max-width:{width:g}px" in root.get("style")  # never drawn larger than 1 unit/px
    sizes = []
    for text in root.iter(f"{S}text"):
        sizes.append(float(text.get("font-size")))  # every <text> states its size
        sizes += [float(t.get("font-size")) for t in text.iter(f"{S}tspan") if t.get("font-size")]
    smallest = min(sizes)
    assert smallest >= diagrams.MIN_FONT_SIZE
    assert smallest * min(1, PHONE_COLUMN / width) >= 9
    assert smallest * min(1, DESKTOP_COLUMN / width) >= 12


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_self_contained(name: str) -> None:
    make = diagrams.DIAGRAMS[name]
    text = make()
    assert text == make()
    assert "http" not in text.replace(diagrams.SVG_NS, "")
    assert re.findall(r"url\((.)", text) and set(re.findall(r"url\((.)", text)) == {"#"}
    root = ET.fromstring(text)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for ref in re.findall(r"url\(#([^)]+)\)", text):
        assert ref in ids


def test_ids_do_not_clash_when_diagrams_share_a_page() -> None:
    ids = [e.get("id") for name in NAMES for e in _svg(name).iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_theme_switch_and_palette_contrast() -> None:
    text = diagrams.lstm_cell_svg()
    # The page's theme attribute drives the colours; the media query only for a file on its own.
    assert 'html[data-theme="dark"] .cell-diagram{' in text
    assert re.search(r"@media \(prefers-color-scheme:dark\)\{svg\.cell-diagram:root\{", text)
    assert "stroke:currentColor" in text and "fill:currentColor" in text

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a: str, b: str) -> float:
        hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    for light, dark in diagrams.PALETTE.values():
        assert contrast(light, diagrams.LIGHT_BACKGROUND) >= 4.5
        assert all(contrast(dark, bg) >= 4.5 for bg in diagrams.DARK_BACKGROUNDS)
        assert f":{light}" in text and f":{dark}" in text


def test_rnn_labels() -> None:
    assert _labels(_svg("rnn_cell")) == sorted(
        ["h_{t−1}", "x_{t}", "h_{t}", "·W_{h}", "·W_{x}", "b", "tanh"]
    )


def test_lstm_labels_and_cell_path() -> None:
    root = _svg("lstm_cell")
    assert _labels(root) == sorted(
        ["c_{t−1}", "c_{t}", "h_{t−1}", "h_{t}", "x_{t}", "f_{t}", "i_{t}", "g_{t}", "o_{t}"]
        + ["σ", "σ", "σ", "tanh", "tanh"]  # three sigmoid gates, the candidate, tanh(c_t)
    )
    # Along the top at the same height: the forget ⊙, then the +; h_t's ⊙ is further right.
    (fx, fy), (ax, ay), (ox, _) = (_role(root, r) for r in ("forget", "write", "output"))
    assert fy == ay and fx < ax < ox
    colours = {
        g.get("data-role"): g.find("s:rect", NS).get("class")
        for g in root.iter(f"{S}g")
        if g.get("data-role", "").startswith("gate-")
    }
    assert set(colours) == {"gate-i", "gate-f", "gate-g", "gate-o"}
    assert len(set(colours.values())) == 4


def test_peepholes_only_in_the_peephole_lstm_and_from_the_right_cell_state() -> None:
    plain, peep = _svg("lstm_cell"), _svg("peephole_lstm_cell")
    assert not [p for p in plain.iter(f"{S}path") if p.get("class") == "peephole"]
    assert not {"p_{i}", "p_{f}", "p_{o}"} & set(_labels(plain))
    assert {"p_{i}", "p_{f}", "p_{o}"} <= set(_labels(peep))
    dashed = [p for p in peep.iter(f"{S}path") if p.get("class") == "peephole"]
    wires = {p.get("data-to"): p for p in dashed if p.get("data-to")}
    assert sorted(p.get("data-to") for p in dashed if p.get("data-to")) == ["f", "i", "o"]
    assert len(dashed) == 4  # the three connections and the key's sample line
    assert {k: w.get("data-tap") for k, w in wires.items()} == {
        "i": "c_{t−1}",
        "f": "c_{t−1}",
        "o": "c_{t}",
    }
    # The taps: i and f read the cell path before the forget ⊙ (c_{t−1}), o after the + (c_t).
    forget_x, top = _role(peep, "forget")
    add_x, _ = _role(peep, "write")
    (fx, fy), (ox, oy) = _start(wires["f"]), _start(wires["o"])
    assert fy == top and fx < forget_x
    assert oy == top and ox > add_x
    assert _start(wires["i"])[0] < forget_x  # branches off the f peephole, left of the ⊙
    assert "stroke-dasharray" in diagrams.lstm_cell_svg(peephole=True)  # dashed, not just coloured


def test_gru_variants_differ_in_where_the_reset_gate_enters() -> None:
    before, after = _svg("gru_cell_reset_before"), _svg("gru_cell_reset_after")
    heading = {
        name: "".join(t.itertext())
        for name, root in (("before", before), ("after", after))
        for t in root.iter(f"{S}text")
        if t.get("class") == "title"
    }
    assert heading == {
        "before": "reset before Wh (Cho et al. 2014)",
        "after": "reset after Wh (reset_after=True, cuDNN/Keras)",
    }
    # Before: r ⊙ h_{t−1} on the way *into* the recurrent matrix (left of it, same wire).
    (rx, ry), (hx, hy) = _role(before, "reset"), _role(before, "hn-linear")
    assert ry == hy and rx < hx
    # After: r multiplies what comes *out of* it (above it, on the way to the sum).
    (rx, ry), (hx, hy) = _role(after, "reset"), _role(after, "hn-linear")
    assert rx == hx and ry < hy
    # The second bias b_hn exists only in the reset-after form.
    assert "·W_{hn}+b_{hn}" in _labels(after) and "·W_{hn}" in _labels(before)
    assert not any("b_{hn}" in label for label in _labels(before))
    common = ["h_{t−1}", "h_{t}", "x_{t}", "z_{t}", "r_{t}", "n_{t}", "σ", "σ", "tanh", "1−"]
    assert _labels(before) == sorted(common + ["·W_{hn}", "·W_{xn}+b_{n}"])
    assert _labels(after) == sorted(common + ["·W_{hn}+b_{hn}", "·W_{xn}+b_{xn}"])


def test_write_all(tmp_path: Path) -> None:
    paths = diagrams.write_all(tmp_path / "svg")
    assert sorted(p.name for p in paths) == sorted(f"{n}.svg" for n in NAMES)
    for path in paths:
        assert path.read_text(encoding="utf-8") == diagrams.DIAGRAMS[path.stem]()
