"""A web process's screening copy of the blocklist and the closure, on a real Redis.

The copy answers a greeting's screening from memory only while it provably holds what Redis
holds: read after subscribing, again on each owner's announcement and (re)subscription, heard
from within its silence, and never between a change written by this process and the read after
it. Whenever it cannot say, it answers None and the greeting asks Redis in one round trip.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.retry import Retry

from queues import keys, runtime, screening_news
from queues.blocklist import Blocklist
from queues.calls import CallStore
from queues.closure import ClosureBoard
from queues.screening_copy import ScreeningCopy
from queues.sealing import Sealer, unkeyed_digest
from routing.holidays import Closure
from tests.fixtures.app import (
    OPEN_TIME,
    TEST_SECRET,
    Twilio,
    closed_port,
    greeting_from_memory_app,
)
from tests.fixtures.forks import in_forked_child
from tests.fixtures.twiml import Doc
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

ABUSER = "+8613812345678"
CALLER = "+8613800000001"
NOW = OPEN_TIME.timestamp()
# Every wait below ends well inside a test's two seconds.
DEADLINE_S = 1.5
# The name the copies' own clients give their connections, so a test drops only its copy's
# subscription even on a Redis shared with other test workers.
COPY_CLIENT = f"screening-copy-test-{os.getpid()}"
CLOSURE = Closure({"zh": "系统维护，暂停服务。", "en": "Closed for maintenance."})


# --- fixtures and helpers -----------------------------------------------------------------------


class HeldBack(redis_lib.Redis):
    """A client whose subscriptions wait until the test lets them through."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.let_through = threading.Event()

    def pubsub(self, **kwargs: Any):
        self.let_through.wait(DEADLINE_S)
        return super().pubsub(**kwargs)


class Copies:
    """Makes screening copies for a test and stops every one of them when it ends."""

    def __init__(self, redis_url: str):
        self.redis_url = redis_url
        self.made: list[ScreeningCopy] = []
        self.own_clients: list[redis_lib.Redis] = []

    def __call__(
        self, client: redis_lib.Redis | None = None, *, held_back: bool = False, **options: Any
    ) -> ScreeningCopy:
        """A copy on its own client (named COPY_CLIENT, its subscribing held back until the
        test lets it through if asked) unless one is given; pings every 50 ms unless told
        otherwise, so stopping it is quick."""
        if client is None:
            kind = HeldBack if held_back else redis_lib.Redis
            client = kind.from_url(self.redis_url, client_name=COPY_CLIENT)
            self.own_clients.append(client)
        options.setdefault("ping_s", 0.05)
        return self.adopt(ScreeningCopy(client, **options))

    def adopt(self, copy: ScreeningCopy) -> ScreeningCopy:
        """Stop a copy made elsewhere (an app's) with the others."""
        self.made.append(copy)
        return copy

    def stop(self) -> None:
        """Stop every copy (each joins its thread) and close the clients made for them."""
        for copy in self.made:
            copy.stop()
        for client in self.own_clients:
            client.close()


@pytest.fixture
def copies(redis, redis_url: str) -> Iterator[Copies]:
    """A maker of copies; none of their threads outlives the test."""
    before = set(threading.enumerate())
    made = Copies(redis_url)
    yield made
    made.stop()
    left = [t for t in threading.enumerate() if t.name == "screening-copy" and t not in before]
    assert not left, f"screening copy threads still running: {left}"


@pytest.fixture
def memory_app(app_env, redis, redis_url, clock, hotline_config, copies):
    """The hotline app greeting from memory, its copy and its start writer stopped at the end."""
    app = greeting_from_memory_app(app_env, redis_url, clock, hotline_config)
    serving = runtime.of(app)
    copies.adopt(serving.screening_copy)
    yield app
    serving.call_starts.stop()
    serving.screening_copy.stop()


@pytest.fixture
def round_trips(monkeypatch) -> list[int]:
    """Counts what the test's own thread sends to Redis, one count a round trip (a pipeline is
    one); what the copy's and the start writer's threads send is theirs, not the greeting's."""
    sent: list[int] = []
    here = threading.get_ident()
    original = AbstractConnection.send_packed_command

    def counting(connection, command, check_health=True):
        if threading.get_ident() == here:
            sent.append(1)
        return original(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


class Monotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def settle(copy: ScreeningCopy, number: str, expected: tuple[bool, Closure | None]) -> None:
    """Wait for the copy to give `expected` for a number; meanwhile it may only say None."""

    def current() -> bool:
        answer = copy.answer(number)
        assert answer is None or answer == expected, f"stale answer {answer}, not {expected}"
        return answer == expected

    poll(current, DEADLINE_S, f"the copy to answer {expected}")


def reaches(
    copy: ScreeningCopy,
    number: str,
    new: tuple[bool, Closure | None],
    *,
    before: list[tuple[bool, Closure | None]],
) -> None:
    """Wait for another process's changes to reach the copy: until their announcements are
    read it may still give an answer from `before` (a call in those milliseconds hears what it
    would have heard a moment earlier), never anything else."""

    def current() -> bool:
        answer = copy.answer(number)
        assert answer is None or answer in [*before, new], f"answer {answer}, not {new}"
        return answer == new

    poll(current, DEADLINE_S, f"the copy to answer {new}")


def trusted(copy: ScreeningCopy) -> None:
    """Wait until the copy answers at all (it starts itself on the first question)."""
    poll(lambda: copy.answer(CALLER) is not None, DEADLINE_S, "the copy to answer")


def greet(twilio: Twilio, call: str, number: str) -> Doc:
    """An incoming call's greeting, parsed."""
    return Doc.parse(twilio.post("/voice", {"CallSid": call, "From": number}))


def is_blocked_answer(doc: Doc) -> bool:
    """The blocked caller's answer: one sentence per language over the danger key, hang up."""
    gather = doc.first("Gather")
    return (
        doc.verbs() == ["Gather", "Hangup"]
        and gather.get("numDigits") == "1"
        and gather.get("action") == "/voice/closed?lang=zh"
    )


def copy_state(client) -> dict[str, Any]:
    """The greeting block of /healthz."""
    health = client.get("/healthz")
    assert health.status_code == 200
    return health.get_json()["greeting"]


# --- the copy itself ----------------------------------------------------------------------------


def test_the_copy_answers_none_before_its_first_read_then_what_redis_holds(copies, redis):
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW, reason="abuse")
    board = ClosureBoard(redis)
    board.set(CLOSURE, by="sup1", now=NOW)
    closure = board.get()
    copy = copies(held_back=True)
    assert copy.answer(ABUSER) is None  # its first question starts it, and nothing is read
    assert copy.state() == {
        "answering": False,
        "running": True,
        "blocked_numbers": None,
        "reads": 0,
        "failures": 0,
    }
    copy.redis.let_through.set()
    settle(copy, ABUSER, (True, closure))
    assert copy.answer(CALLER) == (False, closure)
    assert copy.answer("anonymous") == (False, closure)
    assert closure is not None and closure.message["zh"] == "系统维护，暂停服务。"
    assert closure.set_by == "sup1"
    state = copy.state()
    assert state["answering"] and state["running"]
    assert state["blocked_numbers"] == 1 and state["reads"] >= 1 and state["failures"] == 0


def test_a_change_written_here_is_never_answered_stale(copies, redis):
    # The copy's periodic read is short here: whether the read on the announcement or the
    # notice of this process's change comes first, the new answer comes within the deadline.
    copy = copies(refresh_s=0.15)
    blocklist, board = Blocklist(redis), ClosureBoard(redis)
    settle(copy, ABUSER, (False, None))

    blocklist.add(ABUSER, by="sup1", now=NOW)
    assert copy.answer(ABUSER) in (None, (True, None))
    settle(copy, ABUSER, (True, None))

    board.set(CLOSURE, by="sup1", now=NOW)
    closure = board.get()
    assert copy.answer(ABUSER) in (None, (True, closure))
    settle(copy, ABUSER, (True, closure))

    assert blocklist.remove(ABUSER, by="sup2", now=NOW + 1)
    assert copy.answer(ABUSER) in (None, (False, closure))
    settle(copy, ABUSER, (False, closure))

    assert board.clear(by="sup2", now=NOW + 2)
    assert copy.answer(ABUSER) in (None, (False, None))
    settle(copy, ABUSER, (False, None))


def test_a_change_written_here_is_answered_once_read_whichever_came_first(
    copies, redis, monkeypatch
):
    copy = copies()
    trusted(copy)
    reads = copy.reads
    notice = screening_news.changed_here

    def after_the_announcements_read() -> None:
        # The order a busy process often sees: the copy's thread reads the announcement
        # before the writer's thread tells the copy that it changed something.
        poll(lambda: copy.reads > reads, DEADLINE_S, "the copy to read the announcement")
        notice()

    monkeypatch.setattr(screening_news, "changed_here", after_the_announcements_read)
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW)
    assert copy.answer(ABUSER) in (None, (True, None))
    settle(copy, ABUSER, (True, None))


def test_a_change_written_by_another_process_reaches_the_copy(copies, redis, redis_url):
    copy = copies()
    settle(copy, ABUSER, (False, None))

    def supervisor() -> bool:
        client = redis_lib.Redis.from_url(redis_url)
        Blocklist(client, sealer=Sealer(TEST_SECRET)).add(ABUSER, by="sup1", now=NOW)
        ClosureBoard(client).set(CLOSURE, by="sup1", now=NOW)
        return True

    assert in_forked_child(supervisor)
    # Nothing tells this process of the changes but the announcements.
    closure = ClosureBoard(redis).get()
    reaches(copy, ABUSER, (True, closure), before=[(False, None), (True, None)])
    assert copy.answer(CALLER) == (False, closure)


def test_a_number_kept_under_its_unkeyed_digest_is_left_to_redis_which_moves_it(
    memory_app, redis, round_trips
):
    old = unkeyed_digest(ABUSER)
    redis.sadd(keys.blocklist(), old)
    redis.hset(keys.blocklist_entries(), old, json.dumps({"masked": "+86*******5678", "by": "s"}))
    twilio = Twilio(memory_app.test_client())
    serving = runtime.of(memory_app)
    copy = serving.screening_copy
    greet(twilio, "CA" + "1" * 32, CALLER)  # starts the copy
    trusted(copy)
    assert copy.answer(ABUSER) is None
    # The first greeting's start may have gone behind the answer (the copy can be trusted by
    # then): written before the count is taken.
    assert serving.call_starts.flush(2.0)
    written = serving.call_starts.state()["written"]

    round_trips.clear()
    call = "CA" + "2" * 32
    doc = greet(twilio, call, ABUSER)
    assert is_blocked_answer(doc)
    assert round_trips, "the greeting did not ask Redis"
    keyed = serving.sealer.digest(ABUSER)
    assert redis.smembers(keys.blocklist()) == {keyed.encode()}
    assert json.loads(redis.hget(keys.blocklist_entries(), keyed))["keyed"] == 1
    # The Redis path started the call's record in its own round trip, not behind the answer.
    assert CallStore(redis).get(call).caller == ABUSER
    assert serving.call_starts.state()["written"] == written


def test_a_copy_not_heard_from_within_its_silence_answers_none(copies, redis):
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW)
    clock = Monotonic()
    # Its clock moves only by hand: it pings 0.1 s of that clock after it last did, and is
    # trusted 0.05 s after it was last heard from, so between the two nothing is heard.
    copy = copies(monotonic=clock, ping_s=0.1, silence_s=0.05)
    settle(copy, ABUSER, (True, None))
    clock.now += 0.03
    assert copy.answer(ABUSER) == (True, None)
    clock.now += 0.04
    assert copy.answer(ABUSER) is None
    assert copy.answer(CALLER) is None
    assert copy.state()["answering"] is False
    assert copy.state()["running"] is True
    # Its ping is due: the pong is heard and it answers again.
    clock.now += 0.05
    settle(copy, ABUSER, (True, None))
    assert copy.state()["answering"] is True


def test_a_copy_whose_redis_is_unreachable_answers_none_and_counts_failures(copies):
    # One try a command: each failed subscription is the copy's to count and back off from
    # (the client's default would try ten times first).
    unreachable = redis_lib.Redis(host="127.0.0.1", port=closed_port(), retry=Retry(NoBackoff(), 0))
    copy = copies(unreachable)
    assert copy.answer(ABUSER) is None
    poll(lambda: copy.failures >= 2, DEADLINE_S, "the copy to fail twice")
    assert copy.answer(ABUSER) is None
    state = copy.state()
    assert state["answering"] is False and state["running"] is True
    assert state["blocked_numbers"] is None and state["reads"] == 0
    unreachable.close()


def subscription_of(redis: redis_lib.Redis) -> list[str]:
    """The ids of the test copy's subscribed connections."""
    return [c["id"] for c in redis.client_list(_type="pubsub") if c["name"] == COPY_CLIENT]


def test_a_dropped_subscription_is_followed_again_and_what_it_missed_is_read(
    copies, redis, redis_url
):
    copy = copies()
    settle(copy, ABUSER, (False, None))
    (dropped,) = poll(lambda: subscription_of(redis), DEADLINE_S, "the copy's subscription")
    reads = copy.reads

    class DroppingFirst(redis_lib.Redis):
        """A supervisor's client whose write first drops the copy's subscription, in the same
        transaction: its announcement goes out to nobody."""

        def pipeline(self, transaction=True, shard_hint=None):
            pipe = super().pipeline(transaction, shard_hint)
            pipe.client_kill_filter(_id=dropped, _type="pubsub")
            return pipe

    def supervisor() -> bool:
        client = DroppingFirst.from_url(redis_url)
        Blocklist(client, sealer=Sealer(TEST_SECRET)).add(ABUSER, by="sup1", now=NOW)
        return True

    assert in_forked_child(supervisor)
    # Only a read made after subscribing again can know (the periodic one is 30 s away).
    reaches(copy, ABUSER, (True, None), before=[(False, None)])
    assert copy.reads > reads
    (again,) = poll(lambda: subscription_of(redis), DEADLINE_S, "a new subscription")
    assert again != dropped

    def unblock() -> bool:
        client = redis_lib.Redis.from_url(redis_url)
        return Blocklist(client, sealer=Sealer(TEST_SECRET)).remove(ABUSER, by="sup2", now=NOW)

    assert in_forked_child(unblock)
    reaches(copy, ABUSER, (False, None), before=[(True, None)])


def test_a_forked_process_starts_its_own_copy_thread_and_answers(copies, redis):
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW)
    copy = copies()
    settle(copy, ABUSER, (True, None))

    def worker() -> dict[str, Any]:
        # What the parent read is not this process's: the copy reads again on its own thread.
        reads = copy.reads
        poll(lambda: copy.answer(ABUSER) is not None, DEADLINE_S, "the child's copy")
        # Threads do not survive a fork: any listening here was started here.
        threads = [t for t in threading.enumerate() if t.name == "screening-copy"]
        return {
            "blocked": copy.answer(ABUSER),
            "caller": copy.answer(CALLER),
            "read_here": copy.reads > reads,
            "threads": [t.is_alive() for t in threads],
            "running": copy.state()["running"],
        }

    child = in_forked_child(worker)
    assert child == {
        "blocked": [True, None],
        "caller": [False, None],
        "read_here": True,
        "threads": [True],
        "running": True,
    }
    # The parent's copy goes on answering from its own thread.
    assert copy.answer(ABUSER) == (True, None) and copy.state()["running"]


# --- greetings through the app ------------------------------------------------------------------


def test_while_the_copy_is_not_trusted_a_greeting_asks_redis_in_one_round_trip(
    memory_app, redis, copies, round_trips
):
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW)
    serving = runtime.of(memory_app)
    client = memory_app.test_client()
    twilio = Twilio(client)
    # Before any greeting the app's copy has not started.
    assert copy_state(client)["copy"] == {
        "answering": False,
        "running": False,
        "blocked_numbers": None,
        "reads": 0,
        "failures": 0,
    }
    # In its place, a copy of the same data whose first read waits for the test.
    copy = serving.screening_copy = copies(held_back=True, sealer=serving.sealer)

    round_trips.clear()
    doc = greet(twilio, "CA" + "3" * 32, CALLER)
    assert doc.first("Gather").get("action") == "/voice/language?t=1"
    assert len(round_trips) == 1
    assert is_blocked_answer(greet(twilio, "CA" + "4" * 32, ABUSER))
    assert len(round_trips) == 2
    # Each call was started in its greeting's trip: nothing was handed to the start writer.
    assert CallStore(redis).get("CA" + "3" * 32).caller == CALLER
    assert CallStore(redis).get("CA" + "4" * 32).caller == ABUSER
    assert serving.call_starts.state()["written"] == 0
    health = copy_state(client)
    assert health["from_memory"] is True
    assert health["copy"]["answering"] is False and health["copy"]["running"] is True

    # Once it has read, the same greeting asks Redis nothing.
    copy.redis.let_through.set()
    poll(lambda: copy_state(client)["copy"]["answering"], DEADLINE_S, "the copy to answer")
    round_trips.clear()
    assert is_blocked_answer(greet(twilio, "CA" + "5" * 32, ABUSER))
    assert round_trips == []


def test_a_trusted_copy_greets_with_no_round_trip_and_blocks_from_memory(
    memory_app, redis, round_trips
):
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW)
    serving = runtime.of(memory_app)
    client = memory_app.test_client()
    twilio = Twilio(client)
    greet(twilio, "CA" + "4" * 32, CALLER)  # the first greeting starts the copy
    poll(lambda: copy_state(client)["copy"]["answering"], DEADLINE_S, "the copy to answer")
    health = copy_state(client)
    assert health["from_memory"] is True
    assert health["copy"]["running"] is True and health["copy"]["blocked_numbers"] == 1

    round_trips.clear()
    doc = greet(twilio, "CA" + "5" * 32, CALLER)
    assert doc.first("Gather").get("action") == "/voice/language?t=1"
    blocked = greet(twilio, "CA" + "6" * 32, ABUSER)
    assert is_blocked_answer(blocked)
    assert len(blocked.all("Say")) == 2  # one sentence, in each language
    assert round_trips == []

    # Both calls' starts are written behind their answers.
    assert serving.call_starts.flush(2.0)
    assert CallStore(redis).get("CA" + "5" * 32).caller == CALLER
    assert CallStore(redis).get("CA" + "6" * 32).caller == ABUSER
    assert copy_state(client)["starts"]["written"] >= 2


def test_a_closure_from_the_copy_is_spoken_until_it_ends_by_the_apps_clock(
    memory_app, redis, clock, round_trips
):
    ClosureBoard(redis).set(
        Closure({"zh": "系统维护，暂停服务。", "en": ""}, until=OPEN_TIME + timedelta(hours=2)),
        by="sup1",
        now=NOW,
    )
    client = memory_app.test_client()
    twilio = Twilio(client)
    greet(twilio, "CA" + "7" * 32, CALLER)
    poll(lambda: copy_state(client)["copy"]["answering"], DEADLINE_S, "the copy to answer")

    round_trips.clear()
    doc = greet(twilio, "CA" + "8" * 32, CALLER)
    assert doc.verbs() == ["Gather", "Hangup"]
    assert "系统维护" in doc.said()
    clock.now = OPEN_TIME + timedelta(hours=3)
    after = greet(twilio, "CA" + "9" * 32, CALLER)
    assert after.first("Gather").get("action") == "/voice/language?t=1"
    assert round_trips == []
