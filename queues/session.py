"""A caller's session in the waiting room, from joining it to being handed to an agent.

Every step is written once here and the webhooks only parse Twilio's request, call one of
these and render TwiML: `join` queues a caller, then matches, then dispatches what the match
decided; `place_and_wait` re-matches on each of Twilio's waitUrl polls (adopting a caller
routing never saw, queued while Redis was down) and says the caller's place and expected
wait; `callback` turns a waiting call into a callback that keeps its place; `leave` ends the
stay; `hand_to_agent` hands the caller to the agent who accepted.

A caller must never hear an error for a Redis outage: the caller's steps log it and say what
is still true (nothing queued, no place known, no callback), and Twilio's queue holds them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from queues import carrier_setup, dispatch, runtime
from queues.calls import CallStore
from queues.reservations import Transition
from queues.sweep import LegChecks
from routing.config import HotlineConfig
from routing.eligibility import is_staffing
from routing.estimate import expected_wait_s, spoken_minutes
from routing.matching import is_heavy
from routing.menu import encode_answers, summarise

log = logging.getLogger(__name__)

# How long a count of staffed agents is reused for wait estimates.
STAFFED_CACHE_S = 30.0
# Where the runtime keeps those counts: {(area, language): (counted at, count)}.
_STAFFED_MEMO = "session.staffed"


@dataclass(frozen=True)
class WaitingCaller:
    """A caller as the menu knows them: their call, number, area, language and intake answers."""

    call_sid: str
    number: str
    area: str
    language: str
    # The intake answers in question order (None for a question left unanswered).
    answers: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Place:
    """What a waiting caller can truly be told: callers ahead and minutes, None when unknown."""

    ahead: int | None = None
    minutes: int | None = None


def join(rt: runtime.Runtime, caller: WaitingCaller, now: float) -> bool:
    """Queue the caller and look for an agent at once; False if already known or Redis is down."""
    if not caller.call_sid:
        return False
    try:
        return _enter(rt, caller, now, arrival=now)
    except RedisError as error:
        # The caller waits in Twilio's queue; their first poll with Redis back adopts them.
        log.warning(
            "call %s queued without routing state: %s", caller.call_sid, type(error).__name__
        )
        return False


def place_and_wait(
    rt: runtime.Runtime, caller: WaitingCaller, waited_s: int, queue_sid: str = ""
) -> Place:
    """Re-match a waiting caller (adopting one routing does not know), then say place and wait.

    `waited_s` is how long Twilio has held the caller (its QueueTime): an adopted caller is
    ordered from then, fairly among those who queued since. `queue_sid` is the Twilio queue
    they wait in, kept for taking them out of it.
    """
    try:
        carrier_setup.note_queue(rt, caller.area, queue_sid)
        return _place_and_wait(rt, caller, waited_s)
    except RedisError as error:
        # Without a place the caller hears a plain "please hold".
        log.warning("waiting room unreachable for %s: %s", caller.call_sid, type(error).__name__)
        return Place()


def callback(rt: runtime.Runtime, caller: WaitingCaller, number: str, waited_s: int) -> bool:
    """Turn the waiting call into a callback to `number` that keeps its place; False if not."""
    try:
        room = rt.routing.room
        if room.get(caller.call_sid) is None:
            # Queued while Redis was down and no poll has adopted them yet: adopt them now.
            _adopt(rt, caller, rt.now(), waited_s)
        return room.to_callback(caller.call_sid, number, rt.now())
    except RedisError:
        return False


def leave(rt: runtime.Runtime, call_sid: str, outcome: str) -> None:
    """Take the call out of the waiting room; an agent ringing for it is told and freed."""
    if not call_sid:
        return
    try:
        dispatch.caller_left(rt, call_sid, outcome)
    except RedisError as error:
        log.warning("could not record %s leaving: %s", call_sid, type(error).__name__)


def hand_to_agent(rt: runtime.Runtime, reservation_id: str) -> Transition:
    """The agent pressed the accept key: take the call, and bring the caller to them by a job."""
    routing = rt.routing
    transition = routing.reservations.accept(reservation_id, rt.now())
    if transition.changed:
        routing.calls.update(
            transition.call_sid, reservation=reservation_id, agent=transition.agent_id
        )
        dispatch.dispatch_queue(rt.redis).enqueue(
            dispatch.bridge_caller,
            reservation_id,
            job_id=f"bridge-{reservation_id}",
            retry=dispatch.BRIDGE_RETRY,
        )
    return transition


def keep_summary(store: CallStore, config: HotlineConfig, caller: WaitingCaller) -> None:
    """Keep the call's area, language, intake answers and the summary the agent will hear."""
    record = store.get(caller.call_sid)
    speech = record.speech if record else ""
    answers = list(caller.answers)
    store.update(
        caller.call_sid,
        area=caller.area,
        language=caller.language,
        summary=summarise(config, caller.area, caller.language, answers, speech),
        answers=encode_answers(answers),
    )


def _enter(rt: runtime.Runtime, caller: WaitingCaller, now: float, *, arrival: float) -> bool:
    """Queue the call in routing (once), then offer it at once; True if newly queued."""
    questions = rt.config.areas[caller.area].intake
    named = {q.id: a for q, a in zip(questions, caller.answers, strict=False) if a is not None}
    routing = rt.routing
    queued = routing.room.enqueue(
        caller.call_sid,
        area=caller.area,
        language=caller.language,
        now=now,
        arrival=arrival,
        caller=caller.number or None,
        heavy=is_heavy(rt.config.routing, caller.area, named),
    )
    dispatch.dispatch(rt.redis, [routing.matcher.match_call(caller.call_sid, now)])
    return queued


def _adopt(rt: runtime.Runtime, caller: WaitingCaller, now: float, waited_s: int) -> bool:
    """Register a caller Twilio holds whom routing never saw (they queued while Redis was down).

    The area, language and intake answers come from the caller's wait URL; the arrival is
    `waited_s` ago, so the caller is ordered fairly among those who queued since.
    """
    if not caller.call_sid:
        return False
    store = rt.calls
    # The call's record was lost with Redis too: the agent's whisper and the rating read it.
    store.start(caller.call_sid, caller.number)
    keep_summary(store, rt.config, caller)
    adopted = _enter(rt, caller, now, arrival=now - waited_s)
    if adopted:
        log.warning(
            "call %s waited %d s in Twilio's queue unknown to routing: adopted into %s/%s",
            caller.call_sid,
            waited_s,
            caller.area,
            caller.language,
        )
    return adopted


def _place_and_wait(rt: runtime.Runtime, caller: WaitingCaller, waited_s: int) -> Place:
    """Re-match, adopt an unknown caller, and work out their place and expected wait."""
    routing = rt.routing
    now, call_sid = rt.now(), caller.call_sid
    # Twilio polls only for a caller still in its queue: the leg is alive, so the leg check
    # need not look it up (a REST request) until the polls stop.
    LegChecks(rt.redis, rt.config.routing, script=rt.script).alive(call_sid, now)
    dispatch.dispatch(rt.redis, [routing.matcher.match_call(call_sid, now)])
    # Our own order (priority, then arrival) decides who is next, so it says the place;
    # Twilio's QueuePosition is only its queue's order, so it is never said.
    # One round trip for the place, the free agents and the recent talk times (was four).
    standing = routing.room.standing(
        call_sid,
        caller.area,
        caller.language,
        counting=routing.board.free_pools(caller.area, caller.language),
    )
    ahead = standing.ahead
    if ahead is None:
        known = routing.room.get(call_sid)
        if known is None and _adopt(rt, caller, now, waited_s):
            ahead = routing.room.position(call_sid)
            known = routing.room.get(call_sid)
        if ahead is None:
            # An agent is being rung for this caller: they are next. Otherwise (their stay in
            # routing has ended, or they were never known) nothing true can be said.
            reserved = known is not None and known.state == "reserved"
            return Place(ahead=0) if reserved else Place()
    seconds = expected_wait_s(
        ahead,
        standing.counted,
        _staffed(rt, routing, caller.area, caller.language, now),
        standing.handle_times,
    )
    return Place(ahead, spoken_minutes(seconds) if seconds else None)


def _staffed(
    rt: runtime.Runtime, routing: dispatch.Routing, area: str, language: str, now: float
) -> int:
    """Agents on duty who could take such a caller, counted at most every half minute."""
    cache = rt.memo.setdefault(_STAFFED_MEMO, {})
    cached = cache.get((area, language))
    if cached and now - cached[0] < STAFFED_CACHE_S:
        return cached[1]
    general_area = rt.config.general_area
    count = sum(
        1
        for agent in routing.board.all()
        if is_staffing(agent, area, language, general_area=general_area)
    )
    cache[(area, language)] = (now, count)
    return count
