"""Staff access: sessions that really end, API tokens that expire, are named and revocable."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from datetime import timedelta

import pytest

from hotline.cli import main
from queues import events, keys
from queues.audit import AuditLog
from tests.fixtures.ops import PASSWORD, Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

DAY = 86400
TOKEN = re.compile(r"hl_[A-Za-z0-9_-]{43}")


def cookie_of(signed_in) -> str:
    """The session cookie a browser holds (what a thief would copy)."""
    return signed_in.client.get_cookie("session").value


def replay(app, cookie: str):
    """A new client presenting an old session cookie."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def me(app, token: str, ip: str = "10.0.0.1"):
    """GET /api/v1/me with a bearer token from an address."""
    return app.test_client().get(
        "/api/v1/me",
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ip},
    )


def audited(redis, action: str) -> list:
    """Audit entries of one action, newest first."""
    return [entry for entry in AuditLog(redis).recent(200) if entry.action == action]


# --- sessions ---------------------------------------------------------------------------------


def test_a_signed_out_cookie_stays_signed_out(app, hotline):
    olga = sign_in(app, "olga")
    copied = cookie_of(olga)
    assert replay(app, copied).get("/api/v1/me").status_code == 200
    assert olga.form("/ops/logout", {}).status_code == 303
    assert olga.get("/api/v1/me").status_code == 401
    assert replay(app, copied).get("/api/v1/me").status_code == 401


def test_signing_out_everywhere_ends_every_session_of_that_user_only(app, hotline):
    laptop, phone, sam = sign_in(app, "olga"), sign_in(app, "olga"), sign_in(app, "sam")
    assert laptop.form("/ops/logout", {"everywhere": "1"}).status_code == 303
    assert phone.get("/api/v1/me").status_code == 401
    assert sam.get("/api/v1/me").status_code == 200
    assert sign_in(app, "olga").get("/api/v1/me").status_code == 200
    # The same from the API, for a user and by a supervisor for another.
    wang = sign_in(app, "wang")
    assert sam.delete("/api/v1/users/wang/sessions").status_code == 204
    assert wang.get("/api/v1/me").status_code == 401
    assert audited(hotline.redis, "user.sessions-end")[0].target == "wang"


def test_a_password_or_role_change_ends_the_users_sessions(app, hotline):
    olga, sam, wang = sign_in(app, "olga"), sign_in(app, "sam"), sign_in(app, "wang")
    hotline.users.set_password("olga", "another long password")
    assert olga.get("/api/v1/me").status_code == 401
    hotline.users.set_role("sam", "ops")
    assert sam.get("/api/v1/me").status_code == 401
    assert wang.get("/api/v1/me").status_code == 200
    assert sign_in(app, "sam").get("/api/v1/me").json["role"] == "ops"


def test_a_user_removed_and_added_again_does_not_revive_old_cookies(app, hotline):
    olga = sign_in(app, "olga")
    copied = cookie_of(olga)
    hotline.users.remove("olga")
    hotline.users.add("olga", "ops", PASSWORD, hotline.now)
    assert replay(app, copied).get("/api/v1/me").status_code == 401
    assert sign_in(app, "olga").get("/api/v1/me").status_code == 200


# --- API tokens --------------------------------------------------------------------------------


def test_tokens_expire_after_ninety_days_unless_set_otherwise(app, hotline, clock):
    default = hotline.users.create_token("olga", hotline.now)
    week = hotline.users.create_token("olga", hotline.now, days=7)
    clock.now += timedelta(days=7, seconds=1)
    expired = me(app, week)
    assert expired.status_code == 401 and "expired" in expired.json["error"]["message"]
    assert me(app, default).status_code == 200
    clock.now += timedelta(days=83)
    assert me(app, default).status_code == 401


def test_a_user_makes_names_lists_and_revokes_their_own_tokens(app, hotline, clock):
    wang = sign_in(app, "wang")
    made = wang.post("/api/v1/users/wang/tokens", json={"name": "desk script", "days": 30})
    assert made.status_code == 201, made.json
    script = made.json
    assert script["name"] == "desk script" and script["expires_at"] == hotline.now + 30 * DAY
    phone = wang.post("/api/v1/users/wang/tokens", json={"name": "phone app"}).json
    assert phone["expires_at"] == hotline.now + 90 * DAY

    def listed() -> dict[str, dict]:
        answer = wang.get("/api/v1/users/wang/tokens")
        assert answer.status_code == 200
        assert not TOKEN.search(answer.get_data(as_text=True))  # never shown again
        return {token["name"]: token for token in answer.json["tokens"]}

    assert listed()["desk script"]["last_used_at"] is None
    clock.now += timedelta(seconds=10)
    used_at = hotline.now
    assert me(app, script["token"]).status_code == 200
    assert listed()["desk script"]["last_used_at"] == used_at
    clock.now += timedelta(seconds=30)
    assert me(app, script["token"]).status_code == 200
    assert listed()["desk script"]["last_used_at"] == used_at  # written at most once a minute
    clock.now += timedelta(seconds=31)
    assert me(app, script["token"]).status_code == 200
    assert listed()["desk script"]["last_used_at"] == hotline.now
    assert listed()["phone app"]["last_used_at"] is None

    assert wang.delete(f"/api/v1/users/wang/tokens/{script['id']}").status_code == 204
    assert me(app, script["token"]).status_code == 401
    assert me(app, phone["token"]).status_code == 200
    assert list(listed()) == ["phone app"]
    assert wang.delete(f"/api/v1/users/wang/tokens/{script['id']}").status_code == 404
    [revoked] = audited(hotline.redis, "token.revoke")
    assert revoked.target == "wang" and revoked.before["name"] == "desk script"
    assert len(audited(hotline.redis, "token.create")) == 2
    assert not TOKEN.search(str([e.public() for e in AuditLog(hotline.redis).recent(50)]))


def test_who_may_manage_whose_tokens(app, hotline):
    wangs = hotline.users.create_token("wang", hotline.now, label="desk")
    emily, olga, sam = sign_in(app, "emily"), sign_in(app, "olga"), sign_in(app, "sam")
    assert emily.get("/api/v1/users/wang/tokens").status_code == 403
    assert emily.post("/api/v1/users/wang/tokens", json={}).status_code == 403
    # Ops see and revoke others' tokens, but make none they could then use as someone else.
    assert olga.post("/api/v1/users/wang/tokens", json={}).status_code == 403
    assert sam.post("/api/v1/users/wang/tokens", json={"name": "x"}).status_code == 201
    # A token cannot make tokens: its successors would outlive its expiry.
    by_token = app.test_client().post(
        "/api/v1/users/wang/tokens", json={}, headers={"Authorization": f"Bearer {wangs}"}
    )
    assert by_token.status_code == 403
    found = olga.get("/api/v1/users/wang/tokens").json["tokens"]
    desk = next(token for token in found if token["name"] == "desk")
    assert olga.delete(f"/api/v1/users/wang/tokens/{desk['id']}").status_code == 204
    assert me(app, wangs).status_code == 401
    for body, field in (
        ({"days": 0}, "days"),
        ({"days": 400}, "days"),
        ({"name": "x" * 81}, "name"),
    ):
        answer = sam.post("/api/v1/users/wang/tokens", json=body)
        assert answer.status_code == 422 and answer.json["error"]["field"] == field


def test_a_token_made_before_expiry_gets_ninety_days_from_its_first_use(
    app, hotline, clock, caplog
):
    token = "hl_" + "o" * 43
    digest = hashlib.sha256(token.encode()).hexdigest()
    made = hotline.now - 400 * DAY
    hotline.redis.hset(keys.api_token(digest), mapping={"user": "olga", "created_at": repr(made)})
    hotline.redis.sadd(keys.user_tokens("olga"), digest)
    clock.now += timedelta(days=1)
    first_use = hotline.now
    with caplog.at_level(logging.WARNING):
        assert me(app, token).status_code == 200
    assert "olga" in caplog.text and "expires" in caplog.text
    [listed] = sign_in(app, "olga").get("/api/v1/users/olga/tokens").json["tokens"]
    assert listed["expires_at"] == first_use + 90 * DAY
    clock.now += timedelta(days=90, seconds=-1)
    assert me(app, token).status_code == 200
    clock.now += timedelta(seconds=2)
    assert me(app, token).status_code == 401


def test_bad_tokens_from_one_address_are_limited_and_the_lockout_shown(app, hotline, clock):
    good = hotline.users.create_token("olga", hotline.now)
    for index in range(20):
        assert me(app, f"hl_guess{index:040d}", ip="10.0.0.7").status_code == 401
    held = me(app, good, ip="10.0.0.7")
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
    assert me(app, good, ip="10.0.0.8").status_code == 200
    [locked] = audited(hotline.redis, "lockout")
    assert "10.0.0.7" in locked.target and locked.after["limit"] == "api-token"
    kinds = [alert["kind"] for alert in sign_in(app, "sam").get("/api/v1/alerts").json["alerts"]]
    assert "lockout" in kinds
    # An expired token is a known one, not a guess: it is refused but counts against nobody.
    stale = hotline.users.create_token("olga", hotline.now, days=1)
    clock.now += timedelta(days=2)
    for _ in range(25):
        assert me(app, stale, ip="10.0.0.9").status_code == 401
    assert me(app, good, ip="10.0.0.9").status_code == 200


def test_the_tokens_page_shows_a_new_token_once_and_revokes(app, hotline):
    wang = sign_in(app, "wang")
    assert wang.get("/ops/tokens").status_code == 200
    made = wang.form("/ops/tokens", {"name": "desk script", "days": "30"})
    assert made.status_code == 200
    token = TOKEN.search(made.get_data(as_text=True)).group(0)
    assert me(app, token).status_code == 200
    page = wang.get("/ops/tokens").get_data(as_text=True)
    assert "desk script" in page and token not in page
    [listed] = wang.get("/api/v1/users/wang/tokens").json["tokens"]
    assert wang.form(f"/ops/tokens/{listed['id']}/revoke", {}).status_code == 303
    assert me(app, token).status_code == 401
    # Ops manage another user's tokens on the same page; an agent cannot look at others'.
    other = hotline.users.create_token("wang", hotline.now, label="phone")
    olga = sign_in(app, "olga")
    assert "phone" in olga.get("/ops/tokens?user=wang").get_data(as_text=True)
    assert sign_in(app, "emily").get("/ops/tokens?user=wang").status_code == 403
    [phone] = olga.get("/api/v1/users/wang/tokens").json["tokens"]
    assert olga.form(f"/ops/tokens/{phone['id']}/revoke", {"user": "wang"}).status_code == 303
    assert me(app, other).status_code == 401


def test_cli_adds_lists_and_revokes_tokens_and_ends_sessions(
    app, hotline, redis_url, monkeypatch, capsys
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["user", "token", "add", "olga", "--name", "nightly export", "--days", "7"]) == 0
    token = capsys.readouterr().out.strip()
    assert me(app, token).status_code == 200
    assert main(["user", "token", "list", "olga"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    token_id = line.split("\t")[0]
    assert "nightly export" in line and token not in line
    assert main(["user", "token", "revoke", "olga", token_id]) == 0
    assert me(app, token).status_code == 401
    assert main(["user", "token", "revoke", "olga", token_id]) == 1
    assert main(["user", "token", "add", "olga", "--days", "0"]) == 2
    actions = [e.action for e in AuditLog(hotline.redis).recent(2)]
    assert actions == ["token.revoke", "token.create"]

    olga, sam = sign_in(app, "olga"), sign_in(app, "sam")
    assert main(["user", "signout", "olga"]) == 0
    assert olga.get("/api/v1/me").status_code == 401
    monkeypatch.setattr("sys.stdin", io.StringIO("a new long password\n"))
    assert main(["user", "password", "sam", "--password-stdin"]) == 0
    assert sam.get("/api/v1/me").status_code == 401
    assert sign_in(app, "sam", "a new long password").get("/api/v1/me").status_code == 200
    wang = sign_in(app, "wang")
    assert main(["user", "role", "wang", "ops"]) == 0
    assert wang.get("/api/v1/me").status_code == 401
    assert [e.action for e in AuditLog(hotline.redis).recent(3)] == [
        "user.role",
        "user.password",
        "user.sessions-end",
    ]
    assert "lockout" not in {e["kind"] for e in events.recent(hotline.redis)}
