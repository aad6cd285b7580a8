"""The waiting room after a Redis outage: a caller queued while Redis was unreachable is adopted
by routing at their next waitUrl poll, in their fair place, and an agent is rung for them; until
then the waiting room says nothing it cannot know. Callers' webhooks whose records are missing
answer sensibly."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from rq import Queue

from queues import dispatch, keys
from queues.agents import AgentBoard
from queues.calls import CallStore
from queues.reservations import Reservations
from queues.waiting import WaitingRoom
from routing.menu import summarise
from routing.roster import parse_roster
from tests.fixtures.app import Twilio
from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AGENTS,
    AUTH_TOKEN,
    HOTLINE,
    AppFront,
    LocalServer,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)
from tests.fixtures.jobs import BurstWorker
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32
CALLER = "+8613812345678"
# The carrier's phone that answers and presses 1 at the whisper.
LABOR_PHONE = AGENTS["labor"]
ROSTER = f"""
timezone: Asia/Shanghai
agents:
  - {{id: w1, name: 吴律师, phone: "{LABOR_PHONE}", languages: [zh], skills: {{labor: 2}},
     shifts: [{{days: daily, hours: "00:00-24:00"}}]}}
"""


class Outage:
    """Makes Redis unreachable for the app and reachable again, with Redis itself.

    The app connects as its own Redis user; disabling that user and dropping its connections
    refuses the app's every command (a connection error, as for a server that has gone away),
    while the test's own client goes on seeing the data.
    """

    def __init__(self, redis, user: str):
        self.redis = redis
        self.user = user

    def begin(self) -> None:
        """Redis goes away: the app's connections drop and new ones are refused."""
        self.redis.execute_command("ACL", "SETUSER", self.user, "off")
        self.redis.execute_command("CLIENT", "KILL", "USER", self.user)

    def end(self) -> None:
        """Redis is back."""
        self.redis.execute_command("ACL", "SETUSER", self.user, "on")


def _with_user(url: str, user: str, password: str) -> str:
    """A Redis URL that signs in as a user (unix:// and redis:// alike)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


@pytest.fixture
def outage(redis) -> Iterator[Outage]:
    """A Redis user for the app, whose outages the test starts and ends."""
    user, password = f"hotline-app-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    redis.execute_command(
        "ACL", "SETUSER", user, "reset", "on", f">{password}", "~*", "&*", "+@all"
    )
    found = Outage(redis, user)
    found.password = password  # type: ignore[attr-defined]
    try:
        yield found
    finally:
        redis.execute_command("ACL", "DELUSER", user)


@pytest.fixture
def served(
    rig: Rig, app_env: pytest.MonkeyPatch, redis_url: str, outage: Outage, clock, hotline_config
) -> Iterator[tuple[object, Twilio]]:
    """The hotline served over HTTP with the carrier as its Twilio, on a Redis that can go away."""
    front = AppFront()
    server = LocalServer(front)
    app_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    app_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    app_env.setenv("TWILIO_API_BASE_URL", rig.carrier_url)
    app_env.setenv("HOTLINE_NUMBER", HOTLINE)
    app_env.setenv("PUBLIC_BASE_URL", server.url)
    app_env.setenv("VOICEMAIL_KEY", base64.b64encode(b"k" * 32).decode())
    app_env.setenv("REDIS_URL", _with_user(redis_url, outage.user, outage.password))
    from hotline.app import create_app

    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    front.app = app
    try:
        yield app, Twilio(app.test_client(), token=AUTH_TOKEN, base=server.url)
    finally:
        # Every leg the test started ends before the app stops answering it.
        rig.wait_until(rig.idle, 60.0, "every call leg to end")
        server.stop()


def staff(redis, config, now: float) -> None:
    """A labour consultant on shift and available, before anyone waits."""
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=config.areas, languages=["zh", "en"])
    board = AgentBoard(redis, config.routing)
    board.import_roster(roster, now - 600)
    board.set_presence("w1", "available", now - 600)


def test_a_caller_queued_while_redis_was_down_is_adopted_and_an_agent_is_rung(
    served, rig: Rig, outage: Outage, redis, clock
) -> None:
    app, twilio = served
    config = app.config["HOTLINE"]
    now = clock().timestamp()

    # Redis goes away before the call: the menu still queues the caller in Twilio's queue.
    outage.begin()
    assert Doc.parse(twilio.post("/voice", {"From": CALLER})).first("Gather") is not None
    queued = Doc.parse(twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1"}))
    enqueue = queued.first("Enqueue")
    assert enqueue.text == "labor"
    wait_url = enqueue.get("waitUrl")
    assert redis.exists(keys.call(CALL)) == 0

    # While Redis is away, the waiting room promises no place: Twilio's own count is not ours.
    blind = Doc.parse(twilio.post(wait_url, {"QueuePosition": "1", "QueueTime": "30"}))
    assert config.prompt("wait_next", "zh") not in blind.said()
    assert config.prompt("wait_hold", "zh") in blind.said()
    assert config.prompt("wait_danger", "zh") in blind.said()

    # Redis is back and a consultant is free; the caller has waited 95 s in Twilio's queue.
    outage.end()
    staff(redis, config, now)
    poll = Doc.parse(twilio.post(wait_url, {"QueuePosition": "1", "QueueTime": "95"}))

    room = WaitingRoom(redis, config.routing)
    adopted = room.get(CALL)
    assert adopted is not None
    assert (adopted.area, adopted.language) == ("labor", "zh")
    assert adopted.arrival == pytest.approx(now - 95)
    assert adopted.state == "reserved"  # matched at once with the free consultant
    offer = Reservations(redis, config.routing).get(adopted.reservation)
    assert offer.agent_id == "w1"
    ring = Queue(dispatch.DISPATCH_QUEUE, connection=redis)
    assert ring.job_ids == [f"ring-{offer.id}"]
    # An agent is being rung for them: now they are next, by routing's own word.
    assert config.prompt("wait_next", "zh") in poll.said()
    record = CallStore(redis).get(CALL)
    assert (record.caller, record.area, record.language) == (CALLER, "labor", "zh")
    assert record.summary == summarise(config, "labor", "zh", ["1", "1"], "")

    # The ring job dials the consultant through the carrier, who hears the whisper for this
    # caller: the wait Twilio counted, and the intake answers the wait URL carried.
    BurstWorker([ring], connection=redis).work(burst=True)
    (leg,) = rig.wait_until(lambda: rig.legs_to(LABOR_PHONE), 30.0, "the consultant's phone")
    whisper = config.prompt(
        "whisper",
        "zh",
        area=config.areas["labor"].name["zh"],
        language="普通话",
        wait="1分钟",
        summary=summarise(config, "labor", "zh", ["1", "1"], ""),
    )

    def heard() -> list[str]:
        entries = rig.transcript(leg["call_sid"])["entries"]
        return [e["text"] for e in entries if e["kind"] == "heard"]

    assert rig.wait_until(heard, 30.0, "the whisper")[0] == whisper


def test_a_callback_asked_for_before_any_poll_adopted_the_caller_keeps_their_place(
    app, twilio, redis, clock
):
    # Redis came back between the caller's last poll and their key: routing never saw them.
    room = WaitingRoom(redis, app.config["HOTLINE"].routing)
    doc = Doc.parse(twilio.post("/voice/wait/callback?lang=zh&area=labor&a=11", {"Digits": "1"}))
    assert doc.verbs() == ["Say", "Leave"]
    assert app.config["HOTLINE"].prompt("callback_set", "zh") in doc.said()
    task = room.get(CALL)
    assert (task.kind, task.area, task.language) == ("callback", "labor", "zh")
    assert task.arrival == clock().timestamp()
    assert room.callback_number(CALL) == CALLER


def test_webhooks_of_a_call_nobody_recorded_answer_sensibly(app, twilio, redis):
    config = app.config["HOTLINE"]
    rid = "RS" + "0" * 32

    def answer(path: str, form: dict[str, str]) -> Doc:
        return Doc.parse(twilio.post(path, form))

    assert answer("/voice/status", {"CallStatus": "completed"}).verbs() == []
    for result in ("hangup", "bridged", "redirected"):
        assert (
            answer("/voice/queue-result?lang=zh&area=labor", {"QueueResult": result}).verbs() == []
        )
    full = answer("/voice/queue-result?lang=zh&area=labor", {"QueueResult": "queue-full"})
    assert full.said() == config.prompt("queue_full", "zh")
    # A call nobody recorded left no departure behind, and no returning caller.
    assert WaitingRoom(redis, config.routing).get(CALL) is None
    assert not WaitingRoom(redis, config.routing).is_returning(CALLER)
    # The rating of a reservation nobody knows: no question, a goodbye.
    live = {"CallStatus": "in-progress", "DialCallStatus": "completed"}
    assert answer(f"/voice/survey?res={rid}&lang=zh", live).verbs() == ["Say", "Hangup"]
    rated = answer(f"/voice/survey/rating?res={rid}&lang=zh", {"Digits": "2"})
    assert rated.said() == config.prompt("goodbye", "zh")
    # A bridge to an unknown reservation keeps the caller on the general path, never silence.
    lost = answer(f"/voice/connect/queued?res={rid}", {})
    assert lost.verbs() == ["Say", "Redirect"]
    assert answer(f"/voice/connect/callback?res={rid}", {}).verbs() == ["Say", "Hangup"]
    unreached = answer(f"/voice/connect/callback-status?res={rid}", {"CallStatus": "no-answer"})
    assert unreached.verbs() == []


@pytest.mark.parametrize(
    ("path", "prompt"),
    [("/voice/connect/queued", "connecting"), ("/voice/connect/callback", "callback_greeting")],
)
def test_with_redis_down_a_caller_put_through_still_meets_their_agent(
    app_without_redis, path, prompt
):
    # Only an accepted reservation sends a caller here; its agent waits in the conference.
    rid = "RS" + "4" * 32
    doc = Doc.parse(Twilio(app_without_redis.test_client()).post(f"{path}?res={rid}"))
    assert doc.first("Conference").text == rid
    assert app_without_redis.config["HOTLINE"].prompt(prompt, "zh") in doc.said()
