"""China's public holidays and make-up working days, and opening hours that follow them.

The dates come from the maintained `chinese-calendar` package, never typed by hand. It only
knows the years the State Council has announced; a date beyond them falls back to the weekly
pattern, and `HolidayCalendar.warning` says so for the consoles. A call is never refused for it.

Ranges belong to the day they start on: an overnight range that starts on an ordinary evening
runs into a holiday morning, and one that starts on a holiday is dropped whole when the holiday
closes the area. Hours are wall-clock hours in their zone, so 09:00 stays 09:00 across a
daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from routing.hours import WeeklyHours

MINUTES_PER_DAY = 24 * 60
# "When does it next open" looks this far ahead; a longer closure says "no opening known".
HORIZON_DAYS = 400

HOLIDAY = "holiday"
MAKEUP = "makeup"
ORDINARY = "ordinary"

Ranges = tuple[tuple[int, int], ...]
DayRanges = Callable[[date], Sequence[tuple[int, int]]]


@dataclass(frozen=True)
class CalendarDay:
    """One date as the holiday calendar sees it: a holiday, a make-up working day or ordinary."""

    day: date
    kind: str
    name: dict[str, str] = field(default_factory=dict)
    # False for a date the calendar has no data for: the weekly pattern is used as is.
    known: bool = True


class HolidayCalendar:
    """Public holidays and make-up working days (调休上班) for the years the data covers."""

    def __init__(
        self,
        holidays: Mapping[date, str],
        workdays: Mapping[date, str],
        years: tuple[int, int],
        names: Mapping[str, dict[str, str]] | None = None,
    ):
        self.holidays = dict(holidays)
        self.workdays = dict(workdays)
        self.first_year, self.last_year = years
        self.names = dict(names or {})

    def covers(self, day: date) -> bool:
        """Tell whether the calendar has data for a date's year."""
        return self.first_year <= day.year <= self.last_year

    def day(self, day: date) -> CalendarDay:
        """Classify a date; outside the data it is ordinary and marked unknown."""
        if not self.covers(day):
            return CalendarDay(day, ORDINARY, known=False)
        if day in self.holidays:
            return CalendarDay(day, HOLIDAY, self._name(self.holidays[day]))
        if day in self.workdays:
            return CalendarDay(day, MAKEUP, self._name(self.workdays[day]))
        return CalendarDay(day, ORDINARY)

    def special_days(self, start: date, end: date) -> list[CalendarDay]:
        """List the holidays and make-up days from start to end (inclusive), for consoles."""
        days = []
        for offset in range((end - start).days + 1):
            found = self.day(start + timedelta(days=offset))
            if found.kind != ORDINARY:
                days.append(found)
        return days

    def warning(self, start: date, end: date) -> str | None:
        """Say when part of a period lies beyond the calendar's data, else None."""
        if self.covers(start) and self.covers(end):
            return None
        return (
            f"holiday data covers {self.first_year} to {self.last_year} only: dates after "
            f"{self.last_year}-12-31 follow the weekly hours until the calendar package is "
            "updated"
        )

    def _name(self, english: str) -> dict[str, str]:
        """The holiday's name in English and, when known, in Chinese."""
        return {"en": english, **self.names.get(english, {})}


@lru_cache(maxsize=1)
def china_calendar() -> HolidayCalendar:
    """China's calendar from the chinese-calendar package (loaded once per process)."""
    import chinese_calendar

    holidays = chinese_calendar.holidays
    names = {member.value: {"zh": member.chinese} for member in chinese_calendar.Holiday}
    years = (min(holidays).year, max(holidays).year)
    return HolidayCalendar(holidays, chinese_calendar.workdays, years, names)


@dataclass(frozen=True)
class HolidayRules:
    """How weekly ranges change on public holidays and make-up working days."""

    # None keeps the weekly ranges on a holiday; () closes; other ranges replace the day's.
    public: Ranges | None = ()
    # The weekday whose ranges a make-up working day uses; None keeps its own weekday's.
    makeup: int | None = None
    calendar: HolidayCalendar = field(default_factory=china_calendar, compare=False, repr=False)

    def ranges_on(self, day: date, weekly: Callable[[int], Ranges]) -> Ranges:
        """The ranges starting on a date, after the holiday rules."""
        kind = self.calendar.day(day).kind
        if kind == HOLIDAY and self.public is not None:
            return self.public
        if kind == MAKEUP and self.makeup is not None:
            return weekly(self.makeup)
        return weekly(day.weekday())


@dataclass(frozen=True)
class Closure:
    """An emergency closure set by a supervisor: its own message per language, an optional end."""

    message: dict[str, str]
    until: datetime | None = None
    set_by: str = ""
    since: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Tell whether the closure is in force at an instant (`since` is for display only)."""
        return self.until is None or now < self.until


# --- wall-clock ranges in time ----------------------------------------------------------------


def open_at(zone: ZoneInfo, ranges_on: DayRanges, now: datetime) -> bool:
    """Tell whether some range covers the local wall-clock minute of an instant."""
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    today = local.date()
    if any(start <= minute < end for start, end in ranges_on(today)):
        return True
    spilled = minute + MINUTES_PER_DAY
    return any(start <= spilled < end for start, end in ranges_on(today - timedelta(days=1)))


def next_open_edge(
    zone: ZoneInfo, ranges_on: DayRanges, now: datetime, *, horizon_days: int = HORIZON_DAYS
) -> datetime | None:
    """Return the first instant after now when the ranges go from closed to open, or None."""

    # Compare and step in UTC: within one zone Python compares wall clocks and ignores `fold`.
    now = now.astimezone(UTC)

    def is_edge(instant: datetime) -> bool:
        return (
            instant > now
            and open_at(zone, ranges_on, instant)
            and not open_at(zone, ranges_on, instant - timedelta(minutes=1))
        )

    today = now.astimezone(zone).date()
    found: list[datetime] = []
    for offset in range(-1, horizon_days + 1):
        day = today + timedelta(days=offset)
        candidates = (c.astimezone(UTC) for c in _candidates(zone, day, ranges_on(day)))
        found += [c for c in candidates if is_edge(c)]
        # A candidate of one day can only be beaten by the next day's, around a clock change.
        if found and (day - today).days >= 1 and min(found).astimezone(zone).date() < day:
            break
    return min(found).astimezone(zone) if found else None


def _candidates(zone: ZoneInfo, day: date, ranges: Iterable[tuple[int, int]]) -> list[datetime]:
    """Instants where the area may open on a date: range starts and the day's clock changes."""
    found = []
    midnight = datetime.combine(day, time(0))
    for start, _ in ranges:
        naive = midnight + timedelta(minutes=start)
        # A repeated wall-clock hour reaches a start twice; both may be openings.
        found += [naive.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
    found += _clock_changes(zone, day)
    return found


def _clock_changes(zone: ZoneInfo, day: date) -> list[datetime]:
    """The instants a zone's offset changes during a local date (minute precision)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    if start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset():
        return []
    low, high = start, end
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle <= low:
            middle = low + timedelta(minutes=1)
        if middle.astimezone(zone).utcoffset() == start.astimezone(zone).utcoffset():
            low = middle
        else:
            high = middle
    return [high.astimezone(zone)]


def intervals(
    zone: ZoneInfo, ranges_on: DayRanges, first: date, last: date
) -> list[tuple[datetime, datetime]]:
    """List the (start, end) instants of the ranges starting from first to last (local dates)."""
    found = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        for start, end in ranges_on(day):
            found.append(
                (
                    (midnight + timedelta(minutes=start)).astimezone(zone),
                    (midnight + timedelta(minutes=end)).astimezone(zone),
                )
            )
    return sorted(found)


# --- "when does it open" with holidays and closures ---------------------------------------------


def is_open(hours: WeeklyHours, now: datetime, *, closure: Closure | None = None) -> bool:
    """Tell whether an area's hours (holiday rules included) are open, a closure aside."""
    if closure is not None and closure.active(now):
        return False
    return hours.is_open(now)


def next_opening(
    hours: WeeklyHours, now: datetime, *, closure: Closure | None = None
) -> datetime | None:
    """When an area next opens after now, past holidays and a closure (None: not known)."""
    if closure is None or not closure.active(now):
        return now if hours.is_open(now) else hours.next_opening(now)
    if closure.until is None:
        return None
    if hours.is_open(closure.until):
        return closure.until.astimezone(hours.zone)
    return hours.next_opening(closure.until)
