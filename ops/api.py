"""The JSON API under /api/v1/: everything the consoles do, for ops tools and scripts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ops import accounts, auth, desk, monitoring, opening, planning, staffing
from ops.auth import OPS_ROLES, SUPERVISORS, require
from ops.errors import Invalid, OpsError, TooManyAttempts, Unavailable
from ops.openapi import body_schema, document
from ops.schema import problems

bp = Blueprint("ops_api", __name__, url_prefix="/api/v1")
auth.install(bp, anonymous_forms=False)


@bp.errorhandler(OpsError)
def error_answer(error: OpsError) -> tuple[Response, int]:
    """Answer a refused request with a JSON error naming the field at fault."""
    response = jsonify(error.body())
    if isinstance(error, TooManyAttempts | Unavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotline"'
    return response, error.status


def body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (form fields accepted too), checked against its schema."""
    data = request.get_json(silent=True)
    form = data is None and bool(request.form)
    if form:
        data = request.form.to_dict()
        data.pop(auth.CSRF_FIELD, None)
    if data is None and optional and not request.get_data():
        data = {}
    if not isinstance(data, dict):
        raise Invalid("expected a JSON object", field="body")
    checked(data, names_only=form)
    return data


def checked(data: dict[str, Any], *, names_only: bool = False) -> None:
    """Refuse a body its operation's schema in the OpenAPI document does not allow (422).

    A form's values are all text, so a form is checked for its field names only; the services
    check every value again either way.
    """
    rule = request.url_rule.rule if request.url_rule else ""
    schema = body_schema(rule, request.method)
    if schema is None:
        return
    found = problems(schema, data, names_only=names_only)
    if found:
        first = found[0]
        raise Invalid(first.message, field=first.field, problems=[p.public() for p in found])


def _int_arg(name: str, default: int) -> int:
    """An integer query parameter."""
    value = request.args.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid("expected a whole number", field=name) from None


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(document())


@bp.get("/me")
@require()
def me() -> Response:
    """The user behind the request."""
    return jsonify(auth.user().public())


@bp.get("/agents")
@require(*OPS_ROLES)
def agents() -> Response:
    """Every agent with skills, shifts and live status."""
    roster = staffing.current_roster()
    return jsonify({"agents": [staffing.agent_view(agent) for agent in roster.agents]})


@bp.post("/agents")
@require(*OPS_ROLES)
def add_agent() -> tuple[Response, int]:
    """Add an agent to the roster."""
    agent = staffing.add_agent(auth.actor(), body())
    return jsonify(staffing.agent_view(agent)), 201


@bp.get("/agents/<agent_id>")
def agent(agent_id: str) -> Response:
    """One agent."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    found = staffing.agent_or_404(staffing.current_roster(), agent_id)
    return jsonify(staffing.agent_view(found))


@bp.patch("/agents/<agent_id>")
@require(*OPS_ROLES)
def update_agent(agent_id: str) -> Response:
    """Change an agent's name, phone, languages, skills, crisis training or PIN."""
    return jsonify(staffing.agent_view(staffing.update_agent(auth.actor(), agent_id, body())))


@bp.delete("/agents/<agent_id>")
@require(*OPS_ROLES)
def remove_agent(agent_id: str) -> tuple[str, int]:
    """Take an agent off the roster."""
    staffing.remove_agent(auth.actor(), agent_id)
    return "", 204


@bp.post("/agents/<agent_id>/presence")
def presence(agent_id: str) -> Response:
    """Set an agent's presence: available, on_break or offline."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    return jsonify(staffing.set_presence(auth.actor(), agent_id, body().get("presence")))


@bp.get("/agents/<agent_id>/shifts")
def shifts(agent_id: str) -> Response:
    """An agent's weekly shifts."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    found = staffing.agent_or_404(staffing.current_roster(), agent_id)
    return jsonify({"agent_id": agent_id, "shifts": staffing.shifts_of(found)})


@bp.post("/agents/<agent_id>/shifts")
@require(*OPS_ROLES)
def add_shift(agent_id: str) -> tuple[Response, int]:
    """Add a weekly shift: {day, start, end}; an end before the start runs overnight."""
    fields = body()
    shift = staffing.add_shift(
        auth.actor(), agent_id, fields.get("day"), fields.get("start"), fields.get("end")
    )
    return jsonify({"id": staffing.shift_id(shift)}), 201


@bp.delete("/agents/<agent_id>/shifts/<shift_id>")
@require(*OPS_ROLES)
def remove_shift(agent_id: str, shift_id: str) -> tuple[str, int]:
    """Remove a weekly shift."""
    staffing.remove_shift(auth.actor(), agent_id, shift_id)
    return "", 204


@bp.get("/agents/<agent_id>/call")
def call(agent_id: str) -> Response:
    """The call ringing for or taken by an agent, with its intake summary."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    return jsonify(desk.current_call(agent_id))


@bp.post("/agents/<agent_id>/call/note")
def note(agent_id: str) -> Response:
    """The agent's wrap-up note on a call they took: {reservation, note}."""
    auth.ensure_for_agent(agent_id)
    fields = body()
    return jsonify(desk.write_note(agent_id, fields.get("reservation"), fields.get("note")))


@bp.post("/agents/<agent_id>/call/flag")
def flag(agent_id: str) -> Response:
    """Flag a call heavy or crisis: {reservation, flag}."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    fields = body()
    return jsonify(desk.flag_call(agent_id, fields.get("reservation"), fields.get("flag")))


@bp.get("/roster")
@require(*OPS_ROLES)
def roster() -> Response:
    """The roster as YAML (default) or CSV (?format=csv)."""
    fmt = request.args.get("format", "yaml")
    text = staffing.export(fmt)
    kind = "text/csv" if fmt == "csv" else "application/yaml"
    return Response(
        text, mimetype=kind, headers={"Content-Disposition": f"inline; filename=roster.{fmt}"}
    )


@bp.put("/roster")
@require(*OPS_ROLES)
def import_roster() -> Response:
    """Replace the roster with a YAML or CSV document; ?force=1 applies one with gaps, audited."""
    fmt = request.args.get("format") or ("csv" if "csv" in (request.mimetype or "") else "yaml")
    force = staffing.parse_force(request.args.get("force"))
    text = request.get_data(as_text=True)
    done = staffing.import_roster(auth.actor(), text, fmt, force=force)
    return jsonify(staffing.import_view(done))


@bp.get("/coverage")
@require(*OPS_ROLES)
def coverage() -> Response:
    """Coverage of each hour, area and language over the coming days, with the gaps."""
    return jsonify(planning.coverage_json(_int_arg("days", 14)))


@bp.get("/hours")
@require(*OPS_ROLES)
def hours() -> Response:
    """Each area's effective hours and holiday rule, and the public holidays coming up."""
    return jsonify({"areas": opening.areas_view(), "holidays": opening.coming_holidays()})


@bp.put("/hours/<area>")
@require(*OPS_ROLES)
def set_hours(area: str) -> Response:
    """Set an area's hours: {"weekly": {...}, "holidays": {...} or null}; a field left out stays."""
    return jsonify(opening.save(auth.actor(), area, body()))


@bp.delete("/hours/<area>")
@require(*OPS_ROLES)
def reset_hours(area: str) -> Response:
    """Put an area back on the hotline config's hours."""
    return jsonify(opening.reset(auth.actor(), area))


@bp.get("/wallboard")
@require(*SUPERVISORS)
def wallboard() -> Response:
    """Live figures: waiting per area, longest wait, agents by state, answer rate today."""
    return jsonify(monitoring.wallboard())


@bp.get("/alerts")
@require(*SUPERVISORS)
def alerts() -> Response:
    """Alerts (crisis, paused agents, over-cap heavy calls, flags) after a stream id."""
    return jsonify(monitoring.alerts(request.args.get("after")))


@bp.get("/incidents")
@require(*SUPERVISORS)
def incidents() -> Response:
    """Crisis incidents of the last days (?days=7)."""
    return jsonify({"incidents": monitoring.incident_list(_int_arg("days", 7))})


@bp.get("/audit")
@require(*OPS_ROLES)
def audit() -> Response:
    """The audit log, newest first (?limit=100&before=<id> pages back)."""
    entries = monitoring.audit_entries(_int_arg("limit", 100), request.args.get("before"))
    return jsonify({"entries": entries})


@bp.get("/users")
@require(*SUPERVISORS)
def users() -> Response:
    """Every console user."""
    return jsonify({"users": accounts.all_users()})


@bp.post("/users")
@require(*SUPERVISORS)
def add_user() -> tuple[Response, int]:
    """Create a user: {name, role, password, agent_id}."""
    return jsonify(accounts.add_user(auth.actor(), body()).public()), 201


@bp.delete("/users/<name>")
@require(*SUPERVISORS)
def remove_user(name: str) -> tuple[str, int]:
    """Delete a user and their tokens."""
    accounts.remove_user(auth.actor(), name)
    return "", 204


@bp.delete("/users/<name>/sessions")
def end_sessions(name: str) -> tuple[str, int]:
    """Sign a user out of every console session (oneself, or anyone for ops and supervisors)."""
    auth.ensure_self_or(name, *OPS_ROLES)
    accounts.end_sessions(auth.actor(), name)
    return "", 204


@bp.get("/users/<name>/tokens")
def tokens(name: str) -> Response:
    """A user's API tokens with name, expiry and last use (ops and supervisors see anyone's)."""
    auth.ensure_self_or(name, *OPS_ROLES)
    return jsonify({"user": name, "tokens": accounts.tokens_of(name)})


@bp.post("/users/<name>/tokens")
def create_token(name: str) -> tuple[Response, int]:
    """Make a named API token, shown once: for oneself, or by a supervisor for anyone."""
    auth.ensure_self_or(name, *SUPERVISORS)
    # Made by a person at a console: a token that made tokens could outlive its own expiry.
    auth.ensure_session()
    fields = body(optional=True)
    return jsonify({"user": name, **accounts.create_token(auth.actor(), name, fields)}), 201


@bp.delete("/users/<name>/tokens/<token_id>")
def revoke_token(name: str, token_id: str) -> tuple[str, int]:
    """Revoke one API token (one's own, or anyone's for ops and supervisors)."""
    auth.ensure_self_or(name, *OPS_ROLES)
    accounts.revoke_token(auth.actor(), name, token_id)
    return "", 204
