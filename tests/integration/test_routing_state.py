"""Routing state in Redis: roster import, presence, matching, reservations, wrap-up and sweeps."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from queues import events, keys
from queues.agents import AgentBoard, UnknownAgent
from queues.matcher import Matcher
from queues.ratelimit import RateLimiter
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.sweep import sweep
from queues.waiting import WaitingRoom
from routing.matching import (
    AgentState,
    RoutingPolicy,
    WaitingCall,
    choose_agent,
    choose_call,
    default_policy,
    ring_failure_hold_s,
)
from routing.pins import pin_matches
from routing.roster import Agent, DatedException, Roster, Shift, parse_roster

pytestmark = pytest.mark.redis

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
NOW = 1_796_176_800.0  # Wednesday 2026-12-02 10:00 in Shanghai
ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))
REPO = Path(__file__).resolve().parents[2]


def make_agent(agent_id: str, skills: dict[str, int], langs=("zh",), **fields) -> Agent:
    number = 10_000_000 + sum(ord(c) * 31**i for i, c in enumerate(agent_id)) % 89_999_999
    return Agent(
        id=agent_id,
        name=agent_id,
        phone=f"+86139{number:08d}",
        languages=tuple(langs),
        skills=skills,
        shifts=fields.pop("shifts", ALWAYS),
        **fields,
    )


@dataclass
class Hotline:
    """The routing state objects on one Redis, with a policy."""

    redis: object
    policy: RoutingPolicy

    def __post_init__(self) -> None:
        script = RoutingScript(self.redis, self.policy)
        self.board = AgentBoard(self.redis, self.policy, script=script)
        self.room = WaitingRoom(self.redis, self.policy, script=script)
        self.matcher = Matcher(self.redis, self.policy, script=script)
        self.reservations = Reservations(self.redis, self.policy, script=script)

    def staff(self, *agents: Agent, now: float = NOW, presence: str = "available") -> None:
        self.board.import_roster(Roster(tuple(agents)), now, presence=presence)

    def queue(self, sid: str, area: str = "labor", language: str = "zh", now: float = NOW, **kw):
        assert self.room.enqueue(sid, area=area, language=language, now=now, **kw)
        return self.matcher.match_call(sid, now)

    def kinds(self) -> list[str]:
        return [event["kind"] for event in reversed(events.recent(self.redis, 500))]


@pytest.fixture
def hotline(redis) -> Hotline:
    return Hotline(redis, default_policy(AREAS))


def test_every_key_format_is_pinned():
    assert keys.agents() == "hotline:agents"
    assert keys.roster() == "hotline:roster"
    assert keys.agent("a1") == "hotline:agent:a1"
    assert keys.agent_heavy_calls("a1") == "hotline:agent-heavy:a1"
    assert keys.agent_pool("labor", "zh", 3, "open") == "hotline:pool:labor:zh:3:open"
    assert keys.crisis_pool("zh") == "hotline:crisis-pool:zh"
    assert keys.waiting("labor", "zh") == "hotline:waiting:labor:zh"
    assert keys.queued_call("CA1") == "hotline:queued:CA1"
    assert keys.reservation("RS1") == "hotline:reservation:RS1"
    assert keys.due_reservations() == "hotline:due:reservations"
    assert keys.due_wrap_ups() == "hotline:due:wrap-ups"
    assert keys.due_cool_downs() == "hotline:due:cool-downs"
    assert keys.due_cap_releases() == "hotline:due:cap-releases"
    assert keys.due_shift_changes() == "hotline:due:shift-changes"
    assert keys.due_widenings() == "hotline:due:widenings"
    assert keys.due_callbacks() == "hotline:due:callbacks"
    assert keys.due_held_calls() == "hotline:due:held-calls"
    assert keys.due_leg_checks() == "hotline:due:leg-checks"
    assert keys.leg_check_hold() == "hotline:leg-check-hold"
    assert keys.returning_caller("abc") == "hotline:returning:abc"
    assert keys.handle_times("labor") == "hotline:handle-times:labor"
    assert keys.rate_limit("calls") == "hotline:rate:calls"
    assert keys.carrier_failures() == "hotline:carrier-failures"
    # The routing script builds per-id keys from the prefix for an empty id.
    for key in (keys.agent, keys.agent_heavy_calls, keys.queued_call, keys.reservation):
        assert key("x1") == key("") + "x1"


def test_import_replaces_the_agents_atomically_and_keeps_state(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), make_agent("a2", {"family": 2}))
    assert hotline.board.ids() == ["a1", "a2"]
    hotline.board.set_presence("a1", "on_break", NOW)
    report = hotline.board.import_roster(
        Roster((make_agent("a1", {"labor": 1}), make_agent("a3", {"labor": 3}))), NOW
    )
    assert (report.added, report.removed) == (["a3"], ["a2"])
    assert hotline.board.ids() == ["a1", "a3"]
    assert hotline.board.get("a2") is None
    a1 = hotline.board.get("a1")
    assert a1.presence == "on_break" and a1.skills == {"labor": 1}  # state kept, skills new
    assert hotline.board.get("a3").presence == "offline"  # new agents start offline
    assert hotline.redis.zcard(keys.agent_pool("family", "zh", 2, "open")) == 0
    with pytest.raises(UnknownAgent):
        hotline.board.set_presence("a2", "available", NOW)


def test_roster_export_text_round_trips(hotline: Hotline):
    text = (REPO / "examples" / "roster.yaml").read_text(encoding="utf-8")
    roster = parse_roster(text, source="roster.yaml", area_ids=AREAS, languages=["zh", "en"])
    hotline.board.import_roster(roster, NOW)
    stored = hotline.board.roster_text()
    back = parse_roster(stored, source="x", area_ids=AREAS, languages=["zh", "en"])
    # Everything comes back but the PINs, which are stored only as hashes of themselves.
    assert "pin:" not in stored and "pin_hash: scrypt:" in stored
    for before, after in zip(roster.agents, back.agents, strict=True):
        assert (after.pin, after.pin_hash is None) == (None, before.pin is None)
        assert before.pin is None or pin_matches(after.pin_hash, before.pin)
    unpinned = [replace(agent, pin=None, pin_hash=None) for agent in back.agents]
    assert Roster(tuple(unpinned), back.timezone, back.supervisors) == replace(
        roster, agents=tuple(replace(agent, pin=None) for agent in roster.agents)
    )


def test_presence_decides_who_is_offered(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), presence="offline")
    assert hotline.queue("CA1") is None
    hotline.board.set_presence("a1", "available", NOW + 1)
    match = hotline.matcher.match_agent("a1", NOW + 1)
    assert (match.agent_id, match.call_sid) == ("a1", "CA1")
    assert hotline.board.get("a1").status == "reserved"


def test_labor_caller_reaches_the_labor_specialist(hotline: Hotline):
    hotline.staff(
        make_agent("family", {"family": 3}),
        make_agent("labor2", {"labor": 2}),
        make_agent("labor3", {"labor": 3}),
        make_agent("english", {"labor": 3}, langs=("en",)),
    )
    match = hotline.queue("CA1")
    assert match.agent_id == "labor3" and match.area == "labor"
    assert hotline.room.get("CA1").state == "reserved"
    assert hotline.queue("CA2").agent_id == "labor2"
    assert hotline.queue("CA3") is None  # the English speaker never gets a Mandarin caller
    assert hotline.room.position("CA3") == 0


def test_decline_keeps_the_callers_place_and_pauses_after_two(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), make_agent("a2", {"labor": 3}))
    first = hotline.queue("CA0", now=NOW - 5)
    other = hotline.queue("CA1")
    for offer in (first, other):  # both agents' phones now ringing
        assert hotline.reservations.rung(offer.reservation_id, NOW)
    declined = hotline.reservations.decline(first.reservation_id, NOW + 1)
    assert declined.changed and declined.misses == 1 and not declined.paused
    assert hotline.room.get("CA0").state == "waiting"
    hotline.room.enqueue("CA2", area="labor", language="zh", now=NOW + 2)
    assert hotline.room.position("CA0") == 0  # ahead of the later caller
    again = hotline.reservations.decline(first.reservation_id, NOW + 3)
    assert not again.changed and again.state == "declined"  # a repeated webhook
    # The agent cools down: not offered again until the delay passes.
    assert hotline.matcher.match_call("CA0", NOW + 3) is None
    report = sweep(hotline.redis, hotline.policy, NOW + 1 + hotline.policy.cool_down_s)
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [(first.agent_id, "CA0")]
    second = report.matches[0]
    missed = hotline.reservations.no_answer(second.reservation_id, NOW + 40)
    assert missed.misses == 2 and missed.paused
    status = hotline.board.get(first.agent_id)
    assert status.presence == "on_break" and status.paused == "no-answer"
    assert "paused" in hotline.kinds()
    hotline.board.set_presence(first.agent_id, "available", NOW + 100)
    assert hotline.board.get(first.agent_id).misses == 0


def test_reservation_timeout_by_sweep_offers_the_next_agent(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), make_agent("a2", {"labor": 3}))
    first = hotline.queue("CA1")
    assert first.agent_id == "a1"
    assert hotline.reservations.rung(first.reservation_id, NOW + 1)  # a1's phone rang
    assert sweep(hotline.redis, hotline.policy, NOW + 19).timeouts == []
    report = sweep(hotline.redis, hotline.policy, NOW + 20)
    assert [t.agent_id for t in report.timeouts] == ["a1"]
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("a2", "CA1")]
    assert hotline.reservations.get(first.reservation_id).state == "timeout"
    # Accepting too late changes nothing.
    late = hotline.reservations.accept(first.reservation_id, NOW + 21)
    assert not late.changed and late.state == "timeout"


def test_an_offer_whose_phone_never_rang_times_out_without_a_miss(hotline: Hotline):
    """A ring job that never ran (a worker down) is not the agent ignoring a call."""
    hotline.staff(make_agent("a1", {"labor": 3}), make_agent("a2", {"labor": 3}))
    first = hotline.queue("CA1", now=NOW - 5)
    assert first.agent_id == "a1"

    report = sweep(hotline.redis, hotline.policy, NOW + 20)

    assert report.timeouts == []
    assert [(t.agent_id, t.call_sid) for t in report.not_rung] == [("a1", "CA1")]
    assert hotline.reservations.get(first.reservation_id).state == "not-rung"
    agent = hotline.board.get("a1")
    assert agent.misses == 0 and agent.cool_until == 0 and agent.paused == ""
    # Back in their places: the caller is offered again at once, to a1 who is longest idle.
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("a1", "CA1")]
    assert "not-rung" in hotline.kinds() and "timeout" not in hotline.kinds()


def test_a_ring_the_carrier_failed_holds_the_caller_back_longer_each_time(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}))
    match = hotline.queue("CA0", now=NOW - 30)
    idle_since = hotline.board.get("a1").idle_since
    now = NOW
    for failures in (1, 2, 3):
        failed = hotline.reservations.not_rung(match.reservation_id, now, hold=True)
        assert failed.changed and failed.state == "not-rung"
        hold = ring_failure_hold_s(failures)
        assert failed.held_until == now + hold
        assert hotline.reservations.not_rung(match.reservation_id, now, hold=True).changed is False
        agent = hotline.board.get("a1")
        # No miss, no cool-down, no pause, and the same place in the idle order.
        assert (agent.free, agent.misses, agent.paused) == (True, 0, "")
        assert agent.idle_since == idle_since
        assert hotline.room.get("CA0").state == "held"
        assert hotline.room.position("CA0") is None
        assert hotline.matcher.match_call("CA0", now) is None
        # Held back: a1 is free, but not offered CA0 before the hold ends.
        assert hotline.matcher.match_agent("a1", now + hold - 0.5) is None
        assert sweep(hotline.redis, hotline.policy, now + hold - 0.5).held_back_due == []
        now += hold
        report = sweep(hotline.redis, hotline.policy, now)
        assert report.held_back_due == ["CA0"]
        (match,) = report.matches
        assert (match.agent_id, match.call_sid) == ("a1", "CA0")
    assert [ring_failure_hold_s(n) for n in (1, 2, 3, 4, 5, 6, 99)] == [2, 4, 8, 16, 30, 30, 30]


def test_a_held_back_caller_can_hang_up_or_ask_for_a_callback(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}))
    for sid in ("CA1", "CA2"):
        match = hotline.queue(sid)
        hotline.reservations.not_rung(match.reservation_id, NOW, hold=True)
        assert hotline.room.get(sid).state == "held"
    assert hotline.room.hang_up("CA1", NOW + 1).changed
    assert hotline.room.get("CA1").outcome == "abandoned"
    assert hotline.room.to_callback("CA2", "+8613812345678", NOW + 1)
    report = sweep(hotline.redis, hotline.policy, NOW + 100)
    assert report.held_back_due == ["CA2"]  # the hung-up caller is gone from the holding list
    (match,) = report.matches
    assert (match.call_sid, match.kind) == ("CA2", "callback")


def test_caller_hangs_up_while_the_agent_rings(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}))
    match = hotline.queue("CA1", caller="+8613812345678")
    gone = hotline.room.hang_up("CA1", NOW + 3)
    assert gone.changed and gone.reservation == match.reservation_id and gone.agent == "a1"
    assert hotline.board.get("a1").status == "available" and hotline.board.get("a1").free
    assert hotline.board.get("a1").misses == 0  # not the agent's fault
    accepted = hotline.reservations.accept(match.reservation_id, NOW + 4)
    assert not accepted.changed and accepted.state == "caller-gone"
    assert hotline.room.get("CA1").outcome == "abandoned"
    assert not hotline.room.hang_up("CA1", NOW + 5).changed
    # The same caller calling again is a returning abandoner and goes ahead.
    hotline.board.set_presence("a1", "on_break", NOW + 5)
    hotline.room.enqueue("CA2", area="labor", language="zh", now=NOW + 5)
    hotline.room.enqueue("CA3", area="labor", language="zh", now=NOW + 6, caller="+8613812345678")
    assert hotline.room.get("CA3").priority == "returning"
    assert hotline.room.position("CA3") == 0
    assert "+8613812345678" not in str(hotline.redis.keys("*"))
    for event in events.recent(hotline.redis, 100):
        assert "13812345678" not in str(event)


def test_accept_finish_and_wrap_up(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}))
    match = hotline.queue("CA1")
    accepted = hotline.reservations.accept(match.reservation_id, NOW + 2)
    assert accepted.changed and hotline.board.get("a1").status == "talking"
    assert hotline.room.get("CA1").outcome == "connected"
    assert hotline.reservations.accept(match.reservation_id, NOW + 2).changed is False
    assert hotline.reservations.bridged(match.reservation_id, NOW + 3)
    assert not hotline.reservations.bridged(match.reservation_id, NOW + 4)  # a repeated callback
    done = hotline.reservations.finish(match.reservation_id, NOW + 300)
    assert done.wrap_until == NOW + 360 and not done.heavy
    assert hotline.board.get("a1").status == "wrap_up"
    assert hotline.queue("CA2", now=NOW + 301) is None
    assert hotline.room.recent_handle_times("labor") == [298.0]
    report = sweep(hotline.redis, hotline.policy, NOW + 360)
    assert report.wrap_ups_ended == ["a1"]
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("a1", "CA2")]
    kinds = hotline.kinds()
    for kind in ("queued", "offered", "accepted", "bridged", "wrap-up", "wrap-up-end"):
        assert kind in kinds


def test_an_accepted_call_whose_agent_never_joined_is_offered_again_first(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), make_agent("a2", {"labor": 3}))
    hotline.board.set_presence("a1", "available", NOW - 20)
    hotline.board.set_presence("a2", "available", NOW - 10)
    match = hotline.queue("CA1", now=NOW)
    assert match.agent_id == "a1"
    assert hotline.reservations.accept(match.reservation_id, NOW + 2).changed
    # a2 is offered a caller who came later; the returned caller must come before the next.
    assert hotline.queue("CA2", now=NOW + 3).agent_id == "a2"
    hotline.room.enqueue("CA3", area="labor", language="zh", now=NOW + 4)

    back = hotline.reservations.unjoined(match.reservation_id, NOW + 5)

    assert back.changed and (back.agent_id, back.call_sid) == ("a1", "CA1")
    assert hotline.reservations.get(match.reservation_id).state == "not-joined"
    assert hotline.room.get("CA1").state == "waiting" and hotline.room.get("CA1").outcome == ""
    assert hotline.room.position("CA1") == 0 and hotline.room.position("CA3") == 1
    a1 = hotline.board.get("a1")
    assert a1.misses == 0 and a1.cool_until <= NOW + 5 and a1.free and a1.idle_since == NOW + 5
    assert "not-joined" in hotline.kinds() and "no-answer" not in hotline.kinds()
    # A repeat (the leg check after the status callback) changes nothing.
    assert not hotline.reservations.unjoined(match.reservation_id, NOW + 6).changed
    # The next free agent is offered them first, ahead of the caller who came after them.
    again = hotline.matcher.match_agent("a1", NOW + 6)
    assert again.call_sid == "CA1"
    # Once the agent was seen in the conference, the call is theirs: nothing moves.
    assert hotline.reservations.accept(again.reservation_id, NOW + 7).changed
    assert not hotline.reservations.joined(again.reservation_id, "agent", NOW + 8)
    assert not hotline.reservations.unjoined(again.reservation_id, NOW + 9).changed
    assert hotline.reservations.get(again.reservation_id).state == "accepted"
    assert hotline.room.get("CA1").state == "connected"


def test_wrap_up_ends_but_an_agent_on_break_stays_out(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}))
    match = hotline.queue("CA1")
    hotline.reservations.accept(match.reservation_id, NOW)
    hotline.reservations.finish(match.reservation_id, NOW + 10)
    hotline.board.set_presence("a1", "on_break", NOW + 20)
    sweep(hotline.redis, hotline.policy, NOW + 100)
    status = hotline.board.get("a1")
    assert status.activity == "idle" and status.presence == "on_break" and not status.free


def test_heavy_calls_lengthen_wrap_up_and_count_against_the_cap(hotline: Hotline):
    policy = replace(hotline.policy, heavy_cap=2)
    line = Hotline(hotline.redis, policy)
    line.staff(make_agent("veteran", {"family": 3}), make_agent("newer", {"family": 2}))
    now = NOW
    for index in range(2):  # the veteran (best level) takes two heavy calls
        line.board.set_presence("newer", "on_break", now)
        match = line.queue(f"H{index}", area="family", now=now, heavy=True)
        assert match.agent_id == "veteran"
        line.reservations.accept(match.reservation_id, now)
        done = line.reservations.finish(match.reservation_id, now + 60)
        assert done.heavy and done.wrap_until == now + 60 + 300
        now += 400
        sweep(line.redis, policy, now)
    assert line.board.get("veteran").tier == "capped"
    line.board.set_presence("newer", "available", now)
    # A heavy call goes to the newer agent although the veteran has the better level...
    match = line.queue("H2", area="family", now=now, heavy=True)
    assert match.agent_id == "newer" and not match.over_cap
    # ...an ordinary call still goes by level...
    ordinary = line.queue("N1", area="family", now=now)
    assert ordinary.agent_id == "veteran"
    line.reservations.accept(match.reservation_id, now)
    line.reservations.accept(ordinary.reservation_id, now)
    line.reservations.finish(ordinary.reservation_id, now + 10)
    assert sweep(line.redis, policy, now + 70).wrap_ups_ended == ["veteran"]
    # ...and with nobody else free, the capped agent takes a heavy call and the supervisor hears.
    over = line.queue("H3", area="family", now=now + 70, heavy=True)
    assert over.agent_id == "veteran" and over.over_cap
    assert "over-cap" in line.kinds()
    # The cap lifts when the oldest heavy call leaves the window.
    sweep(line.redis, policy, NOW + 60 + policy.heavy_window_s)
    assert line.board.get("veteran").tier in ("", "open")


def test_capped_agent_freed_defers_a_heavy_call_to_someone_under_the_cap(hotline: Hotline):
    policy = replace(hotline.policy, heavy_cap=1)
    line = Hotline(hotline.redis, policy)
    line.staff(make_agent("capped", {"labor": 3}), make_agent("fresh", {"labor": 2}))
    line.redis.zadd(keys.agent_heavy_calls("capped"), {"old": NOW - 10})
    line.board.set_presence("capped", "on_break", NOW)
    line.board.set_presence("fresh", "on_break", NOW)
    line.queue("H1", heavy=True)
    line.board.set_presence("fresh", "available", NOW + 1)
    line.board.set_presence("capped", "available", NOW + 1)
    assert line.board.get("capped").tier == "capped"
    match = line.matcher.match_agent("capped", NOW + 1)
    assert match.agent_id == "fresh"  # the call's own match preferred the agent under the cap
    assert line.board.get("capped").free


def test_widening_by_wait_and_by_sweep(hotline: Hotline):
    hotline.staff(make_agent("junior", {"labor": 1}), make_agent("general", {"general": 2}))
    assert hotline.queue("CA1") is None
    assert hotline.matcher.match_call("CA1", NOW + 59) is None
    match = hotline.matcher.match_call("CA1", NOW + 60)  # a waitUrl poll after the first step
    assert match.agent_id == "junior"
    hotline.reservations.accept(match.reservation_id, NOW + 62)
    hotline.queue("CA2", now=NOW + 61)
    report = sweep(hotline.redis, hotline.policy, NOW + 61 + 120)
    assert report.matches == [] and report.widened == ["CA2"]
    report = sweep(hotline.redis, hotline.policy, NOW + 61 + 180)
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("general", "CA2")]


def test_an_adopted_call_widens_from_its_arrival_not_its_registration(hotline: Hotline):
    # A caller Twilio held through an outage joins routing 45 s after they began waiting.
    hotline.staff(make_agent("junior", {"labor": 1}))
    assert hotline.room.enqueue("CA1", area="labor", language="zh", now=NOW, arrival=NOW - 45)
    assert hotline.room.get("CA1").arrival == NOW - 45
    assert hotline.matcher.match_call("CA1", NOW) is None  # specialists only, for 60 s
    report = sweep(hotline.redis, hotline.policy, NOW + 15)  # 60 s after arriving
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("junior", "CA1")]


def test_shift_end_and_start_by_sweep(hotline: Hotline):
    # Wednesday 10:00-11:00 in Shanghai.
    hour = make_agent("a1", {"labor": 3}, shifts=(Shift(2, 600, 660),))
    hotline.staff(hour, now=NOW - 3600)
    assert not hotline.board.get("a1").on_shift
    hotline.room.enqueue("CA1", area="labor", language="zh", now=NOW - 10)
    report = sweep(hotline.redis, hotline.policy, NOW)
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("a1", "CA1")]
    hotline.reservations.accept(report.matches[0].reservation_id, NOW + 5)
    sweep(hotline.redis, hotline.policy, NOW + 3600)
    status = hotline.board.get("a1")
    # The shift ended mid-call: the call goes on, no new offers after it.
    assert not status.on_shift and not status.free and status.activity == "talking"
    assert {"shift-start", "shift-end"} <= set(hotline.kinds())


def test_day_off_exception_keeps_an_agent_off(hotline: Hotline):
    from datetime import date

    off = make_agent("a1", {"labor": 3}, exceptions=(DatedException(date(2026, 12, 2)),))
    hotline.staff(off)
    assert not hotline.board.get("a1").on_shift
    assert hotline.queue("CA1") is None


def test_callback_keeps_its_place_retries_then_closes(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), presence="on_break")
    hotline.room.enqueue("CB1", area="labor", language="zh", now=NOW)
    hotline.room.enqueue("CA2", area="labor", language="zh", now=NOW + 1)
    assert hotline.room.to_callback("CB1", "+8613812345678", NOW + 5)
    assert not hotline.room.hang_up("CB1", NOW + 6).changed  # the caller's line closing is fine
    assert hotline.room.position("CB1") == 0
    hotline.board.set_presence("a1", "available", NOW + 10)
    match = hotline.matcher.match_agent("a1", NOW + 10)
    assert (match.call_sid, match.kind) == ("CB1", "callback")
    assert hotline.room.callback_number("CB1") == "+8613812345678"
    hotline.reservations.accept(match.reservation_id, NOW + 12)
    assert hotline.room.get("CB1").outcome == ""  # not connected until the caller answers
    retry = hotline.reservations.callback_missed(match.reservation_id, NOW + 40)
    assert retry.state == "retry" and hotline.room.get("CB1").state == "scheduled"
    attempts = 1
    now = NOW + 40
    while attempts < hotline.policy.callback_attempts:
        now += hotline.policy.callback_spacing_s
        hotline.board.set_presence("a1", "on_break", now)
        report = sweep(hotline.redis, hotline.policy, now)
        assert report.callbacks_due == ["CB1"] and hotline.room.position("CB1") == 0
        hotline.board.set_presence("a1", "available", now)
        match = hotline.matcher.match_agent("a1", now)
        assert match.call_sid == "CB1"
        hotline.reservations.accept(match.reservation_id, now)
        now += 30
        result = hotline.reservations.callback_missed(match.reservation_id, now)
        attempts += 1
    assert result.state == "closed"
    assert hotline.room.get("CB1").outcome == "callback-failed"
    assert "callback-closed" in hotline.kinds()
    masked = [e for e in events.recent(hotline.redis, 100) if e["kind"] == "callback"]
    assert masked[0]["number"] == "+86*******5678"


def test_an_unanswered_callback_leaves_its_agent_in_wrap_up_before_the_next_ring(
    hotline: Hotline,
):
    hotline.staff(make_agent("a1", {"labor": 3}), presence="on_break")
    hotline.room.enqueue("CB1", area="labor", language="zh", now=NOW)
    assert hotline.room.to_callback("CB1", "+8613812345678", NOW + 5)
    hotline.board.set_presence("a1", "available", NOW + 10)
    match = hotline.matcher.match_agent("a1", NOW + 10)
    hotline.reservations.accept(match.reservation_id, NOW + 12)
    hotline.room.enqueue("CA2", area="labor", language="zh", now=NOW + 20)
    retry = hotline.reservations.callback_missed(match.reservation_id, NOW + 40)
    # Still on the line hearing that the caller was not reached: a ring now would find the
    # agent's phone busy. They wrap up as after a call, then the waiting caller is theirs.
    wrap = hotline.policy.wrap_up_s("labor", heavy=False)
    assert retry.state == "retry" and wrap > 0 and retry.wrap_until == NOW + 40 + wrap
    assert hotline.board.get("a1").activity == "wrap_up"
    assert hotline.matcher.match_agent("a1", NOW + 41) is None
    event = next(e for e in events.recent(hotline.redis, 100) if e["kind"] == "callback-retry")
    assert float(event["until"]) == NOW + 40 + wrap
    sweep(hotline.redis, hotline.policy, NOW + 40 + wrap)
    offered = hotline.board.get("a1")
    assert offered.activity == "reserved"
    assert hotline.reservations.get(offered.reservation).call_sid == "CA2"


def test_callback_answered_connects(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}), presence="on_break")
    hotline.room.enqueue("CB1", area="labor", language="zh", now=NOW)
    hotline.room.to_callback("CB1", "+8613812345678", NOW)
    hotline.board.set_presence("a1", "available", NOW + 1)
    match = hotline.matcher.match_agent("a1", NOW + 1)
    hotline.reservations.accept(match.reservation_id, NOW + 2)
    assert hotline.reservations.callback_answered(match.reservation_id, NOW + 9).changed
    assert hotline.room.get("CB1").outcome == "connected"


def test_callback_agent_leaving_before_the_caller_answers_puts_it_back_first_in_line(
    hotline: Hotline,
):
    hotline.staff(make_agent("a1", {"labor": 3}), presence="on_break")
    hotline.room.enqueue("CB1", area="labor", language="zh", now=NOW)
    hotline.room.to_callback("CB1", "+8613812345678", NOW)
    hotline.room.enqueue("CA2", area="labor", language="zh", now=NOW + 1)
    hotline.board.set_presence("a1", "available", NOW + 5)
    match = hotline.matcher.match_agent("a1", NOW + 5)
    assert match.call_sid == "CB1"
    hotline.reservations.accept(match.reservation_id, NOW + 6)
    assert hotline.room.get("CB1").state == "dialling"

    # The agent hangs up before the caller answered: nobody talked, so nothing was finished.
    left = hotline.reservations.finish(match.reservation_id, NOW + 8)
    assert (left.state, left.changed, left.agent_id, left.call_sid) == (
        "requeued",
        True,
        "a1",
        "CB1",
    )
    assert hotline.reservations.get(match.reservation_id).state == "agent-left"
    queued = hotline.room.get("CB1")
    assert (queued.state, queued.reservation, queued.attempts, queued.outcome) == (
        "scheduled",
        "",
        0,
        "",
    )
    assert hotline.redis.zscore(keys.due_callbacks(), "CB1") == NOW + 8
    agent = hotline.board.get("a1")
    assert (agent.activity, agent.reservation, agent.free) == ("idle", "", True)
    assert hotline.redis.zscore(keys.due_wrap_ups(), "a1") is None
    assert hotline.redis.lrange(keys.handle_times("labor"), 0, -1) == []
    assert "wrap-up" not in hotline.kinds() and "callback-agent-left" in hotline.kinds()
    # A repeat of the hang-up (the leg's status after the Dial's action) changes nothing.
    again = hotline.reservations.finish(match.reservation_id, NOW + 9)
    assert (again.state, again.changed) == ("agent-left", False)
    assert hotline.kinds().count("callback-agent-left") == 1

    # The sweep puts it back in line ahead of the caller who came later; the next match takes it.
    hotline.board.set_presence("a1", "on_break", NOW + 10)
    report = sweep(hotline.redis, hotline.policy, NOW + 10)
    assert report.callbacks_due == ["CB1"] and report.matches == []
    assert (hotline.room.position("CB1"), hotline.room.position("CA2")) == (0, 1)
    hotline.board.set_presence("a1", "available", NOW + 11)
    again = hotline.matcher.match_agent("a1", NOW + 11)
    assert (again.call_sid, again.kind) == ("CB1", "callback")
    assert again.reservation_id != match.reservation_id


def test_callback_answered_then_agent_hangs_up_ends_in_wrap_up(hotline: Hotline):
    hotline.staff(make_agent("a1", {"labor": 3}))
    hotline.room.enqueue("CB1", area="labor", language="zh", now=NOW)
    hotline.room.to_callback("CB1", "+8613812345678", NOW)
    match = hotline.matcher.match_call("CB1", NOW + 1)
    hotline.reservations.accept(match.reservation_id, NOW + 2)
    assert hotline.reservations.callback_answered(match.reservation_id, NOW + 9).changed
    done = hotline.reservations.finish(match.reservation_id, NOW + 100)
    wrap = hotline.policy.wrap_up_s("labor", heavy=False)
    assert (done.state, done.changed, done.wrap_until) == ("finished", True, NOW + 100 + wrap)
    assert hotline.reservations.get(match.reservation_id).state == "finished"
    assert (hotline.room.get("CB1").state, hotline.room.get("CB1").outcome) == (
        "ended",
        "connected",
    )
    assert hotline.board.get("a1").activity == "wrap_up"
    assert hotline.redis.zscore(keys.due_callbacks(), "CB1") is None
    assert "callback-agent-left" not in hotline.kinds()


def test_crisis_trained_agents_are_listed_while_free(hotline: Hotline):
    hotline.staff(
        make_agent("c1", {"general": 3}, crisis_trained=True),
        make_agent("c2", {"family": 3}, langs=("en",), crisis_trained=True),
        make_agent("n1", {"general": 3}),
    )
    assert hotline.board.free_crisis_agents("zh") == ["c1"]
    hotline.board.set_presence("c1", "on_break", NOW)
    assert hotline.board.free_crisis_agents("zh") == []


def test_outbound_rate_limit_makes_a_burst_wait_its_turn(redis):
    limiter = RateLimiter(redis, "calls", per_second=2)
    slots = [limiter.acquire(NOW) for _ in range(5)]
    assert slots == [NOW, NOW + 0.5, NOW + 1.0, NOW + 1.5, NOW + 2.0]
    assert limiter.acquire(NOW, max_wait_s=1.0) is None  # further than the caller will wait
    assert limiter.acquire(NOW + 10) == NOW + 10  # after a quiet spell, at once
    waited: list[float] = []
    clock = iter([NOW + 10.2])
    assert limiter.wait_turn(clock=lambda: next(clock), sleep=waited.append)
    assert waited == [pytest.approx(0.3)]


def test_redis_matcher_agrees_with_the_pure_policy(hotline: Hotline):
    rng = random.Random(4)
    for round_ in range(12):
        hotline.redis.flushdb()
        policy = replace(hotline.policy, strategy=rng.choice(["level_then_idle", "longest_idle"]))
        line = Hotline(hotline.redis, policy)
        agents = []
        for index in range(12):
            skills = {a: rng.randint(1, 3) for a in rng.sample(AREAS, rng.randint(1, 3))}
            langs = rng.choice([("zh",), ("en",), ("zh", "en")])
            agents.append(make_agent(f"r{round_}a{index}", skills, langs))
        line.staff(*agents, presence="on_break")
        states = []
        for index, agent in enumerate(agents):
            present = rng.random() < 0.7
            heavy = tuple(NOW - 100 - i for i in range(rng.choice([0, 0, 3])))
            if heavy:
                line.redis.zadd(
                    keys.agent_heavy_calls(agent.id), {f"h{i}": t for i, t in enumerate(heavy)}
                )
            idle = NOW - 1000 + index * 7 % 13
            if present:
                line.board.set_presence(agent.id, "available", idle)
            states.append(
                AgentState(
                    agent.id,
                    frozenset(agent.languages),
                    agent.skills,
                    presence="available" if present else "on_break",
                    idle_since=idle,
                    heavy_times=heavy,
                )
            )
        area = rng.choice(AREAS)
        language = rng.choice(["zh", "en"])
        waited = rng.choice([0, 30, 90, 200])
        heavy_call = rng.random() < 0.4
        call = WaitingCall("CX", area, language, NOW - waited, heavy=heavy_call)
        expected = choose_agent(policy, call, states, NOW)
        # Every other round the call is adopted after an outage: registered now, arriving when
        # Twilio says it began waiting. Either way the script must decide as the policy does.
        registered = {"now": NOW - waited} if round_ % 2 else {"now": NOW, "arrival": NOW - waited}
        line.room.enqueue("CX", area=area, language=language, heavy=heavy_call, **registered)
        match = line.matcher.match_call("CX", NOW)
        assert (match.agent_id if match else None) == (expected.agent_id if expected else None)
        if match:
            assert match.over_cap == expected.over_cap
        # And from the agent's side: one free agent, several waiting calls.
        line.room.leave("CX", NOW, outcome="left")
        calls = []
        for index in range(8):
            c = WaitingCall(
                f"W{index}",
                rng.choice(AREAS),
                rng.choice(["zh", "en"]),
                NOW - rng.choice([5, 70, 250]) - index,
                priority=rng.choice(["normal", "normal", "vulnerable"]),
            )
            calls.append(c)
            registered = {"now": c.arrival} if index % 2 else {"now": NOW, "arrival": c.arrival}
            line.room.enqueue(
                c.call_sid,
                area=c.area,
                language=c.language,
                vulnerable=c.priority == "vulnerable",
                **registered,
            )
        free = [s for s in states if s.presence == "available" and line.board.get(s.id).free]
        if free:
            agent_state = free[0]
            wanted = choose_call(policy, agent_state, calls, NOW)
            got = line.matcher.match_agent(agent_state.id, NOW)
            assert (got.call_sid if got else None) == (wanted.call_sid if wanted else None)
            # Rings the carrier failed: each ends its offer with no miss, the agent keeps their
            # place and the call is held back; the matcher then skips held calls as the pure
            # policy does, from the agent's side and from the call's.
            for _ in range(rng.randint(1, 4)):
                if got is None:
                    break
                ended = line.reservations.not_rung(got.reservation_id, NOW, hold=True)
                assert ended.changed and ended.held_until == NOW + ring_failure_hold_s(1)
                calls = [
                    replace(c, not_before=ended.held_until) if c.call_sid == got.call_sid else c
                    for c in calls
                ]
                held = next(c for c in calls if c.call_sid == got.call_sid)
                assert choose_agent(policy, held, states, NOW) is None
                assert line.matcher.match_call(held.call_sid, NOW) is None
                wanted = choose_call(policy, agent_state, calls, NOW)
                got = line.matcher.match_agent(agent_state.id, NOW)
                assert (got.call_sid if got else None) == (wanted.call_sid if wanted else None)
                status = line.board.get(agent_state.id)
                assert status.misses == 0 and status.idle_since == agent_state.idle_since
            # Accepted, but the agent's leg ended before they joined the conference: the call
            # is back in its old place and the agent free at the back of the idle order, with
            # no miss; the script offers the call again as the pure policy does.
            if got is not None:
                assert line.reservations.accept(got.reservation_id, NOW).changed
                back = line.reservations.unjoined(got.reservation_id, NOW)
                assert back.changed and back.call_sid == got.call_sid
                status = line.board.get(agent_state.id)
                assert status.misses == 0 and status.idle_since == NOW and status.free
                states = [
                    replace(s, idle_since=NOW) if s.id == agent_state.id else s for s in states
                ]
                returned = next(c for c in calls if c.call_sid == got.call_sid)
                wanted_agent = choose_agent(policy, returned, states, NOW)
                again = line.matcher.match_call(returned.call_sid, NOW)
                assert (again.agent_id if again else None) == (
                    wanted_agent.agent_id if wanted_agent else None
                )


def test_an_offer_can_be_given_more_time_only_while_it_rings(hotline: Hotline):
    """An agent listening to a message keeps the offer; an accepted one is not touched."""
    hotline.staff(make_agent("a1", {"labor": 3}))
    match = hotline.queue("CA1")
    reservations = hotline.reservations
    assert reservations.extend(match.reservation_id, NOW + 300)
    assert reservations.get(match.reservation_id).expires_at == NOW + 300
    assert not reservations.extend(match.reservation_id, NOW + 100)
    # The sweep leaves it ringing until the new expiry.
    assert sweep(hotline.redis, hotline.policy, NOW + 200).timeouts == []
    reservations.accept(match.reservation_id, NOW + 201)
    assert not reservations.extend(match.reservation_id, NOW + 900)
