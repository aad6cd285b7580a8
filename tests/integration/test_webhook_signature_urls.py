"""The webhooks' signature check over the URL as the request names it, port or no port."""

from __future__ import annotations

import pytest

from telephony.demo import DEMO_AUTH_TOKEN
from telephony.signature import SIGNATURE_HEADER, sign

FORM = {"CallSid": "CA" + "3" * 32, "From": "+8613812345678", "Digits": "1"}


def post(app, base_url: str, signed_url: str, path: str = "/voice/language?t=1") -> int:
    """POST the menu's language step to `base_url` signed over `signed_url`; the status."""
    signature = sign(DEMO_AUTH_TOKEN, signed_url, FORM)
    reply = app.test_client().post(
        path, base_url=base_url, data=FORM, headers={SIGNATURE_HEADER: signature}
    )
    return reply.status_code


@pytest.mark.parametrize(
    ("base_url", "signed_url", "status"),
    [
        # Twilio signed the URL with or without the scheme's default port: both are accepted.
        ("http://localhost", "http://localhost/voice/language?t=1", 200),
        ("http://localhost", "http://localhost:80/voice/language?t=1", 200),
        ("http://localhost:80", "http://localhost/voice/language?t=1", 200),
        # RequestValidator.validate also tries the URL without whatever port it names.
        ("http://localhost:8000", "http://localhost:8000/voice/language?t=1", 200),
        ("http://localhost:8000", "http://localhost/voice/language?t=1", 200),
        ("http://localhost:8000", "http://localhost:80/voice/language?t=1", 403),
        # Another port, scheme, path or query is another URL.
        ("http://localhost", "http://localhost:8000/voice/language?t=1", 403),
        ("http://localhost", "https://localhost/voice/language?t=1", 403),
        ("http://localhost", "http://localhost/voice/language?t=2", 403),
        ("http://localhost", "http://localhost/voice/language", 403),
    ],
)
def test_a_signature_holds_only_over_the_url_the_request_names(app, base_url, signed_url, status):
    assert post(app, base_url, signed_url) == status
