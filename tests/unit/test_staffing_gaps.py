"""Staffing gaps: hours without a supervisor on call, open areas without a crisis-trained agent."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.coverage import (
    NO_CRISIS_AGENT,
    NO_SUPERVISOR,
    ROSTER_CHECK_DAYS,
    StaffingGap,
    format_stretch,
    roster_gaps,
    staffing_gaps,
)
from routing.holidays import HolidayCalendar, HolidayRules
from routing.hours import Opening, WeeklyHours
from routing.roster import (
    Agent,
    DatedException,
    Roster,
    Shift,
    Supervisor,
    on_call,
    parse_roster,
)
from routing.shifts import agent_on_shift

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)
DAY_HOURS = WeeklyHours(
    "Asia/Shanghai", tuple(Opening(day, 9 * 60, 21 * 60) for day in range(5))
)  # Monday to Friday 09:00-21:00, closed at the weekend


def at(day: date, hour: int = 0, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A local instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def daily(start: int, end: int) -> tuple[Shift, ...]:
    """The same shift (hours) every day of the week."""
    return tuple(Shift(day, start * 60, end * 60) for day in range(7))


def agent(agent_id: str, shifts, *, crisis: bool = True, **fields) -> Agent:
    """An agent with the given weekly shifts."""
    return Agent(
        id=agent_id,
        name=agent_id,
        phone="+86139000000" + agent_id[-2:],
        languages=("zh",),
        skills={"general": 1},
        crisis_trained=crisis,
        shifts=tuple(shifts),
        **fields,
    )


def supervisor(supervisor_id: str, shifts, **fields) -> Supervisor:
    """A supervisor on call at the given weekly hours."""
    return Supervisor(supervisor_id, supervisor_id, "+8613900000199", tuple(shifts), **fields)


def test_a_roster_without_supervisors_has_one_gap_over_the_whole_window():
    roster = Roster((agent("a01", daily(0, 24)),))

    gaps = staffing_gaps(roster, ["general"], at(MONDAY), at(MONDAY + timedelta(days=14)))

    assert gaps == (StaffingGap(NO_SUPERVISOR, at(MONDAY), at(MONDAY + timedelta(days=14))),)
    assert gaps[0].describe() == (
        "2026-12-07 00:00 to 2026-12-21 00:00 Asia/Shanghai: no supervisor on call"
    )


def test_nights_without_a_supervisor_are_one_readable_range_each():
    roster = Roster((agent("a01", daily(0, 24)),), supervisors=(supervisor("s1", daily(8, 24)),))

    gaps = staffing_gaps(roster, ["general"], at(MONDAY), at(MONDAY + timedelta(days=2)))

    assert [gap.describe() for gap in gaps] == [
        "2026-12-07 00:00-08:00 Asia/Shanghai: no supervisor on call",
        "2026-12-08 00:00-08:00 Asia/Shanghai: no supervisor on call",
    ]
    assert all(gap.area is None and gap.kind == NO_SUPERVISOR for gap in gaps)


def test_back_to_back_and_overlapping_on_call_hours_leave_no_gap():
    night = tuple(Shift(day, 22 * 60, 32 * 60) for day in range(7))  # 22:00-08:00 overnight
    roster = Roster(
        (agent("a01", daily(0, 24)),),
        supervisors=(supervisor("day", daily(8, 22)), supervisor("night", night)),
    )

    assert staffing_gaps(roster, ["general"], at(MONDAY), at(MONDAY + timedelta(days=14))) == ()


def test_an_open_area_without_a_crisis_trained_agent_is_a_gap_of_that_area():
    roster = Roster(
        (
            agent("a01", daily(9, 17)),  # crisis-trained, leaves at 17:00
            agent("a02", daily(0, 24), crisis=False),  # always there, but not crisis-trained
        ),
        supervisors=(supervisor("s1", daily(0, 24)),),
    )

    gaps = staffing_gaps(
        roster, {"family": DAY_HOURS}, at(MONDAY + timedelta(days=4)), at(MONDAY + timedelta(7))
    )

    # Friday 17:00-21:00; the weekend is closed, so no gap there.
    assert gaps == (
        StaffingGap(
            NO_CRISIS_AGENT,
            at(MONDAY + timedelta(days=4), 17),
            at(MONDAY + timedelta(days=4), 21),
            area="family",
        ),
    )
    assert gaps[0].describe() == (
        "2026-12-11 17:00-21:00 Asia/Shanghai: "
        "no crisis-trained agent on shift while family is open"
    )


def test_areas_always_open_need_a_crisis_trained_agent_at_night_too():
    roster = Roster((agent("a01", daily(8, 20)),), supervisors=(supervisor("s1", daily(0, 24)),))

    gaps = staffing_gaps(roster, ["general"], at(MONDAY, 12), at(MONDAY + timedelta(days=1), 12))

    assert [(gap.kind, gap.area, gap.describe()) for gap in gaps] == [
        (
            NO_CRISIS_AGENT,
            "general",
            "2026-12-07 20:00 to 2026-12-08 08:00 Asia/Shanghai: "
            "no crisis-trained agent on shift while general is open",
        )
    ]


def test_a_day_off_opens_a_gap_and_an_extra_shift_closes_one():
    roster = Roster(
        (
            agent(
                "a01",
                daily(9, 21),
                exceptions=(DatedException(MONDAY),),  # off on Monday
            ),
            agent(
                "a02",
                (),
                exceptions=(DatedException(MONDAY, 9 * 60, 15 * 60),),  # covers Monday morning
            ),
        ),
        supervisors=(supervisor("s1", daily(0, 24)),),
    )

    gaps = staffing_gaps(roster, {"family": DAY_HOURS}, at(MONDAY), at(MONDAY + timedelta(2)))

    assert [(gap.start, gap.end) for gap in gaps] == [(at(MONDAY, 15), at(MONDAY, 21))]


def test_a_holiday_that_closes_the_area_needs_nobody():
    calendar = HolidayCalendar({MONDAY: "holiday"}, {}, (2000, 2100))
    rules = HolidayRules(public=(), calendar=calendar)
    hours = WeeklyHours(DAY_HOURS.timezone, DAY_HOURS.openings, rules)
    roster = Roster((agent("a01", ()),), supervisors=(supervisor("s1", daily(0, 24)),))

    gaps = staffing_gaps(roster, {"family": hours}, at(MONDAY), at(MONDAY + timedelta(days=2)))

    # Monday is a public holiday (closed); only Tuesday's hours are uncovered.
    assert [gap.describe() for gap in gaps] == [
        "2026-12-08 09:00-21:00 Asia/Shanghai: "
        "no crisis-trained agent on shift while family is open"
    ]


def test_gaps_are_clipped_to_the_window_and_given_in_its_zone():
    roster = Roster((agent("a01", daily(0, 24)),), supervisors=(supervisor("s1", daily(8, 24)),))

    gaps = staffing_gaps(
        roster, [], datetime(2026, 12, 7, 22, tzinfo=UTC), datetime(2026, 12, 7, 23, tzinfo=UTC)
    )

    # 06:00-07:00 in Shanghai is inside the supervisor's night off.
    assert gaps == (
        StaffingGap(
            NO_SUPERVISOR,
            datetime(2026, 12, 7, 22, tzinfo=UTC),
            datetime(2026, 12, 7, 23, tzinfo=UTC),
        ),
    )
    assert gaps[0].describe() == "2026-12-07 22:00-23:00 UTC: no supervisor on call"


def test_a_naive_window_is_refused():
    with pytest.raises(ValueError):
        staffing_gaps(Roster(()), [], datetime(2026, 12, 7), datetime(2026, 12, 8))


def test_a_stretch_ending_at_the_next_midnight_reads_24_00():
    assert format_stretch(at(MONDAY, 16), at(MONDAY + timedelta(days=1))) == (
        "2026-12-07 16:00-24:00 Asia/Shanghai"
    )


# --- the check a roster import passes ----------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 9, 24, 18, 30, tzinfo=SHANGHAI),  # the National Day holiday ahead
        datetime(2026, 12, 5, 7, 25, tzinfo=SHANGHAI),
        datetime(2027, 2, 1, 0, 0, tzinfo=SHANGHAI),  # past the holiday data
    ],
)
def test_the_demo_roster_covers_every_hour_of_the_next_fortnight(hotline_config, now):
    roster = parse_roster(
        (REPO / "examples" / "roster.yaml").read_text(encoding="utf-8"),
        source="roster.yaml",
        area_ids=hotline_config.areas,
        languages=hotline_config.languages,
    )
    hours = {area_id: area.hours for area_id, area in hotline_config.areas.items()}

    assert [gap.describe() for gap in roster_gaps(roster, hours, now)] == []


def test_the_import_check_looks_exactly_fourteen_days_ahead():
    now = at(MONDAY, 10)
    everyone = (agent("a01", daily(0, 24)),)

    def off_on(day: date) -> Roster:
        return Roster(
            everyone,
            supervisors=(supervisor("s1", daily(0, 24), exceptions=(DatedException(day),)),),
        )

    assert ROSTER_CHECK_DAYS == 14
    inside = roster_gaps(off_on(MONDAY + timedelta(days=14)), ["general"], now)
    assert [gap.describe() for gap in inside] == [
        "2026-12-21 00:00-10:00 Asia/Shanghai: no supervisor on call"
    ]
    assert roster_gaps(off_on(MONDAY + timedelta(days=15)), ["general"], now) == ()


# --- against an instant-by-instant oracle -----------------------------------------------------

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "UTC"]
# A Monday before New York's and London's autumn clock change, and an ordinary one.
BASES = [date(2026, 10, 19), date(2026, 10, 26), date(2026, 12, 7)]
WINDOW_DAYS = 9
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

spans = st.tuples(st.integers(0, 95), st.integers(1, 64)).map(
    lambda q: (q[0] * 15, q[0] * 15 + q[1] * 15)
)
weekly = st.lists(st.tuples(st.integers(0, 6), spans), max_size=5).map(
    lambda items: tuple(sorted({Shift(day, s, e) for day, (s, e) in items}, key=repr))
)


@st.composite
def dated(draw, base: date):
    """A few dated exceptions near the base date: days off and extra shifts."""
    found = []
    for offset in draw(st.lists(st.integers(-1, WINDOW_DAYS), unique=True, max_size=2)):
        day = base + timedelta(days=offset)
        extra = draw(st.one_of(st.none(), spans))
        found.append(DatedException(day) if extra is None else DatedException(day, *extra))
    return tuple(found)


@st.composite
def setups(draw):
    """A window, areas with hours in some zone, and a roster with people in various zones."""
    base = draw(st.sampled_from(BASES))
    window_zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    start = at(base, 0, zone=window_zone) + timedelta(minutes=15 * draw(st.integers(0, 200)))
    end = start + timedelta(minutes=15 * draw(st.integers(1, 4 * 24 * 5)))
    people = []
    for index in range(draw(st.integers(0, 3))):
        people.append(
            agent(
                f"a{index:02d}",
                draw(weekly),
                crisis=draw(st.booleans()),
                exceptions=draw(dated(base)),
                timezone=draw(st.sampled_from(ZONES)),
            )
        )
    supervisors = [
        Supervisor(
            f"s{index}",
            f"s{index}",
            f"+861390000019{index}",
            draw(weekly),
            draw(dated(base)),
            draw(st.sampled_from(ZONES)),
        )
        for index in range(draw(st.integers(0, 2)))
    ]
    hours_zone = draw(st.sampled_from(ZONES))
    openings = tuple(Opening(s.weekday, s.start, s.end) for s in draw(weekly))
    areas = {"family": WeeklyHours(hours_zone, openings), "general": None}
    return Roster(tuple(people), supervisors=tuple(supervisors)), areas, start, end


@PROPERTY
@given(setup=setups())
def test_gaps_match_instant_by_instant_evaluation(setup):
    roster, areas, start, end = setup
    area_hours = {area: hours for area, hours in areas.items() if hours is not None}
    gaps = staffing_gaps(roster, areas, start, end)

    def in_gap(instant: datetime, kind: str, area: str | None) -> bool:
        return any(g.kind == kind and g.area == area and g.start <= instant < g.end for g in gaps)

    crisis = [a for a in roster.agents if a.crisis_trained]
    # Every edge lies on a quarter hour: probe each one and the minute before it.
    instant = start.astimezone(UTC)
    while instant < end:
        for probe in (instant, instant + timedelta(minutes=14)):
            if probe >= end:
                continue
            assert in_gap(probe, NO_SUPERVISOR, None) == (not on_call(roster, probe)), probe
            nobody = not any(agent_on_shift(a, probe) for a in crisis)
            assert in_gap(probe, NO_CRISIS_AGENT, "general") == nobody, probe
            family_open = area_hours["family"].is_open(probe)
            assert in_gap(probe, NO_CRISIS_AGENT, "family") == (family_open and nobody), probe
        instant += timedelta(minutes=15)
    for gap in gaps:
        assert start <= gap.start < gap.end <= end
        assert gap.start.tzinfo is start.tzinfo
