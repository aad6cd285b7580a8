"""<Dial> with <Number>, <Client> or <Queue>: ring, bridge, and request the Dial's action.

<Dial><Conference> is in carrier/verbs/conference.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier import bridges, callbacks, twiml_reader
from carrier.document import Document, Ended, Redirected
from carrier.network import Call, Signal
from carrier.twiml_reader import TwimlError
from carrier.verbs import conference

if TYPE_CHECKING:
    from carrier.leg import Leg

# Twilio's defaults for a Dial that leaves them out.
DIAL_TIMEOUT_S = 30
DIAL_TIME_LIMIT_S = 14400


def dial(leg: Leg, verb: ET.Element, document: Document) -> Document | None:
    """Dial the verb's nouns and return the action document with how the dial went."""
    nouns = list(verb)
    started = leg.clock.now()
    try:
        if nouns and nouns[0].tag == "Conference":
            star = twiml_reader.flag(verb, "hangupOnStar", False)
            result = conference.dial_conference(leg, nouns[0], document, hangup_on_star=star)
        elif nouns and nouns[0].tag == "Queue":
            result = _dial_queue(leg, verb, nouns[0], document)
        else:
            result = _dial_numbers(leg, verb, nouns, document)
    except Ended:
        callbacks.after_hangup(
            leg,
            verb,
            document,
            {
                "DialCallStatus": "completed",
                "DialCallDuration": str(int(leg.clock.now() - started)),
            },
        )
        raise
    except Redirected:
        leg.where = "call"
        raise
    leg.where = "call"
    if not verb.get("action"):
        return None
    return document.follow(
        document.join(verb.get("action", "")), verb.get("method"), "dial-action", params=result
    )


def _dial_numbers(
    leg: Leg, verb: ET.Element, nouns: list[ET.Element], document: Document
) -> dict[str, str]:
    """Ring every number at once; bridge the first that answers and passes its whisper."""
    targets: list[tuple[str, ET.Element | None]] = []
    if not nouns and (verb.text or "").strip():
        targets.append(((verb.text or "").strip(), None))
    for noun in nouns:
        if noun.tag == "Sip":
            raise TwimlError(12200, "Schema validation warning: <Sip> is not run by the carrier")
        identity = twiml_reader.text_of(noun) if noun.tag == "Number" else _client_identity(noun)
        targets.append((identity if noun.tag == "Number" else f"client:{identity}", noun))
    timeout = twiml_reader.integer(verb, "timeout", DIAL_TIMEOUT_S)
    caller_id = verb.get("callerId") or (
        leg.call.caller if leg.call.direction == "inbound" else leg.call.called
    )
    children: list[Call] = []
    for number, noun in targets:
        attributes = dict(noun.attrib) if noun is not None else {}
        url = attributes.get("url")
        callback = attributes.get("statusCallback")
        events = attributes.get("statusCallbackEvent") or "completed"
        child = leg.network.add_call(
            caller=caller_id,
            called=number,
            direction="outbound-dial",
            parent_call_sid=leg.call.sid,
            url=document.join(url) if url else None,
            method=(attributes.get("method") or "POST").upper(),
            status_callback=document.join(callback) if callback else None,
            status_callback_method=(attributes.get("statusCallbackMethod") or "POST").upper(),
            status_callback_events=tuple(events.replace(",", " ").split()),
            timeout=timeout,
        )
        leg.transcript.add(leg.clock.now(), "dialing", number=number, call_sid=child.sid)
        leg.driver.start_dialed(child)
        children.append(child)
    leg.where = "dial"
    try:
        leg.idle(
            None,
            until=lambda: (
                any(c.dial_state == "bridged" for c in children)
                or all(c.finished for c in children)
            ),
        )
    except Ended:
        for child in children:
            leg.driver.hang_up(child.sid, reason="canceled")
        raise
    winner = next((c for c in children if c.dial_state == "bridged"), None)
    for child in children:
        if child is not winner:
            leg.driver.hang_up(child.sid, reason="canceled")
    if winner is None:
        status = _dial_status({c.dial_result or "failed" for c in children})
        leg.transcript.add(leg.clock.now(), "dial-result", status=status)
        return {
            "DialCallStatus": status,
            "DialCallSid": children[0].sid if children else "",
            "DialCallDuration": "0",
            "DialBridged": "false",
        }
    bridges.note_bridge(leg, winner)
    bridged = leg.clock.now()
    limit = twiml_reader.integer(verb, "timeLimit", DIAL_TIME_LIMIT_S)
    bridges.stay_bridged(leg, winner.sid, limit)
    leg.transcript.add(leg.clock.now(), "dial-result", status="completed")
    return {
        "DialCallStatus": "completed",
        "DialCallSid": winner.sid,
        "DialCallDuration": str(int(leg.clock.now() - bridged)),
        "DialBridged": "true",
    }


def _dial_queue(leg: Leg, verb: ET.Element, noun: ET.Element, document: Document) -> dict[str, str]:
    """Bridge to the caller at the front of a queue, waiting up to the Dial timeout for one."""
    name = twiml_reader.text_of(noun)
    network = leg.network
    timeout = twiml_reader.integer(verb, "timeout", DIAL_TIMEOUT_S)
    leg.where = "dial"

    def front() -> bool:
        queue = network.queue_named(name, create=False)
        return bool(queue and queue.members)

    if not leg.idle(timeout, until=front):
        return {"DialCallStatus": "no-answer", "DialCallDuration": "0"}
    with network.cond:
        queue = network.queue_named(name, create=False)
        assert queue is not None and queue.members
        member = queue.members.pop(0)
        peer = network.calls[member.call_sid]
        waited = int(leg.clock.now() - member.enqueued_v)
        leg.call.bridged_with.add(peer.sid)
        peer.bridged_with.add(leg.call.sid)
        url = document.join(noun.get("url", "")) if noun.get("url") else None
        network.signal(
            peer.sid,
            Signal(
                "bridge",
                url=url,
                method=(noun.get("method") or "POST").upper(),
                peer=leg.call.sid,
            ),
        )
    bridges.note_bridge(leg, peer)
    bridged = leg.clock.now()
    limit = twiml_reader.integer(verb, "timeLimit", DIAL_TIME_LIMIT_S)
    bridges.stay_bridged(leg, peer.sid, limit)
    return {
        "DialCallStatus": "completed",
        "DialCallSid": peer.sid,
        "DialCallDuration": str(int(leg.clock.now() - bridged)),
        "QueueSid": queue.sid,
        "DequeuedCallSid": peer.sid,
        "DequeuedCallQueueTime": str(waited),
    }


def _dial_status(results: set[str]) -> str:
    """Return DialCallStatus when no leg was bridged: answered beats busy beats failed."""
    if "completed" in results:
        return "completed"  # answered, but the whisper hung up before the bridge
    for status in ("busy", "failed"):
        if results == {status}:
            return status
    return "no-answer"


def _client_identity(noun: ET.Element) -> str:
    """Return a <Client>'s identity, from its text or its <Identity> child."""
    identity = noun.find("Identity")
    if identity is not None:
        return twiml_reader.text_of(identity)
    return (noun.text or "").strip()
