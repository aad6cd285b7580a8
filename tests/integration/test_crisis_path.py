"""The crisis path's webhooks on a real Redis: every trigger, ringing crisis-trained agents, the
whisper, rollover to the crisis lines, the supervisors, the waiting room, and the record."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from rq import Queue

from queues import keys
from queues.agents import CRISIS_CALL_LIMIT_S, AgentBoard
from queues.alerts import open_crisis
from queues.incidents import IncidentLog
from queues.matcher import Matcher
from queues.script import RoutingScript
from queues.sweep import sweep
from queues.waiting import WaitingRoom
from routing.roster import parse_roster
from tests.fixtures.app import AREAS
from tests.fixtures.crisis import CALL, PHONES, ROSTER
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis


@pytest.fixture
def board(app, redis, clock, hotline_config):
    """The roster imported, everyone available; crisis agents freed one after another."""
    roster = parse_roster(ROSTER, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    script = RoutingScript(redis, hotline_config.routing)
    agents = AgentBoard(redis, hotline_config.routing, script=script)
    now = clock().timestamp()
    agents.import_roster(roster, now - 100)
    # c2 has rested longest, then c3, then c1: the ring order must follow.
    for offset, agent_id in ((-90, "c2"), (-60, "c3"), (-30, "c1"), (-30, "n1"), (-30, "c9")):
        agents.set_presence(agent_id, "available", now + offset)
    return agents


def numbers(doc: Doc) -> list[str]:
    """The numbers a document dials, in order."""
    return [(number.text or "").strip() for number in doc.all("Number")]


def query(url: str) -> dict[str, str]:
    """The query of a URL as single values."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def steps(redis, call_sid: str = CALL) -> list[str]:
    """The kinds of an incident's steps, in order."""
    incident = IncidentLog(redis).get(call_sid)
    assert incident is not None, "no incident opened"
    return [step["kind"] for step in incident.steps]


def test_danger_key_rings_free_crisis_agents_longest_rested_first(twilio, board, redis, app):
    settings = app.config["HOTLINE"]
    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9"}))

    assert doc.verbs() == ["Say", "Dial"]
    assert doc.first("Say").text == settings.prompt("crisis_intro", "zh")
    dial = doc.first("Dial")
    # The calm words count towards the rollover: the line is dialled rollover_s after the key.
    assert dial.get("timeout") == str(settings.crisis.rollover_s - settings.crisis.intro_s)
    assert urlsplit(dial.get("action")).path == "/voice/crisis/agents"
    # Crisis-trained, free, on shift and speaking Mandarin; the untrained and off-shift are not.
    assert numbers(doc) == [PHONES["c2"], PHONES["c3"], PHONES["c1"]]
    whisper = query(doc.first("Number").get("url"))
    assert (whisper["call"], whisper["who"], whisper["role"]) == (CALL, "c2", "agent")
    incident = IncidentLog(redis).get(CALL)
    assert steps(redis) == ["opened", "rung", "rung", "rung"]
    assert incident.summary()["agents_rung"] == "c2 | c3 | c1"
    assert incident.summary()["trigger"] == "danger_key"


def test_crisis_words_ring_agents_of_the_callers_language_with_the_words(twilio, board, redis):
    said = "I took all my pills an hour ago"
    doc = Doc.parse(twilio.post("/voice/area?lang=en&t=1", {"SpeechResult": said}))

    assert numbers(doc) == [PHONES["c3"]]
    whisper_url = doc.first("Number").get("url")
    assert query(whisper_url)["w"] == said
    summary = IncidentLog(redis).get(CALL).summary()
    assert (summary["trigger"], summary["said"]) == ("crisis_words", said)

    heard = Doc.parse(twilio.post(whisper_url, {"CallSid": "CA-agent-leg"}))
    gather = heard.first("Gather")
    assert heard.verbs() == ["Gather", "Hangup"]
    assert said in heard.said() and "press 1" in heard.said()
    assert urlsplit(gather.get("action")).path == "/voice/crisis/whisper/answer"


def test_figures_of_speech_do_not_trigger(twilio, board, redis):
    doc = Doc.parse(
        twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "累死了，老板拖欠工资气死我了"})
    )
    english = Doc.parse(
        twilio.post("/voice/area?lang=en&t=1", {"SpeechResult": "my boss is killing me"})
    )

    for answer in (doc, english):
        assert not answer.all("Dial") and not answer.all("Number")
    assert IncidentLog(redis).get(CALL) is None
    assert not redis.exists(keys.crisis_alert(CALL))


@pytest.mark.parametrize(
    ("path", "form", "trigger"),
    [
        ("/voice/intake?lang=zh&area=labor&q=0&t=1", {"Digits": "9"}, "danger_key"),
        (
            "/voice/intake?lang=zh&area=labor&q=0&t=1",
            {"SpeechResult": "我不想活了"},
            "crisis_words",
        ),
        ("/voice/closed?lang=zh", {"Digits": "9"}, "danger_key"),
        ("/voice/crisis?lang=zh&why=danger_key_wait", {}, "danger_key_wait"),
    ],
)
def test_every_menu_trigger_records_its_kind(twilio, board, redis, path, form, trigger):
    doc = Doc.parse(twilio.post(path, form))

    assert numbers(doc)[0] == PHONES["c2"]
    assert IncidentLog(redis).get(CALL).summary()["trigger"] == trigger


def test_agent_flag_and_voicemail_triggers_share_one_alert_per_call(redis, clock):
    now = clock().timestamp()
    assert open_crisis(redis, "CA-vm", trigger="voicemail_words", language="zh", now=now)
    assert not open_crisis(redis, "CA-vm", trigger="agent_flag", language="zh", now=now, by="c1")

    summary = IncidentLog(redis).get("CA-vm").summary()
    assert summary["triggers"] == "voicemail_words | agent_flag"
    assert Queue("crisis", connection=redis).count == 1
    assert redis.xlen(keys.crisis_alerts()) == 1


def test_a_repeated_trigger_raises_one_alert(twilio, board, redis):
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "我不想活了"})

    assert redis.xlen(keys.crisis_alerts()) == 1
    assert Queue("crisis", connection=redis).job_ids == [f"crisis-page-{CALL}"]
    assert steps(redis).count("opened") == 1 and "retriggered" in steps(redis)


def whisper_url(twilio, **form) -> str:
    """Trigger the crisis path and return the first agent's whisper URL."""
    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9", **form}))
    return doc.first("Number").get("url")


def answer_url(url: str, who: str) -> str:
    """The whisper answer URL for a taker."""
    parts = query(url)
    return f"/voice/crisis/whisper/answer?lang=zh&call={parts['call']}&who={who}&role=agent"


def c3_offered_a_routed_call(redis, app, now) -> bool:
    """Queue a labor call only c3 could take (any level after 60 s); say whether c3 got it."""
    routing = app.config["HOTLINE"].routing
    WaitingRoom(redis, routing).enqueue("CA-routed", area="labor", language="zh", now=now - 90)
    return Matcher(redis, routing).match_call("CA-routed", now) is not None


def test_first_agent_to_press_1_wins_and_the_call_ends_with_them(twilio, board, redis, app, clock):
    url = whisper_url(twilio)
    declined = Doc.parse(twilio.post(answer_url(url, "c2"), {"CallSid": "CA-l2", "Digits": "2"}))
    taken = Doc.parse(twilio.post(answer_url(url, "c3"), {"CallSid": "CA-l3", "Digits": "1"}))
    late = Doc.parse(twilio.post(answer_url(url, "c1"), {"CallSid": "CA-l1", "Digits": "1"}))

    assert declined.verbs() == ["Say", "Hangup"]
    assert taken.verbs() == []  # the whisper ends: the agent is bridged at once
    assert late.said() == app.config["HOTLINE"].prompt("crisis_taken", "zh")
    record = redis.hgetall(keys.call(CALL))
    assert record[b"heavy"] == b"1" and record[b"crisis_taker"] == b"c3"
    # Routing sees c3 talking: no routed call is offered to them while they talk.
    assert board.get("c3").activity == "talking"
    assert c3_offered_a_routed_call(redis, app, clock().timestamp()) is False

    # While c3 talks to this caller, another crisis call does not ring them.
    other = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9", "CallSid": "CA-other"}))
    assert PHONES["c3"] not in numbers(other)

    done = Doc.parse(
        twilio.post(
            "/voice/crisis/agents?lang=zh",
            {"DialCallStatus": "completed", "DialCallDuration": "240", "DialBridged": "true"},
        )
    )
    assert done.verbs() == ["Say", "Hangup"]
    # The crisis call was heavy: c3 has the long wrap-up and it counts towards the cap.
    routing = app.config["HOTLINE"].routing
    after = board.get("c3")
    assert after.activity == "wrap_up"
    assert after.wrap_until == clock().timestamp() + routing.crisis_wrap_up_s
    assert redis.zcard(keys.agent_heavy_calls("c3")) == 1
    # When the wrap-up ends, c3 takes the routed call that waited for them.
    report = sweep(redis, routing, after.wrap_until)
    assert [(m.agent_id, m.call_sid) for m in report.matches] == [("c3", "CA-routed")]
    summary = IncidentLog(redis).get(CALL).summary()
    assert summary["declined"] == "c2"
    assert (summary["answered_by"], summary["answered_role"]) == ("c3", "agent")
    assert (summary["outcome"], summary["talk_s"]) == ("agent", "240")
    assert summary["rollover"] is False


@pytest.mark.parametrize(
    ("path", "form"),
    [
        # The caller's own leg ended (its status callback came first)...
        ("/voice/status", {"CallStatus": "completed"}),
        # ...or the ring of agents ended with the caller gone.
        (
            "/voice/crisis/agents?lang=zh",
            {"DialCallStatus": "completed", "CallStatus": "completed"},
        ),
    ],
)
def test_a_taker_pressing_1_after_the_caller_left_is_told_and_stays_free(
    twilio, board, redis, app, clock, path, form
):
    url = whisper_url(twilio)
    twilio.post(path, form)

    late = Doc.parse(twilio.post(answer_url(url, "c3"), {"CallSid": "CA-l3", "Digits": "1"}))

    assert late.said() == app.config["HOTLINE"].prompt("agent_caller_gone", "zh")
    assert late.verbs() == ["Say", "Hangup"]
    # Not "talking" to nobody for hours: c3 is free, rung for the next crisis, offered calls.
    assert board.get("c3").activity == "idle"
    assert "c3" in board.free_crisis_agents("zh")
    assert c3_offered_a_routed_call(redis, app, clock().timestamp()) is True
    assert redis.get(keys.crisis_taker(CALL)) is None


def test_agents_decline_or_ring_out_and_the_call_rolls_over_at_once(twilio, board, redis, app):
    url = whisper_url(twilio)
    for who in ("c2", "c3", "c1"):
        twilio.post(answer_url(url, who), {"CallSid": f"CA-{who}", "Digits": "2"})
    doc = Doc.parse(
        twilio.post(
            "/voice/crisis/agents?lang=zh", {"DialCallStatus": "completed", "DialBridged": "false"}
        )
    )

    # No words before the line: the caller has been hearing it ring and must not wait longer.
    assert doc.verbs() == ["Dial"]
    assert numbers(doc) == [app.config["HOTLINE"].crisis.numbers["zh"]]
    assert doc.first("Dial").get("callerId") == "+8613812345678"
    summary = IncidentLog(redis).get(CALL).summary()
    assert summary["declined"] == "c2 | c3 | c1" and summary["rollover"] is True


def test_nobody_on_shift_goes_straight_to_the_crisis_line(twilio, redis, app):
    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9"}))

    assert numbers(doc) == [app.config["HOTLINE"].crisis.numbers["zh"]]
    assert doc.first("Say").text == app.config["HOTLINE"].prompt("crisis_intro", "zh")
    assert steps(redis) == ["opened", "rung"]


def test_crisis_lines_busy_give_the_numbers_then_ring_the_supervisor(twilio, board, redis, app):
    settings = app.config["HOTLINE"]
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    twilio.post("/voice/crisis/agents?lang=zh", {"DialCallStatus": "no-answer"})
    fallback = Doc.parse(twilio.post("/voice/crisis/next?lang=zh&n=0", {"DialCallStatus": "busy"}))
    assert numbers(fallback) == [settings.crisis.fallback]

    last = Doc.parse(twilio.post("/voice/crisis/next?lang=zh&n=1", {"DialCallStatus": "busy"}))
    assert last.verbs() == ["Say", "Say", "Dial"]
    assert settings.prompt("crisis_failed", "zh") in last.said()
    assert numbers(last) == ["+8613900000301"]  # s1 is on call, s2 is not
    assert query(last.first("Number").get("url"))["role"] == "supervisor"

    gave_up = Doc.parse(
        twilio.post("/voice/crisis/supervisors?lang=zh", {"DialCallStatus": "no-answer"})
    )
    assert gave_up.said().count(settings.prompt("crisis_failed", "zh")) == 2
    summary = IncidentLog(redis).get(CALL).summary()
    assert summary["outcome"] == "numbers_given"
    assert "s1" in summary["rung"]


def test_a_supervisor_takes_the_call_when_the_lines_fail(twilio, board, redis):
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    twilio.post("/voice/crisis/next?lang=zh&n=1", {"DialCallStatus": "failed"})
    answer = "/voice/crisis/whisper/answer?lang=zh&call=" + CALL + "&who=s1&role=supervisor"
    heard = Doc.parse(
        twilio.post(
            "/voice/crisis/whisper?lang=zh&call=" + CALL + "&who=s1&role=supervisor",
            {"CallSid": "CA-s1"},
        )
    )
    assert "援助热线未能接通" in heard.said()
    twilio.post(answer, {"CallSid": "CA-s1", "Digits": "1"})
    twilio.post("/voice/crisis/supervisors?lang=zh", {"DialCallStatus": "completed"})

    summary = IncidentLog(redis).get(CALL).summary()
    assert (summary["answered_by"], summary["outcome"]) == ("s1", "supervisor")


def test_a_crisis_while_waiting_jumps_ahead_of_every_queue(twilio, board, redis, clock, app):
    policy = app.config["HOTLINE"].routing
    room = WaitingRoom(redis, policy, script=RoutingScript(redis, policy))
    now = clock().timestamp()
    for index, sid in enumerate(("CA-first", "CA-second", CALL)):
        assert room.enqueue(sid, area="corporate", language="zh", now=now - 300 + index)
    assert room.position(CALL) == 2

    twilio.post("/voice/wait/key?lang=zh&area=corporate", {"Digits": "9"})
    doc = Doc.parse(
        twilio.post("/voice/queue-result?lang=zh&area=corporate", {"QueueResult": "leave"})
    )

    # The two callers ahead still wait; the crisis caller is ringing crisis agents now.
    assert numbers(doc) == [PHONES["c2"], PHONES["c3"], PHONES["c1"]]
    assert room.waiting_calls("corporate", "zh") == ["CA-first", "CA-second"]
    assert room.get(CALL).outcome == "crisis"
    assert IncidentLog(redis).get(CALL).summary()["trigger"].endswith("_wait")


def test_busy_agents_are_not_rung(twilio, board, redis, clock):
    board.set_presence("c2", "on_break", clock().timestamp())
    assert board.engage_crisis("c3", "CA-elsewhere", clock().timestamp())

    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9"}))

    assert numbers(doc) == [PHONES["c1"]]


def test_the_caller_hanging_up_while_agents_ring_closes_the_incident(twilio, board, redis):
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    doc = Doc.parse(
        twilio.post(
            "/voice/crisis/agents?lang=zh",
            {"DialCallStatus": "completed", "CallStatus": "completed"},
        )
    )

    assert doc.verbs() == []
    assert IncidentLog(redis).get(CALL).summary()["outcome"] == "caller_hung_up"


def test_a_crisis_call_whose_end_is_never_reported_frees_its_agent_later(board, redis, clock, app):
    now = clock().timestamp()
    assert board.engage_crisis("c3", "CA-lost", now)
    assert not board.engage_crisis("c3", "CA-second", now)  # already talking
    routing = app.config["HOTLINE"].routing

    sweep(redis, routing, now + CRISIS_CALL_LIMIT_S - 1)
    assert board.get("c3").activity == "talking"
    sweep(redis, routing, now + CRISIS_CALL_LIMIT_S)
    assert board.get("c3").activity == "idle"
    assert "c3" in board.free_crisis_agents("zh")
    # A late report of the end changes nothing.
    assert board.release_crisis("c3", "CA-lost", now + CRISIS_CALL_LIMIT_S + 5) is None
