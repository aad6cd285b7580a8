"""Listen-in: a supervisor joins a live call from the wallboard, by phone.

The wallboard lists the calls in progress (caller and agent in the reservation's conference);
a supervisor rings their own phone into one as listen (muted), coach (heard by the agent only)
or barge (heard by both), switches mode while on, and leaves. The pages' forms
(`/ops/calls/<call_sid>/listen-in...`) and the JSON API (`/api/v1/live-calls`,
`/api/v1/calls/<call_sid>/listen-in`) reach the same services in `queues.listen_in`, for
supervisors only; each start, switch and end is audited. The supervisor's phone is the roster's
number of the supervisor whose id is their console user name; it never appears in a page, an
answer, a URL or a log.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, flash, jsonify, redirect, request, url_for

from ops import api, auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Conflict, Forbidden, Invalid, NotFound, OpsError
from ops.i18n import word
from queues.listen_in import ListenInError, ListenIns, leave, start, switch

bp = features.blueprint("ops_listen_in")

# ListenInError's statuses as the console's errors.
_REFUSALS: dict[int, type[OpsError]] = {403: Forbidden, 404: NotFound, 409: Conflict, 422: Invalid}
# Call SIDs are 34 characters; a longer one is not one.
MAX_SID = 64


def live_calls() -> dict[str, Any]:
    """The calls agents are on now, each with the supervisor on it (if any), and a signature."""
    rows = []
    sessions = ListenIns(context.redis())
    reservations = context.reservations()
    for status in context.board().all():
        if status.activity != "talking" or not status.reservation:
            continue
        reservation = reservations.get(status.reservation)
        if reservation is None or reservation.state != "accepted":
            continue
        session = sessions.get(reservation.call_sid)
        rows.append(
            {
                "call_sid": reservation.call_sid,
                "agent": status.id,
                "agent_name": status.name,
                "area": reservation.area,
                "language": reservation.language,
                "since": reservation.created_at,
                "listen_in": session.public() if session is not None else None,
            }
        )
    rows.sort(key=lambda row: row["since"])
    return {"calls": rows, "signature": _signature(rows)}


def _signature(rows: list[dict[str, Any]]) -> str:
    """What changes when the list would look different: calls, and each session's state."""
    parts = []
    for row in rows:
        session = row["listen_in"] or {}
        parts.append(
            f"{row['call_sid']}:{session.get('session', '')}:{session.get('state', '')}:"
            f"{session.get('mode', '')}:{session.get('reason') or ''}"
        )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _act(action: str, call_sid: str, mode: object = None) -> dict[str, Any]:
    """Run one listen-in service for the signed-in supervisor; refusals as console errors."""
    who = auth.ensure(*SUPERVISORS)
    call_sid = call_sid[:MAX_SID]
    rt = context.runtime()
    options = {"supervisor": who.name, "actor": auth.actor(), "now": context.now()}
    try:
        if action == "start":
            session = start(rt, call_sid, mode=str(mode), **options)
        elif action == "mode":
            session = switch(rt, call_sid, mode=str(mode), **options)
        else:
            session = leave(rt, call_sid, **options)
    except ListenInError as error:
        refusal = _REFUSALS.get(error.status, Invalid)
        raise refusal(error.message, field=error.field) from None
    return session.public()


# --- console pages ----------------------------------------------------------------------------


@bp.post("/ops/calls/<call_sid>/listen-in")
@require(*SUPERVISORS)
def page_start(call_sid: str) -> Response:
    """Ring the supervisor's phone into a call in the mode asked for."""
    return _page_answer("start", call_sid, request.form.get("mode"))


@bp.post("/ops/calls/<call_sid>/listen-in/mode")
@require(*SUPERVISORS)
def page_mode(call_sid: str) -> Response:
    """Switch the supervisor's mode on a call they are on."""
    return _page_answer("mode", call_sid, request.form.get("mode"))


@bp.post("/ops/calls/<call_sid>/listen-in/leave")
@require(*SUPERVISORS)
def page_leave(call_sid: str) -> Response:
    """Take the supervisor off a call."""
    return _page_answer("leave", call_sid)


def _page_answer(action: str, call_sid: str, mode: object = None) -> Response:
    """Do it, then back to the wallboard with what happened or why it could not be done."""
    try:
        session = _act(action, call_sid, mode)
    except (Conflict, Forbidden, NotFound, Invalid) as error:
        flash(error.message, "error")
    else:
        flash(_done_word(action, session), "ok")
    return redirect(url_for("ops_monitoring.page_wallboard") + "#live-calls")


def _done_word(action: str, session: dict[str, Any]) -> str:
    """The console's words for what was done."""
    if action == "start":
        return word("listen_in_ringing_you")
    if action == "mode":
        return word("listen_in_now", mode=word(f"mode_{session['mode']}"))
    return word("listen_in_left")


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/live-calls")
@require(*SUPERVISORS)
def api_live_calls() -> Response:
    """The calls agents are on now, and the supervisor on each."""
    return jsonify(live_calls())


@bp.get("/api/v1/calls/<call_sid>/listen-in")
@require(*SUPERVISORS)
def api_session(call_sid: str) -> Response:
    """The supervisor on a call (the latest session, live or not)."""
    session = ListenIns(context.redis()).get(call_sid[:MAX_SID])
    if session is None:
        raise NotFound("no supervisor has joined this call", field="call_sid")
    return jsonify(session.public())


@bp.post("/api/v1/calls/<call_sid>/listen-in")
@require(*SUPERVISORS)
def api_start(call_sid: str) -> tuple[Response, int]:
    """Ring the supervisor's phone into a call: listen, coach or barge."""
    body = api.body()
    return jsonify(_act("start", call_sid, body.get("mode", "listen"))), 202


@bp.patch("/api/v1/calls/<call_sid>/listen-in")
@require(*SUPERVISORS)
def api_mode(call_sid: str) -> Response:
    """Switch the supervisor's mode on a call they are on."""
    body = api.body()
    return jsonify(_act("mode", call_sid, body.get("mode")))


@bp.delete("/api/v1/calls/<call_sid>/listen-in")
@require(*SUPERVISORS)
def api_leave(call_sid: str) -> Response:
    """Take the supervisor off a call."""
    return jsonify(_act("leave", call_sid))
