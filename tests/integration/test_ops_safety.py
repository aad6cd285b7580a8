"""Supervisors' blocklist and emergency closure: API per role, the console page, audit, and
what a caller hears on the next call."""

from __future__ import annotations

import pytest

from queues.audit import AuditLog
from queues.blocklist import Blocklist
from queues.closure import ClosureBoard
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

ABUSER = "+8613812345678"
CALLERS = ("anonymous", "wang", "olga", "sam")
DIGEST = "0" * 24

# (method, path, body) and the status for: anonymous, an agent, ops, a supervisor. The
# supervisor's bodies are refused on purpose here; the writes that succeed have their own tests.
MATRIX = [
    ("get", "/api/v1/blocklist", None, (401, 403, 403, 200)),
    ("post", "/api/v1/blocklist", {"number": "12", "reason": "x"}, (401, 403, 403, 422)),
    ("delete", f"/api/v1/blocklist/{DIGEST}", None, (401, 403, 403, 404)),
    ("get", "/api/v1/closure", None, (401, 403, 403, 200)),
    ("put", "/api/v1/closure", {"until": "soon"}, (401, 403, 403, 422)),
    ("delete", "/api/v1/closure", None, (401, 403, 403, 404)),
]


@pytest.fixture
def tokens(hotline: Hotline) -> dict[str, str]:
    return {name: hotline.users.create_token(name, hotline.now) for name in CALLERS[1:]}


def api(app, method: str, path: str, token: str | None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return getattr(app.test_client(), method)(path, json=body, headers=headers)


def audit_actions(hotline: Hotline) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in AuditLog(hotline.redis).recent()]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=lambda v: str(v))
def test_every_endpoint_answers_each_role_as_meant(app, tokens, method, path, body, expected):
    for caller, status in zip(CALLERS, expected, strict=True):
        answer = api(app, method, path, tokens.get(caller), body)
        assert answer.status_code == status, (caller, answer.get_data(as_text=True))
        if status >= 400:
            assert answer.json["error"]["status"] == status
        if status == 401:
            assert "WWW-Authenticate" in answer.headers


def test_the_openapi_document_lists_these_endpoints(app):
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    documented = {
        (path.replace("{", "<").replace("}", ">"), method.upper())
        for path, operations in paths.items()
        for method in operations
    }
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("ops_safety.api_")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes and routes <= documented
    assert {(m, p) for m, p, _, _ in MATRIX} >= {
        (m.lower(), p.replace("<digest>", DIGEST)) for p, m in routes
    }


def test_a_supervisor_blocks_lists_and_unblocks_a_number_and_each_change_is_audited(
    app, hotline, tokens
):
    token = tokens["sam"]
    added = api(
        app, "post", "/api/v1/blocklist", token, {"number": "138 1234 5678", "reason": "abuse"}
    )
    assert added.status_code == 201, added.json
    entry = added.json
    assert entry["masked"] == "+86*******5678" and entry["reason"] == "abuse"
    assert entry["by"] == "sam (token)"
    assert Blocklist(hotline.redis).contains(ABUSER)

    listed = api(app, "get", "/api/v1/blocklist", token).json["entries"]
    assert [e["digest"] for e in listed] == [entry["digest"]]
    assert ABUSER not in str(listed) and "13812345678" not in str(listed)

    again = api(app, "post", "/api/v1/blocklist", token, {"number": ABUSER, "reason": "again"})
    assert again.status_code == 409 and again.json["error"]["field"] == "number"

    gone = api(app, "delete", f"/api/v1/blocklist/{entry['digest']}", token)
    assert gone.status_code == 204
    assert not Blocklist(hotline.redis).contains(ABUSER)
    assert api(app, "delete", f"/api/v1/blocklist/{entry['digest']}", token).status_code == 404

    log = AuditLog(hotline.redis).recent()
    assert [(e.action, e.actor, e.target) for e in log[:2]] == [
        ("blocklist.remove", "sam (token)", "+86*******5678"),
        ("blocklist.add", "sam (token)", "+86*******5678"),
    ]
    assert log[1].after["reason"] == "abuse" and log[0].before["digest"] == entry["digest"]
    assert "13812345678" not in str([e.public() for e in log])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "abuse"}, "number"),
        ({"number": "not a number", "reason": "abuse"}, "number"),
        ({"number": "+86 138", "reason": "abuse"}, "number"),
        ({"number": ABUSER}, "reason"),
        ({"number": ABUSER, "reason": "  "}, "reason"),
        ({"number": ABUSER, "reason": "x" * 201}, "reason"),
        ({"number": ABUSER, "reason": "abuse", "region": "XX"}, "region"),
    ],
)
def test_a_bad_block_names_its_field_and_changes_nothing(app, hotline, tokens, body, field):
    answer = api(app, "post", "/api/v1/blocklist", tokens["sam"], body)
    assert answer.status_code == 422 and answer.json["error"]["field"] == field
    assert Blocklist(hotline.redis).entries() == []
    assert audit_actions(hotline) == []


def test_a_national_number_is_read_in_the_given_region(app, hotline, tokens):
    body = {"number": "(415) 555-2671", "reason": "abuse", "region": "US"}
    answer = api(app, "post", "/api/v1/blocklist", tokens["sam"], body)
    assert answer.status_code == 201 and answer.json["masked"].startswith("+1")
    assert Blocklist(hotline.redis).contains("+14155552671")


def test_a_supervisor_sets_and_clears_the_closure_and_each_change_is_audited(app, hotline, tokens):
    token = tokens["sam"]
    assert api(app, "get", "/api/v1/closure", token).json == {"closure": None}
    body = {"message": {"zh": "系统维护，暂停服务。", "en": ""}, "until": "2026-12-02T14:00"}
    put = api(app, "put", "/api/v1/closure", token, body)
    assert put.status_code == 200, put.json
    closure = put.json["closure"]
    assert closure["message"] == {"zh": "系统维护，暂停服务。"}
    assert closure["until"] == "2026-12-02T14:00:00+08:00" and closure["active"] is True
    assert closure["set_by"] == "sam (token)"
    assert api(app, "get", "/api/v1/closure", token).json["closure"] == closure
    assert ClosureBoard(hotline.redis).get() is not None

    assert api(app, "delete", "/api/v1/closure", token).status_code == 204
    assert ClosureBoard(hotline.redis).get() is None
    log = AuditLog(hotline.redis).recent()
    assert [(e.action, e.actor) for e in log[:2]] == [
        ("closure.clear", "sam (token)"),
        ("closure.set", "sam (token)"),
    ]
    assert log[1].before is None and log[1].after["until"] == closure["until"]
    assert log[0].before["message"] == {"zh": "系统维护，暂停服务。"} and log[0].after is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "closed"}, "message"),
        ({"message": {"fr": "fermé"}}, "message.fr"),
        ({"message": {"zh": 3}}, "message.zh"),
        ({"message": {"en": "x" * 501}}, "message.en"),
        ({"until": "tomorrow"}, "until"),
        ({"until": "2026-12-02T09:00"}, "until"),  # the app clock is 10:00 in Shanghai
        ({"until": 1800000000}, "until"),
        ([], "body"),
    ],
)
def test_a_bad_closure_names_its_field_and_changes_nothing(app, hotline, tokens, body, field):
    answer = api(app, "put", "/api/v1/closure", tokens["sam"], body)
    assert answer.status_code == 422 and answer.json["error"]["field"] == field
    assert ClosureBoard(hotline.redis).get() is None
    assert audit_actions(hotline) == []


def test_session_changes_need_the_csrf_token(app, hotline):
    session = sign_in(app, "sam")
    body = {"number": ABUSER, "reason": "abuse"}
    bare = session.client.post("/api/v1/blocklist", json=body)
    assert bare.status_code == 403 and bare.json["error"]["field"] == "csrf_token"
    form = session.client.post("/ops/safety/blocklist", data=body)
    assert form.status_code == 403
    assert Blocklist(hotline.redis).entries() == []
    assert session.post("/api/v1/blocklist", json=body).status_code == 201


def test_the_page_is_for_supervisors_and_its_forms_work(app, hotline):
    assert app.test_client().get("/ops/safety").status_code == 303  # to the sign-in page
    for name in ("olga", "wang"):
        assert sign_in(app, name).get("/ops/safety").status_code == 403
        refused = sign_in(app, name).form("/ops/safety/closure", {"message_zh": "x"})
        assert refused.status_code == 403
    assert ClosureBoard(hotline.redis).get() is None

    sam = sign_in(app, "sam")
    page = sam.get("/ops/safety").get_data(as_text=True)
    assert 'href="/ops/safety"' in page and 'data-closure="none"' in page

    added = sam.form("/ops/safety/blocklist", {"number": "13812345678", "reason": "辱骂咨询员"})
    assert added.status_code == 303
    page = sam.get("/ops/safety").get_data(as_text=True)
    assert "+86*******5678" in page and "辱骂咨询员" in page and "13812345678" not in page
    digest = Blocklist(hotline.redis).entries()[0].digest
    assert f'data-digest="{digest}"' in page

    bad = sam.form("/ops/safety/blocklist", {"number": "12", "reason": "x"}, follow_redirects=True)
    assert "(number)" in bad.get_data(as_text=True)

    closed = sam.form(
        "/ops/safety/closure",
        {"message_zh": "今天暂停服务。", "message_en": "Closed today.", "until": ""},
    )
    assert closed.status_code == 303
    page = sam.get("/ops/safety").get_data(as_text=True)
    assert 'data-closure="active"' in page and "今天暂停服务。" in page

    assert sam.form(f"/ops/safety/blocklist/{digest}/remove", {}).status_code == 303
    assert sam.form("/ops/safety/closure/clear", {}).status_code == 303
    assert Blocklist(hotline.redis).entries() == [] and ClosureBoard(hotline.redis).get() is None
    assert [action for action, _ in audit_actions(hotline)] == [
        "closure.clear",
        "blocklist.remove",
        "closure.set",
        "blocklist.add",
    ]
    assert {actor for _, actor in audit_actions(hotline)} == {"sam"}


def test_a_number_blocked_through_the_api_hears_the_blocked_sentence(app, hotline, tokens, twilio):
    before = Doc.parse(twilio.post("/voice", {"From": ABUSER}))
    assert "This line cannot take your call" not in before.said()
    body = {"number": ABUSER, "reason": "abuse"}
    assert api(app, "post", "/api/v1/blocklist", tokens["sam"], body).status_code == 201
    doc = Doc.parse(twilio.post("/voice", {"From": ABUSER}))
    assert doc.verbs() == ["Gather", "Hangup"]
    assert "This line cannot take your call" in doc.said() and "请现在按9" in doc.said()
    other = Doc.parse(twilio.post("/voice", {"From": "+8613800000001"}))
    assert "This line cannot take your call" not in other.said()


def test_a_closure_set_through_the_api_is_what_callers_hear(app, hotline, tokens, twilio):
    body = {"message": {"zh": "系统维护，暂停服务。", "en": "Closed for maintenance."}}
    assert api(app, "put", "/api/v1/closure", tokens["sam"], body).status_code == 200
    doc = Doc.parse(twilio.post("/voice", {"From": "+8613800000001"}))
    assert "系统维护，暂停服务。" in doc.said() and "Closed for maintenance." in doc.said()
    assert api(app, "delete", "/api/v1/closure", tokens["sam"]).status_code == 204
    doc = Doc.parse(twilio.post("/voice", {"From": "+8613800000001"}))
    assert "Closed for maintenance." not in doc.said()
