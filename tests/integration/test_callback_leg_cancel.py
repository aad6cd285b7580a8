"""A callback whose agent hangs up while the caller's phone still rings has that ringing stopped:
a dispatch job cancels the callback's leg (the agent's webhook answers at once, with no REST
call), so the next offer of the task never rings the same phone beside it. A leg the caller
already answered is left alone: they hear that we will call again, as before.

The whole hotline app is served to the stand-in over HTTP; the agent's side is its signed
webhooks, and the dispatch jobs run in this test, as the worker would run them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rq.job import Job

from queues import keys, runtime
from queues.sweep import sweep
from routing.roster import parse_roster
from tests.fixtures.app import Twilio
from tests.fixtures.carrier import (
    AUTH_TOKEN,
    serving_app,
    transcript_of,
)
from tests.fixtures.dispatch import run_dispatch_jobs
from tests.fixtures.twiml import Doc
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

CALL = "CA" + "3" * 32
AGENT_LEG = "CA" + "9" * 32
HUNG_UP = {"CallSid": AGENT_LEG, "CallStatus": "completed", "DialCallStatus": "completed"}
# The callers' own phones: one rings until Twilio gives up, one picks up after a while.
NEVER_ANSWERS = "+8613812340001"
ANSWERS_LATE = "+8613812340002"
# Call seconds before the late phone picks up: long enough, at the time scale below, for the
# agent's hang-up to be posted while it still rings on a busy machine (2 s).
ANSWER_AFTER = 8
PHONES = {
    NEVER_ANSWERS: {"name": "caller", "role": "caller", "answer_after": "never"},
    ANSWERS_LATE: {"name": "caller", "role": "caller", "answer_after": ANSWER_AFTER, "stay": 120},
}
# Real seconds a call second lasts: the callback's 30 s ring runs 7.5 s, far past the cancel.
TIME_SCALE = 0.25
AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
ROSTER = """
timezone: Asia/Shanghai
agents:
  - {id: d1, name: D1, phone: "+8613900000901", languages: [zh], skills: {family: 3},
     shifts: [{days: daily, hours: "00:00-24:00"}]}
"""


@pytest.fixture
def served(app_env: pytest.MonkeyPatch, redis, redis_url: str, clock) -> Iterator[dict[str, Any]]:
    """The stand-in with the callers' phones, and the hotline app served to it over HTTP."""
    with serving_app(app_env, PHONES, redis_url, clock, time_scale=TIME_SCALE) as found:
        yield found


def transcript(served: dict[str, Any], call_sid: str) -> dict[str, Any]:
    """A call's transcript through the stand-in's control API."""
    return transcript_of(served["carrier_url"], call_sid)


def rest_requests(served: dict[str, Any]) -> list[dict]:
    """Every REST request the stand-in has answered so far."""
    network = served["hub"].network
    with network.cond:
        return list(network.exchanges)


def kinds(served: dict[str, Any], call_sid: str) -> list[str]:
    """The kinds of a leg's transcript entries, in order."""
    return [e["kind"] for e in transcript(served, call_sid)["entries"]]


def callback_accepted(served: dict[str, Any], number: str) -> tuple[runtime.Runtime, str]:
    """A callback to number that d1 accepted, its dial job queued; (runtime, reservation)."""
    app = served["app"]
    rt = runtime.of(app)
    routing = rt.routing
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    routing.board.import_roster(roster, rt.now() - 60)
    routing.board.set_presence("d1", "available", rt.now())
    routing.calls.start(CALL, number)
    assert routing.room.enqueue(
        CALL, area="family", language="zh", now=rt.now() - 30, callback_number=number
    )
    match = routing.matcher.match_call(CALL, rt.now())
    assert (match.agent_id, match.kind) == ("d1", "callback")
    rid = match.reservation_id
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=served["app_url"])
    answer = twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": AGENT_LEG, "Digits": "1"})
    assert Doc.parse(answer).first("Conference").text == rid
    return rt, rid


def callback_ringing(served: dict[str, Any], number: str) -> tuple[runtime.Runtime, str, str]:
    """A callback to number that d1 accepted, its leg ringing; (runtime, reservation, leg)."""
    rt, rid = callback_accepted(served, number)
    # The dial job calls the caller back and notes its leg on the call's record.
    run_dispatch_jobs(rt.redis)
    leg = rt.routing.calls.get(CALL).callback_leg
    assert leg and transcript(served, leg)["to"] == number
    poll(lambda: "ringing" in kinds(served, leg), 5.0, "the caller's phone to ring")
    return rt, rid, leg


def hang_up_agent(served: dict[str, Any], rid: str) -> None:
    """The agent hangs up: their webhook answers at once and makes no REST request itself."""
    twilio = Twilio(served["app"].test_client(), token=AUTH_TOKEN, base=served["app_url"])
    before = len(rest_requests(served))
    reply = twilio.post(f"/voice/agent/done?res={rid}", HUNG_UP)
    assert reply.status_code == 200 and Doc.parse(reply).verbs() == []
    assert rest_requests(served)[before:] == []


def cancel_requests(served: dict[str, Any], leg: str) -> list[dict[str, str]]:
    """The forms of the REST requests that told this leg `canceled`."""
    return [
        dict(e["form"])
        for e in rest_requests(served)
        if e["method"] == "POST"
        and e["path"].endswith(f"/Calls/{leg}.json")
        and dict(e["form"]).get("Status") == "canceled"
    ]


def test_a_callback_leg_still_ringing_when_the_agent_hangs_up_is_canceled(served, redis):
    rt, rid, leg = callback_ringing(served, NEVER_ANSWERS)

    hang_up_agent(served, rid)
    assert rt.routing.reservations.get(rid).state == "agent-left"
    assert transcript(served, leg)["status"] == "ringing"  # nothing stopped it yet
    run_dispatch_jobs(rt.redis)

    # Ended by the cancel, far inside the 30 s the phone would otherwise ring (no-answer).
    assert served["hub"].driver.wait_finished(leg, 10.0), "the callback leg still rings"
    ended = transcript(served, leg)
    assert ended["status"] == "canceled"
    assert "answered" not in [e["kind"] for e in ended["entries"]]
    assert len(cancel_requests(served, leg)) == 1
    assert Job.fetch(f"cancel-callback-{leg}", connection=redis).return_value() == "canceled"
    # The leg's last status report reaches the hotline: a cancel is no attempt of the caller's.
    poll(
        lambda: [
            e
            for e in transcript(served, leg)["entries"]
            if e["kind"] == "webhook"
            and e["path"].startswith("/voice/connect/callback-status")
            and e["status"] == 200
        ],
        5.0,
        "the callback leg's status report",
    )
    queued = rt.routing.room.get(CALL)
    assert (queued.state, queued.reservation, queued.attempts) == ("scheduled", "", 0)
    assert redis.zscore(keys.due_callbacks(), CALL) == pytest.approx(rt.now(), abs=0.01)
    # Due again: the next sweep offers it to the agent, who is free at once.
    report = sweep(redis, rt.config.routing, rt.now())
    assert report.callbacks_due == [CALL]
    assert [(m.call_sid, m.kind, m.agent_id) for m in report.matches] == [(CALL, "callback", "d1")]


def test_a_callback_leg_the_caller_answered_first_is_left_alone(served, redis):
    rt, rid, leg = callback_ringing(served, ANSWERS_LATE)
    hang_up_agent(served, rid)
    # The caller picks up before the job runs: the hotline tells them we will call again.
    gone = rt.config.prompt("callback_agent_gone", "zh")
    poll(lambda: "answered" in kinds(served, leg), 10.0, "the caller to answer")

    run_dispatch_jobs(rt.redis)

    assert served["hub"].driver.wait_finished(leg, 20.0), "the callback leg never ended"
    ended = transcript(served, leg)
    heard = [e["text"] for e in ended["entries"] if e["kind"] == "heard"]
    assert heard == [gone]
    hangup = [e for e in ended["entries"] if e["kind"] == "hangup"]
    assert ended["status"] == "completed" and hangup[0]["by"] == "app"
    # The job did ask, and the answered leg was left to the end of its words.
    assert len(cancel_requests(served, leg)) == 1
    assert Job.fetch(f"cancel-callback-{leg}", connection=redis).return_value() == "answered"
    queued = rt.routing.room.get(CALL)
    assert (queued.state, queued.attempts) == ("scheduled", 0)


def test_an_agent_hanging_up_while_the_callback_is_being_placed_still_has_it_canceled(
    served, redis, monkeypatch
):
    rt, rid = callback_accepted(served, NEVER_ANSWERS)
    place = rt.gateway.create_call

    def hung_up_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # The dial job already found the offer accepted; the agent's hang-up lands before the
        # leg exists, so the finish step finds no leg on the record to cancel.
        hang_up_agent(served, rid)
        return place(*args, **kwargs)

    monkeypatch.setattr(rt.gateway, "create_call", hung_up_meanwhile)

    run_dispatch_jobs(rt.redis)

    assert rt.routing.reservations.get(rid).state == "agent-left"
    leg = rt.routing.calls.get(CALL).callback_leg
    assert leg and transcript(served, leg)["to"] == NEVER_ANSWERS
    # The dial job, seeing the agent gone once its leg was noted, had it cancelled.
    assert served["hub"].driver.wait_finished(leg, 10.0), "the callback leg still rings"
    assert transcript(served, leg)["status"] == "canceled"
    assert len(cancel_requests(served, leg)) == 1
