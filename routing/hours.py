"""Weekly opening hours in a time zone: is an area open now, and when does it next open."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routing.holidays import CalendarDay, HolidayRules, Ranges, next_open_edge, open_at
from routing.problems import Problem, ProblemsError

DAY_IDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# More ranges than this in one day is a typing slip, not a timetable.
MAX_RANGES_PER_DAY = 12
# What a holiday rule may say instead of ranges: shut, or the usual weekly hours.
CLOSED = "closed"
WEEKLY = "weekly"


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
    start, end = _parse_clocks(text)
    if end <= start:
        end += MINUTES_PER_DAY
    return start, end


def _parse_clocks(text: str) -> tuple[int, int]:
    """Parse the two times of "HH:MM-HH:MM" into minutes after midnight, as written."""
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"expected HH:MM-HH:MM, got {text!r}")
    start = _parse_clock(start_text.strip())
    end = _parse_clock(end_text.strip())
    if start >= MINUTES_PER_DAY:
        raise ValueError(f"a range cannot start at 24:00: {text!r}")
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


def format_hhmm(minutes: int) -> str:
    """Render minutes after midnight as "HH:MM", the way ranges are typed (24:00 stays 24:00)."""
    hours, rest = divmod(minutes, 60)
    return f"{hours:02d}:{rest:02d}"


def parse_day_range(text: str) -> tuple[int, int]:
    """Parse an edited "HH:MM-HH:MM" range within one day (24:00 allowed as its end)."""
    start, end = _parse_clocks(text)
    if end <= start:
        # Edits stay within a day, so a range past midnight is split by whoever types it.
        raise ValueError(
            f"the end is not after the start in {text!r}; hours past midnight end at 24:00 "
            "and go on from 00:00 the next day"
        )
    return start, end


# --- hours as an editable document ------------------------------------------------------------
# The consoles and the API edit hours in the config's own shape: {"weekly": {"mon": ["09:00-21:00"],
# ...}, "holidays": {"public": "closed" | "weekly" | [ranges], "makeup": "weekly" | "mon".."sun"}
# or null}. Edited ranges stay within their day: an overnight opening is two ranges.


def hours_document(hours: WeeklyHours) -> dict[str, Any]:
    """The editable document of hours; an overnight range is split at midnight."""
    weekly: dict[str, list[tuple[int, int]]] = {day: [] for day in DAY_IDS}
    for opening in hours.openings:
        if opening.end <= MINUTES_PER_DAY:
            weekly[DAY_IDS[opening.weekday]].append((opening.start, opening.end))
            continue
        weekly[DAY_IDS[opening.weekday]].append((opening.start, MINUTES_PER_DAY))
        weekly[DAY_IDS[(opening.weekday + 1) % 7]].append((0, opening.end - MINUTES_PER_DAY))
    return {
        "weekly": {day: [_range_text(r) for r in _merged(spans)] for day, spans in weekly.items()},
        "holidays": rules_document(hours.holidays),
    }


def rules_document(rules: HolidayRules | None) -> dict[str, Any] | None:
    """The editable document of a holiday rule; None when holidays change nothing."""
    if rules is None or (rules.public is None and rules.makeup is None):
        return None
    if rules.public is None:
        public: str | list[str] = WEEKLY
    elif not rules.public:
        public = CLOSED
    else:
        public = [_range_text(r) for r in rules.public]
    makeup = WEEKLY if rules.makeup is None else DAY_IDS[rules.makeup]
    return {"public": public, "makeup": makeup}


def parse_hours_document(document: object, timezone: str) -> WeeklyHours:
    """Check an edited hours document and build the hours, or raise with every problem."""
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise ProblemsError("hours", [Problem((), "expected an object with weekly and holidays")])
    for extra in sorted(set(map(str, document)) - {"weekly", "holidays"}):
        problems.append(Problem((extra,), "unknown field; expected weekly and holidays"))
    weekly = document.get("weekly")
    openings = []
    if not isinstance(weekly, Mapping):
        problems.append(Problem(("weekly",), "expected an object of day: [HH:MM-HH:MM, ...]"))
        weekly = {}
    for day, ranges in weekly.items():
        if day not in DAY_IDS:
            problems.append(Problem(("weekly", str(day)), f"unknown day; use {', '.join(DAY_IDS)}"))
            continue
        for start, end in _day_ranges(ranges, ("weekly", day), problems):
            openings.append(Opening(DAY_IDS.index(day), start, end))
    holidays = _rules(document.get("holidays"), problems)
    if problems:
        raise ProblemsError("hours", problems)
    openings.sort(key=lambda opening: (opening.weekday, opening.start))
    return WeeklyHours(timezone, tuple(openings), holidays)


def _rules(data: object, problems: list[Problem]) -> HolidayRules | None:
    """Read a holiday rule; "weekly" for both holidays and make-up days is no rule at all."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        problems.append(Problem(("holidays",), "expected an object (public, makeup) or null"))
        return None
    for extra in sorted(set(map(str, data)) - {"public", "makeup"}):
        problems.append(Problem(("holidays", extra), "unknown field; expected public and makeup"))
    public_data = data.get("public", CLOSED)
    public: Ranges | None = ()
    if public_data == WEEKLY:
        public = None
    elif isinstance(public_data, list):
        public = tuple(_day_ranges(public_data, ("holidays", "public"), problems))
    elif public_data != CLOSED:
        problems.append(
            Problem(("holidays", "public"), "expected closed, weekly or a list of HH:MM-HH:MM")
        )
    makeup_data = data.get("makeup", WEEKLY)
    makeup = None
    if makeup_data in DAY_IDS:
        makeup = DAY_IDS.index(makeup_data)
    elif makeup_data != WEEKLY:
        problems.append(
            Problem(("holidays", "makeup"), f"expected weekly or a day: {', '.join(DAY_IDS)}")
        )
    if public is None and makeup is None:
        return None
    return HolidayRules(public=public, makeup=makeup)


def _day_ranges(
    data: object, path: tuple[str | int, ...], problems: list[Problem]
) -> list[tuple[int, int]]:
    """Read one day's ranges, recording a bad range at its index and an overlap at the later."""
    if not isinstance(data, list):
        problems.append(Problem(path, "expected a list of HH:MM-HH:MM ranges"))
        return []
    if len(data) > MAX_RANGES_PER_DAY:
        problems.append(Problem(path, f"at most {MAX_RANGES_PER_DAY} ranges a day"))
        return []
    found: list[tuple[int, int, int]] = []
    for index, text in enumerate(data):
        if not isinstance(text, str):
            problems.append(Problem((*path, index), "expected HH:MM-HH:MM"))
            continue
        try:
            found.append((*parse_day_range(text), index))
        except ValueError as error:
            problems.append(Problem((*path, index), str(error)))
    found.sort()
    for (start, end, _), (later_start, _, later_index) in zip(found, found[1:], strict=False):
        if later_start < end:
            problems.append(Problem((*path, later_index), f"overlaps {_range_text((start, end))}"))
    return [(start, end) for start, end, _ in found]


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ranges and join those that overlap or touch (a night split at midnight, say)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _range_text(span: tuple[int, int]) -> str:
    """A range as typed: "HH:MM-HH:MM"."""
    return f"{format_hhmm(span[0])}-{format_hhmm(span[1])}"
