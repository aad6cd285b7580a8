"""What every Twilio webhook shares: the signature check, reading Twilio's parameters at the
edge, best-effort Redis records, TwiML responses, and the error handler that keeps 5xx away."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from redis import RedisError
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr.callers import menu_twiml as twiml
from queues import metrics, runtime
from queues.calls import CallStore
from routing.config import HotlineConfig
from telephony.signature import require_twilio_signature

log = logging.getLogger(__name__)

# Characters XML 1.0 forbids even escaped: one in a <Say> (words carried in a URL) would make
# Twilio refuse the whole document, so they are dropped from every TwiML answer.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Longest SpeechResult kept in the call's record: a caller's description, not a monologue.
MAX_SPEECH = 500
# Longest SpeechResult classified: crisis words must be heard wherever they come, and a
# <Gather> hears at most a minute of speech (about 300 characters of Mandarin, 1,200 of fast
# English). Past this, text is not a caller's speech but a fault or a forged request: it is
# logged and left unread, which keeps a webhook's classification within about 20 ms of CPU.
MAX_HEARD = 4000
_CALLER_KEY = "hotline.caller"
_FIXED_TWIML = "hotline.fixed_twiml"
# Documents kept by fixed_xml: the menu's few prompts times languages, areas and URLs.
MAX_FIXED_TWIML = 512


@dataclass(frozen=True)
class Caller:
    """The webhook's facts about the call, with Twilio's names left at the edge."""

    call_sid: str
    number: str
    digits: str
    # What is kept of the caller's words (the record, the summary, the crisis whisper).
    speech: str
    # All the caller said, up to MAX_HEARD: what the crisis and area decisions read.
    heard: str


def caller() -> Caller:
    """Read the Twilio parameters the menu uses from the form, once a request."""
    # Kept in the request's own environ: flask.g may outlive a request when an app context
    # is held open around several (as tests do), and one caller must never become another.
    environ = request.environ
    if _CALLER_KEY not in environ:
        environ[_CALLER_KEY] = _read_caller()
    return environ[_CALLER_KEY]


def _read_caller() -> Caller:
    """Read the Twilio parameters from the form, saying when speech is too long to read."""
    form = request.form
    said = " ".join(form.get("SpeechResult", "").split())
    if len(said) > MAX_HEARD:
        log.warning(
            "webhook %s: SpeechResult of %d characters: the first %d classified",
            request.path,
            len(said),
            MAX_HEARD,
        )
    return Caller(
        call_sid=form.get("CallSid", "").strip()[:64],
        number=form.get("From", "").strip()[:32],
        digits=form.get("Digits", "").strip()[:32],
        speech=said[:MAX_SPEECH],
        heard=said[:MAX_HEARD],
    )


def config() -> HotlineConfig:
    """The checked hotline configuration loaded at start-up."""
    return current_app.config["HOTLINE"]


def language() -> str:
    """The caller's language from the URL, or the default when missing or unknown."""
    chosen = request.args.get("lang", "")
    return chosen if chosen in config().languages else config().default_language


def area() -> str:
    """The caller's area from the URL, or the general area when missing or unknown."""
    chosen = request.args.get("area", "")
    return chosen if chosen in config().areas else config().general_area


def reservation_id() -> str:
    """The reservation a webhook is about, from its URL (agents' legs, bridges, the rating)."""
    return request.args.get("res", "")[:64]


def int_arg(name: str, default: int, high: int) -> int:
    """A small whole number from the URL, clamped; garbage gives the default."""
    raw = request.args.get(name, "")
    return min(max(int(raw), 0), high) if raw.isdigit() and len(raw) < 4 else default


def xml(response: VoiceResponse) -> Response:
    """Return a TwiML document with the content type Twilio expects."""
    return Response(_NOT_XML.sub("", str(response)), status=200, mimetype="text/xml")


def fixed_xml(key: tuple[Hashable, ...], build: Callable[[], VoiceResponse]) -> Response:
    """Return a TwiML document that depends only on the config and `key`, rendered once.

    The menu's prompts (greeting, area menu, intake questions) are the same for every caller:
    building and serialising them was a sixth of a greeting's time. The cache is the app's,
    kept with the config it was rendered from, so a new config renders afresh.
    """
    hotline = config()
    cache = current_app.extensions.setdefault(_FIXED_TWIML, {})
    kept = cache.get(key)
    if kept is None or kept[0] is not hotline:
        if len(cache) >= MAX_FIXED_TWIML:
            cache.clear()
        kept = cache[key] = (hotline, _NOT_XML.sub("", str(build())))
    return Response(kept[1], status=200, mimetype="text/xml")


def remember(write: Callable[[CallStore, str], Any]) -> None:
    """Record something about the call in Redis; a failure is logged, never felt by the caller."""
    call_sid = caller().call_sid
    if not call_sid:
        log.warning("webhook %s without CallSid: nothing recorded", request.path)
        return
    try:
        write(runtime.serving().calls, call_sid)
    except RedisError as error:
        log.warning("Redis unreachable, call %s not recorded: %s", call_sid, type(error).__name__)


def fallback(error: Exception) -> Response:
    """Turn any failure into an apology and the general path; Twilio never sees a 5xx."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("webhook %s failed; caller sent to the general path", request.path)
    chosen = language()
    if request.args.get("fb"):
        return xml(twiml.last_resort(config(), chosen))
    route = url_for("voice.route", lang=chosen, area=config().general_area, fb=1)
    return xml(twiml.apology(config(), chosen, route))


def twilio_blueprint(
    name: str,
    import_name: str,
    url_prefix: str,
    on_error: Callable[[Exception], Response] = fallback,
) -> Blueprint:
    """A blueprint whose every request is signature-checked and whose errors become TwiML."""
    blueprint = Blueprint(name, import_name, url_prefix=url_prefix)
    metrics.time_webhooks(blueprint)
    blueprint.before_request(require_twilio_signature)
    blueprint.register_error_handler(Exception, on_error)
    return blueprint
