"""Media Streams: a call's audio carried to the app over a WebSocket, framed as Twilio frames it.

`<Start><Stream url track name>` opens a WebSocket to the url, signed on the handshake as Twilio
signs one (X-Twilio-Signature over the ws/wss URL, no parameters), and sends `connected`,
`start` (with the `<Parameter>`s as customParameters), a `media` frame for every 20 ms of call
time (160 bytes of 8 kHz mu-law, base64) and `stop` when the call ends or `<Stop><Stream>` asks.
The inbound track is what the leg's party says: each talk line with an `audio` voice plays from
the moment it is said, with silence (0xFF) between, as Twilio streams without pause; the
outbound track is the lines the party hears. Each stream sends from its own thread, paced by
the carrier's clock: it wakes every PACE_S real seconds and sends every frame due by then, so
an accelerated clock streams faster without waking more often. A refused or dropped WebSocket
is logged and noted in the call's transcript; the call goes on, as on Twilio.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import os
import socket as socket_module
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import simple_websocket
from twilio.request_validator import RequestValidator
from wsproto.events import AcceptConnection, RejectConnection, Request

from carrier import audio
from carrier.clock import Clock
from carrier.network import Call, new_sid
from carrier.transcript import Transcript
from carrier.webhook import SIGNATURE_HEADER, Webhooks

log = logging.getLogger("carrier.streams")

# One media frame: 20 ms of 8 kHz mu-law, one byte a sample.
FRAME_S = 0.02
FRAME_BYTES = 160
SILENCE_BYTE = 0xFF
# Real seconds between a stream's wake-ups; each sends every frame due by then (two frames a
# wake-up in real time: 40 ms more latency at most, half the wake-ups of one a frame).
PACE_S = 0.04
# A server that accepts the TCP connection but never answers the upgrade is given up on.
HANDSHAKE_TIMEOUT_S = 10.0
VOICES = Path(__file__).parent / "voices"
# The tracks a <Stream track> asks for, as the start message and media frames name them.
TRACKS = {
    "inbound_track": ("inbound",),
    "outbound_track": ("outbound",),
    "both_tracks": ("inbound", "outbound"),
}
_SILENCE_PAYLOAD = base64.b64encode(bytes([SILENCE_BYTE]) * FRAME_BYTES).decode("ascii")


def voice_path(voice: str) -> Path:
    """Return the WAV file of a voice: an absolute path as given, else carrier/voices/NAME.wav."""
    path = Path(voice)
    return path if path.is_absolute() else VOICES / f"{voice}.wav"


@functools.lru_cache(maxsize=32)
def voice_pcm(voice: str) -> bytes:
    """Return a voice's audio as 8 kHz mono 16-bit PCM (read once per file and kept)."""
    return audio.load_wav(voice_path(voice))


@functools.lru_cache(maxsize=32)
def voice_mulaw(voice: str) -> bytes:
    """Return a voice's audio as 8 kHz mu-law, the encoding Twilio streams."""
    return mulaw(voice_pcm(voice))


def _mulaw_byte(sample: int) -> int:
    """Encode one 16-bit sample as G.711 mu-law."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
    exponent = (magnitude >> 7).bit_length() - 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


# Every 16-bit sample's mu-law byte, indexed by the sample's two bytes as an unsigned number.
_MULAW = bytes(_mulaw_byte(value - 65536 if value > 32767 else value) for value in range(65536))


def mulaw(pcm: bytes) -> bytes:
    """Encode 16-bit little-endian PCM as mu-law."""
    table = _MULAW
    return bytes(table[pcm[i] | (pcm[i + 1] << 8)] for i in range(0, len(pcm) - 1, 2))


class Track:
    """The audio of one direction: clips played one after another from when each was said."""

    def __init__(self) -> None:
        self.clips: deque[tuple[int, bytes]] = deque()
        # The first frame after the last clip: a clip said meanwhile waits for the one playing.
        self.free_from = 0

    def add(self, frame: int, sound: bytes) -> None:
        """Play mu-law audio from a frame on (or once what plays before it has ended)."""
        start = max(frame, self.free_from)
        self.clips.append((start, sound))
        self.free_from = start + -(-len(sound) // FRAME_BYTES)

    def frame(self, index: int) -> bytes | None:
        """Return the 160 bytes of one frame, or None for silence."""
        while self.clips and self.clips[0][0] * FRAME_BYTES + len(self.clips[0][1]) <= (
            index * FRAME_BYTES
        ):
            self.clips.popleft()
        if not self.clips or self.clips[0][0] > index:
            return None
        start, sound = self.clips[0]
        offset = (index - start) * FRAME_BYTES
        chunk = sound[offset : offset + FRAME_BYTES]
        return chunk + bytes([SILENCE_BYTE]) * (FRAME_BYTES - len(chunk))


@dataclass
class Stream:
    """One media stream of a call: where it goes, what it carries, and how far it has got."""

    sid: str
    call_sid: str
    account_sid: str
    name: str | None
    url: str
    track: str
    parameters: dict[str, str]
    started_v: float
    transcript: Transcript
    status_callback: str | None = None
    status_method: str = "POST"
    tracks: dict[str, Track] = field(default_factory=dict)
    # The next frame to send; frames before it are on their way to the app.
    sent: int = 0
    stopping: bool = False
    socket: simple_websocket.Client | None = None

    def frame_at(self, at: float) -> int:
        """Return the frame that plays at a virtual time."""
        return max(round((at - self.started_v) / FRAME_S), 0)


class Streams:
    """The live media streams of every call, each sending from its own thread."""

    def __init__(self, clock: Clock, webhooks: Webhooks):
        self.clock = clock
        self.webhooks = webhooks
        self.cond = threading.Condition()
        self.live: dict[str, list[Stream]] = {}
        self._threads: list[threading.Thread] = []

    def start(
        self,
        call: Call,
        *,
        url: str,
        name: str | None,
        track: str,
        parameters: dict[str, str],
        status_callback: str | None = None,
        status_method: str = "POST",
        voices: tuple[str, ...] = (),
    ) -> Stream:
        """Start streaming a call's audio to a WebSocket URL (non-blocking, as <Start> is);
        `voices`, those the party may speak in, are read before the stream connects, so the
        first line is not late while its file is read."""
        stream = Stream(
            sid=new_sid("MZ"),
            call_sid=call.sid,
            account_sid=call.account_sid,
            name=name,
            url=websocket_url(url),
            track=track,
            parameters=parameters,
            started_v=self.clock.now(),
            transcript=call.transcript,
            status_callback=status_callback,
            status_method=status_method,
            tracks={side: Track() for side in TRACKS[track]},
        )
        with self.cond:
            self.live.setdefault(call.sid, []).append(stream)
            self._threads = [alive for alive in self._threads if alive.is_alive()]
            thread = threading.Thread(
                target=self._run,
                args=(stream, voices),
                name=f"stream-{stream.sid[-6:]}",
                daemon=True,
            )
            self._threads.append(thread)
        stream.transcript.add(
            stream.started_v,
            "stream",
            action="started",
            sid=stream.sid,
            name=name,
            track=track,
            path=urlsplit(stream.url).path,
        )
        thread.start()
        return stream

    def said(self, call_sid: str, voice: str | None, at: float) -> None:
        """Play a voice on the inbound track of a call's streams: its party said a line."""
        self._play(call_sid, "inbound", voice, at)

    def heard(self, call_sid: str, voice: str | None, at: float) -> None:
        """Play a voice on the outbound track of a call's streams: its party heard a line."""
        self._play(call_sid, "outbound", voice, at)

    def _play(self, call_sid: str, side: str, voice: str | None, at: float) -> None:
        """Add a voice to one track of every live stream of a call that carries it."""
        if voice is None:
            return
        with self.cond:
            streams = [s for s in self.live.get(call_sid, ()) if side in s.tracks]
        if not streams:
            return
        try:
            sound = voice_mulaw(voice)
        except (OSError, EOFError, ValueError) as error:
            log.warning("voice %s cannot be played: %s", voice, error)
            return
        with self.cond:
            for stream in streams:
                track = stream.tracks[side]
                track.free_from = max(track.free_from, stream.sent)
                track.add(stream.frame_at(at), sound)

    def stop(self, call_sid: str, name: str | None = None) -> int:
        """Stop a call's stream by name (None: every stream of the call); return how many."""
        with self.cond:
            streams = [
                s
                for s in self.live.get(call_sid, ())
                if not s.stopping and (name is None or s.name == name)
            ]
            for stream in streams:
                stream.stopping = True
            self.cond.notify_all()
        return len(streams)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every stream and give them `timeout` seconds in all to send their stop message;
        then cut the sockets of those still stuck writing to an app that stopped reading."""
        with self.cond:
            streams = [stream for live in self.live.values() for stream in live]
            for stream in streams:
                stream.stopping = True
            self.cond.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        for stream in streams:
            if stream.socket is not None:
                with contextlib.suppress(OSError):
                    stream.socket.sock.shutdown(socket_module.SHUT_RDWR)

    # -- one stream's thread ------------------------------------------------------------------

    def _run(self, stream: Stream, voices: tuple[str, ...]) -> None:
        """Connect, send the stream's messages until it stops, then say goodbye."""
        for voice in voices:
            # A voice that cannot be read is reported when its line is said.
            with contextlib.suppress(OSError, EOFError, ValueError):
                voice_mulaw(voice)
        try:
            socket = self._connect(stream)
        except (OSError, simple_websocket.ConnectionError) as error:
            self._failed(stream, "refused", error)
            self._forget(stream)
            return
        stream.socket = socket
        try:
            self._send_all(stream, socket)
        except (OSError, simple_websocket.ConnectionClosed) as error:
            self._failed(stream, "dropped", error)
        finally:
            self._forget(stream)
            # A socket the app already closed has nothing left to say.
            with contextlib.suppress(OSError, simple_websocket.ConnectionClosed):
                socket.close()

    def _connect(self, stream: Stream) -> simple_websocket.Client:
        """Open the WebSocket with Twilio's signature over the URL and no parameters."""
        token = self.webhooks.auth_token
        signature = RequestValidator(token).compute_signature(stream.url, {})
        return _TwilioSide.connect(
            stream.url,
            headers={SIGNATURE_HEADER: signature, "User-Agent": "Twilio.TmeWs/1.0 (carrier)"},
        )

    def _send_all(self, stream: Stream, socket: simple_websocket.Client) -> None:
        """Send connected and start, the media frames as they fall due, then stop."""
        socket.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        socket.send(json.dumps(start_message(stream)))
        self._status(stream, "stream-started")
        sequence = 1
        while True:
            with self.cond:
                if not stream.stopping:
                    self.cond.wait(PACE_S)
                stopping = stream.stopping
                due = int((self.clock.now() - stream.started_v) / FRAME_S)
                frames = [
                    (index, side, track.frame(index))
                    for index in range(stream.sent, due)
                    for side, track in stream.tracks.items()
                ]
                stream.sent = max(stream.sent, due)
            batch = []
            for index, side, chunk in frames:
                sequence += 1
                batch.append(text_frame(_media(stream.sid, sequence, side, index, chunk)))
            if batch:
                if not socket.connected:
                    # The app closed the stream (its reader thread saw the close frame).
                    raise simple_websocket.ConnectionClosed(socket.close_reason)
                socket.sock.sendall(b"".join(batch))
            if stopping:
                break
        sequence += 1
        socket.send(
            json.dumps(
                {
                    "event": "stop",
                    "sequenceNumber": str(sequence),
                    "stop": {"accountSid": stream.account_sid, "callSid": stream.call_sid},
                    "streamSid": stream.sid,
                }
            )
        )
        stream.transcript.add(
            self.clock.now(), "stream", action="stopped", name=stream.name, frames=stream.sent
        )
        self._status(stream, "stream-stopped")

    def _failed(self, stream: Stream, how: str, error: BaseException) -> None:
        """Note a WebSocket the app refused or dropped; the call goes on without it."""
        reason = f"{type(error).__name__}: {error}".strip(": ")
        log.warning("stream %s of call %s %s: %s", stream.sid, stream.call_sid, how, reason)
        stream.transcript.add(
            self.clock.now(), "stream", action=how, name=stream.name, reason=reason
        )
        self._status(stream, "stream-error", error=reason)

    def _status(self, stream: Stream, event: str, *, error: str | None = None) -> None:
        """Send the stream's status callback for one event when the <Stream> asked for it."""
        if not stream.status_callback:
            return
        params = {
            "AccountSid": stream.account_sid,
            "CallSid": stream.call_sid,
            "StreamSid": stream.sid,
            "StreamName": stream.name or stream.sid,
            "StreamEvent": event,
            "Timestamp": self.clock.utcnow().isoformat().replace("+00:00", "Z"),
        }
        if error is not None:
            params["StreamError"] = error
        self.webhooks.request(
            stream.status_method,
            stream.status_callback,
            params,
            transcript=stream.transcript,
            purpose="stream",
        )

    def _forget(self, stream: Stream) -> None:
        """Drop a finished stream from its call's live streams."""
        with self.cond:
            streams = self.live.get(stream.call_sid, [])
            if stream in streams:
                streams.remove(stream)
            if not streams:
                self.live.pop(stream.call_sid, None)


def start_message(stream: Stream) -> dict[str, Any]:
    """Return Twilio's start message: who is calling, the tracks, the format and parameters."""
    return {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": stream.account_sid,
            "streamSid": stream.sid,
            "callSid": stream.call_sid,
            "tracks": list(TRACKS[stream.track]),
            "customParameters": dict(stream.parameters),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": stream.sid,
    }


def _media(stream_sid: str, sequence: int, side: str, index: int, chunk: bytes | None) -> str:
    """Return one media message (written out by hand: fifty streams send thousands a second)."""
    payload = _SILENCE_PAYLOAD if chunk is None else base64.b64encode(chunk).decode("ascii")
    return (
        f'{{"event":"media","sequenceNumber":"{sequence}","media":{{"track":"{side}",'
        f'"chunk":"{index + 1}","timestamp":"{index * 20}","payload":"{payload}"}},'
        f'"streamSid":"{stream_sid}"}}'
    )


def text_frame(text: str) -> bytes:
    """Return one masked WebSocket text frame as a client sends it (RFC 6455, 5.2).

    Media frames are framed here rather than by wsproto, five times faster, and a wake-up's
    frames go out in one write: fifty streams send 2,500 of them a second.
    """
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, 0x80 | size))
    elif size < 65536:
        header = bytes((0x81, 0xFE)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0xFF)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    mask = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")
    return header + key + masked.to_bytes(size, "big")


def websocket_url(url: str) -> str:
    """Return the WebSocket URL for a stream's url: ws/wss as given, http/https mapped to them."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, *parts[1:]))


class _TwilioSide(simple_websocket.Client):
    """simple-websocket's client, with the port in the Host header (the app rebuilds the signed
    URL from it), a timeout on the upgrade, and an error when the server hangs up unanswered."""

    def handshake(self) -> None:
        """Send the upgrade request and read the server's answer (closing the socket when the
        server refuses: simple-websocket leaves that to the caller, who never gets it)."""
        try:
            self._upgrade()
        except BaseException:
            self.sock.close()
            raise

    def _upgrade(self) -> None:
        """Ask for the upgrade with the signature's headers; raise unless the server accepts."""
        self.sock.settimeout(HANDSHAKE_TIMEOUT_S)
        default_port = 443 if isinstance(self.sock, ssl.SSLSocket) else 80
        host = self.host if self.port == default_port else f"{self.host}:{self.port}"
        request = Request(
            host=host,
            target=self.path,
            subprotocols=self.subprotocols,
            extra_headers=self.extra_headeers,
        )
        self.sock.send(self.ws.send(request))
        event = None
        while event is None:
            data = self.sock.recv(self.receive_bytes)
            if not data:
                raise simple_websocket.ConnectionError(None)
            self.ws.receive_data(data)
            event = next(iter(self.ws.events()), None)
        if isinstance(event, RejectConnection):
            raise simple_websocket.ConnectionError(event.status_code)
        if not isinstance(event, AcceptConnection):
            raise simple_websocket.ConnectionError(400)
        self.subprotocol = event.subprotocol
        self.sock.settimeout(None)
        self.connected = True
