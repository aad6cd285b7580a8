"""The crisis branch: calm words, then the crisis line, the fallback line, then the numbers.

It reads nothing from Redis, so the danger key and crisis words reach a crisis line even when
Redis is down; the incident record is written best-effort beside the call.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from ivr import twiml
from ivr.state import incident_log
from ivr.webhook import caller, config, int_arg, language, remember, twilio_blueprint, xml
from routing.menu import Choice, Step

log = logging.getLogger(__name__)


def _dial_anyway(error: Exception) -> Response:
    """A failure on the crisis path still dials the crisis lines, with no URL back to us."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("crisis webhook %s failed; dialling the crisis lines directly", request.path)
    return xml(twiml.crisis_lines_only(config(), language()))


bp = twilio_blueprint("crisis", __name__, "/voice/crisis", on_error=_dial_anyway)


@bp.post("")
def crisis() -> Response:
    """Start the crisis path (for redirects): calm words, then the first crisis line."""
    reason = request.args.get("why", "danger_key")
    return start(language(), Choice(Step.CRISIS, reason=reason[:32]))


@bp.post("/next")
def crisis_next() -> Response:
    """A crisis dial ended: done if someone answered, else the next line, else the numbers."""
    settings, chosen = config(), language()
    status = request.form.get("DialCallStatus", "")
    lines = settings.crisis.lines_for(chosen)
    tried = int_arg("n", 0, len(lines) - 1)
    line = lines[tried]
    log.warning("crisis call %s: line %d ended %s", caller().call_sid, tried, status or "(none)")
    if status in ("completed", "answered"):
        talk_s = request.form.get("DialCallDuration", "")
        remember(lambda store, sid: incident_log().step(sid, "answered", target=line))
        remember(
            lambda store, sid: incident_log().step(
                sid, "closed", outcome="crisis_line", talk_s=talk_s
            )
        )
        return xml(twiml.goodbye(settings, chosen))
    remember(lambda store, sid: incident_log().step(sid, "no_answer", target=line, status=status))
    if tried + 1 < len(lines):
        remember(lambda store, sid: incident_log().step(sid, "rollover", target=lines[tried + 1]))
        return _dial(chosen, tried + 1, first=False)
    remember(lambda store, sid: incident_log().step(sid, "closed", outcome="numbers_given"))
    return xml(twiml.crisis_failed(settings, chosen))


def start(chosen: str, choice: Choice) -> Response:
    """Enter the crisis path; the record is best-effort and never delays the caller."""
    who = caller()
    log.warning("crisis path for call %s: %s", who.call_sid, choice.reason)
    remember(
        lambda store, sid: store.update(
            sid, crisis_trigger=choice.reason, crisis_words=" ".join(choice.matched) or None
        )
    )
    remember(
        lambda store, sid: incident_log().open(
            sid, trigger=choice.reason, language=chosen, said=who.speech
        )
    )
    return _dial(chosen, 0, first=True)


def _dial(chosen: str, index: int, *, first: bool) -> Response:
    """Dial the crisis line at an index of the language's list."""
    settings = config()
    lines = settings.crisis.lines_for(chosen)
    action = url_for("crisis.crisis_next", lang=chosen, n=index)
    remember(lambda store, sid: incident_log().step(sid, "rung", target=lines[index]))
    # The caller's own number goes to the crisis line, so it can call back if the line drops.
    caller_id = caller().number or current_app.config["SETTINGS"].hotline_number
    return xml(twiml.crisis_dial(settings, chosen, lines[index], action, caller_id, first=first))
