"""A conference participant on hold: the HoldUrl's document (or the default music) in a loop.

Twilio takes a held participant out of the conference's audio and plays the HoldUrl's TwiML
(`<Say>`, `<Play>`, `<Pause>`, `<Redirect>`) or its own hold music, over and over, until the
participant is unheld, removed, or the conference ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carrier import hearing
from carrier.document import Document
from carrier.network import Conference, Participant
from carrier.twiml_reader import CONFERENCE_WAIT

if TYPE_CHECKING:
    from carrier.leg import Leg


def held(leg: Leg, conference: Conference, participant: Participant) -> None:
    """Hear hold music or words until the hold ends; signals (unhold, removal) interrupt it.

    Lines this party was due to say while held are said to nobody, as Twilio carries no audio
    from a held participant.
    """
    leg.transcript.add(leg.clock.now(), "hold", action="started", name=conference.friendly_name)
    leg.on_hold = True
    try:
        if participant.hold_url is None:
            leg.transcript.add(leg.clock.now(), "played", name="default hold music")
            while _still_held(leg, participant):
                hearing.say_due(leg, conference, audible=True)
                wake = hearing.next_line_at(leg)
                leg.idle(None if wake is None else max(wake - leg.clock.now(), 0.0))
            return
        document: Document | None = None
        while _still_held(leg, participant):
            started = leg.clock.now()
            current = document or Document(
                url=participant.hold_url,
                method=participant.hold_method,
                purpose="hold",
                context=CONFERENCE_WAIT,
            )
            document = leg.run_document(current)
            hearing.say_due(leg, conference, audible=False, why="on hold")
            if document is None and leg.clock.now() - started < 1.0:
                # A document that takes no time would be fetched again at once, without end.
                leg.idle(leg.settings.play_seconds)
    finally:
        # Lines that fell due while held were not heard, even when the hold ends before the
        # hold document got to them.
        hearing.say_due(leg, conference, audible=False, why="on hold")
        leg.on_hold = False
        leg.transcript.add(leg.clock.now(), "hold", action="ended", name=conference.friendly_name)


def _still_held(leg: Leg, participant: Participant) -> bool:
    """Tell whether the participant is still on hold."""
    with leg.network.cond:
        return participant.hold
