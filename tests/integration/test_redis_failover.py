"""Redis with Sentinel: the app's one client follows a failover, and the routing script with it.

A real primary, replica and three Sentinels (tests/fixtures/sentinels.py); the app is built on
a redis+sentinel REDIS_URL; the primary is killed outright; once the Sentinels have promoted
the replica, the same client, the same routing script object, runs the next operation there,
and a worker started on the same URL runs a scheduled job through RQ and its scheduler.
The promoted replica's script cache is emptied first: a replica restarted since the script was
loaded has none, so the operation meets NOSCRIPT and must load the script itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.sentinel import SentinelConnectionPool
from rq import Queue
from rq.job import JobStatus

from queues import keys, runtime, worker
from routing.roster import parse_roster
from tests.fixtures.app import OPEN_TIME, Clock
from tests.fixtures.rosters import COVERED
from tests.fixtures.sentinels import SentinelGroup, direct

# Sentinels call the primary down after 0.5 s, then agree and promote: about 2 s here; a split
# vote is tried again after twice the failover timeout (4 s), so the deadline allows for one.
FAILOVER_DEADLINE_S = 15.0


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A primary, a replica and three Sentinels, stopped after the test."""
    started = SentinelGroup(tmp_path / "redis")
    try:
        started.start()
        yield started
    finally:
        started.stop()


def test_the_apps_client_follows_a_failover_and_reloads_the_routing_script(
    group, app_env, hotline_config
):
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", group.url)
    app = create_app({"TESTING": True, "CLOCK": Clock(OPEN_TIME), "HOTLINE": hotline_config})
    rt = runtime.of(app)
    assert isinstance(rt.redis.connection_pool, SentinelConnectionPool)
    config = rt.config
    board = rt.routing.board
    now = OPEN_TIME.timestamp()
    roster = parse_roster(
        COVERED, source="roster.yaml", area_ids=config.areas, languages=config.languages
    )
    board.import_roster(roster, now)
    assert board.get("c1").presence == "offline"
    # The import ran on the primary and reached the replica.
    with direct(group.replica.port) as replica:
        assert _replicated(group, replica, keys.agent("c1"))
        replica.script_flush()
        assert replica.script_exists(rt.script.sha) == [False]

    group.primary.kill()
    group.wait_promoted(group.replica, FAILOVER_DEADLINE_S)

    # The same client and script object: the next operation and the next write succeed.
    change = board.set_presence("c1", "available", now + 1)
    assert (change.before, change.after) == ("offline", "available")
    rt.redis.set(keys.health_probe(), "after-failover")
    with direct(group.replica.port) as promoted:
        assert promoted.hget(keys.agent("c1"), "presence") == b"available"
        assert promoted.get(keys.health_probe()) == b"after-failover"
        assert promoted.script_exists(rt.script.sha) == [True]

    # RQ alike: a job scheduled through the app's client is moved on by the worker's scheduler
    # (which rebuilds its own connection from the client's pool settings) and run by the worker.
    job = Queue("default", connection=rt.redis).enqueue_in(timedelta(0), "builtins.len", "abc")
    assert worker.run(group.url, burst=True)
    job.refresh()
    assert (job.get_status(), job.return_value()) == (JobStatus.FINISHED, 3)


def _replicated(group: SentinelGroup, replica, key: str) -> bool:
    """Wait (briefly) for the primary's writes to reach the replica; WAIT says when they have."""
    with direct(group.primary.port) as primary:
        primary.execute_command("WAIT", 1, 2000)
    return bool(replica.exists(key))
