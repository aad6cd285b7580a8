"""Repeat callers: each caller's earlier calls, kept under a keyed digest of their number.

When a call ends, its record job (`queues.records.jobs`) remembers it here: date, area,
language, who took it, the rating, the agent's outcome code and flags, and the caller's words
(the intake summary and the agent's note), sealed. The next time the number calls, the agent's
whisper says which call this is ("第3次来电") and the desk lists the earlier ones.

- The number is never kept: a caller's calls are found by `Sealer.digest(number)`, and the
  index key is named by that digest.
- Words are sealed, bound to the call they belong to (`caller-history-call:{sid}:summary`).
- Retention: `records.history_keep_days` (a year by default). Older calls are not shown and are
  dropped at the next write; every key expires that long after its last write.
- Bounded: the newest `MAX_CALLS` calls of a caller are kept, older ones dropped.

For a person's data (PIPL): `export_person(number)` returns everything held about the number's
calls, words opened; `erase_person(number)` deletes it and says how many calls went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import keys, sealing
from queues.calls import CallStore
from queues.notes import CallNotes
from queues.sealing import Sealer

DAY_S = 86_400
DEFAULT_KEEP_DAYS = 365
# A caller who calls every week for a year is still shown in full; older calls are dropped.
MAX_CALLS = 50
# The fields of an earlier call that hold the caller's words: sealed at rest.
SEALED = ("summary", "note")


@dataclass(frozen=True)
class EarlierCall:
    """One earlier call of a caller, as the hotline keeps it for the next agent."""

    call_sid: str
    at: float
    area: str = ""
    language: str = ""
    # Who took the call (an agent id; "" when nobody of the hotline answered).
    agent: str = ""
    summary: str = ""
    note: str = ""
    # Who wrote the note (usually the agent who took the call).
    note_by: str = ""
    flags: tuple[str, ...] = ()
    outcome: str = ""
    # The caller's one-key rating: 1 satisfied, 2 not, 0 none.
    rating: int = 0
    # How the call ended for the caller (the call record's outcome: answered, voicemail...).
    ended: str = ""

    def public(self) -> dict[str, Any]:
        """Everything about the call, as the API and the export show it."""
        return {
            "call_sid": self.call_sid,
            "at": self.at,
            "area": self.area,
            "language": self.language,
            "agent": self.agent,
            "summary": self.summary,
            "note": self.note,
            "note_by": self.note_by,
            "flags": list(self.flags),
            "outcome": self.outcome,
            "rating": self.rating,
            "ended": self.ended,
        }


class CallerHistory:
    """Reads and writes callers' earlier calls; the only owner of the caller-history keys."""

    def __init__(
        self,
        redis: Redis,
        *,
        keep_days: int = DEFAULT_KEEP_DAYS,
        max_calls: int = MAX_CALLS,
        sealer: Sealer | None = None,
    ):
        self.redis = redis
        self.keep_days = keep_days
        self.max_calls = max_calls
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """What digests numbers and seals words: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def digest(self, number: str) -> str:
        """The keyed digest a caller's calls are kept under ("" for no number)."""
        return self.sealer.digest(number) if number else ""

    # --- writing ------------------------------------------------------------------------------

    def remember(self, caller_digest: str, call: EarlierCall, now: float) -> None:
        """Keep (or update) one call of a caller; drop calls past retention or the bound."""
        if not caller_digest or not call.call_sid:
            return
        index = keys.caller_history(caller_digest)
        entry = keys.caller_history_call(call.call_sid)
        ttl = self.keep_days * DAY_S
        pipe = self.redis.pipeline()
        pipe.hset(entry, mapping=self._stored(caller_digest, call))
        pipe.expire(entry, ttl)
        pipe.zadd(index, {call.call_sid: call.at})
        pipe.expire(index, ttl)
        pipe.execute()
        self._prune(caller_digest, now)

    def remember_ended(self, row: dict[str, Any], now: float) -> bool:
        """Keep an ended call from its durable record (`queues.records.gather.call_row`), with
        its summary, note, flags and outcome from Redis; False when there is nothing to keep."""
        call_sid, caller_digest = row.get("call_sid", ""), row.get("caller_digest", "")
        # A caller who hung up in the menu never told anyone anything: not a call to show.
        in_menu = row.get("outcome") == "menu" and row.get("queued_at") is None
        if not caller_digest or (in_menu and not row.get("agent")):
            return False
        record = CallStore(self.redis, sealer=self.sealer).get(call_sid)
        note = CallNotes(self.redis, sealer=self.sealer).get(call_sid)
        call = EarlierCall(
            call_sid=call_sid,
            at=float(row.get("arrived_at") or now),
            area=row.get("area") or "",
            language=row.get("language") or "",
            agent=row.get("agent") or "",
            summary=record.summary if record else "",
            note=note.note,
            note_by=note.agent_id if note.note else "",
            flags=note.flags,
            outcome=note.outcome,
            rating=int(row.get("rating") or 0),
            ended=row.get("outcome") or "",
        )
        self.remember(caller_digest, call, now)
        return True

    def _stored(self, caller_digest: str, call: EarlierCall) -> dict[str, str]:
        """The hash fields of an earlier call, its words sealed to it."""
        fields = call.public()
        stored = {
            "digest": caller_digest,
            "at": repr(call.at),
            "flags": ",".join(call.flags),
            "rating": str(call.rating),
        }
        for name in ("area", "language", "agent", "note_by", "outcome", "ended"):
            stored[name] = str(fields[name])
        for name in SEALED:
            stored[name] = self.sealer.seal(fields[name], self._context(call.call_sid, name))
        return stored

    def _prune(self, caller_digest: str, now: float) -> None:
        """Drop a caller's calls older than retention, then all but the newest max_calls."""
        index = keys.caller_history(caller_digest)
        cutoff = now - self.keep_days * DAY_S
        old = self._sids(self.redis.zrangebyscore(index, "-inf", f"({cutoff!r}"))
        count = self.redis.zcard(index) - len(old)
        if count > self.max_calls:
            old += self._sids(
                self.redis.zrange(index, len(old), len(old) + count - 1 - self.max_calls)
            )
        if old:
            pipe = self.redis.pipeline()
            pipe.zrem(index, *old)
            pipe.delete(*(keys.caller_history_call(sid) for sid in old))
            pipe.execute()

    # --- reading ------------------------------------------------------------------------------

    def earlier_calls(
        self, caller_digest: str, now: float, *, before: str = ""
    ) -> list[EarlierCall]:
        """A caller's calls within retention, newest first; `before` (the call now) left out."""
        if not caller_digest:
            return []
        cutoff = now - self.keep_days * DAY_S
        index = keys.caller_history(caller_digest)
        sids = self._sids(self.redis.zrevrangebyscore(index, "+inf", cutoff))
        calls = self._read(caller_digest, (sid for sid in sids if sid != before))
        return calls[: self.max_calls]

    def count(self, caller_digest: str, now: float, *, before: str = "") -> int:
        """How many earlier calls of a caller are within retention (the call now left out).

        Counted on the index alone, no word opened: the whisper asks on every offer. An entry
        expires no sooner than retention after its call, so the index's scores tell the truth.
        """
        if not caller_digest:
            return 0
        index = keys.caller_history(caller_digest)
        cutoff = now - self.keep_days * DAY_S
        pipe = self.redis.pipeline()
        pipe.zcount(index, cutoff, "+inf")
        pipe.zscore(index, before or "-")
        within, own = pipe.execute()
        itself = 1 if before and own is not None and own >= cutoff else 0
        return min(within - itself, self.max_calls)

    def _read(self, caller_digest: str, sids: Iterable[str]) -> list[EarlierCall]:
        """The stored calls of these sids, in order; an expired or foreign entry is skipped."""
        sids = list(sids)
        pipe = self.redis.pipeline()
        for sid in sids:
            pipe.hgetall(keys.caller_history_call(sid))
        found = []
        for sid, raw in zip(sids, pipe.execute(), strict=True):
            data = {k.decode(): v.decode() for k, v in raw.items()}
            if data.get("digest") != caller_digest:
                continue  # expired between the index and the entry: gone
            found.append(self._call(sid, data))
        return found

    def _call(self, call_sid: str, data: dict[str, str]) -> EarlierCall:
        """An earlier call from its hash, words opened."""
        words = {
            name: self.sealer.open(data.get(name, ""), self._context(call_sid, name))
            for name in SEALED
        }
        return EarlierCall(
            call_sid=call_sid,
            at=float(data.get("at") or 0),
            area=data.get("area", ""),
            language=data.get("language", ""),
            agent=data.get("agent", ""),
            summary=words["summary"],
            note=words["note"],
            note_by=data.get("note_by", ""),
            flags=tuple(flag for flag in data.get("flags", "").split(",") if flag),
            outcome=data.get("outcome", ""),
            rating=int(data.get("rating") or 0),
            ended=data.get("ended", ""),
        )

    # --- a person's data --------------------------------------------------------------------

    def export_person(self, number: str) -> list[dict[str, Any]]:
        """Everything kept about a number's calls, oldest first, words opened (for an export)."""
        caller_digest = self.digest(number)
        if not caller_digest:
            return []
        sids = self._sids(self.redis.zrange(keys.caller_history(caller_digest), 0, -1))
        return [call.public() for call in self._read(caller_digest, sids)]

    def erase_person(self, number: str) -> int:
        """Delete every call kept about a number; returns how many calls were deleted."""
        caller_digest = self.digest(number)
        if not caller_digest:
            return 0
        index = keys.caller_history(caller_digest)
        sids = self._sids(self.redis.zrange(index, 0, -1))
        pipe = self.redis.pipeline()
        for sid in sids:
            pipe.delete(keys.caller_history_call(sid))
        pipe.delete(index)
        pipe.execute()
        return len(sids)

    @staticmethod
    def _context(call_sid: str, name: str) -> str:
        """Where a sealed word is kept: it opens only there."""
        return f"caller-history-call:{call_sid}:{name}"

    @staticmethod
    def _sids(raw: Iterable[bytes]) -> list[str]:
        """Call sids as text."""
        return [sid.decode() for sid in raw]
