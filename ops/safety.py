"""Supervisors' safety controls: the caller blocklist and the emergency closure.

One blueprint holds the console page (`/ops/safety`) and the JSON API (`/api/v1/blocklist`,
`/api/v1/closure`); both are for supervisors only, and every change goes to the audit log. The
phone side (`ivr/callers/screening.py`) reads what is set here on the next incoming call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from ops import api, auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Conflict, Invalid, NotFound
from ops.i18n import word
from queues.blocklist import MAX_REASON, BlockEntry, Blocklist
from queues.closure import ClosureBoard
from routing.holidays import Closure

# Anonymous requests get 401 (API) or the sign-in page (console); session changes need CSRF.
bp = features.blueprint("ops_safety", anonymous_forms=False)

DEFAULT_REGION = "CN"
MAX_MESSAGE = 500
_DIGEST_CHARS = frozenset("0123456789abcdef")


# --- services ---------------------------------------------------------------------------------


def _blocklist() -> Blocklist:
    return Blocklist(context.redis())


def _closures() -> ClosureBoard:
    return ClosureBoard(context.redis())


def entry_view(entry: BlockEntry) -> dict[str, Any]:
    """A blocked number as the console and API show it: masked, never the number itself."""
    return {
        "digest": entry.digest,
        "masked": entry.masked,
        "by": entry.by,
        "at": entry.at,
        "reason": entry.reason,
    }


def parse_number(value: object, region: object = None) -> str:
    """A phone number as E.164, checked with libphonenumber (national numbers in the region)."""
    region = DEFAULT_REGION if region in (None, "") else region
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise Invalid("expected a two-letter region code such as CN", field="region")
    if not isinstance(value, str) or not value.strip():
        raise Invalid("enter the caller's phone number", field="number")
    try:
        parsed = phonenumbers.parse(value.strip(), region.upper())
    except phonenumbers.NumberParseException:
        raise Invalid("not a phone number", field="number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid("not a valid phone number", field="number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def block(actor: str, fields: dict[str, Any]) -> BlockEntry:
    """Block a caller's number with a reason; a number already blocked is a conflict."""
    number = parse_number(fields.get("number"), fields.get("region"))
    reason = fields.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("say why the number is blocked", field="reason")
    if len(reason.strip()) > MAX_REASON:
        raise Invalid(f"at most {MAX_REASON} characters", field="reason")
    blocklist = _blocklist()
    if blocklist.contains(number):
        raise Conflict("this number is already blocked", field="number")
    now = context.now()
    entry = blocklist.add(number, by=actor, now=now, reason=reason.strip())
    context.audit_log().record(actor, "blocklist.add", entry.masked, after=_audited(entry), now=now)
    return entry


def unblock(actor: str, digest: str) -> None:
    """Take a number off the blocklist by its digest (as the list shows it)."""
    found = None
    if len(digest) == 24 and set(digest) <= _DIGEST_CHARS:
        found = next((e for e in _blocklist().entries() if e.digest == digest), None)
    if found is None:
        raise NotFound("no blocked number with this digest", field="digest")
    now = context.now()
    _blocklist().remove(digest, by=actor, now=now)
    context.audit_log().record(
        actor, "blocklist.remove", found.masked, before=_audited(found), now=now
    )


def _audited(entry: BlockEntry) -> dict[str, Any]:
    """What the audit log keeps of an entry (the masked number, never the number)."""
    return {"digest": entry.digest, "masked": entry.masked, "reason": entry.reason}


def closure_view(closure: Closure | None) -> dict[str, Any] | None:
    """The closure in force (or set and ended) as the console and API show it."""
    if closure is None:
        return None
    now = datetime.fromtimestamp(context.now(), _zone())
    return {
        "message": dict(closure.message),
        "until": closure.until.astimezone(_zone()).isoformat() if closure.until else None,
        "set_by": closure.set_by,
        "since": closure.since.astimezone(_zone()).isoformat() if closure.since else None,
        "active": closure.active(now),
    }


def _zone() -> ZoneInfo:
    return ZoneInfo(context.config().timezone)


def parse_closure(fields: dict[str, Any]) -> Closure:
    """A closure from {"message": {"zh": ..., "en": ...}, "until": ISO time or null}.

    An empty message means the configured default sentence; a time without an offset is the
    hotline's local time, and it must be in the future.
    """
    message = fields.get("message", {})
    if message is None:
        message = {}
    if not isinstance(message, dict):
        raise Invalid("expected an object of messages by language", field="message")
    languages = context.config().languages
    checked: dict[str, str] = {}
    for language, text in message.items():
        field = f"message.{language}"
        if language not in languages:
            raise Invalid(f"language must be one of {', '.join(languages)}", field=field)
        if not isinstance(text, str):
            raise Invalid("expected text", field=field)
        if len(text.strip()) > MAX_MESSAGE:
            raise Invalid(f"at most {MAX_MESSAGE} characters", field=field)
        if text.strip():
            checked[language] = " ".join(text.split())
    return Closure(checked, until=_until(fields.get("until")))


def _until(value: object) -> datetime | None:
    """An optional end time: ISO 8601, local to the hotline without an offset, in the future."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid("expected a date and time such as 2026-12-02T18:00", field="until")
    try:
        until = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("expected a date and time such as 2026-12-02T18:00", field="until") from None
    if until.tzinfo is None:
        until = until.replace(tzinfo=_zone())
    if until.timestamp() <= context.now():
        raise Invalid("the end must be in the future", field="until")
    return until


def close(actor: str, fields: dict[str, Any]) -> Closure:
    """Set the emergency closure (replacing one in force) and audit before and after."""
    closure = parse_closure(fields)
    board = _closures()
    before = closure_view(board.get())
    now = context.now()
    board.set(closure, by=actor, now=now)
    context.audit_log().record(
        actor, "closure.set", "hotline", before=before, after=closure_view(board.get()), now=now
    )
    return board.get() or closure


def reopen(actor: str) -> None:
    """Clear the emergency closure; NotFound when none is set."""
    board = _closures()
    before = closure_view(board.get())
    now = context.now()
    if not board.clear(by=actor, now=now):
        raise NotFound("no emergency closure is set", field="closure")
    context.audit_log().record(actor, "closure.clear", "hotline", before=before, now=now)


# --- console page -----------------------------------------------------------------------------


@bp.get("/ops/safety")
@require(*SUPERVISORS)
def page() -> str:
    """The blocklist (masked numbers) and the emergency closure, with their forms."""
    return render_template(
        "ops/safety.html",
        entries=[entry_view(entry) for entry in _blocklist().entries()],
        closure=closure_view(_closures().get()),
        languages=context.config().languages,
    )


def _done() -> Response:
    flash(word("saved"), "ok")
    return redirect(url_for("ops_safety.page"), code=303)


@bp.post("/ops/safety/blocklist")
@require(*SUPERVISORS)
def page_block() -> Response:
    """Block a number from the page's form."""
    block(auth.actor(), request.form.to_dict())
    return _done()


@bp.post("/ops/safety/blocklist/<digest>/remove")
@require(*SUPERVISORS)
def page_unblock(digest: str) -> Response:
    """Unblock a number from the list."""
    unblock(auth.actor(), digest)
    return _done()


@bp.post("/ops/safety/closure")
@require(*SUPERVISORS)
def page_close() -> Response:
    """Set the emergency closure from the page's form."""
    form = request.form
    message = {lang: form.get(f"message_{lang}", "") for lang in context.config().languages}
    close(auth.actor(), {"message": message, "until": form.get("until", "")})
    return _done()


@bp.post("/ops/safety/closure/clear")
@require(*SUPERVISORS)
def page_reopen() -> Response:
    """Clear the emergency closure."""
    reopen(auth.actor())
    return _done()


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/blocklist")
@require(*SUPERVISORS)
def api_list_blocked() -> Response:
    """Every blocked number, masked, newest first."""
    return jsonify({"entries": [entry_view(entry) for entry in _blocklist().entries()]})


@bp.post("/api/v1/blocklist")
@require(*SUPERVISORS)
def api_add_blocked() -> tuple[Response, int]:
    """Block a number: {"number", "reason", "region" (optional, CN by default)}."""
    return jsonify(entry_view(block(auth.actor(), api.body()))), 201


@bp.delete("/api/v1/blocklist/<digest>")
@require(*SUPERVISORS)
def api_remove_blocked(digest: str) -> tuple[str, int]:
    """Unblock a number by the digest the list shows."""
    unblock(auth.actor(), digest)
    return "", 204


@bp.get("/api/v1/closure")
@require(*SUPERVISORS)
def api_get_closure() -> Response:
    """The emergency closure, or null."""
    return jsonify({"closure": closure_view(_closures().get())})


@bp.put("/api/v1/closure")
@require(*SUPERVISORS)
def api_put_closure() -> Response:
    """Close the hotline: {"message": {"zh", "en"}, "until": ISO time or null}."""
    return jsonify({"closure": closure_view(close(auth.actor(), api.body()))})


@bp.delete("/api/v1/closure")
@require(*SUPERVISORS)
def api_delete_closure() -> tuple[str, int]:
    """Reopen the hotline."""
    reopen(auth.actor())
    return "", 204
