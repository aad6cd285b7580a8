"""An agent who pressed 1 but never reached the conference (the hotline's answer to their key and
its fallback both failed, so Twilio hung up on them) leaves no caller alone: the caller goes
back to the front of their waiting room, hears the queue's words again, and the next agent is
rung and takes them. The agent who never joined is charged no miss.

The whole hotline app is served to the stand-in over HTTP; its dispatch jobs run in this test
between its looks at the call, as the worker would run them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from carrier.parties import DEFAULT_MAX_CALL_S, Script
from queues import events, keys, runtime
from queues.agents import AgentBoard
from queues.reservations import NOT_JOINED
from routing.matching import MISS_REASONS
from routing.roster import parse_roster
from tests.fixtures.carrier import (
    AppFront,
    serving_app,
    transcript_of,
)
from tests.fixtures.dispatch import run_dispatch_jobs
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis

CALLER = "+8613912345600"
FIRST, NEXT = "+8613900000801", "+8613900000802"
AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
ROSTER = f"""
timezone: Asia/Shanghai
agents:
  - {{id: first, name: First, phone: "{FIRST}", languages: [zh], skills: {{general: 1}},
     shifts: [{{days: daily, hours: "00:00-24:00"}}]}}
  - {{id: next, name: Next, phone: "{NEXT}", languages: [zh], skills: {{general: 1}},
     shifts: [{{days: daily, hours: "00:00-24:00"}}]}}
"""
# The agent who takes the call stays as long as the caller, the stand-in's longest call (9 s of
# real time at its clock), so the call is still connected when the test looks at it, even on a
# busy machine.
STAYS = DEFAULT_MAX_CALL_S
ACCEPTS = {"role": "agent", "answer_after": 2, "press": ["1"], "stay": STAYS}
PHONES = {FIRST: {"name": "first", **ACCEPTS}, NEXT: {"name": "next", **ACCEPTS}}
# The agent's webhooks whose answers are lost on the way back to the carrier, once each.
LOST = ("/voice/agent/answer", "/voice/agent/fallback")


# A caller's call starts in the general waiting room (the menu is not what is tested).
ROUTE = "/voice/route?lang=zh&area=general"


class Front(AppFront):
    """The app behind an HTTP front that loses the first answer of each path in `LOST`.

    The app gets the request and acts on it (the accept is taken), but the carrier receives a
    502, as when a proxy or the network fails between them: Twilio cannot use the answer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lost: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Serve the request; lose the answer when its path is due to be lost."""
        path = environ.get("PATH_INFO", "")
        with self._lock:
            lose = path in LOST and path not in self.lost
            if lose:
                self.lost.append(path)
        if not lose:
            return self.app(environ, start_response)
        body = b"".join(self.app(environ, lambda *args, **kwargs: None))
        assert body  # the app answered; the answer is what gets lost
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"bad gateway"]


@pytest.fixture
def served(app_env: pytest.MonkeyPatch, redis, redis_url: str, clock) -> Iterator[dict[str, Any]]:
    """The carrier, and the hotline app served to it over HTTP behind the losing front."""
    with serving_app(app_env, PHONES, redis_url, clock, front=Front(), voice_path=ROUTE) as found:
        yield found


def staff(rt: runtime.Runtime) -> None:
    """Both agents available; the first has waited longer, so they are rung first."""
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    board = AgentBoard(rt.redis, rt.config.routing, script=rt.script)
    board.import_roster(roster, rt.now() - 60)
    board.set_presence("first", "available", rt.now() - 30)
    board.set_presence("next", "available", rt.now() - 20)


def transcript(carrier_url: str, call_sid: str) -> dict[str, Any]:
    """A call's transcript through the carrier's control API."""
    return transcript_of(carrier_url, call_sid)


def of_call(rt: runtime.Runtime, call_sid: str) -> list[dict[str, str]]:
    """The events recorded about one call, oldest first."""
    return [e for e in reversed(events.recent(rt.redis, 500)) if e.get("call") == call_sid]


def test_a_caller_whose_agent_never_joined_waits_again_first_and_gets_the_next_agent(served):
    hub, app, carrier_url = served["hub"], served["app"], served["carrier_url"]
    rt = runtime.of(app)
    staff(rt)

    call_sid = hub.driver.start_incoming(CALLER, Script(hangup_after=STAYS)).sid

    def bridged_to() -> list[str]:
        # The worker's part: the dispatch queue's jobs run between the looks.
        run_dispatch_jobs(rt.redis)
        return [b.get("name") for b in transcript(carrier_url, call_sid)["outcome"]["bridged_to"]]

    poll(bridged_to, 20.0, "the caller to be bridged")
    assert bridged_to() == ["next"]
    assert served["front"].lost == list(LOST)

    seen = of_call(rt, call_sid)
    offers = [e for e in seen if e["kind"] == "offered"]
    assert [e["agent"] for e in offers] == ["first", "next"]
    first_offer = offers[0]["reservation"]
    assert rt.routing.reservations.get(first_offer).state == NOT_JOINED
    kinds = [e["kind"] for e in seen]
    assert kinds.index("not-joined") < kinds.index("offered", kinds.index("accepted") + 1)
    # Counted answered once, by the agent who took the call; no miss for the one who never came.
    assert [e["agent"] for e in seen if e["kind"] == "bridged"] == ["next"]
    assert not [e for e in seen if e["kind"] in MISS_REASONS]
    first = AgentBoard(rt.redis, rt.config.routing).get("first")
    assert first.misses == 0 and first.cool_until <= rt.now() and not first.paused

    # The caller heard the waiting room's words again, back in their area's queue.
    entries = transcript(carrier_url, call_sid)["entries"]
    queued_at = [e["t"] for e in entries if e["kind"] == "webhook" and e["path"] == "/voice/route"]
    requeued = [
        e
        for e in entries
        if e["kind"] == "webhook" and e["path"] == "/voice/connect/queued" and e["t"] > queued_at[0]
    ]
    assert requeued, "the caller was never sent back from the first agent's conference"
    queue_words = rt.config.prompts["queue_intro"]["zh"].split("{", 1)[0]
    assert queue_words
    heard = [e for e in entries if e["kind"] == "heard" and queue_words in (e.get("text") or "")]
    assert len(heard) >= 2
    # Routing has them with the next agent now.
    assert rt.redis.hget(keys.queued_call(call_sid), "state") == b"connected"
