"""Coverage: for each hour of the coming days, how many rostered agents could take each area and
language, and where nobody could while the area is open (the gaps ops must fill)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.config import HotlineConfig
from routing.roster import Roster, on_shift

# An hour is checked at its start and its middle, so half-hour openings and shifts count.
PROBES_MIN = (0, 30)


@dataclass(frozen=True)
class Cell:
    """One hour of one area and language: open or not, and the agents who could answer."""

    day: date
    hour: int
    area: str
    language: str
    open: bool
    agents: tuple[str, ...]

    @property
    def gap(self) -> bool:
        """The area is open and nobody on shift speaks the language and knows the area."""
        return self.open and not self.agents


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


def coverage(roster: Roster, config: HotlineConfig, today: date, days: int = 14) -> Coverage:
    """Work out coverage hour by hour from the roster's shifts and the areas' opening hours."""
    zone = ZoneInfo(config.timezone)
    rows = tuple((area, lang) for area in config.areas for lang in config.languages)
    dates = tuple(today + timedelta(days=offset) for offset in range(days))
    able = {
        (area, language): {
            agent.id
            for agent in roster.agents
            if agent.level(area) > 0 and language in agent.languages
        }
        for area, language in rows
    }
    cells: dict[tuple[date, int, str, str], Cell] = {}
    for day in dates:
        for hour in range(24):
            probes = [
                datetime.combine(day, time(hour, minute), tzinfo=zone) for minute in PROBES_MIN
            ]
            working = [on_shift(roster, probe) for probe in probes]
            for area, language in rows:
                hours = config.areas[area].hours
                open_at = [i for i, probe in enumerate(probes) if hours.is_open(probe)]
                # Covered only if someone is there at every open probe of the hour.
                present = set(able[(area, language)])
                for index in open_at:
                    present &= working[index]
                agents = tuple(sorted(present)) if open_at else ()
                cells[(day, hour, area, language)] = Cell(
                    day, hour, area, language, bool(open_at), agents
                )
    return Coverage(dates, rows, cells, tuple(_gaps(cells, dates, rows, zone)))


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
