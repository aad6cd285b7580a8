"""Limits on guessing hold under a parallel burst: passwords, escalation PINs, agent-line PINs.

The app is served by a threaded werkzeug server (the Flask test client runs one request at a
time) and thirty threads released together send wrong secrets. Each wrong secret that was
really checked answers as "wrong" (401, or an `agent-line-failed` event), each refused one as
"too many", so the answers count the slow hash checks without patching anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from queues import events, keys
from queues.audit import AuditLog
from queues.users import UserStore
from telephony.demo import DEMO_AUTH_TOKEN
from telephony.signature import SIGNATURE_HEADER, sign
from tests.fixtures.carrier import LocalServer
from tests.fixtures.ops import (  # noqa: F401
    PASSWORD,
    ROSTER,
    Hotline,
    csrf_of,
    hotline_fixture,
    sign_in,
)

pytestmark = pytest.mark.redis

BURST = 30
D1_PIN = "90210357"
WITH_PIN = ROSTER.replace(
    "    crisis_trained: true\n    shifts:\n      - {days: daily",
    f'    crisis_trained: true\n    pin: "{D1_PIN}"\n    shifts:\n      - {{days: daily',
)
CALL = "CA" + "7" * 32


@pytest.fixture
def served(app, hotline: Hotline) -> Iterator[str]:
    """The app on a free port, answering requests in parallel threads."""
    hotline.load_roster(WITH_PIN)
    server = LocalServer(app)
    try:
        yield server.url
    finally:
        server.stop()


def burst(prepare: Callable[[int], Callable[[], int]]) -> list[int]:
    """Prepare BURST requests, release them together, and return their status codes."""
    ready = threading.Barrier(BURST, timeout=60)

    def run(index: int) -> int:
        send = prepare(index)
        ready.wait()
        return send()

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(run, range(BURST)))


def lockouts(redis) -> list:
    """The audit log's lockout entries."""
    return [entry for entry in AuditLog(redis).recent(200) if entry.action == "lockout"]


def alert_kinds(app) -> list[str]:
    """The kinds of event the supervisors' alert feed shows."""
    return [alert["kind"] for alert in sign_in(app, "sam").get("/api/v1/alerts").json["alerts"]]


def test_thirty_parallel_wrong_passwords_check_at_most_five(app, hotline, served):
    # A full-cost scrypt hash: the slower the check, the wider any gap between check and count.
    UserStore(hotline.redis).add("vera", "ops", PASSWORD, hotline.now)

    def prepare(index: int) -> Callable[[], int]:
        page = requests.get(f"{served}/ops/login", timeout=30)
        # The cookie is Secure, so requests keeps it off plain http: send it by hand.
        cookie = {"Cookie": f"session={page.cookies['session']}"}
        form = {"name": "vera", "password": f"wrong {index}", "csrf_token": csrf_of(page.text)}
        return lambda: (
            requests.post(
                f"{served}/ops/login", data=form, headers=cookie, allow_redirects=False, timeout=60
            ).status_code
        )

    answers = burst(prepare)

    assert answers.count(401) == 5, answers
    assert answers.count(429) == BURST - 5
    assert hotline.redis.get(keys.login_failures("user", "vera")) == b"5"
    [locked] = lockouts(hotline.redis)
    assert "vera" in locked.target and locked.after["limit"] == "sign-in"
    assert "lockout" in alert_kinds(app)


def test_thirty_parallel_wrong_escalation_pins_check_at_most_five(app, hotline, served):
    def prepare(index: int) -> Callable[[], int]:
        body = {"target": "crisis_line", "agent_id": "d1", "pin": f"{index:04d}"}
        url = f"{served}/api/v1/calls/{CALL}/escalate"
        return lambda: requests.post(url, json=body, timeout=60).status_code

    answers = burst(prepare)

    assert answers.count(401) == 5, answers
    assert answers.count(429) == BURST - 5
    # Locked: even the right PIN waits, and the answer says whom to call instead.
    right = requests.post(
        f"{served}/api/v1/calls/{CALL}/escalate",
        json={"target": "crisis_line", "agent_id": "d1", "pin": D1_PIN},
        timeout=60,
    )
    assert right.status_code == 429 and "directly" in right.json()["error"]["message"]
    [locked] = lockouts(hotline.redis)
    assert "d1" in locked.target and locked.after["limit"] == "escalation-pin"
    assert "lockout" in alert_kinds(app)


def test_thirty_parallel_wrong_agent_line_pins_check_at_most_five(app, hotline, served):
    url = f"{served}/voice/agent-line/pin?lang=zh&t=1&code=31"  # d1 on the keypad

    def prepare(index: int) -> Callable[[], int]:
        form = {
            "AccountSid": "AC" + "0" * 31 + "1",
            "CallSid": f"CA{index:032d}",
            "From": f"+86138000000{index:02d}",
            "To": "+861012348000",
            "Digits": f"{index:04d}",
        }
        signed = {SIGNATURE_HEADER: sign(DEMO_AUTH_TOKEN, url, form)}
        return lambda: requests.post(url, data=form, headers=signed, timeout=60).status_code

    answers = burst(prepare)

    assert answers == [200] * BURST  # Twilio always gets TwiML
    failed = [e for e in events.recent(hotline.redis, 500) if e["kind"] == "agent-line-failed"]
    assert len(failed) == 5
    assert hotline.redis.get(keys.agent_line_failures("code:31")) == b"5"
    [locked] = lockouts(hotline.redis)
    assert "31" in locked.target and locked.after["limit"] == "agent-line"
    assert "lockout" in alert_kinds(app)
