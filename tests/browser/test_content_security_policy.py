"""Every console page and the demo phone page under their Content-Security-Policy in Chromium:
nothing is blocked, the style sheets apply and the live pages still poll."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.fixtures.browser import opened, served
from tests.fixtures.ops import PASSWORD, Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

# Every report of a blocked script, style, frame or form, collected before any page script runs.
WATCH = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__blocked.push(event.violatedDirective + " " + event.blockedURI);
});
"""
PAGES = {
    "sam": [
        "/ops/", "/ops/roster", "/ops/agents", "/ops/coverage", "/ops/hours", "/ops/alerts",
        "/ops/incidents", "/ops/voicemail", "/ops/followups", "/ops/safety", "/ops/users",
        "/ops/audit",
    ],
    "wang": ["/ops/desk/"],
}  # fmt: skip


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served on a free port in a thread (localhost, where Secure cookies are allowed)."""
    app.config["OPS_POLL_MS"] = 200
    with served(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened(browser, width=1280, init_script=WATCH) as found:
        yield found


def blocked(page: Page) -> list[str]:
    return page.evaluate("window.__blocked")


def sign_in(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/ops/login")
    assert blocked(page) == []
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button")
    expect(page.locator(".who")).to_contain_text(name)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_console_pages_load_with_nothing_blocked(page: Page, base_url: str, hotline, name):
    sign_in(page, base_url, name)
    for path in PAGES[name]:
        answer = page.goto(f"{base_url}{path}")
        assert answer is not None and answer.status == 200, path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        # The style sheet applied: the header bar is laid out by ops.css, not the browser.
        assert page.evaluate("getComputedStyle(document.querySelector('header')).display") in (
            "flex",
            "grid",
        ), path
        assert blocked(page) == [], path


def test_the_wallboard_still_polls_and_updates(page: Page, base_url: str, hotline):
    sign_in(page, base_url, "sam")
    with page.expect_response(lambda r: "/api/v1/wallboard" in r.url) as polled:
        page.goto(f"{base_url}/ops/wallboard")
    assert polled.value.status == 200
    expect(page.locator('[data-field="at"]')).not_to_have_text("")
    assert blocked(page) == []


def test_the_demo_phone_page_is_styled_and_scripted_with_nothing_blocked(
    page: Page, base_url: str, app
):
    # No carrier answers here: the call button's script reports that on the page.
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], api_base_url="http://127.0.0.1:1")
    page.goto(f"{base_url}/demo/phone")
    call = page.locator("#call")
    expect(call).to_have_css("background-color", "rgb(47, 133, 90)")
    call.click()
    expect(page.locator("#status")).to_contain_text("carrier is not running")
    assert blocked(page) == []
