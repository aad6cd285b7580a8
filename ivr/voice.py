"""The phone menu's Twilio webhooks: greeting, language, area, intake, queue, status.

The caller's progress travels in each action URL (language, area, tries, intake answers), so
the menu works even when Redis is unreachable; Redis only keeps a record for agents and reports.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, request, url_for
from redis import RedisError

from ivr import crisis, twiml
from ivr import webhook as hook
from ivr.state import call_store
from queues.calls import CallStore
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
from routing.privacy import mask_number

log = logging.getLogger(__name__)

bp = hook.twilio_blueprint("voice", __name__, "/voice")


@bp.post("")
def incoming() -> Response:
    """A new call: record it, greet the caller and ask for a language."""
    caller = hook.caller()
    log.info("incoming call %s from %s", caller.call_sid, mask_number(caller.number))
    hook.remember(lambda store, sid: store.start(sid, caller.number))
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
    tries = hook.int_arg("t", 1, config.max_tries)
    choice = choose_language(config, hook.caller().digits, tries)
    if choice.step is Step.CRISIS:
        return crisis.start(config.default_language, choice)
    if choice.step is Step.REPROMPT:
        action = url_for(".language", t=tries + 1)
        return hook.xml(twiml.greeting(config, action, preface=("invalid_key",)))
    hook.remember(lambda store, sid: store.update(sid, language=choice.value))
    return hook.xml(twiml.area_menu(config, choice.value, url_for(".area", lang=choice.value, t=1)))


@bp.post("/area")
def area() -> Response:
    """The area by key or by speech: chosen, asked again, or the general agent after two tries."""
    config = hook.config()
    language = hook.language()
    caller = hook.caller()
    tries = hook.int_arg("t", 1, config.max_tries)
    choice = choose_area(config, language, caller.digits, caller.speech, tries)
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
    choice = choose_answer(config, area_id, question, caller.digits, caller.speech, tries)
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
    """A key pressed during the closed message: the danger key opens the crisis path."""
    if first_key(hook.caller().digits) == hook.config().danger_key:
        return crisis.start(hook.language(), Choice(Step.CRISIS, reason="danger_key"))
    return hook.xml(twiml.goodbye(hook.config(), hook.language()))


@bp.post("/wait")
def wait() -> Response:
    """The waiting room's waitUrl: announce the caller's place and offer the danger key."""
    raw = request.form.get("QueuePosition", "")
    position = int(raw) if raw.isdigit() and len(raw) < 6 else None
    action = url_for(".wait_key", lang=hook.language(), area=hook.area())
    return hook.xml(twiml.wait_room(hook.config(), hook.language(), position, action))


@bp.post("/wait/key")
def wait_key() -> Response:
    """A key pressed while waiting: the danger key leaves the queue for the crisis path."""
    config = hook.config()
    leave = first_key(hook.caller().digits) == config.danger_key
    if leave:
        hook.remember(lambda store, sid: store.update(sid, leave_intent="crisis"))
    return hook.xml(twiml.wait_key(config, hook.language(), leave=leave))


@bp.post("/queue-result")
def queue_result() -> Response:
    """The Enqueue action: the call left the queue (bridged, hung up, left, full or failed)."""
    config = hook.config()
    language, caller = hook.language(), hook.caller()
    result = request.form.get("QueueResult", "")
    log.info("call %s left queue %s: %s", caller.call_sid, hook.area(), result or "(none)")
    if result == "hangup":
        hook.remember(lambda store, sid: store.update(sid, queue_result="abandoned"))
        return hook.xml(twiml.empty())
    if result == "leave":
        return crisis.start(language, Choice(Step.CRISIS, reason=_leave_reason()))
    if result == "bridged":
        return hook.xml(twiml.goodbye(config, language))
    if result == "redirected":
        return hook.xml(twiml.empty())
    return hook.xml(twiml.queue_closed(config, language))


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback: move the call's status forward, idempotently."""
    caller = hook.caller()
    call_status = request.form.get("CallStatus", "")
    if caller.call_sid and call_status:
        hook.remember(lambda store, sid: store.advance_status(sid, call_status))
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
    if not config.areas[area_id].hours.is_open(now):
        log.info("call %s: %s is closed", hook.caller().call_sid, area_id)
        return hook.xml(
            twiml.closed(config, language, area_id, now, url_for(".closed_key", lang=language))
        )

    def store_summary(store: CallStore, sid: str) -> None:
        record = store.get(sid)
        speech = record.speech if record else ""
        summary = summarise(config, area_id, language, answers, speech)
        store.update(
            sid, area=area_id, language=language, summary=summary, answers=encode_answers(answers)
        )

    hook.remember(store_summary)
    wait_url = url_for(".wait", lang=language, area=area_id)
    action = url_for(".queue_result", lang=language, area=area_id)
    return hook.xml(twiml.enqueue(config, language, area_id, wait_url, action, preface=preface))


def _intake_url(
    language: str, area_id: str, question: int, answers: list[str | None], tries: int
) -> str:
    """The action URL of an intake question, carrying the answers so far."""
    return url_for(
        ".intake", lang=language, area=area_id, q=question, a=encode_answers(answers), t=tries
    )


def _leave_reason() -> str:
    """Why the caller left the queue; only the danger key makes callers leave for now."""
    try:
        record = call_store().get(hook.caller().call_sid) if hook.caller().call_sid else None
    except RedisError:
        record = None
    # When the reason cannot be read, the crisis path is the safe reading of a leave.
    return (record.leave_intent if record and record.leave_intent else "crisis") + "_wait"
