"""The wallboard's quiet notices in Chromium: a notice raised about a live call appears with the
page's own poll, in the page's language with its agent and area, and goes when the call ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from ops.i18n import WORDS
from queues.notices import Notices
from tests.fixtures.browser import opened, served, sign_in
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

CALL = "CA" + "3" * 32


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app on a free port, its pages polling five times a second."""
    app.config["OPS_POLL_MS"] = 200
    with served(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened(browser, locale="en-US") as found:
        yield found


def test_a_notice_appears_with_the_poll_and_goes_when_its_call_ends(
    page: Page, base_url: str, hotline: Hotline
) -> None:
    sign_in(page, base_url, "sam")
    page.goto(f"{base_url}/ops/wallboard")
    notices = page.locator("#notices")
    expect(notices).to_be_hidden()
    board = Notices(hotline.redis)
    board.raise_notice(CALL, "sustained_top", hotline.now - 20, agent="d1", area="family")
    item = notices.locator(f'li[data-call="{CALL}"]')
    expect(item).to_be_visible()
    expect(item.locator("strong")).to_have_text(WORDS["notice_sustained_top"]["en"])
    expect(item.locator("span")).to_have_text("d1 family")
    board.clear_call(CALL, hotline.now)
    expect(notices).to_be_hidden()
    expect(notices.locator("li")).to_have_count(0)
