"""Callbacks for messages: each ready message is called back by an agent of its area.

A ready message is scheduled (RQ scheduler) for its area's next opening, or at once when the
area is open. At that time it joins the waiting room as a callback task named `vm-{RecordingSid}`
and is matched like a call: a skill-matched agent speaking the caller's language is rung, hears
the message first, and presses 1 to have the caller dialled into their conference, or 2 to put
it back. Urgent messages go first (the vulnerable priority class), then older ones. Unreached
callers are retried and then closed by the routing core (`Reservations.callback_missed`).
"""

from __future__ import annotations

import logging

from queues import callback_jobs, dispatch, events, keys, runtime
from queues.records import gather, trigger
from routing.numbers import is_withheld
from routing.privacy import mask_number
from voicemail.messages import READY, Message, MessageStore, stamp

log = logging.getLogger(__name__)

TASK_PREFIX = "vm-"
# A message's age moves it ahead of younger messages released at the same opening, by this many
# seconds of arrival per second of age: 30 days of age weigh under 3 s, too little to widen.
AGE_WEIGHT = 1e-6


def task_id(recording_sid: str) -> str:
    """The waiting room id of a message's callback task."""
    return f"{TASK_PREFIX}{recording_sid}"


def recording_of(call_id: str) -> str | None:
    """The message a callback task was made from, or None for an ordinary call."""
    return call_id[len(TASK_PREFIX) :] if call_id.startswith(TASK_PREFIX) else None


def _job_id(recording_sid: str) -> str:
    """The fixed RQ job id of a message's callback, so it is scheduled once."""
    return f"voicemail-callback-{recording_sid}"


def _area_and_language(rt: runtime.Runtime, message: Message) -> tuple[str, str]:
    """The message's area and language, or the general area and default language."""
    return rt.config.served_in(message.area, message.language)


def schedule(rt: runtime.Runtime, message: Message) -> str:
    """Schedule the callback of a ready message for its area's next opening (once)."""
    if message.state != READY:
        return "not-ready"
    store = MessageStore(rt.redis)
    if "callback_state" in message.fields:
        return message.fields["callback_state"]
    if is_withheld(message.caller):
        # Nothing to dial (no number, or "anonymous" and its kind): staff read it in the inbox.
        return _no_number(rt, message)
    area, _ = _area_and_language(rt, message)
    now = rt.clock()
    when = callback_jobs.due(rt.redis, rt.config, area, now)
    callback_jobs.start_at(
        rt.redis, when, callback_job, message.recording_sid, _job_id(message.recording_sid)
    )
    due = when or now
    store.set_fields(
        message.recording_sid, {"callback_state": "scheduled", "callback_due": stamp(due)}
    )
    events.append(
        rt.redis,
        "voicemail_callback_scheduled",
        recording=message.recording_sid,
        area=area,
        due=stamp(due),
        urgent=int(message.urgent),
    )
    log.info("voicemail %s: callback due %s (%s)", message.recording_sid, due.isoformat(), area)
    return "scheduled"


def _no_number(rt: runtime.Runtime, message: Message) -> str:
    """Mark a message that cannot be called back, once, for the inbox to show."""
    MessageStore(rt.redis).set_fields(message.recording_sid, {"callback_state": "no-number"})
    events.append(rt.redis, "voicemail_no_number", recording=message.recording_sid)
    return "no-number"


def callback_job(recording_sid: str) -> str:
    """At the opening: put the message's callback in the waiting room and look for an agent."""
    rt = runtime.current()
    store = MessageStore(rt.redis)
    message = store.get(recording_sid)
    if message is None or message.fields.get("callback_state") in ("closed", "queued"):
        return "gone" if message is None else message.fields["callback_state"]
    if is_withheld(message.caller):
        # Scheduled before withheld numbers were known as such: never dialled.
        return _no_number(rt, message)
    area, language = _area_and_language(rt, message)
    now = rt.clock()
    due = callback_jobs.due(rt.redis, rt.config, area, now)
    if due is not None:
        # Hours changed (a holiday, a closure) since it was scheduled: wait for the new opening.
        callback_jobs.start_at(rt.redis, due, callback_job, recording_sid, _job_id(recording_sid))
        return "rescheduled"
    return _enqueue(rt, message, area, language, now.timestamp())


def _enqueue(rt: runtime.Runtime, message: Message, area: str, language: str, now: float) -> str:
    """Join the waiting room as a callback task, ordered by urgency then age, and match it."""
    routing = rt.routing
    task = task_id(message.recording_sid)
    age = max(now - message.created_at, 0.0)
    callback_jobs.join_room(
        rt,
        task,
        message.caller,
        area=area,
        language=language,
        summary=message.summary,
        arrival=now - age * AGE_WEIGHT,
        record={"voicemail": message.recording_sid},
        vulnerable=message.urgent,
    )
    MessageStore(rt.redis).set_fields(
        message.recording_sid, {"callback_state": "queued", "callback_queued_at": f"{now:.3f}"}
    )
    log.info(
        "voicemail %s: callback for %s queued (%s, %s)",
        message.recording_sid,
        mask_number(message.caller),
        area,
        language,
    )
    dispatch.dispatch(rt.redis, [routing.matcher.match_call(task, now)])
    return "queued"


def called_back(rt: runtime.Runtime, call_id: str, now: float) -> None:
    """A message's callback reached its caller: keep when, and have its call's record say so."""
    recording_sid = recording_of(call_id)
    message = MessageStore(rt.redis).get(recording_sid) if recording_sid else None
    if message is None:
        return
    # The first time the caller was reached stands: a repeated webhook keeps it.
    rt.redis.hsetnx(
        keys.voicemail_message(message.recording_sid), gather.CALLED_BACK_FIELD, f"{now:.3f}"
    )
    if message.call_sid:
        trigger.refresh_record(rt.redis, message.call_sid)
