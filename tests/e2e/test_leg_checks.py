"""The leg check in the running hotline: `hotline serve`'s worker finds a waiting call whose
caller hung up without the app hearing of it, asks the carrier for the leg (GET /Calls/{sid},
as it would ask Twilio) and ends the call; a caller still on the line keeps waiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from queues import events, keys
from queues.calls import CallStore
from queues.waiting import LEG_CHECK_AFTER_S, WaitingRoom
from routing.config import load_config
from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, DEMO_HOTLINE_NUMBER
from telephony.gateway import Gateway
from tests.e2e.harness import (
    CALL_DEADLINE_S,
    Hotline,
    poll,
    serving,
    shipped_config,
    webhooks,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with nobody on shift, so callers wait in the general area's queue."""
    with serving(tmp_path_factory.mktemp("legs"), shipped_config()) as running:
        yield running


def press(keys_: str) -> dict[str, str]:
    """A step that presses keys."""
    return {"press": keys_}


def hang_up_answered(hotline: Hotline, call_sid: str) -> bool:
    """Tell whether the app has answered every webhook of the caller's hang-up: the final status
    callback, and the queue's result when the carrier had the caller in its queue by then (a
    caller routing counts as waiting may still be on their way into it, and then has none)."""
    transcript = hotline.transcript(call_sid)
    status = webhooks(transcript, "/voice/status")
    results = webhooks(transcript, "/voice/queue-result")
    return any(entry["status"] == 200 for entry in status) and all(
        entry["status"] == 200 for entry in results
    )


def test_a_caller_gone_unheard_is_ended_by_the_workers_leg_check(hotline: Hotline) -> None:
    redis = hotline.redis()
    config = load_config(yaml.safe_dump(hotline.config, allow_unicode=True), "leg check test")
    room = WaitingRoom(redis, config.routing)
    gateway = Gateway(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, hotline.carrier_url, DEMO_HOTLINE_NUMBER)
    # English (2), general area (0): open around the clock, nobody on shift, so both wait.
    gone = hotline.start(press("2"), press("0"), hangup_after=5000)
    live = hotline.start(press("2"), press("0"), hangup_after=5000)
    for sid in (gone, live):
        poll(lambda sid=sid: room.position(sid) is not None, CALL_DEADLINE_S, "callers to wait")
    arrival = room.get(gone).arrival

    gateway.update_call(gone, status="completed")
    hotline.finish(gone)
    poll(lambda: room.get(gone).outcome == "abandoned", 10, "the app to hear the hang-up")
    # Both of the hang-up's webhooks (the queue's result and the call's status) must be answered
    # before losing them is played out: a late one would end the call without the leg check. The
    # status callback writes the status before it leaves the queue, so its answer is what counts
    # for it; the queue's result may come after it.
    poll(lambda: hang_up_answered(hotline, gone), 10, "the hang-up's webhooks answered")
    assert CallStore(redis).get(gone).status == "completed"
    # What the hang-up would have left had its webhooks been lost (app or worker down): the
    # call still waiting in its place, there long enough to be due a look at its leg.
    redis.delete(keys.queued_call(gone))
    assert room.enqueue(gone, area="general", language="en", now=arrival - LEG_CHECK_AFTER_S)
    assert (room.position(gone), room.position(live)) == (0, 1)

    # The worker's sweep (every 2 s) queues the leg check, which asks the carrier.
    poll(lambda: room.get(gone).state == "ended", 30, "the leg check to end the call")

    assert room.get(gone).outcome == "abandoned"
    assert room.position(live) == 0 and room.get(live).state == "waiting"
    found = [e for e in events.recent(redis, 500) if e["kind"] == "leg-gone"]
    assert [(e["call"], e["status"], e["state"]) for e in found] == [(gone, "completed", "waiting")]
    gateway.update_call(live, status="completed")
    hotline.finish(live)
    poll(lambda: room.get(live).outcome == "abandoned", 10, "the live caller's hang-up")
