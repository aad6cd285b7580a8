"""Calls' starts written behind their greetings (`queues.call_starts`): each start written once
with the greeting's time, many in a round trip, kept while Redis fails, dropped loudly past the
limit, started first by a status callback that beats the writer, and written on stop and in a
forked web worker."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.retry import Retry

from queues import keys, runtime
from queues.call_starts import StartWriter
from queues.calls import CALL_TTL_S, CallStore
from queues.screening_copy import ScreeningCopy
from tests.fixtures.app import Twilio, closed_port, greeting_from_memory_app
from tests.fixtures.forks import in_forked_child
from tests.fixtures.twiml import Doc
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

CALLER = "+8613812345678"
OTHER = "+8613800000009"
CALL = "CA" + "7" * 32
# The threads a process runs for its greetings: the writer of starts and the screening copy.
THREAD_NAMES = ("call-starts", "screening-copy")


def sid(n: int) -> str:
    """A call's CallSid, one per n."""
    return f"CA{n:032d}"


def greeted_at() -> float:
    """A greeting's time half a minute ago, to the millisecond."""
    return round(time.time() - 30, 3)


def call_events(redis: Redis, call_sid: str) -> list[dict[str, str]]:
    """The call's events in the stream's order, oldest first."""
    return [
        {name.decode(): value.decode() for name, value in fields.items()}
        for _, fields in redis.xrange(keys.events())
        if fields.get(b"call") == call_sid.encode()
    ]


def kinds(redis: Redis, call_sid: str) -> list[str]:
    """The kinds of the call's events, oldest first."""
    return [event["kind"] for event in call_events(redis, call_sid)]


def greeting_threads() -> set[threading.Thread]:
    """The writer and screening-copy threads alive in this process now."""
    return {t for t in threading.enumerate() if t.name in THREAD_NAMES and t.is_alive()}


class Writers:
    """Writers and Redis clients a test makes; all stopped and closed at its end."""

    def __init__(self) -> None:
        self.made: list[StartWriter] = []
        self.clients: list[Redis] = []
        self.sockets: list[socket.socket] = []

    def writer(self, calls: CallStore, **options: int) -> StartWriter:
        """A writer of starts through `calls`."""
        made = StartWriter(calls, **options)
        self.made.append(made)
        return made

    def unreachable(self) -> Redis:
        """A client on a port nothing listens on: every command fails at once."""
        return self._client(closed_port())

    def silent(self) -> tuple[socket.socket, Redis]:
        """A port that takes connections and never answers, and a client on it."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(2.0)
        self.sockets.append(listener)
        return listener, self._client(listener.getsockname()[1], socket_timeout=5.0)

    def _client(self, port: int, socket_timeout: float = 1.0) -> Redis:
        client = Redis(
            host="127.0.0.1",
            port=port,
            # redis-py's own retries off: the writer's retrying is what is under test.
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=1.0,
            socket_timeout=socket_timeout,
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        """Stop every writer (writing what waits), then close the sockets and clients."""
        for made in self.made:
            made.stop(timeout=1.0)
        for opened in self.sockets:
            opened.close()
        for client in self.clients:
            client.close()


@pytest.fixture
def writers(redis: Redis) -> Iterator[Writers]:
    """Makes writers; at the end every one is stopped and no greeting thread it started lives."""
    before = greeting_threads()
    made = Writers()
    yield made
    made.close()
    assert greeting_threads() <= before, "a writer's or screening copy's thread outlived its test"


@pytest.fixture
def memory_app(app_env, redis, redis_url, clock, hotline_config, writers):
    """The hotline app greeting from its screening copy, its starts written behind the answer."""
    built = greeting_from_memory_app(app_env, redis_url, clock, hotline_config)
    serving = runtime.of(built)
    # A copy that pings its subscription every tenth of a second, so stopping it is quick.
    serving.screening_copy = ScreeningCopy(serving.redis, sealer=serving.sealer, ping_s=0.1)
    yield built
    serving.call_starts.stop(timeout=1.0)
    serving.screening_copy.stop(timeout=1.0)


@pytest.fixture
def round_trips(monkeypatch) -> list[str]:
    """What Redis clients send, one entry per round trip (a pipeline is one): the sending
    thread's name."""
    sent: list[str] = []
    original = AbstractConnection.send_packed_command

    def counting(connection, command, check_health=True):
        sent.append(threading.current_thread().name)
        return original(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


# -- written once, with the greeting's time ----------------------------------------------------


def test_a_start_is_written_with_the_greetings_time_and_sealed_number(redis, writers):
    store = CallStore(redis)
    writer = writers.writer(store)
    at = greeted_at()
    writer.submit(CALL, CALLER, at=at)
    assert writer.flush(2.0)

    assert redis.hget(keys.call(CALL), "started_at") == f"{at:.3f}".encode()
    assert store.get(CALL).caller == CALLER
    assert CALLER.encode() not in redis.hget(keys.call(CALL), "caller")
    assert 0 < redis.ttl(keys.call(CALL)) <= CALL_TTL_S
    assert call_events(redis, CALL) == [{"kind": "incoming", "at": f"{at:.3f}", "call": CALL}]
    assert writer.state() == {
        "waiting": 0,
        "written": 1,
        "lost": 0,
        "failures": 0,
        "last_error": "",
    }


def test_a_start_submitted_twice_writes_one_event_and_keeps_the_first(redis, writers):
    store = CallStore(redis)
    writer = writers.writer(store)
    first, repeat = greeted_at(), greeted_at() + 1.5
    writer.submit(CALL, CALLER, at=first)
    writer.submit(sid(2), OTHER, at=first)
    writer.submit(CALL, OTHER, at=repeat)
    assert writer.flush(2.0)

    assert [e["at"] for e in call_events(redis, CALL)] == [f"{first:.3f}"]
    assert redis.hget(keys.call(CALL), "started_at") == f"{first:.3f}".encode()
    assert store.get(CALL).caller == CALLER
    assert kinds(redis, sid(2)) == ["incoming"]
    assert store.get(sid(2)).caller == OTHER
    assert redis.xlen(keys.events()) == 2


# -- many starts a round trip ------------------------------------------------------------------


def test_three_hundred_starts_go_in_a_few_round_trips(redis, writers, round_trips):
    redis.ping()  # connected before counting: the writer's trips carry starts only
    writer = writers.writer(CallStore(redis))
    round_trips.clear()
    for n in range(300):
        writer.submit(sid(n), CALLER)
    assert writer.flush(2.0)

    trips = [name for name in round_trips if name == "call-starts"]
    assert 2 <= len(trips) <= 10, trips  # at most 200 a trip, and never one a start
    pipe = redis.pipeline(transaction=False)
    for n in range(300):
        pipe.exists(keys.call(sid(n)))
    assert pipe.execute() == [1] * 300
    assert redis.xlen(keys.events()) == 300
    assert writer.state()["written"] == 300


# -- Redis failing -----------------------------------------------------------------------------


def test_starts_wait_while_redis_fails_and_are_all_written_when_it_answers(redis, writers, caplog):
    caplog.set_level(logging.WARNING, logger="queues.call_starts")
    writer = writers.writer(CallStore(writers.unreachable()))
    calls = [sid(n) for n in range(5)]
    times = {call: greeted_at() + n for n, call in enumerate(calls)}
    for call in calls:
        writer.submit(call, CALLER, at=times[call])

    poll(lambda: writer.state()["failures"] >= 2, 2.0, "the writer to try twice and fail")
    state = writer.state()
    assert (state["waiting"], state["written"], state["lost"]) == (5, 0, 0)
    assert state["last_error"] == "ConnectionError"
    assert not writer.flush(0.1)
    assert redis.exists(*(keys.call(call) for call in calls)) == 0
    assert any("not written yet" in r.getMessage() for r in caplog.records)

    writer.calls = CallStore(redis)  # Redis answers again
    assert writer.flush(2.0)
    store = CallStore(redis)
    assert all(store.get(call).caller == CALLER for call in calls)
    # Written in the order the calls came, each with its own greeting's time.
    written = [e for _, e in redis.xrange(keys.events())]
    assert [e[b"call"].decode() for e in written] == calls
    assert [e[b"at"].decode() for e in written] == [f"{times[c]:.3f}" for c in calls]
    state = writer.state()
    assert (state["waiting"], state["written"], state["lost"]) == (0, 5, 0)
    assert state["failures"] >= 2 and state["last_error"] == ""


def test_past_the_limit_the_oldest_waiting_starts_are_lost_and_healthz_says_so(
    app, redis, writers, caplog
):
    listener, silent = writers.silent()
    writer = writers.writer(CallStore(silent), max_pending=3)
    runtime.of(app).call_starts = writer  # the app's process writes its starts with this one
    health = app.test_client()
    before = health.get("/healthz").get_json()
    assert before["status"] == "ok" and before["greeting"]["starts"]["lost"] == 0

    # The first start is on its way to a Redis that does not answer...
    writer.submit(sid(0), CALLER)
    connection, _ = listener.accept()
    try:
        # ...while five more arrive: three may wait, the two oldest of them go.
        for n in range(1, 6):
            writer.submit(sid(n), CALLER)
        dropped = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(dropped) == 2
        assert sid(1) in dropped[0].getMessage() and sid(2) in dropped[1].getMessage()
        assert all(r.name == "queues.call_starts" for r in dropped)
        state = writer.state()
        assert (state["lost"], state["waiting"], state["written"]) == (2, 4, 0)

        said = health.get("/healthz")
        assert said.status_code == 200
        assert said.get_json()["status"] == "attention"
        assert said.get_json()["greeting"]["starts"]["lost"] == 2
        assert said.get_json()["greeting"]["starts"]["waiting"] == 4
    finally:
        connection.close()  # the unanswering Redis hangs up
        listener.close()

    poll(lambda: writer.state()["failures"] >= 1, 2.0, "the hung-up write to count as failed")
    writer.calls = CallStore(redis)  # Redis answers again
    assert writer.flush(2.0)
    kept = [sid(0), sid(3), sid(4), sid(5)]
    assert [e[b"call"].decode() for _, e in redis.xrange(keys.events())] == kept
    assert redis.exists(keys.call(sid(1)), keys.call(sid(2))) == 0
    state = writer.state()
    assert (state["lost"], state["waiting"], state["written"]) == (2, 0, 4)
    # What was lost stays said: the status callbacks start those calls.
    assert health.get("/healthz").get_json()["status"] == "attention"


def test_a_start_redis_refuses_is_lost_once_and_the_others_are_written(redis, writers, caplog):
    redis.set(keys.call(sid(1)), "not a call")  # a key of the wrong kind: the script errs
    writer = writers.writer(CallStore(redis))
    writer.submit(sid(1), CALLER)
    writer.submit(sid(2), CALLER)
    assert writer.flush(2.0)

    assert kinds(redis, sid(2)) == ["incoming"]
    assert redis.xlen(keys.events()) == 1
    assert redis.get(keys.call(sid(1))) == b"not a call"
    state = writer.state()
    assert (state["lost"], state["waiting"], state["failures"]) == (1, 0, 0)
    refused = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refused) == 1 and sid(1) in refused[0].getMessage()


# -- the status callback before the start ------------------------------------------------------


def test_a_status_callback_before_the_start_records_the_call_and_incoming_first(
    app, twilio, redis, writers
):
    ended = {"CallSid": CALL, "From": CALLER, "CallStatus": "completed"}
    assert twilio.post("/voice/status", ended).status_code == 200

    store = CallStore(redis)
    record = store.get(CALL)
    assert record.caller == CALLER and record.status == "completed"
    assert kinds(redis, CALL) == ["incoming", "ended"]
    started = redis.hget(keys.call(CALL), "started_at")
    assert started is not None
    # Twilio repeats a callback: nothing more.
    assert twilio.post("/voice/status", ended).status_code == 200
    assert kinds(redis, CALL) == ["incoming", "ended"]

    # The greeting's start arrives late: it writes nothing.
    writer = writers.writer(store)
    writer.submit(CALL, OTHER, at=greeted_at())
    assert writer.flush(2.0)
    assert writer.state()["written"] == 1
    assert kinds(redis, CALL) == ["incoming", "ended"]
    assert redis.hget(keys.call(CALL), "started_at") == started
    record = store.get(CALL)
    assert record.caller == CALLER and record.status == "completed"


def test_a_status_callback_after_the_start_adds_only_the_end(app, twilio, redis, writers):
    writer = writers.writer(CallStore(redis))
    at = greeted_at()
    writer.submit(CALL, CALLER, at=at)
    assert writer.flush(2.0)
    ended = {"CallSid": CALL, "From": CALLER, "CallStatus": "completed"}
    assert twilio.post("/voice/status", ended).status_code == 200
    assert kinds(redis, CALL) == ["incoming", "ended"]
    assert redis.hget(keys.call(CALL), "started_at") == f"{at:.3f}".encode()


# -- through the app ---------------------------------------------------------------------------


def test_a_greeting_from_memory_starts_its_record_behind_the_answer(memory_app, redis, round_trips):
    twilio = Twilio(memory_app.test_client())
    serving = runtime.of(memory_app)
    # The first greeting starts the copy; until it is read, greetings ask Redis.
    twilio.post("/voice", {"CallSid": sid(1), "From": OTHER})
    poll(serving.screening_copy.current, 2.0, "the screening copy to be trusted")
    assert serving.call_starts.flush(2.0)
    written = serving.call_starts.state()["written"]

    round_trips.clear()
    before = time.time()
    doc = Doc.parse(twilio.post("/voice", {"CallSid": CALL, "From": CALLER}))
    after = time.time()
    assert doc.first("Gather").get("action") == "/voice/language?t=1"
    assert [name for name in round_trips if name not in THREAD_NAMES] == []

    store = CallStore(redis)
    record = poll(lambda: store.get(CALL), 2.0, "the greeting's call record")
    assert record.caller == CALLER
    # Written by the process's writer (its count moves just after the record is in Redis).
    assert serving.call_starts.flush(2.0)
    assert serving.call_starts.state()["written"] == written + 1
    (incoming,) = call_events(redis, CALL)
    assert incoming["kind"] == "incoming"
    assert round(before, 3) <= float(incoming["at"]) <= round(after, 3)
    started = redis.hget(keys.call(CALL), "started_at")
    assert started == incoming["at"].encode()

    # Twilio asks again for the same call: its start is written and changes nothing.
    doc = Doc.parse(twilio.post("/voice", {"CallSid": CALL, "From": OTHER}))
    assert doc.first("Gather") is not None
    poll(lambda: serving.call_starts.state()["written"] == written + 2, 2.0, "the repeat")
    assert kinds(redis, CALL) == ["incoming"]
    assert redis.hget(keys.call(CALL), "started_at") == started
    assert store.get(CALL).caller == CALLER
    health = memory_app.test_client().get("/healthz").get_json()
    assert health["greeting"]["from_memory"] is True
    assert health["greeting"]["starts"]["written"] == written + 2


# -- stopping, and a forked web worker ---------------------------------------------------------


def test_stop_writes_what_waits_before_the_thread_ends(redis, writers):
    before = greeting_threads()
    writer = writers.writer(CallStore(redis))
    for n in range(50):
        writer.submit(sid(n), CALLER)
    (thread,) = greeting_threads() - before
    writer.stop(timeout=2.0)

    assert not thread.is_alive()
    assert writer.state()["waiting"] == 0
    pipe = redis.pipeline(transaction=False)
    for n in range(50):
        pipe.exists(keys.call(sid(n)))
    assert pipe.execute() == [1] * 50
    assert redis.xlen(keys.events()) == 50


def test_stop_with_redis_down_keeps_the_starts_for_the_next_writer_thread(redis, writers):
    before = greeting_threads()
    writer = writers.writer(CallStore(writers.unreachable()))
    writer.submit(sid(1), CALLER)
    (thread,) = greeting_threads() - before
    poll(lambda: writer.state()["failures"] >= 1, 2.0, "the write to fail")
    started = time.monotonic()
    writer.stop(timeout=0.2)

    assert time.monotonic() - started < 1.0
    assert not thread.is_alive()
    assert writer.state()["waiting"] == 1 and writer.state()["lost"] == 0
    # Redis answers; the next start starts the thread again and both are written.
    writer.calls = CallStore(redis)
    writer.submit(sid(2), CALLER)
    assert writer.flush(2.0)
    assert [e[b"call"].decode() for _, e in redis.xrange(keys.events())] == [sid(1), sid(2)]


def test_a_forked_worker_starts_its_own_writer_and_writes_its_start(redis, writers):
    writer = writers.writer(CallStore(redis))
    writer.submit(sid(1), CALLER)
    assert writer.flush(2.0)  # the parent's writer is running, idle, when the worker forks
    parents = greeting_threads()

    def worker() -> dict[str, object]:
        inherited = greeting_threads()
        writer.submit(sid(2), OTHER)
        own = greeting_threads()
        # What the worker's exit does: what waits is written before its writer ends.
        writer.stop(timeout=0.5)
        return {
            "inherited": len(inherited),
            "own": len(own),
            "stopped": not any(t.is_alive() for t in own),
            "waiting": writer.state()["waiting"],
        }

    assert in_forked_child(worker) == {"inherited": 0, "own": 1, "stopped": True, "waiting": 0}
    assert CallStore(redis).get(sid(2)).caller == OTHER
    assert kinds(redis, sid(2)) == ["incoming"]
    # The parent's writer goes on with its own thread.
    assert greeting_threads() == parents and all(t.is_alive() for t in parents)
    writer.submit(sid(3), CALLER)
    assert writer.flush(2.0)
    assert kinds(redis, sid(3)) == ["incoming"]
    assert CallStore(redis).get(sid(1)).caller == CALLER


class FirstStartWaited(AssertionError):
    """A forked worker's first start was not written while its writer ran."""


def test_a_forked_workers_first_start_is_written_while_its_writer_runs(redis, writers):
    writer = writers.writer(CallStore(redis))
    writer.submit(sid(1), CALLER)
    assert writer.flush(2.0)  # the parent's writer is running, idle, when the worker forks

    def worker() -> dict[str, object]:
        inherited = list(writer._ready._waiters)
        # The worker's writer is running and idle before its first greeting's start arrives.
        writer._ensure_running()
        poll(
            lambda: any(all(w is not i for i in inherited) for w in writer._ready._waiters),
            1.0,
            "the worker's writer to wait for starts",
        )
        writer.submit(sid(2), OTHER)
        flushed = writer.flush(0.5)
        writer.stop(timeout=0.2)
        return {"flushed": flushed}

    report = in_forked_child(worker)
    assert set(report) == {"flushed"}, report
    if not report["flushed"]:
        raise FirstStartWaited("the worker's first start waited past its flush")
