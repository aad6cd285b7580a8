"""Supervisors paged for crisis calls: one SMS per supervisor per call, from the `crisis` queue,
retried on retryable errors, with the alert record consoles show; agents' escalations."""

from __future__ import annotations

import pytest
import requests
from rq import Queue

from queues import keys
from queues.alerts import page_supervisors, recent_alerts
from queues.incidents import IncidentLog
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN
from tests.fixtures.crisis import CALL, escalate, import_roster, messages, run_jobs, token_for

pytestmark = pytest.mark.redis

ONLY_OFF_CALL = """
agents:
  - {id: c1, name: C1, phone: "+8613900000201", languages: [zh], skills: {general: 1}}
supervisors:
  - {id: s2, name: S2, phone: "+8613900000302", on_call: [{days: sun, hours: "09:00-10:00"}]}
"""


def test_duplicate_triggers_page_each_on_call_supervisor_once(
    twilio, redis, clock, hotline_config, jobs_runtime, rig
):
    import_roster(redis, clock, hotline_config)
    twilio.post("/voice")
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "我不想活了"})
    twilio.post("/voice/crisis?lang=zh&why=danger_key_wait")
    # No worker is running: the caller's path went on without sending the page itself.
    assert messages(rig) == []
    assert Queue("crisis", connection=redis).count == 1

    run_jobs(redis)

    sent = messages(rig)
    assert [message["to"] for message in sent] == ["+8613900000301"]
    assert "Crisis call" in sent[0]["body"] and "5678" in sent[0]["body"]
    assert "+8613812345678" not in sent[0]["body"]  # the caller's number is masked
    (alert,) = recent_alerts(redis)
    assert (alert["call"], alert["trigger"], alert["state"]) == (CALL, "danger_key", "paged")
    assert alert["paged"] == ["s1"]
    assert IncidentLog(redis).get(CALL).summary()["supervisors_paged"] == "s1"

    page_supervisors(CALL)  # a job run twice (a retry, a duplicate) pages nobody twice
    assert len(messages(rig)) == 1


def test_a_failed_page_is_retried_without_paging_twice(
    twilio, redis, clock, hotline_config, jobs_runtime, rig
):
    import_roster(redis, clock, hotline_config)
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    job = Queue("crisis", connection=redis).jobs[0]
    assert job.retries_left == 5 and job.retry_intervals[0] == 1

    requests.put(
        f"{rig.carrier_url}/carrier/faults",
        json={"rest_500": 1.0, "rest_match": "Messages", "limits": {"rest_500": 1}},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).raise_for_status()
    with pytest.raises(Exception, match="20500"):
        page_supervisors(CALL)
    assert messages(rig) == []
    assert page_supervisors(CALL) == "paged"
    assert len(messages(rig)) == 1


def test_nobody_on_call_pages_every_supervisor(
    twilio, redis, clock, hotline_config, jobs_runtime, rig
):
    import_roster(redis, clock, hotline_config, ONLY_OFF_CALL)
    twilio.post("/voice/language?t=1", {"Digits": "9"})

    run_jobs(redis)

    assert [message["to"] for message in messages(rig)] == ["+8613900000302"]


def test_no_roster_records_that_nobody_could_be_paged(twilio, redis, jobs_runtime, rig):
    twilio.post("/voice/language?t=1", {"Digits": "9"})

    assert page_supervisors(CALL) == "nobody"
    assert "unpaged" in [step["kind"] for step in IncidentLog(redis).get(CALL).steps]
    assert messages(rig) == []


# --- escalation by an agent on a connected call ----------------------------------------------


def test_an_agent_adds_the_on_call_supervisor_to_the_conference_once(
    app, redis, connected, jobs_runtime, rig
):
    client = app.test_client()
    token = token_for(redis, "c1-user", "c1")

    first = escalate(client, {"target": "supervisor"}, token)
    again = escalate(client, {"target": "supervisor"}, token)

    assert first.status_code == 200, first.json
    assert (first.json["added"], first.json["new"]) == ("s1", True)
    assert first.json["number"] != "+8613900000301"  # masked
    assert again.json["new"] is False
    # The supervisor's phone answers and hangs up within a second of the stand-in's fast clock,
    # so the room is judged from the leg's transcript, not from who is in it at one moment.
    (leg,) = rig.wait_until(lambda: rig.legs_to("+8613900000301"), what="the supervisor's leg")
    joined = rig.wait_until(
        lambda: [
            entry["name"]
            for entry in rig.transcript(leg["call_sid"])["entries"]
            if entry["kind"] == "conference" and entry["action"] == "joined"
        ],
        what="the supervisor in the room",
    )
    assert joined == ["RS1"]
    assert connected.get(CALL).heavy is True
    summary = IncidentLog(redis).get(CALL).summary()
    assert (summary["trigger"], summary["flagged_by"]) == ("agent_flag", "c1")
    assert summary["escalated_to"] == "s1"
    assert redis.exists(keys.crisis_alert(CALL))


def test_an_agent_without_a_token_uses_their_pin_for_the_crisis_line(
    app, redis, connected, jobs_runtime, hotline_config
):
    client = app.test_client()

    wrong = escalate(client, {"target": "crisis_line", "agent_id": "c1", "pin": "9999"})
    right = escalate(client, {"target": "crisis_line", "agent_id": "c1", "pin": "2001"})

    assert wrong.status_code == 401
    assert right.status_code == 200
    assert right.json["added"] == hotline_config.crisis.numbers["zh"]
    assert redis.hget(keys.agent("c1"), "pin").startswith(b"scrypt:")  # only a salted hash


def test_a_plain_pin_an_older_version_stored_escalates_once_and_is_hashed(
    app, redis, connected, jobs_runtime
):
    redis.hset(keys.agent("c1"), "pin", "2001")
    client = app.test_client()

    wrong = escalate(client, {"target": "crisis_line", "agent_id": "c1", "pin": "2002"})
    assert wrong.status_code == 401 and redis.hget(keys.agent("c1"), "pin") == b"2001"
    right = escalate(client, {"target": "crisis_line", "agent_id": "c1", "pin": "2001"})

    assert right.status_code == 200
    assert redis.hget(keys.agent("c1"), "pin").startswith(b"scrypt:")


def test_only_the_agent_on_a_connected_call_may_escalate(app, redis, connected, jobs_runtime):
    client = app.test_client()
    other = token_for(redis, "c2-user", "c2")
    boss = token_for(redis, "ops-user", None, role="ops")

    assert escalate(client, {"target": "supervisor"}, other).status_code == 403
    assert escalate(client, {"target": "supervisor"}, boss).status_code == 403
    assert escalate(client, {"target": "supervisor"}, "hl_forged").status_code == 401
    assert escalate(client, {"target": "nobody"}, other).status_code == 422
    connected.update(CALL, reservation="")
    mine = token_for(redis, "c1-user", "c1")
    assert escalate(client, {"target": "supervisor"}, mine).status_code == 409
