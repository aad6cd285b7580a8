"""Edited opening hours: the document ops edit, its checks, the console form and coverage."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.coverage import coverage
from ops.opening import form_document
from routing.holidays import HolidayRules, china_calendar
from routing.hours import (
    DAY_IDS,
    MAX_RANGES_PER_DAY,
    Opening,
    WeeklyHours,
    hours_document,
    parse_day_range,
    parse_hours_document,
    parse_range,
    rules_document,
)
from routing.problems import ProblemsError
from routing.roster import parse_roster
from tests.fixtures.ops import ROSTER

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONE = "Asia/Shanghai"
WEEKDAYS = {day: ["09:00-21:00"] for day in DAY_IDS[:5]}


def problems_of(document: object) -> dict[str, str]:
    """Each problem of a document by its dotted field."""
    with pytest.raises(ProblemsError) as caught:
        parse_hours_document(document, ZONE)
    return {".".join(map(str, p.path)): p.message for p in caught.value.problems}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --- ranges and the document's checks ----------------------------------------------------------


def test_a_day_range_stays_within_its_day_and_may_end_at_midnight():
    assert parse_day_range("09:00-21:00") == (540, 1260)
    assert parse_day_range(" 22:00 - 24:00 ") == (1320, 1440)
    with pytest.raises(ValueError, match="end is not after the start"):
        parse_day_range("22:00-06:00")
    with pytest.raises(ValueError, match="end is not after the start"):
        parse_day_range("09:00-09:00")
    with pytest.raises(ValueError, match="not a time of day"):
        parse_day_range("09:00-25:00")
    with pytest.raises(ValueError, match="cannot start at 24:00"):
        parse_day_range("24:00-24:00")
    with pytest.raises(ValueError, match="expected HH:MM-HH:MM"):
        parse_day_range("nine to five")


def test_every_problem_names_its_field():
    found = problems_of(
        {
            "weekly": {
                "mon": ["17:00-09:00"],
                "tue": ["09:00-13:00", "12:00-18:00"],
                "wed": ["25:00-26:00"],
                "funday": ["09:00-10:00"],
                "thu": "09:00-17:00",
                "fri": [900],
            },
            "holidays": {"public": "sometimes", "makeup": "someday"},
            "timezone": "Europe/Paris",
        }
    )
    assert "end is not after the start" in found["weekly.mon.0"]
    assert found["weekly.tue.1"] == "overlaps 09:00-13:00"
    assert "not a time of day" in found["weekly.wed.0"]
    assert found["weekly.funday"].startswith("unknown day")
    assert "list" in found["weekly.thu"]
    assert found["weekly.fri.0"] == "expected HH:MM-HH:MM"
    assert "closed, weekly" in found["holidays.public"]
    assert "weekly or a day" in found["holidays.makeup"]
    assert "unknown field" in found["timezone"]


def test_overlaps_are_found_whatever_order_the_ranges_are_typed_in():
    found = problems_of({"weekly": {"sat": ["14:00-18:00", "09:00-12:00", "11:00-15:00"]}})
    assert found == {
        "weekly.sat.2": "overlaps 09:00-12:00",
        "weekly.sat.0": "overlaps 11:00-15:00",
    }
    # Ranges that only touch are fine.
    parse_hours_document({"weekly": {"sat": ["09:00-12:00", "12:00-18:00"]}}, ZONE)


def test_the_weekly_object_is_required_and_a_day_has_a_bounded_number_of_ranges():
    assert "weekly" in problems_of({"holidays": None})
    assert "expected an object" in problems_of(["mon"])[""]
    many = [f"{hour:02d}:00-{hour:02d}:30" for hour in range(MAX_RANGES_PER_DAY + 1)]
    assert "at most" in problems_of({"weekly": {"mon": many}})["weekly.mon"]


def test_a_document_builds_hours_with_holiday_rules():
    hours = parse_hours_document(
        {"weekly": WEEKDAYS, "holidays": {"public": ["10:00-16:00"], "makeup": "mon"}}, ZONE
    )
    assert hours.timezone == ZONE
    assert hours.holidays == HolidayRules(public=((600, 960),), makeup=0)
    national_day = at(2026, 10, 1, 9, 30)
    assert not hours.is_open(national_day)
    assert hours.next_opening(national_day) == at(2026, 10, 1, 10, 0)
    assert hours.is_open(at(2026, 10, 10, 10, 0))  # a make-up Saturday keeps Monday's hours
    assert not hours.is_open(at(2026, 12, 5, 10, 0))  # an ordinary Saturday is closed


def test_holidays_left_out_closed_weekly_or_as_usual():
    closed = parse_hours_document({"weekly": WEEKDAYS, "holidays": {"public": "closed"}}, ZONE)
    assert closed.holidays == HolidayRules(public=(), makeup=None)
    assert not closed.is_open(at(2026, 10, 1, 10, 0))
    # Weekly hours on holidays and on make-up days is no holiday rule at all.
    usual = parse_hours_document(
        {"weekly": WEEKDAYS, "holidays": {"public": "weekly", "makeup": "weekly"}}, ZONE
    )
    assert usual.holidays is None and usual.is_open(at(2026, 10, 1, 10, 0))
    assert parse_hours_document({"weekly": WEEKDAYS}, ZONE).holidays is None
    empty_list = parse_hours_document({"weekly": {}, "holidays": {"public": []}}, ZONE)
    assert empty_list.holidays == HolidayRules(public=())


def test_the_config_hours_round_trip_through_their_document(hotline_config):
    for area in hotline_config.areas.values():
        document = hours_document(area.hours)
        back = parse_hours_document(document, area.hours.timezone)
        assert back.holidays == area.hours.holidays
        assert sorted(back.openings, key=lambda o: (o.weekday, o.start)) == sorted(
            area.hours.openings, key=lambda o: (o.weekday, o.start)
        )
        assert hours_document(back) == document
    labor = hours_document(hotline_config.areas["labor"].hours)
    assert labor["weekly"]["sat"] == ["09:00-17:00"] and labor["weekly"]["sun"] == []
    assert labor["holidays"] == {"public": "closed", "makeup": "mon"}


def test_an_overnight_opening_is_split_at_midnight_and_opens_the_same_minutes():
    overnight = WeeklyHours(ZONE, (Opening(6, *parse_range("22:00-06:00")),))
    document = hours_document(overnight)
    assert document["weekly"]["sun"] == ["22:00-24:00"]
    assert document["weekly"]["mon"] == ["00:00-06:00"]
    split = parse_hours_document(document, ZONE)
    start = at(2026, 12, 6, 20, 0)
    for minutes in range(0, 14 * 60, 15):
        moment = start + timedelta(minutes=minutes)
        assert split.is_open(moment) == overnight.is_open(moment), moment
    assert split.next_opening(at(2026, 12, 7, 7, 0)) == overnight.next_opening(at(2026, 12, 7, 7))


def test_rules_document_speaks_the_config_words():
    assert rules_document(None) is None
    assert rules_document(HolidayRules(public=None, makeup=None)) is None
    assert rules_document(HolidayRules(public=(), makeup=6)) == {
        "public": "closed",
        "makeup": "sun",
    }
    assert rules_document(HolidayRules(public=None, makeup=0)) == {
        "public": "weekly",
        "makeup": "mon",
    }
    assert rules_document(HolidayRules(public=((540, 720),))) == {
        "public": ["09:00-12:00"],
        "makeup": "weekly",
    }


# --- the console's form ------------------------------------------------------------------------


def test_the_form_reads_typed_ranges_with_either_commas_and_dashes():
    document = form_document(
        {
            "mon": "09:00-12:00, 13:00-21:00",
            "tue": "09:00 – 12:00，13:00～21:00",
            "wed": "  ",
            "public": "hours",
            "public_hours": "10:00-16:00",
            "makeup": "sat",
        }
    )
    assert document["weekly"]["mon"] == ["09:00-12:00", "13:00-21:00"]
    assert document["weekly"]["tue"] == ["09:00-12:00", "13:00-21:00"]
    assert document["weekly"]["wed"] == [] and document["weekly"]["sun"] == []
    assert document["holidays"] == {"public": ["10:00-16:00"], "makeup": "sat"}
    closed = form_document({"public": "closed", "makeup": "weekly"})
    assert closed["holidays"] == {"public": "closed", "makeup": "weekly"}


# --- coverage: routing's, holidays included ----------------------------------------------------


def test_the_console_coverage_follows_holidays_and_the_hours_it_is_given(hotline_config):
    roster = parse_roster(
        ROSTER,
        source="roster.yaml",
        area_ids=hotline_config.areas,
        languages=hotline_config.languages,
    )
    national_day = date(2026, 10, 1)
    assert china_calendar().day(national_day).kind == "holiday"
    found = coverage(roster, hotline_config, national_day, 1)
    # Family closes on public holidays; the general line stays open round the clock.
    assert not any(found.cells[(national_day, hour, "family", "zh")].open for hour in range(24))
    assert found.cells[(national_day, 3, "general", "zh")].gap
    assert found.known_until is None
    # Hours given in place of the config's: family open through the holiday at night.
    night = parse_hours_document(
        {"weekly": {day: ["00:00-24:00"] for day in DAY_IDS}, "holidays": None}, ZONE
    )
    edited = coverage(roster, hotline_config, national_day, 1, hours={"family": night})
    assert edited.cells[(national_day, 3, "family", "zh")].open
    assert edited.cells[(national_day, 3, "family", "zh")].gap
    assert ("family", "zh") in {(gap.area, gap.language) for gap in edited.gaps}


def test_coverage_past_the_holiday_data_says_so(hotline_config):
    roster = parse_roster(
        ROSTER, source="r.yaml", area_ids=hotline_config.areas, languages=hotline_config.languages
    )
    last = china_calendar().last_year
    found = coverage(roster, hotline_config, date(last, 12, 25), 14)
    assert found.known_until == last
