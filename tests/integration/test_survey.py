"""The caller's one-key rating after the agent ended a call, its follow-ups for supervisors,
and today's satisfaction on the wallboard: signed webhooks, the consoles and the API."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from queues import events, keys
from queues.audit import AuditLog
from queues.calls import CallStore
from queues.followups import FollowUps
from queues.incidents import IncidentLog
from queues.reservations import Reservations
from routing.config import Survey
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.survey import (
    CALL,
    CALLER,
    LIVE,
    agent_hangs_up,
    connect,
    dial_action,
    join,
    press,
    rated_call,
)
from tests.fixtures.twiml import Doc
from voicemail import callbacks
from voicemail.messages import MessageStore
from voicemail.processing import register_recording

pytestmark = pytest.mark.redis

OTHER = "CA" + "6" * 32
MASKED = "+86*******5678"


def kinds(redis, kind: str) -> list[dict[str, str]]:
    """The events of one kind, oldest first."""
    return [e for e in reversed(events.recent(redis, 500)) if e["kind"] == kind]


def prompt(app, name: str, language: str = "zh") -> str:
    """A configured prompt as spoken."""
    return app.config["HOTLINE"].prompt(name, language)


def test_the_callers_conference_dial_leads_to_the_survey(app, hotline, twilio):
    rid = connect(app, hotline, twilio)
    doc = join(twilio, rid)
    action = dial_action(doc)
    assert urlsplit(action).path == "/voice/survey"
    assert parse_qs(urlsplit(action).query) == {"res": [rid], "lang": ["zh"]}
    conference = doc.first("Conference")
    assert conference.text == rid and conference.get("endConferenceOnExit") == "true"
    assert doc.first("Dial").get("hangupOnStar") is None


def test_after_the_agent_hangs_up_the_caller_hears_one_question(app, hotline, twilio):
    question = rated_call(app, hotline, twilio)
    assert question.verbs() == ["Gather", "Say", "Hangup"]
    gather = question.first("Gather")
    assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    assert gather.get("timeout") == str(app.config["HOTLINE"].survey.timeout_s)
    assert gather.find("Say").text == "如对本次咨询满意请按1，不满意请按2。"
    assert urlsplit(gather.get("action")).path == "/voice/survey/rating"
    # Silence: no rating, the goodbye after the question.
    assert question.root.findall("Say")[0].text == prompt(app, "goodbye")
    assert CallStore(hotline.redis).get(CALL).rating == 0


def test_an_english_caller_is_asked_in_english(app, hotline, twilio):
    hotline.board.set_presence("d2", "available", hotline.now)
    CallStore(hotline.redis).start(CALL, CALLER)
    match = hotline.ring(CALL, area="labor", language="en")
    assert match is not None and match.agent_id == "d2"
    twilio.post(f"/voice/agent/answer?res={match.reservation_id}", {"Digits": "1"})
    action = dial_action(join(twilio, match.reservation_id))
    agent_hangs_up(app, match.reservation_id)
    question = Doc.parse(twilio.post(action, {"CallSid": CALL, **LIVE}))
    assert question.first("Gather").find("Say").text == (
        "If you were satisfied with this call, press 1; if not, press 2."
    )
    spoken = question.first("Say")
    assert (spoken.get("language"), spoken.get("voice")) == ("en-US", "Polly.Joanna")
    assert press(twilio, question, "1").said() == prompt(app, "survey_thanks", "en")


def test_a_satisfied_rating_is_kept_once_with_one_event(app, hotline, twilio, redis):
    question = rated_call(app, hotline, twilio)
    thanks = press(twilio, question, "1")
    assert thanks.verbs() == ["Say", "Hangup"]
    assert thanks.said() == prompt(app, "survey_thanks")
    # A repeated webhook, even with another key, changes nothing.
    press(twilio, question, "1")
    press(twilio, question, "2")
    record = CallStore(redis).get(CALL)
    assert record.rating == 1
    rated = kinds(redis, "rated")
    assert len(rated) == 1
    assert {k: rated[0][k] for k in ("call", "agent", "area", "language", "rating")} == {
        "call": CALL,
        "agent": "d1",
        "area": "family",
        "language": "zh",
        "rating": "1",
    }
    assert not any("5678" in value for value in rated[0].values())
    assert FollowUps(redis).newest(include_closed=True) == []


def test_an_unsatisfied_rating_opens_one_follow_up(app, hotline, twilio, redis):
    question = rated_call(app, hotline, twilio)
    thanks = press(twilio, question, "2")
    assert thanks.said() == prompt(app, "survey_follow_up")
    press(twilio, question, "2")
    assert CallStore(redis).get(CALL).rating == 2
    assert [e["rating"] for e in kinds(redis, "rated")] == ["2"]
    follow_up = FollowUps(redis).get(CALL)
    assert (follow_up.area, follow_up.language, follow_up.agent) == ("family", "zh", "d1")
    assert follow_up.caller == CALLER and follow_up.caller_masked == MASKED
    assert follow_up.opened_at == pytest.approx(hotline.now, abs=0.01)
    opened = kinds(redis, "follow-up")
    assert [(e["call"], e["agent"], e["area"]) for e in opened] == [(CALL, "d1", "family")]
    assert not any("5678" in value for value in opened[0].values())
    assert FollowUps(redis).open_count() == 1


def test_without_follow_ups_a_2_is_only_thanked(app, hotline, twilio, redis, hotline_config):
    # The app and its runtime read the one config the app was made with.
    changed = replace(hotline_config, survey=Survey(follow_up=False))
    app.config["HOTLINE"] = app.extensions["hotline"].config = changed
    thanks = press(twilio, rated_call(app, hotline, twilio), "2")
    assert thanks.said() == prompt(app, "survey_thanks")
    assert CallStore(redis).get(CALL).rating == 2
    assert FollowUps(redis).get(CALL) is None


def test_silence_or_another_key_is_no_rating(app, hotline, twilio, redis):
    question = rated_call(app, hotline, twilio)
    bye = press(twilio, question, "5")
    assert bye.said() == prompt(app, "goodbye") and bye.verbs() == ["Say", "Hangup"]
    assert CallStore(redis).get(CALL).rating == 0 and kinds(redis, "rated") == []


def test_the_danger_key_at_the_question_opens_the_crisis_path(app, hotline, twilio, redis):
    question = rated_call(app, hotline, twilio)
    crisis = press(twilio, question, "9")
    assert "Dial" in crisis.verbs()
    assert prompt(app, "crisis_intro") in crisis.said()
    assert CallStore(redis).get(CALL).rating == 0
    assert IncidentLog(redis).get(CALL) is not None


def test_no_survey_when_the_caller_hung_up(app, hotline, twilio, redis):
    rid = connect(app, hotline, twilio)
    action = dial_action(join(twilio, rid))
    agent_hangs_up(app, rid)
    # The caller's own hang-up: Twilio reports the Dial's end, but nobody is listening.
    gone = Doc.parse(
        twilio.post(
            action, {"CallSid": CALL, "CallStatus": "completed", "DialCallStatus": "completed"}
        )
    )
    assert gone.verbs() == []
    assert CallStore(redis).get(CALL).rating == 0


@pytest.mark.parametrize("dial_status", ["failed", "no-answer", "busy", "canceled"])
def test_no_survey_when_the_conference_never_happened(app, hotline, twilio, dial_status):
    rid = connect(app, hotline, twilio)
    action = dial_action(join(twilio, rid))
    live = {"CallSid": CALL, "CallStatus": "in-progress", "DialCallStatus": dial_status}
    bye = Doc.parse(twilio.post(action, live))
    assert bye.all("Gather") == [] and bye.said() == prompt(app, "goodbye")


def test_no_survey_without_an_agent_or_for_an_unknown_reservation(app, hotline, twilio, redis):
    assert Doc.parse(twilio.post("/voice/survey?res=RSnope&lang=zh", LIVE)).all("Gather") == []
    # An offer still ringing (never accepted, never bridged) is no call to rate.
    CallStore(redis).start(CALL, CALLER)
    hotline.board.set_presence("d1", "available", hotline.now)
    rid = hotline.ring(CALL).reservation_id
    assert Reservations(redis, app.config["HOTLINE"].routing).get(rid).state == "offered"
    assert Doc.parse(twilio.post(f"/voice/survey?res={rid}&lang=zh", LIVE)).all("Gather") == []
    rating = twilio.post(f"/voice/survey/rating?res={rid}&lang=zh", {"Digits": "2"})
    assert Doc.parse(rating).said() == prompt(app, "goodbye")
    assert kinds(redis, "rated") == [] and FollowUps(redis).get(CALL) is None


def test_never_a_survey_after_a_crisis(app, hotline, twilio, redis):
    rid = connect(app, hotline, twilio)
    action = dial_action(join(twilio, rid))
    # The agent brought in the crisis line during the call: an incident is open.
    IncidentLog(redis).open(CALL, trigger="agent_flag", language="zh", now=hotline.now)
    agent_hangs_up(app, rid)
    bye = Doc.parse(twilio.post(action, {"CallSid": CALL, **LIVE}))
    assert bye.all("Gather") == []
    rating = twilio.post(
        f"/voice/survey/rating?res={rid}&lang=zh", {"CallSid": CALL, "Digits": "2"}
    )
    assert Doc.parse(rating).said() == prompt(app, "goodbye")
    assert kinds(redis, "rated") == [] and FollowUps(redis).get(CALL) is None


def test_no_survey_when_the_config_turns_it_off(app, hotline, twilio, redis, hotline_config):
    # The app and its runtime read the one config the app was made with.
    changed = replace(hotline_config, survey=Survey(enabled=False))
    app.config["HOTLINE"] = app.extensions["hotline"].config = changed
    rid = connect(app, hotline, twilio)
    dial = join(twilio, rid).first("Dial")
    assert dial.get("action") is None
    agent_hangs_up(app, rid)
    # A Dial action from before the change: still no question.
    bye = Doc.parse(twilio.post(f"/voice/survey?res={rid}&lang=zh", {"CallSid": CALL, **LIVE}))
    assert bye.all("Gather") == [] and bye.said() == prompt(app, "goodbye")


def test_a_called_back_caller_is_surveyed_and_followed_up_on_the_number_given(
    app, hotline, twilio, redis
):
    given = "+8613987654321"
    CallStore(redis).start(CALL, CALLER)
    hotline.board.set_presence("d1", "available", hotline.now)
    assert hotline.room.enqueue(
        CALL, area="family", language="zh", now=hotline.now - 30, callback_number=given
    )
    match = hotline.matcher.match_call(CALL, hotline.now)
    rid = match.reservation_id
    twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": "CA9", "Digits": "1"})
    leg = "CA" + "7" * 32
    joined = Doc.parse(twilio.post(f"/voice/connect/callback?res={rid}", {"CallSid": leg}))
    assert prompt(app, "callback_greeting") in joined.said()
    action = dial_action(joined)
    assert urlsplit(action).path == "/voice/survey"
    agent_hangs_up(app, rid)
    question = Doc.parse(twilio.post(action, {"CallSid": leg, "To": given, **LIVE}))
    press(twilio, question, "2", call_sid=leg)
    # The rating is the call's (the task the caller waited as), not the callback leg's.
    assert CallStore(redis).get(CALL).rating == 2
    assert CallStore(redis).get(leg) is None
    assert FollowUps(redis).get(CALL).caller == given


def test_never_a_survey_on_the_callback_of_a_crisis_message(app, hotline, twilio, redis, clock):
    recording = "RE" + "8" * 32
    register_recording(
        redis, recording, now=clock.now, call_sid=CALL, caller=CALLER, area="family", language="zh"
    )
    MessageStore(redis).set_fields(recording, {"crisis": "1"})
    task = callbacks.task_id(recording)
    CallStore(redis).start(task, CALLER)
    hotline.board.set_presence("d1", "available", hotline.now)
    assert hotline.room.enqueue(
        task, area="family", language="zh", now=hotline.now - 30, callback_number=CALLER
    )
    rid = hotline.matcher.match_call(task, hotline.now).reservation_id
    twilio.post(f"/voice/agent/answer?res={rid}", {"CallSid": "CA9", "Digits": "1"})
    leg = "CA" + "7" * 32
    action = dial_action(
        Doc.parse(twilio.post(f"/voice/connect/callback?res={rid}", {"CallSid": leg}))
    )
    agent_hangs_up(app, rid)
    bye = Doc.parse(twilio.post(action, {"CallSid": leg, **LIVE}))
    assert bye.all("Gather") == [] and bye.said() == prompt(app, "goodbye")


def test_the_wallboard_shows_todays_satisfaction(app, hotline, twilio, redis, clock):
    press(twilio, rated_call(app, hotline, twilio, CALL), "1")
    press(twilio, rated_call(app, hotline, twilio, OTHER, area="labor"), "2", call_sid=OTHER)
    # Yesterday's ratings do not count today.
    yesterday = hotline.now - 86400
    redis.xadd(
        keys.events(), {"kind": "rated", "at": f"{yesterday:.3f}", "call": "CAold", "rating": "2"}
    )
    supervisor = sign_in(app, "sam")
    today = supervisor.get("/api/v1/wallboard").json["today"]
    assert (today["rated"], today["satisfied"], today["satisfaction"]) == (2, 1, 0.5)
    assert supervisor.get("/api/v1/wallboard").json["followups_open"] == 1
    page = supervisor.get("/ops/wallboard").get_data(as_text=True)
    assert 'data-field="satisfaction">50%<' in page and "评价 2 次" in page
    # After midnight the day starts again.
    clock.now += timedelta(days=1)
    later = sign_in(app, "sam").get("/api/v1/wallboard").json["today"]
    assert (later["rated"], later["satisfaction"]) == (0, None)


def test_follow_ups_for_supervisors_only_closed_with_a_note_and_audited(
    app, hotline, twilio, redis
):
    press(twilio, rated_call(app, hotline, twilio), "2")
    tokens = {
        name: hotline.users.create_token(name, hotline.now) for name in ("wang", "olga", "sam")
    }
    client = app.test_client()

    def api(method: str, path: str, who: str | None, body=None):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        return getattr(client, method)(path, json=body, headers=headers)

    close = f"/api/v1/followups/{CALL}/close"
    for who, status in ((None, 401), ("wang", 403), ("olga", 403)):
        assert api("get", "/api/v1/followups", who).status_code == status
        assert api("get", f"/api/v1/followups/{CALL}/number", who).status_code == status
        assert api("post", close, who, {"note": "x"}).status_code == status
    listed = api("get", "/api/v1/followups", "sam").json["followups"]
    assert listed == [
        {
            "call": CALL,
            "opened_at": pytest.approx(hotline.now, abs=0.01),
            "area": "family",
            "language": "zh",
            "agent": "d1",
            "caller": MASKED,
            "closed": False,
            "closed_at": None,
            "closed_by": "",
            "note": "",
            "reason": "rating",
            # Its callback task is scheduled (the job not run here): waiting for an agent.
            "task": "scheduled",
            "state": "waiting",
        }
    ]
    shown = api("get", f"/api/v1/followups/{CALL}/number", "sam").json
    assert shown["number"] == CALLER
    audit = AuditLog(redis)
    assert [(e.actor, e.action, e.target, e.after) for e in audit.recent(5)] == [
        ("sam (token)", "followup.number", CALL, {"caller": MASKED})
    ]

    assert api("post", close, "sam", {"note": " "}).json["error"]["field"] == "note"
    done = api("post", close, "sam", {"note": "回电说明了仲裁程序"})
    assert done.status_code == 200 and done.json == {"call": CALL, "closed": True, "changed": True}
    again = api("post", close, "sam", {"note": "again"})
    assert again.status_code == 200 and again.json["changed"] is False
    closed = [e for e in audit.recent(10) if e.action == "followup.close"]
    assert len(closed) == 1
    assert (closed[0].actor, closed[0].target) == ("sam (token)", CALL)
    assert closed[0].before["caller"] == MASKED and closed[0].before["closed"] is False
    assert closed[0].after["note"] == "回电说明了仲裁程序" and closed[0].after["closed"] is True
    assert CALLER not in str([e.public() for e in audit.recent(10)])

    assert api("get", "/api/v1/followups", "sam").json["followups"] == []
    kept = api("get", "/api/v1/followups?closed=1", "sam").json["followups"]
    assert [(f["call"], f["closed"], f["closed_by"], f["note"]) for f in kept] == [
        (CALL, True, "sam (token)", "回电说明了仲裁程序")
    ]
    # The callback is done: the number is no longer kept, only the masked one.
    assert api("get", f"/api/v1/followups/{CALL}/number", "sam").status_code == 404
    assert FollowUps(redis).get(CALL).caller == "" and kept[0]["caller"] == MASKED
    assert 0 < redis.ttl(keys.followup(CALL)) <= 30 * 86400


def test_the_follow_ups_page_masks_numbers_and_closes_with_csrf(app, hotline, twilio, redis):
    press(twilio, rated_call(app, hotline, twilio), "2")
    anonymous = app.test_client().get("/ops/followups")
    assert anonymous.status_code == 303 and "/ops/login" in anonymous.headers["Location"]
    for name in ("olga", "wang"):
        assert sign_in(app, name).get("/ops/followups").status_code == 403
    supervisor = sign_in(app, "sam")
    page = supervisor.get("/ops/followups").get_data(as_text=True)
    assert "不满意回访" in page and MASKED in page and CALLER not in page
    assert f'action="/ops/followups/{CALL}/close"' in page and 'name="csrf_token"' in page
    assert 'href="/ops/followups"' in supervisor.get("/ops/wallboard").get_data(as_text=True)

    one = supervisor.get(f"/ops/followups/{CALL}").get_data(as_text=True)
    assert f'href="tel:{CALLER}"' in one
    assert AuditLog(redis).recent(1)[0].action == "followup.number"

    refused = supervisor.client.post(f"/ops/followups/{CALL}/close", data={"note": "done"})
    assert refused.status_code == 403 and not FollowUps(redis).get(CALL).closed
    done = supervisor.form(f"/ops/followups/{CALL}/close", {"note": "已回电"})
    assert done.status_code == 303
    assert FollowUps(redis).get(CALL).closed
    after = supervisor.get("/ops/followups").get_data(as_text=True)
    assert "回访已完成" in after and MASKED not in after

    supervisor.get("/ops/lang/en?next=/ops/followups")
    english = supervisor.get("/ops/followups?closed=1").get_data(as_text=True)
    assert "Follow-ups" in english and "已回电" in english and MASKED in english


def test_follow_up_key_formats_are_pinned():
    assert keys.followup("CA1") == "hotline:followup:CA1"
    assert keys.followups() == "hotline:followups"
    assert keys.followups_open() == "hotline:followups:open"
