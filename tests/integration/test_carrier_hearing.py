"""Who hears whom in a conference on the stand-in, built through twilio-python as the hotline
does: a supervisor who coaches (heard by the agent only), barges (heard by both) and listens
(muted, heard by nobody), and a caller on hold who hears the hold document and nothing said
meanwhile. The transcripts say who heard what."""

from __future__ import annotations

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import Dial, VoiceResponse

from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, HOTLINE
from tests.fixtures.hearing import (
    AGENT,
    CALLER,
    HOLD_WORDS,
    LISTENER,
    SUPERVISOR,
    Room,
    room_fixture,  # noqa: F401 - provides the room fixture
)
from tests.fixtures.waits import poll


def test_a_coach_is_heard_by_the_agent_alone_a_barge_by_both_a_muted_listener_by_nobody(
    room: Room,
) -> None:
    caller = room.join(CALLER, label="caller")
    agent = room.join(AGENT, label="agent")
    room.wait_joined(caller, agent)
    coach = room.join(SUPERVISOR, label="supervisor", coaching=True, call_sid_to_coach=agent)
    listener = room.join(LISTENER, label="listener", muted=True)
    conference = room.wait_joined(caller, agent, coach, listener)
    fetched = room.client.conferences(conference).participants(coach).fetch()
    assert (fetched.coaching, fetched.call_sid_to_coach) == (True, agent)

    tip = room.wait_said(coach, "Ask about the contract first.")
    assert tip["heard_by"] == [agent]
    aside = room.wait_said(listener, "A listener's aside.")
    assert aside["heard_by"] == [] and aside["note"] == "muted"
    # The supervisor barges in: heard by everyone from now on.
    barged = room.client.conferences(conference).participants(coach).update(coaching=False)
    assert (barged.coaching, barged.call_sid_to_coach) == (False, None)
    complaint = room.wait_said(caller, "My employer has not paid me for three months.")
    question = room.wait_said(agent, "Do you have a written contract?")
    joining = room.wait_said(coach, "This is the supervisor, I am joining you both.")
    # And listens only: muted, so heard by nobody.
    room.client.conferences(conference).participants(coach).update(muted=True)
    muted = room.wait_said(coach, "Muted words nobody hears.")
    room.client.conferences(conference).update(status="completed")
    for sid in (caller, agent, coach, listener):
        assert room.hub.driver.wait_finished(sid, 20)

    assert sorted(complaint["heard_by"]) == sorted([agent, coach, listener])
    assert sorted(question["heard_by"]) == sorted([caller, coach, listener])
    assert sorted(joining["heard_by"]) == sorted([caller, agent, listener])
    assert muted["heard_by"] == []
    assert ("Ask about the contract first.", coach) in room.heard(agent)
    assert all(who != listener for _, who in room.heard(agent) + room.heard(caller))
    # The caller never heard the coaching, only the barge; the coach heard both sides.
    assert [text for text, who in room.heard(caller) if who == coach] == [
        "This is the supervisor, I am joining you both."
    ]
    assert {who for _, who in room.heard(coach)} == {caller, agent}
    # A label names the speaker in the listener's transcript.
    (from_coach,) = [e for e in room.entries(caller, "heard") if e.get("from") == coach]
    assert from_coach["label"] == "supervisor" and from_coach["where"] == "conference"
    assert sorted(joining["heard_by_labels"]) == ["agent", "caller", "listener"]


def test_a_held_caller_hears_the_hold_document_and_nothing_said_meanwhile(room: Room) -> None:
    caller = room.join(CALLER, label="caller", start_conference_on_enter=False)
    agent = room.join(AGENT, label="agent")
    conference = room.wait_joined(caller, agent)
    held = (
        room.client.conferences(conference)
        .participants(caller)
        .update(hold=True, hold_url=f"{room.app_url}/hold", hold_method="POST")
    )
    assert held.hold is True
    # The agent speaks while the caller is held: nobody hears it (the caller says nothing held).
    question = room.wait_said(agent, "Do you have a written contract?")
    unheard = room.wait_said(caller, "My employer has not paid me for three months.")
    poll(lambda: len([t for t, _ in room.heard(caller) if t == HOLD_WORDS]) >= 2, 20,
         "the hold document to loop")  # fmt: skip
    room.client.conferences(conference).participants(caller).update(hold=False)
    poll(lambda: [e for e in room.entries(caller, "hold") if e["action"] == "ended"], 20,
         "the caller back in the conference")  # fmt: skip
    room.client.conferences(conference).participants(caller).update(hold=True)
    poll(lambda: len(room.entries(caller, "hold")) == 3, 20, "the caller held again")
    # Removed while held: the caller's call goes on past its <Dial> (and so ends).
    room.client.conferences(conference).participants(caller).delete()
    assert room.hub.driver.wait_finished(caller, 20)

    assert question["heard_by"] == [] and unheard["heard_by"] == []
    assert unheard["note"] == "on hold"
    assert all(who is None for _, who in room.heard(caller))
    assert [e["action"] for e in room.entries(caller, "hold")] == [
        "started", "ended", "started", "ended"]  # fmt: skip
    # Held again without a HoldUrl: the one given before is kept, and fetched as asked.
    webhooks = [e for e in room.entries(caller, "webhook") if e["purpose"] == "hold"]
    assert webhooks and all(e["method"] == "POST" and e["status"] == 200 for e in webhooks)
    conferences = [e["action"] for e in room.entries(caller, "conference")]
    assert conferences == ["joined", "left"]


def test_a_coach_needs_a_participant_of_that_conference_to_coach(room: Room) -> None:
    caller = room.join(CALLER, label="caller")
    room.wait_joined(caller)
    participants = room.client.conferences("room-hear").participants
    with pytest.raises(TwilioRestException) as absent:
        participants.create(from_=HOTLINE, to=SUPERVISOR, call_sid_to_coach="CA" + "0" * 32)
    assert (absent.value.status, absent.value.code) == (400, 16028)
    with pytest.raises(TwilioRestException) as without:
        participants.create(from_=HOTLINE, to=SUPERVISOR, coaching=True)
    assert (without.value.status, without.value.code) == (400, 20001)
    conference = room.conference_sid()
    with pytest.raises(TwilioRestException) as update:
        room.client.conferences(conference).participants(caller).update(coaching=True)
    assert update.value.code == 20001


def test_a_conference_noun_s_coach_whispers_to_the_agent_of_a_phone_set_up_while_running(
    room: Room,
) -> None:
    coach_number = "+8613700000029"
    reply = requests.put(
        f"{room.carrier_url}/carrier/phones/{coach_number}",
        json={"name": "Supervisor Qian", "answer_after": 0, "stay": 600,
              "talk": [{"after": 5, "say": "Tell them about legal aid."}]},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )  # fmt: skip
    assert reply.status_code == 200
    assert reply.json()[coach_number]["talk"] == [
        {"after": 5.0, "say": "Tell them about legal aid."}
    ]
    caller = room.join(CALLER, label="caller")
    agent = room.join(AGENT, label="agent")
    room.wait_joined(caller, agent)
    twiml = VoiceResponse()
    dial = Dial()
    dial.conference("room-hear", coach=agent, participant_label="coach")
    twiml.append(dial)
    coach = room.client.calls.create(to=coach_number, from_=HOTLINE, twiml=str(twiml)).sid
    tip = room.wait_said(coach, "Tell them about legal aid.")
    assert tip["heard_by"] == [agent]
    assert ("Tell them about legal aid.", coach) in room.heard(agent)
    assert all(who != coach for _, who in room.heard(caller))

    # A coach whose agent is not in the conference is not let in (Twilio's 16028).
    lone = VoiceResponse()
    lone_dial = Dial()
    lone_dial.conference("room-hear", coach="CA" + "0" * 32)
    lone.append(lone_dial)
    refused = room.client.calls.create(to=coach_number, from_=HOTLINE, twiml=str(lone)).sid
    assert room.hub.driver.wait_finished(refused, 20)
    assert [e["code"] for e in room.entries(refused, "error")] == [16028]
    assert room.entries(refused, "conference") == []


def test_the_phones_control_api_refuses_what_it_cannot_read(room: Room) -> None:
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    base = f"{room.carrier_url}/carrier/phones"
    for number, body in (
        ("+8613700000030", {"talk": [{"after": "soon", "say": "hi"}]}),
        ("+8613700000030", {"talk": [{"say": "hi"}]}),
        ("+8613700000030", {"colour": "red"}),
        ("8613700000030", {"name": "no plus"}),
    ):
        assert requests.put(f"{base}/{number}", json=body, auth=auth, timeout=5).status_code == 400
    assert "+8613700000030" not in requests.get(base, auth=auth, timeout=5).json()
    assert requests.get(base, timeout=5).status_code == 401


def test_lines_due_on_hold_stay_unheard_when_the_hold_ends_before_the_music_does(
    room: Room,
) -> None:
    caller = room.join(CALLER, label="caller")
    room.wait_joined(caller)
    agent = room.join(AGENT, label="agent")
    conference = room.wait_joined(caller, agent)
    room.client.conferences(conference).participants(caller).update(
        hold=True, hold_url=f"{room.app_url}/music", hold_method="POST"
    )
    # The caller joined first, so their line fell due before the agent's.
    room.wait_said(agent, "Do you have a written contract?")
    room.client.conferences(conference).participants(caller).update(hold=False)
    unheard = room.wait_said(caller, "My employer has not paid me for three months.")
    room.client.conferences(conference).update(status="completed")
    assert room.hub.driver.wait_finished(caller, 20)

    assert unheard["heard_by"] == [] and unheard["note"] == "on hold"
    assert room.heard(agent) == []
    played = [e for e in room.entries(caller, "played")]
    assert played and played[0]["name"] == "hold.mp3" and played[0]["loop"] == 0
