"""The desk's transfer in a real browser: an agent on a call transfers it warm to another area
with the note so far; the caller is put on hold at the carrier (the stand-in), the desk says the
transfer waits for the next consultant, and the action is audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from carrier.faults import FaultPlan
from queues import keys, runtime, transfers
from queues.audit import AuditLog
from queues.notes import CallNotes
from tests.fixtures.browser import served, sign_in
from tests.fixtures.carrier import Rig
from tests.fixtures.live_call import desk_rig_fixture, hotline_on  # noqa: F401 - the rig
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

CALLER_NOTE = "其实是劳动争议：拖欠工资"


@pytest.fixture
def app(rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url):
    """The hotline with the stand-in as its Twilio account, on the test's Redis."""
    found = hotline_on(rig, app_env, clock, redis_url)
    found.config["HOTLINE"] = found.extensions["hotline"].config
    return found


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served on a free port, its live pages polling quickly."""
    app.config["OPS_POLL_MS"] = 300
    with served(app) as url:
        yield url


def on_a_call(rig: Rig, hotline: Hotline) -> tuple[str, str]:
    """A family caller talking with agent d1 in their conference at the carrier."""
    hotline.load_roster()
    hotline.board.set_presence("d1", "available", hotline.now)
    # The caller stays 30 s of real time at the desk rig's clock (DESK_TIME_SCALE).
    caller = rig.start("press:2", "press:4", "press:1", hangup_after=1500)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=caller), what="the caller to wait")
    match = hotline.ring(caller, area="family", summary="离婚财产分割")
    assert match is not None and match.agent_id == "d1"
    reservations = hotline.app.extensions["hotline"].routing.reservations
    assert reservations.accept(match.reservation_id, hotline.now).changed
    rig.gateway.update_call(caller, url=f"{rig.app_url}/join?room={match.reservation_id}")
    rig.wait_until(lambda: rig.gateway.find_conference(match.reservation_id), what="the conference")
    return caller, match.reservation_id


def test_an_agent_transfers_their_call_warm_to_labor_from_the_desk(
    page: Page, base_url: str, hotline: Hotline, rig: Rig, shots: Path
) -> None:
    caller, rid = on_a_call(rig, hotline)
    sign_in(page, base_url, "wang")
    form = page.locator("form#transfer")
    expect(form).to_be_visible()
    # The call's own area is not offered; the other agents are.
    expect(form.locator("select[name=area] option[value=family]")).to_have_count(0)
    expect(form.locator("select[name=agent] option[value=d2]")).to_have_count(1)

    form.locator("select[name=area]").select_option("labor")
    form.locator("input[name=mode][value=warm]").check()
    form.locator("textarea[name=note]").fill(CALLER_NOTE)
    page.screenshot(path=str(shots / "agent-desk-transfer.png"), full_page=True)
    form.locator("button.transfer").click()

    line = page.locator(".transfer-line")
    expect(line).to_have_attribute("data-transfer", "pending")
    expect(line).to_contain_text("等待对方接听")
    # The caller is on hold at the carrier, waiting first in labor's queue.
    conference = rig.gateway.find_conference(rid)
    held = [p for p in rig.gateway.list_participants(conference) if p.call_sid == caller]
    assert held and held[0].hold is True
    assert hotline.redis.zrange(keys.waiting("labor", "zh"), 0, -1) == [caller.encode()]
    transfer = transfers.Transfers(hotline.redis).get(caller)
    assert (transfer.mode, transfer.area, transfer.from_agent) == ("warm", "labor", "d1")
    # The note so far was kept for the next agent's whisper, and the action audited.
    assert CallNotes(hotline.redis).get(caller).note == CALLER_NOTE
    audited = [e for e in AuditLog(hotline.redis).recent(20) if e.action == "call.transfer"]
    assert [(e.actor, e.target) for e in audited] == [("wang", rid)]
    # The form is gone while the transfer is open: one transfer at a time.
    expect(page.locator("form#transfer")).to_have_count(0)
    page.screenshot(path=str(shots / "agent-desk-transferring.png"), full_page=True)

    # Nobody took it in time: the desk tells the agent the caller is back, without a reload.
    rt = hotline.app.extensions["hotline"]
    runtime.install(lambda: rt)
    try:
        assert transfers.expire_job(caller, transfer.id) == "back"
    finally:
        runtime.install(None)
    expect(line).to_have_attribute("data-transfer", "back")
    expect(line).to_contain_text("回到您这里")
    expect(page.locator("form#transfer")).to_be_visible()


def test_a_transfer_the_carrier_refuses_keeps_the_caller_and_says_why(
    page: Page, base_url: str, hotline: Hotline, rig: Rig
) -> None:
    caller, rid = on_a_call(rig, hotline)
    rig.hub.faults.replace(FaultPlan(rest_500=1.0, rest_match="Participants"))
    sign_in(page, base_url, "wang")
    form = page.locator("form#transfer")
    form.locator("select[name=area]").select_option("labor")
    form.locator("button.transfer").click()

    expect(page.locator(".flash.error")).to_contain_text("carrier")
    rig.hub.faults.replace(FaultPlan())
    conference = rig.gateway.find_conference(rid)
    held = [p for p in rig.gateway.list_participants(conference) if p.call_sid == caller]
    assert held and held[0].hold is False
    assert transfers.Transfers(hotline.redis).get(caller).state == "cancelled"
