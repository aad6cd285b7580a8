"""Follow-ups that happen: each owed follow-up is called back by a callback task.

A follow-up with a number to call (an unsatisfied rating, or an outcome code such as 需回访) is
scheduled (RQ scheduler, `default` queue, job `followup-callback-{CallSid}`) for its area's next
opening, or at once when the area is open. At that time it joins the waiting room as the
callback task `fu-{CallSid}` and is matched like any callback: to the area's agents (never the
one the caller was unhappy with when another can take it) or to a supervisor who takes routed
calls (`routing.follow_ups.route`, per `survey.follow_up_to`). The agent hears why the caller
is called back, accepts, and the caller is dialled into their conference; an unreached caller
is retried per `routing.callbacks`, then the task ends `unreached` and the follow-up stays on
the supervisors' list. The callback reaching the caller closes the follow-up
(`FollowUps.callback_result`, from the reservation's callback step); a supervisor closing it
by hand withdraws the task. A withheld number is never dialled: it stays a list item.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis.exceptions import RedisError

from queues import callback_jobs, dispatch, events, runtime
from queues.alerts import stored_roster
from queues.followups import FollowUp, FollowUps
from routing.follow_ups import route, task_id
from routing.numbers import is_withheld
from routing.privacy import mask_number

log = logging.getLogger(__name__)

# How a follow-up's task is shown to supervisors, from its routing state in the waiting room.
SHOWN_STATES = {
    "waiting": "waiting",
    "scheduled": "waiting",
    "held": "waiting",
    "reserved": "ringing",
    "dialling": "ringing",
    "connected": "done",
}


def _job_id(call_sid: str) -> str:
    """The fixed RQ job id of a follow-up's callback, so it is scheduled once."""
    return f"followup-callback-{call_sid}"


def _target(rt: runtime.Runtime, follow_up: FollowUp) -> str:
    """Who the config sends this follow-up's callback to: `area` or `supervisor`."""
    survey = rt.config.survey
    return survey.outcome_follow_up_to if follow_up.reason == "outcome" else survey.follow_up_to


def _area(rt: runtime.Runtime, follow_up: FollowUp) -> tuple[str, str]:
    """The follow-up's area and language, or the general area and default language."""
    return rt.config.served_in(follow_up.area, follow_up.language)


def schedule(rt: runtime.Runtime, call_sid: str) -> str:
    """Schedule a follow-up's callback for its area's next opening (once); say what it did."""
    store = FollowUps(rt.redis)
    follow_up = store.get(call_sid)
    if follow_up is None or follow_up.closed:
        return "gone"
    if follow_up.task:
        return follow_up.task
    now = rt.clock()
    if not follow_up.caller or is_withheld(follow_up.caller):
        # Nobody can be dialled: the follow-up stays a list item that says so.
        store.set_task(call_sid, "no-number", now.timestamp())
        return "no-number"
    area, _ = _area(rt, follow_up)
    when = callback_jobs.due(rt.redis, rt.config, area, now)
    # Marked before the job exists: a job run at once (the area is open) by a quick worker must
    # find its follow-up scheduled, or it takes it for closed and nobody calls the caller back.
    store.set_task(call_sid, "scheduled", now.timestamp())
    callback_jobs.start_at(rt.redis, when, callback_job, call_sid, _job_id(call_sid))
    events.append(
        rt.redis,
        "follow-up-scheduled",
        call=call_sid,
        area=area,
        due=f"{(when or now).timestamp():.3f}",
    )
    return "scheduled"


def callback_job(call_sid: str) -> str:
    """At the opening: put the follow-up's callback in the waiting room and look for an agent."""
    rt = runtime.current()
    follow_up = FollowUps(rt.redis).get(call_sid)
    if follow_up is None or follow_up.closed or follow_up.task != "scheduled":
        return "gone" if follow_up is None else (follow_up.task or "closed")
    area, language = _area(rt, follow_up)
    now = rt.clock()
    due = callback_jobs.due(rt.redis, rt.config, area, now)
    if due is not None:
        # Hours changed (a holiday, a closure) since it was scheduled: wait for the new opening.
        callback_jobs.start_at(rt.redis, due, callback_job, call_sid, _job_id(call_sid))
        return "rescheduled"
    return _enqueue(rt, follow_up, area, language, now)


def _enqueue(
    rt: runtime.Runtime, follow_up: FollowUp, area: str, language: str, now: datetime
) -> str:
    """Join the waiting room as a callback task kept from the unhappy agent, and match it."""
    routing = rt.routing
    config = rt.config
    decided = route(
        stored_roster(rt.redis, config),
        target=_target(rt, follow_up),
        area=area,
        general_area=config.general_area,
        language=language,
        unhappy_with=follow_up.agent if follow_up.reason == "rating" else "",
        now=now.astimezone(UTC),
    )
    task = task_id(follow_up.call_sid)
    stamp = now.timestamp()
    # The whisper reads the task's call record (area, language, the first call's summary); its
    # reason comes from the follow-up.
    first = routing.calls.get(follow_up.call_sid)
    callback_jobs.join_room(
        rt,
        task,
        follow_up.caller,
        area=area,
        language=language,
        summary=first.summary if first else "",
        arrival=stamp,
        record={"follow_up": follow_up.call_sid},
        avoid=decided.avoid,
        only=decided.only,
    )
    FollowUps(rt.redis).set_task(follow_up.call_sid, "queued", stamp)
    events.append(
        rt.redis,
        "follow-up-routed",
        call=follow_up.call_sid,
        task=task,
        target=decided.target,
        area=area,
        language=language,
        avoid=decided.avoid or None,
    )
    log.info(
        "follow-up %s: callback for %s queued (%s, %s, to %s)",
        follow_up.call_sid,
        mask_number(follow_up.caller),
        area,
        language,
        decided.target,
    )
    dispatch.dispatch(rt.redis, [routing.matcher.match_call(task, stamp)])
    return "queued"


def withdraw(rt: runtime.Runtime, call_sid: str) -> bool:
    """A supervisor closed the follow-up by hand: its callback task is withdrawn."""
    store = FollowUps(rt.redis)
    if not store.set_task(call_sid, "withdrawn", rt.now(), only_from=("scheduled", "queued")):
        return False
    # Waiting or ringing an agent, it leaves the room (a ringing agent is told and freed); a
    # callback already dialling the caller goes on: the caller is about to hear someone.
    dispatch.caller_left(rt, task_id(call_sid), "closed")
    return True


def shown_state(rt: runtime.Runtime, follow_up: FollowUp) -> str:
    """The task's state as supervisors see it: waiting, ringing, done, unreached, or its end."""
    if follow_up.task != "queued":
        return "waiting" if follow_up.task == "scheduled" else follow_up.task
    queued = rt.routing.room.get(task_id(follow_up.call_sid))
    if queued is None:
        return "waiting"
    if queued.outcome == "callback-failed":
        return "unreached"
    return SHOWN_STATES.get(queued.state, "waiting")


def outcome_given(rt: runtime.Runtime, call_sid: str, agent_id: str) -> bool:
    """An agent's outcome code owes the caller another call (需回访): open its follow-up once.

    The number is the one the call came from, or the one a callback task dialled; a withheld
    one opens a follow-up with none, a list item for supervisors. Returns True when opened.
    """
    record = rt.routing.calls.get(call_sid)
    if record is None:
        return False
    number = rt.routing.room.callback_number(call_sid) or record.caller
    number = "" if is_withheld(number) else number
    note = rt.notes.get(call_sid).note
    first = FollowUps(rt.redis).open(
        call_sid,
        area=record.area or rt.config.general_area,
        language=record.language or rt.config.default_language,
        agent=agent_id,
        caller=number,
        now=rt.now(),
        reason="outcome",
        why=note,
    )
    if first:
        opened(rt, call_sid)
    return first


def opened(rt: runtime.Runtime, call_sid: str) -> str:
    """A follow-up was just opened: schedule its callback; failures are logged, never raised."""
    try:
        return schedule(rt, call_sid)
    except RedisError as error:
        # The caller's webhook still answers; the list shows the follow-up as not scheduled.
        log.warning("follow-up %s: callback not scheduled: %s", call_sid, type(error).__name__)
        return "failed"
