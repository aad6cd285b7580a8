"""The crisis path's service without its webhooks: a dead Redis still leads to a person."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from queues.crisis_path import Answer, CrisisPath, DialEnd, Records
from routing.crisis_rollover import Do, Stage

CALL = "CA" + "5" * 32
NOW = 1_700_000_000.0


@pytest.fixture
def dead_redis() -> Iterator[redis_lib.Redis]:
    """A client of a Redis that is not there, failing fast."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # No retries: each command tried is one failure, so the time taken counts the tries.
    client = redis_lib.Redis(
        port=port, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    yield client
    client.close()


def path_on(client: redis_lib.Redis, config, records: Records | None = None) -> CrisisPath:
    """The crisis path of one request on a Redis client."""
    return CrisisPath(client, config, records or Records(), script=None, now=lambda: NOW)


def test_a_trigger_with_redis_down_dials_the_first_line_and_pays_one_failure(
    dead_redis, hotline_config
):
    records = Records()
    ringing = path_on(dead_redis, hotline_config, records).start(
        CALL, "zh", "danger_key", (), "help", ring_limit=10
    )

    assert records.down
    assert ringing.takers == []
    step = ringing.next
    assert (step.do, step.line, step.words, step.report_at) == (Do.DIAL_LINE, 0, "", int(NOW))


def test_after_one_redis_failure_the_rest_of_the_request_skips_redis():
    records, tried = Records(), []

    def fails() -> None:
        tried.append("first")
        raise redis_lib.ConnectionError("refused")

    records.run(CALL, lambda: tried.append("before"))
    records.run(CALL, fails)
    records.run(CALL, lambda: tried.append("after"))
    # Without a call there is nothing to record, whatever Redis is doing.
    Records().run("", lambda: tried.append("no call"))

    assert records.down
    assert tried == ["before", "first"]


def test_with_redis_down_whoever_presses_1_takes_the_call(dead_redis, hotline_config):
    answer = path_on(dead_redis, hotline_config).answer(
        CALL, "c1", "agent", accepted=True, taker_leg="CA-leg"
    )
    assert answer is Answer.TAKEN
    declined = path_on(dead_redis, hotline_config).answer(
        CALL, "c1", "agent", accepted=False, taker_leg="CA-leg"
    )
    assert declined is Answer.DECLINED


def test_with_redis_down_the_rollover_goes_line_by_line_then_gives_the_numbers(
    dead_redis, hotline_config
):
    lines = hotline_config.crisis.lines_for("zh")
    rolled = path_on(dead_redis, hotline_config).ring_ended(
        CALL, Stage.AGENTS, "zh", DialEnd("no-answer")
    )
    assert (rolled.next.do, rolled.next.line) == (Do.DIAL_LINE, 0)

    index, step = 0, rolled.next
    while step.do is Do.DIAL_LINE:
        index = step.line
        ringing = path_on(dead_redis, hotline_config).line_ended(
            CALL, index, "zh", DialEnd("busy"), ring_limit=10
        )
        step = ringing.next
    assert index == len(lines) - 1
    # Nobody on call can be read: the numbers are said, never silence.
    assert step.do is Do.GIVE_NUMBERS and ringing.takers == []


def test_an_agent_who_talked_ends_the_path_even_with_redis_down(dead_redis, hotline_config):
    end = DialEnd("completed", bridged=True, talk_s="300")
    ringing = path_on(dead_redis, hotline_config).ring_ended(CALL, Stage.AGENTS, "zh", end)
    assert (ringing.next.do, ringing.next.close) == (Do.GOODBYE, "agent")
