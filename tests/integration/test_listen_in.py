"""Listen-in from the wallboard: a supervisor rung into a live call as listen, coach or barge.

The app (Flask's test client, real Redis) asks; the jobs run in-process against the stand-in,
where a caller and an agent are in the reservation's conference. The stand-in's participants say
what Twilio was told (muted, coaching whom); the supervisor leg's status reports are posted as
Twilio signs them. Roles, the audit log, and the answers when it cannot be done are checked too.
"""

from __future__ import annotations

import pytest
import requests

from queues.calls import CallStore
from queues.listen_in import join_job
from tests.fixtures.app import Twilio
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN
from tests.fixtures.jobs import run_jobs
from tests.fixtures.listen_in import CALL, PATH, SUPERVISOR, audit_of, line, user
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis
__all__ = ["line"]


def test_a_supervisor_listens_coaches_barges_and_leaves_each_step_audited(app, redis, line):
    wu = user(app, redis, "wu", "supervisor")

    started = wu.post(PATH, json={"mode": "listen"})
    assert started.status_code == 202, started.json
    assert (started.json["mode"], started.json["state"]) == ("listen", "ringing")
    run_jobs(redis, "dispatch")
    joined = line.supervisor_in()
    # A listener is muted, starts and ends nothing, and is never announced to the room.
    assert (joined.muted, joined.coaching, joined.start_on_enter, joined.end_on_exit) == (
        True,
        False,
        False,
        False,
    )
    assert line.session().leg == joined.call_sid
    too_soon = wu.patch(PATH, json={"mode": "coach"})
    assert too_soon.status_code == 409
    line.leg_reports("in-progress")
    assert line.session().state == "on"

    coach = wu.patch(PATH, json={"mode": "coach"})
    assert coach.status_code == 200 and coach.json["mode"] == "coach"
    run_jobs(redis, "dispatch")
    coaching = line.participants()["listen-in"]
    assert (coaching.muted, coaching.coaching, coaching.call_sid_to_coach) == (
        False,
        True,
        line.agent_leg,
    )

    barge = wu.patch(PATH, json={"mode": "barge"})
    assert barge.status_code == 200
    run_jobs(redis, "dispatch")
    barging = line.participants()["listen-in"]
    assert (barging.muted, barging.coaching) == (False, False)

    left = wu.delete(PATH)
    assert left.status_code == 200 and left.json["state"] == "ended"
    run_jobs(redis, "dispatch")
    poll(lambda: "listen-in" not in line.participants(), 10, "the supervisor to be dropped")
    # The caller and the agent go on talking.
    assert set(line.participants()) == {"caller", "agent"}

    session = started.json["session"]
    assert audit_of(redis) == [
        (
            "wu",
            "listen-in.start",
            CALL,
            None,
            {"mode": "listen", "agent": "a1", "session": session},
        ),
        (
            "wu",
            "listen-in.mode",
            CALL,
            {"mode": "listen"},
            {"mode": "coach", "agent": "a1", "session": session},
        ),
        (
            "wu",
            "listen-in.mode",
            CALL,
            {"mode": "coach"},
            {"mode": "barge", "agent": "a1", "session": session},
        ),
        (
            "wu",
            "listen-in.end",
            CALL,
            {"mode": "barge"},
            {"mode": None, "agent": "a1", "session": session},
        ),
    ]


def test_the_wallboard_lists_the_call_and_its_forms_start_and_leave(app, redis, line):
    wu = user(app, redis, "wu", "supervisor")

    board = wu.get("/ops/wallboard").get_data(as_text=True)
    assert f'data-call="{CALL}"' in board and "Agent Li" in board
    done = wu.form(f"/ops/calls/{CALL}/listen-in", {"mode": "coach"})
    assert done.status_code == 302 and done.headers["Location"].endswith(
        "/ops/wallboard#live-calls"
    )
    run_jobs(redis, "dispatch")
    assert line.supervisor_in().coaching is True
    line.leg_reports("in-progress")
    live = wu.get("/api/v1/live-calls").json
    assert [c["call_sid"] for c in live["calls"]] == [CALL]
    assert live["calls"][0]["listen_in"]["state"] == "on"
    # The supervisor's number is in no answer nor page.
    assert SUPERVISOR not in wu.get("/ops/wallboard").get_data(as_text=True)
    assert SUPERVISOR not in str(live)

    wu.form(f"/ops/calls/{CALL}/listen-in/leave", {})
    run_jobs(redis, "dispatch")
    poll(lambda: "listen-in" not in line.participants(), 10, "the supervisor to be dropped")
    after = wu.get("/api/v1/live-calls").json
    assert after["calls"][0]["listen_in"]["state"] == "ended"
    assert after["signature"] != live["signature"]


def test_only_supervisors_may_listen_in(app, redis, line):
    agent = user(app, redis, "li", "agent", "a1")
    ops = user(app, redis, "olga", "ops")

    assert app.test_client().post(PATH, json={"mode": "listen"}).status_code == 401
    assert agent.post(PATH, json={"mode": "listen"}).status_code == 403
    assert ops.post(PATH, json={"mode": "listen"}).status_code == 403
    assert agent.get("/api/v1/live-calls").status_code == 403
    assert agent.form(f"/ops/calls/{CALL}/listen-in", {"mode": "listen"}).status_code == 403
    assert line.session() is None
    assert audit_of(redis) == []


def test_a_second_supervisor_cannot_take_over_or_switch_anothers_session(app, redis, line):
    wu = user(app, redis, "wu", "supervisor")
    other = user(app, redis, "ma", "supervisor")
    assert wu.post(PATH, json={"mode": "listen"}).status_code == 202

    taken = other.post(PATH, json={"mode": "barge"})
    switch = other.patch(PATH, json={"mode": "barge"})

    assert taken.status_code == 409 and "wu" in taken.json["error"]["message"]
    assert switch.status_code == 403


def test_refusals_say_why_and_nothing_is_rung(app, redis, line):
    wu = user(app, redis, "wu", "supervisor")
    sam = user(app, redis, "sam", "supervisor")

    bad_mode = wu.post(PATH, json={"mode": "shout"})
    no_number = sam.post(PATH, json={"mode": "listen"})
    not_a_call = wu.post("/api/v1/calls/CA" + "8" * 32 + "/listen-in", json={"mode": "listen"})
    nobody_on = wu.delete(PATH)

    assert bad_mode.status_code == 422
    assert no_number.status_code == 409 and "no phone number" in no_number.json["error"]["message"]
    assert not_a_call.status_code == 409
    assert not_a_call.json["error"]["message"] == "the call is not connected to an agent"
    assert nobody_on.status_code == 409
    assert line.session() is None
    # From the wallboard's buttons, the same refusal is said on the page, never a 500.
    pressed = sam.form(f"/ops/calls/{CALL}/listen-in", {"mode": "listen"})
    assert pressed.status_code == 302
    assert "no phone number for supervisor" in sam.get("/ops/wallboard").get_data(as_text=True)


def test_a_call_that_ended_before_the_ring_is_a_clear_failure_on_the_wallboard(app, redis, line):
    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "listen"}).status_code == 202
    line.gateway.end_conference(line.gateway.find_conference(line.reservation))
    # The caller's leg reported its end (a conference not there yet, on a call still on, is
    # tried again a little later instead).
    CallStore(redis).advance_status(CALL, "completed")

    run_jobs(redis, "dispatch")

    session = wu.get(PATH).json
    assert (session["state"], session["reason"]) == ("failed", "the call has ended")
    assert (
        wu.get("/api/v1/live-calls").json["calls"][0]["listen_in"]["reason"] == "the call has ended"
    )
    assert "the call has ended" in wu.get("/ops/wallboard").get_data(as_text=True)


def test_the_carrier_refusing_the_join_is_a_clear_failure(app, redis, line):
    # The carrier fails every conference participant request, and the job has no tries left.
    requests.put(
        f"{line.carrier_url}/carrier/faults",
        json={"rest_500": 1.0, "rest_match": "Participants"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).raise_for_status()
    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "coach"}).status_code == 202

    assert join_job(CALL, 1) == "failed"

    session = wu.get(PATH).json
    assert session["state"] == "failed"
    assert session["reason"].startswith("the carrier refused")


def test_an_agent_gone_from_the_conference_is_not_coached(app, redis, line):
    CallStore(redis).update(CALL, agent_leg="CA" + "9" * 32)
    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "coach"}).status_code == 202

    assert join_job(CALL, 1) == "failed"

    assert wu.get(PATH).json["reason"] == "the agent is not on the call"
    assert "listen-in" not in line.participants()


def test_a_supervisor_who_does_not_answer_or_hangs_up_is_off_the_call(app, redis, line):
    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "listen"}).status_code == 202
    line.leg_reports("no-answer")
    unreached = wu.get(PATH).json
    assert unreached["state"] == "failed" and "no-answer" in unreached["reason"]

    assert wu.post(PATH, json={"mode": "barge"}).status_code == 202
    line.leg_reports("in-progress")
    line.leg_reports("completed")
    assert (wu.get(PATH).json["state"], wu.get(PATH).json["reason"]) == ("ended", "hung-up")
    # A late report of the first session changes nothing of the second.
    Twilio(app.test_client()).post(
        f"/voice/listen-in/status?call={CALL}&n=1", {"CallStatus": "in-progress"}
    )
    assert wu.get(PATH).json["state"] == "ended"


def test_the_agents_desk_says_a_supervisor_is_coaching_when_the_setting_says_so(
    app, redis, line, hotline_config
):
    import dataclasses

    wu = user(app, redis, "wu", "supervisor")
    agent = user(app, redis, "li", "agent", "a1")
    assert wu.post(PATH, json={"mode": "coach"}).status_code == 202
    line.leg_reports("in-progress")

    told = agent.get("/api/v1/agents/a1/call").json["call"]["supervisor"]
    desk = agent.get("/ops/desk/").get_data(as_text=True)
    quiet = dataclasses.replace(
        hotline_config, listen_in=dataclasses.replace(hotline_config.listen_in, tell_agent=False)
    )
    app.extensions["hotline"] = dataclasses.replace(app.extensions["hotline"], config=quiet)
    untold = agent.get("/api/v1/agents/a1/call").json["call"]["supervisor"]

    assert told == "coach"
    assert 'data-k="supervisor" data-mode="coach"' in desk
    # The desk's card redraws itself when this changes.
    assert 'data-supervisor="coach"' in desk
    assert untold is None


def test_a_join_before_the_conference_forms_is_tried_again_later(app, redis, line):
    # Accepted a moment ago: the caller is not yet in the conference (here: not any more, while
    # Redis still has the call on), so the join waits for RQ's next try instead of failing.
    from rq.registry import ScheduledJobRegistry

    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "listen"}).status_code == 202
    line.gateway.end_conference(line.gateway.find_conference(line.reservation))

    run_jobs(redis, "dispatch")

    assert wu.get(PATH).json["state"] == "ringing"
    scheduled = ScheduledJobRegistry("dispatch", connection=redis).get_job_ids()
    assert f"listen-in-join-{CALL}-1" in scheduled


def test_a_mode_the_carrier_refuses_is_said_on_the_wallboard_and_the_supervisor_stays_on(
    app, redis, line
):
    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "listen"}).status_code == 202
    run_jobs(redis, "dispatch")
    line.supervisor_in()
    line.leg_reports("in-progress")
    # The agent stepped out of the conference: there is nobody to coach (Twilio's 16028).
    line.gateway.remove_participant(line.gateway.find_conference(line.reservation), line.agent_leg)
    poll(lambda: "agent" not in line.participants(), 10, "the agent to step out")

    assert wu.patch(PATH, json={"mode": "coach"}).status_code == 200
    run_jobs(redis, "dispatch")

    refused = wu.get(PATH).json
    assert refused["state"] == "on"
    assert refused["reason"].startswith("the carrier refused the mode change")
    assert line.participants()["listen-in"].muted is True
    assert refused["reason"] in wu.get("/ops/wallboard").get_data(as_text=True)
    # Asking again (for a mode Twilio takes) clears the refusal.
    assert wu.patch(PATH, json={"mode": "barge"}).json["reason"] is None


def test_leaving_while_the_phone_still_rings_hangs_it_up_before_it_joins(app, redis, line):
    # The supervisor's phone rings on for a long while.
    requests.put(
        f"{line.carrier_url}/carrier/phones/{SUPERVISOR}",
        json={"name": "Supervisor Wu", "answer_after": 600, "stay": 3000},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).raise_for_status()
    wu = user(app, redis, "wu", "supervisor")
    assert wu.post(PATH, json={"mode": "listen"}).status_code == 202
    run_jobs(redis, "dispatch")
    leg = line.session().leg
    assert leg

    assert wu.delete(PATH).json["state"] == "ended"
    run_jobs(redis, "dispatch")

    assert line.hub.driver.wait_finished(leg, 10)
    assert "listen-in" not in line.participants()
