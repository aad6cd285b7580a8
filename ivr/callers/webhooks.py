"""The phone menu's Twilio webhooks: greeting, language, area, intake, queue, status.

The caller's progress travels in each action URL (language, area, tries, intake answers), so
the menu works even when Redis is unreachable; Redis only keeps a record for agents and reports.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, request, url_for
from redis import RedisError

from ivr import webhook as hook
from ivr.agents import keypad_line as agent_line
from ivr.callers import menu_twiml as twiml
from ivr.callers import screening
from ivr.callers.opening_hours import hours_of
from ivr.crisis import webhooks as crisis
from ivr.state import call_store, current_runtime
from queues import dispatch
from queues.calls import CallStore
from queues.sweep import LegChecks
from routing.estimate import expected_wait_s, spoken_minutes
from routing.matching import is_heavy
from routing.menu import (
    Choice,
    Step,
    choose_answer,
    choose_area,
    choose_language,
    decode_answers,
    encode_answers,
    first_key,
    summarise,
)
from routing.numbers import callback_number, is_withheld
from routing.privacy import mask_number
from voicemail import webhooks as voicemail_webhooks

log = logging.getLogger(__name__)

bp = hook.twilio_blueprint("voice", __name__, "/voice")

# Statuses that end a call leg.
ENDED_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
# How long a count of staffed agents is reused for wait estimates.
STAFFED_CACHE_S = 30.0
# The longest QueueTime believed when a caller unknown to routing is adopted: a day.
MAX_QUEUE_TIME_S = 86_400


@bp.post("")
def incoming() -> Response:
    """A new call: record it, greet the caller and ask for a language."""
    caller = hook.caller()
    log.info("incoming call %s from %s", caller.call_sid, mask_number(caller.number))
    hook.remember(lambda store, sid: store.start(sid, caller.number))
    # Blocked numbers and an emergency closure hear one message; the danger key still works.
    screened = screening.blocked_response(hook.config(), caller.number)
    if screened is not None:
        return hook.xml(screened)
    return hook.xml(twiml.greeting(hook.config(), url_for(".language", t=1)))


@bp.post("/fallback")
def twilio_fallback() -> Response:
    """Twilio's fallback URL: the primary URL failed, so apologise and take the general path."""
    language = hook.config().default_language
    route = url_for(".route", lang=language, area=hook.config().general_area, fb=1)
    return hook.xml(twiml.apology(hook.config(), language, route))


@bp.post("/language")
def language() -> Response:
    """The key pressed at the greeting: a language, the danger key, or a retry."""
    config = hook.config()
    if hook.caller().digits == config.agent_line_key:
        # The unannounced key for agents setting their status by phone.
        return agent_line.start()
    tries = hook.int_arg("t", 1, config.max_tries)
    choice = choose_language(config, hook.caller().digits, tries)
    if choice.step is Step.CRISIS:
        return crisis.start(config.default_language, choice)
    if choice.step is Step.REPROMPT:
        action = url_for(".language", t=tries + 1)
        return hook.xml(twiml.greeting(config, action, preface=("invalid_key",)))
    hook.remember(lambda store, sid: store.update(sid, language=choice.value))
    # The greeting spoke the disclaimer in the default language only: a caller who chose
    # another hears it in theirs before anything else.
    preface = ("greeting",) if choice.value != config.default_language else ()
    action = url_for(".area", lang=choice.value, t=1)
    return hook.xml(twiml.area_menu(config, choice.value, action, preface=preface))


@bp.post("/area")
def area() -> Response:
    """The area by key or by speech: chosen, asked again, or the general agent after two tries."""
    config = hook.config()
    language = hook.language()
    caller = hook.caller()
    tries = hook.int_arg("t", 1, config.max_tries)
    choice = choose_area(config, language, caller.digits, caller.heard, tries)
    if caller.speech:
        hook.remember(lambda store, sid: store.update(sid, speech=caller.speech))
    log.info(
        "call %s area step: %s %s (%s)",
        caller.call_sid,
        choice.step.value,
        choice.value,
        choice.reason,
    )
    if choice.step is Step.CRISIS:
        return crisis.start(language, choice)
    if choice.step is Step.REPROMPT:
        action = url_for(".area", lang=language, t=tries + 1)
        return hook.xml(
            twiml.area_menu(config, language, action, preface=(choice.reason_prompt(),))
        )
    if choice.step is Step.GENERAL:
        return _after_area(language, config.general_area, preface=("to_general",))
    return _after_area(language, choice.value, area_chosen=True)


@bp.post("/intake")
def intake() -> Response:
    """An intake answer: keep it and ask the next question, or go on to the queue."""
    config = hook.config()
    language, area_id = hook.language(), hook.area()
    caller = hook.caller()
    questions = config.areas[area_id].intake
    question = hook.int_arg("q", 0, max(len(questions) - 1, 0))
    tries = hook.int_arg("t", 1, config.max_tries)
    answers = decode_answers(config, area_id, request.args.get("a"))[:question]
    if not questions:
        return _route(language, area_id, answers)
    choice = choose_answer(config, area_id, question, caller.digits, caller.heard, tries)
    if choice.step is Step.CRISIS:
        return crisis.start(language, choice)
    if choice.step is Step.REPROMPT:
        action = _intake_url(language, area_id, question, answers, tries + 1)
        return hook.xml(
            twiml.intake_question(
                config, language, area_id, question, action, preface=(choice.reason_prompt(),)
            )
        )
    answers.append(choice.value)
    if question + 1 < len(questions):
        action = _intake_url(language, area_id, question + 1, answers, 1)
        return hook.xml(twiml.intake_question(config, language, area_id, question + 1, action))
    return _route(language, area_id, answers)


@bp.post("/route")
def route() -> Response:
    """Queue the caller for the area if it is open, else tell them the hours."""
    config = hook.config()
    language, area_id = hook.language(), hook.area()
    return _route(language, area_id, decode_answers(config, area_id, request.args.get("a")))


@bp.post("/closed")
def closed_key() -> Response:
    """A key during the closed message (or screening): the danger key opens the crisis path.

    An area's closed message names the area in its URL and goes on to take a message: any
    other key only cut the words short (a 1 pressed "to leave a message" must not end the
    call), so it leads to the recording as silence would. Screening (a blocked number, an
    emergency closure) names no area and takes no message: the line closes.
    """
    if first_key(hook.caller().digits) == hook.config().danger_key:
        return crisis.start(hook.language(), Choice(Step.CRISIS, reason="danger_key"))
    if request.args.get("area", "") in hook.config().areas:
        return hook.xml(voicemail_webhooks.record(hook.language(), hook.area()))
    return hook.xml(twiml.goodbye(hook.config(), hook.language()))


@bp.post("/wait")
def wait() -> Response:
    """The waiting room's waitUrl: place, expected wait and ways out; every poll re-matches."""
    config, language, area_id = hook.config(), hook.language(), hook.area()
    call_sid = hook.caller().call_sid
    ahead, minutes = None, None
    try:
        # Our own order (priority, then arrival) decides who is next, so it says the place;
        # Twilio's QueuePosition is only its queue's order, so it is never said. Without a
        # place (Redis unreachable) the caller hears a plain "please hold".
        ahead, minutes = _place_and_wait(call_sid, area_id, language)
    except RedisError as error:
        log.warning("waiting room unreachable for %s: %s", call_sid, type(error).__name__)
    action = url_for(".wait_key", lang=language, area=area_id, a=_answers_arg())
    return hook.xml(twiml.wait_room(config, language, ahead, minutes, action))


@bp.post("/wait/key")
def wait_key() -> Response:
    """A key while waiting: 9 leaves for the crisis path, 1 asks for a callback, 2 a message."""
    config, language, area_id = hook.config(), hook.language(), hook.area()
    key = first_key(hook.caller().digits)
    if key == config.danger_key:
        hook.remember(lambda store, sid: store.update(sid, leave_intent="crisis"))
        return hook.xml(twiml.wait_key(config, language, leave=True))
    if key == "1" and is_withheld(hook.caller().number):
        # No number to offer back: the caller keys the one to call.
        action = url_for(".wait_callback_number", lang=language, area=area_id, a=_answers_arg())
        return hook.xml(twiml.callback_enter(config, language, action))
    if key == "1":
        action = url_for(".wait_callback", lang=language, area=area_id, a=_answers_arg())
        last_digits = "".join(ch for ch in hook.caller().number if ch.isdigit())[-4:]
        return hook.xml(twiml.callback_confirm(config, language, last_digits, action))
    if key == "2":
        # Leaving a message instead of waiting: the queue's action records it.
        hook.remember(lambda store, sid: store.update(sid, leave_intent="voicemail"))
        return hook.xml(twiml.wait_key(config, language, leave=True))
    return hook.xml(twiml.wait_key(config, language, leave=False))


@bp.post("/wait/callback")
def wait_callback() -> Response:
    """Confirm the callback number (1) or ask for another (2); anything else keeps waiting."""
    config, language, area_id = hook.config(), hook.language(), hook.area()
    key = first_key(hook.caller().digits)
    if key == "1" and not is_withheld(hook.caller().number):
        return _callback(language, hook.caller().number)
    if key in ("1", "2"):
        action = url_for(".wait_callback_number", lang=language, area=area_id, a=_answers_arg())
        return hook.xml(twiml.callback_enter(config, language, action))
    return hook.xml(twiml.empty())


@bp.post("/wait/callback-number")
def wait_callback_number() -> Response:
    """A keyed callback number: a valid one keeps the caller's place, else they keep waiting."""
    number = callback_number(hook.caller().digits, hook.config().default_region)
    if number is None:
        return hook.xml(twiml.say_only(hook.config(), hook.language(), "callback_invalid"))
    return _callback(hook.language(), number)


@bp.post("/queue-result")
def queue_result() -> Response:
    """The Enqueue action: the call left the queue (bridged, hung up, left, full or failed)."""
    config = hook.config()
    language, caller = hook.language(), hook.caller()
    result = request.form.get("QueueResult", "")
    log.info("call %s left queue %s: %s", caller.call_sid, hook.area(), result or "(none)")
    if result == "hangup":
        _left_waiting_room(caller.call_sid, "abandoned")
        return hook.xml(twiml.empty())
    if result == "leave":
        reason = _leave_reason()
        if reason == "callback":
            return hook.xml(twiml.hangup())
        if reason == "voicemail":
            _left_waiting_room(caller.call_sid, "voicemail")
            return hook.xml(voicemail_webhooks.record(language, hook.area()))
        _left_waiting_room(caller.call_sid, "crisis")
        return crisis.start(language, Choice(Step.CRISIS, reason=f"{reason}_wait"))
    if result in ("bridged", "redirected"):
        return hook.xml(twiml.empty())
    _left_waiting_room(caller.call_sid, "left")
    return hook.xml(twiml.queue_closed(config, language))


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback: move the call's status forward, idempotently."""
    caller = hook.caller()
    call_status = request.form.get("CallStatus", "")
    if caller.call_sid and call_status:
        hook.remember(lambda store, sid: store.advance_status(sid, call_status))
    if call_status in ENDED_STATUSES:
        # However the line closed (hung up, ended by REST, dropped), a caller still waiting has
        # abandoned; for a call already bridged or finished this changes nothing.
        _left_waiting_room(caller.call_sid, "abandoned")
    return hook.xml(twiml.empty())


def _after_area(
    language: str, area_id: str, *, preface: tuple[str, ...] = (), area_chosen: bool = False
) -> Response:
    """Record the area, then ask its first intake question or go straight to the queue."""
    config = hook.config()
    hook.remember(lambda store, sid: store.update(sid, area=area_id, language=language))
    if not config.areas[area_id].intake:
        return _route(language, area_id, [], preface=preface)
    action = _intake_url(language, area_id, 0, [], 1)
    return hook.xml(
        twiml.intake_question(
            config, language, area_id, 0, action, preface=preface, area_chosen=area_chosen
        )
    )


def _route(
    language: str, area_id: str, answers: list[str | None], *, preface: tuple[str, ...] = ()
) -> Response:
    """Queue the caller in an open area (summary stored first), or say the hours."""
    config = hook.config()
    now = current_app.config["CLOCK"]()
    # Stored for a closed area too: the message's callback agent hears the same summary.
    hook.remember(lambda store, sid: _store_summary(store, sid, area_id, language, answers))
    # Ops' edited hours when Redis answers, the config's otherwise: never an error to Twilio.
    hours = hours_of(area_id)
    if not hours.is_open(now):
        log.info("call %s: %s is closed", hook.caller().call_sid, area_id)
        return hook.xml(
            twiml.closed(
                config,
                language,
                area_id,
                now,
                url_for(".closed_key", lang=language, area=area_id),
                record=voicemail_webhooks.record(language, area_id),
                hours=hours,
            )
        )
    _join_waiting_room(area_id, language, answers, now.timestamp())
    # The wait URL carries the intake answers, so routing can adopt the caller with them if
    # Redis was unreachable just now.
    wait_url = url_for(".wait", lang=language, area=area_id, a=encode_answers(answers) or None)
    action = url_for(".queue_result", lang=language, area=area_id)
    return hook.xml(twiml.enqueue(config, language, area_id, wait_url, action, preface=preface))


def _intake_url(
    language: str, area_id: str, question: int, answers: list[str | None], tries: int
) -> str:
    """The action URL of an intake question, carrying the answers so far."""
    return url_for(
        ".intake", lang=language, area=area_id, q=question, a=encode_answers(answers), t=tries
    )


def _store_summary(
    store: CallStore, call_sid: str, area_id: str, language: str, answers: list[str | None]
) -> None:
    """Keep the call's area, language, intake answers and the summary the agent will hear."""
    record = store.get(call_sid)
    speech = record.speech if record else ""
    summary = summarise(hook.config(), area_id, language, answers, speech)
    store.update(
        call_sid, area=area_id, language=language, summary=summary, answers=encode_answers(answers)
    )


def _answers_arg() -> str | None:
    """The intake answers the request's URL carries, to pass on in the next URL."""
    return request.args.get("a", "")[:16] or None


def _leave_reason() -> str:
    """Why the caller left the queue: a callback, or the danger key."""
    try:
        record = call_store().get(hook.caller().call_sid) if hook.caller().call_sid else None
    except RedisError:
        record = None
    # When the reason cannot be read, the crisis path is the safe reading of a leave.
    return record.leave_intent if record and record.leave_intent else "crisis"


def _join_waiting_room(area_id: str, language: str, answers: list[str | None], now: float) -> None:
    """Enter the routing queue and look for an agent at once; Redis down leaves Twilio's queue."""
    call_sid = hook.caller().call_sid
    if not call_sid:
        return
    try:
        _enter_routing(call_sid, area_id, language, answers, now, arrival=now)
    except RedisError as error:
        # The caller waits in Twilio's queue; their first poll with Redis back adopts them.
        log.warning("call %s queued without routing state: %s", call_sid, type(error).__name__)


def _enter_routing(
    call_sid: str,
    area_id: str,
    language: str,
    answers: list[str | None],
    now: float,
    *,
    arrival: float,
) -> bool:
    """Queue the call in routing (once) and look for an agent at once; True if newly queued."""
    rt = current_runtime()
    config = hook.config()
    questions = config.areas[area_id].intake
    named = {q.id: a for q, a in zip(questions, answers, strict=False) if a is not None}
    routing = dispatch.Routing.on(rt)
    queued = routing.room.enqueue(
        call_sid,
        area=area_id,
        language=language,
        now=now,
        arrival=arrival,
        caller=hook.caller().number or None,
        heavy=is_heavy(config.routing, area_id, named),
    )
    dispatch.dispatch(rt.redis, [routing.matcher.match_call(call_sid, now)])
    return queued


def _adopt(call_sid: str, area_id: str, language: str, now: float) -> bool:
    """Register a caller Twilio holds whom routing never saw (they queued while Redis was down).

    The area, language and intake answers come from the wait URL; the arrival is Twilio's
    QueueTime ago, so the caller is ordered fairly among those who queued since.
    """
    if not call_sid:
        return False
    raw = request.form.get("QueueTime", "")
    waited = min(int(raw), MAX_QUEUE_TIME_S) if raw.isdigit() and len(raw) < 8 else 0
    answers = decode_answers(hook.config(), area_id, request.args.get("a"))
    store = call_store()
    # The call's record was lost with Redis too: the agent's whisper and the rating read it.
    store.start(call_sid, hook.caller().number)
    _store_summary(store, call_sid, area_id, language, answers)
    adopted = _enter_routing(call_sid, area_id, language, answers, now, arrival=now - waited)
    if adopted:
        log.warning(
            "call %s waited %d s in Twilio's queue unknown to routing: adopted into %s/%s",
            call_sid,
            waited,
            area_id,
            language,
        )
    return adopted


def _place_and_wait(call_sid: str, area_id: str, language: str) -> tuple[int | None, int | None]:
    """Re-match a waiting call (adopting one routing does not know), then say its place and wait.

    Returns how many are ahead and the expected wait in minutes, or None for what routing
    cannot say.
    """
    rt = current_runtime()
    routing = dispatch.Routing.on(rt)
    now = rt.now()
    # Twilio polls only for a caller still in its queue: the leg is alive, so the leg check
    # need not look it up (a REST request) until the polls stop.
    LegChecks(rt.redis, rt.config.routing, script=rt.script).alive(call_sid, now)
    dispatch.dispatch(rt.redis, [routing.matcher.match_call(call_sid, now)])
    ahead = routing.room.position(call_sid)
    if ahead is None:
        known = routing.room.get(call_sid)
        if known is None and _adopt(call_sid, area_id, language, now):
            ahead = routing.room.position(call_sid)
            known = routing.room.get(call_sid)
        if ahead is None:
            # An agent is being rung for this caller: they are next. Otherwise (their stay in
            # routing has ended, or they were never known) nothing true can be said.
            return (0, None) if known is not None and known.state == "reserved" else (None, None)
    seconds = expected_wait_s(
        ahead,
        routing.board.free_count(area_id, language),
        _staffed(routing, area_id, language, now),
        routing.room.recent_handle_times(area_id),
    )
    return ahead, spoken_minutes(seconds) if seconds else None


def _staffed(routing: dispatch.Routing, area_id: str, language: str, now: float) -> int:
    """Agents on shift who could take this caller, counted at most every half minute."""
    cache = current_app.extensions.setdefault("staffed", {})
    cached = cache.get((area_id, language))
    if cached and now - cached[0] < STAFFED_CACHE_S:
        return cached[1]
    count = sum(
        1
        for agent in routing.board.all()
        if agent.on_shift
        and agent.presence != "offline"
        and language in agent.languages
        and (area_id in agent.skills or current_app.config["HOTLINE"].general_area in agent.skills)
    )
    cache[(area_id, language)] = (now, count)
    return count


def _callback(language: str, number: str) -> Response:
    """Turn the waiting call into a callback that keeps its place, then leave Twilio's queue."""
    call_sid = hook.caller().call_sid
    rt = current_runtime()
    try:
        room = dispatch.Routing.on(rt).room
        if room.get(call_sid) is None:
            # Queued while Redis was down and no poll has adopted them yet: adopt them now.
            _adopt(call_sid, hook.area(), language, rt.now())
        kept = room.to_callback(call_sid, number, rt.now())
    except RedisError:
        kept = False
    if not kept:
        return hook.xml(twiml.say_only(hook.config(), language, "callback_invalid"))
    hook.remember(lambda store, sid: store.update(sid, leave_intent="callback"))
    return hook.xml(twiml.callback_set(hook.config(), language))


def _left_waiting_room(call_sid: str, outcome: str) -> None:
    """Take the call out of the routing queue; an agent ringing for it is told and freed."""
    if not call_sid:
        return
    try:
        dispatch.caller_left(current_runtime(), call_sid, outcome)
    except RedisError as error:
        log.warning("could not record %s leaving: %s", call_sid, type(error).__name__)
