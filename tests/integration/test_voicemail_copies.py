"""Voicemail kept in two storage targets: both written and checked before Twilio's copy goes, a
damaged copy stored again while Twilio still has it, reading from the second when the first is
gone, and both deleted together."""

from __future__ import annotations

import pytest

from tests.fixtures.app import CLOSED_TIME
from tests.fixtures.recordings import TwilioRecordings
from tools import voicemail_samples as samples
from voicemail import runtime as voicemail_runtime
from voicemail.messages import MessageStore
from voicemail.mirror import MirroredVault
from voicemail.processing import process_recording, register_recording
from voicemail.source import SourceUnavailable
from voicemail.vault import IntegrityError

pytestmark = pytest.mark.redis

SID = "RE" + "e" * 32
KEY = "k" * 43


def test_the_app_keeps_every_message_twice_and_reads_the_second_when_the_first_is_gone(app, redis):
    with app.app_context():
        vault = voicemail_runtime.build(app).vault
    assert isinstance(vault, MirroredVault)
    assert vault.copy.folder == app.config["SETTINGS"].var_dir / "vault-copy"
    register_recording(redis, SID, now=CLOSED_TIME, caller="+8613812345678", area="labor")
    twilio = TwilioRecordings({SID: samples.speech_wav(5, seed=2)})
    message = process_recording(SID, redis=redis, source=twilio, vault=vault, now=CLOSED_TIME)
    assert message.state == "ready" and not twilio.recordings
    first, second = vault.path(SID), vault.copy.path(SID)
    assert first.is_file() and second.is_file()
    assert first.read_bytes() != second.read_bytes()  # each sealed with its own nonce
    audio = vault.read(SID)
    first.unlink()
    assert vault.read(SID) == audio
    assert vault.delete(SID) and not second.exists()


def test_a_damaged_copy_is_stored_again_while_twilio_still_has_the_recording(redis, tmp_path):
    vault = MirroredVault(tmp_path / "first", KEY, copy_folder=tmp_path / "second")
    register_recording(redis, SID, now=CLOSED_TIME, area="labor")
    twilio = TwilioRecordings({SID: samples.speech_wav(5, seed=2)})

    class DeleteFails(TwilioRecordings):
        def delete(self, recording_sid: str) -> bool:
            raise SourceUnavailable("Twilio answered 503")

    flaky = DeleteFails(twilio.recordings)
    with pytest.raises(SourceUnavailable):
        process_recording(SID, redis=redis, source=flaky, vault=vault, now=CLOSED_TIME)
    assert MessageStore(redis).get(SID).state == "stored"
    # The second copy is altered on disk: the check fails, and the re-run stores both again.
    blob = bytearray(vault.copy.path(SID).read_bytes())
    blob[-1] ^= 1
    vault.copy.path(SID).write_bytes(bytes(blob))
    with pytest.raises(IntegrityError):
        vault.verify(SID, MessageStore(redis).get(SID).audio_sha256)
    message = process_recording(SID, redis=redis, source=twilio, vault=vault, now=CLOSED_TIME)
    assert message.state == "ready"
    vault.verify(SID, message.audio_sha256)
    assert vault.copy.read(SID) == vault.read(SID)


def test_the_copy_folders_are_private(tmp_path):
    vault = MirroredVault(tmp_path / "first", KEY, copy_folder=tmp_path / "copy")
    vault.store(SID, b"audio")
    nested = vault.copy.beside("consultations", suffix=".wav.enc")
    nested.store(SID, b"audio")
    for folder in (vault.folder, vault.copy.folder, nested.folder):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert nested.path(SID).stat().st_mode & 0o777 == 0o600
