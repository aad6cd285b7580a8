"""The voicemail inbox in the ops console and API: supervisors only, plays audited, closing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.recordings import TwilioRecordings
from tools import voicemail_samples as samples
from voicemail import runtime as voicemail_runtime
from voicemail.messages import MessageStore, audit_entries
from voicemail.processing import process_recording, register_recording

pytestmark = pytest.mark.redis

SID = "RE" + "c" * 32
OLDER = "RE" + "d" * 32
CALLER = "+8613812345678"
MASKED = "+86*******5678"
CALLERS = ("anonymous", "wang", "olga", "sam")
# Each endpoint and the status for: anonymous, agent, ops, supervisor.
MATRIX = [
    ("get", "/api/v1/voicemail", (401, 403, 403, 200)),
    ("get", f"/api/v1/voicemail/{SID}/audio", (401, 403, 403, 200)),
    ("post", f"/api/v1/voicemail/{SID}/close", (401, 403, 403, 200)),
]


def leave_message(app, redis, clock, sid: str, *, area: str, ago_s: float = 0) -> None:
    """Register and process a message the way the voicemail worker does."""
    when = clock.now - timedelta(seconds=ago_s)
    register_recording(
        redis,
        sid,
        now=when,
        call_sid="CA" + sid[2:],
        caller=CALLER,
        area=area,
        language="zh",
        summary="wages unpaid",
    )
    with app.app_context():
        vault = voicemail_runtime.build(app).vault
    twilio = TwilioRecordings({sid: samples.speech_wav(6, seed=5)})
    message = process_recording(sid, redis=redis, source=twilio, vault=vault, now=when)
    assert message.state == "ready" and not twilio.recordings


@pytest.fixture
def messages(app, hotline, redis, clock) -> list[str]:
    """Two stored messages: an older family one and a newer labor one."""
    leave_message(app, redis, clock, OLDER, area="family", ago_s=600)
    leave_message(app, redis, clock, SID, area="labor")
    return [SID, OLDER]


@pytest.fixture
def tokens(hotline: Hotline) -> dict[str, str]:
    return {name: hotline.users.create_token(name, hotline.now) for name in CALLERS[1:]}


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def plays(redis) -> list[dict[str, str]]:
    return [entry for entry in audit_entries(redis) if entry["action"] == "played"]


@pytest.mark.parametrize(("method", "path", "expected"), MATRIX, ids=lambda v: str(v))
def test_every_endpoint_answers_each_role_as_meant(app, messages, tokens, method, path, expected):
    client = app.test_client()
    for caller, status in zip(CALLERS, expected, strict=True):
        answer = getattr(client, method)(path, headers=bearer(tokens.get(caller)))
        assert answer.status_code == status, (caller, answer.get_data(as_text=True))
        if status >= 400:
            assert answer.json["error"]["status"] == status
        if status == 401:
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_refused_callers_leave_no_audit_and_change_nothing(app, redis, messages, tokens):
    client = app.test_client()
    for caller in CALLERS[:3]:
        client.get(f"/api/v1/voicemail/{SID}/audio", headers=bearer(tokens.get(caller)))
        client.post(f"/api/v1/voicemail/{SID}/close", headers=bearer(tokens.get(caller)))
    assert audit_entries(redis) == []
    assert "closed_at" not in MessageStore(redis).get(SID).fields


def test_list_is_newest_first_with_masked_callers(app, messages, tokens):
    answer = app.test_client().get("/api/v1/voicemail", headers=bearer(tokens["sam"]))
    listed = answer.json["messages"]
    assert [m["recording_sid"] for m in listed] == [SID, OLDER]
    first = listed[0]
    assert (first["area"], first["language"], first["caller"]) == ("labor", "zh", MASKED)
    assert first["state"] == "ready" and not first["closed"]
    assert 4 < first["seconds"] <= 6 and first["urgency"] >= 0
    assert CALLER not in answer.get_data(as_text=True)
    limited = app.test_client().get("/api/v1/voicemail?limit=1", headers=bearer(tokens["sam"]))
    assert [m["recording_sid"] for m in limited.json["messages"]] == [SID]
    bad = app.test_client().get("/api/v1/voicemail?limit=x", headers=bearer(tokens["sam"]))
    assert bad.status_code == 422 and bad.json["error"]["field"] == "limit"


def test_playing_streams_the_decrypted_audio_and_audits_each_fetch(
    app, redis, clock, messages, tokens
):
    answer = app.test_client().get(f"/api/v1/voicemail/{SID}/audio", headers=bearer(tokens["sam"]))
    assert answer.status_code == 200 and answer.mimetype == "audio/mpeg"
    assert "no-store" in answer.headers["Cache-Control"]
    with app.app_context():
        assert answer.data == voicemail_runtime.build(app).vault.read(SID)
    (entry,) = plays(redis)
    assert entry["message"] == SID and entry["actor"] == "sam (token)"
    assert entry["via"] == "inbox" and float(entry["at"]) == clock.now.timestamp()

    session = sign_in(app, "sam")
    assert session.get(f"/api/v1/voicemail/{SID}/audio").status_code == 200
    assert [entry["actor"] for entry in plays(redis)] == ["sam", "sam (token)"]


def test_unknown_message_is_404_and_not_audited(app, redis, messages, tokens):
    client = app.test_client()
    unknown = "RE" + "0" * 32
    for method, path in (
        ("get", f"/api/v1/voicemail/{unknown}/audio"),
        ("post", f"/api/v1/voicemail/{unknown}/close"),
    ):
        answer = getattr(client, method)(path, headers=bearer(tokens["sam"]))
        assert answer.status_code == 404 and answer.json["error"]["status"] == 404
    assert audit_entries(redis) == []


def test_closing_audits_hides_the_message_and_is_taken_once(app, redis, messages, tokens):
    client = app.test_client()
    path = f"/api/v1/voicemail/{SID}/close"
    first = client.post(path, json={"reason": "called back"}, headers=bearer(tokens["sam"]))
    assert first.status_code == 200 and first.json == {
        "recording_sid": SID,
        "closed": True,
        "changed": True,
    }
    again = client.post(path, headers=bearer(tokens["sam"]))
    assert again.status_code == 200 and again.json["changed"] is False
    closes = [entry for entry in audit_entries(redis) if entry["action"] == "closed"]
    assert len(closes) == 1
    assert closes[0]["actor"] == "sam (token)" and closes[0]["reason"] == "called back"
    assert MessageStore(redis).get(SID).fields["callback_state"] == "closed"

    listed = client.get("/api/v1/voicemail", headers=bearer(tokens["sam"])).json["messages"]
    assert [m["recording_sid"] for m in listed] == [OLDER]
    everything = client.get("/api/v1/voicemail?closed=1", headers=bearer(tokens["sam"]))
    closed = {m["recording_sid"]: m["closed"] for m in everything.json["messages"]}
    assert closed == {SID: True, OLDER: False}
    bad = client.post(
        f"/api/v1/voicemail/{OLDER}/close", json={"reason": 3}, headers=bearer(tokens["sam"])
    )
    assert bad.status_code == 422 and bad.json["error"]["field"] == "reason"


def test_session_writes_need_the_csrf_token(app, redis, messages):
    session = sign_in(app, "sam")
    refused = session.client.post(f"/api/v1/voicemail/{SID}/close")
    assert refused.status_code == 403 and refused.json["error"]["field"] == "csrf_token"
    form = session.client.post(f"/ops/voicemail/{SID}/close", data={"reason": "x"})
    assert form.status_code == 403
    assert "closed_at" not in MessageStore(redis).get(SID).fields
    assert session.post(f"/api/v1/voicemail/{SID}/close").json["changed"] is True


def test_page_lists_messages_with_player_and_close_form(app, messages):
    session = sign_in(app, "sam")
    page = session.get("/ops/voicemail")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index(f'id="vm-{SID}"') < html.index(f'id="vm-{OLDER}"')
    assert MASKED in html and CALLER not in html
    assert f'src="/api/v1/voicemail/{SID}/audio"' in html and 'preload="none"' in html
    assert f'action="/ops/voicemail/{SID}/close"' in html
    assert 'name="csrf_token"' in html
    assert 'href="/ops/voicemail"' in session.get("/ops/wallboard").get_data(as_text=True)


def test_page_close_form_closes_and_audits(app, redis, messages):
    session = sign_in(app, "sam")
    answer = session.form(f"/ops/voicemail/{SID}/close", {"reason": "no callback needed"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/ops/voicemail")
    (entry,) = [e for e in audit_entries(redis) if e["action"] == "closed"]
    assert (entry["actor"], entry["reason"]) == ("sam", "no callback needed")
    html = session.get("/ops/voicemail").get_data(as_text=True)
    assert f'id="vm-{SID}"' not in html and f'id="vm-{OLDER}"' in html
    shown = session.get("/ops/voicemail?closed=1").get_data(as_text=True)
    assert f'id="vm-{SID}"' in shown
    assert f'action="/ops/voicemail/{SID}/close"' not in shown


def test_page_is_for_supervisors_only(app, redis, messages):
    anonymous = app.test_client()
    for path, method in (("/ops/voicemail", "get"), (f"/ops/voicemail/{SID}/close", "post")):
        answer = getattr(anonymous, method)(path)
        assert answer.status_code in (303, 403)
    assert "/ops/login" in anonymous.get("/ops/voicemail").headers["Location"]
    for name in ("wang", "olga"):
        session = sign_in(app, name)
        assert session.get("/ops/voicemail").status_code == 403
        assert session.form(f"/ops/voicemail/{SID}/close", {}).status_code == 403
        nav = session.get("/ops/", follow_redirects=True).get_data(as_text=True)
        assert 'href="/ops/voicemail"' not in nav
    assert "closed_at" not in MessageStore(redis).get(SID).fields
    assert audit_entries(redis) == []


def test_page_speaks_both_languages(app, messages):
    session = sign_in(app, "sam")
    session.get("/ops/lang/en")
    assert "Voicemail" in session.get("/ops/voicemail").get_data(as_text=True)
    session.get("/ops/lang/zh")
    assert "留言箱" in session.get("/ops/voicemail").get_data(as_text=True)
