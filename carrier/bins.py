"""The carrier's own TwiML Bins: static TwiML documents it hosts at URLs of its own, as Twilio does.

A number's Voice Fallback URL can point at a bin (`hotline carrier --fallback-twiml FILE`), as
production points it at the static crisis fallback hosted apart from the app: the bin answers
when the app does not, and webhook faults, which model an app that fails, never reach it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app

from carrier import twiml_reader
from carrier.twiml_reader import TwimlError

if TYPE_CHECKING:
    from carrier.driver import Settings
    from carrier.server import Carrier

PREFIX = "/carrier/bins"
# The bin that holds the number's fallback document.
FALLBACK = "fallback"

bp = Blueprint("carrier_bins", __name__, url_prefix=PREFIX)


def bin_url(settings: Settings, name: str) -> str:
    """Return a bin's URL under the carrier's own public URL."""
    return f"{settings.public_url.rstrip('/')}{PREFIX}/{name}"


def is_bin(settings: Settings, url: str | None) -> bool:
    """Tell whether a URL is one of this carrier's own bins (no fault reaches those)."""
    base = f"{settings.public_url.rstrip('/')}{PREFIX}/"
    return bool(url) and str(url).split("?")[0].startswith(base)


def read_twiml(path: str | Path) -> str:
    """Read a TwiML document from a file, refusing one that Twilio would not run."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        twiml_reader.parse(text)
    except TwimlError as error:
        raise ValueError(f"{path} is not TwiML a call can run: {error.message}") from None
    return text


def host_fallback(settings: Settings, twiml: str) -> str:
    """Keep a document in the fallback bin, make it the number's fallback, and return its URL."""
    settings.bins[FALLBACK] = twiml
    settings.fallback_url = bin_url(settings, FALLBACK)
    # A bin answers GET and POST alike; POST is Twilio's default for a number's fallback.
    settings.fallback_method = "POST"
    return settings.fallback_url


@bp.route("/<name>", methods=["GET", "POST"])
def serve_bin(name: str) -> Response:
    """Answer a bin's URL with its TwiML, whoever asks and however (no auth, like a file)."""
    hub: Carrier = current_app.extensions["carrier"]
    twiml = hub.settings.bins.get(name)
    if twiml is None:
        return Response(f"no bin named {name}\n", status=404, mimetype="text/plain")
    return Response(twiml, mimetype="text/xml")
