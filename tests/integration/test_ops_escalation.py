"""The agent's escalation as part of the ops API: a desk session, the document's answer, errors.

The token and PIN paths, and who may escalate, are in test_crisis_alerts; the PIN lockout under
a burst in test_attempt_limits.
"""

from __future__ import annotations

import pytest

from ops.schema import problems
from queues.users import UserStore
from tests.fixtures.crisis import CALL, escalate, token_for
from tests.fixtures.ops import sign_in

pytestmark = pytest.mark.redis

PATH = f"/api/v1/calls/{CALL}/escalate"
PASSWORD = "a-long-password"


def desk_session(app, redis, name: str, agent_id: str):
    """An agent user signed in at the console, as at the desk."""
    UserStore(redis).add(name, "agent", PASSWORD, 0.0, agent_id=agent_id)
    return sign_in(app, name, PASSWORD)


def test_an_agent_signed_in_at_the_desk_escalates_with_the_sessions_csrf_token(
    app, redis, connected, jobs_runtime
):
    desk = desk_session(app, redis, "c1-desk", "c1")

    forged = desk.client.post(PATH, json={"target": "crisis_line"})
    done = desk.post(PATH, json={"target": "crisis_line"})

    assert forged.status_code == 403 and forged.json["error"]["field"] == "csrf_token"
    assert done.status_code == 200, done.json
    assert (done.json["target"], done.json["new"]) == ("crisis_line", True)


def test_the_answer_is_the_one_the_document_describes(app, redis, connected, jobs_runtime):
    client = app.test_client()
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/calls/{call_sid}/escalate"
    ]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]

    done = escalate(client, {"target": "supervisor"}, token_for(redis, "c1-user", "c1"))

    assert done.status_code == 200
    assert problems(schema, done.json) == []
    assert problems(schema, {**done.json, "extra": 1}) != []  # the schema is not a blank check
    assert {"bearer": []} in operation["security"] and {} in operation["security"]


def test_refusals_are_the_apis_error_object(app, redis, connected, jobs_runtime):
    client = app.test_client()

    anonymous = escalate(client, {"target": "supervisor"})
    connected.update(CALL, reservation="")
    gone = escalate(client, {"target": "supervisor"}, token_for(redis, "c1-user", "c1"))
    not_object = client.post(PATH, json=["supervisor"])

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.json["error"]["status"] == 401
    assert "pin" in anonymous.json["error"]["message"]
    assert gone.status_code == 409
    assert gone.json["error"] == {
        "status": 409,
        "message": "the call is not connected to an agent",
        "field": "call_sid",
    }
    assert not_object.status_code == 422 and not_object.json["error"]["field"] == "body"


def test_a_locked_out_agent_is_told_to_call_directly_and_when_to_retry(
    app, redis, connected, jobs_runtime
):
    client = app.test_client()
    wrong = [
        escalate(client, {"target": "crisis_line", "agent_id": "c1", "pin": f"{n:04d}"})
        for n in range(6)
    ]

    assert [answer.status_code for answer in wrong] == [401] * 5 + [429]
    locked = wrong[-1]
    assert "directly" in locked.json["error"]["message"]
    assert int(locked.headers["Retry-After"]) > 0
