"""The crisis path's rollover: every free crisis-trained agent at once, then each crisis line in
turn, then the supervisors on call, then the numbers said to the caller.

A pure state machine: where the call is on the path, plus what just happened, gives the next
step, the incident steps to record on the way and the outcome to close the incident with. The
webhooks and Redis are elsewhere (queues/crisis_path.py); nothing here reads either, so a dead
Redis changes nothing but the event it leads to: nobody can be looked up (`RedisDown`), and the
first crisis line is dialled at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Dial statuses of a crisis line that mean a person answered it.
LINE_ANSWERED = ("completed", "answered")
# The oldest trigger time a late crisis record believes from its URL (longer than any call).
UNRECORDED_MAX_AGE_S = 6 * 3600


class Stage(Enum):
    """Where a crisis call is on the path when something happens."""

    # The caller just reached the crisis path: nobody rung yet.
    TRIGGER = "trigger"
    # The free crisis-trained agents were rung at once.
    AGENTS = "agents"
    # A crisis line (`Position.line` of the language's list) was dialled.
    LINE = "line"
    # Every line failed: the supervisors on call are looked up, then rung.
    SUPERVISORS = "supervisors"


class Do(Enum):
    """What the caller's leg is told to do next."""

    RING_AGENTS = "ring_agents"
    DIAL_LINE = "dial_line"
    FIND_SUPERVISORS = "find_supervisors"
    RING_SUPERVISORS = "ring_supervisors"
    GOODBYE = "goodbye"
    # The caller hung up: an answer with nothing in it.
    NOTHING = "nothing"
    GIVE_NUMBERS = "give_numbers"


@dataclass(frozen=True)
class Position:
    """Where the call is: the stage and, for a line, its index in the language's list."""

    stage: Stage
    line: int = 0


@dataclass(frozen=True)
class Found:
    """The people to ring were looked up: this many agents (or supervisors) have a phone."""

    count: int


@dataclass(frozen=True)
class RedisDown:
    """Nobody can be looked up: Redis failed while the trigger was being recorded."""


@dataclass(frozen=True)
class RingEnded:
    """A ring of agents or supervisors ended, with the Dial's and the caller's statuses."""

    status: str
    bridged: bool = False
    caller_hung_up: bool = False
    # Who took the call, as its claim says (None when nobody did, or Redis cannot say).
    taker: str | None = None


@dataclass(frozen=True)
class LineEnded:
    """A crisis line's dial ended with this Dial status."""

    status: str


Event = Found | RedisDown | RingEnded | LineEnded


@dataclass(frozen=True)
class Record:
    """One incident step a transition asks to be written, best effort."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Next:
    """The next step of the path, the records on the way and the incident's closing outcome."""

    do: Do
    # The line dialled (DIAL_LINE): its index in the language's list.
    line: int = 0
    # Words before a line's dial: "crisis_intro", "crisis_retry", or "" (dialled at once).
    words: str = ""
    # The line's leg reports back, dated `report_at`: the trigger went unrecorded.
    report_at: int | None = None
    records: tuple[Record, ...] = ()
    # The outcome the incident closes with ("" while the path goes on).
    close: str = ""


class NoTransition(ValueError):
    """An event that cannot happen at a stage (a webhook posted to the wrong step)."""


def next_step(at: Position, event: Event, lines: tuple[str, ...], now: float) -> Next:
    """The step after `event` at `at`, for the language's crisis `lines` (never empty)."""
    if not lines:
        raise ValueError("the crisis path needs at least one crisis line")
    if at.stage is Stage.TRIGGER:
        return _triggered(event, lines, now)
    if at.stage is Stage.AGENTS and isinstance(event, RingEnded):
        return _agents_ended(event, lines)
    if at.stage is Stage.LINE and isinstance(event, LineEnded):
        return _line_ended(min(max(at.line, 0), len(lines) - 1), event, lines)
    if at.stage is Stage.SUPERVISORS and isinstance(event, Found):
        if event.count:
            return Next(Do.RING_SUPERVISORS)
        return Next(Do.GIVE_NUMBERS, close="numbers_given")
    if at.stage is Stage.SUPERVISORS and isinstance(event, RingEnded):
        return _ring_ended(event, taken="supervisor") or Next(
            Do.GIVE_NUMBERS, close="numbers_given"
        )
    raise NoTransition(f"{type(event).__name__} cannot happen at {at.stage.value}")


def trigger_time(raw: str, now: float) -> float:
    """The trigger time a late record's URL carries, or `now` if it is not believable."""
    # One in the future, or older than any call, is a forged or mangled URL.
    if raw.isdigit() and now - UNRECORDED_MAX_AGE_S <= int(raw) <= now:
        return float(raw)
    return now


def _triggered(event: Event, lines: tuple[str, ...], now: float) -> Next:
    """The crisis trigger: ring the agents found, else the first line, calm words first."""
    if isinstance(event, RedisDown):
        # No calm words: every second of them is a second longer before a person answers.
        return _dial(0, lines, words="", report_at=int(now))
    if isinstance(event, Found):
        if event.count:
            return Next(Do.RING_AGENTS)
        return _dial(0, lines, words="crisis_intro")
    raise NoTransition(f"{type(event).__name__} cannot happen at trigger")


def _agents_ended(event: RingEnded, lines: tuple[str, ...]) -> Next:
    """The agents' ring ended: talked, the caller gone, or on to the first line at once."""
    done = _ring_ended(event, taken="agent")
    if done is not None:
        return done
    missed = (
        Record("no_answer", {"role": "agent", "status": event.status}),
        Record("rollover", {"target": lines[0], "reason": "no agent took it"}),
    )
    return _dial(0, lines, words="", before=missed)


def _line_ended(index: int, event: LineEnded, lines: tuple[str, ...]) -> Next:
    """A line's dial ended: done if answered, else the next line, else the supervisors."""
    line = lines[index]
    if event.status in LINE_ANSWERED:
        return Next(
            Do.GOODBYE, records=(Record("answered", {"target": line}),), close="crisis_line"
        )
    missed = Record("no_answer", {"target": line, "status": event.status})
    if index + 1 < len(lines):
        rollover = Record("rollover", {"target": lines[index + 1]})
        return _dial(index + 1, lines, words="crisis_retry", before=(missed, rollover))
    return Next(Do.FIND_SUPERVISORS, records=(missed,))


def _ring_ended(event: RingEnded, *, taken: str) -> Next | None:
    """A ring's end that ends the path: someone talked, or the caller hung up; else None."""
    if event.status == "completed" and (event.taker or event.bridged):
        return Next(Do.GOODBYE, close=taken)
    if event.caller_hung_up:
        return Next(Do.NOTHING, close="caller_hung_up")
    return None


def _dial(
    index: int,
    lines: tuple[str, ...],
    *,
    words: str,
    report_at: int | None = None,
    before: tuple[Record, ...] = (),
) -> Next:
    """Dial a line, recording that it was rung after whatever led there."""
    rung = Record("rung", {"target": lines[index], "role": "line"})
    return Next(Do.DIAL_LINE, line=index, words=words, report_at=report_at, records=(*before, rung))
