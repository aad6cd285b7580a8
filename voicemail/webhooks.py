"""Twilio's webhooks for messages: the Record action, the recording status and transcription.

The action (`/voice/voicemail/recorded`) is on the caller's path: it thanks them, or sends a
caller who pressed the danger key to the crisis path. The other two are callbacks off the
caller's path. No failure reaches Twilio as a 5xx: the error handler logs and answers TwiML.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from queues import metrics
from routing.config import HotlineConfig
from telephony.signature import require_twilio_signature
from voicemail import reception, twiml
from voicemail import runtime as voicemail_runtime

log = logging.getLogger(__name__)

bp = Blueprint("voicemail", __name__, url_prefix="/voice/voicemail")
metrics.time_webhooks(bp)
bp.before_request(require_twilio_signature)


def _config() -> HotlineConfig:
    """The checked hotline configuration."""
    return current_app.config["HOTLINE"]


def _language() -> str:
    """The caller's language from the URL, or the default."""
    chosen = request.args.get("lang", "")
    return chosen if chosen in _config().languages else _config().default_language


def _area() -> str:
    """The caller's area from the URL, or empty when missing or unknown."""
    chosen = request.args.get("area", "")
    return chosen if chosen in _config().areas else ""


def _xml(document) -> Response:
    """Return a TwiML document with the content type Twilio expects."""
    return Response(str(document), status=200, mimetype="text/xml")


@bp.errorhandler(Exception)
def _failed(error: Exception) -> Response:
    """Log a failure and answer TwiML: a caller still hears thanks and goodbye."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("voicemail webhook %s failed", request.path)
    if request.endpoint == "voicemail.recorded":
        return _xml(twiml.thanks(_config(), _language()))
    return _xml(twiml.empty())


def record_urls(language: str, area: str) -> tuple[str, str, str]:
    """The Record action, recording status and transcription URLs for a caller."""
    return (
        url_for("voicemail.recorded", lang=language, area=area),
        url_for("voicemail.status", lang=language, area=area),
        url_for("voicemail.transcription", lang=language, area=area),
    )


def record(language: str, area: str):
    """The TwiML that invites and records a message (for the menu's closed and wait paths)."""
    return twiml.record_message(_config(), language, *record_urls(language, area))


@bp.post("/recorded")
def recorded() -> Response:
    """The recording ended: the danger key goes to the crisis path, else thanks and goodbye."""
    language = _language()
    if request.form.get("Digits", "")[:1] == _config().danger_key:
        return _xml(twiml.to_crisis(url_for("crisis.crisis", lang=language, why="danger_key")))
    return _xml(twiml.thanks(_config(), language))


@bp.post("/status")
def status() -> Response:
    """The recording status callback: register the message once and queue its processing."""
    form = request.form
    recording = reception.Recording(
        recording_sid=form.get("RecordingSid", "").strip()[:64],
        call_sid=form.get("CallSid", "").strip()[:64],
        recording_url=form.get("RecordingUrl", "").strip()[:500],
        duration_s=form.get("RecordingDuration", "").strip()[:8],
        status=form.get("RecordingStatus", "").strip()[:20],
        area=_area(),
        language=_language(),
    )
    rt = voicemail_runtime.build(current_app._get_current_object())
    reception.receive_recording(
        rt.redis,
        recording,
        now=current_app.config["CLOCK"](),
        allowed_origins=rt.options.allowed_origins,
    )
    return _xml(twiml.empty())


@bp.post("/transcription")
def transcription() -> Response:
    """Twilio's transcription: kept encrypted, and read for crisis words."""
    form = request.form
    reception.receive_transcript(
        form.get("RecordingSid", "").strip()[:64],
        form.get("TranscriptionText", ""),
        form.get("TranscriptionStatus", "").strip()[:20],
        now=current_app.config["CLOCK"](),
    )
    return _xml(twiml.empty())
