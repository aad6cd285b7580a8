"""Twilio's webhooks for messages: the Record action, the recording status and transcription.

The action (`/voice/voicemail/recorded`) is on the caller's path: it thanks them, or sends a
caller who pressed the danger key to the crisis path. The others are callbacks off the
caller's path: the recording status, the real-time transcription's lines (`/transcript`, every
message, Mandarin or English) and Twilio's own transcription of a recording (`/transcription`,
English only, when `voicemail.transcribe` asks for it). No failure reaches Twilio as a 5xx: the
error handler logs and answers TwiML.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request, url_for
from redis import RedisError
from werkzeug.exceptions import HTTPException

from queues import metrics
from routing.config import HotlineConfig
from telephony.signature import public_url, require_twilio_signature
from voicemail import reception, twiml
from voicemail import runtime as voicemail_runtime
from voicemail.transcripts import TRACKS, HeardLine, MessageTranscripts, transcript_text

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


def record_urls(language: str, area: str) -> tuple[str, str, str, str]:
    """The Record action, recording status, Twilio's transcription and the real-time
    transcription's URLs for a caller."""
    return (
        url_for("voicemail.recorded", lang=language, area=area),
        url_for("voicemail.status", lang=language, area=area),
        url_for("voicemail.transcription", lang=language, area=area),
        # Twilio wants the real-time transcription's callback as an absolute URL.
        _public(url_for("voicemail.transcript", lang=language)),
    )


def _public(path_and_query: str) -> str:
    """An absolute URL of the app as Twilio reaches it: PUBLIC_BASE_URL's, else the request's."""
    return public_url(
        path_and_query,
        request_url=request.host_url.rstrip("/") + path_and_query,
        public_base_url=current_app.config["SETTINGS"].public_base_url,
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
    now = current_app.config["CLOCK"]()
    done = reception.receive_recording(
        rt.redis, recording, now=now, allowed_origins=rt.options.allowed_origins
    )
    if recording.call_sid and done in ("queued", "repeated"):
        # The lines heard while the caller spoke become the message's transcript.
        MessageTranscripts(rt.redis).attach(
            recording.call_sid,
            recording.recording_sid,
            vault=rt.vault,
            now=now.timestamp(),
            lexicon=rt.lexicon,
            rules=rt.options.triage,
        )
    return _xml(twiml.empty())


@bp.post("/transcript")
def transcript() -> Response:
    """A real-time transcription event of a message: each final line kept and read for crisis."""
    form = request.form
    if form.get("TranscriptionEvent", "") != "transcription-content":
        return _xml(twiml.empty())
    line = _final_line()
    if line is None:
        return _xml(twiml.empty())
    rt = voicemail_runtime.build(current_app._get_current_object())
    try:
        MessageTranscripts(rt.redis).hear(
            line,
            now=current_app.config["CLOCK"]().timestamp(),
            lexicon=rt.lexicon,
            vault=rt.vault,
            rules=rt.options.triage,
        )
    except RedisError as error:
        # Off the caller's path: the recording is still kept and triaged by its voice.
        log.warning("Redis unreachable, a line of call %s's message lost: %s", line.call_sid, error)
    return _xml(twiml.empty())


def _final_line() -> HeardLine | None:
    """The callback's line when it is final and the caller's, with words; else None."""
    form = request.form
    track = TRACKS.get(form.get("Track", "").strip())
    sequence = form.get("SequenceId", "").strip()
    text = transcript_text(form.get("TranscriptionData", ""))
    final = form.get("Final", "").strip().lower() == "true"
    if not final or track != "caller" or not sequence.isdigit() or not text:
        return None
    code = form.get("LanguageCode", "").strip()[:16]
    return HeardLine(
        call_sid=form.get("CallSid", "").strip()[:64],
        transcription_sid=form.get("TranscriptionSid", "").strip()[:64],
        seq=int(sequence[:9]),
        track=track,
        text=text,
        language=_config().assist.language_of_transcription(code) or _language(),
    )


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
