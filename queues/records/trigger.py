"""Asking for a call's record when the call ends: two jobs, one now and one when it settles.

Kept apart from the jobs themselves (named here by path) so the call store can ask without
importing what the jobs read: the jobs gather from the call store.
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from rq import Queue

# The job that writes a call's record, by path: RQ imports it in the worker.
RECORD_JOB = "queues.records.jobs.record_call_job"
# Facts arrive after the end (the voicemail's recording, the agent's wrap-up ending): the record
# is written again this long after, and only then is it complete.
SETTLE_AFTER_S = 15 * 60
# On the least urgent queue: rings and crisis pages go first.
QUEUE = "default"


def record_call(redis: Redis, call_sid: str) -> None:
    """Queue the writing of a call's record now and once more when its late facts are in."""
    # Fixed job ids: a repeated end asks for the same two jobs, not for more.
    queue = Queue(QUEUE, connection=redis)
    queue.enqueue(RECORD_JOB, call_sid, job_id=f"record-call-{call_sid}")
    queue.enqueue_in(
        timedelta(seconds=SETTLE_AFTER_S),
        RECORD_JOB,
        call_sid,
        job_id=f"record-call-settled-{call_sid}",
    )


def refresh_record(redis: Redis, call_sid: str) -> None:
    """Queue a rewrite of a call's record: a fact about it changed after it ended."""
    # One id per call: facts changing in a burst ask for one rewrite, which reads them all.
    Queue(QUEUE, connection=redis).enqueue(
        RECORD_JOB, call_sid, job_id=f"record-call-refresh-{call_sid}"
    )
