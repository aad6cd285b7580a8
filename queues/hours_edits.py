"""Opening hours ops set over the config's: one edited document per area in a Redis hash.

The config's hours are the default; an area ops edited keeps its edit until it is reset. The
call path reads the edit on every call and falls back to the config's hours when Redis cannot
be read, so a caller always hears an answer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError

from queues import keys
from routing.config import HotlineConfig
from routing.hours import WeeklyHours, parse_hours_document

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoursEdit:
    """An area's hours as ops last saved them: the edited document, who saved it and when."""

    area: str
    document: dict[str, Any]
    by: str
    at: float


class HoursBoard:
    """Saves, clears and reads ops' edits to opening hours; the owner of the opening-hours key."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def save(
        self, area: str, document: dict[str, Any], *, by: str, now: float, pipeline: Any = None
    ) -> None:
        """Keep a checked hours document for an area, replacing any earlier edit."""
        value = json.dumps({"document": document, "by": by, "at": now}, ensure_ascii=False)
        (pipeline if pipeline is not None else self.redis).hset(keys.opening_hours(), area, value)

    def clear(self, area: str, *, pipeline: Any = None) -> None:
        """Drop an area's edit, so the config's hours apply again."""
        (pipeline if pipeline is not None else self.redis).hdel(keys.opening_hours(), area)

    def edit(self, area: str, *, client: Any = None) -> HoursEdit | None:
        """An area's edit, or None; `client` reads through a watching pipeline."""
        raw = (client if client is not None else self.redis).hget(keys.opening_hours(), area)
        return _edit(area, raw) if raw is not None else None

    def edits(self) -> dict[str, HoursEdit]:
        """Every area's edit, by area id."""
        raw = self.redis.hgetall(keys.opening_hours())
        return {area.decode(): _edit(area.decode(), value) for area, value in raw.items()}

    def effective(self, config: HotlineConfig, area: str) -> WeeklyHours:
        """The hours an area keeps now: ops' edit, else the config's (raises when unreadable)."""
        found = self.edit(area)
        default = config.areas[area].hours
        return default if found is None else parse_hours_document(found.document, default.timezone)


def area_hours(redis: Redis, config: HotlineConfig, area: str) -> WeeklyHours:
    """The hours the call path uses: ops' edit, or the config's when Redis or the edit fails."""
    try:
        return HoursBoard(redis).effective(config, area)
    except (RedisError, ValueError) as error:
        # A caller must hear an answer: the config's hours are always there.
        log.warning("hours of %s taken from the config: %s", area, type(error).__name__)
        return config.areas[area].hours


def _edit(area: str, raw: bytes) -> HoursEdit:
    """Build an edit from its stored JSON."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("document"), dict):
        raise ValueError(f"the stored hours of {area} are not an edit")
    return HoursEdit(area, data["document"], str(data.get("by", "")), float(data.get("at", 0)))
