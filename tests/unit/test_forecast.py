"""The staffing forecast: the weekday x half-hour pattern of past calls, holidays and make-up days,
handling times, agents rostered per half-hour, and the config's staffing section."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.config import check_config, load_config
from routing.forecast import (
    HOLIDAY_PATTERN,
    MIN_HANDLED_CALLS,
    PastCall,
    Slot,
    StaffingPolicy,
    china_replaced_weekdays,
    forecast,
    parse_staffing,
    plan,
    replaced_weekdays,
    rostered,
    whole_days,
)
from routing.holidays import HolidayCalendar
from routing.roster import parse_roster
from tests.fixtures.config import edited_config

ZONE = ZoneInfo("Asia/Shanghai")
# Two weeks of history, Monday 2 to Sunday 15 March 2026; the forecast's week starts Monday 16.
LEARNED = (date(2026, 3, 2), date(2026, 3, 15))
NEXT_MONDAY = date(2026, 3, 16)
PLAIN = HolidayCalendar({}, {}, (2026, 2026))


def call(day: date, clock: str, handling_s: float | None = 300, area: str = "labor") -> PastCall:
    """A call arriving at a local date and HH:MM, answered for handling_s (None: not answered)."""
    hour, minute = map(int, clock.split(":"))
    arrival = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)
    return PastCall(arrival, area, handling_s)


def slots_of(found: list[Slot], day: date, clock: str) -> Slot:
    """The forecast's half-hour starting at a local date and HH:MM."""
    (slot,) = [s for s in found if s.start.date() == day and f"{s.start:%H:%M}" == clock]
    return slot


def run(history, *, calendar=PLAIN, replaced=None, days=7, first=NEXT_MONDAY, area="labor"):
    """The labor forecast from the two weeks of history."""
    return forecast(
        history, area, ZONE, LEARNED, first, days, calendar=calendar, replaced=replaced or {}
    )


def test_each_half_hour_of_a_weekday_is_the_mean_of_that_weekdays_past():
    mondays = (date(2026, 3, 2), date(2026, 3, 9))
    history = [call(mondays[0], "09:05") for _ in range(4)]
    history += [call(mondays[1], "09:29") for _ in range(6)]
    history += [call(date(2026, 3, 3), "09:10")]  # a Tuesday

    found = run(history)

    assert len(found) == 7 * 48
    assert slots_of(found, NEXT_MONDAY, "09:00").calls == 5.0
    assert slots_of(found, NEXT_MONDAY, "09:30").calls == 0.0
    assert slots_of(found, NEXT_MONDAY + timedelta(days=1), "09:00").calls == 0.5
    assert slots_of(found, NEXT_MONDAY + timedelta(days=2), "09:00").calls == 0.0


def test_unanswered_calls_count_as_demand_but_not_in_the_handling_time():
    monday = date(2026, 3, 2)
    history = [call(monday, "10:00", 200) for _ in range(MIN_HANDLED_CALLS)]
    history += [call(monday, "10:10", None) for _ in range(4)]

    slot = slots_of(run(history), NEXT_MONDAY, "10:00")

    assert slot.calls == (MIN_HANDLED_CALLS + 4) / 2
    assert slot.aht_s == 200


def test_a_half_hour_with_few_answered_calls_takes_the_areas_mean_handling_time():
    monday = date(2026, 3, 2)
    history = [call(monday, "10:00", 600)]  # one long call says little
    history += [call(monday, "14:00", 300) for _ in range(MIN_HANDLED_CALLS)]

    found = run(history)

    assert slots_of(found, NEXT_MONDAY, "10:00").aht_s == pytest.approx(
        (600 + 300 * MIN_HANDLED_CALLS) / (MIN_HANDLED_CALLS + 1)
    )
    assert slots_of(found, NEXT_MONDAY, "14:00").aht_s == 300


def test_other_areas_and_calls_outside_the_learned_days_are_left_out():
    history = [
        call(date(2026, 3, 2), "09:00", area="family"),
        call(date(2026, 2, 23), "09:00"),  # the Monday before the history
        call(date(2026, 3, 16), "09:00"),  # the day being forecast
        call(date(2026, 3, 9), "09:00"),
    ]

    assert slots_of(run(history), NEXT_MONDAY, "09:00").calls == 0.5


def test_a_holiday_ahead_follows_the_sunday_pattern_when_the_history_holds_no_holiday():
    wednesday = NEXT_MONDAY + timedelta(days=2)
    calendar = HolidayCalendar({wednesday: "Tree Day"}, {}, (2026, 2026))
    history = [call(date(2026, 3, 4), "11:00"), call(date(2026, 3, 11), "11:00")]
    history += [call(date(2026, 3, 8), "11:00") for _ in range(3)]  # a Sunday

    slot = slots_of(run(history, calendar=calendar), wednesday, "11:00")

    assert slot.pattern == HOLIDAY_PATTERN
    assert slot.calls == 1.5  # Sundays' 3 calls over 2 Sundays, not Wednesdays' 1


def test_a_holiday_ahead_follows_the_holidays_in_the_history_when_there_are_some():
    past_holiday, wednesday = date(2026, 3, 4), NEXT_MONDAY + timedelta(days=2)
    calendar = HolidayCalendar({past_holiday: "Tree Day", wednesday: "Tree Day"}, {}, (2026, 2026))
    history = [call(past_holiday, "11:00") for _ in range(7)]
    history += [call(date(2026, 3, 11), "11:00") for _ in range(2)]

    found = run(history, calendar=calendar, days=14)

    assert slots_of(found, wednesday, "11:00").calls == 7
    # The holiday is not a Wednesday of the pattern: the only Wednesday left had 2 calls.
    assert slots_of(found, NEXT_MONDAY + timedelta(days=9), "11:00").calls == 2


def test_a_make_up_day_follows_the_weekday_it_replaces_in_history_and_ahead():
    worked_sunday, sunday_ahead = date(2026, 3, 8), date(2026, 3, 22)
    calendar = HolidayCalendar(
        {}, {worked_sunday: "Tree Day", sunday_ahead: "Tree Day"}, (2026, 2026)
    )
    replaced = {worked_sunday: 1, sunday_ahead: 1}  # both worked as a Tuesday
    history = [call(date(2026, 3, 3), "10:00"), call(date(2026, 3, 10), "10:00")]
    history += [call(worked_sunday, "10:00") for _ in range(3)]

    found = run(history, calendar=calendar, replaced=replaced, days=14)

    tuesday = slots_of(found, NEXT_MONDAY + timedelta(days=1), "10:00")
    worked = slots_of(found, sunday_ahead, "10:00")
    assert tuesday.calls == worked.calls == pytest.approx(5 / 3)
    assert worked.pattern == 1
    # The ordinary Sunday ahead learns from the one ordinary Sunday: no calls at 10:00.
    assert slots_of(found, date(2026, 3, 29), "10:00").calls == 0


def test_make_up_days_pair_with_the_nearest_in_lieu_day_of_the_same_holiday():
    makeup = {date(2026, 2, 14): "Spring Festival", date(2026, 2, 28): "Spring Festival"}
    in_lieu = {
        date(2026, 2, 20): "Spring Festival",
        date(2026, 2, 23): "Spring Festival",
        date(2026, 1, 2): "New Year's Day",
    }

    assert replaced_weekdays(makeup, in_lieu) == {date(2026, 2, 14): 4, date(2026, 2, 28): 0}


def test_chinas_make_up_days_come_from_the_calendar_package():
    replaced = china_replaced_weekdays()

    # Sunday 4 January 2026 was worked for Friday 2 January, given off for New Year's Day.
    assert replaced[date(2026, 1, 4)] == 4
    assert replaced[date(2025, 9, 28)] == 1


def test_a_kind_of_day_missing_from_the_history_follows_every_days_mean():
    learned = (date(2026, 3, 2), date(2026, 3, 3))  # a Monday and a Tuesday only
    history = [call(date(2026, 3, 2), "09:00") for _ in range(4)]

    found = forecast(history, "labor", ZONE, learned, NEXT_MONDAY, 7, calendar=PLAIN, replaced={})

    assert slots_of(found, NEXT_MONDAY, "09:00").calls == 4
    assert slots_of(found, NEXT_MONDAY + timedelta(days=3), "09:00").calls == 2


def test_calls_with_no_answered_one_have_no_handling_time_to_plan_with():
    with pytest.raises(ValueError, match="no answered labor call"):
        run([call(date(2026, 3, 2), "09:00", None)])


def test_the_learned_days_are_the_whole_local_days_of_the_window():
    start = datetime(2026, 3, 2, 15, 0, tzinfo=ZONE)
    end = datetime(2026, 3, 16, 0, 0, tzinfo=ZONE)

    assert whole_days(start, end, ZONE) == (date(2026, 3, 3), date(2026, 3, 15))
    assert whole_days(start.replace(hour=0), end.replace(hour=9), ZONE) == (
        date(2026, 3, 2),
        date(2026, 3, 15),
    )


# --- rostered against required ------------------------------------------------------------------

ROSTER = """\
timezone: Asia/Shanghai
agents:
  - id: a
    name: A
    phone: "+8613900000401"
    languages: [zh]
    skills: {labor: 2}
    shifts:
      - {days: mon-fri, hours: "09:00-17:00"}
  - id: b
    name: B
    phone: "+8613900000402"
    languages: [en]
    skills: {general: 1}
    shifts:
      - {days: mon-fri, hours: "09:15-12:00"}
  - id: c
    name: C
    phone: "+8613900000403"
    languages: [zh]
    skills: {family: 3}
    shifts:
      - {days: mon-fri, hours: "09:00-17:00"}
"""


def test_rostered_counts_agents_who_may_take_the_area_on_shift_the_whole_half_hour(
    hotline_config,
):
    roster = parse_roster(
        ROSTER,
        source="roster.yaml",
        area_ids=hotline_config.areas,
        languages=hotline_config.languages,
    )
    starts = [
        datetime(2026, 3, 16, hour, minute, tzinfo=ZONE)
        for hour, minute in ((9, 0), (9, 30), (11, 30), (12, 0), (17, 0))
    ]

    counts = rostered(roster, "labor", ["zh", "en"], starts, general_area="general")

    # b starts at 09:15 (not the whole 09:00 half-hour) and takes anything; c takes family only.
    assert counts == [1, 2, 2, 1, 0]
    assert rostered(roster, "labor", ["en"], starts, general_area="general") == [0, 1, 1, 0, 0]


def test_the_plan_marks_the_half_hours_short_of_agents():
    start = datetime(2026, 3, 16, 9, 0, tzinfo=ZONE)
    slots = [
        Slot(start, 0, calls=100, aht_s=180),  # the worked example's 10 Erlangs
        Slot(start + timedelta(minutes=30), 0, calls=0, aht_s=180),
    ]

    rows = plan(slots, [19, 0], StaffingPolicy())

    # 14 answering (80 % in 20 s, 71 % busy) / (1 - 0.3 shrinkage) = 20 rostered.
    assert [(row.need.answering.agents, row.required, row.gap) for row in rows] == [
        (14, 20, 1),
        (0, 0, 0),
    ]


# --- the config's staffing section ------------------------------------------------------------


def test_the_staffing_section_is_optional_with_documented_defaults(hotline_config):
    assert hotline_config.staffing == StaffingPolicy(0.8, 20, 0.85, 0.3, 8)
    assert parse_staffing(None) == (StaffingPolicy(), [])


def test_the_staffing_section_is_read_from_the_config():
    text = edited_config(
        lambda data: data.update(staffing={"target_service_level": 0.9, "shrinkage": 0.25})
    )

    staffing = load_config(text).staffing

    assert (staffing.target_service_level, staffing.shrinkage) == (0.9, 0.25)
    assert staffing.max_occupancy == 0.85


@pytest.mark.parametrize(
    ("section", "where", "says"),
    [
        ({"target_service_level": 1}, "target_service_level", "below 1"),
        ({"max_occupancy": 0}, "max_occupancy", "above 0"),
        ({"shrinkage": 1.5}, "shrinkage", "from 0 to 1"),
        ({"target_answer_s": 2.5}, "target_answer_s", "whole number"),
        ({"history_weeks": True}, "history_weeks", "whole number"),
        ({"shrinkag": 0.2}, "shrinkag", "unknown staffing setting"),
    ],
)
def test_a_bad_staffing_setting_is_refused_with_its_path(section, where, says):
    policy, problems = parse_staffing(section)

    (problem,) = problems
    assert problem.path == ("staffing", where)
    assert says in problem.message
    assert policy == StaffingPolicy()


def test_a_bad_staffing_setting_is_a_config_problem_at_its_line():
    text = edited_config(lambda data: data.update(staffing={"shrinkage": 1}))

    (problem,) = check_config(text)

    assert problem.path == ("staffing", "shrinkage")
    assert text.splitlines()[problem.line - 1].strip() == "shrinkage: 1"
