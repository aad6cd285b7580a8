"""A live call's assist feed: sealed at rest, read in order, tailed after an id, erased."""

from __future__ import annotations

import pytest

from queues import keys, live_assist


def test_events_read_back_in_order_and_tail_after_an_id(redis) -> None:
    first = live_assist.publish(redis, "CA1", "level", {"level": 2, "t": 2.0})
    live_assist.publish(redis, "CA1", "line", {"track": "caller", "text": "老板欠我三个月工资"})
    events = live_assist.read(redis, "CA1")
    assert [(e.kind, e.data) for e in events] == [
        ("level", {"level": 2, "t": 2.0}),
        ("line", {"track": "caller", "text": "老板欠我三个月工资"}),
    ]
    assert events[0].id == first
    assert [e.kind for e in live_assist.read(redis, "CA1", after=first)] == ["line"]
    # Nothing after the last event, and no waiting when not asked to.
    assert live_assist.read(redis, "CA1", after=events[-1].id) == []


def test_words_are_sealed_at_rest_and_bound_to_their_call(redis) -> None:
    live_assist.publish(redis, "CA2", "line", {"text": "我想从楼上跳下去"})
    raw = redis.xrange(keys.live_call("CA2"))
    stored = b"".join(v for _, fields in raw for v in fields.values())
    assert "跳下去".encode() not in stored
    assert redis.ttl(keys.live_call("CA2")) > 0
    # The same sealed entry copied onto another call's feed does not open there.
    ((_, fields),) = raw
    redis.xadd(keys.live_call("CA3"), fields)
    assert live_assist.read(redis, "CA3")[0].data == {}


def test_erase_drops_the_feed_and_unknown_kinds_are_refused(redis) -> None:
    live_assist.publish(redis, "CA4", "ended", {})
    assert live_assist.erase(redis, "CA4") == 1
    assert live_assist.read(redis, "CA4") == []
    with pytest.raises(ValueError):
        live_assist.publish(redis, "CA4", "gossip", {})
