"""The desk's live assist in a real browser: an agent on a call at the stand-in sees the
caller's thermometer level, its curve, the suggestion line and the transcript lines arrive as
they are put on the call's feed; a crisis hit puts the crisis escalation on the desk and one
click brings help into the call; at wrap-up the key facts said fill the empty note, which is
kept only when the agent saves it. Nothing is blocked by the pages' Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from queues import live_assist
from queues.incidents import IncidentLog
from queues.notes import CallNotes
from tests.fixtures.browser import opened, served, sign_in
from tests.fixtures.carrier import Rig
from tests.fixtures.live_call import desk_rig_fixture, hotline_on  # noqa: F401 - the rig
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

# Every report of a blocked script, style or form, collected before any page script runs.
WATCH = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__blocked.push(event.violatedDirective + " " + event.blockedURI);
});
"""
# The caller grows agitated over a minute of readings, two seconds apart.
LEVELS = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
CALLER_LINES = ["我去年十月进的华强电子有限公司", "老板欠我3万元工资，一直不给"]
AGENT_LINE = "您别急，我们一件一件说。"
CRISIS_LINE = "再不给钱明天我就从楼上跳下去"


@pytest.fixture
def app(rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url):
    """The hotline with the stand-in as its Twilio account, on the test's Redis."""
    found = hotline_on(rig, app_env, clock, redis_url)
    found.config["HOTLINE"] = found.extensions["hotline"].config
    return found


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served on a free port; the desk polls quickly and the feed's reads are short,
    so a feed left open by a page does not hold the server past the test."""
    app.config["OPS_POLL_MS"] = 300
    app.config["OPS_LIVE_BLOCK_MS"] = 300
    with served(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened(browser, init_script=WATCH) as found:
        yield found


def on_a_call(rig: Rig, hotline: Hotline) -> tuple[str, str]:
    """A labor caller talking with agent d1 in their conference at the carrier."""
    hotline.board.set_presence("d1", "available", hotline.now)
    # The caller stays 30 s of real time at the desk rig's clock (DESK_TIME_SCALE).
    caller = rig.start("press:2", "press:4", "press:1", hangup_after=1500)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=caller), what="the caller to wait")
    match = hotline.ring(caller, area="family", summary="拖欠工资")
    assert match is not None and match.agent_id == "d1"
    routing = hotline.app.extensions["hotline"].routing
    assert routing.reservations.accept(match.reservation_id, hotline.now).changed
    # As the agent's accept key does: the call's record names its agent and reservation.
    routing.calls.update(caller, reservation=match.reservation_id, agent="d1")
    rig.gateway.update_call(caller, url=f"{rig.app_url}/join?room={match.reservation_id}")
    rig.wait_until(lambda: rig.gateway.find_conference(match.reservation_id), what="the conference")
    return caller, match.reservation_id


def say(hotline: Hotline, caller: str, track: str, text: str, seq: int) -> None:
    """A final transcript line on the call's feed, as the live transcription puts it."""
    line = {"track": track, "text": text, "at": hotline.now, "seq": seq}
    live_assist.publish(hotline.redis, caller, "line", line)


def test_the_desk_follows_the_call_live_and_offers_crisis_escalation(
    page: Page, base_url: str, hotline: Hotline, rig: Rig, shots: Path
) -> None:
    caller, rid = on_a_call(rig, hotline)
    sign_in(page, base_url, "wang")
    panel = page.locator("#live-assist")
    expect(panel).to_be_visible()
    # The page is following the feed before anything is on it.
    expect(panel).to_have_attribute("data-state", "open")

    for n, level in enumerate(LEVELS):
        reading = {"t": 2.0 * n, "level": level, "loudness_db": -30 + 3 * level, "rate": 3 + level,
                   "pitch_hz": 180 + 10 * level, "pitch_var": 1.0, "pauses": 0.2}  # fmt: skip
        live_assist.publish(hotline.redis, caller, "level", reading)
    thermo = panel.locator(".thermo")
    expect(thermo).to_have_attribute("data-level", "5")
    expect(thermo.locator('[data-k="level"]')).to_have_text("5")
    expect(thermo.locator('[data-k="level-word"]')).to_have_text("非常激动")
    assist = hotline.app.config["HOTLINE"].assist
    expect(panel.locator('[data-k="suggestion"]')).to_have_text(assist.suggestion(5, "zh"))
    # The curve has a point per reading, rising from the bottom (calm) to the top.
    expect(panel).to_have_attribute("data-points", str(len(LEVELS)))
    points = panel.locator('[data-k="curve"]').get_attribute("points").split()
    assert len(points) == len(LEVELS)
    heights = [float(point.split(",")[1]) for point in points]
    assert heights[0] > heights[-1] and heights == sorted(heights, reverse=True)
    # Coloured by its stylesheet class, not by anything inline.
    background = thermo.locator(".thermo-level").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert background == "rgb(198, 40, 40)"

    say(hotline, caller, "caller", CALLER_LINES[0], 1)
    say(hotline, caller, "agent", AGENT_LINE, 2)
    say(hotline, caller, "caller", CALLER_LINES[1], 3)
    transcript = panel.locator(".transcript li")
    expect(transcript).to_have_count(3)
    expect(transcript.nth(0)).to_have_class("caller")
    expect(transcript.nth(0)).to_contain_text(CALLER_LINES[0])
    expect(transcript.nth(1)).to_have_class("agent")
    expect(transcript.nth(1)).to_contain_text("坐席")
    expect(transcript.nth(2)).to_contain_text(CALLER_LINES[1])

    escalation = page.locator("#crisis-escalate")
    expect(escalation).to_be_hidden()
    say(hotline, caller, "caller", CRISIS_LINE, 4)
    live_assist.publish(hotline.redis, caller, "crisis", {"text": CRISIS_LINE, "at": hotline.now})
    expect(escalation).to_be_visible()
    expect(escalation.locator('[data-k="crisis-text"]')).to_have_text(CRISIS_LINE)
    page.screenshot(path=str(shots / "agent-desk-live-assist.png"), full_page=True)
    assert page.evaluate("window.__blocked") == []

    # One click: the call is flagged a crisis and help is brought into the call.
    escalation.locator("button.escalate").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    assert "crisis" in CallNotes(hotline.redis).get(caller).flags
    incident = IncidentLog(hotline.redis).get(caller)
    assert incident is not None and incident.first("opened")["trigger"] == "agent_flag"
    assert incident.first("escalated") is not None, incident.steps
    # The page came back following the same feed: the call so far is drawn again.
    expect(page.locator("#live-assist .transcript li")).to_have_count(4)


def test_at_wrap_up_the_note_starts_from_the_facts_said_and_is_kept_only_when_saved(
    page: Page, base_url: str, hotline: Hotline, rig: Rig
) -> None:
    caller, rid = on_a_call(rig, hotline)
    for seq, text in enumerate(CALLER_LINES):
        say(hotline, caller, "caller", text, seq)
    sign_in(page, base_url, "wang")
    expect(page.locator("#live-assist .transcript li")).to_have_count(2)

    # The call ends: the desk redraws the card for wrap-up without a reload by the agent.
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.finish(rid, hotline.now).changed
    note = page.locator('#call form textarea[name="note"]').first
    expect(note).to_have_attribute("data-prefilled", "facts")
    expect(page.locator("#live-assist")).to_have_count(0)
    text = note.input_value()
    assert text.startswith("通话要点")
    for fact in ("去年十月", "3万元", "老板", "华强电子有限公司"):
        assert fact in text
    expect(page.locator(".facts-told")).to_be_visible()
    # Offered, not stored.
    assert CallNotes(hotline.redis).get(caller).note == ""

    # The agent edits it and saves: now it is the call's note.
    note.fill(text + "\n建议申请劳动仲裁")
    page.locator("#call form button").first.click()
    expect(page.locator(".flash.ok")).to_be_visible()
    assert CallNotes(hotline.redis).get(caller).note.endswith("建议申请劳动仲裁")
    # A saved note is not overwritten by the facts again.
    expect(page.locator('#call form textarea[name="note"]').first).not_to_have_attribute(
        "data-prefilled", "facts"
    )
    assert page.evaluate("window.__blocked") == []
