"""The agent's desk: the call ringing or in progress for an agent, notes and flags on it.

One blueprint holds the agent's console page (`/ops/desk/`, with presence buttons) and the JSON
API on an agent's call (`/api/v1/agents/<agent_id>/call...`); an agent acts only for themselves,
and supervisors may read a call and flag it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from ops import api, auth, context, earlier_calls, features, staffing
from ops.auth import SUPERVISORS, require
from ops.errors import Conflict, Invalid, NotFound
from ops.i18n import current_language, word
from queues import events, transfers
from queues.alerts import EscalationError, escalate
from queues.calls import CallStore
from queues.listen_in import for_agent
from queues.notes import FLAGS, MAX_NOTE

# Events looked back through for the agent's last answered call, once the reservation is gone.
LOOK_BACK = 500

bp = features.blueprint("ops_desk")


def current_call(agent_id: str) -> dict[str, Any]:
    """The call offered to or taken by an agent: area, language, wait and intake summary, the
    note and outcome, and the caller's earlier calls as the viewer's role may see them."""
    status = context.board().get(agent_id)
    if status is None:
        raise NotFound(f"no agent {agent_id!r} on the roster", field="agent_id")
    rid = status.reservation or _last_reservation(agent_id)
    reservation = context.reservations().get(rid) if rid else None
    if reservation is None or reservation.agent_id != agent_id:
        return {"agent_id": agent_id, "status": status.status, "call": None}
    record = context.calls().get(reservation.call_sid)
    queued = context.waiting_room().get(reservation.call_sid)
    arrival = queued.arrival if queued else reservation.created_at
    ringing = reservation.state == "offered"
    note = context.notes().get(reservation.call_sid)
    return {
        "agent_id": agent_id,
        "status": status.status,
        "call": {
            "reservation": reservation.id,
            "call_sid": reservation.call_sid,
            "state": "ringing" if ringing else reservation.state,
            "current": bool(status.reservation),
            "area": reservation.area or (record.area if record else ""),
            "language": reservation.language or (record.language if record else ""),
            "callback": reservation.kind == "callback",
            "wait_s": int(
                max(0.0, (context.now() if ringing else reservation.created_at) - arrival)
            ),
            "summary": record.summary if record else "",
            "note": note.note,
            "flags": list(note.flags),
            # Listen-in: "listen", "coach" or "barge" while a supervisor is on the call.
            "supervisor": _supervisor_on(reservation.call_sid) if status.reservation else None,
            "outcome": note.outcome,
            # The call's latest transfer that concerns this agent (from them or to them).
            "transfer": _transfer_seen_by(agent_id, reservation.call_sid),
            "history": earlier_calls.shown_to(
                auth.user(), reservation.call_sid, record.caller if record else ""
            ),
        },
    }


def _supervisor_on(call_sid: str) -> str | None:
    """The mode of a supervisor on the call, when the config says agents are told; else None."""
    if not context.config().listen_in.tell_agent:
        return None
    session = for_agent(context.redis(), call_sid)
    return session.mode if session is not None else None


def _transfer_seen_by(agent_id: str, call_sid: str) -> dict[str, Any] | None:
    """The call's latest transfer, if this agent made or took it (the desk's line on it)."""
    transfer = transfers.Transfers(context.redis()).get(call_sid)
    if transfer is None or agent_id not in (transfer.from_agent, transfer.to_agent):
        return None
    return transfer.public()


def transfer_call(
    actor: str, agent_id: str, reservation_id: object, fields: dict[str, Any]
) -> dict[str, Any]:
    """Transfer the agent's call to an area or a named agent, warm or cold; audited.

    The note so far is kept first, so the next agent's whisper reads it. A transfer that
    cannot be made (the carrier refused, Redis down, the agent busy) is a 409 with the reason;
    the caller stays with the agent.
    """
    mode, area, target = fields.get("mode"), fields.get("area") or "", fields.get("agent") or ""
    if mode not in ("warm", "cold"):
        raise Invalid("mode must be warm or cold", field="mode")
    if not isinstance(area, str) or not isinstance(target, str) or not (area or target):
        raise Invalid("give an area or an agent", field="area")
    if area and area not in context.config().areas:
        raise Invalid(f"no area {area!r}", field="area")
    if target and (target == agent_id or context.board().get(target) is None):
        raise Invalid(f"no other agent {target!r} on the roster", field="agent")
    call_sid = _own_call(agent_id, reservation_id)
    note = fields.get("note")
    if isinstance(note, str) and note.strip():
        write_note(agent_id, reservation_id, note)
    started = transfers.start(
        context.runtime(), str(reservation_id), mode=mode, area=area, agent=target
    )
    transfers.audit(
        context.runtime(), actor, str(reservation_id), started, mode=mode, area=area, agent=target
    )
    if not started.ok:
        raise Conflict(f"not transferred: {started.reason}", field="reservation")
    return {"reservation": reservation_id, "call_sid": call_sid, "mode": mode, "area": area,
            "agent": target, "transfer": started.transfer_id}  # fmt: skip


def _last_reservation(agent_id: str) -> str:
    """The agent's latest answered reservation from the event stream ('' when none)."""
    for event in events.recent(context.redis(), LOOK_BACK):
        if event.get("kind") == "accepted" and event.get("agent") == agent_id:
            return event.get("reservation", "")
    return ""


def _own_call(agent_id: str, reservation_id: object) -> str:
    """The call of a reservation the agent held; NotFound for anyone else's."""
    if not isinstance(reservation_id, str) or not reservation_id:
        raise Invalid("missing reservation id", field="reservation")
    reservation = context.reservations().get(reservation_id)
    if reservation is None or reservation.agent_id != agent_id:
        raise NotFound(f"agent {agent_id!r} has no call {reservation_id!r}", field="reservation")
    return reservation.call_sid


def write_note(
    agent_id: str, reservation_id: object, note: object, outcome: object = None
) -> dict[str, Any]:
    """Keep the agent's short wrap-up note on a call they took, with its outcome code if given."""
    if not isinstance(note, str):
        raise Invalid("expected text", field="note")
    if len(note) > MAX_NOTE:
        raise Invalid(f"at most {MAX_NOTE} characters", field="note")
    call_sid = _own_call(agent_id, reservation_id)
    given = outcome not in (None, "")
    if given:
        # Checked first: an unknown code refuses the whole wrap-up, the note not half-saved.
        earlier_calls.known_outcome(outcome)
    context.notes().write(call_sid, agent_id, note.strip(), context.now())
    if given:
        # After the note: a follow-up's callback task reads it as the reason for the call.
        earlier_calls.give_outcome(agent_id, call_sid, outcome)
    else:
        earlier_calls.written(call_sid)
    done = {"reservation": reservation_id, "note": note.strip()}
    return done | ({"outcome": outcome} if outcome not in (None, "") else {})


def set_outcome(agent_id: str, reservation_id: object, outcome: object) -> dict[str, Any]:
    """Give a call the agent took its outcome code (config `outcomes:`; unknown: 400)."""
    call_sid = _own_call(agent_id, reservation_id)
    return {
        "reservation": reservation_id,
        "outcome": earlier_calls.give_outcome(agent_id, call_sid, outcome),
    }


def flag_call(agent_id: str, reservation_id: object, flag: object) -> dict[str, Any]:
    """Flag a call as heavy or as a crisis: stored once, and an event tells supervisors."""
    if flag not in FLAGS:
        raise Invalid(f"flag must be one of {', '.join(FLAGS)}", field="flag")
    call_sid = _own_call(agent_id, reservation_id)
    created = context.notes().flag(call_sid, agent_id, str(flag), context.now())
    # Either flag weighs on the agent: wellbeing routing reads it when wrap-up starts.
    CallStore(context.redis()).update(call_sid, heavy="1")
    escalated = None
    if flag == "crisis":
        # The crisis button brings the on-call supervisor into the call, caller kept on.
        try:
            escalated = escalate(call_sid, by_agent=agent_id, now=context.now()).added
        except EscalationError as error:
            escalated = f"not escalated: {error}"
    return {"reservation": reservation_id, "flag": flag, "new": created, "escalated": escalated}


# --- console page -----------------------------------------------------------------------------


def _my_agent_id() -> str:
    """The roster agent the signed-in agent user is."""
    return auth.user().agent_id


def _back_to_desk() -> Response:
    """Back to the desk page after a form."""
    return redirect(url_for("ops_desk.page"), code=303)


@bp.get("/ops/desk/")
@require("agent")
def page() -> str:
    """The desk: presence buttons, the current call, the caller's earlier calls."""
    outcomes = earlier_calls.choices(current_language())
    return render_template(
        "ops/desk.html",
        view=current_call(_my_agent_id()),
        outcomes=outcomes,
        outcome_labels={choice["code"]: choice["label"] for choice in outcomes},
        # Where a call may be transferred: every area, and every other agent on the roster.
        transfer_areas=list(context.config().areas),
        transfer_agents=[a for a in context.board().all() if a.id != _my_agent_id()],
    )


@bp.post("/ops/desk/presence")
@require("agent")
def page_presence() -> Response:
    """Set my presence."""
    staffing.set_presence(auth.actor(), _my_agent_id(), request.form.get("presence"))
    return _back_to_desk()


@bp.post("/ops/desk/note")
@require("agent")
def page_note() -> Response:
    """Save my wrap-up note on the call."""
    write_note(
        _my_agent_id(),
        request.form.get("reservation"),
        request.form.get("note", ""),
        request.form.get("outcome") or None,
    )
    flash(word("saved"), "ok")
    return _back_to_desk()


@bp.post("/ops/desk/transfer")
@require("agent")
def page_transfer() -> Response:
    """Transfer my call: to an area or a named agent, warm or cold, with the note so far."""
    try:
        transfer_call(auth.actor(), _my_agent_id(), request.form.get("reservation"), request.form)
    except Conflict as refused:
        flash(word("transfer_refused", reason=refused.message), "error")
        return _back_to_desk()
    flash(word("transfer_started"), "ok")
    return _back_to_desk()


@bp.post("/ops/desk/flag")
@require("agent")
def page_flag() -> Response:
    """Flag the call heavy or crisis."""
    flag_call(_my_agent_id(), request.form.get("reservation"), request.form.get("flag"))
    flash(word("saved"), "ok")
    return _back_to_desk()


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/agents/<agent_id>/call")
def api_call(agent_id: str) -> Response:
    """The call ringing for or taken by an agent, with its intake summary."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    return jsonify(current_call(agent_id))


@bp.post("/api/v1/agents/<agent_id>/call/note")
def api_note(agent_id: str) -> Response:
    """The agent's wrap-up note on a call they took: {reservation, note}."""
    auth.ensure_for_agent(agent_id)
    fields = api.body()
    return jsonify(
        write_note(agent_id, fields.get("reservation"), fields.get("note"), fields.get("outcome"))
    )


@bp.post("/api/v1/agents/<agent_id>/call/outcome")
def api_outcome(agent_id: str) -> Response:
    """The outcome code of a call the agent took: {reservation, outcome}; unknown codes 400."""
    auth.ensure_for_agent(agent_id)
    fields = api.body()
    return jsonify(set_outcome(agent_id, fields.get("reservation"), fields.get("outcome")))


@bp.post("/api/v1/agents/<agent_id>/call/transfer")
def api_transfer(agent_id: str) -> Response:
    """Transfer the agent's call: {reservation, mode: warm|cold, area and/or agent, note}."""
    auth.ensure_for_agent(agent_id)
    return jsonify(transfer_call(auth.actor(), agent_id, api.body().get("reservation"), api.body()))


@bp.post("/api/v1/agents/<agent_id>/call/flag")
def api_flag(agent_id: str) -> Response:
    """Flag a call heavy or crisis: {reservation, flag}."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    fields = api.body()
    return jsonify(flag_call(agent_id, fields.get("reservation"), fields.get("flag")))
