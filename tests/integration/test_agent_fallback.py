"""When Twilio cannot use the app's answer on an agent's leg (the webhook was too slow, or
failed), it asks the leg's fallback URL, which carries on from where the offer stands: the
agent who answered hears the whisper and can take the call, rather than being hung up on and
charged a missed offer."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from queues import dispatch, runtime, session
from queues.agents import AgentBoard
from queues.matcher import Matcher
from queues.reservations import Reservations
from queues.waiting import WaitingRoom
from tests.fixtures.dispatch import CALLER, job_urls, run_dispatch_jobs, staff
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

AGENT_LEG = "CA" + "b" * 32
TIMED_OUT = {"CallSid": AGENT_LEG, "ErrorCode": "11205", "ErrorUrl": "http://localhost/whisper"}


@pytest.fixture
def rt(app, redis, clock, hotline_config) -> Iterator[runtime.Runtime]:
    """The app's jobs runtime (no REST call is made by these webhooks)."""
    current = runtime.Runtime(redis, None, hotline_config, "http://localhost", clock)  # type: ignore[arg-type]
    runtime.install(lambda: current)
    app.extensions["hotline"] = current
    yield current
    runtime.install(None)


@pytest.fixture
def offer(rt: runtime.Runtime) -> str:
    """A caller waiting in general, offered to the agent g1: the reservation's id."""
    staff(rt)
    room = WaitingRoom(rt.redis, rt.config.routing, script=rt.script)
    assert room.enqueue(CALLER, area="general", language="zh", now=rt.now())
    match = Matcher(rt.redis, rt.config.routing).match_call(CALLER, rt.now())
    assert match is not None
    return match.reservation_id


def path_of(url: str) -> str:
    """A URL's path and query, to post to the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_an_agent_whose_whisper_timed_out_hears_it_from_the_fallback_and_takes_the_call(
    twilio, rt, offer
):
    whisper = Doc.parse(twilio.post(f"/voice/agent/fallback?res={offer}", TIMED_OUT))
    taken = Doc.parse(twilio.post(path_of(whisper.first("Gather").get("action")), {"Digits": "1"}))

    assert "Conference" in [element.tag for element in taken.root.iter()]
    assert Reservations(rt.redis, rt.config.routing).get(offer).state == "accepted"
    agent = AgentBoard(rt.redis, rt.config.routing).get("g1")
    assert agent.misses == 0 and agent.cool_until == 0


def test_an_accept_twilio_gave_up_on_still_brings_the_agent_to_the_caller(twilio, rt, offer):
    session.hand_to_agent(rt, offer)
    joined = Doc.parse(twilio.post(f"/voice/agent/fallback?res={offer}", TIMED_OUT))
    assert "Conference" in [element.tag for element in joined.root.iter()]


def test_an_offer_that_moved_on_tells_the_agent_the_caller_has_gone(twilio, rt, offer):
    WaitingRoom(rt.redis, rt.config.routing).hang_up(CALLER, rt.now())
    gone = Doc.parse(twilio.post(f"/voice/agent/fallback?res={offer}", TIMED_OUT))
    assert gone.verbs()[-1] == "Hangup"


def test_the_agent_is_rung_with_the_fallback(carrier_rt, rig) -> None:  # noqa: F811
    staff(carrier_rt)
    room = WaitingRoom(carrier_rt.redis, carrier_rt.config.routing, script=carrier_rt.script)
    assert room.enqueue(CALLER, area="general", language="zh", now=carrier_rt.now())
    match = Matcher(carrier_rt.redis, carrier_rt.config.routing).match_call(
        CALLER, carrier_rt.now()
    )
    dispatch.dispatch(carrier_rt.redis, [match])
    run_dispatch_jobs(carrier_rt.redis)

    (ring,) = [e for e in rig.hub.network.exchanges if e["path"].endswith("/Calls.json")]
    fallback = dict(ring["form"])["FallbackUrl"]
    assert urlsplit(fallback).path == "/voice/agent/fallback"
    assert parse_qs(urlsplit(fallback).query)["res"] == [match.reservation_id]


@pytest.fixture
def carrier_rt(redis, rig, clock, hotline_config) -> Iterator[runtime.Runtime]:  # noqa: F811
    """The runtime ring jobs use, with the carrier as Twilio."""
    current = runtime.Runtime(
        redis, rig.gateway, hotline_config, rig.app_url, clock, webhooks=job_urls(rig.app_url)
    )
    runtime.install(lambda: current)
    yield current
    runtime.install(None)
