"""Agents' notes on calls: a short wrap-up note and flags (heavy, crisis) per call.

A note tells what the caller said and needs, so it is sealed in Redis (`queues.sealing`); a
note written by an older version, plain, is read as it is and sealed when next written.

With the note goes the call's outcome code (config `outcomes:`, e.g. `follow_up` 需回访): kept
plain, since a code says nothing about the caller, and told on the event stream as an `outcome`
event (call, agent, code, and `follow_up=1` when the code owes the caller another call), which
is what turns a follow-up outcome into work for someone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from queues import events, keys, sealing
from queues.sealing import Sealer

FLAGS = ("heavy", "crisis")
# The event an outcome code given at wrap-up appends: {call, agent, outcome, follow_up}.
OUTCOME_EVENT = "outcome"
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
    # The outcome code given at wrap-up ("" until one is given).
    outcome: str = ""


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
        return CallNote(call_sid, data.get("agent", ""), note, flags, data.get("outcome", ""))

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

    def set_outcome(
        self, call_sid: str, agent_id: str, code: str, now: float, *, follow_up: bool = False
    ) -> bool:
        """Give a call its outcome code (checked by the caller against the config); True when
        it changed, and then an `outcome` event tells the stream (follow_up=1 for 需回访)."""
        key = keys.call_note(call_sid)
        previous = self.redis.hget(key, "outcome")
        if previous is not None and previous.decode() == code:
            return False
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"outcome": code, "outcome_by": agent_id, "outcome_at": repr(now)})
        pipe.expire(key, NOTE_TTL_S)
        events.append(
            self.redis,
            OUTCOME_EVENT,
            pipeline=pipe,
            at=f"{now:.3f}",
            call=call_sid,
            agent=agent_id,
            outcome=code,
            follow_up="1" if follow_up else None,
        )
        pipe.execute()
        return True

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

    # -- a person's data ----------------------------------------------------------------------

    def export_person(self, number: str, calls: frozenset[str]) -> list[dict[str, object]]:
        """The notes and flags on a person's calls, words opened."""
        found = (self.get(call_sid) for call_sid in sorted(calls))
        return [vars(note) for note in found if note.agent_id or note.note or note.flags]

    def erase_person(self, number: str, calls: frozenset[str]) -> int:
        """Delete the notes on a person's calls; how many there were."""
        sids = sorted(calls)
        return int(self.redis.delete(*(keys.call_note(sid) for sid in sids))) if sids else 0
