"""Agents' notes on calls: a short wrap-up note and flags (heavy, crisis) per call.

A note tells what the caller said and needs, so it is sealed in Redis (`queues.sealing`); a
note written by an older version, plain, is read as it is and sealed when next written.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from queues import events, keys, sealing
from queues.sealing import Sealer

FLAGS = ("heavy", "crisis")
MAX_NOTE = 1000
# Notes live as long as the call's own record does.
NOTE_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class CallNote:
    """What the agent wrote and flagged about one call."""

    call_sid: str
    agent_id: str
    note: str
    flags: tuple[str, ...]


class CallNotes:
    """Reads and writes call notes; the only owner of the call-note key."""

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """What seals notes: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def get(self, call_sid: str) -> CallNote:
        """Return the note on a call (empty when none)."""
        raw = self.redis.hgetall(keys.call_note(call_sid))
        data = {k.decode(): v.decode() for k, v in raw.items()}
        flags = tuple(flag for flag in FLAGS if data.get(flag) == "1")
        note = self.sealer.open(data.get("note", ""), f"call-note:{call_sid}:note")
        return CallNote(call_sid, data.get("agent", ""), note, flags)

    def write(self, call_sid: str, agent_id: str, note: str, now: float) -> None:
        """Store the agent's wrap-up note on a call."""
        pipe = self.redis.pipeline()
        pipe.hset(
            keys.call_note(call_sid),
            mapping={
                "agent": agent_id,
                "note": self.sealer.seal(note[:MAX_NOTE], f"call-note:{call_sid}:note"),
                "noted_at": repr(now),
            },
        )
        pipe.expire(keys.call_note(call_sid), NOTE_TTL_S)
        pipe.execute()

    def flag(self, call_sid: str, agent_id: str, flag: str, now: float) -> bool:
        """Flag a call heavy or crisis once; the event tells supervisors and the crisis path."""
        if flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}")
        created = self.redis.hsetnx(keys.call_note(call_sid), flag, "1")
        if created:
            pipe = self.redis.pipeline()
            pipe.hset(keys.call_note(call_sid), mapping={"agent": agent_id})
            pipe.expire(keys.call_note(call_sid), NOTE_TTL_S)
            events.append(
                self.redis,
                "flagged",
                pipeline=pipe,
                at=f"{now:.3f}",
                call=call_sid,
                agent=agent_id,
                flag=flag,
            )
            pipe.execute()
        return bool(created)
