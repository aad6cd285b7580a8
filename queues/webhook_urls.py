"""The app's webhook URLs that jobs give Twilio, as builders the app hands to the runtime.

Dispatch jobs ring agents, bring callers to them and move agents' legs on, and each names one
of the app's webhooks. The paths are written once, in the blueprints: the app (which knows
its routes) builds these from its URL map, so this floor never spells an ivr path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# An absolute webhook URL about one reservation.
ReservationUrl = Callable[[str], str]


@dataclass(frozen=True)
class WebhookUrls:
    """Absolute URLs of the webhooks jobs give Twilio, each built from a reservation id."""

    # The agent's leg: the whisper (and accept key), its status callbacks, its fallback.
    whisper: ReservationUrl
    agent_status: ReservationUrl
    agent_fallback: ReservationUrl
    # An agent's leg moved on: the caller left during the whisper, or was not reached.
    agent_gone: ReservationUrl
    agent_unreached: ReservationUrl
    # An agent who stepped out of the conference: (reservation, step-out number, caller in it).
    agent_stepped_out: Callable[[str, int, bool], str]
    # The waiting caller, redirected out of Twilio's queue into the agent's conference.
    caller_to_agent: ReservationUrl
    # A caller who asked to be called back: the answered leg, and its status callback.
    callback: ReservationUrl
    callback_status: ReservationUrl
    # A supervisor's leg rung into a call (listen-in): its status, by call and session number.
    listen_in_status: Callable[[str, int], str] | None = None
    # Transfers (queues.transfers): the held caller's hold words and music (first reservation,
    # language), the new area's waiting room (first reservation, area, language), and the
    # first agent's way back to the caller when nobody took a warm transfer.
    transfer_hold: Callable[[str, str], str] | None = None
    transfer_room: Callable[[str, str, str], str] | None = None
    transfer_back: ReservationUrl | None = None
