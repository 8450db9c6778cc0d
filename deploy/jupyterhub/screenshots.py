"""Screenshots of the course hub in headless Chromium, for the instructor guide and for people
to look at: a student's JupyterLab with nbgrader's assignment list open, and the instructor's
formgrader listing the graded submissions of an assignment.

Each user logs in through the hub's login form with their password, as a person would.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


def _log_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"{url}/user/{name}/**", timeout=120_000)


def capture(hub: Any, student: str, instructor: str, assignment: str, folder: Path) -> list[Path]:
    """``student_lab.png`` and ``instructor_formgrader.png`` in ``folder`` (a running
    :class:`demo_hub.DemoHub` ``hub`` whose users' servers are started); their paths."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("chromium is missing: run `make system-deps`, then this again")
    folder.mkdir(parents=True, exist_ok=True)
    shots = [folder / "student_lab.png", folder / "instructor_formgrader.png"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            _log_in(page, hub.url, student, hub.passwords[student])
            page.goto(f"{hub.url}/user/{student}/lab")
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
            page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
            page.locator("text=" + assignment).first.wait_for(timeout=60_000)
            news = page.get_by_role("button", name="No")  # JupyterLab's "news?" toast
            if news.count():
                news.first.click()
                page.locator(".jp-toast-button", has_text="No").wait_for(state="detached")
            page.screenshot(path=shots[0])

            page = browser.new_page(viewport={"width": 1400, "height": 850})
            _log_in(page, hub.url, instructor, hub.passwords[instructor])
            page.goto(f"{hub.url}/user/{instructor}/formgrader/manage_submissions/{assignment}")
            page.locator("td", has_text=student).first.wait_for(timeout=60_000)
            page.screenshot(path=shots[1])
        finally:
            browser.close()
    return shots
