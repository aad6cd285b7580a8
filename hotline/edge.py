"""The app's HTTP edge: body size caps, JSON with a depth limit, security headers, Redis down.

Webhooks get their own, smaller cap where their signature is checked (`telephony.signature`);
everything here is app-wide and installed once by the app factory.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from redis import RedisError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

log = logging.getLogger(__name__)

# API bodies and console forms: a whole roster is a few tens of KB; 1 MB is generous.
MAX_BODY_BYTES = 1024 * 1024
# No API body nests more than four levels; 32 leaves room and stays far from Python's recursion.
MAX_JSON_DEPTH = 32
# How long a client should wait before trying again when Redis is unreachable.
RETRY_AFTER_S = 5
UNAVAILABLE = "temporarily unavailable"

# No inline script or style anywhere: an injected tag or attribute cannot run or restyle a page.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)
HSTS = "max-age=31536000"

# Possessive: a string is matched in one pass, never backtracked into (an unclosed one too).
_STRINGS = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# Depth does not care which kind of bracket: both kinds become < and >.
_SHAPE = bytes.maketrans(b"[{]}", b"<<>>")

UNAVAILABLE_PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>暂时无法使用 · Temporarily unavailable</title></head>
<body>
<h1>暂时无法使用 · Temporarily unavailable</h1>
<p>热线的数据服务暂时无法连接，请稍后刷新本页。来电仍会被接听，危机来电仍会转接。</p>
<p>The hotline's data store cannot be reached right now; reload this page in a moment.
Calls are still answered, and callers in danger are still put through.</p>
</body>
</html>
"""


class BadJSON(BadRequest):
    """A JSON body nested too deeply (or too large) to parse safely; answered as JSON."""

    def get_body(self, environ: Any = None, scope: Any = None) -> str:
        """The API's JSON error document."""
        return json.dumps({"error": {"status": self.code, "message": self.description}})

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        """A JSON content type."""
        return [("Content-Type", "application/json")]


def json_depth(data: bytes, limit: int) -> int:
    """How deep a JSON text nests, counted exactly up to one past the limit.

    Strings are cut out and only the brackets kept; then each pass deletes every adjacent
    open-close pair, which lowers the deepest point by exactly one. Each pass is one C call over
    the bytes, never a recursion; a megabyte of brackets takes less time than parsing it would.
    Brackets left that never close are counted in full, so an unclosed pile of them is
    refused too.
    """
    rest = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS).translate(_SHAPE)
    depth = 0
    while rest and depth <= limit:
        shorter = rest.replace(b"<>", b"")
        if len(shorter) == len(rest):
            return depth + rest.count(b"<")
        rest, depth = shorter, depth + 1
    return depth


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing too-deep or too-large documents before the parser can recurse."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON after checking its size and nesting depth."""
        data = s.encode() if isinstance(s, str) else s
        if len(data) > MAX_BODY_BYTES:
            raise BadJSON(f"the JSON document is larger than {MAX_BODY_BYTES} bytes")
        if json_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise BadJSON(f"the JSON document nests too deep (more than {MAX_JSON_DEPTH} levels)")
        try:
            return super().loads(data, **kwargs)
        except RecursionError:
            # The depth check should make this unreachable; a 400 is still better than a 500.
            raise BadJSON("the JSON document nests too deep") from None


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request that brings no
    session cookie (every Twilio webhook): such a request gets the same new, empty session.

    Flask builds the signer (and test-serialises an empty dict with it) on every request; on
    the greeting that was about a tenth of the worker's time a call under a flat-out load.
    """

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        """A new session when there is no cookie to read, else Flask's own reading of it."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def install(app: Flask) -> None:
    """Give the app its body caps, guarded JSON, error answers and security headers."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json = GuardedJSONProvider(app)
    app.session_interface = CookieSessions()
    # The session cookie is sent only when the session changed, not with every answer: the
    # consoles poll, and a poll's answer arriving after a form's would put the older cookie back.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.register_error_handler(RedisError, redis_down)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, http_error)
    app.after_request(security_headers)


def _is_api() -> bool:
    """Whether the request is for the JSON API (answered in JSON, never HTML)."""
    return request.path.startswith("/api/")


def _json_error(status: int, message: str) -> Response:
    """The API's JSON error document with a status."""
    response = jsonify({"error": {"status": status, "message": message}})
    response.status_code = status
    return response


def redis_down(error: RedisError) -> Response:
    """Redis is unreachable: a JSON 503 for the API, a plain page for the consoles."""
    log.error("Redis unreachable, %s %s answered 503: %s", request.method, request.path, error)
    if _is_api():
        response = _json_error(503, UNAVAILABLE)
    else:
        response = Response(UNAVAILABLE_PAGE, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def http_error(error: HTTPException) -> Response | HTTPException:
    """HTTP errors on the API as JSON documents; elsewhere Werkzeug's own page."""
    if not _is_api() or isinstance(error, BadJSON):
        return error
    status = error.code or 500
    if status >= 500:
        log.error("API %s %s failed", request.method, request.path, exc_info=error)
    message = error.description if status < 500 else "the request failed on the server"
    response = _json_error(status, message or error.name)
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def _https() -> bool:
    """Whether the app is reached over https (directly, or by its public base URL)."""
    public = current_app.config["SETTINGS"].public_base_url or ""
    return request.is_secure or public.startswith("https://")


def security_headers(response: Response) -> Response:
    """Lock every answer down: no sniffing, framing, outside referrers, inline code or caching.

    TwiML is read by Twilio, not a browser: it only needs nosniff. Everything else may show
    a caller's words or an agent's shifts, so no answer is stored by a browser or a proxy.
    """
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/xml":
        return response
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    # Same-origin: a form's redirect back to its page reads the Referer; no other site gets it.
    headers.setdefault("Referrer-Policy", "same-origin")
    # The consoles' style sheet and script hold nothing personal: browsers may keep them.
    public = (request.endpoint or "").endswith(".static")
    if not public and "no-store" not in headers.get("Cache-Control", ""):
        headers["Cache-Control"] = "no-store"
    if _https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
