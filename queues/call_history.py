"""Past calls for the staffing forecast, read from what Redis still holds: the event stream.

Until the durable call records (queues.records) can be read, the forecast learns from the event
stream: a call's `queued` event is its arrival at an area's queue (answered or not), `bridged`
the moment caller and agent met, and `wrap-up` when the call ended, with the end of the agent's
wrap-up. Handling time is talk plus wrap-up. The stream is capped (queues.events.MAX_EVENTS), so
it reaches back days, not weeks: `since` tells how far, and the plan says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

from queues import keys
from routing.forecast import PastCall

# Entries read per round trip: a capped stream is read whole in a few hundred of them.
PAGE = 5000


@dataclass
class _Call:
    """What the stream told about one queued call so far."""

    arrived: float
    area: str
    bridged: float | None = None
    handling_s: float | None = None


class EventStreamHistory:
    """The calls queued for agents, as the Redis event stream still holds them."""

    description = "the Redis event stream, a few days deep (not yet the durable call records)"

    def __init__(self, redis: Redis):
        self.redis = redis

    def since(self) -> datetime | None:
        """When the stream's oldest entry was written; None when the stream is empty."""
        first = self.redis.xrange(keys.events(), count=1)
        if not first:
            return None
        _, fields = first[0]
        at = fields.get(b"at")
        return _instant(float(at)) if at else _instant(_id_seconds(first[0][0]))

    def calls(self, start: datetime, end: datetime, area: str) -> list[PastCall]:
        """The area's calls queued from start to end (end excluded), with their handling time."""
        low, high = start.timestamp(), end.timestamp()
        found: dict[str, _Call] = {}
        for fields in self._entries():
            kind, call_sid = fields.get("kind"), fields.get("call", "")
            at = float(fields.get("at") or 0)
            if kind == "queued" and call_sid not in found and fields.get("area") == area:
                if low <= at < high:
                    found[call_sid] = _Call(at, area)
            elif kind == "bridged" and call_sid in found:
                found[call_sid].bridged = at
            elif kind == "wrap-up" and call_sid in found and found[call_sid].bridged is not None:
                call = found[call_sid]
                until = float(fields.get("until") or at)
                call.handling_s = max(0.0, until - (call.bridged or at))
        return [PastCall(_instant(c.arrived), c.area, c.handling_s) for c in found.values()]

    def _entries(self) -> Iterator[dict[str, str]]:
        """Every entry of the stream, oldest first, a page at a time."""
        after = "-"
        while True:
            rows = self.redis.xrange(keys.events(), min=after, max="+", count=PAGE)
            for _, fields in rows:
                yield {name.decode(): value.decode() for name, value in fields.items()}
            if len(rows) < PAGE:
                return
            after = f"({rows[-1][0].decode()}"


def _id_seconds(entry_id: bytes) -> float:
    """The time in a stream entry's id (milliseconds before the dash)."""
    return int(entry_id.split(b"-")[0]) / 1000


def _instant(epoch: float) -> datetime:
    """An epoch time as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)
