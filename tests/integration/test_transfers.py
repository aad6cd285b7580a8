"""Transfers on real Redis and the carrier: a warm transfer holds the caller with words and music
and puts them ahead of callers who came later; Redis down or the carrier refusing the hold
leaves the caller with the first agent, who is told; the routing script's steps happen once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from queues import dispatch, events, keys, runtime, transfers
from queues.agents import AgentBoard
from tests.fixtures.app import Twilio, closed_port
from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)
from tests.fixtures.jobs import run_jobs
from tests.fixtures.live_call import AREAS, hotline_on, talking
from tests.fixtures.twilio_spec import problems_of
from tests.fixtures.twiml import Doc

LATER_CALLER = "CA" + "9" * 32


def warm(twilio: Twilio, rid: str, area: str = "labor"):
    """The first agent's key 1 (warm) in the transfer menu, for an area."""
    return twilio.post(f"/voice/agent/transfer/mode?res={rid}&lang=zh&area={area}", {"Digits": "1"})


def caller_participant(rig: Rig, rid: str, caller: str):
    """The caller's participant in the reservation's conference, as the carrier has it."""
    conference = rig.gateway.find_conference(rid)
    assert conference is not None
    return next(p for p in rig.gateway.list_participants(conference) if p.call_sid == caller)


def said_then_joined(reply, text: str, rid: str) -> None:
    """The agent is told `text`, then goes back into the reservation's conference."""
    doc = Doc.parse(reply)
    assert doc.first("Say").text == text
    assert doc.first("Conference").text == rid


def test_a_warm_transfer_holds_the_caller_and_puts_them_ahead_of_later_callers(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    rt = runtime.of(app)
    config = rt.config
    # A labor caller who rang after this caller, waiting; the labor agent (l1) is on a break.
    clock.now += timedelta(seconds=30)
    assert rt.routing.room.enqueue(LATER_CALLER, area="labor", language="zh", now=rt.now())
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)

    before = len(rig.hub.network.exchanges)
    reply = warm(twilio, rid)

    said_then_joined(reply, config.prompt("agent_transfer_warm", "zh"), rid)
    held = caller_participant(rig, rid, caller)
    assert held.hold is True
    # The hold as Twilio's spec has it: Hold, with a HoldUrl fetched by POST.
    sent = rig.hub.network.exchanges[before:]
    assert all(problems_of(exchange) == [] for exchange in sent)
    update = next(e for e in sent if e["path"].endswith(f"/Participants/{caller}.json"))
    form = dict(update["form"])
    assert form["Hold"] == "true" and form["HoldMethod"] == "POST"
    assert form["HoldUrl"].endswith(f"/voice/agent/transferred-caller/hold?res={rid}&lang=zh")
    transfer = transfers.Transfers(redis).get(caller)
    assert transfer is not None
    assert (transfer.state, transfer.mode, transfer.area, transfer.from_agent) == (
        "pending",
        "warm",
        "labor",
        "g1",
    )
    # Original arrival: first in labor's queue, before the caller who rang later.
    assert rt.routing.room.waiting_calls("labor", "zh") == [caller, LATER_CALLER]
    # What the held caller hears: the words, and again (never silence).
    hold = twilio.post(f"/voice/agent/transferred-caller/hold?res={rid}&lang=zh", {})
    doc = Doc.parse(hold)
    assert doc.verbs() == ["Say", "Redirect"]  # the shipped config has no hold music
    assert doc.first("Say").text == config.prompt("transfer_hold", "zh")
    # A second transfer while this one is open is refused; the first agent is told.
    again = warm(twilio, rid, area="family")
    said_then_joined(again, config.prompt("agent_transfer_failed", "zh"), rid)

    # Nobody took it in time: the scheduled job sends the caller back to the first agent.
    scheduled = ScheduledJobRegistry(queue=Queue("default", connection=redis))
    assert f"transfer-{transfer.id}" in scheduled.get_job_ids()
    job = Job.fetch(f"transfer-{transfer.id}", connection=redis)
    runtime.install(lambda: rt)
    try:
        assert job.func(*job.args) == "back"
        # Once only: a repeat of the job changes nothing.
        assert job.func(*job.args) == "back"
    finally:
        runtime.install(None)
    assert rt.routing.room.waiting_calls("labor", "zh") == [LATER_CALLER]
    queued = rt.routing.room.get(caller)
    assert (queued.state, queued.reservation, queued.area) == ("connected", rid, "general")
    assert caller_participant(rig, rid, caller).hold is False
    assert transfers.Transfers(redis).get(caller).state == "back"


def test_the_carrier_refusing_the_hold_keeps_the_caller_with_the_agent(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    config = runtime.of(app).config
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    plan = {"rest_500": 1.0, "rest_match": "Participants"}
    requests.put(
        f"{rig.carrier_url}/carrier/faults", json=plan, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    ).raise_for_status()

    reply = warm(twilio, rid)

    said_then_joined(reply, config.prompt("agent_transfer_failed", "zh"), rid)
    requests.put(
        f"{rig.carrier_url}/carrier/faults", json={}, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    ).raise_for_status()
    # Still in the conference, not held, and routing has them with the first agent.
    assert caller_participant(rig, rid, caller).hold is False
    queued = runtime.of(app).routing.room.get(caller)
    assert (queued.state, queued.reservation) == ("connected", rid)
    assert transfers.Transfers(redis).get(caller).state == "cancelled"
    assert redis.zcard(keys.waiting("labor", "zh")) == 0


def test_redis_down_keeps_the_caller_with_the_agent(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    config = runtime.of(app).config
    # The same hotline, its Redis now unreachable.
    down = hotline_on(rig, app_env, clock, f"redis://127.0.0.1:{closed_port()}/0")
    twilio = Twilio(down.test_client(), token=AUTH_TOKEN, base=rig.app_url)

    reply = warm(twilio, rid)

    assert reply.status_code == 200
    said_then_joined(reply, config.prompt("agent_transfer_failed", "zh"), rid)
    assert caller_participant(rig, rid, caller).hold is False


def test_a_named_agent_is_offered_the_call_alone_and_a_busy_one_is_refused_at_once(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    rt = runtime.of(app)
    board = AgentBoard(rt.redis, rt.config.routing, script=rt.script)

    with app.test_request_context():
        busy = transfers.start(rt, rid, mode="warm", agent="l1")
    # Told at once; the caller was never put on hold.
    assert (busy.ok, busy.reason) == (False, "agent-busy")
    assert caller_participant(rig, rid, caller).hold is False
    assert rt.routing.room.get(caller).state == "connected"

    board.set_presence("l1", "available", rt.now())
    with app.test_request_context():
        started = transfers.start(rt, rid, mode="warm", agent="l1")
    assert started.ok
    queued = rt.routing.room.get(caller)
    assert queued.state == "reserved"
    offer = rt.routing.reservations.get(queued.reservation)
    assert (offer.agent_id, offer.area, offer.state) == ("l1", "general", "offered")
    # Nobody else can be offered it: it waits in no area's queue.
    for area in AREAS:
        assert caller not in rt.routing.room.waiting_calls(area, "zh")

    # The named agent declines: the call waits for the time-out, still offered to nobody else.
    assert rt.routing.reservations.decline(offer.id, rt.now()).changed
    assert rt.routing.matcher.match_call(caller, rt.now()) is None
    # The caller hanging up now, already served, is no abandon.
    departure = rt.routing.room.hang_up(caller, rt.now())
    assert (departure.changed, departure.outcome) == (True, "left")


def test_the_first_agent_hanging_up_during_a_warm_transfer_sends_the_caller_to_wait(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    assert Doc.parse(warm(twilio, rid)).first("Conference").text == rid
    before = len(rig.hub.network.exchanges)

    # The first agent hangs up while the caller is on hold: the hand-over job runs.
    twilio.post(f"/voice/agent/status?res={rid}", {"CallStatus": "completed"})
    run_jobs(redis, dispatch.DISPATCH_QUEUE)

    # The caller was moved to labor's waiting room rather than left alone (or cut off).
    moved = [
        exchange
        for exchange in rig.hub.network.exchanges[before:]
        if exchange["method"] == "POST" and exchange["path"].endswith(f"/Calls/{caller}.json")
    ]
    url = dict(moved[0]["form"])["Url"] if moved else ""
    assert "transferred-caller/room" in url and "area=labor" in url
    # Routing still has them waiting for labor, their transfer open; the agent wraps up.
    assert runtime.of(app).routing.room.waiting_calls("labor", "zh") == [caller]
    assert transfers.Transfers(redis).get(caller).state == "pending"
    assert AgentBoard(redis, runtime.of(app).config.routing).get("g1").activity == "wrap_up"


def test_a_transferred_call_is_offered_to_one_agent_however_many_race_for_it(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    rt = runtime.of(app)
    board = AgentBoard(rt.redis, rt.config.routing, script=rt.script)
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    assert Doc.parse(warm(twilio, rid)).first("Conference").text == rid
    # The transfer's own match found nobody (l1 on a break); now l1 comes back, while every
    # process that could match races: the call's polls and the freed agent's match.
    offered_before = rt.routing.room.get(caller).state
    assert offered_before == "waiting"
    board.set_presence("l1", "available", rt.now())
    with ThreadPoolExecutor(max_workers=8) as pool:
        tries = [pool.submit(rt.routing.matcher.match_call, caller, rt.now()) for _ in range(8)]
        tries += [pool.submit(rt.routing.matcher.match_agent, "l1", rt.now()) for _ in range(8)]
        matches = [t.result() for t in tries if t.result() is not None]
    assert len(matches) == 1 and matches[0].agent_id == "l1"
    queued = rt.routing.room.get(caller)
    assert (queued.state, queued.reservation) == ("reserved", matches[0].reservation_id)
    # The first agent is still on the call, their reservation untouched until the accept.
    assert rt.routing.reservations.get(rid).state == "accepted"
    assert board.get("g1").activity == "talking"


def test_a_cold_transfer_from_the_desk_moves_the_caller_and_lets_the_agent_go(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    rt = runtime.of(app)
    before = len(rig.hub.network.exchanges)

    started = transfers.start(rt, rid, mode="cold", area="labor")

    assert started.ok
    moved = [
        dict(exchange["form"]).get("Url", "")
        for exchange in rig.hub.network.exchanges[before:]
        if exchange["method"] == "POST" and exchange["path"].endswith(f"/Calls/{caller}.json")
    ]
    assert len(moved) == 1 and "transferred-caller/room" in moved[0]
    assert rt.routing.room.waiting_calls("labor", "zh") == [caller]
    assert AgentBoard(redis, rt.config.routing).get("g1").activity == "wrap_up"
    # The agent's conference ended under them (the caller left it): they hear the transfer
    # went through, not that the caller hung up.
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    reply = twilio.post(f"/voice/agent/done?res={rid}", {"CallStatus": "in-progress"})
    doc = Doc.parse(reply)
    assert doc.first("Say").text == rt.config.prompt("agent_transfer_cold", "zh")
    assert doc.verbs()[-1] == "Hangup"


def test_by_phone_a_colleague_is_chosen_by_their_keypad_code(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    rt = runtime.of(app)
    config = rt.config
    AgentBoard(rt.redis, config.routing, script=rt.script).set_presence("l1", "available", rt.now())
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)

    # * in the area menu: the colleague's ID on the keypad, ended by #.
    asked = Doc.parse(twilio.post(f"/voice/agent/transfer/area?res={rid}&lang=zh", {"Digits": "*"}))
    gather = asked.first("Gather")
    assert gather.get("finishOnKey") == "#"
    assert asked.first("Say").text == config.prompt("agent_transfer_agent", "zh")
    # Nobody has code 999, and g1 cannot transfer to themselves: told, back with the caller.
    for code in ("999", "41"):  # g1 keys as 4 1
        nobody = twilio.post(gather.get("action"), {"Digits": code})
        said_then_joined(nobody, config.prompt("agent_transfer_busy", "zh"), rid)
    # l1 keys as 5 1: then warm or cold, naming the colleague.
    chosen = Doc.parse(twilio.post(gather.get("action"), {"Digits": "51"}))
    assert chosen.first("Say").text == config.prompt("agent_transfer_mode", "zh", area="L1")
    mode = chosen.first("Gather").get("action")
    said_then_joined(
        twilio.post(mode, {"Digits": "1"}), config.prompt("agent_transfer_warm", "zh"), rid
    )
    offer = rt.routing.reservations.get(rt.routing.room.get(caller).reservation)
    assert (offer.agent_id, offer.state) == ("l1", "offered")
    assert caller_participant(rig, rid, caller).hold is True


def test_the_transfer_key_with_redis_down_sends_the_agent_back_to_the_caller(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    config = runtime.of(app).config
    down = hotline_on(rig, app_env, clock, f"redis://127.0.0.1:{closed_port()}/0")
    twilio = Twilio(down.test_client(), token=AUTH_TOKEN, base=rig.app_url)

    # * then 7 in the in-call menu: told, and back in the conference, never hung up.
    reply = twilio.post(f"/voice/agent/menu?res={rid}", {"Digits": config.transfer.key})

    said_then_joined(reply, config.prompt("agent_transfer_failed", "zh"), rid)
    assert caller_participant(rig, rid, caller).hold is False


def test_a_cold_transfer_nobody_takes_leaves_the_caller_waiting_like_any_caller(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    rt = runtime.of(app)
    started = transfers.start(rt, rid, mode="cold", area="labor")
    assert started.ok

    runtime.install(lambda: rt)
    try:
        assert transfers.expire_job(caller, started.transfer_id) == "expired"
    finally:
        runtime.install(None)

    # Still first in labor's waiting room, as any caller (callback and message keys as usual).
    queued = rt.routing.room.get(caller)
    assert (queued.state, queued.area) == ("waiting", "labor")
    assert rt.routing.room.waiting_calls("labor", "zh") == [caller]
    assert transfers.Transfers(redis).get(caller).state == "expired"
    back = [e for e in events.recent(redis, 50) if e["kind"] == "transfer-back"]
    assert [(e["call"], e["agent"], e.get("to")) for e in back] == [(caller, "g1", "waiting-room")]
    # The first agent, gone into wrap-up, is not called back to the caller.
    assert AgentBoard(redis, rt.config.routing).get("g1").activity == "wrap_up"
