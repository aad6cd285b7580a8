"""Twilio's copies of recordings through the telephony gateway, as a RecordingSource."""

from __future__ import annotations

from typing import Protocol

from telephony.gateway import GatewayError
from voicemail.source import RecordingNotFound, SourceRejected, SourceUnavailable


class RecordingGateway(Protocol):
    """The part of the telephony gateway that handles recordings."""

    def fetch_recording_wav(self, recording: str) -> bytes:
        """Download a recording as WAV by SID or RecordingUrl."""
        ...

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording at Twilio."""
        ...


def _translate(error: GatewayError, what: str) -> Exception:
    """Map a gateway failure to the voicemail error that says whether to retry."""
    if error.status == 404:
        return RecordingNotFound(f"{what}: Twilio answered 404")
    if error.retryable:
        return SourceUnavailable(f"{what}: {error}")
    return SourceRejected(f"{what}: {error}")


class GatewaySource:
    """Downloads and deletes recordings at Twilio (or the local carrier) via the gateway."""

    def __init__(self, gateway: RecordingGateway):
        self.gateway = gateway

    def fetch_wav(self, recording_sid: str, url: str | None) -> bytes:
        """Download a recording as WAV, by its URL when known, else by its SID."""
        try:
            return self.gateway.fetch_recording_wav(url or recording_sid)
        except GatewayError as error:
            raise _translate(error, f"download of {recording_sid}") from error

    def delete(self, recording_sid: str) -> bool:
        """Delete a recording at Twilio; False when Twilio no longer has it."""
        try:
            self.gateway.delete_recording(recording_sid)
        except GatewayError as error:
            translated = _translate(error, f"delete of {recording_sid}")
            if isinstance(translated, RecordingNotFound):
                return False
            raise translated from error
        return True
