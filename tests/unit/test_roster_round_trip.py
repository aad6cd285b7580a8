"""Export then import is the identity on every roster, in YAML and in CSV."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.problems import ProblemsError
from routing.roster import (
    LEVELS,
    MAX_NAME,
    Agent,
    DatedException,
    Roster,
    Shift,
    Supervisor,
    export_roster,
    export_roster_csv,
    overlaps,
    parse_roster,
)

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
LANGUAGES = ["zh", "en"]
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "UTC", "Asia/Kolkata"]
# Writing YAML (the export) is slow in pure Python: fewer YAML examples, more CSV ones.
YAML_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CSV_PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Hash-shaped values, as an export writes them (hashing itself is slow and tested elsewhere).
PIN_HASHES = st.builds(
    lambda salt, digest: f"scrypt:32768:8:1${salt}${digest}",
    st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=8, max_size=16
    ),
    st.text("0123456789abcdef", min_size=128, max_size=128),
)


def read(text: str, source: str) -> Roster:
    """Parse a roster with the shipped areas and languages."""
    return parse_roster(text, source=source, area_ids=AREAS, languages=LANGUAGES)


ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,12}\Z")
# Names as people type them: any letters, digits, punctuation and inner spaces, no control codes,
# up to the longest a roster takes.
names = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
    ),
    min_size=1,
    max_size=MAX_NAME,
).filter(lambda text: text == text.strip() and text != "")
phones = st.integers(0, 9999).map(lambda n: f"+86139{n:08d}")
spans = st.tuples(st.integers(0, 1439), st.integers(1, 1440)).map(lambda s: (s[0], s[0] + s[1]))
# A roster refuses one person's overlapping hours: a drawn shift that overlaps one kept is dropped.
shifts = st.lists(st.tuples(st.integers(0, 6), spans), max_size=6).map(
    lambda items: _apart(Shift(day, start, end) for day, (start, end) in items)
)
exceptions = st.lists(
    st.tuples(
        st.integers(0, 400).map(lambda n: date(2026, 1, 1) + timedelta(days=n)), st.none() | spans
    ),
    max_size=4,
).map(
    lambda items: tuple(
        sorted(
            {
                DatedException(day) if span is None else DatedException(day, *span)
                for day, span in items
            },
            key=lambda e: (e.day, e.start or 0, e.end or 0),
        )
    )
)


def _apart(drawn) -> tuple[Shift, ...]:
    """The drawn shifts that overlap none drawn before them, in the order a roster keeps."""
    kept: list[Shift] = []
    for shift in drawn:
        if not any(overlaps(shift, other) for other in kept):
            kept.append(shift)
    return tuple(sorted(kept, key=_shift_key))


def _shift_key(shift: Shift) -> tuple[int, int, int]:
    """The order a parsed roster keeps shifts in."""
    return (shift.weekday, shift.start, shift.end)


@st.composite
def agents(draw, agent_id: str, phone: str) -> Agent:
    """One agent with every field a roster file can hold."""
    return Agent(
        id=agent_id,
        name=draw(names),
        phone=phone,
        languages=tuple(draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, unique=True))),
        skills=draw(st.dictionaries(st.sampled_from(AREAS), st.sampled_from(LEVELS), min_size=1)),
        crisis_trained=draw(st.booleans()),
        shifts=draw(shifts),
        exceptions=draw(exceptions),
        timezone=draw(st.sampled_from(ZONES)),
        pin_hash=draw(st.none() | PIN_HASHES),
    )


@st.composite
def supervisors(draw, supervisor_id: str, phone: str) -> Supervisor:
    """One supervisor: on-call hours (at least one), dated exceptions, a time zone."""
    on_call = draw(shifts.filter(bool))
    return Supervisor(
        supervisor_id,
        draw(names),
        phone,
        on_call,
        draw(exceptions),
        draw(st.sampled_from(ZONES)),
    )


@st.composite
def rosters(draw) -> Roster:
    """A roster as a parse could return it: agents, supervisors and the default time zone."""
    agent_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    agent_phones = draw(
        st.lists(phones, min_size=len(agent_ids), max_size=len(agent_ids), unique=True)
    )
    supervisor_ids = draw(st.lists(ids, max_size=3, unique=True))
    supervisor_phones = draw(
        st.lists(phones, min_size=len(supervisor_ids), max_size=len(supervisor_ids), unique=True)
    )
    return Roster(
        tuple(draw(agents(i, p)) for i, p in zip(agent_ids, agent_phones, strict=True)),
        draw(st.sampled_from(ZONES)),
        tuple(
            draw(supervisors(i, p)) for i, p in zip(supervisor_ids, supervisor_phones, strict=True)
        ),
    )


@YAML_PROPERTY
@given(roster=rosters())
def test_yaml_export_reads_back_to_the_same_roster(roster):
    assert read(export_roster(roster), "roster.yaml") == roster


@CSV_PROPERTY
@given(roster=rosters())
def test_csv_export_reads_back_to_the_same_roster(roster):
    assert read(export_roster_csv(roster), "roster.csv") == roster


# --- the CSV layout a spreadsheet user reads and edits -----------------------------------------

CSV = """\
role,id,name,phone,languages,skills,crisis_trained,pin_hash,shifts,on_call,exceptions,timezone
roster,,,,,,,,,,,Europe/London
agent,a1,王丽,+8613900000001,zh en,family:3 general:1,yes,,mon-fri 09:00-17:00,,2026-12-02 off,
supervisor,s1,Sam,+8613900000101,,,,,,daily 08:00-20:00;sat 20:00-08:00,2026-12-25 off,Asia/Shanghai
"""


def test_csv_rows_say_what_they_are_and_the_roster_row_sets_the_time_zone():
    roster = read(CSV, "roster.csv")

    assert roster.timezone == "Europe/London"
    (agent,) = roster.agents
    assert (agent.id, agent.timezone, agent.crisis_trained) == ("a1", "Europe/London", True)
    (supervisor,) = roster.supervisors
    assert (supervisor.id, supervisor.name, supervisor.timezone) == ("s1", "Sam", "Asia/Shanghai")
    assert len(supervisor.shifts) == 8
    assert supervisor.exceptions == (DatedException(date(2026, 12, 25)),)
    assert export_roster_csv(roster) == CSV


def test_the_example_csv_roster_is_the_example_yaml_roster():
    examples = Path(__file__).resolve().parents[2] / "examples"
    from_csv = read((examples / "roster.csv").read_text(encoding="utf-8"), "roster.csv")
    from_yaml = read((examples / "roster.yaml").read_text(encoding="utf-8"), "roster.yaml")
    assert from_csv == from_yaml and len(from_csv.supervisors) == 2


def test_an_old_csv_without_a_role_column_is_all_agents():
    roster = read("id,name,phone,languages,skills\na1,A,+8613900000001,zh,labor:1\n", "roster.csv")
    assert [agent.id for agent in roster.agents] == ["a1"] and roster.supervisors == ()


def test_csv_problems_of_supervisor_and_roster_rows_name_their_line():
    text = (
        CSV.replace("daily 08:00-20:00;sat 20:00-08:00", "")
        .replace("supervisor,s1,Sam,+8613900000101,,", "supervisor,s1,Sam,+8613900000101,zh,")
        .replace("2026-12-02 off,", "2026-12-02 off,")
        + "roster,,,,,,,,,,,Mars/Base\n"
        + "boss,b1,B,+8613900000102,,,,,,,,\n"
    )
    with pytest.raises(ProblemsError) as caught:
        read(text, "roster.csv")
    found = [str(problem) for problem in caught.value.problems]
    assert "line 4: supervisors.0.languages: only agents have languages" in found
    assert "line 4: supervisors.0.on_call: expected a list of on-call {days, hours}" in found
    assert "line 5: roster: give one roster row only" in found
    assert "line 6: role: expected agent, supervisor or roster, got 'boss'" in found
