"""The caller's live audio over a real WebSocket: the app served on a real port, and a client
sending what Twilio sends (signed handshake, connected, start, 20 ms media frames, stop) from the
stand-in's voices. Levels reach the call's feed, forged handshakes are refused, a sustained top
level puts a quiet notice on the wallboard until the call ends, and Redis going away mid-call
does not end the stream."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from simple_websocket import Client, ConnectionClosed
from werkzeug.serving import make_server

from hotline.app import create_app
from ivr.callers import live_audio
from queues import events, live_assist, notices
from queues.embedded import EmbeddedRedis
from queues.live_assist import LiveEvent
from queues.notices import Notices
from routing.thermometer import Thermometer
from telephony.demo import DEMO_AUTH_TOKEN
from telephony.signature import SIGNATURE_HEADER, sign
from tests.fixtures.ops import sign_in
from tests.fixtures.twiml import Doc
from tests.fixtures.waits import poll
from tools.bench_assist import (
    VOICES,
    media_messages,
    mulaw_encode,
    read_voice,
    start_message,
    stop_message,
    synthetic_voice,
)

LEG = "CA" + "7" * 32
AGENT_LEG = "CA" + "5" * 32
# Seconds of level 5 that tell the supervisors here: two windows, not the shipped twenty.
SUSTAINED_TOP_S = 4
DEADLINE_S = 10.0


@pytest.fixture(name="hotline_config")
def short_top_config(hotline_config):
    """The shipped config with assist on and a short sustained top, for these tests only."""
    assist = dataclasses.replace(
        hotline_config.assist, enabled=True, sustained_top_s=SUSTAINED_TOP_S
    )
    return dataclasses.replace(hotline_config, assist=assist)


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Serve the app on a free local port in a thread; gives its host and port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def served(app) -> Iterator[str]:
    """The test app (the tests' Redis) on a real port."""
    with serve(app) as host:
        yield host


def stream_url(host: str) -> str:
    """The stream's URL as the app gives it to Twilio when it sees requests on `host`."""
    return f"ws://{host}{live_audio.PATH}"


def connect(url: str, signed_url: str | None = None, token: str = DEMO_AUTH_TOKEN) -> Client:
    """Open the stream as Twilio does: the handshake signed over the URL (or another one)."""
    signature = sign(token, signed_url or url, {})
    return Client.connect(url, headers={SIGNATURE_HEADER: signature})


def hang_up(ws: Client) -> None:
    """Close the client's side; the app may have closed first on `stop`, as Twilio's may."""
    with contextlib.suppress(ConnectionClosed, OSError):
        ws.close()


def voice(name: str) -> bytes:
    """A committed stand-in voice (carrier/voices/) as mu-law."""
    return read_voice(VOICES / f"{name}.wav")


def shouting() -> bytes:
    """Eight seconds the thermometer itself reads at level 5 in every window: the agitated
    voice, else a louder, faster synthetic one (chosen by the thermometer, so the test follows
    its calibration rather than guessing it)."""
    eight_s = 8 * 8000
    candidates = [voice("agitated_zh")] + [
        mulaw_encode(synthetic_voice(8, pitch, rate, -3, 8))
        for pitch, rate in ((320, 10), (380, 12), (300, 8))
    ]
    for audio in candidates:
        readings = Thermometer(window_s=2).feed(audio[:eight_s])
        if len(readings) == 4 and all(r.level == 5 for r in readings):
            return audio[:eight_s]
    pytest.fail("no voice reaches the thermometer's top level")


def talk(ws: Client, audio: bytes, *, res: str = "", call_sid: str = LEG, stop: bool = True):
    """Send Twilio's messages for a stream of `audio` (and its stop, unless told not to)."""
    stream_sid = "MZ" + call_sid[2:]
    ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    ws.send(json.dumps(start_message(call_sid, stream_sid, {"res": res} if res else {})))
    send_media(ws, audio, stream_sid)
    if stop:
        ws.send(json.dumps(stop_message(call_sid, stream_sid, 999999)))


def send_media(ws: Client, audio: bytes, stream_sid: str = "MZ" + LEG[2:]) -> None:
    """Send audio as 20 ms media messages."""
    for message in media_messages(audio, stream_sid):
        ws.send(json.dumps(message))


def wait_for(
    redis, call_sid: str, done: Callable[[list[LiveEvent]], bool], deadline_s: float = DEADLINE_S
) -> list[LiveEvent]:
    """The call's feed once `done` holds for it, blocking on the stream until a deadline."""
    seen: list[LiveEvent] = []
    deadline = time.monotonic() + deadline_s
    while not done(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"feed of {call_sid} still short: {[(e.kind, e.data) for e in seen]}"
        after = seen[-1].id if seen else "0"
        seen += live_assist.read(redis, call_sid, after, block_ms=max(1, int(left * 1000)))
    return seen


def ended(feed: list[LiveEvent]) -> bool:
    """The feed has its end."""
    return any(e.kind == "ended" for e in feed)


def levels(feed: list[LiveEvent]) -> list[dict]:
    """The level events' data, in order."""
    return [e.data for e in feed if e.kind == "level"]


def test_every_window_of_the_callers_voice_reaches_the_feed_then_its_end(served, redis) -> None:
    heard = {}
    for number, name in enumerate(("calm_zh", "agitated_zh")):
        call_sid = f"CA{number:032d}"
        audio = voice(name)
        ws = connect(stream_url(served))
        talk(ws, audio, call_sid=call_sid)
        feed = wait_for(redis, call_sid, ended)
        hang_up(ws)
        readings = levels(feed)
        windows = len(audio) // 16000
        # One reading per whole 2-s window, in audio time, each shaped as the desk reads it.
        assert [r["t"] for r in readings] == [2.0 * (i + 1) for i in range(windows)]
        for reading in readings:
            assert 1 <= reading["level"] <= 5
            assert {"loudness_db", "rate", "pitch_hz", "pitch_var", "pauses"} <= set(reading)
        assert feed[-1].kind == "ended" and feed[-1].data["at"] > 0
        heard[name] = [r["level"] for r in readings if not r.get("silent")]
    # The same plumbing tells a calm caller from an agitated one.
    assert max(heard["agitated_zh"]) > max(heard["calm_zh"])
    assert max(heard["agitated_zh"]) >= 4


def handshake(host: str, signature: str | None) -> int:
    """The status of a WebSocket handshake on the stream's path with this signature (or none)."""
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
        "Sec-WebSocket-Version": "13",
    }
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    connection = http.client.HTTPConnection(host, timeout=DEADLINE_S)
    try:
        connection.request("GET", live_audio.PATH, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_handshake_twilio_did_not_sign_is_refused_before_the_upgrade(served, caplog) -> None:
    refused = live_audio.STREAMS.labels("refused")
    before = refused._value.get()
    url = stream_url(served)
    caplog.set_level(logging.WARNING, logger=live_audio.__name__)
    assert handshake(served, sign("not-the-auth-token", url, {})) == 403
    elsewhere = "wss://elsewhere.example.org" + live_audio.PATH
    assert handshake(served, sign(DEMO_AUTH_TOKEN, elsewhere, {})) == 403
    assert handshake(served, None) == 403
    assert refused._value.get() == before + 3
    assert sum("refused live audio stream" in r.getMessage() for r in caplog.records) == 3
    # The same client, signed as Twilio signs, is let in.
    hang_up(connect(url))


def test_behind_a_tls_edge_the_signature_is_over_the_public_wss_url(
    app_env, redis, redis_url, clock, hotline_config
) -> None:
    app_env.setenv("REDIS_URL", redis_url)
    app_env.setenv("PUBLIC_BASE_URL", "https://hotline.example.org")
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    with serve(app) as host:
        local = stream_url(host)
        assert handshake(host, sign(DEMO_AUTH_TOKEN, local, {})) == 403
        ws = connect(local, signed_url="wss://hotline.example.org" + live_audio.PATH)
        talk(ws, voice("calm_en")[:16000])
        assert levels(wait_for(redis, LEG, ended))
        hang_up(ws)


def test_a_sustained_top_level_is_a_quiet_notice_on_the_wallboard_until_the_call_ends(
    app, served, hotline, redis
) -> None:
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring("CA" + "1" * 32, area="family")
    ws = connect(stream_url(served))
    # The leg streaming is not the reservation's call (as a called-back caller's is not): the
    # feed the desk reads is the reservation's.
    talk(ws, shouting(), res=match.reservation_id, stop=False)
    feed = wait_for(redis, match.call_sid, lambda f: any(e.kind == "notice" for e in f))
    assert [r["level"] for r in levels(feed)][:2] == [5, 5]
    notice = next(e for e in feed if e.kind == "notice")
    assert notice.data == {"kind": "sustained_top", "since": pytest.approx(hotline.now - 2)}
    assert live_assist.read(redis, LEG) == []
    supervisor = sign_in(app, "sam")
    board = supervisor.get("/api/v1/wallboard").json
    assert [(n["call_sid"], n["kind"], n["agent"], n["area"]) for n in board["notices"]] == [
        (match.call_sid, "sustained_top", "d1", "family")
    ]
    assert board["notices"][0]["label"]["en"].startswith("Caller at the thermometer's top")
    page = supervisor.get("/ops/wallboard").get_data(as_text=True)
    assert f'data-call="{match.call_sid}"' in page
    # Told once: the next top windows add levels, not notices; nobody is paged.
    send_media(ws, shouting())
    feed = wait_for(redis, match.call_sid, lambda f: len(levels(f)) >= 8)
    assert sum(e.kind == "notice" for e in feed) == 1
    ws.send(json.dumps(stop_message(LEG, "MZ" + LEG[2:], 99999)))
    wait_for(redis, match.call_sid, ended)
    hang_up(ws)
    assert supervisor.get("/api/v1/wallboard").json["notices"] == []
    kinds = [e["kind"] for e in reversed(events.recent(redis, 50))]
    assert kinds.count("notice") == 1 and kinds.count("notice-cleared") == 1
    assert "alert" not in kinds


def test_a_calm_caller_raises_no_notice(served, redis) -> None:
    ws = connect(stream_url(served))
    talk(ws, voice("calm_zh"))
    feed = wait_for(redis, LEG, ended)
    hang_up(ws)
    assert "notice" not in [e.kind for e in feed]


def test_redis_going_away_mid_call_drops_readings_and_the_stream_goes_on(
    app_env, clock, hotline_config, tmp_path: Path, caplog
) -> None:
    own = EmbeddedRedis(tmp_path / "redis")
    url = own.start()
    try:
        app_env.setenv("REDIS_URL", url)
        app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
        audio = voice("calm_en")[:32000]
        dropped = live_audio.READINGS_DROPPED
        caplog.set_level(logging.WARNING, logger=live_audio.__name__)
        with serve(app) as host, redis_lib.Redis.from_url(url) as reader:
            ws = connect(stream_url(host))
            talk(ws, audio, stop=False)
            wait_for(reader, LEG, lambda f: len(levels(f)) == 2)
            own.stop()
            before = dropped._value.get()
            # Two windows while Redis is away: both readings dropped, the stream still read.
            send_media(ws, audio)
            poll(lambda: dropped._value.get() >= before + 2, DEADLINE_S, "readings dropped")
            own.start()
            send_media(ws, audio)
            ws.send(json.dumps(stop_message(LEG, "MZ" + LEG[2:], 99999)))
            with redis_lib.Redis.from_url(url) as again:
                feed = wait_for(again, LEG, ended)
            hang_up(ws)
        # The outage's readings are gone; the ones after it came from the same stream.
        assert [r["t"] for r in levels(feed)] == [2.0, 4.0, 10.0, 12.0]
        messages = [r.getMessage() for r in caplog.records]
        assert any("Redis unreachable, events dropped" in m for m in messages)
        assert any("Redis answers again; 2 events dropped" in m for m in messages)
    finally:
        own.stop()


def test_the_callers_first_way_in_starts_the_stream_and_a_rejoin_does_not(
    app, hotline, twilio
) -> None:
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(LEG, area="family", language="zh")
    rid = match.reservation_id
    twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": AGENT_LEG, "Digits": "1"})
    first = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": LEG}))
    # The stream and the transcription start before the caller is dialled into the conference.
    assert first.verbs()[0] == "Start" and first.verbs()[-1] == "Dial"
    stream = first.first("Stream")
    assert (stream.get("url"), stream.get("track")) == (
        "ws://localhost/voice/assist/stream",
        "inbound_track",
    )
    assert [(p.get("name"), p.get("value")) for p in stream.findall("Parameter")] == [("res", rid)]
    transcription = first.first("Transcription")
    assert transcription.get("statusCallbackUrl") == (
        f"http://localhost/voice/assist/transcript?res={rid}"
    )
    assert (transcription.get("languageCode"), transcription.get("track")) == (
        "zh-CN",
        "both_tracks",
    )
    assert first.first("Conference").text == rid
    # The same leg back into the conference (a transfer, the agent's menu) streams already.
    again = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": LEG}))
    assert again.all("Start") == [] and again.first("Conference").text == rid


def test_no_stream_when_live_assist_is_off(app, hotline, twilio) -> None:
    config = app.config["HOTLINE"]
    off = dataclasses.replace(config.assist, enabled=False)
    app.config["HOTLINE"] = dataclasses.replace(config, assist=off)
    hotline.board.set_presence("d1", "available", hotline.now)
    rid = hotline.ring(LEG, area="family").reservation_id
    twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": AGENT_LEG, "Digits": "1"})
    joined = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": LEG}))
    assert joined.all("Start") == [] and joined.first("Conference").text == rid


def test_a_notice_its_call_stopped_keeping_fresh_leaves_the_board(redis) -> None:
    board = Notices(redis)
    assert board.raise_notice("CA1", "sustained_top", 1000.0, now=1002.0, agent="d1")
    assert not board.raise_notice("CA1", "sustained_top", 1010.0, now=1012.0)
    assert [n.since for n in board.active(1050.0)] == [1000.0]
    assert board.keep("CA1", "sustained_top", 1060.0)
    assert [n.agent for n in board.active(1110.0)] == ["d1"]
    # A minute without the stream's word: its web process is gone, and so is the notice.
    assert board.active(1060.0 + notices.STALE_AFTER_S + 1) == []
    assert not board.keep("CA1", "sustained_top", 1200.0)
    assert board.clear_call("CA1", 1200.0) == 0


@pytest.mark.parametrize(
    ("windows", "told"),
    [
        # Six seconds of level 5 with a breath between: told.
        (["5", "5", "silent", "5"], True),
        # A calmer window in between starts the count again.
        (["5", "5", "4", "5", "5"], False),
        # Six seconds of silence end the run too.
        (["5", "silent", "silent", "silent", "5", "5"], False),
        (["5", "silent", "silent", "silent", "5", "5", "5"], True),
    ],
)
def test_what_counts_as_the_top_level_held(redis, hotline_config, windows, told) -> None:
    assist = dataclasses.replace(hotline_config.assist, window_s=2, sustained_top_s=6)
    audio = live_audio.CallerAudio(redis, assist, now=lambda: 5000.0)
    audio.call_sid = LEG
    for window in windows:
        silent = window == "silent"
        audio._watch_top({"level": 5 if silent else int(window), "silent": silent})
    assert [e.kind for e in live_assist.read(redis, LEG)] == (["notice"] if told else [])
    assert bool(Notices(redis).active(5000.0)) is told
