"""The roster: agents and shifts from YAML or CSV, every problem with its line, shifts in time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from routing.pins import is_pin_hash, pin_matches
from routing.problems import ProblemsError
from routing.roster import (
    CSV_EXPORT_COLUMNS,
    export_roster,
    hash_pins,
    next_shift_change,
    on_shift,
    parse_days,
    parse_roster,
)

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
LANGUAGES = ["zh", "en"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def parse(text: str, source: str = "roster.yaml"):
    return parse_roster(text, source=source, area_ids=AREAS, languages=LANGUAGES)


def problems(text: str, source: str = "roster.yaml") -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        parse(text, source)
    return [str(problem) for problem in caught.value.problems]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


ONE = """\
timezone: Asia/Shanghai
agents:
  - id: a1
    name: 王丽
    phone: "+8613900000001"
    languages: [zh]
    skills: {family: 3}
    shifts:
      - {days: mon-fri, hours: "09:00-17:00"}
      - {days: sat, hours: "22:00-06:00"}
    exceptions:
      - {date: 2026-12-02, day_off: true}
      - {date: 2026-12-06, hours: "10:00-12:00"}
"""


def test_example_roster_covers_every_area_both_languages_day_and_night():
    roster = parse(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
    assert 10 <= len(roster.agents) <= 14
    assert {area for agent in roster.agents for area in agent.skills} == set(AREAS)
    assert {lang for agent in roster.agents for lang in agent.languages} == set(LANGUAGES)
    assert any(agent.crisis_trained for agent in roster.agents)
    assert on_shift(roster, at(2026, 12, 2, 10, 0))  # a Wednesday morning
    assert on_shift(roster, at(2026, 12, 2, 3, 0))  # the small hours
    for hour in range(24):  # someone who speaks Mandarin is on shift at every hour
        working = on_shift(roster, at(2026, 12, 5, hour, 30))
        assert any("zh" in roster.agent(agent_id).languages for agent_id in working), hour


def test_an_agent_is_read_whole():
    agent = parse(ONE).agents[0]
    assert (agent.id, agent.name, agent.phone) == ("a1", "王丽", "+8613900000001")
    assert agent.languages == ("zh",) and agent.skills == {"family": 3}
    assert not agent.crisis_trained and agent.pin is None and agent.pin_hash is None
    assert len(agent.shifts) == 6 and agent.timezone == "Asia/Shanghai"


def test_weekly_shift_and_its_end():
    agent = parse(ONE).agents[0]
    assert on_shift(agent, at(2026, 12, 1, 9, 0))  # Tuesday 09:00
    assert on_shift(agent, at(2026, 12, 1, 16, 59))
    assert not on_shift(agent, at(2026, 12, 1, 17, 0))
    assert not on_shift(agent, at(2026, 12, 1, 8, 59))


def test_overnight_shift_runs_into_the_next_day():
    agent = parse(ONE).agents[0]
    assert on_shift(agent, at(2026, 12, 5, 23, 0))  # Saturday night
    assert on_shift(agent, at(2026, 12, 6, 5, 59))  # Sunday early
    assert not on_shift(agent, at(2026, 12, 6, 6, 0))


def test_dated_exceptions_take_a_day_off_and_add_a_shift():
    agent = parse(ONE).agents[0]
    assert not on_shift(agent, at(2026, 12, 2, 10, 0))  # Wednesday, day off
    assert on_shift(agent, at(2026, 12, 6, 11, 0))  # Sunday, extra shift
    assert not on_shift(agent, at(2026, 12, 13, 11, 0))  # the next Sunday: no extra shift


def test_shift_read_in_the_agents_time_zone():
    text = ONE.replace("    skills: {family: 3}\n", "    skills: {family: 3}\n    timezone: UTC\n")
    agent = parse(text).agents[0]
    assert on_shift(agent, datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    assert not on_shift(agent, at(2026, 12, 1, 9, 30))  # 01:30 UTC


def test_next_shift_change_is_the_next_start_or_end():
    agent = parse(ONE).agents[0]
    assert next_shift_change(agent, at(2026, 12, 1, 10, 0)) == at(2026, 12, 1, 17, 0)
    # Wednesday is off: from Tuesday evening the next change is Thursday's start.
    assert next_shift_change(agent, at(2026, 12, 1, 18, 0)) == at(2026, 12, 3, 9, 0)


def test_every_problem_is_reported_with_its_line():
    text = """\
agents:
  - id: a1
    name: 王丽
    phone: "13900000001"
    languages: [zh, fr]
    skills: {family: 4, tax: 1}
    shifts:
      - {days: someday, hours: "9-17"}
  - id: a1
    name: Li
    phone: "+8613900000002"
    languages: [en]
    skills: {labor: 2}
    pin: "12"
    colour: blue
"""
    found = problems(text)
    expected = [
        ("line 4:", "agents.0.phone"),
        ("line 5:", "agents.0.languages.1"),
        ("line 6:", "agents.0.skills.family"),
        ("line 6:", "agents.0.skills.tax"),
        ("line 8:", "agents.0.shifts.0.days"),
        ("line 8:", "agents.0.shifts.0.hours"),
        ("line 14:", "agents.1.pin"),
        ("line 15:", "agents.1.colour"),
    ]
    for line, path in expected:
        assert any(p.startswith(f"{line} {path}:") for p in found), (line, path, found)
    assert len(found) == len(expected)


def test_duplicate_ids_and_phones_are_problems():
    text = ONE + ONE.split("agents:\n", 1)[1]
    found = problems(text)
    assert any("line 14: agents.1.id" in p and "used twice" in p for p in found)
    assert any("agents.1.phone" in p and "same phone" in p for p in found)


def test_phone_must_be_written_in_e164():
    found = problems(ONE.replace('"+8613900000001"', '"+86 139 0000 0001"'))
    assert found == ["line 5: agents.0.phone: write the number in E.164 form: '+8613900000001'"]
    found = problems(ONE.replace('"+8613900000001"', '"+8612345"'))
    assert "not a valid phone number" in found[0]


def test_yaml_syntax_error_has_its_line():
    found = problems("agents:\n  - id: [a1\n")
    assert found[0].startswith("line ")


def test_export_reads_back_to_the_same_roster():
    roster = hash_pins(parse(EXAMPLE.read_text(encoding="utf-8")))
    again = parse(export_roster(roster))
    assert again == roster
    one = parse(ONE)
    assert parse(export_roster(one)) == one


def test_csv_roster_with_compact_columns():
    text = (
        "id,name,phone,languages,skills,crisis_trained,pin,shifts,exceptions\n"
        'a1,王丽,+8613900000001,zh en,family:3 general:1,yes,1234,"mon-fri 09:00-17:00; '
        'sat 22:00-06:00",2026-12-02 off\n'
        "a2,Li,+8613900000002,en,labor:2,no,,daily 00:00-24:00,\n"
    )
    roster = parse(text, "roster.csv")
    assert roster == parse(
        ONE.replace("[zh]", "[zh, en]")
        .replace(
            "{family: 3}", "{family: 3, general: 1}\n    crisis_trained: true\n    pin: '1234'"
        )
        .replace('      - {date: 2026-12-06, hours: "10:00-12:00"}\n', "")
        + """\
  - id: a2
    name: Li
    phone: "+8613900000002"
    languages: [en]
    skills: {labor: 2}
    shifts:
      - {days: daily, hours: "00:00-24:00"}
"""
    )


def test_csv_problems_carry_the_row_line():
    text = (
        "id,name,phone,languages,skills,shifts\n"
        "a1,王丽,+8613900000001,zh,family:3,mon-fri 09:00-17:00\n"
        "a2,Li,+86139,xx,labor:9,someday 09:00-17:00\n"
    )
    found = problems(text, "roster.csv")
    assert len(found) == 4
    assert all(p.startswith("line 3: agents.1.") for p in found), found


def test_parse_days_forms():
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("sat,sun") == [5, 6]
    assert parse_days("fri-mon") == [0, 4, 5, 6]
    assert parse_days("daily") == list(range(7))
    assert parse_days(["tue", "thu"]) == [1, 3]
    with pytest.raises(ValueError):
        parse_days("weekdays")


# --- PINs ----------------------------------------------------------------------------------------

WITH_PIN = ONE.replace("skills: {family: 3}", "skills: {family: 3}\n    pin: '31415926'")


def test_a_plain_pin_is_read_then_hashed_and_export_writes_only_the_hash():
    read = parse(WITH_PIN).agents[0]
    assert read.pin == "31415926" and read.pin_hash is None  # reading never hashes
    with pytest.raises(ValueError, match="plain PIN"):
        export_roster(parse(WITH_PIN))  # a plain PIN is never written out
    hashed = hash_pins(parse(WITH_PIN))
    agent = hashed.agents[0]
    assert agent.pin is None and is_pin_hash(agent.pin_hash)
    assert pin_matches(agent.pin_hash, "31415926") and not pin_matches(agent.pin_hash, "31415927")
    text = export_roster(hashed)
    assert "31415926" not in text and f"pin_hash: {agent.pin_hash}" in text
    assert "pin:" not in text
    assert parse(text) == hashed  # the hash round-trips as it is


def test_each_pin_gets_its_own_salt():
    two = hash_pins(parse(WITH_PIN)).agents[0].pin_hash
    again = hash_pins(parse(WITH_PIN)).agents[0].pin_hash
    assert two != again and pin_matches(two, "31415926") and pin_matches(again, "31415926")


def test_pin_and_pin_hash_problems_name_their_line():
    hashed = hash_pins(parse(WITH_PIN)).agents[0].pin_hash
    both = WITH_PIN.replace("    pin: '31415926'", f"    pin: '31415926'\n    pin_hash: {hashed}")
    assert problems(both) == [
        "line 9: agents.0.pin_hash: give either pin (a new PIN) or pin_hash, not both"
    ]
    forged = WITH_PIN.replace("pin: '31415926'", "pin_hash: sha1$abc$1234")
    (found,) = problems(forged)
    assert found.startswith("line 8: agents.0.pin_hash: expected a PIN hash as a roster export")
    costly = WITH_PIN.replace("pin: '31415926'", "pin_hash: " + hashed.replace("32768", "1048576"))
    assert problems(costly)[0].startswith("line 8: agents.0.pin_hash:")  # cost out of bounds
    short = WITH_PIN.replace("pin: '31415926'", "pin: '12'")
    assert problems(short) == ["line 8: agents.0.pin: expected a PIN of 4 to 8 digits, quoted"]


def test_csv_reads_pin_or_pin_hash_and_names_the_row():
    header = "id,name,phone,languages,skills,pin,pin_hash\n"
    plain = parse(header + "a1,A,+8613900000001,zh,family:3,4321,\n", "roster.csv")
    agent = hash_pins(plain).agents[0]
    row = f"a1,A,+8613900000001,zh,family:3,,{agent.pin_hash}\n"
    assert parse(header + row, "roster.csv").agents[0].pin_hash == agent.pin_hash
    found = problems(header + "a1,A,+8613900000001,zh,family:3,,not-a-hash\n", "roster.csv")
    assert len(found) == 1 and found[0].startswith("line 2: agents.0.pin_hash:")
    assert "pin" not in CSV_EXPORT_COLUMNS and "pin_hash" in CSV_EXPORT_COLUMNS
