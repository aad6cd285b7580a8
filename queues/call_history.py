"""Past calls for the staffing forecast: from the durable call records, else the event stream.

The durable call records (queues.records) keep a row per call for years: a call that reached the
queue is demand, its talk and wrap-up its handling time. Where they hold nothing yet (a new
database, before the backfill), the forecast learns from the Redis event stream: a call's
`queued` event is its arrival at an area's queue (answered or not), `bridged` the moment caller
and agent met, and `wrap-up` when the call ended, with the end of the agent's wrap-up. The
stream is capped (queues.events.MAX_EVENTS), so it reaches back days, not weeks: `since` tells
how far, and the plan says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis import Redis

from queues import keys
from routing.forecast import PastCall

if TYPE_CHECKING:
    # SQLAlchemy comes with the store, which its opener imports: not every process needs it.
    from queues.records.store import RecordStore

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

    description = "the Redis event stream, a few days deep (no durable call record kept yet)"

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


class RecordsHistory:
    """The calls queued for agents, as the durable call records keep them (for years)."""

    description = "the durable call records"

    def __init__(self, store: RecordStore):
        self.store = store

    def since(self) -> datetime | None:
        """When the oldest kept call arrived; None when none is kept."""
        first = self.store.first_arrival()
        return _instant(first) if first is not None else None

    def calls(self, start: datetime, end: datetime, area: str) -> list[PastCall]:
        """The area's calls that reached the queue from start to end (end excluded)."""
        found = []
        for row in self.store.calls_between(start.timestamp(), end.timestamp()):
            # A call that never reached the queue (menu, crisis line) asked no agent's time.
            if row["area"] != area or row["queued_at"] is None:
                continue
            handling = None
            if row["answered_at"] is not None and row["talk_s"] is not None:
                handling = row["talk_s"] + (row["wrap_up_s"] or 0.0)
            found.append(PastCall(_instant(row["queued_at"]), area, handling))
        return found
