"""Where the gateway sends requests and credentials."""

from __future__ import annotations

import pytest

from telephony.gateway import BaseUrlHttpClient, Gateway, GatewayError

SID = "AC" + "5" * 32


def test_twilio_urls_are_rewritten_to_the_base_url_only() -> None:
    client = BaseUrlHttpClient("http://127.0.0.1:5050/")

    assert client.rewrite(f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json?a=1") == (
        f"http://127.0.0.1:5050/2010-04-01/Accounts/{SID}/Calls.json?a=1"
    )
    assert client.rewrite("https://api.sydney.au1.twilio.com/x") == "http://127.0.0.1:5050/x"
    assert (
        client.rewrite("https://twilio.com.evil.example/x") == "https://twilio.com.evil.example/x"
    )
    assert BaseUrlHttpClient(None).rewrite("https://api.twilio.com/x") == "https://api.twilio.com/x"


def test_no_client_is_built_until_used() -> None:
    gateway = Gateway(SID, "token", "http://127.0.0.1:5050", "+861012348000")

    assert gateway._client is None
    assert gateway.client is gateway.client


def test_recording_urls_stay_on_the_api_host() -> None:
    local = Gateway(SID, "token", "http://127.0.0.1:5050", "+861012348000")
    real = Gateway(SID, "token", None, "+861012348000")

    assert local.recording_media_url("RE" + "1" * 32) == (
        f"http://127.0.0.1:5050/2010-04-01/Accounts/{SID}/Recordings/RE{'1' * 32}.wav"
    )
    twilio_url = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Recordings/RE{'2' * 32}"
    assert local.recording_media_url(twilio_url).startswith("http://127.0.0.1:5050/")
    assert real.recording_media_url(twilio_url) == twilio_url + ".wav"
    assert real.recording_media_url(twilio_url + ".mp3") == twilio_url + ".mp3"
    for elsewhere in ("http://127.0.0.1:9999/Recordings/RE1", "https://evil.example/RE1.wav"):
        with pytest.raises(GatewayError, match="refusing to send credentials"):
            local.recording_media_url(elsewhere)
    with pytest.raises(GatewayError):
        real.recording_media_url("http://api.twilio.com/insecure.wav")
