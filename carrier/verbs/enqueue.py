"""<Enqueue> and <Leave>: a caller waits in a queue to its waitUrl music until dequeued or gone."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier import bridges, callbacks
from carrier.document import Document, Ended, Interrupted, LeftQueue, Redirected
from carrier.network import Member, Queue, Signal
from carrier.twiml_reader import QUEUE_WAIT, WHISPER

if TYPE_CHECKING:
    from carrier.leg import Leg


def enqueue(leg: Leg, verb: ET.Element, document: Document) -> Document | None:
    """Put the caller in the queue, wait there, and return the action document for the result."""
    name = (verb.text or "").strip()
    network = leg.network
    with network.cond:
        queue = network.queue_named(name, create=True)
        assert queue is not None
        full = len(queue.members) >= queue.max_size
        if not full:
            queue.members.append(Member(leg.call.sid, leg.clock.utcnow(), leg.clock.now()))
            position = len(queue.members)
            network.cond.notify_all()
    leg.transcript.note_outcome(queues=name)
    if full:
        leg.transcript.add(leg.clock.now(), "queue-full", queue=name)
        return _after_queue(verb, document, queue, "queue-full", 0)
    leg.transcript.add(leg.clock.now(), "queued", queue=name, position=position)
    leg.queue, leg.where = queue, f"queue {name}"
    entered = leg.clock.now()
    result = "error"
    try:
        result = _wait_in_queue(leg, verb, document, queue)
    except LeftQueue:
        result = "leave"
    except Redirected:
        result = "redirected"
        leg.where = "call"
        raise
    except Ended:
        result = "hangup"
        callbacks.after_hangup(
            leg,
            verb,
            document,
            {
                "QueueResult": "hangup",
                "QueueSid": queue.sid,
                "QueueTime": str(int(leg.clock.now() - entered)),
            },
        )
        raise
    finally:
        _leave_queue(leg, queue)
        waited = int(leg.clock.now() - entered)
        leg.call.queue_time = waited
        leg.transcript.add(leg.clock.now(), "dequeued", queue=name, result=result, waited_s=waited)
        leg.queue = None
    leg.where = "call"
    return _after_queue(verb, document, queue, result, waited)


def leave(leg: Leg, verb: ET.Element, document: Document) -> None:
    """Take the caller out of the queue when the wait music says so."""
    if document.context == QUEUE_WAIT:
        raise LeftQueue()
    leg.transcript.add(leg.clock.now(), "note", text="<Leave> outside a queue does nothing")


def queue_params(leg: Leg, queue: Queue) -> dict[str, str]:
    """Return the wait-music parameters: position, waits and sizes."""
    now = leg.clock.now()
    with leg.network.cond:
        waits = [now - member.enqueued_v for member in queue.members]
        position = queue.position(leg.call.sid) or 0
        mine = next((now - m.enqueued_v for m in queue.members if m.call_sid == leg.call.sid), 0.0)
        size = len(queue.members)
    average = int(sum(waits) / len(waits)) if waits else 0
    return {
        "QueueSid": queue.sid,
        "QueuePosition": str(position),
        "QueueTime": str(int(mine)),
        "AvgQueueTime": str(average),
        "CurrentQueueSize": str(size),
        "MaxQueueSize": str(queue.max_size),
    }


def _after_queue(
    verb: ET.Element, document: Document, queue: Queue, result: str, waited: int
) -> Document | None:
    """Return the Enqueue action document, or None to go on with the next verb."""
    if not verb.get("action"):
        return None
    return document.follow(
        document.join(verb.get("action", "")),
        verb.get("method"),
        "enqueue-action",
        params={"QueueResult": result, "QueueSid": queue.sid, "QueueTime": str(waited)},
    )


def _wait_in_queue(leg: Leg, verb: ET.Element, document: Document, queue: Queue) -> str:
    """Play the wait music in a loop until a dequeue; return "bridged" after a bridge."""
    wait_url = verb.get("waitUrl")
    wait_method = (verb.get("waitUrlMethod") or "POST").upper()
    following: Document | None = None
    previous_accept = leg.accept
    leg.accept = frozenset({"bridge"})
    try:
        while True:
            try:
                if wait_url is None:
                    leg.transcript.add(leg.clock.now(), "played", name="default hold music")
                    leg.idle(leg.settings.play_seconds)
                    continue
                current = following or Document(
                    url=document.join(wait_url),
                    method=wait_method,
                    purpose="wait",
                    context=QUEUE_WAIT,
                )
                following = leg.run_document(current)
            except Interrupted as interrupted:
                leg.accept = previous_accept
                _leave_queue(leg, queue)
                _bridged_from_queue(leg, interrupted.signal)
                return "bridged"
    finally:
        leg.accept = previous_accept


def _leave_queue(leg: Leg, queue: Queue) -> None:
    """Take this call out of a queue if it is still in it."""
    with leg.network.cond:
        queue.members = [m for m in queue.members if m.call_sid != leg.call.sid]
        queue.updated = leg.clock.utcnow()
        leg.network.cond.notify_all()


def _bridged_from_queue(leg: Leg, signal: Signal) -> None:
    """Stay bridged to whoever dialled the queue, after hearing their Queue url if any."""
    peer = leg.network.calls[signal.peer or ""]
    if signal.url:
        leg.follow(
            Document(url=signal.url, method=signal.method, purpose="dequeue", context=WHISPER)
        )
    bridges.note_bridge(leg, peer)
    bridges.stay_bridged(leg, peer.sid, None)
