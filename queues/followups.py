"""Follow-ups: callers who rated a call unsatisfactory, owed a callback by a supervisor.

One hash per call (opened once, whatever the number of repeated webhooks), an index of every
follow-up and one of the open ones. The caller's number is kept only while the callback is
owed: closing a follow-up drops it and keeps the masked number, and a closed follow-up expires.
While it is kept the number is sealed (`queues.sealing`); a plain one from an older version is
read as it is. The supervisor's closing note says what was done, and the audit log keeps it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import events, keys, sealing
from queues.records import trigger as records
from queues.sealing import Sealer
from routing.privacy import mask_number

# A closed follow-up stays listed this long (for the supervisors' record), then expires.
CLOSED_KEEP_S = 30 * 24 * 3600
MAX_NOTE = 500

# Closes a follow-up once: the first close wins, a repeat or a close of the unknown changes
# nothing. The number goes with the close: the callback it was kept for is done.
_CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], 'closed_at', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'closed_by', ARGV[2], 'note', ARGV[3])
redis.call('HDEL', KEYS[1], 'caller')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class FollowUp:
    """One unsatisfied caller's follow-up and where it stands."""

    call_sid: str
    opened_at: float
    area: str
    language: str
    agent: str
    # The number to call back, for supervisors only; empty once closed. Show `caller_masked`.
    caller: str
    caller_masked: str
    closed_at: float | None = None
    closed_by: str = ""
    note: str = ""

    @property
    def closed(self) -> bool:
        """Whether a supervisor closed it."""
        return self.closed_at is not None

    def public(self) -> dict[str, Any]:
        """The follow-up as consoles and the API list it: the number only masked."""
        return {
            "call": self.call_sid,
            "opened_at": self.opened_at,
            "area": self.area,
            "language": self.language,
            "agent": self.agent,
            "caller": self.caller_masked,
            "closed": self.closed,
            "closed_at": self.closed_at,
            "closed_by": self.closed_by,
            "note": self.note,
        }


class UnknownFollowUp(Exception):
    """No follow-up for that call."""


class FollowUps:
    """Opens, lists and closes follow-ups; the only owner of the follow-up keys."""

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._close = redis.register_script(_CLOSE)
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """What seals the number: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def open(
        self,
        call_sid: str,
        *,
        area: str,
        language: str,
        agent: str,
        caller: str,
        now: float,
    ) -> bool:
        """Open a call's follow-up once; False when it already had one."""
        key = keys.followup(call_sid)
        if not self.redis.hsetnx(key, "opened_at", f"{now:.3f}"):
            return False
        pipe = self.redis.pipeline()
        pipe.hset(
            key,
            mapping={
                "area": area,
                "language": language,
                "agent": agent,
                "caller": self.sealer.seal(caller, f"followup:{call_sid}:caller"),
                "masked": mask_number(caller),
            },
        )
        pipe.zadd(keys.followups(), {call_sid: now})
        pipe.zadd(keys.followups_open(), {call_sid: now})
        events.append(
            self.redis,
            "follow-up",
            pipeline=pipe,
            at=f"{now:.3f}",
            call=call_sid,
            agent=agent,
            area=area,
            language=language,
        )
        pipe.execute()
        return True

    def get(self, call_sid: str) -> FollowUp | None:
        """Return a call's follow-up, or None."""
        raw = self.redis.hgetall(keys.followup(call_sid))
        return _follow_up(call_sid, raw, self.sealer) if raw else None

    def newest(self, *, limit: int = 100, include_closed: bool = False) -> list[FollowUp]:
        """Follow-ups newest first: the open ones, or every one still kept."""
        index = keys.followups() if include_closed else keys.followups_open()
        calls = [sid.decode() for sid in self.redis.zrevrange(index, 0, limit - 1)]
        pipe = self.redis.pipeline()
        for call_sid in calls:
            pipe.hgetall(keys.followup(call_sid))
        found, gone = [], []
        for call_sid, raw in zip(calls, pipe.execute(), strict=True):
            if raw:
                found.append(_follow_up(call_sid, raw, self.sealer))
            else:
                gone.append(call_sid)
        if gone:
            # Closed follow-ups expire on their own; their index entries go when next listed.
            self.redis.zrem(keys.followups(), *gone)
        return found

    def open_count(self) -> int:
        """How many follow-ups wait for a supervisor's callback."""
        return int(self.redis.zcard(keys.followups_open()))

    def close(self, call_sid: str, *, by: str, note: str, now: float) -> bool:
        """Close a follow-up (called back, or no callback needed); False when already closed."""
        answer = self._close(
            keys=[keys.followup(call_sid), keys.followups_open()],
            args=[f"{now:.3f}", by, note[:MAX_NOTE], CLOSED_KEEP_S, call_sid],
        )
        if answer == -1:
            raise UnknownFollowUp(call_sid)
        if answer == 1:
            events.append(self.redis, "follow-up-closed", at=f"{now:.3f}", call=call_sid, by=by)
            # The one place a follow-up closes: the call's durable record learns it here.
            records.refresh_record(self.redis, call_sid)
        return answer == 1


def _follow_up(call_sid: str, raw: dict[bytes, bytes], sealer: Sealer) -> FollowUp:
    """Build a follow-up from its hash, its number opened."""
    data = {name.decode(): value.decode() for name, value in raw.items()}
    return FollowUp(
        call_sid=call_sid,
        opened_at=float(data.get("opened_at", 0)),
        area=data.get("area", ""),
        language=data.get("language", ""),
        agent=data.get("agent", ""),
        caller=sealer.open(data.get("caller", ""), f"followup:{call_sid}:caller"),
        caller_masked=data.get("masked", ""),
        closed_at=float(data["closed_at"]) if "closed_at" in data else None,
        closed_by=data.get("closed_by", ""),
        note=data.get("note", ""),
    )
