"""The caller's session as one queue-layer service: joining queues then matches then rings,
every poll says a true place and wait (adopting a caller routing never saw), a callback keeps
the place, the accept hands the caller over, and Redis going away is never the caller's error.
The webhook URLs jobs give Twilio are the app's own routes."""

from __future__ import annotations

import socket
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from redis import Redis
from rq import Queue

from ivr.job_urls import webhook_urls
from queues import dispatch, runtime, session
from queues.agents import AgentBoard
from queues.calls import CallStore
from routing.menu import summarise
from routing.roster import parse_roster

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32
LATER_CALL = "CA" + "2" * 32
NUMBER = "+8613812345678"
ROSTER = """
timezone: Asia/Shanghai
agents:
  - {id: w1, name: W1, phone: "+8613900000001", languages: [zh], skills: {labor: 2},
     shifts: [{days: daily, hours: "00:00-24:00"}]}
"""


@pytest.fixture
def rt(redis, clock, hotline_config) -> runtime.Runtime:
    """A runtime on the test Redis and clock; nothing here reaches Twilio."""
    return runtime.Runtime(redis, None, hotline_config, "http://localhost", clock)  # type: ignore[arg-type]


def caller(call_sid: str = CALL, number: str = NUMBER) -> session.WaitingCaller:
    """A caller who chose labour in Chinese and answered no intake question."""
    return session.WaitingCaller(call_sid, number, "labor", "zh")


def staff(rt: runtime.Runtime, presence: str) -> AgentBoard:
    """A labour consultant on shift, with the given presence."""
    config = rt.config
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=config.areas, languages=["zh", "en"])
    board = AgentBoard(rt.redis, config.routing)
    board.import_roster(roster, rt.now() - 600)
    board.set_presence("w1", presence, rt.now() - 600)
    return board


def dispatch_jobs(rt: runtime.Runtime) -> list[str]:
    """The ids of the jobs waiting on the dispatch queue."""
    return Queue(dispatch.DISPATCH_QUEUE, connection=rt.redis).job_ids


def test_joining_queues_the_caller_and_rings_a_free_agent_at_once(rt):
    staff(rt, "available")
    assert session.join(rt, caller(), rt.now())

    queued = rt.routing.room.get(CALL)
    assert queued is not None and queued.state == "reserved"
    assert dispatch_jobs(rt) == [f"ring-{queued.reservation}"]
    # Joining twice (Twilio retried the webhook) neither queues nor rings again.
    assert not session.join(rt, caller(), rt.now())
    assert dispatch_jobs(rt) == [f"ring-{queued.reservation}"]


def test_each_poll_says_the_place_and_a_wait_from_the_agents_on_duty(rt, clock):
    staff(rt, "on_break")  # on duty, not free: the estimate counts them, nobody is rung
    assert session.join(rt, caller(), rt.now())
    assert session.join(rt, caller(LATER_CALL, "+8613812340000"), rt.now())

    assert session.place_and_wait(rt, caller(), 0) == session.Place(ahead=0, minutes=5)
    # One agent, a typical talk time of five minutes each: the second caller waits two rounds.
    assert session.place_and_wait(rt, caller(LATER_CALL), 0) == session.Place(1, 10)
    assert dispatch_jobs(rt) == []


def test_the_count_of_agents_on_duty_is_reused_for_half_a_minute(rt, clock):
    board = staff(rt, "on_break")
    assert session.join(rt, caller(), rt.now())
    assert session.place_and_wait(rt, caller(), 0).minutes == 5

    board.set_presence("w1", "offline", rt.now())
    assert session.place_and_wait(rt, caller(), 0).minutes == 5
    clock.now += timedelta(seconds=session.STAFFED_CACHE_S + 1)
    # Nobody on duty: no honest wait can be said, only the place.
    assert session.place_and_wait(rt, caller(), 0) == session.Place(ahead=0, minutes=None)


def test_a_poll_for_a_caller_routing_never_saw_adopts_them_from_when_twilio_queued_them(rt):
    answered = session.WaitingCaller(CALL, NUMBER, "labor", "zh", ("1",))

    assert session.place_and_wait(rt, answered, 120) == session.Place(ahead=0, minutes=None)

    adopted = rt.routing.room.get(CALL)
    assert adopted is not None and adopted.arrival == pytest.approx(rt.now() - 120)
    record = CallStore(rt.redis).get(CALL)
    # The record was lost with Redis: the agent's whisper reads the summary written again.
    assert record is not None and record.area == "labor"
    assert record.summary == summarise(rt.config, "labor", "zh", ["1"]) != ""


def test_a_callback_keeps_the_place_of_a_caller_adopted_for_it(rt):
    assert session.callback(rt, caller(), "+8613811112222", 30)
    kept = rt.routing.room.get(CALL)
    assert kept is not None and kept.kind == "callback"
    assert kept.arrival == pytest.approx(rt.now() - 30)
    # A withheld number cannot be called back: the caller keeps waiting instead.
    assert not session.callback(rt, caller(LATER_CALL), "anonymous", 0)


def test_leaving_frees_the_agent_rung_for_the_caller(rt):
    board = staff(rt, "available")
    assert session.join(rt, caller(), rt.now())
    reservation = rt.routing.room.get(CALL).reservation

    session.leave(rt, CALL, "abandoned")

    assert rt.routing.room.get(CALL).state != "reserved"
    assert f"withdraw-{reservation}" in dispatch_jobs(rt)
    assert board.get("w1").reservation == ""


def test_the_accept_hands_the_caller_to_the_agent_once(rt):
    staff(rt, "available")
    assert session.join(rt, caller(), rt.now())
    reservation = rt.routing.room.get(CALL).reservation

    first = session.hand_to_agent(rt, reservation)
    again = session.hand_to_agent(rt, reservation)

    assert first.changed and first.state == "accepted" and not again.changed
    assert dispatch_jobs(rt).count(f"bridge-{reservation}") == 1
    assert CallStore(rt.redis).get(CALL).agent == "w1"


def test_with_redis_gone_the_caller_s_steps_say_only_what_is_true(hotline_config, clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    gone = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2, socket_timeout=0.2)
    rt = runtime.Runtime(gone, None, hotline_config, "http://localhost", clock)  # type: ignore[arg-type]

    assert not session.join(rt, caller(), rt.now())
    assert session.place_and_wait(rt, caller(), 60) == session.Place()
    assert not session.callback(rt, caller(), "+8613811112222", 60)
    session.leave(rt, CALL, "abandoned")  # logged, never raised to the webhook


EXPECTED_ENDPOINTS = {
    "whisper": "agent_calls.whisper",
    "agent_status": "agent_calls.status",
    "agent_fallback": "agent_calls.fallback",
    "agent_gone": "agent_calls.gone",
    "agent_unreached": "agent_calls.unreached",
    "caller_to_agent": "bridge.queued",
    "callback": "bridge.callback",
    "callback_status": "bridge.callback_status",
}


def test_jobs_are_given_the_app_s_own_webhook_routes_under_its_public_url(app):
    urls = webhook_urls(app, "https://hotline.example/")
    routes = app.url_map.bind("hotline.example")
    for name, endpoint in EXPECTED_ENDPOINTS.items():
        url = urlsplit(getattr(urls, name)("R-1"))
        assert (url.scheme, url.netloc) == ("https", "hotline.example"), name
        assert routes.match(url.path, method="POST")[0] == endpoint, name
        assert parse_qs(url.query) == {"res": ["R-1"]}, name
    stepped = urlsplit(urls.agent_stepped_out("R-1", 2, False))
    assert routes.match(stepped.path, method="POST")[0] == "agent_calls.stepped_out"
    assert parse_qs(stepped.query) == {"res": ["R-1"], "n": ["2"], "live": ["0"]}


def test_the_app_s_runtime_carries_its_webhook_urls(app):
    whisper = runtime.of(app).webhooks.whisper("R-1")
    assert urlsplit(whisper).path == "/voice/agent/whisper"
