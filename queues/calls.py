"""Calls as Redis hashes: what the menu learned about a caller, and the call's status.

The caller's number and words (speech, the intake answers and summary, the crisis words heard)
are sealed (`queues.sealing`): the number is needed while the call and its callbacks live (the
rating's follow-up, a voicemail's callback), so it is kept, but only encrypted. A plain value
written by an older version is read as it is and sealed when next written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import events, keys, sealing
from queues.records import trigger as records
from queues.sealing import Sealer

# A finished call's facts are kept this long for reports and callbacks, then expire.
CALL_TTL_S = 7 * 24 * 3600

# Twilio's call statuses in the order they can happen; callbacks can repeat or arrive late.
STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "failed": 4,
    "no-answer": 4,
    "canceled": 4,
}

# The fields that hold the caller's number or words: sealed in Redis, opened when read.
SEALED_FIELDS = frozenset({"caller", "speech", "summary", "answers", "crisis_words"})

# Call hashes read per round trip when a person's calls are looked for (`calls_of`).
SCAN_PAGE = 500

# Moves status forward only: a late "ringing" after "completed" changes nothing.
_ADVANCE_STATUS = """
local current = tonumber(redis.call('HGET', KEYS[1], 'status_rank') or '-1')
local incoming = tonumber(ARGV[2])
if incoming <= current then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_rank', ARGV[2], 'updated_at', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# A new call's record (its start, sealed number and lifetime) and its `incoming` event, in one
# atomic step that a repeated greeting leaves as it was. Sent whole (EVAL, not EVALSHA) so it
# can share the greeting's one pipelined round trip: Redis keeps it compiled by its digest,
# and no server (a restarted one, a new primary after a failover) can answer NOSCRIPT.
_START = (
    """
if redis.call('HSETNX', KEYS[1], 'started_at', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'caller', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""
    + events.lua_append(2, 4)
    + """
return 1
"""
)


@dataclass(frozen=True)
class CallRecord:
    """What the hotline knows about a call."""

    call_sid: str
    caller: str
    language: str
    area: str
    status: str
    summary: str
    speech: str
    crisis_trigger: str
    leave_intent: str
    agent_leg: str = ""
    # The leg of the latest callback to the caller, which may still be ringing their phone.
    callback_leg: str = ""
    reservation: str = ""
    agent: str = ""
    heavy: bool = False
    # Who took a crisis call after its whisper, and on which leg of theirs.
    crisis_taker: str = ""
    crisis_taker_leg: str = ""
    # The caller's one-key rating after the call (1 satisfied, 2 not), 0 when not rated.
    rating: int = 0
    # The intake answers as the menu wrote them, one key per question ("12", "-" skipped).
    answers: str = ""


class CallStore:
    """Reads and writes call hashes; the only owner of the call key."""

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._advance = redis.register_script(_ADVANCE_STATUS)
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """What seals callers' numbers and words: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def _stored(self, call_sid: str, name: str, value: str) -> str:
        """A field's value as Redis keeps it: sealed to its call and field when it is private."""
        if name not in SEALED_FIELDS:
            return value
        return self.sealer.seal(value, f"call:{call_sid}:{name}")

    def _read(self, call_sid: str, data: dict[str, str], name: str) -> str:
        """A field's value as it was written (sealed ones opened, older plain ones as they are)."""
        value = data.get(name, "")
        return self.sealer.open(value, f"call:{call_sid}:{name}") if value else ""

    def start(self, call_sid: str, caller: str) -> bool:
        """Record a new incoming call once; return False when it was already known."""
        pipe = self.redis.pipeline(transaction=False)
        started = self.start_in(pipe, call_sid, caller)
        return started(pipe.execute())

    def start_in(
        self, pipe: Any, call_sid: str, caller: str, *, at: float | None = None
    ) -> Callable[[list[Any]], bool]:
        """Queue `start` on a pipeline shared with other commands (one round trip); the
        function returned reads from that pipeline's results whether the call was new.

        `at` is when the greeting answered, for a start written after it (`queues.call_starts`).
        """
        position = len(pipe)
        incoming = events.entry("incoming", call=call_sid)
        if at is not None:
            incoming["at"] = f"{at:.3f}"
        pipe.eval(
            _START,
            2,
            keys.call(call_sid),
            keys.events(),
            incoming["at"],
            self._stored(call_sid, "caller", caller),
            CALL_TTL_S,
            *events.flat(incoming),
        )

        def finish(results: list[Any]) -> bool:
            if results[position]:
                events.counted(self.redis, "incoming", incoming)
            return bool(results[position])

        return finish

    def update(self, call_sid: str, *, pipeline=None, **fields: str) -> None:
        """Set facts learned about the call (language, area, summary, speech...).

        The record's lifetime starts again with each fact: a fact learned after the record has
        expired (a late callback) makes a new one that expires too, never a record kept forever.
        """
        mapping = {k: self._stored(call_sid, k, v) for k, v in fields.items() if v is not None}
        if not mapping:
            return
        target = pipeline if pipeline is not None else self.redis.pipeline()
        target.hset(keys.call(call_sid), mapping=mapping)
        target.expire(keys.call(call_sid), CALL_TTL_S)
        if pipeline is None:
            target.execute()

    def advance_status(self, call_sid: str, status: str, *, caller: str = "") -> bool:
        """Move the call's status forward; repeated or out-of-order callbacks change nothing.

        With `caller`, a call whose start was not written yet (its greeting's start is written
        behind it, `queues.call_starts`) is started first, in the same round trip: the call's
        `incoming` event always comes before its `ended`.
        """
        rank = STATUS_RANK.get(status)
        if rank is None:
            return False
        args = [status, rank, f"{time.time():.3f}", CALL_TTL_S]
        if caller:
            pipe = self.redis.pipeline(transaction=False)
            started = self.start_in(pipe, call_sid, caller)
            # Sent whole, as the start is: a registered script costs a pipeline a round trip.
            pipe.eval(_ADVANCE_STATUS, 1, keys.call(call_sid), *args)
            results = pipe.execute()
            started(results)
            changed = results[-1]
        else:
            changed = self._advance(keys=[keys.call(call_sid)], args=args)
        if changed and rank == max(STATUS_RANK.values()):
            events.append(self.redis, "ended", call=call_sid, status=status)
            # The one place a call ends: its durable record is asked for here, once.
            records.record_call(self.redis, call_sid)
        return bool(changed)

    def get(self, call_sid: str) -> CallRecord | None:
        """Return a call's record, or None if unknown."""
        raw = self.redis.hgetall(keys.call(call_sid))
        if not raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return CallRecord(
            call_sid=call_sid,
            caller=self._read(call_sid, data, "caller"),
            language=data.get("language", ""),
            area=data.get("area", ""),
            status=data.get("status", ""),
            summary=self._read(call_sid, data, "summary"),
            speech=self._read(call_sid, data, "speech"),
            crisis_trigger=data.get("crisis_trigger", ""),
            leave_intent=data.get("leave_intent", ""),
            agent_leg=data.get("agent_leg", ""),
            callback_leg=data.get("callback_leg", ""),
            reservation=data.get("reservation", ""),
            agent=data.get("agent", ""),
            heavy=data.get("heavy") == "1",
            crisis_taker=data.get("crisis_taker", ""),
            crisis_taker_leg=data.get("crisis_taker_leg", ""),
            rating=int(data["rating"]) if data.get("rating", "").isdigit() else 0,
            answers=self._read(call_sid, data, "answers"),
        )

    def rate(
        self, call_sid: str, rating: int, *, agent: str, area: str, language: str, now: float
    ) -> bool:
        """Keep the caller's rating once and append a `rated` event; a repeat changes nothing."""
        key = keys.call(call_sid)
        if not self.redis.hsetnx(key, "rating", str(rating)):
            return False
        pipe = self.redis.pipeline()
        pipe.hset(key, "rated_at", f"{now:.3f}")
        # A record lost to a Redis outage is created here: it expires like any other.
        pipe.expire(key, CALL_TTL_S)
        # No number in the event: reports and the wallboard need only who, what and how rated.
        events.append(
            self.redis,
            "rated",
            pipeline=pipe,
            at=f"{now:.3f}",
            call=call_sid,
            agent=agent,
            area=area,
            language=language,
            rating=rating,
        )
        pipe.execute()
        return True

    # -- a person's data ----------------------------------------------------------------------

    def calls_of(self, number: str) -> set[str]:
        """The calls kept for a number: every call hash is opened (SCAN), as none is indexed.

        Call hashes live 7 days, so this reads a week of calls: about 1 ms per 100 calls.
        """
        found: set[str] = set()
        prefix = keys.call("")
        batch: list[str] = []
        for raw in self.redis.scan_iter(match=keys.call("*"), count=SCAN_PAGE):
            batch.append(raw.decode()[len(prefix) :])
            if len(batch) >= SCAN_PAGE:
                found |= self._callers_match(batch, number)
                batch = []
        return found | self._callers_match(batch, number)

    def _callers_match(self, call_sids: list[str], number: str) -> set[str]:
        """The calls among these whose caller is the number."""
        pipe = self.redis.pipeline(transaction=False)
        for call_sid in call_sids:
            pipe.hget(keys.call(call_sid), "caller")
        return {
            call_sid
            for call_sid, value in zip(call_sids, pipe.execute(), strict=True)
            if value and self.sealer.open(value.decode(), f"call:{call_sid}:caller") == number
        }

    def export_person(self, number: str, calls: Iterable[str]) -> list[dict[str, Any]]:
        """A person's calls as kept in Redis, words and number opened."""
        found = (self.get(call_sid) for call_sid in sorted(set(calls)))
        return [vars(record) | {"kept": "redis"} for record in found if record is not None]

    def erase_person(self, number: str, calls: Iterable[str]) -> int:
        """Delete a person's call hashes; how many there were."""
        sids = sorted(set(calls))
        return int(self.redis.delete(*(keys.call(sid) for sid in sids))) if sids else 0
