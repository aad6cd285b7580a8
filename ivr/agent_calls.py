"""Webhooks of agents' legs: the whisper, the accept or decline key, the leg's status, the
end of the call. An agent's leg never gets the caller's fallback: any failure ends the leg,
and the reservation's timeout offers the call to the next agent."""

from __future__ import annotations

import logging

from flask import Response, request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr import twiml
from ivr import webhook as hook
from ivr.state import current_runtime
from queues import dispatch, runtime
from queues.alerts import TARGETS as ESCALATION_TARGETS
from queues.alerts import EscalationError, escalate
from queues.reservations import Reservation
from telephony.gateway import GatewayError
from voicemail import playback as voicemail_playback

log = logging.getLogger(__name__)

# Statuses of an agent's leg that mean the phone was never picked up.
UNANSWERED = {
    "no-answer": "no-answer",
    "busy": "busy",
    "failed": "no-answer",
    "canceled": "no-answer",
}


def _end_leg(error: Exception) -> Response:
    """Log a failure on an agent's leg and hang it up; the offer times out and moves on."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("agent webhook %s failed", request.path)
    return hook.xml(twiml.hangup())


bp = hook.twilio_blueprint("agent_calls", __name__, "/voice/agent", on_error=_end_leg)


def _offer(rt: runtime.Runtime) -> tuple[Reservation | None, str]:
    """The reservation a webhook is about, and the language to speak to its agent in."""
    offer = dispatch.Routing.on(rt).reservations.get(hook.reservation_id())
    return offer, offer.language if offer else hook.config().default_language


@bp.post("/whisper")
def whisper() -> Response:
    """The agent answered: tell them about the caller, or that the caller has gone."""
    rt = current_runtime()
    routing = dispatch.Routing.on(rt)
    offer = routing.reservations.get(hook.reservation_id())
    language = offer.language if offer else hook.config().default_language
    if offer is None or offer.state != "offered":
        return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_caller_gone"))
    record = routing.calls.get(offer.call_sid)
    queued = routing.room.get(offer.call_sid)
    waited = rt.now() - queued.arrival if queued else 0.0
    document = twiml.whisper(
        hook.config(),
        language,
        area=offer.area,
        waited_s=max(waited, 0.0),
        summary=record.summary if record else "",
        callback=offer.kind == "callback",
        action=url_for(".answer", res=offer.id),
    )
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


@bp.post("/answer")
def answer() -> Response:
    """The agent's key: 1 takes the call into its conference, anything else passes it on."""
    rt = current_runtime()
    rid = hook.reservation_id()
    config = hook.config()
    key = hook.caller().digits[:1]
    if key == "1":
        transition = dispatch.accept(rt, rid)
        _, language = _offer(rt)
        if transition.changed or transition.state in ("accepted", "connected"):
            return hook.xml(_join(language, rid, "agent_connecting"))
        return hook.xml(twiml.say_and_hang_up(config, language, "agent_caller_gone"))
    transition = dispatch.decline(rt, rid, "declined" if key else "no-answer")
    _, language = _offer(rt)
    log.info("offer %s passed on by the agent (%s)", rid, transition.state)
    return hook.xml(twiml.say_and_hang_up(config, language, "agent_declined"))


@bp.post("/gone")
def gone() -> Response:
    """The caller left while the agent heard the whisper: say so; the agent is free again."""
    _, language = _offer(current_runtime())
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_caller_gone"))


@bp.post("/unreached")
def unreached() -> Response:
    """The caller did not pick up the callback: tell the waiting agent; it is retried later."""
    _, language = _offer(current_runtime())
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_callback_unreached"))


@bp.post("/done")
def done() -> Response:
    """The agent left the conference: by * for the in-call menu, or the call is over (wrap-up)."""
    rt = current_runtime()
    rid = hook.reservation_id()
    if request.form.get("CallStatus", "in-progress") == "completed":
        # The agent hung up. Ending the caller's conference needs only Twilio, so it comes
        # before anything that reads Redis: the caller is never left alone if Redis is down.
        _hand_over(rt, rid)
        dispatch.finish(rt, rid)
        return hook.xml(twiml.empty())
    offer, language = _offer(rt)
    if offer is not None and _caller_still_there(rt, rid):
        # hangupOnStar: the agent pressed * and left the conference; the caller waits in it.
        return hook.xml(
            twiml.agent_menu(
                hook.config(), language, url_for(".menu", res=rid), _join(language, rid, None)
            )
        )
    dispatch.finish(rt, rid)
    return hook.xml(twiml.say_and_hang_up(hook.config(), language, "agent_call_ended"))


@bp.post("/menu")
def menu() -> Response:
    """The agent's key in the in-call menu: bring in help, then back to the caller."""
    rt = current_runtime()
    rid = hook.reservation_id()
    offer, language = _offer(rt)
    target = twiml.ESCALATION_KEYS.get(hook.caller().digits[:1])
    if offer is None or target is None:
        return hook.xml(_join(language, rid, None))
    try:
        done = escalate(
            offer.call_sid, by_agent=offer.agent_id, target=target, now=rt.now(), current=rt
        )
    except EscalationError as error:
        log.warning("agent %s could not escalate %s: %s", offer.agent_id, offer.call_sid, error)
        return hook.xml(_join(language, rid, "agent_escalation_failed"))
    log.warning(
        "call %s escalated by phone by agent %s to %s", offer.call_sid, offer.agent_id, done.added
    )
    return hook.xml(_join(language, rid, "agent_escalating"))


@bp.post("/status")
def status() -> Response:
    """The agent leg's status: unanswered passes the offer on, completed ends the call."""
    rt = current_runtime()
    rid = hook.reservation_id()
    leg_status = request.form.get("CallStatus", "")
    if leg_status in UNANSWERED:
        dispatch.decline(rt, rid, UNANSWERED[leg_status])
    elif leg_status == "completed":
        # The agent's leg is over, however it ended (even after * when Redis was down): the
        # caller must not stay alone in the conference, and that needs only Twilio.
        _hand_over(rt, rid)
        offer = dispatch.Routing.on(rt).reservations.get(rid)
        if offer is not None and offer.state == "offered":
            # Picked up but hung up without a key: a missed offer, not a finished call.
            dispatch.decline(rt, rid, "no-answer")
        elif offer is not None:
            dispatch.finish(rt, rid)
    return hook.xml(twiml.empty())


def _join(language: str, rid: str, prompt: str | None) -> VoiceResponse:
    """The agent's way into (or back into) the reservation's conference."""
    return twiml.conference(
        hook.config(), language, rid, prompt=prompt, agent=True, action=url_for(".done", res=rid)
    )


def _caller_still_there(rt: runtime.Runtime, rid: str) -> bool:
    """Whether the reservation's conference still runs (the caller's leaving ends it)."""
    try:
        return rt.gateway.find_conference(rid) is not None
    except GatewayError as error:
        # Unsure: the menu is the safer guess, since the caller may be waiting in the conference.
        log.warning("cannot look up conference %s: %s", rid, error)
        return True


def _hand_over(rt: runtime.Runtime, rid: str) -> None:
    """The agent hung up: end the caller's conference, unless help they brought in stays on.

    Help (a supervisor, the crisis line) then ends the conference when it leaves, so the
    caller is never left alone in silence.
    """
    try:
        conference = rt.gateway.find_conference(rid)
        if conference is None:
            return
        helpers = [
            p for p in rt.gateway.list_participants(conference) if p.label in ESCALATION_TARGETS
        ]
        if not helpers:
            rt.gateway.end_conference(conference)
        for helper in helpers:
            rt.gateway.update_participant(conference, helper.call_sid, end_conference_on_exit=True)
    except GatewayError as error:
        log.warning("cannot end conference %s after the agent left: %s", rid, error)
