"""Processing voicemail on real Redis: storage, idempotency, crashes, bad input, faults, triage."""

from __future__ import annotations

import errno
import os
import random
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from queues import events, keys
from tests.fixtures.app import CLOSED_TIME
from tests.fixtures.recordings import TwilioRecordings
from tools import voicemail_samples as samples
from voicemail import audio
from voicemail.messages import MessageStore
from voicemail.processing import (
    ClaimHeld,
    Options,
    RecordingPending,
    add_transcript,
    process_recording,
    register_recording,
)
from voicemail.source import ForeignRecordingUrl, SourceUnavailable
from voicemail.vault import DiskFullError, Vault

pytestmark = pytest.mark.redis

SID = "RE" + "1" * 32
CALL = "CA" + "2" * 32
CALLER = "+8613812345678"
API = "https://api.twilio.com"
URL = f"{API}/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}"
KEY = "k" * 43
NOW = CLOSED_TIME
STEPS = ("downloaded", "analysed", "encoded", "written", "stored", "notified", "deleted")


class Crash(Exception):
    """A worker dying at a step boundary."""


def crash_at(step: str):
    """A checkpoint that kills the worker once at a step."""
    fired: list[str] = []

    def checkpoint(name: str) -> None:
        if name == step and not fired:
            fired.append(name)
            raise Crash(step)

    return checkpoint


class Pager:
    """Collects supervisor pages."""

    def __init__(self):
        self.pages: list[tuple[str, str]] = []

    def __call__(self, kind: str, message) -> None:
        self.pages.append((kind, message.recording_sid))


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "voicemail", KEY)


def leave(redis, wav: bytes, *, url: str = URL) -> TwilioRecordings:
    """Register a recording callback for a message and return Twilio holding its audio."""
    register_recording(
        redis,
        SID,
        now=NOW,
        call_sid=CALL,
        recording_url=url,
        duration_s="30",
        caller=CALLER,
        area="labor",
        language="zh",
        summary="wages unpaid 3 months",
    )
    return TwilioRecordings({SID: wav})


def process(redis, twilio, vault, **options):
    """Process the message with test defaults."""
    options.setdefault("now", NOW + timedelta(seconds=5))
    return process_recording(SID, redis=redis, source=twilio, vault=vault, **options)


def test_message_is_stored_encrypted_and_twilio_copy_deleted(redis, vault):
    twilio = leave(redis, samples.speech_wav(30, "calm"))
    message = process(redis, twilio, vault)
    assert message.state == "ready"
    assert (twilio.downloads, twilio.deletes) == (1, 1)
    assert (message.area, message.language, message.call_sid) == ("labor", "zh", CALL)
    assert message.caller == CALLER
    assert message.summary == "wages unpaid 3 months"
    assert message.measures is not None and 25 < message.measures.trimmed_s <= 30
    assert not message.urgent and message.remote_deleted_at is not None
    vault.verify(SID, message.audio_sha256)
    played = audio.decode_stored(vault.read(SID))
    assert len(played) == pytest.approx(message.measures.trimmed_s * 1000, abs=300)


def test_events_never_carry_the_callers_number(redis, vault):
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    process(redis, twilio, vault)
    recent = events.recent(redis)
    kinds = {event["kind"] for event in recent}
    assert {"voicemail_received", "voicemail_stored", "voicemail_ready"} <= kinds
    assert all(CALLER not in str(event) and "13812345678" not in str(event) for event in recent)
    assert any(event.get("caller") == "+86*******5678" for event in recent)


def test_running_twice_stores_one_message_and_deletes_once(redis, vault):
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    first = process(redis, twilio, vault)
    second = process(redis, twilio, vault)
    assert second.state == first.state == "ready"
    assert second.audio_sha256 == first.audio_sha256
    assert (twilio.downloads, twilio.deletes, twilio.delete_calls) == (1, 1, 1)
    assert vault.message_ids() == [SID]
    assert redis.zcard(keys.voicemail_index()) == 1


def test_repeated_recording_callback_is_recorded_once(redis):
    assert register_recording(redis, SID, now=NOW, call_sid=CALL, caller=CALLER)
    assert not register_recording(redis, SID, now=NOW, call_sid="CAother", area="family")
    message = MessageStore(redis).get(SID)
    assert message.call_sid == CALL and message.area == "family"


@pytest.mark.parametrize("step", STEPS)
def test_worker_killed_at_a_step_then_retried_ends_with_one_message_and_one_delete(
    redis, vault, step
):
    # An agitated caller, so the page to the supervisor is one of the steps.
    twilio = leave(redis, samples.speech_wav(20, "agitated"))
    pager = Pager()
    with pytest.raises(Crash):
        process(redis, twilio, vault, owner="job-1", notify=pager, checkpoint=crash_at(step))
    # The dead worker's claim is still there: another job must wait for it...
    with pytest.raises(ClaimHeld):
        process(redis, twilio, vault, owner="job-2", notify=pager)
    # ...while the same job's retry takes over at once.
    message = process(redis, twilio, vault, owner="job-1", notify=pager)
    assert message.state == "ready" and message.urgent
    assert twilio.deletes == 1 and SID not in twilio.recordings
    assert vault.message_ids() == [SID]
    vault.verify(SID, message.audio_sha256)
    assert [p for p in os.listdir(vault.folder) if p.endswith(".tmp")] == []
    assert pager.pages == [("urgent", SID)]
    assert not redis.exists(keys.voicemail_claim(SID))


def test_racing_workers_store_once_and_delete_once(redis, vault):
    twilio = leave(redis, samples.speech_wav(60, "calm"))
    start = threading.Barrier(2)
    results: list[object] = []

    def worker(owner: str) -> None:
        start.wait()
        try:
            # redis-py clients are thread-safe: each command takes a connection from the pool.
            results.append(process(redis, twilio, vault, owner=owner))
        except ClaimHeld as error:
            results.append(error)

    threads = [threading.Thread(target=worker, args=(f"job-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    assert twilio.deletes == 1 and vault.message_ids() == [SID]
    assert MessageStore(redis).get(SID).state == "ready"


def test_silence_is_marked_empty_and_kept_briefly(redis, vault):
    twilio = leave(redis, samples.silence_wav(8, noise_dbfs=-55))
    pager = Pager()
    message = process(redis, twilio, vault, notify=pager)
    assert message.state == "empty"
    assert message.measures.empty and message.urgency == 0
    assert twilio.deletes == 1 and vault.exists(SID)
    assert pager.pages == []


def test_zero_second_recording_is_empty_with_nothing_to_keep(redis, vault):
    twilio = leave(redis, samples.wav(b""))
    message = process(redis, twilio, vault)
    assert message.state == "empty"
    assert not vault.exists(SID)
    assert twilio.deletes == 1


@pytest.mark.parametrize(
    "data", [b"", b"RIFF\x10\x00\x00\x00WAVEjunk", random.Random(7).randbytes(3000)]
)
def test_corrupt_recording_is_marked_and_twilio_copy_kept(redis, vault, data):
    twilio = leave(redis, data)
    message = process(redis, twilio, vault)
    assert message.state == "corrupt"
    assert twilio.deletes == 0 and SID in twilio.recordings
    assert message.fields["error"]
    if data:
        assert vault.read(SID) == data
    assert "voicemail_corrupt" in {event["kind"] for event in events.recent(redis)}
    # Finished: running again neither downloads nor deletes.
    process(redis, twilio, vault)
    assert twilio.downloads == 1


def test_fresh_recording_not_yet_at_twilio_is_retried(redis, vault):
    twilio = leave(redis, b"")
    twilio.recordings.clear()
    with pytest.raises(RecordingPending) as raised:
        process(redis, twilio, vault)
    assert raised.value.retryable
    assert MessageStore(redis).get(SID).state == "received"
    assert not redis.exists(keys.voicemail_claim(SID))


def test_recording_twilio_never_had_is_marked_missing(redis, vault):
    twilio = leave(redis, b"")
    twilio.recordings.clear()
    message = process(redis, twilio, vault, now=NOW + timedelta(hours=1))
    assert message.state == "missing"
    assert twilio.delete_calls == 0


def test_twilio_outage_is_retryable_and_leaves_no_claim(redis, vault):
    twilio = leave(redis, samples.speech_wav(5, "calm"))
    twilio.fail = SourceUnavailable("HTTP 503")
    with pytest.raises(SourceUnavailable) as raised:
        process(redis, twilio, vault)
    assert raised.value.retryable
    assert not redis.exists(keys.voicemail_claim(SID))
    twilio.fail = None
    assert process(redis, twilio, vault).state == "ready"


def test_foreign_recording_url_is_refused_before_any_request(redis, vault, caplog):
    twilio = leave(
        redis, samples.speech_wav(5, "calm"), url=URL.replace(API, "https://evil.example")
    )
    with pytest.raises(ForeignRecordingUrl):
        process(redis, twilio, vault)
    assert twilio.downloads == 0 and twilio.delete_calls == 0
    assert MessageStore(redis).get(SID).state == "refused"
    assert "evil.example" in caplog.text
    assert "voicemail_refused" in {event["kind"] for event in events.recent(redis)}


def test_local_carrier_host_is_allowed_when_configured(redis, vault):
    carrier = "http://127.0.0.1:8701"
    twilio = leave(redis, samples.speech_wav(5, "calm"), url=URL.replace(API, carrier))
    options = Options(allowed_origins=(API, carrier))
    assert process(redis, twilio, vault, options=options).state == "ready"


def test_full_disk_keeps_twilio_copy_and_raises_the_alert(redis, tmp_path):
    class FullDisk:
        def __init__(self, path):
            self.handle = open(path, "xb")  # noqa: SIM115 - closed by __exit__, like a file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    full = Vault(tmp_path / "voicemail", KEY, opener=FullDisk)
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    pager = Pager()
    with pytest.raises(DiskFullError):
        process(redis, twilio, full, notify=pager)
    assert twilio.deletes == 0 and SID in twilio.recordings
    assert pager.pages == [("disk_full", SID)]
    assert "voicemail_alert" in {event["kind"] for event in events.recent(redis)}
    assert MessageStore(redis).get(SID).state == "received"
    # Space is freed: the retry stores the message and only then deletes Twilio's copy.
    message = process(redis, twilio, Vault(tmp_path / "voicemail", KEY))
    assert message.state == "ready" and twilio.deletes == 1


def test_stored_copy_lost_before_twilio_delete_is_stored_again(redis, vault):
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    with pytest.raises(Crash):
        process(redis, twilio, vault, owner="job-1", checkpoint=crash_at("stored"))
    vault.path(SID).write_bytes(b"damaged")
    message = process(redis, twilio, vault, owner="job-1")
    assert message.state == "ready" and twilio.downloads == 2 and twilio.deletes == 1
    vault.verify(SID, message.audio_sha256)


def test_urgent_voice_pages_once(redis, vault):
    twilio = leave(redis, samples.speech_wav(30, "agitated"))
    pager = Pager()
    message = process(redis, twilio, vault, notify=pager)
    assert message.urgent and not message.crisis and message.urgency >= 0.6
    process(redis, twilio, vault, notify=pager)
    assert pager.pages == [("urgent", SID)]
    assert "voicemail_urgent" in {event["kind"] for event in events.recent(redis)}


class Transcriber:
    """A speech-to-text that always hears the same words."""

    def __init__(self, text: str):
        self.text = text
        self.heard: list[tuple[int, str]] = []

    def transcribe(self, wav: bytes, *, language: str) -> str | None:
        self.heard.append((len(wav), language))
        return self.text


def test_crisis_words_from_speech_to_text_start_the_crisis_alert(redis, vault, hotline_config):
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    pager = Pager()
    stt = Transcriber("老板欠我工资，我不想活了")
    message = process(
        redis, twilio, vault, notify=pager, transcriber=stt, lexicon=hotline_config.lexicon
    )
    assert stt.heard and stt.heard[0][1] == "zh"
    assert message.crisis and message.urgent and message.urgency == 1.0
    assert pager.pages == [("crisis", SID)]
    # The transcript is confidential: kept encrypted, never as text in Redis.
    raw = redis.hgetall(keys.voicemail_message(SID))
    assert not any("不想活".encode() in value for value in raw.values())
    assert vault.unseal_text(SID, message.fields["transcript"], purpose="transcript") == stt.text


def test_broken_speech_to_text_does_not_lose_the_message(redis, vault, hotline_config):
    class Broken:
        def transcribe(self, wav: bytes, *, language: str) -> str | None:
            raise RuntimeError("recogniser down")

    twilio = leave(redis, samples.speech_wav(5, "calm"))
    message = process(redis, twilio, vault, transcriber=Broken(), lexicon=hotline_config.lexicon)
    assert message.state == "ready"


def test_twilio_transcription_later_escalates_to_crisis(redis, vault, hotline_config):
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    process(redis, twilio, vault)
    pager = Pager()
    result = add_transcript(
        SID,
        "我不想活了",
        redis=redis,
        vault=vault,
        now=NOW,
        lexicon=hotline_config.lexicon,
        notify=pager,
    )
    assert result.escalated and result.message.crisis and result.message.urgent
    assert pager.pages == [("crisis", SID)]
    again = add_transcript(
        SID,
        "我不想活了",
        redis=redis,
        vault=vault,
        now=NOW,
        lexicon=hotline_config.lexicon,
        notify=pager,
    )
    assert not again.escalated and pager.pages == [("crisis", SID)]


def test_transcription_before_processing_is_used_and_paged_once(redis, vault, hotline_config):
    twilio = leave(redis, samples.speech_wav(10, "calm"))
    pager = Pager()
    add_transcript(
        SID,
        "I want to kill myself",
        redis=redis,
        vault=vault,
        now=NOW,
        lexicon=hotline_config.lexicon,
        notify=pager,
    )
    message = process(redis, twilio, vault, notify=pager, lexicon=hotline_config.lexicon)
    assert message.crisis and message.state == "ready"
    assert pager.pages == [("crisis", SID)]


def test_calm_transcript_does_not_lower_an_urgent_voice(redis, vault, hotline_config):
    twilio = leave(redis, samples.speech_wav(20, "agitated"))
    process(redis, twilio, vault)
    result = add_transcript(
        SID, "想咨询一下离婚的事", redis=redis, vault=vault, now=NOW, lexicon=hotline_config.lexicon
    )
    assert result.message.urgent and not result.escalated
