"""The crisis path's work in Redis, one call per webhook: record the crisis, find the people to
ring, take the claims of those who answer, follow the rollover (routing/crisis_rollover.py)
and close the incident.

What a caller in danger reaches never depends on Redis: every read and write goes through the
webhook's `Records`, which skips the rest after the first Redis failure (so a dead Redis costs
the caller one timeout), and the rollover then sends them straight to the crisis line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from redis import Redis, RedisError

from queues import alerts, metrics
from queues.calls import CallStore
from queues.crisis_claims import CrisisClaims
from queues.incidents import IncidentLog
from queues.script import RoutingScript
from queues.sweep import GONE_STATUSES
from queues.waiting import WaitingRoom
from routing import crisis_rollover as rollover
from routing.config import HotlineConfig
from routing.crisis_rollover import Do, Next, Position, Stage

log = logging.getLogger(__name__)

# Free crisis-trained agents looked at; more than Twilio's ten, since some may have no phone.
CANDIDATES = 20


@dataclass(frozen=True)
class Taker:
    """Someone the crisis path rings: an agent or a supervisor, and their phone."""

    id: str
    phone: str
    role: str


@dataclass(frozen=True)
class Ringing:
    """The next step of the path, and the people it rings (agents or supervisors)."""

    next: Next
    takers: list[Taker] = field(default_factory=list)


@dataclass(frozen=True)
class DialEnd:
    """How a dial of the caller's leg ended, as Twilio's action request says."""

    status: str
    bridged: bool = False
    caller_hung_up: bool = False
    # Seconds talked, as Twilio gave them (kept in the incident's closing step).
    talk_s: str = ""


class Answer(Enum):
    """What came of a rung person's key after the whisper."""

    DECLINED = "declined"
    CALLER_GONE = "caller_gone"
    TAKEN_BY_OTHER = "taken_by_other"
    TAKEN = "taken"


class Records:
    """One webhook's Redis work, best effort: after the first failure the rest is skipped."""

    def __init__(self) -> None:
        self.down = False

    def run(self, call_sid: str, work: Callable[[], None]) -> None:
        """Run Redis work for a call; once Redis failed in this request, skip it at once."""
        if not call_sid or self.down:
            return
        try:
            work()
        except RedisError as error:
            self.down = True
            log.warning("Redis unreachable, crisis call %s: %s", call_sid, type(error).__name__)


class CrisisPath:
    """The crisis path of one webhook, on the app's Redis, config, routing script and clock."""

    def __init__(
        self,
        redis: Redis,
        config: HotlineConfig,
        records: Records,
        *,
        script: RoutingScript | None,
        now: Callable[[], float],
        incidents: IncidentLog | None = None,
        calls: CallStore | None = None,
    ):
        self.redis = redis
        self.config = config
        self.records = records
        self.script = script
        self.now = now
        self.incidents = IncidentLog(redis) if incidents is None else incidents
        self.calls = CallStore(redis) if calls is None else calls
        self.claims = CrisisClaims(redis, config.routing, script=script, calls=self.calls)

    def start(
        self,
        call_sid: str,
        language: str,
        reason: str,
        matched: tuple[str, ...],
        said: str,
        *,
        ring_limit: int,
    ) -> Ringing:
        """The caller reached the crisis path: record it, find agents, and say what is next."""
        log.warning("crisis path for call %s: %s", call_sid, reason)
        takers: list[Taker] = []

        def opened() -> None:
            now = self.now()
            self.calls.update(
                call_sid, crisis_trigger=reason, crisis_words=" ".join(matched) or None
            )
            self.incidents.open(call_sid, trigger=reason, language=language, said=said, now=now)
            alerts.raise_alert(self.redis, call_sid, trigger=reason, language=language, now=now)
            # A crisis jumps every queue: the caller's place is given up, the ring goes out now.
            room = WaitingRoom(self.redis, self.config.routing, script=self.script)
            room.leave(call_sid, now, outcome="crisis")
            takers.extend(self._free_agents(language, ring_limit))
            for taker in takers:
                self.incidents.step(call_sid, "rung", target=taker.id, role="agent")

        self.records.run(call_sid, opened)
        if self.records.down:
            # Nothing was written: the line's leg reports back, and the first report that
            # finds Redis again opens the incident and alerts the supervisors.
            event: rollover.Event = rollover.RedisDown()
        else:
            event = rollover.Found(len(takers))
        return self._go(call_sid, Position(Stage.TRIGGER), event, language, takers)

    def record_late(
        self, call_sid: str, language: str, reason: str, said: str, raw_at: str
    ) -> None:
        """A crisis Redis missed at its trigger: the incident and the alert, dated from it."""
        at = rollover.trigger_time(raw_at, self.now())

        def late() -> None:
            if self.incidents.get(call_sid) is None:
                self.incidents.open(call_sid, trigger=reason, language=language, said=said, now=at)
                log.warning("crisis call %s recorded late, Redis is back: %s", call_sid, reason)
            # Once per call: a report after the alert was raised finds it and stops there.
            alerts.raise_alert(self.redis, call_sid, trigger=reason, language=language, now=at)

        self.records.run(call_sid, late)

    def picked_up(self, call_sid: str, taker_id: str) -> None:
        """A rung person picked up and hears the whisper."""
        self._step(call_sid, "picked_up", target=taker_id)

    def answer(
        self, call_sid: str, taker_id: str, role: str, *, accepted: bool, taker_leg: str
    ) -> Answer:
        """The key after the whisper: the first to accept a live call takes it."""
        if not accepted:
            self._step(call_sid, "declined", target=taker_id)
            return Answer.DECLINED
        if self._caller_gone(call_sid):
            # Taking a call that is over would leave the agent "talking" to nobody, out of
            # routing and of the next crisis ring, until the leg check or the two-hour limit.
            log.warning(
                "crisis call %s already over when %s %s pressed 1", call_sid, role, taker_id
            )
            return Answer.CALLER_GONE
        # With Redis down nobody can be asked: whoever presses 1 takes the call.
        won = [True]
        self.records.run(
            call_sid, lambda: won.__setitem__(0, self.claims.claim(call_sid, taker_id))
        )
        if not won[0]:
            return Answer.TAKEN_BY_OTHER
        log.warning("crisis call %s taken by %s %s", call_sid, role, taker_id)

        def taken() -> None:
            self.incidents.step(call_sid, "answered", target=taker_id, role=role)
            self.claims.engage(call_sid, taker_id, role, taker_leg, self.now())
            metrics.reached_human(self.redis, call_sid, "crisis", self.now())

        self.records.run(call_sid, taken)
        return Answer.TAKEN

    def ring_ended(self, call_sid: str, stage: Stage, language: str, end: DialEnd) -> Ringing:
        """The ring of the agents (or the supervisors) ended: talked, caller gone, or on."""
        taker: str | None = None
        if end.status == "completed":
            found: list[str | None] = [None]
            self.records.run(call_sid, lambda: found.__setitem__(0, self.claims.taker(call_sid)))
            taker = found[0]
        event = rollover.RingEnded(end.status, end.bridged, end.caller_hung_up, taker)
        ringing = self._go(call_sid, Position(stage), event, language, [], end, taker)
        if stage is Stage.AGENTS and ringing.next.do is Do.DIAL_LINE:
            log.warning("crisis call %s: no agent took it (%s), rolling over", call_sid, end.status)
        return ringing

    def line_ended(
        self, call_sid: str, index: int, language: str, end: DialEnd, *, ring_limit: int
    ) -> Ringing:
        """A crisis line's dial ended: done if answered, else the next line, else supervisors."""
        log.warning("crisis call %s: line %d ended %s", call_sid, index, end.status or "(none)")
        event = rollover.LineEnded(end.status)
        ringing = self._go(call_sid, Position(Stage.LINE, index), event, language, [], end)
        if ringing.next.do is not Do.FIND_SUPERVISORS:
            return ringing
        supervisors = self._supervisors(call_sid, ring_limit)
        found = rollover.Found(len(supervisors))
        return self._go(call_sid, Position(Stage.SUPERVISORS), found, language, supervisors, end)

    # --- helpers -----------------------------------------------------------------------------

    def _go(
        self,
        call_sid: str,
        at: Position,
        event: rollover.Event,
        language: str,
        takers: list[Taker],
        end: DialEnd | None = None,
        taker: str | None = None,
    ) -> Ringing:
        """Take the rollover's next step: write its records, close the incident if it ends."""
        lines = tuple(self.config.crisis.lines_for(language))
        nxt = rollover.next_step(at, event, lines, self.now())

        def records() -> None:
            for record in nxt.records:
                self.incidents.step(call_sid, record.kind, **record.fields)

        self.records.run(call_sid, records)
        if nxt.close:
            self._close(call_sid, nxt.close, taker, end.talk_s if end else "")
        return Ringing(nxt, takers)

    def _free_agents(self, language: str, limit: int) -> list[Taker]:
        """Free crisis-trained agents who speak the language, longest rested first."""
        board = self.claims.board
        takers = []
        # Only free agents sit in the crisis pool: busy ones, on a crisis call too, are not rung.
        for agent_id in board.free_crisis_agents(language, limit=CANDIDATES):
            phone = board.phone(agent_id)
            if phone:
                takers.append(Taker(agent_id, phone, "agent"))
            if len(takers) == limit:
                break
        return takers

    def _supervisors(self, call_sid: str, limit: int) -> list[Taker]:
        """The supervisors on call to ring when every crisis line failed (none if Redis is down)."""
        found: list[Taker] = []

        def read() -> None:
            roster = alerts.stored_roster(self.redis, self.config)
            on_call = alerts.supervisors_to_page(roster, self.now())[:limit]
            found.extend(Taker(s.id, s.phone, "supervisor") for s in on_call)
            for supervisor in found:
                self.incidents.step(call_sid, "rung", target=supervisor.id, role="supervisor")

        self.records.run(call_sid, read)
        return found

    def _caller_gone(self, call_sid: str) -> bool:
        """Whether the caller's call is known to be over: its leg ended, or its incident closed."""
        gone = [False]

        def read() -> None:
            record = self.calls.get(call_sid)
            incident = self.incidents.get(call_sid)
            ended = bool(record and record.status in GONE_STATUSES)
            gone[0] = ended or bool(incident and incident.first("closed"))

        # With Redis down nothing is known: whoever presses 1 takes the call, as before.
        self.records.run(call_sid, read)
        return gone[0]

    def _close(self, call_sid: str, outcome: str, taker: str | None, talk_s: str) -> None:
        """Close the incident with its outcome and free the one who talked to the caller."""

        def closed() -> None:
            self.incidents.step(call_sid, "closed", outcome=outcome, talk_s=talk_s, target=taker)
            if taker:
                self.claims.release(call_sid, taker, self.now())

        self.records.run(call_sid, closed)

    def _step(self, call_sid: str, kind: str, **fields: str) -> None:
        """Record one incident step, best effort."""
        self.records.run(call_sid, lambda: self.incidents.step(call_sid, kind, **fields))
