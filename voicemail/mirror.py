"""Voicemail kept in two storage targets: a vault whose every file has a checked twin elsewhere.

`MirroredVault` is a `Vault` (the first target, `VOICEMAIL_DIR`) that writes each message into a
second vault too (`HOTLINE_VAULT_COPY_DIR`, var/vault-copy by default), with its own nonce. A
store returns only once both files were written atomically, read back, their hash and tag
checked, and the copy opened to the same audio; a verify checks both the same way. So
processing deletes Twilio's copy only when two good copies exist, and a file lost or altered in
either target makes processing store both again while Twilio still has the recording. Reading
falls back to the copy when the first target's file is gone or damaged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from voicemail.vault import SUFFIX, IntegrityError, Opener, StoredAudio, Vault, VaultError

log = logging.getLogger(__name__)


class MirroredVault(Vault):
    """Encrypted voicemail files in two folders, written and checked together."""

    def __init__(
        self,
        folder: str | Path,
        key: str | bytes,
        *,
        copy_folder: str | Path,
        opener: Opener | None = None,
        suffix: str = SUFFIX,
    ):
        # The seam through which files are created (a full disk in tests), for both targets.
        seam = {"opener": opener} if opener is not None else {}
        super().__init__(folder, key, suffix=suffix, **seam)
        self.copy = Vault(copy_folder, key, suffix=suffix, **seam)

    def store(self, message_id: str, audio: bytes) -> StoredAudio:
        """Write both copies, each read back and checked; the first target's file is returned."""
        # The copy first: the first target's store ends with `verify`, which checks both.
        self.copy.store(message_id, audio)
        return super().store(message_id, audio)

    def verify(self, message_id: str, sha256: str) -> None:
        """Check the first file against its hash and the second opens to the same audio."""
        super().verify(message_id, sha256)
        if self.copy.read(message_id) != super().read(message_id):
            raise IntegrityError(f"voicemail {message_id}: the second copy differs")

    def read(self, message_id: str) -> bytes:
        """The decrypted audio from the first target, or from the copy when that fails."""
        try:
            return super().read(message_id)
        except VaultError as error:
            log.error(
                "voicemail %s: first copy unusable (%s); reading the second", message_id, error
            )
            return self.copy.read(message_id)

    def exists(self, message_id: str) -> bool:
        """Tell whether either target holds the message."""
        return super().exists(message_id) or self.copy.exists(message_id)

    def delete(self, message_id: str) -> bool:
        """Delete the message from both targets; False when neither had it."""
        first = super().delete(message_id)
        second = self.copy.delete(message_id)
        return first or second
