"""Voicemail and recordings in S3-compatible object storage, against a real S3 server (moto's
server mode over HTTP): sealed before upload, read back and checked, listed and deleted; a
damaged object refused; an unreachable store keeps Twilio's copy and pages supervisors; a
message taken by one host played by another; a person's export and erasure reaching the bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from queues import events, keys
from queues.calls import CallStore
from tests.fixtures.app import CLOSED_TIME, REPO, TEST_SECRET, Twilio
from tests.fixtures.jobs import run_jobs
from tests.fixtures.object_store import (  # noqa: F401 - the fixtures bucket and s3_endpoint
    Bucket,
    bucket_fixture,
    dead_endpoint,
    s3_endpoint,
    settings_for,
)
from tests.fixtures.recordings import TwilioRecordings
from tools import voicemail_samples as samples
from voicemail import consultation_jobs, jobs, links, person_data
from voicemail import runtime as voicemail_runtime
from voicemail.messages import READY, MessageStore
from voicemail.mirror import MirroredVault
from voicemail.object_store import Location, ObjectVault, connect
from voicemail.processing import process_recording, register_recording
from voicemail.retention import purge_expired
from voicemail.vault import (
    AudioMissing,
    IntegrityError,
    StorageUnavailable,
    Vault,
    WrongKeyError,
)

pytestmark = pytest.mark.redis

SID = "RE" + "5" * 32
OTHER = "RE" + "6" * 32
CALL = "CA" + "1" * 32  # the Twilio fixture's CallSid
CALLER = "+8613812345678"  # the Twilio fixture's From
KEY = "k" * 43
AUDIO = b"ID3" + bytes(range(256)) * 40


class Pager:
    """Collects supervisor pages."""

    def __init__(self):
        self.pages: list[tuple[str, str]] = []

    def __call__(self, kind: str, message) -> None:
        self.pages.append((kind, message.recording_sid))


def object_vault(bucket: Bucket, prefix: str = "voicemail", key: str = KEY) -> ObjectVault:
    """A vault on a prefix of the test bucket."""
    return ObjectVault(bucket.client, Location.parse(bucket.url(prefix)), key)


def test_a_message_is_sealed_uploaded_read_back_listed_and_deleted(bucket):
    vault = object_vault(bucket)
    stored = vault.store(SID, AUDIO)
    assert str(stored.path) == f"voicemail/{SID}.mp3.enc"
    assert bucket.names() == [f"voicemail/{SID}.mp3.enc"]
    # The bucket holds ciphertext only: sealed under the key, bound to the message id.
    blob = bucket.client.get_object(Bucket=bucket.name, Key=str(stored.path))["Body"].read()
    assert blob.startswith(b"HVM1") and AUDIO[3:64] not in blob and len(blob) == stored.size
    vault.verify(SID, stored.sha256)
    assert vault.read(SID) == AUDIO and b"".join(vault.stream(SID, 1000)) == AUDIO
    assert vault.exists(SID) and not vault.exists(OTHER)
    assert abs(vault.modified_at(SID) - time.time()) < 120

    # A consultation beside it, another prefix: each lists only its own.
    consultations = vault.beside("consultations", suffix=".wav.enc")
    consultations.store(OTHER, b"RIFF....WAVE")
    assert vault.message_ids() == [SID] and consultations.message_ids() == [OTHER]

    # Any vault with the key reads it (another host); another key is told apart from damage.
    assert object_vault(bucket).read(SID) == AUDIO
    with pytest.raises(WrongKeyError):
        object_vault(bucket, key="z" * 43).read(SID)

    assert vault.delete(SID) and not vault.delete(SID)
    assert not vault.exists(SID) and vault.message_ids() == []
    with pytest.raises(AudioMissing):
        vault.read(SID)
    assert bucket.names() == [f"voicemail/consultations/{OTHER}.wav.enc"]


def test_a_damaged_or_misnamed_object_fails_its_check_and_the_copy_is_read(bucket, tmp_path):
    first = object_vault(bucket)
    vault = MirroredVault.of(first, Vault(tmp_path / "copy", KEY))
    stored = vault.store(SID, AUDIO)
    name = str(stored.path)
    blob = bytearray(bucket.client.get_object(Bucket=bucket.name, Key=name)["Body"].read())
    blob[-1] ^= 1
    bucket.client.put_object(Bucket=bucket.name, Key=name, Body=bytes(blob))
    with pytest.raises(IntegrityError):
        first.verify(SID, stored.sha256)
    with pytest.raises(IntegrityError):
        first.read(SID)
    with pytest.raises(IntegrityError):
        vault.verify(SID, stored.sha256)
    # The listener still hears the message: from the second copy.
    assert vault.read(SID) == AUDIO

    # An object copied onto another message's name does not open as that message.
    bucket.client.copy_object(
        Bucket=bucket.name,
        Key=f"voicemail/{OTHER}.mp3.enc",
        CopySource={"Bucket": bucket.name, "Key": name},
    )
    with pytest.raises(IntegrityError):
        first.read(OTHER)


def test_processing_stores_both_copies_in_the_bucket_before_deleting_twilios(redis, bucket):
    vault = MirroredVault.of(object_vault(bucket), object_vault(bucket, "copy"))
    register_recording(redis, SID, now=CLOSED_TIME, caller=CALLER, area="labor")
    twilio = TwilioRecordings({SID: samples.speech_wav(4, seed=5)})
    message = process_recording(SID, redis=redis, source=twilio, vault=vault, now=CLOSED_TIME)
    assert message.state == READY and twilio.recordings == {}
    assert bucket.names() == [f"copy/{SID}.mp3.enc", f"voicemail/{SID}.mp3.enc"]
    vault.verify(SID, message.audio_sha256)
    assert vault.copy.read(SID) == vault.read(SID)


def test_retention_deletes_an_orphan_object_only_once_it_is_old(redis, bucket):
    vault = object_vault(bucket)
    vault.store(SID, AUDIO)  # no message record: its metadata is gone
    written = datetime.fromtimestamp(vault.modified_at(SID), UTC)
    assert purge_expired(redis, vault, now=written + timedelta(days=1)) == []
    assert purge_expired(redis, vault, now=written + timedelta(days=31)) == [SID]
    assert bucket.names() == []


def test_an_unreachable_store_keeps_twilios_copy_and_pages_the_supervisors(redis, tmp_path):
    down = ObjectVault(
        connect(settings_for(dead_endpoint(), attempts=1)), Location.parse("s3://gone/vm"), KEY
    )
    with pytest.raises(StorageUnavailable, match="unreachable"):
        down.store(SID, AUDIO)
    # Either target may be the bucket: both ways, nothing is deleted at Twilio.
    for vault in (
        MirroredVault.of(down, Vault(tmp_path / "copy", KEY)),
        MirroredVault.of(Vault(tmp_path / "first", KEY), down),
    ):
        redis.flushdb()
        register_recording(redis, SID, now=CLOSED_TIME, caller=CALLER, area="labor")
        twilio = TwilioRecordings({SID: samples.speech_wav(3, seed=6)})
        pager = Pager()
        with pytest.raises(StorageUnavailable):
            process_recording(
                SID, redis=redis, source=twilio, vault=vault, now=CLOSED_TIME, notify=pager
            )
        assert SID in twilio.recordings
        assert MessageStore(redis).get(SID).state == "received"
        assert pager.pages == [("storage_unreachable", SID)]
        alerts = [e for e in events.recent(redis) if e["kind"] == "voicemail_alert"]
        assert [e["reason"] for e in alerts] == ["storage_unreachable"]


# -- through the app: the real job, two hosts ------------------------------------------------


def hotline_app(app_env, redis_url, clock, hotline_config, var_dir: Path, env: dict[str, str]):
    """A hotline app (one host) with its own var dir, on the shared Redis and storage."""
    from hotline.app import create_app

    app_env.setenv("HOTLINE_VAR_DIR", str(var_dir))
    app_env.setenv("REDIS_URL", redis_url)
    app_env.setenv("VOICEMAIL_KEY", KEY)
    for name, value in env.items():
        app_env.setenv(name, value)
    return create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})


def leave_message(app, redis, twilio_copy: TwilioRecordings) -> None:
    """A caller's message through Twilio's status callback, processed by the real job."""
    calls = CallStore(redis)
    calls.start(CALL, CALLER)
    calls.update(CALL, area="labor", language="zh", summary="拖欠工资三个月")
    with app.app_context():
        built = voicemail_runtime.build(app)
    app.extensions["voicemail"] = replace(built, source=twilio_copy)
    form = {
        "RecordingSid": SID,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}",
        "RecordingDuration": "4",
        "RecordingStatus": "completed",
    }
    assert Twilio(app.test_client()).post("/voice/voicemail/status?lang=zh&area=labor", form)
    run_jobs(redis, jobs.QUEUE)


def test_a_message_taken_on_one_host_plays_on_another(
    app_env, redis, redis_url, clock, hotline_config, bucket, tmp_path
):
    clock.now = CLOSED_TIME
    env = {"HOTLINE_STORAGE": bucket.url("voicemail"), **bucket.env()}
    host_a = hotline_app(app_env, redis_url, clock, hotline_config, tmp_path / "a", env)
    twilio_copy = TwilioRecordings({SID: samples.speech_wav(4, seed=7)})
    leave_message(host_a, redis, twilio_copy)
    message = MessageStore(redis).get(SID)
    assert message.state == READY and twilio_copy.recordings == {}
    # The first copy is in the bucket, the second in host A's own folder.
    assert bucket.names() == [f"voicemail/{SID}.mp3.enc"]
    assert (tmp_path / "a" / "vault-copy" / f"{SID}.mp3.enc").is_file()
    heard_on_a = voicemail_runtime.build(host_a).vault.read(SID)

    host_b = hotline_app(app_env, redis_url, clock, hotline_config, tmp_path / "b", env)
    params = links.sign(TEST_SECRET, SID, "a02", now=clock.now.timestamp(), minutes=15)
    played = host_b.test_client().get(f"/voicemail/audio/{SID}.mp3", query_string=params)
    assert played.status_code == 200 and played.mimetype == "audio/mpeg"
    assert played.data == heard_on_a and played.data[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert not (tmp_path / "b" / "voicemail").exists()  # nothing of it on host B's disk


def test_the_job_with_the_bucket_unreachable_keeps_twilios_copy_and_raises_the_alert(
    app_env, redis, redis_url, clock, hotline_config, tmp_path
):
    clock.now = CLOSED_TIME
    env = {
        "HOTLINE_STORAGE": "s3://hotline-voicemail/vm",
        "HOTLINE_S3_ENDPOINT_URL": dead_endpoint(),
        "HOTLINE_S3_ATTEMPTS": "1",
    }
    host = hotline_app(app_env, redis_url, clock, hotline_config, tmp_path / "a", env)
    twilio_copy = TwilioRecordings({SID: samples.speech_wav(3, seed=8)})
    leave_message(host, redis, twilio_copy)
    assert SID in twilio_copy.recordings
    assert MessageStore(redis).get(SID).state == "received"
    day = CLOSED_TIME.strftime("%Y%m%d")
    alert = redis.hgetall(keys.crisis_alert(f"voicemail-storage_unreachable-{day}"))
    assert alert[b"trigger"] == b"voicemail-storage_unreachable"


def test_a_persons_export_and_erasure_reach_both_copies_in_the_bucket(
    app_env, redis, redis_url, clock, hotline_config, bucket, tmp_path
):
    clock.now = CLOSED_TIME
    env = {
        "HOTLINE_STORAGE": bucket.url("voicemail"),
        "HOTLINE_STORAGE_COPY": bucket.url("copy"),
        **bucket.env(),
    }
    host = hotline_app(app_env, redis_url, clock, hotline_config, tmp_path / "a", env)
    leave_message(host, redis, TwilioRecordings({SID: samples.speech_wav(4, seed=9)}))
    assert bucket.names() == [f"copy/{SID}.mp3.enc", f"voicemail/{SID}.mp3.enc"]
    # A recorded consultation of the same caller, kept in both buckets' prefixes too.
    recordings = consultation_jobs.store(voicemail_runtime.build(host))
    recordings.register(OTHER, now=CLOSED_TIME, call_sid=CALL, caller=CALLER, consent="given")
    recordings.source = TwilioRecordings({OTHER: b"RIFF-consultation"})
    recordings.process(OTHER, now=CLOSED_TIME, owner="test")
    assert f"voicemail/consultations/{OTHER}.wav.enc" in bucket.names()
    assert f"copy/consultations/{OTHER}.wav.enc" in bucket.names()

    service = person_data.for_app(host)
    now = CLOSED_TIME.timestamp()
    exported = service.export(CALLER, actor="supervisor:li", reason="PIPL request", now=now)
    heard = voicemail_runtime.build(host).vault.read(SID)
    assert exported.files[f"voicemail/{SID}.mp3"] == heard

    erased = service.erase(CALLER, actor="supervisor:li", reason="PIPL request", now=now)
    assert erased.complete and erased.erased["voicemail"] == 1
    assert erased.erased["recordings"] == 1
    assert bucket.names() == []


def test_the_doctor_names_a_bucket_that_is_missing_or_unreachable(
    app_env, redis, redis_url, bucket, tmp_path
):
    for name, value in bucket.env().items():
        app_env.setenv(name, value)
    missing = "s3://hotline-no-such-bucket/vm"
    assert voicemail_runtime.storage_trouble(bucket.url("vm"), str(tmp_path)) == []
    (trouble,) = voicemail_runtime.storage_trouble(bucket.url("vm"), missing)
    assert trouble.startswith("voicemail storage s3://hotline-no-such-bucket/vm/ at http://")
    assert trouble.endswith("no such bucket")

    # The command, as an operator runs it: the unreachable bucket is one of its broken promises.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "REDIS_", "AWS_"))
    }
    env.update(
        REDIS_URL=redis_url,
        HOTLINE_VAR_DIR=str(tmp_path / "var"),
        HOTLINE_STORAGE="s3://hotline-voicemail/vm",
        HOTLINE_S3_ENDPOINT_URL=dead_endpoint(),
        HOTLINE_S3_ATTEMPTS="1",
    )
    command = [str(Path(sys.executable).with_name("hotline")), "doctor"]
    doctor = subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    (line,) = [line for line in doctor.stdout.splitlines() if line.startswith("voicemail storage")]
    assert "s3://hotline-voicemail/vm/ unreachable at http://127.0.0.1:" in line
