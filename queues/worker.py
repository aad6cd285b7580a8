"""The RQ worker: listens to the hotline's queues in order of urgency, with the scheduler on.

Jobs run in the worker's own process (`SimpleWorker`) rather than in a fork per job. Every
job here is a short, I/O-bound step (a REST call, a Redis script, a page) whose job timeout
RQ still enforces in-process; a fork per job cost about 30 ms on the 2-core machine, on the
path from an agent freeing up to their phone ringing and from a crisis trigger to the pages.
A worker that dies mid-job is restarted by the platform running the Procfile; the routing
sweep and the voicemail jobs' idempotence repair what the job left half-done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout
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
# Redis gone away or not answering in time. RQ's loop waits for Redis only while it waits for a
# job; anywhere else (the suspension check after a job, its maintenance, a job's bookkeeping)
# it quits on these, and a Redis restart at that instant would take the worker down with it.
REDIS_AWAY = (RedisConnectionError, RedisTimeout)
# A scheduler process alive but silent this long (it beats every second) is stuck, on a lock
# its fork copied held or a socket that never answers: the worker kills it and starts another.
SCHEDULER_STALL_S = 10.0
# How often the worker reads its scheduler's heartbeat (one read a look).
STALL_LOOK_EVERY_S = 2.0
# Looks further apart than this (Redis was away, or a long job ran) start the count of silence
# again: the scheduler could not beat while Redis was away, and the worker was not watching.
STALL_LOOK_GAP_S = 12.0
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
    # The scheduler's last heartbeat seen, and since when on the worker's clock.
    _beat: tuple[int, bytes | None] | None = None
    _silent_since = 0.0
    _last_look = 0.0
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
        try:
            super().run_maintenance_tasks()
        except REDIS_AWAY as error:
            # The scheduler's start is tried again after SCHEDULER_RETRY_S, the registries'
            # cleaning at the next maintenance.
            self.log.warning("Worker %s: maintenance put off, Redis away (%s)", self.name, error)

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check for `rq suspend`, passed over while Redis is away: the wait for the next
        job that follows waits for Redis."""
        try:
            super().check_for_suspension(burst)
        except REDIS_AWAY as error:
            self.log.warning("Worker %s: Redis away (%s); waiting for it", self.name, error)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; one missed while Redis is away is let go (the registration lasts
        WORKER_TTL_S and more)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
        else:
            self._unless_away("heartbeat", super().heartbeat, timeout)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's record of what the worker does (idle, busy); one missed while Redis is away is
        let go, as a heartbeat is."""
        if pipeline is not None:
            super().set_state(state, pipeline)
        else:
            self._unless_away(f"state {state}", super().set_state, state)

    def _unless_away(self, what: str, write: Callable[..., None], *args: Any) -> None:
        """Make one of RQ's own writes, letting it go while Redis is away: RQ makes them just
        before its wait for a job, which waits for Redis and says so at ERROR each try."""
        try:
            write(*args)
        except REDIS_AWAY as error:
            self.log.debug("Worker %s: %s not recorded, Redis away (%s)", self.name, what, error)

    def execute_job(self, job: Any, queue: Queue) -> None:
        """Run a job in this process; if Redis goes away during its bookkeeping, the worker
        lives on and RQ's registry cleaning settles the job (the hotline's jobs may run again)."""
        try:
            super().execute_job(job, queue)
        except REDIS_AWAY as error:
            self.log.error(
                "Worker %s: Redis went away around job %s (%s); carrying on",
                self.name,
                job.id,
                error,
            )

    def _scheduler_due(self) -> bool:
        """Whether this worker should start its scheduler: it died, it was stuck and has just been
        killed, or it never started because the locks were held by a scheduler that has since
        died or let them go."""
        if self.scheduler is None or time.monotonic() < self._next_scheduler_try:
            return False
        process = self.scheduler._process
        if process is not None and process.is_alive():
            if not self._scheduler_stalled(process.pid):
                return False
            self.log.error(
                "Worker %s: scheduler (PID %s) gave no heartbeat for %.0f s; killing it",
                self.name,
                process.pid,
                time.monotonic() - self._silent_since,
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            # Reaped, so it reads as dead below (a process in an uninterruptible wait may
            # outlast this; it is then seen dead at a later look).
            process.join(5.0)
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

    def _scheduler_stalled(self, pid: int) -> bool:
        """Whether the scheduler process `pid` has written no heartbeat for SCHEDULER_STALL_S
        while the worker watched."""
        now = time.monotonic()
        if now - self._last_look < STALL_LOOK_EVERY_S:
            return False
        watched = now - self._last_look <= STALL_LOOK_GAP_S
        self._last_look = now
        try:
            beat = (pid, self.connection.hget(self.scheduler.key, "last_heartbeat"))
        except RedisError:
            self._beat = None
            return False
        if beat != self._beat or not watched:
            self._beat, self._silent_since = beat, now
            return False
        return now - self._silent_since >= SCHEDULER_STALL_S

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
