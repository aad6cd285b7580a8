"""The ops JSON API: every endpoint for every role, validation, CSRF, limits, expiry, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from queues import keys
from queues.alerts import raise_alert
from queues.audit import AuditLog
from tests.fixtures.ops import PASSWORD, ROSTER, Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

NIGHT = {"day": "wed", "start": "22:00", "end": "08:00"}
NEW_AGENT = {
    "id": "x9",
    "name": "New",
    "phone": "+8613900000099",
    "languages": ["zh"],
    "skills": {"labor": 1},
}

PERSON = {"number": "+8613800009999", "reason": "the person's request"}

# (method, path, body) and the status each caller gets: anonymous, agent d1 (self), agent d2
# (another agent), ops, supervisor. Writes that succeed are checked in their own tests.
MATRIX = [
    ("get", "/api/v1/me", None, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/agents", None, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/agents", {"id": ""}, (401, 403, 403, 422, 422)),
    ("get", "/api/v1/agents/d1", None, (401, 200, 403, 200, 200)),
    ("patch", "/api/v1/agents/d1", {"nope": 1}, (401, 403, 403, 422, 422)),
    ("delete", "/api/v1/agents/zz", None, (401, 403, 403, 404, 404)),
    ("post", "/api/v1/agents/d1/presence", {"presence": "x"}, (401, 422, 403, 422, 422)),
    ("get", "/api/v1/agents/d1/shifts", None, (401, 200, 403, 200, 200)),
    ("post", "/api/v1/agents/d1/shifts", {"day": "xx"}, (401, 403, 403, 422, 422)),
    ("delete", "/api/v1/agents/d1/shifts/mon-0100-0200", None, (401, 403, 403, 404, 404)),
    ("get", "/api/v1/agents/d1/call", None, (401, 200, 403, 403, 200)),
    (
        "post",
        "/api/v1/agents/d1/call/note",
        {"reservation": "RSx", "note": "n"},
        (401, 404, 403, 403, 403),
    ),
    (
        "post",
        "/api/v1/agents/d1/call/outcome",
        {"reservation": "RSx", "outcome": "answered"},
        (401, 404, 403, 403, 403),
    ),
    (
        "post",
        "/api/v1/agents/d1/call/transfer",
        {"reservation": "RSx", "mode": "warm", "area": "labor"},
        (401, 404, 403, 403, 403),
    ),
    (
        "post",
        "/api/v1/agents/d1/call/flag",
        {"reservation": "RSx", "flag": "heavy"},
        (401, 404, 403, 403, 404),
    ),
    # No live call: nothing to follow (204 stops the browser's EventSource), no facts said.
    ("get", "/api/v1/agents/d1/call/live", None, (401, 204, 403, 403, 204)),
    ("get", "/api/v1/agents/d1/call/facts", None, (401, 404, 403, 403, 404)),
    ("get", "/api/v1/roster", None, (401, 403, 403, 200, 200)),
    ("put", "/api/v1/roster", "agents: []", (401, 403, 403, 422, 422)),
    ("get", "/api/v1/statutes?area=labor", None, (401, 200, 200, 200, 200)),
    ("put", "/api/v1/statutes", "statutes: []", (401, 403, 403, 403, 422)),
    ("delete", "/api/v1/statutes?base=0", None, (401, 403, 403, 403, 409)),
    ("get", "/api/v1/agents/d1/call/statutes", None, (401, 200, 403, 403, 200)),
    ("get", "/api/v1/coverage?days=2", None, (401, 403, 403, 200, 200)),
    # No call history in these tests: nothing to learn from yet (409).
    ("get", "/api/v1/staffing/plan?area=labor", None, (401, 403, 403, 409, 409)),
    ("get", "/api/v1/reports", None, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/hours", None, (401, 403, 403, 200, 200)),
    ("put", "/api/v1/hours/labor", {"weekly": {"xx": []}}, (401, 403, 403, 422, 422)),
    ("delete", "/api/v1/hours/labor", None, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/wallboard", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/alerts", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/incidents", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/audit", None, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/users", None, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/users", {"name": "bad name!"}, (401, 403, 403, 403, 422)),
    ("delete", "/api/v1/users/nobody", None, (401, 403, 403, 403, 404)),
    ("get", "/api/v1/users/nobody/tokens", None, (401, 403, 403, 404, 404)),
    # Tokens are made only in a console session: a token is refused even a supervisor's.
    ("post", "/api/v1/users/nobody/tokens", None, (401, 403, 403, 403, 403)),
    ("delete", "/api/v1/users/nobody/tokens/" + "0" * 16, None, (401, 403, 403, 404, 404)),
    ("delete", "/api/v1/users/nobody/sessions", None, (401, 403, 403, 404, 404)),
    ("get", "/ops/agents/d1/shifts.ics", None, (401, 200, 403, 200, 200)),
    ("get", "/api/v1/voicemail", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/voicemail/RE0/audio", None, (401, 403, 403, 403, 404)),
    ("post", "/api/v1/voicemail/RE0/close", None, (401, 403, 403, 403, 404)),
    ("get", "/api/v1/recordings", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/recordings/RE0/audio", None, (401, 403, 403, 403, 403)),
    ("get", "/api/v1/blocklist", None, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/blocklist", {"number": "12", "reason": "x"}, (401, 403, 403, 403, 422)),
    ("delete", "/api/v1/blocklist/000000000000000000000000", None, (401, 403, 403, 403, 404)),
    ("get", "/api/v1/closure", None, (401, 403, 403, 403, 200)),
    ("put", "/api/v1/closure", {"until": "soon"}, (401, 403, 403, 403, 422)),
    ("delete", "/api/v1/closure", None, (401, 403, 403, 403, 404)),
    ("get", "/api/v1/followups", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/followups?limit=0", None, (401, 403, 403, 403, 422)),
    ("get", "/api/v1/followups/CA0/number", None, (401, 403, 403, 403, 404)),
    ("post", "/api/v1/followups/CA0/close", {"note": "called"}, (401, 403, 403, 403, 404)),
    ("post", "/api/v1/followups/CA0/close", {"note": " "}, (401, 403, 403, 403, 422)),
    # A person's data and legal holds: supervisors only; the number only ever in the body.
    ("post", "/api/v1/person/export", PERSON, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/person/export", {"number": "12", "reason": "x"}, (401, 403, 403, 403, 422)),
    ("post", "/api/v1/person/erase", PERSON | {"confirm": "9999"}, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/person/erase", PERSON | {"confirm": "0000"}, (401, 403, 403, 403, 422)),
    ("post", "/api/v1/incidents/CA0/hold", {"reason": "court"}, (401, 403, 403, 403, 404)),
    ("delete", "/api/v1/incidents/CA0/hold", None, (401, 403, 403, 403, 200)),
    # Listen-in on a call that is not connected: supervisors only, and nothing to join (409).
    ("get", "/api/v1/live-calls", None, (401, 403, 403, 403, 200)),
    ("get", "/api/v1/calls/CA0/listen-in", None, (401, 403, 403, 403, 404)),
    ("post", "/api/v1/calls/CA0/listen-in", {"mode": "listen"}, (401, 403, 403, 403, 409)),
    ("patch", "/api/v1/calls/CA0/listen-in", {"mode": "coach"}, (401, 403, 403, 403, 409)),
    ("delete", "/api/v1/calls/CA0/listen-in", None, (401, 403, 403, 403, 409)),
]
CALLERS = ("anonymous", "wang", "emily", "olga", "sam")


@pytest.fixture
def tokens(hotline: Hotline) -> dict[str, str]:
    return {name: hotline.users.create_token(name, hotline.now) for name in CALLERS[1:]}


def call_api(client, method: str, path: str, body, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, str):
        return getattr(client, method)(
            path, data=body, headers={**headers, "Content-Type": "application/yaml"}
        )
    return getattr(client, method)(path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=lambda v: str(v))
def test_every_endpoint_answers_each_role_as_meant(app, tokens, method, path, body, expected):
    client = app.test_client()
    for caller, status in zip(CALLERS, expected, strict=True):
        answer = call_api(client, method, path, body, tokens.get(caller))
        assert answer.status_code == status, (caller, answer.get_data(as_text=True))
        if status >= 400 and not path.endswith(".ics"):
            assert answer.json["error"]["status"] == status


def test_openapi_documents_every_api_route(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {
        (path.replace("{", "<").replace("}", ">"), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        # Every route under the API's prefix, whichever feature's blueprint serves it.
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == documented
    # Every documented operation is also in the role matrix above.
    tested = {(path.split("?")[0], method.upper()) for method, path, _, _ in MATRIX}
    concrete = {
        (
            p.replace("<agent_id>", "d1")
            .replace("<shift_id>", "mon-0100-0200")
            .replace("<name>", "nobody")
            .replace("<token_id>", "0" * 16)
            .replace("<recording_sid>", "RE0")
            .replace("<digest>", "0" * 24)
            .replace("<area>", "labor")
            .replace("<call>", "CA0")
            .replace("<call_sid>/listen-in", "CA0/listen-in"),
            m,
        )
        for p, m in documented
        # The escalation has its own tests, on a connected call (test_crisis_alerts).
        if "openapi" not in p and "escalate" not in p
    }
    assert concrete <= tested | {("/api/v1/agents/zz", "DELETE")} | {
        ("/api/v1/agents/d1", "DELETE")
    }


def test_unknown_or_revoked_token_is_401(app, hotline, tokens):
    client = app.test_client()
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer hl_nope"})
    assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers
    hotline.users.remove("olga")
    gone = client.get("/api/v1/agents", headers={"Authorization": f"Bearer {tokens['olga']}"})
    assert gone.status_code == 401
    assert hotline.redis.keys("hotline:token:*") != []  # others keep theirs


def test_tokens_are_stored_hashed_and_passwords_with_scrypt(hotline, tokens):
    for token in tokens.values():
        assert not any(token.encode() in key for key in hotline.redis.keys("*"))
        for key in hotline.redis.keys("hotline:token:*"):
            assert token.encode() not in b"".join(hotline.redis.hvals(key))
    stored = hotline.redis.hget(keys.user("olga"), "password").decode()
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_agent_sets_own_presence_with_a_token_and_it_is_audited(app, hotline, tokens):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['wang']}"}
    answer = client.post("/api/v1/agents/d1/presence", json={"presence": "available"}, headers=auth)
    assert answer.status_code == 200 and answer.json["before"] == "offline"
    assert hotline.board.get("d1").presence == "available"
    other = client.post("/api/v1/agents/d2/presence", json={"presence": "available"}, headers=auth)
    assert other.status_code == 403 and hotline.board.get("d2").presence == "offline"
    entry = AuditLog(hotline.redis).recent(1)[0]
    assert (entry.actor, entry.action, entry.target) == ("wang (token)", "agent.presence", "d1")
    assert (entry.before, entry.after) == ({"presence": "offline"}, {"presence": "available"})


def test_agent_token_cannot_touch_any_roster(app, tokens):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['wang']}"}
    assert client.post("/api/v1/agents/d1/shifts", json=NIGHT, headers=auth).status_code == 403
    assert client.put("/api/v1/roster", data=ROSTER, headers=auth).status_code == 403
    assert client.patch("/api/v1/agents/d1", json={"name": "x"}, headers=auth).status_code == 403


def test_shifts_add_overlap_and_remove_with_audit(app, hotline):
    ops = sign_in(app, "olga")
    added = ops.post("/api/v1/agents/n1/shifts", json=NIGHT)
    assert added.status_code == 201 and added.json["id"] == "wed-2200-0800"
    shifts = ops.get("/api/v1/agents/n1/shifts").json["shifts"]
    assert {
        "id": "wed-2200-0800",
        "day": "wed",
        "start": "22:00",
        "end": "08:00",
        "overnight": True,
    } in shifts
    # Overlaps the night shift's spill into Thursday morning.
    clash = ops.post(
        "/api/v1/agents/n1/shifts", json={"day": "thu", "start": "07:00", "end": "09:00"}
    )
    assert clash.status_code == 409 and clash.json["error"]["field"] == "start"
    bad = ops.post(
        "/api/v1/agents/n1/shifts", json={"day": "wed", "start": "25:00", "end": "08:00"}
    )
    assert bad.status_code == 422 and bad.json["error"]["field"] == "start"
    missing = ops.post("/api/v1/agents/zz/shifts", json=NIGHT)
    assert missing.status_code == 404
    entry = AuditLog(hotline.redis).recent(1)[0]
    assert (entry.actor, entry.action, entry.target) == ("olga", "shift.add", "n1")
    assert entry.before["shifts"] == [{"days": "sun", "hours": "08:00-22:00"}]
    assert {"days": "wed", "hours": "22:00-08:00"} in entry.after["shifts"]
    assert ops.delete("/api/v1/agents/n1/shifts/wed-2200-0800").status_code == 204
    assert ops.delete("/api/v1/agents/n1/shifts/wed-2200-0800").status_code == 404
    assert AuditLog(hotline.redis).recent(1)[0].action == "shift.remove"


def test_agents_add_update_remove(app, hotline):
    ops = sign_in(app, "olga")
    assert ops.post("/api/v1/agents", json=NEW_AGENT).status_code == 201
    assert ops.post("/api/v1/agents", json=NEW_AGENT).status_code == 409
    same_phone = {**NEW_AGENT, "id": "x10"}
    assert ops.post("/api/v1/agents", json=same_phone).json["error"]["field"] == "phone"
    bad_area = ops.patch("/api/v1/agents/x9", json={"skills": {"tax": 2}})
    assert bad_area.status_code == 422 and bad_area.json["error"]["field"] == "skills"
    bad_phone = ops.patch("/api/v1/agents/x9", json={"phone": "12345"})
    assert bad_phone.status_code == 422 and bad_phone.json["error"]["field"] == "phone"
    bad_lang = ops.patch("/api/v1/agents/x9", json={"languages": ["fr"]})
    assert bad_lang.json["error"]["field"] == "languages"
    changed = ops.patch("/api/v1/agents/x9", json={"skills": {"labor": 3, "family": 2}})
    assert changed.status_code == 200 and changed.json["skills"] == {"labor": 3, "family": 2}
    assert hotline.board.get("x9").skills == {"labor": 3, "family": 2}
    assert ops.delete("/api/v1/agents/x9").status_code == 204
    assert hotline.board.get("x9") is None
    actions = [entry.action for entry in AuditLog(hotline.redis).recent(3)]
    assert actions == ["agent.remove", "agent.update", "agent.add"]


def test_console_edits_keep_the_supervisors_on_call(app, hotline):
    ops = sign_in(app, "olga")
    roster = yaml.safe_load(ops.get("/api/v1/roster").get_data(as_text=True))
    roster["supervisors"] = [
        {
            "id": "s1",
            "name": "Li",
            "phone": "+8613900000301",
            "on_call": [{"days": "daily", "hours": "00:00-24:00"}],
        }
    ]
    text = yaml.safe_dump(roster, allow_unicode=True)
    # Nights still lack a crisis-trained agent: forced.
    put = ops.put("/api/v1/roster?force=1", data=text, headers={"Content-Type": "application/yaml"})
    assert put.status_code == 200

    def supervisors() -> list[str]:
        stored = yaml.safe_load(ops.get("/api/v1/roster").get_data(as_text=True))
        return [s["id"] for s in stored.get("supervisors", [])]

    # Every kind of edit re-applies the roster whole: none may drop who crisis calls page.
    assert ops.post("/api/v1/agents/n1/shifts", json=NIGHT).status_code == 201
    assert supervisors() == ["s1"]
    assert ops.post("/api/v1/agents", json=NEW_AGENT).status_code == 201
    assert supervisors() == ["s1"]
    assert ops.patch("/api/v1/agents/x9", json={"name": "Renamed"}).status_code == 200
    assert supervisors() == ["s1"]
    assert ops.delete("/api/v1/agents/x9").status_code == 204
    assert supervisors() == ["s1"]


def test_roster_export_and_import_yaml_and_csv(app, hotline):
    ops = sign_in(app, "olga")
    exported = ops.get("/api/v1/roster").get_data(as_text=True)
    assert [a["id"] for a in yaml.safe_load(exported)["agents"]] == ["d1", "d2", "n1"]
    csv_text = ops.get("/api/v1/roster?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("role,id,name,phone,languages,skills")
    assert "agent,d1,王丽,+8613900000001,zh," in csv_text
    # The CSV round-trips: importing it changes nothing (forced: the console roster has gaps).
    back = ops.put("/api/v1/roster?force=1", data=csv_text, headers={"Content-Type": "text/csv"})
    assert back.status_code == 200
    assert (back.json["added"], back.json["removed"], back.json["total"]) == ([], [], 3)
    assert ops.get("/api/v1/roster").get_data(as_text=True) == exported
    assert ops.get("/api/v1/roster?format=xml").status_code == 422


def test_a_broken_roster_is_refused_whole_with_lines(app, hotline):
    ops = sign_in(app, "olga")
    before = ops.get("/api/v1/roster").get_data(as_text=True)
    broken = ROSTER.replace("languages: [en, zh]", "languages: [en, fr]").replace(
        "id: n1", "id: d1"
    )
    answer = ops.put("/api/v1/roster", data=broken, headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 422
    problems = answer.json["error"]["problems"]
    assert {p["field"] for p in problems} >= {"agents.1.languages.1", "agents.2.id"}
    assert all(p["line"] for p in problems)
    csv_text = "id,name,phone,languages,skills\nq1,Q,+8613900000010,zh,labor:9\n"
    bad_csv = ops.put("/api/v1/roster", data=csv_text, headers={"Content-Type": "text/csv"})
    assert bad_csv.status_code == 422 and bad_csv.json["error"]["problems"][0]["line"] == 2
    assert ops.get("/api/v1/roster").get_data(as_text=True) == before


def test_coverage_gap_closes_when_a_night_shift_is_added(app, hotline):
    ops = sign_in(app, "olga")
    first = ops.get("/api/v1/coverage?days=1").json
    assert first["days"][0]["date"] == "2026-12-02"
    gaps = {(g["area"], g["language"], g["start"]) for g in first["gaps"]}
    assert ("general", "zh", "2026-12-02T22:00:00+08:00") in gaps
    assert ("general", "zh", "2026-12-02T00:00:00+08:00") in gaps
    # Family is closed at night: no gap there.
    assert not any(g["area"] == "family" for g in first["gaps"])
    ops.post("/api/v1/agents/n1/shifts", json={"day": "wed", "start": "22:00", "end": "24:00"})
    after = ops.get("/api/v1/coverage?days=1").json
    late = {(g["area"], g["language"], g["start"]) for g in after["gaps"]}
    assert ("general", "zh", "2026-12-02T22:00:00+08:00") not in late
    cell = after["days"][0]["hours"][23]["cells"]
    general_zh = next(c for c in cell if (c["area"], c["language"]) == ("general", "zh"))
    assert general_zh == {
        "area": "general",
        "language": "zh",
        "open": True,
        "agents": ["n1"],
        "gap": False,
    }
    assert ops.get("/api/v1/coverage?days=99").json["error"]["field"] == "days"


def test_hours_list_every_area(app, hotline, hotline_config):
    ops = sign_in(app, "olga")
    areas = ops.get("/api/v1/hours").json["areas"]
    assert [a["area"] for a in areas] == list(hotline_config.areas)
    general = next(a for a in areas if a["area"] == "general")
    assert general["days"]["sun"] == ["0:00-24:00"]


def test_wallboard_and_alerts(app, hotline, clock):
    hotline.board.set_presence("d1", "available", hotline.now)
    hotline.ring("CA1", area="family", summary="婚姻状况: 已婚")
    hotline.room.enqueue("CA2", area="labor", language="en", now=hotline.now - 90)
    hotline.redis.xadd(keys.events(), {"kind": "paused", "at": f"{hotline.now:.3f}", "agent": "d2"})
    hotline.redis.xadd(
        keys.events(),
        {"kind": "accepted", "at": f"{hotline.now:.3f}", "call": "CA9", "agent": "d2"},
    )
    hotline.redis.xadd(
        keys.events(), {"kind": "abandoned", "at": f"{hotline.now:.3f}", "call": "CA8"}
    )
    sup = sign_in(app, "sam")
    board = sup.get("/api/v1/wallboard").json
    labor = next(a for a in board["areas"] if a["id"] == "labor")
    assert (labor["waiting"], labor["longest_wait_s"]) == (1, 90)
    assert board["waiting"] == 1 and board["longest_wait_s"] == 90
    assert board["agents"]["reserved"] == 1 and board["agents"]["offline"] == 2
    assert board["today"] == {
        "answered": 1,
        "unanswered": 1,
        "answer_rate": 0.5,
        "rated": 0,
        "satisfied": 0,
        "satisfaction": None,
        "followups_done": 0,
    }
    assert board["followups_open"] == 0
    alerts = sup.get("/api/v1/alerts").json
    assert [a["kind"] for a in alerts["alerts"]] == ["paused"]
    assert sup.get(f"/api/v1/alerts?after={alerts['last_id']}").json["alerts"] == []
    hotline.redis.xadd(keys.events(), {"kind": "crisis", "at": "1", "call": "CA7"})
    fresh = sup.get(f"/api/v1/alerts?after={alerts['last_id']}").json["alerts"]
    assert [a["kind"] for a in fresh] == ["crisis"]
    # An urgent voicemail reaches supervisors' alerts too, named as what it is.
    raise_alert(hotline.redis, "CA6", trigger="voicemail-urgent", language="zh", now=1, page=False)
    urgent = sup.get(f"/api/v1/alerts?after={fresh[-1]['id']}").json["alerts"]
    assert [(a["kind"], a["alert"]) for a in urgent] == [("alert", "urgent_voicemail")]
    assert sup.get("/api/v1/alerts?after=bogus").status_code == 422


def test_incidents_for_supervisors(app, hotline):
    from queues.incidents import IncidentLog

    IncidentLog(hotline.redis).open("CA5", trigger="danger-key", language="zh", now=hotline.now)
    sup = sign_in(app, "sam")
    rows = sup.get("/api/v1/incidents").json["incidents"]
    assert [(r["call_sid"], r["trigger"]) for r in rows] == [("CA5", "danger-key")]


def test_agent_sees_the_ringing_call_notes_and_flags_it(app, hotline):
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring("CA1", area="family", summary="婚姻状况: 已婚; 子女: 有")
    assert match is not None and match.agent_id == "d1"
    agent = sign_in(app, "wang")
    view = agent.get("/api/v1/agents/d1/call").json
    assert view["status"] == "reserved"
    call = view["call"]
    assert (call["state"], call["area"], call["language"]) == ("ringing", "family", "zh")
    assert call["summary"] == "婚姻状况: 已婚; 子女: 有" and call["wait_s"] == 42
    rid = call["reservation"]
    assert (
        agent.post(
            "/api/v1/agents/d1/call/note", json={"reservation": rid, "note": "需要律师"}
        ).status_code
        == 200
    )
    flagged = agent.post("/api/v1/agents/d1/call/flag", json={"reservation": rid, "flag": "crisis"})
    assert flagged.status_code == 200 and flagged.json["new"] is True
    again = agent.post("/api/v1/agents/d1/call/flag", json={"reservation": rid, "flag": "crisis"})
    assert again.json["new"] is False
    assert (
        agent.post("/api/v1/agents/d1/call/flag", json={"reservation": rid, "flag": "x"}).json[
            "error"
        ]["field"]
        == "flag"
    )
    view = agent.get("/api/v1/agents/d1/call").json["call"]
    assert view["note"] == "需要律师" and view["flags"] == ["crisis"]
    kinds = [e for e in hotline.redis.xrange(keys.events()) if e[1][b"kind"] == b"flagged"]
    assert len(kinds) == 1 and kinds[0][1][b"flag"] == b"crisis"
    sup = sign_in(app, "sam")
    assert [a["kind"] for a in sup.get("/api/v1/alerts").json["alerts"]] == ["flagged"]
    # Another agent cannot note this call, even through their own id.
    emily = sign_in(app, "emily")
    other = emily.post("/api/v1/agents/d2/call/note", json={"reservation": rid, "note": "x"})
    assert other.status_code == 404


def test_users_created_listed_and_removed_by_supervisors(app, hotline):
    sup = sign_in(app, "sam")
    made = sup.post(
        "/api/v1/users",
        json={"name": "li", "role": "agent", "agent_id": "n1", "password": PASSWORD},
    )
    assert made.status_code == 201 and made.json["agent_id"] == "n1"
    assert (
        sup.post(
            "/api/v1/users", json={"name": "li", "role": "ops", "password": PASSWORD}
        ).status_code
        == 409
    )
    for body, field in (
        ({"name": "x", "role": "boss", "password": PASSWORD}, "role"),
        ({"name": "x", "role": "ops", "password": "short"}, "password"),
        ({"name": "x", "role": "agent", "password": PASSWORD}, "agent_id"),
        ({"name": "x", "role": "agent", "agent_id": "zz", "password": PASSWORD}, "agent_id"),
    ):
        answer = sup.post("/api/v1/users", json=body)
        assert answer.status_code == 422 and answer.json["error"]["field"] == field
    names = [u["name"] for u in sup.get("/api/v1/users").json["users"]]
    assert names == ["emily", "li", "olga", "sam", "wang"]
    assert "password" not in str(sup.get("/api/v1/users").json)
    token = sup.post("/api/v1/users/li/tokens").json["token"]
    li = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert li.json["name"] == "li"
    assert sup.delete("/api/v1/users/sam").status_code == 409
    assert sup.delete("/api/v1/users/li").status_code == 204
    actions = [e.action for e in AuditLog(hotline.redis).recent(3)]
    assert actions == ["user.remove", "token.create", "user.add"]
    assert all(PASSWORD not in str(e.after) for e in AuditLog(hotline.redis).recent(10))


def test_session_posts_need_the_csrf_token(app, hotline):
    ops = sign_in(app, "olga")
    bare = ops.client.post("/api/v1/agents/n1/shifts", json=NIGHT)
    assert bare.status_code == 403 and bare.json["error"]["field"] == "csrf_token"
    wrong = ops.client.post(
        "/api/v1/agents/n1/shifts", json=NIGHT, headers={"X-CSRF-Token": "forged"}
    )
    assert wrong.status_code == 403
    form = ops.client.post("/ops/roster/shifts", data={"agent": "n1", **NIGHT})
    assert form.status_code == 403
    assert hotline.redis.xlen(keys.audit()) == 0
    assert ops.form("/ops/roster/shifts", {"agent": "n1", **NIGHT}).status_code == 303
    assert hotline.redis.xlen(keys.audit()) == 1


def test_login_form_needs_csrf_too(app, hotline):
    client = app.test_client()
    answer = client.post("/ops/login", data={"name": "olga", "password": PASSWORD})
    assert answer.status_code == 403


def test_an_expired_session_cannot_post(app, hotline, clock):
    ops = sign_in(app, "olga")
    assert ops.get("/api/v1/me").status_code == 200
    clock.now += timedelta(minutes=31)
    answer = ops.post("/api/v1/agents/n1/shifts", json=NIGHT)
    assert answer.status_code == 401
    assert "expired" in answer.json["error"]["message"]
    assert hotline.redis.xlen(keys.audit()) == 0
    page = ops.get("/ops/roster")
    assert page.status_code == 303 and "/ops/login" in page.headers["Location"]


def test_a_session_also_ends_after_its_lifetime(app, hotline, clock):
    ops = sign_in(app, "olga")
    for _ in range(26):  # active every half hour, for thirteen hours
        clock.now += timedelta(minutes=29, seconds=59)
        if ops.get("/api/v1/me").status_code == 401:
            break
    assert ops.get("/api/v1/me").status_code == 401


def test_session_cookie_is_secure_and_http_only(app, hotline):
    client = app.test_client()
    page = client.get("/ops/login")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_attempts_are_rate_limited_per_user_and_per_ip(app, hotline):
    from tests.fixtures.ops import csrf_of

    def attempt(name, password, ip="10.0.0.1"):
        client = app.test_client()
        token = csrf_of(client.get("/ops/login").get_data(as_text=True))
        return client.post(
            "/ops/login",
            data={"name": name, "password": password, "csrf_token": token},
            environ_base={"REMOTE_ADDR": ip},
        )

    for _ in range(5):
        assert attempt("olga", "wrong password").status_code == 401
    blocked = attempt("olga", PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    # Another user from another address is not held up by olga's failures.
    assert attempt("sam", PASSWORD, ip="10.0.0.2").status_code == 303
    # One address trying many names is limited too (20 failures).
    for index in range(20):
        attempt(f"guess{index}", "wrong password", ip="10.0.0.3")
    assert attempt("wang", PASSWORD, ip="10.0.0.3").status_code == 429
    assert attempt("wang", PASSWORD, ip="10.0.0.4").status_code == 303
