"""The console pages through the test client: forms, languages, import, iCal and the CLI."""

from __future__ import annotations

import io

import pytest

from hotline.cli import main
from queues import keys
from queues.audit import AuditLog
from queues.users import UserStore
from tests.fixtures.ops import PASSWORD, ROSTER, Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

PAGES = {
    "olga": ["/ops/roster", "/ops/agents", "/ops/coverage", "/ops/hours", "/ops/audit"],
    "sam": ["/ops/wallboard", "/ops/alerts", "/ops/incidents", "/ops/users", "/ops/roster"],
    "wang": ["/ops/desk/"],
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_role_sees_its_pages_and_not_the_others(app, hotline, name):
    session = sign_in(app, name)
    for path in PAGES[name]:
        assert session.get(path).status_code == 200, path
    others = {path for paths in PAGES.values() for path in paths} - set(PAGES[name])
    if name == "sam":
        others -= set(PAGES["olga"])
    for path in others:
        assert session.get(path).status_code == 403, path


def test_signed_out_pages_go_to_the_login(app, hotline):
    answer = app.test_client().get("/ops/roster")
    assert answer.status_code == 303 and answer.headers["Location"].endswith(
        "/ops/login?next=/ops/roster"
    )


def test_wrong_password_is_refused(app, hotline):
    client = app.test_client()
    from tests.fixtures.ops import csrf_of

    token = csrf_of(client.get("/ops/login").get_data(as_text=True))
    answer = client.post(
        "/ops/login", data={"name": "olga", "password": "nope nope nope", "csrf_token": token}
    )
    assert answer.status_code == 401 and "用户名或密码错误" in answer.get_data(as_text=True)


def test_language_switch_changes_every_word(app, hotline):
    ops = sign_in(app, "olga")
    assert "排班表" in ops.get("/ops/roster").get_data(as_text=True)
    ops.get("/ops/lang/en?next=/ops/roster")
    page = ops.get("/ops/roster").get_data(as_text=True)
    assert "Roster" in page and "排班表" not in page and 'lang="en"' in page


def test_roster_grid_form_adds_and_removes_a_shift(app, hotline):
    ops = sign_in(app, "olga")
    added = ops.form(
        "/ops/roster/shifts", {"agent": "n1", "day": "fri", "start": "22:00", "end": "06:00"}
    )
    assert added.status_code == 303
    page = ops.get("/ops/roster").get_data(as_text=True)
    assert 'value="fri-2200-0600"' in page
    clash = ops.form(
        "/ops/roster/shifts",
        {"agent": "n1", "day": "sat", "start": "05:00", "end": "07:00"},
        headers={"Referer": "http://localhost/ops/roster"},
    )
    assert clash.status_code == 303 and clash.headers["Location"] == "/ops/roster"
    assert "overlaps the shift fri-2200-0600" in ops.get("/ops/roster").get_data(as_text=True)
    ops.form("/ops/roster/shifts/remove", {"agent": "n1", "shift": "fri-2200-0600"})
    assert 'value="fri-2200-0600"' not in ops.get("/ops/roster").get_data(as_text=True)


def test_agent_form_edits_skills_and_presence(app, hotline):
    ops = sign_in(app, "olga")
    ops.form(
        "/ops/agents/n1",
        {
            "name": "李夜",
            "phone": "+8613900000003",
            "languages": ["zh"],
            "skills": "general:3 family:1",
        },
    )
    assert hotline.board.get("n1").skills == {"general": 3, "family": 1}
    ops.form("/ops/agents/n1/presence", {"presence": "on_break"})
    assert hotline.board.get("n1").presence == "on_break"
    ops.form(
        "/ops/agents",
        {
            "id": "x9",
            "name": "新人",
            "phone": "+8613900000099",
            "languages": ["zh", "en"],
            "skills": "labor:1",
        },
    )
    assert hotline.board.get("x9").languages == ("zh", "en")
    ops.form("/ops/agents/x9/remove", {})
    assert hotline.board.get("x9") is None
    audit = ops.get("/ops/audit").get_data(as_text=True)
    assert "agent.remove" in audit and "agent.presence" in audit


def test_import_upload_shows_every_problem_and_applies_nothing(app, hotline):
    ops = sign_in(app, "olga")
    broken = ROSTER.replace('"+8613900000002"', '"12345"')
    answer = ops.form(
        "/ops/roster/import",
        {"file": (io.BytesIO(broken.encode()), "roster.yaml")},
        content_type="multipart/form-data",
        headers={"Referer": "http://localhost/ops/roster"},
    )
    assert answer.status_code == 303
    page = ops.get("/ops/roster").get_data(as_text=True)
    assert "line 13: agents.1.phone: not a phone number" in page
    assert hotline.redis.xlen(keys.audit()) == 0
    csv_text = ops.get("/ops/roster/export.csv").get_data(as_text=True)
    ops.form(
        "/ops/roster/import",
        # The console roster leaves nights uncovered on purpose: the box forces it.
        {"file": (io.BytesIO(csv_text.encode()), "r.csv"), "force": "1"},
        content_type="multipart/form-data",
    )
    assert AuditLog(hotline.redis).recent(1)[0].action == "roster.import"


def test_shift_feed_is_rfc5545_for_token_and_session(app, hotline):
    token = hotline.users.create_token("wang", hotline.now)
    feed = app.test_client().get(
        "/ops/agents/d1/shifts.ics", headers={"Authorization": f"Bearer {token}"}
    )
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    text = feed.get_data(as_text=True)
    lines = text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert all(len(line.encode()) <= 75 for line in lines)
    assert text.count("BEGIN:VEVENT") == 29  # daily for four weeks, from today
    assert "DTSTART:20261202T000000Z" in text and "DTEND:20261202T140000Z" in text
    assert app.test_client().get("/ops/agents/d1/shifts.ics").status_code == 401
    other = app.test_client().get(
        "/ops/agents/d2/shifts.ics", headers={"Authorization": f"Bearer {token}"}
    )
    assert other.status_code == 403


def test_cli_adds_users_makes_tokens_and_sets_presence(
    app, hotline, redis_url, monkeypatch, capsys
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        main(["user", "add", "zhao", "--role", "agent", "--agent", "n1", "--password-stdin"]) == 0
    )
    user = UserStore(hotline.redis).check_password("zhao", PASSWORD)
    assert user is not None and (user.role, user.agent_id) == ("agent", "n1")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "zhao", "--role", "ops", "--password-stdin"]) == 1
    capsys.readouterr()
    assert main(["token", "create", "zhao"]) == 0
    token = capsys.readouterr().out.strip()
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json["name"] == "zhao"
    assert main(["agent", "n1", "available"]) == 0
    assert hotline.board.get("n1").presence == "available"
    assert main(["agent", "zz", "available"]) == 1
    actions = [e.action for e in AuditLog(hotline.redis).recent(3)]
    assert actions == ["agent.presence", "token.create", "user.add"]
    assert AuditLog(hotline.redis).recent(1)[0].actor.startswith("cli:")
