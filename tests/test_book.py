"""The built course site, checked in a real browser (Debian's headless Chromium via playwright).

Every HTML page of ``book/_build/html`` is served on 127.0.0.1 and loaded. A page passes when it
made no failed request and no request to any other host, its maths was typeset by the site's own
MathJax (no raw ``$$`` or ``\\[`` left in the visible text), every image loaded, and the console
logged no error. Full-page screenshots go to ``book/_build/screenshots/`` so that a person can look
at them — an assertion cannot tell whether a figure is legible.

Build the site first with ``make book``.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "book" / "_build" / "html"
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHAPTERS = [
    "01_sequence_shapes",
    "02_rnn_forward",
    "03_bptt",
    "04_gradient_flow",
    "05_lstm",
    "06_gru_peephole",
    "07_language_model",
]
APPENDICES = ["conventions", "instructor_guide", "benchmarks", "bibliography"]
# `$x_t$` that MyST did not turn into maths: a dollar, some TeX-looking text, a dollar.
INLINE_DOLLARS = re.compile(r"\$(?=[^$\n]*[\\_^{}])[^$\s][^$\n]{0,160}?\$")

pytestmark = pytest.mark.slow


def _pages() -> list[str]:
    """Every HTML page of the built site, relative to its root (empty when the site is missing)."""
    if not (SITE / "index.html").exists():
        return []
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts
    )


PAGES = _pages()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    """The built site served by a thread on an ephemeral port of 127.0.0.1."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile, so no cached or synced state leaks in."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            # No sliding sidebars caught half-way in a screenshot.
            reduced_motion="reduce",
        )
        yield context
        context.close()


def _skip_unless_built() -> None:
    if not PAGES:
        pytest.skip(f"the site is not built ({SITE / 'index.html'} is missing): run `make book`")


def test_site_has_every_part() -> None:
    _skip_unless_built()
    expected = [
        "intro.html",
        *(f"chapters/{name}.html" for name in CHAPTERS),
        *(f"appendix/{name}.html" for name in APPENDICES),
    ]
    missing = [page for page in expected if page not in PAGES]
    assert not missing, f"pages missing from the built site: {missing}"


def _visible_text(tab: Page) -> str:
    """The main text as a reader sees it, without code blocks (code may legitimately hold `$$`)
    and without what MathJax produced (its assistive copy repeats the TeX source)."""
    return tab.evaluate(
        """() => {
            const root = (document.querySelector("main") || document.body).cloneNode(true);
            root.querySelectorAll("pre, code, script, style, mjx-container, mjx-assistive-mml")
                .forEach(node => node.remove());
            return root.textContent;
        }"""
    )


@pytest.mark.parametrize("page", PAGES or ["<site not built>"])
def test_page_in_browser(page: str, site_url: str, browser: BrowserContext) -> None:
    _skip_unless_built()
    problems: list[str] = []
    tab = browser.new_page()

    def on_request(request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname != "127.0.0.1":
            problems.append(f"request to another host: {request.url}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    tab.on("request", on_request)
    tab.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    tab.on("response", on_response)
    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))

    tab.goto(f"{site_url}/{page}", wait_until="networkidle")
    if tab.locator(".math").count() > 0:
        # MathJax 3 resolves startup.promise once its first typesetting pass is over.
        try:
            tab.wait_for_function(
                "() => window.MathJax?.startup?.promise !== undefined", timeout=15_000
            )
            tab.evaluate("() => MathJax.startup.promise.then(() => true)")
        except PlaywrightTimeoutError:
            problems.append("MathJax did not start within 15 s")
        if tab.locator("mjx-container").count() == 0:
            problems.append("the page has maths but MathJax rendered none")
        # A TeX error does not throw: MathJax typesets the message in red instead.
        for error in tab.locator("mjx-merror").all():
            problems.append(f"MathJax could not typeset: {error.get_attribute('data-mjx-error')}")
    text = _visible_text(tab)
    for raw in ("$$", "\\[", "\\(", "\\begin{"):
        if raw in text:
            line = next(line for line in text.splitlines() if raw in line)
            problems.append(f"raw maths left in the text ({raw!r}): {line.strip()[:100]}")
    inline = INLINE_DOLLARS.search(text)
    if inline:
        problems.append(f"raw inline maths left in the text: {inline.group(0)}")
    broken = tab.evaluate(
        "() => Array.from(document.images)"
        ".filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src)"
    )
    problems.extend(f"image did not load: {src}" for src in broken)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")
    tab.screenshot(path=str(shot), full_page=True)
    tab.close()
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def test_the_site_root_has_a_favicon() -> None:
    """Browsers ask for /favicon.ico on pages that name no icon (the redirecting index.html);
    without it each such visit logs a 404, which the browser test counts as a page error."""
    _skip_unless_built()
    from PIL import Image

    with Image.open(SITE / "favicon.ico") as icon:
        assert icon.format == "ICO" and icon.size[0] >= 16


# ---- reading: nothing hidden, figures at full size, accessible, in light and in dark -------------

AXE = ROOT / "build" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
COLUMN_CHECK = """(selectors) => {
    // Everything the text relies on (outputs, display maths, tables, code) must fit its column.
    const column = document.querySelector("main article") || document.querySelector("main");
    const limit = column.getBoundingClientRect().right + 1;
    const found = [];
    for (const el of column.querySelectorAll(selectors)) {
        if (el.closest("mjx-assistive-mml")) continue;
        const box = el.getBoundingClientRect();
        if (box.width === 0) continue;
        const hidden = el.scrollWidth > el.clientWidth + 1 || box.right > limit;
        if (hidden) found.push(`${el.tagName.toLowerCase()} (${Math.max(el.scrollWidth,
            box.width)} px in a ${Math.round(column.clientWidth)} px column): `
            + (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 60));
    }
    return found;
}"""
PHONE_CHECK = """() => {
    // On a phone the page itself never scrolls sideways; a wide block scrolls in its own box,
    // with a visible cue (a shadow at the hidden edge, drawn as a background image).
    const found = [];
    const page = document.documentElement;
    if (page.scrollWidth > window.innerWidth + 1)
        found.push(`the page scrolls sideways (${page.scrollWidth} px in ${window.innerWidth})`);
    const boxes = "pre, mjx-container[display='true'], .pst-scrollable-table-container, "
        + "div.math, figure";
    for (const el of document.querySelectorAll("main " + boxes)) {
        if (el.clientWidth === 0 || el.scrollWidth <= el.clientWidth + 1) continue;
        const style = getComputedStyle(el);
        if (!["auto", "scroll"].includes(style.overflowX))
            found.push(`${el.tagName.toLowerCase()} overflows without scrolling`);
        else if (style.backgroundImage === "none")
            found.push(`${el.tagName.toLowerCase()} scrolls without a visible cue: `
                + el.textContent.trim().slice(0, 50));
    }
    // Figures keep their text legible (about 9 px or more): at least 560 px wide.
    for (const img of document.querySelectorAll("main article figure > img")) {
        const shown = img.getBoundingClientRect().width;
        if (shown < 0.99 * Math.min(img.naturalWidth, 560))
            found.push(`${img.getAttribute("src").split("/").pop()}: shown ${Math.round(shown)}`
                + " px wide on a phone, its text too small to read");
    }
    return found;
}"""
FIGURE_CHECK = """() => {
    // Figures are drawn for the column: numbered caption, alt text in words, not shrunk.
    const found = [];
    for (const img of document.querySelectorAll("main article img")) {
        const name = img.getAttribute("src").split("/").pop();
        const alt = (img.getAttribute("alt") || "").trim();
        if (alt.length < 25 || /\\.(png|svg|jpe?g)$/i.test(alt))
            found.push(`${name}: alt text "${alt.slice(0, 40)}" does not describe it`);
        const figure = img.closest("figure");
        const caption = figure && figure.querySelector("figcaption .caption-number");
        if (!caption) found.push(`${name}: no numbered caption`);
        const room = img.parentElement.getBoundingClientRect().width;
        const wanted = Math.min(img.naturalWidth, room);
        if (img.getBoundingClientRect().width < 0.97 * wanted)
            found.push(`${name}: shown at ${Math.round(img.getBoundingClientRect().width)} px,`
                + ` drawn for ${img.naturalWidth}`);
        if (img.naturalWidth > 700)
            found.push(`${name}: drawn ${img.naturalWidth} px wide, wider than the column`);
    }
    return found;
}"""
AXE_RUN = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations
        .filter(v => v.impact === "serious" || v.impact === "critical")
        .map(v => `${v.id} (${v.impact}) on ${v.nodes.length} element(s), e.g. `
            + v.nodes[0].target.join(" ") + ": " + v.nodes[0].failureSummary
                .replace(/\\s+/g, " ").slice(0, 160));
}"""
# What must fit the column at 1280 px: outputs the text relies on, display maths, tables.
FITS_AT_1280 = ".cell_output pre, mjx-container[display='true'], table"


def _typeset(tab: Page) -> None:
    if tab.locator(".math").count():
        tab.wait_for_function("() => window.MathJax?.startup?.promise !== undefined")
        tab.evaluate("() => MathJax.startup.promise.then(() => true)")


def _axe(tab: Page) -> list[str]:
    tab.add_script_tag(path=str(AXE))
    return tab.evaluate(AXE_RUN)


@pytest.mark.parametrize("page", PAGES or ["<site not built>"])
def test_page_reads_well(page: str, site_url: str, browser: BrowserContext) -> None:
    """At 1280 px nothing the text relies on scrolls and figures are shown at the size they
    were drawn; at 390 px the page does not scroll sideways; axe-core finds no serious or
    critical violation, in the light theme or the dark one."""
    _skip_unless_built()
    if not AXE.exists():
        pytest.skip(f"axe-core is missing ({AXE}): run `make {AXE.relative_to(ROOT)}`")
    problems: list[str] = []
    tab = browser.new_page()
    tab.goto(f"{site_url}/{page}", wait_until="networkidle")
    _typeset(tab)
    tab.wait_for_timeout(300)  # the theme's icons are swapped in after the load event
    problems += [f"1280 px: {p}" for p in tab.evaluate(COLUMN_CHECK, FITS_AT_1280)]
    if page.startswith("chapters/"):
        problems += [f"figure: {p}" for p in tab.evaluate(FIGURE_CHECK)]
    problems += [f"axe, light: {p}" for p in _axe(tab)]
    tab.evaluate(
        "() => { document.documentElement.dataset.theme = 'dark';"
        " document.documentElement.dataset.mode = 'dark'; }"
    )
    tab.wait_for_timeout(100)
    problems += [f"axe, dark: {p}" for p in _axe(tab)]
    shot = SCREENSHOTS / (page.replace("/", "__").removesuffix(".html") + ".dark.png")
    tab.screenshot(path=str(shot), full_page=True)
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.wait_for_timeout(300)
    problems += [f"390 px: {p}" for p in tab.evaluate(PHONE_CHECK)]
    tab.screenshot(path=str(shot.with_suffix("").with_suffix(".phone-dark.png")), full_page=True)
    tab.evaluate(
        "() => { document.documentElement.dataset.theme = 'light';"
        " document.documentElement.dataset.mode = 'light'; }"
    )
    tab.screenshot(path=str(shot.with_suffix("").with_suffix(".phone.png")), full_page=True)
    tab.close()
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def test_search_snippets_show_maths_as_symbols(site_url: str, browser: BrowserContext) -> None:
    """Sphinx quotes a page's HTML, where maths is still TeX: the snippets must not show it."""
    _skip_unless_built()
    tab = browser.new_page()
    tab.goto(f"{site_url}/search.html?q=pre-activation", wait_until="networkidle")
    tab.wait_for_function("() => document.querySelectorAll('p.context').length >= 2")
    snippets = [c.text_content() for c in tab.locator("p.context").all()]
    tab.close()
    assert any("tanh" in s for s in snippets), snippets  # the maths is there, as words
    raw = [s for s in snippets if re.search(r"\\[A-Za-z(|]", s)]
    assert not raw, f"search snippets show TeX: {raw[0][:160]}"
