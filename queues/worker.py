"""The RQ worker: listens to the hotline's queues in order of urgency, with the scheduler on.

Jobs run in the worker's own process (`SimpleWorker`) rather than in a fork per job. Every
job here is a short, I/O-bound step (a REST call, a Redis script, a page) whose job timeout
RQ still enforces in-process; a fork per job cost about 30 ms on the 2-core machine, on the
path from an agent freeing up to their phone ringing and from a crisis trigger to the pages.
A worker that dies mid-job is restarted by the platform running the Procfile; the routing
sweep and the voicemail jobs' idempotence repair what the job left half-done.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import SchedulerNotFound
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import release_lock

from queues.connection import redis_client
from routing.privacy import mask_text

# Most urgent first: a worker always takes a crisis alert before anything else.
QUEUE_NAMES = ("crisis", "dispatch", "voicemail", "default")
# The worker's registration lifetime. An idle worker wakes every this less 15 s to heartbeat,
# and it is then that it sees its scheduler has died: RQ's 420 s would leave it dead minutes.
WORKER_TTL_S = 20
# How often a worker whose scheduler died tries to start it again (another worker's scheduler
# may hold the locks meanwhile, Redis may still be away).
SCHEDULER_RETRY_S = 5.0
# How often a worker makes sure each job that schedules its own next run (the sweep, the
# self-check) still has one: a Redis failover may lose the write that scheduled it, and nothing
# else would schedule it again until a worker restarted.
KEEP_SCHEDULED_EVERY_S = 30.0


@dataclass(frozen=True)
class Chain:
    """A job that schedules its own next run under a fixed id, and how to schedule it anew."""

    queue: str
    job_id: str
    schedule: Callable[[Redis], None]


def has_next_run(redis: Redis, chain: Chain) -> bool:
    """Whether a chain's job waits in the schedule or the queue, or runs now."""
    queue = Queue(chain.queue, connection=redis)
    return (
        chain.job_id in ScheduledJobRegistry(queue=queue)
        or chain.job_id in StartedJobRegistry(queue=queue)
        or redis.lpos(queue.key, chain.job_id) is not None
        or redis.lpos(queue.intermediate_queue_key, chain.job_id) is not None
    )


def keep_scheduled(redis: Redis, chains: tuple[Chain, ...]) -> list[str]:
    """Schedule each chain that has no next run anywhere; returns their job ids."""
    lost = [chain for chain in chains if not has_next_run(redis, chain)]
    for chain in lost:
        # A run too many is harmless (each is idempotent); a chain ended is not.
        chain.schedule(redis)
    return [chain.job_id for chain in lost]


def queues(redis: Redis) -> list[Queue]:
    """The hotline's RQ queues on a connection, most urgent first."""
    return [Queue(name, connection=redis) for name in QUEUE_NAMES]


class HotlineWorker(SimpleWorker):
    """RQ's in-process worker, keeping a failed job's traceback with phone numbers masked, and
    starting its scheduler again when it died (RQ's scheduler process ends on a lost Redis
    connection, and RQ looks for it only in its ten-minute maintenance: sweeps, retries and
    callbacks would stop that long after every Redis restart)."""

    # RQ doubles its wait after each failed reconnect up to a minute: after a Redis restart of
    # a few seconds its workers would sit out another 8-16 s, holding crisis alerts and ring
    # retries. A try every 2 s at most costs Redis nothing.
    max_connection_wait_time = 2.0
    _next_scheduler_try = 0.0
    # Jobs that schedule their own next run, checked every KEEP_SCHEDULED_EVERY_S.
    chains: tuple[Chain, ...] = ()
    _next_keep = 0.0

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """RQ's maintenance, at once (every few seconds) while no scheduler runs, and when the
        chains are due a look."""
        keep_due = bool(self.chains) and time.monotonic() >= self._next_keep
        return super().should_run_maintenance_tasks or self._scheduler_due() or keep_due

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, after scheduling again any chain whose next run was lost."""
        if self.chains and time.monotonic() >= self._next_keep:
            self._next_keep = time.monotonic() + KEEP_SCHEDULED_EVERY_S
            try:
                for job_id in keep_scheduled(self.connection, self.chains):
                    self.log.warning("Worker %s: %s had no next run; scheduled", self.name, job_id)
            except RedisError:
                # Redis is away: the worker's own loop waits for it; look again soon.
                self._next_keep = time.monotonic() + SCHEDULER_RETRY_S
        super().run_maintenance_tasks()

    def _scheduler_due(self) -> bool:
        """Whether this worker should start its scheduler: it died, or it never started because
        the locks were held by a scheduler that has since died or let them go."""
        if self.scheduler is None or time.monotonic() < self._next_scheduler_try:
            return False
        process = self.scheduler._process
        if process is not None and process.is_alive():
            return False
        self._next_scheduler_try = time.monotonic() + SCHEDULER_RETRY_S
        try:
            # A scheduler killed on this host holds its locks a minute more: free them now.
            release_dead_schedulers(self.connection, _alive)
            locks = [RQScheduler.get_locking_key(name) for name in QUEUE_NAMES]
            if process is None and all(self.connection.get(key) for key in locks):
                return False  # another worker's scheduler runs
        except RedisError:
            # Redis is away again: the worker's own loop waits for it; look next time.
            return False
        self.log.warning("Worker %s: no scheduler running; starting one", self.name)
        return True

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", **more):
        """Record a failure as RQ does, with the numbers in its traceback masked.

        RQ keeps a failed job's traceback in Redis for a year; an error from Twilio may quote
        the number it could not call.
        """
        return super().handle_job_failure(
            job, queue, started_job_registry, exc_string=mask_text(exc_string), **more
        )


def run(redis_url: str, *, burst: bool = False, chains: tuple[Chain, ...] = ()) -> bool:
    """Run a worker with the scheduler until stopped (or until the queues are empty in burst),
    keeping the chains scheduled."""
    redis = redis_client(redis_url)
    worker = HotlineWorker(queues(redis), connection=redis, worker_ttl=WORKER_TTL_S)
    worker.chains = chains
    return worker.work(with_scheduler=True, burst=burst)


def registered_pids(redis: Redis) -> set[int]:
    """The process ids of the workers registered on a Redis (a worker registers as it starts)."""
    return {worker.pid for worker in Worker.all(connection=redis) if worker.pid}


def release_dead_schedulers(redis: Redis, alive: Callable[[int], bool]) -> list[str]:
    """Free the queues whose scheduler lock is held by a scheduler process on this host that died.

    A worker killed outright leaves its scheduler's locks for a minute, and a new worker that
    finds them taken does not try again until its ten-minute maintenance: delayed jobs (sweeps,
    callbacks) would wait that long. Returns the queues freed.
    """
    freed = []
    for name in QUEUE_NAMES:
        key = RQScheduler.get_locking_key(name)
        owner = redis.get(key)
        if owner is None:
            continue
        try:
            scheduler = RQScheduler.fetch(owner.decode(), redis)
        except SchedulerNotFound:
            continue
        if scheduler.hostname != socket.gethostname() or alive(scheduler.pid):
            continue
        if release_lock(redis, key, owner.decode()):
            freed.append(name)
    return freed


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
