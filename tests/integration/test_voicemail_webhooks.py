"""Voicemail through the app: the recording TwiML, Twilio's callbacks, processing by an RQ worker,
the callback task at the next opening, the agent's signed link to the audio, and the inbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from queues import events, keys
from queues.agents import AgentBoard
from queues.calls import CallStore
from queues.waiting import WaitingRoom
from routing.roster import Agent, Roster, Shift
from tests.fixtures.app import CLOSED_TIME
from tests.fixtures.jobs import run_jobs
from tests.fixtures.recordings import TwilioRecordings
from tests.fixtures.twiml import Doc
from tools import voicemail_samples as samples
from voicemail import callbacks, consultation_jobs, inbox, jobs
from voicemail import runtime as voicemail_runtime
from voicemail.messages import READY, MessageStore, audit_entries

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32  # the Twilio fixture's CallSid
CALLER = "+8613812345678"  # the Twilio fixture's From
SID = "RE" + "a" * 32
API = "https://api.twilio.com"
URL = f"{API}/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}"
# Monday 2026-12-07 09:00 in Shanghai: labor's next opening after CLOSED_TIME (Sunday noon).
MONDAY_OPENING = datetime(2026, 12, 7, 1, 0, tzinfo=CLOSED_TIME.tzinfo)
ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))


@pytest.fixture
def twilio_copy(app, tmp_path):
    """The app's voicemail runtime with Twilio's recordings in memory."""
    fake = TwilioRecordings({SID: samples.speech_wav(8, seed=3)})
    with app.app_context():
        built = voicemail_runtime.build(app)
    app.extensions["voicemail"] = replace(built, source=fake)
    return fake


def status_form(**overrides: str) -> dict[str, str]:
    """A recording status callback as Twilio sends it."""
    form = {
        "RecordingSid": SID,
        "RecordingUrl": URL,
        "RecordingDuration": "8",
        "RecordingStatus": "completed",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    form.update(overrides)
    return form


def after_hours_caller(redis) -> None:
    """A caller who chose labor and answered its intake before hearing it is closed."""
    calls = CallStore(redis)
    calls.start(CALL, CALLER)
    calls.update(CALL, area="labor", language="zh", summary="拖欠工资三个月")


def voicemail_jobs(redis) -> list[str]:
    """Ids of the jobs waiting on the voicemail queue."""
    return Queue(jobs.QUEUE, connection=redis).job_ids


def test_closed_area_invites_a_message_after_the_hours_and_danger_key(app, twilio, clock, redis):
    clock.now = CLOSED_TIME
    doc = Doc.parse(twilio.post("/voice/intake?lang=en&area=labor&q=1&a=1&t=1", {"Digits": "2"}))

    assert doc.verbs() == ["Gather", "Say", "Start", "Record", "Say", "Hangup"]
    said = doc.said()
    assert said.index("We open again") < said.index("press 9") < said.index("leave a message")
    record = doc.first("Record")
    config = app.config["HOTLINE"].voicemail
    assert record.get("maxLength") == str(config.max_length_s)
    assert record.get("finishOnKey") == "#9"
    assert record.get("playBeep") == "true" and record.get("trim") == "trim-silence"
    assert record.get("action") == "/voice/voicemail/recorded?lang=en&area=labor"
    assert record.get("recordingStatusCallback") == "/voice/voicemail/status?lang=en&area=labor"
    assert record.get("transcribe") is None  # off in the shipped config
    # The intake summary is kept for a closed area too: the callback agent hears it.
    assert CallStore(redis).get(CALL).summary


def test_record_action_thanks_the_caller_or_opens_the_crisis_path(twilio, app):
    thanks = Doc.parse(twilio.post("/voice/voicemail/recorded?lang=en", status_form(Digits="#")))
    assert thanks.verbs() == ["Say", "Say", "Hangup"]
    assert app.config["HOTLINE"].prompt("voicemail_thanks", "en") in thanks.said()

    danger = Doc.parse(twilio.post("/voice/voicemail/recorded?lang=en", status_form(Digits="9")))
    assert danger.first("Redirect").text == "/voice/crisis?lang=en&why=danger_key"


def test_waiting_caller_presses_2_to_leave_a_message(twilio, redis):
    CallStore(redis).start(CALL, CALLER)
    left = Doc.parse(twilio.post("/voice/wait/key?lang=zh&area=labor", {"Digits": "2"}))
    assert left.verbs() == ["Leave"]
    assert CallStore(redis).get(CALL).leave_intent == "voicemail"

    result = Doc.parse(
        twilio.post("/voice/queue-result?lang=zh&area=labor", {"QueueResult": "leave"})
    )
    assert "Record" in result.verbs() and result.all("Dial") == []
    assert result.first("Record").get("action") == "/voice/voicemail/recorded?lang=zh&area=labor"


def test_recording_callback_registers_once_and_queues_processing(twilio, redis, clock):
    after_hours_caller(redis)
    first = twilio.post("/voice/voicemail/status?lang=zh&area=labor", status_form())
    again = twilio.post("/voice/voicemail/status?lang=zh&area=labor", status_form())

    assert first.status_code == again.status_code == 200
    message = MessageStore(redis).get(SID)
    assert (message.caller, message.area, message.language) == (CALLER, "labor", "zh")
    assert message.summary == "拖欠工资三个月" and message.recording_url == URL
    assert voicemail_jobs(redis) == [f"voicemail-{SID}"]
    received = [e for e in events.recent(redis) if e["kind"] == "voicemail_received"]
    assert len(received) == 1 and CALLER not in str(received)


def test_unknown_call_foreign_url_and_bad_input_are_handled(twilio, redis, caplog):
    foreign = "https://evil.example.com/2010-04-01/Accounts/AC1/Recordings/" + SID
    response = twilio.post(
        "/voice/voicemail/status?lang=en&area=family",
        status_form(RecordingUrl=foreign, CallSid="CA" + "9" * 32),
    )
    assert response.status_code == 200
    message = MessageStore(redis).get(SID)
    # Kept with the facts the URL carried; fetched later by SID through the API host only.
    assert (message.area, message.language, message.recording_url) == ("family", "en", "")
    assert any(e["kind"] == "voicemail_foreign_url" for e in events.recent(redis))
    assert "evil.example.com" in caplog.text and "does not know" in caplog.text

    for form in (status_form(RecordingSid="../../etc"), status_form(RecordingStatus="failed")):
        assert twilio.post("/voice/voicemail/status", form).status_code == 200
    assert MessageStore(redis).get("../../etc") is None
    assert twilio.post("/voice/voicemail/status", status_form(), signature="bad").status_code == 403


def test_a_failing_callback_still_answers_twiml(app_env, clock, hotline_config):
    # Redis is unreachable: registering the recording fails, and Twilio still gets TwiML.
    from hotline.app import create_app
    from tests.fixtures.app import Twilio

    app_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    down = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    response = Twilio(down.test_client()).post("/voice/voicemail/status", status_form())
    assert response.status_code == 200 and Doc.parse(response).verbs() == []


def staff_labor_agent(app, redis, now: float) -> str:
    """One labor agent on shift around the clock, available."""
    agent = Agent(
        id="a02",
        name="Chen",
        phone="+8613900000002",
        languages=("zh",),
        skills={"labor": 3},
        shifts=ALWAYS,
    )
    board = AgentBoard(redis, app.config["HOTLINE"].routing)
    board.import_roster(Roster((agent,)), now, presence="available")
    return agent.id


def test_message_is_processed_then_called_back_at_the_next_opening(
    app, twilio, redis, clock, twilio_copy
):
    clock.now = CLOSED_TIME
    after_hours_caller(redis)
    twilio.post("/voice/voicemail/status?lang=zh&area=labor", status_form())
    run_jobs(redis, jobs.QUEUE)

    message = MessageStore(redis).get(SID)
    assert message.state == READY
    assert twilio_copy.deleted == [SID] and twilio_copy.recordings == {}
    assert twilio_copy.delete_calls == 1
    stored = voicemail_runtime.build(app).vault
    assert stored.exists(SID) and stored.read(SID)[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert message.fields["callback_state"] == "scheduled"
    # Scheduled for labor's next opening, Monday 9:00 in Shanghai.
    scheduled = ScheduledJobRegistry(queue=Queue("default", connection=redis))
    job_id = f"voicemail-callback-{SID}"
    assert job_id in scheduled.get_job_ids()
    assert scheduled.get_expiration_time(Job.fetch(job_id, connection=redis)) == MONDAY_OPENING

    clock.now = MONDAY_OPENING
    agent = staff_labor_agent(app, redis, MONDAY_OPENING.timestamp())
    with app.app_context():
        assert callbacks.callback_job(SID) == "queued"
        assert callbacks.callback_job(SID) == "queued"  # a repeat changes nothing
    task = callbacks.task_id(SID)
    queued = WaitingRoom(redis, app.config["HOTLINE"].routing).get(task)
    assert queued.kind == "callback" and queued.area == "labor"
    assert WaitingRoom(redis, app.config["HOTLINE"].routing).callback_number(task) == CALLER
    reservation = queued.reservation or redis.hget(keys.queued_call(task), "reservation").decode()
    assert reservation, "the labor agent was not offered the callback"
    assert Queue("dispatch", connection=redis).job_ids == [f"ring-{reservation}"]

    whisper = Doc.parse(twilio.post(f"/voice/agent/whisper?res={reservation}", {"CallSid": "CA9"}))
    gather = whisper.first("Gather")
    played = gather.find("Play").text
    assert "拖欠工资三个月" in whisper.said()
    assert played.startswith(f"/voicemail/audio/{SID}.mp3?")
    assert parse_qs(urlsplit(played).query)["who"] == [agent]

    client = app.test_client()
    audio = client.get(played)
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    assert audio.data == stored.read(SID)
    assert audit_entries(redis)[0]["action"] == "played"
    assert audit_entries(redis)[0]["actor"] == f"phone:{agent}"
    assert client.get(played.replace("sig=", "sig=0")).status_code == 403
    clock.now = MONDAY_OPENING + timedelta(minutes=16)
    assert client.get(played).status_code == 403  # expired

    clock.now = MONDAY_OPENING + timedelta(seconds=20)
    accepted = Doc.parse(
        twilio.post(f"/voice/agent/answer?res={reservation}", {"CallSid": "CA9", "Digits": "1"})
    )
    assert accepted.first("Conference").text == reservation
    assert f"bridge-{reservation}" in Queue("dispatch", connection=redis).job_ids


def test_urgent_transcript_pages_the_supervisor(app, twilio, redis, twilio_copy):
    after_hours_caller(redis)
    twilio.post("/voice/voicemail/status?lang=zh&area=labor", status_form())
    response = twilio.post(
        "/voice/voicemail/transcription",
        {
            "RecordingSid": SID,
            "TranscriptionText": "I took all my pills and I don't want to live anymore",
            "TranscriptionStatus": "completed",
        },
    )
    assert response.status_code == 200
    message = MessageStore(redis).get(SID)
    assert message.crisis and "I took" not in str(message.fields)  # sealed at rest
    alert = redis.hgetall(keys.crisis_alert(CALL))
    assert alert[b"trigger"] == b"voicemail"
    assert f"crisis-page-{CALL}" in Queue("crisis", connection=redis).job_ids
    assert any(e["kind"] == "voicemail_paged" for e in events.recent(redis))


def test_inbox_lists_plays_with_audit_and_closes(app, twilio, redis, clock, twilio_copy):
    clock.now = CLOSED_TIME
    after_hours_caller(redis)
    twilio.post("/voice/voicemail/status?lang=zh&area=labor", status_form())
    run_jobs(redis, jobs.QUEUE)
    vault = voicemail_runtime.build(app).vault

    (entry,) = inbox.list_messages(redis)
    assert entry.recording_sid == SID and entry.caller_masked != CALLER
    assert entry.callback == "scheduled" and not entry.closed
    audio = inbox.open_audio(redis, vault, SID, actor="supervisor:li", now=clock.now)
    assert audio == vault.read(SID)
    assert audit_entries(redis)[0]["actor"] == "supervisor:li"

    assert inbox.close(redis, SID, actor="supervisor:li", now=clock.now, reason="called back")
    assert not inbox.close(redis, SID, actor="supervisor:li", now=clock.now)
    assert inbox.list_messages(redis) == []
    with app.app_context():
        assert callbacks.callback_job(SID) == "closed"  # a closed message is not called back


def test_periodic_jobs_are_scheduled_once_with_fixed_ids(redis):
    jobs.schedule_periodic(redis)
    jobs.schedule_periodic(redis)
    scheduled = ScheduledJobRegistry(queue=Queue(jobs.QUEUE, connection=redis)).get_job_ids()
    # Recorded consultations' retention and sweep are scheduled with them.
    assert sorted(scheduled) == [
        consultation_jobs.RETENTION_JOB_ID,
        consultation_jobs.SWEEP_JOB_ID,
        jobs.RETENTION_JOB_ID,
        jobs.SWEEP_JOB_ID,
    ]


def test_inbox_commands_list_play_and_close(
    app, twilio, redis, clock, twilio_copy, tmp_path, capsys
):
    from hotline.cli import main

    clock.now = CLOSED_TIME
    after_hours_caller(redis)
    twilio.post("/voice/voicemail/status?lang=zh&area=labor", status_form())
    run_jobs(redis, jobs.QUEUE)

    assert main(["voicemail", "list"]) == 0
    listed = capsys.readouterr().out
    assert SID in listed and CALLER not in listed and "labor" in listed
    saved = tmp_path / "message.mp3"
    assert main(["voicemail", "play", SID, "-o", str(saved)]) == 0
    assert saved.read_bytes() == voicemail_runtime.build(app).vault.read(SID)
    assert audit_entries(redis)[0]["actor"].startswith("cli:")
    assert main(["voicemail", "close", SID, "--reason", "called back"]) == 0
    assert main(["voicemail", "play", "RE" + "0" * 32]) == 1
    assert inbox.list_messages(redis) == []
