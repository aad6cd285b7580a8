"""Where recordings come from: Twilio's copy, behind a small interface, and its URL check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class VoicemailError(Exception):
    """A voicemail that cannot be processed now; `retryable` says whether later may work."""

    retryable = False


class RetryableError(VoicemailError):
    """A failure that may pass: the job should be tried again later with backoff."""

    retryable = True


class RecordingNotFound(VoicemailError):
    """Twilio answered 404 for a recording (normal for a few seconds after it is made)."""


class SourceUnavailable(RetryableError):
    """Twilio could not be reached or answered 429 or 5xx."""


class SourceRejected(VoicemailError):
    """Twilio refused the request for good (bad credentials, forbidden): retrying won't help."""


class ForeignRecordingUrl(VoicemailError):
    """A RecordingUrl pointing outside the configured API host: never fetched, never retried."""


class RecordingSource(Protocol):
    """Twilio's copies of recordings: download as WAV and delete."""

    def fetch_wav(self, recording_sid: str, url: str | None) -> bytes:
        """Return the recording as WAV bytes; raise RecordingNotFound or SourceUnavailable."""
        ...

    def delete(self, recording_sid: str) -> bool:
        """Delete the recording; return False when it was already gone."""
        ...


def _origin(url: str) -> tuple[str, str, int | None]:
    """Return a URL's scheme, host and port, the port filled in from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def check_recording_url(url: str, recording_sid: str, allowed_origins: Iterable[str]) -> None:
    """Refuse a RecordingUrl not on an allowed API origin or not naming this recording."""
    allowed = {_origin(origin) for origin in allowed_origins}
    found = _origin(url)
    if not found[1] or found not in allowed:
        raise ForeignRecordingUrl(f"recording URL host {found[1] or '?'!r} is not the API host")
    path = urlsplit(url).path
    if f"/Recordings/{recording_sid}" not in path:
        raise ForeignRecordingUrl("recording URL does not name this recording")
