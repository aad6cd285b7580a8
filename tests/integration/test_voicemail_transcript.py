"""Every message is transcribed as the caller speaks (Twilio's real-time transcription, Mandarin
or English): its lines are sealed by call until the recording's message exists, then attached to
it; crisis words page the supervisors and open an incident at once, once per message, before the
recording is processed; repeats change nothing; the lines go with the person's data."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from rq import Queue

from queues import keys
from queues.calls import CallStore
from queues.incidents import IncidentLog
from tests.fixtures.app import CLOSED_TIME, Twilio
from tests.fixtures.jobs import run_jobs
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.recordings import TwilioRecordings
from tests.fixtures.twiml import Doc
from tools import voicemail_samples as samples
from voicemail import jobs, person_data
from voicemail import runtime as voicemail_runtime
from voicemail.messages import READY, MessageStore
from voicemail.processing import TRANSCRIPT
from voicemail.transcripts import MessageTranscripts

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32  # the Twilio fixture's CallSid
CALLER = "+8613812345678"  # the Twilio fixture's From
SID = "RE" + "b" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}"
TRANSCRIPTION = "GT" + "8" * 32
PATH = "/voice/voicemail/transcript?lang=zh"
FIRST = "我晚上一个人在家"
CRISIS = "明天我就从楼上跳下去"


def content(text: str, seq: int, *, code: str = "zh-CN", track: str = "inbound_track") -> dict:
    """A final transcription-content callback of the caller's track."""
    return {
        "TranscriptionEvent": "transcription-content",
        "TranscriptionSid": TRANSCRIPTION,
        "SequenceId": str(seq),
        "Track": track,
        "LanguageCode": code,
        "TranscriptionData": json.dumps({"transcript": text, "confidence": 0.9}),
        "Final": "true",
    }


def status_form() -> dict:
    """The recording status callback of the message."""
    return {
        "RecordingSid": SID,
        "RecordingUrl": URL,
        "RecordingDuration": "6",
        "RecordingStatus": "completed",
    }


@pytest.fixture
def twilio_copy(app):
    """The app's voicemail runtime with Twilio's recording of the message in memory."""
    fake = TwilioRecordings({SID: samples.speech_wav(6, seed=5)})
    with app.app_context():
        built = voicemail_runtime.build(app)
    app.extensions["voicemail"] = replace(built, source=fake)
    return fake


@pytest.fixture
def night_caller(redis):
    """A caller at night who chose family in Mandarin and is sent to leave a message."""
    CallStore(redis).start(CALL, CALLER)
    CallStore(redis).update(CALL, area="family", language="zh")


def transcript_of(app, redis) -> str:
    """The message's transcript, opened by the vault as the inbox and the export do."""
    message = MessageStore(redis).get(SID)
    assert message is not None and TRANSCRIPT in message.fields
    vault = voicemail_runtime.build(app).vault
    return vault.unseal_text(SID, message.fields[TRANSCRIPT], purpose=TRANSCRIPT)


@pytest.mark.parametrize(("lang", "code"), [("zh", "zh-CN"), ("en", "en-US")])
def test_the_message_twiml_starts_the_callers_transcription_before_the_recording(
    twilio, clock, lang, code
):
    clock.now = CLOSED_TIME
    doc = Doc.parse(
        twilio.post(f"/voice/intake?lang={lang}&area=labor&q=1&a=1&t=1", {"Digits": "2"})
    )

    verbs = doc.verbs()
    assert verbs.index("Start") == verbs.index("Record") - 1
    transcription = doc.first("Start").find("Transcription")
    assert transcription is not None
    assert transcription.get("track") == "inbound_track"
    assert transcription.get("languageCode") == code
    assert transcription.get("partialResults") == "false"
    # Absolute, as Twilio asks of a real-time transcription's callback.
    expected = f"http://localhost/voice/voicemail/transcript?lang={lang}"
    assert transcription.get("statusCallbackUrl") == expected


def test_lines_wait_by_call_then_join_the_message_the_inbox_shows(
    app, twilio, redis, night_caller, twilio_copy
):
    twilio.post(PATH, content(FIRST, 1))
    twilio.post(PATH, content("想问离婚的事", 2))
    # Lines are sealed at rest: the words are not in the call's hash.
    stored = b"".join(v for v in redis.hgetall(keys.voicemail_transcript(CALL)).values())
    assert FIRST.encode() not in stored

    twilio.post("/voice/voicemail/status?lang=zh&area=family", status_form())
    assert transcript_of(app, redis) == f"{FIRST} 想问离婚的事"
    # A line coming after the recording joins the message's transcript too.
    twilio.post(PATH, content("谢谢", 3))
    assert transcript_of(app, redis).endswith("谢谢")

    run_jobs(redis, jobs.QUEUE)
    message = MessageStore(redis).get(SID)
    assert message.state == READY and not message.crisis
    assert transcript_of(app, redis).startswith(FIRST)


def test_the_inbox_shows_the_transcript_to_supervisors(
    app, hotline, twilio, redis, night_caller, twilio_copy
):
    twilio.post(PATH, content(FIRST, 1))
    twilio.post("/voice/voicemail/status?lang=zh&area=family", status_form())

    supervisor = sign_in(app, "sam")
    (listed,) = supervisor.get("/api/v1/voicemail").get_json()["messages"]
    page = supervisor.get("/ops/voicemail").get_data(as_text=True)

    assert listed["recording_sid"] == SID and listed["transcript"] == FIRST
    assert FIRST in page


def test_crisis_words_page_and_open_an_incident_before_the_recording_is_processed(
    app, twilio, redis, night_caller, twilio_copy
):
    twilio.post(PATH, content(FIRST, 1))
    assert redis.exists(keys.crisis_alert(CALL)) == 0

    twilio.post(PATH, content(CRISIS, 2))

    # Before any recording: the alert, the supervisors' page job and the incident.
    alert = redis.hgetall(keys.crisis_alert(CALL))
    assert alert[b"trigger"] == b"voicemail"
    assert f"crisis-page-{CALL}" in Queue("crisis", connection=redis).job_ids
    incident = IncidentLog(redis).get(CALL)
    assert incident.first("opened")["trigger"] == "voicemail"
    assert CRISIS in incident.first("opened")["said"]
    assert MessageStore(redis).get(SID) is None

    # More crisis words, a repeated callback, then the recording and its processing: no
    # second page and no second incident step; the message is a crisis in the inbox.
    twilio.post(PATH, content("我不想活了", 3))
    twilio.post(PATH, content(CRISIS, 2))
    twilio.post("/voice/voicemail/status?lang=zh&area=family", status_form())
    run_jobs(redis, jobs.QUEUE)

    message = MessageStore(redis).get(SID)
    assert message.crisis and message.urgent and "notified_at" in message.fields
    assert len(IncidentLog(redis).get(CALL).steps) == len(incident.steps)
    assert Queue("crisis", connection=redis).job_ids.count(f"crisis-page-{CALL}") == 1


def test_a_repeated_line_changes_nothing(app, twilio, redis, night_caller):
    twilio.post(PATH, content(FIRST, 1))
    before = redis.hgetall(keys.voicemail_transcript(CALL))

    twilio.post(PATH, content(FIRST, 1))

    assert redis.hgetall(keys.voicemail_transcript(CALL)) == before
    assert MessageTranscripts(redis).text(CALL) == FIRST


def test_an_english_message_is_read_for_crisis_words_in_english(twilio, redis, night_caller):
    twilio.post(
        "/voice/voicemail/transcript?lang=en", content("I am going to kill myself", 1, code="en-US")
    )

    assert redis.hget(keys.crisis_alert(CALL), "language") == b"en"


def test_a_forged_signature_is_refused(twilio, redis):
    answer = twilio.post(PATH, content(CRISIS, 1), signature="forged")

    assert answer.status_code == 403
    assert redis.exists(keys.voicemail_transcript(CALL)) == 0
    assert redis.exists(keys.crisis_alert(CALL)) == 0


def test_redis_down_answers_empty_twiml(app_without_redis):
    twilio = Twilio(app_without_redis.test_client())

    assert Doc.parse(twilio.post(PATH, content(CRISIS, 1))).verbs() == []


def test_the_lines_and_the_message_go_with_the_persons_data(
    app, twilio, redis, night_caller, twilio_copy
):
    twilio.post(PATH, content(FIRST, 1))
    twilio.post("/voice/voicemail/status?lang=zh&area=family", status_form())

    with app.app_context():
        service = person_data.for_app(app)
        exported = service.export(CALLER, actor="sam", reason="本人申请", now=1.0)
        voicemail_entry = exported.manifest["places"]["voicemail"][0]
        assert voicemail_entry["transcript"] == FIRST
        lines = exported.manifest["places"]["transcripts"]
        assert [line["text"] for line in lines[0]["lines"]] == [FIRST]
        service.erase(CALLER, actor="sam", reason="本人申请", now=2.0)

    assert redis.exists(keys.voicemail_transcript(CALL)) == 0
    assert MessageStore(redis).get(SID) is None
