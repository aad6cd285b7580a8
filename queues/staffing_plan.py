"""An area's staffing plan: each half-hour's agents required (forecast) against those rostered.

One computation for `hotline staffing plan` and the ops console's coverage page (and its API),
so the command and the page always show the same figures. It chooses where past calls are read
(the durable call records when they keep any, else the Redis event stream), learns from whole
days only, forecasts with China's calendar (routing.forecast) and counts the roster's agents on
shift. The caller passes `now` and the roster; nothing here reads a clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from redis import Redis

from queues.call_history import EventStreamHistory, RecordsHistory
from routing.config import HotlineConfig
from routing.forecast import (
    HOLIDAY_PATTERN,
    CallHistory,
    Pattern,
    PlanRow,
    StaffingPolicy,
    china_replaced_weekdays,
    forecast,
    need_total,
    plan,
    rostered,
    whole_days,
)
from routing.holidays import china_calendar
from routing.roster import Roster

if TYPE_CHECKING:
    # SQLAlchemy is imported only where records are read (below), not by every process that
    # imports the plan (the app's workers, the CLI).
    from queues.records.store import RecordStore

SOURCES = ("auto", "records", "redis")
RECORDS, REDIS = "records", "redis"
MAX_DAYS = 62
MAX_WEEKS = 52
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class PlanError(Exception):
    """The plan cannot be made; the message says why and what to do."""


class NoHistory(PlanError):
    """The call history holds no whole day to learn from (or no answered call of the area)."""


class RecordsUnreadable(PlanError):
    """The durable call records were asked for but cannot be read."""


@dataclass(frozen=True)
class StaffingPlan:
    """An area's plan over some days: the rows and what they were learned from."""

    area: str
    first: date
    days: int
    timezone: str
    # Where past calls were read: RECORDS or REDIS, and the source's own description.
    source: str
    source_description: str
    learned: tuple[date, date]
    calls_learned: int
    policy: StaffingPolicy
    rows: list[PlanRow]
    # Set when the period runs past the holiday data the hotline has.
    calendar_warning: str | None

    @property
    def last(self) -> date:
        """The plan's last date."""
        return self.first + timedelta(days=self.days - 1)

    @property
    def days_learned(self) -> int:
        """Whole days of history the pattern was learned from."""
        return (self.learned[1] - self.learned[0]).days + 1

    @property
    def short(self) -> list[PlanRow]:
        """The half-hours with fewer agents rostered than required."""
        return [row for row in self.rows if row.gap]

    @property
    def agent_hours_missing(self) -> float:
        """Agent-hours the roster lacks over the plan."""
        return need_total(self.rows)


def pattern_name(pattern: Pattern) -> str:
    """The pattern a date follows, as the plan names it: a weekday (Mon) or holiday."""
    return HOLIDAY_PATTERN if pattern == HOLIDAY_PATTERN else WEEKDAYS[int(pattern)]


def records_written(var_dir: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a records database may hold calls: DATABASE_URL is set, or the SQLite file
    exists (reading must not create an empty one)."""
    from queues.records.store import SQLITE_NAME

    env = os.environ if environ is None else environ
    return "DATABASE_URL" in env or (var_dir / SQLITE_NAME).exists()


def call_history(
    redis: Redis, source: str, open_records: Callable[[], RecordStore] | None
) -> CallHistory:
    """Where the plan reads past calls: the durable call records when they keep any (or are
    asked for), else the Redis event stream. `open_records` is None when no records database
    was ever written."""
    if source not in SOURCES:
        raise ValueError(f"unknown call history {source!r}")
    if source == REDIS or (source == "auto" and open_records is None):
        return EventStreamHistory(redis)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        if open_records is None:
            raise RecordsUnreadable(
                "no call records database yet: hotline records migrate, then hotline records "
                "backfill"
            )
        records = RecordsHistory(open_records())
        kept = records.since() is not None
    except SQLAlchemyError as error:
        # Not migrated yet, or unreachable: say so when asked for, else plan from Redis.
        if source == RECORDS:
            raise RecordsUnreadable(
                f"the call records cannot be read ({type(error).__name__}): "
                "hotline records migrate, then hotline records backfill"
            ) from None
        return EventStreamHistory(redis)
    if kept or source == RECORDS:
        return records
    return EventStreamHistory(redis)


def staffing_plan(
    history: CallHistory,
    roster: Roster,
    config: HotlineConfig,
    area: str,
    first: date,
    days: int,
    *,
    now: datetime,
    weeks: int | None = None,
) -> StaffingPlan:
    """The area's plan for `days` dates from first, learned from the `weeks` (the config's
    history_weeks by default) before first, or before now when first is later."""
    if area not in config.areas:
        raise ValueError(f"unknown area {area!r}; one of {', '.join(config.areas)}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}")
    policy = config.staffing
    weeks = policy.history_weeks if weeks is None else weeks
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be from 1 to {MAX_WEEKS}")
    zone = ZoneInfo(config.timezone)
    since, until = _history_window(history, first, now, zone, weeks)
    learned = whole_days(since, until, zone)
    if learned[1] < learned[0]:
        raise NoHistory(
            f"the call history in {history.description} holds no whole day before {first}: "
            "plan once a day of calls is recorded"
        )
    # Only whole days are learned from: a part of one would read as a quiet day.
    calls = list(
        history.calls(
            datetime.combine(learned[0], time(0), tzinfo=zone),
            datetime.combine(learned[1] + timedelta(days=1), time(0), tzinfo=zone),
            area,
        )
    )
    try:
        slots = forecast(
            calls,
            area,
            zone,
            learned,
            first,
            days,
            calendar=china_calendar(),
            replaced=china_replaced_weekdays(),
        )
    except ValueError as error:
        raise NoHistory(str(error)) from None
    counts = rostered(
        roster,
        area,
        config.languages,
        [slot.start for slot in slots],
        general_area=config.general_area,
    )
    return StaffingPlan(
        area=area,
        first=first,
        days=days,
        timezone=config.timezone,
        source=RECORDS if isinstance(history, RecordsHistory) else REDIS,
        source_description=history.description,
        learned=learned,
        calls_learned=len(calls),
        policy=policy,
        rows=plan(slots, counts, policy),
        calendar_warning=china_calendar().warning(first, first + timedelta(days=days - 1)),
    )


def _history_window(
    history: CallHistory, first: date, now: datetime, zone: ZoneInfo, weeks: int
) -> tuple[datetime, datetime]:
    """The instants to learn from: `weeks` before the plan's first day (or now), within the
    source's reach."""
    until = min(datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC), now)
    since = until - timedelta(weeks=weeks)
    reach = history.since()
    if reach is None:
        # Nothing held at all: an empty window, refused like a too-short one.
        return until, until
    return max(since, reach), until
