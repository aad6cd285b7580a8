"""The coverage page's staffing plan and its API: agents required per half-hour against those
rostered, learned from the durable call records; the same figures as `hotline staffing plan`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hotline.cli import main
from queues.records import jobs
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.records import CALLS_AT_TEN, TODAY, seed_records

pytestmark = pytest.mark.redis


@pytest.fixture
def records(app, monkeypatch) -> Iterator[Path]:
    """The var dir's SQLite call records, seeded with the fortnight before the test clock's day;
    the app's store forgotten after the test."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    var_dir = app.config["SETTINGS"].var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    seed_records(var_dir, TODAY - timedelta(days=14), 14)
    yield var_dir
    jobs.install(None)


class Cells(HTMLParser):
    """The plan grid's cells: each half-hour's class and text, by its data-slot."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "td" and "data-slot" in found:
            self._open = found["data-slot"]
            self.cells[self._open] = {"class": found.get("class") or "", "text": ""}

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.cells[self._open]["text"] += data


def plan_cells(html: str) -> dict[str, dict[str, str]]:
    parser = Cells()
    parser.feed(html)
    return parser.cells


@pytest.mark.parametrize("name", ["olga", "sam"])
def test_the_coverage_page_shows_the_plan_with_its_gaps_to_ops_and_supervisors(
    app, hotline, records, name
):
    session = sign_in(app, name)
    session.get("/ops/lang/en?next=/ops/coverage")

    answer = session.get("/ops/coverage?area=labor")

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    cells = plan_cells(html)
    # One day shown, every half-hour of it.
    assert len(cells) == 48 and all(slot.startswith("2026-12-02T") for slot in cells)
    ten = cells["2026-12-02T10:00:00+08:00"]
    assert ten["class"] == "gap" and "short" in ten["text"]
    rostered, required = ten["text"].split()[0].split("/")
    assert int(rostered) < int(required)
    # No call at 03:00 and nobody on: neither a gap nor a figure.
    assert cells["2026-12-02T03:00:00+08:00"] == {"class": "closed", "text": ""}
    # The forecast's source and history span are named: whole days only, and the oldest
    # record arrived at 10:00, so the history starts the day after it.
    assert (
        "Learned from the durable call records: 2026-11-19 to 2026-12-01 (13 days, 260 calls)"
        in html
    )


def test_the_week_page_shows_seven_days_and_pages_on(app, hotline, records):
    ops = sign_in(app, "olga")

    html = ops.get("/ops/coverage?area=labor&span=week&day=2026-12-03").get_data(as_text=True)

    days = {slot[:10] for slot in plan_cells(html)}
    assert days == {(date(2026, 12, 3) + timedelta(days=n)).isoformat() for n in range(7)}
    assert "day=2026-12-10" in html and "day=2026-12-02" in html


def test_the_page_without_history_still_shows_the_roster_and_says_why(app, hotline):
    ops = sign_in(app, "olga")

    html = ops.get("/ops/coverage?area=labor").get_data(as_text=True)

    assert "data-plan-error" in html and "holds no whole day" in html
    assert 'data-cell="general-zh-22"' in html and not plan_cells(html)


def test_agents_may_not_see_the_coverage_page_or_the_plan(app, hotline, records):
    agent = sign_in(app, "wang")

    assert agent.get("/ops/coverage?area=labor").status_code == 403
    assert agent.get("/api/v1/staffing/plan?area=labor").status_code == 403


def test_the_api_refuses_an_unknown_area_and_too_many_days(app, hotline, records):
    ops = sign_in(app, "olga")

    assert ops.get("/api/v1/staffing/plan?area=tax").json["error"]["field"] == "area"
    assert ops.get("/api/v1/staffing/plan?area=labor&days=63").json["error"]["field"] == "days"
    assert ops.get("/api/v1/staffing/plan?area=labor&from=soon").json["error"]["field"] == "from"


def cli_rows(capsys, first: date, days: int) -> dict[str, list[str]]:
    """`hotline staffing plan --all`'s rows by local start (YYYY-MM-DDTHH:MM)."""
    argv = ["staffing", "plan", "--area", "labor", "--from", str(first), "--days", str(days)]
    assert main([*argv, "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["date", "time"])
    rows = [line.split() for line in lines[header + 1 : -1] if not line.startswith("note:")]
    return {f"{row[0]}T{row[1]}": row for row in rows}


def test_the_api_gives_the_same_figures_as_the_command(app, hotline, records, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    # A first day before both clocks (the app's and the command's): both learn the same weeks.
    first = TODAY - timedelta(days=3)
    ops = sign_in(app, "olga")

    found = ops.get(f"/api/v1/staffing/plan?area=labor&from={first}&days=3").json
    printed = cli_rows(capsys, first, 3)

    assert found["history"] == {
        "source": "records",
        "description": "the durable call records",
        "from": str(TODAY - timedelta(days=13)),
        "to": str(first - timedelta(days=1)),
        "days": 10,
        "calls": 10 * CALLS_AT_TEN,
    }
    assert len(found["half_hours"]) == len(printed) == 3 * 48
    for half_hour in found["half_hours"]:
        row = printed[half_hour["start"][:16]]
        assert row[2:9] == [
            half_hour["pattern"],
            f"{half_hour['calls']:.1f}",
            f"{half_hour['aht_s']:.0f}",
            str(half_hour["answering"]),
            str(half_hour["required"]),
            str(half_hour["rostered"]),
            str(-half_hour["gap"]),
        ]
        assert (row[9:] == ["GAP"]) == (half_hour["gap"] > 0)
    assert found["short"] == sum(1 for row in printed.values() if row[9:] == ["GAP"]) > 0
