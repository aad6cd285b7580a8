"""The static fallback's crisis lines report to the app: a caller it put through to a crisis
line is recorded as a crisis (trigger "fallback") and the supervisors alerted, once per call
whatever the repeats; the line's leg is written into the incident."""

from __future__ import annotations

from rq import Queue

from ivr.crisis.fallback import STATUS_PATH
from queues import events, keys
from queues.incidents import IncidentLog
from tests.fixtures.ops import sign_in
from tests.fixtures.twiml import Doc

CALLER = "CA" + "a" * 32
LINE_LEG = "CA" + "b" * 32
LINE = "+8612356"


def report(twilio, status: str, **extra: str):
    """One status callback of the crisis line's leg, as Twilio sends it for a <Number>."""
    form = {
        "CallSid": LINE_LEG,
        "ParentCallSid": CALLER,
        "CallStatus": status,
        "Direction": "outbound-dial",
        "To": LINE,
        **extra,
    }
    reply = twilio.post(STATUS_PATH, form)
    assert reply.status_code == 200 and Doc.parse(reply).verbs() == []
    return reply


def test_a_caller_the_fallback_put_through_is_alerted_once(app, hotline, twilio, redis):
    # The line's leg events, each twice (Twilio retries, the stand-in's duplicates).
    for status, extra in (
        ("queued", {}),
        ("queued", {}),
        ("in-progress", {}),
        ("in-progress", {}),
        ("completed", {"CallDuration": "95"}),
        ("completed", {"CallDuration": "95"}),
    ):
        report(twilio, status, **extra)

    incident = IncidentLog(redis).get(CALLER)
    assert incident is not None
    assert incident.summary()["trigger"] == "fallback"
    assert [step["kind"] for step in incident.steps] == ["opened", "rung", "answered", "closed"]
    assert incident.first("rung")["target"] == LINE
    assert incident.first("answered")["target"] == LINE
    closed = incident.first("closed")
    assert (closed["outcome"], closed["talk_s"]) == ("crisis_line", "95")
    # One crisis and one alert in the event stream, one alert for the consoles, one page.
    kinds = [e["kind"] for e in events.recent(redis, 100) if e.get("call") == CALLER]
    assert sorted(kinds) == ["crisis", "crisis-alert"]
    assert [fields[b"call"] for _, fields in redis.xrange(keys.crisis_alerts())] == [
        CALLER.encode()
    ]
    assert f"crisis-page-{CALLER}" in Queue("crisis", connection=redis).job_ids
    feed = sign_in(app, "sam").get("/api/v1/alerts").json["alerts"]
    assert [a["call"] for a in feed if a["kind"] == "crisis"] == [CALLER]


def test_a_line_that_never_answers_still_alerts_and_says_so(hotline, twilio, redis):
    report(twilio, "queued")
    report(twilio, "no-answer")

    incident = IncidentLog(redis).get(CALLER)
    assert incident is not None
    assert [step["kind"] for step in incident.steps] == ["opened", "rung", "no_answer"]
    assert incident.first("no_answer")["status"] == "no-answer"
    assert incident.first("closed") is None
    assert redis.hget(keys.crisis_alert(CALLER), "trigger") == b"fallback"


def test_a_caller_already_on_the_crisis_path_keeps_their_one_incident_and_alert(
    hotline, twilio, redis
):
    # The danger key opened the crisis path; then a webhook of it failed and the fallback
    # put the caller through.
    twilio.post("/voice/language?t=1", {"Digits": "9", "CallSid": CALLER})
    report(twilio, "in-progress")

    incident = IncidentLog(redis).get(CALLER)
    assert incident.summary()["trigger"] == "danger_key"
    assert [s["kind"] for s in incident.steps].count("opened") == 1
    assert "retriggered" not in [s["kind"] for s in incident.steps]
    alerts = [e for e in events.recent(redis, 100) if e["kind"] == "crisis-alert"]
    assert len(alerts) == 1


def test_a_report_with_no_call_records_nothing(twilio, redis):
    twilio.post(STATUS_PATH, {"CallSid": "", "CallStatus": "in-progress", "To": LINE})

    assert redis.zcard(keys.incidents()) == 0


def test_an_unsigned_report_is_refused(twilio, redis):
    reply = twilio.post(
        STATUS_PATH, {"ParentCallSid": CALLER, "CallStatus": "in-progress"}, signature="forged"
    )

    assert reply.status_code == 403
    assert IncidentLog(redis).get(CALLER) is None
