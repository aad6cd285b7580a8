"""The voicemail vault: encryption round trip, tampering, keys, atomic writes and a full disk."""

from __future__ import annotations

import base64
import errno
import io
import os
import secrets
import stat
from pathlib import Path

import pytest

from voicemail.vault import (
    AudioMissing,
    DiskFullError,
    IntegrityError,
    Vault,
    VaultError,
    WrongKeyError,
    derive_key,
)

SID = "RE" + "a" * 32
OTHER = "RE" + "b" * 32
AUDIO = bytes(range(256)) * 400


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "voicemail", secrets.token_urlsafe(32))


def test_round_trip(vault: Vault):
    stored = vault.store(SID, AUDIO)
    assert stored.path == vault.path(SID) and stored.path.exists()
    assert vault.read(SID) == AUDIO
    assert b"".join(vault.stream(SID, chunk_size=1000)) == AUDIO
    assert vault.message_ids() == [SID]


def test_file_holds_no_plaintext_and_only_the_owner_reads_it(vault: Vault):
    stored = vault.store(SID, AUDIO)
    blob = stored.path.read_bytes()
    assert AUDIO[:64] not in blob
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600


def test_flipped_byte_fails_authentication(vault: Vault):
    stored = vault.store(SID, AUDIO)
    blob = bytearray(stored.path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    stored.path.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError):
        vault.read(SID)
    with pytest.raises(IntegrityError):
        vault.verify(SID, stored.sha256)


def test_truncated_file_fails(vault: Vault):
    stored = vault.store(SID, AUDIO)
    stored.path.write_bytes(stored.path.read_bytes()[:-1])
    with pytest.raises(IntegrityError):
        vault.read(SID)


def test_file_moved_to_another_message_fails(vault: Vault):
    stored = vault.store(SID, AUDIO)
    os.replace(stored.path, vault.path(OTHER))
    with pytest.raises(IntegrityError):
        vault.read(OTHER)


def test_wrong_key_is_told_apart_from_tampering(tmp_path: Path):
    Vault(tmp_path, "first key phrase, long and random enough").store(SID, AUDIO)
    with pytest.raises(WrongKeyError):
        Vault(tmp_path, "another key phrase entirely").read(SID)


def test_verify_checks_the_hash_written(vault: Vault):
    stored = vault.store(SID, AUDIO)
    vault.verify(SID, stored.sha256)
    with pytest.raises(IntegrityError):
        vault.verify(SID, "0" * 64)


def test_missing_audio(vault: Vault):
    with pytest.raises(AudioMissing):
        vault.read(SID)
    assert vault.delete(SID) is False


def test_delete(vault: Vault):
    vault.store(SID, AUDIO)
    assert vault.delete(SID) is True
    assert not vault.exists(SID)


def test_message_ids_cannot_leave_the_folder(vault: Vault):
    for bad in ("../etc/passwd", "a/b", "", "x" * 65):
        with pytest.raises(ValueError):
            vault.path(bad)


def test_sealed_text_round_trip_and_purpose_binding(vault: Vault):
    token = vault.seal_text(SID, "我不想活了", purpose="transcript")
    assert "不想活" not in token
    assert vault.unseal_text(SID, token, purpose="transcript") == "我不想活了"
    with pytest.raises(IntegrityError):
        vault.unseal_text(SID, token, purpose="summary")
    with pytest.raises(IntegrityError):
        vault.unseal_text(SID, "***", purpose="transcript")


# -- keys ----------------------------------------------------------------------------------


def test_base64_keys_are_used_as_they_are():
    raw = secrets.token_bytes(32)
    for text in (
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.standard_b64encode(raw).decode(),
    ):
        assert derive_key(text) == raw
    assert derive_key(raw) == raw


def test_phrases_are_stretched_with_hkdf():
    key = derive_key("a long random phrase kept in the environment")
    assert len(key) == 32
    assert key == derive_key("a long random phrase kept in the environment")
    assert key != derive_key("a long random phrase kept in the environment!")


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        derive_key("  ")


# -- atomic writes and a full disk ----------------------------------------------------------


class FailingFile(io.FileIO):
    """A file whose writes fail with a chosen error after some bytes, like a filling disk."""

    def __init__(self, path: Path, error: int, room: int):
        super().__init__(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self.error = error
        self.room = room

    def write(self, data) -> int:
        if len(data) > self.room:
            super().write(bytes(data[: self.room]))
            raise OSError(self.error, os.strerror(self.error))
        self.room -= len(data)
        return super().write(data)


def failing_opener(error: int, room: int = 100):
    """An opener that creates files filling up after `room` bytes."""
    return lambda path: FailingFile(path, error, room)


def test_full_disk_is_a_distinct_error_and_leaves_nothing(tmp_path: Path):
    folder = tmp_path / "voicemail"
    vault = Vault(folder, "k" * 43, opener=failing_opener(errno.ENOSPC))
    with pytest.raises(DiskFullError):
        vault.store(SID, AUDIO)
    assert list(folder.iterdir()) == []


def test_other_write_errors_are_vault_errors_but_not_a_full_disk(tmp_path: Path):
    vault = Vault(tmp_path, "k" * 43, opener=failing_opener(errno.EIO))
    with pytest.raises(VaultError) as raised:
        vault.store(SID, AUDIO)
    assert not isinstance(raised.value, DiskFullError)


def test_failed_rewrite_keeps_the_previous_file_whole(tmp_path: Path):
    key = secrets.token_urlsafe(32)
    Vault(tmp_path, key).store(SID, AUDIO)
    with pytest.raises(DiskFullError):
        Vault(tmp_path, key, opener=failing_opener(errno.ENOSPC)).store(SID, b"new" * 1000)
    assert Vault(tmp_path, key).read(SID) == AUDIO
    assert [p.name for p in tmp_path.iterdir()] == [Vault(tmp_path, key).path(SID).name]


def test_store_writes_through_a_temporary_name(tmp_path: Path):
    seen: list[Path] = []

    def opener(path: Path):
        seen.append(path)
        return open(path, "xb")

    vault = Vault(tmp_path, "k" * 43, opener=opener)
    stored = vault.store(SID, AUDIO)
    assert len(seen) == 1 and seen[0] != stored.path and seen[0].parent == stored.path.parent
    assert not seen[0].exists()
