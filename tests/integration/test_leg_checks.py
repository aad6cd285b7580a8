"""Calls whose Twilio leg ended unheard (a lost hang-up webhook, a crash): the leg check looks
them up through the gateway, against the carrier, and ends them as the hang-up would have."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from rq import Queue

from queues import dispatch, events, keys, runtime
from queues.agents import CRISIS_LEG_CHECK_AFTER_S, AgentBoard
from queues.calls import CallStore
from queues.matcher import Matcher
from queues.reservations import Reservations
from queues.sweep import LEG_CHECK_EVERY_S, LegChecks
from queues.waiting import LEG_CHECK_AFTER_S, WaitingRoom
from routing.config import HotlineConfig
from telephony.gateway import Gateway
from tests.fixtures.app import Clock
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, HOTLINE, Rig
from tests.fixtures.dispatch import job_urls, staff
from tests.fixtures.jobs import run_jobs

pytestmark = pytest.mark.redis

UNKNOWN_LEG = "CA" + "0" * 32


@pytest.fixture
def config(hotline_config: HotlineConfig) -> HotlineConfig:
    """The shipped config, with offers ringing long enough to be withdrawn while they ring."""
    # The agent's leg rings reservation_timeout_s - 2 carrier seconds: about 3 s real here.
    return replace(
        hotline_config, routing=replace(hotline_config.routing, reservation_timeout_s=600)
    )


@pytest.fixture
def rt(redis, rig: Rig, clock: Clock, config: HotlineConfig) -> Iterator[runtime.Runtime]:
    """The runtime jobs use, with the carrier as Twilio and the test's clock."""
    current = runtime.Runtime(
        redis, rig.gateway, config, rig.app_url, clock, webhooks=job_urls(rig.app_url)
    )
    runtime.install(lambda: current)
    yield current
    runtime.install(None)


def ended_leg(rig: Rig) -> str:
    """A caller's leg that rang in and hung up; the app under test heard nothing of it."""
    sid = rig.start(hangup_after=1)
    rig.finish(sid)
    assert rig.gateway.fetch_call(sid).status == "completed"
    return sid


def live_leg(rig: Rig) -> str:
    """A caller's leg waiting in the carrier's queue for the general area."""
    sid = rig.start("press:1", "press:0", "press:1", hangup_after=5000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=sid), what="the caller to wait")
    assert rig.gateway.fetch_call(sid).status == "in-progress"
    return sid


def queue(rt: runtime.Runtime, call_sid: str, *, caller: str | None = None) -> None:
    """Put a call in the general area's waiting room at the clock's time."""
    room = WaitingRoom(rt.redis, rt.config.routing, script=rt.script)
    assert room.enqueue(call_sid, area="general", language="zh", now=rt.now(), caller=caller)


def later(clock: Clock, seconds: float) -> None:
    """Move the test's clock on."""
    clock.now += timedelta(seconds=seconds)


def kinds(redis, call_sid: str) -> list[str]:
    """The kinds of a call's events, oldest first."""
    return [e["kind"] for e in reversed(events.recent(redis, 500)) if e.get("call") == call_sid]


def test_a_waiting_call_whose_leg_ended_unheard_is_abandoned_and_frees_its_place(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    gone, live = ended_leg(rig), live_leg(rig)
    queue(rt, gone, caller="+8613912345678")
    later(clock, 1)
    queue(rt, live)
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert (room.position(gone), room.position(live)) == (0, 1)

    # Hang-ups normally arrive by webhook: a call is not looked up before it has stayed a while.
    assert dispatch.check_legs(rt).looked_up == []
    later(clock, LEG_CHECK_AFTER_S)
    report = dispatch.check_legs(rt)

    assert (report.looked_up, report.ended, report.trouble) == ([gone, live], [gone], False)
    assert room.position(live) == 0  # the gone caller's place is freed
    left = room.get(gone)
    assert (left.state, left.outcome) == ("ended", "abandoned")
    assert room.is_returning("+8613912345678")  # a hang-up, so they come first next time
    assert CallStore(rt.redis).get(gone).status == "completed"
    assert kinds(rt.redis, gone) == ["queued", "ended", "abandoned", "leg-gone"]
    (found,) = [e for e in events.recent(rt.redis) if e["kind"] == "leg-gone"]
    assert (found["leg"], found["status"], found["state"]) == (gone, "completed", "waiting")
    # The live caller is left alone, and looked up again only after a while.
    assert room.get(live).state == "waiting" and kinds(rt.redis, live) == ["queued"]
    assert dispatch.check_legs(rt).looked_up == []
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).looked_up == [live]
    assert room.get(live).state == "waiting"


def test_a_leg_twilio_no_longer_knows_counts_as_gone(rt: runtime.Runtime, clock: Clock) -> None:
    queue(rt, UNKNOWN_LEG)
    later(clock, LEG_CHECK_AFTER_S)

    assert dispatch.check_legs(rt).ended == [UNKNOWN_LEG]

    assert WaitingRoom(rt.redis, rt.config.routing).get(UNKNOWN_LEG).outcome == "abandoned"
    (found,) = [e for e in events.recent(rt.redis) if e["kind"] == "leg-gone"]
    assert found["status"] == "not-found"


def test_a_reserved_agent_is_freed_and_the_ringing_offer_withdrawn(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    gone = ended_leg(rig)
    board = staff(rt)
    queue(rt, gone)
    later(clock, LEG_CHECK_AFTER_S)
    match = Matcher(rt.redis, rt.config.routing).match_call(gone, rt.now())
    assert match is not None and match.agent_id == "g1"
    dispatch.dispatch(rt.redis, [match])
    run_jobs(rt.redis, dispatch.DISPATCH_QUEUE)  # rings the agent's phone
    agent_leg = CallStore(rt.redis).get(gone).agent_leg
    # Twilio answers the create with a queued call and rings the phone a moment later, after
    # the leg's initiated callback to the app; the stand-in does the same.
    rig.wait_until(
        lambda: rig.gateway.fetch_call(agent_leg).status == "ringing",
        what="the agent's phone to ring",
    )
    assert board.get("g1").status == "reserved"

    assert dispatch.check_legs(rt).ended == [gone]

    agent = board.get("g1")
    assert agent.status == "available" and agent.free and agent.misses == 0
    offer = Reservations(rt.redis, rt.config.routing).get(match.reservation_id)
    assert offer.state == "caller-gone"
    assert kinds(rt.redis, gone)[-4:] == ["ended", "caller-gone", "abandoned", "leg-gone"]
    run_jobs(rt.redis, dispatch.DISPATCH_QUEUE)  # the withdrawal stops the agent's phone
    # The cancel is asked for by REST; the ringing leg ends on its own thread just after.
    rig.wait_until(
        lambda: rig.gateway.fetch_call(agent_leg).status == "canceled",
        what="the agent's phone to stop ringing",
    )


def test_an_accepted_call_whose_agent_never_joined_waits_again_when_their_leg_is_gone(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    board = staff(rt)
    caller, agent_gone = live_leg(rig), ended_leg(rig)
    queue(rt, caller)
    match = Matcher(rt.redis, rt.config.routing).match_call(caller, rt.now())
    reservations = Reservations(rt.redis, rt.config.routing)
    assert reservations.accept(match.reservation_id, rt.now()).changed
    # Twilio hung up on the agent before the conference, and its status callback was lost.
    CallStore(rt.redis).update(caller, agent_leg=agent_gone, reservation=match.reservation_id)
    later(clock, LEG_CHECK_AFTER_S)

    assert dispatch.check_legs(rt).ended == [caller]

    assert reservations.get(match.reservation_id).state == "not-joined"
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert room.get(caller).state in ("waiting", "reserved")  # offered again at once
    agent = board.get("g1")
    assert agent.misses == 0 and agent.cool_until <= rt.now()
    # A job sends the caller's leg back to the waiting room.
    assert (
        f"return-{match.reservation_id}"
        in Queue(dispatch.DISPATCH_QUEUE, connection=rt.redis).job_ids
    )


def test_a_caller_who_hung_up_alone_before_their_agent_joined_has_abandoned(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    staff(rt)
    caller, agent_gone = ended_leg(rig), ended_leg(rig)
    queue(rt, caller)
    match = Matcher(rt.redis, rt.config.routing).match_call(caller, rt.now())
    assert Reservations(rt.redis, rt.config.routing).accept(match.reservation_id, rt.now()).changed
    CallStore(rt.redis).update(caller, agent_leg=agent_gone, reservation=match.reservation_id)
    later(clock, LEG_CHECK_AFTER_S)
    assert dispatch.check_legs(rt).ended == [caller]

    # The job sending them back finds their leg over: their stay ends, abandoned.
    assert dispatch.return_caller(match.reservation_id) == "caller-gone"

    room = WaitingRoom(rt.redis, rt.config.routing)
    assert (room.get(caller).state, room.get(caller).outcome) == ("ended", "abandoned")


def test_a_talking_call_ends_in_wrap_up_when_the_agents_leg_is_gone(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    board = staff(rt)
    caller, agent_gone, agent_live = live_leg(rig), ended_leg(rig), live_leg(rig)
    queue(rt, caller)
    match = Matcher(rt.redis, rt.config.routing).match_call(caller, rt.now())
    reservations = Reservations(rt.redis, rt.config.routing)
    assert reservations.accept(match.reservation_id, rt.now()).changed
    reservations.joined(match.reservation_id, "agent", rt.now())
    store = CallStore(rt.redis)
    # Still talking: the agent's leg is live, so the call goes on however long it lasts.
    store.update(caller, agent_leg=agent_live, reservation=match.reservation_id)
    later(clock, LEG_CHECK_AFTER_S)
    assert dispatch.check_legs(rt).looked_up == [caller]
    assert board.get("g1").status == "talking"

    # The agent hung up and neither /voice/agent/done nor the status callback came.
    store.update(caller, agent_leg=agent_gone)
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).ended == [caller]

    assert board.get("g1").status == "wrap_up"
    assert reservations.get(match.reservation_id).state == "finished"
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert (room.get(caller).state, room.get(caller).outcome) == ("ended", "connected")
    assert kinds(rt.redis, caller)[-2:] == ["wrap-up", "leg-gone"]
    # Ended calls are no longer looked up.
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).looked_up == []
    assert rt.redis.zcard(keys.due_leg_checks()) == 0


def test_a_callback_keeps_its_place_though_the_callers_leg_ended(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    # The caller asked to be called back, then hung up as told: no leg to look up until then.
    gone = ended_leg(rig)
    queue(rt, gone)
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert room.to_callback(gone, "+8613912345678", rt.now())
    later(clock, LEG_CHECK_AFTER_S)

    assert dispatch.check_legs(rt).looked_up == []
    assert room.get(gone).state == "waiting" and room.position(gone) == 0


def test_a_gateway_error_leaves_the_call_for_next_time(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    gone = ended_leg(rig)
    queue(rt, gone)
    later(clock, LEG_CHECK_AFTER_S)
    requests.put(
        f"{rig.carrier_url}/carrier/faults",
        json={"rest_500": 1.0, "rest_match": "/Calls/", "limits": {"rest_500": 1}},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).raise_for_status()

    report = dispatch.check_legs(rt)

    assert (report.looked_up, report.ended, report.trouble) == ([gone], [], True)
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert room.get(gone).state == "waiting" and room.position(gone) == 0
    # Twilio is struggling: no leg check is queued until the back-off passes.
    assert not dispatch.queue_leg_check(rt)
    rt.redis.delete(keys.leg_check_hold())
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).ended == [gone]
    assert kinds(rt.redis, gone).count("abandoned") == 1


def test_a_lookup_that_times_out_stops_the_batch_until_next_time(
    rt: runtime.Runtime, clock: Clock
) -> None:
    # A server that takes the connection and never answers, like an API black-holing requests.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        black_hole = Gateway(
            ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{port}", HOTLINE, timeout=0.2
        )
        slow = replace(rt, gateway=black_hole)
        for sid in ("CA" + "1" * 32, "CA" + "2" * 32):
            queue(rt, sid)
        later(clock, LEG_CHECK_AFTER_S)

        report = dispatch.check_legs(slow)

    # One request timed out: the rest of the batch waits rather than piling up timeouts.
    assert (len(report.looked_up), report.ended, report.trouble) == (1, [], True)
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert [room.get(sid).state for sid in ("CA" + "1" * 32, "CA" + "2" * 32)] == ["waiting"] * 2


def test_two_leg_checks_at_once_end_the_call_once(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    gone = [ended_leg(rig) for _ in range(3)]
    for sid in gone:
        queue(rt, sid)
    later(clock, LEG_CHECK_AFTER_S)
    # Two workers, each with its own connection to Twilio, start their checks together.
    runtimes = [
        replace(rt, gateway=Gateway(ACCOUNT_SID, AUTH_TOKEN, rig.carrier_url, HOTLINE))
        for _ in range(2)
    ]
    start = threading.Barrier(2)
    reports: list[dispatch.LegReport] = []

    def check(worker_rt: runtime.Runtime) -> None:
        start.wait(5)
        reports.append(dispatch.check_legs(worker_rt, limit=2))

    threads = [threading.Thread(target=check, args=(worker_rt,)) for worker_rt in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(sid for report in reports for sid in report.ended) == sorted(gone)
    for sid in gone:
        assert kinds(rt.redis, sid).count("abandoned") == 1
        assert kinds(rt.redis, sid).count("leg-gone") == 1


def test_the_same_gone_call_ended_twice_changes_it_once(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    # Two checks that both read the call before either ended it (a claim that outlived a slow
    # worker): the routing script's leave step lets only one of them change anything.
    board = staff(rt)
    gone = ended_leg(rig)
    queue(rt, gone)
    match = Matcher(rt.redis, rt.config.routing).match_call(gone, rt.now())
    checks = LegChecks(rt.redis, rt.config.routing)
    first, second = checks.plan(gone), checks.plan(gone)
    assert first is not None and first == second and first.state == "reserved"

    assert dispatch.end_gone_call(rt, first, "completed")
    assert not dispatch.end_gone_call(rt, second, "completed")

    assert kinds(rt.redis, gone).count("abandoned") == 1
    assert kinds(rt.redis, gone).count("leg-gone") == 1
    assert kinds(rt.redis, gone).count("caller-gone") == 1
    assert Queue(dispatch.DISPATCH_QUEUE, connection=rt.redis).job_ids == [
        f"withdraw-{match.reservation_id}"
    ]
    assert board.get("g1").free


def test_the_sweep_queues_one_leg_check_on_rq(rt: runtime.Runtime, rig: Rig, clock: Clock) -> None:
    gone, live = ended_leg(rig), live_leg(rig)
    queue(rt, gone)
    queue(rt, live)
    default = Queue("default", connection=rt.redis)
    dispatch.sweep_job()
    assert default.job_ids == []  # nothing due yet

    later(clock, LEG_CHECK_AFTER_S)
    dispatch.sweep_job()
    dispatch.sweep_job()  # a second sweep while the first check is queued adds none
    assert default.job_ids == [dispatch.LEG_CHECK_JOB_ID]
    run_jobs(rt.redis, "default")

    job = default.fetch_job(dispatch.LEG_CHECK_JOB_ID)
    assert job is not None and job.return_value() == 1
    room = WaitingRoom(rt.redis, rt.config.routing)
    assert room.get(gone).outcome == "abandoned" and room.get(live).state == "waiting"
    # The check let go of its hold: the next due call gets a check from the next sweep.
    assert not rt.redis.exists(keys.leg_check_hold())
    later(clock, LEG_CHECK_EVERY_S)
    dispatch.sweep_job()
    assert default.job_ids == [dispatch.LEG_CHECK_JOB_ID]


def test_a_caller_polling_the_wait_url_is_not_looked_up_until_the_polls_stop(
    rt: runtime.Runtime, clock: Clock, app, twilio
) -> None:
    # Neither leg is known to Twilio: a lookup would end the call, so only looked-up calls end.
    polled, unpolled = "CA" + "3" * 32, "CA" + "4" * 32
    queue(rt, polled)
    queue(rt, unpolled)
    room = WaitingRoom(rt.redis, rt.config.routing)

    def poll(call_sid: str) -> None:
        """Twilio fetching the waitUrl for a caller in its queue."""
        form = {"CallSid": call_sid, "QueuePosition": "1"}
        assert twilio.post("/voice/wait?lang=zh&area=general", form).status_code == 200

    later(clock, LEG_CHECK_AFTER_S - 10)
    poll(polled)
    later(clock, 10)  # both are due a look by when they joined; the poll put one off

    report = dispatch.check_legs(rt)

    assert (report.looked_up, report.ended) == ([unpolled], [unpolled])
    assert room.get(polled).state == "waiting"
    # Polled every announce interval, the caller is never looked up however long they wait.
    for _ in range(6):
        later(clock, app.config["HOTLINE"].announce_every_s)
        poll(polled)
        assert dispatch.check_legs(rt).looked_up == []
    # The polls stopped (a hang-up the app never heard of): looked up once the last one ages.
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).ended == [polled]
    # A late poll never brings an ended call back into the leg checks.
    poll(polled)
    assert rt.redis.zcard(keys.due_leg_checks()) == 0


def test_a_poll_never_brings_a_planned_look_forward(rt: runtime.Runtime, clock: Clock) -> None:
    queue(rt, UNKNOWN_LEG)
    later(clock, LEG_CHECK_AFTER_S)
    checks = LegChecks(rt.redis, rt.config.routing)
    assert checks.claim(rt.now(), every_s=10 * LEG_CHECK_EVERY_S) == [UNKNOWN_LEG]

    checks.alive(UNKNOWN_LEG, rt.now())

    planned = rt.redis.zscore(keys.due_leg_checks(), UNKNOWN_LEG)
    assert planned == rt.now() + 10 * LEG_CHECK_EVERY_S


def take_crisis_call(rt: runtime.Runtime, board: AgentBoard, call_sid: str, taker_leg: str) -> None:
    """g1 pressed 1 after a crisis whisper, as /voice/crisis/whisper/answer records it."""
    CallStore(rt.redis).update(call_sid, heavy="1", crisis_taker="g1", crisis_taker_leg=taker_leg)
    assert board.engage_crisis("g1", call_sid, rt.now())
    assert board.get("g1").activity == "talking"


@pytest.mark.parametrize("gone_side", ["caller", "taker"])
def test_a_crisis_taker_whose_call_ended_unheard_is_released_into_heavy_wrap_up(
    rt: runtime.Runtime, rig: Rig, clock: Clock, gone_side: str
) -> None:
    board = staff(rt)
    gone, live = ended_leg(rig), live_leg(rig)
    caller, taker_leg = (gone, live) if gone_side == "caller" else (live, gone)
    take_crisis_call(rt, board, caller, taker_leg)
    taken_at = rt.now()
    # Neither the ring's end nor the caller's hang-up reached the app: the taker stays
    # "talking", out of routing and of the crisis ring, until a leg check looks.
    assert dispatch.check_legs(rt).looked_up == []
    later(clock, CRISIS_LEG_CHECK_AFTER_S)

    report = dispatch.check_legs(rt)

    assert report.ended == [caller]
    agent = board.get("g1")
    crisis_wrap_s = rt.config.routing.crisis_wrap_up_s
    assert agent.activity == "wrap_up" and agent.wrap_until == rt.now() + crisis_wrap_s
    # A crisis call counts against the heavy-call cap like one that ended by webhook.
    assert rt.redis.zcard(keys.agent_heavy_calls("g1")) == 1
    (found,) = [e for e in events.recent(rt.redis) if e["kind"] == "leg-gone"]
    assert (found["leg"], found["state"], found["call"]) == (gone, "crisis", caller)
    assert rt.now() - taken_at < 60  # found long before the two-hour stale limit
    # Released once: nothing is looked up again, and a late webhook changes nothing.
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).looked_up == []
    assert board.release_crisis("g1", caller, rt.now()) is None


def test_a_crisis_taker_still_talking_is_left_alone(
    rt: runtime.Runtime, rig: Rig, clock: Clock
) -> None:
    board = staff(rt)
    caller, taker_leg = live_leg(rig), live_leg(rig)
    take_crisis_call(rt, board, caller, taker_leg)
    later(clock, CRISIS_LEG_CHECK_AFTER_S)

    report = dispatch.check_legs(rt)

    assert (report.looked_up, report.ended) == ([caller], [])
    assert board.get("g1").activity == "talking"
    # The call ended by its webhook: the leg check forgets it.
    assert board.release_crisis("g1", caller, rt.now()) is not None
    later(clock, LEG_CHECK_EVERY_S)
    assert dispatch.check_legs(rt).looked_up == []
    assert rt.redis.zcard(keys.due_leg_checks()) == 0
