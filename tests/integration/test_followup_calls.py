"""Follow-ups that happen: an unsatisfied rating becomes a callback task routed like any
callback, closed when it reaches the caller, withdrawn when a supervisor closes it by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from rq import Queue

from queues import dispatch, events, followup_calls, keys, runtime
from queues.calls import CallStore
from queues.followups import FollowUps
from queues.reservations import Reservations
from queues.sweep import sweep
from routing.follow_ups import task_id
from tests.fixtures.app import CLOSED_TIME
from tests.fixtures.jobs import run_jobs
from tests.fixtures.ops import ROSTER, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.survey import (
    CALL,
    CALLER,
    agent_hangs_up,
    connect,
    join,
    press,
    rated_call,
)
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

TASK = task_id(CALL)
# The roster with a supervisor on call all week whose phone is agent d2's: d2 takes routed calls.
WITH_SUPERVISOR = (
    ROSTER
    + """\
supervisors:
  - id: s1
    name: 李主管
    phone: "+8613900000002"
    on_call:
      - {days: daily, hours: "00:00-24:00"}
"""
)
# A third family agent, better than d2 in family and free longer: the area would pick them.
WITH_D3 = ROSTER.replace(
    "  - id: n1\n",
    """\
  - id: d3
    name: 赵三
    phone: "+8613900000004"
    languages: [zh]
    skills: {family: 3}
    shifts:
      - {days: daily, hours: "00:00-24:00"}
  - id: n1
""",
)


def routed(redis, kind: str) -> list[dict[str, str]]:
    """The events of one kind about the follow-up or its task, oldest first."""
    found = reversed(events.recent(redis, 2000))
    return [e for e in found if e["kind"] == kind and e.get("call") in (CALL, TASK)]


def unhappy(app, hotline, twilio) -> None:
    """A family call d1 took, rated 2 (both agents available); the follow-up's job then runs."""
    press(twilio, rated_call(app, hotline, twilio), "2")
    with app.app_context():
        run_jobs(hotline.redis, "default")
    widen(hotline)


def widen(hotline) -> None:
    """Three minutes on: d1's wrap-up is over, and any family level may take the task."""
    hotline.clock.now = datetime.fromtimestamp(hotline.now + 181, UTC)
    policy = hotline.app.config["HOTLINE"].routing
    dispatch.dispatch(hotline.redis, list(sweep(hotline.redis, policy, hotline.now).matches))


def offer_of(app, hotline):
    """The task's current reservation, or None."""
    queued = hotline.room.get(TASK)
    policy = app.config["HOTLINE"].routing
    return Reservations(hotline.redis, policy).get(queued.reservation) if queued else None


def shown(app, call_sid: str = CALL) -> str:
    """The task's state as the supervisors' list shows it."""
    with app.app_context():
        rt = runtime.serving()
        return followup_calls.shown_state(rt, FollowUps(rt.redis).get(call_sid))


def test_a_2_becomes_a_callback_task_for_another_agent_closed_when_it_connects(
    app, hotline, twilio, redis
):
    unhappy(app, hotline, twilio)
    # d1 took the call and is free again (and the best in family): the task rings d2.
    queued = hotline.room.get(TASK)
    assert (queued.kind, queued.area, queued.language) == ("callback", "family", "zh")
    offer = offer_of(app, hotline)
    assert (offer.kind, offer.agent_id, offer.state) == ("callback", "d2", "offered")
    assert hotline.room.callback_number(TASK) == CALLER
    assert FollowUps(redis).get(CALL).task == "queued" and shown(app) == "ringing"
    (route,) = routed(redis, "follow-up-routed")
    assert (route["target"], route["avoid"], route["task"]) == ("area", "d1", TASK)
    assert f"ring-{offer.id}" in Queue(dispatch.DISPATCH_QUEUE, connection=redis).job_ids
    # Never the number in plain at rest or in events.
    assert CALLER.encode() not in redis.hget(keys.queued_call(TASK), "callback_number")
    assert not any(CALLER[-8:] in str(e) for e in events.recent(redis, 2000))

    # The whisper says why: a follow-up after an unsatisfied rating of 王丽 (d1).
    whisper = Doc.parse(twilio.post(f"/voice/agent/whisper?res={offer.id}", {"CallSid": "CA8"}))
    said = [say.text for say in whisper.first("Gather").findall("Say")]
    config = app.config["HOTLINE"]
    assert said[0] == config.prompt("whisper_follow_up_rating", "zh", agent="王丽")
    assert "回电任务" in said[1]

    accepted = twilio.post(f"/voice/agent/answer?res={offer.id}", {"CallSid": "CA8", "Digits": "1"})
    assert Doc.parse(accepted).first("Conference").text == offer.id
    assert shown(app) == "ringing"
    # The caller picks up: the follow-up closes by itself, by d2, now.
    hotline.clock.now = hotline.clock.now.replace(second=30)
    leg = "CA" + "7" * 32
    joined = Doc.parse(twilio.post(f"/voice/connect/callback?res={offer.id}", {"CallSid": leg}))
    assert joined.first("Conference").text == offer.id
    follow_up = FollowUps(redis).get(CALL)
    assert follow_up.closed and follow_up.closed_by == "d2"
    assert follow_up.closed_at == pytest.approx(hotline.now, abs=0.01)
    assert follow_up.task == "done" and follow_up.caller == "" and shown(app) == "done"
    assert FollowUps(redis).open_count() == 0
    (audited,) = [e for e in supervisor_audit(redis) if e.action == "followup.close"]
    assert (audited.actor, audited.target, audited.after) == (
        "phone:d2",
        CALL,
        {"closed": True, "task": "done"},
    )
    # The callback itself is not rated: no follow-up of the follow-up.
    with app.app_context():
        assert dispatch.finish(runtime.serving(), offer.id).state == "finished"
    bye = Doc.parse(
        twilio.post(
            f"/voice/survey?res={offer.id}&lang=zh",
            {"CallSid": leg, "CallStatus": "in-progress", "DialCallStatus": "completed"},
        )
    )
    assert bye.all("Gather") == []
    supervisor = sign_in(app, "sam")
    kept = supervisor.get("/api/v1/followups?closed=1").json["followups"]
    assert [(f["call"], f["state"], f["closed_by"]) for f in kept] == [(CALL, "done", "d2")]
    board = supervisor.get("/api/v1/wallboard").json
    assert board["today"]["followups_done"] == 1 and board["followups_open"] == 0


def test_the_unhappy_agent_is_never_offered_it_while_another_could_take_it(
    app, hotline, twilio, redis
):
    press(twilio, rated_call(app, hotline, twilio), "2")
    # d2 (on shift, family) has stepped away; d1 is free and the best in family.
    hotline.board.set_presence("d2", "on_break", hotline.now)
    with app.app_context():
        run_jobs(redis, "default")
    assert hotline.room.get(TASK).state == "waiting"
    assert hotline.matcher.match_agent("d1", hotline.now) is None
    assert hotline.room.get(TASK).state == "waiting" and shown(app) == "waiting"
    # A minute on, d2 (any family level now) is back: the task goes to them, not to d1.
    with app.app_context():
        dispatch.set_presence(
            redis, app.config["HOTLINE"].routing, "d2", "available", hotline.now + 61
        )
    assert offer_of(app, hotline).agent_id == "d2"


def test_when_only_the_unhappy_agent_could_take_it_they_call_back(app, hotline, twilio, redis):
    # Nobody else on the roster takes family (or general) calls in Mandarin today.
    hotline.load_roster(ROSTER.replace("general: 2, family: 1, ", ""))
    hotline.board.set_presence("d2", "available", hotline.now)
    unhappy(app, hotline, twilio)
    (route,) = routed(redis, "follow-up-routed")
    assert route.get("avoid") is None
    assert offer_of(app, hotline).agent_id == "d1"


def test_to_a_supervisor_who_takes_routed_calls(app, hotline, twilio, redis, hotline_config):
    survey = replace(hotline_config.survey, follow_up_to="supervisor")
    app.config["HOTLINE"] = app.extensions["hotline"].config = replace(
        hotline_config, survey=survey
    )
    hotline.load_roster(WITH_D3 + WITH_SUPERVISOR[len(ROSTER) :])
    hotline.board.set_presence("d3", "available", hotline.now - 600)
    unhappy(app, hotline, twilio)
    (route,) = routed(redis, "follow-up-routed")
    assert route["target"] == "supervisor"
    # d3 is the best in family and free longest, but only the supervisor (agent d2) is offered it.
    assert offer_of(app, hotline).agent_id == "d2"


def test_to_the_area_when_no_supervisor_takes_routed_calls(
    app, hotline, twilio, redis, hotline_config
):
    survey = replace(hotline_config.survey, follow_up_to="supervisor")
    app.config["HOTLINE"] = app.extensions["hotline"].config = replace(
        hotline_config, survey=survey
    )
    unhappy(app, hotline, twilio)
    (route,) = routed(redis, "follow-up-routed")
    assert route["target"] == "area" and offer_of(app, hotline).agent_id == "d2"


def test_closing_by_hand_withdraws_the_task_and_frees_the_ringing_agent(
    app, hotline, twilio, redis
):
    unhappy(app, hotline, twilio)
    offer = offer_of(app, hotline)
    assert offer.agent_id == "d2"
    supervisor = sign_in(app, "sam")
    page = supervisor.get("/ops/followups").get_data(as_text=True)
    assert 'data-state="ringing"' in page and "正在拨打" in page
    done = supervisor.post(f"/api/v1/followups/{CALL}/close", json={"note": "已人工回电"})
    assert done.status_code == 200 and done.json["changed"] is True
    assert FollowUps(redis).get(CALL).task == "withdrawn"
    queued = hotline.room.get(TASK)
    assert (queued.state, queued.outcome) == ("ended", "closed")
    policy = app.config["HOTLINE"].routing
    assert Reservations(redis, policy).get(offer.id).state == "caller-gone"
    assert hotline.board.get("d2").activity == "idle"
    assert f"withdraw-{offer.id}" in Queue(dispatch.DISPATCH_QUEUE, connection=redis).job_ids
    audit = [e for e in supervisor_audit(redis) if e.action == "followup.close"]
    assert audit[0].after["task"] == "withdrawn"
    # The closed task is never offered again.
    assert hotline.matcher.match_agent("d2", hotline.now + 5) is None


def supervisor_audit(redis):
    """The audit log's latest entries."""
    from queues.audit import AuditLog

    return AuditLog(redis).recent(10)


def test_repeated_survey_webhooks_open_one_task(app, hotline, twilio, redis):
    question = rated_call(app, hotline, twilio)
    for _ in range(3):
        press(twilio, question, "2")
    assert len(routed(redis, "follow-up-scheduled")) == 1
    with app.app_context():
        run_jobs(redis, "default")
        # A stray second run of the job finds the task queued already.
        assert followup_calls.callback_job(CALL) == "queued"
    assert len(routed(redis, "follow-up-routed")) == 1
    widen(hotline)
    offers = [e for e in routed(redis, "offered") if e["call"] == TASK]
    assert len(offers) == 1


def test_at_night_the_task_waits_for_the_areas_opening(app, hotline, twilio, redis, clock):
    # Sunday noon in Shanghai: the areas are closed, though d1 and d2 are on shift (a call
    # taken in the last minutes before closing is rated after it).
    clock.now = CLOSED_TIME
    hotline.load_roster()
    press(twilio, rated_call(app, hotline, twilio), "2")
    assert FollowUps(redis).get(CALL).task == "scheduled"
    queue = Queue("default", connection=redis)
    assert queue.job_ids == []
    registry = queue.scheduled_job_registry
    assert registry.get_job_ids() == [f"followup-callback-{CALL}"]
    due = registry.get_scheduled_time(f"followup-callback-{CALL}").replace(tzinfo=UTC)
    with app.app_context():
        hours = runtime.serving().config.areas["family"].hours
    # The family area's next opening: Monday morning, not now.
    assert due > CLOSED_TIME and not hours.is_open(CLOSED_TIME) and hours.is_open(due)
    assert hotline.room.get(TASK) is None and shown(app) == "waiting"
    (scheduled,) = routed(redis, "follow-up-scheduled")
    assert float(scheduled["due"]) == due.timestamp()
    # Run early (a worker's clock ahead, an hours edit since): it waits again for the opening.
    clock.now = datetime.fromtimestamp(due.timestamp() - 60, UTC)
    with app.app_context():
        assert followup_calls.callback_job(CALL) == "rescheduled"
    assert hotline.room.get(TASK) is None
    # At the opening it joins the waiting room.
    clock.now = due
    with app.app_context():
        assert followup_calls.callback_job(CALL) == "queued"
    assert hotline.room.get(TASK).kind == "callback"


def test_a_withheld_number_stays_a_list_item(app, hotline, twilio, redis):
    CallStore(redis).start(CALL, "anonymous")
    press(twilio, rated_call(app, hotline, twilio), "2")
    assert FollowUps(redis).get(CALL).task == "no-number"
    assert Queue("default", connection=redis).job_ids == []
    supervisor = sign_in(app, "sam")
    page = supervisor.get("/ops/followups").get_data(as_text=True)
    assert 'data-state="no-number"' in page and "号码未显示" in page


def test_an_unreached_caller_is_retried_then_the_task_ends_unreached(app, hotline, twilio, redis):
    unhappy(app, hotline, twilio)
    policy = app.config["HOTLINE"].routing
    for attempt in range(policy.callback_attempts):
        offer = offer_of(app, hotline)
        assert offer is not None and offer.agent_id == "d2", attempt
        twilio.post(f"/voice/agent/answer?res={offer.id}", {"CallSid": "CA8", "Digits": "1"})
        twilio.post(
            f"/voice/connect/callback-status?res={offer.id}",
            {"CallSid": "CA7", "CallStatus": "no-answer"},
        )
        if attempt + 1 < policy.callback_attempts:
            assert shown(app) == "waiting"
            # The retry comes due after the spacing; the sweep puts it back and d2 is offered it.
            hotline.clock.now = datetime.fromtimestamp(
                hotline.now + policy.callback_spacing_s + 1, UTC
            )
            with app.app_context():
                rt = runtime.serving()
                from queues.sweep import sweep

                report = sweep(redis, rt.config.routing, rt.now())
            assert any(m.call_sid == TASK for m in report.matches), report
    follow_up = FollowUps(redis).get(CALL)
    assert follow_up.task == "unreached" and not follow_up.closed and follow_up.caller == CALLER
    assert shown(app) == "unreached"


def test_a_follow_up_outcome_at_wrap_up_becomes_a_callback_task(app, hotline, twilio, redis):
    rid = connect(app, hotline, twilio)
    join(twilio, rid)
    agent_hangs_up(app, rid)
    wang = sign_in(app, "wang")
    wrap_up = {"reservation": rid, "note": "需要补充劳动合同材料", "outcome": "follow_up"}
    assert wang.post("/api/v1/agents/d1/call/note", json=wrap_up).status_code == 200
    follow_up = FollowUps(redis).get(CALL)
    assert (follow_up.reason, follow_up.agent, follow_up.caller) == ("outcome", "d1", CALLER)
    # Given again (the desk's own outcome button): still one follow-up, one task.
    again = {"reservation": rid, "outcome": "answered"}
    assert wang.post("/api/v1/agents/d1/call/outcome", json=again).status_code == 200
    wrap_up["note"] = "需要补充劳动合同材料，周五前回电"
    assert wang.post("/api/v1/agents/d1/call/note", json=wrap_up).status_code == 200
    with app.app_context():
        run_jobs(redis, "default")
    assert len(routed(redis, "follow-up-routed")) == 1
    (route,) = routed(redis, "follow-up-routed")
    # The agent asked for it: nobody is avoided; d1 (best in family) calls back after wrap-up.
    assert route.get("avoid") is None
    widen(hotline)
    offer = offer_of(app, hotline)
    assert offer.agent_id == "d1"
    whisper = Doc.parse(twilio.post(f"/voice/agent/whisper?res={offer.id}", {"CallSid": "CA8"}))
    said = [say.text for say in whisper.first("Gather").findall("Say")]
    config = app.config["HOTLINE"]
    assert said[0] == config.prompt(
        "whisper_follow_up_outcome", "zh", note="需要补充劳动合同材料，周五前回电"
    )
    supervisor = sign_in(app, "sam")
    (listed,) = supervisor.get("/api/v1/followups").json["followups"]
    assert (listed["reason"], listed["state"]) == ("outcome", "ringing")
    page = supervisor.get("/ops/followups").get_data(as_text=True)
    assert "需回访" in page


def test_a_job_run_at_once_finds_its_follow_up_scheduled(app, hotline, twilio, redis, monkeypatch):
    # A quick worker runs the job the instant it is queued, before the web thread goes on.
    ran: list[str] = []

    def run_at_once(redis_, when, job, call_sid, job_id):
        ran.append(job(call_sid))

    monkeypatch.setattr(followup_calls.callback_jobs, "start_at", run_at_once)
    question = rated_call(app, hotline, twilio)
    press(twilio, question, "2")
    assert ran == ["queued"]
    assert len(routed(redis, "follow-up-routed")) == 1
