"""The live transcript of a bridged call: Twilio's real-time transcription callbacks.

`POST /voice/assist/transcript?res=<reservation>` gets every transcription event of the caller's
leg (both tracks: inbound is the caller, outbound what the caller hears, the agent). Final lines
go to the desk's feed and a caller's through the crisis classifier (`voicemail.transcripts`);
the end of the transcription keeps the transcript with the recording when the caller consented.
Nothing here is on the caller's path: with Redis down the callback is logged and answered with
empty TwiML, and any failure too; Twilio never gets a 5xx.
"""

from __future__ import annotations

import logging

from flask import Response, request
from redis import RedisError
from werkzeug.exceptions import HTTPException

from ivr.callers import menu_twiml as twiml
from ivr.webhook import config, reservation_id, twilio_blueprint, xml
from queues import runtime
from voicemail.transcripts import TRACKS, CallTranscripts, HeardLine, transcript_text

log = logging.getLogger(__name__)

PREFIX = "/voice/assist"
# Longest SID or code read from the form: Twilio's are 34 characters, codes a few.
MAX_SID = 64


def _nothing(error: Exception) -> Response:
    """A failure on the transcript is logged; the call never depended on it."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("live transcript callback %s failed", request.path)
    return xml(twiml.empty())


bp = twilio_blueprint("live_transcript", __name__, PREFIX, on_error=_nothing)


@bp.post("/transcript")
def transcript() -> Response:
    """One transcription event: a final line to the feed, or the end that keeps it (consent)."""
    form = request.form
    event = form.get("TranscriptionEvent", "").strip()
    rt = runtime.serving()
    try:
        call_sid, language = _callers_call(rt)
        if event == "transcription-content":
            line = _final_line(call_sid, language)
            if line is not None:
                CallTranscripts(rt.redis).hear(line, now=rt.now(), lexicon=config().lexicon)
        elif event == "transcription-stopped":
            CallTranscripts(rt.redis).end(
                call_sid, now=rt.now(), keep_days=config().records.recording_keep_days
            )
        elif event == "transcription-error":
            log.warning(
                "live transcription of call %s failed: %s",
                call_sid,
                form.get("TranscriptionError", "")[:200],
            )
    except RedisError as error:
        # The call goes on without its transcript: nobody waits on this callback.
        log.warning("Redis unreachable, live transcript event %s lost: %s", event, error)
    return xml(twiml.empty())


def _callers_call(rt: runtime.Runtime) -> tuple[str, str]:
    """The caller's call SID and language: the reservation's when it is known, else the
    callback's CallSid and no language."""
    # The transcription runs on the caller's own leg, so CallSid is the caller's (on a
    # callback, the leg we dialled, not the call they first made); the reservation names the
    # call while it lasts, and wins should the two ever differ.
    given = request.form.get("CallSid", "").strip()[:MAX_SID]
    rid = reservation_id()
    reservation = rt.routing.reservations.get(rid) if rid else None
    differs = reservation is not None and reservation.call_sid and reservation.call_sid != given
    if differs and reservation.kind != "callback":
        log.warning("live transcript for reservation %s came on another call's leg", rid)
    if reservation is None or not reservation.call_sid:
        return given, ""
    return reservation.call_sid, reservation.language


def _final_line(call_sid: str, language: str) -> HeardLine | None:
    """The callback's line when it is final, on a known track, with words; else None."""
    form = request.form
    if form.get("Final", "").strip().lower() != "true":
        return None
    track = TRACKS.get(form.get("Track", "").strip())
    sequence = form.get("SequenceId", "").strip()
    text = transcript_text(form.get("TranscriptionData", ""))
    if track is None or not sequence.isdigit() or not text:
        return None
    code = form.get("LanguageCode", "").strip()[:MAX_SID]
    # The language the transcription ran in says what the words are; else the caller's choice.
    heard_in = config().assist.language_of_transcription(code)
    language = heard_in or language or config().default_language
    return HeardLine(
        call_sid=call_sid,
        transcription_sid=form.get("TranscriptionSid", "").strip()[:MAX_SID],
        seq=int(sequence[:9]),
        track=track,
        text=text,
        language=language,
    )
