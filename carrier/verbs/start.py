"""<Start> and <Stop>: fork a call's audio to a media stream or a live transcription, and end it.

Neither waits: the leg goes on to the next verb at once, while the stream sends from its own
thread (carrier/streams.py) and the transcription posts from its own (carrier/transcriptions.py).
Both end with the call, or earlier with <Stop><Stream name> or <Stop><Transcription name>; a
<Stop> noun without a name stops every stream (or transcription) of the call.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier import twiml_reader
from carrier.document import Document

if TYPE_CHECKING:
    from carrier.leg import Leg


def start(leg: Leg, verb: ET.Element, document: Document) -> Document | None:
    """Start each <Stream> and <Transcription> inside the verb, then carry on."""
    for noun in verb:
        if noun.tag == "Stream":
            leg.driver.streams.start(
                leg.call,
                url=document.join(noun.get("url", "")),
                name=noun.get("name"),
                track=noun.get("track") or "inbound_track",
                parameters=parameters(noun),
                status_callback=_url(document, noun.get("statusCallback")),
                status_method=(noun.get("statusCallbackMethod") or "POST").upper(),
                voices=tuple({line.audio for line in leg.party.script.talk if line.audio}),
            )
        elif noun.tag == "Transcription":
            leg.driver.transcriptions.start(
                leg.call,
                url=_url(document, noun.get("statusCallbackUrl")),
                method=(noun.get("statusCallbackMethod") or "POST").upper(),
                name=noun.get("name"),
                track=noun.get("track") or "both_tracks",
                language=noun.get("languageCode") or "en-US",
                partial=twiml_reader.flag(noun, "partialResults", False),
            )
    return None


def stop(leg: Leg, verb: ET.Element, document: Document) -> Document | None:
    """Stop the streams and transcriptions the verb names, then carry on."""
    for noun in verb:
        name = noun.get("name")
        if noun.tag == "Stream":
            stopped = leg.driver.streams.stop(leg.call.sid, name)
        else:
            stopped = leg.driver.transcriptions.stop(leg.call.sid, name)
        if not stopped:
            # Twilio ignores a <Stop> for something not running; the transcript says so.
            leg.transcript.add(leg.clock.now(), noun.tag.lower(), action="not running", name=name)
    return None


def parameters(noun: ET.Element) -> dict[str, str]:
    """Return a noun's <Parameter name value> children as a mapping."""
    return {
        child.get("name", ""): child.get("value", "")
        for child in noun
        if child.tag == "Parameter" and child.get("name")
    }


def _url(document: Document, url: str | None) -> str | None:
    """Resolve an optional callback URL against the document's own URL."""
    return document.join(url) if url else None
