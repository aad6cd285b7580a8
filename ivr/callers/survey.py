"""The caller's one-key satisfaction rating, after the agent ended a routed call.

The caller's conference `<Dial>` (`ivr/agents/bridge.py`) has this blueprint as its action. Twilio
asks for it when the Dial ends: with the caller still on the line when the agent hung up and the app
ended the conference, or with CallStatus `completed` when the caller hung up (Twilio ignores the
answer then). Only a call that reached an agent and was no crisis is asked; 1 means satisfied, 2
not, and a 2 opens a follow-up, called back by a callback task (`queues.followup_calls`). A
rating is kept once per call, whatever the repeated webhooks; a failure to keep it is logged and
never felt by the caller. A follow-up's own callback is not rated: a 2 there would owe another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Response, request, url_for
from redis import RedisError
from werkzeug.exceptions import HTTPException

from ivr import webhook as hook
from ivr.callers import menu_twiml as twiml
from ivr.crisis import webhooks as crisis
from queues import followup_calls, runtime
from queues.calls import CallRecord, CallStore
from queues.followups import FollowUps
from queues.incidents import IncidentLog
from routing.config import SURVEY_KEYS
from routing.follow_ups import call_of
from routing.menu import Choice, Step, first_key
from routing.numbers import is_withheld
from routing.privacy import mask_number
from voicemail.callbacks import recording_of
from voicemail.messages import MessageStore

log = logging.getLogger(__name__)

# Reservation states of a call that reached its agent: taken, called back, or ended after.
BRIDGED_STATES = ("accepted", "connected", "finished")
# The caller's conference Dial ended after both sides met (Twilio's DialCallStatus).
MET_STATUSES = ("completed", "answered")
UNSATISFIED = 2


def _farewell(error: Exception) -> Response:
    """The call is over: any failure says goodbye (the danger key still reaches a crisis line)."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("survey webhook %s failed; the caller hears goodbye", request.path)
    if first_key(hook.caller().digits) == hook.config().danger_key:
        return hook.xml(twiml.crisis_lines_only(hook.config(), hook.language()))
    return hook.xml(twiml.goodbye(hook.config(), hook.language()))


bp = hook.twilio_blueprint("survey", __name__, "/voice/survey", on_error=_farewell)


@dataclass(frozen=True)
class RatedCall:
    """The call a rating is about: its id, who answered it, area, language and number to call."""

    call_sid: str
    agent: str
    area: str
    language: str
    caller: str


@bp.post("")
def ask() -> Response:
    """The caller's conference ended: ask the question if the agent ended a call they took."""
    if request.form.get("CallStatus", "") != "in-progress":
        # The caller hung up themselves: Twilio only reports the Dial's end; nobody listens.
        return hook.xml(twiml.empty())
    config = hook.config()
    rated = None
    if config.survey.enabled and request.form.get("DialCallStatus", "") in MET_STATUSES:
        rated = _rated_call_or_none(hook.reservation_id())
    if rated is None:
        return hook.xml(twiml.goodbye(config, hook.language()))
    action = url_for(".rating", res=hook.reservation_id(), lang=rated.language)
    return hook.xml(twiml.survey(config, rated.language, action))


@bp.post("/rating")
def rating() -> Response:
    """The caller's key: 1 satisfied, 2 not (a supervisor calls back); anything else no rating."""
    config, language = hook.config(), hook.language()
    key = first_key(hook.caller().digits)
    if key == config.danger_key:
        # In danger at any moment, even after the call: the crisis path, as from any menu.
        return crisis.start(language, Choice(Step.CRISIS, reason="danger_key"))
    rated = _rated_call_or_none(hook.reservation_id()) if key in SURVEY_KEYS else None
    if rated is None:
        return hook.xml(twiml.goodbye(config, language))
    promised = record(runtime.serving(), rated, SURVEY_KEYS.index(key) + 1)
    return hook.xml(twiml.survey_thanks(config, rated.language, follow_up=promised))


def _rated_call_or_none(reservation_id: str) -> RatedCall | None:
    """The call to rate, or None (also when Redis is unreachable: nothing could be kept)."""
    try:
        return rated_call(runtime.serving(), reservation_id)
    except RedisError as error:
        log.warning("no survey for %s, Redis unreachable: %s", reservation_id, type(error).__name__)
        return None


def rated_call(rt: runtime.Runtime, reservation_id: str) -> RatedCall | None:
    """The call a reservation brought to its agent, or None when no survey is due."""
    routing = rt.routing
    offer = routing.reservations.get(reservation_id)
    if offer is None or not offer.agent_id or offer.state not in BRIDGED_STATES:
        return None
    if call_of(offer.call_sid) is not None:
        # The follow-up's own callback: the caller already told us; no rating chains another.
        return None
    record = routing.calls.get(offer.call_sid)
    if _was_crisis(rt, offer.call_sid, record):
        # Never a rating after a crisis: the caller may still be in danger.
        return None
    number = record.caller if record else ""
    if offer.kind == "callback":
        # The caller was reached on the number they gave for the callback: call back there.
        number = routing.room.callback_number(offer.call_sid) or number
    # A withheld number ("anonymous") is nobody's to call back: the follow-up has none.
    number = "" if is_withheld(number) else number
    return RatedCall(offer.call_sid, offer.agent_id, offer.area, offer.language, number)


def _was_crisis(rt: runtime.Runtime, call_sid: str, record: CallRecord | None) -> bool:
    """Whether a call was a crisis: by its trigger, an opened incident, or a crisis message."""
    if record is not None and record.crisis_trigger:
        return True
    if IncidentLog(rt.redis).get(call_sid) is not None:
        return True
    recording = recording_of(call_sid)
    message = MessageStore(rt.redis).get(recording) if recording else None
    return bool(message and message.crisis)


def record(rt: runtime.Runtime, rated: RatedCall, rating: int) -> bool:
    """Keep a rating once and open a follow-up after a 2; True when a callback is promised."""
    follow_up = rt.config.survey.follow_up
    try:
        calls = CallStore(rt.redis)
        first = calls.rate(
            rated.call_sid,
            rating,
            agent=rated.agent,
            area=rated.area,
            language=rated.language,
            now=rt.now(),
        )
        if not first:
            # A repeated webhook: the first rating stands; a follow-up it owed is still opened.
            kept = calls.get(rated.call_sid)
            rating = kept.rating if kept and kept.rating else rating
        if rating != UNSATISFIED or not follow_up:
            return False
        opened = FollowUps(rt.redis).open(
            rated.call_sid,
            area=rated.area,
            language=rated.language,
            agent=rated.agent,
            caller=rated.caller,
            now=rt.now(),
        )
    except RedisError as error:
        log.warning("rating of %s not kept: %s", rated.call_sid, type(error).__name__)
        return False
    if opened:
        # Once per follow-up: a repeated webhook finds it opened and schedules nothing more.
        followup_calls.opened(rt, rated.call_sid)
        log.info(
            "follow-up for %s (%s), unsatisfied with agent %s",
            rated.call_sid,
            mask_number(rated.caller) or "no number",
            rated.agent,
        )
    # Only a number a supervisor can dial makes the promise of a callback.
    return bool(rated.caller)
