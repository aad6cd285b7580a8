"""The demo phone page in a real browser: `hotline serve` in demo mode with its carrier, and
Debian's Chromium driven by Playwright placing a call, pressing a key and hanging up.

The screenshot goes to a temporary folder, or to SCREENSHOTS_DIR when set (docs/screenshots for
the README: SCREENSHOTS_DIR=docs/screenshots pytest tests/browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import Hotline, serving, shipped_config

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

WAIT_MS = 20_000


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline and its carrier over real HTTP, on free ports."""
    with serving(tmp_path_factory.mktemp("demo-phone"), shipped_config()) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A phone-sized window: the page is meant for phones as much as for desktops.
    context = browser.new_context(viewport={"width": 420, "height": 860}, locale="zh-CN")
    context.set_default_timeout(WAIT_MS)
    found = context.new_page()
    yield found
    context.close()


def test_a_visitor_calls_from_the_demo_phone_and_reaches_the_menu(
    page: Page, hotline: Hotline, shots: Path
):
    page.goto(f"{hotline.app_url}/demo/phone")
    log = page.locator("#log")
    call, hangup = page.locator("#call"), page.locator("#hangup")
    expect(hangup).to_be_disabled()

    call.click()
    # The prompts show as text whether or not the browser has voices to speak them.
    # The greeting opens with each language's short line, then the Mandarin disclaimer.
    expect(log.locator(".heard").first).to_contain_text(
        hotline.prompt("greeting_open", "zh"), timeout=WAIT_MS
    )
    expect(log.locator(".heard").nth(1)).to_contain_text(hotline.prompt("greeting_open", "en"))
    expect(log.locator(".heard", has_text=hotline.prompt("greeting", "zh"))).to_have_count(1)
    expect(hangup).to_be_enabled()
    expect(call).to_be_disabled()
    expect(page.locator("#status")).to_contain_text("通话中 / In call")

    page.locator("#keypad button", has_text="2").click()
    expect(log.locator(".you")).to_contain_text("2")
    # The English area menu: its introduction, each area's key, and the danger key last.
    expect(log.locator(".heard").last).to_contain_text(
        hotline.prompt("danger_option", "en"), timeout=WAIT_MS
    )
    expect(log.locator(".heard", has_text=hotline.prompt("area_intro", "en"))).to_have_count(1)
    labor = hotline.config["areas"]["labor"]
    expect(log).to_contain_text(
        hotline.prompt("area_option", "en", name=labor["name"]["en"], key=labor["key"])
    )
    page.screenshot(path=str(shots / "demo-phone.png"), full_page=True)

    hangup.click()
    expect(page.locator("#status")).to_contain_text("通话已结束 / Call ended", timeout=WAIT_MS)
    expect(call).to_be_enabled()
    expect(hangup).to_be_disabled()
    calls = [entry for entry in hotline.calls() if entry.get("from") == "+8613800138000"]
    assert calls and calls[0]["status"] == "completed", calls
