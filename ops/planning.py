"""Planning views for ops: coverage of the coming days and the areas' opening hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ops import context, staffing
from ops.coverage import Coverage, coverage
from ops.errors import Invalid
from routing.hours import DAY_IDS, format_clock

MAX_DAYS = 31


def coverage_now(days: int = 14) -> Coverage:
    """Coverage from today (the hotline's time zone) over the coming days."""
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days must be between 1 and {MAX_DAYS}", field="days")
    config = context.config()
    today = datetime.fromtimestamp(context.now(), ZoneInfo(config.timezone)).date()
    return coverage(staffing.current_roster(), config, today, days)


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
    }


def opening_hours() -> list[dict[str, Any]]:
    """Each area's weekly opening hours from the config, for display."""
    config = context.config()
    return [
        {
            "area": area_id,
            "name": area.name,
            "timezone": area.hours.timezone,
            "days": {
                DAY_IDS[weekday]: [
                    f"{format_clock(start)}-{format_clock(end % 1440 if end > 1440 else end)}"
                    for start, end in ranges
                ]
                for weekday, ranges in area.hours.days()
            },
        }
        for area_id, area in config.areas.items()
    ]
