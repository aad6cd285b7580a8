"""The opening hours the phone menu keeps: ops' edits from Redis, else the config's."""

from __future__ import annotations

from flask import current_app

from queues import runtime
from queues.hours_edits import area_hours
from routing.hours import WeeklyHours


def hours_of(area: str) -> WeeklyHours:
    """An area's effective hours; without Redis (none set up, or unreachable) the config's."""
    config = current_app.config["HOTLINE"]
    try:
        redis = runtime.serving().redis
    except RuntimeError:
        return config.areas[area].hours
    return area_hours(redis, config, area)
