"""The voicemail inbox for supervisors: list messages, play one (audited), close one.

One blueprint serves the console page `/ops/voicemail` and the JSON endpoints under
`/api/v1/voicemail`. Pages answer like the other console pages (sign-in redirect, error page,
CSRF on every form); the API answers like the rest of the API (JSON errors, 401 for an anonymous
request, CSRF only for session requests). Every opening of a message's audio is written to the
voicemail audit stream under the user who opened it.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from ops import api, auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Invalid, NotFound
from ops.i18n import word
from voicemail import inbox
from voicemail import runtime as voicemail_runtime
from voicemail.vault import VaultError

bp = features.blueprint("ops_inbox")

MAX_LIMIT = 500


def _now():
    """The app clock."""
    return current_app.config["CLOCK"]()


def _vault():
    """The app's vault of encrypted messages."""
    return voicemail_runtime.vault(current_app._get_current_object())


def _limit() -> int:
    """The `limit` query parameter, 1 to MAX_LIMIT (default 100)."""
    value = request.args.get("limit", "100")
    try:
        limit = int(value)
    except ValueError:
        raise Invalid("expected a whole number", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"expected 1 to {MAX_LIMIT}", field="limit")
    return limit


def _include_closed() -> bool:
    """Whether closed messages are listed too (`closed=1`)."""
    return request.args.get("closed", "").lower() in ("1", "true", "yes")


def _view(entry: inbox.Entry) -> dict[str, Any]:
    """One message for the console and the API; the caller's number only ever masked."""
    return {
        "recording_sid": entry.recording_sid,
        "created_at": entry.created_at,
        "area": entry.area,
        "language": entry.language,
        "caller": entry.caller_masked,
        "caller_withheld": entry.withheld,
        "summary": entry.summary,
        "seconds": round(entry.seconds, 1) if entry.seconds is not None else None,
        "urgency": round(entry.urgency, 2),
        "urgent": entry.urgent,
        "crisis": entry.crisis,
        "state": entry.state,
        "callback": entry.callback,
        "closed": entry.closed,
        # What the caller said (real-time transcription, Mandarin or English), for supervisors.
        "transcript": inbox.transcript(entry, _vault()),
    }


def _messages() -> list[dict[str, Any]]:
    """The inbox, newest first."""
    entries = inbox.list_messages(context.redis(), limit=_limit(), include_closed=_include_closed())
    return [_view(entry) for entry in entries]


def _audio(recording_sid: str) -> Response:
    """A message's decrypted audio, audited under the user who asked for it."""
    try:
        audio = inbox.open_audio(
            context.redis(), _vault(), recording_sid, actor=auth.actor(), now=_now()
        )
    except (inbox.InboxError, VaultError, ValueError) as error:
        raise NotFound(str(error)) from None
    return Response(
        audio,
        mimetype="audio/mpeg",
        headers={
            "Cache-Control": "no-store, private",
            "Content-Disposition": f'inline; filename="{recording_sid}.mp3"',
        },
    )


def _close(recording_sid: str, reason: str) -> bool:
    """Close a message and withdraw its waiting callback; False when already closed."""
    try:
        return inbox.close(
            context.redis(),
            recording_sid,
            actor=auth.actor(),
            now=_now(),
            reason=reason,
            room=context.waiting_room(),
        )
    except inbox.InboxError as error:
        raise NotFound(str(error)) from None


# -- console page ---------------------------------------------------------------------------


@bp.get("/ops/voicemail")
@require(*SUPERVISORS)
def page() -> str:
    """The inbox: newest first, with a player and a close form per message."""
    return render_template(
        "ops/voicemail.html", messages=_messages(), include_closed=_include_closed()
    )


@bp.post("/ops/voicemail/<recording_sid>/close")
@require(*SUPERVISORS)
def close_form(recording_sid: str) -> Response:
    """Close a message from the page."""
    closed = _close(recording_sid, request.form.get("reason", ""))
    flash(word("vm_closed" if closed else "vm_already_closed"), "ok")
    return redirect(url_for("ops_inbox.page"), code=303)


# -- JSON API -------------------------------------------------------------------------------


@bp.get("/api/v1/voicemail")
@require(*SUPERVISORS)
def api_list() -> Response:
    """The inbox as JSON, newest first."""
    return jsonify({"messages": _messages()})


@bp.get("/api/v1/voicemail/<recording_sid>/audio")
@require(*SUPERVISORS)
def api_audio(recording_sid: str) -> Response:
    """A message's decrypted MP3; every fetch is audited."""
    return _audio(recording_sid)


@bp.post("/api/v1/voicemail/<recording_sid>/close")
@require(*SUPERVISORS)
def api_close(recording_sid: str) -> Response:
    """Close a message (handled, or no callback needed)."""
    reason = api.body(optional=True).get("reason", "")
    if not isinstance(reason, str):
        raise Invalid("expected text", field="reason")
    closed = _close(recording_sid, reason)
    return jsonify({"recording_sid": recording_sid, "closed": True, "changed": closed})
