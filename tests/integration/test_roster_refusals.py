"""A roster file with aliases, overlapping shifts or a value past its bound is refused whole, with
the line of each problem, through the API and the CLI; the roster in use stays as it was."""

from __future__ import annotations

import io

import pytest

from hotline.cli import main
from tests.fixtures.ops import hotline_fixture, sign_in  # noqa: F401 - fixtures
from tests.fixtures.rosters import COVERED, imports, put

pytestmark = pytest.mark.redis

ALIAS_BOMB = """\
timezone: Asia/Shanghai
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
agents: [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""
ALIASES = "aliases (&name / *name) are not allowed in a roster"
# n1 works weekdays 09:00-17:00; a second entry from 16:00 overlaps Tuesday's.
OVERLAP = COVERED.replace(
    '      - {days: mon-fri, hours: "09:00-17:00"}\n',
    '      - {days: mon-fri, hours: "09:00-17:00"}\n      - {days: tue, hours: "16:00-20:00"}\n',
)
LONG_NAME = COVERED.replace("name: Night Owl", "name: " + "x" * 100_000)


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def cli_env(app_env, redis_url, monkeypatch):
    """The CLI pointed at the test Redis."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_the_api_refuses_an_alias_bomb_with_the_lines_of_its_aliases(app, hotline):
    ops = sign_in(app, "olga")
    before = ops.get("/api/v1/roster").get_data(as_text=True)

    refused = put(ops, ALIAS_BOMB)

    assert refused.status_code == 422
    problems = refused.json["error"]["problems"]
    assert problems[0] == {"line": 2, "field": "a", "message": ALIASES}
    assert {"line": 7, "field": "agents.0", "message": ALIASES} in problems
    assert ops.get("/api/v1/roster").get_data(as_text=True) == before
    assert imports(hotline.redis) == []


def test_the_api_refuses_overlapping_shifts_and_a_100000_character_name_with_their_lines(
    app, hotline
):
    ops = sign_in(app, "olga")
    before = ops.get("/api/v1/roster").get_data(as_text=True)

    overlap = put(ops, OVERLAP)
    long_name = put(ops, LONG_NAME)

    assert overlap.status_code == 422
    assert overlap.json["error"]["problems"] == [
        {
            "line": line_of(OVERLAP, "16:00-20:00"),
            "field": "agents.2.shifts.1.hours",
            "message": "tue 16:00-20:00 overlaps tue 09:00-17:00",
        }
    ]
    assert long_name.status_code == 422
    assert long_name.json["error"]["problems"] == [
        {
            "line": line_of(LONG_NAME, "xxxxx"),
            "field": "agents.1.name",
            "message": "a value of 100000 characters; at most 1000 in a roster",
        }
    ]
    assert ops.get("/api/v1/roster").get_data(as_text=True) == before


def test_the_api_refuses_a_csv_row_with_overlapping_shifts_as_the_shift_api_would(app, hotline):
    ops = sign_in(app, "olga")
    text = (
        "id,name,phone,languages,skills,shifts\n"
        "q1,Q,+8613900000010,zh,labor:1,mon-fri 09:00-17:00;wed 08:00-10:00\n"
    )

    refused = put(ops, text, "text/csv")

    assert refused.status_code == 422
    assert refused.json["error"]["problems"] == [
        {
            "line": 2,
            "field": "agents.0.shifts.1.hours",
            "message": "wed 08:00-10:00 overlaps wed 09:00-17:00",
        }
    ]
    # The shift API refuses the same shift, by the same rule, on a roster that reads.
    assert put(ops, text.replace(";wed 08:00-10:00", ""), "text/csv", "?force=1").status_code == 200
    added = ops.post(
        "/api/v1/agents/q1/shifts", json={"day": "wed", "start": "08:00", "end": "10:00"}
    )
    assert added.status_code == 409


def test_the_cli_refuses_an_alias_bomb_and_overlapping_shifts_with_their_lines(
    hotline, cli_env, capsys, tmp_path
):
    before = hotline.board.roster_text()
    bomb, overlap = tmp_path / "bomb.yaml", tmp_path / "overlap.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    overlap.write_text(OVERLAP, encoding="utf-8")

    assert main(["roster", "import", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert f"{bomb}: line 2: a: {ALIASES}" in err.splitlines()

    assert main(["roster", "import", str(overlap)]) == 1
    err = capsys.readouterr().err
    line = line_of(OVERLAP, "16:00-20:00")
    assert err.splitlines() == [
        f"{overlap}: line {line}: agents.2.shifts.1.hours: tue 16:00-20:00 overlaps tue 09:00-17:00"
    ]
    assert hotline.board.roster_text() == before and imports(hotline.redis) == []
