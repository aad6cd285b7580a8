"""CSV cells a spreadsheet would run are neutralised, and read back exactly."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from queues.incidents import Incident, export
from routing.roster import export_roster_csv, parse_roster
from routing.spreadsheet import read_cell, safe_cell, safe_row

ATTACKS = [
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    '=HYPERLINK("http://evil.example","click")',
]


def test_every_formula_start_gets_a_leading_quote():
    for attack in ATTACKS:
        assert safe_cell(attack) == "'" + attack
    assert safe_cell("王丽") == "王丽" and safe_cell("a=b") == "a=b" and safe_cell("") == ""


def test_plain_numbers_such_as_phone_numbers_stay_readable():
    assert safe_cell("+8613900000001") == "+8613900000001" and safe_cell("-1.5") == "-1.5"
    assert safe_cell("+86 139") == "'+86 139" and safe_cell("-1e3") == "'-1e3"
    assert safe_cell("+1\n=1") == "'+1\n=1" and safe_cell("+١٢") == "'+١٢"


def test_computed_numbers_and_booleans_stay_as_they_are():
    assert safe_cell(-1.5) == -1.5 and safe_cell(True) is True and safe_cell(7) == 7
    assert safe_row({"a": "=1", "b": 2}) == {"a": "'=1", "b": 2}


@given(st.text(max_size=30))
def test_reading_back_gives_the_exact_text(text):
    assert read_cell(safe_cell(text)) == text


def test_hand_written_quotes_are_left_alone():
    assert read_cell("'Neill") == "'Neill" and read_cell("'") == "'"


def test_the_incident_export_neutralises_what_callers_said_and_notes():
    incident = Incident(
        "CA1",
        1000.0,
        [
            {"kind": "opened", "at": "1000.0", "trigger": "crisis_words", "said": ATTACKS[0]},
            {"kind": "note", "at": "1010.0", "note": "@SUM(1)"},
        ],
    )
    (row,) = csv.DictReader(io.StringIO(export([incident], "csv")))
    assert row["said"] == "'" + ATTACKS[0]
    assert row["notes"] == "'@SUM(1)"
    assert row["duration_s"] == "10.0"


def test_the_roster_csv_export_quotes_formulas_and_reads_back_the_same_roster():
    text = (
        "id,name,phone,languages,skills\n"
        "a1,\"=cmd|' /C calc'!A0\",+8613900000001,zh,labor:1\n"
        "a2,'@home,+8613900000002,zh,labor:1\n"
        "a3,-x,+8613900000003,zh,labor:1\n"
    )
    roster = parse_roster(text, source="r.csv", area_ids=["labor"], languages=["zh"])
    assert [a.name for a in roster.agents] == ["=cmd|' /C calc'!A0", "@home", "-x"]
    exported = export_roster_csv(roster)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(exported)) if row["id"]}
    assert rows["a1"]["name"] == "'=cmd|' /C calc'!A0"
    assert rows["a2"]["name"] == "'@home" and rows["a3"]["name"] == "'-x"
    assert rows["a1"]["phone"] == "+8613900000001"
    again = parse_roster(exported, source="r.csv", area_ids=["labor"], languages=["zh"])
    assert again == roster
