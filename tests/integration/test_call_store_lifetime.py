"""A call's record always expires: facts learned late never leave a record kept forever."""

from __future__ import annotations

import pytest

from queues import keys
from queues.calls import CALL_TTL_S, CallStore

pytestmark = pytest.mark.redis

CALL = "CA" + "5" * 32


def test_a_fact_learned_after_the_record_expired_makes_a_record_that_expires(redis):
    store = CallStore(redis)
    assert not redis.exists(keys.call(CALL))  # expired, or never seen by this hotline
    store.update(CALL, language="en")
    assert redis.hget(keys.call(CALL), "language") == b"en"
    assert 0 < redis.ttl(keys.call(CALL)) <= CALL_TTL_S


def test_a_fact_learned_starts_the_records_lifetime_again(redis):
    store = CallStore(redis)
    store.start(CALL, "+8613812345678")
    redis.expire(keys.call(CALL), 60)
    pipe = redis.pipeline()
    store.update(CALL, pipeline=pipe, area="labor")
    assert redis.ttl(keys.call(CALL)) <= 60  # queued on the caller's pipeline: not yet sent
    pipe.execute()
    assert store.get(CALL).area == "labor"
    assert 60 < redis.ttl(keys.call(CALL)) <= CALL_TTL_S


def test_no_facts_write_nothing(redis):
    CallStore(redis).update(CALL, area=None)
    assert not redis.exists(keys.call(CALL))
