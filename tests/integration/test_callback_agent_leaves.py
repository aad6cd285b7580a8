"""A callback whose agent hangs up before the caller answers is not lost: the task is due again at
once, first in line, with no attempt counted and the agent free with no wrap-up; a caller who
answers after that is told we will call again, never put into an empty conference. Signed
webhooks through the app, as Twilio sends them."""

from __future__ import annotations

import logging

import pytest

from queues import dispatch, events, keys, runtime
from queues.calls import CallStore
from queues.reservations import Reservations
from queues.sweep import sweep
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALL = "CA" + "3" * 32
# A later caller in the same waiting room, who must stay behind the callback.
LATER = "CA" + "4" * 32
CALLER = "+8613812345678"
MASKED = "+86*******5678"
AGENT_LEG = "CA" + "9" * 32
# The callback's own leg to the caller, placed by the dispatch job.
CALLER_LEG = "CA" + "7" * 32
NEXT_AGENT_LEG = "CA" + "8" * 32
HUNG_UP = {"CallSid": AGENT_LEG, "CallStatus": "completed", "DialCallStatus": "completed"}


def kinds(redis, rid: str) -> list[str]:
    """The kinds of the events about one reservation, oldest first."""
    found = reversed(events.recent(redis, 500))
    return [e["kind"] for e in found if e.get("reservation") == rid]


def reservations(app, redis) -> Reservations:
    """The app's reservations on the test Redis."""
    return Reservations(redis, app.config["HOTLINE"].routing)


def accepted_callback(hotline: Hotline, twilio) -> str:
    """A callback task d1 takes with 1: they wait in the conference for the caller."""
    CallStore(hotline.redis).start(CALL, CALLER)
    hotline.board.set_presence("d1", "available", hotline.now)
    assert hotline.room.enqueue(
        CALL, area="family", language="zh", now=hotline.now - 30, callback_number=CALLER
    )
    match = hotline.matcher.match_call(CALL, hotline.now)
    assert (match.agent_id, match.kind) == ("d1", "callback")
    rid = match.reservation_id
    answer = twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": AGENT_LEG, "Digits": "1"})
    assert Doc.parse(answer).first("Conference").text == rid
    assert hotline.room.get(CALL).state == "dialling"
    return rid


def test_the_agent_hanging_up_before_the_caller_answered_puts_the_callback_back_first_in_line(
    app, hotline, twilio, redis, caplog
):
    rid = accepted_callback(hotline, twilio)
    # Another caller starts waiting meanwhile: they came later, so they stay behind.
    assert hotline.room.enqueue(LATER, area="family", language="zh", now=hotline.now)

    with caplog.at_level(logging.WARNING, logger="queues.dispatch"):
        reply = twilio.post(f"/voice/agent/done?res={rid}", HUNG_UP)

    assert Doc.parse(reply).verbs() == []
    assert reservations(app, redis).get(rid).state == "agent-left"
    queued = hotline.room.get(CALL)
    assert (queued.state, queued.reservation, queued.attempts) == ("scheduled", "", 0)
    assert redis.zscore(keys.due_callbacks(), CALL) == pytest.approx(hotline.now, abs=0.01)
    agent = hotline.board.get("d1")
    assert (agent.activity, agent.reservation, agent.free) == ("idle", "", True)
    assert redis.zscore(keys.due_wrap_ups(), "d1") is None
    assert "wrap-up" not in kinds(redis, rid) and "callback-agent-left" in kinds(redis, rid)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert MASKED in logged and CALLER not in logged
    # The leg's own status report of the same hang-up changes nothing more.
    twilio.post(f"/voice/agent/status?res={rid}", {"CallSid": AGENT_LEG, "CallStatus": "completed"})
    assert kinds(redis, rid).count("callback-agent-left") == 1
    assert hotline.board.get("d1").activity == "idle"
    # The dial job, had it not run yet, no longer calls the caller for an agent who left.
    with app.app_context():
        assert dispatch.bridge_caller(rid) == "not-accepted"

    # The next sweep puts the task back ahead of the later caller and offers it again.
    hotline.board.set_presence("d1", "on_break", hotline.now)
    with app.app_context():
        policy = runtime.current().config.routing
    report = sweep(redis, policy, hotline.now)
    assert report.callbacks_due == [CALL] and report.matches == []
    assert (hotline.room.position(CALL), hotline.room.position(LATER)) == (0, 1)
    hotline.board.set_presence("d1", "available", hotline.now)
    again = hotline.matcher.match_agent("d1", hotline.now)
    assert (again.call_sid, again.kind) == (CALL, "callback")
    assert again.reservation_id != rid


def test_a_caller_who_answers_after_the_agent_left_is_told_and_not_put_into_a_conference(
    app, hotline, twilio, redis
):
    rid = accepted_callback(hotline, twilio)
    # The caller's phone rings while the agent hangs up.
    twilio.post(f"/voice/agent/done?res={rid}", HUNG_UP)

    answered = Doc.parse(twilio.post(f"/voice/connect/callback?res={rid}", {"CallSid": CALLER_LEG}))

    gone = app.config["HOTLINE"].prompt("callback_agent_gone", "zh")
    assert answered.said() == gone
    assert answered.verbs()[-1] == "Hangup"
    assert answered.all("Dial") == [] and answered.all("Conference") == []
    # Not reached: the task waits to be called again, no attempt counted, nothing bridged.
    queued = hotline.room.get(CALL)
    assert (queued.state, queued.attempts, queued.outcome) == ("scheduled", 0, "")
    assert not {"callback-connected", "bridged"} & set(kinds(redis, rid))


def test_a_caller_not_answering_after_the_agent_left_counts_no_attempt(
    app, hotline, twilio, redis, caplog
):
    rid = accepted_callback(hotline, twilio)
    twilio.post(f"/voice/agent/done?res={rid}", HUNG_UP)
    # The task is already the next agent's, whose leg the call's record now names.
    CallStore(redis).update(CALL, agent_leg=NEXT_AGENT_LEG, reservation="RS" + "5" * 32)

    with caplog.at_level(logging.INFO, logger="queues.dispatch"):
        status = twilio.post(
            f"/voice/connect/callback-status?res={rid}",
            {"CallSid": CALLER_LEG, "CallStatus": "no-answer"},
        )

    assert Doc.parse(status).verbs() == []
    # The next agent's leg is left alone: no attempt to send it to the unreached words.
    assert not [r for r in caplog.records if "tell the agent" in r.getMessage()]
    queued = hotline.room.get(CALL)
    assert (queued.state, queued.attempts) == ("scheduled", 0)
    assert redis.zscore(keys.due_callbacks(), CALL) == pytest.approx(hotline.now, abs=0.01)
    assert "callback-retry" not in kinds(redis, rid)


def test_the_agent_hanging_up_after_the_caller_answered_still_starts_wrap_up(
    app, hotline, twilio, redis
):
    rid = accepted_callback(hotline, twilio)
    joined = Doc.parse(twilio.post(f"/voice/connect/callback?res={rid}", {"CallSid": CALLER_LEG}))
    assert joined.first("Conference").text == rid
    assert app.config["HOTLINE"].prompt("callback_greeting", "zh") in joined.said()

    twilio.post(f"/voice/agent/done?res={rid}", HUNG_UP)

    assert reservations(app, redis).get(rid).state == "finished"
    queued = hotline.room.get(CALL)
    assert (queued.state, queued.outcome) == ("ended", "connected")
    assert redis.zscore(keys.due_callbacks(), CALL) is None
    agent = hotline.board.get("d1")
    assert agent.activity == "wrap_up" and agent.wrap_until > hotline.now
    assert redis.zscore(keys.due_wrap_ups(), "d1") == pytest.approx(agent.wrap_until)
    assert "wrap-up" in kinds(redis, rid) and "callback-agent-left" not in kinds(redis, rid)


def test_the_agents_desk_says_in_words_that_the_callback_went_back_in_line(
    app, hotline, twilio, redis
):
    rid = accepted_callback(hotline, twilio)
    twilio.post(f"/voice/agent/done?res={rid}", HUNG_UP)

    # wang is d1's console user; the desk shows the agent's last offer and how it ended.
    desk = sign_in(app, "wang")
    desk.get("/ops/lang/zh")
    zh = desk.get("/ops/desk/").get_data(as_text=True)
    desk.get("/ops/lang/en")
    en = desk.get("/ops/desk/").get_data(as_text=True)

    assert f'data-reservation="{rid}"' in zh and 'data-state="agent-left"' in zh
    # The card's heading holds the words, never the state's name.
    assert '<h2 class="agent-left">来电者接听前您已挂断，回电已重新排队' in zh
    assert '<h2 class="agent-left">You hung up before the caller answered;' in en
