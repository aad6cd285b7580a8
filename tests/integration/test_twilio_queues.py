"""Each area's Twilio queue SID, kept in Redis for taking a waiting caller out of the queue:
made and noted by the worker's set-up, reported by the waitUrl polls, or found in Twilio's
listing; an area whose queue Twilio does not have has no SID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from queues import carrier_setup, keys, runtime
from tests.fixtures.dispatch import job_urls

pytestmark = pytest.mark.redis


@pytest.fixture
def rt(redis, rig, clock, hotline_config) -> Iterator[runtime.Runtime]:
    """The jobs' runtime, with the local stand-in as Twilio."""
    current = runtime.Runtime(
        redis, rig.gateway, hotline_config, rig.app_url, clock, webhooks=job_urls(rig.app_url)
    )
    runtime.install(lambda: current)
    yield current
    runtime.install(None)


def noted(rt: runtime.Runtime) -> dict[str, str]:
    """The SIDs Redis holds, by area."""
    found = rt.redis.hgetall(keys.twilio_queues())
    return {area.decode(): sid.decode() for area, sid in found.items()}


def test_the_set_up_notes_every_area_s_queue(rt: runtime.Runtime) -> None:
    made = carrier_setup.set_up_queues()

    assert sorted(made) == sorted(rt.config.areas)
    assert noted(rt) == made
    at_twilio = {q.friendly_name: q.sid for q in rt.gateway.list_queues()}
    assert all(carrier_setup.queue_sid(rt, area) == at_twilio[area] for area in made)


def test_without_a_note_the_listing_finds_the_queue_and_notes_it(rt: runtime.Runtime) -> None:
    labor = rt.gateway.ensure_queue("labor", 10)
    rt.gateway.ensure_queue("somebody-elses-queue", 10)

    assert carrier_setup.queue_sid(rt, "labor") == labor
    # Only the hotline's own areas are kept.
    assert noted(rt) == {"labor": labor}
    # Twilio has no family queue yet: nobody can be waiting in one.
    assert carrier_setup.queue_sid(rt, "family") is None


def test_a_poll_s_queue_sid_is_written_once_and_replaces_a_stale_one(
    rt: runtime.Runtime,
) -> None:
    rt.redis.hset(keys.twilio_queues(), "labor", "QU" + "0" * 32)
    fresh = "QU" + "1" * 32

    carrier_setup.note_queue(rt, "labor", fresh)
    assert carrier_setup.queue_sid(rt, "labor") == fresh
    # The next polls of this process write nothing: a value put there since stays.
    rt.redis.hset(keys.twilio_queues(), "labor", "QU" + "2" * 32)
    carrier_setup.note_queue(rt, "labor", fresh)
    assert noted(rt)["labor"] == "QU" + "2" * 32
    # A poll without a SID (not from a queue) changes nothing.
    carrier_setup.note_queue(rt, "family", "")
    assert "family" not in noted(rt)
