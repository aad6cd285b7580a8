"""Checking and making X-Twilio-Signature headers with twilio-python's RequestValidator."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlparse

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, compare, remove_port

from routing.privacy import mask_number

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio's webhook forms are a few KB (a long SpeechResult included): 64 KB is generous, and a
# larger body is refused (413) before it is read, so a flood of big unsigned posts costs nothing.
MAX_WEBHOOK_BYTES = 64 * 1024


def public_url(path_and_query: str, *, request_url: str, public_base_url: str | None) -> str:
    """Return the URL Twilio signed: the public base URL plus path when set, else the request's."""
    if public_base_url:
        return public_base_url.rstrip("/") + path_and_query
    return request_url


def is_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Tell whether a signature matches the URL and form (a MultiDict keeps repeated keys)."""
    if not signature:
        return False
    # RequestValidator.validate's own test (the URL without, then with, its default port),
    # stopping at the first match: validate always signs both, and on every webhook the
    # second HMAC of the whole form was a tenth of the request's own time.
    validator = RequestValidator(auth_token)
    parsed = urlparse(url)
    return any(
        compare(validator.compute_signature(candidate, params), signature)
        for candidate in (remove_port(parsed), add_port(parsed))
    )


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Compute the signature Twilio would send for this URL and form parameters."""
    return RequestValidator(auth_token).compute_signature(url, params)


def require_twilio_signature() -> None:
    """Flask before_request hook: 403 unless Twilio signed this request with our auth token.

    The app's `SETTINGS` give the auth token and, behind a TLS proxy, the public base URL
    that Twilio signed instead of the URL this process sees. The body is capped first: a
    Content-Length over the cap, or a chunked body that runs past it, is a 413.
    """
    request.max_content_length = MAX_WEBHOOK_BYTES
    request.max_form_memory_size = MAX_WEBHOOK_BYTES
    settings = current_app.config["SETTINGS"]
    query = request.query_string.decode("latin-1")
    path_and_query = request.path + (f"?{query}" if query else "")
    url = public_url(
        path_and_query,
        request_url=request.host_url.rstrip("/") + path_and_query,
        public_base_url=settings.public_base_url,
    )
    if not is_valid(settings.auth_token, url, request.form, request.headers.get(SIGNATURE_HEADER)):
        log.warning(
            "rejected webhook %s with a missing or wrong signature (From %s)",
            request.path,
            mask_number(request.form.get("From")),
        )
        abort(403)
