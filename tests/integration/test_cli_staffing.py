"""`hotline staffing erlang` prints the worked example's figures; `hotline staffing plan` learns
an area's calls from what Redis holds and prints each half-hour's agents required against the
roster."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.cli import main
from hotline.commands import settings
from queues import keys
from queues.records.store import RecordStore, sqlite_url
from routing.erlang import Demand, required
from routing.forecast import StaffingPolicy
from tests.fixtures.rosters import COVERED

ZONE = ZoneInfo("Asia/Shanghai")
HISTORY_DAYS = 14
CALLS_AT_TEN = 20
TALK_S, WRAP_S = 240, 30


def erlang(capsys, *extra: str) -> dict[str, str]:
    """Run the worked example's calculation with extra flags; its `name: value` lines as a dict."""
    argv = ["staffing", "erlang", "--calls", "100", "--interval-s", "1800", "--aht-s", "180"]
    assert main([*argv, "--target-s", "20", *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    return dict(line.split(": ", 1) for line in lines)


def test_erlang_prints_fourteen_agents_for_eighty_percent(capsys):
    found = erlang(capsys, "--target-sl", "0.8")

    assert found["agents"] == "14"
    assert found["service level"] == "88.8%"
    assert float(found["ASA s"]) == pytest.approx(7.8, abs=0.05)
    assert found["occupancy"] == "71.4%"
    assert "rostered with 0% shrinkage" not in found


def test_erlang_prints_thirteen_agents_for_seventy_nine_percent(capsys):
    found = erlang(capsys, "--target-sl", "0.79")

    assert (found["agents"], found["service level"]) == ("13", "79.6%")


def test_erlang_adds_shrinkage_to_the_agents_rostered(capsys):
    found = erlang(capsys, "--target-sl", "0.8", "--shrinkage", "0.3")

    assert found["agents"] == "14"
    assert found["rostered with 30% shrinkage"] == "20"


def test_erlang_refuses_an_impossible_target_in_one_line(capsys):
    assert main(["staffing", "erlang", "--calls", "10", "--aht-s", "60", "--target-sl", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hotline: the target service level") and err.count("\n") == 1


# --- the plan -----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(app_env, redis_url, monkeypatch):
    """The CLI pointed at the test Redis."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def record_history(redis, today: date) -> date:
    """Every day of the last fortnight: labor calls at 10:00, each talked 4 min and wrapped up
    in 30 s; one unanswered. Written as the hotline does, but in the past (an entry's id is its
    time, as XADD gives it), before anything else. Return the first day recorded."""
    first = today - timedelta(days=HISTORY_DAYS)
    # The stream's oldest entry: the history reaches back to the first day's midnight.
    entries = [(datetime.combine(first, time(0), tzinfo=ZONE).timestamp(), "incoming", {})]
    for offset in range(HISTORY_DAYS):
        ten = datetime.combine(first + timedelta(days=offset), time(10), tzinfo=ZONE).timestamp()
        # Another area's call, left out of the labor plan.
        entries.append((ten, "queued", {"call": f"F{offset}", "area": "family"}))
        for number in range(CALLS_AT_TEN):
            sid, at = f"CA{offset}x{number}", ten + number * 60
            entries.append((at, "queued", {"call": sid, "area": "labor"}))
            if number == 0:
                continue  # the caller hung up before an agent was free
            ended = at + 20 + TALK_S
            entries.append((at + 20, "bridged", {"call": sid}))
            until = f"{ended + WRAP_S:.3f}"
            entries.append((ended, "wrap-up", {"call": sid, "until": until}))
    pipe = redis.pipeline()
    for sequence, (at, kind, fields) in enumerate(sorted(entries, key=lambda entry: entry[0])):
        entry = {"kind": kind, "at": f"{at:.3f}", **fields}
        pipe.xadd(keys.events(), entry, id=f"{int(at * 1000)}-{sequence}")
    pipe.execute()
    return first


def plan_rows(out: str) -> tuple[list[str], dict[tuple[str, str], list[str]], str]:
    """The plan's heading lines, its rows by (date, time), and its summary line."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["date", "time"])
    rows = {tuple(line.split()[:2]): line.split() for line in lines[header + 1 : -1]}
    return lines[:header], rows, lines[-1]


@pytest.mark.redis
def test_the_plan_prints_required_against_rostered_with_the_gaps_marked(
    cli_env, redis, tmp_path, capsys
):
    today = datetime.now(UTC).astimezone(ZONE).date()
    first = record_history(redis, today)
    roster = tmp_path / "roster.yaml"
    roster.write_text(COVERED, encoding="utf-8")
    assert main(["roster", "import", str(roster)]) == 0
    start = today + timedelta(days=1)
    capsys.readouterr()

    assert main(["staffing", "plan", "--area", "labor", "--from", str(start), "--days", "7"]) == 0

    heading, rows, summary = plan_rows(capsys.readouterr().out)
    assert heading[1].startswith(
        f"learned from {first} to {today - timedelta(days=1)} ({HISTORY_DAYS} days, "
        f"{HISTORY_DAYS * CALLS_AT_TEN} calls) in the Redis event stream"
    )
    # Every day alike: 20 calls at 10:00, 19 answered for 4.5 minutes each.
    need = required(Demand(CALLS_AT_TEN, 1800, TALK_S + WRAP_S), StaffingPolicy().target())
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    (_, _, pattern, calls, aht, answering, needed, on_roster, gap, *mark) = rows[
        (str(monday), "10:00")
    ]
    assert (pattern, float(calls), float(aht)) == ("Mon", 20.0, TALK_S + WRAP_S)
    assert (int(answering), int(needed)) == (need.answering.agents, need.rostered)
    # c1 (general, 08:00-20:00) and n1 (labor, 09:00-17:00) are on; c2 works the night.
    assert int(on_roster) == 2
    assert int(gap) == 2 - need.rostered and mark == ["GAP"]
    # At 03:00 no call is expected; the night agent is rostered and nothing is short.
    night = rows[(str(monday), "03:00")]
    assert (float(night[3]), int(night[6]), int(night[7]), night[9:]) == (0.0, 0, 1, [])
    short = [row for row in rows.values() if row[-1] == "GAP"]
    assert {row[1] for row in short} == {"10:00"} and len(short) == 7
    assert summary.startswith(f"7 of {7 * 48} half-hours short of agents")


@pytest.mark.redis
def test_the_plan_without_any_recorded_day_says_so(cli_env, redis, capsys):
    assert main(["staffing", "plan", "--area", "labor"]) == 1
    assert "holds no whole day" in capsys.readouterr().err


@pytest.mark.redis
def test_the_plan_refuses_an_unknown_area(cli_env, redis, capsys):
    assert main(["staffing", "plan", "--area", "tax"]) == 2
    assert capsys.readouterr().err.startswith("hotline: unknown area 'tax'")


@pytest.mark.redis
def test_the_plan_learns_from_the_durable_call_records_when_they_keep_calls(cli_env, redis, capsys):
    store = RecordStore.open(sqlite_url(settings().var_dir))
    store.migrate()
    today = datetime.now(UTC).astimezone(ZONE).date()
    first = today - timedelta(days=HISTORY_DAYS)
    for offset in range(HISTORY_DAYS):
        ten = datetime.combine(first + timedelta(days=offset), time(10), tzinfo=ZONE).timestamp()
        for number in range(10):
            at = ten + number * 60
            row = {"call_sid": f"CA{offset}x{number}", "arrived_at": at - 30, "area": "labor"}
            row.update(queued_at=at, answered_at=at + 10, talk_s=500.0, wrap_up_s=40.0)
            store.put_call(row, now=at)
        # Left out: another area's call, and one that never reached the queue.
        store.put_call({"call_sid": f"F{offset}", "arrived_at": ten, "area": "family"}, now=ten)
        store.put_call({"call_sid": f"M{offset}", "arrived_at": ten, "area": "labor"}, now=ten)
    store.close()
    start = today + timedelta(days=1)

    assert main(["staffing", "plan", "--area", "labor", "--from", str(start), "--days", "7"]) == 0

    heading, rows, _ = plan_rows(capsys.readouterr().out)
    # The oldest record arrived at 10:00: whole days start the day after.
    learned = HISTORY_DAYS - 1
    assert heading[1] == (
        f"learned from {first + timedelta(days=1)} to {today - timedelta(days=1)} "
        f"({learned} days, {learned * 10} calls) in the durable call records"
    )
    ten_oclock = rows[(str(start), "10:00")]
    assert (float(ten_oclock[3]), float(ten_oclock[4])) == (10.0, 540.0)
