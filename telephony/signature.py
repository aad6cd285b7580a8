"""Checking and making X-Twilio-Signature headers with twilio-python's RequestValidator."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlparse

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, compare, remove_port
from werkzeug.sansio.utils import get_current_url

from routing.privacy import mask_number

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio's webhook forms are a few KB (a long SpeechResult included): 64 KB is generous, and a
# larger body is refused (413) before it is read, so a flood of big unsigned posts costs nothing.
MAX_WEBHOOK_BYTES = 64 * 1024
# Characters urlparse may drop or move (a bare `?`, `#` or `;`, tabs and line breaks): a URL
# holding one takes twilio-python's own path, so the candidates are always its spelling.
_REPARSED = frozenset("?#;\t\r\n")
# Characters a query may hold and still be appended as it is.
_REPARSED_IN_QUERY = frozenset("#\t\r\n")


def public_url(path_and_query: str, *, request_url: str, public_base_url: str | None) -> str:
    """Return the URL Twilio signed: the public base URL plus path when set, else the request's."""
    if public_base_url:
        return public_base_url.rstrip("/") + path_and_query
    return request_url


def candidate_urls(url: str) -> tuple[str, str]:
    """The URLs RequestValidator.validate signs: without, then with, the default port."""
    parsed = urlparse(url)
    return remove_port(parsed), add_port(parsed)


@lru_cache(maxsize=64)
def _base_candidates(base: str) -> tuple[str, str] | None:
    """candidate_urls of a scheme and host, kept; None when a spelling has no host left."""
    # Without a host (none given, or only a port that remove_port drops), urlunparse reads a
    # path's leading `//` as the empty host and drops it: such a URL is parsed whole.
    spellings = candidate_urls(base)
    hosts = [each.partition("://")[2] for each in spellings]
    return spellings if all(host and not host.startswith("/") for host in hosts) else None


def request_candidates(base: str, path: str, query: str) -> tuple[str, str]:
    """candidate_urls(base + path + `?query`), the base's part parsed once per base.

    A path after a plain base is appended to the base's two spellings unchanged, as urlparse
    would give it back; a URL urlparse could respell is parsed whole, as twilio-python does.
    """
    tail = path + (f"?{query}" if query else "")
    spellings = (
        _base_candidates(base)
        if path.startswith("/")
        and _REPARSED.isdisjoint(base)
        and _REPARSED.isdisjoint(path)
        and _REPARSED_IN_QUERY.isdisjoint(query)
        else None
    )
    if spellings is None:
        return candidate_urls(base + tail)
    without_port, with_port = spellings
    return without_port + tail, with_port + tail


def is_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Tell whether a signature matches the URL and form (a MultiDict keeps repeated keys)."""
    if not signature:
        return False
    return matches(auth_token, candidate_urls(url), params, signature)


def matches(
    auth_token: str, candidates: tuple[str, ...], params: Mapping[str, str], signature: str
) -> bool:
    """Whether the signature is RequestValidator's over one of the candidate URLs and form."""
    # RequestValidator.validate's own test (the URL without, then with, its default port),
    # stopping at the first match: validate always signs both, and on every webhook the
    # second HMAC of the whole form was a tenth of the request's own time.
    validator = RequestValidator(auth_token)
    return any(
        compare(validator.compute_signature(candidate, params), signature)
        for candidate in candidates
    )


def signed_candidates(public_base_url: str | None) -> tuple[str, str]:
    """The URLs Twilio may have signed for this request: public_url's, both spellings."""
    base = (
        public_base_url.rstrip("/") if public_base_url else _host_base(request.scheme, request.host)
    )
    return request_candidates(base, request.path, request.query_string.decode("latin-1"))


@lru_cache(maxsize=64)
def _host_base(scheme: str, host: str) -> str:
    """request.host_url without its slash, built once per scheme and host."""
    return get_current_url(scheme, host).rstrip("/")


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
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature or not matches(
        settings.auth_token, signed_candidates(settings.public_base_url), request.form, signature
    ):
        log.warning(
            "rejected webhook %s with a missing or wrong signature (From %s)",
            request.path,
            mask_number(request.form.get("From")),
        )
        abort(403)
