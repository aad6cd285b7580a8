"""The waiting room in Redis: calls queued per area and language, by priority then arrival.

A call keeps its score for its whole stay, so a caller whose offer was missed, or who asked
for a callback, goes back to exactly the place they had.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import events, keys, sealing
from queues.script import RoutingScript
from queues.sealing import Sealer
from routing.matching import RoutingPolicy, priority_class, priority_score
from routing.numbers import is_withheld
from routing.privacy import mask_number

# Calls still in routing or on the line with an agent: the routing script, the bridge and the
# survey still read them, so erasure leaves them until the call ends.
LIVE_STATES = frozenset(
    {"waiting", "reserved", "dialling", "connected", "held", "scheduled", "transferring"}
)
# Callbacks not yet with an agent: an erasure withdraws them (nobody rings a forgotten person).
WITHDRAWABLE_STATES = frozenset({"waiting", "held", "scheduled"})
PERSON_SCAN_PAGE = 500

# Why a call left the waiting room other than by reaching an agent.
LEAVE_OUTCOMES = ("abandoned", "voicemail", "crisis", "left", "closed")
# A call's Twilio leg is first looked up this long after it joins (`queues.sweep.LegChecks`):
# a hang-up normally arrives by webhook at once, so only a lost one is worth a REST request.
LEG_CHECK_AFTER_S = 60.0


@dataclass(frozen=True)
class QueuedCall:
    """A call's routing state: where it waits, its place and how its stay ended."""

    call_sid: str
    area: str
    language: str
    priority: str
    arrival: float
    heavy: bool
    kind: str
    state: str
    outcome: str
    reservation: str
    attempts: int


@dataclass(frozen=True)
class Departure:
    """A call leaving the waiting room; `reservation` and `agent` name an offer it cancelled."""

    call_sid: str
    outcome: str
    changed: bool
    reservation: str = ""
    agent: str = ""


@dataclass(frozen=True)
class Standing:
    """What a waiting caller's poll reads: callers ahead (None: not waiting), the area's
    recent talk times in seconds (newest first), and the sizes of the sets it counted."""

    ahead: int | None
    handle_times: list[float]
    counted: int


class WaitingRoom:
    """Reads and writes queued calls; the only owner of the waiting and queued-call keys."""

    def __init__(
        self,
        redis: Redis,
        policy: RoutingPolicy,
        *,
        script: RoutingScript | None = None,
        sealer: Sealer | None = None,
    ):
        self.redis = redis
        self.policy = policy
        self.script = script or RoutingScript(redis, policy)
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """Digests and sealing of callers' numbers: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def is_returning(self, caller: str | None) -> bool:
        """Tell whether a caller hung up while waiting within the returning window."""
        key = self._returning_key(caller)
        return bool(key) and bool(self.redis.exists(key))

    def _returning_key(self, caller: str | None) -> str:
        """The returning-caller key of a number; none for a withheld one, shared by strangers."""
        if not caller or is_withheld(caller):
            return ""
        # A keyed digest: the marker says who hung up without saying their number.
        return keys.returning_caller(self.sealer.digest(caller))

    def _sealed_number(self, call_sid: str, number: str) -> str:
        """A number to call back as the queued-call hash keeps it: sealed to that call."""
        return self.sealer.seal(number, f"queued:{call_sid}:callback_number")

    def enqueue(
        self,
        call_sid: str,
        *,
        area: str,
        language: str,
        now: float,
        caller: str | None = None,
        vulnerable: bool = False,
        heavy: bool = False,
        callback_number: str | None = None,
        arrival: float | None = None,
        avoid: str = "",
        only: tuple[str, ...] = (),
    ) -> bool:
        """Queue a call (with `callback_number`, a callback task) once; False if already known.

        `arrival` orders the call when it began waiting before now (a caller Twilio held while
        Redis was unreachable): its place and skill steps count from then. `avoid` names an
        agent the call is never offered to, `only` the agents it is kept to (a follow-up task).
        """
        if area not in self.policy.areas:
            raise ValueError(f"unknown area {area!r}")
        if callback_number is not None and is_withheld(callback_number):
            raise ValueError("a withheld number cannot be called back")
        if avoid or only:
            # Written before the step that makes the call matchable, so no match misses them.
            self.redis.hset(
                keys.queued_call(call_sid), mapping={"avoid": avoid, "only": " ".join(only)}
            )
        arrival = now if arrival is None else min(arrival, now)
        priority = priority_class(vulnerable=vulnerable, returning=self.is_returning(caller))
        widen = self.policy.next_widening(area, 0)
        answer = self.script.run(
            "enqueue",
            now,
            call_sid,
            keys.waiting(area, language),
            repr(priority_score(priority, arrival)),
            area,
            language,
            priority,
            repr(arrival),
            "1" if heavy else "0",
            # A callback is one from its first step (see the script's enqueue): a match landing
            # right after can never take it for a live call.
            self._sealed_number(call_sid, callback_number) if callback_number else "",
            self._returning_key(caller),
            repr(arrival + widen) if widen is not None else "",
            repr(now + LEG_CHECK_AFTER_S),
        )
        if answer[0] != "queued":
            return False
        events.append(
            self.redis,
            "queued",
            at=f"{now:.3f}",
            call=call_sid,
            area=area,
            language=language,
            priority=priority,
            heavy=int(heavy),
            callback=int(answer[1] == "callback"),
        )
        if callback_number:
            self._callback_event(call_sid, callback_number, now)
        return True

    def get(self, call_sid: str) -> QueuedCall | None:
        """Return a call's routing state, or None if it never queued (or has expired)."""
        raw = self.redis.hgetall(keys.queued_call(call_sid))
        if not raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return QueuedCall(
            call_sid=call_sid,
            area=data["area"],
            language=data["language"],
            priority=data["priority"],
            arrival=float(data["arrival"]),
            heavy=data.get("heavy") == "1",
            kind=data.get("kind", "call"),
            state=data.get("state", ""),
            outcome=data.get("outcome", ""),
            reservation=data.get("reservation", ""),
            attempts=int(data.get("attempts") or 0),
        )

    def position(self, call_sid: str) -> int | None:
        """How many callers are ahead in the same queue (0: next), or None if not waiting."""
        queue = self.redis.hget(keys.queued_call(call_sid), "queue")
        if queue is None:
            return None
        rank = self.redis.zrank(queue.decode(), call_sid)
        return int(rank) if rank is not None else None

    def standing(
        self, call_sid: str, area: str, language: str, *, counting: Iterable[str] = ()
    ) -> Standing:
        """A waiting caller's poll in one round trip: their place, the area's recent talk
        times, and the sizes of the `counting` sorted sets (the free agents' pools).

        The place is read from the queue the call should be in; a call kept in another (a
        transfer's) costs a second round trip, and gives what `position` gives.
        """
        expected = keys.waiting(area, language)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.queued_call(call_sid), "queue")
        pipe.zrank(expected, call_sid)
        pipe.lrange(keys.handle_times(area), 0, -1)
        for key in counting:
            pipe.zcard(key)
        queue, rank, times, *sizes = pipe.execute()
        if queue is not None and queue.decode() != expected:
            rank = self.redis.zrank(queue.decode(), call_sid)
        return Standing(
            ahead=int(rank) if queue is not None and rank is not None else None,
            handle_times=[float(value) for value in times],
            counted=sum(int(size) for size in sizes),
        )

    def waiting_count(self, area: str, language: str) -> int:
        """How many calls wait in an area's queue for a language."""
        return int(self.redis.zcard(keys.waiting(area, language)))

    def waiting_calls(self, area: str, language: str, *, limit: int = 100) -> list[str]:
        """The call ids waiting in a queue, next first."""
        members = self.redis.zrange(keys.waiting(area, language), 0, limit - 1)
        return [member.decode() for member in members]

    def recent_handle_times(self, area: str) -> list[float]:
        """The latest talk times in an area, in seconds, newest first."""
        return [float(value) for value in self.redis.lrange(keys.handle_times(area), 0, -1)]

    def hang_up(self, call_sid: str, now: float) -> Departure:
        """The caller hung up while waiting or while an agent rang: the call is abandoned."""
        return self.leave(call_sid, now, outcome="abandoned")

    def leave(self, call_sid: str, now: float, *, outcome: str) -> Departure:
        """Take a call out of the waiting room for good (abandoned, voicemail, crisis...)."""
        if outcome not in LEAVE_OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        # Only hanging up makes a returning abandoner; choosing voicemail is an answer.
        returning_s = self.policy.returning_window_s if outcome == "abandoned" else 0
        answer = self.script.run("leave", now, call_sid, outcome, returning_s)
        if answer[0] != "left":
            return Departure(call_sid, answer[0], changed=False)
        reservation, agent = answer[1], answer[2]
        # The script's own word on it: a hang-up during a transfer is no abandon.
        outcome = answer[3] if len(answer) > 3 and answer[3] else outcome
        if reservation:
            events.append(
                self.redis,
                "caller-gone",
                at=f"{now:.3f}",
                call=call_sid,
                agent=agent,
                reservation=reservation,
            )
        events.append(
            self.redis,
            outcome,
            at=f"{now:.3f}",
            call=call_sid,
            agent=agent or None,
            reservation=reservation or None,
        )
        return Departure(call_sid, outcome, True, reservation, agent)

    def to_callback(self, call_sid: str, number: str, now: float) -> bool:
        """Turn a waiting call into a callback that keeps its place; False if not waiting."""
        if is_withheld(number):
            # Nobody can be dialled at a withheld number: the caller keys one instead.
            return False
        answer = self.script.run(
            "to_callback", now, call_sid, self._sealed_number(call_sid, number)
        )
        if answer[0] != "callback":
            return False
        self._callback_event(call_sid, number, now)
        return True

    def _callback_event(self, call_sid: str, number: str, now: float) -> None:
        """Record that a call is to be called back, with the number masked."""
        events.append(
            self.redis,
            "callback",
            at=f"{now:.3f}",
            call=call_sid,
            number=mask_number(number),
        )

    def callback_number(self, call_sid: str) -> str | None:
        """The number to dial back for a callback, or None (never a withheld one)."""
        value = self.redis.hget(keys.queued_call(call_sid), "callback_number")
        if not value:
            return None
        number = self.sealer.open(value.decode(), f"queued:{call_sid}:callback_number")
        return None if not number or is_withheld(number) else number

    # -- a person's data ----------------------------------------------------------------------

    def calls_of(self, number: str) -> set[str]:
        """Calls whose callback number is this one: every queued-call hash is opened (SCAN).

        They live 7 days after leaving routing, so this reads a week of calls, as
        `CallStore.calls_of` does.
        """
        prefix = keys.queued_call("")
        sids = [
            raw.decode()[len(prefix) :]
            for raw in self.redis.scan_iter(match=keys.queued_call("*"), count=PERSON_SCAN_PAGE)
        ]
        return {sid for sid in sids if self.callback_number(sid) == number}

    def export_person(self, number: str, calls: Iterable[str]) -> list[dict[str, Any]]:
        """A person's calls' routing state and callback numbers, and their returning marker."""
        found: list[dict[str, Any]] = []
        for call_sid in sorted(set(calls)):
            queued = self.get(call_sid)
            if queued is not None:
                callback = self.callback_number(call_sid) or ""
                found.append({**vars(queued), "callback_number": callback})
        ttl = self.redis.ttl(self._returning_key(number)) if self._returning_key(number) else -2
        if ttl > 0:
            found.append({"returning_caller": True, "expires_in_s": ttl})
        return found

    def withdraw_callbacks(self, calls: Iterable[str], now: float) -> list[str]:
        """Withdraw the callbacks among these calls still waiting for an agent; their ids."""
        withdrawn = []
        for call_sid in sorted(set(calls)):
            queued = self.get(call_sid)
            waiting = queued and queued.kind == "callback" and queued.state in WITHDRAWABLE_STATES
            if waiting and self.leave(call_sid, now, outcome="closed").changed:
                withdrawn.append(call_sid)
        return withdrawn

    def live_calls(self, calls: Iterable[str]) -> list[str]:
        """Those of the calls still waiting, being rung or held for a callback: kept by erasure."""
        found = (self.get(call_sid) for call_sid in sorted(set(calls)))
        return [queued.call_sid for queued in found if queued and queued.state in LIVE_STATES]

    def erase_person(self, number: str, calls: Iterable[str]) -> int:
        """Delete a person's queued-call hashes (not live ones) and returning marker; how many."""
        doomed = [keys.queued_call(sid) for sid in sorted(set(calls) - set(self.live_calls(calls)))]
        if self._returning_key(number):
            doomed.append(self._returning_key(number))
        return int(self.redis.delete(*doomed)) if doomed else 0
