"""RQ jobs of the voicemail queue: process one recording, purge expired messages, sweep.

Jobs take ids only. What they work with (Redis, the recording source, the vault, settings)
comes from a `Runtime` that the app builds from its config and hands over once per process
with `use_runtime`, before the worker starts; jobs never read the environment themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Retry, get_current_job
from rq.job import Job

from queues.worker import Chain
from routing.classifier import Lexicon
from voicemail.messages import READY, Message, MessageStore
from voicemail.processing import Notify, Options, process_recording
from voicemail.retention import RetentionRules, purge_expired
from voicemail.source import RecordingSource, VoicemailError
from voicemail.triage import Transcriber
from voicemail.vault import Vault

log = logging.getLogger(__name__)

QUEUE = "voicemail"
# Twilio may need a few seconds before a fresh recording can be fetched, and an outage may
# last minutes: retries start fast and back off to a quarter hour (about 40 minutes in all).
RETRY_INTERVALS_S = (2, 5, 10, 30, 60, 120, 300, 600, 900)


def _utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """Everything a voicemail job needs, built by the app from its config."""

    redis: Redis
    source: RecordingSource
    vault: Vault
    options: Options = field(default_factory=Options)
    retention: RetentionRules = field(default_factory=RetentionRules)
    lexicon: Lexicon | None = None
    transcriber: Transcriber | None = None
    notify: Notify | None = None
    clock: Callable[[], datetime] = _utc_now
    # Called with each message that processing leaves ready, to schedule its callback.
    on_ready: Callable[[Message], object] | None = None
    # The second storage target: every recorded consultation is kept here too, checked apart.
    copy_vault: Vault | None = None


_factory: Callable[[], Runtime] | None = None


def use_runtime(factory: Callable[[], Runtime] | None) -> None:
    """Set how this process builds the voicemail jobs' runtime (None forgets it)."""
    global _factory
    _factory = factory


def current() -> Runtime:
    """The process's voicemail runtime (webhooks use it too)."""
    return _runtime()


def _runtime() -> Runtime:
    """Build the runtime, or fail clearly when the process was not set up for voicemail."""
    if _factory is None:
        raise RuntimeError("voicemail jobs need voicemail.jobs.use_runtime(...) at start-up")
    return _factory()


def process_job(recording_sid: str) -> str:
    """Process one recording; retryable failures raise so RQ tries again with backoff."""
    runtime = _runtime()
    job = get_current_job()
    try:
        message = process_recording(
            recording_sid,
            redis=runtime.redis,
            source=runtime.source,
            vault=runtime.vault,
            now=runtime.clock(),
            options=runtime.options,
            lexicon=runtime.lexicon,
            transcriber=runtime.transcriber,
            notify=runtime.notify,
            # The job id holds the claim, so this job's own retry can take over after a crash.
            owner=job.id if job is not None else None,
        )
    except VoicemailError as error:
        if error.retryable:
            raise
        # Refused for good (a foreign URL, rejected credentials): logged, never retried.
        log.error("voicemail %s: not processed: %s", recording_sid, error)
        return f"refused: {type(error).__name__}"
    if message.state == READY and runtime.on_ready is not None:
        # Scheduling is idempotent, so a retried job that gets here again changes nothing.
        runtime.on_ready(message)
    return message.state


def enqueue_processing(queue: Queue, recording_sid: str) -> Job:
    """Queue the processing of a recording, with retries, under an id named by the recording."""
    return queue.enqueue(
        process_job,
        recording_sid,
        job_id=f"voicemail-{recording_sid}",
        retry=Retry(max=len(RETRY_INTERVALS_S), interval=list(RETRY_INTERVALS_S)),
        description=f"voicemail {recording_sid}",
    )


def retention_job() -> int:
    """Delete messages past retention; return how many were deleted."""
    runtime = _runtime()
    purged = purge_expired(
        runtime.redis,
        runtime.vault,
        now=runtime.clock(),
        rules=runtime.retention,
        source=runtime.source,
    )
    return len(purged)


def sweep_job(older_than_s: float = 3600.0) -> int:
    """Queue again every message whose processing stopped (retries exhausted, worker lost)."""
    runtime = _runtime()
    store = MessageStore(runtime.redis)
    stalled = store.unfinished(older_than=runtime.clock() - timedelta(seconds=older_than_s))
    queue = Queue(QUEUE, connection=runtime.redis)
    for recording_sid in stalled:
        enqueue_processing(queue, recording_sid)
    return len(stalled)


# -- periodic jobs ---------------------------------------------------------------------------

RETENTION_JOB_ID = "voicemail-retention"
SWEEP_JOB_ID = "voicemail-sweep"
RETENTION_EVERY = timedelta(days=1)
SWEEP_EVERY = timedelta(hours=1)
# The first run after a worker starts, or after a Redis failover lost the next one.
FIRST_RUN_IN = timedelta(minutes=1)


def retention_tick() -> int:
    """Run retention, then schedule the next run a day later."""
    try:
        return retention_job()
    finally:
        schedule_job(_runtime().redis, retention_tick, RETENTION_JOB_ID, RETENTION_EVERY)


def sweep_tick() -> int:
    """Queue stalled messages again, then schedule the next sweep an hour later."""
    try:
        return sweep_job()
    finally:
        schedule_job(_runtime().redis, sweep_tick, SWEEP_JOB_ID, SWEEP_EVERY)


def schedule_job(redis: Redis, func: Callable[[], int], job_id: str, delay: timedelta) -> None:
    """Schedule a periodic job; its fixed id keeps a single run in the schedule."""
    Queue(QUEUE, connection=redis).enqueue_in(delay, func, job_id=job_id)


def schedule_periodic(redis: Redis, *, first_in: timedelta = FIRST_RUN_IN) -> None:
    """Start the daily retention run and the hourly sweep (at worker start-up)."""
    schedule_job(redis, retention_tick, RETENTION_JOB_ID, first_in)
    schedule_job(redis, sweep_tick, SWEEP_JOB_ID, first_in)
    # Recorded consultations have their own retention (records.recording_keep_days).
    from voicemail.consultation_jobs import schedule_retention

    schedule_retention(redis, first_in)


def periodic_chains() -> tuple[Chain, ...]:
    """Voicemail's and recordings' self-scheduling jobs, for the worker to keep going: a Redis
    failover that lost a next run would otherwise stop retention until a worker restarted."""
    from voicemail import consultation_jobs

    ticks = (
        (retention_tick, RETENTION_JOB_ID),
        (sweep_tick, SWEEP_JOB_ID),
        (consultation_jobs.retention_tick, consultation_jobs.RETENTION_JOB_ID),
        (consultation_jobs.sweep_tick, consultation_jobs.SWEEP_JOB_ID),
    )
    return tuple(Chain(QUEUE, job_id, _first_run(tick, job_id)) for tick, job_id in ticks)


def _first_run(tick: Callable[[], int], job_id: str) -> Callable[[Redis], None]:
    """How a chain's job is scheduled anew: its first run, a minute from now."""
    return lambda redis: schedule_job(redis, tick, job_id, FIRST_RUN_IN)
