"""Contract test for conference participants on the stand-in: every parameter the hotline's
in-call features send (coach, barge, listen, hold) and every field the stand-in answers with,
checked against Twilio's own OpenAPI description, and the stand-in acting on each."""

from __future__ import annotations

from tests.fixtures.carrier import HOTLINE
from tests.fixtures.hearing import (
    AGENT,
    CALLER,
    SUPERVISOR,
    Room,
    room_fixture,  # noqa: F401 - provides the room fixture
)
from tests.fixtures.twilio_spec import problems_of
from tests.fixtures.waits import poll

CREATE_PARAMETERS = {
    "To", "From", "Label", "Muted", "Beep", "StartConferenceOnEnter", "EndConferenceOnExit",
    "Coaching", "CallSidToCoach", "Timeout", "WaitUrl", "WaitMethod", "StatusCallback",
    "StatusCallbackMethod", "StatusCallbackEvent", "ConferenceStatusCallback",
    "ConferenceStatusCallbackMethod", "ConferenceStatusCallbackEvent",
}  # fmt: skip
UPDATE_PARAMETERS = {
    "Muted", "Hold", "HoldUrl", "HoldMethod", "Coaching", "CallSidToCoach", "EndConferenceOnExit",
}  # fmt: skip


def sent(room: Room, method: str, ending: str) -> set[str]:
    """Return the form parameters sent in the requests of one kind the stand-in answered."""
    return {
        name
        for exchange in room.hub.network.exchanges
        if exchange["method"] == method and exchange["path"].endswith(ending)
        for name, _ in exchange["form"]
    }


def test_every_participant_parameter_and_field_follows_twilios_spec(room: Room) -> None:
    status = f"{room.app_url}/status"
    caller = room.join(CALLER, label="caller", wait_url=f"{room.app_url}/hold", wait_method="GET",
                       status_callback=status, status_callback_method="POST",
                       status_callback_event=["initiated", "answered", "completed"],
                       conference_status_callback=status,
                       conference_status_callback_method="POST",
                       conference_status_callback_event=["start", "end", "join", "leave"],
                       end_conference_on_exit=True, timeout=20)  # fmt: skip
    # The first participant's conference callback is the conference's: the caller joins first.
    room.wait_joined(caller)
    agent = room.join(AGENT, label="agent", beep="false", start_conference_on_enter=True)
    conference = room.wait_joined(caller, agent)
    coach = room.client.conferences(conference).participants.create(
        from_=HOTLINE, to=SUPERVISOR, label="supervisor", coaching=True,
        call_sid_to_coach=agent, muted=False, beep="onEnter",
    )  # fmt: skip
    assert (coach.coaching, coach.call_sid_to_coach, coach.status) == (True, agent, "queued")
    room.wait_joined(coach.call_sid)
    participants = room.client.conferences(conference).participants
    barge = participants(coach.call_sid).update(coaching=False)
    back = participants(coach.call_sid).update(call_sid_to_coach=agent)
    listen = participants(coach.call_sid).update(coaching=False, muted=True)
    held = participants(caller).update(
        hold=True, hold_url=f"{room.app_url}/hold", hold_method="POST"
    )
    poll(lambda: room.entries(caller, "hold"), 20, "the caller on hold")
    participants(caller).update(hold=False, end_conference_on_exit=False)
    listed = {p.call_sid: p for p in participants.list()}
    participants(caller).delete()
    room.client.conferences(conference).update(status="completed")
    for sid in (caller, agent, coach.call_sid):
        assert room.hub.driver.wait_finished(sid, 20)

    assert (barge.coaching, barge.call_sid_to_coach) == (False, None)
    assert (back.coaching, back.call_sid_to_coach) == (True, agent)
    assert (listen.coaching, listen.muted) == (False, True)
    assert held.hold is True
    assert listed[coach.call_sid].muted is True and listed[agent].coaching is False
    assert listed[caller].hold is False and listed[caller].label == "caller"
    exchanges = list(room.hub.network.exchanges)
    assert [problem for exchange in exchanges for problem in problems_of(exchange)] == []
    assert sent(room, "POST", "/Participants.json") >= CREATE_PARAMETERS
    updates = sent(room, "POST", f"/Participants/{caller}.json")
    assert updates | sent(room, "POST", f"/Participants/{coach.call_sid}.json") >= UPDATE_PARAMETERS
    # The conference's reports went to the status callback the first participant named.
    reports = [e for e in room.entries(caller, "webhook") if e["purpose"] == "conference"]
    assert reports and all(e["method"] == "POST" and e["status"] == 204 for e in reports)


ABSENT = "CA" + "1" * 32


def test_refusals_are_twilios_error_json(room: Room) -> None:
    caller = room.join(CALLER, label="caller")
    conference = room.wait_joined(caller)
    participants = room.client.conferences(conference).participants
    for attempt in (
        lambda: participants.create(
            from_=HOTLINE, to=SUPERVISOR, call_sid_to_coach="CA" + "1" * 32
        ),
        lambda: participants.create(from_=HOTLINE, to=SUPERVISOR, coaching=True),
        lambda: participants(caller).update(coaching=True),
        lambda: participants(caller).update(hold_method="PUT"),
    ):
        try:
            attempt()
        except Exception as error:  # twilio-python raises TwilioRestException for a 400
            assert getattr(error, "status", None) == 400
        else:
            raise AssertionError("the stand-in took a request Twilio refuses")
    refusals = [e for e in room.hub.network.exchanges if e["status"] == 400]
    assert len(refusals) == 4
    assert [e["json"]["code"] for e in refusals] == [16028, 20001, 20001, 20001]
    # The spec's form checker also flags the bad method, as Twilio's API would.
    assert any("PUT" in problem for problem in problems_of(refusals[-1]))


def test_a_participant_is_found_by_its_label_as_by_its_call_sid(room: Room) -> None:
    caller = room.join(CALLER, label="caller")
    agent = room.join(AGENT, label="agent")
    conference = room.wait_joined(caller, agent)
    participants = room.client.conferences(conference).participants

    assert participants("agent").fetch().call_sid == agent
    held = participants("caller").update(hold=True)
    assert (held.call_sid, held.hold) == (caller, True)
    poll(lambda: room.entries(caller, "hold"), 20, "the caller on hold")
    assert participants("caller").delete()
    assert room.hub.driver.wait_finished(caller, 20)
    assert [e["action"] for e in room.entries(caller, "hold")] == ["started", "ended"]
    assert [e["name"] for e in room.entries(caller, "played")] == ["default hold music"]
    exchanges = list(room.hub.network.exchanges)
    assert [problem for exchange in exchanges for problem in problems_of(exchange)] == []
