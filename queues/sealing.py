"""What Redis keeps about callers, unreadable without the hotline's secret.

- A number that only has to be recognised again (the blocklist, the returning-caller marker,
  the agent line's failure counters) is kept as a keyed digest: HMAC-SHA256 under a key derived
  from the hotline's secret. An unkeyed SHA-256 of a number is reversed by hashing every number
  of a country (China's mobile numbers are about 10^9: minutes on a laptop), a keyed one is not.
- A value that must be read back (the caller's number while the call and its callbacks live,
  callers' words, intake summaries, notes) is sealed with AES-256-GCM under a second derived key
  and bound to where it is kept (`context`): a sealed value copied onto another call or field
  does not open.

A sealed value is `hs1:` followed by base64url(nonce, ciphertext and tag). A value without that
prefix is plain, written before values were sealed: it is read as it is, and its owner seals it
the next time it writes it. Empty values stay empty: there is nothing to hide in them.

The process's sealer is installed at start-up (`install`, by the app factory and the CLI) from
the secret the top floor reads; nothing here reads the environment or makes a key at import.

A changed secret would make every sealed value read as empty and every blocked number stop
matching, without a single error on the caller's path. So the worker checks at start that a
marker sealed under the secret in use still opens (`KeyCheck`), and raises the standing
condition `secret_key_changed` when it does not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis import Redis

from queues import keys

if TYPE_CHECKING:
    from queues.conditions import Conditions

log = logging.getLogger(__name__)

PREFIX = "hs1:"
NONCE_BYTES = 12
# Hex characters of a digest kept: 96 bits, the length digests have always had here.
DIGEST_CHARS = 24
_DIGEST_INFO = b"hotline caller digest v1"
_SEAL_INFO = b"hotline redis sealing v1"


def _derive(secret: bytes, info: bytes) -> bytes:
    """A 32-byte key for one use, derived from the hotline's secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def unkeyed_digest(number: str) -> str:
    """The digest numbers were kept under before digests were keyed: only to find old entries."""
    return hashlib.sha256(number.encode()).hexdigest()[:DIGEST_CHARS]


def is_sealed(value: str) -> bool:
    """Tell whether a stored value is sealed (as opposed to plain, from an older version)."""
    return value.startswith(PREFIX)


class Sealer:
    """Keyed digests and sealed values under keys derived from the hotline's secret."""

    def __init__(self, secret: str | bytes):
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if not raw:
            raise ValueError("the hotline's secret is empty: nothing to derive keys from")
        self._digest_key = _derive(raw, _DIGEST_INFO)
        self._aead = AESGCM(_derive(raw, _SEAL_INFO))

    def digest(self, number: str) -> str:
        """A caller's number as a keyed digest: the same number always gives the same digest."""
        mac = hmac.new(self._digest_key, number.encode(), hashlib.sha256)
        return mac.hexdigest()[:DIGEST_CHARS]

    def seal(self, text: str, context: str) -> str:
        """Encrypt a value for the place it is kept; an empty value stays empty."""
        if not text:
            return ""
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = nonce + self._aead.encrypt(nonce, text.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def open(self, value: str, context: str) -> str:
        """The text of a stored value: sealed ones decrypted, plain (older) ones as they are.

        A sealed value that does not open (another secret, or altered) reads as empty and is
        logged as an error: the caller's path goes on without it, and ops are told why.
        """
        if not is_sealed(value):
            return value
        plain = self._decrypt(value, context)
        if plain is None:
            log.error(
                "a sealed value of %s does not open: sealed under another HOTLINE_SECRET_KEY, "
                "or altered; read as empty",
                context,
            )
            return ""
        return plain

    def opens(self, value: str, context: str) -> bool:
        """Tell whether a value is sealed under this sealer's key for this context."""
        return is_sealed(value) and self._decrypt(value, context) is not None

    def _decrypt(self, value: str, context: str) -> str | None:
        """Decrypt a sealed value, or None when it does not open here."""
        try:
            payload = value[len(PREFIX) :]
            blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            if len(blob) <= NONCE_BYTES:
                return None
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
            return plain.decode()
        except (InvalidTag, ValueError, binascii.Error):
            return None


class KeyCheck:
    """Tells whether Redis was sealed under this secret; the owner of the key-check marker."""

    CONDITION = "secret_key_changed"
    _CONTEXT = "key-check"
    _MARKER = "sealed under the hotline's secret"

    def __init__(self, redis: Redis, sealer: Sealer):
        self.redis = redis
        self.sealer = sealer

    def run(self, now: float) -> bool:
        """Seal the marker on a new Redis; raise the condition when the stored one does not open."""
        stored = self.redis.get(keys.sealing_check())
        if stored is None:
            self.redis.set(
                keys.sealing_check(), self.sealer.seal(self._MARKER, self._CONTEXT), nx=True
            )
            return True
        if self.sealer.opens(stored.decode(), self._CONTEXT):
            _conditions(self.redis).clear(self.CONDITION, now)
            return True
        _conditions(self.redis).raise_condition(
            self.CONDITION,
            "HOTLINE_SECRET_KEY is not the one Redis was sealed under: callers' numbers and words "
            "read as empty (no callbacks, no follow-up numbers) and blocked numbers no longer "
            "match. Restore the previous secret, or accept the loss: hotline storage accept-key",
            now,
        )
        return False

    def accept(self, now: float) -> None:
        """Go on with the secret in use: what was sealed before stays unreadable, and expires."""
        self.redis.set(keys.sealing_check(), self.sealer.seal(self._MARKER, self._CONTEXT))
        _conditions(self.redis).clear(self.CONDITION, now)


def _conditions(redis: Redis) -> Conditions:
    """The standing conditions, loaded when the key check first needs them."""
    # Not at import: every `hotline` command loads this module before it runs, and the
    # conditions load prometheus-client, which `hotline serve` must load only once it has set
    # the metrics directory its forked parts count in (hotline/metrics_dir.py).
    from queues.conditions import Conditions

    return Conditions(redis)


_factory: Callable[[], Sealer] | None = None
_current: Sealer | None = None


def install(factory: Callable[[], Sealer] | Sealer | None) -> None:
    """Set this process's sealer, or how to build it on first use (None forgets it)."""
    global _factory, _current
    if isinstance(factory, Sealer):
        _factory, _current = None, factory
    else:
        _factory, _current = factory, None


def current() -> Sealer:
    """The process's sealer, built on first use."""
    global _current
    if _current is None:
        if _factory is None:
            raise RuntimeError("storing callers' data needs queues.sealing.install(...) first")
        _current = _factory()
    return _current
