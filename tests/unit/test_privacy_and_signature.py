"""Phone numbers masked everywhere; Twilio signatures checked with RequestValidator."""

from __future__ import annotations

import logging

from werkzeug.datastructures import MultiDict

from hotline.logs import MaskingFilter
from routing.privacy import mask_number, mask_text
from telephony.signature import is_valid, public_url, sign


def test_mask_number_keeps_country_code_and_last_four():
    assert mask_number("+8613812345678") == "+86*******5678"
    assert mask_number("13812345678") == "*******5678"
    assert mask_number("") == ""
    assert mask_number("123") == "***"


def test_mask_text_masks_every_number_in_a_sentence():
    text = "call from +8613812345678 to +861012348000 at 10:30"
    masked = mask_text(text)
    assert "13812345678" not in masked and "1012348000" not in masked
    assert "5678" in masked and "10:30" in masked


def test_identifiers_with_digits_are_not_mistaken_for_numbers():
    sid = "CA0123456789abcdef0123456789abcdef"
    assert mask_text(f"call {sid} from +8613812345678") == f"call {sid} from +86*******5678"


def test_log_filter_masks_numbers_in_formatted_messages():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "from %s", ("+8613812345678",), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == "from +86*******5678"


def test_signature_round_trip_and_tampering():
    url = "https://hotline.example.org/voice?lang=zh"
    params = {"CallSid": "CA1", "Digits": "1"}
    signature = sign("token", url, params)
    assert is_valid("token", url, params, signature)
    assert not is_valid("other", url, params, signature)
    assert not is_valid("token", url, {**params, "Digits": "9"}, signature)
    assert not is_valid("token", url.replace("https", "http"), params, signature)
    assert not is_valid("token", url, params, None)


def test_signature_holds_with_or_without_the_default_port():
    # Twilio signs the URL as configured; a proxy may add or drop :443 on the way, and
    # RequestValidator accepts either form: so must the short-cut check.
    params = {"CallSid": "CA1"}
    bare, ported = "https://hotline.example.org/voice", "https://hotline.example.org:443/voice"
    assert is_valid("token", ported, params, sign("token", bare, params))
    assert is_valid("token", bare, params, sign("token", ported, params))
    assert not is_valid("token", bare, params, sign("token", bare + "?x=1", params))


def test_repeated_form_keys_are_all_signed():
    url = "https://hotline.example.org/voice/status"
    params = MultiDict([("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered")])
    signature = sign("token", url, params)
    assert is_valid("token", url, params, signature)
    assert not is_valid("token", url, MultiDict([("StatusCallbackEvent", "ringing")]), signature)


def test_public_url_uses_public_base_behind_a_proxy():
    assert public_url(
        "/voice?a=1",
        request_url="http://10.0.0.5:8000/voice?a=1",
        public_base_url="https://hotline.example.org",
    ) == ("https://hotline.example.org/voice?a=1")
    assert public_url("/voice", request_url="http://localhost/voice", public_base_url=None) == (
        "http://localhost/voice"
    )
