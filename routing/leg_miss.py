"""Whether an agent's leg that ended with its offer still open was the agent's miss.

An agent's leg can end `completed` (it was picked up) while its offer is still open: no key
reached the hotline, nor the whisper's own time-out. That is the agent's miss only if the leg
lasted long enough for the whisper to be heard and its choice to time out, as when a voicemail
box answers. A shorter leg was declined or cut short: the agent hung up, or the hotline or
Twilio failed mid-whisper (the whisper and its fallback unanswered, Twilio hung up with its
application error). The offer then ends with no miss, and the call goes on to the next agent.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.wording import speaking_seconds

# Twilio's CallDuration is whole seconds, so a leg that lasted just long enough may read a
# second short of it.
DURATION_ROUNDING_S = 1.0


def whisper_seconds(sentences: Iterable[str]) -> float:
    """How long the whisper takes to say, from its sentences."""
    return sum(speaking_seconds(sentence) for sentence in sentences)


def call_duration(raw: str) -> int | None:
    """Twilio's CallDuration as whole seconds, or None when missing or not a number."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 7 else None


def missed_after_pickup(duration_s: int | None, whisper_s: float, choice_timeout_s: float) -> bool:
    """Whether a picked-up leg that ended with its offer open was the agent's miss.

    A leg of unknown length counts as a miss, as before this rule: only a leg known to be
    shorter than the whisper and its choice's time-out is spared.
    """
    if duration_s is None:
        return True
    return duration_s + DURATION_ROUNDING_S >= whisper_s + choice_timeout_s
