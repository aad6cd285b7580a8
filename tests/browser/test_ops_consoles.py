"""The consoles in a real browser: Debian's Chromium driven by Playwright, the app on a port.

Screenshots go to a temporary folder, or to SCREENSHOTS_DIR when set (docs/screenshots for the
README: SCREENSHOTS_DIR=docs/screenshots pytest tests/browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from queues.calls import CallStore
from queues.conditions import Conditions
from queues.followups import FollowUps
from queues.hours_edits import HoursBoard
from tests.fixtures.browser import served, sign_in
from tests.fixtures.ops import PASSWORD, Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served on a free port in a thread; localhost, where Secure cookies are allowed."""
    app.config["OPS_POLL_MS"] = 300  # live pages poll quickly so the tests need not wait
    with served(app) as url:
        yield url


def test_ops_user_adds_a_night_shift_and_the_coverage_gap_closes(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    sign_in(page, base_url, "olga")
    page.goto(f"{base_url}/ops/coverage?day=2026-12-02")
    night = page.locator('[data-cell="general-zh-22"]')
    expect(night).to_have_class("gap")
    expect(page.locator('[data-gap="general-zh-2026-12-02T22:00:00+08:00"]')).to_have_count(1)

    page.goto(f"{base_url}/ops/roster")
    form = page.locator("#pick-shift")
    form.locator("select[name=agent]").select_option("n1")
    form.locator("select[name=day]").select_option("wed")
    form.locator("input[name=start]").fill("22:00")
    form.locator("input[name=end]").fill("08:00")
    form.locator("button").click()
    cell = page.locator('td[data-agent="n1"][data-day="wed"]')
    expect(cell.locator(".chip.night")).to_contain_text("22:00–08:00")
    expect(page.locator(".flash.ok")).to_be_visible()
    page.screenshot(path=str(shots / "ops-roster.png"), full_page=True)

    page.goto(f"{base_url}/ops/coverage?day=2026-12-02")
    expect(night).to_have_class("ok")
    expect(night).to_have_text("1")
    expect(page.locator('[data-gap="general-zh-2026-12-02T22:00:00+08:00"]')).to_have_count(0)
    page.screenshot(path=str(shots / "ops-coverage.png"), full_page=True)

    # The same grid edits in place: a cell's own form removes and adds shifts.
    page.goto(f"{base_url}/ops/roster")
    cell.locator("button.x").click()
    expect(cell.locator(".chip")).to_have_count(0)
    cell.locator("summary").click()
    cell.locator("input[name=start]").fill("21:00")
    cell.locator("input[name=end]").fill("23:00")
    cell.locator("details button").click()
    expect(page.locator('td[data-agent="n1"][data-day="wed"] .chip')).to_contain_text("21:00–23:00")


def test_agent_sets_available_and_the_ringing_call_shows_its_summary(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    sign_in(page, base_url, "wang")
    expect(page.locator("#call .empty")).to_be_visible()
    page.click("button.presence.available")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "available")
    assert hotline.board.get("d1").presence == "available"

    match = hotline.ring("CA" + "7" * 32, area="family", summary="婚姻状况：已婚；子女：有")
    assert match is not None and match.agent_id == "d1"
    # The page polls the API and redraws itself when the call rings.
    expect(page.locator("#call h2.ringing")).to_be_visible()
    expect(page.locator('#call [data-k="summary"]')).to_have_text("婚姻状况：已婚；子女：有")
    expect(page.locator('#call [data-k="area"]')).to_contain_text("婚姻")
    expect(page.locator('#call [data-k="wait"]')).to_contain_text("42")
    page.fill("textarea[name=note]", "需要转介律师")
    page.click("#call form button:has-text('保存')")
    expect(page.locator("textarea[name=note]")).to_have_value("需要转介律师")
    page.screenshot(path=str(shots / "agent-desk.png"), full_page=True)
    page.click("button[value=heavy]")
    expect(page.locator("#call dd").last).to_contain_text("heavy")


def test_the_desk_shows_a_repeat_callers_earlier_call_and_takes_an_outcome(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    from queues.repeat_callers import DAY_S, CallerHistory, EarlierCall

    number, call_sid = "+8613812340000", "CA" + "8" * 32
    history = CallerHistory(hotline.redis)
    before = EarlierCall("CA" + "1" * 32, hotline.now - 3 * DAY_S, area="labor", language="zh",
                         agent="d2", summary="拖欠工资三个月", note="对方愿意调解", note_by="d2",
                         outcome="legal_aid")  # fmt: skip
    history.remember(history.digest(number), before, hotline.now)
    CallStore(hotline.redis).start(call_sid, number)
    sign_in(page, base_url, "wang")
    page.click("button.presence.available")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "available")
    assert hotline.ring(call_sid, area="labor", summary="又被拖欠").agent_id == "d1"

    panel = page.locator("#history")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_contain_text("第2次来电")
    row = panel.locator(f'tr[data-call="{before.call_sid}"]')
    expect(row.locator('[data-k="summary"]')).to_have_text("拖欠工资三个月")
    expect(row.locator('[data-k="outcome"]')).to_have_text("转法律援助")
    expect(row.locator('[data-k="agent"]')).to_have_text("d2")
    # Another agent's note is for supervisors only.
    expect(row.locator('[data-k="note"]')).not_to_contain_text("调解")

    page.fill("textarea[name=note]", "仍未发工资，建议仲裁")
    page.select_option("select[name=outcome]", "follow_up")
    page.click("#call form button:has-text('保存')")
    expect(page.locator(".flash.ok")).to_be_visible()
    expect(page.locator("select[name=outcome]")).to_have_value("follow_up")
    page.screenshot(path=str(shots / "agent-desk-history.png"), full_page=True)
    from queues.notes import CallNotes

    assert CallNotes(hotline.redis).get(call_sid).outcome == "follow_up"


def test_supervisor_wallboard_refreshes_itself(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    for presence, agent in (("available", "d2"), ("on_break", "n1")):
        hotline.board.set_presence(agent, presence, hotline.now)
    hotline.room.enqueue("CA1", area="labor", language="zh", now=hotline.now - 75)
    sign_in(page, base_url, "sam")
    page.goto(f"{base_url}/ops/wallboard")
    expect(page.locator('[data-area="labor"] [data-k="waiting"]')).to_have_text("1")
    hotline.room.enqueue("CA2", area="family", language="en", now=hotline.now - 30)
    hotline.redis.xadd(
        "hotline:events",
        {"kind": "crisis", "at": f"{hotline.now:.3f}", "call": "CA3", "trigger": "danger-key"},
    )
    # No reload: the poll brings the new caller and the crisis alert.
    expect(page.locator('[data-area="family"] [data-k="waiting"]')).to_have_text("1")
    expect(page.locator('[data-field="waiting"]')).to_have_text("2")
    expect(page.locator("#alerts li.crisis")).to_contain_text("danger-key")
    # Two callers rate their calls, one unsatisfied: the satisfaction figure follows.
    calls = CallStore(hotline.redis)
    for call, rating in (("CA4", 1), ("CA5", 2)):
        calls.rate(call, rating, agent="d2", area="labor", language="zh", now=hotline.now)
    FollowUps(hotline.redis).open(
        "CA5", area="labor", language="zh", agent="d2", caller="+8613812345678", now=hotline.now
    )
    expect(page.locator('[data-field="satisfaction"]')).to_have_text("50%")
    expect(page.locator('[data-field="rated"]')).to_have_text("评价 2 次")
    expect(page.locator('[data-field="followups_open"]')).to_have_text("1")
    expect(page.locator("#alerts li.follow-up")).to_contain_text("d2")
    page.screenshot(path=str(shots / "ops-wallboard.png"), full_page=True)


def test_the_wallboard_shows_standing_conditions_as_they_come_and_go(
    page: Page, base_url: str, hotline: Hotline
):
    sign_in(page, base_url, "sam")
    page.goto(f"{base_url}/ops/wallboard")
    expect(page.locator("#conditions")).to_be_hidden()
    conditions = Conditions(hotline.redis)
    conditions.raise_condition(
        "self_check:supervisor_on_call",
        "no supervisor on call 2026-12-03 03:00-04:00 Asia/Shanghai",
        hotline.now,
        page=False,
    )
    # No reload: the poll shows the condition, labelled in the page's language.
    item = page.locator('#conditions li[data-condition="self_check:supervisor_on_call"]')
    expect(item).to_contain_text("未来24小时内有时段无主管值班")
    expect(item).to_contain_text("2026-12-03 03:00-04:00")
    conditions.clear("self_check:supervisor_on_call", hotline.now + 60)
    expect(page.locator("#conditions")).to_be_hidden()


def test_supervisor_closes_a_follow_up_with_a_note(page: Page, base_url: str, hotline: Hotline):
    FollowUps(hotline.redis).open(
        "CA5", area="labor", language="zh", agent="d2", caller="+8613812345678", now=hotline.now
    )
    sign_in(page, base_url, "sam")
    page.goto(f"{base_url}/ops/followups")
    row = page.locator("#fu-CA5")
    expect(row).to_contain_text("+86*******5678")
    # Its callback task was never scheduled (opened here directly): the row says so.
    expect(row.locator('[data-field="task"]')).to_have_text("未安排")
    row.locator("input[name=note]").fill("已回电，解释了诉讼时效")
    row.locator("button").click()
    expect(page.locator(".flash.ok")).to_contain_text("回访已完成")
    assert FollowUps(hotline.redis).get("CA5").closed


def test_ops_user_edits_an_areas_hours_and_sees_them_saved(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    sign_in(page, base_url, "olga")
    page.goto(f"{base_url}/ops/hours")
    card = page.locator("#area-labor")
    expect(card).to_have_attribute("data-source", "config")
    expect(card.locator("input[name=wed]")).to_have_value("09:00-21:00")
    card.locator("input[name=wed]").fill("")
    card.locator("input[name=sat]").fill("10:00-12:00, 13:00-16:00")
    card.locator("select[name=public]").select_option("hours")
    card.locator("input[name=public_hours]").fill("10:00-15:00")
    card.locator("form.hours-form button").click()

    expect(page.locator(".flash.ok")).to_be_visible()
    expect(card).to_have_attribute("data-source", "ops")
    expect(card.locator(".source")).to_contain_text("olga")
    expect(card.locator("input[name=wed]")).to_have_value("")
    expect(card.locator("input[name=sat]")).to_have_value("10:00-12:00, 13:00-16:00")
    expect(card.locator("select[name=public]")).to_have_value("hours")
    expect(card.locator("input[name=public_hours]")).to_have_value("10:00-15:00")
    saved = HoursBoard(hotline.redis).edit("labor")
    assert saved is not None and saved.by == "olga" and saved.document["weekly"]["wed"] == []
    page.screenshot(path=str(shots / "ops-hours.png"), full_page=True)

    # On a phone the page reflows instead of scrolling sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # A range ending before it starts is refused, naming the field; the saved hours stay.
    card.locator("input[name=mon]").fill("21:00-09:00")
    card.locator("form.hours-form button").click()
    expect(page.locator(".flash.error")).to_contain_text("weekly.mon.0")
    expect(card.locator("input[name=mon]")).to_have_value("09:00-21:00")

    card.locator("form.reset button").click()
    expect(card).to_have_attribute("data-source", "config")
    expect(card.locator("input[name=wed]")).to_have_value("09:00-21:00")
