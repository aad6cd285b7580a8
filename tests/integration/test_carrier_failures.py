"""Rings when the carrier fails: Twilio's REST API answering 5xx for a while, and ring jobs run
late after a worker was down. Neither is an agent's miss; a failing carrier is a standing
condition supervisors hear about once, cleared when a request goes through again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from redis import Redis
from redis.exceptions import RedisError

from queues import dispatch, events, keys, runtime
from queues.calls import CallStore
from queues.carrier_health import CONDITION, CarrierHealth
from queues.conditions import Conditions
from queues.matcher import Matcher
from queues.reservations import Reservations
from queues.sweep import sweep
from queues.waiting import WaitingRoom
from routing.config import HotlineConfig
from routing.matching import ring_failure_hold_s
from telephony.gateway import GatewayError
from tests.fixtures.app import Clock, closed_port
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, Rig
from tests.fixtures.dispatch import CALLER, PHONE, job_urls, run_dispatch_jobs, staff

pytestmark = pytest.mark.redis


@pytest.fixture
def rt(redis, rig: Rig, clock: Clock, hotline_config: HotlineConfig) -> Iterator[runtime.Runtime]:
    """The runtime jobs use, with the carrier as Twilio and the test's clock."""
    # Offers ring long enough that only the failures end them, however slow the machine; and
    # the test's clock stands still while a ring is retried, so the outbound rate limit (one
    # call a second) is raised to let each try go out at once rather than at its turn.
    config = replace(
        hotline_config,
        routing=replace(hotline_config.routing, reservation_timeout_s=600),
        calls_per_second=100.0,
    )
    current = runtime.Runtime(
        redis, rig.gateway, config, rig.app_url, clock, webhooks=job_urls(rig.app_url)
    )
    runtime.install(lambda: current)
    yield current
    runtime.install(None)


def set_faults(rig: Rig, plan: dict) -> None:
    """Replace the carrier's fault plan through its control API."""
    reply = requests.put(
        f"{rig.carrier_url}/carrier/faults", json=plan, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )
    reply.raise_for_status()


def later(clock: Clock, seconds: float) -> None:
    """Move the test's clock on."""
    clock.now += timedelta(seconds=seconds)


def ring_requests(rig: Rig) -> int:
    """How many calls the hotline asked the carrier to place."""
    with rig.hub.network.cond:
        return sum(
            1
            for e in rig.hub.network.exchanges
            if e["method"] == "POST" and e["path"].endswith("/Calls.json")
        )


def alerts_about(redis, condition: str) -> int:
    """How many times a condition was raised anew (each raise pages supervisors)."""
    return sum(
        1
        for e in events.recent(redis, 1000)
        if e["kind"] == "alert" and e.get("condition") == condition
    )


def test_rings_the_carrier_fails_leave_the_agent_free_and_raise_one_condition(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    board = staff(rt)
    room = WaitingRoom(rt.redis, rt.config.routing, script=rt.script)
    assert room.enqueue(CALLER, area="general", language="zh", now=rt.now())
    conditions = Conditions(rt.redis)
    # Twilio's REST API answers every new call with a 500, for as long as this lasts.
    set_faults(rig, {"rest_500": 1.0, "rest_match": "/Calls.json"})
    offers = []
    match = Matcher(rt.redis, rt.config.routing).match_call(CALLER, rt.now())
    for failures in (1, 2, 3, 4):
        assert match is not None and match.agent_id == "g1"
        offers.append(match.reservation_id)
        dispatch.dispatch(rt.redis, [match])

        run_dispatch_jobs(rt.redis)

        offer = Reservations(rt.redis, rt.config.routing).get(match.reservation_id)
        assert offer.state == "not-rung"
        # Far past the default pause after two misses: the agent is free, never paused.
        agent = board.get("g1")
        assert (agent.status, agent.free, agent.misses, agent.paused) == (
            "available",
            True,
            0,
            "",
        )
        assert room.get(CALLER).state == "held"
        # Supervisors hear once that the carrier is failing, from the third failure in a row.
        assert conditions.get(CONDITION) is not None
        assert alerts_about(rt.redis, CONDITION) == 1
        # The caller is offered again once the hold (longer each time) ends.
        assert sweep(rt.redis, rt.config.routing, rt.now()).held_back_due == []
        later(clock, ring_failure_hold_s(failures))
        report = sweep(rt.redis, rt.config.routing, rt.now())
        assert report.held_back_due == [CALLER]
        (match,) = report.matches
    # Each offer was tried three times (RQ's two retries), and no miss was ever counted.
    assert ring_requests(rig) == 3 * len(offers)
    kinds = [e["kind"] for e in events.recent(rt.redis, 1000)]
    assert kinds.count("not-rung") == len(offers)
    assert not {"timeout", "no-answer", "paused"} & set(kinds)

    # Twilio is back: the next ring goes through, and the condition clears.
    set_faults(rig, {})
    dispatch.dispatch(rt.redis, [match])
    run_dispatch_jobs(rt.redis)

    leg = CallStore(rt.redis).get(CALLER).agent_leg
    assert leg and rig.gateway.fetch_call(leg).called == PHONE
    assert conditions.get(CONDITION) is None
    assert "condition-cleared" in [e["kind"] for e in events.recent(rt.redis, 1000)]
    assert rt.redis.exists(keys.carrier_failures()) == 0
    # This offer did ring: its timeout would now be the agent's miss.
    assert rt.redis.hexists(keys.reservation(match.reservation_id), "rung_at")


def test_a_ring_job_run_after_its_offer_ran_out_rings_nobody_and_counts_no_miss(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    board = staff(rt)
    room = WaitingRoom(rt.redis, rt.config.routing, script=rt.script)
    assert room.enqueue(CALLER, area="general", language="zh", now=rt.now())
    match = Matcher(rt.redis, rt.config.routing).match_call(CALLER, rt.now())
    dispatch.dispatch(rt.redis, [match])
    # The worker died with the ring queued and came back after the offer had run out.
    later(clock, rt.config.routing.reservation_timeout_s)

    run_dispatch_jobs(rt.redis)

    offer = Reservations(rt.redis, rt.config.routing).get(match.reservation_id)
    assert offer.state == "not-rung"
    agent = board.get("g1")
    assert agent.misses == 0 and agent.cool_until == 0 and agent.paused == ""
    # The late job rang nobody; the caller, back in their place, was offered again at once,
    # and only that new offer rang the agent.
    (rung,) = [e for e in rig.hub.network.exchanges if e["path"].endswith("/Calls.json")]
    again = CallStore(rt.redis).get(CALLER).reservation
    assert again != match.reservation_id
    assert ("Url", f"{rig.app_url}/voice/agent/whisper?res={again}") in rung["form"]
    assert agent.status == "reserved"
    # Nothing left for the sweep to count as a timeout.
    assert sweep(rt.redis, rt.config.routing, rt.now() + 1).timeouts == []
    kinds = [e["kind"] for e in events.recent(rt.redis, 1000)]
    assert "timeout" not in kinds and "no-answer" not in kinds


def test_failures_of_any_job_count_together_and_any_success_clears(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    room = WaitingRoom(rt.redis, rt.config.routing, script=rt.script)
    assert room.enqueue(CALLER, area="general", language="zh", now=rt.now())
    conditions = Conditions(rt.redis)
    set_faults(rig, {"rest_500": 1.0, "rest_match": "/Calls/"})
    # Leg checks of a waiting caller fail 25 s apart: the third within a minute raises it.
    for _ in range(2):
        later(clock, 25)
        rt.redis.zadd(keys.due_leg_checks(), {CALLER: rt.now()})
        assert dispatch.check_legs(rt).trouble
    assert conditions.get(CONDITION) is None
    later(clock, 25)
    rt.redis.zadd(keys.due_leg_checks(), {CALLER: rt.now()})
    assert dispatch.check_legs(rt).trouble
    assert conditions.get(CONDITION) is not None

    # Twilio answers again (here: that it does not know the leg), and the condition clears.
    set_faults(rig, {})
    later(clock, 5)
    rt.redis.zadd(keys.due_leg_checks(), {CALLER: rt.now()})
    assert dispatch.check_legs(rt).ended == [CALLER]
    assert conditions.get(CONDITION) is None


def test_failures_further_apart_than_the_window_raise_nothing(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    room = WaitingRoom(rt.redis, rt.config.routing, script=rt.script)
    assert room.enqueue(CALLER, area="general", language="zh", now=rt.now())
    set_faults(rig, {"rest_500": 1.0, "rest_match": "/Calls/"})
    for _ in range(4):
        later(clock, 31)
        rt.redis.zadd(keys.due_leg_checks(), {CALLER: rt.now()})
        assert dispatch.check_legs(rt).trouble
    assert Conditions(rt.redis).get(CONDITION) is None


def test_a_request_that_went_through_is_never_undone_by_redis_failing_to_note_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Said after a caller's phone was rung or a conference ended: a job raising here would be
    # run again and ring the caller a second time. Redis is really unreachable (nothing on the
    # port), as in an outage between the request and its note.
    gone = Redis(port=closed_port(), socket_connect_timeout=1)
    health = CarrierHealth(gone)
    with caplog.at_level(logging.WARNING, logger="queues.carrier_health"):
        health.reached(1000.0)
    assert [r.getMessage() for r in caplog.records] == [
        "carrier reached, not noted: ConnectionError"
    ]
    # A failure is still counted or raised: the job is tried again, and nothing was done.
    with pytest.raises(RedisError):
        health.failed(GatewayError("service unavailable", status=503), 1000.0)
