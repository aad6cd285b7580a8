"""A waiting caller counts as answered only once the conference reports them there: Twilio may
never use the answer that sends them in (it gave up waiting and the number's fallback took the
call elsewhere), so serving that answer is no proof."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queues import events
from queues.calls import CallStore
from tests.fixtures.conference import report_join
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALL = "CA" + "6" * 32
AGENT_LEG = "CA" + "5" * 32


def bridged(hotline: Hotline) -> list[dict[str, str]]:
    """The bridged events of the test's call."""
    return [
        e for e in events.recent(hotline.redis, count=100)
        if e["kind"] == "bridged" and e.get("call") == CALL
    ]  # fmt: skip


def test_the_caller_counts_as_answered_when_the_conference_reports_them(
    app, hotline: Hotline, twilio, clock
) -> None:
    CallStore(hotline.redis).start(CALL, "+8613812345678")
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(CALL, area="family")
    assert match is not None
    rid = match.reservation_id
    answer = twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": AGENT_LEG, "Digits": "1"})
    report_join(twilio, Doc.parse(answer), AGENT_LEG)
    clock.now += timedelta(seconds=3)

    sent_in = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": CALL}))
    assert sent_in.first("Conference").text == rid
    assert bridged(hotline) == []

    clock.now += timedelta(seconds=2)
    report_join(twilio, sent_in, CALL)
    (event,) = bridged(hotline)
    assert (event["agent"], event["reservation"]) == ("d1", rid)
    # A repeated report changes nothing.
    report_join(twilio, sent_in, CALL)
    assert len(bridged(hotline)) == 1
