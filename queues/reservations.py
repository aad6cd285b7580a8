"""Reservations: one agent offered one call, until they accept, miss it, or the caller leaves.

Every transition happens once: a repeated or late webhook finds the reservation already moved
on and changes nothing, and says what state it found.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from queues import events, keys
from queues.followups import FollowUps
from queues.script import RoutingScript
from routing.matching import (
    MISS_REASONS,
    RING_FAILURE_HOLD_CAP_S,
    RING_FAILURE_HOLD_S,
    RoutingPolicy,
)

# The state of an offer whose ring never reached the agent's phone: it ended with no miss.
NOT_RUNG = "not-rung"
# The state of an accepted offer whose agent's leg ended before they joined the conference.
NOT_JOINED = "not-joined"
# The state of an accepted callback whose agent left before the caller answered: the task is
# due again at once, with no attempt counted.
AGENT_LEFT = "agent-left"
# The answer of the finish step that put such a callback back in line.
REQUEUED = "requeued"
# The two sides of a reservation's conference, each recorded once when seen joining it.
PARTIES = ("agent", "caller")
# Reservation states after the offer: each of the miss reasons, or one of these.
ENDED_STATES = (
    "accepted",
    NOT_JOINED,
    "finished",
    "caller-gone",
    "caller-no-answer",
    AGENT_LEFT,
    NOT_RUNG,
    *MISS_REASONS,
)


@dataclass(frozen=True)
class Reservation:
    """An offer of a call to an agent and where it stands."""

    id: str
    call_sid: str
    agent_id: str
    area: str
    language: str
    kind: str
    heavy: bool
    over_cap: bool
    state: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Transition:
    """The answer to a reservation event: the state now, and whether this event moved it."""

    reservation_id: str
    state: str
    changed: bool
    agent_id: str = ""
    call_sid: str = ""
    misses: int = 0
    paused: bool = False
    wrap_until: float = 0.0
    heavy: bool = False
    # Until when the caller is held back after a ring the carrier failed (0: not held).
    held_until: float = 0.0


# Marks an offer's ring as placed, once, while the reservation exists (never recreates it).
_RUNG = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'rung_at', ARGV[1])
"""

# Numbers an agent's stepping out of the conference (a * or the conference ending under them).
_STEP_OUT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'step_outs', 1)
"""

# The first to decide where an agent who stepped out goes (a job, or their hold running out).
_DECIDE_STEP_OUT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'step_out_' .. ARGV[1], ARGV[2])
"""

# Moves an offered reservation's expiry later, never earlier, and only while it is offered.
_EXTEND = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'offered' then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'expires_at') or '0')
local wanted = tonumber(ARGV[2])
if wanted <= current then return 0 end
redis.call('HSET', KEYS[1], 'expires_at', ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', wanted, ARGV[1])
return 1
"""


class Reservations:
    """Moves reservations through their states; the only owner of the reservation keys."""

    def __init__(self, redis: Redis, policy: RoutingPolicy, *, script: RoutingScript | None = None):
        self.redis = redis
        self.policy = policy
        self.script = script or RoutingScript(redis, policy)

    def get(self, reservation_id: str) -> Reservation | None:
        """Return a reservation, or None if unknown or expired."""
        raw = self.redis.hgetall(keys.reservation(reservation_id))
        if not raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return Reservation(
            id=reservation_id,
            call_sid=data["call"],
            agent_id=data["agent"],
            area=data["area"],
            language=data["language"],
            kind=data.get("kind", "call"),
            heavy=data.get("heavy") == "1",
            over_cap=data.get("over_cap") == "1",
            state=data["state"],
            created_at=float(data["created_at"]),
            expires_at=float(data["expires_at"]),
        )

    def extend(self, reservation_id: str, until: float) -> bool:
        """Give an offer still ringing more time (an agent listening to a message first)."""
        answer = self.redis.register_script(_EXTEND)(
            keys=[keys.reservation(reservation_id), keys.due_reservations()],
            args=[reservation_id, repr(until)],
        )
        return bool(answer)

    def accept(self, reservation_id: str, now: float) -> Transition:
        """The agent pressed the accept key: they take the call (unless it moved on)."""
        answer = self.script.run("accept", now, reservation_id)
        changed = answer[0] == "accepted"
        transition = _transition(reservation_id, answer, changed)
        if changed:
            self._event("accepted", transition, now)
        return transition

    def decline(self, reservation_id: str, now: float) -> Transition:
        """The agent pressed the decline key."""
        return self.missed(reservation_id, "declined", now)

    def no_answer(self, reservation_id: str, now: float) -> Transition:
        """The agent's phone rang out."""
        return self.missed(reservation_id, "no-answer", now)

    def busy(self, reservation_id: str, now: float) -> Transition:
        """The agent's phone was busy."""
        return self.missed(reservation_id, "busy", now)

    def timeout(self, reservation_id: str, now: float) -> Transition:
        """Nobody answered for the agent before the reservation's time ran out."""
        return self.missed(reservation_id, "timeout", now)

    def missed(self, reservation_id: str, reason: str, now: float) -> Transition:
        """The agent did not take the offer: the caller keeps their place, the agent cools down."""
        if reason not in MISS_REASONS:
            raise ValueError(f"unknown miss {reason!r}")
        answer = self.script.run(
            "miss",
            now,
            reservation_id,
            reason,
            self.policy.cool_down_s,
            self.policy.pause_after,
        )
        changed = answer[0] == reason
        transition = _transition(reservation_id, answer, changed)
        if changed:
            self.record_miss(transition, now)
        return transition

    def rung(self, reservation_id: str, now: float) -> bool:
        """The agent's phone is ringing for the offer: only now can its timeout be a miss."""
        key = self.redis.register_script(_RUNG)(
            keys=[keys.reservation(reservation_id)], args=[repr(now)]
        )
        return bool(key)

    def not_rung(self, reservation_id: str, now: float, *, hold: bool) -> Transition:
        """The ring never reached the agent's phone: the offer ends with no miss counted.

        The agent is free again in their old place. With `hold` (the carrier failed) the
        caller is held back a while, longer after each failure; otherwise they are back in
        their place at once.
        """
        answer = self.script.run(
            "not_rung",
            now,
            reservation_id,
            "1" if hold else "0",
            repr(RING_FAILURE_HOLD_S),
            repr(RING_FAILURE_HOLD_CAP_S),
        )
        return _transition(reservation_id, answer, answer[0] == NOT_RUNG)

    def step_out(self, reservation_id: str) -> int:
        """The agent left the conference but not the call: number this step out (0: unknown)."""
        script = self.redis.register_script(_STEP_OUT)
        return int(script(keys=[keys.reservation(reservation_id)]))

    def decide_step_out(self, reservation_id: str, number: int, by: str) -> bool:
        """Claim the decision on a step out (menu or end); True for the first to ask."""
        script = self.redis.register_script(_DECIDE_STEP_OUT)
        return bool(script(keys=[keys.reservation(reservation_id)], args=[number, by]))

    def record_miss(self, transition: Transition, now: float) -> None:
        """Append the events of a miss, and of the pause it caused."""
        self._event(transition.state, transition, now, misses=transition.misses)
        if transition.paused:
            events.append(
                self.redis,
                "paused",
                at=f"{now:.3f}",
                agent=transition.agent_id,
                misses=transition.misses,
                reason=transition.state,
            )

    def joined(self, reservation_id: str, party: str, now: float) -> bool:
        """One side was seen in the conference; once both were, the call counts as bridged.

        Returns True when this made the call bridged.
        """
        if party not in PARTIES:
            raise ValueError(f"unknown party {party!r}")
        key = keys.reservation(reservation_id)
        if not self.redis.exists(key):
            return False
        self.redis.hsetnx(key, f"{party}_joined_at", repr(now))
        # Each side looks after its own mark, so the later of two racing joins sees both.
        seen = self.redis.hmget(key, [f"{side}_joined_at" for side in PARTIES])
        return all(seen) and self.bridged(reservation_id, now)

    def unjoined(self, reservation_id: str, now: float) -> Transition:
        """The accepted agent's leg ended before they joined: no miss, the caller back in place."""
        answer = self.script.run("unjoined", now, reservation_id)
        return _transition(reservation_id, answer, answer[0] == NOT_JOINED)

    def bridged(self, reservation_id: str, now: float) -> bool:
        """Both sides joined the reservation's conference; record it once (True the first time)."""
        key = keys.reservation(reservation_id)
        if not self.redis.exists(key) or not self.redis.hsetnx(key, "bridged_at", repr(now)):
            return False
        reservation = self.get(reservation_id)
        if reservation is not None:
            events.append(
                self.redis,
                "bridged",
                at=f"{now:.3f}",
                call=reservation.call_sid,
                agent=reservation.agent_id,
                reservation=reservation_id,
            )
        return True

    def finish(self, reservation_id: str, now: float, *, heavy: bool = False) -> Transition:
        """The call ended after the agent took it: wrap-up starts (longer after a heavy call).

        A callback whose caller had not answered yet ends with no wrap-up instead: the agent is
        free at once and the task is due again now (the answer's state is `requeued`).
        """
        area = self._area_of(reservation_id)
        answer = self.script.run(
            "finish",
            now,
            reservation_id,
            "1" if heavy else "0",
            self.policy.wrap_up_s(area, heavy=False),
            self.policy.wrap_up_s(area, heavy=True),
        )
        if answer[0] == REQUEUED:
            transition = _transition(reservation_id, answer, True)
            self._event("callback-agent-left", transition, now)
            return transition
        changed = answer[0] == "finished"
        transition = _transition(reservation_id, answer, changed)
        if changed:
            self._event(
                "wrap-up",
                transition,
                now,
                until=f"{transition.wrap_until:.3f}",
                heavy=int(transition.heavy),
            )
        return transition

    def callback_answered(self, reservation_id: str, now: float) -> Transition:
        """The caller picked up the callback: both sides meet."""
        return self._callback(reservation_id, now, answered=True)

    def callback_missed(self, reservation_id: str, now: float) -> Transition:
        """The caller did not pick up the callback: retry later, or close after the last try.

        The agent wraps up as after a call: they are still on the line hearing why.
        """
        return self._callback(reservation_id, now, answered=False)

    def _callback(self, reservation_id: str, now: float, *, answered: bool) -> Transition:
        """Record how dialling the caller back went."""
        # An unreached caller's agent wraps up; one who reached them talks first.
        wrap = 0 if answered else self.policy.wrap_up_s(self._area_of(reservation_id), heavy=False)
        answer = self.script.run(
            "callback_result",
            now,
            reservation_id,
            "1" if answered else "0",
            self.policy.callback_spacing_s,
            self.policy.callback_attempts,
            wrap,
        )
        state = answer[0]
        changed = state in ("connected", "retry", "closed")
        transition = _transition(reservation_id, answer, changed)
        if changed:
            kind = {"connected": "callback-connected", "retry": "callback-retry"}.get(
                state, "callback-closed"
            )
            until = {"until": f"{transition.wrap_until:.3f}"} if transition.wrap_until else {}
            self._event(kind, transition, now, **until)
            # A follow-up's callback task: reached closes the follow-up, the last miss marks it.
            FollowUps(self.redis).callback_result(
                transition.call_sid, state, transition.agent_id, now
            )
        return transition

    def _area_of(self, reservation_id: str) -> str:
        """The reservation's area, for its wrap-up; the first area when it is gone."""
        reservation = self.get(reservation_id)
        return reservation.area if reservation else next(iter(self.policy.areas))

    def _event(self, kind: str, transition: Transition, now: float, **fields: object) -> None:
        """Append a reservation event with its call and agent."""
        events.append(
            self.redis,
            kind,
            at=f"{now:.3f}",
            call=transition.call_sid,
            agent=transition.agent_id,
            reservation=transition.reservation_id,
            **fields,
        )


def _transition(reservation_id: str, answer: list[str], changed: bool) -> Transition:
    """Read the script's answer for a reservation event."""
    if answer[0] == "unchanged":
        return Transition(reservation_id, answer[1], False, answer[2], answer[3])
    state = answer[0]
    agent = answer[1] if len(answer) > 1 else ""
    call = answer[2] if len(answer) > 2 else ""
    if state in MISS_REASONS and changed:
        return Transition(
            reservation_id, state, True, agent, call, int(answer[3]), answer[4] == "1"
        )
    if state == NOT_RUNG:
        return Transition(reservation_id, state, changed, agent, call, held_until=float(answer[3]))
    if state in ("retry", "closed"):
        return Transition(reservation_id, state, changed, agent, call, wrap_until=float(answer[4]))
    if state == "finished":
        return Transition(
            reservation_id,
            state,
            changed,
            agent,
            call,
            wrap_until=float(answer[3]),
            heavy=answer[4] == "1",
        )
    return Transition(reservation_id, state, changed, agent, call)
