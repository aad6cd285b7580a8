"""Media streams and live transcription on the stand-in: a tiny app answers TwiML with
`<Start><Stream>` and `<Start><Transcription>`, takes the stream on a WebSocket (flask-sock) and
the transcription callbacks over HTTP, and checks what arrives as Twilio would send it: the
messages' order and fields, 20 ms mu-law frames carrying the caller's voice, the signatures,
both tracks of a conference, lines said during a `<Record>`, and a refused WebSocket."""

from __future__ import annotations

import base64
import json
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, abort, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, Start, VoiceResponse

from carrier import audio, streams
from carrier.parties import Line, Script, parse_talk
from carrier.server import Carrier
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
from voicemail.audio import audioop

# A call second lasts 50 ms: a 40 s call streams 2,000 frames a track in two seconds, and a
# busy machine's hiccup of a few tens of milliseconds moves a voice by less than a second.
TIME_SCALE = 0.05
CALLER = "+8613700000031"
AGENT = "+8613700000032"
CALLER_WORDS = "My employer has not paid me for three months."
AGENT_WORDS = "Do you have a written contract?"
VOICEMAIL_WORDS = "明天我就从楼上跳下去"
PHONES = {
    AGENT: {
        "name": "Agent Li",
        "role": "agent",
        "answer_after": 0,
        "stay": 200,
        "talk": [{"after": 12, "say": AGENT_WORDS}],
    }
}


@dataclass
class Connection:
    """One WebSocket the stand-in opened: where, its handshake's signature, what it sent."""

    path: str
    signature: str
    host: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


@dataclass
class App:
    """The tiny app's view of what the stand-in sent it."""

    url: str = ""
    connections: list[Connection] = field(default_factory=list)
    callbacks: list[dict[str, str]] = field(default_factory=list)
    statuses: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stream(self, path: str) -> Connection:
        """Wait for the WebSocket at a path to be closed, and return it."""
        return poll(
            lambda: next((c for c in self.connections if c.path == path and c.closed), None),
            20,
            f"the stream at {path} to end",
        )

    def transcription(self, count_stopped: int = 1) -> list[dict[str, str]]:
        """Wait until this many transcriptions have stopped; return every callback in order."""

        def stopped() -> list[dict[str, str]] | None:
            with self.lock:
                seen = list(self.callbacks)
            done = [c for c in seen if c["TranscriptionEvent"] == "transcription-stopped"]
            return seen if len(done) >= count_stopped else None

        return poll(stopped, 20, "the transcription to stop")


def tiny_app(seen: App) -> Flask:
    """The app: TwiML that starts streams and transcriptions, a WebSocket, a callback."""
    app = Flask("tiny_stream_app")
    sock = Sock(app)

    def ws_url(path: str) -> str:
        return seen.url.replace("http://", "ws://") + path

    def xml(response: VoiceResponse) -> Response:
        return Response(str(response), mimetype="text/xml")

    @app.post("/voice/conference")
    def conference() -> Response:
        response = VoiceResponse()
        start = Start()
        stream = start.stream(url=ws_url("/stream"), name="assist", track="both_tracks")
        stream.parameter(name="res", value="RS7")
        stream.parameter(name="lang", value="en")
        start.transcription(
            name="assist",
            status_callback_url="/transcript",
            track="both_tracks",
            language_code="en-US",
            partial_results=False,
        )
        response.append(start)
        dial = Dial()
        dial.conference("room-stream", end_conference_on_exit=True)
        response.append(dial)
        return xml(response)

    @app.post("/voice/record")
    def record() -> Response:
        response = VoiceResponse()
        start = Start()
        start.stream(url=ws_url("/stream-voicemail"))
        start.transcription(
            status_callback_url=f"{seen.url}/transcript",
            track="inbound_track",
            language_code="zh-CN",
            partial_results=request.args.get("partial") == "true",
        )
        response.append(start)
        response.record(max_length=60, timeout=3, action="/recorded")
        return xml(response)

    @app.post("/recorded")
    def recorded() -> Response:
        response = VoiceResponse()
        response.hangup()
        return xml(response)

    @app.post("/voice/refused")
    def refused() -> Response:
        response = VoiceResponse()
        start = Start()
        start.stream(url=ws_url("/nobody-here"), name="lost", status_callback="/stream-status")
        # An http URL, mapped to ws:// as the app gives it.
        start.stream(url=f"{seen.url}/stream-short", name="short", status_callback="/stream-status")
        start.stream(url=ws_url("/stream-drop"), name="dropped")
        response.append(start)
        response.pause(length=3)
        response.stop().stream(name="short")
        response.pause(length=2)
        response.say("Still here.")
        response.hangup()
        return xml(response)

    @app.before_request
    def refuse() -> None:
        # As the hotline refuses a stream whose signature is wrong: before the upgrade.
        if request.path == "/nobody-here":
            abort(403)

    @app.post("/stream-status")
    def stream_status() -> tuple[str, int]:
        form = request.form.to_dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        form["_valid"] = str(RequestValidator(AUTH_TOKEN).validate(request.url, form, signature))
        with seen.lock:
            seen.statuses.append(form)
        return "", 204

    @app.post("/transcript")
    def transcript() -> tuple[str, int]:
        form = request.form.to_dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        form["_valid"] = str(RequestValidator(AUTH_TOKEN).validate(request.url, form, signature))
        with seen.lock:
            seen.callbacks.append(form)
        return "", 204

    def take(ws: Any) -> None:
        connection = Connection(
            request.path, request.headers.get("X-Twilio-Signature", ""), request.host
        )
        with seen.lock:
            seen.connections.append(connection)
        try:
            while (raw := ws.receive()) is not None:
                message = json.loads(raw)
                connection.messages.append(message)
                if message["event"] == "stop":
                    break
        except ConnectionClosed:
            pass
        connection.closed = True

    for path in ("/stream", "/stream-voicemail", "/stream-short", "/nobody-here"):
        sock.route(path, endpoint=path)(take)

    @sock.route("/stream-drop")
    def drop(ws: Any) -> None:
        # The app hangs up on the stream once it has seen its start.
        while (raw := ws.receive()) is not None and json.loads(raw)["event"] != "start":
            pass

    return app


@dataclass
class Rig:
    """The stand-in pointed at the tiny app, and twilio-python pointed at the stand-in."""

    hub: Carrier
    app: App
    client: Client
    carrier_url: str

    def call(self, voice_path: str, talk: list[dict[str, Any]], hangup_after: float) -> str:
        """Point the number at one of the app's documents and place a call; return its SID."""
        point_at_app(self.hub, self.app.url, self.carrier_url, voice_path)
        script = Script(hangup_after=hangup_after, talk=parse_talk(talk))
        return self.hub.driver.start_incoming(CALLER, script).sid

    def entries(self, sid: str, kind: str) -> list[dict[str, Any]]:
        """Return a call's transcript entries of one kind."""
        entries = self.hub.network.calls[sid].transcript.to_dict()["entries"]
        return [entry for entry in entries if entry["kind"] == kind]


@pytest.fixture(name="rig")
def rig_fixture() -> Iterator[Rig]:
    """The stand-in and the tiny app on free ports."""
    seen = App()
    served = LocalServer(tiny_app(seen))
    seen.url = served.url
    hub, server, carrier_url = start_carrier(PHONES, time_scale=TIME_SCALE)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=BaseUrlHttpClient(carrier_url))
    try:
        yield Rig(hub, seen, client, carrier_url)
    finally:
        server.stop()
        served.stop()


@pytest.fixture(name="voice")
def voice_fixture(tmp_path: Path) -> tuple[Path, list[int]]:
    """A second and a half of speech-like sound in a WAV file, and its samples."""
    pcm = audio.speech_like(1.5, seed=3)
    path = tmp_path / "caller.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.RATE)
        out.writeframes(pcm)
    return path, _samples(pcm)


def _samples(pcm: bytes) -> list[int]:
    """Return 16-bit little-endian PCM as a list of samples."""
    return [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]


def _decoded(frames: list[dict[str, Any]]) -> list[int]:
    """Return the samples that media frames carry, decoded from mu-law."""
    mulaw = b"".join(base64.b64decode(f["media"]["payload"]) for f in frames)
    return _samples(audioop.ulaw2lin(mulaw, 2))


def _signed(app: App, path: str, signature: str) -> bool:
    """Tell whether a handshake's signature is Twilio's over the ws URL with no parameters."""
    url = app.url.replace("http://", "ws://") + path
    return RequestValidator(AUTH_TOKEN).validate(url, {}, signature)


def test_a_conference_call_streams_the_callers_voice_and_transcribes_both_tracks(
    rig: Rig, voice: tuple[Path, list[int]]
) -> None:
    path, samples = voice
    caller = rig.call(
        "/voice/conference",
        [{"after": 5, "say": CALLER_WORDS, "audio": str(path)}],
        hangup_after=40,
    )
    poll(lambda: rig.entries(caller, "conference"), 20, "the caller in the conference")
    agent = rig.client.conferences("room-stream").participants.create(
        from_=HOTLINE, to=AGENT, label="agent"
    )
    assert rig.hub.driver.wait_finished(caller, 20)
    stream = rig.app.stream("/stream")

    # The handshake is signed as Twilio signs a WebSocket, with the port in the Host.
    assert _signed(rig.app, "/stream", stream.signature)
    assert stream.host == rig.app.url.removeprefix("http://")
    events = [m["event"] for m in stream.messages]
    assert events[:2] == ["connected", "start"] and events[-1] == "stop"
    assert set(events[2:-1]) == {"media"}
    connected, start, *media, stop = stream.messages
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    sid = start["streamSid"]
    assert sid.startswith("MZ") and len(sid) == 34
    assert start["start"] == {
        "accountSid": ACCOUNT_SID,
        "streamSid": sid,
        "callSid": caller,
        "tracks": ["inbound", "outbound"],
        "customParameters": {"res": "RS7", "lang": "en"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    assert stop["stop"] == {"accountSid": ACCOUNT_SID, "callSid": caller}
    numbers = [int(m["sequenceNumber"]) for m in stream.messages[1:]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {m["streamSid"] for m in stream.messages[1:]} == {sid}

    # A frame a track every 20 ms of the call, from <Start> to the hang-up.
    inbound = [m for m in media if m["media"]["track"] == "inbound"]
    outbound = [m for m in media if m["media"]["track"] == "outbound"]
    assert len(inbound) == len(outbound)
    assert [int(m["media"]["chunk"]) for m in inbound] == list(range(1, len(inbound) + 1))
    assert [int(m["media"]["timestamp"]) for m in inbound[:3]] == [0, 20, 40]
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    (started,) = [e for e in rig.entries(caller, "stream") if e["action"] == "started"]
    (stopped,) = [e for e in rig.entries(caller, "stream") if e["action"] == "stopped"]
    assert stopped["frames"] == len(inbound)
    (hangup,) = rig.entries(caller, "hangup")
    seconds = hangup["t"] - started["t"]
    # Streamed until the hang-up, give or take the stand-in's own pace on a busy machine.
    assert seconds > 35 and abs(len(inbound) * 0.02 - seconds) < 3.0

    # The inbound track is silence (0xFF) but for the caller's voice, from when it was said.
    voiced = [
        i for i, m in enumerate(inbound) if base64.b64decode(m["media"]["payload"]) != b"\xff" * 160
    ]
    (said,) = rig.entries(caller, "said")
    assert abs(voiced[0] - (said["t"] - started["t"]) / 0.02) < 75
    heard = _decoded(inbound[voiced[0] : voiced[0] + len(samples) // 160 + 1])[: len(samples)]
    assert all(abs(a - b) <= 8 + abs(b) // 12 for a, b in zip(heard, samples, strict=True))
    # The outbound track carries no voice: the agent's line has no audio.
    assert all(m["media"]["payload"] == outbound[0]["media"]["payload"] for m in outbound)

    # Transcription: started, the caller's words (inbound), the agent's (outbound), stopped.
    callbacks = rig.app.transcription()
    assert all(c["_valid"] == "True" for c in callbacks)
    assert [c["TranscriptionEvent"] for c in callbacks] == [
        "transcription-started",
        "transcription-content",
        "transcription-content",
        "transcription-stopped",
    ]
    assert [c["SequenceId"] for c in callbacks] == ["1", "2", "3", "4"]
    assert {c["CallSid"] for c in callbacks} == {caller}
    assert {c["AccountSid"] for c in callbacks} == {ACCOUNT_SID}
    assert len({c["TranscriptionSid"] for c in callbacks}) == 1
    assert callbacks[0]["TranscriptionSid"].startswith("GT")
    assert callbacks[0]["Track"] == "both_tracks" and callbacks[0]["LanguageCode"] == "en-US"
    contents = callbacks[1:3]
    assert [(c["Track"], json.loads(c["TranscriptionData"])) for c in contents] == [
        ("inbound_track", {"transcript": CALLER_WORDS, "confidence": 0.9}),
        ("outbound_track", {"transcript": AGENT_WORDS, "confidence": 0.9}),
    ]
    assert all(c["Final"] == "true" for c in contents)
    assert rig.hub.driver.wait_finished(agent.call_sid, 20)


def test_lines_said_during_a_record_are_streamed_recorded_and_transcribed_inbound(
    rig: Rig,
) -> None:
    # A calm voice saying the crisis words, one of the stand-in's own voices, by name.
    with wave.open(str(Path(streams.VOICES, "crisis_calm_zh.wav")), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        samples = _samples(wav.readframes(wav.getnframes()))
    caller = rig.call(
        "/voice/record",
        [{"after": 2, "say": VOICEMAIL_WORDS, "audio": "crisis_calm_zh"}],
        hangup_after=120,
    )
    assert rig.hub.driver.wait_finished(caller, 20)

    (said,) = rig.entries(caller, "said")
    assert said["text"] == VOICEMAIL_WORDS and said["where"] == "record"
    (recorded,) = rig.entries(caller, "recorded")
    recording = rig.hub.network.recordings[recorded["recording_sid"]]
    # The voice 2 s into the recording (silence before it is trimmed, as Twilio trims).
    assert recording.duration >= 1
    assert abs(audio.duration(recording.pcm) - len(samples) / audio.RATE) < 0.2
    callbacks = rig.app.transcription()
    assert [c["TranscriptionEvent"] for c in callbacks] == [
        "transcription-started",
        "transcription-content",
        "transcription-stopped",
    ]
    content = callbacks[1]
    assert content["Track"] == "inbound_track" and content["LanguageCode"] == "zh-CN"
    assert json.loads(content["TranscriptionData"])["transcript"] == VOICEMAIL_WORDS
    stream = rig.app.stream("/stream-voicemail")
    media = [m for m in stream.messages if m["event"] == "media"]
    assert {m["media"]["track"] for m in media} == {"inbound"}
    voiced = [
        i for i, m in enumerate(media) if base64.b64decode(m["media"]["payload"]) != b"\xff" * 160
    ]
    # The voice from when the line was said (2 s into the recording), then silence again.
    (started,) = [e for e in rig.entries(caller, "stream") if e["action"] == "started"]
    assert abs(voiced[0] - (said["t"] - started["t"]) / 0.02) < 75
    assert said["t"] - started["t"] > 1.9 and voiced[-1] - voiced[0] < -(-len(samples) // 160)
    heard = _decoded(media[voiced[0] : voiced[0] + len(samples) // 160 + 1])[: len(samples)]
    assert all(abs(a - b) <= 8 + abs(b) // 12 for a, b in zip(heard, samples, strict=True))


def test_a_refused_websocket_does_not_hurt_the_call_and_stop_ends_a_stream_by_name(
    rig: Rig,
) -> None:
    caller = rig.call("/voice/refused", [], hangup_after=120)
    assert rig.hub.driver.wait_finished(caller, 20)

    streams = rig.entries(caller, "stream")
    lost = [e for e in streams if e["name"] == "lost"]
    assert [e["action"] for e in lost] == ["started", "refused"]
    assert "403" in lost[1]["reason"]
    dropped = [e for e in streams if e["name"] == "dropped"]
    assert [e["action"] for e in dropped] == ["started", "dropped"]
    # The call went on: it heard the words after the <Stop> and ended by its own Hangup.
    assert [e["text"] for e in rig.entries(caller, "heard")] == ["Still here."]
    (hangup,) = rig.entries(caller, "hangup")
    assert hangup["status"] == "completed" and hangup["by"] == "app"
    short = rig.app.stream("/stream-short")
    assert _signed(rig.app, "/stream-short", short.signature)
    media = [m for m in short.messages if m["event"] == "media"]
    # Stopped by name after a 3 s pause: about 150 frames, then its stop message.
    assert 150 <= len(media) < 200 and short.messages[-1]["event"] == "stop"
    stopped = [e for e in streams if e["name"] == "short" and e["action"] == "stopped"]
    assert stopped and stopped[0]["frames"] == len(media)
    # Each stream's status callback, signed: the refused one's error, the other's start and stop.
    statuses = poll(lambda: len(rig.app.statuses) >= 3 and rig.app.statuses, 20, "3 statuses")
    assert all(form["_valid"] == "True" for form in statuses)
    events = sorted((form["StreamName"], form["StreamEvent"]) for form in statuses)
    assert events == [
        ("lost", "stream-error"),
        ("short", "stream-started"),
        ("short", "stream-stopped"),
    ]
    (error,) = [form for form in statuses if form["StreamEvent"] == "stream-error"]
    assert "403" in error["StreamError"] and error["StreamSid"] == lost[0]["sid"]


def test_partial_results_come_before_each_final_line_and_lines_parse_their_audio(
    rig: Rig, voice: tuple[Path, list[int]]
) -> None:
    path, _ = voice
    caller = rig.call(
        "/voice/record?partial=true", [{"after": 1, "say": VOICEMAIL_WORDS}], hangup_after=120
    )
    assert rig.hub.driver.wait_finished(caller, 20)
    callbacks = rig.app.transcription()
    contents = [c for c in callbacks if c["TranscriptionEvent"] == "transcription-content"]
    assert [(c["Final"], json.loads(c["TranscriptionData"])["transcript"]) for c in contents] == [
        ("false", VOICEMAIL_WORDS[: len(VOICEMAIL_WORDS) // 2]),
        ("true", VOICEMAIL_WORDS),
    ]
    assert contents[0]["Stability"] == "0.8" and "Stability" not in contents[1]
    assert callbacks[0]["PartialResults"] == "true"

    assert Line.parse({"after": 1, "say": "hi", "audio": "calm_zh"}).audio == "calm_zh"
    line = Line.parse({"after": 1, "say": "hi", "audio": str(path)})
    assert line.to_dict() == {"after": 1.0, "say": "hi", "audio": str(path)}
    assert Line.parse({"after": 1, "say": "hi"}).to_dict() == {"after": 1.0, "say": "hi"}
    for wrong in ("../secrets", "voices/calm_zh", "", 7):
        with pytest.raises(ValueError, match="audio"):
            Line.parse({"after": 1, "say": "hi", "audio": wrong})
    with pytest.raises(ValueError, match="talk line"):
        Line.parse({"after": 1, "say": "hi", "voice": "calm_zh"})
