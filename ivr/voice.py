"""The phone menu's Twilio webhooks: greeting, language, area, intake, queue, crisis, status.

The caller's progress travels in each action URL (language, area, tries, intake answers), so
the menu works even when Redis is unreachable; Redis only keeps a record for agents and reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for
from redis import RedisError
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr import twiml
from ivr.state import call_store, incident_log
from queues.calls import CallStore
from routing.config import HotlineConfig
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
from telephony.signature import SIGNATURE_HEADER, is_valid, public_url

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

# Longest SpeechResult kept: a caller's description, not a monologue.
MAX_SPEECH = 500


@dataclass(frozen=True)
class Caller:
    """The webhook's facts about the call, with Twilio's names left at the edge."""

    call_sid: str
    number: str
    digits: str
    speech: str


def _caller() -> Caller:
    """Read the Twilio parameters this menu uses from the form."""
    form = request.form
    return Caller(
        call_sid=form.get("CallSid", "").strip()[:64],
        number=form.get("From", "").strip()[:32],
        digits=form.get("Digits", "").strip()[:32],
        speech=" ".join(form.get("SpeechResult", "").split())[:MAX_SPEECH],
    )


def _config() -> HotlineConfig:
    """The checked hotline configuration loaded at start-up."""
    return current_app.config["HOTLINE"]


def _language() -> str:
    """The caller's language from the URL, or the default when missing or unknown."""
    language = request.args.get("lang", "")
    config = _config()
    return language if language in config.languages else config.default_language


def _area() -> str:
    """The caller's area from the URL, or the general area when missing or unknown."""
    area = request.args.get("area", "")
    config = _config()
    return area if area in config.areas else config.general_area


def _int_arg(name: str, default: int, high: int) -> int:
    """A small whole number from the URL, clamped; garbage gives the default."""
    raw = request.args.get(name, "")
    return min(max(int(raw), 0), high) if raw.isdigit() and len(raw) < 4 else default


def _xml(response: VoiceResponse) -> Response:
    """Return a TwiML document with the content type Twilio expects."""
    return Response(str(response), status=200, mimetype="text/xml")


def _remember(write: Callable[[CallStore, str], Any]) -> None:
    """Record something about the call in Redis; a failure is logged, never felt by the caller."""
    call_sid = _caller().call_sid
    if not call_sid:
        log.warning("webhook %s without CallSid: nothing recorded", request.path)
        return
    try:
        write(call_store(), call_sid)
    except RedisError as error:
        log.warning("Redis unreachable, call %s not recorded: %s", call_sid, type(error).__name__)


@bp.before_request
def check_signature() -> None:
    """Reject any request not signed by Twilio with our auth token, before it changes anything."""
    settings = current_app.config["SETTINGS"]
    query = request.query_string.decode("latin-1")
    path_and_query = request.path + (f"?{query}" if query else "")
    url = public_url(
        path_and_query,
        request_url=request.host_url.rstrip("/") + path_and_query,
        public_base_url=settings.public_base_url,
    )
    if not is_valid(settings.auth_token, url, request.form, request.headers.get(SIGNATURE_HEADER)):
        log.warning(
            "rejected webhook %s with a missing or wrong signature (From %s)",
            request.path,
            mask_number(request.form.get("From")),
        )
        abort(403)


@bp.errorhandler(Exception)
def fallback(error: Exception) -> Response:
    """Turn any failure into an apology and the general path; Twilio never sees a 5xx."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("webhook %s failed; caller sent to the general path", request.path)
    language = _language()
    if request.args.get("fb"):
        return _xml(twiml.last_resort(_config(), language))
    route = url_for(".route", lang=language, area=_config().general_area, fb=1)
    return _xml(twiml.apology(_config(), language, route))


@bp.post("")
def incoming() -> Response:
    """A new call: record it, greet the caller and ask for a language."""
    caller = _caller()
    log.info("incoming call %s from %s", caller.call_sid, mask_number(caller.number))
    _remember(lambda store, sid: store.start(sid, caller.number))
    return _xml(twiml.greeting(_config(), url_for(".language", t=1)))


@bp.post("/fallback")
def twilio_fallback() -> Response:
    """Twilio's fallback URL: the primary URL failed, so apologise and take the general path."""
    language = _config().default_language
    route = url_for(".route", lang=language, area=_config().general_area, fb=1)
    return _xml(twiml.apology(_config(), language, route))


@bp.post("/language")
def language() -> Response:
    """The key pressed at the greeting: a language, the danger key, or a retry."""
    config = _config()
    tries = _int_arg("t", 1, config.max_tries)
    choice = choose_language(config, _caller().digits, tries)
    if choice.step is Step.CRISIS:
        return _crisis_start(config.default_language, choice)
    if choice.step is Step.REPROMPT:
        action = url_for(".language", t=tries + 1)
        return _xml(twiml.greeting(config, action, preface=("invalid_key",)))
    _remember(lambda store, sid: store.update(sid, language=choice.value))
    return _xml(twiml.area_menu(config, choice.value, url_for(".area", lang=choice.value, t=1)))


@bp.post("/area")
def area() -> Response:
    """The area by key or by speech: chosen, asked again, or the general agent after two tries."""
    config = _config()
    language = _language()
    caller = _caller()
    tries = _int_arg("t", 1, config.max_tries)
    choice = choose_area(config, language, caller.digits, caller.speech, tries)
    if caller.speech:
        _remember(lambda store, sid: store.update(sid, speech=caller.speech))
    log.info(
        "call %s area step: %s %s (%s)",
        caller.call_sid,
        choice.step.value,
        choice.value,
        choice.reason,
    )
    if choice.step is Step.CRISIS:
        return _crisis_start(language, choice)
    if choice.step is Step.REPROMPT:
        action = url_for(".area", lang=language, t=tries + 1)
        return _xml(twiml.area_menu(config, language, action, preface=(choice.reason_prompt(),)))
    if choice.step is Step.GENERAL:
        return _after_area(language, config.general_area, preface=("to_general",))
    return _after_area(language, choice.value, area_chosen=True)


@bp.post("/intake")
def intake() -> Response:
    """An intake answer: keep it and ask the next question, or go on to the queue."""
    config = _config()
    language, area_id = _language(), _area()
    caller = _caller()
    questions = config.areas[area_id].intake
    question = _int_arg("q", 0, max(len(questions) - 1, 0))
    tries = _int_arg("t", 1, config.max_tries)
    answers = decode_answers(config, area_id, request.args.get("a"))[:question]
    if not questions:
        return _route(language, area_id, answers)
    choice = choose_answer(config, area_id, question, caller.digits, caller.speech, tries)
    if choice.step is Step.CRISIS:
        return _crisis_start(language, choice)
    if choice.step is Step.REPROMPT:
        action = _intake_url(language, area_id, question, answers, tries + 1)
        return _xml(
            twiml.intake_question(
                config, language, area_id, question, action, preface=(choice.reason_prompt(),)
            )
        )
    answers.append(choice.value)
    if question + 1 < len(questions):
        action = _intake_url(language, area_id, question + 1, answers, 1)
        return _xml(twiml.intake_question(config, language, area_id, question + 1, action))
    return _route(language, area_id, answers)


@bp.post("/route")
def route() -> Response:
    """Queue the caller for the area if it is open, else tell them the hours."""
    config = _config()
    language, area_id = _language(), _area()
    return _route(language, area_id, decode_answers(config, area_id, request.args.get("a")))


@bp.post("/closed")
def closed_key() -> Response:
    """A key pressed during the closed message: the danger key opens the crisis path."""
    if first_key(_caller().digits) == _config().danger_key:
        return _crisis_start(_language(), Choice(Step.CRISIS, reason="danger_key"))
    return _xml(twiml.goodbye(_config(), _language()))


@bp.post("/wait")
def wait() -> Response:
    """The waiting room's waitUrl: announce the caller's place and offer the danger key."""
    raw = request.form.get("QueuePosition", "")
    position = int(raw) if raw.isdigit() and len(raw) < 6 else None
    action = url_for(".wait_key", lang=_language(), area=_area())
    return _xml(twiml.wait_room(_config(), _language(), position, action))


@bp.post("/wait/key")
def wait_key() -> Response:
    """A key pressed while waiting: the danger key leaves the queue for the crisis path."""
    config = _config()
    leave = first_key(_caller().digits) == config.danger_key
    if leave:
        _remember(lambda store, sid: store.update(sid, leave_intent="crisis"))
    return _xml(twiml.wait_key(config, _language(), leave=leave))


@bp.post("/queue-result")
def queue_result() -> Response:
    """The Enqueue action: the call left the queue (bridged, hung up, left, full or failed)."""
    config = _config()
    language, caller = _language(), _caller()
    result = request.form.get("QueueResult", "")
    log.info("call %s left queue %s: %s", caller.call_sid, _area(), result or "(none)")
    if result == "hangup":
        _remember(lambda store, sid: store.update(sid, queue_result="abandoned"))
        return _xml(twiml.empty())
    if result == "leave":
        return _crisis_start(language, Choice(Step.CRISIS, reason=_leave_reason()))
    if result == "bridged":
        return _xml(twiml.goodbye(config, language))
    if result == "redirected":
        return _xml(twiml.empty())
    return _xml(twiml.queue_closed(config, language))


@bp.post("/crisis")
def crisis() -> Response:
    """Start the crisis path (for redirects): calm words, then the first crisis line."""
    reason = request.args.get("why", "danger_key")
    return _crisis_start(_language(), Choice(Step.CRISIS, reason=reason[:32]))


@bp.post("/crisis/next")
def crisis_next() -> Response:
    """A crisis dial ended: done if someone answered, else the next line, else the numbers."""
    config = _config()
    language, caller = _language(), _caller()
    status = request.form.get("DialCallStatus", "")
    lines = config.crisis.lines_for(language)
    tried = _int_arg("n", 0, len(lines))
    log.warning("crisis call %s: line %d ended %s", caller.call_sid, tried, status or "(none)")
    line = lines[min(tried, len(lines) - 1)]
    incidents = incident_log
    if status in ("completed", "answered"):
        duration = request.form.get("DialCallDuration", "")
        _remember(lambda store, sid: incidents().step(sid, "answered", target=line))
        _remember(
            lambda store, sid: incidents().step(
                sid, "closed", outcome="crisis_line", talk_s=duration
            )
        )
        return _xml(twiml.goodbye(config, language))
    _remember(lambda store, sid: incidents().step(sid, "no_answer", target=line, status=status))
    if tried + 1 < len(lines):
        _remember(lambda store, sid: incidents().step(sid, "rollover", target=lines[tried + 1]))
        return _crisis_dial(language, tried + 1, first=False)
    _remember(lambda store, sid: incidents().step(sid, "closed", outcome="numbers_given"))
    return _xml(twiml.crisis_failed(config, language))


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback: move the call's status forward, idempotently."""
    caller = _caller()
    call_status = request.form.get("CallStatus", "")
    if caller.call_sid and call_status:
        _remember(lambda store, sid: store.advance_status(sid, call_status))
    return _xml(twiml.empty())


def _after_area(
    language: str, area_id: str, *, preface: tuple[str, ...] = (), area_chosen: bool = False
) -> Response:
    """Record the area, then ask its first intake question or go straight to the queue."""
    config = _config()
    _remember(lambda store, sid: store.update(sid, area=area_id, language=language))
    if not config.areas[area_id].intake:
        return _route(language, area_id, [], preface=preface)
    action = _intake_url(language, area_id, 0, [], 1)
    return _xml(
        twiml.intake_question(
            config, language, area_id, 0, action, preface=preface, area_chosen=area_chosen
        )
    )


def _route(
    language: str, area_id: str, answers: list[str | None], *, preface: tuple[str, ...] = ()
) -> Response:
    """Queue the caller in an open area (summary stored first), or say the hours."""
    config = _config()
    now = current_app.config["CLOCK"]()
    if not config.areas[area_id].hours.is_open(now):
        log.info("call %s: %s is closed", _caller().call_sid, area_id)
        return _xml(
            twiml.closed(config, language, area_id, now, url_for(".closed_key", lang=language))
        )

    def store_summary(store: CallStore, sid: str) -> None:
        record = store.get(sid)
        speech = record.speech if record else ""
        summary = summarise(config, area_id, language, answers, speech)
        store.update(
            sid, area=area_id, language=language, summary=summary, answers=encode_answers(answers)
        )

    _remember(store_summary)
    wait_url = url_for(".wait", lang=language, area=area_id)
    action = url_for(".queue_result", lang=language, area=area_id)
    return _xml(twiml.enqueue(config, language, area_id, wait_url, action, preface=preface))


def _crisis_start(language: str, choice: Choice) -> Response:
    """Enter the crisis path; the record is best-effort and never delays the caller."""
    caller = _caller()
    log.warning("crisis path for call %s: %s", caller.call_sid, choice.reason)
    _remember(
        lambda store, sid: store.update(
            sid, crisis_trigger=choice.reason, crisis_words=" ".join(choice.matched) or None
        )
    )
    _remember(
        lambda store, sid: incident_log().open(
            sid, trigger=choice.reason, language=language, said=caller.speech
        )
    )
    return _crisis_dial(language, 0, first=True)


def _crisis_dial(language: str, index: int, *, first: bool) -> Response:
    """Dial the crisis line at an index of the language's list."""
    config = _config()
    settings = current_app.config["SETTINGS"]
    lines = config.crisis.lines_for(language)
    action = url_for(".crisis_next", lang=language, n=index)
    _remember(lambda store, sid: incident_log().step(sid, "rung", target=lines[index]))
    # The caller's own number goes to the crisis line, so it can call back if the line drops.
    caller_id = _caller().number or settings.hotline_number
    return _xml(twiml.crisis_dial(config, language, lines[index], action, caller_id, first=first))


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
        record = call_store().get(_caller().call_sid) if _caller().call_sid else None
    except RedisError:
        record = None
    # When the reason cannot be read, the crisis path is the safe reading of a leave.
    return (record.leave_intent if record and record.leave_intent else "crisis") + "_wait"
