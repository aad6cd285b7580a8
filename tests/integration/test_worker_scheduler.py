"""The worker's scheduler outlives a Redis restart: RQ's scheduler process dies when Redis goes
away, and RQ only looks for it again in a ten-minute maintenance, so the sweep (wrap-up ends,
offer timeouts, leg checks), ring retries and callbacks would all stop that long. The hotline's
worker starts it again within seconds of Redis answering."""

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

import pytest
import redis as redis_lib
from rq import Queue
from rq.job import Job

from queues.embedded import EmbeddedRedis, _alive
from queues.worker import registered_pids
from tests.fixtures.app import REPO
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

# The worker's imports and start on a busy 2-core machine, and Redis's restart.
START_DEADLINE_S = 30.0
# From Redis answering again to a job scheduled for one second later having run: RQ's own
# maintenance would take ten minutes.
SCHEDULED_DEADLINE_S = 20.0
OUTAGE_S = 3.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, to stop and start under the worker; never left running."""
    embedded = EmbeddedRedis(tmp_path / "redis")
    embedded.url = embedded.start()
    yield embedded
    pid = embedded.pid
    embedded.stop()
    assert pid is None or not _alive(pid), "embedded redis-server left running"


def start_worker(url: str) -> subprocess.Popen:
    """Start the hotline's worker, with its scheduler, and wait until it has registered."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("REDIS_")}
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen(
        [sys.executable, "-c", f"from queues.worker import run; run({url!r})"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
def worker(server: EmbeddedRedis) -> Iterator[subprocess.Popen]:
    """The hotline's worker on that Redis."""
    process = start_worker(server.url)
    yield process
    kill(process)


def scheduled_job_runs(url: str) -> Job:
    """Schedule a job a second from now and return it once it has run."""
    client = redis_lib.Redis.from_url(url)
    job = Queue("default", connection=client).enqueue_in(timedelta(seconds=1), os.getpid)
    return poll(
        lambda: job.get_status(refresh=True) == "finished" and job,
        SCHEDULED_DEADLINE_S,
        "the scheduled job to run",
    )


def test_scheduled_jobs_run_again_soon_after_redis_restarts(server, worker) -> None:
    scheduled_job_runs(server.url)

    server.stop()
    # Down for a few of the scheduler's heartbeats (one a second), as in a real restart.
    time.sleep(OUTAGE_S)
    server.url = server.start()

    # RQ's scheduler died with the connection; the worker itself reconnects and carries on.
    scheduled_job_runs(server.url)
    assert worker.poll() is None


def test_a_worker_started_after_one_was_killed_schedules_at_once(server, worker) -> None:
    scheduled_job_runs(server.url)
    # Killed outright, as a crash or the OOM killer would: its scheduler's locks stay behind,
    # held by a process that no longer exists, and nobody frees them for the next worker.
    kill(worker)
    after = start_worker(server.url)
    try:
        scheduled_job_runs(server.url)
    finally:
        kill(after)
