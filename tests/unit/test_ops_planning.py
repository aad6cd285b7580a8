"""Pure parts of the consoles: shift overlaps and ids, coverage, CSV export, iCalendar folding."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ops.coverage import coverage
from ops.ical import fold, shifts_calendar
from ops.staffing import overlaps, parse_shift, parse_shift_id, shift_id
from routing.roster import Shift, export_roster_csv, parse_roster, parse_roster_csv
from tests.fixtures.ops import ROSTER


def roster(config, text: str = ROSTER):
    return parse_roster(text, source="r.yaml", area_ids=config.areas, languages=config.languages)


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        (Shift(2, 1320, 1920), Shift(3, 420, 540), True),  # Wed night spills into Thu 07:00
        (Shift(2, 1320, 1920), Shift(3, 480, 540), False),  # Thu 08:00 starts as it ends
        (Shift(6, 1320, 1860), Shift(0, 0, 60), True),  # Sun night runs into Monday
        (Shift(0, 540, 1020), Shift(0, 1020, 1260), False),
        (Shift(0, 540, 1020), Shift(1, 540, 1020), False),
    ],
)
def test_overlaps_on_the_weekly_circle(one, other, expected):
    assert overlaps(one, other) is expected and overlaps(other, one) is expected


def test_shift_ids_round_trip():
    for shift in (Shift(6, 1320, 1800), Shift(0, 0, 1440), Shift(3, 570, 1050)):
        assert parse_shift_id(shift_id(shift)) == shift
    assert shift_id(parse_shift("sun", "22:00", "06:00")) == "sun-2200-0600"


def test_coverage_marks_open_hours_nobody_can_take(hotline_config):
    found = coverage(roster(hotline_config), hotline_config, date(2026, 12, 2), 2)
    day = date(2026, 12, 2)
    night = found.cells[(day, 23, "general", "zh")]
    assert night.open and night.gap
    closed = found.cells[(day, 23, "family", "zh")]
    assert not closed.open and not closed.gap
    morning = found.cells[(day, 10, "labor", "en")]
    assert morning.agents == ("d2",) and not morning.gap
    starts = [(g.area, g.language, g.start.hour, g.end.hour) for g in found.gaps]
    assert ("general", "zh", 22, 8) in starts and ("general", "en", 0, 8) in starts


def test_csv_export_reads_back_to_the_same_roster(hotline_config):
    original = roster(hotline_config)
    text = export_roster_csv(original)
    back = parse_roster_csv(
        text, source="r.csv", area_ids=hotline_config.areas, languages=hotline_config.languages
    )
    assert back == original


def test_fold_keeps_lines_within_75_octets_and_characters_whole():
    line = "DESCRIPTION:" + "值班" * 60
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(part[1:] if i else part for i, part in enumerate(parts)) == line


def test_calendar_has_one_event_per_shift(hotline_config):
    agent = roster(hotline_config).agent("n1")
    stamp = datetime(2026, 12, 2, 2, tzinfo=UTC)
    text = shifts_calendar(agent, date(2026, 12, 2), days=14, stamp=stamp)
    assert text.count("BEGIN:VEVENT") == 2  # two Sundays in the next fortnight
    assert "DTSTART:20261206T000000Z" in text and "DTEND:20261206T140000Z" in text
    assert "SUMMARY:Hotline shift / 值班" in text and text.endswith("END:VCALENDAR\r\n")


def test_the_consoles_key_formats_are_pinned():
    from queues import keys

    assert keys.user("olga") == "hotline:user:olga"
    assert keys.users() == "hotline:users"
    assert keys.api_token("abc") == "hotline:token:abc"
    assert keys.user_tokens("olga") == "hotline:user-tokens:olga"
    assert keys.login_failures("ip", "10.0.0.1") == "hotline:login-failures:ip:10.0.0.1"
    assert keys.console_session("ab12") == "hotline:session:ab12"
    assert keys.token_failures("10.0.0.1") == "hotline:token-failures:10.0.0.1"
    assert keys.pin_failures("agent", "d1") == "hotline:pin-failures:agent:d1"
    assert keys.audit() == "hotline:audit"
    assert keys.call_note("CA1") == "hotline:call-note:CA1"
    assert keys.roster_edit_lock() == "hotline:roster-edit-lock"
