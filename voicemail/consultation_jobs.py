"""RQ jobs of recorded consultations: store one recording (twice), and the daily retention.

Jobs take ids only and get their tools from the voicemail runtime (Twilio's copies, the two
storage targets, the clock) and the process's routing runtime (the config). A step that fails is
tried again with backoff; when it still fails, supervisors are told by a standing condition and
Twilio's copy is kept.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from queues import events
from queues import runtime as routing_runtime
from queues.conditions import Conditions
from routing.privacy import mask_number
from voicemail import jobs
from voicemail.consultations import (
    FAILED,
    FOLDER,
    SUFFIX,
    Consent,
    ConsultationRecordings,
)
from voicemail.source import ForeignRecordingUrl, VoicemailError, check_recording_url
from voicemail.vault import VaultError

log = logging.getLogger(__name__)

# Twilio may need a few seconds before a fresh recording can be fetched, and an outage (or a
# full disk) may last a while: retries start fast and back off to a quarter hour.
RETRY_INTERVALS_S = (2, 5, 10, 30, 60, 120, 300, 600, 900)
# The first run and every retry: after the last, the recording is given up on.
MAX_ATTEMPTS = len(RETRY_INTERVALS_S) + 1
# The condition supervisors are paged for when a recording could not be stored.
CONDITION = "recording_not_stored"
RETENTION_JOB_ID = "consultation-retention"
RETENTION_EVERY = timedelta(days=1)
SWEEP_JOB_ID = "consultation-sweep"
SWEEP_EVERY = timedelta(hours=1)


def store(runtime: jobs.Runtime | None = None) -> ConsultationRecordings:
    """The consultation recordings of this process, on the voicemail runtime's storage."""
    runtime = runtime or jobs.current()
    copy = runtime.copy_vault
    return ConsultationRecordings(
        runtime.redis,
        primary=runtime.vault.beside(FOLDER, suffix=SUFFIX),
        copy=copy.beside(FOLDER, suffix=SUFFIX) if copy is not None else None,
        source=runtime.source,
        clock=runtime.clock,
    )


def job_id(recording_sid: str) -> str:
    """The processing job's id, named by the recording so a repeat finds it."""
    return f"consultation-{recording_sid}"


def process_job(recording_sid: str) -> str:
    """Store one recording twice and delete Twilio's copy; retry, then give up loudly."""
    runtime = jobs.current()
    recordings = store(runtime)
    job = get_current_job()
    owner = job.id if job is not None else job_id(recording_sid)
    try:
        return recordings.process(recording_sid, now=runtime.clock(), owner=owner).state
    except (VoicemailError, VaultError) as error:
        attempts = recordings.count_attempt(recording_sid)
        retryable = getattr(error, "retryable", True)
        if retryable and attempts < MAX_ATTEMPTS:
            log.warning(
                "consultation %s: attempt %d failed (%s); retried",
                recording_sid,
                attempts,
                error,
            )
            raise
        give_up(recordings, recording_sid, f"{type(error).__name__}: {error}")
        return FAILED


def give_up(recordings: ConsultationRecordings, recording_sid: str, reason: str) -> None:
    """Mark the recording failed, keep Twilio's copy, and page the supervisors."""
    now = recordings.clock()
    item = recordings.give_up(recording_sid, reason, now=now)
    call = item.call_sid if item is not None else "?"
    log.error("consultation %s of call %s not stored: %s", recording_sid, call, reason)
    Conditions(recordings.redis).raise_condition(
        CONDITION,
        f"recording {recording_sid} of call {call} not stored ({reason[:120]}); "
        "Twilio's copy is kept",
        now.timestamp(),
    )


def enqueue_processing(redis: Redis, recording_sid: str) -> Job:
    """Queue a recording's processing with retries, under an id named by the recording."""
    return Queue(jobs.QUEUE, connection=redis).enqueue(
        process_job,
        recording_sid,
        job_id=job_id(recording_sid),
        retry=Retry(max=len(RETRY_INTERVALS_S), interval=list(RETRY_INTERVALS_S)),
        description=f"consultation {recording_sid}",
    )


def retention_job() -> int:
    """Delete consultations past `records.recording_keep_days`; return how many."""
    runtime = jobs.current()
    keep_days = routing_runtime.current().config.records.recording_keep_days
    return len(store(runtime).purge_expired(now=runtime.clock(), keep_days=keep_days))


def retention_tick() -> int:
    """Run retention, then schedule the next run a day later."""
    try:
        return retention_job()
    finally:
        jobs.schedule_job(jobs.current().redis, retention_tick, RETENTION_JOB_ID, RETENTION_EVERY)


def sweep_job(older_than_s: float = 3600.0) -> int:
    """Queue again every unfinished recording whose job is gone (a lost worker); how many."""
    runtime = jobs.current()
    recordings = store(runtime)
    cutoff = runtime.clock().timestamp() - older_than_s
    stalled = [
        item.recording_sid
        for item in recordings.unfinished(before=cutoff)
        if _needs_job(runtime.redis, recordings, item.recording_sid)
    ]
    for recording_sid in stalled:
        enqueue_processing(runtime.redis, recording_sid)
    return len(stalled)


def sweep_tick() -> int:
    """Sweep stalled recordings, then schedule the next sweep an hour later."""
    try:
        return sweep_job()
    finally:
        jobs.schedule_job(jobs.current().redis, sweep_tick, SWEEP_JOB_ID, SWEEP_EVERY)


def schedule_retention(redis: Redis, delay: timedelta) -> None:
    """Schedule the retention run and the sweep; their fixed ids keep one run of each."""
    jobs.schedule_job(redis, retention_tick, RETENTION_JOB_ID, delay)
    jobs.schedule_job(redis, sweep_tick, SWEEP_JOB_ID, delay)


# --- the conference's recording status callback --------------------------------------------

# Twilio's RecordingSid: RE and 32 hex digits; the carrier's look the same.
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Recording:
    """A conference recording's status callback, with Twilio's names left at the edge."""

    recording_sid: str
    recording_url: str
    duration_s: str
    status: str


@dataclass(frozen=True)
class Call:
    """The call a recording belongs to, as the reservation and the call's record know it."""

    call_sid: str = ""
    reservation: str = ""
    caller: str = ""
    area: str = ""
    language: str = ""
    agent: str = ""


def receive(recording: Recording, call: Call, *, runtime: jobs.Runtime | None = None) -> str:
    """Register a finished recording once and queue its storing; return what was done.

    The consent is read again here: a recording of a call without one on record is deleted
    at Twilio unheard.
    """
    runtime = runtime or jobs.current()
    sid = recording.recording_sid
    if not _RECORDING_SID.match(sid):
        log.warning("conference recording callback with an unusable RecordingSid %r", sid[:40])
        return "invalid"
    if recording.status and recording.status != "completed":
        log.warning("conference recording %s of call %s: %s", sid, call.call_sid, recording.status)
        events.append(
            runtime.redis, "recording-not-made", recording=sid, status=recording.status[:20]
        )
        return "not-recorded"
    url = recording.recording_url
    if url:
        try:
            check_recording_url(url, sid, runtime.options.allowed_origins)
        except ForeignRecordingUrl as error:
            # Credentials never go to another host: the recording is fetched by its SID.
            log.warning("conference recording %s: URL ignored (%s)", sid, error)
            url = ""
    recordings = store(runtime)
    created = recordings.register(
        sid,
        now=runtime.clock(),
        call_sid=call.call_sid,
        reservation=call.reservation,
        caller=call.caller,
        area=call.area,
        language=call.language,
        agent=call.agent,
        recording_url=url,
        duration_s=recording.duration_s[:8],
        consent=Consent(runtime.redis).of(call.call_sid),
    )
    log.info(
        "conference recording %s of call %s from %s: %s",
        sid,
        call.call_sid or "?",
        mask_number(call.caller),
        "new" if created else "repeated callback",
    )
    if created or _needs_job(runtime.redis, recordings, sid):
        enqueue_processing(runtime.redis, sid)
        return "queued"
    return "repeated"


def _needs_job(redis: Redis, recordings: ConsultationRecordings, recording_sid: str) -> bool:
    """Whether a known, unfinished recording has no job any more (a lost worker's)."""
    item = recordings.get(recording_sid)
    if item is None or item.finished:
        return False
    try:
        Job.fetch(job_id(recording_sid), connection=redis)
    except NoSuchJobError:
        return True
    return False
