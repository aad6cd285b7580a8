"""An agent hanging up ends the caller's conference through Twilio alone, so a caller is never
left waiting in silence, even when Redis is down; with Redis up, the agent's webhooks answer at
once and jobs make the REST requests."""

from __future__ import annotations

import pytest
import redis as redis_lib

from queues import dispatch
from queues.agents import AgentBoard
from tests.fixtures.app import Twilio, closed_port
from tests.fixtures.carrier import (
    AUTH_TOKEN,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)
from tests.fixtures.jobs import run_jobs
from tests.fixtures.live_call import hotline_on, talking
from tests.fixtures.twiml import Doc

ROOM = "RS" + "7" * 32


@pytest.mark.parametrize(
    ("path", "form"),
    [
        # The agent's Dial action when they hang up, and their leg's final status callback
        # (the one that still comes when * had ended their Dial and Redis then failed).
        ("/voice/agent/done", {"CallStatus": "completed", "DialCallStatus": "completed"}),
        ("/voice/agent/status", {"CallStatus": "completed"}),
    ],
)
def test_the_agent_hanging_up_ends_the_conference_with_redis_down(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, path, form
) -> None:
    # A caller waits in a reservation's conference on the carrier (Twilio's stand-in).
    caller = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=caller), what="the caller to wait")
    rig.gateway.update_call(caller, url=f"{rig.app_url}/join?room={ROOM}")
    rig.wait_until(lambda: rig.gateway.find_conference(ROOM), what="the caller's conference")

    # The hotline with the carrier as its Twilio account and its Redis unreachable.
    app = hotline_on(rig, app_env, clock, f"redis://127.0.0.1:{closed_port()}/0")
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    reply = twilio.post(f"{path}?res={ROOM}", form)

    assert reply.status_code == 200
    Doc.parse(reply)  # valid TwiML, whatever it holds
    # Well before the carrier's own limit on a call (1,800 call seconds, 9 s here) could end it.
    rig.wait_until(
        lambda: rig.gateway.find_conference(ROOM) is None, 3.0, what="the conference to end"
    )
    transcript = rig.finish(caller)
    left = [e for e in transcript["entries"] if e["kind"] == "conference"]
    assert [e["action"] for e in left] == ["joined", "left"]


# --- With Redis up: the agent's webhooks answer at once, and jobs do the REST steps. ----------


def rest_requests(rig: Rig) -> list[dict]:
    """Every REST request the carrier has answered so far."""
    with rig.hub.network.cond:
        return list(rig.hub.network.exchanges)


def run_dispatch_jobs(redis_url: str) -> None:
    """Run the dispatch queue's jobs in this process."""
    run_jobs(redis_lib.Redis.from_url(redis_url), dispatch.DISPATCH_QUEUE)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/voice/agent/done", {"CallStatus": "completed", "DialCallStatus": "completed"}),
        ("/voice/agent/status", {"CallStatus": "completed"}),
    ],
)
def test_the_agent_hanging_up_is_answered_at_once_and_a_job_ends_the_conference(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url, path, form
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    before = len(rest_requests(rig))

    reply = twilio.post(f"{path}?res={rid}", form)

    assert reply.status_code == 200 and Doc.parse(reply).verbs() == []
    assert rest_requests(rig)[before:] == []  # no REST request held the webhook up
    assert AgentBoard(redis, app.config["HOTLINE"].routing).get("g1").activity == "wrap_up"
    # A second report of the same hang-up (the other webhook) queues nothing twice over.
    twilio.post("/voice/agent/status?res=" + rid, {"CallStatus": "completed"})
    run_dispatch_jobs(redis_url)
    rig.wait_until(lambda: rig.gateway.find_conference(rid) is None, 3.0, what="the end")
    transcript = rig.finish(caller)
    left = [e for e in transcript["entries"] if e["kind"] == "conference"]
    assert [e["action"] for e in left] == ["joined", "left"]


@pytest.mark.parametrize("caller_stays", [True, False])
def test_the_agent_stepping_out_is_answered_at_once_and_a_job_decides_menu_or_end(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url, caller_stays
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    # The agent's own leg, live on the carrier, whose Dial into the conference just ended.
    agent_leg = rig.start("press:1", "press:0", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=agent_leg), what="the agent's leg")
    if not caller_stays:
        # The caller hung up: the conference ended under the agent (the webhook cannot tell).
        rig.gateway.update_call(caller, status="completed")
        rig.wait_until(lambda: rig.gateway.find_conference(rid) is None, what="the end")
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    before = len(rest_requests(rig))

    reply = twilio.post(
        f"/voice/agent/done?res={rid}",
        {"CallSid": agent_leg, "CallStatus": "in-progress", "DialCallStatus": "completed"},
    )

    assert reply.status_code == 200
    assert rest_requests(rig)[before:] == []
    held = Doc.parse(reply)
    assert held.verbs() == ["Pause", "Redirect"]  # silence while the job looks
    fallback = held.first("Redirect").text
    assert fallback.startswith(f"/voice/agent/stepped-out?res={rid}&n=1")

    run_dispatch_jobs(redis_url)

    (moved,) = [
        e
        for e in rest_requests(rig)[before:]
        if e["method"] == "POST" and e["path"].endswith(f"/Calls/{agent_leg}.json")
    ]
    url = dict(moved["form"])["Url"]
    live = "1" if caller_stays else "0"
    assert url == f"{rig.app_url}/voice/agent/stepped-out?res={rid}&n=1&live={live}"
    # Where the job sends the agent: back to their menu, or told the call is over.
    menu = Doc.parse(twilio.post(url.removeprefix(rig.app_url), {"CallSid": agent_leg}))
    prompts = app.config["HOTLINE"]
    agent = AgentBoard(redis, prompts.routing).get("g1")
    if caller_stays:
        assert prompts.prompt("agent_menu", "zh") in menu.said()
        assert agent.activity == "talking"
    else:
        assert menu.said() == prompts.prompt("agent_call_ended", "zh")
        assert agent.activity == "wrap_up"
    # The hold's own redirect, coming late, changes nothing: the job decided.
    late = Doc.parse(twilio.post(fallback, {"CallSid": agent_leg}))
    assert late.verbs() in (["Pause", "Redirect"], [])
    assert AgentBoard(redis, prompts.routing).get("g1").activity == agent.activity


def test_the_hold_runs_out_without_a_job_and_redis_decides(
    rig: Rig, app_env: pytest.MonkeyPatch, clock, redis, redis_url
) -> None:
    app = hotline_on(rig, app_env, clock, redis_url)
    caller, rid = talking(rig, app)
    twilio = Twilio(app.test_client(), token=AUTH_TOKEN, base=rig.app_url)
    held = Doc.parse(
        twilio.post(
            f"/voice/agent/done?res={rid}",
            {"CallSid": "CA" + "a" * 32, "CallStatus": "in-progress"},
        )
    )
    fallback = held.first("Redirect").text
    prompts = app.config["HOTLINE"]

    # No worker took the job in time: the caller is still there as far as Redis knows.
    assert prompts.prompt("agent_menu", "zh") in Doc.parse(twilio.post(fallback)).said()

    # Stepping out again, after the caller's leg was reported over: the call has ended.
    twilio.post("/voice/status", {"CallSid": caller, "CallStatus": "completed"})
    ended = Doc.parse(
        twilio.post(
            f"/voice/agent/done?res={rid}",
            {"CallSid": "CA" + "a" * 32, "CallStatus": "in-progress"},
        )
    )
    assert ended.said() == prompts.prompt("agent_call_ended", "zh")
    assert AgentBoard(redis, prompts.routing).get("g1").activity == "wrap_up"
