"""An agent's leg picked up and over while its offer is still open: a miss only when it lasted
long enough for the whisper to be heard and its choice to time out (a voicemail box); a shorter
one (the agent hanging up, or the whisper cut short by a failure) ends the offer with no miss
and passes the call on."""

from __future__ import annotations

import math

import pytest

from queues import events
from queues.calls import CallStore
from queues.reservations import Reservations
from routing.wording import speaking_seconds
from tests.fixtures.twiml import Doc

CALL = "CA" + "5" * 32
AGENT_LEG = "CA" + "6" * 32


def offer_to_d1(hotline) -> str:
    """A caller queues for family and d1, the only agent available, is offered the call."""
    CallStore(hotline.redis).start(CALL, "+8613812345678")
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(CALL, area="family", summary="wages not paid")
    assert match is not None and match.agent_id == "d1"
    return match.reservation_id


def whisper_and_choice_s(twilio, app, rid: str) -> float:
    """How long the agent's whisper takes to say, plus the time its choice waits for a key."""
    whisper = Doc.parse(twilio.post(f"/voice/agent/whisper?res={rid}", {"CallSid": AGENT_LEG}))
    spoken = sum(speaking_seconds(say.text or "") for say in whisper.all("Say"))
    assert spoken > 0
    return spoken + app.config["HOTLINE"].gather_timeout_s


def leg_completed(twilio, rid: str, duration: str | None):
    """The agent leg's final status callback, as Twilio sends it."""
    return twilio.post(
        f"/voice/agent/status?res={rid}",
        {"CallSid": AGENT_LEG, "CallStatus": "completed", "CallDuration": duration},
    )


def kinds_of(hotline, rid: str) -> list[str]:
    """The event kinds recorded about one reservation, oldest first."""
    found = events.recent(hotline.redis, 200)
    return [e["kind"] for e in reversed(found) if e.get("reservation") == rid]


def offers_of_call(hotline) -> list[str]:
    """The reservations the call was offered in, oldest first."""
    found = events.recent(hotline.redis, 200)
    return [
        e["reservation"]
        for e in reversed(found)
        if e["kind"] == "offered" and e.get("call") == CALL
    ]


@pytest.mark.parametrize("duration", ["0", "3"])
def test_a_leg_cut_short_in_the_whisper_is_no_miss_and_the_call_is_offered_again(
    app, hotline, twilio, duration
):
    rid = offer_to_d1(hotline)
    assert int(duration) + 1 < whisper_and_choice_s(twilio, app, rid)

    reply = leg_completed(twilio, rid, duration)

    assert reply.status_code == 200 and Doc.parse(reply).verbs() == []
    reservations = Reservations(hotline.redis, app.config["HOTLINE"].routing)
    assert reservations.get(rid).state == "not-rung"
    assert "no-answer" not in kinds_of(hotline, rid)
    agent = hotline.board.get("d1")
    assert agent.misses == 0 and agent.cool_until <= hotline.now and not agent.paused
    # Passed on at once: d1, free again and the only one available, is offered it anew.
    offers = offers_of_call(hotline)
    assert offers[0] == rid and len(offers) == 2
    assert reservations.get(offers[1]).agent_id == "d1"
    # A repeat of the callback finds the offer over and changes nothing.
    leg_completed(twilio, rid, duration)
    assert offers_of_call(hotline) == offers and hotline.board.get("d1").misses == 0


def test_a_leg_that_heard_the_whisper_and_let_the_choice_time_out_is_a_miss(app, hotline, twilio):
    rid = offer_to_d1(hotline)
    lasted = math.ceil(whisper_and_choice_s(twilio, app, rid))

    leg_completed(twilio, rid, str(lasted))

    reservations = Reservations(hotline.redis, app.config["HOTLINE"].routing)
    assert reservations.get(rid).state == "no-answer"
    assert "no-answer" in kinds_of(hotline, rid)
    agent = hotline.board.get("d1")
    assert agent.misses == 1 and agent.cool_until > hotline.now


def test_a_leg_of_unknown_length_is_a_miss_as_before(app, hotline, twilio):
    rid = offer_to_d1(hotline)

    leg_completed(twilio, rid, None)

    reservations = Reservations(hotline.redis, app.config["HOTLINE"].routing)
    assert reservations.get(rid).state == "no-answer"
    assert hotline.board.get("d1").misses == 1
