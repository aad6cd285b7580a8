"""Recorded consultations for supervisors: the list, and each recording through a signed link.

The page `/ops/recordings` (and `/api/v1/recordings`) lists the latest recorded consultations,
or one call's (`?call=CA...`), with the caller's number only ever masked. Each stored recording
comes with a link signed with the app's secret key for the supervisor who asked, valid
`voicemail.play_link_minutes`; the audio is decrypted only for that same supervisor, signed in,
before the link expires, and every playing is written to the audit log.

Beside a recording, the call's transcript (`voicemail.transcripts`), kept only when the caller
consented to the recording: `/ops/recordings/<RecordingSid>/transcript`, for supervisors, each
reading written to the audit log like a playing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, g, jsonify, render_template, request, url_for

from ops import auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Forbidden, Invalid, NotFound
from queues.audit import AuditLog
from voicemail import consultation_jobs, links
from voicemail import runtime as voicemail_runtime
from voicemail.consultations import Consultation, ConsultationRecordings
from voicemail.transcripts import CallTranscripts
from voicemail.vault import VaultError

bp = features.blueprint("ops_recordings")

MAX_LIMIT = 500
# What a link signs besides the recording: no voicemail link ever opens a consultation.
LINK_PURPOSE = "consultation:"


def _now():
    """The app clock."""
    return current_app.config["CLOCK"]()


def _recordings() -> ConsultationRecordings:
    """The consultation recordings on this app's two storage targets."""
    return consultation_jobs.store(voicemail_runtime.build(current_app._get_current_object()))


def _listener() -> str:
    """Who a link is made for: the signed-in user, as a name a link may carry."""
    return "u-" + hashlib.sha256(g.user.name.encode()).hexdigest()[:20]


def _link(recording_sid: str, endpoint: str) -> str:
    """A link to a recording's audio for the signed-in supervisor, valid a few minutes."""
    params = links.sign(
        current_app.config["SECRET_KEY"],
        LINK_PURPOSE + recording_sid,
        _listener(),
        now=_now().timestamp(),
        minutes=current_app.config["HOTLINE"].voicemail.play_link_minutes,
    )
    return url_for(endpoint, recording_sid=recording_sid, **params)


def _view(item: Consultation, endpoint: str) -> dict[str, Any]:
    """One recording for the page and the API; the caller's number only ever masked."""
    return {
        "recording_sid": item.recording_sid,
        "call_sid": item.call_sid,
        "created_at": item.created_at,
        "area": item.area,
        "language": item.language,
        "agent": item.agent,
        "caller": item.caller_masked,
        "duration_s": item.duration_s,
        "state": item.state,
        "copies": 2 if item.stored else 0,
        "audio": _link(item.recording_sid, endpoint) if item.stored else None,
        "transcript": (
            url_for("ops_recordings.transcript", recording_sid=item.recording_sid)
            if item.call_sid and _has_transcript(item.call_sid)
            else None
        ),
    }


def _has_transcript(call_sid: str) -> bool:
    """Whether the call's transcript was kept (with the caller's consent)."""
    return CallTranscripts(context.redis()).is_kept(call_sid)


def _listed(endpoint: str) -> list[dict[str, Any]]:
    """The latest recordings (or one call's), newest first, each with its link."""
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid(f"expected 1 to {MAX_LIMIT}", field="limit")
    items = _recordings().newest(int(raw))
    call = request.args.get("call", "")
    if call:
        items = [item for item in items if item.call_sid == call]
    return [_view(item, endpoint) for item in items]


def _audio(recording_sid: str) -> Response:
    """A recording's decrypted audio for the supervisor its link was made for; audited."""
    try:
        link = links.check(
            current_app.config["SECRET_KEY"],
            LINK_PURPOSE + recording_sid,
            request.args,
            now=_now().timestamp(),
        )
    except links.LinkRefused as error:
        raise Forbidden(f"recording link refused: {error}") from None
    if link.who != _listener():
        # A link forwarded to someone else does not open for them, even a supervisor.
        raise Forbidden("this link was made for another user")
    recordings = _recordings()
    item = recordings.get(recording_sid)
    if item is None:
        raise NotFound(f"no recording {recording_sid}")
    try:
        audio = recordings.read_audio(recording_sid)
    except (VaultError, ValueError) as error:
        raise NotFound(str(error)) from None
    AuditLog(context.redis()).record(
        auth.actor(),
        "recording-played",
        recording_sid,
        after={"call": item.call_sid, "area": item.area, "agent": item.agent},
        now=_now().timestamp(),
    )
    return Response(
        audio,
        mimetype="audio/wav",
        headers={
            "Cache-Control": "no-store, private",
            "Content-Disposition": f'inline; filename="{recording_sid}.wav"',
        },
    )


# -- console page ---------------------------------------------------------------------------


@bp.get("/ops/recordings")
@require(*SUPERVISORS)
def page() -> str:
    """The recorded consultations, newest first, each with a player on a signed link."""
    return render_template(
        "ops/recordings.html",
        recordings=_listed("ops_recordings.audio"),
        call=request.args.get("call", ""),
    )


@bp.get("/ops/recordings/<recording_sid>/audio")
@require(*SUPERVISORS)
def audio(recording_sid: str) -> Response:
    """A recording's audio for the page's player."""
    return _audio(recording_sid)


@bp.get("/ops/recordings/<recording_sid>/transcript")
@require(*SUPERVISORS)
def transcript(recording_sid: str) -> str:
    """The transcript kept with a recording, line by line; every reading is audited."""
    item = _recordings().get(recording_sid)
    lines = CallTranscripts(context.redis()).kept(item.call_sid) if item and item.call_sid else None
    if item is None or lines is None:
        raise NotFound(f"no transcript kept with recording {recording_sid}")
    AuditLog(context.redis()).record(
        auth.actor(),
        "transcript-read",
        recording_sid,
        after={"call": item.call_sid, "area": item.area, "lines": len(lines)},
        now=_now().timestamp(),
    )
    return render_template(
        "ops/recording_transcript.html", recording=_view(item, "ops_recordings.audio"), lines=lines
    )


# -- JSON API -------------------------------------------------------------------------------


@bp.get("/api/v1/recordings")
@require(*SUPERVISORS)
def api_list() -> Response:
    """The recorded consultations as JSON, each stored one with its signed link."""
    return jsonify({"recordings": _listed("ops_recordings.api_audio")})


@bp.get("/api/v1/recordings/<recording_sid>/audio")
@require(*SUPERVISORS)
def api_audio(recording_sid: str) -> Response:
    """A recording's decrypted WAV through its signed link; every fetch is audited."""
    return _audio(recording_sid)
