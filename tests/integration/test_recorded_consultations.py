"""Recorded consultations on a real Redis: the consent notice and its answers, the conference's
record attributes, the store job (twice encrypted, checked, then Twilio's copy deleted; repeats,
retries, giving up), retention, a person's export and erasure, and supervisors' playback."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job

from queues import events
from queues.audit import AuditLog
from queues.calls import CallStore
from queues.conditions import Conditions
from tests.fixtures.jobs import run_jobs
from tests.fixtures.ops import ROSTER, Hotline, hotline_fixture, sign_in  # noqa: F401
from tests.fixtures.recordings import TwilioRecordings
from tests.fixtures.twiml import Doc
from tools import voicemail_samples as samples
from voicemail import consultation_jobs, jobs
from voicemail import runtime as voicemail_runtime
from voicemail.consultations import (
    DISCARDED,
    FAILED,
    READY,
    Consent,
    ConsultationRecordings,
    RecordingPending,
)
from voicemail.source import SourceUnavailable

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32
CALLER = "+8613812345678"
SID = "RE" + "a" * 32
OTHER = "RE" + "b" * 32
# The last intake answer of the corporate area, whose recording is on in the shipped config.
CORPORATE_LAST = "/voice/intake?lang=zh&area=corporate&q=0&a=&t=1"


@pytest.fixture
def twilio_copies() -> TwilioRecordings:
    """Twilio holding one consultation's WAV."""
    return TwilioRecordings({SID: samples.speech_wav(4, seed=3)})


@pytest.fixture
def vm(app, twilio_copies):
    """The voicemail runtime with Twilio's copies in memory, for jobs run in this process."""
    with app.app_context():
        built = replace(voicemail_runtime.build(app), source=twilio_copies)
    jobs.use_runtime(lambda: built)
    yield built
    jobs.use_runtime(None)


def recordings_of(vm) -> ConsultationRecordings:
    """The consultation store on the runtime's two targets."""
    return consultation_jobs.store(vm)


def consented_call(redis: Redis, consent: str = "given") -> None:
    """A caller in the corporate area who answered the notice."""
    CallStore(redis).start(CALL, CALLER)
    CallStore(redis).update(CALL, area="corporate", language="zh")
    Consent(redis).keep(CALL, consent, area="corporate", language="zh")


def receive(vm, sid: str = SID) -> str:
    """The conference's recording callback, as the bridge passes it on."""
    recording = consultation_jobs.Recording(sid, "", "30", "completed")
    call = consultation_jobs.Call(CALL, "RS1", CALLER, "corporate", "zh", "d1")
    return consultation_jobs.receive(recording, call, runtime=vm)


# --- the notice and its answers ----------------------------------------------------------


def test_an_area_that_records_gives_the_notice_before_queueing(app, twilio, redis):
    doc = Doc.parse(twilio.post(CORPORATE_LAST, {"Digits": "1"}))
    assert "Enqueue" not in doc.verbs()
    gather = doc.first("Gather")
    assert gather.get("action") == "/voice/consent?lang=zh&area=corporate&a=1"
    assert gather.get("numDigits") == "1" and gather.get("actionOnEmptyResult") == "true"
    assert app.config["HOTLINE"].prompt("recording_notice", "zh") in doc.said()
    assert "如不同意录音请按2" in doc.said()
    assert redis.get(f"hotline:recording-consent:{CALL}") is None


def test_an_area_that_does_not_record_queues_at_once(twilio):
    doc = Doc.parse(twilio.post("/voice/intake?lang=zh&area=labor&q=1&a=1&t=1", {"Digits": "1"}))
    assert doc.verbs()[-1] == "Enqueue"
    assert all("/voice/consent" not in (g.get("action") or "") for g in doc.all("Gather"))


def test_two_refuses_and_is_kept_once_with_an_event(app, twilio, redis):
    doc = Doc.parse(twilio.post("/voice/consent?lang=zh&area=corporate&a=1", {"Digits": "2"}))
    assert app.config["HOTLINE"].prompt("recording_refused", "zh") in doc.said()
    enqueue = doc.first("Enqueue")
    assert enqueue.text == "corporate"
    wait = parse_qs(urlsplit(enqueue.get("waitUrl")).query)
    assert wait["rec"] == ["refused"] and wait["a"] == ["1"]
    assert Consent(redis).of(CALL) == "refused"
    assert redis.hget(f"hotline:call:{CALL}", "recording_consent") == b"refused"
    # A repeated answer changes nothing: the first one counts.
    twilio.post("/voice/consent?lang=zh&area=corporate&a=1", {"Digits": ""})
    assert Consent(redis).of(CALL) == "refused"
    kept = [e for e in events.recent(redis) if e["kind"] == "recording-consent"]
    assert [(e["call"], e["consent"], e["area"]) for e in kept] == [(CALL, "refused", "corporate")]
    assert CALLER not in str(kept)


@pytest.mark.parametrize("digits", ["", "1", "5"])
def test_silence_or_another_key_consents(twilio, redis, digits):
    doc = Doc.parse(twilio.post("/voice/consent?lang=en&area=corporate&a=2", {"Digits": digits}))
    wait = parse_qs(urlsplit(doc.first("Enqueue").get("waitUrl")).query)
    assert wait["rec"] == ["given"]
    assert Consent(redis).given(CALL)


def test_the_danger_key_still_works_at_the_notice(twilio, redis):
    doc = Doc.parse(twilio.post("/voice/consent?lang=zh&area=corporate&a=1", {"Digits": "9"}))
    assert "Enqueue" not in doc.verbs()
    assert "Dial" in doc.verbs() or "Redirect" in doc.verbs()
    assert Consent(redis).of(CALL) == ""


def test_an_answer_redis_missed_is_kept_from_the_wait_url(twilio, redis):
    twilio.post("/voice/wait?lang=zh&area=corporate&a=1&rec=refused", {"QueueTime": "5"})
    assert Consent(redis).of(CALL) == "refused"


# --- the conference --------------------------------------------------------------------------


@pytest.mark.parametrize("consent, recorded", [("given", True), ("refused", False), ("", False)])
def test_only_a_consented_call_is_recorded_by_the_agent_or_the_caller(
    app, hotline, twilio, redis, consent, recorded
):
    CallStore(redis).start(CALL, CALLER)
    if consent:
        Consent(redis).keep(CALL, consent, area="corporate", language="zh")
    # d1 a corporate specialist, so the call's first step (specialists only) can match them.
    hotline.load_roster(ROSTER.replace("corporate: 1, general: 1}", "corporate: 3, general: 1}", 1))
    hotline.board.set_presence("d1", "available", hotline.now)
    match = hotline.ring(CALL, area="corporate")
    assert match is not None
    rid = match.reservation_id
    # The agent accepts and starts the conference; the caller is brought to it.
    agent = Doc.parse(twilio.post(f"/voice/agent/answer?res={rid}", {"Digits": "1"}))
    caller = Doc.parse(twilio.post(f"/voice/connect/queued?res={rid}"))
    # The agent's way back from the transfer menu asks for the same, as every rejoin does.
    transfer_key = app.config["HOTLINE"].transfer.key
    menu = Doc.parse(twilio.post(f"/voice/agent/menu?res={rid}", {"Digits": transfer_key}))
    assert menu.verbs()[0] == "Gather"
    for conference in (
        agent.first("Conference"),
        caller.first("Conference"),
        menu.first("Conference"),
    ):
        if recorded:
            assert conference.get("record") == "record-from-start"
            callback = conference.get("recordingStatusCallback")
            assert callback == f"/voice/connect/recorded?res={rid}"
            assert conference.get("recordingStatusCallbackEvent") == "completed"
        else:
            assert conference.get("record") is None
            assert conference.get("recordingStatusCallback") is None


# --- the store job ---------------------------------------------------------------------------


def test_a_recording_is_stored_twice_checked_and_then_deleted_at_twilio(
    app, redis, vm, twilio_copies
):
    consented_call(redis)
    audio = twilio_copies.recordings[SID]
    assert receive(vm) == "queued"
    run_jobs(redis, jobs.QUEUE)
    item = recordings_of(vm).get(SID)
    assert item is not None and item.state == READY and item.remote_deleted
    assert item.caller_digest and CALLER not in str(item.fields)
    assert SID not in twilio_copies.recordings
    for vault in (vm.vault.folder, vm.copy_vault.folder):
        raw = (Path(vault) / "consultations" / f"{SID}.wav.enc").read_bytes()
        assert b"RIFF" not in raw and audio[100:160] not in raw
    assert recordings_of(vm).primary.read(SID) == audio
    assert recordings_of(vm).copy.read(SID) == audio
    assert item.audio_sha256 == hashlib.sha256(audio).hexdigest()


def test_a_repeated_callback_changes_nothing(app, redis, vm, twilio_copies):
    consented_call(redis)
    assert receive(vm) == "queued"
    run_jobs(redis, jobs.QUEUE)
    before = recordings_of(vm).get(SID)
    assert receive(vm) == "repeated"
    assert Queue(jobs.QUEUE, connection=redis).count == 0
    assert recordings_of(vm).get(SID) == before
    assert twilio_copies.downloads == 1 and twilio_copies.deletes == 1


def test_a_call_without_consent_on_record_is_deleted_at_twilio_unheard(
    app, redis, vm, twilio_copies
):
    CallStore(redis).start(CALL, CALLER)  # no answer kept: unsure means no
    receive(vm)
    run_jobs(redis, jobs.QUEUE)
    item = recordings_of(vm).get(SID)
    assert item is not None and item.state == DISCARDED
    assert twilio_copies.downloads == 0 and SID not in twilio_copies.recordings
    assert not recordings_of(vm).primary.exists(SID) and not recordings_of(vm).copy.exists(SID)


def test_a_failing_step_is_retried_then_supervisors_are_told_and_twilio_keeps_its_copy(
    app, redis, vm, twilio_copies
):
    consented_call(redis)
    twilio_copies.fail = SourceUnavailable("Twilio answered 503")
    receive(vm)
    run_jobs(redis, jobs.QUEUE)
    # The first attempt failed and is scheduled again, with backoff.
    job = Job.fetch(consultation_jobs.job_id(SID), connection=redis)
    assert job.get_status() == "scheduled"
    assert recordings_of(vm).get(SID).attempts == 1
    with app.app_context():
        for _ in range(consultation_jobs.MAX_ATTEMPTS - 2):
            with pytest.raises(SourceUnavailable):
                consultation_jobs.process_job(SID)
        assert consultation_jobs.process_job(SID) == FAILED
    item = recordings_of(vm).get(SID)
    assert item.state == FAILED and "503" in item.fields["error"]
    assert SID in twilio_copies.recordings  # kept for someone to look at
    condition = Conditions(redis).get(consultation_jobs.CONDITION)
    assert condition is not None and SID in condition.detail and CALLER not in condition.detail


def test_a_recording_not_at_twilio_yet_is_retried(app, redis, vm, twilio_copies):
    consented_call(redis)
    twilio_copies.recordings.clear()
    receive(vm)
    with app.app_context(), pytest.raises(RecordingPending):
        consultation_jobs.process_job(SID)
    assert recordings_of(vm).get(SID).state == "received"


# --- retention, export and erasure -----------------------------------------------------------


def test_retention_deletes_both_copies_and_the_record_audited(app, redis, vm, clock):
    consented_call(redis)
    receive(vm)
    run_jobs(redis, jobs.QUEUE)
    store = recordings_of(vm)
    keep = app.config["HOTLINE"].records.recording_keep_days
    assert store.purge_expired(now=clock.now + timedelta(days=keep - 1), keep_days=keep) == []
    later = clock.now + timedelta(days=keep + 1)
    assert store.purge_expired(now=later, keep_days=keep) == [SID]
    assert store.get(SID) is None
    assert not store.primary.exists(SID) and not store.copy.exists(SID)
    entry = AuditLog(redis).recent(1)[0]
    assert (entry.action, entry.target, entry.actor) == ("recording-deleted", SID, "retention")


def test_a_persons_recordings_are_exported_and_erased(app, redis, vm):
    consented_call(redis)
    receive(vm)
    run_jobs(redis, jobs.QUEUE)
    store = recordings_of(vm)
    exported = store.export_person(CALLER)
    assert [row["recording_sid"] for row in exported] == [SID]
    assert exported[0]["stored_copies"] == 2 and exported[0]["audio"]
    assert CALLER not in str(exported)
    assert store.export_person("+8613800000000") == []
    assert store.erase_person(CALLER) == 1
    assert store.export_person(CALLER) == [] and store.get(SID) is None
    assert not store.primary.exists(SID) and not store.copy.exists(SID)


# --- playback for supervisors ----------------------------------------------------------------


@pytest.fixture
def stored(app, hotline, redis, vm) -> str:
    """One stored consultation (the console's users are the hotline fixture's)."""
    consented_call(redis)
    receive(vm)
    run_jobs(redis, jobs.QUEUE)
    return SID


def test_supervisors_play_a_recording_through_their_signed_link_audited(app, stored, twilio_copies):
    sam = sign_in(app, "sam")
    listed = sam.client.get("/api/v1/recordings").json["recordings"]
    assert [row["recording_sid"] for row in listed] == [SID]
    assert listed[0]["caller"] == "+86*******5678" and listed[0]["copies"] == 2
    link = listed[0]["audio"]
    assert set(parse_qs(urlsplit(link).query)) == {"who", "exp", "sig"}
    played = sam.client.get(link)
    assert played.status_code == 200 and played.data[:4] == b"RIFF"
    assert played.headers["Cache-Control"].startswith("no-store")
    entry = AuditLog(app.extensions["hotline"].redis).recent(1)[0]
    assert (entry.actor, entry.action, entry.target) == ("sam", "recording-played", SID)
    page = sam.client.get("/ops/recordings")
    assert page.status_code == 200 and SID in page.get_data(as_text=True)


def test_a_link_opens_for_nobody_else_and_not_after_it_expires(app, hotline, stored, clock):
    hotline.users.add("sue", "supervisor", "correct horse battery", hotline.now)
    sam, sue, wang = sign_in(app, "sam"), sign_in(app, "sue"), sign_in(app, "wang")
    link = sam.client.get("/api/v1/recordings").json["recordings"][0]["audio"]
    assert sue.client.get(link).status_code == 403
    assert wang.client.get(link).status_code == 403
    assert app.test_client().get(link).status_code == 401
    forged = link.replace("sig=", "sig=0")
    assert sam.client.get(forged).status_code == 403
    clock.now += timedelta(minutes=app.config["HOTLINE"].voicemail.play_link_minutes + 1)
    assert sam.client.get(link).status_code == 403
    assert [e for e in AuditLog(hotline.redis).recent(20) if e.action == "recording-played"] == []


def test_agents_and_ops_cannot_list_recordings(app, stored):
    for name in ("wang", "olga"):
        assert sign_in(app, name).client.get("/api/v1/recordings").status_code == 403
        assert sign_in(app, name).client.get("/ops/recordings").status_code in (302, 403)


def test_the_sweep_queues_again_a_recording_whose_job_was_lost(app, redis, vm, twilio_copies):
    consented_call(redis)
    receive(vm)
    # The worker died with the job: RQ has no trace of it any more.
    Job.fetch(consultation_jobs.job_id(SID), connection=redis).delete()
    with app.app_context():
        assert consultation_jobs.sweep_job(older_than_s=3600) == 0  # too fresh to call stalled
        assert consultation_jobs.sweep_job(older_than_s=-1) == 1
        assert consultation_jobs.sweep_job(older_than_s=-1) == 0  # queued once
    run_jobs(redis, jobs.QUEUE)
    assert recordings_of(vm).get(SID).state == READY


# --- with Redis down ---------------------------------------------------------------------------


def test_with_redis_down_the_notice_works_and_nothing_is_recorded(app_without_redis):
    from tests.fixtures.app import Twilio

    twilio = Twilio(app_without_redis.test_client())
    notice = Doc.parse(twilio.post(CORPORATE_LAST, {"Digits": "1"}))
    assert notice.first("Gather").get("action").startswith("/voice/consent?")
    refused = Doc.parse(twilio.post("/voice/consent?lang=zh&area=corporate&a=1", {"Digits": "2"}))
    # The refusal travels with the call in its wait URL, for Redis to keep once it is back.
    wait = parse_qs(urlsplit(refused.first("Enqueue").get("waitUrl")).query)
    assert wait["rec"] == ["refused"]
    danger = Doc.parse(twilio.post("/voice/consent?lang=zh&area=corporate&a=1", {"Digits": "9"}))
    assert danger.all("Dial")
    # Brought to the agent with Redis down: the answer cannot be read, so no recording.
    joined = Doc.parse(twilio.post("/voice/connect/queued?res=RS1&lang=zh"))
    assert joined.first("Conference").get("record") is None
    recorded = twilio.post("/voice/connect/recorded?res=RS1", {"RecordingSid": SID})
    assert recorded.status_code == 200
