"""Voicemail kept in two storage targets: a vault whose every file has a checked twin elsewhere.

`MirroredVault` writes each message into two vaults under the same key, each with its own
nonce: the first target (`HOTLINE_STORAGE`, else `VOICEMAIL_DIR`, else var/voicemail) and the
copy (`HOTLINE_STORAGE_COPY`, else `HOTLINE_VAULT_COPY_DIR`, else var/vault-copy). Either may
be a folder or an S3-compatible bucket (voicemail/object_store.py). A store returns only once
both files were written whole, read back, their hash and tag checked, and the copy opened to the
same audio; a verify checks both the same way. So processing deletes Twilio's copy only when two
good copies exist, and a file lost or altered in either target makes processing store both
again while Twilio still has the recording. Reading falls back to the copy when the first
target's file is gone or damaged, or its store cannot be reached.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePath

from voicemail.vault import SUFFIX, IntegrityError, Opener, StoredAudio, Vault, VaultError

log = logging.getLogger(__name__)


class MirroredVault(Vault):
    """Encrypted voicemail files in two storage targets, written and checked together."""

    def __init__(
        self,
        folder: str | Path,
        key: str | bytes,
        *,
        copy_folder: str | Path,
        opener: Opener | None = None,
        suffix: str = SUFFIX,
    ):
        # The seam through which files are created (a full disk in tests), for both folders.
        seam = {"opener": opener} if opener is not None else {}
        self._join(
            Vault(folder, key, suffix=suffix, **seam),
            Vault(copy_folder, key, suffix=suffix, **seam),
        )

    @classmethod
    def of(cls, first: Vault, copy: Vault) -> MirroredVault:
        """Two targets of any kind (a folder, a bucket) under the same key."""
        mirrored = cls.__new__(cls)
        mirrored._join(first, copy)
        return mirrored

    def _join(self, first: Vault, copy: Vault) -> None:
        """Take the two targets; there is no folder of its own."""
        if first._key != copy._key:
            raise VaultError("both storage targets must use the same VOICEMAIL_KEY")
        self.first = first
        self.copy = copy
        self.suffix = first.suffix
        self._key = first._key

    @property
    def folder(self) -> PurePath:  # type: ignore[override]
        """The first target's folder (or prefix)."""
        return self.first.folder

    @property
    def where(self) -> str:
        """Both targets, for logs and errors."""
        return f"{self.first.where} and {self.copy.where}"

    def seal(self, message_id: str, data: bytes, *, purpose: str = "audio") -> bytes:
        """Encrypt data for one message and purpose, as the first target does."""
        return self.first.seal(message_id, data, purpose=purpose)

    def unseal(self, message_id: str, blob: bytes, *, purpose: str = "audio") -> bytes:
        """Decrypt data sealed for a message."""
        return self.first.unseal(message_id, blob, purpose=purpose)

    def path(self, message_id: str) -> PurePath:
        """Where the first target keeps a message."""
        return self.first.path(message_id)

    def store(self, message_id: str, audio: bytes) -> StoredAudio:
        """Write both copies, each read back and checked; the first target's file is returned."""
        # Each store reads its file back and checks its hash and tag; then the copy must open to
        # the very audio given, as the first's did.
        self.copy.store(message_id, audio)
        stored = self.first.store(message_id, audio)
        if self.copy.read(message_id) != audio or self.first.read(message_id) != audio:
            raise IntegrityError(f"voicemail {message_id}: a stored copy differs")
        return stored

    def verify(self, message_id: str, sha256: str) -> None:
        """Check the first file against its hash and the second opens to the same audio."""
        self.first.verify(message_id, sha256)
        if self.copy.read(message_id) != self.first.read(message_id):
            raise IntegrityError(f"voicemail {message_id}: the second copy differs")

    def read(self, message_id: str) -> bytes:
        """The decrypted audio from the first target, or from the copy when that fails."""
        try:
            return self.first.read(message_id)
        except VaultError as error:
            log.error(
                "voicemail %s: first copy unusable (%s); reading the second", message_id, error
            )
            return self.copy.read(message_id)

    def exists(self, message_id: str) -> bool:
        """Tell whether either target holds the message."""
        return self.first.exists(message_id) or self.copy.exists(message_id)

    def delete(self, message_id: str) -> bool:
        """Delete the message from both targets; False when neither had it."""
        first = self.first.delete(message_id)
        second = self.copy.delete(message_id)
        return first or second

    def message_ids(self) -> list[str]:
        """The messages the first target holds."""
        return self.first.message_ids()

    def modified_at(self, message_id: str) -> float:
        """When the first target's file was written."""
        return self.first.modified_at(message_id)

    def beside(self, name: str, *, suffix: str) -> Vault:
        """The first target's vault for another kind of recording (the copy has its own)."""
        return self.first.beside(name, suffix=suffix)
