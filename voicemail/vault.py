"""Confidential storage of voicemail audio: AES-GCM encrypted files, written atomically.

The key comes from `VOICEMAIL_KEY`, as text or bytes:
- 32 raw bytes, or text that is base64 (standard or URL-safe, padding optional) of exactly 32
  bytes, is used as the AES-256 key itself; `secrets.token_urlsafe(32)` makes such a key;
- anything else is treated as a secret phrase and stretched to 32 bytes with HKDF-SHA256. HKDF
  does not slow down guessing, so a phrase must itself be long and random.

A file is `HVM1` + key id (8 bytes) + nonce (12 bytes) + ciphertext with its 16-byte tag. The
header and the message id are authenticated too, so a file copied onto another message's name
fails to open. The key id (a hash of the key, not the key) tells "this file was sealed with
another key" apart from "this file was altered".

A file is written to a temporary name in the same folder, flushed and fsynced, renamed over its
final name and the folder fsynced; then it is read back and its hash and tag checked. Only a
file that passed that check may let anyone delete Twilio's copy of the recording.

`Vault` keeps its files in a folder. The storage steps (`_put`, `_read_file`, `exists`,
`delete`, `message_ids`, `modified_at`, `beside`) are the storage interface: `ObjectVault`
(voicemail/object_store.py) keeps the same sealed files as objects in an S3-compatible bucket,
and `MirroredVault` (voicemail/mirror.py) keeps each in two targets of either kind.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"HVM1"
KEY_ID_BYTES = 8
NONCE_BYTES = 12
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
SUFFIX = ".mp3.enc"
# A message id becomes a file name: letters, digits, - and _ only, so no id can leave the folder.
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# 32 bytes in base64 are 43 characters and one "=" of padding, which may be left off.
_BASE64_KEY = re.compile(rb"^[A-Za-z0-9+/_-]{43}=?$")
_HKDF_INFO = b"hotline voicemail encryption v1"
_KEY_ID_LABEL = b"hotline voicemail key id v1"

Opener = Callable[[Path], BinaryIO]


class VaultError(Exception):
    """A voicemail file that cannot be stored or opened."""


class StorageUnavailable(VaultError):
    """The storage cannot take a file now: Twilio's copy must be kept and staff alerted."""

    # What the supervisors' page is about (voicemail-<alert>).
    alert = "storage_unreachable"


class DiskFullError(StorageUnavailable):
    """The voicemail folder has no space left: Twilio's copy must be kept and staff alerted."""

    alert = "disk_full"


class IntegrityError(VaultError):
    """A stored file failed its authentication or hash check: altered, truncated or misnamed."""


class WrongKeyError(VaultError):
    """A stored file was sealed with another key than the one configured."""


class AudioMissing(VaultError):
    """No stored file for a message."""


@dataclass(frozen=True)
class StoredAudio:
    """Where a message's encrypted audio lies, and the SHA-256 of the file as written."""

    # A file's path, or an object's key in its bucket.
    path: PurePath
    sha256: str
    size: int


def derive_key(secret: str | bytes) -> bytes:
    """Return the 32-byte AES key for a VOICEMAIL_KEY (raw or base64 key, or a phrase via HKDF)."""
    if isinstance(secret, bytes) and len(secret) == 32:
        return secret
    raw = secret.strip().encode() if isinstance(secret, str) else bytes(secret)
    if not raw:
        raise ValueError("VOICEMAIL_KEY is empty")
    if _BASE64_KEY.match(raw):
        return base64.urlsafe_b64decode(raw.replace(b"+", b"-").replace(b"/", b"_")[:43] + b"=")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)


def _key_id(key: bytes) -> bytes:
    """Return a short public fingerprint of a key."""
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:KEY_ID_BYTES]


def _open_new(path: Path) -> BinaryIO:
    """Open a new file for writing, failing if it exists, readable by the owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")


class Vault:
    """Encrypted voicemail files in one folder; the only code that reads or writes them."""

    def __init__(
        self,
        folder: str | Path,
        key: str | bytes,
        *,
        opener: Opener = _open_new,
        suffix: str = SUFFIX,
    ):
        self.folder = Path(folder)
        # What a file's name ends with: voicemail keeps MP3, recorded consultations keep WAV.
        self.suffix = suffix
        self._key = derive_key(key)
        self._key_id = _key_id(self._key)
        self._aead = AESGCM(self._key)
        # The seam through which files are created: tests pass one that fails like a full disk.
        self._opener = opener

    # -- sealing ------------------------------------------------------------------------

    def seal(self, message_id: str, data: bytes, *, purpose: str = "audio") -> bytes:
        """Encrypt data for one message and purpose (audio, transcript...)."""
        header = MAGIC + self._key_id + secrets.token_bytes(NONCE_BYTES)
        return header + self._aead.encrypt(
            header[-NONCE_BYTES:], data, self._aad(header, message_id, purpose)
        )

    def unseal(self, message_id: str, blob: bytes, *, purpose: str = "audio") -> bytes:
        """Decrypt data sealed for a message, raising when it was altered or sealed elsewhere."""
        if len(blob) < HEADER_BYTES + 16 or not blob.startswith(MAGIC):
            raise IntegrityError(f"voicemail {message_id}: not a sealed voicemail file")
        header = blob[:HEADER_BYTES]
        if header[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES] != self._key_id:
            raise WrongKeyError(f"voicemail {message_id}: sealed with another VOICEMAIL_KEY")
        try:
            return self._aead.decrypt(
                header[-NONCE_BYTES:], blob[HEADER_BYTES:], self._aad(header, message_id, purpose)
            )
        except InvalidTag:
            raise IntegrityError(f"voicemail {message_id}: failed authentication") from None

    @staticmethod
    def _aad(header: bytes, message_id: str, purpose: str) -> bytes:
        """Bind a sealed blob to its header, message and purpose."""
        return header + b"\x00" + message_id.encode() + b"\x00" + purpose.encode()

    def seal_text(self, message_id: str, text: str, *, purpose: str) -> str:
        """Encrypt a short text (a transcript) into base64 fit for a Redis field."""
        return base64.b64encode(self.seal(message_id, text.encode(), purpose=purpose)).decode()

    def unseal_text(self, message_id: str, token: str, *, purpose: str) -> str:
        """Decrypt a text sealed by seal_text."""
        try:
            blob = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise IntegrityError(f"voicemail {message_id}: sealed text is not base64") from None
        return self.unseal(message_id, blob, purpose=purpose).decode()

    # -- files --------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """Where the files are kept, for logs and errors."""
        return str(self.folder)

    def path(self, message_id: str) -> Path:
        """Return the file a message's audio is kept in."""
        return self.folder / self._name(message_id)

    def _name(self, message_id: str) -> str:
        """A message's file name, once its id is checked to be safe as one."""
        if not _MESSAGE_ID.match(message_id):
            raise ValueError(f"not a valid message id: {message_id!r}")
        return f"{message_id}{self.suffix}"

    def store(self, message_id: str, audio: bytes) -> StoredAudio:
        """Encrypt and write a message's audio atomically, then read it back and check it."""
        blob = self.seal(message_id, audio)
        digest = hashlib.sha256(blob).hexdigest()
        where = self._put(message_id, blob)
        self.verify(message_id, digest)
        return StoredAudio(where, digest, len(blob))

    def _put(self, message_id: str, blob: bytes) -> PurePath:
        """Write a sealed file whole under its final name, or not at all; return where."""
        final = self.path(message_id)
        temp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
        try:
            # A sub-folder's parent (the copy folder above consultations/) is private too.
            self.folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.folder.mkdir(exist_ok=True, mode=0o700)
            with self._opener(temp) as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
            self._sync_folder()
        except OSError as error:
            temp.unlink(missing_ok=True)
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError(f"no space left in {self.folder}: {error.strerror}") from error
            raise VaultError(f"cannot write {final.name}: {error}") from error
        return final

    def _sync_folder(self) -> None:
        """Flush the folder entry, so the rename survives a power cut."""
        descriptor = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _read_file(self, message_id: str) -> bytes:
        """Return a message's encrypted file."""
        try:
            return self.path(message_id).read_bytes()
        except FileNotFoundError:
            raise AudioMissing(f"voicemail {message_id}: no stored audio") from None

    def verify(self, message_id: str, sha256: str) -> None:
        """Check that a stored file has the hash it was written with and opens with the key."""
        blob = self._read_file(message_id)
        if hashlib.sha256(blob).hexdigest() != sha256:
            raise IntegrityError(
                f"voicemail {message_id}: stored file differs from the one written"
            )
        self.unseal(message_id, blob)

    def exists(self, message_id: str) -> bool:
        """Tell whether a message has a stored file."""
        return self.path(message_id).exists()

    def read(self, message_id: str) -> bytes:
        """Return a message's decrypted audio."""
        return self.unseal(message_id, self._read_file(message_id))

    def stream(self, message_id: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """Yield a message's decrypted audio in chunks, authenticated before the first byte."""
        # The whole file is authenticated first: a listener never hears audio that was altered.
        audio = self.read(message_id)
        for start in range(0, len(audio), chunk_size):
            yield audio[start : start + chunk_size]

    def delete(self, message_id: str) -> bool:
        """Delete a message's file; return False when there was none."""
        try:
            self.path(message_id).unlink()
        except FileNotFoundError:
            return False
        self._sync_folder()
        return True

    def message_ids(self) -> list[str]:
        """Return the ids of every stored message (to find files whose metadata is gone)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name[: -len(self.suffix)] for p in self.folder.glob(f"*{self.suffix}"))

    def modified_at(self, message_id: str) -> float:
        """When a message's file was last written (epoch seconds), for retention of orphans."""
        try:
            return self.path(message_id).stat().st_mtime
        except FileNotFoundError:
            raise AudioMissing(f"voicemail {message_id}: no stored audio") from None

    def beside(self, name: str, *, suffix: str) -> Vault:
        """A vault in a sub-folder under the same key, for another kind of recording."""
        return Vault(self.folder / name, self._key, opener=self._opener, suffix=suffix)
