"""The browser the HTML report's tests open pages in: Debian's Chromium driven by Playwright.

Its fixtures (`browser`, `open_page`) are made visible to every test module by conftest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright (which downloads no browser of its own)."""
    path = shutil.which("chromium")
    if path is None:
        message = "the chromium package is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path)
        yield launched
        launched.close()


class Opened:
    """A page opened from a file, with every dialog and request it made recorded."""

    def __init__(self, browser: Browser, path: Path, javascript: bool = True) -> None:
        self.context = browser.new_context(
            java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
        )
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []

        def dismiss(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", dismiss)
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.page.goto(path.as_uri())

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Any]:
    opened: list[Opened] = []

    def open_(path: Path, javascript: bool = True) -> Opened:
        opened.append(Opened(browser, path, javascript))
        return opened[-1]

    yield open_
    for page in opened:
        page.close()


def assert_nothing_injected(opened: Opened) -> None:
    page = opened.page
    assert opened.dialogs == []
    assert page.locator("script").count() == 1  # the page's own
    assert page.locator("img, iframe, object, embed").count() == 0
    assert page.locator("svg").count() == page.locator("svg.chart").count()
    assert page.locator("[onerror], [onload], [onclick]").count() == 0
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    assert all(href.startswith("#") for href in hrefs), hrefs


def metric_rows(page: Page) -> dict[tuple[str, str], list[str]]:
    """The metrics table as shown: (suite, metric) -> the row's cells' text."""
    rows = page.eval_on_selector_all(
        "#metrics tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
    )
    return {(row[0], row[1].split()[0]): row for row in rows}
