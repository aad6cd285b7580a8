"""Holidays and hours: China's calendar, holiday rules, make-up days, closures, shifts, coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.settings import DEFAULT_CONFIG
from routing.config import check_config, load_config
from routing.coverage import coverage
from routing.holidays import (
    HOLIDAY,
    MAKEUP,
    ORDINARY,
    Closure,
    HolidayCalendar,
    HolidayRules,
    china_calendar,
    is_open,
    next_opening,
)
from routing.hours import DAY_IDS, Opening, WeeklyHours, parse_range
from routing.roster import Agent, DatedException, Roster, Shift
from routing.shifts import agent_on_shift, on_shift
from tests.fixtures.config import edited_config as _edited

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
SHIPPED = DEFAULT_CONFIG.read_text(encoding="utf-8")


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def weekly(zone: str, rules: HolidayRules | None = None, **days: list[str]) -> WeeklyHours:
    """Build hours from day ids and "HH:MM-HH:MM" ranges."""
    openings = [
        Opening(DAY_IDS.index(day), *parse_range(text))
        for day, ranges in days.items()
        for text in ranges
    ]
    return WeeklyHours(zone, tuple(openings), rules)


WEEKDAYS = {day: ["09:00-21:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
CHINA = HolidayRules(public=(), makeup=0)


# --- the calendar ------------------------------------------------------------------------------


def test_china_calendar_comes_from_the_package_with_holidays_and_make_up_days():
    calendar = china_calendar()
    national = calendar.day(date(2026, 10, 1))
    assert national.kind == HOLIDAY and national.name == {"en": "National Day", "zh": "国庆节"}
    assert calendar.day(date(2026, 10, 10)).kind == MAKEUP  # a Saturday worked for the week off
    assert calendar.day(date(2026, 10, 12)).kind == ORDINARY
    assert calendar.warning(date(2026, 12, 1), date(2026, 12, 14)) is None


def test_dates_beyond_the_data_are_ordinary_unknown_and_flagged():
    calendar = china_calendar()
    beyond = date(calendar.last_year + 1, 1, 1)
    assert calendar.day(beyond).kind == ORDINARY
    assert calendar.day(beyond).known is False
    warning = calendar.warning(date(calendar.last_year, 12, 20), beyond)
    assert warning and str(calendar.last_year) in warning
    # Hours fall back to the weekly pattern rather than failing the call.
    hours = weekly("Asia/Shanghai", CHINA, **WEEKDAYS)
    first_monday = beyond + timedelta(days=(7 - beyond.weekday()) % 7)
    assert hours.is_open(
        datetime.combine(first_monday, datetime.min.time(), SHANGHAI).replace(hour=10)
    )


def test_special_days_list_a_period_for_the_consoles():
    days = china_calendar().special_days(date(2026, 9, 28), date(2026, 10, 11))
    kinds = {d.day: d.kind for d in days}
    assert kinds[date(2026, 10, 1)] == HOLIDAY and kinds[date(2026, 10, 10)] == MAKEUP
    assert date(2026, 9, 29) not in kinds


# --- area hours with holiday rules ---------------------------------------------------------------


def test_a_public_holiday_closes_the_area_and_the_next_opening_skips_the_week():
    hours = weekly("Asia/Shanghai", CHINA, **WEEKDAYS)
    thursday_national_day = at(SHANGHAI, 2026, 10, 1, 10, 0)
    assert not hours.is_open(thursday_national_day)
    # The holiday runs to 7 October; Saturday 10 October is a make-up day with Monday's hours.
    assert hours.next_opening(thursday_national_day) == at(SHANGHAI, 2026, 10, 8, 9, 0)
    assert hours.is_open(at(SHANGHAI, 2026, 10, 10, 10, 0))
    assert hours.next_opening(at(SHANGHAI, 2026, 10, 9, 22, 0)) == at(SHANGHAI, 2026, 10, 10, 9, 0)


def test_without_rules_the_weekly_pattern_ignores_holidays():
    hours = weekly("Asia/Shanghai", **WEEKDAYS)
    assert hours.is_open(at(SHANGHAI, 2026, 10, 1, 10, 0))
    assert not hours.is_open(at(SHANGHAI, 2026, 10, 10, 10, 0))  # Saturday, no rules


def test_holiday_ranges_replace_the_day_and_a_make_up_day_can_keep_its_own_hours():
    rules = HolidayRules(public=((600, 960),), makeup=None)
    hours = weekly("Asia/Shanghai", rules, **WEEKDAYS)
    assert not hours.is_open(at(SHANGHAI, 2026, 10, 1, 9, 30))
    assert hours.is_open(at(SHANGHAI, 2026, 10, 1, 10, 0))
    assert not hours.is_open(at(SHANGHAI, 2026, 10, 1, 16, 0))
    assert not hours.is_open(at(SHANGHAI, 2026, 10, 10, 10, 0))  # Saturday keeps Saturday's
    usual = HolidayRules(public=None)
    assert weekly("Asia/Shanghai", usual, **WEEKDAYS).is_open(at(SHANGHAI, 2026, 10, 1, 10, 0))


def test_an_overnight_range_belongs_to_the_day_it_starts():
    rules = HolidayRules(public=())
    hours = weekly("Asia/Shanghai", rules, wed=["20:00-08:00"], thu=["20:00-08:00"])
    # Wednesday 30 September is ordinary: its night runs into the National Day morning.
    assert hours.is_open(at(SHANGHAI, 2026, 10, 1, 7, 0))
    # Thursday 1 October is a holiday: its night is dropped, including after midnight.
    assert not hours.is_open(at(SHANGHAI, 2026, 10, 1, 23, 0))
    assert not hours.is_open(at(SHANGHAI, 2026, 10, 2, 7, 0))


def test_hours_across_the_week_end_and_midnight():
    hours = weekly("Asia/Shanghai", CHINA, sun=["22:00-02:00"])
    sunday = at(SHANGHAI, 2026, 12, 6, 23, 30)
    assert hours.is_open(sunday) and hours.is_open(at(SHANGHAI, 2026, 12, 7, 1, 59))
    assert not hours.is_open(at(SHANGHAI, 2026, 12, 7, 2, 0))
    assert hours.next_opening(at(SHANGHAI, 2026, 12, 7, 3, 0)) == at(SHANGHAI, 2026, 12, 13, 22, 0)


def test_daylight_saving_spring_forward_opens_when_the_clock_passes_the_start():
    # 2026-03-08 02:00 New York jumps to 03:00: a 02:30 start opens at the jump.
    rules = HolidayRules(public=None, calendar=HolidayCalendar({}, {}, (2000, 2100)))
    hours = weekly("America/New_York", rules, sun=["02:30-05:00"])
    opening = hours.next_opening(at(NEW_YORK, 2026, 3, 8, 0, 0))
    assert opening == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert opening.astimezone(NEW_YORK).hour == 3 and opening.astimezone(NEW_YORK).minute == 0


def test_daylight_saving_fall_back_keeps_wall_clock_hours():
    rules = HolidayRules(public=None, calendar=HolidayCalendar({}, {}, (2000, 2100)))
    hours = weekly("America/New_York", rules, sun=["09:00-17:00"])
    assert hours.next_opening(at(NEW_YORK, 2026, 11, 1, 0, 0)) == datetime(
        2026, 11, 1, 14, 0, tzinfo=UTC
    )
    # The repeated hour: 01:00-01:30 happens twice, so the area opens twice.
    twice = weekly("America/New_York", rules, sun=["01:00-01:30"])
    first = twice.next_opening(at(NEW_YORK, 2026, 11, 1, 0, 0))
    second = twice.next_opening(first + timedelta(minutes=40))
    # Within one zone Python subtracts wall clocks; in UTC the second opening is an hour on.
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)


def test_shanghai_has_no_daylight_saving():
    hours = weekly("Asia/Shanghai", CHINA, **WEEKDAYS)
    assert hours.is_open(datetime(2026, 7, 1, 1, 0, tzinfo=UTC))  # 09:00 in July
    assert hours.is_open(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # 09:00 in December


# --- closures ------------------------------------------------------------------------------------


def test_a_closure_with_an_end_delays_the_next_opening():
    hours = weekly("Asia/Shanghai", CHINA, **WEEKDAYS)
    now = at(SHANGHAI, 2026, 12, 2, 10, 0)
    closure = Closure({"zh": "维护", "en": "maintenance"}, until=at(SHANGHAI, 2026, 12, 2, 15, 0))
    assert not is_open(hours, now, closure=closure)
    assert next_opening(hours, now, closure=closure) == at(SHANGHAI, 2026, 12, 2, 15, 0)
    evening = Closure({"zh": "x", "en": "x"}, until=at(SHANGHAI, 2026, 12, 2, 22, 0))
    assert next_opening(hours, now, closure=evening) == at(SHANGHAI, 2026, 12, 3, 9, 0)
    assert next_opening(hours, now, closure=Closure({"zh": "x", "en": "x"})) is None
    assert next_opening(hours, now) == now  # open now
    assert is_open(hours, now, closure=closure.__class__({}, until=now))  # ended


# --- shifts --------------------------------------------------------------------------------------


def agent(agent_id: str = "a1", **fields) -> Agent:
    base = dict(
        id=agent_id,
        name=agent_id,
        phone="+8613900000001",
        languages=("zh",),
        skills={"labor": 2},
        shifts=tuple(Shift(day, 540, 1020) for day in range(5)),
    )
    base.update(fields)
    return Agent(**base)


def test_shifts_ignore_holidays_unless_the_roster_asks():
    worker = agent()
    national_day = at(SHANGHAI, 2026, 10, 1, 10, 0)
    assert agent_on_shift(worker, national_day)
    assert not agent_on_shift(worker, national_day, CHINA)
    # The make-up Saturday is worked with Monday's shift.
    assert agent_on_shift(worker, at(SHANGHAI, 2026, 10, 10, 10, 0), CHINA)
    assert not agent_on_shift(worker, at(SHANGHAI, 2026, 10, 10, 10, 0))


def test_an_extra_shift_on_a_holiday_is_worked_and_a_day_off_is_off():
    worker = agent(
        exceptions=(
            DatedException(date(2026, 10, 2), 600, 720),
            DatedException(date(2026, 10, 10)),
        )
    )
    assert agent_on_shift(worker, at(SHANGHAI, 2026, 10, 2, 11, 0), CHINA)
    assert not agent_on_shift(worker, at(SHANGHAI, 2026, 10, 10, 10, 0), CHINA)
    roster = Roster((worker, agent("a2")))
    assert on_shift(roster, at(SHANGHAI, 2026, 10, 2, 11, 0), CHINA) == {"a1"}
    assert on_shift(roster, at(SHANGHAI, 2026, 10, 2, 11, 0)) == {"a1", "a2"}


def test_night_shift_across_midnight_and_the_week_end():
    night = agent(shifts=(Shift(6, 22 * 60, 30 * 60),))
    assert agent_on_shift(night, at(SHANGHAI, 2026, 12, 7, 5, 59), CHINA)
    assert not agent_on_shift(night, at(SHANGHAI, 2026, 12, 7, 6, 0), CHINA)


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_marks_the_hours_nobody_can_take():
    day = agent("day", skills={"labor": 2})
    general_en = agent("gen", languages=("en",), skills={"general": 1})
    roster = Roster((day, general_en))
    hours = weekly("Asia/Shanghai", None, **WEEKDAYS)
    start = at(SHANGHAI, 2026, 11, 30, 0, 0)  # Monday
    result = coverage(roster, {"labor": hours}, ["zh", "en"], start, 1)
    assert len(result.cells) == 2 * 24
    zh_gaps = sorted(c.start.astimezone(SHANGHAI).hour for c in result.gaps if c.language == "zh")
    assert zh_gaps == [17, 18, 19, 20]  # open to 21:00, shift ends 17:00
    en_gaps = [c for c in result.gaps if c.language == "en"]
    # The general agent speaks English and works the same day shift: the same evening gap.
    assert sorted(c.start.astimezone(SHANGHAI).hour for c in en_gaps) == [17, 18, 19, 20]
    assert all(c.agents == ("gen",) for c in result.cells if c.language == "en" and c.agents)
    assert all(not c.gap for c in result.cells if c.start.astimezone(SHANGHAI).hour < 9)


def test_coverage_counts_partly_covered_hours_and_always_open_areas():
    half = agent("half", shifts=(Shift(0, 540, 570),))
    result = coverage(Roster((half,)), ["labor"], ["zh"], at(SHANGHAI, 2026, 11, 30, 9, 10), 1)
    nine = result.cells[0]
    assert nine.start == at(SHANGHAI, 2026, 11, 30, 9, 0)
    assert nine.agents == ("half",) and nine.uncovered_minutes == 30 and nine.gap
    assert len(result.gaps) == 24 and result.warning is None
    with_rules = coverage(Roster((half,)), ["labor"], ["zh"], nine.start, 1, rules=CHINA)
    assert with_rules.warning is None


# --- config --------------------------------------------------------------------------------------


def test_shipped_config_closes_day_areas_on_holidays_and_keeps_the_general_line():
    config = load_config(SHIPPED, "shipped")
    labor = config.areas["labor"].hours
    assert labor.holidays == HolidayRules(public=(), makeup=0)
    assert not labor.is_open(at(SHANGHAI, 2026, 10, 1, 10, 0))
    assert config.areas["general"].hours.is_open(at(SHANGHAI, 2026, 10, 1, 10, 0))
    assert config.agent_line_key == "*" and config.closure is None


def test_holiday_rules_in_config_are_checked_with_their_path():
    def edit(data):
        data["areas"]["labor"]["hours"] = {
            "timezone": "Asia/Shanghai",
            "weekly": {"mon": ["09:00-17:00"]},
            "holidays": {"public": "sometimes", "makeup": "funday", "extra": 1},
        }
        data["areas"]["family"]["hours"] = {
            "timezone": "Asia/Shanghai",
            "weekly": {},
            "holidays": {"public": ["10:00-25:00"]},
            "hollidays": {},
        }

    problems = [str(p) for p in check_config(_edited(edit))]
    assert any("areas.labor.hours.holidays.public" in p for p in problems), problems
    assert any("areas.labor.hours.holidays.makeup" in p for p in problems), problems
    assert any("areas.labor.hours.holidays.extra" in p for p in problems), problems
    assert any("areas.family.hours.holidays.public.0" in p for p in problems), problems
    assert any("areas.family.hours.hollidays" in p for p in problems), problems


def test_closure_and_agent_line_key_in_config():
    def edit(data):
        data["closure"] = {"message": {"zh": "暂停", "en": "Closed"}, "until": "2026-12-24T09:00"}

    config = load_config(_edited(edit))
    assert config.closure is not None
    assert config.closure.until == at(SHANGHAI, 2026, 12, 24, 9, 0)

    def broken(data):
        data["closure"] = {"message": {"zh": "暂停"}, "until": "tomorrow"}
        data["menu"]["agent_line_key"] = "9"

    problems = [str(p) for p in check_config(_edited(broken))]
    assert any("closure.message.en" in p for p in problems), problems
    assert any("closure.until" in p for p in problems), problems
    assert any("menu.agent_line_key" in p and "danger" in p for p in problems), problems


@pytest.mark.parametrize("key", ["1", "2"])
def test_agent_line_key_cannot_choose_a_language(key):
    def edit(data):
        data["menu"]["agent_line_key"] = key

    problems = [str(p) for p in check_config(_edited(edit))]
    assert any("menu.agent_line_key" in p for p in problems), problems
