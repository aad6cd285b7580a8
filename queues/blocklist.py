"""The caller blocklist kept by supervisors: keyed digests of abusive numbers, never the numbers.

Each entry keeps who blocked the number, when, why, and the masked number for the console;
every change is written to the event stream for the audit trail.

Entries written before digests were keyed hold the number's unkeyed SHA-256 digest, which
cannot be turned into the keyed one without the number. Such an entry (its fields lack
`keyed`) still blocks: a caller is looked up under both digests, and the first call from the
number moves its entry under the keyed digest, after which only the keyed one is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import events, keys, screening_news, sealing
from queues.sealing import DIGEST_CHARS, Sealer, unkeyed_digest
from routing.privacy import mask_number

_E164 = re.compile(r"^\+[1-9]\d{5,14}$")
MAX_REASON = 200

# Moves an entry from a number's unkeyed digest to its keyed one, once: a supervisor who
# removed it meanwhile wins, and two calls from the number at once move it once.
_REKEY = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


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

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """Where the keyed digests come from: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def add(self, number: str, *, by: str, now: float, reason: str = "") -> BlockEntry:
        """Block a number (again: the entry is refreshed) and audit who did it."""
        compact = normalise(number)
        entry = BlockEntry(
            self.sealer.digest(compact), mask_number(compact), by, now, reason[:MAX_REASON]
        )
        old = unkeyed_digest(compact)
        pipe = self.redis.pipeline()
        # An entry of the same number from before digests were keyed is replaced, not doubled.
        pipe.srem(keys.blocklist(), old)
        pipe.hdel(keys.blocklist_entries(), old)
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
        screening_news.announce(pipe, screening_news.BLOCKLIST)
        pipe.execute()
        screening_news.changed_here()
        return entry

    def remove(self, number_or_digest: str, *, by: str, now: float) -> bool:
        """Unblock a number (or a digest from the list); tell whether it was blocked."""
        digests = self._digests(number_or_digest)
        pipe = self.redis.pipeline()
        pipe.srem(keys.blocklist(), *digests)
        pipe.hdel(keys.blocklist_entries(), *digests)
        screening_news.announce(pipe, screening_news.BLOCKLIST)
        removed = bool(pipe.execute()[0])
        screening_news.changed_here()
        if removed:
            events.append(self.redis, "blocklist-remove", at=f"{now:.3f}", by=by, caller=digests[0])
        return removed

    def contains(self, number: str) -> bool:
        """Tell whether a caller's number is blocked (an unreadable number never is)."""
        pipe = self.redis.pipeline(transaction=False)
        answer = self.contains_in(pipe, number)
        return answer(pipe.execute())

    def contains_in(self, pipe: Any, number: str) -> Callable[[list[Any]], bool]:
        """Queue `contains`'s reads on a pipeline shared with other reads (one round trip);
        the function returned reads the answer from that pipeline's results."""
        digests = self.digests_of(number)
        if digests is None:
            return lambda _results: False
        keyed, old = digests
        at = len(pipe)
        # Both digests in one command (Redis 6.2+): every command of the greeting's pipeline
        # is one more reply to read and parse.
        pipe.smismember(keys.blocklist(), [keyed, old])
        return lambda results: self._found(keyed, old, *results[at])

    def digests_of(self, number: str) -> tuple[str, str] | None:
        """A caller's keyed and unkeyed digests, or None for what is not a phone number."""
        try:
            compact = normalise(number)
        except ValueError:
            return None
        return self.sealer.digest(compact), unkeyed_digest(compact)

    def digests_in(self, pipe: Any) -> Callable[[list[Any]], frozenset[str]]:
        """Queue a read of every blocked digest on a pipeline (a process's screening copy);
        the function returned reads them from that pipeline's results."""
        at = len(pipe)
        pipe.smembers(keys.blocklist())
        return lambda results: frozenset(digest.decode() for digest in results[at])

    def _found(self, keyed: str, old: str, found: Any, found_old: Any) -> bool:
        """Whether the lookup found the number, moving an unkeyed entry to its keyed digest."""
        if found:
            return True
        if not found_old:
            return False
        # Only an entry from before digests were keyed gets here, once: its fields are read
        # now rather than on every call.
        raw = self.redis.hget(keys.blocklist_entries(), old)
        fields = json.loads(raw) if raw else {}
        if fields.get("keyed"):
            return False
        self._rekey(old, keyed, fields)
        return True

    def _rekey(self, old: str, keyed: str, fields: dict[str, object]) -> None:
        """Move an entry from its unkeyed digest to its keyed one, now that its number called."""
        # Registered here, not with the list: every incoming call makes a Blocklist to look a
        # number up, and only the first call from an unkeyed entry's number moves it.
        move = self.redis.register_script(_REKEY)
        moved = move(
            keys=[keys.blocklist(), keys.blocklist_entries()],
            args=[old, keyed, json.dumps({**fields, "keyed": 1})],
        )
        if moved:
            pipe = self.redis.pipeline(transaction=False)
            events.append(self.redis, "blocklist-rekeyed", pipeline=pipe, caller=keyed)
            screening_news.announce(pipe, screening_news.BLOCKLIST)
            pipe.execute()
            screening_news.changed_here()

    def entries(self) -> list[BlockEntry]:
        """Every blocked number, newest first."""
        raw = self.redis.hgetall(keys.blocklist_entries())
        found = [_entry(digest.decode(), json.loads(value)) for digest, value in raw.items()]
        return sorted(found, key=lambda entry: entry.at, reverse=True)

    def export_person(self, number: str) -> list[dict[str, object]]:
        """A number's blocklist entry (masked number, who blocked it, when and why), if any."""
        digests = self._digests(normalise(number))
        raw = self.redis.hmget(keys.blocklist_entries(), digests)
        return [vars(_entry(d, json.loads(v))) for d, v in zip(digests, raw, strict=True) if v]

    def _digests(self, number_or_digest: str) -> list[str]:
        """A digest given as it is, or a number's keyed and unkeyed digests."""
        if re.fullmatch(rf"[0-9a-f]{{{DIGEST_CHARS}}}", number_or_digest or ""):
            return [number_or_digest]
        compact = normalise(number_or_digest)
        return [self.sealer.digest(compact), unkeyed_digest(compact)]


def _fields(entry: BlockEntry) -> dict[str, object]:
    """The stored fields of an entry; `keyed` tells it from one kept under an unkeyed digest."""
    return {
        "masked": entry.masked,
        "by": entry.by,
        "at": entry.at,
        "reason": entry.reason,
        "keyed": 1,
    }


def _entry(digest: str, data: dict[str, object]) -> BlockEntry:
    """Rebuild an entry from its stored fields."""
    return BlockEntry(
        digest=digest,
        masked=str(data.get("masked", "")),
        by=str(data.get("by", "")),
        at=float(data.get("at", 0.0)),  # type: ignore[arg-type]
        reason=str(data.get("reason", "")),
    )
