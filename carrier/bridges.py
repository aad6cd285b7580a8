"""Bridges between two legs: made by a <Dial>, a dequeue or a dialled leg's answer, kept, broken."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carrier.document import Ended, Interrupted
from carrier.network import Call, Signal

if TYPE_CHECKING:
    from carrier.leg import Leg


def bridge_to_parent(leg: Leg) -> Call:
    """Bridge a dialled leg that passed its whisper to the leg that dialled it."""
    network = leg.network
    with network.cond:
        parent = network.calls[leg.call.parent_call_sid or ""]
        taken = any(network.calls[sid].dial_state == "bridged" for sid in parent.bridged_with)
        if parent.ended or taken:
            raise Ended("carrier", "the caller was connected elsewhere or left")
        leg.call.dial_state = "bridged"
        leg.call.bridged_with.add(parent.sid)
        parent.bridged_with.add(leg.call.sid)
        network.cond.notify_all()
        return parent


def stay_bridged(leg: Leg, peer_sid: str, limit: float | None) -> None:
    """Stay on a bridge until the other side leaves, this side hangs up, or the limit."""
    leg.where = "bridge"
    try:
        leg.idle(
            limit,
            until=lambda: peer_sid not in leg.call.bridged_with,
            accept=frozenset({"bridge-ended"}),
        )
    except Interrupted:
        pass
    finally:
        unbridge(leg)


def unbridge(leg: Leg) -> None:
    """Break every bridge of this leg and tell the other sides."""
    network = leg.network
    with network.cond:
        for peer_sid in list(leg.call.bridged_with):
            peer = network.calls.get(peer_sid)
            if peer is not None:
                peer.bridged_with.discard(leg.call.sid)
                network.signal(peer_sid, Signal("bridge-ended", peer=leg.call.sid))
        leg.call.bridged_with.clear()
        network.cond.notify_all()


def note_bridge(leg: Leg, peer: Call) -> None:
    """Write who this leg is connected to into the transcript and outcome."""
    number = peer.called if peer.direction.startswith("outbound") else peer.caller
    leg.transcript.add(
        leg.clock.now(), "bridged", number=number, name=peer.party_name, call_sid=peer.sid
    )
    leg.transcript.note_outcome(
        bridged_to={"number": number, "name": peer.party_name, "role": peer.party_role}
    )
    if peer.party_role == "crisis-line":
        leg.transcript.note_outcome(crisis=True)
