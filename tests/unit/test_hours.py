"""Opening hours: open or closed at an instant, next opening, overnight ranges, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.hours import DAY_IDS, Opening, WeeklyHours, parse_range
from routing.wording import describe_hours, describe_next_opening

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORDS_EN = {
    "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "today": "today",
    "tomorrow": "tomorrow",
    "closed_day": "closed",
    "list_separator": "; ",
    "range": "{start} to {end}",
    "day_range": "{first} to {last}",
}


def weekly(zone: str, **days: list[str]) -> WeeklyHours:
    """Build hours from day ids and "HH:MM-HH:MM" ranges."""
    openings = [
        Opening(DAY_IDS.index(day), *parse_range(text))
        for day, ranges in days.items()
        for text in ranges
    ]
    return WeeklyHours(zone, tuple(openings))


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone) if isinstance(zone, str) else zone)


def test_day_hours_open_and_closed():
    hours = weekly("Asia/Shanghai", mon=["09:00-21:00"])
    assert hours.is_open(local(SHANGHAI, 2026, 11, 30, 9, 0))
    assert hours.is_open(local(SHANGHAI, 2026, 11, 30, 20, 59))
    assert not hours.is_open(local(SHANGHAI, 2026, 11, 30, 21, 0))
    assert not hours.is_open(local(SHANGHAI, 2026, 11, 30, 8, 59))
    assert not hours.is_open(local(SHANGHAI, 2026, 12, 1, 10, 0))


def test_overnight_range_spills_into_the_next_day_and_across_the_week_end():
    hours = weekly("Asia/Shanghai", sun=["20:00-08:00"])
    assert hours.is_open(local(SHANGHAI, 2026, 12, 6, 23, 0))  # Sunday night
    assert hours.is_open(local(SHANGHAI, 2026, 12, 7, 7, 59))  # Monday early
    assert not hours.is_open(local(SHANGHAI, 2026, 12, 7, 8, 0))


def test_instant_in_another_zone_is_read_in_the_hours_zone():
    hours = weekly("Asia/Shanghai", wed=["09:00-10:00"])
    assert hours.is_open(datetime(2026, 12, 2, 1, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 12, 2, 9, 30, tzinfo=UTC))


def test_next_opening_later_today_tomorrow_and_next_week():
    hours = weekly("Asia/Shanghai", mon=["09:00-12:00"], tue=["14:00-18:00"])
    monday_early = local(SHANGHAI, 2026, 11, 30, 7, 0)
    assert hours.next_opening(monday_early) == local(SHANGHAI, 2026, 11, 30, 9, 0)
    monday_noon = local(SHANGHAI, 2026, 11, 30, 12, 30)
    assert hours.next_opening(monday_noon) == local(SHANGHAI, 2026, 12, 1, 14, 0)
    tuesday_night = local(SHANGHAI, 2026, 12, 1, 19, 0)
    assert hours.next_opening(tuesday_night) == local(SHANGHAI, 2026, 12, 7, 9, 0)
    assert weekly("Asia/Shanghai").next_opening(monday_early) is None


def test_daylight_saving_zone_keeps_local_hours():
    hours = weekly("America/New_York", sun=["09:00-17:00"], mon=["09:00-17:00"])
    # 2026-11-01 is the day New York falls back; 09:00 local is 14:00 UTC that day.
    assert hours.is_open(datetime(2026, 11, 1, 14, 0, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 11, 1, 13, 30, tzinfo=UTC))
    # The week before, 09:00 local was 13:00 UTC.
    assert hours.is_open(datetime(2026, 10, 25, 13, 0, tzinfo=UTC))


@pytest.mark.parametrize("text", ["9-17", "09:00", "25:00-26:00", "09:60-10:00", "24:00-01:00"])
def test_bad_ranges_are_rejected(text):
    with pytest.raises(ValueError):
        parse_range(text)


@given(
    start=st.integers(0, 23 * 60 + 59),
    length=st.integers(1, 24 * 60 - 1),
    weekday=st.integers(0, 6),
    probe=st.integers(0, 7 * 24 * 60 - 1),
)
def test_is_open_matches_minute_by_minute_evaluation(start, length, weekday, probe):
    end = start + length
    hours = WeeklyHours("UTC", (Opening(weekday, start, end),))
    week_start = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
    instant = week_start + timedelta(minutes=probe)
    opening_start = weekday * 1440 + start
    covered = any(
        opening_start <= minute < opening_start + length for minute in (probe, probe + 7 * 1440)
    )
    assert hours.is_open(instant) == covered


def test_hours_are_described_by_grouping_equal_days():
    hours = weekly(
        "Asia/Shanghai",
        mon=["09:00-21:00"],
        tue=["09:00-21:00"],
        wed=["09:00-21:00"],
        thu=["09:00-21:00"],
        fri=["09:00-21:00"],
        sat=["09:00-17:00"],
    )
    assert describe_hours(hours, WORDS_EN) == (
        "Monday to Friday 9:00 to 21:00; Saturday 9:00 to 17:00; Sunday closed"
    )


def test_next_opening_is_said_as_today_tomorrow_or_weekday():
    now = local(SHANGHAI, 2026, 11, 30, 7, 0)
    assert describe_next_opening(now, local(SHANGHAI, 2026, 11, 30, 9, 0), WORDS_EN) == "today 9:00"
    assert describe_next_opening(now, local(SHANGHAI, 2026, 12, 1, 9, 0), WORDS_EN) == (
        "tomorrow 9:00"
    )
    assert describe_next_opening(now, local(SHANGHAI, 2026, 12, 3, 9, 30), WORDS_EN) == (
        "Thursday 9:30"
    )
