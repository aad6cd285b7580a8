"""The sweep: timers that came due and repairs after a crash, then the matches they allow.

Reservations that rang out (a miss only when the agent's phone did ring), wrap-ups and
cool-downs that ended, heavy-call caps that lifted, shifts that started or ended, callbacks due
for another try, calls held back after a failed ring and calls whose skill requirement widened:
each is handled once however many sweeps run, since the script takes a due entry out in the
same step that acts on it.

Calls whose Twilio leg ended without the app hearing of it (a lost hang-up webhook, a crash)
are found by `LegChecks`: every call in routing is due a look at its leg a while after it
joins, then again every so often, and the RQ job in `queues.dispatch` looks them up in batches.
A waiting caller's own poll of the waitUrl shows their leg alive and puts the next look off, so
callers still waiting cost no lookups; only those whose polls stopped are looked up. A crisis
taker is watched the same way from when they take the call: their own leg, then the caller's.
An accepted call's agent leg found gone before the agent was seen in the conference (its status
callback lost) sends the caller back to wait, first in line (`dispatch.end_gone_call`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from queues import events, keys
from queues.agents import AgentBoard
from queues.calls import CallStore
from queues.matcher import Match, Matcher
from queues.reservations import Reservations, Transition
from queues.script import RoutingScript
from queues.waiting import WaitingRoom
from routing.matching import RoutingPolicy

# Due entries of each kind handled per sweep; a backlog is worked off by the next sweeps.
SWEEP_BATCH = 500
# Calls whose leg is looked up per leg check, longest due first: a GET each, so few at a time;
# a backlog waits for the next checks, which come within seconds.
LEG_CHECK_BATCH = 5
# A call still in routing is looked up again this long after its last look.
LEG_CHECK_EVERY_S = 60.0
# Twilio's statuses of a leg that has ended (a 404 for the leg counts as ended too).
GONE_STATUSES = frozenset({"completed", "canceled", "failed", "busy", "no-answer"})
# Routing states in which the caller's own leg is the call (before an agent took it).
CALLER_LEG_STATES = ("waiting", "reserved", "held")
# Routing states after an agent took the call: the agent's leg ends it (wrap-up follows).
AGENT_LEG_STATES = ("connected", "dialling")
# The state a leg check reports for a crisis call an agent took (outside routing's queues).
CRISIS_STATE = "crisis"

# Takes the calls due a look, longest due first, and pushes each one's next look on in the
# same step, so two leg checks running at once never look up the same call.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, call in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], call) end
return due
"""


@dataclass
class SweepReport:
    """What one sweep did, and the reservations it made (each needs its agent rung)."""

    timeouts: list[Transition] = field(default_factory=list)
    # Offers that ran out before the agent's phone ever rang: ended with no miss.
    not_rung: list[Transition] = field(default_factory=list)
    wrap_ups_ended: list[str] = field(default_factory=list)
    freed: list[str] = field(default_factory=list)
    cap_releases: list[str] = field(default_factory=list)
    callbacks_due: list[str] = field(default_factory=list)
    held_back_due: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)


def sweep(
    redis: Redis, policy: RoutingPolicy, now: float, *, limit: int = SWEEP_BATCH
) -> SweepReport:
    """Handle every timer due at `now` and match what they freed; return what happened."""
    script = RoutingScript(redis, policy)
    answer = script.run("tick", now, limit, policy.cool_down_s, policy.pause_after)
    report = _read_tick(answer)
    reservations = Reservations(redis, policy, script=script)
    for transition in report.timeouts:
        reservations.record_miss(transition, now)
    for agent_id in report.wrap_ups_ended:
        events.append(redis, "wrap-up-end", at=f"{now:.3f}", agent=agent_id)
    report.freed.extend(AgentBoard(redis, policy, script=script).refresh_shifts(now, limit=limit))
    matcher = Matcher(redis, policy, script=script)
    # Freed agents first: each takes the best call waiting (priority, then the longest wait),
    # so a caller who rang out does not jump ahead of those who waited longer.
    # An agent who rang out is free again at once only when there is no cool-down.
    timed_out = [t.agent_id for t in report.timeouts] if policy.cool_down_s == 0 else []
    # An agent whose phone never rang is free at once, in their old place.
    unrung = [t.agent_id for t in report.not_rung]
    freed = list(dict.fromkeys(report.freed + report.cap_releases + timed_out + unrung))
    report.matches.extend(matcher.match_agents(freed, now))
    returned = [t.call_sid for t in report.timeouts + report.not_rung]
    calls = returned + report.callbacks_due + report.held_back_due + report.widened
    for call_sid in dict.fromkeys(calls):
        match = matcher.match_call(call_sid, now)
        if match is not None:
            report.matches.append(match)
    return report


def _read_tick(answer: list[str]) -> SweepReport:
    """Read the flat answer of the tick operation."""
    report = SweepReport()
    index = 0
    while index < len(answer):
        kind = answer[index]
        if kind == "timeout":
            rid, agent, call, misses, paused = answer[index + 1 : index + 6]
            report.timeouts.append(
                Transition(rid, "timeout", True, agent, call, int(misses), paused == "1")
            )
            index += 6
        elif kind == "not-rung":
            rid, agent, call = answer[index + 1 : index + 4]
            report.not_rung.append(Transition(rid, kind, True, agent, call))
            index += 4
        elif kind == "wrap-up-end":
            report.wrap_ups_ended.append(answer[index + 1])
            if answer[index + 2] == "1":
                report.freed.append(answer[index + 1])
            index += 3
        else:
            target = {
                "free": report.freed,
                "cap-release": report.cap_releases,
                "callback-due": report.callbacks_due,
                "held-due": report.held_back_due,
                "widen": report.widened,
            }[kind]
            target.append(answer[index + 1])
            index += 2
    return report


@dataclass(frozen=True)
class LegCheck:
    """A call due a look at a Twilio leg, and what a gone leg ends: a reservation, a crisis call."""

    call_sid: str
    leg_sid: str
    state: str
    reservation: str = ""
    # The agent talking on a crisis call, freed when either leg of it is gone.
    crisis_taker: str = ""
    # A leg looked up next when the first is still up (a crisis caller's own).
    then_leg: str = ""


class LegChecks:
    """Which calls in routing are due a look at their Twilio leg; owns the leg-check keys."""

    def __init__(self, redis: Redis, policy: RoutingPolicy, *, script: RoutingScript | None = None):
        self.redis = redis
        self.room = WaitingRoom(redis, policy, script=script)
        self.calls = CallStore(redis)
        self.board = AgentBoard(redis, policy, script=script)
        self._claim = redis.register_script(_CLAIM)

    def is_due(self, now: float) -> bool:
        """Tell whether any call is due a look at `now`."""
        return bool(self.redis.zrangebyscore(keys.due_leg_checks(), "-inf", now, start=0, num=1))

    def claim(
        self, now: float, *, limit: int = LEG_CHECK_BATCH, every_s: float = LEG_CHECK_EVERY_S
    ) -> list[str]:
        """Take up to `limit` calls due at `now`, longest due first, and look again `every_s` on."""
        found = self._claim(
            keys=[keys.due_leg_checks()], args=[repr(now), limit, repr(now + every_s)]
        )
        return [item.decode() if isinstance(item, bytes) else str(item) for item in found]

    def plan(self, call_sid: str) -> LegCheck | None:
        """Which leg to look up for a call now; None when none (a call that ended is forgotten)."""
        queued = self.room.get(call_sid)
        if queued is None or queued.state == "ended":
            # Out of routing's queues: a crisis call someone took, or an ended call to forget.
            crisis = self._crisis_check(call_sid)
            if crisis is None:
                self.forget(call_sid)
            return crisis
        if queued.state in CALLER_LEG_STATES:
            # A callback's own leg ended by design when the caller asked for it; it waits
            # without one until the agent's leg is placed.
            if queued.kind == "callback":
                return None
            return LegCheck(call_sid, call_sid, queued.state)
        if queued.state in AGENT_LEG_STATES and queued.reservation:
            record = self.calls.get(call_sid)
            if record and record.agent_leg and record.reservation == queued.reservation:
                return LegCheck(call_sid, record.agent_leg, queued.state, queued.reservation)
            if queued.kind == "call":
                # The agent's leg went unrecorded (a crash right after ringing): the caller's
                # leg ending ends the call as well.
                return LegCheck(call_sid, call_sid, queued.state, queued.reservation)
        return None

    def _crisis_check(self, call_sid: str) -> LegCheck | None:
        """The legs of a crisis call an agent still talks on: theirs first, then the caller's."""
        record = self.calls.get(call_sid)
        taker = record.crisis_taker if record else ""
        if not taker or self.board.crisis_call(taker) != call_sid:
            return None
        if record.crisis_taker_leg:
            return LegCheck(
                call_sid,
                record.crisis_taker_leg,
                CRISIS_STATE,
                crisis_taker=taker,
                then_leg=call_sid,
            )
        return LegCheck(call_sid, call_sid, CRISIS_STATE, crisis_taker=taker)

    def alive(self, call_sid: str, now: float, *, every_s: float = LEG_CHECK_EVERY_S) -> None:
        """Put off a call's next look to `every_s` from now: its leg was just seen alive."""
        # A waiting caller's poll of the waitUrl proves the leg as well as a REST lookup does.
        # XX: a call that ended (and left this set) is never watched again; GT: one step, so a
        # look already due later (a claim racing this poll) is never brought forward.
        self.redis.zadd(keys.due_leg_checks(), {call_sid: now + every_s}, xx=True, gt=True)

    def forget(self, call_sid: str) -> None:
        """Stop looking at a call's legs."""
        self.redis.zrem(keys.due_leg_checks(), call_sid)

    def hold(self, seconds: float) -> bool:
        """Hold off the next leg check for a while; False when one is held off already."""
        return bool(self.redis.set(keys.leg_check_hold(), "1", nx=True, px=int(seconds * 1000)))

    def back_off(self, seconds: float) -> None:
        """Hold off leg checks for a while whatever held them before (Twilio is in trouble)."""
        self.redis.set(keys.leg_check_hold(), "1", px=int(seconds * 1000))

    def release(self) -> None:
        """Let the next sweep queue a leg check again."""
        self.redis.delete(keys.leg_check_hold())
