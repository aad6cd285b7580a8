"""Planning views for ops: coverage of the coming days with the areas' effective hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ops import context, opening, staffing
from ops.coverage import Coverage, coverage
from ops.errors import Invalid

MAX_DAYS = 31


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
