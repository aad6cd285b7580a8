"""The statutes in a real browser: a labor caller about unpaid wages is answered, and the desk's
panel shows the Labour Contract Law's wage articles; the agent searches by the caller's words
as they type; a supervisor's broken edit comes back with its line. Nothing is blocked by the
Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from queues import keys
from tests.fixtures.browser import opened, served, sign_in
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

LABOR_CALL = "CA" + "6" * 32
# A document whose one article names two numbers (line 5).
BROKEN = """\
statutes:
  - id: labor-lcl-30
    areas: [labor]
    law: {zh: 《中华人民共和国劳动合同法》, en: Labour Contract Law}
    article: {zh: 第三十条, en: Article 3}
    plain: {zh: 按时足额发工资。, en: Wages in full and on time.}
    keywords: [拖欠工资]
    url: https://flk.npc.gov.cn/search?searchContent=x
"""
# Every report of a blocked script or style, collected before any page script runs.
WATCH = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__blocked.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served on a free port, its live pages polling quickly."""
    app.config["OPS_POLL_MS"] = 300
    with served(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened(browser, init_script=WATCH) as found:
        yield found


def test_a_labor_call_about_unpaid_wages_shows_the_wage_articles_on_the_desk(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    sign_in(page, base_url, "wang")
    expect(page.locator("#statutes-panel")).to_be_visible()  # a search box even between calls
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(LABOR_CALL, area="labor", summary="有书面劳动合同；仍在职")
    hotline.redis.hset(
        keys.call(LABOR_CALL), mapping={"answers": "11", "speech": "老板拖欠我三个月工资"}
    )
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.accept(match.reservation_id, hotline.now).changed

    # The desk redraws itself when the call is answered, with the call's statutes.
    panel = page.locator("#statutes-panel[data-area=labor]")
    expect(panel).to_be_visible()
    listed = panel.locator("[data-statute-call]")
    for statute in ("labor-lcl-30", "labor-lcl-31", "labor-lcl-85"):
        expect(listed.locator(f'[data-statute="{statute}"]')).to_be_visible()
    expect(listed.locator('[data-statute="labor-lcl-30"] [data-k="citation"]')).to_have_text(
        "《中华人民共和国劳动合同法》 第三十条"
    )
    expect(listed.locator("li.matched").first).to_be_visible()  # an intake answer fits
    page.screenshot(path=str(shots / "agent-desk-statutes.png"), full_page=True)

    # The caller mentions a non-compete: the agent types it and the answers come as they type.
    panel.locator("input[name=q]").fill("竞业限制")
    results = panel.locator("[data-statute-results]")
    expect(results.locator('[data-statute="labor-lcl-23"]')).to_be_visible()
    expect(results.locator('[data-statute="labor-lcl-24"]')).to_be_visible()
    panel.locator("input[name=q]").fill("zebra umbrella")
    expect(results.locator("li.empty")).to_be_visible()
    expect(page).to_have_url(f"{base_url}/ops/desk/")  # searched in place, the call card kept
    assert page.evaluate("window.__blocked") == []


def test_a_supervisors_broken_edit_comes_back_with_its_line(
    page: Page, base_url: str, hotline: Hotline
):
    sign_in(page, base_url, "sam")
    page.goto(f"{base_url}/ops/statutes?q=彩礼")
    expect(page.locator('#statutes tr[data-statute="family-bp-5"]')).to_be_visible()
    editor = page.locator("#statutes-editor textarea[name=document]")
    assert editor.input_value().startswith("# The statutes")  # the document in force
    editor.fill(BROKEN)
    page.click("#statutes-editor button[value=save]")
    problem = page.locator("#statute-problems li").first
    expect(problem).to_contain_text("Article 30, not Article 3")
    expect(problem).to_have_attribute("data-line", "5")
    expect(editor).to_have_value(BROKEN)  # the text comes back as typed
    assert hotline.redis.get(keys.statutes()) is None
    assert page.evaluate("window.__blocked") == []
