"""The phone menu's webhooks through Flask's test client, signed like Twilio, on a real Redis."""

from __future__ import annotations

from dataclasses import replace

import pytest

from queues import events
from queues.calls import CallStore
from queues.waiting import WaitingRoom
from routing.config import GREETING_OPEN_S
from routing.wording import speaking_seconds
from tests.fixtures.app import CLOSED_TIME, Twilio
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32


def config_of(app):
    return app.config["HOTLINE"]


def test_greeting_offers_languages_and_the_danger_key(app, twilio, redis):
    doc = Doc.parse(twilio.post("/voice", {"CallStatus": "ringing"}))
    gather = doc.first("Gather")
    assert gather.get("input") == "dtmf"
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "/voice/language?t=1"
    assert gather.get("actionOnEmptyResult") == "true"
    said = doc.said()
    config = config_of(app)
    assert config.prompt("greeting", "zh") in said
    assert config.prompt("language_menu", "en") in said
    assert "9" in config.prompt("greeting", "zh")
    voices = {say.get("voice") for say in doc.all("Say")}
    assert voices == {"Polly.Zhiyu", "Polly.Joanna"}
    record = CallStore(redis).get(CALL)
    assert record is not None and record.caller == "+8613812345678"


def test_the_fixed_prompts_are_rendered_once_and_again_for_a_new_config(app, twilio):
    first = twilio.post("/voice").get_data(as_text=True)
    assert twilio.post("/voice").get_data(as_text=True) == first
    # A config put in place while the app runs (as tests and a reload do) is the one heard.
    config = config_of(app)
    prompts = {**config.prompts, "greeting": {**config.prompts["greeting"], "zh": "新的问候。"}}
    app.config["HOTLINE"] = replace(config, prompts=prompts)
    said = Doc.parse(twilio.post("/voice")).said()
    assert "新的问候。" in said and config.prompt("greeting", "zh") not in said


def test_an_english_caller_hears_the_english_key_in_english_within_four_seconds(app, twilio):
    doc = Doc.parse(twilio.post("/voice"))
    # Time runs through the greeting's sentences by the documented estimate (routing.wording:
    # about 4 Chinese characters or 2.5 English words a second, 0.3 s to start a sentence).
    said_by = 0.0
    for say in doc.first("Gather").findall("Say"):
        said_by += speaking_seconds(say.text)
        if say.get("language") == "en-US" and "press 2" in say.text:
            break
    else:
        raise AssertionError("the greeting never offers English in English")
    assert said_by <= GREETING_OPEN_S == 4.0
    # The disclaimer and the danger key follow in Mandarin, then the language menu.
    config = config_of(app)
    texts = [say.text for say in doc.all("Say")]
    assert texts.index(config.prompt("greeting", "zh")) < texts.index(
        config.prompt("language_menu", "zh")
    )


def test_choosing_english_speaks_the_english_disclaimer_before_the_area_menu(app, twilio):
    config = config_of(app)
    english = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "2"}))
    gather = english.first("Gather")
    says = gather.findall("Say")
    assert says[0].text == config.prompt("greeting", "en")
    assert says[0].get("language") == "en-US"
    assert config.prompt("area_intro", "en") in english.said()
    # Inside the Gather: the danger key works while the disclaimer is spoken.
    assert "9" in says[0].text
    danger = Doc.parse(twilio.post(gather.get("action"), {"Digits": "9"}))
    assert danger.first("Number").text == config.crisis.numbers["en"]
    # A Mandarin caller heard the disclaimer in the greeting: it is not said twice.
    mandarin = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "1"}))
    assert config.prompt("greeting", "zh") not in mandarin.said()


def test_unsigned_and_forged_requests_get_403_and_change_nothing(app, twilio, redis):
    assert twilio.post("/voice", signature="").status_code == 403
    assert twilio.post("/voice", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    forged = Twilio(app.test_client(), token="someone-elses-token")
    assert forged.post("/voice/language", {"Digits": "2"}).status_code == 403
    assert forged.post("/voice/status", {"CallStatus": "completed"}).status_code == 403
    assert redis.keys("hotline:*") == []


def test_signature_behind_a_tls_proxy_uses_public_base_url(
    app_env, redis, redis_url, clock, hotline_config
):
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", redis_url)
    app_env.setenv("PUBLIC_BASE_URL", "https://hotline.example.org/")
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    behind_proxy = Twilio(app.test_client(), base="https://hotline.example.org")
    assert behind_proxy.post("/voice/language?t=1", {"Digits": "1"}).status_code == 200
    as_seen_locally = Twilio(app.test_client(), base="http://localhost")
    assert as_seen_locally.post("/voice/language?t=1", {"Digits": "1"}).status_code == 403


@pytest.mark.parametrize(
    ("digits", "language", "speech_language"),
    [("1", "zh", "cmn-Hans-CN"), ("2", "en", "en-US"), ("", "zh", "cmn-Hans-CN")],
)
def test_language_choice_leads_to_the_area_menu(
    app, twilio, redis, digits, language, speech_language
):
    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": digits}))
    gather = doc.first("Gather")
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == speech_language
    assert gather.get("action") == f"/voice/area?lang={language}&t=1"
    assert gather.get("hints")
    config = config_of(app)
    said = doc.said()
    for area in config.areas.values():
        assert (
            config.prompt("area_option", language, name=area.name[language], key=area.key) in said
        )
    assert config.prompt("danger_option", language) in said
    assert CallStore(redis).get(CALL).language == language


def test_invalid_language_key_is_asked_again_then_defaults(app, twilio):
    config = config_of(app)
    again = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "7"}))
    assert again.first("Gather").get("action") == "/voice/language?t=2"
    assert config.prompt("invalid_key", "zh") in again.said()
    default = Doc.parse(twilio.post("/voice/language?t=2", {"Digits": "7"}))
    assert default.first("Gather").get("action") == "/voice/area?lang=zh&t=1"


def test_danger_key_at_the_greeting_dials_the_crisis_line(app, twilio, redis):
    doc = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9"}))
    config = config_of(app)
    assert doc.verbs() == ["Say", "Dial"]
    assert doc.first("Number").text == config.crisis.numbers["zh"]
    assert doc.first("Dial").get("callerId") == "+8613812345678"
    assert doc.first("Dial").get("action") == "/voice/crisis/next?lang=zh&n=0"
    assert config.prompt("crisis_intro", "zh") in doc.said()
    assert CallStore(redis).get(CALL).crisis_trigger == "danger_key"


@pytest.mark.parametrize(
    ("digits", "area"),
    [
        ("1", "family"),
        ("2", "labor"),
        ("3", "contract"),
        ("4", "traffic"),
        ("5", "criminal"),
        ("6", "corporate"),
    ],
)
def test_area_keys_lead_to_the_first_intake_question(app, twilio, redis, digits, area):
    doc = Doc.parse(twilio.post("/voice/area?lang=en&t=1", {"Digits": digits}))
    config = config_of(app)
    gather = doc.first("Gather")
    assert gather.get("action") == f"/voice/intake?lang=en&area={area}&q=0&a=&t=1"
    assert config.areas[area].intake[0].question["en"] in doc.said()
    assert CallStore(redis).get(CALL).area == area


def test_general_key_goes_straight_to_the_general_queue(app, twilio):
    doc = Doc.parse(twilio.post("/voice/area?lang=en&t=1", {"Digits": "0"}))
    enqueue = doc.first("Enqueue")
    assert enqueue.text == "general"
    assert enqueue.get("waitUrl") == "/voice/wait?lang=en&area=general"
    assert enqueue.get("action") == "/voice/queue-result?lang=en&area=general"


def test_spoken_problem_is_classified_and_kept_for_the_summary(app, twilio, redis):
    doc = Doc.parse(
        twilio.post(
            "/voice/area?lang=zh&t=1", {"SpeechResult": "公司拖欠我三个月工资", "Confidence": "0.9"}
        )
    )
    assert "area=labor" in doc.first("Gather").get("action")
    assert CallStore(redis).get(CALL).speech == "公司拖欠我三个月工资"


def test_crisis_words_at_the_area_menu_dial_the_crisis_line(app, twilio, redis):
    doc = Doc.parse(
        twilio.post(
            "/voice/area?lang=en&t=1", {"SpeechResult": "I am going to kill myself tonight"}
        )
    )
    assert doc.first("Number").text == config_of(app).crisis.numbers["en"]
    assert CallStore(redis).get(CALL).crisis_trigger == "crisis_words"


# Ordinary labor talk, the kind a caller may go on with before saying what matters most.
LABOR_TALK = {
    "zh": "我在电子厂上班三年了，老板拖欠了我四个月的工资，加班费一直没有给，社保也没有交，"
    "我去找人事，他们让我等通知，我想问问怎么申请劳动仲裁。",
    "en": "I have worked at the warehouse for three years and my boss has not paid my wages for "
    "four months, there is no overtime pay and no social insurance, HR keeps telling me to "
    "wait, so I want to know how to file for labor arbitration. ",
}
CRISIS_WORDS = {"zh": "我不想活了", "en": "I am going to kill myself tonight"}


def after_labor_talk(language: str, size: int, words: str) -> str:
    """Words said after exactly `size` characters of ordinary labor talk."""
    talk = LABOR_TALK[language] * (size // len(LABOR_TALK[language]) + 1)
    return talk[:size] + words


@pytest.mark.parametrize("size", [500, 2000, 3900])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_crisis_words_after_long_ordinary_talk_still_dial_the_crisis_line(
    app, twilio, redis, language, size
):
    speech = after_labor_talk(language, size, CRISIS_WORDS[language])
    doc = Doc.parse(twilio.post(f"/voice/area?lang={language}&t=1", {"SpeechResult": speech}))
    assert doc.first("Dial").find("Number").text == config_of(app).crisis.numbers[language]
    record = CallStore(redis).get(CALL)
    assert record.crisis_trigger == "crisis_words"
    # What is kept of the caller's words stays short: the decision, not the record, hears it all.
    assert record.speech == speech[:500]


def test_long_ordinary_talk_is_not_a_crisis_and_finds_its_area(app, twilio):
    speech = after_labor_talk("zh", 3990, "")
    doc = Doc.parse(twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": speech}))
    assert doc.all("Dial") == []
    assert "area=labor" in doc.first("Gather").get("action")


def test_crisis_words_after_a_long_intake_answer_open_the_crisis_path(app, twilio):
    speech = after_labor_talk("en", 2000, CRISIS_WORDS["en"])
    doc = Doc.parse(
        twilio.post("/voice/intake?lang=en&area=labor&q=0&a=&t=1", {"SpeechResult": speech})
    )
    assert doc.first("Dial").find("Number").text == config_of(app).crisis.numbers["en"]


def test_each_request_hears_its_own_caller_inside_one_app_context(app, twilio):
    # The caller is read once a request; an app context held around several must not carry
    # one request's words into the next.
    with app.app_context():
        crisis = Doc.parse(twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "我不想活了"}))
        labor = Doc.parse(
            twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "公司拖欠我三个月工资"})
        )
    assert crisis.all("Dial") and labor.all("Dial") == []
    assert "area=labor" in labor.first("Gather").get("action")


def test_speech_past_the_cap_is_logged_not_heard(app, twilio, caplog):
    speech = after_labor_talk("en", 4100, CRISIS_WORDS["en"])
    with caplog.at_level("WARNING", logger="ivr.webhook"):
        doc = Doc.parse(twilio.post("/voice/area?lang=en&t=1", {"SpeechResult": speech}))
    assert "area=labor" in doc.first("Gather").get("action")
    assert "SpeechResult of 4133 characters: the first 4000 classified" in caplog.text


def test_figure_of_speech_is_not_a_crisis(app, twilio):
    doc = Doc.parse(
        twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "加班累死了，老板还不给加班费"})
    )
    assert doc.all("Dial") == []
    assert "area=labor" in doc.first("Gather").get("action")


@pytest.mark.parametrize("answer", [{"SpeechResult": "嗯嗯啊啊 %%% ???"}, {"Digits": "8"}, {}])
def test_unmatched_input_is_asked_again_once_then_goes_to_general(app, twilio, answer):
    config = config_of(app)
    again = Doc.parse(twilio.post("/voice/area?lang=zh&t=1", answer))
    assert again.first("Gather").get("action") == "/voice/area?lang=zh&t=2"
    reason = "invalid_key" if "Digits" in answer else "not_understood"
    assert config.prompt(reason, "zh") in again.said()
    general = Doc.parse(twilio.post("/voice/area?lang=zh&t=2", answer))
    assert general.first("Enqueue").text == "general"
    assert config.prompt("to_general", "zh") in general.said()


def test_a_500_digit_entry_reads_only_the_first_key(app, twilio):
    doc = Doc.parse(twilio.post("/voice/area?lang=en&t=1", {"Digits": "2" * 500}))
    assert "area=labor" in doc.first("Gather").get("action")


def test_garbage_query_parameters_fall_back_to_safe_values(app, twilio):
    doc = Doc.parse(twilio.post("/voice/area?lang=xx&t=banana", {"Digits": "3"}))
    assert doc.first("Gather").get("action") == "/voice/intake?lang=zh&area=contract&q=0&a=&t=1"
    doc = Doc.parse(twilio.post("/voice/intake?lang=en&area=nowhere&q=77&a=zz", {"Digits": "1"}))
    assert doc.first("Enqueue").text == "general"


def test_intake_answers_form_the_summary_and_the_caller_is_queued(app, twilio, redis):
    twilio.post("/voice/area?lang=en&t=1", {"SpeechResult": "my boss has not paid my wages"})
    second = Doc.parse(twilio.post("/voice/intake?lang=en&area=labor&q=0&a=&t=1", {"Digits": "2"}))
    assert second.first("Gather").get("action") == "/voice/intake?lang=en&area=labor&q=1&a=2&t=1"
    queued = Doc.parse(twilio.post("/voice/intake?lang=en&area=labor&q=1&a=2&t=1", {"Digits": "2"}))
    enqueue = queued.first("Enqueue")
    assert enqueue.text == "labor"
    # The wait URL carries the intake answers, for a caller adopted after a Redis outage.
    assert enqueue.get("waitUrl") == "/voice/wait?lang=en&area=labor&a=22"
    assert queued.verbs() == ["Say", "Enqueue"]
    record = CallStore(redis).get(CALL)
    assert record.area == "labor"
    assert (
        record.summary == "no written contract; left or dismissed; “my boss has not paid my wages”"
    )


def test_invalid_intake_key_is_asked_again_then_skipped(app, twilio, redis):
    again = Doc.parse(
        twilio.post("/voice/intake?lang=zh&area=criminal&q=0&a=&t=1", {"Digits": "7"})
    )
    assert again.first("Gather").get("action") == "/voice/intake?lang=zh&area=criminal&q=0&a=&t=2"
    skipped = Doc.parse(
        twilio.post("/voice/intake?lang=zh&area=criminal&q=0&a=&t=2", {"Digits": "7"})
    )
    assert skipped.first("Enqueue").text == "criminal"
    assert CallStore(redis).get(CALL).summary == ""


def test_danger_key_during_intake_opens_the_crisis_path(app, twilio):
    doc = Doc.parse(twilio.post("/voice/intake?lang=en&area=family&q=1&a=1&t=1", {"Digits": "9"}))
    assert doc.first("Number").text == config_of(app).crisis.numbers["en"]


def test_outside_hours_the_caller_hears_hours_and_next_opening(app, twilio, clock):
    clock.now = CLOSED_TIME  # a Sunday noon in Shanghai
    doc = Doc.parse(twilio.post("/voice/intake?lang=en&area=contract&q=0&a=&t=1", {"Digits": "1"}))
    assert doc.all("Enqueue") == []
    said = doc.said()
    assert "Monday to Friday 9:00 to 21:00" in said
    assert "tomorrow 9:00" in said
    # After the hours and the danger key, the caller is invited to leave a message.
    assert doc.verbs() == ["Gather", "Say", "Start", "Record", "Say", "Hangup"]
    action = doc.first("Gather").get("action")
    assert action == "/voice/closed?lang=en&area=contract"
    crisis = Doc.parse(twilio.post(action, {"Digits": "9"}))
    assert crisis.all("Dial")


@pytest.mark.parametrize("key", ["1", "2", "0", "#"])
def test_any_other_key_at_the_closed_message_still_takes_a_message(app, twilio, clock, key):
    clock.now = CLOSED_TIME
    doc = Doc.parse(twilio.post("/voice/intake?lang=en&area=contract&q=0&a=&t=1", {"Digits": "1"}))
    config = config_of(app)
    pressed = Doc.parse(twilio.post(doc.first("Gather").get("action"), {"Digits": key}))
    assert pressed.all("Dial") == []
    record = pressed.first("Record")
    # The message is filed under the caller's area and language, as after silence.
    assert record.get("action") == "/voice/voicemail/recorded?lang=en&area=contract"
    assert config.prompt("voicemail_invite", "en") in pressed.said()
    # A screened caller's key (no area: a blocked number or a closure) still closes the line.
    screened = Doc.parse(twilio.post("/voice/closed?lang=zh", {"Digits": key}))
    assert screened.all("Record") == [] and screened.verbs()[-1] == "Hangup"


def test_general_questions_are_open_around_the_clock(app, twilio, clock):
    clock.now = CLOSED_TIME
    doc = Doc.parse(twilio.post("/voice/area?lang=zh&t=1", {"Digits": "0"}))
    assert doc.first("Enqueue").text == "general"


def test_waiting_room_announces_position_and_offers_the_danger_key(app, twilio, redis, clock):
    config = config_of(app)
    room = WaitingRoom(redis, config.routing)
    now = clock().timestamp()
    for index, waited in enumerate((100, 90)):
        assert room.enqueue(f"CA-ahead-{index}", area="labor", language="zh", now=now - waited)
    twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1"})
    # Routing's place, not Twilio's QueuePosition, is what the caller hears.
    doc = Doc.parse(
        twilio.post(
            "/voice/wait?lang=zh&area=labor&a=11",
            {"QueuePosition": "1", "QueueTime": "40", "CurrentQueueSize": "3"},
        )
    )
    gather = doc.first("Gather")
    assert gather.get("action") == "/voice/wait/key?lang=zh&area=labor&a=11"
    assert gather.get("timeout") == str(config.announce_every_s)
    assert config.prompt("wait_position", "zh", ahead=2) in doc.said()
    assert config.prompt("wait_danger", "zh") in doc.said()
    for index in range(2):
        room.leave(f"CA-ahead-{index}", now, outcome="left")
    first = Doc.parse(twilio.post("/voice/wait?lang=zh&area=labor", {"QueuePosition": "3"}))
    assert config.prompt("wait_next", "zh") in first.said()


def test_a_caller_routing_does_not_know_is_adopted_in_their_fair_place(app, twilio, redis, clock):
    config = config_of(app)
    room = WaitingRoom(redis, config.routing)
    now = clock().timestamp()
    assert room.enqueue("CA-earlier", area="labor", language="zh", now=now - 100)
    assert room.enqueue("CA-later", area="labor", language="zh", now=now - 10)
    # Queued in Twilio while Redis was unreachable: routing hears of the call at this poll.
    doc = Doc.parse(
        twilio.post(
            "/voice/wait?lang=zh&area=labor&a=21", {"QueuePosition": "3", "QueueTime": "60"}
        )
    )
    adopted = room.get(CALL)
    assert adopted.arrival == now - 60 and adopted.state == "waiting"
    assert room.waiting_calls("labor", "zh") == ["CA-earlier", CALL, "CA-later"]
    assert config.prompt("wait_position", "zh", ahead=1) in doc.said()
    record = CallStore(redis).get(CALL)
    assert (record.caller, record.area, record.language) == ("+8613812345678", "labor", "zh")
    assert record.summary == "没有书面劳动合同; 仍在职"
    # Adopted once: the next poll changes nothing.
    again = Doc.parse(twilio.post("/voice/wait?lang=zh&area=labor&a=21", {"QueueTime": "95"}))
    assert room.get(CALL).arrival == now - 60
    assert config.prompt("wait_position", "zh", ahead=1) in again.said()
    kinds = [e["kind"] for e in events.recent(redis) if e.get("call") == CALL]
    assert kinds.count("queued") == 1 and kinds.count("incoming") == 1


def test_a_heavy_intake_adopted_after_an_outage_stays_heavy(app, twilio, redis):
    twilio.post("/voice/wait?lang=zh&area=family&a=11", {"QueueTime": "5"})
    assert WaitingRoom(redis, config_of(app).routing).get(CALL).heavy


def test_with_nothing_known_the_waiting_room_promises_no_place(app_without_redis):
    twilio = Twilio(app_without_redis.test_client())
    config = config_of(app_without_redis)
    doc = Doc.parse(twilio.post("/voice/wait?lang=en&area=labor", {"QueuePosition": "1"}))
    said = doc.said()
    assert config.prompt("wait_next", "en") not in said
    assert config.prompt("wait_hold", "en") in said
    assert config.prompt("wait_danger", "en") in said


def test_danger_key_while_waiting_leaves_the_queue_for_the_crisis_line(app, twilio, redis):
    leave = Doc.parse(twilio.post("/voice/wait/key?lang=en&area=labor", {"Digits": "9"}))
    assert leave.verbs() == ["Leave"]
    result = Doc.parse(
        twilio.post("/voice/queue-result?lang=en&area=labor", {"QueueResult": "leave"})
    )
    assert result.first("Number").text == config_of(app).crisis.numbers["en"]
    assert CallStore(redis).get(CALL).crisis_trigger == "crisis_wait"
    other = Doc.parse(twilio.post("/voice/wait/key?lang=en&area=labor", {"Digits": "5"}))
    assert other.verbs() == ["Say"]


def test_hang_up_while_queued_is_recorded_as_abandoned(app, twilio, redis):
    twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1"})
    room = WaitingRoom(redis, config_of(app).routing)
    assert room.get(CALL).state == "waiting"
    doc = Doc.parse(
        twilio.post(
            "/voice/queue-result?lang=zh&area=labor", {"QueueResult": "hangup", "QueueTime": "31"}
        )
    )
    assert doc.verbs() == []
    assert room.get(CALL).outcome == "abandoned"
    assert room.position(CALL) is None


@pytest.mark.parametrize("result", ["queue-full", "error", "system-error"])
def test_queue_failures_end_kindly(app, twilio, result):
    doc = Doc.parse(twilio.post("/voice/queue-result?lang=zh&area=labor", {"QueueResult": result}))
    assert doc.verbs() == ["Say", "Hangup"]


def test_crisis_lines_are_tried_in_order_then_the_numbers_are_given(app, twilio):
    config = config_of(app)
    first_failed = Doc.parse(
        twilio.post("/voice/crisis/next?lang=zh&n=0", {"DialCallStatus": "no-answer"})
    )
    assert first_failed.first("Number").text == config.crisis.fallback
    assert first_failed.first("Dial").get("action") == "/voice/crisis/next?lang=zh&n=1"
    all_failed = Doc.parse(
        twilio.post("/voice/crisis/next?lang=zh&n=1", {"DialCallStatus": "busy"})
    )
    assert all_failed.all("Dial") == []
    assert config.prompt("crisis_failed", "zh") in all_failed.said()
    assert all_failed.verbs()[-1] == "Hangup"
    answered = Doc.parse(
        twilio.post("/voice/crisis/next?lang=zh&n=0", {"DialCallStatus": "completed"})
    )
    assert answered.all("Dial") == [] and answered.verbs()[-1] == "Hangup"


def test_status_callbacks_are_idempotent_and_ignore_late_arrivals(app, twilio, redis):
    for status in ("ringing", "in-progress", "completed", "completed", "ringing"):
        assert Doc.parse(twilio.post("/voice/status", {"CallStatus": status})).verbs() == []
    assert CallStore(redis).get(CALL).status == "completed"
    ended = [e for e in events.recent(redis) if e["kind"] == "ended"]
    assert len(ended) == 1


def test_missing_call_sid_still_gets_the_menu_and_records_nothing(app, twilio, redis):
    doc = Doc.parse(twilio.post("/voice", {"CallSid": None}))
    assert doc.first("Gather") is not None
    assert Doc.parse(twilio.post("/voice/status", {"CallSid": None, "CallStatus": "completed"}))
    assert redis.keys("hotline:call:*") == []


def test_repeated_incoming_webhook_records_the_call_once(app, twilio, redis):
    twilio.post("/voice")
    twilio.post("/voice")
    incoming = [e for e in events.recent(redis) if e["kind"] == "incoming"]
    assert len(incoming) == 1


def test_an_exception_becomes_an_apology_and_the_general_path(app, twilio, clock):
    def broken_clock():
        raise RuntimeError("clock failure")

    app.config["CLOCK"] = broken_clock
    doc = Doc.parse(twilio.post("/voice/intake?lang=en&area=traffic&q=1&a=1&t=1", {"Digits": "1"}))
    assert doc.verbs() == ["Say", "Redirect"]
    assert config_of(app).prompt("apology", "en") in doc.said()
    redirect = doc.first("Redirect").text
    assert redirect == "/voice/route?lang=en&area=general&fb=1"
    # The general path fails too: the caller is still queued for a general agent.
    last = Doc.parse(twilio.post(redirect))
    assert last.verbs() == ["Say", "Enqueue"]
    assert last.first("Enqueue").text == "general"


def test_twilio_fallback_url_apologises_and_continues(app, twilio):
    doc = Doc.parse(twilio.post("/voice/fallback", {"ErrorCode": "11200"}))
    assert doc.verbs() == ["Say", "Redirect"]


def test_healthz_reports_redis(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("status", "redis", "conditions")} == {
        "status": "ok",
        "redis": "ok",
        "conditions": [],
    }
    # A test app screens through Redis: its greetings are not answered from memory.
    assert body["greeting"]["from_memory"] is False
    assert body["greeting"]["copy"]["answering"] is False
    assert body["greeting"]["starts"] == {
        "waiting": 0,
        "written": 0,
        "lost": 0,
        "failures": 0,
        "last_error": "",
    }


def test_with_redis_down_the_menu_and_the_danger_key_still_work(app_without_redis):
    twilio = Twilio(app_without_redis.test_client())
    assert Doc.parse(twilio.post("/voice")).first("Gather") is not None
    crisis = Doc.parse(twilio.post("/voice/language?t=1", {"Digits": "9"}))
    assert crisis.first("Number").text == config_of(app_without_redis).crisis.numbers["zh"]
    spoken = Doc.parse(twilio.post("/voice/area?lang=zh&t=1", {"SpeechResult": "我不想活了"}))
    assert spoken.all("Dial")
    queued = Doc.parse(twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1"}))
    assert queued.first("Enqueue").text == "labor"
    left = Doc.parse(
        twilio.post("/voice/queue-result?lang=zh&area=labor", {"QueueResult": "leave"})
    )
    assert left.all("Dial")
    health = app_without_redis.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["redis"] == "unreachable"
