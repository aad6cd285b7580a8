"""A roster the hotline already holds still reads after the import rules grew stricter."""

from __future__ import annotations

import pytest

from routing.problems import ProblemsError
from routing.roster import parse_roster

AREAS = ["general", "labor"]
LANGUAGES = ["zh", "en"]
LONG_NAME = "张" * 150
# Accepted by imports before overlaps and long names were refused.
HELD = f"""
timezone: Asia/Shanghai
agents:
  - id: a1
    name: {LONG_NAME}
    phone: "+8613900000201"
    languages: [zh]
    skills: {{general: 1}}
    crisis_trained: true
    shifts:
      - {{days: mon, hours: "09:00-17:00"}}
      - {{days: mon, hours: "16:00-20:00"}}
supervisors:
  - id: s1
    name: S1
    phone: "+8613900000301"
    on_call: [{{days: daily, hours: "00:00-24:00"}}]
"""


def test_a_new_file_with_overlaps_and_a_long_name_is_refused():
    with pytest.raises(ProblemsError) as refused:
        parse_roster(HELD, source="r.yaml", area_ids=AREAS, languages=LANGUAGES)
    text = str(refused.value)
    assert "overlaps" in text and "at most" in text


def test_the_roster_already_held_still_reads_with_its_supervisor():
    roster = parse_roster(
        HELD, source="roster.yaml", area_ids=AREAS, languages=LANGUAGES, accepted=True
    )
    assert [s.id for s in roster.supervisors] == ["s1"]
    assert roster.agents[0].name == LONG_NAME


def test_accepted_still_refuses_what_no_roster_could_mean():
    broken = HELD.replace('"+8613900000201"', '"not a phone"')
    with pytest.raises(ProblemsError):
        parse_roster(
            broken, source="roster.yaml", area_ids=AREAS, languages=LANGUAGES, accepted=True
        )
