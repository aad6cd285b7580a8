"""The RQ worker: listens to the hotline's queues in order of urgency, with the scheduler on."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Worker

# Most urgent first: a worker always takes a crisis alert before anything else.
QUEUE_NAMES = ("crisis", "dispatch", "voicemail", "default")


def queues(redis: Redis) -> list[Queue]:
    """The hotline's RQ queues on a connection, most urgent first."""
    return [Queue(name, connection=redis) for name in QUEUE_NAMES]


def run(redis_url: str, *, burst: bool = False) -> bool:
    """Run a worker with the scheduler until stopped (or until the queues are empty in burst)."""
    redis = Redis.from_url(redis_url)
    worker = Worker(queues(redis), connection=redis)
    return worker.work(with_scheduler=True, burst=burst)
