"""A crisis while Redis is down still reaches the supervisors: once Redis is back, the crisis
line's leg reports and the incident and alert are written, dated from the trigger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
from rq import Queue

from queues import events
from queues.agents import AgentBoard
from queues.embedded import EmbeddedRedis, _alive
from queues.incidents import IncidentLog
from routing.roster import parse_roster
from tests.fixtures.app import AREAS, Twilio
from tests.fixtures.crisis import ROSTER
from tests.fixtures.twiml import Doc

CALLER_SID = "CA" + "d" * 32
LINE_LEG_SID = "CA" + "e" * 32


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
def hotline(app_env, server, clock, hotline_config) -> Twilio:
    """The app on that Redis, with crisis-trained agents on the roster and available."""
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", server.url)
    client = redis_lib.Redis.from_url(server.url)
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    board = AgentBoard(client, hotline_config.routing)
    board.import_roster(roster, clock().timestamp() - 10)
    for agent in ("c1", "c2", "c3"):
        board.set_presence(agent, "available", clock().timestamp())
    client.close()
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    return Twilio(app.test_client())


def line_reports(doc: Doc) -> str:
    """Where the crisis line's leg sends its status reports (a path with its query)."""
    number = doc.first("Number")
    url = number.get("statusCallback")
    assert url, "the crisis line's leg reports nowhere"
    assert "answered" in (number.get("statusCallbackEvent") or "").split()
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_crisis_while_redis_is_down_is_alerted_once_redis_is_back(
    hotline, server, clock, hotline_config
):
    triggered_at = clock().timestamp()
    server.stop()
    dialled = Doc.parse(hotline.post("/voice/language?t=1", {"Digits": "9", "CallSid": CALLER_SID}))
    assert [n.text for n in dialled.all("Number")] == [hotline_config.crisis.numbers["zh"]]
    report = line_reports(dialled)

    # Still down when the line answers: nothing to write yet, and the caller is not disturbed.
    still_down = hotline.post(report, {"CallSid": LINE_LEG_SID, "CallStatus": "in-progress"})
    assert Doc.parse(still_down).verbs() == []

    server.url = server.start()
    redis = redis_lib.Redis.from_url(server.url)
    assert IncidentLog(redis).get(CALLER_SID) is None
    Doc.parse(hotline.post(report, {"CallSid": LINE_LEG_SID, "CallStatus": "completed"}))

    incident = IncidentLog(redis).get(CALLER_SID)
    assert incident is not None
    summary = incident.summary()
    assert summary["trigger"] == "danger_key"
    assert abs(incident.opened_at - triggered_at) < 2
    crisis = [e for e in events.recent(redis, 100) if e["kind"] == "crisis"]
    assert [e["call"] for e in crisis] == [CALLER_SID]
    # The supervisors on call are paged as for any crisis.
    assert f"crisis-page-{CALLER_SID}" in Queue("crisis", connection=redis).job_ids

    # A repeated report changes nothing: one incident, one alert, one page.
    Doc.parse(hotline.post(report, {"CallSid": LINE_LEG_SID, "CallStatus": "completed"}))
    crisis = [e for e in events.recent(redis, 100) if e["kind"] in ("crisis", "crisis-alert")]
    assert len(crisis) == 2
    assert [s["kind"] for s in incident.steps].count("opened") == 1


def test_a_crisis_recorded_at_the_trigger_tells_the_line_nothing_to_report(hotline):
    dialled = Doc.parse(hotline.post("/voice/language?t=1", {"Digits": "9"}))
    # With Redis up the agents ring first; the line comes later with no reports needed.
    assert all(not n.get("statusCallback") for n in dialled.all("Number"))
