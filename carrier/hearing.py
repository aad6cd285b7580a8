"""Who hears whom in a conference, as Twilio's media mixing decides, and the lines said there.

A muted participant is heard by nobody; a participant on hold neither hears nor is heard; a
coaching participant is heard only by the participant it coaches, and hears everyone. Lines are
written into the speaker's transcript (`said`) and every listener's (`heard`, with `from`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from carrier import recordings
from carrier.network import Conference, Participant
from carrier.parties import Line

if TYPE_CHECKING:
    from carrier.leg import Leg


def hears(speaker: Participant, listener: Participant) -> bool:
    """Tell whether a listener hears what a speaker says in the same live conference."""
    if speaker.call_sid == listener.call_sid:
        return False
    if speaker.muted or speaker.hold or listener.hold:
        return False
    # A coach is heard by the participant it coaches and nobody else.
    return not speaker.coaching or speaker.call_sid_to_coach == listener.call_sid


def listeners(conference: Conference, speaker: Participant) -> list[Participant]:
    """Return the participants who hear the speaker now (nobody before the conference starts)."""
    if conference.status != "in-progress":
        return []
    return [other for other in conference.participants.values() if hears(speaker, other)]


def start_talking(leg: Leg, joined: float) -> None:
    """Time this party's lines from its first conference; on joining a later one, drop the lines
    that fell due while it was in none (nobody was there to hear them)."""
    if leg.party.talk_from is None:
        leg.party.talk_from = joined
    while (due := next_line_at(leg)) is not None and due < joined:
        leg.party.talk_next += 1


def next_line_at(leg: Leg) -> float | None:
    """Return the virtual time this party says their next line, or None when none is left."""
    party = leg.party
    if party.talk_from is None or party.talk_next >= len(party.script.talk):
        return None
    return party.talk_from + party.script.talk[party.talk_next].after


def say_due(
    leg: Leg, conference: Conference, *, audible: bool, why: str = "", until: float | None = None
) -> None:
    """Say every line due by now (or by `until`); when not audible (the leg was busy on hold or
    wait music, so the line came while it could not be heard), each is said at its time and
    heard by nobody."""
    end = leg.clock.now() if until is None else min(until, leg.clock.now())
    while (due := next_line_at(leg)) is not None and due <= end:
        line = leg.party.script.talk[leg.party.talk_next]
        leg.party.talk_next += 1
        heard_by: list[str] = []
        if audible:
            heard_by = say(leg, conference, line.say)
        else:
            leg.transcript.add(
                due, "said", text=line.say, where="conference", heard_by=[], note=why
            )
        to_media(leg, line, due, heard_by)


def to_media(leg: Leg, line: Line, at: float, heard_by: list[str]) -> None:
    """Carry a line said at `at` to the media streams and live transcriptions: the speaker's
    (their inbound track: a party's own words are on their line even when nobody hears them)
    and each listener's (their outbound track)."""
    streams, transcriptions = leg.driver.streams, leg.driver.transcriptions
    streams.said(leg.call.sid, line.audio, at)
    transcriptions.said(leg.call.sid, line.say)
    for listener in heard_by:
        streams.heard(listener, line.audio, at)
        transcriptions.heard(listener, line.say)


def talk_while(leg: Leg, seconds: float, *, where: str) -> None:
    """Let `seconds` pass on a call outside any conference (a <Record>), saying each line as it
    falls due: nobody hears it, the recording and the call's own media take it."""
    end = leg.clock.now() + max(seconds, 0.0)
    while (due := next_line_at(leg)) is not None and due <= end:
        leg.idle(max(due - leg.clock.now(), 0.0))
        line = leg.party.script.talk[leg.party.talk_next]
        leg.party.talk_next += 1
        leg.transcript.add(due, "said", text=line.say, where=where, heard_by=[])
        to_media(leg, line, due, [])
    leg.idle(max(end - leg.clock.now(), 0.0))


def say(leg: Leg, conference: Conference, text: str) -> list[str]:
    """Say words in a conference now; return the call SIDs of those who heard them."""
    network = leg.network
    with network.cond:
        now = leg.clock.now()
        speaker = conference.participants.get(leg.call.sid)
        heard_by = [] if speaker is None else listeners(conference, speaker)
        note = _unheard_note(conference, speaker) if not heard_by else ""
        origin: dict[str, Any] = {"from": leg.call.sid}
        if speaker is not None and speaker.label:
            origin["label"] = speaker.label
        for listener in heard_by:
            network.calls[listener.call_sid].transcript.add(
                now, "heard", text=text, where="conference", **origin
            )
        sids = [listener.call_sid for listener in heard_by]
        # Labels (or SIDs) for people reading the transcript; heard_by keeps the SIDs.
        names = [listener.label or listener.call_sid for listener in heard_by]
        if speaker is not None:
            # The conference's recording keeps what an ordinary participant heard.
            recordings.hear(network, conference, speaker, text)
    entry: dict[str, Any] = {"note": note} if note else {}
    if names:
        entry["heard_by_labels"] = names
    leg.transcript.add(now, "said", text=text, where="conference", heard_by=sids, **entry)
    return sids


def _unheard_note(conference: Conference, speaker: Participant | None) -> str:
    """Say why nobody heard a line."""
    if speaker is None:
        return "not in the conference"
    if conference.status != "in-progress":
        return "before the conference started"
    if speaker.muted:
        return "muted"
    if speaker.hold:
        return "on hold"
    return "nobody could hear"
