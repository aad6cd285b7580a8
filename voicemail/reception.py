"""Twilio's callbacks about a message: the recording is ready, or its transcription is.

Callbacks can repeat, come out of order, or name a call the hotline never saw; each is taken
once and logged with the caller's number masked. A RecordingUrl outside the API host is never
fetched: the recording is fetched by its SID through the configured API host instead, so
credentials never leave for another host and the message is still kept.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from queues import events
from queues.calls import CallStore
from routing.privacy import mask_number
from voicemail import jobs
from voicemail.messages import MessageStore
from voicemail.processing import add_transcript, register_recording
from voicemail.source import ForeignRecordingUrl, check_recording_url

log = logging.getLogger(__name__)

# Twilio's RecordingSid: RE and 32 hex digits; the carrier's look the same.
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
MAX_TRANSCRIPT = 5000


@dataclass(frozen=True)
class Recording:
    """A recording status callback, with Twilio's names left at the edge."""

    recording_sid: str
    call_sid: str
    recording_url: str
    duration_s: str
    status: str
    # From the callback URL: what the menu knew when it started the recording.
    area: str
    language: str


def receive_recording(
    redis: Redis, recording: Recording, *, now: datetime, allowed_origins: tuple[str, ...]
) -> str:
    """Register a finished recording once and queue its processing; return what was done."""
    sid = recording.recording_sid
    if not _RECORDING_SID.match(sid):
        log.warning("recording callback with an unusable RecordingSid %r", sid[:40])
        return "invalid"
    if recording.status and recording.status != "completed":
        log.warning("recording %s of call %s: %s", sid, recording.call_sid, recording.status)
        events.append(redis, "voicemail_not_recorded", recording=sid, status=recording.status)
        return "not-recorded"
    record = CallStore(redis).get(recording.call_sid) if recording.call_sid else None
    if record is None:
        log.warning("recording %s names a call the hotline does not know", sid)
    caller = record.caller if record else ""
    url = _safe_url(redis, recording, allowed_origins)
    created = register_recording(
        redis,
        sid,
        now=now,
        call_sid=recording.call_sid,
        recording_url=url,
        duration_s=recording.duration_s,
        caller=caller,
        area=(record.area if record and record.area else recording.area),
        language=(record.language if record and record.language else recording.language),
        summary=record.summary if record else "",
    )
    log.info(
        "recording %s of call %s from %s: %s (%s s)",
        sid,
        recording.call_sid,
        mask_number(caller),
        "new" if created else "repeated callback",
        recording.duration_s or "?",
    )
    if created or _needs_job(redis, sid):
        jobs.enqueue_processing(Queue(jobs.QUEUE, connection=redis), sid)
        return "queued"
    return "repeated"


def _safe_url(redis: Redis, recording: Recording, allowed_origins: tuple[str, ...]) -> str:
    """The RecordingUrl when it is on the API host; else none, so the SID is used."""
    if not recording.recording_url:
        return ""
    try:
        check_recording_url(recording.recording_url, recording.recording_sid, allowed_origins)
    except ForeignRecordingUrl as error:
        host = urlsplit(recording.recording_url).hostname or "?"
        log.warning("recording %s: URL on %s ignored (%s)", recording.recording_sid, host, error)
        events.append(redis, "voicemail_foreign_url", recording=recording.recording_sid, host=host)
        return ""
    return recording.recording_url


def _needs_job(redis: Redis, recording_sid: str) -> bool:
    """Tell whether a known, unfinished message has no processing job any more."""
    message = MessageStore(redis).get(recording_sid)
    if message is None or message.finished:
        return False
    try:
        Job.fetch(f"voicemail-{recording_sid}", connection=redis)
    except NoSuchJobError:
        return True
    return False


def receive_transcript(recording_sid: str, text: str, status: str, *, now: datetime) -> str:
    """Keep a message's transcription (encrypted) and triage it again for crisis words."""
    if not _RECORDING_SID.match(recording_sid):
        return "invalid"
    if status != "completed" or not text.strip():
        log.info("transcription of %s: %s", recording_sid, status or "empty")
        return "no-text"
    rt = jobs.current()
    result = add_transcript(
        recording_sid,
        text[:MAX_TRANSCRIPT],
        redis=rt.redis,
        vault=rt.vault,
        now=now,
        lexicon=rt.lexicon,
        rules=rt.options.triage,
        notify=rt.notify,
    )
    return "escalated" if result.escalated else "kept"
