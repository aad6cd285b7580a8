"""Phone numbers masked everywhere; Twilio signatures checked with RequestValidator."""

from __future__ import annotations

import logging

from hypothesis import example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from hotline.logs import MaskingFilter
from routing.privacy import mask_number, mask_text
from telephony.signature import (
    candidate_urls,
    is_valid,
    matches,
    public_url,
    request_candidates,
    sign,
)


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


# Bases as webhooks see them: request.host_url's scheme and host, or a PUBLIC_BASE_URL.
BASES = st.sampled_from(
    [
        "http://localhost",
        "http://localhost:80",
        "http://localhost:8000",
        "https://hotline.example.org",
        "https://hotline.example.org:443",
        "https://hotline.example.org:8443/hotline",
        "http://10.0.0.5:5000",
        "http://[::1]:5000",
        "https://user@hotline.example.org",
        "http://host?odd",
        "http://",
    ]
)
# Hosts as a client may send them, ports and brackets included, valid or not.
ANY_BASES = st.builds(
    lambda scheme, host: f"{scheme}://{host}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.text(alphabet="ab.:@[]18", max_size=8),
)
# Paths and queries with the characters urlparse treats specially among plain ones.
PATHS = st.text(alphabet="/abv-_.%;?#\t\n é", max_size=12).map(lambda text: "/" + text)
QUERIES = st.text(alphabet="a=&1?;#/%\r é", max_size=10)


@settings(max_examples=2000)
@given(BASES, PATHS, QUERIES)
@example("http://", "//", "")  # no host: urlparse reads the path's `//` as the empty host
def test_a_webhook_s_candidate_urls_are_twilio_s_for_its_whole_url(base, path, query):
    whole = base + path + (f"?{query}" if query else "")
    assert request_candidates(base, path, query) == candidate_urls(whole)


@settings(max_examples=2000)
@given(ANY_BASES, PATHS, QUERIES)
@example("http://:1", "//", "")  # remove_port leaves no host: the path's `//` would be lost
def test_any_host_gives_twilio_s_candidates_or_the_same_refusal(base, path, query):
    whole = base + path + (f"?{query}" if query else "")

    def outcome(make):
        try:
            return make()
        except ValueError as error:  # an unreadable host or port, refused as before
            return type(error)

    assert outcome(lambda: request_candidates(base, path, query)) == outcome(
        lambda: candidate_urls(whole)
    )


@given(BASES, PATHS, QUERIES, st.sampled_from(["", ":80", ":443", ":8000"]))
def test_the_check_accepts_exactly_what_request_validator_validate_accepts(
    base, path, query, signed_port
):
    # Twilio may have signed the URL with or without a port; a forged one names another.
    params = {"CallSid": "CA1", "From": "+8613812345678"}
    whole = base + path + (f"?{query}" if query else "")
    scheme, _, rest = whole.partition("://")
    host, slash, tail = rest.partition("/")
    signed = f"{scheme}://{host.split(':')[0] if signed_port else host}{signed_port}{slash}{tail}"
    for signature in (sign("token", signed, params), sign("token", whole + "x", params)):
        expected = RequestValidator("token").validate(whole, params, signature)
        assert matches("token", request_candidates(base, path, query), params, signature) is (
            expected
        )


def test_the_default_port_is_added_or_dropped_and_another_port_is_refused():
    params = {"CallSid": "CA1"}
    candidates = request_candidates("http://localhost", "/voice", "t=1")
    assert candidates == ("http://localhost/voice?t=1", "http://localhost:80/voice?t=1")
    assert matches(
        "token", candidates, params, sign("token", "http://localhost:80/voice?t=1", params)
    )
    assert not matches(
        "token", candidates, params, sign("token", "http://localhost:8080/voice?t=1", params)
    )
    ported = request_candidates("https://hotline.example.org:443", "/voice", "")
    assert ported == ("https://hotline.example.org/voice", "https://hotline.example.org:443/voice")
