"""The console's coverage grid: routing's coverage, holidays included, laid out by day and hour.

`routing.coverage` works out who could answer each hour of each area and language, and how many
open minutes nobody covers, from the effective opening hours (holiday rules included). This
module only lays its cells out by local date and hour and joins uncovered hours into runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing import coverage as routing_coverage
from routing.config import HotlineConfig
from routing.hours import WeeklyHours
from routing.roster import Roster


@dataclass(frozen=True)
class Cell:
    """One hour of one area and language: open or not, and the agents who could answer."""

    day: date
    hour: int
    area: str
    language: str
    open: bool
    agents: tuple[str, ...]
    uncovered_minutes: int = 0

    @property
    def gap(self) -> bool:
        """The area is open during the hour and for some of it nobody could take its calls."""
        return self.uncovered_minutes > 0


@dataclass(frozen=True)
class Gap:
    """A run of uncovered hours for one area and language, local time."""

    area: str
    language: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Coverage:
    """Cells for every day, hour, area and language, and the gaps among them."""

    days: tuple[date, ...]
    rows: tuple[tuple[str, str], ...]
    cells: dict[tuple[date, int, str, str], Cell]
    gaps: tuple[Gap, ...]
    # The last year the holiday calendar knows, when the period runs past it; else None.
    known_until: int | None = None


def coverage(
    roster: Roster,
    config: HotlineConfig,
    today: date,
    days: int = 14,
    *,
    hours: Mapping[str, WeeklyHours] | None = None,
) -> Coverage:
    """Coverage hour by hour from the roster and the areas' hours (the config's unless given)."""
    zone = ZoneInfo(config.timezone)
    by_area = {
        area_id: (hours or {}).get(area_id, area.hours) for area_id, area in config.areas.items()
    }
    found = routing_coverage.coverage(
        roster,
        by_area,
        config.languages,
        datetime.combine(today, time(0), tzinfo=zone),
        days,
        general_area=config.general_area,
    )
    dates = tuple(today + timedelta(days=offset) for offset in range(days))
    rows = tuple((area, lang) for area in config.areas for lang in config.languages)
    cells: dict[tuple[date, int, str, str], Cell] = {}
    for cell in found.cells:
        # Cells step in wall-clock hours of the zone, so date and hour key them one to one.
        key = (cell.start.date(), cell.start.hour, cell.area, cell.language)
        cells[key] = Cell(
            *key,
            open=cell.open_minutes > 0,
            agents=tuple(sorted(cell.agents)),
            uncovered_minutes=cell.uncovered_minutes,
        )
    return Coverage(
        dates, rows, cells, tuple(_gaps(cells, dates, rows, zone)), _known_until(by_area, dates)
    )


def _known_until(hours: Mapping[str, WeeklyHours], dates: tuple[date, ...]) -> int | None:
    """The holiday calendar's last year when holiday rules apply past it, else None."""
    rules = next((h.holidays for h in hours.values() if h.holidays is not None), None)
    if rules is None or rules.calendar.warning(dates[0], dates[-1]) is None:
        return None
    return rules.calendar.last_year


def _gaps(
    cells: dict[tuple[date, int, str, str], Cell],
    dates: tuple[date, ...],
    rows: tuple[tuple[str, str], ...],
    zone: ZoneInfo,
) -> list[Gap]:
    """Merge consecutive uncovered hours into runs, per area and language."""
    found = []
    for area, language in rows:
        start: datetime | None = None
        for day in dates:
            for hour in range(24):
                at = datetime.combine(day, time(hour), tzinfo=zone)
                if cells[(day, hour, area, language)].gap:
                    start = start or at
                elif start is not None:
                    found.append(Gap(area, language, start, at))
                    start = None
        if start is not None:
            end = datetime.combine(dates[-1] + timedelta(days=1), time(0), tzinfo=zone)
            found.append(Gap(area, language, start, end))
    return sorted(found, key=lambda gap: (gap.start, gap.area, gap.language))
