"""The worker and its scheduler outlive a Redis restart and a stuck scheduler.

RQ's scheduler process dies when Redis goes away, and RQ only looks for it again in a
ten-minute maintenance, so the sweep (wrap-up ends, offer timeouts, leg checks), ring retries
and callbacks would all stop that long. The hotline's worker starts it again within seconds of
Redis answering, kills and replaces one that is alive but silent, and does not quit when Redis
goes away while it is between jobs (RQ's own loop quits there)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from rq import Queue
from rq.job import Job
from rq.scheduler import RQScheduler

from queues.embedded import EmbeddedRedis, _alive
from queues.worker import SCHEDULER_STALL_S, registered_pids
from tests.fixtures.app import REPO
from tests.fixtures.jobs import shut_redis_down
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

# The worker's imports and start on a busy 2-core machine, and Redis's restart.
START_DEADLINE_S = 30.0
# From Redis answering again to a job scheduled for one second later having run: RQ's own
# maintenance would take ten minutes.
SCHEDULED_DEADLINE_S = 30.0
OUTAGE_S = 3.0
# A stuck scheduler is killed after SCHEDULER_STALL_S of silence, seen at the idle worker's
# looks (one each 5 s wait for a job), then replaced.
STALL_DEADLINE_S = SCHEDULER_STALL_S + 20.0
# From the job's shutdown to Redis's process having exited.
STOP_DEADLINE_S = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, to stop and start under the worker; never left running."""
    embedded = EmbeddedRedis(tmp_path / "redis")
    embedded.url = embedded.start()
    yield embedded
    pid = embedded.pid
    embedded.stop()
    assert pid is None or not _alive(pid), "embedded redis-server left running"


def start_worker(url: str, log: Path) -> subprocess.Popen:
    """Start the hotline's worker, with its scheduler, and wait until it has registered; what
    it prints goes to log."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("REDIS_")}
    env["PYTHONPATH"] = str(REPO)
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", f"from queues.worker import run; run({url!r})"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = redis_lib.Redis.from_url(url)
    try:
        poll(lambda: process.pid in registered_pids(client), START_DEADLINE_S, "the worker")
    except AssertionError:
        kill(process)
        raise
    return process


def kill(process: subprocess.Popen) -> None:
    """Kill a worker outright with its scheduler process, which shares its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Where the test's workers write their log, shown when a wait fails."""
    return tmp_path / "worker.log"


@pytest.fixture
def worker(server: EmbeddedRedis, log: Path) -> Iterator[subprocess.Popen]:
    """The hotline's worker on that Redis."""
    process = start_worker(server.url, log)
    yield process
    kill(process)


def scheduled_job_runs(url: str, log: Path, deadline_s: float = SCHEDULED_DEADLINE_S) -> Job:
    """Schedule a job a second from now and return it once it has run."""
    client = redis_lib.Redis.from_url(url)
    job = Queue("default", connection=client).enqueue_in(timedelta(seconds=1), os.getpid)
    return poll_with_log(
        lambda: job.get_status(refresh=True) == "finished" and job,
        deadline_s,
        "the scheduled job to run",
        log,
    )


def poll_with_log(check: Any, deadline_s: float, what: str, log: Path) -> Any:
    """poll, failing with the end of the workers' log: what they did is the story."""
    try:
        return poll(check, deadline_s, what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{log_tail(log)}") from None


def log_tail(log: Path, lines: int = 60) -> str:
    """The end of the workers' log, for a failure's message."""
    kept = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
    return "\n".join(["worker log:", *kept])


def scheduler_pid(client: redis_lib.Redis) -> int:
    """The process id of the scheduler holding the default queue's lock."""
    owner = client.get(RQScheduler.get_locking_key("default"))
    assert owner is not None, "no scheduler holds the default queue"
    return RQScheduler.fetch(owner.decode(), client).pid


def test_scheduled_jobs_run_again_soon_after_redis_restarts(server, worker, log) -> None:
    scheduled_job_runs(server.url, log)

    server.stop()
    # Down for a few of the scheduler's heartbeats (one a second), as in a real restart.
    time.sleep(OUTAGE_S)
    server.url = server.start()

    # RQ's scheduler died with the connection; the worker itself reconnects and carries on.
    scheduled_job_runs(server.url, log)
    assert worker.poll() is None


def test_a_worker_outlives_redis_going_away_as_a_job_ends(server, worker, log) -> None:
    client = redis_lib.Redis.from_url(server.url)
    # The job stops Redis itself, so it is gone exactly when RQ records the job's end and then
    # checks for `rq suspend`: RQ's own loop quits on that error.
    Queue("default", connection=client).enqueue(shut_redis_down, server.url)
    poll(lambda: server.process.poll() is not None, STOP_DEADLINE_S, "Redis to stop")
    # Down a few seconds, as in a real restart: the worker goes on from the job (its record,
    # a heartbeat, the suspension check, its state) to the wait for the next, and RQ's own
    # loop quits at the first of those that finds Redis gone.
    time.sleep(OUTAGE_S)
    assert worker.poll() is None, f"the worker quit when Redis went away\n{log_tail(log)}"

    server.stop()
    server.url = server.start()
    scheduled_job_runs(server.url, log)
    assert worker.poll() is None


def test_a_scheduler_alive_but_silent_is_killed_and_replaced(server, worker, log) -> None:
    client = redis_lib.Redis.from_url(server.url)
    scheduled_job_runs(server.url, log)
    stuck = scheduler_pid(client)
    # Stopped, it stays alive and holds the locks but schedules nothing: as one hung on a lock
    # its fork copied held, or on a socket that never answers.
    os.kill(stuck, signal.SIGSTOP)

    scheduled_job_runs(server.url, log, STALL_DEADLINE_S)
    assert not _alive(stuck), "the stuck scheduler was left running"
    assert scheduler_pid(client) != stuck
    assert worker.poll() is None


def test_a_worker_started_after_one_was_killed_schedules_at_once(server, worker, log) -> None:
    scheduled_job_runs(server.url, log)
    # Killed outright, as a crash or the OOM killer would: its scheduler's locks stay behind,
    # held by a process that no longer exists, and nobody frees them for the next worker.
    kill(worker)
    after = start_worker(server.url, log)
    try:
        scheduled_job_runs(server.url, log)
    finally:
        kill(after)
