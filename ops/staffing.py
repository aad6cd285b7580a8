"""Staffing: the roster's agents, weekly shifts, presence, import and export, audited.

One blueprint holds the console pages (`/ops/roster`, the week grid, and `/ops/agents`) and the
JSON API (`/api/v1/agents...`, `/api/v1/roster`); both are for ops and supervisors, except that
an agent may read their own record and shifts and set their own presence. Named `staffing`, not
`roster`, so it is not taken for `routing.roster`, the pure parser of roster files it builds on.

Every edit reads the current roster, changes one thing, checks the whole result with the same
parser a roster file goes through, and re-imports it atomically; a lock keeps two consoles from
overwriting each other's edits.

PINs are hashed as soon as they come in (an import, an added or changed agent), so exports carry
only `pin_hash` and the audit log only a short fingerprint of it, never a PIN.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask import Response, flash, jsonify, render_template, request

from ops import api, auth, context, features, pages
from ops.auth import OPS_ROLES, require
from ops.errors import Conflict, Invalid, NotFound
from ops.i18n import word
from queues import keys, rostering
from queues.agents import PRESENCES, UnknownAgent
from queues.rostering import RosterImport, UncoveredRoster
from routing.coverage import NO_SUPERVISOR, StaffingGap
from routing.hours import DAY_IDS, MINUTES_PER_DAY, parse_range
from routing.problems import ProblemsError
from routing.roster import (
    DEFAULT_TIMEZONE,
    Agent,
    Roster,
    Shift,
    agent_document,
    export_roster,
    export_roster_csv,
    hash_agent_pin,
    hash_pins,
    overlaps,
    parse_roster,
)
from routing.yamldoc import dump_yaml

FORMATS = ("yaml", "csv")
_SHIFT_ID = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-(\d{4})-(\d{4})$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$|^24:00$")
EDITABLE_FIELDS = ("name", "phone", "languages", "skills", "crisis_trained", "pin")

bp = features.blueprint("ops_staffing")


# --- reading ----------------------------------------------------------------------------------


def current_roster() -> Roster:
    """The roster as last imported (empty when none was)."""
    text = context.board().roster_text()
    if not text:
        return Roster(())
    return hash_pins(_parse(text, "roster.yaml", accepted=True))


def _parse(text: str, source: str, *, accepted: bool = False) -> Roster:
    """Check a roster document against the hotline's areas and languages."""
    config = context.config()
    return parse_roster(
        text,
        source=source,
        area_ids=config.areas,
        languages=config.languages,
        accepted=accepted,
    )


def agent_or_404(roster: Roster, agent_id: str) -> Agent:
    """Return a roster agent or raise NotFound."""
    agent = roster.agent(agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id!r} on the roster", field="agent_id")
    return agent


def export(fmt: str) -> str:
    """The current roster as YAML or CSV."""
    if fmt not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", field="format")
    roster = current_roster()
    return export_roster(roster) if fmt == "yaml" else export_roster_csv(roster)


# --- shifts -----------------------------------------------------------------------------------


def shift_id(shift: Shift) -> str:
    """A shift's id in URLs: day, start and end clock, such as "sun-2200-0600"."""
    end = shift.end - MINUTES_PER_DAY if shift.end > MINUTES_PER_DAY else shift.end
    return f"{DAY_IDS[shift.weekday]}-{_hhmm(shift.start)}-{_hhmm(end)}"


def _hhmm(minutes: int) -> str:
    """Minutes after midnight as HHMM."""
    return f"{minutes // 60:02d}{minutes % 60:02d}"


def parse_shift(day: object, start: object, end: object) -> Shift:
    """Read a shift from a day id and two clock times; an end before the start runs overnight."""
    if day not in DAY_IDS:
        raise Invalid(f"day must be one of {', '.join(DAY_IDS)}", field="day")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not _CLOCK.match(value.strip()):
            raise Invalid("expected a time of day as HH:MM (00:00 to 24:00)", field=name)
    try:
        first, last = parse_range(f"{start}-{end}")
    except ValueError as error:  # only a start at 24:00 is left to refuse
        raise Invalid(str(error), field="start") from None
    return Shift(DAY_IDS.index(str(day)), first, last)


def parse_shift_id(text: str) -> Shift:
    """Read a shift id back into a shift (NotFound when malformed, as for an unknown id)."""
    found = _SHIFT_ID.match(text)
    if not found:
        raise NotFound(f"no shift {text!r}", field="shift_id")
    day, start, end = found.groups()
    return parse_shift(day, f"{start[:2]}:{start[2:]}", f"{end[:2]}:{end[2:]}")


def add_shift(actor: str, agent_id: str, day: object, start: object, end: object) -> Shift:
    """Add a weekly shift to an agent; Conflict when it overlaps one they already have."""
    shift = parse_shift(day, start, end)
    with _editing():
        roster = current_roster()
        agent = agent_or_404(roster, agent_id)
        # The rule a roster file's shifts are checked by too.
        clash = next((s for s in agent.shifts if overlaps(s, shift)), None)
        if clash is not None:
            raise Conflict(f"overlaps the shift {shift_id(clash)}", field="start")
        shifts = tuple(sorted((*agent.shifts, shift), key=lambda s: (s.weekday, s.start)))
        _replace_agent(actor, "shift.add", roster, agent, replace(agent, shifts=shifts))
    return shift


def remove_shift(actor: str, agent_id: str, shift_key: str) -> None:
    """Remove one weekly shift from an agent."""
    shift = parse_shift_id(shift_key)
    with _editing():
        roster = current_roster()
        agent = agent_or_404(roster, agent_id)
        if shift not in agent.shifts:
            raise NotFound(f"agent {agent_id!r} has no shift {shift_key!r}", field="shift_id")
        shifts = tuple(s for s in agent.shifts if s != shift)
        _replace_agent(actor, "shift.remove", roster, agent, replace(agent, shifts=shifts))


def shifts_of(agent: Agent) -> list[dict[str, Any]]:
    """An agent's weekly shifts as the API shows them."""
    return [
        {
            "id": shift_id(s),
            "day": DAY_IDS[s.weekday],
            "start": _clock(s.start),
            "end": _clock(s.end - MINUTES_PER_DAY if s.end > MINUTES_PER_DAY else s.end),
            "overnight": s.end > MINUTES_PER_DAY,
        }
        for s in agent.shifts
    ]


def _clock(minutes: int) -> str:
    """Minutes after midnight as HH:MM."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- agents -----------------------------------------------------------------------------------


def agent_view(agent: Agent) -> dict[str, Any]:
    """An agent's roster facts with their live status, as the API shows them."""
    status = context.board().get(agent.id)
    return {
        "id": agent.id,
        "name": agent.name,
        "phone": agent.phone,
        "languages": list(agent.languages),
        "skills": dict(agent.skills),
        "crisis_trained": agent.crisis_trained,
        "timezone": agent.timezone,
        "shifts": shifts_of(agent),
        "presence": status.presence if status else "offline",
        "status": status.status if status else "offline",
        "on_shift": status.on_shift if status else False,
    }


def add_agent(actor: str, fields: dict[str, Any]) -> Agent:
    """Add an agent to the roster; Conflict when the id is taken."""
    agent_id = fields.get("id")
    if not isinstance(agent_id, str) or not agent_id:
        raise Invalid("missing agent id", field="id")
    with _editing():
        roster = current_roster()
        if roster.agent(agent_id) is not None:
            raise Conflict(f"agent id {agent_id!r} is already on the roster", field="id")
        document = {k: v for k, v in fields.items() if k in ("id", *EDITABLE_FIELDS)}
        document.setdefault("shifts", [])
        agent = hash_agent_pin(_checked_agent(document))
        _check_unique_phone(roster, agent)
        new_roster = replace(roster, agents=(*roster.agents, agent))
        _apply(
            actor,
            "agent.add",
            agent.id,
            None,
            rostering.audited_agent(agent_document(agent)),
            new_roster,
        )
    return agent


def update_agent(actor: str, agent_id: str, fields: dict[str, Any]) -> Agent:
    """Change an agent's name, phone, languages, skills, crisis training or PIN."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise Invalid(f"cannot change {unknown[0]!r} here", field=unknown[0])
    with _editing():
        roster = current_roster()
        agent = agent_or_404(roster, agent_id)
        document = {**agent_document(agent, DEFAULT_TIMEZONE), **fields, "id": agent_id}
        if "pin" in fields:
            document.pop("pin_hash", None)  # a new PIN (or none) replaces the old one's hash
        changed = hash_agent_pin(_checked_agent(document))
        _check_unique_phone(roster, changed)
        _replace_agent(actor, "agent.update", roster, agent, changed)
    return changed


def remove_agent(actor: str, agent_id: str) -> None:
    """Take an agent off the roster."""
    with _editing():
        roster = current_roster()
        agent = agent_or_404(roster, agent_id)
        if len(roster.agents) == 1:
            raise Conflict("the roster cannot be left empty", field="agent_id")
        new_roster = replace(roster, agents=tuple(a for a in roster.agents if a.id != agent_id))
        _apply(
            actor,
            "agent.remove",
            agent_id,
            rostering.audited_agent(agent_document(agent)),
            None,
            new_roster,
        )


def _checked_agent(document: dict[str, Any]) -> Agent:
    """Check one agent's fields as a roster file would be checked; Invalid names the field."""
    text = dump_yaml({"agents": [document]})
    try:
        return _parse(text, "agent").agents[0]
    except ProblemsError as error:
        first = error.problems[0]
        field = str(first.path[2]) if len(first.path) > 2 else "agent"
        raise Invalid(first.message, field=field, problems=_problems(error)) from None


def _check_unique_phone(roster: Roster, agent: Agent) -> None:
    """Two agents never share a phone: a call offered to one would ring the other."""
    other = next((a for a in roster.agents if a.phone == agent.phone and a.id != agent.id), None)
    if other is not None:
        raise Conflict(f"agent {other.id!r} has this phone number", field="phone")


def set_presence(actor: str, agent_id: str, presence: object) -> dict[str, Any]:
    """Set an agent's presence (available, on_break, offline) and audit the change."""
    if presence not in PRESENCES:
        raise Invalid(f"presence must be one of {', '.join(PRESENCES)}", field="presence")
    now = context.now()
    try:
        change = context.board().set_presence(agent_id, str(presence), now)
    except UnknownAgent:
        raise NotFound(f"no agent {agent_id!r} on the roster", field="agent_id") from None
    if change.before != change.after:
        context.audit_log().record(
            actor,
            "agent.presence",
            agent_id,
            before={"presence": change.before},
            after={"presence": change.after},
            now=now,
        )
    return {"agent_id": agent_id, "presence": change.after, "before": change.before}


# --- whole rosters ----------------------------------------------------------------------------


def import_roster(actor: str, text: str, fmt: str, *, force: bool = False) -> RosterImport:
    """Check, apply and audit a whole roster file; refused with every problem or gap it has."""
    if fmt not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", field="format")
    try:
        roster = _parse(text, f"roster.{fmt}")
    except ProblemsError as error:
        raise Invalid(
            f"the roster has {len(error.problems)} problem(s); nothing was applied",
            field="roster",
            problems=_problems(error),
        ) from None
    with _editing():
        try:
            return rostering.import_roster(
                context.redis(),
                context.config(),
                roster,
                actor=actor,
                fmt=fmt,
                now=context.now(),
                force=force,
                board=context.board(),
            )
        except UncoveredRoster as refused:
            raise Conflict(
                f"{refused}: import it with force to apply it anyway (audited as forced)",
                field="roster",
                problems=[_gap_problem(gap) for gap in refused.gaps],
            ) from None


def import_view(done: RosterImport) -> dict[str, Any]:
    """An applied import as the API shows it: agents added and removed, gaps it was forced past."""
    return {
        "added": done.report.added,
        "removed": done.report.removed,
        "total": done.report.total,
        "supervisors": done.supervisors,
        "forced": done.forced,
        "gaps": [rostering.gap_view(gap) for gap in done.gaps],
    }


def parse_force(value: object) -> bool:
    """Read a force flag from a query or form: absent, 0/false/no/off, or 1/true/yes/on."""
    text = str(value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise Invalid("force must be true or false", field="force")


def _gap_problem(gap: StaffingGap) -> dict[str, Any]:
    """An uncovered stretch as a problem the API and the console show; the field to fix."""
    field = "supervisors" if gap.kind == NO_SUPERVISOR else "agents"
    return {"line": None, "field": field, **rostering.gap_view(gap)}


def _problems(error: ProblemsError) -> list[dict[str, Any]]:
    """A roster's problems as the API shows them: line, field path, message."""
    return [
        {
            "line": problem.line,
            "field": ".".join(str(part) for part in problem.path),
            "message": problem.message,
        }
        for problem in error.problems
    ]


def _replace_agent(actor: str, action: str, roster: Roster, old: Agent, new: Agent) -> None:
    """Apply a roster where one agent changed, with the agent's before and after audited."""
    agents = tuple(new if a.id == old.id else a for a in roster.agents)
    _apply(
        actor,
        action,
        old.id,
        rostering.audited_agent(agent_document(old, roster.timezone)),
        rostering.audited_agent(agent_document(new, roster.timezone)),
        replace(roster, agents=agents),
    )


def _apply(actor: str, action: str, target: str, before: Any, after: Any, roster: Roster) -> None:
    """Re-check the changed roster whole, import it and audit the change."""
    try:
        checked = _parse(export_roster(roster), "roster.yaml")
    except ProblemsError as error:
        raise Invalid(
            error.problems[0].message, field="roster", problems=_problems(error)
        ) from None
    now = context.now()
    context.board().import_roster(checked, now)
    context.audit_log().record(actor, action, target, before=before, after=after, now=now)


class _editing:
    """Holds the roster edit lock across read, change and import."""

    def __enter__(self) -> None:
        self.lock = context.redis().lock(keys.roster_edit_lock(), timeout=30, blocking_timeout=10)
        if not self.lock.acquire():
            raise Conflict("another roster change is in progress; try again", field="roster")

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


# --- console pages ----------------------------------------------------------------------------


@bp.get("/ops/roster")
@require(*OPS_ROLES)
def page_roster() -> str:
    """The week grid: one row per agent, one column per weekday, shifts editable in place."""
    current = current_roster()
    grid = {
        agent.id: {day: [s for s in shifts_of(agent) if s["day"] == day] for day in DAY_IDS}
        for agent in current.agents
    }
    return render_template(
        "ops/roster.html", roster=current, grid=grid, days=DAY_IDS, picked=request.args
    )


@bp.post("/ops/roster/shifts")
@require(*OPS_ROLES)
def page_add_shift() -> Response:
    """Add a weekly shift picked in the grid."""
    form = request.form
    add_shift(
        auth.actor(), form.get("agent", ""), form.get("day"), form.get("start"), form.get("end")
    )
    return pages.saved(f"#agent-{form.get('agent', '')}")


@bp.post("/ops/roster/shifts/remove")
@require(*OPS_ROLES)
def page_remove_shift() -> Response:
    """Remove a weekly shift from the grid."""
    remove_shift(auth.actor(), request.form.get("agent", ""), request.form.get("shift", ""))
    return pages.saved(f"#agent-{request.form.get('agent', '')}")


@bp.post("/ops/roster/import")
@require(*OPS_ROLES)
def page_import_roster() -> Response:
    """Import a roster file (YAML or CSV by its name); the box forces one that leaves gaps."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid("choose a YAML or CSV file", field="file")
    fmt = "csv" if upload.filename.lower().endswith(".csv") else "yaml"
    force = parse_force(request.form.get("force"))
    done = import_roster(auth.actor(), upload.read().decode("utf-8-sig"), fmt, force=force)
    if done.forced:
        # Forced past gaps: say so as loudly as a refusal would (the audit log keeps them all).
        flash(word("import_forced", count=len(done.gaps)), "error")
        for gap in done.gaps[:20]:
            flash(gap.describe(), "error")
    return pages.saved()


@bp.get("/ops/roster/export.<fmt>")
@require(*OPS_ROLES)
def page_export_roster(fmt: str) -> Response:
    """Download the roster as YAML or CSV."""
    text = export(fmt)
    kind = "text/csv" if fmt == "csv" else "application/yaml"
    disposition = f"attachment; filename=roster.{fmt}"
    return Response(text, mimetype=kind, headers={"Content-Disposition": disposition})


@bp.get("/ops/agents")
@require(*OPS_ROLES)
def page_agents() -> str:
    """Agents with languages, skills, crisis training and presence."""
    views = [agent_view(agent) for agent in current_roster().agents]
    return render_template("ops/agents.html", agents=views)


@bp.post("/ops/agents")
@require(*OPS_ROLES)
def page_add_agent() -> Response:
    """Add an agent from the form."""
    add_agent(auth.actor(), {"id": request.form.get("id", ""), **_agent_form()})
    return pages.saved()


@bp.post("/ops/agents/<agent_id>")
@require(*OPS_ROLES)
def page_update_agent(agent_id: str) -> Response:
    """Save an agent's row."""
    update_agent(auth.actor(), agent_id, _agent_form())
    return pages.saved(f"#agent-{agent_id}")


@bp.post("/ops/agents/<agent_id>/presence")
@require(*OPS_ROLES)
def page_presence(agent_id: str) -> Response:
    """Set an agent's presence for them (someone without a computer, say)."""
    set_presence(auth.actor(), agent_id, request.form.get("presence"))
    return pages.saved(f"#agent-{agent_id}")


@bp.post("/ops/agents/<agent_id>/remove")
@require(*OPS_ROLES)
def page_remove_agent(agent_id: str) -> Response:
    """Take an agent off the roster."""
    remove_agent(auth.actor(), agent_id)
    return pages.saved()


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


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/agents")
@require(*OPS_ROLES)
def api_agents() -> Response:
    """Every agent with skills, shifts and live status."""
    return jsonify({"agents": [agent_view(agent) for agent in current_roster().agents]})


@bp.post("/api/v1/agents")
@require(*OPS_ROLES)
def api_add_agent() -> tuple[Response, int]:
    """Add an agent to the roster."""
    return jsonify(agent_view(add_agent(auth.actor(), api.body()))), 201


@bp.get("/api/v1/agents/<agent_id>")
def api_agent(agent_id: str) -> Response:
    """One agent."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    return jsonify(agent_view(agent_or_404(current_roster(), agent_id)))


@bp.patch("/api/v1/agents/<agent_id>")
@require(*OPS_ROLES)
def api_update_agent(agent_id: str) -> Response:
    """Change an agent's name, phone, languages, skills, crisis training or PIN."""
    return jsonify(agent_view(update_agent(auth.actor(), agent_id, api.body())))


@bp.delete("/api/v1/agents/<agent_id>")
@require(*OPS_ROLES)
def api_remove_agent(agent_id: str) -> tuple[str, int]:
    """Take an agent off the roster."""
    remove_agent(auth.actor(), agent_id)
    return "", 204


@bp.post("/api/v1/agents/<agent_id>/presence")
def api_presence(agent_id: str) -> Response:
    """Set an agent's presence: available, on_break or offline."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    return jsonify(set_presence(auth.actor(), agent_id, api.body().get("presence")))


@bp.get("/api/v1/agents/<agent_id>/shifts")
def api_shifts(agent_id: str) -> Response:
    """An agent's weekly shifts."""
    auth.ensure_for_agent(agent_id, *OPS_ROLES)
    found = agent_or_404(current_roster(), agent_id)
    return jsonify({"agent_id": agent_id, "shifts": shifts_of(found)})


@bp.post("/api/v1/agents/<agent_id>/shifts")
@require(*OPS_ROLES)
def api_add_shift(agent_id: str) -> tuple[Response, int]:
    """Add a weekly shift: {day, start, end}; an end before the start runs overnight."""
    fields = api.body()
    shift = add_shift(
        auth.actor(), agent_id, fields.get("day"), fields.get("start"), fields.get("end")
    )
    return jsonify({"id": shift_id(shift)}), 201


@bp.delete("/api/v1/agents/<agent_id>/shifts/<shift_id>")
@require(*OPS_ROLES)
def api_remove_shift(agent_id: str, shift_id: str) -> tuple[str, int]:
    """Remove a weekly shift."""
    remove_shift(auth.actor(), agent_id, shift_id)
    return "", 204


@bp.get("/api/v1/roster")
@require(*OPS_ROLES)
def api_roster() -> Response:
    """The roster as YAML (default) or CSV (?format=csv)."""
    fmt = request.args.get("format", "yaml")
    text = export(fmt)
    kind = "text/csv" if fmt == "csv" else "application/yaml"
    return Response(
        text, mimetype=kind, headers={"Content-Disposition": f"inline; filename=roster.{fmt}"}
    )


@bp.put("/api/v1/roster")
@require(*OPS_ROLES)
def api_import_roster() -> Response:
    """Replace the roster with a YAML or CSV document; ?force=1 applies one with gaps, audited."""
    fmt = request.args.get("format") or ("csv" if "csv" in (request.mimetype or "") else "yaml")
    force = parse_force(request.args.get("force"))
    text = request.get_data(as_text=True)
    return jsonify(import_view(import_roster(auth.actor(), text, fmt, force=force)))
