"""The HTTP edge: body size caps, JSON depth, body schemas, security headers, Redis down."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from queues.closure import ClosureBoard
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
# Deeper than any Python recursion limit can parse, yet only about 40 KB.
DEEP = "[" * 20_000 + "]" * 20_000
CALL = "CA" + "7" * 32


@pytest.fixture
def tokens(hotline: Hotline) -> dict[str, str]:
    return {name: hotline.users.create_token(name, hotline.now) for name in ("olga", "sam")}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(answer) -> dict:
    """The JSON error document of a refused API request (the escalation's is flatter)."""
    assert answer.mimetype == "application/json", answer.get_data(as_text=True)[:300]
    error = answer.json["error"]
    if isinstance(error, str):
        return {"status": answer.status_code, "message": error, **answer.json}
    return error


# --- body sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/voice", "/voice/crisis", "/voice/voicemail/status"])
def test_an_oversized_webhook_is_refused_413_before_its_signature_is_read(twilio, path):
    answer = twilio.post(path, {"SpeechResult": "x" * 100_000})
    assert answer.status_code == 413
    unsigned = twilio.client.post(path, data={"Body": "y" * 100_000})
    assert unsigned.status_code == 413


def test_a_webhook_without_a_length_is_cut_off_at_the_cap(twilio):
    body = b"From=%2B8613812345678&Junk=" + b"z" * 200_000
    answer = twilio.client.post(
        "/voice",
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 413


def test_twilios_ordinary_webhooks_still_answer(twilio):
    Doc.parse(twilio.post("/voice", {"CallStatus": "ringing", "SpeechResult": "x" * 500}))


def test_an_api_body_over_a_megabyte_is_413_as_json(app, tokens):
    big = {"id": "x1", "name": "n" * (1024 * 1024 + 10)}
    answer = app.test_client().post("/api/v1/agents", json=big, headers=bearer(tokens["olga"]))
    assert answer.status_code == 413
    assert error_of(answer)["status"] == 413


# --- JSON depth -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "who"),
    [
        ("post", f"/api/v1/calls/{CALL}/escalate", None),
        ("patch", "/api/v1/agents/d1", "olga"),
        ("post", "/api/v1/agents", "olga"),
        ("put", "/api/v1/closure", "sam"),
        ("post", "/api/v1/blocklist", "sam"),
        ("put", "/api/v1/hours/labor", "olga"),
        ("post", "/api/v1/voicemail/RE0/close", "sam"),
        ("post", "/api/v1/followups/CA0/close", "sam"),
        ("post", "/demo/phone/calls", None),
    ],
)
def test_deeply_nested_json_is_a_400_json_answer(app, tokens, method, path, who):
    headers = {"Content-Type": "application/json", **(bearer(tokens[who]) if who else {})}
    for body in (DEEP, '{"a":' * 5_000 + "1" + "}" * 5_000):
        answer = getattr(app.test_client(), method)(path, data=body, headers=headers)
        assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
        assert "deep" in error_of(answer)["message"]


def test_nesting_inside_strings_does_not_count_and_shallow_bodies_work(app, tokens):
    body = '{"message": {"zh": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\""}}'
    answer = app.test_client().put(
        "/api/v1/closure",
        data=body,
        headers={"Content-Type": "application/json", **bearer(tokens["sam"])},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["closure"]["message"]["zh"].startswith("[[[[")


# --- body schemas -----------------------------------------------------------------------------


def test_an_unknown_field_is_refused_and_the_hotline_stays_open(app, hotline, tokens):
    answer = app.test_client().put(
        "/api/v1/closure", json={"bogus": 1}, headers=bearer(tokens["sam"])
    )
    assert answer.status_code == 422
    error = error_of(answer)
    assert error["field"] == "bogus" and "unknown" in error["message"]
    assert ClosureBoard(hotline.redis).get() is None


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "field"),
    [
        ("post", "/api/v1/agents/d1/shifts", "olga", {"day": "mon", "start": 9, "end": "10:00"},
         "start"),
        ("post", "/api/v1/agents/d1/shifts", "olga", {"day": "mon", "start": "09:00"}, "end"),
        ("post", "/api/v1/users", "sam", {"name": "zed", "password": "a-long-password"}, "role"),
        ("put", "/api/v1/hours/labor", "olga", {"weekly": {"mon": [5]}}, "weekly.mon.0"),
        ("patch", "/api/v1/agents/d1", "olga", {"crisis_trained": "yes"}, "crisis_trained"),
        ("patch", "/api/v1/agents/d1", "olga", {"skills": {"labor": 7}}, "skills.labor"),
        ("post", "/api/v1/agents", "olga", {"id": "x1", "nickname": "x"}, "nickname"),
        ("post", "/api/v1/followups/CA0/close", "sam", {"note": "ok", "extra": True}, "extra"),
        ("post", "/api/v1/voicemail/RE0/close", "sam", {"reason": 3}, "reason"),
        ("post", f"/api/v1/calls/{CALL}/escalate", None, {"target": "supervisor", "x": 1}, "x"),
    ],
)  # fmt: skip
def test_wrong_types_missing_and_unknown_fields_are_422_naming_the_field(
    app, tokens, method, path, who, body, field
):
    headers = bearer(tokens[who]) if who else {}
    answer = getattr(app.test_client(), method)(path, json=body, headers=headers)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    error = error_of(answer)
    assert error["field"] == field, error
    assert any(problem["field"] == field for problem in error["problems"])


def test_a_valid_body_still_goes_through(app, hotline, tokens):
    answer = app.test_client().put(
        "/api/v1/closure",
        json={"message": {"en": "Closed for a storm."}, "until": None},
        headers=bearer(tokens["sam"]),
    )
    assert answer.status_code == 200
    assert ClosureBoard(hotline.redis).get() is not None


# --- security headers -------------------------------------------------------------------------


def csp_of(answer) -> dict[str, str]:
    policy = answer.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def assert_locked_down(answer) -> None:
    csp = csp_of(answer)
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["script-src"] == "script-src 'self'"
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "no-store" in answer.headers["Cache-Control"]


def test_console_pages_and_api_answers_carry_the_security_headers(app, hotline, tokens):
    sam = sign_in(app, "sam")
    for path in ("/ops/wallboard", "/ops/safety", "/ops/voicemail", "/ops/login"):
        answer = sam.get(path)
        assert answer.status_code == 200, path
        assert_locked_down(answer)
    client = app.test_client()
    assert_locked_down(client.get("/api/v1/me", headers=bearer(tokens["sam"])))
    assert_locked_down(client.get("/api/v1/me"))
    assert_locked_down(client.get("/demo/phone"))
    assert "Strict-Transport-Security" not in client.get("/ops/login").headers
    with client.get("/ops/static/ops.css") as sheet:
        assert sheet.status_code == 200
        assert "no-store" not in sheet.headers.get("Cache-Control", "")
        assert sheet.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_over_https(app):
    answer = app.test_client().get("/ops/login", base_url="https://hotline.example")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_hsts_behind_a_tls_proxy_by_the_public_base_url(app):
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = replace(settings, public_base_url="https://hotline.example")
    answer = app.test_client().get("/ops/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_api_routing_errors_are_json_too(app, tokens):
    client = app.test_client()
    missing = client.get("/api/v1/nothing-here", headers=bearer(tokens["sam"]))
    assert missing.status_code == 404 and error_of(missing)["status"] == 404
    wrong = client.patch("/api/v1/me", headers=bearer(tokens["sam"]))
    assert wrong.status_code == 405 and error_of(wrong)["status"] == 405
    assert "GET" in wrong.headers["Allow"]


def test_twiml_answers_say_nosniff(twilio):
    answer = twilio.post("/voice", {"CallStatus": "ringing"})
    Doc.parse(answer)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


INLINE = re.compile(
    r"<script(?![^>]*\ssrc=)[^>]*>|<style|\son[a-z]+\s*=|\sstyle\s*=|javascript:", re.I
)


def test_no_page_has_inline_scripts_styles_or_handlers():
    pages = [
        *(REPO / "ops/templates/ops").glob("*.html"),
        *(REPO / "hotline/static").glob("*.html"),
    ]
    assert len(pages) > 10
    for page in pages:
        found = INLINE.search(page.read_text(encoding="utf-8"))
        assert found is None, (page.name, found and found.group(0))


def test_the_demo_phone_style_is_its_own_file(app):
    client = app.test_client()
    page = client.get("/demo/phone").get_data(as_text=True)
    assert 'href="phone/phone.css"' in page
    sheet = client.get("/demo/phone/phone.css")
    assert sheet.status_code == 200 and sheet.mimetype == "text/css"
    assert "#keypad" in sheet.get_data(as_text=True) or ".keypad" in sheet.get_data(as_text=True)


# --- Redis down -------------------------------------------------------------------------------


@pytest.fixture
def down(app_env, clock, hotline_config):
    """The app with a Redis nothing answers on."""
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    return create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})


def signed_in_as(app, name: str, role: str, now: float):
    """A client whose session cookie says a user signed in (no Redis needed to make it)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(user=name, role=role, issued=now, seen=now, csrf="t", sid="s" * 32)
    return client


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/wallboard", "/api/v1/agents"])
def test_the_api_answers_json_503_when_redis_is_down(down, path):
    answer = down.test_client().get(path, headers=bearer("hl_anything"))
    assert answer.status_code == 503
    assert error_of(answer)["message"] == "temporarily unavailable"
    assert answer.headers["Retry-After"]
    by_session = signed_in_as(down, "sam", "supervisor", down.config["CLOCK"]().timestamp())
    answer = by_session.get(path)
    assert answer.status_code == 503 and error_of(answer)["status"] == 503


@pytest.mark.parametrize("path", ["/ops/wallboard", "/ops/", "/ops/safety"])
def test_console_pages_say_temporarily_unavailable_when_redis_is_down(down, path):
    client = signed_in_as(down, "sam", "supervisor", down.config["CLOCK"]().timestamp())
    answer = client.get(path)
    assert answer.status_code == 503
    assert answer.mimetype == "text/html"
    text = answer.get_data(as_text=True)
    assert "temporarily unavailable" in text.lower() and "Traceback" not in text
    assert_locked_down(answer)
