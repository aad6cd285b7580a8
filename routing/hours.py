"""Weekly opening hours in a time zone: is an area open now, and when does it next open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.holidays import CalendarDay, HolidayRules, Ranges, next_open_edge, open_at

DAY_IDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Opening:
    """One opening on a weekday, in minutes from its midnight; an end past 1440 runs overnight."""

    weekday: int
    start: int
    end: int

    def covers(self, weekday: int, minute: int) -> bool:
        """Tell whether this opening covers a minute of a weekday (overnight spill included)."""
        if weekday == self.weekday and self.start <= minute < self.end:
            return True
        spill = self.end - MINUTES_PER_DAY
        return spill > 0 and weekday == (self.weekday + 1) % 7 and minute < spill


@dataclass(frozen=True)
class WeeklyHours:
    """An area's opening hours: openings per weekday, read in one time zone, holidays optional."""

    timezone: str
    openings: tuple[Opening, ...]
    # Without rules the weekly pattern holds every week, public holidays included.
    holidays: HolidayRules | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The time zone the openings are written in."""
        return ZoneInfo(self.timezone)

    def is_open(self, now: datetime) -> bool:
        """Tell whether the area is open at an aware instant."""
        if self.holidays is not None:
            return open_at(self.zone, self.ranges_on, now)
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(opening.covers(local.weekday(), minute) for opening in self.openings)

    def next_opening(self, now: datetime) -> datetime | None:
        """Return the start of the next opening after now (local time), or None if never open."""
        if self.holidays is not None:
            return next_open_edge(self.zone, self.ranges_on, now)
        local = now.astimezone(self.zone)
        today = local.date()
        candidates = []
        for days_ahead in range(8):
            day = today + timedelta(days=days_ahead)
            for opening in self.openings:
                if opening.weekday != day.weekday():
                    continue
                start = datetime.combine(day, time(0), tzinfo=self.zone) + timedelta(
                    minutes=opening.start
                )
                # Re-localise so a start inside a daylight-saving jump lands on a real instant.
                start = start.astimezone(self.zone)
                if start > local:
                    candidates.append(start)
        return min(candidates) if candidates else None

    def weekly_ranges(self, weekday: int) -> Ranges:
        """The (start, end) minute ranges of one weekday in the weekly pattern."""
        return tuple(
            (opening.start, opening.end) for opening in self.openings if opening.weekday == weekday
        )

    def ranges_on(self, day: date) -> Ranges:
        """The ranges starting on a local date, after the holiday rules."""
        if self.holidays is None:
            return self.weekly_ranges(day.weekday())
        return self.holidays.ranges_on(day, self.weekly_ranges)

    def calendar_day(self, day: date) -> CalendarDay | None:
        """How the holiday calendar sees a date, or None when the hours ignore holidays."""
        return self.holidays.calendar.day(day) if self.holidays is not None else None

    def days(self) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
        """List each weekday with its (start, end) minute ranges, Monday first."""
        return [
            (
                weekday,
                tuple(
                    (opening.start, opening.end)
                    for opening in self.openings
                    if opening.weekday == weekday
                ),
            )
            for weekday in range(7)
        ]


def parse_range(text: str) -> tuple[int, int]:
    """Parse "HH:MM-HH:MM" into minutes; an end at or before the start runs past midnight."""
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"expected HH:MM-HH:MM, got {text!r}")
    start = _parse_clock(start_text.strip())
    end = _parse_clock(end_text.strip())
    if start >= MINUTES_PER_DAY:
        raise ValueError(f"a range cannot start at 24:00: {text!r}")
    if end <= start:
        end += MINUTES_PER_DAY
    return start, end


def _parse_clock(text: str) -> int:
    """Parse "HH:MM" (24:00 allowed as an end) into minutes after midnight."""
    hours_text, sep, minutes_text = text.partition(":")
    if not sep or not hours_text.isdigit() or not minutes_text.isdigit() or len(minutes_text) != 2:
        raise ValueError(f"expected HH:MM, got {text!r}")
    hours, minutes = int(hours_text), int(minutes_text)
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"not a time of day: {text!r}")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    """Render minutes after midnight as "H:MM" (24:00 stays 24:00)."""
    hours, rest = divmod(minutes, 60)
    return f"{hours}:{rest:02d}"
