"""Standing conditions: raised once with one page to supervisors, shown in /healthz and the
alert feed, cleared when the promise holds again."""

from __future__ import annotations

import pytest

from queues import keys
from queues.alerts import recent_alerts
from queues.conditions import REPAGE_AFTER_S, Conditions
from tests.fixtures.crisis import import_roster, messages, run_jobs

pytestmark = pytest.mark.redis


def test_a_condition_pages_supervisors_once_however_often_it_is_raised(
    app, redis, clock, hotline_config, jobs_runtime, rig
):
    import_roster(redis, clock, hotline_config)
    now = clock().timestamp()
    conditions = Conditions(redis)

    assert conditions.raise_condition("carrier_unreachable", "3 REST failures in a row", now)
    assert not conditions.raise_condition("carrier_unreachable", "9 REST failures", now + 60)
    run_jobs(redis)

    sent = messages(rig)
    assert [m["to"] for m in sent] == ["+8613900000301"]
    assert "carrier_unreachable" in sent[0]["body"]
    assert "3 REST failures" in sent[0]["body"]
    (active,) = conditions.active()
    assert (active.name, active.detail, active.since) == (
        "carrier_unreachable",
        "9 REST failures",
        now,
    )
    (alert,) = recent_alerts(redis)
    assert alert["trigger"] == "condition-carrier_unreachable"
    feed = app.test_client()
    health = feed.get("/healthz").get_json()
    assert health["status"] == "attention"
    assert [c["name"] for c in health["conditions"]] == ["carrier_unreachable"]


def test_clearing_ends_the_condition_and_a_quick_return_does_not_page_again(
    app, redis, clock, hotline_config, jobs_runtime, rig
):
    import_roster(redis, clock, hotline_config)
    now = clock().timestamp()
    conditions = Conditions(redis)
    conditions.raise_condition("carrier_unreachable", "down", now)
    run_jobs(redis)

    assert conditions.clear("carrier_unreachable", now + 30)
    assert not conditions.clear("carrier_unreachable", now + 31)
    assert conditions.active() == []
    assert app.test_client().get("/healthz").get_json()["status"] == "ok"
    kinds = [e[1][b"kind"] for e in redis.xrange(keys.events())]
    assert b"condition-cleared" in kinds

    # Back within the re-page window: recorded and shown, but no second SMS.
    assert conditions.raise_condition("carrier_unreachable", "down again", now + 60)
    run_jobs(redis)
    assert len(messages(rig)) == 1
    assert redis.ttl(keys.condition_paged("carrier_unreachable")) <= REPAGE_AFTER_S
    assert [c.name for c in conditions.active()] == ["carrier_unreachable"]
