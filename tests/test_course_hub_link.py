"""The book's "launch on the course hub" link (book/_ext/course_hub.py): one setting,
``course_hub_url`` in book/_config.yml, off by default.

A two-page Sphinx project with the extension is built here with the setting on and off (the
whole book needs `make book`); the book's own config is checked to load the extension with
the setting empty.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from jupyter_book.config import get_final_config
from sphinx.application import Sphinx

BOOK = Path(__file__).resolve().parent.parent / "book"
HUB = "https://hub.example.edu"
PAGE = """Exercise
========

Download :download:`01_demo.ipynb <exercises/01_demo/01_demo.ipynb>`; the data is
:download:`data.csv <other/data.csv>`.
"""


def build(tmp_path: Path, hub_url: str | None) -> str:
    """The page's HTML, with ``course_hub_url`` set to ``hub_url`` (None: not set at all)."""
    src = tmp_path / "src"
    for path, text in {
        "index.rst": PAGE,
        "exercises/01_demo/01_demo.ipynb": "{}",
        "other/data.csv": "x\n",
    }.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(BOOK / '_ext')!r})\nextensions = ['course_hub']\n"
    )
    overrides = {} if hub_url is None else {"course_hub_url": hub_url}
    warnings = io.StringIO()
    app = Sphinx(
        str(src),
        str(src),
        str(tmp_path / "html"),
        str(tmp_path / "doctrees"),
        "html",
        confoverrides=overrides,
        status=None,
        warning=warnings,
        freshenv=True,
    )
    app.build()
    # (a second Sphinx app in one process re-registers Sphinx's own nodes: not ours to judge)
    ours = [w for w in warnings.getvalue().splitlines() if "is already registered" not in w]
    assert ours == []
    return (tmp_path / "html" / "index.html").read_text()


def test_with_the_setting_each_exercise_has_a_launch_link(tmp_path: Path) -> None:
    html = build(tmp_path, HUB + "/")
    want = f'href="{HUB}/hub/user-redirect/lab/tree/01_demo/01_demo.ipynb"'
    assert html.count(want) == 1
    assert html.count("launch on the course hub") == 1  # the data file gets none
    assert html.count(HUB) == 1


@pytest.mark.parametrize("hub_url", [None, ""])
def test_without_it_the_page_names_no_hub(tmp_path: Path, hub_url: str | None) -> None:
    html = build(tmp_path, hub_url)
    assert "01_demo.ipynb" in html  # the download link itself is there
    assert "launch on the course hub" not in html
    assert "user-redirect" not in html and "hub.example" not in html


def test_the_book_loads_it_switched_off() -> None:
    config = get_final_config(
        user_yaml=BOOK / "_config.yml",
        sourcedir=BOOK,
        cli_config={"latex_individualpages": False},
    )[0]
    assert "course_hub" in config["extensions"]
    assert config["course_hub_url"] == ""
