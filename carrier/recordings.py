"""Recordings of conferences and call legs: started, paused, resumed, stopped, completed, kept.

A conference joined with record="record-from-start" by the participant who starts it, or a call
leg recorded through `POST /Calls/{CallSid}/Recordings.json`, records from then on. One watcher
thread per recording sends its status callbacks in order, as Twilio does apart from the call:
`in-progress` when it starts, `paused`, `resumed` and `stopped` on REST updates, then
`completed` (or `absent`, too short to keep) once its conference ends, its call ends or it is
stopped. Audio is not carried, so the media is speech-like sound as long as what was recorded;
what was said is kept as lines (what an ordinary participant heard), for tests.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from carrier import audio
from carrier.clock import rfc2822
from carrier.network import Call, Conference, Network, Participant, Recording, new_sid

if TYPE_CHECKING:
    from carrier.document import Document
    from carrier.driver import Driver

# A recording in one of these states still records (or holds its place while paused).
ACTIVE = ("in-progress", "paused")
# Twilio's <Conference record> value that records; "do-not-record" (the default) does not.
RECORD_FROM_START = "record-from-start"
# The events a recordingStatusCallbackEvent may name, and the RecordingStatus each one sends.
EVENT_STATUS = {
    "in-progress": "in-progress",
    "paused": "paused",
    "resumed": "in-progress",
    "stopped": "stopped",
    "completed": "completed",
    "absent": "absent",
}
PAUSE_BEHAVIORS = ("skip", "silence")
# Twilio's error for a recording too short to keep (under a second of audio).
TOO_SHORT = 16101
# Speech-like audio is made once per recording in a stretch this long and repeated.
TILE_S = 4.0
TILE_SEED = 15


@dataclass(frozen=True)
class Order:
    """Where and when a recording reports its status: the recordingStatusCallback settings."""

    url: str | None = None
    method: str = "POST"
    events: tuple[str, ...] = ("completed",)


def order_from_noun(noun: ET.Element, document: Document) -> Order:
    """Read a <Conference>'s recordingStatusCallback attributes, URLs resolved like Twilio."""
    url = noun.get("recordingStatusCallback")
    events = (noun.get("recordingStatusCallbackEvent") or "completed").replace(",", " ").split()
    return Order(
        url=document.join(url) if url else None,
        method=(noun.get("recordingStatusCallbackMethod") or "POST").upper(),
        events=tuple(events),
    )


def record_conference(driver: Driver, conference: Conference, starter: Call, order: Order) -> None:
    """Start recording a conference now; the participant who started it owns the recording."""
    network = driver.network
    with network.cond:
        recording = _begin(
            network, starter, order, source="Conference", conference_sid=conference.sid
        )
        conference.recording_sid = recording.sid
    starter.transcript.add(
        network.clock.now(), "recording", action="started", recording_sid=recording.sid
    )
    _watch(driver, recording)


def record_call(driver: Driver, call: Call, order: Order, *, channels: int = 1) -> Recording:
    """Start recording a live call leg now (REST create); it ends when the call does."""
    network = driver.network
    with network.cond:
        recording = _begin(network, call, order, source="StartCallRecordingAPI")
        recording.channels = channels
    call.transcript.add(
        network.clock.now(), "recording", action="started", recording_sid=recording.sid
    )
    _watch(driver, recording)
    return recording


def _begin(
    network: Network,
    call: Call,
    order: Order,
    *,
    source: str,
    conference_sid: str | None = None,
) -> Recording:
    """Create an in-progress recording, recording from this virtual moment (under the lock)."""
    now = network.clock.utcnow()
    recording = Recording(
        sid=new_sid("RE"),
        account_sid=call.account_sid,
        call_sid=call.sid,
        created=now,
        updated=now,
        pcm=b"",
        duration=0,
        source=source,
        conference_sid=conference_sid,
        status="in-progress",
        status_callback=order.url,
        status_callback_method=order.method,
        status_callback_events=order.events,
        timeline=[["audio", network.clock.now(), None]],
    )
    network.recordings[recording.sid] = recording
    network.cond.notify_all()
    return recording


def conference_ended(network: Network, conference: Conference) -> None:
    """End a conference's recording's audio where the conference ends (under the lock); its
    watcher completes it and calls back as soon as it wakes."""
    recording = network.recordings.get(conference.recording_sid or "")
    if recording is not None and recording.status in ACTIVE:
        _close(recording, network.clock.now())


# -- changes through the REST API -------------------------------------------------------------


def change(network: Network, recording: Recording, status: str, pause_behavior: str) -> None:
    """Pause, resume or stop an active recording (REST update), under the network's lock."""
    with network.cond:
        now = network.clock.now()
        if status == recording.status or _over(network, recording):
            return
        _close(recording, now)
        if status == "paused":
            if pause_behavior == "silence":
                recording.timeline.append(["silence", now, None])
        elif status == "in-progress":
            recording.timeline.append(["audio", now, None])
        recording.status = status
        recording.updated = network.clock.utcnow()
        network.cond.notify_all()


def current(
    network: Network, *, conference_sid: str | None = None, call_sid: str | None = None
) -> Recording | None:
    """Return the active recording of a conference or call (Twilio.CURRENT), if any."""
    with network.cond:
        for recording in network.recordings.values():
            if recording.status not in ACTIVE:
                continue
            if conference_sid is not None and recording.conference_sid == conference_sid:
                return recording
            if call_sid is not None and (recording.call_sid, recording.conference_sid) == (
                call_sid,
                None,
            ):
                return recording
        return None


# -- what was said ----------------------------------------------------------------------------


def hear(network: Network, conference: Conference, speaker: Participant, text: str) -> None:
    """Keep a line said in a conference in its recording, if an ordinary participant heard it.

    Nobody hears a muted or held party, and only the coached agent hears a coach, so none of
    those lines are recorded; nothing is recorded while the recording is paused.
    """
    with network.cond:
        recording = network.recordings.get(conference.recording_sid or "")
        if recording is None or recording.status != "in-progress":
            return
        if conference.status != "in-progress" or speaker.muted or speaker.hold or speaker.coaching:
            return
        recording.lines.append(
            {
                "t": round(_recorded_seconds(recording, network.clock.now()), 2),
                "from": speaker.call_sid,
                "label": speaker.label,
                "text": text,
            }
        )


# -- the watcher: callbacks in order, then completion -------------------------------------------


def _watch(driver: Driver, recording: Recording) -> None:
    """Follow a recording in its own thread until it is complete."""
    thread = threading.Thread(
        target=_follow, args=(driver, recording), name=f"rec-{recording.sid[-6:]}", daemon=True
    )
    thread.start()


def _follow(driver: Driver, recording: Recording) -> None:
    """Announce each change of a recording as it happens, then finish it and announce that."""
    network = driver.network
    announce(driver, recording, "in-progress")
    seen = "in-progress"
    while True:
        status, over = _next_change(network, recording, seen)
        if status != seen and status in ("paused", "in-progress", "stopped"):
            announce(driver, recording, "resumed" if status == "in-progress" else status)
            seen = status
        if over:
            break
    complete(network, recording)
    announce(driver, recording, recording.status)


def _next_change(network: Network, recording: Recording, seen: str) -> tuple[str, bool]:
    """Wait until a recording's status differs from the one seen or it must end."""
    with network.cond:
        network.cond.wait_for(lambda: recording.status != seen or _over(network, recording))
        return recording.status, _over(network, recording)


def _over(network: Network, recording: Recording) -> bool:
    """Tell whether a recording must end: stopped, or its conference or call is over."""
    if recording.status not in ACTIVE:
        return True
    if recording.conference_sid is not None:
        conference = network.conferences.get(recording.conference_sid)
        return conference is None or conference.status == "completed"
    call = network.calls.get(recording.call_sid)
    return call is None or call.ended


def complete(network: Network, recording: Recording) -> None:
    """Close a recording: its audio made, its duration set, completed or absent."""
    with network.cond:
        now = network.clock.now()
        _close(recording, now)
        timeline = [tuple(stretch) for stretch in recording.timeline]
    # Made outside the lock, which every leg waits on: an hour's audio is tens of megabytes.
    pcm = _render(timeline)
    with network.cond:
        if recording.conference_sid is None:
            recording.lines = _lines_of_call(network, recording)
        recording.duration = int(round(audio.duration(pcm)))
        if recording.duration < 1:
            recording.status, recording.error_code, recording.pcm = "absent", TOO_SHORT, b""
        else:
            recording.status, recording.pcm = "completed", pcm
        recording.updated = network.clock.utcnow()
        conference = network.conferences.get(recording.conference_sid or "")
        if conference is not None and conference.recording_sid == recording.sid:
            conference.recording_sid = None
        call = network.calls.get(recording.call_sid)
        if call is not None:
            call.transcript.add(
                now,
                "recording",
                action=recording.status,
                recording_sid=recording.sid,
                seconds=recording.duration,
            )
        network.cond.notify_all()


@cache
def _speech_tile() -> bytes:
    """Return the stretch of speech-like audio that recordings repeat (made once per process)."""
    return audio.speech_like(TILE_S, seed=TILE_SEED)


def _render(timeline: list[tuple[Any, ...]]) -> bytes:
    """Return the audio of a recording's timeline: speech-like sound, silence where paused."""
    tile = _speech_tile()
    parts = []
    for kind, start, end in timeline:
        size = 2 * int(audio.RATE * max(end - start, 0.0))
        if kind == "silence":
            parts.append(bytes(size))
        else:
            parts.append((tile * (size // len(tile) + 1))[:size])
    return b"".join(parts)


def _close(recording: Recording, now: float) -> None:
    """End the stretch of the timeline that is still open."""
    if recording.timeline and recording.timeline[-1][2] is None:
        recording.timeline[-1][2] = now


def _recorded_seconds(recording: Recording, now: float) -> float:
    """Return how far into the recording (its audio and silences) this moment falls."""
    return sum((end if end is not None else now) - start for _, start, end in recording.timeline)


def _lines_of_call(network: Network, recording: Recording) -> list[dict[str, Any]]:
    """Return what a recorded call leg said and heard while its recording ran (not paused)."""
    call = network.calls.get(recording.call_sid)
    if call is None:
        return []
    started = call.transcript.started
    entries = call.transcript.to_dict()["entries"]
    lines = []
    offset = 0.0
    for kind, start, end in recording.timeline:
        for entry in entries:
            at = started + entry["t"]
            if kind == "audio" and start <= at <= end and entry["kind"] in ("said", "heard"):
                lines.append(
                    {
                        "t": round(offset + at - start, 2),
                        "from": entry.get("from", call.sid if entry["kind"] == "said" else None),
                        "label": entry.get("label"),
                        "text": entry.get("text", ""),
                    }
                )
        offset += end - start
    return lines


# -- status callbacks ---------------------------------------------------------------------------


def media_url(public_url: str, recording: Recording) -> str:
    """Return a recording's media URL on the carrier, shaped like Twilio's (no extension)."""
    return (
        f"{public_url.rstrip('/')}/2010-04-01/Accounts/"
        f"{recording.account_sid}/Recordings/{recording.sid}"
    )


def status_params(public_url: str, recording: Recording, event: str) -> dict[str, str]:
    """Return the parameters Twilio sends to a recordingStatusCallback for one event."""
    status = EVENT_STATUS[event]
    params = {
        "AccountSid": recording.account_sid,
        "RecordingSid": recording.sid,
        "RecordingUrl": media_url(public_url, recording),
        "RecordingStatus": status,
        "RecordingChannels": str(recording.channels),
        "RecordingStartTime": rfc2822(recording.created) or "",
        "RecordingSource": recording.source,
    }
    if recording.conference_sid is not None:
        params["ConferenceSid"] = recording.conference_sid
    else:
        params["CallSid"] = recording.call_sid
    if status in ("completed", "absent"):
        params["RecordingDuration"] = str(recording.duration)
    if recording.error_code is not None:
        params["ErrorCode"] = str(recording.error_code)
    return params


def announce(driver: Driver, recording: Recording, event: str) -> None:
    """Send the status callback for an event when the recording asked for it (faults apply)."""
    if not recording.status_callback or event not in recording.status_callback_events:
        return
    params = status_params(driver.settings.public_url, recording, event)
    call = driver.network.calls.get(recording.call_sid)
    times = 2 if driver.faults.roll("callback_duplicate") else 1
    for time_ in range(times):
        driver.webhooks.request(
            recording.status_callback_method,
            recording.status_callback,
            params,
            transcript=call.transcript if call is not None else None,
            purpose="recording" if time_ == 0 else "recording (duplicate)",
            forge=call.forge_signature if call is not None else False,
        )
