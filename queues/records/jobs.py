"""The call records' jobs: a call's record when it ends, the agents' presence intervals, the
retention of old records, and the backfill from what Redis still holds.

The store is built once per process from what the top floor installs (`install`), and the
schema is brought up to date as it is built: the worker, the writer, migrates when it starts
writing. Jobs take ids only and read everything else from Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from redis import Redis
from rq import Queue

from queues import keys, runtime, sealing
from queues.calls import STATUS_RANK
from queues.records import gather
from queues.repeat_callers import CallerHistory
from queues.sealing import Sealer

if TYPE_CHECKING:
    # SQLAlchemy loads with the store, when a job first opens it, not with every process.
    from queues.records.store import RecordStore

log = logging.getLogger(__name__)

# The presence follower's cursor in the records database.
PRESENCE_CURSOR = "presence"
# How often the upkeep job folds presence changes and drops records past retention.
UPKEEP_INTERVAL_S = 300
UPKEEP_JOB_ID = "records-upkeep"
# Call hashes looked at per SCAN round trip during a backfill.
SCAN_BATCH = 500
DAY_S = 86_400

_factory: Callable[[], RecordStore] | None = None
_store: RecordStore | None = None


@dataclass(frozen=True)
class Backfill:
    """What a backfill wrote: calls recorded, calls still live (skipped), presence changes."""

    recorded: int
    live: int
    presence: int


def install(factory: Callable[[], RecordStore] | None) -> None:
    """Set how this process opens the records database (None forgets it and its store)."""
    global _factory, _store
    if _store is not None:
        _store.close()
    _factory, _store = factory, None


def store() -> RecordStore:
    """The process's records store, migrated to the newest schema when first opened."""
    global _store
    if _store is None:
        if _factory is None:
            raise RuntimeError("call records need queues.records.jobs.install(...) at start-up")
        opened = _factory()
        opened.migrate()
        _store = opened
    return _store


def record_call_job(call_sid: str) -> bool:
    """Write a call's record from Redis (again: the same facts write the same row)."""
    rt = runtime.current()
    row = gather.call_row(rt.redis, call_sid, rt.sealer or sealing.current())
    if row is None:
        log.warning("call %s: nothing left in Redis to record", call_sid)
        return False
    # The caller's history first: the next call's whisper needs it even if the database is away.
    history = CallerHistory(
        rt.redis, keep_days=rt.config.records.history_keep_days, sealer=rt.sealer
    )
    history.remember_ended(row, rt.now())
    store().put_call(row, rt.now())
    return True


def follow_presence(redis: Redis, records: RecordStore) -> int:
    """Fold the presence changes the stream gained since last time into agents' intervals."""
    changes = (
        (entry_id, fields["agent"], fields["presence"], float(fields["at"]))
        for entry_id, fields in gather.stream_after(redis, records.cursor(PRESENCE_CURSOR))
        if fields.get("kind") == gather.PRESENCE_KIND and fields.get("agent")
    )
    return records.put_presence(changes, PRESENCE_CURSOR)


def apply_retention(records: RecordStore, keep_days: int, now: float) -> tuple[int, int]:
    """Delete calls and intervals older than the retention; return how many of each went."""
    gone = records.purge(now - keep_days * DAY_S)
    if any(gone):
        log.info("records: %d calls and %d agent intervals past %d days deleted", *gone, keep_days)
    return gone


def upkeep_job() -> int:
    """Fold presence changes, apply retention, and schedule the next run; changes folded."""
    rt = runtime.current()
    try:
        records = store()
        folded = follow_presence(rt.redis, records)
        apply_retention(records, rt.config.records.keep_days, rt.now())
    finally:
        # A run that failed (the database away a moment) must not end the runs that follow.
        schedule_upkeep(rt.redis)
    return folded


def schedule_upkeep(redis: Redis, delay_s: int = UPKEEP_INTERVAL_S) -> None:
    """Schedule the next upkeep; one fixed job id keeps a single run in the schedule."""
    Queue("default", connection=redis).enqueue_in(
        timedelta(seconds=delay_s), upkeep_job, job_id=UPKEEP_JOB_ID
    )


def ended_calls(redis: Redis) -> Iterator[tuple[str, bool]]:
    """Every call Redis still holds, with whether it has ended."""
    prefix = keys.call("")
    final = max(STATUS_RANK.values())
    for key in redis.scan_iter(match=keys.call("*"), count=SCAN_BATCH):
        call_sid = key.decode()[len(prefix) :]
        rank = redis.hget(key, "status_rank")
        yield call_sid, rank is not None and int(rank) >= final


def backfill(redis: Redis, records: RecordStore, sealer: Sealer, now: float) -> Backfill:
    """Record every ended call Redis still holds, and every presence change the stream keeps."""
    recorded = live = 0
    for call_sid, ended in ended_calls(redis):
        if not ended:
            live += 1  # its end will ask for its record
            continue
        row = gather.call_row(redis, call_sid, sealer)
        if row is not None:
            records.put_call(row, now)
            recorded += 1
    return Backfill(recorded, live, follow_presence(redis, records))
