"""Planning: who covers each hour of the coming days, and how many agents each half-hour needs.

One blueprint holds the console page (`/ops/coverage`) and the JSON API (`/api/v1/coverage`,
`/api/v1/staffing/plan`), all for ops and supervisors. Named for the work it serves, planning
the roster, beside `ops.coverage`, which only lays routing's coverage out by day and hour.

The page also shows an area's staffing plan: agents required per half-hour (forecast from past
calls, Erlang C) against those rostered. It is computed by `queues.staffing_plan`, the same
function `hotline staffing plan` calls, so the page, the API and the command agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, jsonify, render_template, request

from ops import api, context, features, opening, staffing
from ops.auth import OPS_ROLES, require
from ops.coverage import Coverage, coverage
from ops.errors import Conflict, Invalid
from queues.records import jobs as records_jobs
from queues.staffing_plan import MAX_DAYS as MAX_PLAN_DAYS
from queues.staffing_plan import (
    PlanError,
    StaffingPlan,
    call_history,
    pattern_name,
    records_written,
    staffing_plan,
)

MAX_DAYS = 31
# The page's plan spans the coverage grid's fortnight; a week page shows seven of its days.
PLAN_DAYS = 14
WEEK = 7
SPANS = ("day", "week")

if TYPE_CHECKING:
    from queues.records.store import RecordStore

bp = features.blueprint("ops_planning")


def coverage_now(days: int = 14) -> Coverage:
    """Coverage from today (the hotline's time zone) over the coming days."""
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days must be between 1 and {MAX_DAYS}", field="days")
    config = context.config()
    today = datetime.fromtimestamp(context.now(), ZoneInfo(config.timezone)).date()
    hours = opening.effective_hours()
    return coverage(staffing.current_roster(), config, today, days, hours=hours)


def coverage_json(days: int = 14) -> dict[str, Any]:
    """Coverage as the API shows it: per day and hour, the agents per area and language."""
    found = coverage_now(days)
    return {
        "timezone": context.config().timezone,
        "days": [
            {
                "date": day.isoformat(),
                "hours": [
                    {
                        "hour": hour,
                        "cells": [
                            {
                                "area": area,
                                "language": language,
                                "open": cell.open,
                                "agents": list(cell.agents),
                                "gap": cell.gap,
                            }
                            for area, language in found.rows
                            for cell in [found.cells[(day, hour, area, language)]]
                        ],
                    }
                    for hour in range(24)
                ],
            }
            for day in found.days
        ],
        "gaps": [
            {
                "area": gap.area,
                "language": gap.language,
                "start": gap.start.isoformat(),
                "end": gap.end.isoformat(),
            }
            for gap in found.gaps
        ],
        # The last year of holiday data, when the period runs past it (later days: weekly hours).
        "holidays_known_until": found.known_until,
    }


def plan_now(area: str, first: date | None = None, days: int = PLAN_DAYS) -> StaffingPlan:
    """An area's staffing plan from first (today in the hotline's zone) by the app clock."""
    config = context.config()
    if area not in config.areas:
        raise Invalid(f"unknown area; one of {', '.join(config.areas)}", field="area")
    if not 1 <= days <= MAX_PLAN_DAYS:
        raise Invalid(f"days must be between 1 and {MAX_PLAN_DAYS}", field="days")
    now = datetime.fromtimestamp(context.now(), UTC)
    if first is None:
        first = now.astimezone(ZoneInfo(config.timezone)).date()
    history = call_history(context.redis(), "auto", _records())
    try:
        return staffing_plan(history, staffing.current_roster(), config, area, first, days, now=now)
    except PlanError as error:
        raise Conflict(str(error)) from None


def _records() -> Callable[[], RecordStore] | None:
    """How to open this process's call records, or None when no records database was written
    (reading must not make an empty one)."""
    settings = current_app.config.get("SETTINGS")
    if settings is None or not records_written(settings.var_dir):
        return None
    return records_jobs.store


def plan_json(found: StaffingPlan) -> dict[str, Any]:
    """A staffing plan as the API shows it: what it learned from and every half-hour."""
    policy = found.policy
    return {
        "area": found.area,
        "from": found.first.isoformat(),
        "to": found.last.isoformat(),
        "timezone": found.timezone,
        "history": {
            "source": found.source,
            "description": found.source_description,
            "from": found.learned[0].isoformat(),
            "to": found.learned[1].isoformat(),
            "days": found.days_learned,
            "calls": found.calls_learned,
        },
        "targets": {
            "target_service_level": policy.target_service_level,
            "target_answer_s": policy.target_answer_s,
            "max_occupancy": policy.max_occupancy,
            "shrinkage": policy.shrinkage,
        },
        "half_hours": [
            {
                "start": row.slot.start.isoformat(),
                "pattern": pattern_name(row.slot.pattern),
                "calls": row.slot.calls,
                "aht_s": row.slot.aht_s,
                "answering": row.need.answering.agents,
                "required": row.required,
                "rostered": row.rostered,
                "gap": row.gap,
            }
            for row in found.rows
        ],
        "short": len(found.short),
        "agent_hours_missing": found.agent_hours_missing,
        "calendar_warning": found.calendar_warning or None,
    }


# --- console page -----------------------------------------------------------------------------


@bp.get("/ops/coverage")
@require(*OPS_ROLES)
def page_coverage() -> str:
    """Coverage for the next 14 days: one day's hour grid and every gap."""
    found = coverage_now(14)
    picked = request.args.get("day")
    try:
        day = date.fromisoformat(picked) if picked else found.days[0]
    except ValueError:
        raise Invalid("expected a date as YYYY-MM-DD", field="day") from None
    if day not in found.days:
        day = found.days[0]
    config = context.config()
    area = request.args.get("area") or config.general_area
    span = request.args.get("span")
    span = span if span in SPANS else SPANS[0]
    plan, plan_error = None, None
    try:
        plan = plan_now(area, found.days[0], PLAN_DAYS)
    except Conflict as error:
        # No history to learn from yet: the roster's grid still shows, with the reason.
        plan_error = error.message
    shown = [
        d for d in found.days if day <= d < day + timedelta(days=WEEK if span == "week" else 1)
    ]
    return render_template(
        "ops/coverage.html",
        coverage=found,
        day=day,
        area=area,
        areas=list(config.areas),
        span=span,
        plan=plan,
        plan_error=plan_error,
        plan_days=shown,
        plan_cells=_plan_cells(plan),
        plan_times=[f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 24 * 60, 30)],
        earlier=max(found.days[0], day - timedelta(days=WEEK)),
        later=min(found.days[-1], day + timedelta(days=WEEK)),
    )


def _plan_cells(plan: StaffingPlan | None) -> dict[tuple[date, str], Any]:
    """The plan's rows by local date and half-hour (HH:MM), as the page's grid looks them up."""
    if plan is None:
        return {}
    return {(row.slot.start.date(), f"{row.slot.start:%H:%M}"): row for row in plan.rows}


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/coverage")
@require(*OPS_ROLES)
def api_coverage() -> Response:
    """Coverage of each hour, area and language over the coming days, with the gaps."""
    return jsonify(coverage_json(api.int_arg("days", 14)))


@bp.get("/api/v1/staffing/plan")
@require(*OPS_ROLES)
def api_staffing_plan() -> Response:
    """An area's agents required per half-hour (forecast) against those rostered, gaps marked."""
    area = request.args.get("area")
    if not area:
        raise Invalid("expected an area id", field="area")
    picked = request.args.get("from")
    try:
        first = date.fromisoformat(picked) if picked else None
    except ValueError:
        raise Invalid("expected a date as YYYY-MM-DD", field="from") from None
    return jsonify(plan_json(plan_now(area, first, api.int_arg("days", PLAN_DAYS))))
