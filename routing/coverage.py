"""Staffing coverage: for each hour of the coming days, area and language, who could answer.

A cell is a gap when, for some minute of the hour in which the area is open, no agent on shift
both speaks the language and takes the area (or the general area, whose agents take anything).

`staffing_gaps` finds the stretches of any window when the hotline's safety promises cannot be
kept: nobody on call to page for a crisis, or an area open with no crisis-trained agent on shift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from routing.eligibility import may_take
from routing.holidays import HolidayRules, intervals
from routing.roster import Agent, Roster, Supervisor
from routing.shifts import agent_intervals

HOUR = timedelta(hours=1)
Span = tuple[datetime, datetime]
NO_SUPERVISOR = "no-supervisor"
NO_CRISIS_AGENT = "no-crisis-agent"
# A roster import must cover this far ahead: long enough to see a gap and fix it before it opens.
ROSTER_CHECK_DAYS = 14


@dataclass(frozen=True)
class Cell:
    """One hour of one area and language: the eligible agents on shift and what is uncovered."""

    start: datetime
    area: str
    language: str
    agents: tuple[str, ...]
    open_minutes: int
    uncovered_minutes: int

    @property
    def gap(self) -> bool:
        """Tell whether callers could reach nobody during part of this open hour."""
        return self.uncovered_minutes > 0


@dataclass(frozen=True)
class Coverage:
    """Every cell of the period, hour by hour, and the gaps among them."""

    start: datetime
    hours: int
    cells: tuple[Cell, ...]
    gaps: tuple[Cell, ...]
    warning: str | None = None


def coverage(
    roster: Roster,
    areas: Mapping[str, Any] | Iterable[str],
    languages: Iterable[str],
    start: datetime,
    days: int,
    *,
    rules: HolidayRules | None = None,
    general_area: str = "general",
) -> Coverage:
    """Work out coverage for `days` days of whole hours from start (rounded down to the hour).

    `areas` maps area ids to their opening hours (a WeeklyHours or anything with `.hours`), or
    lists area ids that are always open. `rules` applies holidays to shifts, as the roster asks.
    """
    first = start.astimezone(start.tzinfo).replace(minute=0, second=0, microsecond=0)
    count = days * 24
    end = first + count * HOUR
    hours_by_area = _hours_by_area(areas)
    shifts = {agent.id: _spans(agent, first, end, rules) for agent in roster.agents}
    cells = []
    for area, hours in hours_by_area.items():
        open_spans = _open_spans(hours, first, end)
        for language in languages:
            eligible = [
                a for a in roster.agents if may_take(a, area, language, general_area=general_area)
            ]
            for index in range(count):
                cell_start = first + index * HOUR
                cells.append(_cell(cell_start, area, language, eligible, shifts, open_spans))
    warning = None
    if rules is not None:
        warning = rules.calendar.warning(first.date(), end.date())
    return Coverage(first, count, tuple(cells), tuple(c for c in cells if c.gap), warning)


def _hours_by_area(areas: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    """Each area id with its opening hours, or None for an area that is always open."""
    if isinstance(areas, Mapping):
        return {area: getattr(value, "hours", value) for area, value in areas.items()}
    return {area: None for area in areas}


def _spans(
    agent: Agent | Supervisor, first: datetime, end: datetime, rules: HolidayRules | None
) -> list[Span]:
    """An agent's shifts (a supervisor's on-call hours) that touch the period."""
    days = (first.date() - timedelta(days=2), end.date() + timedelta(days=1))
    return [s for s in agent_intervals(agent, *days, rules) if s[1] > first and s[0] < end]


def _open_spans(hours: Any, first: datetime, end: datetime) -> list[Span] | None:
    """The area's opening stretches in the period, or None when it is always open."""
    if hours is None:
        return None
    local_first = first.astimezone(hours.zone).date() - timedelta(days=1)
    local_last = end.astimezone(hours.zone).date()
    return [
        span
        for span in intervals(hours.zone, hours.ranges_on, local_first, local_last)
        if span[1] > first and span[0] < end
    ]


def _cell(
    start: datetime,
    area: str,
    language: str,
    eligible: list[Agent],
    shifts: Mapping[str, list[Span]],
    open_spans: list[Span] | None,
) -> Cell:
    """Build one hour's cell: agents overlapping it, open minutes, minutes nobody covers."""
    end = start + HOUR
    needed = _clip(open_spans if open_spans is not None else [(start, end)], start, end)
    agents, covered = [], []
    for agent in eligible:
        spans = _clip(shifts[agent.id], start, end)
        if spans:
            agents.append(agent.id)
            covered += spans
    uncovered = _minutes(needed) - _minutes(_intersect(_merge(needed), _merge(covered)))
    return Cell(start, area, language, tuple(agents), _minutes(needed), uncovered)


@dataclass(frozen=True)
class StaffingGap:
    """A stretch when a safety promise has nobody behind it; `area` is set for crisis gaps."""

    kind: str
    start: datetime
    end: datetime
    area: str | None = None

    def describe(self) -> str:
        """One line: "2026-12-07 00:00-08:00 Asia/Shanghai: no supervisor on call"."""
        if self.kind == NO_SUPERVISOR:
            what = "no supervisor on call"
        else:
            what = f"no crisis-trained agent on shift while {self.area} is open"
        return f"{format_stretch(self.start, self.end)}: {what}"


def staffing_gaps(
    roster: Roster,
    areas: Mapping[str, Any] | Iterable[str],
    start: datetime,
    end: datetime,
    *,
    rules: HolidayRules | None = None,
) -> tuple[StaffingGap, ...]:
    """List, in start's zone and in order, the stretches of [start, end) without a supervisor on
    call, and those of each open area without a crisis-trained agent on shift."""
    # `areas` reads as in `coverage` (hours by area id, or ids of areas always open); `rules`
    # applies holidays to agents' shifts, while on-call hours ignore them, as the pager does.
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    zone = start.tzinfo
    # Work in UTC: datetimes sharing a zone compare by wall clock, wrong across a DST change.
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    on_call = _utc_spans(s for sup in roster.supervisors for s in _spans(sup, first, last, None))
    crisis = _utc_spans(
        span
        for agent in roster.agents
        if agent.crisis_trained
        for span in _spans(agent, first, last, rules)
    )
    found = [
        StaffingGap(NO_SUPERVISOR, *_local(span, zone))
        for span in _subtract([(first, last)], on_call)
    ]
    for area, hours in _hours_by_area(areas).items():
        spans = _open_spans(hours, first, last)
        opened = _utc_spans(_clip(spans if spans is not None else [(first, last)], first, last))
        found += [
            StaffingGap(NO_CRISIS_AGENT, *_local(span, zone), area=area)
            for span in _subtract(opened, crisis)
        ]
    return tuple(sorted(found, key=lambda gap: (gap.start, gap.kind != NO_SUPERVISOR)))


def roster_gaps(
    roster: Roster,
    areas: Mapping[str, Any] | Iterable[str],
    now: datetime,
    *,
    days: int = ROSTER_CHECK_DAYS,
) -> tuple[StaffingGap, ...]:
    """The gaps a roster would leave from now over the coming days, in now's zone."""
    return staffing_gaps(roster, areas, now, now + timedelta(days=days))


def format_stretch(start: datetime, end: datetime) -> str:
    """Render a stretch as "2026-12-07 00:00-08:00 Asia/Shanghai" (24:00 for the next midnight)."""
    zone = start.tzinfo
    local_end = end.astimezone(zone)
    name = getattr(zone, "key", None) or start.tzname() or "UTC"
    if local_end.date() == start.date():
        return f"{start:%Y-%m-%d %H:%M}-{local_end:%H:%M} {name}"
    if (
        local_end.date() == start.date() + timedelta(days=1)
        and local_end.time() == datetime.min.time()
    ):
        return f"{start:%Y-%m-%d %H:%M}-24:00 {name}"
    return f"{start:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M} {name}"


def _utc_spans(spans: Iterable[Span]) -> list[Span]:
    """Spans in UTC, merged into sorted disjoint ones."""
    return _merge((a.astimezone(UTC), b.astimezone(UTC)) for a, b in spans)


def _local(span: Span, zone: tzinfo | None) -> Span:
    """A span in a zone."""
    return span[0].astimezone(zone), span[1].astimezone(zone)


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    """The parts of sorted disjoint spans that no sorted disjoint hole covers."""
    left = []
    for a, b in spans:
        for c, d in holes:
            if d <= a or c >= b:
                continue
            if c > a:
                left.append((a, c))
            a = max(a, d)
            if a >= b:
                break
        if a < b:
            left.append((a, b))
    return left


def _clip(spans: Iterable[Span], start: datetime, end: datetime) -> list[Span]:
    """The parts of spans inside [start, end)."""
    clipped = [(max(a, start), min(b, end)) for a, b in spans]
    return [(a, b) for a, b in clipped if a < b]


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Merge overlapping or touching spans into sorted disjoint ones."""
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _intersect(left: list[Span], right: list[Span]) -> list[Span]:
    """The intersection of two sorted disjoint span lists."""
    found = []
    for a, b in left:
        for c, d in right:
            if max(a, c) < min(b, d):
                found.append((max(a, c), min(b, d)))
    return found


def _minutes(spans: Iterable[Span]) -> int:
    """Total whole minutes of disjoint spans."""
    return round(sum((b - a).total_seconds() for a, b in _merge(spans)) / 60)
