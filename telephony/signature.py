"""Checking and making X-Twilio-Signature headers with twilio-python's RequestValidator."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_url(path_and_query: str, *, request_url: str, public_base_url: str | None) -> str:
    """Return the URL Twilio signed: the public base URL plus path when set, else the request's."""
    if public_base_url:
        return public_base_url.rstrip("/") + path_and_query
    return request_url


def is_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Tell whether a signature matches the URL and form (a MultiDict keeps repeated keys)."""
    if not signature:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Compute the signature Twilio would send for this URL and form parameters."""
    return RequestValidator(auth_token).compute_signature(url, params)
