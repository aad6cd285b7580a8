"""Supervisors on the roster: read and checked with lines, on call by the hour, exported back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.problems import ProblemsError
from routing.roster import export_roster, hash_pins, on_call, parse_roster

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
REPO = Path(__file__).resolve().parents[2]
AGENTS = """timezone: Asia/Shanghai
agents:
  - {id: a1, name: A, phone: "+8613900000001", languages: [zh], skills: {general: 1}}
"""


def read(text: str):
    """Parse a roster with the shipped areas and languages."""
    return parse_roster(text, source="roster.yaml", area_ids=AREAS, languages=["zh", "en"])


def test_the_example_roster_has_supervisors_covering_every_hour_and_round_trips():
    roster = hash_pins(read((REPO / "examples" / "roster.yaml").read_text(encoding="utf-8")))

    assert [s.id for s in roster.supervisors] == ["s01", "s02"]
    assert read(export_roster(roster)) == roster
    week = [datetime(2026, 11, 30, hour, tzinfo=UTC) for hour in range(24)]
    for day in range(7):
        for instant in week:
            at = instant.replace(day=30 - day) if day else instant
            assert len(on_call(roster, at)) == 1, at


def test_on_call_follows_hours_exceptions_and_time_zones():
    roster = read(
        AGENTS
        + """supervisors:
  - id: day
    name: Day
    phone: "+8613900000101"
    on_call: [{days: mon-fri, hours: "09:00-18:00"}]
    exceptions: [{date: 2026-12-02, day_off: true}]
  - id: ny
    name: NY
    phone: "+12125550123"
    timezone: America/New_York
    on_call: [{days: daily, hours: "20:00-22:00"}]
"""
    )
    tuesday_15 = datetime(2026, 12, 1, 7, tzinfo=UTC)  # 15:00 in Shanghai, 02:00 in New York
    wednesday_15 = datetime(2026, 12, 2, 7, tzinfo=UTC)  # the day supervisor's day off
    saturday_21_new_york = datetime(2026, 12, 6, 2, tzinfo=UTC)  # Sunday 10:00 in Shanghai

    assert [s.id for s in on_call(roster, tuesday_15)] == ["day"]
    assert on_call(roster, wednesday_15) == []
    assert [s.id for s in on_call(roster, saturday_21_new_york)] == ["ny"]
    assert read(export_roster(roster)) == roster


def test_supervisor_problems_are_reported_with_their_lines():
    text = (
        AGENTS
        + """supervisors:
  - id: s1
    name: S
    phone: "13900000101"
    on_call: [{days: funday, hours: "09:00-18:00"}]
    pager: yes
  - id: s1
    name: Twin
    phone: "+8613900000102"
  - not a supervisor
"""
    )
    with pytest.raises(ProblemsError) as caught:
        read(text)

    report = str(caught.value)
    for expected in (
        "line 7: supervisors.0.phone",
        "supervisors.0.on_call.0.days",
        "line 9: supervisors.0.pager: unknown field",
        "supervisors.1.on_call: expected a list of on-call",
        "supervisors.2: expected a supervisor's fields",
    ):
        assert expected in report, report
