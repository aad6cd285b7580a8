"""A day of calls through the local Twilio stand-in, then `hotline report`'s figures by hour, by
area and by agent each equal the same figure computed here from the transcripts it returns.

The whole app is served over HTTP to the stand-in (carrier/), which places scripted callers
through the shipped menu, rings the agents' phones, runs the TwiML and posts every webhook. The
day: a busy hour with more callers than agents (two answered at once, one waiting for the first
agent free, one giving up in the queue), ratings through the survey: two unsatisfied callers,
whose follow-ups become callback tasks, each called back by the agent they were not unhappy with,
which closes it; at 11:00 a crisis by the danger key that rolls over from a crisis-trained agent
who never answers to the crisis line, and two labor callers nobody takes yet: one leaves a
message (processed by the real voicemail job), one asks for a callback; at 12:00 the labor agent
comes on and calls both back. The agents' presence is folded by the upkeep job. A callback, a
follow-up's included, is no answer: the agents' figures count the calls they answered.

The hotline's clock is a fixed start plus the stand-in's own sped-up virtual clock, skipped on
between hours while no call is live, so a transcript's seconds are the app's seconds. Counts
are compared exactly; a duration lies between the bounds its transcripts give (a webhook's fact
is stamped by the app between the stand-in sending it and the answer coming back). The worker's
part (dispatch, crisis, voicemail and record jobs, the routing sweep) runs here between looks.

Runs on SQLite, and on PostgreSQL too when DATABASE_URL names a server (CI's second run).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import yaml
from rq import Queue

from carrier.parties import Script, Step
from carrier.server import Carrier
from hotline.cli import main
from queues import dispatch, keys, runtime
from queues.agents import AgentBoard
from queues.followups import FollowUps
from queues.records import jobs
from queues.records.reading import report
from queues.records.store import RecordStore
from queues.sweep import sweep
from queues.users import UserStore
from routing.config import load_config
from routing.report import AGENT_FIGURES, FIGURES, Period, ReportPolicy, report_json
from routing.roster import parse_roster
from tests.e2e.harness import shipped_config
from tests.fixtures.app import AREAS, OPEN_TIME
from tests.fixtures.carrier import (
    LocalServer,
    app_environment,
    point_at_app,
    start_carrier,
    transcript_of,
)
from tests.fixtures.dispatch import run_dispatch_jobs
from tests.fixtures.jobs import BurstWorker
from tests.fixtures.ops import PASSWORD, sign_in
from tests.fixtures.records import run_late_jobs, stamp_wall_time
from tests.fixtures.waits import poll
from voicemail.messages import READY, MessageStore

pytestmark = pytest.mark.redis

ZONE = "Asia/Shanghai"
DAY = date(2026, 12, 2)
# Real seconds per call second: a 150 s talk lasts three real seconds.
TIME_SCALE = 0.02
SHORT_ABANDON_S = 30
AREA, AREA_KEY = "contract", "3"
# Long enough (3 s) that the caller, or the follow-up's called-back caller, reaches the
# conference before the agent leaves it, even on a busy machine.
TALK_S = 150
WRAP_UP_S = 20
SERVICE_LEVEL_S = 130
# The agents go offline this long after the day opened, once every call and wrap-up is over.
SHIFT = timedelta(hours=2, minutes=30)
AGENT_PHONES = {"c1": "+8613900000711", "c2": "+8613900000712"}
CRISIS_LINE = "+8612356"
# The labor agent, on from 12:00 only: they call back the labor callers of 11:00.
LABOR_AGENT, LABOR_PHONE = "l1", "+8613900000721"


# The numbers the day's callers call from, in the order placed; the labor callers' phones
# answer when called back.
def caller_number(index: int) -> str:
    """The number of the index-th caller placed (from 1)."""
    return f"+86139000{index:05d}"


VOICEMAIL_CALLER, CALLBACK_CALLER = caller_number(6), caller_number(7)
# The busy hour's second and third callers are not satisfied: their follow-ups call them back.
FOLLOWED_UP_CALLERS = (caller_number(2), caller_number(3))
# A crisis-trained agent who takes no area's calls today and never answers: a crisis rings them
# first, then rolls over to the crisis line.
CRISIS_AGENT, CRISIS_PHONE = "k1", "+8613900000719"
ROSTER = (
    "timezone: Asia/Shanghai\nagents:\n"
    + "".join(
        f'  - {{id: {agent}, name: {agent}, phone: "{phone}", languages: [zh],'
        f' skills: {{{AREA}: 2}}, shifts: [{{days: daily, hours: "00:00-24:00"}}]}}\n'
        for agent, phone in AGENT_PHONES.items()
    )
    + f'  - {{id: {LABOR_AGENT}, name: {LABOR_AGENT}, phone: "{LABOR_PHONE}", languages: [zh],'
    ' skills: {labor: 2}, shifts: [{days: daily, hours: "00:00-24:00"}]}\n'
    + f'  - {{id: {CRISIS_AGENT}, name: {CRISIS_AGENT}, phone: "{CRISIS_PHONE}", languages: [zh],'
    " skills: {corporate: 1}, crisis_trained: true,"
    ' shifts: [{days: daily, hours: "00:00-24:00"}]}\n'
)
PHONES = {
    **{
        phone: {"name": agent, "role": "agent", "answer_after": 2, "press": ["1"], "stay": TALK_S}
        for agent, phone in AGENT_PHONES.items()
    },
    # The labor agent stays on long enough for the worker's next turn to dial the caller and
    # the caller to answer, on a busy machine too (300 call seconds are 6 real ones): callbacks
    # count in no agent's talk time, so nothing the report shows depends on it.
    LABOR_PHONE: {
        "name": LABOR_AGENT,
        "role": "agent",
        "answer_after": 2,
        "press": ["1"],
        "stay": 300,
    },
    CRISIS_PHONE: {"name": CRISIS_AGENT, "role": "agent", "answer_after": "never"},
    **{
        number: {"name": "labor caller", "role": "caller", "answer_after": 2, "stay": 300}
        for number in (VOICEMAIL_CALLER, CALLBACK_CALLER)
    },
    **{
        number: {"name": "unsatisfied caller", "role": "caller", "answer_after": 2, "stay": 150}
        for number in FOLLOWED_UP_CALLERS
    },
    CRISIS_LINE: {"name": "crisis line", "role": "crisis-line", "answer_after": 4, "stay": 60},
}
# What a caller hears as they are put in the waiting room.
QUEUE_WORDS = "请稍候。"
# Mandarin, the area's key, its one intake answer.
MENU = ("press:1", f"press:{AREA_KEY}", "press:1")


def day_config() -> str:
    """The shipped config with a short wrap-up and a waiting-room message long enough that a
    waiting caller's next key is kept for the survey, as YAML."""
    config = shipped_config()
    config["routing"]["defaults"]["wrap_up_s"] = WRAP_UP_S
    # The worker's turns here take a tenth of a real second, ten call seconds: an agent's
    # phone must not ring out while the turn that rings it is still coming.
    config["routing"]["reservation_timeout_s"] = 120
    # About 340 call seconds of words: longer than the busy hour's third caller waits for an agent.
    config["prompts"]["wait_options"]["zh"] = "请稍候，咨询员马上为您接听。" * 90
    # Short words before the waiting room: a caller can hang up within seconds of queueing.
    config["prompts"]["queue_intro"]["zh"] = QUEUE_WORDS
    # Answered at once here is about half a minute (the agent's ring and whisper), nearer a
    # minute and a half when a loaded machine slows the worker's turns (89-101 s seen once): a
    # service level of 130 s tells those from the caller who waited for an agent to be free
    # (about three minutes).
    # A call second here lasts 20 ms: on a busy machine a webhook's 100 ms is five of them, so
    # the short abandon (a few seconds) and the long one (over a minute) are told apart at 30 s.
    config["reports"] = {"service_level_s": SERVICE_LEVEL_S, "short_abandon_s": SHORT_ABANDON_S}
    return yaml.safe_dump(config, allow_unicode=True)


class DayClock:
    """The hotline's clock: a fixed start, the stand-in's virtual seconds, and skips between
    hours (taken only while no call is live, so no call's seconds are stretched)."""

    def __init__(self, start: datetime, carrier: Carrier):
        self.start, self.carrier, self.skipped = start, carrier, 0.0
        # (call second of a skip, seconds skipped in all from then on)
        self.skips: list[tuple[float, float]] = [(0.0, 0.0)]

    def __call__(self) -> datetime:
        """The app's time now."""
        return self.start + timedelta(seconds=self.skipped + self.carrier.network.clock.now())

    def skip_to(self, moment: datetime) -> None:
        """Move on to a later moment at once."""
        gap = (moment - self()).total_seconds()
        assert gap >= 0, "the day ran late"
        self.skipped += gap
        self.skips.append((self.carrier.network.clock.now(), self.skipped))

    def app_at(self, virtual: float) -> float:
        """The app's time (epoch seconds) at a moment of the stand-in's clock."""
        skipped = [total for at, total in self.skips if at <= virtual][-1]
        return self.start.timestamp() + skipped + virtual


@dataclass
class Stand:
    """The stand-in, the app served to it, and the app's clock."""

    hub: Carrier
    carrier_url: str
    app: Any
    clock: DayClock
    records: RecordStore
    last_turn: float | None = None
    longest_turn: float = 0.0
    placed: int = 0

    def place(self, *steps: str, hangup_after: float | None = 1200, **script: Any) -> str:
        """Place a scripted caller (a new number each) and return the call's SID."""
        script = Script(
            steps=tuple(Step.parse(s) for s in steps), hangup_after=hangup_after, **script
        )
        self.placed += 1
        return self.hub.driver.start_incoming(caller_number(self.placed), script).sid

    def transcript(self, sid: str) -> dict[str, Any]:
        """A call's transcript through the control API."""
        return transcript_of(self.carrier_url, sid)

    def idle(self) -> bool:
        """Whether no call leg is live."""
        with self.hub.network.cond:
            return all(call.finished for call in self.hub.network.calls.values())

    def work(self) -> None:
        """The worker's part, once: queued jobs, dispatch retries at once, the routing sweep."""
        redis = runtime.of(self.app).redis
        run_dispatch_jobs(redis)
        names = ("crisis", "voicemail", "default")
        BurstWorker([Queue(n, connection=redis) for n in names], connection=redis).work(burst=True)
        with self.app.app_context():
            rt = runtime.current()
            found = sweep(rt.redis, rt.config.routing, rt.now())
            dispatch.dispatch(rt.redis, list(found.matches))
        # How long the worker's turns take, in call seconds: a timer may wait that long.
        now = self.hub.network.clock.now()
        if self.last_turn is not None:
            self.longest_turn = max(self.longest_turn, now - self.last_turn)
        self.last_turn = now

    def until(self, check: Callable[[], Any], what: str, deadline_s: float = 30.0) -> Any:
        """Work and look until the check holds."""

        def look() -> Any:
            self.work()
            return check()

        return poll(look, deadline_s, what)


@pytest.fixture
def stand(app_env, redis, redis_url, records_url, monkeypatch, tmp_path) -> Iterator[Stand]:
    """The stand-in and the hotline app served to it over HTTP, on the day's clock."""
    hub, carrier, carrier_url = start_carrier(PHONES, time_scale=TIME_SCALE)
    clock = DayClock(OPEN_TIME, hub)
    # Calls, events and incident steps are stamped with the wall time: here, the day's clock.
    stamp_wall_time(monkeypatch, lambda: clock().timestamp())
    from hotline.app import create_app

    # The app's URL goes into its own settings: bind the port first, serve the app once built.
    holder: dict[str, Any] = {}
    # No request comes before the carrier is pointed at the app, once it is built.
    front = LocalServer(lambda environ, start: holder["app"](environ, start))
    app_url = front.url
    config_path = tmp_path / "hotline.yaml"
    config_path.write_text(day_config(), encoding="utf-8")
    try:
        for name, value in {
            **app_environment(carrier_url, app_url, redis_url),
            # The records database the record jobs write to, SQLite or PostgreSQL.
            "DATABASE_URL": records_url,
            # The day's config, for `hotline report` too.
            "HOTLINE_CONFIG": str(config_path),
        }.items():
            app_env.setenv(name, value)
        config = load_config(config_path.read_text(encoding="utf-8"), str(config_path))
        app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": config})
        holder["app"] = app
        point_at_app(hub, app_url, carrier_url)
        yield Stand(hub, carrier_url, app, clock, jobs.store())
    finally:
        jobs.install(None)
        front.stop()
        carrier.stop()


def staff(rt: runtime.Runtime) -> float:
    """The roster imported and every agent available; return when they became available."""
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    board = AgentBoard(rt.redis, rt.config.routing, script=rt.script)
    board.import_roster(roster, rt.now() - 60)
    at = rt.now()
    for agent in [*AGENT_PHONES, CRISIS_AGENT]:
        board.set_presence(agent, "available", at)
    return at


@dataclass(frozen=True)
class Span:
    """A duration known to lie between two bounds, from when the stand-in sent a webhook and
    when the app's answer came back: the app stamps its facts somewhere in between."""

    lo: float
    hi: float

    def holds(self, value: float | None, pad: float = 0.06) -> bool:
        """Whether a reported value (rounded to 0.1 s) lies within the bounds."""
        return value is not None and self.lo - pad <= value <= self.hi + pad


class Leg:
    """One leg's transcript on the stand-in's absolute virtual clock."""

    def __init__(self, stand: Stand, sid: str):
        with stand.hub.network.cond:
            self.started = stand.hub.network.calls[sid].transcript.started
        self.sid, self.data = sid, stand.transcript(sid)
        self.entries, self.outcome = self.data["entries"], self.data["outcome"]

    def all(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Entries of a kind whose fields match."""
        return [
            e
            for e in self.entries
            if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    def at(self, entry: dict[str, Any]) -> float:
        """When an entry happened, in the stand-in's seconds."""
        return self.started + entry["t"]

    def sent(self, entry: dict[str, Any]) -> float:
        """When a webhook entry's request was sent (the entry is noted when its answer came)."""
        return self.at(entry) - entry["latency_ms"] / 1000 / TIME_SCALE

    def webhook_before(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The last webhook before an entry: the one whose answer led to it."""
        return [e for e in self.entries[: self.entries.index(entry)] if e["kind"] == "webhook"][-1]


@dataclass
class Seen:
    """One call as the stand-in's transcripts tell it: what each figure is computed from here."""

    sid: str
    hour: int
    area: str
    kind: str  # answered, abandoned, voicemail, callback, crisis
    agent: str = ""
    wait: Span | None = None
    talk: Span | None = None
    rating: int | None = None
    followup_closed: bool = False
    # An unsatisfied caller's follow-up callback reached them: the agent who called.
    followed_up_by: str = ""
    to_human: Span | None = None
    rollover: bool = False
    # The labor callers of 11:00: their callback reached them, and (a voicemail's) after how long.
    called_back: bool = False
    called_back_after: Span | None = None


def called_back_leg(stand: Stand, number: str) -> Leg | None:
    """The callback to a caller's number that reached them (the app put them through)."""
    with stand.hub.network.cond:
        sids = [c.sid for c in stand.hub.network.calls.values() if c.called == number]
    legs = [Leg(stand, sid) for sid in sids]
    reached = [leg for leg in legs if leg.all("webhook", path="/voice/connect/callback")]
    assert len(reached) <= 1, "a caller was called back twice"
    return reached[0] if reached else None


def seen(stand: Stand, sid: str, hour: int, area: str) -> Seen:
    """Read a finished call's transcripts: what happened to it and when."""
    call = Leg(stand, sid)
    outcome = call.outcome
    if outcome["crisis"]:
        line = [b for b in call.all("bridged") if b["number"] == CRISIS_LINE]
        # Rolled over: the crisis-trained agent's phone rang first, while this call was live.
        with stand.hub.network.cond:
            rung = [
                c.transcript.started
                for c in stand.hub.network.calls.values()
                if c.called == CRISIS_PHONE
                and call.started <= c.transcript.started <= call.started + call.entries[-1]["t"]
            ]
        danger = call.all("pressed", keys="9")[0]
        # The crisis path starts with the danger key's webhook; a person answers when the line
        # picks up, which the app learns from the next webhook.
        pressed = next(e for e in call.entries if e["kind"] == "webhook" and e["t"] >= danger["t"])
        after = [e for e in call.all("webhook") if line and e["t"] >= line[0]["t"]]
        to_human = Span(call.at(line[0]) - call.at(pressed), call.at(after[0]) - call.sent(pressed))
        return Seen(
            sid,
            hour,
            "",
            "crisis",
            to_human=to_human if line else None,
            rollover=bool(line and rung),
        )
    # The app queues the caller on the webhook whose answer says the waiting room's words.
    joined_queue = call.webhook_before(call.all("heard", text=QUEUE_WORDS)[0])
    agents = [b for b in call.all("bridged") if b["number"] != CRISIS_LINE]
    if agents:
        joined = call.all("webhook", path="/voice/connect/joined")[0]
        left = call.all("conference", action="left")[0]
        agent = Leg(stand, agents[0]["call_sid"])
        # The talk ends when the agent's side leaves the conference; the app hears of it from
        # the webhook the agent's leg sends next (its Dial's action).
        gone = agent.all("conference", action="left")[0]
        told = next(e for e in agent.all("webhook") if e["t"] >= gone["t"])
        rated = [e["keys"] for e in call.all("pressed") if e["t"] > left["t"] and e["keys"] in "12"]
        rating = int(rated[0]) if rated else None
        # An unsatisfied caller's follow-up is a callback task: reaching them closes it.
        back = called_back_leg(stand, call.data["from"]) if rating == 2 else None
        return Seen(
            sid,
            hour,
            area,
            "answered",
            agent=agents[0]["name"],
            wait=Span(
                call.sent(joined) - call.at(joined_queue), call.at(joined) - call.sent(joined_queue)
            ),
            talk=Span(agent.at(gone) - call.at(joined), agent.at(told) - call.sent(joined)),
            rating=rating,
            followup_closed=back is not None,
            followed_up_by=back.all("bridged")[0]["name"] if back else "",
        )
    back = called_back_leg(stand, call.data["from"])
    if outcome["voicemail"]:
        if back is None:
            return Seen(sid, hour, area, "voicemail")
        # From the end of the call the message was left in (its final status webhook) until
        # the app put the caller through on the callback, on the app's clock.
        ended = call.all("webhook", path="/voice/status")[-1]
        through = back.all("webhook", path="/voice/connect/callback")[0]
        app = stand.clock.app_at
        after = Span(
            app(back.sent(through)) - app(call.at(ended)),
            app(back.at(through)) - app(call.sent(ended)),
        )
        return Seen(sid, hour, area, "voicemail", called_back=True, called_back_after=after)
    if call.all("webhook", path="/voice/wait/callback"):
        return Seen(sid, hour, area, "callback", called_back=back is not None)
    hangup = call.all("hangup")[0]
    assert hangup["by"] == "caller", outcome
    # The app hears of it from the next webhook: the queue's result, or the call's status
    # when the caller hung up before Twilio had put them in the queue.
    left = (
        call.all("webhook", path="/voice/queue-result") or call.all("webhook", path="/voice/status")
    )[0]
    gone = min(call.at(hangup), call.sent(left))
    return Seen(
        sid,
        hour,
        area,
        "abandoned",
        wait=Span(gone - call.at(joined_queue), call.at(left) - call.sent(joined_queue)),
    )


# --- the figures computed from the transcripts ------------------------------------------------


def mean_span(spans: list[Span]) -> Span | None:
    """The bounds of a mean of bounded values."""
    if not spans:
        return None
    return Span(sum(s.lo for s in spans) / len(spans), sum(s.hi for s in spans) / len(spans))


def rank_span(spans: list[Span], p: float) -> Span | None:
    """The bounds of a nearest-rank percentile: the same rank of the lower and upper bounds."""
    if not spans:
        return None
    k = max(math.ceil(p / 100 * len(spans)), 1) - 1
    return Span(sorted(s.lo for s in spans)[k], sorted(s.hi for s in spans)[k])


def clear_of(span: Span, threshold: float) -> bool:
    """Whether a bounded value is on one side of a threshold for sure (the test's own check)."""
    assert span.hi <= threshold or span.lo > threshold, f"{span} straddles {threshold}"
    return span.hi <= threshold


def expected(calls: list[Seen], policy: ReportPolicy, wrap_up: Span) -> dict[str, object]:
    """The figures of a set of calls as docs/reports.md defines each: counts exactly, durations
    as the bounds the transcripts give."""
    offered = [c for c in calls if c.kind != "crisis"]
    answered = [c for c in offered if c.kind == "answered"]
    gave_up = [c for c in offered if c.kind == "abandoned"]
    short = [c for c in gave_up if clear_of(c.wait, policy.short_abandon_s - 0.001)]
    counted = len(offered) - len(short)
    waits = [c.wait for c in answered]
    rated = [c for c in calls if c.rating in (1, 2)]
    unsatisfied = [c for c in rated if c.rating == 2]
    crises = [c for c in calls if c.kind == "crisis"]
    to_human = [c.to_human for c in crises if c.to_human is not None]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "arrived": len(calls),
        "offered": len(offered),
        "answered": len(answered),
        "answer_rate": share(len(answered), len(offered)),
        "service_level": share(
            sum(1 for w in waits if clear_of(w, policy.service_level_s)), counted
        ),
        "abandoned": len(gave_up) - len(short),
        "short_abandoned": len(short),
        "abandon_rate": share(len(gave_up) - len(short), counted),
        "asa_s": mean_span(waits),
        "wait_p50_s": rank_span(waits, 50),
        "wait_p90_s": rank_span(waits, 90),
        "wait_max_s": rank_span(waits, 100),
        "talk_mean_s": mean_span([c.talk for c in answered]),
        "wrap_up_mean_s": wrap_up if answered else None,
        "callbacks_requested": sum(1 for c in calls if c.kind == "callback"),
        "callbacks_completed": sum(1 for c in calls if c.kind == "callback" and c.called_back),
        "voicemails_left": sum(1 for c in calls if c.kind == "voicemail"),
        "voicemails_called_back": sum(1 for c in calls if c.kind == "voicemail" and c.called_back),
        "voicemail_callback_mean_s": mean_span(
            [c.called_back_after for c in calls if c.called_back_after is not None]
        ),
        "rated": len(rated),
        "satisfied_share": share(len(rated) - len(unsatisfied), len(rated)),
        "followups_opened": len(unsatisfied),
        "followups_closed": sum(1 for c in unsatisfied if c.followup_closed),
        "crisis_triggers": len(crises),
        "crisis_to_human_p50_s": rank_span(to_human, 50),
        "crisis_to_human_max_s": rank_span(to_human, 100),
        "crisis_rollovers": sum(1 for c in crises if c.rollover),
    }


def expected_agent(
    agent: str, calls: list[Seen], wrap_up: Span, available: float
) -> dict[str, object]:
    """An agent's figures over the day, as docs/reports.md defines each."""
    handled = [c for c in calls if c.kind == "answered" and c.agent == agent]
    n = len(handled)
    talk = Span(sum(c.talk.lo for c in handled), sum(c.talk.hi for c in handled))
    wrap = Span(wrap_up.lo * n, wrap_up.hi * n)
    return {
        "handled": n,
        "talk_s": talk,
        "talk_mean_s": Span(talk.lo / n, talk.hi / n) if n else None,
        "wrap_up_s": wrap,
        "wrap_up_mean_s": wrap_up if n else None,
        "heavy_calls": 0,
        "available_s": round(available, 1),
        "occupancy": Span(
            (talk.lo + wrap.lo) / available - 0.0001, (talk.hi + wrap.hi) / available + 0.0001
        ),
    }


def assert_figures(got: dict[str, Any], want: dict[str, object], where: str) -> None:
    """Every figure: a count or share exactly, a duration within the transcripts' bounds."""
    for name, value in want.items():
        if isinstance(value, Span):
            assert value.holds(got[name]), f"{where} {name}: {got[name]} not in {value}"
        else:
            assert got[name] == value, f"{where} {name}: {got[name]} != {value}"


def test_a_day_through_the_stand_in_reports_what_its_transcripts_show(stand: Stand, capsys):
    rt = runtime.of(stand.app)
    opening = stand.clock()
    available_from = staff(rt)
    virtual = stand.hub.network.clock.now
    placed: list[tuple[str, int, str]] = []

    def later(seconds: float) -> Callable[[], bool]:
        start = virtual()
        return lambda: virtual() >= start + seconds

    def agents_free() -> bool:
        return stand.idle() and all(
            rt.redis.hget(keys.agent(a), "activity") == b"idle" for a in AGENT_PHONES
        )

    # 10:00, the busy hour: two callers take both agents; ten call seconds on, a third queues
    # behind them and waits for the first agent free; ten more on, a fourth gives up waiting.
    placed += [(stand.place(*MENU, "press:1"), 0, AREA), (stand.place(*MENU, "press:2"), 0, AREA)]
    stand.until(later(10), "ten call seconds")
    placed.append((stand.place(*MENU, "press:2"), 0, AREA))
    stand.until(later(10), "ten call seconds")
    placed.append((stand.place(*MENU, hangup_after=170), 0, AREA))
    stand.until(agents_free, "the busy hour's calls and wrap-ups to end", 60)

    # 11:00: the danger key at the greeting (the crisis-trained agent never answers: the crisis
    # line takes it), and two labor callers, whom nobody takes before 12:00: one leaves a
    # message, one asks for a callback on their own number.
    stand.clock.skip_to(opening + timedelta(hours=1))
    placed.append((stand.place("press:9"), 1, ""))
    labor = ("press:1", "press:2", "press:1", "press:1")
    placed.append((stand.place(*labor, "press:2", voicemail="speech"), 1, "labor"))
    placed.append((stand.place(*labor, "press:1", "press:1"), 1, "labor"))
    # A third hangs up as soon as they hear they are being put through: a short abandon.
    placed.append((stand.place(*labor, hangup_on=(QUEUE_WORDS,)), 1, "labor"))
    stand.until(agents_free, "the second hour's calls to end", 60)

    # 12:00: the labor agent comes on and calls back both: the one who asked, the one who left
    # a message.
    stand.clock.skip_to(opening + timedelta(hours=2))
    labor_from = rt.now()
    AgentBoard(rt.redis, rt.config.routing).set_presence(LABOR_AGENT, "available", labor_from)

    def both_called_back() -> bool:
        return (
            agents_free()
            and rt.redis.hget(keys.agent(LABOR_AGENT), "activity") == b"idle"
            and all(called_back_leg(stand, n) for n in (VOICEMAIL_CALLER, CALLBACK_CALLER))
        )

    stand.until(both_called_back, "the labor agent to call both callers back", 60)

    calls = [seen(stand, sid, hour, area) for sid, hour, area in placed]
    kinds = [c.kind for c in calls]
    busy_hour = ["answered"] * 3 + ["abandoned"]
    assert kinds == [*busy_hour, "crisis", "voicemail", "callback", "abandoned"], kinds
    # Each unsatisfied caller was called back by their follow-up's callback task, by the other
    # agent (not the one they were unhappy with), which closed the follow-up by that agent.
    unsatisfied = [c for c in calls if c.rating == 2]
    assert [c.sid for c in unsatisfied] == [sid for sid, _, _ in placed[1:3]]
    for call in unsatisfied:
        follow_up = FollowUps(rt.redis).get(call.sid)
        assert call.followup_closed and call.followed_up_by in AGENT_PHONES, call
        assert call.followed_up_by != call.agent
        assert (follow_up.closed_by, follow_up.task) == (call.followed_up_by, "done")
        # A supervisor closing it afterwards changes nothing: the callback's close stands.
        assert not FollowUps(rt.redis).close(call.sid, by="sam", note="called", now=rt.now())

    # Both agents sign off; the worker's upkeep folds their presence into intervals.
    stand.clock.skip_to(opening + SHIFT)
    signed_off = rt.now()
    for agent in [*AGENT_PHONES, CRISIS_AGENT, LABOR_AGENT]:
        AgentBoard(rt.redis, rt.config.routing).set_presence(agent, "offline", signed_off)
    stand.work()
    with stand.app.app_context():
        assert jobs.upkeep_job() == 2 * (len(AGENT_PHONES) + 2)
    stand.clock.skip_to(opening + SHIFT + timedelta(minutes=20))
    run_late_jobs(rt.redis)

    records = stand.records
    assert records.count_calls() == len(placed)
    # The voicemail job fetched the message the caller left from the stand-in and kept it.
    left = next(c for c in calls if c.kind == "voicemail")
    recording = records.get_call(left.sid)["voicemail_recording"]
    assert recording and MessageStore(rt.redis).get(recording).state == READY
    period = Period(DAY, DAY, ZONE)
    policy = rt.config.reports
    assert policy.service_level_s == SERVICE_LEVEL_S
    now = rt.now()
    # The wrap-up ends at the first sweep after it runs out: within one worker's turn of it.
    wrap_up = Span(WRAP_UP_S, WRAP_UP_S + stand.longest_turn)

    by_hour = report(records, period, by="hour", policy=policy, now=now)
    got = {b.key: b.figures for b in by_hour.buckets if b.figures["arrived"]}
    hours = sorted({c.hour for c in calls})
    assert set(got) == {f"{DAY.isoformat()} {10 + h:02d}:00" for h in hours}
    for h in hours:
        key = f"{DAY.isoformat()} {10 + h:02d}:00"
        assert_figures(got[key], expected([c for c in calls if c.hour == h], policy, wrap_up), key)
    by_area = report(records, period, by="area", policy=policy, now=now)
    got = {b.key: b.figures for b in by_area.buckets}
    areas = sorted({c.area for c in calls})
    assert set(got) == set(areas)
    for area in areas:
        assert_figures(
            got[area], expected([c for c in calls if c.area == area], policy, wrap_up), area
        )
    assert_figures(by_hour.total, expected(calls, policy, wrap_up), "total")
    assert set(expected(calls, policy, wrap_up)) == set(FIGURES)
    # The day has what each figure needs: answers in and out of the service level (two of the
    # six offered calls not abandoned at once), a short abandon and a long one.
    day = expected(calls, policy, wrap_up)
    assert (day["service_level"], day["short_abandoned"], day["abandoned"]) == (0.3333, 1, 1)

    # Each agent who took a call: those who answered, and the labor agent, who made callbacks
    # only (a callback is not an answer). The crisis line is no agent.
    agents = {b.key: b.figures for b in by_hour.agents}
    assert set(agents) == {*AGENT_PHONES, LABOR_AGENT}
    for agent in agents:
        available = signed_off - (labor_from if agent == LABOR_AGENT else available_from)
        assert_figures(agents[agent], expected_agent(agent, calls, wrap_up, available), agent)
    assert set(expected_agent("c1", calls, wrap_up, available)) == set(AGENT_FIGURES)

    # `hotline report` and the API give the same report, to the figure.
    dates = ["--from", DAY.isoformat(), "--to", DAY.isoformat()]
    assert main(["report", *dates, "--by", "hour", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report_json(by_hour)))
    UserStore(rt.redis, password_method="scrypt:1024:8:1").add(
        "sam", "supervisor", PASSWORD, rt.now()
    )
    api = sign_in(stand.app, "sam").get(f"/api/v1/reports?from={DAY}&to={DAY}&by=area")
    assert api.status_code == 200
    assert api.json == json.loads(json.dumps(report_json(by_area)))
