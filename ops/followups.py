"""Follow-ups for supervisors: callers owed another call, and how their callback task stands.

One blueprint holds the console pages (`/ops/followups`, and one follow-up with its number) and
the JSON API (`/api/v1/followups`); both are for supervisors only. Each follow-up is called back
by a callback task (`queues.followup_calls`); the list shows its state (waiting, ringing, done,
unreached, or a withheld number that cannot be called). Lists show the caller's number masked;
the number itself is shown one follow-up at a time, for a callback by hand, and every such
showing is audited, as is every close. Closing by hand withdraws the task.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from ops import api, auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Invalid, NotFound
from ops.i18n import word
from queues import followup_calls
from queues.followups import MAX_NOTE, FollowUp, FollowUps, UnknownFollowUp

# Anonymous requests get 401 (API) or the sign-in page (console); session changes need CSRF.
bp = features.blueprint("ops_followups", anonymous_forms=False)

MAX_LIMIT = 500


# --- services ---------------------------------------------------------------------------------


def _store() -> FollowUps:
    """The follow-ups on the app's Redis."""
    return FollowUps(context.redis())


def _limit() -> int:
    """The `limit` query parameter, 1 to MAX_LIMIT (default 100)."""
    value = request.args.get("limit", "100")
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise Invalid(f"expected a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(value)


def _include_closed() -> bool:
    """Whether closed follow-ups are listed too (`closed=1`)."""
    return request.args.get("closed", "").lower() in ("1", "true", "yes")


def listed() -> list[dict[str, Any]]:
    """Follow-ups newest first (open ones, or every one kept), numbers masked."""
    found = _store().newest(limit=_limit(), include_closed=_include_closed())
    rt = context.runtime()
    return [
        {**follow_up.public(), "state": followup_calls.shown_state(rt, follow_up)}
        for follow_up in found
    ]


def _found(call_sid: str) -> FollowUp:
    """A follow-up by its call, or 404."""
    found = _store().get(call_sid)
    if found is None:
        raise NotFound("no follow-up for this call", field="call")
    return found


def number(actor: str, call_sid: str) -> FollowUp:
    """A follow-up with the caller's number to call back; the showing is audited."""
    found = _found(call_sid)
    if not found.caller:
        raise NotFound("no number is kept for this follow-up", field="call")
    context.audit_log().record(
        actor, "followup.number", call_sid, after={"caller": found.caller_masked}, now=context.now()
    )
    return found


def close(actor: str, call_sid: str, note: object) -> bool:
    """Close a follow-up with a note of what was done; False when it was already closed."""
    if not isinstance(note, str) or not note.strip():
        raise Invalid("say what was done (called back, or why no callback)", field="note")
    if len(note.strip()) > MAX_NOTE:
        raise Invalid(f"at most {MAX_NOTE} characters", field="note")
    before = _found(call_sid)
    now = context.now()
    try:
        changed = _store().close(before.call_sid, by=actor, note=note.strip(), now=now)
    except UnknownFollowUp:
        raise NotFound("no follow-up for this call", field="call") from None
    if changed:
        # Closed by hand: a callback not yet dialled is withdrawn (a ringing agent is freed).
        withdrawn = followup_calls.withdraw(context.runtime(), call_sid)
        context.audit_log().record(
            actor,
            "followup.close",
            call_sid,
            before=_audited(before),
            after={
                **_audited(before),
                "closed": True,
                "note": note.strip(),
                "task": "withdrawn" if withdrawn else before.task,
            },
            now=now,
        )
    return changed


def _audited(follow_up: FollowUp) -> dict[str, Any]:
    """What the audit log keeps of a follow-up (the masked number, never the number)."""
    return {
        "caller": follow_up.caller_masked,
        "area": follow_up.area,
        "agent": follow_up.agent,
        "closed": follow_up.closed,
        "task": follow_up.task,
    }


# --- console pages ----------------------------------------------------------------------------


@bp.get("/ops/followups")
@require(*SUPERVISORS)
def page() -> str:
    """Open follow-ups, newest first, numbers masked, each with a close form."""
    return render_template(
        "ops/followups.html", followups=listed(), include_closed=_include_closed()
    )


@bp.get("/ops/followups/<call>")
@require(*SUPERVISORS)
def page_one(call: str) -> str:
    """One follow-up with the number to call back (the showing is audited)."""
    found = number(auth.actor(), call)
    return render_template("ops/followup.html", followup=found.public(), number=found.caller)


@bp.post("/ops/followups/<call>/close")
@require(*SUPERVISORS)
def page_close(call: str) -> Response:
    """Close a follow-up from the page."""
    changed = close(auth.actor(), call, request.form.get("note", ""))
    flash(word("fu_closed" if changed else "fu_already_closed"), "ok")
    return redirect(url_for("ops_followups.page"), code=303)


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/followups")
@require(*SUPERVISORS)
def api_list() -> Response:
    """Follow-ups newest first (?closed=1 for closed ones too), numbers masked."""
    return jsonify({"followups": listed()})


@bp.get("/api/v1/followups/<call>/number")
@require(*SUPERVISORS)
def api_number(call: str) -> Response:
    """The number to call back for one follow-up; every showing is audited."""
    found = number(auth.actor(), call)
    return jsonify({**found.public(), "number": found.caller})


@bp.post("/api/v1/followups/<call>/close")
@require(*SUPERVISORS)
def api_close(call: str) -> Response:
    """Close a follow-up: {"note": "what was done"}."""
    changed = close(auth.actor(), call, api.body().get("note"))
    return jsonify({"call": call, "closed": True, "changed": changed})
