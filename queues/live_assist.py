"""A live call's assist feed: one Redis stream per call that the agent's desk tails.

Several writers feed it: the caller's audio stream (thermometer levels, every 2 s), the live
transcription's callback (final lines, and crisis hits found in them) and whoever else has
something the agent should see while talking. The desk reads it from the start when it opens
and then blocks on it for what comes next, so a page reloaded mid-call shows the call so far.

Each event's data is sealed under the call (`queues/sealing.py`): a transcript line is a
caller's words, and nothing personal is kept readable at rest. The stream is capped and
expires a few hours after its last event; erasing a call's data drops it at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import keys, sealing

# Kinds of event: a thermometer reading, a final transcript line, a crisis hit in a line, a
# supervisor's notice, and the end of the call's audio.
KINDS = ("level", "line", "crisis", "notice", "ended")
# Events kept per call: two hours of 2-s levels with room for the transcript.
MAX_EVENTS = 6000
# How long a call's feed outlives its last event: the wrap-up reads it after the call.
TTL_S = 6 * 3600


@dataclass(frozen=True)
class LiveEvent:
    """One event of a call's feed: its stream id (time-ordered), kind and data."""

    id: str
    kind: str
    data: dict[str, Any]


def _context(call_sid: str) -> str:
    """What an event's seal is bound to: a sealed event copied to another call does not open."""
    return f"live:{call_sid}"


def publish(redis: Redis, call_sid: str, kind: str, data: dict[str, Any]) -> str:
    """Append an event to the call's feed and keep the feed alive; returns the event's id."""
    if kind not in KINDS:
        raise ValueError(f"unknown live event kind {kind!r}")
    sealed = sealing.current().seal(json.dumps(data, ensure_ascii=False), _context(call_sid))
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(
        keys.live_call(call_sid),
        {"kind": kind, "data": sealed},
        maxlen=MAX_EVENTS,
        approximate=True,
    )
    pipe.expire(keys.live_call(call_sid), TTL_S)
    event_id, _ = pipe.execute()
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)


def read(
    redis: Redis,
    call_sid: str,
    after: str = "0",
    *,
    block_ms: int | None = None,
    count: int = 500,
) -> list[LiveEvent]:
    """Events of the call's feed after an id ("0": from the start), waiting up to block_ms for
    the first one when none is there yet (None: do not wait)."""
    key = keys.live_call(call_sid)
    answer = redis.xread({key: after}, count=count, block=block_ms)
    if not answer:
        return []
    sealer = sealing.current()
    events = []
    for raw_id, fields in answer[0][1]:
        kind, data = _field(fields, "kind"), _field(fields, "data")
        text = sealer.open(data, _context(call_sid))
        events.append(LiveEvent(_text(raw_id), kind, json.loads(text) if text else {}))
    return events


def erase(redis: Redis, call_sid: str) -> int:
    """Drop a call's feed and its stream's marker (a person's data erased); how many keys went."""
    return int(redis.delete(keys.live_call(call_sid), keys.live_stream(call_sid)))


def _field(fields: dict[Any, Any], name: str) -> str:
    """A stream entry's field as text, whether the client decodes responses or not."""
    value = fields.get(name, fields.get(name.encode(), ""))
    return _text(value)


def _text(value: Any) -> str:
    """Bytes or text as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def claim_stream(redis: Redis, call_sid: str) -> bool:
    """Mark a call's leg as streaming its audio; True only the first time, so a caller who
    rejoins the conference (after a transfer, the agent's menu) is not given a second stream."""
    return bool(redis.set(keys.live_stream(call_sid), "1", nx=True, ex=TTL_S))
