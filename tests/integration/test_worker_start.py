"""A worker starting up takes crisis pages first: setting up Twilio's queues (a listing that can
run to many pages on a busy account) waits behind them, as a job of its own."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from rq.exceptions import NoSuchJobError
from rq.job import Job

from queues import keys
from queues.alerts import raise_alert
from queues.carrier_setup import SETUP_JOB_ID
from tests.fixtures.app import REPO
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, HOTLINE, Rig, build_rig
from tests.fixtures.crisis import ROSTER, import_roster, messages
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

CALL = "CA" + "9" * 32
# Other queues on the Twilio account: 120 pages of Twilio's default 50, each listed in turn
# before the worker took its first job when the set-up ran first.
OTHER_QUEUES = 6000
# From starting the process: its imports and the app take a few seconds on a busy machine;
# listing every page for every area took over a minute here.
PAGE_DEADLINE_S = 25.0


@pytest.fixture
def rig() -> Iterator[Rig]:
    """The carrier, as Twilio, with an account holding thousands of other queues."""
    for built in build_rig():
        for index in range(OTHER_QUEUES):
            built.hub.network.add_queue(f"other-{index:05d}", 10)
        yield built


def worker_env(redis_url: str, rig: Rig, tmp_path) -> dict[str, str]:
    """The environment of `hotline worker` against the test's Redis and the carrier."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "REDIS_")) and name != "PUBLIC_BASE_URL"
    }
    env.update(
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=rig.carrier_url,
        HOTLINE_NUMBER=HOTLINE,
        HOTLINE_VAR_DIR=str(tmp_path / "var"),
        HOTLINE_SECRET_KEY="test-secret",
        VOICEMAIL_KEY=base64.b64encode(b"k" * 32).decode(),
    )
    return env


def finished(redis, job_id: str) -> bool:
    """Tell whether a job (queued by the worker itself, perhaps not yet) has finished."""
    try:
        return Job.fetch(job_id, connection=redis).get_status() == "finished"
    except NoSuchJobError:
        return False


def queue_listings(rig: Rig) -> int:
    """How many pages of the account's queues were asked for."""
    with rig.hub.network.cond:
        return sum(
            1
            for e in rig.hub.network.exchanges
            if e["method"] == "GET" and e["path"].endswith("/Queues.json")
        )


def test_a_crisis_page_queued_before_the_worker_starts_goes_out_before_queue_set_up(
    redis, redis_url, rig: Rig, clock, hotline_config, tmp_path
) -> None:
    # The worker pages on the real clock: only s1 is on call in this roster, whatever the hour
    # (s2's Sunday hour would bring them in too).
    s2 = next(line for line in ROSTER.splitlines() if "id: s2" in line)
    import_roster(redis, clock, hotline_config, ROSTER.replace(s2 + "\n", ""))
    raise_alert(redis, CALL, trigger="danger_key", language="zh", now=clock().timestamp())

    started = time.monotonic()
    worker = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "worker", "--burst"],
        cwd=REPO,
        env=worker_env(redis_url, rig, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = f"crisis-page-{CALL}"
        poll(lambda: finished(redis, page), PAGE_DEADLINE_S, "the crisis page")
        paged_after = time.monotonic() - started
        assert [m["to"] for m in messages(rig)] == ["+8613900000301"]
        assert redis.hget(keys.crisis_alert(CALL), "state") == b"paged"

        # Then the set-up: one page of the account's queues, and each area's queue made.
        poll(lambda: finished(redis, SETUP_JOB_ID), PAGE_DEADLINE_S, "the queue set-up")
        assert queue_listings(rig) == 1
        with rig.hub.network.cond:
            names = {queue.friendly_name for queue in rig.hub.network.queues.values()}
        assert set(hotline_config.areas) <= names
        assert paged_after < PAGE_DEADLINE_S
    finally:
        worker.terminate()
        worker.wait(30)
