"""A "launch on the course hub" link beside each exercise notebook's download link.

One setting turns it on: ``course_hub_url`` (``sphinx: config:`` in book/_config.yml), the
hub's address, e.g. ``https://hub.example.edu``. Empty, the default, adds nothing: the book
names no other host, as its offline rule wants. Set, every download of
``exercises/<name>/<name>.ipynb`` gets a link to
``<hub>/hub/user-redirect/lab/tree/<name>/<name>.ipynb``: the hub sends the student to their
own server, where nbgrader's assignment list fetches the assignment to exactly that path. A link
is navigation, not a request: the page still loads nothing from the hub.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.addnodes import download_reference
from sphinx.application import Sphinx

# An exercise notebook, as chapters link it: .../exercises/<name>/<name>.ipynb
EXERCISE = re.compile(r"(?:^|/)exercises/(?P<name>[^/]+)/(?P=name)\.ipynb$")
LABEL = "launch on the course hub"


def hub_link(hub_url: str, name: str) -> str:
    """Where the hub sends a logged-in student to open exercise ``name`` in their own lab."""
    return f"{hub_url.rstrip('/')}/hub/user-redirect/lab/tree/{name}/{name}.ipynb"


def add_launch_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    hub_url = app.config.course_hub_url
    if not hub_url:
        return
    for download in list(doctree.findall(download_reference)):
        found = EXERCISE.search(download.get("reftarget", ""))
        if found is None:
            continue
        link = nodes.reference("", LABEL, refuri=hub_link(hub_url, found["name"]))
        link["classes"].append("course-hub-launch")
        parent = download.parent
        parent.insert(parent.index(download) + 1, [nodes.Text(" ("), link, nodes.Text(")")])


def setup(app: Sphinx) -> dict[str, Any]:
    # "html": a new hub address rebuilds every page.
    app.add_config_value("course_hub_url", "", "html", types=[str])
    app.connect("doctree-resolved", add_launch_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
