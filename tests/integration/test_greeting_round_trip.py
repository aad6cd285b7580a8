"""The greeting reaches Redis once: screening's reads and the call's whole start in one trip."""

from __future__ import annotations

import json

import pytest
from redis.connection import AbstractConnection

from queues import events, keys
from queues.blocklist import Blocklist
from queues.calls import CALL_TTL_S, CallStore
from queues.sealing import unkeyed_digest
from tests.fixtures.app import OPEN_TIME
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALLER = "+8613812345678"
CALL = "CA" + "7" * 32


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what the app's Redis clients send: one count per round trip (a pipeline is one)."""
    sent: list[int] = []
    original = AbstractConnection.send_packed_command

    def counting(connection, command, check_health=True):
        sent.append(1)
        return original(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


def incoming_events(redis) -> list[dict[str, str]]:
    """The stream's `incoming` events, oldest first."""
    return [e for e in reversed(events.recent(redis)) if e["kind"] == "incoming"]


def test_a_greeting_is_one_round_trip_and_starts_the_record(app, twilio, redis, round_trips):
    twilio.post("/voice", {"CallSid": "CA" + "6" * 32})  # the process's first connection
    round_trips.clear()
    doc = Doc.parse(twilio.post("/voice", {"CallSid": CALL, "From": CALLER}))
    assert doc.first("Gather").get("action") == "/voice/language?t=1"
    assert len(round_trips) == 1
    record = CallStore(redis).get(CALL)
    assert record is not None and record.caller == CALLER
    # The number is kept sealed, the record expires, and the arrival is in the stream.
    assert CALLER.encode() not in redis.hget(keys.call(CALL), "caller")
    assert 0 < redis.ttl(keys.call(CALL)) <= CALL_TTL_S
    assert [e["call"] for e in incoming_events(redis)][-1] == CALL


def test_a_repeated_greeting_keeps_the_first_start_and_one_event(app, twilio, redis):
    twilio.post("/voice", {"CallSid": CALL, "From": CALLER})
    started = redis.hget(keys.call(CALL), "started_at")
    redis.expire(keys.call(CALL), 60)
    doc = Doc.parse(twilio.post("/voice", {"CallSid": CALL, "From": "+8613800000009"}))
    assert doc.first("Gather") is not None
    assert redis.hget(keys.call(CALL), "started_at") == started
    assert CallStore(redis).get(CALL).caller == CALLER
    assert redis.ttl(keys.call(CALL)) <= 60  # a repeat writes nothing, lifetime included
    assert [e["call"] for e in incoming_events(redis)] == [CALL]


def test_a_blocked_callers_call_is_recorded_in_the_same_trip(app, twilio, redis, round_trips):
    Blocklist(redis).add(CALLER, by="sup1", now=OPEN_TIME.timestamp())
    twilio.post("/voice", {"CallSid": "CA" + "6" * 32, "From": "+8613800000001"})
    round_trips.clear()
    doc = Doc.parse(twilio.post("/voice", {"CallSid": CALL, "From": CALLER}))
    assert doc.verbs() == ["Gather", "Hangup"]
    assert len(round_trips) == 1
    assert CallStore(redis).get(CALL).caller == CALLER
    assert [e["call"] for e in incoming_events(redis)][-1] == CALL


def test_start_outside_a_greeting_records_once(redis):
    store = CallStore(redis)
    assert store.start(CALL, CALLER)
    assert not store.start(CALL, "+8613800000009")
    assert store.get(CALL).caller == CALLER
    assert len(incoming_events(redis)) == 1


def test_an_entry_from_before_keyed_digests_still_blocks_and_moves(app, twilio, redis):
    old = unkeyed_digest(CALLER)
    redis.sadd(keys.blocklist(), old)
    redis.hset(keys.blocklist_entries(), old, json.dumps({"masked": "+86*******5678", "by": "s"}))
    doc = Doc.parse(twilio.post("/voice", {"CallSid": CALL, "From": CALLER}))
    assert doc.verbs() == ["Gather", "Hangup"]
    with app.app_context():
        keyed = Blocklist(redis).sealer.digest(CALLER)
    assert redis.smembers(keys.blocklist()) == {keyed.encode()}
    assert json.loads(redis.hget(keys.blocklist_entries(), keyed))["keyed"] == 1
    # Once moved, the number is found under its keyed digest alone.
    assert Doc.parse(twilio.post("/voice", {"From": CALLER})).verbs() == ["Gather", "Hangup"]
