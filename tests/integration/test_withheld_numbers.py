"""Callers who withhold their number ("anonymous" and every form carriers send): never offered
or given a callback to it, never taken for one another, and the crisis lines see the hotline's
number instead; their messages are kept but never dialled back."""

from __future__ import annotations

import pytest
from rq import Queue

from queues import runtime
from queues.calls import CallStore
from queues.followups import FollowUps
from queues.waiting import WaitingRoom
from tests.fixtures.app import Twilio
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.twiml import Doc
from voicemail import callbacks
from voicemail.inbox import list_messages
from voicemail.messages import READY, MessageStore

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32
OTHER = "CA" + "2" * 32
WITHHELD = ["anonymous", "Anonymous", "restricted", "unknown", "+266696687", "+7378742833", ""]
SID = "RE" + "e" * 32


def config_of(app):
    return app.config["HOTLINE"]


@pytest.mark.parametrize("caller_id", WITHHELD)
def test_the_waiting_room_asks_a_withheld_caller_to_key_a_callback_number(
    app, twilio, redis, caller_id
):
    config = config_of(app)
    twilio.post("/voice/intake?lang=en&area=labor&q=1&a=1&t=1", {"Digits": "1", "From": caller_id})
    doc = Doc.parse(
        twilio.post("/voice/wait/key?lang=en&area=labor", {"Digits": "1", "From": caller_id})
    )
    gather = doc.first("Gather")
    assert gather.get("finishOnKey") == "#"
    assert gather.get("action").startswith("/voice/wait/callback-number?lang=en&area=labor")
    assert doc.said() == config.prompt("callback_enter", "en")
    assert "ending in" not in doc.said()
    # Pressing 1 at a confirmation (an old prompt, a repeated key) never takes the withheld ID.
    confirmed = Doc.parse(
        twilio.post("/voice/wait/callback?lang=en&area=labor", {"Digits": "1", "From": caller_id})
    )
    assert confirmed.first("Gather").get("finishOnKey") == "#"
    room = WaitingRoom(redis, config.routing)
    assert room.get(CALL).kind == "call" and room.callback_number(CALL) is None
    # The number they key is the one called back, and they keep their place.
    keyed = Doc.parse(
        twilio.post(
            gather.get("action"), {"Digits": "13912345678#", "From": caller_id, "CallSid": CALL}
        )
    )
    assert keyed.verbs() == ["Say", "Leave"]
    assert room.callback_number(CALL) == "+8613912345678"


def test_a_caller_with_a_number_is_still_offered_their_own(app, twilio):
    doc = Doc.parse(twilio.post("/voice/wait/key?lang=en&area=labor", {"Digits": "1"}))
    assert doc.said() == config_of(app).prompt("callback_confirm", "en", last_digits="5678")


def test_the_waiting_room_never_stores_a_withheld_number_to_call(app, redis, clock):
    room = WaitingRoom(redis, config_of(app).routing)
    now = clock().timestamp()
    assert room.enqueue(CALL, area="labor", language="zh", now=now, caller="anonymous")
    for withheld in ("anonymous", "+266696687", ""):
        assert not room.to_callback(CALL, withheld, now)
    assert room.get(CALL).kind == "call" and room.callback_number(CALL) is None
    with pytest.raises(ValueError, match="withheld"):
        room.enqueue(OTHER, area="labor", language="zh", now=now, callback_number="+7378742833")
    assert room.get(OTHER) is None


def test_withheld_callers_are_never_taken_for_a_returning_caller(app, twilio, redis):
    room = WaitingRoom(redis, config_of(app).routing)
    # A withheld caller hangs up while waiting...
    twilio.post(
        "/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1", "From": "anonymous"}
    )
    twilio.post(
        "/voice/queue-result?lang=zh&area=labor", {"QueueResult": "hangup", "From": "anonymous"}
    )
    assert room.get(CALL).outcome == "abandoned"
    # ...so another, unrelated withheld caller is not put ahead as their return.
    for caller_id in ("anonymous", "Anonymous", "+266696687"):
        assert not room.is_returning(caller_id)
    twilio.post(
        "/voice/intake?lang=zh&area=labor&q=1&a=1&t=1",
        {"Digits": "1", "From": "anonymous", "CallSid": OTHER},
    )
    assert room.get(OTHER).priority == "normal"
    # A caller with a number who hangs up does come back first (the rule still holds).
    number = "+8613812345678"
    third = "CA" + "3" * 32
    twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1", "CallSid": third})
    twilio.post(
        "/voice/queue-result?lang=zh&area=labor", {"QueueResult": "hangup", "CallSid": third}
    )
    assert room.is_returning(number)


@pytest.mark.parametrize("caller_id", ["anonymous", "+266696687", ""])
def test_the_crisis_line_sees_the_hotlines_number_for_a_withheld_caller(app, twilio, caller_id):
    hotline_number = app.config["SETTINGS"].hotline_number
    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9", "From": caller_id}))
    assert doc.first("Number").text == config_of(app).crisis.numbers["zh"]
    assert doc.first("Dial").get("callerId") == hotline_number
    # The next line too, after the first one failed.
    after = Doc.parse(
        twilio.post(
            "/voice/crisis/next?lang=zh&n=0", {"DialCallStatus": "no-answer", "From": caller_id}
        )
    )
    assert after.first("Dial").get("callerId") == hotline_number


def test_a_withheld_callers_message_is_kept_but_never_dialled_back(app, hotline, redis, clock):
    store = MessageStore(redis)
    store.register(
        SID, now=clock.now, call_sid=CALL, caller="anonymous", area="labor", language="zh"
    )
    store.set_fields(SID, {"state": READY})
    rt = runtime.of(app)

    assert callbacks.schedule(rt, store.get(SID)) == "no-number"
    assert Queue("default", connection=redis).count == 0
    assert store.get(SID).fields["callback_state"] == "no-number"
    # Even a callback scheduled before this was known is never dialled.
    store.set_fields(SID, {"callback_state": "scheduled"})
    with app.app_context():
        assert callbacks.callback_job(SID) == "no-number"
    assert WaitingRoom(redis, config_of(app).routing).get(callbacks.task_id(SID)) is None

    # Supervisors see that the number was withheld, not a number or a blank.
    (entry,) = list_messages(redis)
    assert entry.withheld and entry.caller == entry.caller_masked == ""
    session = sign_in(app, "sam")
    (listed,) = session.get("/api/v1/voicemail").get_json()["messages"]
    assert listed["caller_withheld"] is True and listed["caller"] == ""
    assert "号码未显示" in session.get("/ops/voicemail").get_data(as_text=True)


def test_a_keypad_spelt_withheld_number_shows_as_withheld_not_masked(app, redis, clock):
    store = MessageStore(redis)
    store.register(SID, now=clock.now, call_sid=CALL, caller="+266696687", area="labor")
    (entry,) = list_messages(redis)
    assert entry.withheld and entry.caller_masked == ""


def test_an_unsatisfied_withheld_caller_is_not_promised_a_callback(app, hotline, twilio, redis):
    config = config_of(app)
    CallStore(redis).start(CALL, "anonymous")
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(CALL, area="family")
    rid = match.reservation_id
    twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": "CA9", "Digits": "1"})
    joined = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"From": "anonymous"}))
    with app.app_context():
        from queues import dispatch

        dispatch.finish(runtime.serving(), rid)
    live = {"CallStatus": "in-progress", "DialCallStatus": "completed", "From": "anonymous"}
    question = Doc.parse(twilio.post(joined.first("Dial").get("action"), live))
    rated = Doc.parse(
        twilio.post(question.first("Gather").get("action"), {"Digits": "2", "From": "anonymous"})
    )
    assert rated.said() != config.prompt("survey_follow_up", "zh")
    assert config.prompt("survey_thanks", "zh") in rated.said()
    # Supervisors still see the unhappy call, with no number that is nobody's.
    follow_up = FollowUps(redis).get(CALL)
    assert follow_up is not None and follow_up.caller == ""


def test_screening_a_withheld_caller_is_not_an_error(app, redis):
    twilio = Twilio(app.test_client())
    doc = Doc.parse(twilio.post("/voice", {"From": "anonymous"}))
    assert doc.first("Gather").get("action") == "/voice/language?t=1"
    assert CallStore(redis).get(CALL).caller == "anonymous"
