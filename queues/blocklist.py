"""The caller blocklist kept by supervisors: digests of abusive numbers, never the numbers.

Each entry keeps who blocked the number, when, why, and the masked number for the console;
every change is written to the event stream for the audit trail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from redis import Redis

from queues import events, keys
from queues.waiting import caller_digest
from routing.privacy import mask_number

_E164 = re.compile(r"^\+[1-9]\d{5,14}$")
MAX_REASON = 200


@dataclass(frozen=True)
class BlockEntry:
    """One blocked number as supervisors see it: masked number, who, when and why."""

    digest: str
    masked: str
    by: str
    at: float
    reason: str


def normalise(number: str) -> str:
    """Return a number in E.164 form without spaces or dashes, or raise ValueError."""
    compact = re.sub(r"[\s\-()]", "", number or "")
    if not _E164.match(compact):
        raise ValueError(f"not a phone number in E.164 form: {mask_number(number)!r}")
    return compact


class Blocklist:
    """Adds, removes and lists blocked caller numbers; the owner of the blocklist keys."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def add(self, number: str, *, by: str, now: float, reason: str = "") -> BlockEntry:
        """Block a number (again: the entry is refreshed) and audit who did it."""
        compact = normalise(number)
        entry = BlockEntry(
            caller_digest(compact), mask_number(compact), by, now, reason[:MAX_REASON]
        )
        pipe = self.redis.pipeline()
        pipe.sadd(keys.blocklist(), entry.digest)
        pipe.hset(keys.blocklist_entries(), entry.digest, json.dumps(_fields(entry)))
        events.append(
            self.redis,
            "blocklist-add",
            pipeline=pipe,
            at=f"{now:.3f}",
            by=by,
            caller=entry.digest,
            masked=entry.masked,
            reason=entry.reason or None,
        )
        pipe.execute()
        return entry

    def remove(self, number_or_digest: str, *, by: str, now: float) -> bool:
        """Unblock a number (or a digest from the list); tell whether it was blocked."""
        digest = self._digest(number_or_digest)
        pipe = self.redis.pipeline()
        pipe.srem(keys.blocklist(), digest)
        pipe.hdel(keys.blocklist_entries(), digest)
        removed = bool(pipe.execute()[0])
        if removed:
            events.append(self.redis, "blocklist-remove", at=f"{now:.3f}", by=by, caller=digest)
        return removed

    def contains(self, number: str) -> bool:
        """Tell whether a caller's number is blocked (an unreadable number never is)."""
        try:
            compact = normalise(number)
        except ValueError:
            return False
        return bool(self.redis.sismember(keys.blocklist(), caller_digest(compact)))

    def entries(self) -> list[BlockEntry]:
        """Every blocked number, newest first."""
        raw = self.redis.hgetall(keys.blocklist_entries())
        found = [_entry(digest.decode(), json.loads(value)) for digest, value in raw.items()]
        return sorted(found, key=lambda entry: entry.at, reverse=True)

    def _digest(self, number_or_digest: str) -> str:
        """A digest from a number, or the digest itself when one is given."""
        if re.fullmatch(r"[0-9a-f]{24}", number_or_digest or ""):
            return number_or_digest
        return caller_digest(normalise(number_or_digest))


def _fields(entry: BlockEntry) -> dict[str, object]:
    """The stored fields of an entry."""
    return {"masked": entry.masked, "by": entry.by, "at": entry.at, "reason": entry.reason}


def _entry(digest: str, data: dict[str, object]) -> BlockEntry:
    """Rebuild an entry from its stored fields."""
    return BlockEntry(
        digest=digest,
        masked=str(data.get("masked", "")),
        by=str(data.get("by", "")),
        at=float(data.get("at", 0.0)),  # type: ignore[arg-type]
        reason=str(data.get("reason", "")),
    )
