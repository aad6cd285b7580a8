"""Hours, holidays and shifts checked against brute-force minute-by-minute evaluation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.coverage import coverage
from routing.holidays import HolidayCalendar, HolidayRules
from routing.hours import Opening, WeeklyHours
from routing.roster import Agent, DatedException, Roster, Shift
from routing.shifts import agent_on_shift

MINUTE = timedelta(minutes=1)
ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe"]
# Mondays near clock changes, a quiet week, and the last week of the calendar's data.
BASES = [
    date(2026, 3, 2),
    date(2026, 3, 23),
    date(2026, 10, 26),
    date(2026, 6, 1),
    date(2026, 12, 28),
]
WINDOW_DAYS = 10
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ranges = st.lists(
    st.tuples(st.integers(0, 95).map(lambda q: q * 15), st.integers(1, 96).map(lambda q: q * 15)),
    max_size=3,
).map(lambda items: tuple((start, start + length) for start, length in items))
weekly_ranges = st.lists(st.tuples(st.integers(0, 6), ranges), max_size=6)


@st.composite
def setups(draw):
    """A zone, a base date, a calendar with holidays and make-up days, and holiday rules."""
    zone = draw(st.sampled_from(ZONES))
    base = draw(st.sampled_from(BASES))
    offsets = draw(st.lists(st.integers(-1, WINDOW_DAYS), unique=True, max_size=6))
    split = draw(st.integers(0, len(offsets)))
    holidays = {base + timedelta(days=o): "holiday" for o in offsets[:split]}
    workdays = {base + timedelta(days=o): "makeup" for o in offsets[split:]}
    calendar = HolidayCalendar(holidays, workdays, (2000, base.year))
    public = draw(st.one_of(st.none(), st.just(()), ranges))
    makeup = draw(st.one_of(st.none(), st.integers(0, 6)))
    use_rules = draw(st.booleans())
    rules = HolidayRules(public, makeup, calendar) if use_rules else None
    return zone, base, calendar, rules


def effective(day: date, weekly: dict[int, list[tuple[int, int]]], rules, calendar) -> list:
    """The oracle's own reading of a date: holiday, make-up day or ordinary."""
    if rules is not None and calendar.covers(day):
        if day in calendar.holidays and rules.public is not None:
            return list(rules.public)
        if day in calendar.workdays and rules.makeup is not None:
            return weekly.get(rules.makeup, [])
    return weekly.get(day.weekday(), [])


def wall_minutes(base, weekly, rules, calendar) -> set[tuple[date, int]]:
    """Every open wall-clock minute, expanded one by one."""
    minutes = set()
    for offset in range(-2, WINDOW_DAYS + 2):
        day = base + timedelta(days=offset)
        for start, end in effective(day, weekly, rules, calendar):
            for minute in range(start, end):
                minutes.add((day + timedelta(days=minute // 1440), minute % 1440))
    return minutes


def as_weekly(items) -> dict[int, list[tuple[int, int]]]:
    weekly: dict[int, list[tuple[int, int]]] = {}
    for weekday, spans in items:
        weekly.setdefault(weekday, []).extend(spans)
    return weekly


@PROPERTY
@given(
    setup=setups(),
    items=weekly_ranges,
    probes=st.lists(st.integers(0, 7 * 1440 - 1), min_size=1, max_size=4),
)
def test_hours_match_minute_by_minute_evaluation(setup, items, probes):
    zone_name, base, calendar, rules = setup
    zone = ZoneInfo(zone_name)
    weekly = as_weekly(items)
    openings = tuple(Opening(day, s, e) for day, spans in weekly.items() for s, e in spans)
    hours = WeeklyHours(zone_name, openings, rules)
    minutes = wall_minutes(base, weekly, rules, calendar)

    def oracle(instant: datetime) -> bool:
        local = instant.astimezone(zone)
        return (local.date(), local.hour * 60 + local.minute) in minutes

    start = datetime.combine(base, time(0), tzinfo=zone).astimezone(UTC)
    # Every edge lies on a quarter hour: check each one and the minute before it.
    for quarter in range(8 * 96):
        for instant in (start + quarter * 15 * MINUTE, start + (quarter * 15 - 1) * MINUTE):
            assert hours.is_open(instant) == oracle(instant), instant
    if rules is None:
        return  # the weekly path keeps its own next_opening, tested in test_hours.py
    for probe in probes:
        now = start + probe * MINUTE
        expected = None
        for step in range(1, 3 * 1440):
            instant = now + step * MINUTE
            if oracle(instant) and not oracle(instant - MINUTE):
                expected = instant
                break
        found = hours.next_opening(now)
        if expected is not None:
            assert found is not None and found.astimezone(UTC) == expected
        else:
            assert found is None or found.astimezone(UTC) >= now + 3 * 1440 * MINUTE


@st.composite
def agents(draw, zone_name: str, base: date):
    """An agent with weekly shifts and a few dated exceptions near the base date."""
    shifts = tuple(
        Shift(day, s, e) for day, spans in draw(weekly_ranges) for s, e in spans if s < 1440
    )
    exceptions = []
    for offset in draw(st.lists(st.integers(-1, WINDOW_DAYS), unique=True, max_size=3)):
        day = base + timedelta(days=offset)
        extra = draw(st.one_of(st.none(), ranges.filter(bool).map(lambda r: r[0])))
        exceptions.append(DatedException(day) if extra is None else DatedException(day, *extra))
    return Agent(
        id="a1",
        name="a1",
        phone="+8613900000001",
        languages=("zh",),
        skills={"labor": 1},
        shifts=shifts,
        exceptions=tuple(exceptions),
        timezone=zone_name,
    )


@PROPERTY
@given(data=st.data(), setup=setups(), probe=st.integers(0, 7 * 1440 - 1))
def test_shifts_match_minute_by_minute_evaluation(data, setup, probe):
    zone_name, base, calendar, rules = setup
    zone = ZoneInfo(zone_name)
    agent = data.draw(agents(zone_name, base))
    weekly = as_weekly([(s.weekday, [(s.start, s.end)]) for s in agent.shifts])
    covered: set[datetime] = set()
    for offset in range(-2, WINDOW_DAYS + 2):
        day = base + timedelta(days=offset)
        off = any(e.day == day and e.off for e in agent.exceptions)
        # A copy: adding the day's extra shifts must not change the weekly pattern itself.
        spans = [] if off else list(effective(day, weekly, rules, calendar))
        spans += [(e.start, e.end) for e in agent.exceptions if e.day == day and not e.off]
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        for start, end in spans:
            first = (midnight + timedelta(minutes=start)).astimezone(UTC)
            last = (midnight + timedelta(minutes=end)).astimezone(UTC)
            minute = first
            while minute < last:
                covered.add(minute)
                minute += MINUTE
    start = datetime.combine(base, time(0), tzinfo=zone).astimezone(UTC)
    for quarter in range(probe % 96, 8 * 96, 7):
        for instant in (start + quarter * 15 * MINUTE, start + (quarter * 15 - 1) * MINUTE):
            assert agent_on_shift(agent, instant, rules) == (instant in covered), instant


@PROPERTY
@given(data=st.data(), zone_name=st.sampled_from(["UTC", "Asia/Shanghai"]), hour=st.integers(0, 23))
def test_coverage_matches_minute_by_minute_evaluation(data, zone_name, hour):
    base = date(2026, 9, 28)
    zone = ZoneInfo(zone_name)
    calendar = HolidayCalendar({date(2026, 10, 1): "national"}, {}, (2000, 2026))
    rules = HolidayRules((), None, calendar)
    roster = Roster(
        tuple(replace(data.draw(agents(zone_name, base)), id=f"a{index}") for index in range(2))
    )
    items = data.draw(weekly_ranges)
    openings = tuple(Opening(d, s, e) for d, spans in items for s, e in spans)
    hours = WeeklyHours(zone_name, openings, rules)
    start = datetime.combine(base + timedelta(days=3), time(hour), tzinfo=zone)
    result = coverage(roster, {"labor": hours}, ["zh"], start, 1, rules=rules)
    cell = result.cells[0]
    uncovered = sum(
        1
        for minute in range(60)
        if hours.is_open(start + minute * MINUTE)
        and not any(agent_on_shift(a, start + minute * MINUTE, rules) for a in roster.agents)
    )
    assert cell.uncovered_minutes == uncovered
