"""The line a follow-up's callback adds to the agent's whisper: why the caller is called back.

An unsatisfied rating names the agent the caller was unhappy with; an outcome code that asked
for a follow-up reads the agent's note. The line comes first inside the whisper's Gather, so the
accept key works from its first word as for any call.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr import webhook as hook
from ivr.callers import menu_twiml as twiml
from queues import runtime
from queues.followups import FollowUps
from queues.reservations import Reservation
from routing.follow_ups import call_of


def with_reason(rt: runtime.Runtime, offer: Reservation, document: VoiceResponse) -> VoiceResponse:
    """The whisper with the follow-up's reason first, or the whisper as it is for other calls."""
    call_sid = call_of(offer.call_sid)
    follow_up = FollowUps(rt.redis, sealer=rt.sealer).get(call_sid) if call_sid else None
    if follow_up is None:
        return document
    config = hook.config()
    line = VoiceResponse()
    if follow_up.reason == "outcome":
        # The note as the agent left it (written after the code, in the same wrap-up).
        note = rt.notes.get(follow_up.call_sid).note or follow_up.why or "-"
        twiml.say_prompt(line, config, offer.language, "whisper_follow_up_outcome", note=note)
    else:
        status = rt.routing.board.get(follow_up.agent)
        name = status.name if status is not None else follow_up.agent
        twiml.say_prompt(line, config, offer.language, "whisper_follow_up_rating", agent=name)
    # The Gather (the whisper's first verb) holds every word, so the line goes in it, first.
    gather = document.verbs[0] if document.verbs else document
    gather.verbs[:0] = line.verbs
    return document
