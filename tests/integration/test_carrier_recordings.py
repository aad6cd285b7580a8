"""The stand-in records conferences as Twilio does: from the start when the participant who starts
the conference asks for it, with signed status callbacks, media, REST updates and deletion; and
records a call leg from now on through the Recordings API. Driven through twilio-python."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask, Response, abort, request
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from carrier.server import Carrier
from telephony.gateway import Gateway
from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HOTLINE,
    LocalServer,
    point_at_app,
    start_carrier,
)
from tests.fixtures.twilio_spec import problems_of
from tests.fixtures.waits import poll

CALLER = "+8613911110001"
AGENT = "+8613911110002"
LISTENER = "+8613911110003"
PATIENT_AGENT = "+8613911110005"
PHONES = {
    # The caller stays on well past the agent, whose leaving ends the conference.
    CALLER: {"name": "caller", "answer_after": 1, "stay": 400},
    AGENT: {"name": "Agent Li", "answer_after": 1, "stay": 60},
    LISTENER: {"name": "listener", "answer_after": 1, "stay": 400},
    # An agent who stays long enough for a recording paused and stopped while they talk.
    PATIENT_AGENT: {"name": "Agent Zhou", "answer_after": 1, "stay": 400},
}


@dataclass
class Callbacks:
    """The recording status callbacks the app received, each checked for Twilio's signature."""

    forms: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, form: dict[str, str]) -> None:
        with self.lock:
            self.forms.append(form)

    def of(self, recording_sid: str | None = None, **match: str) -> list[dict[str, str]]:
        """Return the callbacks (of one recording, or all) whose fields match."""
        with self.lock:
            return [
                form
                for form in self.forms
                if recording_sid in (None, form.get("RecordingSid"))
                and all(form.get(k) == v for k, v in match.items())
            ]


@dataclass
class Line:
    """The stand-in, an app that takes recording callbacks, and twilio-python pointed at it."""

    hub: Carrier
    carrier_url: str
    app_url: str
    client: Client
    callbacks: Callbacks

    def twiml(self, room: str, **attributes: str) -> str:
        """Return TwiML joining a conference, attributes as given (callback URLs made absolute)."""
        for name in ("recordingStatusCallback",):
            if name in attributes:
                attributes[name] = self.app_url + attributes[name]
        attrs = " ".join(f'{key}="{value}"' for key, value in attributes.items())
        return f"<Response><Dial><Conference {attrs}>{room}</Conference></Dial></Response>"

    def dial_in(self, number: str, room: str, **attributes: str) -> str:
        """Call a phone and put it into a conference; return the call SID."""
        call = self.client.calls.create(
            to=number, from_=HOTLINE, twiml=self.twiml(room, **attributes)
        )
        return call.sid

    def conference(self, room: str) -> str:
        """Wait for a conference by name to be in progress and return its SID."""

        def live() -> str | None:
            found = self.client.conferences.list(friendly_name=room, status="in-progress")
            return found[0].sid if found else None

        return poll(live, 10, f"conference {room} to start")

    def control(self, path: str) -> Any:
        """GET the stand-in's control API."""
        reply = requests.get(
            f"{self.carrier_url}/carrier{path}", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
        )
        reply.raise_for_status()
        return reply.json()

    def media(self, recording_sid: str, extension: str = ".wav") -> requests.Response:
        """GET a recording's media as the app does, with the account's credentials."""
        return requests.get(
            f"{self.carrier_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"
            f"{recording_sid}{extension}",
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=5,
        )

    def idle(self) -> bool:
        """Tell whether every call leg has ended."""
        with self.hub.network.cond:
            return all(call.finished for call in self.hub.network.calls.values())


def recording_app(callbacks: Callbacks) -> Flask:
    """An app whose /rec takes recording status callbacks, refusing unsigned ones."""
    app = Flask("recording_app")

    @app.post("/rec")
    def rec() -> tuple[str, int]:
        form = request.form.to_dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(AUTH_TOKEN).validate(request.url, form, signature):
            abort(403)
        callbacks.add(form)
        return "", 204

    @app.post("/voice/status")
    def status() -> Response:
        return Response("", 204)

    return app


@contextmanager
def carrier_line(phones: dict[str, dict[str, Any]], **carrier: Any) -> Iterator[Line]:
    """The stand-in with these phones, its webhooks pointed at the recording app; stopped after."""
    hub, server, carrier_url = start_carrier(phones, **carrier)
    callbacks = Callbacks()
    app_server = LocalServer(recording_app(callbacks))
    point_at_app(hub, app_server.url, carrier_url)
    client = Gateway(ACCOUNT_SID, AUTH_TOKEN, carrier_url, HOTLINE).client
    try:
        yield Line(hub, carrier_url, app_server.url, client, callbacks)
    finally:
        server.stop()
        app_server.stop()


@pytest.fixture(name="line")
def line_fixture() -> Iterator[Line]:
    with carrier_line(PHONES) as line:
        yield line


def recorded_consultation(
    line: Line, room: str, agent_number: str = AGENT, **agent_attributes: str
) -> tuple[str, str]:
    """The caller waits in a room; the agent starts it, recorded: return the room and agent."""
    line.dial_in(CALLER, room, startConferenceOnEnter="false", endConferenceOnExit="true")
    poll(lambda: line.hub.network.conference_named(room, create=False), 10, "the caller waiting")
    agent = line.dial_in(
        agent_number,
        room,
        record="record-from-start",
        recordingStatusCallback="/rec",
        recordingStatusCallbackEvent="in-progress completed absent",
        endConferenceOnExit="true",
        **agent_attributes,
    )
    return line.conference(room), agent


def test_a_recorded_conference_calls_back_once_with_its_recording(line: Line) -> None:
    conference, agent = recorded_consultation(line, "room-recorded")
    (started,) = poll(lambda: line.callbacks.of(RecordingStatus="in-progress"), 10, "in-progress")
    recording_sid = started["RecordingSid"]
    (done,) = poll(lambda: line.callbacks.of(RecordingStatus="completed"), 20, "completed")
    poll(line.idle, 20, "every leg to end")

    # Twilio's parameters for a conference recording, and nothing about a single call.
    assert done["RecordingSid"] == recording_sid
    assert done["AccountSid"] == ACCOUNT_SID
    assert done["ConferenceSid"] == conference
    assert done["RecordingSource"] == "Conference"
    assert done["RecordingChannels"] == "1"
    assert done["RecordingStartTime"]
    assert done["RecordingUrl"] == (
        f"{line.carrier_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}"
    )
    assert "CallSid" not in done and "ErrorCode" not in done
    # The conference ran from the agent's joining, just after answering, to their hanging up
    # some 60 call seconds later (later on a busy machine): the recording lasts as long.
    duration = int(done["RecordingDuration"])
    on_the_line = int(line.client.calls(agent).fetch().duration)
    assert duration >= 50 and on_the_line - 10 <= duration <= on_the_line + 1
    assert "RecordingDuration" not in started
    # Exactly one of each: a callback that came twice would store the recording twice.
    assert [form["RecordingStatus"] for form in line.callbacks.of()] == ["in-progress", "completed"]

    fetched = line.client.recordings(recording_sid).fetch()
    assert (fetched.conference_sid, fetched.call_sid) == (conference, agent)
    assert (fetched.source, fetched.channels, fetched.status) == ("Conference", 1, "completed")
    assert fetched.duration == str(duration)
    listed = line.client.conferences(conference).recordings.list()
    assert [r.sid for r in listed] == [recording_sid]
    assert line.client.recordings.list(conference_sid=conference)[0].sid == recording_sid

    wav = line.media(recording_sid)
    assert wav.status_code == 200 and wav.headers["Content-Type"] == "audio/x-wav"
    with wave.open(io.BytesIO(wav.content)) as audio:
        assert (audio.getnchannels(), audio.getframerate()) == (1, 8000)
        assert round(audio.getnframes() / 8000) == duration
        assert max(audio.readframes(8000)) > 0  # sound, not silence
    mp3 = line.media(recording_sid, ".mp3")
    # An MPEG audio frame starts with eleven set bits (its sync word).
    assert mp3.status_code == 200 and mp3.content[0] == 0xFF and mp3.content[1] & 0xE0 == 0xE0
    assert line.control(f"/recordings/{recording_sid}")["status"] == "completed"

    line.client.recordings(recording_sid).delete()
    with pytest.raises(TwilioRestException) as gone:
        line.client.recordings(recording_sid).fetch()
    assert gone.value.status == 404
    assert line.media(recording_sid).status_code == 404
    assert line.client.conferences(conference).recordings.list() == []
    view = line.control(f"/recordings/{recording_sid}")
    assert (view["deleted"], view["status"], view["conference_sid"]) == (
        True,
        "deleted",
        conference,
    )


def test_a_conference_ended_through_the_api_completes_its_recording_there(line: Line) -> None:
    conference, _ = recorded_consultation(line, "room-ended")
    (started,) = poll(lambda: line.callbacks.of(RecordingStatus="in-progress"), 10, "recording")
    network = line.hub.network
    began = network.recordings[started["RecordingSid"]].timeline[0][1]
    poll(lambda: network.clock.now() >= began + 10, 10, "ten call seconds")
    line.client.conferences(conference).update(status="completed")
    ended = network.clock.now()
    (done,) = poll(lambda: line.callbacks.of(RecordingStatus="completed"), 10, "completed")
    # Ended long before the agent (60 s) would have left: the audio stops with the conference.
    assert 10 <= int(done["RecordingDuration"]) <= ended - began + 1
    assert line.client.recordings(done["RecordingSid"]).fetch().status == "completed"
    poll(line.idle, 20, "every leg to end")


def test_a_conference_without_record_is_not_recorded(line: Line) -> None:
    line.dial_in(CALLER, "room-plain", startConferenceOnEnter="false")
    line.dial_in(AGENT, "room-plain", endConferenceOnExit="true")
    conference = line.conference("room-plain")
    poll(line.idle, 20, "every leg to end")
    assert line.client.conferences(conference).recordings.list() == []
    assert line.control(f"/recordings?conference_sid={conference}") == []
    assert line.callbacks.of() == []


def test_the_participant_who_starts_the_conference_decides(line: Line) -> None:
    # The caller asks for a recording but does not start the room; the agent who does, does not.
    line.dial_in(
        CALLER,
        "room-starter",
        startConferenceOnEnter="false",
        record="record-from-start",
        recordingStatusCallback="/rec",
    )
    poll(lambda: line.hub.network.conference_named("room-starter", create=False), 10, "a room")
    line.dial_in(AGENT, "room-starter", endConferenceOnExit="true")
    conference = line.conference("room-starter")
    poll(line.idle, 20, "every leg to end")
    assert line.client.recordings.list(conference_sid=conference) == []
    assert line.callbacks.of() == []


def test_a_paused_recording_keeps_nothing_and_a_stopped_one_completes_at_once(
    line: Line,
) -> None:
    conference, agent = recorded_consultation(line, "room-paused", PATIENT_AGENT)
    current = line.client.conferences(conference).recordings("Twilio.CURRENT")
    started = poll(lambda: line.callbacks.of(ConferenceSid=conference), 10, "the recording")
    recording_sid = started[0]["RecordingSid"]
    paused = current.update(status="paused", pause_behavior="skip")
    assert (paused.sid, paused.status, paused.duration) == (recording_sid, "paused", "-1")
    network = line.hub.network
    paused_at = network.clock.now()
    # Twenty call seconds pass while paused (on the stand-in's clock, not by sleeping).
    poll(lambda: network.clock.now() >= paused_at + 20, 10, "twenty call seconds")
    assert current.update(status="in-progress").status == "in-progress"
    stopped = current.update(status="stopped")
    assert stopped.status in ("stopped", "completed")
    (done,) = poll(lambda: line.callbacks.of(recording_sid, RecordingStatus="completed"), 10, "end")
    # Completed while the conference still runs, without the paused stretch.
    assert line.client.conferences(conference).fetch().status == "in-progress"
    began = network.recordings[recording_sid].timeline[0][1]
    assert int(done["RecordingDuration"]) <= network.clock.now() - began - 20 + 1
    with pytest.raises(TwilioRestException) as none_left:
        current.update(status="paused")
    assert none_left.value.status == 404
    line.client.calls(agent).update(status="completed")
    poll(line.idle, 20, "every leg to end")
    assert [f["RecordingStatus"] for f in line.callbacks.of(recording_sid)] == [
        "in-progress",
        "completed",
    ]


def test_a_call_leg_is_recorded_from_now_until_it_ends(line: Line) -> None:
    call = line.dial_in(LISTENER, "room-alone")
    poll(lambda: line.client.calls(call).fetch().status == "in-progress", 10, "the call answered")
    recording = line.client.calls(call).recordings.create(
        recording_status_callback=f"{line.app_url}/rec",
        recording_status_callback_event=["in-progress", "completed"],
        recording_channels="dual",
    )
    assert (recording.status, recording.source, recording.channels) == (
        "in-progress",
        "StartCallRecordingAPI",
        2,
    )
    assert [r.sid for r in line.client.calls(call).recordings.list()] == [recording.sid]
    clock = line.hub.network.clock
    began = clock.now()
    poll(lambda: clock.now() >= began + 5, 10, "five call seconds recorded")
    line.client.calls(call).recordings(recording.sid).update(status="stopped")
    (done,) = poll(lambda: line.callbacks.of(recording.sid, RecordingStatus="completed"), 10, "end")
    assert (done["CallSid"], done["RecordingSid"]) == (call, recording.sid)
    assert "ConferenceSid" not in done and done["RecordingChannels"] == "2"
    with wave.open(io.BytesIO(line.media(recording.sid).content)) as dual:
        assert dual.getnchannels() == 2
        assert round(dual.getnframes() / 8000) == int(done["RecordingDuration"])
    line.client.calls(call).update(status="completed")
    poll(line.idle, 20, "every leg to end")
    line.client.calls(call).recordings(recording.sid).delete()
    assert line.control(f"/recordings/{recording.sid}")["deleted"] is True
    ended = line.client.calls(call).fetch()
    with pytest.raises(TwilioRestException) as not_live:
        line.client.calls(ended.sid).recordings.create()
    assert not_live.value.status == 400


def test_every_recording_request_and_answer_follows_twilios_spec(line: Line) -> None:
    test_a_recorded_conference_calls_back_once_with_its_recording(line)
    test_a_paused_recording_keeps_nothing_and_a_stopped_one_completes_at_once(line)
    conference = line.client.conferences.list(friendly_name="room-paused")[0].sid
    (recording,) = line.client.recordings.list(conference_sid=conference)
    line.client.conferences(conference).recordings(recording.sid).fetch()
    line.client.conferences(conference).recordings(recording.sid).delete()
    test_a_call_leg_is_recorded_from_now_until_it_ends(line)
    exchanges = list(line.hub.network.exchanges)
    problems = [problem for exchange in exchanges for problem in problems_of(exchange)]
    assert problems == []
    paths = {(e["method"], e["url_rule"]) for e in exchanges}
    account = "/2010-04-01/Accounts/<account_sid>"
    for used in (
        ("GET", f"{account}/Recordings.json"),
        ("GET", f"{account}/Recordings/<name>"),
        ("DELETE", f"{account}/Recordings/<name>"),
        ("GET", f"{account}/Conferences/<conference_sid>/Recordings.json"),
        ("POST", f"{account}/Conferences/<conference_sid>/Recordings/<sid>.json"),
        ("GET", f"{account}/Conferences/<conference_sid>/Recordings/<sid>.json"),
        ("DELETE", f"{account}/Conferences/<conference_sid>/Recordings/<sid>.json"),
        ("POST", f"{account}/Calls/<call_sid>/Recordings.json"),
        ("GET", f"{account}/Calls/<call_sid>/Recordings.json"),
        ("POST", f"{account}/Calls/<call_sid>/Recordings/<sid>.json"),
        ("DELETE", f"{account}/Calls/<call_sid>/Recordings/<sid>.json"),
    ):
        assert used in paths


# -- what a recording holds: the lines an ordinary participant heard -----------------------------

# A call second lasts 20 ms here: lines tens of seconds apart stay in order on a busy machine.
SPEAKING_SCALE = 0.02
COACH = "+8613911110004"
SPEAKING_PHONES: dict[str, dict[str, Any]] = {
    CALLER: {
        "name": "caller",
        "answer_after": 0,
        "stay": 600,
        "talk": [{"after": 80, "say": "My employer has not paid me for three months."}],
    },
    AGENT: {
        "name": "Agent Li",
        "answer_after": 0,
        "stay": 100,
        "talk": [{"after": 40, "say": "Do you have a written contract?"}],
    },
    COACH: {
        "name": "Supervisor Wu",
        "answer_after": 0,
        "stay": 600,
        "talk": [{"after": 10, "say": "Ask about the contract first."}],
    },
    LISTENER: {
        "name": "listener",
        "answer_after": 0,
        "stay": 600,
        "talk": [{"after": 10, "say": "Muted words nobody hears."}],
    },
}


@pytest.fixture(name="speaking")
def speaking_fixture() -> Iterator[Line]:
    with carrier_line(SPEAKING_PHONES, time_scale=SPEAKING_SCALE) as line:
        yield line


def said(line: Line, call_sid: str, text: str) -> dict[str, Any]:
    """Wait until a party has said a line and return its transcript entry."""

    def entry() -> dict[str, Any] | None:
        for found in line.control(f"/calls/{call_sid}")["entries"]:
            if found["kind"] == "said" and found["text"] == text:
                return found
        return None

    return poll(entry, 20, f"{call_sid} to say {text!r}")


def test_a_recording_holds_what_the_caller_and_agent_said_not_the_coach_or_a_muted_listener(
    speaking: Line,
) -> None:
    line = speaking
    participants = line.client.conferences("room-heard").participants
    caller = participants.create(
        from_=HOTLINE, to=CALLER, start_conference_on_enter=False, end_conference_on_exit=True
    ).call_sid
    poll(lambda: line.hub.network.conference_named("room-heard", create=False), 10, "a room")
    # The agent starts the conference, recorded, through the Participants API.
    agent = participants.create(
        from_=HOTLINE,
        to=AGENT,
        end_conference_on_exit=True,
        conference_record="record-from-start",
        conference_recording_status_callback=f"{line.app_url}/rec",
        conference_recording_status_callback_event=["completed"],
    ).call_sid
    conference = line.conference("room-heard")
    poll(lambda: agent in line.hub.network.conferences[conference].participants, 10, "the agent")
    coach = participants.create(
        from_=HOTLINE, to=COACH, coaching=True, call_sid_to_coach=agent, label="coach"
    ).call_sid
    listener = participants.create(from_=HOTLINE, to=LISTENER, muted=True).call_sid

    tip = said(line, coach, "Ask about the contract first.")
    assert tip["heard_by"] == [agent]
    assert said(line, listener, "Muted words nobody hears.")["heard_by"] == []
    question = said(line, agent, "Do you have a written contract?")
    complaint = said(line, caller, "My employer has not paid me for three months.")
    (done,) = poll(lambda: line.callbacks.of(RecordingStatus="completed"), 20, "completed")
    assert done["ConferenceSid"] == conference and done["RecordingSource"] == "Conference"

    view = line.control(f"/recordings/{done['RecordingSid']}")
    assert [(entry["from"], entry["text"]) for entry in view["lines"]] == [
        (agent, question["text"]),
        (caller, complaint["text"]),
    ]
    # Each line sits where it was said in the recording, which began as the agent joined.
    assert all(0 < entry["t"] <= view["duration"] for entry in view["lines"])
    assert view["lines"][1]["t"] - view["lines"][0]["t"] >= 5
    poll(line.idle, 30, "every leg to end")
    # The Participants API's ConferenceRecord* parameters are Twilio's, as are the answers.
    exchanges = list(line.hub.network.exchanges)
    assert [problem for exchange in exchanges for problem in problems_of(exchange)] == []
    assert any(
        ("ConferenceRecord", "record-from-start") in map(tuple, e["form"]) for e in exchanges
    )


def test_a_paused_recording_keeps_no_line_said_meanwhile(speaking: Line) -> None:
    line = speaking
    caller = line.dial_in(CALLER, "room-pause-lines", startConferenceOnEnter="false")
    poll(lambda: line.hub.network.conference_named("room-pause-lines", create=False), 10, "room")
    agent = line.dial_in(
        AGENT,
        "room-pause-lines",
        record="record-from-start",
        recordingStatusCallback="/rec",
        recordingStatusCallbackEvent="in-progress completed",
        endConferenceOnExit="true",
    )
    conference = line.conference("room-pause-lines")
    poll(lambda: line.callbacks.of(RecordingStatus="in-progress"), 10, "the recording")
    current = line.client.conferences(conference).recordings("Twilio.CURRENT")
    current.update(status="paused")  # silence meanwhile, Twilio's default
    question = said(line, agent, "Do you have a written contract?")
    assert question["heard_by"] == [caller]
    current.update(status="in-progress")
    complaint = said(line, caller, "My employer has not paid me for three months.")
    (done,) = poll(lambda: line.callbacks.of(RecordingStatus="completed"), 20, "completed")
    view = line.control(f"/recordings/{done['RecordingSid']}")
    assert [entry["text"] for entry in view["lines"]] == [complaint["text"]]
    # Paused with silence, the recording still lasts as long as the conference did.
    assert view["duration"] >= 90
    poll(line.idle, 30, "every leg to end")
