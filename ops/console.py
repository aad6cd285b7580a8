"""The ops console: roster grid, agents, coverage, hours, wallboard, alerts, incidents, audit."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from ops import accounts, auth, monitoring, opening, pages, planning, staffing
from ops.auth import OPS_ROLES, SUPERVISORS, require
from ops.errors import Invalid
from ops.i18n import word
from routing.hours import DAY_IDS

bp = Blueprint(
    "ops_console",
    __name__,
    url_prefix="/ops",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
pages.install(bp)


def _saved(anchor: str = "") -> Response:
    """Go back to the page the form was on, with a short confirmation."""
    flash(word("saved"), "ok")
    return redirect(pages.back() + anchor, code=303)


@bp.get("/")
@require()
def home() -> Response:
    """Each role's first page."""
    role = auth.user().role
    target = {"agent": "ops_workspace.desk_page", "supervisor": "ops_console.wallboard"}
    return redirect(url_for(target.get(role, "ops_console.roster")))


@bp.get("/roster")
@require(*OPS_ROLES)
def roster() -> str:
    """The week grid: one row per agent, one column per weekday, shifts editable in place."""
    current = staffing.current_roster()
    grid = {
        agent.id: {
            day: [s for s in staffing.shifts_of(agent) if s["day"] == day] for day in DAY_IDS
        }
        for agent in current.agents
    }
    return render_template(
        "ops/roster.html", roster=current, grid=grid, days=DAY_IDS, picked=request.args
    )


@bp.post("/roster/shifts")
@require(*OPS_ROLES)
def add_shift() -> Response:
    """Add a weekly shift picked in the grid."""
    form = request.form
    staffing.add_shift(
        auth.actor(), form.get("agent", ""), form.get("day"), form.get("start"), form.get("end")
    )
    return _saved(f"#agent-{form.get('agent', '')}")


@bp.post("/roster/shifts/remove")
@require(*OPS_ROLES)
def remove_shift() -> Response:
    """Remove a weekly shift from the grid."""
    staffing.remove_shift(
        auth.actor(), request.form.get("agent", ""), request.form.get("shift", "")
    )
    return _saved(f"#agent-{request.form.get('agent', '')}")


@bp.post("/roster/import")
@require(*OPS_ROLES)
def import_roster() -> Response:
    """Import a roster file (YAML or CSV by its name); the box forces one that leaves gaps."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid("choose a YAML or CSV file", field="file")
    fmt = "csv" if upload.filename.lower().endswith(".csv") else "yaml"
    force = staffing.parse_force(request.form.get("force"))
    done = staffing.import_roster(auth.actor(), upload.read().decode("utf-8-sig"), fmt, force=force)
    if done.forced:
        # Forced past gaps: say so as loudly as a refusal would (the audit log keeps them all).
        flash(word("import_forced", count=len(done.gaps)), "error")
        for gap in done.gaps[:20]:
            flash(gap.describe(), "error")
    return _saved()


@bp.get("/roster/export.<fmt>")
@require(*OPS_ROLES)
def export_roster(fmt: str) -> Response:
    """Download the roster as YAML or CSV."""
    text = staffing.export(fmt)
    kind = "text/csv" if fmt == "csv" else "application/yaml"
    disposition = f"attachment; filename=roster.{fmt}"
    return Response(text, mimetype=kind, headers={"Content-Disposition": disposition})


@bp.get("/agents")
@require(*OPS_ROLES)
def agents() -> str:
    """Agents with languages, skills, crisis training and presence."""
    views = [staffing.agent_view(agent) for agent in staffing.current_roster().agents]
    return render_template("ops/agents.html", agents=views)


@bp.post("/agents")
@require(*OPS_ROLES)
def add_agent() -> Response:
    """Add an agent from the form."""
    staffing.add_agent(auth.actor(), {"id": request.form.get("id", ""), **_agent_form()})
    return _saved()


@bp.post("/agents/<agent_id>")
@require(*OPS_ROLES)
def update_agent(agent_id: str) -> Response:
    """Save an agent's row."""
    staffing.update_agent(auth.actor(), agent_id, _agent_form())
    return _saved(f"#agent-{agent_id}")


@bp.post("/agents/<agent_id>/presence")
@require(*OPS_ROLES)
def presence(agent_id: str) -> Response:
    """Set an agent's presence for them (someone without a computer, say)."""
    staffing.set_presence(auth.actor(), agent_id, request.form.get("presence"))
    return _saved(f"#agent-{agent_id}")


@bp.post("/agents/<agent_id>/remove")
@require(*OPS_ROLES)
def remove_agent(agent_id: str) -> Response:
    """Take an agent off the roster."""
    staffing.remove_agent(auth.actor(), agent_id)
    return _saved()


def _agent_form() -> dict[str, object]:
    """An agent's fields from the form: skills typed as "labor:3 contract:2"."""
    form = request.form
    skills: dict[str, object] = {}
    for item in form.get("skills", "").replace(",", " ").split():
        area, _, level = item.partition(":")
        skills[area] = int(level) if level.isdigit() else level
    fields: dict[str, object] = {
        "name": form.get("name", ""),
        "phone": form.get("phone", ""),
        "languages": form.getlist("languages"),
        "skills": skills,
        "crisis_trained": form.get("crisis_trained") == "on",
    }
    return fields


@bp.get("/coverage")
@require(*OPS_ROLES)
def coverage() -> str:
    """Coverage for the next 14 days: one day's hour grid and every gap."""
    found = planning.coverage_now(14)
    picked = request.args.get("day")
    try:
        day = date.fromisoformat(picked) if picked else found.days[0]
    except ValueError:
        raise Invalid("expected a date as YYYY-MM-DD", field="day") from None
    if day not in found.days:
        day = found.days[0]
    return render_template("ops/coverage.html", coverage=found, day=day)


@bp.get("/hours")
@require(*OPS_ROLES)
def hours() -> str:
    """Each area's hours and holiday rule, editable, and the public holidays coming up."""
    return render_template(
        "ops/hours.html",
        areas=opening.areas_view(),
        coming=opening.coming_holidays(),
        days=DAY_IDS,
        special_hours=opening.SPECIAL_HOURS,
        holiday_days=opening.HOLIDAY_DAYS,
    )


@bp.post("/hours/<area>")
@require(*OPS_ROLES)
def save_hours(area: str) -> Response:
    """Save an area's weekly hours and holiday rule from its form."""
    opening.save(auth.actor(), area, opening.form_document(request.form))
    return _saved(f"#area-{area}")


@bp.post("/hours/<area>/reset")
@require(*OPS_ROLES)
def reset_hours(area: str) -> Response:
    """Put an area back on the hotline config's hours."""
    opening.reset(auth.actor(), area)
    return _saved(f"#area-{area}")


@bp.get("/wallboard")
@require(*SUPERVISORS)
def wallboard() -> str:
    """Live queues and agents, refreshed by the page itself, with alerts as they happen."""
    return render_template(
        "ops/wallboard.html", board=monitoring.wallboard(), alerts=monitoring.alerts()
    )


@bp.get("/alerts")
@require(*SUPERVISORS)
def alerts() -> str:
    """Recent supervisor alerts."""
    return render_template("ops/alerts.html", alerts=monitoring.alerts(limit=200))


@bp.get("/incidents")
@require(*SUPERVISORS)
def incidents() -> str:
    """Crisis incidents of the last week."""
    return render_template("ops/incidents.html", incidents=monitoring.incident_list(7))


@bp.get("/audit")
@require(*OPS_ROLES)
def audit() -> str:
    """The audit log, newest first."""
    entries = monitoring.audit_entries(100, request.args.get("before"))
    return render_template("ops/audit.html", entries=entries)


@bp.get("/users")
@require(*SUPERVISORS)
def users() -> str:
    """Console users."""
    return render_template("ops/users.html", users=accounts.all_users())


@bp.post("/users")
@require(*SUPERVISORS)
def add_user() -> Response:
    """Create a user from the form."""
    accounts.add_user(auth.actor(), request.form.to_dict())
    return _saved()


@bp.post("/users/<name>/remove")
@require(*SUPERVISORS)
def remove_user(name: str) -> Response:
    """Delete a user."""
    accounts.remove_user(auth.actor(), name)
    return _saved()
