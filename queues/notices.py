"""Quiet notices: what supervisors should know about a live call, shown on the wallboard only.

A notice is not an alert: nobody is paged and nothing sounds. It says "have a look at this
call" (a caller at the thermometer's top level for a long time) and it lasts as long as the
call: whoever raises it clears it when the call's audio ends. Raising one writes a `notice`
event, clearing it a `notice-cleared` event, as standing conditions write theirs, so the
event stream keeps when each was seen. This module is the only owner of the notices' key.

A notice holds the call's SID, the agent's id and the area, never a number or a word said.
Its raiser keeps it fresh while the call goes on (the live audio stream, every reading): one
left unrefreshed for a minute belongs to a call whose end was never seen (its web process was
killed) and is dropped from the board.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from redis import Redis

from queues import events, keys

log = logging.getLogger(__name__)

# Kinds of notice: level 5 of the caller's thermometer held for config.assist.sustained_top_s.
KINDS = ("sustained_top",)
# A notice not kept fresh for this long is left over from a call whose end was never seen: the
# live audio stream refreshes its notice every reading (2 s), so it is dropped when the board
# is read.
STALE_AFTER_S = 60.0
# Take a call's notices off the board and write the event of their clearing in one step: a
# board read between the two would see neither the notice nor its clearing.
_CLEAR_CALL = (
    f"local removed = redis.call('HDEL', KEYS[1], unpack(ARGV, 1, {len(KINDS)}))\n"
    "if removed > 0 then\n" + events.lua_append(2, len(KINDS) + 1) + "\nend\nreturn removed\n"
)


@dataclass(frozen=True)
class Notice:
    """One quiet notice about a live call: what, since when, and who is on the call."""

    call_sid: str
    kind: str
    since: float
    agent: str = ""
    area: str = ""

    def public(self) -> dict[str, object]:
        """The notice as the wallboard's page and API show it."""
        return {
            "call_sid": self.call_sid,
            "kind": self.kind,
            "since": self.since,
            "agent": self.agent,
            "area": self.area,
        }


def _field(call_sid: str, kind: str) -> str:
    """A notice's field in the hash: one notice per call and kind."""
    return f"{call_sid}|{kind}"


class Notices:
    """Raises, clears and lists the wallboard's quiet notices."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def raise_notice(
        self,
        call_sid: str,
        kind: str,
        since: float,
        *,
        now: float | None = None,
        agent: str = "",
        area: str = "",
    ) -> bool:
        """Put a notice on the board; True the first time for the call and kind (evented)."""
        if kind not in KINDS:
            raise ValueError(f"unknown notice kind {kind!r}")
        notice = {"since": since, "seen": since if now is None else now, "agent": agent[:64]}
        notice["area"] = area[:32]
        first = bool(self.redis.hsetnx(keys.notices(), _field(call_sid, kind), json.dumps(notice)))
        if first:
            events.append(
                self.redis, "notice", at=f"{since:.3f}", call=call_sid, notice=kind, agent=agent
            )
            log.info("notice %s raised for call %s", kind, call_sid)
        return first

    def keep(self, call_sid: str, kind: str, now: float) -> bool:
        """Mark a notice as still true now (its call goes on); False when it is not on the board."""
        field = _field(call_sid, kind)
        raw = self.redis.hget(keys.notices(), field)
        if raw is None:
            return False
        notice = json.loads(raw)
        notice["seen"] = now
        self.redis.hset(keys.notices(), field, json.dumps(notice))
        return True

    def clear_call(self, call_sid: str, now: float) -> int:
        """Take every notice of a call off the board (its audio ended); how many went."""
        fields = [_field(call_sid, kind) for kind in KINDS]
        event = events.entry("notice-cleared", at=f"{now:.3f}", call=call_sid)
        removed = int(
            self.redis.eval(
                _CLEAR_CALL, 2, keys.notices(), keys.events(), *fields, *events.flat(event)
            )
        )
        if removed:
            events.counted(self.redis, "notice-cleared", event)
        return removed

    def active(self, now: float) -> list[Notice]:
        """Every notice on the board, oldest first; left-over ones are dropped as they are met."""
        found, stale = [], []
        for raw_field, raw_value in self.redis.hgetall(keys.notices()).items():
            name = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
            call_sid, _, kind = name.partition("|")
            try:
                data = json.loads(raw_value)
                seen = float(data.get("seen", data["since"]))
                notice = Notice(
                    call_sid=call_sid,
                    kind=kind,
                    since=float(data["since"]),
                    agent=str(data.get("agent", "")),
                    area=str(data.get("area", "")),
                )
            except (ValueError, KeyError, TypeError):
                stale.append(name)
                continue
            if now - seen > STALE_AFTER_S:
                stale.append(name)
            else:
                found.append(notice)
        if stale:
            self.redis.hdel(keys.notices(), *stale)
        return sorted(found, key=lambda n: (n.since, n.call_sid))
