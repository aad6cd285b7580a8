"""<Gather>: play its prompts, take the party's keys or words, and request its action."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier import twiml_reader
from carrier.document import Document
from carrier.parties import LIVE_GRACE_S, REACTION_S, LiveParty
from carrier.verbs.say_play import speaking_seconds

if TYPE_CHECKING:
    from carrier.leg import Leg

# Twilio's defaults for a Gather that leaves them out.
GATHER_TIMEOUT_S = 5
SPEECH_CONFIDENCE = "0.92"


def gather(leg: Leg, verb: ET.Element, document: Document) -> Document | None:
    """Run the prompts, take the party's next input, and return the action document for it."""
    modes = (verb.get("input") or "dtmf").split()
    timeout = twiml_reader.integer(verb, "timeout", GATHER_TIMEOUT_S)
    finish_key = verb.get("finishOnKey", "#")
    num_digits = twiml_reader.integer(verb, "numDigits", 0)
    for child in verb:
        leg.run_verb(child, document)
    params: dict[str, str] = {}
    party = leg.party
    waited = False
    if isinstance(party, LiveParty):
        # A person needs real time to hear the prompt and answer: wait for their input.
        leg.idle(party.patience(timeout), until=party.ready)
        party.heard_s = 0.0
        waited = True
    step = party.next_step()
    if step is not None and step.kind != "wait" and not waited:
        leg.idle(REACTION_S)
    if step is None or step.kind == "wait":
        leg.transcript.add(leg.clock.now(), "silent", seconds=timeout)
        if not waited:
            leg.idle(timeout)
    elif step.kind == "press" and "dtmf" not in modes:
        leg.transcript.add(
            leg.clock.now(), "pressed", keys=step.value, note="not heard: speech only"
        )
        leg.idle(timeout)
    elif step.kind == "say" and "speech" not in modes:
        leg.transcript.add(leg.clock.now(), "said", text=step.value, note="not heard: keys only")
        leg.idle(timeout)
    elif step.kind == "press":
        leg.transcript.add(leg.clock.now(), "pressed", keys=step.value)
        digits, finished = _collect(step.value, finish_key, num_digits)
        if isinstance(party, LiveParty):
            digits, finished = _more_keys(leg, party, step.value, finish_key, num_digits, timeout)
        elif not finished and not (num_digits and len(digits) >= num_digits):
            leg.idle(timeout)  # Twilio waits for more keys until the timeout
        if digits or finished:
            params["Digits"] = digits
            if finished:
                params["FinishedOnKey"] = finished
    else:
        leg.transcript.add(leg.clock.now(), "said", text=step.value)
        leg.idle(speaking_seconds(step.value) + 1.0)
        params.update({"SpeechResult": step.value, "Confidence": SPEECH_CONFIDENCE})
        if verb.get("language"):
            params["Language"] = verb.get("language", "")
    got_input = bool(params.get("Digits") or params.get("SpeechResult"))
    if not got_input and not twiml_reader.flag(verb, "actionOnEmptyResult", False):
        return None
    if not got_input and "dtmf" in modes:
        params.setdefault("Digits", "")
    action = document.join(verb.get("action") or "") if verb.get("action") else document.url
    if action is None:
        return None
    return document.follow(
        action, verb.get("method"), "gather", params=params, context=document.context
    )


def _more_keys(
    leg: Leg, party: LiveParty, keys: str, finish_key: str, num_digits: int, timeout: int
) -> tuple[str, str]:
    """Collect a live caller's further key presses, one at a time, until the Gather is done."""
    digits, finished = _collect(keys, finish_key, num_digits)
    while not finished and not (num_digits and len(digits) >= num_digits):
        # Twilio waits `timeout` seconds after each key; a person gets them in real time.
        patience = (timeout + LIVE_GRACE_S) / party.time_scale
        following = party.peek() if leg.idle(patience, until=party.ready) else None
        if following is None or following.kind != "press":
            break
        party.next_step()
        leg.transcript.add(leg.clock.now(), "pressed", keys=following.value)
        keys += following.value
        digits, finished = _collect(keys, finish_key, num_digits)
    return digits, finished


def _collect(keys: str, finish_key: str, num_digits: int) -> tuple[str, str]:
    """Split pressed keys into Gather's Digits and the finishing key, if one was pressed."""
    if finish_key and finish_key in keys:
        return keys[: keys.index(finish_key)][: num_digits or None], finish_key
    return keys[: num_digits or None], ""
