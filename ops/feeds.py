"""Calendar feeds: each agent's shifts as iCalendar, for a phone's or a desk calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify

from ops import auth, context, staffing
from ops.auth import OPS_ROLES
from ops.errors import OpsError
from ops.ical import shifts_calendar

bp = Blueprint("ops_feeds", __name__, url_prefix="/ops")
auth.install(bp, anonymous_forms=False)


@bp.errorhandler(OpsError)
def _error(error: OpsError) -> tuple[Response, int]:
    """Calendar clients get a plain status and reason, not a sign-in page."""
    return jsonify(error.body()), error.status


@bp.get("/agents/<agent_id>/shifts.ics")
def shifts(agent_id: str) -> Response:
    """An agent's shifts over the next four weeks (token or session; staff or the agent)."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    agent = staffing.agent_or_404(staffing.current_roster(), agent_id)
    now = datetime.fromtimestamp(context.now(), UTC)
    today = now.astimezone(ZoneInfo(agent.timezone)).date()
    text = shifts_calendar(agent, today, stamp=now)
    return Response(
        text,
        mimetype="text/calendar",
        headers={"Content-Disposition": f"inline; filename={agent_id}-shifts.ics"},
    )
