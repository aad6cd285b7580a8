"""A day of calls through the real app and jobs, then `hotline report`'s figures by hour and by
area each equal the same figure computed here from what the test scripted.

Twilio's side is the signed-webhook poster (the stand-in Twilio the app's tests post as) and the
test clock moves through three busy hours: answered calls with ratings (two unsatisfied: the
first's follow-up closed by a supervisor by hand while its callback task rings the area's other
agent, which withdraws the task; the second's callback task taken by that agent, closing it when
it reaches the caller), abandons long and short, voicemails (one called back), a callback the
caller asked for and dialled back within the day (not an answer of the call: docs/reports.md),
and a crisis that rolls over to a crisis line. The records are written by the record jobs, the
late ones included, the agents' presence folded by the upkeep job; the figures by hour and by
area, each agent's figures (handled, talk, wrap-up, heavy calls, occupancy: a callback, a
follow-up's included, is no call answered), and the same report from `hotline report --format
json` and from the API are compared with what the test scripted.

Runs on SQLite, and on PostgreSQL too when DATABASE_URL names a server (CI's second run).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from hotline.cli import main
from queues import dispatch, events, runtime
from queues.followups import FollowUps
from queues.records import jobs
from queues.records.reading import report
from queues.records.store import RecordStore
from queues.reservations import Reservation, Reservations
from queues.sweep import sweep
from routing.follow_ups import task_id
from routing.report import AGENT_FIGURES, FIGURES, Period, ReportPolicy, report_json
from tests.fixtures.conference import report_join
from tests.fixtures.jobs import run_jobs
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.records import run_late_jobs, stamp_wall_time
from tests.fixtures.twiml import Doc
from voicemail import callbacks
from voicemail.messages import READY, MessageStore

pytestmark = pytest.mark.redis

ZONE = "Asia/Shanghai"
DAY = date(2026, 12, 2)
LIVE = {"CallStatus": "in-progress", "DialCallStatus": "completed"}


@dataclass
class Placed:
    """One call as the test scripted it: what each figure is computed from here."""

    hour: int
    area: str
    kind: str  # answered, abandoned, voicemail, callback, crisis
    wait: float | None = None
    talk: float | None = None
    wrap_up: float | None = None
    rating: int | None = None
    # How an unsatisfied caller's follow-up ends: "closed" by a supervisor by hand, or
    # "called-back" by its callback task reaching the caller.
    followup: str = ""
    called_back_after: float | None = None
    rollover: bool = False
    to_human: float | None = None
    # A callback the caller asked for reached them (an agent dialled back within the day).
    called_back: bool = False

    @property
    def followup_closed(self) -> bool:
        """Whether the call's follow-up was closed, by hand or by its callback."""
        return bool(self.followup)


# Three hours, a handful of calls each: (hour offset from 10:00, area, kind, details).
SCRIPT = [
    Placed(0, "family", "answered", wait=12, talk=300, rating=1),
    Placed(0, "labor", "answered", wait=35, talk=240, rating=2, followup="closed"),
    Placed(0, "family", "abandoned", wait=3),
    Placed(0, "labor", "abandoned", wait=50),
    Placed(1, "family", "answered", wait=8, talk=180),
    Placed(1, "labor", "voicemail", wait=70, called_back_after=600),
    Placed(1, "", "crisis", rollover=True, to_human=30),  # the danger key before any area is chosen
    Placed(1, "labor", "abandoned", wait=2),
    Placed(2, "labor", "answered", wait=25, talk=420, rating=2, followup="called-back"),
    Placed(2, "family", "callback", wait=40, called_back=True),
    Placed(2, "family", "voicemail", wait=15),
    Placed(2, "labor", "answered", wait=5, talk=60, rating=1),
]
AGENT = {"family": "d1", "labor": "d2"}
# The agent a labor caller unhappy with d2 is called back by: d1 takes labor calls too.
FOLLOW_UP_AGENT = "d1"
# The agents go offline this long after the day opened, once every call and wrap-up is over.
SHIFT = timedelta(hours=3, minutes=30)


class Day:
    """Places the scripted calls through the app's webhooks and routing, on the test clock."""

    def __init__(self, app, hotline: Hotline, twilio, clock, redis):
        self.app, self.hotline, self.twilio, self.clock, self.redis = (
            app,
            hotline,
            twilio,
            clock,
            redis,
        )
        self.policy = app.config["HOTLINE"].routing
        self.reservations = Reservations(redis, self.policy)
        # When the last callback reached its caller.
        self.picked_up: float | None = None

    def wait(self, seconds: float) -> None:
        """Move the test clock on."""
        self.clock.now += timedelta(seconds=seconds)

    def arrive(self, sid: str, number: str) -> None:
        """The call reaches the hotline (Twilio's first webhook)."""
        assert self.twilio.post("/voice", {"CallSid": sid, "From": number}).status_code == 200

    def queue(self, sid: str, area: str) -> None:
        """The menu put the caller in the area's queue, in Mandarin."""
        self.redis.hset(f"hotline:call:{sid}", mapping={"area": area, "language": "zh"})
        assert self.hotline.room.enqueue(sid, area=area, language="zh", now=self.hotline.now)

    def end(self, sid: str) -> None:
        """Twilio's final status of the caller's leg."""
        self.twilio.post("/voice/status", {"CallSid": sid, "CallStatus": "completed"})

    def answered(self, sid: str, call: Placed) -> None:
        """Matched after the wait, answered at once, talked, rated, hung up."""
        match = self.hotline.matcher.match_call(sid, self.hotline.now)
        assert match is not None and match.agent_id == AGENT[call.area]
        rid = match.reservation_id
        answer = self.twilio.post(
            f"/voice/agent/answer?res={rid}", {"CallSid": "CA9", "Digits": "1"}
        )
        assert Doc.parse(answer).first("Conference").text == rid
        report_join(self.twilio, Doc.parse(answer), "CA9")
        joined = Doc.parse(self.twilio.post(f"/voice/connect/queued?res={rid}", {"CallSid": sid}))
        # Answered once the conference reports the caller there too.
        report_join(self.twilio, joined, sid)
        self.wait(call.talk)
        with self.app.app_context():
            assert dispatch.finish(runtime.current(), rid).state == "finished"
        finished = self.clock.now
        action = joined.first("Dial").get("action")
        question = Doc.parse(self.twilio.post(action, {"CallSid": sid, **LIVE}))
        if call.rating is not None:
            rating = question.first("Gather").get("action")
            self.twilio.post(rating, {"CallSid": sid, "Digits": str(call.rating)})
        self.end(sid)
        call.wrap_up = self.policy.wrap_up_s(call.area, heavy=False)
        # The worker's sweep at the moment the wrap-up runs out frees the agent.
        self.clock.now = finished + timedelta(seconds=call.wrap_up)
        self.sweep()

    def sweep(self) -> None:
        """The routing sweep the worker runs every few seconds, once, now."""
        sweep(self.redis, self.policy, self.hotline.now)

    def abandoned(self, sid: str, call: Placed) -> None:
        """The caller hangs up while waiting."""
        self.twilio.post(
            f"/voice/queue-result?lang=zh&area={call.area}",
            {"CallSid": sid, "QueueResult": "hangup"},
        )
        self.end(sid)

    def voicemail(self, sid: str, call: Placed, recording: str) -> None:
        """The caller presses 2 while waiting and leaves a message."""
        self.twilio.post(
            f"/voice/wait/key?lang=zh&area={call.area}", {"CallSid": sid, "Digits": "2"}
        )
        record = self.twilio.post(
            f"/voice/queue-result?lang=zh&area={call.area}",
            {"CallSid": sid, "QueueResult": "leave"},
        )
        status_url = Doc.parse(record).first("Record").get("recordingStatusCallback")
        self.end(sid)
        url = f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording}"
        form = {"CallSid": sid, "RecordingSid": recording, "RecordingStatus": "completed"}
        form.update(RecordingDuration="20", RecordingUrl=url)
        assert self.twilio.post(status_url, form).status_code == 200
        assert MessageStore(self.redis).get(recording).call_sid == sid
        # Processing fetches and checks the audio; its outcome, as the voicemail job says it.
        MessageStore(self.redis).set_fields(recording, {"state": READY})
        events.append(self.redis, "voicemail_ready", recording=recording, call=sid)

    def call_back_voicemail(self, recording: str) -> None:
        """An agent of the area takes the message's callback and the caller picks up."""
        with self.app.app_context():
            assert callbacks.callback_job(recording) == "queued"
        task = callbacks.task_id(recording)
        rid = self.hotline.room.get(task).reservation
        self.connect_callback(rid, task)

    def connect_callback(self, rid: str, sid: str) -> None:
        """The agent accepts a callback, the caller picks up, they talk a minute."""
        assert self.reservations.accept(rid, self.hotline.now).changed
        self.picked_up = self.hotline.now
        leg = "CB" + sid[-32:]
        joined = self.twilio.post(f"/voice/connect/callback?res={rid}", {"CallSid": leg})
        assert Doc.parse(joined).first("Conference").text == rid
        self.wait(60)
        with self.app.app_context():
            dispatch.finish(runtime.current(), rid)
        self.wait(self.policy.wrap_up_s("labor", heavy=False))
        self.sweep()

    def follow_up_offer(self, sid: str) -> Reservation:
        """The offer the follow-up's callback task rings: the area's other agent, never d2."""
        queued = self.hotline.room.get(task_id(sid))
        assert queued is not None and queued.state == "reserved"
        offer = self.reservations.get(queued.reservation)
        assert (offer.kind, offer.agent_id, offer.state) == ("callback", FOLLOW_UP_AGENT, "offered")
        return offer

    def close_follow_up(self, sid: str) -> None:
        """A supervisor closes the follow-up by hand as its task rings: withdrawn, agent freed."""
        offer = self.follow_up_offer(sid)
        self.wait(10)
        supervisor = sign_in(self.app, "sam")
        done = supervisor.post(f"/api/v1/followups/{sid}/close", json={"note": "已人工回电"})
        assert done.status_code == 200 and done.json["changed"] is True
        assert FollowUps(self.redis).get(sid).task == "withdrawn"
        assert self.reservations.get(offer.id).state == "caller-gone"
        assert self.hotline.board.get(FOLLOW_UP_AGENT).activity == "idle"

    def call_back_follow_up(self, sid: str) -> None:
        """The follow-up's task rings the area's other agent, who calls the caller back."""
        offer = self.follow_up_offer(sid)
        self.wait(10)
        self.connect_callback(offer.id, task_id(sid))
        # Reaching the caller closed the follow-up, by the agent who called.
        follow_up = FollowUps(self.redis).get(sid)
        assert (follow_up.task, follow_up.closed_by) == ("done", FOLLOW_UP_AGENT)

    def callback(self, sid: str, call: Placed) -> None:
        """The caller asks to be called back on their number and hangs up."""
        area = call.area
        self.twilio.post(f"/voice/wait/key?lang=zh&area={area}", {"CallSid": sid, "Digits": "1"})
        self.twilio.post(
            f"/voice/wait/callback?lang=zh&area={area}",
            {"CallSid": sid, "Digits": "1", "QueueTime": str(int(call.wait))},
        )
        self.twilio.post(
            f"/voice/queue-result?lang=zh&area={area}", {"CallSid": sid, "QueueResult": "leave"}
        )
        self.end(sid)
        if call.called_back:
            # The agent of the area is free at once and dials the caller back.
            self.wait(120)
            match = self.hotline.matcher.match_call(sid, self.hotline.now)
            assert match is not None and match.agent_id == AGENT[area]
            self.connect_callback(match.reservation_id, sid)

    def crisis(self, sid: str) -> None:
        """The danger key at the greeting; no agent takes it, the first crisis line does."""
        ring = Doc.parse(self.twilio.post("/voice/language", {"CallSid": sid, "Digits": "9"}))
        action = ring.first("Dial").get("action")
        self.wait(20)
        line = Doc.parse(self.twilio.post(action, {"CallSid": sid, "DialCallStatus": "no-answer"}))
        self.wait(10)
        after = line.first("Dial").get("action")
        self.twilio.post(
            after, {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "90"}
        )
        self.end(sid)


@pytest.fixture
def day_clock(clock, monkeypatch):
    """The test clock, also as the wall time calls, events and incident steps are stamped with.

    In production the hotline's clock is the wall clock; here the day runs on the test clock.
    """
    clock.now = clock.now.replace(minute=0, second=0)
    stamp_wall_time(monkeypatch, lambda: clock.now.timestamp())
    return clock


def place_day(app, hotline: Hotline, twilio, clock, redis, store: RecordStore) -> None:
    """Every scripted call in order, each at its quarter-hour; rows checked as facts come."""
    day = Day(app, hotline, twilio, clock, redis)
    hotline.board.set_presence("d1", "available", hotline.now)
    hotline.board.set_presence("d2", "available", hotline.now)
    opening = clock.now
    for index, call in enumerate(SCRIPT):
        # The k-th call of an hour arrives k quarter-hours in: each call is over by then.
        slot = sum(1 for c in SCRIPT[:index] if c.hour == call.hour)
        arrival = opening + timedelta(hours=call.hour, minutes=15 * slot)
        assert clock.now <= arrival, f"call {index} would arrive late"
        clock.now = arrival
        day.sweep()
        sid = f"CA{index:032d}"
        day.arrive(sid, f"+86139{index:08d}")
        if call.kind == "crisis":
            day.crisis(sid)
            continue
        day.wait(30)  # the menu
        day.queue(sid, call.area)
        day.wait(call.wait)
        recording = f"RE{index:032d}"
        if call.kind == "voicemail":
            day.voicemail(sid, call, recording)
        else:
            getattr(day, call.kind)(sid, call)
        # The call's end has its record written before any late fact happens; a follow-up's
        # callback task is queued and rings an agent.
        run_jobs(redis, "default")
        if call.called_back_after is not None:
            day.wait(call.called_back_after)
            day.call_back_voicemail(recording)
        if call.followup == "closed":
            day.close_follow_up(sid)
        elif call.followup == "called-back":
            day.call_back_follow_up(sid)
        run_jobs(redis, "default")
        # Facts that came after the call's end are in its row already, before the settled job.
        row = store.get_call(sid)
        if call.followup_closed:
            assert row["followup_closed"] is True
        if call.called_back_after is not None:
            assert row["voicemail_called_back_at"] == pytest.approx(day.picked_up, abs=0.01)
    # Both agents sign off; the worker's upkeep folds their presence into intervals.
    assert clock.now <= opening + SHIFT
    clock.now = opening + SHIFT
    for agent in AGENT.values():
        hotline.board.set_presence(agent, "offline", hotline.now)
    with app.app_context():
        assert jobs.upkeep_job() == 2 * len(AGENT)
    clock.now += timedelta(minutes=20)
    run_late_jobs(redis)


# --- the figures computed from the script -----------------------------------------------------


def expected(calls: list[Placed], policy: ReportPolicy) -> dict[str, object]:
    """The figures of a set of scripted calls, as docs/reports.md defines each."""
    offered = [c for c in calls if c.kind != "crisis"]
    answered = [c for c in offered if c.kind == "answered"]
    gave_up = [c for c in offered if c.kind == "abandoned"]
    short = [c for c in gave_up if c.wait < policy.short_abandon_s]
    counted = len(offered) - len(short)
    waits = sorted(float(c.wait) for c in answered)
    voicemails = [c for c in calls if c.kind == "voicemail"]
    called_back = [c for c in voicemails if c.called_back_after is not None]
    rated = [c for c in calls if c.rating in (1, 2)]
    unsatisfied = [c for c in rated if c.rating == 2]
    crises = [c for c in calls if c.kind == "crisis"]
    callbacks_asked = [c for c in calls if c.kind == "callback"]
    to_human = sorted(float(c.to_human) for c in crises)

    def share(part, whole):
        return round(part / whole, 4) if whole else None

    def mean(values):
        return round(sum(values) / len(values), 1) if values else None

    def rank(p):
        return waits[max(math.ceil(p / 100 * len(waits)), 1) - 1] if waits else None

    return {
        "arrived": len(calls),
        "offered": len(offered),
        "answered": len(answered),
        "answer_rate": share(len(answered), len(offered)),
        "service_level": share(
            sum(1 for c in answered if c.wait <= policy.service_level_s), counted
        ),
        "abandoned": len(gave_up) - len(short),
        "short_abandoned": len(short),
        "abandon_rate": share(len(gave_up) - len(short), counted),
        "asa_s": mean(waits),
        "wait_p50_s": rank(50),
        "wait_p90_s": rank(90),
        "wait_max_s": waits[-1] if waits else None,
        "talk_mean_s": mean([c.talk for c in answered]),
        "wrap_up_mean_s": mean([c.wrap_up for c in answered]),
        "callbacks_requested": len(callbacks_asked),
        "callbacks_completed": sum(1 for c in callbacks_asked if c.called_back),
        "voicemails_left": len(voicemails),
        "voicemails_called_back": len(called_back),
        # Left at the call's end (the message recorded in no time here), called back after.
        "voicemail_callback_mean_s": mean([c.called_back_after for c in called_back]),
        "rated": len(rated),
        "satisfied_share": share(len(rated) - len(unsatisfied), len(rated)),
        "followups_opened": len(unsatisfied),
        "followups_closed": sum(1 for c in unsatisfied if c.followup_closed),
        "crisis_triggers": len(crises),
        "crisis_to_human_p50_s": to_human[max(math.ceil(len(to_human) / 2), 1) - 1]
        if to_human
        else None,
        "crisis_to_human_max_s": to_human[-1] if to_human else None,
        "crisis_rollovers": sum(1 for c in crises if c.rollover),
    }


def expected_agent(agent: str, calls: list[Placed]) -> dict[str, object]:
    """An agent's figures over the day, as docs/reports.md defines each."""
    handled = [c for c in calls if c.kind == "answered" and AGENT[c.area] == agent]
    talk = sum(c.talk for c in handled)
    wrap_up = sum(c.wrap_up for c in handled)
    available = SHIFT.total_seconds()
    return {
        "handled": len(handled),
        "talk_s": round(talk, 1),
        "talk_mean_s": round(talk / len(handled), 1),
        "wrap_up_s": round(wrap_up, 1),
        "wrap_up_mean_s": round(wrap_up / len(handled), 1),
        "heavy_calls": 0,
        "available_s": round(available, 1),
        "occupancy": round((talk + wrap_up) / available, 4),
    }


def test_a_days_report_by_hour_and_by_area_matches_the_calls_placed(
    app,
    hotline,
    twilio,
    day_clock,
    redis,
    records,  # noqa: F811
    capsys,
):
    place_day(app, hotline, twilio, day_clock, redis, records)
    period = Period(DAY, DAY, ZONE)
    policy = ReportPolicy()
    now = day_clock.now.timestamp()
    assert records.count_calls() == len(SCRIPT)

    by_hour = report(records, period, by="hour", policy=policy, now=now)
    got = {b.key: b.figures for b in by_hour.buckets if b.figures["arrived"]}
    want = {
        f"{DAY.isoformat()} {10 + hour:02d}:00": expected(
            [c for c in SCRIPT if c.hour == hour], policy
        )
        for hour in sorted({c.hour for c in SCRIPT})
    }
    assert set(got) == set(want)
    for key, figures in want.items():
        assert {n: got[key][n] for n in figures} == figures, key

    by_area = report(records, period, by="area", policy=policy, now=now)
    got = {b.key: b.figures for b in by_area.buckets}
    want = {
        area: expected([c for c in SCRIPT if c.area == area], policy)
        for area in sorted({c.area for c in SCRIPT})
    }
    assert set(got) == set(want)
    for key, figures in want.items():
        assert {n: got[key][n] for n in figures} == figures, key
    # Every figure is checked.
    assert set(expected(SCRIPT, policy)) == set(FIGURES)
    assert by_hour.total == by_area.total

    # Each agent who answered: calls handled, talk, wrap-up, heavy calls and occupancy.
    agents = {b.key: b.figures for b in by_hour.agents}
    want_agents = {agent: expected_agent(agent, SCRIPT) for agent in AGENT.values()}
    assert {name: agents[name] for name in want_agents} == want_agents
    assert set(expected_agent("d1", SCRIPT)) == set(AGENT_FIGURES)
    assert by_area.agents == by_hour.agents

    # `hotline report` and the API give the same report, to the figure.
    dates = ["--from", DAY.isoformat(), "--to", DAY.isoformat()]
    assert main(["report", *dates, "--by", "hour", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(report_json(by_hour)))
    api = sign_in(app, "sam").get(f"/api/v1/reports?from={DAY}&to={DAY}&by=area")
    assert api.status_code == 200
    assert api.json == json.loads(json.dumps(report_json(by_area)))
