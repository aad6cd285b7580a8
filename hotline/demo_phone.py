"""The demo phone: call the hotline from a browser through the local carrier (demo mode only).

The page talks only to this app, which forwards to the carrier's control API. That keeps the
carrier's credentials on the server (the control API places calls, so it asks for Basic auth),
needs no CORS on the carrier, and lets the page work wherever the app is reachable. POSTs must
be JSON, which a form on another site cannot send without a CORS preflight.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import requests
from flask import Blueprint, Response, abort, current_app, jsonify, request

from hotline.running import carrier_url

log = logging.getLogger(__name__)

bp = Blueprint("demo_phone", __name__, url_prefix="/demo/phone")

STATIC = Path(__file__).with_name("static")
# The number the demo phone calls from; a demo number, never a person's.
DEMO_CALLER = "+8613800138000"
_CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
CARRIER_TIMEOUT_S = 5
# What the page shows of a transcript: what was heard and done, not webhook details.
SHOWN = {"heard", "pressed", "said", "silent", "played", "pause", "bridged", "rejected", "error"}


@bp.before_request
def _demo_only() -> None:
    """The page and its calls exist only in demo mode (no Twilio account configured)."""
    if not current_app.config["SETTINGS"].demo:
        abort(404)


@bp.get("")
def page() -> Response:
    """The phone page: keypad, a box for what you would say, and the prompts as text and voice."""
    return _static("demo-phone.html", "text/html")


@bp.get("/phone.js")
def script() -> Response:
    """The page's script (plain JavaScript, no build step)."""
    return _static("demo-phone.js", "text/javascript")


@bp.get("/phone.css")
def style() -> Response:
    """The page's style sheet (a file of its own: the page's CSP allows no inline style)."""
    return _static("demo-phone.css", "text/css")


@bp.post("/calls")
def place() -> tuple[Response, int]:
    """Place an interactive call from the demo number to the hotline."""
    _require_json()
    reply = _carrier("POST", "/calls", {"from": DEMO_CALLER, "interactive": True})
    return _relay(reply, lambda data: {"call_sid": data.get("call_sid")})


@bp.get("/calls/<sid>")
def transcript(sid: str) -> tuple[Response, int]:
    """The call so far: what the caller heard and did, and whether it has ended."""
    reply = _carrier("GET", f"/calls/{_sid(sid)}")
    return _relay(reply, _shown)


@bp.post("/calls/<sid>/input")
def send_input(sid: str) -> tuple[Response, int]:
    """Keys pressed ({"digits": "1"}) or words typed ({"speech": "..."}) on the page."""
    data = _require_json()
    body = {name: str(data[name]) for name in ("digits", "speech") if name in data}
    reply = _carrier("POST", f"/calls/{_sid(sid)}/input", body)
    return _relay(reply, lambda data: data)


@bp.post("/calls/<sid>/hangup")
def hang_up(sid: str) -> tuple[Response, int]:
    """Hang up the demo call."""
    _require_json()
    return _relay(_carrier("POST", f"/calls/{_sid(sid)}/hangup", {}), lambda data: data)


def _static(name: str, mimetype: str) -> Response:
    """One of the page's three small files, read whole (nothing else is served from here)."""
    return Response((STATIC / name).read_text(encoding="utf-8"), mimetype=mimetype)


def _require_json() -> dict[str, Any]:
    """Refuse anything but a JSON body (a cross-site form cannot send one)."""
    data = request.get_json(silent=True) if request.is_json else None
    if not isinstance(data, dict):
        abort(415)
    return data


def _sid(sid: str) -> str:
    """A call SID from the URL, or 404."""
    if not _CALL_SID.match(sid):
        abort(404)
    return sid


def _carrier(method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    """Send a request to the carrier's control API with the demo account's credentials."""
    settings = current_app.config["SETTINGS"]
    base = settings.api_base_url or carrier_url(settings.var_dir)
    return requests.request(
        method,
        f"{base.rstrip('/')}/carrier{path}",
        json=body,
        auth=(settings.account_sid, settings.auth_token),
        timeout=CARRIER_TIMEOUT_S,
    )


def _relay(reply: requests.Response, shape) -> tuple[Response, int]:
    """Pass the carrier's answer on, shaped for the page; errors keep their status."""
    try:
        data = reply.json()
    except ValueError:
        data = {}
    if reply.status_code >= 400:
        return jsonify({"error": data.get("error", "the carrier refused")}), reply.status_code
    return jsonify(shape(data)), reply.status_code


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    """The transcript entries the page shows, with the call's state."""
    entries = [entry for entry in data.get("entries", []) if entry.get("kind") in SHOWN]
    return {
        "status": data.get("status"),
        "finished": bool(data.get("finished")),
        "entries": entries,
        "summary": (data.get("outcome") or {}).get("summary"),
    }


@bp.errorhandler(requests.RequestException)
def _carrier_down(error: requests.RequestException) -> tuple[Response, int]:
    """The carrier is not running: say so instead of failing."""
    log.warning("demo phone: carrier unreachable (%s)", type(error).__name__)
    return jsonify({"error": "the local carrier is not running (start it with hotline serve)"}), 502
