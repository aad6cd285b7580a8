"""An agent who answers while Redis restarts is held a few seconds rather than hung up on: the
offer is kept, and once Redis answers the agent hears the whisper and can take the call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis as redis_lib

from ivr.agents.legs import REDIS_HOLD_S
from queues.agents import AgentBoard
from queues.embedded import EmbeddedRedis, _alive
from queues.matcher import Matcher
from queues.reservations import Reservations
from queues.waiting import WaitingRoom
from routing.roster import parse_roster
from tests.fixtures.app import AREAS, Twilio
from tests.fixtures.twiml import Doc

ROSTER = """
timezone: Asia/Shanghai
agents:
  - {id: g1, name: G1, phone: "+8613900000401", languages: [zh], skills: {general: 1},
     shifts: [{days: daily, hours: "00:00-24:00"}]}
"""
CALLER = "CA" + "f" * 32
AGENT_LEG = "CA" + "a" * 32


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, so the test can stop and start it; never left running."""
    embedded = EmbeddedRedis(tmp_path / "redis")
    embedded.url = embedded.start()
    yield embedded
    pid = embedded.pid
    embedded.stop()
    assert pid is None or not _alive(pid), "embedded redis-server left running"


@pytest.fixture
def offer(server, clock, hotline_config) -> str:
    """A caller waiting in general and the agent offered them: the reservation's id."""
    client = redis_lib.Redis.from_url(server.url)
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    now = clock().timestamp()
    board = AgentBoard(client, hotline_config.routing)
    board.import_roster(roster, now - 10)
    board.set_presence("g1", "available", now - 5)
    room = WaitingRoom(client, hotline_config.routing)
    assert room.enqueue(CALLER, area="general", language="zh", now=now)
    match = Matcher(client, hotline_config.routing).match_call(CALLER, now)
    assert match is not None
    client.close()
    return match.reservation_id


@pytest.fixture
def hotline(app_env, server, clock, hotline_config) -> Twilio:
    """The app on that Redis."""
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", server.url)
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    return Twilio(app.test_client())


def path_of(url: str) -> str:
    """A URL's path and query, to post to the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_an_agent_answering_while_redis_restarts_hears_the_whisper_once_it_is_back(
    hotline, server, offer, hotline_config
):
    server.stop()
    held = Doc.parse(hotline.post(f"/voice/agent/whisper?res={offer}", {"CallSid": AGENT_LEG}))
    # Silence, then the whisper again: the agent is not hung up on.
    assert held.verbs() == ["Pause", "Redirect"]
    again = path_of(held.first("Redirect").text)
    assert parse_qs(urlsplit(again).query)["res"] == [offer]

    server.url = server.start()
    whisper = Doc.parse(hotline.post(again, {"CallSid": AGENT_LEG}))
    gather = whisper.first("Gather")
    taken = Doc.parse(hotline.post(path_of(gather.get("action")), {"Digits": "1"}))
    assert "Conference" in [e.tag for e in taken.root.iter()]
    client = redis_lib.Redis.from_url(server.url)
    assert Reservations(client, hotline_config.routing).get(offer).state == "accepted"


def test_an_agent_is_hung_up_on_once_redis_stays_away_past_the_hold(hotline, server, offer, clock):
    server.stop()
    started = int(clock().timestamp() - REDIS_HOLD_S - 1)
    ended = Doc.parse(
        hotline.post(f"/voice/agent/whisper?res={offer}&since={started}", {"CallSid": AGENT_LEG})
    )
    assert ended.verbs() == ["Hangup"]
