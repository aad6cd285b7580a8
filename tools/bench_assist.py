"""`hotline bench assist`: many callers' live audio streams at once, and how fast the desk hears.

The hotline runs under gunicorn with `hotline serve`'s settings (2 gthread workers of
HOTLINE_WEB_THREADS threads, the app preloaded) on an embedded Redis. A light generator (one
asyncio loop on raw sockets, one timer for every stream) opens N WebSockets to
`/voice/assist/stream`, each signed as Twilio signs it, and sends Twilio's frames paced in real
time: `connected`, `start`, then a 20 ms `media` frame every 20 ms taken from the stand-in's
voices (`carrier/voices/*.wav`, looped), then `stop`. The streams start spread over one window,
as calls do, not all on the same tick.

For each stream's 2-s window the latency is the time from the window's last frame leaving the
generator to its `level` event being read back from Redis (one thread blocked on XREAD over
every stream's feed): what the desk's own XREAD would see, less the desk's hop to the browser.
The web process's CPU (gunicorn's master and workers, from /proc/<pid>/stat) is measured over
the run and printed per stream per second of audio, beside the generator's own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import struct
import sys
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hotline.serve import WEB_WORKERS, web_settings, web_threads
from queues import keys
from queues.connection import redis_client
from telephony.signature import sign
from tools import REPO
from tools.bench_webhooks import (
    AUTH_TOKEN,
    Server,
    bench_home,
    hotline_env,
    percentile,
)

# The targets on the 2-core machine: 50 streams, the thermometer within 500 ms p99.
STREAMS_TARGET = 50
P99_TARGET_MS = 500.0
# Twilio's media frames: 20 ms of 8 kHz mu-law.
FRAME_BYTES = 160
FRAME_S = 0.02
WINDOW_S = 2
FRAMES_PER_WINDOW = int(WINDOW_S / FRAME_S)
VOICES = REPO / "carrier" / "voices"
STREAM_PATH = "/voice/assist/stream"
STARTUP_S = 60.0
# How long after the last frame a window's level may still arrive before it counts as lost.
LATE_S = 5.0


# ---------------------------------------------------------------------------- audio


def mulaw_encode(pcm: np.ndarray) -> bytes:
    """16-bit linear samples to G.711 mu-law bytes (as Twilio's media frames carry)."""
    x = np.clip(pcm.astype(np.int32), -32635, 32635)
    sign_bit = np.where(x < 0, 0x80, 0)
    magnitude = np.abs(x) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign_bit | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def read_voice(path: Path) -> bytes:
    """A voice file's audio as 8 kHz mu-law: a mu-law WAV as it is, a 16-bit PCM WAV encoded."""
    data = path.read_bytes()
    fmt, rate, width, channels, audio = _riff(data)
    if rate != 8000 or channels != 1:
        raise ValueError(f"{path.name}: {rate} Hz, {channels} channels; 8 kHz mono expected")
    if fmt == 7:
        return audio
    if fmt == 1 and width == 2:
        return mulaw_encode(np.frombuffer(audio, dtype="<i2"))
    raise ValueError(f"{path.name}: WAV format {fmt} ({width * 8}-bit) is not mu-law or PCM16")


def _riff(data: bytes) -> tuple[int, int, int, int, bytes]:
    """A WAV's format tag, rate, sample width, channels and data (mu-law WAVs included, which the
    wave module does not read)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    at, fmt, audio = 12, None, None
    while at + 8 <= len(data):
        name, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        body = data[at + 8 : at + 8 + size]
        if name == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif name == b"data":
            audio = body
        at += 8 + size + (size & 1)
    if fmt is None or audio is None:
        raise ValueError("a WAV without fmt or data")
    tag, channels, rate, _, _, bits = fmt
    return tag, rate, bits // 8, channels, audio


def write_pcm_wav(path: Path, pcm: np.ndarray) -> Path:
    """Write 16-bit 8 kHz mono samples as a WAV."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.clip(pcm, -32768, 32767).astype("<i2").tobytes())
    return path


def synthetic_voice(
    seconds: float, pitch_hz: float, syllables_per_s: float, level_dbfs: float, wobble: float
) -> np.ndarray:
    """A voice-like signal: a harmonic tone at a wandering pitch, in bursts at a syllable rate."""
    t = np.arange(int(seconds * 8000)) / 8000
    pitch = pitch_hz * 2 ** ((wobble / 12) * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / 8000
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    voiced = tone * np.clip(np.sin(np.pi * syllables_per_s * t), 0, None) ** 2
    return voiced / np.sqrt(np.mean(voiced**2)) * 10 ** (level_dbfs / 20) * 32768


def voices() -> dict[str, bytes]:
    """The stand-in's voices as mu-law; synthetic calm and agitated ones where none are there."""
    found = {path.stem: read_voice(path) for path in sorted(VOICES.glob("*.wav"))}
    if found:
        return found
    return {
        "synthetic_calm": mulaw_encode(synthetic_voice(10, 115, 2.5, -30, 0.5)),
        "synthetic_agitated": mulaw_encode(synthetic_voice(10, 300, 7, -6, 6)),
    }


# ---------------------------------------------------------------------------- Twilio's frames


def start_message(call_sid: str, stream_sid: str, parameters: dict[str, str]) -> dict:
    """Twilio's `start` message for an inbound-track stream of a call."""
    return {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC" + "b" * 32,
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": stream_sid,
    }


def media_messages(audio: bytes, stream_sid: str, first_sequence: int = 2) -> Iterator[dict]:
    """Twilio's `media` messages carrying audio in 20 ms chunks (the last one padded)."""
    for index, at in enumerate(range(0, len(audio), FRAME_BYTES)):
        chunk = audio[at : at + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
        yield {
            "event": "media",
            "sequenceNumber": str(first_sequence + index),
            "media": {
                "track": "inbound",
                "chunk": str(index + 1),
                "timestamp": str(index * 20),
                "payload": base64.b64encode(chunk).decode(),
            },
            "streamSid": stream_sid,
        }


def stop_message(call_sid: str, stream_sid: str, sequence: int) -> dict:
    """Twilio's `stop` message."""
    return {
        "event": "stop",
        "sequenceNumber": str(sequence),
        "stop": {"accountSid": "AC" + "b" * 32, "callSid": call_sid},
        "streamSid": stream_sid,
    }


def ws_text_frame(text: str) -> bytes:
    """One masked WebSocket text frame, as a client must send it (RFC 6455)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    mask = secrets.token_bytes(4)
    repeated = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big"
    )
    return header + mask + masked


# ---------------------------------------------------------------------------- the generator


@dataclass
class Stream:
    """One simulated caller's stream: its call, voice, frames sent and windows' send times."""

    index: int
    call_sid: str
    audio: bytes
    offset: int
    writer: asyncio.StreamWriter | None = None
    sent: int = 0
    # When the last frame of each window left the generator (monotonic), window 1 first.
    window_sent: list[float] = field(default_factory=list)
    error: str = ""


async def open_stream(host: str, port: int, stream: Stream) -> None:
    """Connect, shake hands as Twilio does (signed), and send `connected` and `start`."""
    url = f"ws://{host}:{port}{STREAM_PATH}"
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    writer.write(
        (
            f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"X-Twilio-Signature: {sign(AUTH_TOKEN, url, {})}\r\n\r\n"
        ).encode()
    )
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if b" 101 " not in status.split(b"\r\n", 1)[0]:
        raise ConnectionError(status.split(b"\r\n", 1)[0].decode(errors="replace"))
    stream.writer = writer
    # Whatever the server sends (a close at the end) is read and dropped.
    asyncio.get_running_loop().create_task(_drain(reader))
    stream_sid = "MZ" + stream.call_sid[2:]
    writer.write(ws_text_frame(json.dumps({"event": "connected", "protocol": "Call"})))
    writer.write(ws_text_frame(json.dumps(start_message(stream.call_sid, stream_sid, {}))))


async def _drain(reader: asyncio.StreamReader) -> None:
    """Read and drop what the server sends, until it closes."""
    while await reader.read(4096):
        pass


def send_frame(stream: Stream, now: float) -> None:
    """Send the stream's next 20 ms of its (looped) voice; note when a window's last goes."""
    at = (stream.sent * FRAME_BYTES) % len(stream.audio)
    chunk = stream.audio[at : at + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
    sequence, payload = stream.sent + 2, base64.b64encode(chunk).decode()
    # Written out rather than json.dumps: the generator builds 2,500 of these a second.
    text = (
        f'{{"event":"media","sequenceNumber":"{sequence}","media":{{"track":"inbound",'
        f'"chunk":"{stream.sent + 1}","timestamp":"{stream.sent * 20}","payload":"{payload}"}},'
        f'"streamSid":"MZ{stream.call_sid[2:]}"}}'
    )
    assert stream.writer is not None
    stream.writer.write(ws_text_frame(text))
    stream.sent += 1
    if stream.sent % FRAMES_PER_WINDOW == 0:
        stream.window_sent.append(now)


async def generate(host: str, port: int, streams: list[Stream], seconds: float) -> None:
    """Open every stream, then one timer sends each its frame every 20 ms for `seconds`."""
    opened = await asyncio.gather(
        *(open_stream(host, port, stream) for stream in streams), return_exceptions=True
    )
    for stream, outcome in zip(streams, opened, strict=True):
        if isinstance(outcome, BaseException):
            stream.error = f"handshake: {type(outcome).__name__}: {outcome}"
    live = [s for s in streams if not s.error]
    frames = int(seconds / FRAME_S)
    began = time.monotonic()
    tick = 0
    while any(s.sent < frames for s in live):
        tick += 1
        now = time.monotonic()
        for stream in live:
            # Stream i starts `offset` ticks late, so windows end spread over a window's time.
            if stream.offset < tick and stream.sent < frames and not stream.error:
                try:
                    send_frame(stream, now)
                except (ConnectionError, OSError) as error:
                    stream.error = f"send: {type(error).__name__}"
        await asyncio.sleep(max(0.0, began + tick * FRAME_S - time.monotonic()))
    for stream in live:
        if stream.writer is not None and not stream.error:
            call = stream.call_sid
            stream.writer.write(
                ws_text_frame(json.dumps(stop_message(call, "MZ" + call[2:], stream.sent + 2)))
            )
            await stream.writer.drain()
            stream.writer.close()


# ---------------------------------------------------------------------------- the reader


class LevelWatch(threading.Thread):
    """Reads every stream's feed with XREAD BLOCK and notes when each `level` event is seen."""

    def __init__(self, redis_url: str, call_sids: list[str]):
        super().__init__(daemon=True, name="level-watch")
        self.redis = redis_client(redis_url)
        self.cursors = {keys.live_call(sid): "0" for sid in call_sids}
        self.of_key = {keys.live_call(sid): sid for sid in call_sids}
        self.seen: dict[str, list[float]] = {sid: [] for sid in call_sids}
        self.ended: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        """Block on every feed at once until told to stop."""
        while not self.stopping.is_set():
            answer = self.redis.xread(self.cursors, block=200)
            now = time.monotonic()
            for key, entries in answer or []:
                name = key.decode() if isinstance(key, bytes) else key
                for entry_id, fields in entries:
                    self.cursors[name] = entry_id
                    kind = fields.get(b"kind", b"").decode()
                    if kind == "level":
                        self.seen[self.of_key[name]].append(now)
                    elif kind == "ended":
                        self.ended.add(self.of_key[name])


# ---------------------------------------------------------------------------- CPU


def process_tree(root: int) -> list[int]:
    """A process and its descendants, from /proc (gunicorn's master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used (utime + stime, /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


# ---------------------------------------------------------------------------- the server


# ---------------------------------------------------------------------------- the run


def run(streams: int = STREAMS_TARGET, seconds: float = 60.0, redis_url: str | None = None) -> dict:
    """Run N paced streams for `seconds` of audio each; print and return the figures."""
    threads = web_threads()
    print(
        f"hotline bench assist: {streams} streams of {seconds:g} s of audio, paced in real time;"
        f" gunicorn {WEB_WORKERS} gthread workers x {threads} threads; {os.cpu_count()} CPUs;"
        f" load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with bench_home("bench-assist-", redis_url) as (home, url):
        return _run(home, streams, seconds, url, threads)


def _run(home: Path, count: int, seconds: float, redis_url: str, threads: int) -> dict:
    """Start the hotline, drive the streams, measure, report."""
    env = hotline_env(home, redis_url)
    env["HOTLINE_WEB_THREADS"] = str(threads)
    spoken = voices()
    names = sorted(spoken)
    print(f"voices: {', '.join(names)}", flush=True)
    streams = [
        Stream(
            index=i,
            call_sid="CA" + f"{i:032x}",
            audio=spoken[names[i % len(names)]],
            offset=(i * FRAMES_PER_WINDOW) // count,
        )
        for i in range(count)
    ]
    with redis_client(redis_url) as redis:
        redis.flushdb()
    app = "hotline.app:create_app()"
    server = Server(home, app, env, web_settings()).start()
    watch = LevelWatch(redis_url, [s.call_sid for s in streams])
    watch.start()
    pids = process_tree(server.process.pid) if server.process else []
    web_before, own_before = cpu_seconds(pids), time.process_time()
    began = time.monotonic()
    try:
        asyncio.run(generate("127.0.0.1", server.port, streams, seconds))
        # The last windows' levels and the `ended` events, a little after the last frame.
        deadline = time.monotonic() + LATE_S
        while time.monotonic() < deadline and len(watch.ended) < count:
            time.sleep(0.05)
        elapsed = time.monotonic() - began
        web_cpu = cpu_seconds(pids) - web_before
        own_cpu = time.process_time() - own_before
    finally:
        watch.stopping.set()
        watch.join(timeout=2)
        server.stop()
    return report(streams, watch, seconds, elapsed, web_cpu, own_cpu)


def report(
    streams: list[Stream],
    watch: LevelWatch,
    seconds: float,
    elapsed: float,
    web_cpu: float,
    own_cpu: float,
) -> dict:
    """Latencies of every window, lost windows, errors and CPU; printed against the targets."""
    latencies, lost = [], 0
    for stream in streams:
        seen = watch.seen[stream.call_sid]
        for window, sent in enumerate(stream.window_sent):
            if window < len(seen):
                latencies.append((seen[window] - sent) * 1000)
            else:
                lost += 1
    errors = [s.error for s in streams if s.error]
    not_ended = sum(1 for s in streams if not s.error and s.call_sid not in watch.ended)
    count = len(streams)
    p50 = percentile(latencies, 0.5) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    worst = max(latencies) if latencies else float("nan")
    per_stream = web_cpu / (count * seconds) if count and seconds else float("nan")
    print(
        f"\nwindows: {len(latencies)} levels seen, {lost} lost;"
        f" load average now {os.getloadavg()[0]:.1f}"
    )
    print(
        f"window's last frame sent -> its level read from Redis: p50 {p50:.1f} ms,"
        f" p99 {p99:.1f} ms, max {worst:.1f} ms"
    )
    print(
        f"web CPU: {web_cpu:.1f} s over {elapsed:.1f} s = {per_stream * 100:.2f} % of a core"
        f" per stream ({web_cpu / elapsed:.2f} cores for {count} streams);"
        f" generator {own_cpu:.1f} s"
    )
    print(
        f"errors: {len(errors)} streams ({'; '.join(sorted(set(errors))[:3]) or 'none'}),"
        f" {not_ended} without `ended`"
    )
    print("\nagainst the targets:")
    print(f"  streams: {count} (target {STREAMS_TARGET})")
    print(f"  p99: {p99:.1f} ms (target <= {P99_TARGET_MS:g})")
    print(f"  errors and lost windows: {len(errors) + lost} (target 0)")
    return {
        "streams": count,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": worst,
        "lost": lost,
        "errors": len(errors),
        "not_ended": not_ended,
        "cpu_per_stream": per_stream,
        "web_cpu_s": web_cpu,
        "generator_cpu_s": own_cpu,
    }


if __name__ == "__main__":
    arguments = sys.argv[1:]
    run(int(arguments[0]) if arguments else STREAMS_TARGET, *map(float, arguments[1:2]))
