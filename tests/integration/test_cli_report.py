"""`hotline report` reads the durable call records of a period and prints its figures: CSV with a
BOM and cells safe in a spreadsheet, JSON, and a table; bad dates and areas refused in one line."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.cli import main
from hotline.commands import settings
from queues.records.store import RecordStore, sqlite_url
from routing.report import HEADLINE
from routing.spreadsheet import read_cell

ZONE = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 2) -> float:
    """An instant of March 2026 in Beijing time."""
    return datetime(2026, 3, day, hour, minute, tzinfo=ZONE).timestamp()


@pytest.fixture
def records(app_env, monkeypatch):
    """The var dir's SQLite records with four calls on 2 March 2026 and one on the 3rd."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store = RecordStore.open(sqlite_url(settings().var_dir))
    store.migrate()
    rows = [
        # Answered after 15 s by an agent whose id a spreadsheet would run as a formula.
        dict(call_sid="A1", arrived_at=at(9), area="labor", agent="=cmd|' /C calc'!A0",
             queued_at=at(9) + 5, answered_at=at(9) + 20, wait_s=15.0, talk_s=100.0),
        dict(call_sid="A2", arrived_at=at(9, 40), area="labor", agent="张三",
             queued_at=at(9, 40), answered_at=at(9, 41), wait_s=60.0, talk_s=200.0),
        dict(call_sid="A3", arrived_at=at(10), area="family", outcome="abandoned",
             queued_at=at(10), wait_s=30.0),
        dict(call_sid="A4", arrived_at=at(11), area="labor", outcome="menu"),
        dict(call_sid="B1", arrived_at=at(9, day=3), area="labor", queued_at=at(9, day=3)),
    ]  # fmt: skip
    for row in rows:
        store.put_call(row, now=row["arrived_at"])
    store.close()


def run(capsys, *argv: str) -> str:
    """Run `hotline report` for 2 March 2026 with more flags; what it printed."""
    assert main(["report", "--from", "2026-03-02", "--to", "2026-03-02", *argv]) == 0
    return capsys.readouterr().out


def test_csv_has_a_bom_safe_cells_and_the_day_s_figures(records, capsysbinary):
    assert main(["report", "--from", "2026-03-02", "--to", "2026-03-02", "--by", "agent",
                 "--format", "csv"]) == 0  # fmt: skip
    raw = capsysbinary.readouterr().out
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    by_bucket = {row["bucket"]: row for row in rows}
    assert set(by_bucket) == {"", "'=cmd|' /C calc'!A0", "张三", "total"}
    assert read_cell("'=cmd|' /C calc'!A0") == "=cmd|' /C calc'!A0"
    assert by_bucket["张三"]["answered"] == "1" and by_bucket["张三"]["talk_s"] == "200.0"
    total = by_bucket["total"]
    # Three reached a queue (A1, A2, A3), two answered, one within 20 s; A4 stayed in the menu.
    assert (total["arrived"], total["offered"], total["answered"]) == ("4", "3", "2")
    assert float(total["service_level"]) == round(1 / 3, 4)
    assert float(total["asa_s"]) == 37.5


def test_json_by_hour_for_one_area(records, capsys):
    found = json.loads(run(capsys, "--area", "labor", "--by", "hour", "--format", "json"))
    assert (found["from"], found["to"], found["area"]) == ("2026-03-02", "2026-03-02", "labor")
    assert found["service_level_s"] == 20
    assert len(found["buckets"]) == 24
    nine = next(b for b in found["buckets"] if b["bucket"] == "2026-03-02 09:00")
    assert (nine["offered"], nine["answered"], nine["wait_max_s"]) == (2, 2, 60.0)
    assert found["total"]["arrived"] == 3
    assert found["total"]["answer_rate"] == 1.0
    assert {a["agent"] for a in found["agents"]} == {"=cmd|' /C calc'!A0", "张三"}


def test_the_table_lists_buckets_and_every_figure(records, capsys):
    out = run(capsys)
    assert out.splitlines()[0].split() == ["bucket", *HEADLINE]
    day = next(line for line in out.splitlines() if line.startswith("2026-03-02"))
    assert day.split()[1:4] == ["3", "2", "66.7"]
    assert any(line.split()[:2] == ["wait_max_s", "60.0"] for line in out.splitlines())


def test_bad_dates_and_unknown_areas_are_refused_in_one_line(records, capsys):
    assert main(["report", "--from", "2026-03-05", "--to", "2026-03-01"]) == 2
    assert capsys.readouterr().err.startswith("hotline: bad period: the period ends before")
    assert main(["report", "--from", "March", "--to", "2026-03-01"]) == 2
    assert "'March' is not a date" in capsys.readouterr().err
    assert main(["report", "--from", "2026-03-01", "--to", "2026-03-01", "--area", "tax"]) == 2
    assert capsys.readouterr().err.startswith("hotline: no area 'tax'")
