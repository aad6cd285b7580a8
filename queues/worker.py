"""The RQ worker: listens to the hotline's queues in order of urgency, with the scheduler on.

Jobs run in the worker's own process (`SimpleWorker`) rather than in a fork per job. Every
job here is a short, I/O-bound step (a REST call, a Redis script, a page) whose job timeout
RQ still enforces in-process; a fork per job cost about 30 ms on the 2-core machine, on the
path from an agent freeing up to their phone ringing and from a crisis trigger to the pages.
A worker that dies mid-job is restarted by the platform running the Procfile; the routing
sweep and the voicemail jobs' idempotence repair what the job left half-done.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue, SimpleWorker

# Most urgent first: a worker always takes a crisis alert before anything else.
QUEUE_NAMES = ("crisis", "dispatch", "voicemail", "default")


def queues(redis: Redis) -> list[Queue]:
    """The hotline's RQ queues on a connection, most urgent first."""
    return [Queue(name, connection=redis) for name in QUEUE_NAMES]


def run(redis_url: str, *, burst: bool = False) -> bool:
    """Run a worker with the scheduler until stopped (or until the queues are empty in burst)."""
    redis = Redis.from_url(redis_url)
    worker = SimpleWorker(queues(redis), connection=redis)
    return worker.work(with_scheduler=True, burst=burst)
