"""Planning: who covers each hour of the coming days, with the areas' effective hours.

One blueprint holds the console page (`/ops/coverage`) and the JSON API (`/api/v1/coverage`),
both for ops and supervisors. Named for the work it serves, planning the roster, beside
`ops.coverage`, which only lays routing's coverage out by day and hour.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, render_template, request

from ops import api, context, features, opening, staffing
from ops.auth import OPS_ROLES, require
from ops.coverage import Coverage, coverage
from ops.errors import Invalid

MAX_DAYS = 31

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
    return render_template("ops/coverage.html", coverage=found, day=day)


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/coverage")
@require(*OPS_ROLES)
def api_coverage() -> Response:
    """Coverage of each hour, area and language over the coming days, with the gaps."""
    return jsonify(coverage_json(api.int_arg("days", 14)))
