"""Whole-roster imports through the API, the console and the CLI: exported and put back unchanged,
refused when the next 14 days are not covered unless forced, and every import audited."""

from __future__ import annotations

import io
import logging

import pytest

from hotline.cli import main
from hotline.roster_file import DEMO_ACTOR, DEMO_ROSTER, seed_demo_roster
from queues import keys
from queues.alerts import recent_alerts, stored_roster
from queues.audit import command_line_actor
from queues.hours_edits import HoursBoard
from queues.incidents import IncidentLog
from tests.fixtures.crisis import CALL, messages, run_jobs
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401 - fixtures
from tests.fixtures.rosters import COVERED, imports, put

pytestmark = pytest.mark.redis

# The day supervisor only: every night of the next fortnight has nobody on call.
DAYS_ONLY = COVERED[: COVERED.index("  - id: s2")]


def page_a_crisis(twilio, redis, carrier) -> list[str]:
    """A caller presses the danger key; return who was texted (the incident agrees)."""
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    run_jobs(redis)
    (alert,) = recent_alerts(redis)
    assert IncidentLog(redis).get(CALL).summary()["supervisors_paged"] == ",".join(alert["paged"])
    return [message["to"] for message in messages(carrier)]


@pytest.fixture
def cli_env(app_env, redis_url, monkeypatch):
    """The CLI pointed at the test Redis."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


# --- export, then import unchanged ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_an_api_export_put_back_keeps_the_supervisors_and_pages_them(
    app,
    hotline,
    twilio,
    jobs_runtime,  # noqa: F811 - the fixture
    rig,  # noqa: F811 - the fixture
    fmt,
):
    ops = sign_in(app, "olga")
    assert put(ops, COVERED).status_code == 200
    first = ops.get("/api/v1/roster").get_data(as_text=True)
    exported = ops.get(f"/api/v1/roster?format={fmt}").get_data(as_text=True)

    again = put(ops, exported, "text/csv" if fmt == "csv" else "application/yaml")

    assert again.status_code == 200, again.json
    assert (again.json["total"], again.json["supervisors"], again.json["forced"]) == (3, 2, False)
    assert ops.get("/api/v1/roster").get_data(as_text=True) == first
    assert ops.get(f"/api/v1/roster?format={fmt}").get_data(as_text=True) == exported
    assert [s.id for s in stored_roster(hotline.redis, app.config["HOTLINE"]).supervisors] == [
        "s1",
        "s2",
    ]
    # Wednesday 10:00 in Shanghai: the day supervisor is on call, and is the one texted.
    assert page_a_crisis(twilio, hotline.redis, rig) == ["+8613900000301"]


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_a_cli_export_put_back_keeps_the_supervisors(hotline, cli_env, capsys, tmp_path, fmt):
    path = tmp_path / "covered.yaml"
    path.write_text(COVERED, encoding="utf-8")
    # The CLI reads the real clock: whatever the day, this roster covers the fortnight.
    assert main(["roster", "import", str(path)]) == 0
    capsys.readouterr()
    assert main(["roster", "export"]) == 0
    first = capsys.readouterr().out
    assert main(["roster", "export", "--format", fmt]) == 0
    exported = tmp_path / f"exported.{fmt}"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")

    assert main(["roster", "import", str(exported)]) == 0

    assert "3 agents (0 added, 0 removed), 2 supervisors" in capsys.readouterr().out
    assert hotline.board.roster_text() == first
    assert "supervisors:" in first and "id: s2" in first
    entry = imports(hotline.redis)[0]
    assert (entry.actor, entry.after["format"], entry.after["supervisors"]) == (
        command_line_actor(),
        fmt,
        2,
    )


# --- refused unless forced --------------------------------------------------------------------


def test_an_api_import_leaving_nights_without_a_supervisor_is_refused_with_the_hours(app, hotline):
    ops = sign_in(app, "olga")
    before = ops.get("/api/v1/roster").get_data(as_text=True)

    refused = put(ops, DAYS_ONLY)

    assert refused.status_code == 409
    error = refused.json["error"]
    assert "14 stretch(es) of the next 14 days uncovered; nothing was applied" in error["message"]
    lines = [problem["message"] for problem in error["problems"]]
    # The clock says Wednesday 2026-12-02 10:00 in Shanghai: the first night is the next one.
    assert lines[0] == "2026-12-02 20:00 to 2026-12-03 08:00 Asia/Shanghai: no supervisor on call"
    assert lines[-1] == "2026-12-15 20:00 to 2026-12-16 08:00 Asia/Shanghai: no supervisor on call"
    first = error["problems"][0]
    assert (first["field"], first["kind"], first["area"]) == ("supervisors", "no-supervisor", None)
    assert first["start"] == "2026-12-02T20:00:00+08:00"
    assert ops.get("/api/v1/roster").get_data(as_text=True) == before
    assert imports(hotline.redis) == []


def test_a_forced_api_import_is_applied_and_audited_as_forced_with_its_gaps(app, hotline):
    ops = sign_in(app, "olga")

    forced = put(ops, DAYS_ONLY, query="?force=1")

    assert forced.status_code == 200, forced.json
    assert forced.json["forced"] is True and len(forced.json["gaps"]) == 14
    assert hotline.board.get("c2") is not None
    (entry,) = imports(hotline.redis)
    assert (entry.actor, entry.target) == ("olga", "roster")
    assert {name: entry.after[name] for name in ("format", "agents", "supervisors", "forced")} == {
        "format": "yaml",
        "agents": 3,
        "supervisors": 1,
        "forced": True,
    }
    assert entry.after["gaps"][0] == (
        "2026-12-02 20:00 to 2026-12-03 08:00 Asia/Shanghai: no supervisor on call"
    )
    assert [a["id"] for a in entry.after["roster"]["agents"]] == ["c1", "c2", "n1"]
    assert entry.after["roster"]["agents"][0]["pin"].startswith("set #")  # never the PIN hash
    assert [a["id"] for a in entry.before["agents"]] == ["d1", "d2", "n1"]
    assert put(ops, DAYS_ONLY, query="?force=maybe").status_code == 422


def test_an_open_area_without_a_crisis_trained_agent_follows_ops_edited_hours(app, hotline):
    ops = sign_in(app, "olga")
    # Nobody crisis-trained at night: the general line's config hours are round the clock.
    days = COVERED.replace('hours: "12:00-00:00"', 'hours: "12:00-13:00"')
    refused = put(ops, days)
    assert refused.status_code == 409
    lines = [problem["message"] for problem in refused.json["error"]["problems"]]
    assert lines[0] == (
        "2026-12-02 21:00 to 2026-12-03 08:00 Asia/Shanghai: "
        "no crisis-trained agent on shift while general is open"
    )
    assert {problem["field"] for problem in refused.json["error"]["problems"]} == {"agents"}

    # Ops close the general line at night: the same roster now covers every open hour.
    weekly = {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    HoursBoard(hotline.redis).save(
        "general", {"weekly": weekly, "holidays": None}, by="olga", now=hotline.now
    )

    assert put(ops, days).status_code == 200


def test_the_cli_refuses_an_uncovered_roster_and_forces_it_by_name(
    hotline, cli_env, capsys, tmp_path
):
    path = tmp_path / "days.yaml"
    path.write_text(DAYS_ONLY, encoding="utf-8")
    before = hotline.board.roster_text()

    assert main(["roster", "import", str(path)]) == 1

    err = capsys.readouterr().err
    assert "uncovered; nothing was applied" in err and "--force" in err
    assert err.count("Asia/Shanghai: no supervisor on call") >= 14
    assert hotline.board.roster_text() == before and imports(hotline.redis) == []

    assert main(["roster", "import", "--force", "--by", "olga", str(path)]) == 0

    assert "forced:" in capsys.readouterr().err
    (entry,) = imports(hotline.redis)
    assert entry.actor == f"olga ({command_line_actor()})"
    assert entry.after["forced"] is True and len(entry.after["gaps"]) >= 14
    assert (entry.after["agents"], entry.after["supervisors"]) == (3, 1)


def test_the_console_lists_the_gaps_and_its_box_forces_the_import(app, hotline):
    ops = sign_in(app, "olga")
    upload = {"file": (io.BytesIO(DAYS_ONLY.encode()), "roster.yaml")}
    back = {"Referer": "http://localhost/ops/roster"}

    refused = ops.form("/ops/roster/import", upload, headers=back)

    assert refused.status_code == 303
    page = ops.get("/ops/roster").get_data(as_text=True)
    assert "2026-12-02 20:00 to 2026-12-03 08:00 Asia/Shanghai: no supervisor on call" in page
    assert 'name="force"' in page and imports(hotline.redis) == []

    upload = {"file": (io.BytesIO(DAYS_ONLY.encode()), "roster.yaml"), "force": "1"}
    forced = ops.form("/ops/roster/import", upload, headers=back)

    assert forced.status_code == 303
    page = ops.get("/ops/roster").get_data(as_text=True)
    assert "已强制导入：未来14天有 14 个无人值守的时段" in page  # the console speaks Mandarin first
    (entry,) = imports(hotline.redis)
    assert (entry.actor, entry.after["forced"]) == ("olga", True)


# --- the demo's own roster --------------------------------------------------------------------


def test_the_demo_roster_seeds_without_gaps_and_is_audited(redis, redis_url, hotline_config):
    report = seed_demo_roster(hotline_config, redis_url)

    assert report is not None and report.total == 12
    (entry,) = imports(redis)
    assert (entry.actor, entry.after["forced"], entry.after["gaps"]) == (DEMO_ACTOR, False, [])
    assert entry.after["supervisors"] == 2 and entry.after["format"] == "yaml"
    assert seed_demo_roster(hotline_config, redis_url) is None  # once only
    assert DEMO_ROSTER.exists()


def test_a_demo_roster_with_gaps_still_seeds_but_says_so(
    redis, redis_url, hotline_config, tmp_path, caplog
):
    path = tmp_path / "mine.yaml"
    path.write_text(DAYS_ONLY, encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="hotline.roster_file"):
        report = seed_demo_roster(hotline_config, redis_url, path)

    assert report is not None and report.total == 3
    assert any("no supervisor on call" in record.getMessage() for record in caplog.records)
    (entry,) = imports(redis)
    assert entry.after["forced"] is True and entry.after["gaps"]
    assert redis.exists(keys.roster())
