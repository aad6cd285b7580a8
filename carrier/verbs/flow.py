"""<Redirect>, <Hangup> and <Reject>: verbs that send the call to other TwiML or end it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier.document import Document, Ended

if TYPE_CHECKING:
    from carrier.leg import Leg


def redirect(leg: Leg, verb: ET.Element, document: Document) -> Document:
    """Point the call at the TwiML of another URL, in the same context."""
    return document.follow(
        document.join(verb.text or ""), verb.get("method"), "redirect", context=document.context
    )


def hangup(leg: Leg, verb: ET.Element, document: Document) -> None:
    """End the call."""
    raise Ended("app", "Hangup")


def reject(leg: Leg, verb: ET.Element, document: Document) -> None:
    """Refuse the call unanswered, as busy or as never answered."""
    reason = verb.get("reason") or "rejected"
    leg.transcript.add(leg.clock.now(), "rejected", reason=reason)
    raise Ended("app", f"Reject ({reason})", status="busy" if reason == "busy" else "no-answer")
