"""Recording sources: the RecordingUrl check, the gateway adapter's error mapping, and keys."""

from __future__ import annotations

import pytest

from queues import keys
from telephony.gateway import GatewayError
from voicemail.recordings import GatewaySource
from voicemail.source import (
    ForeignRecordingUrl,
    RecordingNotFound,
    SourceRejected,
    SourceUnavailable,
    check_recording_url,
)

SID = "RE" + "c" * 32
API = "https://api.twilio.com"
TWILIO_URL = f"{API}/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{SID}"


def test_twilio_url_passes():
    check_recording_url(TWILIO_URL, SID, [API])
    check_recording_url(
        TWILIO_URL.replace("https://api.twilio.com", "https://API.twilio.com:443"), SID, [API]
    )


def test_local_carrier_url_passes_when_configured():
    url = f"http://127.0.0.1:8701/2010-04-01/Accounts/AC1/Recordings/{SID}"
    check_recording_url(url, SID, [API, "http://127.0.0.1:8701"])


@pytest.mark.parametrize(
    "url",
    [
        f"https://evil.example/2010-04-01/Accounts/AC1/Recordings/{SID}",
        f"https://api.twilio.com.evil.example/Recordings/{SID}",
        f"http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{SID}",
        f"https://api.twilio.com:8443/2010-04-01/Accounts/AC1/Recordings/{SID}",
        f"https://user@evil.example/Recordings/{SID}",
        f"//evil.example/Recordings/{SID}",
        "not a url",
    ],
)
def test_foreign_hosts_are_refused(url: str):
    with pytest.raises(ForeignRecordingUrl):
        check_recording_url(url, SID, [API])


def test_url_for_another_recording_is_refused():
    with pytest.raises(ForeignRecordingUrl):
        check_recording_url(TWILIO_URL.replace(SID, "RE" + "d" * 32), SID, [API])


class FakeGateway:
    """A gateway answering with a chosen error."""

    def __init__(self, error: GatewayError | None = None):
        self.error = error
        self.asked: list[str] = []

    def fetch_recording_wav(self, recording: str) -> bytes:
        self.asked.append(recording)
        if self.error:
            raise self.error
        return b"RIFF"

    def delete_recording(self, recording_sid: str) -> None:
        if self.error:
            raise self.error


def test_adapter_fetches_by_url_or_sid():
    gateway = FakeGateway()
    source = GatewaySource(gateway)
    assert source.fetch_wav(SID, TWILIO_URL) == b"RIFF"
    source.fetch_wav(SID, None)
    assert gateway.asked == [TWILIO_URL, SID]
    assert source.delete(SID) is True


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, RecordingNotFound),
        (500, SourceUnavailable),
        (503, SourceUnavailable),
        (429, SourceUnavailable),
        (None, SourceUnavailable),
        (401, SourceRejected),
    ],
)
def test_adapter_maps_gateway_errors(status, expected):
    source = GatewaySource(FakeGateway(GatewayError("failed", status=status)))
    with pytest.raises(expected):
        source.fetch_wav(SID, None)


def test_delete_of_a_recording_already_gone_is_not_an_error():
    source = GatewaySource(FakeGateway(GatewayError("not found", status=404)))
    assert source.delete(SID) is False
    with pytest.raises(SourceUnavailable):
        GatewaySource(FakeGateway(GatewayError("down", status=502))).delete(SID)


def test_voicemail_key_formats():
    assert keys.voicemail_message(SID) == f"hotline:voicemail:{SID}"
    assert keys.voicemail_claim(SID) == f"hotline:voicemail:{SID}:claim"
    assert keys.voicemail_index() == "hotline:voicemail:index"
    assert keys.voicemail_audit() == "hotline:voicemail:audit"
