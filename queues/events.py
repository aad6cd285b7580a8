"""The event stream: an append-only record of call state changes (numbers never stored raw)."""

from __future__ import annotations

import time
from typing import Any

from redis import Redis

from queues import keys, metrics

# Enough for several days of a busy line; XADD trims approximately, which is cheap.
MAX_EVENTS = 200_000


def append(redis: Redis, kind: str, *, pipeline: Any = None, **fields: object) -> None:
    """Append one event with its kind, time and fields (None values dropped)."""
    entry = {"kind": kind, "at": f"{time.time():.3f}"}
    entry.update({name: str(value) for name, value in fields.items() if value is not None})
    target = pipeline if pipeline is not None else redis
    target.xadd(keys.events(), entry, maxlen=MAX_EVENTS, approximate=True)
    # /metrics counts calls, waits and crises from the same moments the stream records.
    metrics.observe_event(redis, kind, entry)


def recent(redis: Redis, count: int = 100) -> list[dict[str, str]]:
    """Return the latest events, newest first."""
    rows = redis.xrevrange(keys.events(), count=count)
    return [{name.decode(): value.decode() for name, value in fields.items()} for _, fields in rows]
