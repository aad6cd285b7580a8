"""Redis dies in the middle of a crisis call: the caller still reaches a person or a line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from queues.agents import AgentBoard
from queues.embedded import EmbeddedRedis, _alive
from routing.roster import parse_roster
from tests.fixtures.app import AREAS, Twilio
from tests.fixtures.crisis import PHONES, ROSTER
from tests.fixtures.twiml import Doc


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, so the test can stop it; never left running."""
    embedded = EmbeddedRedis(tmp_path / "redis")
    embedded.url = embedded.start()
    pid = embedded.pid
    yield embedded
    embedded.stop()
    assert pid is not None and not _alive(pid), "embedded redis-server left running"


@pytest.fixture
def hotline(app_env, server, clock, hotline_config) -> Twilio:
    """The app on that Redis, with the crisis agents on the roster and available."""
    from hotline.app import create_app

    url = server.url
    app_env.setenv("REDIS_URL", url)
    client = redis_lib.Redis.from_url(url)
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    board = AgentBoard(client, hotline_config.routing)
    board.import_roster(roster, clock().timestamp() - 10)
    for agent in ("c1", "c2", "c3"):
        board.set_presence(agent, "available", clock().timestamp())
    client.close()
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    return Twilio(app.test_client())


def test_redis_killed_mid_call(hotline, server, hotline_config):
    ringing = Doc.parse(hotline.post("/voice/language?t=1", {"Digits": "9"}))
    assert sorted(n.text for n in ringing.all("Number")) == sorted(PHONES.values())
    whisper = ringing.first("Number").get("url")

    server.stop()

    # The agent who answers still hears the whisper and is put through: no Redis needed.
    heard = Doc.parse(hotline.post(whisper, {"CallSid": "CA-leg"}))
    assert heard.verbs() == ["Gather", "Hangup"]
    answer = heard.first("Gather").get("action")
    taken = Doc.parse(hotline.post(answer, {"CallSid": "CA-leg", "Digits": "1"}))
    assert taken.verbs() == []
    done = Doc.parse(
        hotline.post(
            "/voice/crisis/agents?lang=zh", {"DialCallStatus": "completed", "DialBridged": "true"}
        )
    )
    assert done.verbs() == ["Say", "Hangup"]

    # Nobody took it: the rollover dials the crisis line without reading Redis.
    rolled = Doc.parse(
        hotline.post("/voice/crisis/agents?lang=zh", {"DialCallStatus": "no-answer"})
    )
    assert [n.text for n in rolled.all("Number")] == [hotline_config.crisis.numbers["zh"]]

    # A new crisis with Redis gone goes straight to the crisis line (how soon is for
    # `hotline bench crisis` to measure: its Redis-stopped figure).
    fresh = Doc.parse(hotline.post("/voice/language?t=1", {"Digits": "9", "CallSid": "CA-new"}))
    assert [n.text for n in fresh.all("Number")] == [hotline_config.crisis.numbers["zh"]]
    lines = Doc.parse(hotline.post("/voice/crisis/next?lang=zh&n=0", {"DialCallStatus": "busy"}))
    assert [n.text for n in lines.all("Number")] == [hotline_config.crisis.fallback]
    last = Doc.parse(hotline.post("/voice/crisis/next?lang=zh&n=1", {"DialCallStatus": "busy"}))
    assert hotline_config.prompt("crisis_failed", "zh") in last.said()
