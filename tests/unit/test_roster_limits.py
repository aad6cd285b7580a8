"""What a roster file may not hold: aliases, overlapping hours, values past their bounds.

Every refusal is a problem with its line, like any other roster problem, and none of them costs
more than reading the file once: a few hundred bytes of nested aliases are refused before they
expand, however many values they would have made.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.problems import ProblemsError
from routing.roster import (
    MAX_AGENTS,
    MAX_CELL,
    MAX_EXCEPTIONS,
    MAX_LISTED,
    MAX_NAME,
    MAX_ROWS,
    MAX_SHIFT_ENTRIES,
    MAX_SKILLS,
    MAX_VALUE,
    Shift,
    overlapping_shifts,
    overlaps,
    parse_roster,
)

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
LANGUAGES = ["zh", "en"]

# 293 bytes: six levels of nine aliases, 531,441 values once expanded.
ALIAS_BOMB = """\
timezone: Asia/Shanghai
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
agents: [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""

AGENT = """\
timezone: Asia/Shanghai
agents:
  - id: a1
    name: {name}
    phone: "+8613900000001"
    languages: [zh]
    skills: {{family: 3}}
    shifts:
{shifts}
"""
DAY = '      - {days: mon-fri, hours: "09:00-17:00"}'
CSV_HEADER = "role,id,name,phone,languages,skills,shifts,on_call\n"


def problems(text: str, source: str = "roster.yaml") -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        parse_roster(text, source=source, area_ids=AREAS, languages=LANGUAGES)
    return [str(problem) for problem in caught.value.problems]


def agent(name: str = "王丽", shifts: tuple[str, ...] = (DAY,)) -> str:
    return AGENT.format(name=name, shifts="\n".join(shifts))


def csv_agent(name: str = "王丽", shifts: str = "mon-fri 09:00-17:00") -> str:
    return f"agent,a1,{name},+8613900000001,zh,family:3,{shifts},\n"


# --- aliases ----------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_its_anchors_and_aliases_before_it_expands():
    assert len(ALIAS_BOMB.encode()) == 293

    found = problems(ALIAS_BOMB)

    assert found[0] == "line 2: a: aliases (&name / *name) are not allowed in a roster"
    assert "line 3: b: aliases (&name / *name) are not allowed in a roster" in found
    assert "line 7: agents.0: aliases (&name / *name) are not allowed in a roster" in found
    # Nothing was read as a roster: no agent's fields were looked for in the expanded lists.
    assert not any("expected an agent's fields" in problem for problem in found)


def test_a_single_anchor_or_alias_in_an_agent_is_refused_with_its_line():
    text = agent().replace("languages: [zh]", "languages: &both [zh, en]")
    text += "  - id: a2\n    name: B\n    phone: '+8613900000002'\n    languages: *both\n"
    text += "    skills: {labor: 1}\n"

    assert problems(text) == [
        "line 6: agents.0.languages: aliases (&name / *name) are not allowed in a roster",
        "line 13: agents.1.languages: aliases (&name / *name) are not allowed in a roster",
    ]


def test_an_alias_inside_its_own_anchor_is_refused_not_a_crash():
    assert problems("timezone: UTC\nagents: &loop [*loop]\n") == [
        "line 2: agents: aliases (&name / *name) are not allowed in a roster",
        "line 2: agents.0: aliases (&name / *name) are not allowed in a roster",
    ]


# --- overlapping hours ------------------------------------------------------------------------


def test_overlapping_shifts_of_one_agent_are_refused_on_the_later_entry_line():
    text = agent(shifts=(DAY, '      - {days: tue, hours: "16:00-20:00"}'))

    assert problems(text) == [
        "line 10: agents.0.shifts.1.hours: tue 16:00-20:00 overlaps tue 09:00-17:00"
    ]


def test_a_sunday_night_shift_overlaps_monday_morning_across_the_week_end():
    text = agent(
        shifts=(
            '      - {days: mon, hours: "05:00-09:00"}',
            '      - {days: sun, hours: "22:00-06:00"}',
        )
    )

    assert problems(text) == [
        "line 10: agents.0.shifts.1.hours: sun 22:00-06:00 overlaps mon 05:00-09:00"
    ]


def test_a_shift_written_twice_is_an_overlap_and_back_to_back_shifts_are_not():
    twice = agent(shifts=(DAY, '      - {days: wed, hours: "09:00-17:00"}'))
    assert problems(twice) == [
        "line 10: agents.0.shifts.1.hours: wed 09:00-17:00 overlaps wed 09:00-17:00"
    ]

    back_to_back = agent(shifts=(DAY, '      - {days: mon-fri, hours: "17:00-09:00"}'))
    roster = parse_roster(back_to_back, source="r.yaml", area_ids=AREAS, languages=LANGUAGES)
    assert len(roster.agents[0].shifts) == 10


def test_a_supervisors_overlapping_on_call_hours_are_refused_too():
    text = agent() + (
        "supervisors:\n"
        "  - id: s1\n"
        "    name: Sam\n"
        '    phone: "+8613900000101"\n'
        "    on_call:\n"
        '      - {days: daily, hours: "08:00-20:00"}\n'
        '      - {days: sat, hours: "19:00-23:00"}\n'
    )

    assert problems(text) == [
        "line 16: supervisors.0.on_call.1.hours: sat 19:00-23:00 overlaps sat 08:00-20:00"
    ]


def test_overlapping_shifts_in_a_csv_cell_are_refused_on_the_row_line():
    text = CSV_HEADER + csv_agent("A") + csv_agent("B", "mon 09:00-13:00;mon 12:00-18:00")
    text = text.replace("agent,a1,B,+8613900000001", "agent,a2,B,+8613900000002")

    assert problems(text, "roster.csv") == [
        "line 3: agents.1.shifts.1.hours: mon 12:00-18:00 overlaps mon 09:00-13:00"
    ]


def week_shifts():
    spans = st.tuples(st.integers(0, 1439), st.integers(1, 1440))
    return st.lists(
        st.builds(
            lambda day, span: Shift(day, span[0], span[0] + span[1]), st.integers(0, 6), spans
        ),
        max_size=12,
    )


@settings(max_examples=300, deadline=None)
@given(shifts=week_shifts())
def test_the_roster_finds_an_overlap_exactly_when_the_shift_api_would_refuse_one(shifts):
    pairs = overlapping_shifts(shifts)

    clash = any(overlaps(a, b) for i, a in enumerate(shifts) for b in shifts[i + 1 :])
    assert bool(pairs) is clash
    assert all(i < j and overlaps(shifts[i], shifts[j]) for i, j in pairs)


# --- bounded values ---------------------------------------------------------------------------


def test_a_100000_character_name_is_refused_with_its_line_in_yaml_and_csv():
    name = "x" * 100_000

    assert problems(agent(name)) == [
        f"line 4: agents.0.name: a value of 100000 characters; at most {MAX_VALUE} in a roster"
    ]
    assert problems(CSV_HEADER + csv_agent(name), "roster.csv") == [
        f"line 2: agents.0.name: a cell of 100000 characters; at most {MAX_CELL}"
    ]


def test_a_name_longer_than_a_name_is_refused_with_its_line():
    name = "王" * (MAX_NAME + 1)

    expected = f"agents.0.name: at most {MAX_NAME} characters (this one has {MAX_NAME + 1})"
    assert problems(agent(name)) == [f"line 4: {expected}"]
    assert problems(CSV_HEADER + csv_agent(name), "roster.csv") == [f"line 2: {expected}"]


def test_phone_languages_and_skills_are_bounded():
    areas = ", ".join(f"area{n}: 1" for n in range(MAX_SKILLS + 1))
    text = (
        agent()
        .replace('"+8613900000001"', '"+86 139 0000 0001 ext. 1234567890 1234567890"')
        .replace("languages: [zh]", f"languages: [{', '.join(['zh'] * 11)}]")
        .replace("skills: {family: 3}", f"skills: {{{areas}}}")
    )

    assert problems(text) == [
        "line 5: agents.0.phone: at most 32 characters; "
        'write the number in E.164 form, such as "+8613900000001"',
        "line 6: agents.0.languages: at most 10 languages",
        f"line 7: agents.0.skills: at most {MAX_SKILLS} areas",
    ]


def test_shift_and_exception_entries_are_bounded():
    many = tuple([DAY.replace("mon-fri", "mon")] * (MAX_SHIFT_ENTRIES + 1))
    text = (
        agent(shifts=many)
        + "    exceptions:\n"
        + "".join(
            f"      - {{date: 2026-01-{1 + n % 28:02d}, day_off: true}}\n"
            for n in range(MAX_EXCEPTIONS + 1)
        )
    )

    assert problems(text) == [
        f"line 8: agents.0.shifts: at most {MAX_SHIFT_ENTRIES} entries",
        f"line {10 + MAX_SHIFT_ENTRIES}: agents.0.exceptions: "
        f"at most {MAX_EXCEPTIONS} dated exceptions",
    ]


def test_a_roster_of_too_many_agents_or_csv_rows_is_refused():
    one = "  - {id: a%d, name: A, phone: '+86139%08d', languages: [zh], skills: {labor: 1}}\n"
    text = "agents:\n" + "".join(one % (n, n) for n in range(MAX_AGENTS + 1))
    assert problems(text) == [f"line 1: agents: at most {MAX_AGENTS} agents"]

    rows = "".join(f"agent,a{n},A,+86139{n:08d},zh,labor:1,,\n" for n in range(MAX_ROWS + 1))
    # Reading stops at the row past the bound (the agents' own bound is passed before it).
    assert problems(CSV_HEADER + rows, "roster.csv") == [
        f"line {MAX_ROWS + 2}: rows: at most {MAX_ROWS} rows in a roster",
        f"line {MAX_AGENTS + 2}: agents: at most {MAX_AGENTS} agents",
    ]
    agents = rows.splitlines(keepends=True)[: MAX_AGENTS + 1]
    assert problems(CSV_HEADER + "".join(agents), "roster.csv") == [
        f"line {MAX_AGENTS + 2}: agents: at most {MAX_AGENTS} agents"
    ]


def test_a_roster_with_more_problems_than_anyone_reads_lists_the_first_and_counts_the_rest():
    rows = "".join(f"agent,a{n},A,+86139{n:08d},fr,labor:1,,\n" for n in range(MAX_LISTED + 50))

    found = problems(CSV_HEADER + rows, "roster.csv")

    assert len(found) == MAX_LISTED + 1
    assert found[0] == "line 2: agents.0.languages.0: unknown language 'fr'; use ['zh', 'en']"
    assert found[-1] == "(top): 50 more problems not listed"


def test_values_yaml_or_csv_cannot_build_are_problems_with_their_line_not_crashes():
    bad_date = agent() + "    exceptions:\n      - {date: 2026-13-01, day_off: true}\n"
    (found,) = problems(bad_date)
    assert (
        found.startswith("line 11: (top): not valid YAML: ") and "month must be in 1..12" in found
    )

    # Python refuses to read an integer of more than 4300 digits: the bound comes first.
    huge_number = agent().replace('"+8613900000001"', "8" * 5000)
    assert problems(huge_number) == [
        f"line 5: agents.0.phone: a value of 5000 characters; at most {MAX_VALUE} in a roster"
    ]

    nested = "agents:\n  - shifts: " + "[" * 20 + "]" * 20 + "\n"
    assert problems(nested) == [
        "line 2: agents.0.shifts.0.0.0.0.0: nested deeper than 8 levels; a roster never is"
    ]

    huge_cell = CSV_HEADER + csv_agent("A", "x" * 200_000)
    (found,) = problems(huge_cell, "roster.csv")
    assert found.startswith("line 2: (top): not valid CSV: field larger than field limit")

    digits = CSV_HEADER + csv_agent().replace("family:3", "family:²")
    assert problems(digits, "roster.csv") == [
        "line 2: agents.0.skills.family: expected a level of 1, 2 or 3"
    ]


def test_a_roster_larger_than_any_hotline_needs_is_refused_unread():
    text = agent() + "# " + "x" * 3_000_000 + "\n"

    assert problems(text) == [f"(top): {len(text)} characters; a roster is at most 2000000"]
    assert problems(text, "roster.csv") == [
        f"(top): {len(text)} characters; a roster is at most 2000000"
    ]
