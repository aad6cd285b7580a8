"""<Say>, <Play> and <Pause>: what the party hears, for as long as it lasts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from carrier import twiml_reader
from carrier.document import Document, Ended
from carrier.parties import LiveParty

if TYPE_CHECKING:
    from carrier.leg import Leg


def say(leg: Leg, verb: ET.Element, document: Document) -> None:
    """Let the party hear the verb's text, as many times as it loops."""
    loop = twiml_reader.integer(verb, "loop", 1)
    hear(leg, twiml_reader.text_of(verb), verb.get("language"), verb.get("voice"), loop or 1)


def play(leg: Leg, verb: ET.Element, document: Document) -> None:
    """Play a sound file, noting its name, for a <Play> length per loop."""
    url = document.join(verb.text or "")
    name = unquote(PurePosixPath(urlsplit(url).path).name) or url
    loop = twiml_reader.integer(verb, "loop", 1)
    leg.transcript.add(leg.clock.now(), "played", name=name, url=url, loop=loop)
    if verb.get("digits"):
        leg.transcript.add(leg.clock.now(), "sent", digits=verb.get("digits"))
    # loop="0" repeats until something else happens (a dequeue, a hang-up).
    leg.idle(None if loop == 0 else leg.settings.play_seconds * loop)


def pause(leg: Leg, verb: ET.Element, document: Document) -> None:
    """Let the pause's seconds pass in silence."""
    seconds = twiml_reader.integer(verb, "length", 1)
    leg.transcript.add(leg.clock.now(), "pause", seconds=seconds)
    leg.idle(seconds)


def hear(leg: Leg, text: str, language: str | None, voice: str | None, loop: int = 1) -> None:
    """Let the party hear spoken text for as long as it takes to say it."""
    leg.transcript.add(leg.clock.now(), "heard", text=text, language=language, voice=voice)
    if isinstance(leg.party, LiveParty):
        leg.party.heard_s += speaking_seconds(text) * max(loop, 1)
    leg.idle(speaking_seconds(text) * max(loop, 1))
    if text in leg.party.script.hangup_on:
        raise Ended(leg.side, "hung up")


def speaking_seconds(text: str) -> float:
    """Estimate how long text takes to say: about 4 Chinese characters or 2.5 words a second."""
    chinese = sum(1 for char in text if "\u3400" <= char <= "\u9fff")
    words = len("".join(" " if "\u3400" <= char <= "\u9fff" else char for char in text).split())
    return 0.3 + chinese * 0.25 + words * 0.4
