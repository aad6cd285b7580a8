"""Staffing forecasts: calls and handling time per half-hour of an area, and the agents they need.

The forecast learns a pattern from the last weeks of call records: for each kind of day and each
half-hour of the local day, the mean number of calls offered (answered or not) and their mean
handling time (talk and wrap-up of the answered ones). A date ahead then takes its kind's
pattern, and Erlang C (routing.erlang) turns each half-hour into agents, with the config's
`staffing:` targets.

The kind of a day, for history and forecast alike, follows China's calendar (routing.holidays):
- an ordinary day is its weekday;
- a public holiday follows the holidays' own pattern, learned from the holidays in the history;
  when the history holds none it follows the Sunday pattern (a day off, as the nearest known);
- a make-up working day (调休上班) follows the weekday it replaces: the working day given off in
  its place (the in-lieu day of the same holiday, nearest in date), so Sunday 28 September 2025,
  worked before National Day, is forecast as the Tuesday (7 October) it pays for. One that pairs
  with no in-lieu day follows Monday, the first working day of a week.
A kind the history has no day of follows the mean of every day of the history.

Pure: no clock, no I/O. The call records come in through `CallHistory`, which the durable store
(or, until it is there, the Redis event stream) implements on a lower floor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from routing.eligibility import may_take
from routing.erlang import Demand, Requirement, Target, required
from routing.holidays import HOLIDAY, MAKEUP, HolidayCalendar
from routing.problems import Problem
from routing.roster import Roster
from routing.shifts import agent_intervals

HALF_HOUR_S = 30 * 60
SLOTS_PER_DAY = 24 * 60 * 60 // HALF_HOUR_S
HOLIDAY_PATTERN = "holiday"
SUNDAY = 6
MONDAY = 0
# A half-hour's own mean handling time is trusted from this many answered calls; below it the
# area's mean over the whole history is used, as a few calls say little about their length.
MIN_HANDLED_CALLS = 10

Pattern = int | str


@dataclass(frozen=True)
class PastCall:
    """One call offered to an area's agents: when it arrived and, if answered, how long it held
    its agent (talk and wrap-up); None when nobody answered it."""

    arrival: datetime
    area: str
    handling_s: float | None


class CallHistory(Protocol):
    """Where past calls are read from: the durable call records, or what Redis still holds."""

    @property
    def description(self) -> str:
        """Where the calls come from, for the plan's heading."""
        ...

    def since(self) -> datetime | None:
        """The earliest instant the source holds calls from; None when it holds none."""
        ...

    def calls(self, start: datetime, end: datetime, area: str) -> Iterable[PastCall]:
        """The calls of an area that arrived from start to end (end excluded)."""
        ...


@dataclass(frozen=True)
class StaffingPolicy:
    """The `staffing:` section of the hotline config: targets of the staffing plan."""

    # 80 % of calls answered within 20 s: the usual contact-centre target.
    target_service_level: float = 0.8
    target_answer_s: int = 20
    # Above 85 % busy, agents of a legal hotline burn out: more are planned instead.
    max_occupancy: float = 0.85
    # The share of rostered time not on the phones: breaks, training, absence.
    shrinkage: float = 0.3
    # Weeks of history the weekday x half-hour pattern is learned from.
    history_weeks: int = 8

    def target(self) -> Target:
        """The Erlang C target these settings ask for."""
        return Target(
            self.target_service_level, self.target_answer_s, self.max_occupancy, self.shrinkage
        )


def parse_staffing(data: object) -> tuple[StaffingPolicy, list[Problem]]:
    """Read the optional `staffing:` section; every problem is returned, with the defaults."""
    path = ("staffing",)
    if data is None:
        return StaffingPolicy(), []
    if not isinstance(data, dict):
        return StaffingPolicy(), [Problem(path, "expected a mapping")]
    problems = [
        Problem((*path, str(extra)), f"unknown staffing setting; expected {', '.join(_FIELDS)}")
        for extra in sorted(set(map(str, data)) - set(_FIELDS))
    ]
    values: dict[str, Any] = {}
    for name, (low, high, whole) in _FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        kind_ok = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not kind_ok or not low <= value <= high:
            what = "a whole number" if whole else "a number"
            problems.append(Problem((*path, name), f"expected {what} from {low} to {high}"))
        else:
            values[name] = value
    # Bounds above keep Target's own checks from raising: these are the exclusive edges.
    for name in ("target_service_level", "max_occupancy"):
        if values.get(name) == 0:
            problems.append(Problem((*path, name), "expected a number above 0"))
    if values.get("target_service_level") == 1:
        problems.append(Problem((*path, "target_service_level"), "expected a number below 1"))
    if values.get("shrinkage") == 1:
        problems.append(Problem((*path, "shrinkage"), "expected a number below 1"))
    if problems:
        return StaffingPolicy(), problems
    return StaffingPolicy(**values), []


# Each setting's bounds (inclusive) and whether it is a whole number.
_FIELDS: dict[str, tuple[float, float, bool]] = {
    "target_service_level": (0, 1, False),
    "target_answer_s": (0, 3600, True),
    "max_occupancy": (0, 1, False),
    "shrinkage": (0, 1, False),
    "history_weeks": (1, 52, True),
}


# --- the kind of a day --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def china_replaced_weekdays() -> dict[date, int]:
    """Each make-up working day with the weekday of the in-lieu day it pays for (package data)."""
    import chinese_calendar

    return replaced_weekdays(chinese_calendar.workdays, chinese_calendar.in_lieu_days)


def replaced_weekdays(makeup: Mapping[date, str], in_lieu: Mapping[date, str]) -> dict[date, int]:
    """Pair each make-up day with the nearest unpaired in-lieu day of the same holiday."""
    free = sorted(in_lieu)
    found = {}
    for day in sorted(makeup):
        same = [other for other in free if in_lieu[other] == makeup[day]]
        if not same:
            continue
        nearest = min(same, key=lambda other: (abs((other - day).days), other))
        free.remove(nearest)
        found[day] = nearest.weekday()
    return found


def pattern_of(day: date, calendar: HolidayCalendar, replaced: Mapping[date, int]) -> Pattern:
    """The pattern a date follows: its weekday, the holidays' own, or a replaced weekday."""
    kind = calendar.day(day).kind
    if kind == HOLIDAY:
        return HOLIDAY_PATTERN
    if kind == MAKEUP:
        return replaced.get(day, MONDAY)
    return day.weekday()


# --- the forecast ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One half-hour ahead: its local start, the calls expected and their handling time."""

    start: datetime
    pattern: Pattern
    calls: float
    aht_s: float


def forecast(
    history: Iterable[PastCall],
    area: str,
    zone: ZoneInfo,
    learned: tuple[date, date],
    first: date,
    days: int,
    *,
    calendar: HolidayCalendar,
    replaced: Mapping[date, int],
) -> list[Slot]:
    """Forecast every half-hour of `days` local dates from first, from an area's calls in the
    `learned` local dates (first and last included)."""
    start, last = learned
    if last < start:
        raise ValueError("the history holds no whole day")
    day_count: dict[Pattern, int] = defaultdict(int)
    for offset in range((last - start).days + 1):
        day_count[pattern_of(start + timedelta(days=offset), calendar, replaced)] += 1
    offered: dict[tuple[Pattern, int], int] = defaultdict(int)
    handled: dict[tuple[Pattern, int], list[float]] = defaultdict(list)
    for call in history:
        local = call.arrival.astimezone(zone)
        if call.area != area or not start <= local.date() <= last:
            continue
        key = (pattern_of(local.date(), calendar, replaced), _slot_index(local))
        offered[key] += 1
        if call.handling_s is not None:
            handled[key].append(call.handling_s)
    everything = [seconds for found in handled.values() for seconds in found]
    if offered and not everything:
        raise ValueError(f"no answered {area} call in the history: no handling time to plan with")
    pooled = sum(everything) / len(everything) if everything else 0.0
    total_days = sum(day_count.values())
    slots = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        wanted = pattern_of(day, calendar, replaced)
        used = _observed(wanted, day_count)
        for index in range(SLOTS_PER_DAY):
            keys = [(used, index)] if used is not None else _all_keys(day_count, index)
            seen = day_count[used] if used is not None else total_days
            calls = sum(offered.get(key, 0) for key in keys) / seen
            lengths = [seconds for key in keys for seconds in handled.get(key, ())]
            aht = sum(lengths) / len(lengths) if len(lengths) >= MIN_HANDLED_CALLS else pooled
            slots.append(Slot(_slot_start(day, index, zone), wanted, calls, aht))
    return slots


def _observed(wanted: Pattern, day_count: Mapping[Pattern, int]) -> Pattern | None:
    """The pattern to learn from: the wanted one if seen, holidays else Sunday, else all days."""
    if day_count.get(wanted):
        return wanted
    if wanted == HOLIDAY_PATTERN and day_count.get(SUNDAY):
        return SUNDAY
    return None


def _all_keys(day_count: Mapping[Pattern, int], index: int) -> list[tuple[Pattern, int]]:
    """The half-hour's keys across every pattern seen."""
    return [(pattern, index) for pattern in day_count]


def _slot_index(local: datetime) -> int:
    """The half-hour of the local day an instant falls in (0 = 00:00-00:30)."""
    return (local.hour * 60 + local.minute) * 60 // HALF_HOUR_S


def _slot_start(day: date, index: int, zone: ZoneInfo) -> datetime:
    """The local start of a date's half-hour."""
    minutes = index * HALF_HOUR_S // 60
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


# --- required against rostered ------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """One half-hour of the plan: the forecast, the agents it needs and those rostered."""

    slot: Slot
    need: Requirement
    rostered: int

    @property
    def required(self) -> int:
        """Agents to roster for the half-hour, shrinkage included."""
        return self.need.rostered

    @property
    def gap(self) -> int:
        """Agents missing from the roster (0 when it has enough)."""
        return max(0, self.required - self.rostered)


def plan(slots: Sequence[Slot], rostered: Sequence[int], policy: StaffingPolicy) -> list[PlanRow]:
    """Each half-hour's agents required (Erlang C with the policy) beside those rostered."""
    target = policy.target()
    return [
        PlanRow(slot, required(_demand(slot), target), count)
        for slot, count in zip(slots, rostered, strict=True)
    ]


def _demand(slot: Slot) -> Demand:
    """A half-hour's demand; a half-hour without calls needs no handling time."""
    if slot.calls == 0 or slot.aht_s <= 0:
        return Demand(0, HALF_HOUR_S, 1)
    return Demand(slot.calls, HALF_HOUR_S, slot.aht_s)


def rostered(
    roster: Roster,
    area: str,
    languages: Collection[str],
    starts: Sequence[datetime],
    *,
    general_area: str,
) -> list[int]:
    """How many agents who may take the area (in one of the languages) are on shift for the
    whole of each half-hour; shifts as the roster states them."""
    if not starts:
        return []
    first = min(starts).date() - timedelta(days=2)
    last = max(starts).date() + timedelta(days=1)
    eligible = [
        agent
        for agent in roster.agents
        if any(may_take(agent, area, lang, general_area=general_area) for lang in languages)
    ]
    shifts = [agent_intervals(agent, first, last) for agent in eligible]
    counts = []
    for start in starts:
        end = start + timedelta(seconds=HALF_HOUR_S)
        counts.append(sum(any(a <= start and end <= b for a, b in spans) for spans in shifts))
    return counts


def need_total(rows: Iterable[PlanRow]) -> float:
    """Agent-hours missing over the rows (each half-hour's gap is half an agent-hour)."""
    return sum(row.gap for row in rows) * HALF_HOUR_S / 3600


def whole_days(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The local dates wholly inside [start, end): the days a pattern can be learned from."""
    local_start = start.astimezone(zone)
    first = local_start.date()
    if local_start != datetime.combine(first, time(0), tzinfo=zone):
        first += timedelta(days=1)
    last = end.astimezone(zone).date() - timedelta(days=1)
    return first, last
