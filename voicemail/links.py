"""Short-lived signed links to a message's audio, for an agent's phone to play.

A link names the message, who it was made for and when it expires, and carries an HMAC-SHA256
of those with the app's secret key. Twilio fetches `<Play>` audio without our credentials, so
the signature is the only thing that lets the link in; it expires within minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

_WHO = re.compile(r"^[A-Za-z0-9_:.-]{1,64}$")


class LinkRefused(Exception):
    """A link that is forged, altered, for another message, or expired."""


@dataclass(frozen=True)
class Link:
    """What a checked link grants: one message, for one listener, until a time."""

    recording_sid: str
    who: str
    expires: int


def _digest(secret: str, recording_sid: str, who: str, expires: int) -> str:
    """Return the link's signature."""
    text = f"voicemail-audio\x00{recording_sid}\x00{who}\x00{expires}".encode()
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def sign(secret: str, recording_sid: str, who: str, *, now: float, minutes: int) -> dict[str, str]:
    """Return the query parameters of a link to a message valid for some minutes."""
    if not _WHO.match(who):
        raise ValueError(f"not a valid listener id: {who!r}")
    expires = int(now) + minutes * 60
    return {
        "who": who,
        "exp": str(expires),
        "sig": _digest(secret, recording_sid, who, expires),
    }


def check(secret: str, recording_sid: str, params: dict[str, str], *, now: float) -> Link:
    """Check a link's signature and expiry; raise LinkRefused otherwise."""
    who, raw_expires = params.get("who", ""), params.get("exp", "")
    signature = params.get("sig", "")
    if not (_WHO.match(who) and raw_expires.isdigit() and len(raw_expires) < 12 and signature):
        raise LinkRefused("incomplete link")
    expires = int(raw_expires)
    expected = _digest(secret, recording_sid, who, expires)
    if not hmac.compare_digest(expected, signature):
        raise LinkRefused("bad signature")
    if now > expires:
        raise LinkRefused("expired")
    return Link(recording_sid, who, expires)
