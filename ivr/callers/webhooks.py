"""The phone menu's Twilio webhooks: greeting, language, area, intake, queue, status.

The caller's progress travels in each action URL (language, area, tries, intake answers), so
the menu works even when Redis is unreachable; Redis only keeps a record for agents and reports.
The waiting room's steps (join, each wait poll, a callback, leaving) are `queues.session`'s:
these webhooks read Twilio's request, call one of them and render the TwiML.
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
from queues import runtime, session
from routing.menu import (
    Choice,
    Step,
    choose_answer,
    choose_area,
    choose_language,
    decode_answers,
    encode_answers,
    first_key,
)
from routing.numbers import callback_number, is_withheld
from routing.privacy import mask_number
from voicemail import consultations
from voicemail import webhooks as voicemail_webhooks

log = logging.getLogger(__name__)

bp = hook.twilio_blueprint("voice", __name__, "/voice")

# Statuses that end a call leg.
ENDED_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
# The longest QueueTime believed when a caller unknown to routing is adopted: a day.
MAX_QUEUE_TIME_S = 86_400
# The key that refuses recording at the notice (the prompt names it).
REFUSE_RECORDING_KEY = "2"


@bp.post("")
def incoming() -> Response:
    """A new call: record it, greet the caller and ask for a language."""
    caller = hook.caller()
    log.info("incoming call %s from %s", caller.call_sid, mask_number(caller.number))
    if not caller.call_sid:
        hook.remember(lambda store, sid: store.start(sid, caller.number))  # logs the lack
    # Blocked numbers and an emergency closure hear one message; the danger key still works.
    # Screening starts the call's record too, in the same round trip as its reads.
    screened = screening.blocked_response(hook.config(), caller.number, call_sid=caller.call_sid)
    if screened is not None:
        return hook.xml(screened)
    # The same document for every caller: only the app's mount point changes its action URL,
    # so the URL is built once with it, not on every call.
    return hook.fixed_xml(
        ("greeting", request.script_root),
        lambda: twiml.greeting(hook.config(), url_for(".language", t=1)),
    )


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
    return hook.fixed_xml(
        ("area_menu", choice.value, action, preface),
        lambda: twiml.area_menu(config, choice.value, action, preface=preface),
    )


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
        return hook.fixed_xml(
            ("intake", language, area_id, question + 1, action, (), False),
            lambda: twiml.intake_question(config, language, area_id, question + 1, action),
        )
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


@bp.post("/consent")
def consent() -> Response:
    """The key at the recording notice: 2 refuses, the danger key opens the crisis path, any
    other key or silence consents (as the notice says); then the caller is queued."""
    config, language, area_id = hook.config(), hook.language(), hook.area()
    key = first_key(hook.caller().digits)
    if key == config.danger_key:
        return crisis.start(language, Choice(Step.CRISIS, reason="danger_key"))
    answer = consultations.REFUSED if key == REFUSE_RECORDING_KEY else consultations.GIVEN
    _keep_consent(answer, language, area_id)
    preface = ("recording_refused",) if answer == consultations.REFUSED else ()
    return _route(language, area_id, _url_answers(area_id), preface=preface, consent=answer)


@bp.post("/wait")
def wait() -> Response:
    """The waiting room's waitUrl: place, expected wait and ways out; every poll re-matches."""
    config, language, area_id = hook.config(), hook.language(), hook.area()
    if request.args.get("rec") in (consultations.GIVEN, consultations.REFUSED):
        # The answer travels in the URL too: kept here if Redis missed it at the notice.
        _keep_consent(request.args["rec"], language, area_id)
    caller = _waiting_caller(language, area_id, _url_answers(area_id))
    place = session.place_and_wait(
        runtime.serving(), caller, _queue_time(), request.form.get("QueueSid", "")
    )
    action = url_for(".wait_key", lang=language, area=area_id, a=_answers_arg())
    return hook.xml(twiml.wait_room(config, language, place.ahead, place.minutes, action))


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
        _leave(caller.call_sid, "abandoned")
        return hook.xml(twiml.empty())
    if result == "leave":
        reason = _leave_reason()
        if reason == "callback":
            return hook.xml(twiml.hangup())
        if reason == "voicemail":
            _leave(caller.call_sid, "voicemail")
            return hook.xml(voicemail_webhooks.record(language, hook.area()))
        _leave(caller.call_sid, "crisis")
        return crisis.start(language, Choice(Step.CRISIS, reason=f"{reason}_wait"))
    if result in ("bridged", "redirected"):
        return hook.xml(twiml.empty())
    _leave(caller.call_sid, "left")
    return hook.xml(twiml.queue_closed(config, language))


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback: move the call's status forward, idempotently."""
    caller = hook.caller()
    call_status = request.form.get("CallStatus", "")
    if caller.call_sid and call_status:
        # The number's status callbacks are incoming calls': a call whose start, written
        # behind its greeting, has not reached Redis yet is started here first.
        hook.remember(
            lambda store, sid: store.advance_status(sid, call_status, caller=caller.number)
        )
    if call_status in ENDED_STATUSES:
        # However the line closed (hung up, ended by REST, dropped), a caller still waiting has
        # abandoned; for a call already bridged or finished this changes nothing.
        _leave(caller.call_sid, "abandoned")
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
    return hook.fixed_xml(
        ("intake", language, area_id, 0, action, preface, area_chosen),
        lambda: twiml.intake_question(
            config, language, area_id, 0, action, preface=preface, area_chosen=area_chosen
        ),
    )


def _route(
    language: str,
    area_id: str,
    answers: list[str | None],
    *,
    preface: tuple[str, ...] = (),
    consent: str | None = None,
) -> Response:
    """Queue the caller in an open area (summary stored first), or say the hours.

    An area that records consultations first gives the recording notice (once: its answer,
    `consent`, comes back here), so the answer is known before any agent is rung.
    """
    config = hook.config()
    now = current_app.config["CLOCK"]()
    # Stored for a closed area too: the message's callback agent hears the same summary.
    caller = _waiting_caller(language, area_id, answers)
    hook.remember(lambda store, sid: session.keep_summary(store, config, caller))
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
    if consent is None and config.areas[area_id].recording:
        action = url_for(".consent", lang=language, area=area_id, a=encode_answers(answers) or None)
        return hook.xml(twiml.recording_notice(config, language, action, preface=preface))
    if caller.call_sid:  # a request without one has no call to queue
        session.join(runtime.serving(), caller, now.timestamp())
    # The wait URL carries the intake answers (and the recording answer), so routing can adopt
    # the caller with them if Redis was unreachable just now.
    wait_url = url_for(
        ".wait", lang=language, area=area_id, a=encode_answers(answers) or None, rec=consent
    )
    action = url_for(".queue_result", lang=language, area=area_id)
    return hook.xml(twiml.enqueue(config, language, area_id, wait_url, action, preface=preface))


def _intake_url(
    language: str, area_id: str, question: int, answers: list[str | None], tries: int
) -> str:
    """The action URL of an intake question, carrying the answers so far."""
    return url_for(
        ".intake", lang=language, area=area_id, q=question, a=encode_answers(answers), t=tries
    )


def _answers_arg() -> str | None:
    """The intake answers the request's URL carries, to pass on in the next URL."""
    return request.args.get("a", "")[:16] or None


def _leave_reason() -> str:
    """Why the caller left the queue: a callback, or the danger key."""
    try:
        record = (
            runtime.serving().calls.get(hook.caller().call_sid) if hook.caller().call_sid else None
        )
    except RedisError:
        record = None
    # When the reason cannot be read, the crisis path is the safe reading of a leave.
    return record.leave_intent if record and record.leave_intent else "crisis"


def _waiting_caller(
    language: str, area_id: str, answers: list[str | None]
) -> session.WaitingCaller:
    """The caller as the waiting room knows them: their call and number, and the menu's choices."""
    caller = hook.caller()
    return session.WaitingCaller(caller.call_sid, caller.number, area_id, language, tuple(answers))


def _url_answers(area_id: str) -> list[str | None]:
    """The intake answers the wait URL carries, so routing can adopt a caller with them."""
    return decode_answers(hook.config(), area_id, request.args.get("a"))


def _queue_time() -> int:
    """How long Twilio says it has held the caller (QueueTime), at most a day."""
    raw = request.form.get("QueueTime", "")
    return min(int(raw), MAX_QUEUE_TIME_S) if raw.isdigit() and len(raw) < 8 else 0


def _callback(language: str, number: str) -> Response:
    """Turn the waiting call into a callback that keeps its place, then leave Twilio's queue."""
    caller = _waiting_caller(language, hook.area(), _url_answers(hook.area()))
    if not session.callback(runtime.serving(), caller, number, _queue_time()):
        return hook.xml(twiml.say_only(hook.config(), language, "callback_invalid"))
    hook.remember(lambda store, sid: store.update(sid, leave_intent="callback"))
    return hook.xml(twiml.callback_set(hook.config(), language))


def _keep_consent(answer: str, language: str, area_id: str) -> None:
    """Keep the caller's recording answer (the first one counts); best effort, logged."""
    call_sid = hook.caller().call_sid
    if not call_sid:
        return
    try:
        consultations.Consent(runtime.serving().redis).keep(
            call_sid, answer, area=area_id, language=language
        )
    except RedisError as error:
        # Unsure later means no recording: a consent that was not kept is never assumed.
        log.warning("call %s: recording answer not kept: %s", call_sid, type(error).__name__)


def _leave(call_sid: str, outcome: str) -> None:
    """Take the call out of the waiting room; an agent ringing for it is told and freed."""
    if call_sid:  # a request without one has no call to take out
        session.leave(runtime.serving(), call_sid, outcome)
