"""<Dial><Conference>: join a conference, wait to its waitUrl music, stay until it ends."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier import bridges, callbacks, hearing, recordings, twiml_reader
from carrier.clock import rfc2822
from carrier.document import Document, Interrupted
from carrier.network import Conference, Participant, Signal
from carrier.twiml_reader import CONFERENCE_WAIT
from carrier.verbs import hold

if TYPE_CHECKING:
    from carrier.leg import Leg


def dial_conference(
    leg: Leg, noun: ET.Element, document: Document, *, hangup_on_star: bool = False
) -> dict[str, str]:
    """Join a conference, hear its wait music until it starts, stay until it ends.

    With hangupOnStar, a party who presses * leaves the conference (it goes on without them
    unless they end it on exit) and the <Dial>'s action is requested.
    """
    name = twiml_reader.text_of(noun)
    network = leg.network
    events = tuple((noun.get("statusCallbackEvent") or "").replace(",", " ").split())
    coach = noun.get("coach") or None
    with network.cond:
        conference = network.conference_named(name, create=True)
        assert conference is not None
        if coach is not None and coach not in conference.participants:
            # Twilio adds no coach whose participant is not there (error 16028).
            leg.transcript.add(
                leg.clock.now(),
                "error",
                code=16028,
                message="Participant to be whispered is not present in the conference",
            )
            return {"DialCallStatus": "failed", "DialCallDuration": "0"}
        if not conference.participants and noun.get("statusCallback"):
            conference.status_callback = document.join(noun.get("statusCallback", ""))
            conference.status_callback_method = (noun.get("statusCallbackMethod") or "POST").upper()
            conference.status_callback_events = events
        now = leg.clock.utcnow()
        participant = Participant(
            call_sid=leg.call.sid,
            created=now,
            updated=now,
            label=noun.get("participantLabel"),
            muted=twiml_reader.flag(noun, "muted", False),
            start_on_enter=twiml_reader.flag(noun, "startConferenceOnEnter", True),
            end_on_exit=twiml_reader.flag(noun, "endConferenceOnExit", False),
            coaching=coach is not None,
            call_sid_to_coach=coach,
            beep=noun.get("beep") or "true",
        )
        conference.participants[leg.call.sid] = participant
        conference.joined_at.setdefault(leg.call.sid, leg.clock.now())
        for other in conference.participants:
            if other != leg.call.sid:
                network.signal(other, Signal("conference-joined", peer=leg.call.sid))
        starts = participant.start_on_enter and conference.status == "init"
        if starts:
            conference.status = "in-progress"
            conference.updated = now
            for other in conference.participants:
                network.signal(other, Signal("conference-started"))
        network.cond.notify_all()
    if starts and noun.get("record") == recordings.RECORD_FROM_START:
        # The participant who starts the conference decides whether it is recorded, as on Twilio.
        order = recordings.order_from_noun(noun, document)
        recordings.record_conference(leg.driver, conference, leg.call, order)
    leg.transcript.add(leg.clock.now(), "conference", action="joined", name=name)
    _conference_event(leg, conference, "join", participant)
    if starts:
        _conference_event(leg, conference, "start", None)
    leg.where = "conference"
    joined = leg.clock.now()
    hearing.start_talking(leg, joined)
    wait_url = noun.get("waitUrl")
    previous_accept = leg.accept
    leg.accept = frozenset({"conference-started", "conference-ended", "kicked", "hold-changed"})
    star_at = None
    if hangup_on_star and leg.party.star_after is not None and not leg.party.star_used:
        star_at = joined + leg.party.star_after
    try:
        _in_conference(leg, conference, document, wait_url, noun, star_at=star_at)
    finally:
        leg.accept = previous_accept
        _leave_conference(leg, conference, participant)
    return {
        "DialCallStatus": "completed",
        "DialCallDuration": str(int(leg.clock.now() - joined)),
    }


def _in_conference(
    leg: Leg,
    conference: Conference,
    document: Document,
    wait_url: str | None,
    noun: ET.Element,
    *,
    star_at: float | None = None,
) -> None:
    """Wait in a conference until it ends, this participant is removed, or presses *.

    On hold, the participant hears the hold document instead (carrier/verbs/hold.py); lines from
    its script are said when due (carrier/hearing.py decides who hears them).
    """
    wait_method = (noun.get("waitMethod") or "POST").upper()
    announced = False
    following: Document | None = None
    participant = conference.participants[leg.call.sid]
    while True:
        with leg.network.cond:
            status = conference.status
            on_hold = participant.hold
            peers = [
                leg.network.calls[sid] for sid in conference.participants if sid != leg.call.sid
            ]
        if status == "completed":
            # Lines due before the end were said then, and whoever was there with this leg was
            # bridged to it, however late this thread woke.
            hearing.say_due(leg, conference, audible=True, until=conference.ended_at)
            _note_late_bridges(leg, conference)
            return
        hearing.say_due(leg, conference, audible=True)
        # Wake for the next line, and once in the conference for the * press.
        line_at = hearing.next_line_at(leg)
        line_wait = None if line_at is None else max(line_at - leg.clock.now(), 0.0)
        wake = min((at for at in (star_at, line_at) if at is not None), default=None)
        wait = None if wake is None else max(wake - leg.clock.now(), 0.0)
        try:
            if on_hold:
                hold.held(leg, conference, participant)
            elif status == "in-progress":
                for peer in peers:
                    if peer.sid not in leg.peers_seen:
                        leg.peers_seen.add(peer.sid)
                        bridges.note_bridge(leg, peer)
                leg.idle(wait, accept=leg.accept | {"conference-joined"})
                if star_at is not None and leg.clock.now() >= star_at:
                    leg.party.star_used = True
                    leg.transcript.add(leg.clock.now(), "pressed", keys="*", note="hangupOnStar")
                    return
            elif wait_url == "":
                leg.idle(line_wait)
            elif wait_url is None:
                if not announced:
                    leg.transcript.add(leg.clock.now(), "played", name="default hold music")
                    announced = True
                leg.idle(line_wait)
            else:
                current = following or Document(
                    url=document.join(wait_url),
                    method=wait_method,
                    purpose="conference-wait",
                    context=CONFERENCE_WAIT,
                )
                following = leg.run_document(current)
                hearing.say_due(leg, conference, audible=False, why="before the conference started")
        except Interrupted as interrupted:
            if status != "in-progress" and not on_hold:
                # Lines due during the wait music were said before the conference started.
                hearing.say_due(leg, conference, audible=False, why="before the conference started")
            if interrupted.signal.kind in ("conference-ended", "kicked"):
                return
            following = None


def _note_late_bridges(leg: Leg, conference: Conference) -> None:
    """Note the peers that were in the conference with this leg before it ended, when this
    leg's thread did not wake while they were there (a loaded machine)."""
    with leg.network.cond:
        mine = conference.joined_at.get(leg.call.sid)
        end = conference.ended_at
        if mine is None or end is None:
            return
        peers = [
            leg.network.calls[sid]
            for sid, joined in conference.joined_at.items()
            if sid != leg.call.sid
            and sid not in leg.peers_seen
            and sid in leg.network.calls
            and joined < end
            and conference.left_at.get(sid, end) > mine
        ]
    for peer in peers:
        leg.peers_seen.add(peer.sid)
        bridges.note_bridge(leg, peer)


def _leave_conference(leg: Leg, conference: Conference, participant: Participant) -> None:
    """Leave a conference, ending it when this participant ends it or was the last one."""
    network = leg.network
    ended_now = False
    with network.cond:
        conference.participants.pop(leg.call.sid, None)
        conference.left_at[leg.call.sid] = leg.clock.now()
        if conference.status != "completed":
            if participant.end_on_exit:
                reason = "participant-with-end-conference-on-exit-left"
            elif not conference.participants and conference.status == "in-progress":
                reason = "last-participant-left"
            else:
                reason = None
            if reason:
                conference.status = "completed"
                conference.ended_at = leg.clock.now()
                recordings.conference_ended(network, conference)
                conference.reason_ended = reason
                conference.call_sid_ending = leg.call.sid
                ended_now = True
                for other in conference.participants:
                    network.signal(other, Signal("conference-ended"))
        conference.updated = leg.clock.utcnow()
        network.cond.notify_all()
    leg.transcript.add(leg.clock.now(), "conference", action="left", name=conference.friendly_name)
    _conference_event(leg, conference, "leave", participant)
    if ended_now:
        _conference_event(leg, conference, "end", None)


def _conference_event(
    leg: Leg, conference: Conference, event: str, participant: Participant | None
) -> None:
    """Send a conference status callback for an event the conference asked for."""
    if not conference.status_callback or event not in conference.status_callback_events:
        return
    with leg.network.cond:
        conference.callback_sequence += 1
        sequence = conference.callback_sequence
    prefix = "conference" if event in ("start", "end") else "participant"
    params = {
        "AccountSid": leg.call.account_sid,
        "ConferenceSid": conference.sid,
        "FriendlyName": conference.friendly_name,
        "StatusCallbackEvent": f"{prefix}-{event}",
        "SequenceNumber": str(sequence),
        "Timestamp": rfc2822(leg.clock.utcnow()) or "",
    }
    if participant is not None:
        params.update(
            {
                "CallSid": participant.call_sid,
                "Muted": str(participant.muted).lower(),
                "Hold": str(participant.hold).lower(),
                "Coaching": str(participant.coaching).lower(),
                "EndConferenceOnExit": str(participant.end_on_exit).lower(),
                "StartConferenceOnEnter": str(participant.start_on_enter).lower(),
            }
        )
    if event == "end":
        params["ReasonConferenceEnded"] = conference.reason_ended or ""
        params["CallSidEndingConference"] = conference.call_sid_ending or ""
    callbacks.send(
        leg, conference.status_callback, conference.status_callback_method, params, "conference"
    )
