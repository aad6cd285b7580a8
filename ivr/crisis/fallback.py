"""The static fallback's report: a caller the number's Voice Fallback put through to a crisis line.

When the app does not answer a call's webhook, Twilio runs the static fallback document
(`hotline fallback-twiml`), hosted apart from the app, which dials the crisis lines. Generated
with the app's public base URL, each line's <Number> reports its leg's events here, so the
crisis is recorded (trigger "fallback": the app was unreachable at that moment) and the
supervisors alerted, as for any crisis call. The app may well be up again by then; if not, the
later events of the leg try again. Whatever the repeats (three events per line, Twilio's own
retries), the incident is opened and the alert raised once per call.
"""

from __future__ import annotations

import logging

from flask import Response, request
from werkzeug.exceptions import HTTPException

from ivr.callers import menu_twiml as twiml
from ivr.crisis.webhooks import crisis_path
from ivr.webhook import language, twilio_blueprint, xml
from queues.crisis_path import CrisisPath
from queues.sweep import GONE_STATUSES
from routing.config import HotlineConfig

log = logging.getLogger(__name__)

PREFIX = "/voice/fallback"
# Where the static fallback's crisis lines report, under the app's public base URL.
STATUS_PATH = f"{PREFIX}/crisis-status"
# The incident's trigger: the caller reached a crisis line through the static fallback.
TRIGGER = "fallback"
# The crisis line leg's statuses that mean it is up (answered) or over.
ANSWERED = "in-progress"


def _nothing(error: Exception) -> Response:
    """A failure on the report is logged; the caller's call never depended on it."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("fallback report %s failed", request.path)
    return xml(twiml.empty())


bp = twilio_blueprint("crisis_fallback", __name__, PREFIX, on_error=_nothing)


def status_url(base_url: str) -> str:
    """The absolute URL the static fallback's crisis lines report to, under a public base URL."""
    return base_url.rstrip("/") + STATUS_PATH


def fallback_document(config: HotlineConfig, base_url: str | None) -> str:
    """The static fallback file: reporting to the app under `base_url`, or not at all."""
    callback = status_url(base_url) if base_url else None
    return twiml.static_fallback(config, callback).to_xml(xml_declaration=True) + "\n"


@bp.post("/crisis-status")
def crisis_status() -> Response:
    """A crisis line's leg dialled by the static fallback: the incident, the alert, the line."""
    form = request.form
    # The event is about the line's leg; the caller's call is its parent.
    call_sid = (form.get("ParentCallSid") or form.get("CallSid", "")).strip()[:64]
    if not call_sid:
        log.warning("fallback report without a call: nothing recorded")
        return xml(twiml.empty())
    chosen = language()
    path = crisis_path()
    log.warning("crisis call %s reached a crisis line through the static fallback", call_sid)
    path.record_late(call_sid, chosen, TRIGGER, "", "")
    _line_step(
        path,
        call_sid,
        leg=form.get("CallSid", "").strip()[:64],
        line=form.get("To", "").strip()[:32],
        status=form.get("CallStatus", "").strip()[:16],
        talk_s=form.get("CallDuration", "").strip()[:8],
    )
    return xml(twiml.empty())


def _line_step(
    path: CrisisPath, call_sid: str, *, leg: str, line: str, status: str, talk_s: str
) -> None:
    """Record what the crisis line's leg did, once per leg and kind of step."""
    if status == ANSWERED:
        kind, fields = "answered", {"target": line}
    elif status == "completed":
        # The line answered and the call is over: the incident closes as the crisis path's does.
        kind, fields = "closed", {"outcome": "crisis_line", "talk_s": talk_s}
    elif status in GONE_STATUSES:
        kind, fields = "no_answer", {"target": line, "status": status}
    else:
        kind, fields = "rung", {"target": line, "role": "line"}

    def record() -> None:
        incident = path.incidents.get(call_sid)
        steps = incident.steps if incident else []
        # Repeats of an event find their step and stop; an incident closes only once.
        if any(s["kind"] == kind and (kind == "closed" or s.get("leg") == leg) for s in steps):
            return
        path.incidents.step(call_sid, kind, now=path.now(), leg=leg, **fields)

    path.records.run(call_sid, record)
