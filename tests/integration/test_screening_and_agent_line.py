"""Blocked callers, the emergency closure and the agent line, on a real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr.callers.screening import blocked_response
from queues import events
from queues.agent_line import MAX_FAILURES, keypad_code
from queues.agents import AgentBoard
from queues.blocklist import Blocklist
from queues.closure import ClosureBoard
from routing.holidays import Closure
from routing.roster import Agent, Roster, Shift
from tests.fixtures.app import OPEN_TIME
from tests.fixtures.twiml import Doc

ABUSER = "+8613812345678"
NOW = OPEN_TIME.timestamp()
ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))


def screen(app, number: str):
    """Run the screening function inside a webhook-like request, returning parsed TwiML."""
    with app.test_request_context("/voice", method="POST"):
        response = blocked_response(app.config["HOTLINE"], number)
        if response is None:
            return None
        return Doc.parse(app.response_class(str(response), mimetype="text/xml"))


# --- blocklist ----------------------------------------------------------------------------------


def test_blocklist_keeps_digests_who_and_when_and_audits(redis):
    blocklist = Blocklist(redis)
    entry = blocklist.add("+86 138-1234-5678", by="sup1", now=NOW, reason="abuse")
    assert blocklist.contains(ABUSER)
    assert not blocklist.contains("+8613800000000")
    assert not blocklist.contains("not a number")
    assert [e.masked for e in blocklist.entries()] == ["+86*******5678"]
    assert entry.by == "sup1" and entry.at == NOW
    raw = b" ".join(redis.keys("*")) + b" ".join(redis.smembers("hotline:blocklist"))
    assert b"13812345678" not in raw
    assert blocklist.remove(entry.digest, by="sup2", now=NOW + 1)
    assert not blocklist.remove(ABUSER, by="sup2", now=NOW + 2)
    kinds = [(e["kind"], e.get("by")) for e in events.recent(redis)]
    assert ("blocklist-add", "sup1") in kinds and ("blocklist-remove", "sup2") in kinds
    with pytest.raises(ValueError):
        blocklist.add("12345", by="sup1", now=NOW)


def test_a_blocked_caller_hears_one_sentence_and_the_danger_key_still_works(app, twilio, redis):
    Blocklist(redis).add(ABUSER, by="sup1", now=NOW)
    doc = screen(app, ABUSER)
    assert doc.verbs() == ["Gather", "Hangup"]
    gather = doc.first("Gather")
    assert gather.get("numDigits") == "1" and gather.get("action") == "/voice/closed?lang=zh"
    assert "This line cannot take your call" in doc.said()
    assert len(doc.all("Say")) == 2  # one sentence, in each language
    crisis = Doc.parse(twilio.post(gather.get("action"), {"Digits": "9", "From": ABUSER}))
    assert crisis.all("Dial")
    other = Doc.parse(twilio.post(gather.get("action"), {"Digits": "1", "From": ABUSER}))
    assert other.all("Dial") == [] and "Hangup" in other.verbs()
    assert screen(app, "+8613800000001") is None


def test_screening_fails_open_when_redis_is_down(app_env, hotline_config, clock):
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    assert screen(app, ABUSER) is None


# --- emergency closure --------------------------------------------------------------------------


def test_a_closure_set_by_a_supervisor_speaks_its_message_until_it_ends(app, redis, clock):
    board = ClosureBoard(redis)
    board.set(
        Closure({"zh": "系统维护，暂停服务。", "en": ""}, until=OPEN_TIME + timedelta(hours=2)),
        by="sup1",
        now=NOW,
    )
    doc = screen(app, "+8613800000001")
    assert doc.verbs() == ["Gather", "Hangup"]
    said = doc.said()
    assert "系统维护" in said and "The hotline is closed for now" in said
    assert "press 9" in said and "请按9" in said
    clock.now = OPEN_TIME + timedelta(hours=3)
    assert screen(app, "+8613800000001") is None
    assert board.clear(by="sup2", now=NOW) and board.get() is None
    assert {"closure-set", "closure-cleared"} <= {e["kind"] for e in events.recent(redis)}


def test_a_closure_in_the_config_applies_even_without_redis(app, clock):
    config = app.config["HOTLINE"]
    app.config["HOTLINE"] = config.__class__(
        **{**config.__dict__, "closure": Closure({"zh": "今日停止服务。", "en": "Closed today."})}
    )
    doc = screen(app, "+8613800000001")
    assert "Closed today." in doc.said()


# --- the agent line -----------------------------------------------------------------------------


def agent(agent_id: str, pin: str | None, langs=("zh",)) -> Agent:
    number = 10_000_000 + sum(ord(c) for c in agent_id)
    return Agent(
        id=agent_id,
        name=agent_id,
        phone=f"+86139{number:08d}",
        languages=langs,
        skills={"labor": 2},
        pin=pin,
        shifts=ALWAYS,
    )


@pytest.fixture
def board(app, redis):
    """A roster with agents who have PINs (and one without)."""
    with app.app_context():
        board = AgentBoard(redis, app.config["HOTLINE"].routing)
        roster = Roster((agent("a01", "1001"), agent("b02", "2002", ("en",)), agent("c03", None)))
        board.import_roster(roster, NOW)
    return board


def test_keypad_codes_spell_ids_as_the_keys_show_them():
    assert keypad_code("a01") == "201"
    assert keypad_code("li.wei") == "54934"


def test_an_agent_sets_themselves_available_by_phone(twilio, board, redis):
    doc = Doc.parse(twilio.post("/voice/agent-line"))
    gather = doc.first("Gather")
    assert gather.get("finishOnKey") == "#"
    doc = Doc.parse(twilio.post(gather.get("action"), {"Digits": "202"}))
    pin_action = doc.first("Gather").get("action")
    assert "code=202" in pin_action
    doc = Doc.parse(twilio.post(pin_action, {"Digits": "2002"}))
    assert "You are now offline" in doc.said()  # b02 speaks English
    doc = Doc.parse(twilio.post(doc.first("Gather").get("action"), {"Digits": "1"}))
    assert "you are now available" in doc.said() and doc.verbs()[-1] == "Hangup"
    assert board.get("b02").presence == "available"
    kinds = [e["kind"] for e in events.recent(redis)]
    assert "agent-line-login" in kinds and "agent-line-presence" in kinds


def test_three_wrong_pins_in_a_call_say_goodbye(twilio, board, redis):
    action = "/voice/agent-line/pin?lang=zh&t=1&code=201"
    for tries in (1, 2):
        doc = Doc.parse(twilio.post(action.replace("t=1", f"t={tries}"), {"Digits": "9999"}))
        assert "工号或密码不正确" in doc.said()
        assert f"t={tries + 1}" in doc.first("Gather").get("action")
    doc = Doc.parse(twilio.post(action.replace("t=1", "t=3"), {"Digits": "9999"}))
    assert doc.all("Gather") == [] and doc.verbs()[-1] == "Hangup"
    assert board.get("a01").presence == "offline"
    assert [e["kind"] for e in events.recent(redis)].count("agent-line-failed") == 3


def test_wrong_pins_across_calls_lock_the_code_even_with_the_right_pin(twilio, board):
    for index in range(MAX_FAILURES):
        twilio.post(
            "/voice/agent-line/pin?lang=zh&t=1&code=201",
            {"Digits": "0000", "CallSid": f"CA{index:032d}", "From": f"+861380000000{index}"},
        )
    doc = Doc.parse(twilio.post("/voice/agent-line/pin?lang=zh&t=1&code=201", {"Digits": "1001"}))
    assert "尝试次数过多" in doc.said() and doc.all("Gather") == []


def test_an_agent_without_a_pin_cannot_log_in_and_forged_requests_are_refused(twilio, board):
    doc = Doc.parse(twilio.post("/voice/agent-line/pin?lang=zh&t=1&code=303", {"Digits": ""}))
    assert "工号或密码不正确" in doc.said()
    forged = twilio.post(
        "/voice/agent-line/set?lang=zh&agent=a01&t=1", {"Digits": "1"}, signature="forged"
    )
    assert forged.status_code == 403
    assert board.get("a01").presence == "offline"


def test_an_invalid_choice_repeats_the_menu(twilio, board):
    doc = Doc.parse(
        twilio.post("/voice/agent-line/set?lang=zh&agent=a01&now=offline&t=1", {"Digits": "7"})
    )
    assert "t=2" in doc.first("Gather").get("action")
    doc = Doc.parse(twilio.post("/voice/agent-line/set?lang=zh&agent=a01&t=1", {"Digits": "2"}))
    assert "小休" in doc.said() and board.get("a01").presence == "on_break"
