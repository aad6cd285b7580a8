"""Who hears whom in a conference on the stand-in, built through twilio-python as the hotline
does: a supervisor who coaches (heard by the agent only), barges (heard by both) and listens
(muted, heard by nobody), and a caller on hold who hears the hold document and nothing said
meanwhile. The transcripts say who heard what."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, Response
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from carrier.server import Carrier, Server
from telephony.gateway import BaseUrlHttpClient
from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HOTLINE,
    LocalServer,
    point_at_app,
    start_carrier,
)
from tests.fixtures.waits import poll

# A call second lasts 20 ms: the lines below are tens of seconds apart, so a busy machine's
# REST round trips (a few call seconds) cannot reorder them.
TIME_SCALE = 0.02
CALLER = "+8613700000021"
AGENT = "+8613700000022"
SUPERVISOR = "+8613700000023"
LISTENER = "+8613700000024"
HOLD_WORDS = "Please hold while we find a colleague for you."

PHONES: dict[str, dict[str, Any]] = {
    CALLER: {
        "name": "caller",
        "answer_after": 0,
        "stay": 600,
        "talk": [{"after": 60, "say": "My employer has not paid me for three months."}],
    },
    AGENT: {
        "name": "Agent Li",
        "role": "agent",
        "answer_after": 0,
        "stay": 600,
        "talk": [{"after": 60, "say": "Do you have a written contract?"}],
    },
    SUPERVISOR: {
        "name": "Supervisor Wu",
        "role": "supervisor",
        "answer_after": 0,
        "stay": 600,
        "talk": [
            {"after": 5, "say": "Ask about the contract first."},
            {"after": 90, "say": "This is the supervisor, I am joining you both."},
            {"after": 150, "say": "Muted words nobody hears."},
        ],
    },
    LISTENER: {
        "name": "Supervisor Ma",
        "role": "supervisor",
        "answer_after": 0,
        "stay": 600,
        "talk": [{"after": 5, "say": "A listener's aside."}],
    },
}


@dataclass
class Room:
    """The stand-in, a hold document server, and twilio-python pointed at the stand-in."""

    hub: Carrier
    client: Client
    app_url: str

    def join(self, number: str, **options: Any) -> str:
        """Ring a number into the conference "room-hear" and return its call SID."""
        participant = self.client.conferences("room-hear").participants.create(
            from_=HOTLINE, to=number, **options
        )
        return participant.call_sid

    def conference_sid(self) -> str:
        """Return the live conference's SID."""
        (live,) = self.client.conferences.list(friendly_name="room-hear", status="in-progress")
        return live.sid

    def wait_joined(self, *sids: str) -> str:
        """Wait until these calls are participants of the live conference; return its SID."""

        def joined() -> str | None:
            with self.hub.network.cond:
                for conference in self.hub.network.conferences.values():
                    if conference.status == "in-progress" and set(sids) <= set(
                        conference.participants
                    ):
                        return conference.sid
            return None

        return poll(joined, 20, f"{len(sids)} participants in the conference")

    def entries(self, sid: str, kind: str) -> list[dict[str, Any]]:
        """Return a call's transcript entries of one kind."""
        return [e for e in self.hub.network.calls[sid].transcript.to_dict()["entries"]
                if e["kind"] == kind]  # fmt: skip

    def wait_said(self, sid: str, text: str) -> dict[str, Any]:
        """Wait until a party has said a line, and return its `said` entry."""
        return poll(
            lambda: next((e for e in self.entries(sid, "said") if e["text"] == text), None),
            20,
            f"{text!r} to be said",
        )

    def heard(self, sid: str) -> list[tuple[str, str | None]]:
        """Return what a call heard as (text, who said it: a call SID, or None for TwiML)."""
        return [(e["text"], e.get("from")) for e in self.entries(sid, "heard")]


def hold_document() -> Flask:
    """A hotline's HoldUrl: a few words and a pause, which Twilio loops while the caller holds."""
    app = Flask("hold_document")

    @app.route("/hold", methods=["GET", "POST"])
    def hold() -> Response:
        response = VoiceResponse()
        response.say(HOLD_WORDS)
        response.pause(length=10)
        return Response(str(response), mimetype="text/xml")

    return app


@pytest.fixture
def room() -> Iterator[Room]:
    """The stand-in with the four phones above, and a server for the hold document."""
    hub, server, carrier_url = start_carrier(PHONES, time_scale=TIME_SCALE)
    hold = LocalServer(hold_document())
    point_at_app(hub, hold.url, carrier_url)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=BaseUrlHttpClient(carrier_url))
    try:
        yield Room(hub, client, hold.url)
    finally:
        _stop(server, hold)


def _stop(server: Server, hold: LocalServer) -> None:
    """Stop the stand-in (hanging up every call) and the hold document's server."""
    server.stop()
    hold.stop()


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
