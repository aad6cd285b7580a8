"""Webhooks of agents' legs: the whisper, the accept or decline key, the leg's status, the
end of the call. An agent's leg never gets the caller's fallback: any failure ends the leg,
and the reservation's timeout offers the call to the next agent. A leg picked up and over
with its offer still open is the agent's miss only if it lasted the whisper and its choice's
time-out (`routing.leg_miss`); a shorter one ends the offer with no miss. An accepted leg
that ends before the agent was seen in the conference (its report of them joining, or their
Dial's action) is no miss either: the caller waits again, first in line
(`dispatch.agent_never_joined`).

They answer from Redis alone: the REST requests that follow an agent leaving the conference
(ending it for the caller, looking whether the caller is still in it) are dispatch jobs, and
only a Redis outage makes one of them run here (`dispatch.hand_over`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

from flask import Response, request, url_for
from redis.exceptions import RedisError
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr import webhook as hook
from ivr.agents import bridge, followup_whisper
from ivr.agents import transfer as transfer_calls
from ivr.callers import menu_twiml as twiml
from queues import dispatch, runtime, session, transfers
from queues.alerts import EscalationError, escalate
from queues.repeat_callers import CallerHistory
from queues.reservations import Reservation
from queues.sweep import GONE_STATUSES
from routing.leg_miss import call_duration, missed_after_pickup, whisper_seconds
from voicemail import playback as voicemail_playback

log = logging.getLogger(__name__)

# Statuses of an agent's leg that mean the phone was never picked up.
UNANSWERED = {
    "no-answer": "no-answer",
    "busy": "busy",
    "failed": "no-answer",
    "canceled": "no-answer",
}
# Silence (call seconds) for an agent who stepped out of the conference while a job looks
# whether the caller is still in it; a worker answers well within it, and Redis decides if not.
STEP_OUT_HOLD_S = 3
# How long (the app's seconds) an agent who answered is held in silence while Redis cannot be
# read, the offer kept for them: a Redis restart takes a few seconds. Then the leg ends.
REDIS_HOLD_S = 10.0
# Call seconds of silence between two looks at Redis while the agent is held.
REDIS_RETRY_S = 2


def _end_leg(error: Exception) -> Response:
    """Log a failure on an agent's leg and hang it up; the offer times out and moves on."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("agent webhook %s failed", request.path)
    return hook.xml(twiml.hangup())


bp = hook.twilio_blueprint("agent_calls", __name__, "/voice/agent", on_error=_end_leg)
# Transfers by phone: the agent's transfer menu and the transferred caller's webhooks.
bp.register_blueprint(transfer_calls.bp)
bp.register_blueprint(transfer_calls.caller_bp)


def _offer(rt: runtime.Runtime) -> tuple[Reservation | None, str]:
    """The reservation a webhook is about, and the language to speak to its agent in."""
    offer = rt.routing.reservations.get(hook.reservation_id())
    return offer, offer.language if offer else hook.config().default_language


@bp.post("/whisper")
def whisper() -> Response:
    """The agent answered: tell them about the caller, or that the caller has gone."""
    rt = runtime.serving()
    try:
        return _whisper(rt)
    except RedisError as error:
        # Hanging up would lose an agent who answered, and the caller with them until the
        # offer times out: while Redis restarts, the agent holds and the whisper is tried again.
        raw = request.args.get("since", "")
        since = float(raw) if raw.isdigit() and int(raw) <= rt.now() else rt.now()
        if rt.now() - since >= REDIS_HOLD_S:
            raise
        log.warning(
            "agent of %s held, Redis unreachable: %s", hook.reservation_id(), type(error).__name__
        )
        again = url_for(".whisper", res=hook.reservation_id(), since=int(since))
        return hook.xml(twiml.hold_then(REDIS_RETRY_S, again))


def _whisper(rt: runtime.Runtime) -> Response:
    """The whisper, or the caller-gone words, from the offer in Redis."""
    routing = rt.routing
    offer = routing.reservations.get(hook.reservation_id())
    language = offer.language if offer else hook.config().default_language
    if offer is None or offer.state != "offered":
        return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_caller_gone"))
    document = _whisper_document(rt, offer)
    transferred = transfers.note_for_whisper(rt, offer.call_sid, offer.id)
    if transferred:
        # A transferred call: from which area and agent, and the note so far, first.
        area = hook.config().areas.get(transferred["from_area"])
        document = twiml.with_lead(
            hook.config(),
            language,
            document,
            "whisper_transfer",
            area=area.name[language] if area else transferred["from_area"],
            agent=transferred["agent"],
            note=transferred["note"] or "-",
        )
    if offer.kind == "callback":
        # A follow-up's callback says first why the caller is called back.
        document = followup_whisper.with_reason(rt, offer, document)
    if offer.kind == "callback":
        # A callback made from a message plays the message before the accept key.
        with_message = voicemail_playback.listen_first(
            offer.call_sid, language, offer.agent_id, document
        )
        if with_message is not document:
            # The agent is listening: the offer lasts as long as the longest message can.
            listening_s = (
                hook.config().voicemail.max_length_s + rt.config.routing.reservation_timeout_s
            )
            routing.reservations.extend(offer.id, rt.now() + listening_s)
            document = with_message
    return hook.xml(document)


def _whisper_document(rt: runtime.Runtime, offer: Reservation) -> VoiceResponse:
    """The whisper of an open offer: area, language, wait and summary, then the choice."""
    routing = rt.routing
    record = routing.calls.get(offer.call_sid)
    queued = routing.room.get(offer.call_sid)
    waited = rt.now() - queued.arrival if queued else 0.0
    return twiml.whisper(
        hook.config(),
        offer.language,
        area=offer.area,
        waited_s=max(waited, 0.0),
        summary=record.summary if record else "",
        callback=offer.kind == "callback",
        action=url_for(".answer", res=offer.id),
        calls_before=_calls_before(rt, offer.call_sid, record.caller if record else ""),
    )


def _calls_before(rt: runtime.Runtime, call_sid: str, caller: str) -> int:
    """How many earlier calls of this caller the hotline still keeps (0 for a first call)."""
    history = CallerHistory(
        rt.redis, keep_days=rt.config.records.history_keep_days, sealer=rt.sealer
    )
    return history.count(history.digest(caller), rt.now(), before=call_sid)


@bp.post("/fallback")
def fallback() -> Response:
    """Twilio could not use the answer on the agent's leg (too slow, or failed): carry on from
    where the offer stands, rather than end a leg the agent answered and count their miss."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    error_path = urlsplit(request.form.get("ErrorUrl", "")).path[:80]
    log.warning(
        "agent leg of %s: Twilio fell back (%s on %s)",
        rid,
        request.form.get("ErrorCode", "?")[:8],
        error_path,
    )
    offer, language = _offer(rt)
    if offer is not None and offer.state == "offered":
        return _whisper(rt)
    if offer is not None and offer.state in ("accepted", "connected"):
        return hook.xml(bridge.agent_join(language, rid))
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_caller_gone"))


@bp.post("/answer")
def answer() -> Response:
    """The agent's key: 1 takes the call into its conference, anything else passes it on."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    config = hook.config()
    key = hook.caller().digits[:1]
    if key == "1":
        transition = session.hand_to_agent(rt, rid)
        _, language = _offer(rt)
        if transition.changed or transition.state in ("accepted", "connected"):
            return hook.xml(bridge.agent_join(language, rid, "agent_connecting"))
        return hook.xml(twiml.say_and_hang_up(config, language, "agent_caller_gone"))
    transition = dispatch.decline(rt, rid, "declined" if key else "no-answer")
    _, language = _offer(rt)
    log.info("offer %s passed on by the agent (%s)", rid, transition.state)
    return hook.xml(twiml.say_and_hang_up(config, language, "agent_declined"))


@bp.post("/gone")
def gone() -> Response:
    """The caller left while the agent heard the whisper: say so; the agent is free again."""
    _, language = _offer(runtime.serving())
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_caller_gone"))


@bp.post("/unreached")
def unreached() -> Response:
    """The caller did not pick up the callback: tell the waiting agent; it is retried later."""
    _, language = _offer(runtime.serving())
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_callback_unreached"))


@bp.post("/done")
def done() -> Response:
    """The agent left the conference: by * for the in-call menu, or the call is over (wrap-up)."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    if request.form.get("CallStatus", "in-progress") == "completed":
        # The agent hung up. Ending the caller's conference comes first, by a job, or here if
        # Redis is down: the caller is never left alone in the conference.
        dispatch.hand_over(rt, rid)
        _agent_was_there(rt, rid)
        dispatch.finish(rt, rid)
        return hook.xml(twiml.empty())
    # The Dial's action: the agent was in the conference, even if its report of them is lost.
    _agent_was_there(rt, rid)
    try:
        offer, language = _offer(rt)
        if offer is None or not _caller_may_be_there(rt, offer):
            return _call_ended(rt, rid, language)
        # hangupOnStar, or the caller's leaving ended the conference: this request cannot
        # tell which (the caller's hang-up may reach us later), Twilio can. The agent holds
        # a moment while a job asks it and sends them on.
        number = dispatch.step_out(rt, rid, hook.caller().call_sid)
    except RedisError as error:
        # Unsure: the menu is the safer guess, since the caller may be waiting in the conference.
        log.warning("agent of %s stepped out with Redis down: %s", rid, type(error).__name__)
        return _menu(rid, hook.config().default_language)
    return hook.xml(twiml.hold_then(STEP_OUT_HOLD_S, url_for(".stepped_out", res=rid, n=number)))


@bp.post("/stepped-out")
def stepped_out() -> Response:
    """Where an agent who stepped out goes: their menu while the caller waits, else the end."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    number = hook.int_arg("n", 0, 999)
    live = request.args.get("live")
    try:
        offer, language = _offer(rt)
        reservations = rt.routing.reservations
        held_out = live is None and not request.args.get("again")
        # The hold ran out before the job sent the agent on; if the job decided after all, its
        # redirect is on the way: hold once more, then decide here regardless.
        if held_out and not reservations.decide_step_out(rid, number, "hold"):
            again = url_for(".stepped_out", res=rid, n=number, again=1)
            return hook.xml(twiml.hold_then(STEP_OUT_HOLD_S, again))
        there = offer is not None and _caller_may_be_there(rt, offer)
        if live == "0" or not there:
            return _call_ended(rt, rid, language)
    except RedisError as error:
        log.warning("agent of %s back with Redis down: %s", rid, type(error).__name__)
        return _menu(rid, hook.config().default_language)
    return _menu(rid, language)


@bp.post("/menu")
def menu() -> Response:
    """The agent's key in the in-call menu: bring in help, then back to the caller."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    try:
        offer, language = _offer(rt)
    except RedisError as error:
        # Back to the caller rather than hung up: the conference must not lose its agent.
        log.warning("agent of %s in the menu with Redis down: %s", rid, type(error).__name__)
        key = hook.caller().digits[:1]
        told = {hook.config().transfer.key: "agent_transfer_failed"}.get(key)
        if key in twiml.ESCALATION_KEYS:
            told = "agent_escalation_failed"
        return hook.xml(bridge.agent_join(hook.config().default_language, rid, told))
    if offer is not None and hook.caller().digits[:1] == hook.config().transfer.key:
        # The transfer menu: which area, then warm or cold (ivr.agents.transfer).
        return transfer_calls.menu(rid, language)
    target = twiml.ESCALATION_KEYS.get(hook.caller().digits[:1])
    if offer is None or target is None:
        return hook.xml(bridge.agent_join(language, rid))
    try:
        done = escalate(
            offer.call_sid, by_agent=offer.agent_id, target=target, now=rt.now(), current=rt
        )
    except EscalationError as error:
        log.warning("agent %s could not escalate %s: %s", offer.agent_id, offer.call_sid, error)
        return hook.xml(bridge.agent_join(language, rid, "agent_escalation_failed"))
    log.warning(
        "call %s escalated by phone by agent %s to %s", offer.call_sid, offer.agent_id, done.added
    )
    return hook.xml(bridge.agent_join(language, rid, "agent_escalating"))


@bp.post("/status")
def status() -> Response:
    """The agent leg's status: unanswered passes the offer on, completed ends the call."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    leg_status = request.form.get("CallStatus", "")
    if leg_status in UNANSWERED:
        dispatch.decline(rt, rid, UNANSWERED[leg_status])
    elif leg_status == "completed":
        if _never_joined(rt, rid):
            # Accepted, but the leg ended before the agent reached the conference (the answer
            # to their key failed): the caller waits again, first in line, for the next agent.
            return hook.xml(twiml.empty())
        # The agent's leg is over, however it ended (even after * when Redis was down): the
        # caller must not stay alone in the conference; a job (or, Redis down, this) ends it.
        dispatch.hand_over(rt, rid)
        offer = rt.routing.reservations.get(rid)
        if offer is not None and offer.state == "offered":
            _ended_in_whisper(rt, offer)
        elif offer is not None:
            dispatch.finish(rt, rid)
    return hook.xml(twiml.empty())


def _never_joined(rt: runtime.Runtime, rid: str) -> bool:
    """Send the caller of an accepted offer back to wait if its agent never joined; True if so."""
    try:
        return dispatch.agent_never_joined(rt, rid).changed
    except RedisError as error:
        # Unknown: ending the conference (the hand-over) is what never leaves a caller alone.
        log.warning("agent leg of %s ended, Redis down: %s", rid, type(error).__name__)
        return False


def _agent_was_there(rt: runtime.Runtime, rid: str) -> None:
    """Record that the agent was in the conference (their Dial's action came), best effort."""
    try:
        rt.routing.reservations.joined(rid, "agent", rt.now())
    except RedisError as error:
        log.warning("agent of %s joined, not recorded: %s", rid, type(error).__name__)


def _said(element: TwiML) -> Iterator[str]:
    """Every sentence a TwiML document says, in order, nested verbs included."""
    if element.name == "Say":
        yield element.value or ""
    for child in element.verbs:
        yield from _said(child)


def _ended_in_whisper(rt: runtime.Runtime, offer: Reservation) -> None:
    """A leg picked up and over with no key: a miss if the whisper's choice could time out,
    else (the agent hung up, or the hotline or Twilio cut the whisper short) no miss."""
    spoken_s = whisper_seconds(_said(_whisper_document(rt, offer)))
    duration_s = call_duration(request.form.get("CallDuration", ""))
    if missed_after_pickup(duration_s, spoken_s, hook.config().gather_timeout_s):
        # Heard it all and let the choice time out (a voicemail box): a missed offer.
        dispatch.decline(rt, offer.id, "no-answer")
        return
    log.info("offer %s ended in its whisper after %s s: no miss", offer.id, duration_s)
    # The offer ends as a ring that came to nothing: the agent free in their place, no cool-down.
    released = rt.routing.reservations.not_rung(offer.id, rt.now(), hold=False)
    if released.changed:
        matcher = rt.routing.matcher
        # The caller goes on to the best free agent, and the freed agent to the best waiting call.
        dispatch.dispatch(
            rt.redis,
            [
                matcher.match_call(released.call_sid, rt.now()),
                matcher.match_agent(released.agent_id, rt.now()),
            ],
        )


def _menu(rid: str, language: str) -> Response:
    """The agent's in-call menu; without a key, straight back to the caller."""
    rejoin = bridge.agent_join(language, rid)
    return hook.xml(twiml.agent_menu(hook.config(), language, url_for(".menu", res=rid), rejoin))


def _call_ended(rt: runtime.Runtime, rid: str, language: str) -> Response:
    """The caller has gone (or was transferred on): wrap-up starts and the agent is told."""
    dispatch.finish(rt, rid)
    offer = rt.routing.reservations.get(rid)
    moved = transfers.moved_on(rt, offer.call_sid, rid) if offer is not None else ""
    prompt = f"agent_transfer_{moved}" if moved else "agent_call_ended"
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, prompt))


def _caller_may_be_there(rt: runtime.Runtime, offer: Reservation) -> bool:
    """Whether Redis leaves it possible that the caller still waits in the conference."""
    if offer.state != "accepted":
        return False
    if offer.kind == "callback":
        # A called-back caller is on a leg of its own whose end is not recorded.
        return True
    record = rt.routing.calls.get(offer.call_sid)
    return not (record and record.status in GONE_STATUSES)
