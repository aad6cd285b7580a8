"""The caller's live audio: Twilio Media Streams over a WebSocket served by the app itself.

When a caller is bridged to an agent, their leg's `<Start><Stream>` (`ivr/agents/bridge.py`)
opens `wss://<app>/voice/assist/stream` and sends JSON text frames: `connected`, `start` (the
call and the reservation, in customParameters), a `media` frame every 20 ms (160 bytes of 8 kHz
mu-law, base64) and `stop`. Each frame goes into the caller's emotion thermometer
(`routing.thermometer`); each reading it completes (one per window, 2 s) is published on the
call's assist feed (`queues.live_assist`) as a `level` event that the agent's desk shows. Level 5
held for `config.assist.sustained_top_s` publishes a `notice` event and puts a quiet notice on
the supervisors' wallboard (`queues.notices`), taken off when the call's audio ends (`ended`).

The WebSocket is flask-sock's, on gunicorn's gthread worker: one of the worker's threads per
open stream (and simple-websocket's reader thread beside it), in the same app with the same
settings and runtime as the webhooks (docs/live-assist.md, "Audio stream"). Its handshake is
signed as a webhook is: X-Twilio-Signature over the wss URL Twilio was given, with no form;
a forged or unsigned one is refused with a 403 before the upgrade, logged and counted.

Redis is best effort here as in every webhook: a reading that cannot be published is dropped
(logged when the outage starts and when it ends), and the stream goes on. Anything else that
goes wrong is logged with its traceback and ends the stream, never silently.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, request
from flask_sock import Sock
from prometheus_client import Counter
from redis import Redis, RedisError
from simple_websocket import ConnectionClosed

from queues import live_assist, runtime
from queues.notices import Notices
from queues.reservations import Reservation
from routing.config import Assist
from routing.thermometer import Thermometer
from telephony.signature import SIGNATURE_HEADER, is_valid

log = logging.getLogger(__name__)

PATH = "/voice/assist/stream"
# Twilio's frames are a few hundred bytes (a 20 ms media frame is about 330): anything near
# this is not Twilio, and is refused by the WebSocket layer before it is read whole.
MAX_MESSAGE_BYTES = 64 * 1024
# Twilio sends a frame every 20 ms for the whole call, silence included: this long without
# one means the connection is dead without having said so, and the stream is ended.
IDLE_S = 30.0
# The level whose long hold tells the supervisors.
TOP_LEVEL = 5
# Silence longer than this ends a run of top-level speech (a breath or a short pause does not).
MAX_QUIET_S = 4.0
# Longest call SID and reservation id taken from a start message.
MAX_ID = 64

STREAMS = Counter(
    "hotline_assist_streams",
    "Live audio streams of bridged callers, by how their handshake or end went.",
    ["outcome"],
)
READINGS_DROPPED = Counter(
    "hotline_assist_readings_dropped",
    "Thermometer readings not published because Redis was unreachable.",
)

bp = Blueprint("live_audio", __name__)
sock = Sock()


def websocket_base(base_url: str) -> str:
    """The app's base URL with the WebSocket scheme: https becomes wss, http ws."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme))


def stream_url(base_url: str) -> str:
    """The stream's address Twilio is given (and signs): the app's URL as ws/wss + PATH."""
    return websocket_base(base_url) + PATH


def _handshake_urls() -> list[str]:
    """The URLs Twilio may have signed for this handshake: behind a TLS edge, PUBLIC_BASE_URL's;
    else the one this process sees (the base a bridge gave Twilio in the TwiML), and, when the
    client's Host header names no port (simple-websocket's client sends none), the same with
    the port the connection came to."""
    settings = current_app.config["SETTINGS"]
    if settings.public_base_url:
        return [stream_url(settings.public_base_url)]
    seen = stream_url(request.host_url)
    port = str(request.environ.get("SERVER_PORT", ""))
    if ":" in request.host or not port.isdigit():
        return [seen]
    return [seen, stream_url(f"{request.scheme}://{request.host}:{port}")]


@bp.before_request
def _require_signature() -> None:
    """Refuse a handshake Twilio did not sign (403 before the upgrade), logged and counted."""
    settings = current_app.config["SETTINGS"]
    signature = request.headers.get(SIGNATURE_HEADER)
    if not any(is_valid(settings.auth_token, url, {}, signature) for url in _handshake_urls()):
        STREAMS.labels("refused").inc()
        log.warning(
            "refused live audio stream from %s: %s signature",
            request.remote_addr,
            "wrong" if signature else "no",
        )
        abort(403)


@sock.route(PATH, bp=bp)
def stream(ws: Any) -> None:
    """One caller's audio stream, for as long as the call lasts; runs on its own thread."""
    STREAMS.labels("accepted").inc()
    audio: CallerAudio | None = None
    try:
        rt = runtime.serving()
        audio = CallerAudio(
            rt.redis, rt.config.assist, now=rt.now, reservation_of=rt.routing.reservations.get
        )
        audio.run(ws)
    except Exception:
        # The thread ends with the stream: say why, then tell the desk the audio is over.
        call_sid = audio.call_sid if audio is not None else ""
        log.exception("live audio stream of call %s failed", call_sid or "unknown")
        STREAMS.labels("failed").inc()
        if audio is not None:
            audio.end()


def init_app(app: Any) -> None:
    """Register the stream's blueprint, with frame sizes capped for the WebSocket layer."""
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MAX_MESSAGE_BYTES})
    app.register_blueprint(bp)


@dataclass
class _TopHold:
    """The caller's run of top-level speech: how long, since when, and whether it was told."""

    held_s: float = 0.0
    started_at: float = 0.0
    quiet_s: float = 0.0
    told: bool = False


class CallerAudio:
    """One stream's state: its call, its thermometer, the top level's hold and Redis's health."""

    def __init__(
        self,
        redis: Redis,
        assist: Assist,
        *,
        now: Callable[[], float] = time.time,
        reservation_of: Callable[[str], Reservation | None] = lambda rid: None,
    ):
        self.redis = redis
        self.assist = assist
        self.now = now
        self.reservation_of = reservation_of
        self.call_sid = ""
        self.reservation = ""
        self.agent = ""
        self.area = ""
        self.thermometer: Thermometer | None = None
        self.top = _TopHold()
        self.ended = False
        # Readings dropped while Redis is unreachable, logged when it answers again.
        self.dropped = 0

    def run(self, ws: Any) -> None:
        """Read Twilio's frames until `stop`, the socket's close, or silence past IDLE_S."""
        try:
            while not self.ended:
                raw = ws.receive(timeout=IDLE_S)
                if raw is None:
                    log.warning("live audio of call %s: no frame for %.0f s", self.call_sid, IDLE_S)
                    break
                self.handle(raw)
        except ConnectionClosed:
            pass
        self.end()

    def handle(self, raw: str | bytes) -> None:
        """Act on one frame: start, media or stop; anything unreadable is logged and skipped."""
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            log.warning("live audio of call %s: an unreadable frame skipped", self.call_sid)
            return
        event = message.get("event")
        if event == "start":
            self.start(_mapping(message.get("start")))
        elif event == "media":
            self.media(_mapping(message.get("media")).get("payload"))
        elif event == "stop":
            self.end()

    def start(self, start: dict[str, Any]) -> None:
        """The stream's call and reservation: the feed is the reservation's caller's call."""
        if self.thermometer is not None:
            return  # Twilio starts a stream once: a second start is not Twilio's.
        parameters = _mapping(start.get("customParameters"))
        self.reservation = str(parameters.get("res", ""))[:MAX_ID]
        self.call_sid = str(start.get("callSid", ""))[:MAX_ID]
        self.thermometer = Thermometer(
            window_s=self.assist.window_s, baseline_s=self.assist.baseline_s
        )
        try:
            offer = self.reservation_of(self.reservation) if self.reservation else None
        except RedisError as error:
            log.warning(
                "live audio: reservation %s unreadable: %s", self.reservation, type(error).__name__
            )
            offer = None
        if offer is not None:
            # A called-back caller's leg is not the call the reservation (and the desk) names.
            self.call_sid = offer.call_sid or self.call_sid
            self.agent, self.area = offer.agent_id, offer.area
        log.info("live audio of call %s started (reservation %s)", self.call_sid, self.reservation)

    def media(self, payload: object) -> None:
        """Feed 20 ms of mu-law to the thermometer and publish every reading it completes."""
        if self.thermometer is None or not self.call_sid or not isinstance(payload, str):
            return
        try:
            frame = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            log.warning("live audio of call %s: a frame that is not base64 skipped", self.call_sid)
            return
        for reading in self.thermometer.feed(frame):
            event = reading.to_event()
            self.publish("level", event)
            self._watch_top(event)

    def _watch_top(self, event: dict[str, Any]) -> None:
        """Tell supervisors once when the caller's speech has stayed at level 5 for
        sustained_top_s: a quieter window ends the run, a short pause does not."""
        hold, window_s = self.top, float(self.assist.window_s)
        if hold.told:
            self._keep_notice()
        if event.get("silent"):
            # A silent window keeps the last level without hearing it: it does not count, and
            # a long silence ends the run.
            hold.quiet_s += window_s
            if hold.quiet_s > MAX_QUIET_S:
                hold.held_s = 0.0
            return
        hold.quiet_s = 0.0
        if int(event.get("level", 0)) < TOP_LEVEL:
            hold.held_s = 0.0
            return
        if not hold.held_s:
            # The reading covers the window just heard: the top began at its start.
            hold.started_at = self.now() - window_s
        hold.held_s += window_s
        if hold.told or hold.held_s < self.assist.sustained_top_s:
            return
        hold.told = True
        self.publish("notice", {"kind": "sustained_top", "since": round(hold.started_at, 3)})
        try:
            Notices(self.redis).raise_notice(
                self.call_sid,
                "sustained_top",
                hold.started_at,
                now=self.now(),
                agent=self.agent,
                area=self.area,
            )
        except RedisError as error:
            log.warning("notice of call %s not raised: %s", self.call_sid, type(error).__name__)

    def _keep_notice(self) -> None:
        """Tell the wallboard the call's notice still holds: the call goes on."""
        try:
            Notices(self.redis).keep(self.call_sid, "sustained_top", self.now())
        except RedisError as error:
            log.debug("notice of call %s not kept: %s", self.call_sid, type(error).__name__)

    def publish(self, kind: str, data: dict[str, Any]) -> bool:
        """Append an event to the call's feed; with Redis away it is dropped, and said so."""
        try:
            live_assist.publish(self.redis, self.call_sid, kind, data)
        except RedisError as error:
            READINGS_DROPPED.inc()
            if not self.dropped:
                log.warning(
                    "live audio of call %s: Redis unreachable, events dropped until it answers: %s",
                    self.call_sid,
                    type(error).__name__,
                )
            self.dropped += 1
            return False
        if self.dropped:
            log.warning(
                "live audio of call %s: Redis answers again; %d events dropped",
                self.call_sid,
                self.dropped,
            )
            self.dropped = 0
        return True

    def end(self) -> None:
        """The call's audio is over: `ended` on the feed and its notices off the wallboard."""
        if self.ended:
            return
        self.ended = True
        if not self.call_sid:
            return
        STREAMS.labels("ended").inc()
        now = self.now()
        self.publish("ended", {"at": round(now, 3)})
        try:
            Notices(self.redis).clear_call(self.call_sid, now)
        except RedisError as error:
            log.warning(
                "notices of call %s not cleared, Redis unreachable: %s", self.call_sid, error
            )
        log.info("live audio of call %s ended", self.call_sid)


def _mapping(value: object) -> dict[str, Any]:
    """A frame's object field, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}
