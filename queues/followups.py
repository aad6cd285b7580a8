"""Follow-ups: callers owed another call (an unsatisfied rating, or an agent's outcome code).

One hash per call (opened once, whatever the number of repeated webhooks or reasons), an index
of every follow-up and one of the open ones. The caller's number is kept only while the callback
is owed: closing a follow-up drops it and keeps the masked number, and a closed follow-up
expires. While it is kept the number is sealed (`queues.sealing`); a plain one from an older
version is read as it is. The supervisor's closing note says what was done, and the audit log
keeps it too.

Each follow-up with a number is called back by a callback task (`queues.followup_calls`); the
hash keeps how that task stands (`task`: scheduled, queued, done, unreached, withdrawn, or
no-number for a withheld number, which stays a list item for supervisors). When the callback
reaches the caller the follow-up closes by itself, by the agent who called, at that moment.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from redis import Redis

from queues import events, keys, sealing
from queues.audit import AuditLog
from queues.records import trigger as records
from queues.sealing import Sealer
from routing.follow_ups import call_of
from routing.privacy import mask_number

# A closed follow-up stays listed this long (for the supervisors' record), then expires.
CLOSED_KEEP_S = 30 * 24 * 3600
MAX_NOTE = 500
# How a follow-up's callback task stands (the hash's `task` field; empty: none yet).
TASK_STATES = ("scheduled", "queued", "done", "unreached", "withdrawn", "no-number")
# The task states that end it: nothing more will be dialled.
TASK_ENDED = ("done", "unreached", "withdrawn", "no-number")

# Sets a follow-up's task state while it exists; ARGV[3] lists the states it may move from.
_SET_TASK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' then
  local now = redis.call('HGET', KEYS[1], 'task') or ''
  if not string.find(' ' .. ARGV[3] .. ' ', ' ' .. now .. ' ', 1, true) then return 0 end
end
if redis.call('HGET', KEYS[1], 'task') == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'task', ARGV[1], 'task_at', ARGV[2])
return 1
"""

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
    # Why it is owed (`routing.follow_ups.REASONS`), and the agent's note for an outcome.
    reason: str = "rating"
    why: str = ""
    # How its callback task stands (TASK_STATES, or empty before it is scheduled).
    task: str = ""
    task_at: float | None = None

    @property
    def closed(self) -> bool:
        """Whether it was closed (by a supervisor, or by the callback reaching the caller)."""
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
            "reason": self.reason,
            "task": self.task,
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
        reason: str = "rating",
        why: str = "",
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
                "reason": reason,
                # The agent's note, read to the next agent: sealed like the number.
                "why": self.sealer.seal(why[:MAX_NOTE], f"followup:{call_sid}:why") if why else "",
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
            reason=reason,
        )
        pipe.execute()
        return True

    def set_task(self, call_sid: str, state: str, now: float, *, only_from: tuple = ()) -> bool:
        """Record how a follow-up's callback task stands; with `only_from`, only from those."""
        if state not in TASK_STATES:
            raise ValueError(f"unknown task state {state!r}")
        key = keys.followup(call_sid)
        answer = self.redis.register_script(_SET_TASK)(
            keys=[key], args=[state, f"{now:.3f}", " ".join(only_from)]
        )
        if answer == 1:
            events.append(self.redis, "follow-up-task", at=f"{now:.3f}", call=call_sid, task=state)
        return answer == 1

    def callback_result(self, task: str, state: str, agent: str, now: float) -> None:
        """A callback task's caller was reached (`connected`) or given up on (`closed`)."""
        call_sid = call_of(task)
        if call_sid is None or state not in ("connected", "closed"):
            return
        if state == "closed":
            # The tries are over: the follow-up stays open, for a supervisor to dial by hand.
            self.set_task(call_sid, "unreached", now, only_from=("queued",))
            return
        self.set_task(call_sid, "done", now)
        # Reached: the follow-up is done, by the agent who called, at this moment (unless a
        # supervisor closed it meanwhile, or it expired).
        with suppress(UnknownFollowUp):
            if self.close(call_sid, by=agent, note="", now=now):
                # Audited like a supervisor's close: the agent's accept key closed it.
                AuditLog(self.redis).record(
                    f"phone:{agent}",
                    "followup.close",
                    call_sid,
                    after={"closed": True, "task": "done"},
                    now=now,
                )

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

    # -- a person's data ----------------------------------------------------------------------

    def _of_person(self, number: str, calls: frozenset[str]) -> list[FollowUp]:
        """A person's follow-ups: those of their calls, and any still holding their number.

        Every follow-up kept is read (open ones, and closed ones for 30 days): a bounded list.
        """
        sids = [sid.decode() for sid in self.redis.zrange(keys.followups(), 0, -1)]
        found = (self.get(call_sid) for call_sid in sorted(set(sids) | calls))
        return [f for f in found if f is not None and (f.call_sid in calls or f.caller == number)]

    def export_person(self, number: str, calls: frozenset[str]) -> list[dict[str, object]]:
        """A person's follow-ups with the number where it is still kept."""
        return [{**f.public(), "number": f.caller} for f in self._of_person(number, calls)]

    def erase_person(self, number: str, calls: frozenset[str]) -> int:
        """Delete a person's follow-ups, open or closed, and their index entries; how many."""
        found = self._of_person(number, calls)
        if not found:
            return 0
        pipe = self.redis.pipeline()
        for follow_up in found:
            pipe.delete(keys.followup(follow_up.call_sid))
            pipe.zrem(keys.followups(), follow_up.call_sid)
            pipe.zrem(keys.followups_open(), follow_up.call_sid)
        pipe.execute()
        return len(found)


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
        reason=data.get("reason", "rating"),
        why=sealer.open(data["why"], f"followup:{call_sid}:why") if data.get("why") else "",
        task=data.get("task", ""),
        task_at=float(data["task_at"]) if data.get("task_at") else None,
    )
