"""Browser-test fixtures: Debian's Chromium driven by Playwright, a page in it, and where
screenshots go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.fixtures.browser import opened

# Debian's Chromium: Playwright's own browser download is not available here.
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling hosts this machine can't reach.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module. Not one per test process: Playwright's sync API
    keeps its event loop running in the thread while it is open, and the tests after it that
    run asyncio (the webhooks bench) would find a loop already running."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: SCREENSHOTS_DIR (docs/screenshots for README), else a temp dir."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-wide page in Mandarin; a module needing another size or script has its own."""
    with opened(browser) as found:
        yield found
