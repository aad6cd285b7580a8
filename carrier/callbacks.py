"""Requests a leg sends whose answers are not TwiML: status callbacks and actions after a hang-up.

Faults may hold a callback back (it arrives after a later one) or send it twice.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import phonenumbers

from carrier.clock import rfc2822
from carrier.document import Document
from carrier.network import Call

if TYPE_CHECKING:
    from carrier.leg import Leg

API_VERSION = "2010-04-01"


def call_params(call: Call) -> dict[str, str]:
    """Return the parameters Twilio sends about a call on every webhook."""
    params = {
        "AccountSid": call.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call.sid,
        "CallStatus": call.status,
        "Direction": call.direction,
        "From": call.caller,
        "To": call.called,
        "Caller": call.caller,
        "Called": call.called,
    }
    for prefix, number in (("From", call.caller), ("To", call.called)):
        country = _country(number)
        if country:
            params[f"{prefix}Country"] = country
    if call.parent_call_sid:
        params["ParentCallSid"] = call.parent_call_sid
    if call.answered_by:
        params["AnsweredBy"] = call.answered_by
    return params


def progress(leg: Leg, event: str) -> None:
    """Send the call-progress callback for an event when the call asked for it."""
    call = leg.call
    if not call.status_callback or event not in call.status_callback_events:
        return
    with leg.network.cond:
        call.callback_sequence += 1
        sequence = call.callback_sequence
    params = call_params(call)
    params.update(
        {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822(leg.clock.utcnow()) or "",
        }
    )
    if event == "completed":
        params["CallDuration"] = str(call.duration or 0)
        params["Duration"] = str(math.ceil((call.duration or 0) / 60))
    send(leg, call.status_callback, call.status_callback_method, params, "status")


def send(leg: Leg, url: str, method: str, params: dict[str, str], purpose: str) -> None:
    """Send a callback, possibly held back (reordered) or sent twice, as faults say."""
    faults = leg.driver.faults
    if faults.roll("callback_reorder"):
        leg.held_callbacks.append((url, method, params, purpose))
        return
    _deliver(leg, url, method, params, purpose)
    if faults.roll("callback_duplicate"):
        _deliver(leg, url, method, params, f"{purpose} (duplicate)")
    flush(leg)


def flush(leg: Leg) -> None:
    """Send callbacks held back earlier, now after a later one."""
    while leg.held_callbacks:
        url, method, params, purpose = leg.held_callbacks.pop(0)
        _deliver(leg, url, method, params, f"{purpose} (late)")


def after_hangup(leg: Leg, verb: ET.Element, document: Document, params: dict[str, str]) -> None:
    """Request a verb's action after the caller hung up; Twilio ignores the answer."""
    if not verb.get("action"):
        return
    leg.driver.webhooks.request(
        (verb.get("method") or "POST").upper(),
        document.join(verb.get("action", "")),
        {**call_params(leg.call), "CallStatus": "completed", **params},
        transcript=leg.transcript,
        purpose=f"{verb.tag.lower()}-action",
        forge=leg.call.forge_signature,
    )


def _deliver(leg: Leg, url: str, method: str, params: dict[str, str], purpose: str) -> None:
    """Send one callback; its answer is not TwiML and is only noted."""
    leg.driver.webhooks.request(
        method,
        url,
        params,
        transcript=leg.transcript,
        purpose=purpose,
        forge=leg.call.forge_signature,
    )


def _country(number: str) -> str | None:
    """Return the ISO country of an E.164 number, as Twilio's FromCountry/ToCountry."""
    if not number.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return None
