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
    event = entry(kind, **fields)
    target = pipeline if pipeline is not None else redis
    target.xadd(keys.events(), event, maxlen=MAX_EVENTS, approximate=True)
    counted(redis, kind, event)


def entry(kind: str, **fields: object) -> dict[str, str]:
    """An event as the stream keeps it: its kind, the time now and its fields (None dropped)."""
    event = {"kind": kind, "at": f"{time.time():.3f}"}
    event.update({name: str(value) for name, value in fields.items() if value is not None})
    return event


def counted(redis: Redis, kind: str, event: dict[str, str]) -> None:
    """Count an appended event in /metrics (calls, waits and crises from the moments the
    stream records); for an event a script appended, once its answer says it did."""
    metrics.observe_event(redis, kind, event)


def lua_append(stream_key: int, first_arg: int) -> str:
    """Lua appending the event whose field and value pairs are ARGV[first_arg] onwards to the
    stream named by KEYS[stream_key], trimmed as `append` trims: for a script whose write and
    event must happen in one atomic step (pass the pairs from `flat(entry(...))`)."""
    return (
        f"redis.call('XADD', KEYS[{stream_key}], 'MAXLEN', '~', {MAX_EVENTS}, '*',"
        f" unpack(ARGV, {first_arg}))"
    )


def flat(event: dict[str, str]) -> list[str]:
    """An event's fields and values in turn, as `lua_append` reads them."""
    return [part for pair in event.items() for part in pair]


def recent(redis: Redis, count: int = 100) -> list[dict[str, str]]:
    """Return the latest events, newest first."""
    rows = redis.xrevrange(keys.events(), count=count)
    return [{name.decode(): value.decode() for name, value in fields.items()} for _, fields in rows]


# Events read per round trip when the stream is searched for a person's events.
SEARCH_PAGE = 1000


def of_person(redis: Redis, digest: str, calls: frozenset[str]) -> list[tuple[str, dict[str, str]]]:
    """The events that name a caller's keyed digest or one of their calls: the whole stream is
    read (at most MAX_EVENTS, SEARCH_PAGE a round trip: a second or two when full)."""
    found, start = [], "-"
    while rows := redis.xrange(keys.events(), min=start, max="+", count=SEARCH_PAGE):
        for event_id, fields in rows:
            event = {name.decode(): value.decode() for name, value in fields.items()}
            if event.get("call") in calls or digest in event.values():
                found.append((event_id.decode(), event))
        start = "(" + rows[-1][0].decode()
    return found


def erase_digest(redis: Redis, digest: str, calls: frozenset[str]) -> int:
    """Delete the events that name a caller's keyed digest (blocklist, agent line); how many.

    Events of their calls stay: they hold call ids and masked numbers only, and today's
    figures on the wallboard count them.
    """
    doomed = [i for i, event in of_person(redis, digest, calls) if digest in event.values()]
    return int(redis.xdel(keys.events(), *doomed)) if doomed else 0
