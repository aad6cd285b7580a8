"""Crisis incident records: an append-only stream of steps per crisis call, indexed by time.

Step kinds: opened and retriggered (trigger, language, said, by), rung (target, role: agent,
line or supervisor), picked_up and declined (a rung person's answer to the whisper), answered
(who took the call), no_answer (status), rollover (to the next target), escalated (an agent
brought in a supervisor or a crisis line), paged (a supervisor's SMS), note, closed (outcome).

What the caller said and the notes are sealed in the stream (`queues.sealing`) and opened when
read; steps written by an older version, plain, read as they are (steps are never rewritten).

A supervisor may put an incident under legal hold (a court, the police or a complaint needs it
kept): a held incident never expires and is never erased with its caller's data, until the hold
is lifted, when its year from opening applies again. Holding and lifting are steps too.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from queues import events, keys, sealing
from queues.sealing import Sealer
from routing.spreadsheet import SafeDictWriter

# Incidents are kept for supervisors' review and reports; a year covers the audit cycle.
INCIDENT_TTL_S = 366 * 24 * 3600
# Step fields holding a caller's words (or a note about them): sealed in the stream.
SEALED_FIELDS = frozenset({"said", "note"})
MAX_HOLD_REASON = 500

# Appends a step; the incident expires a year after its last step unless it is under legal hold.
_APPEND_STEP = """
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


@dataclass(frozen=True)
class LegalHold:
    """Why an incident is kept whatever its age or its caller's erasure: who, since when, why."""

    call_sid: str
    since: float
    by: str
    reason: str

    def public(self) -> dict[str, Any]:
        """The hold as consoles and the API show it."""
        return {
            "call": self.call_sid,
            "since": self.since,
            "since_iso": _iso(self.since),
            "by": self.by,
            "reason": self.reason,
        }

    def sentence(self) -> str:
        """What an erasure says it kept, in one line."""
        return f"incident {self.call_sid} under legal hold since {_iso(self.since)} ({self.reason})"


class UnknownIncident(Exception):
    """No incident for that call."""


@dataclass
class Incident:
    """One crisis call as its steps tell it."""

    call_sid: str
    opened_at: float
    steps: list[dict[str, str]] = field(default_factory=list)

    def first(self, kind: str) -> dict[str, str] | None:
        """The first step of a kind, if any."""
        return next((step for step in self.steps if step["kind"] == kind), None)

    def targets(self, kind: str, role: str | None = None) -> list[str]:
        """The targets of every step of a kind (and role), in order, without repeats."""
        found = (
            step.get("target", "")
            for step in self.steps
            if step["kind"] == kind and (role is None or step.get("role", "line") == role)
        )
        return list(dict.fromkeys(found))

    def summary(self) -> dict[str, Any]:
        """Flatten the steps into one row: trigger, words, who was rung, answer, outcome, time."""
        opened = self.first("opened") or {}
        answered = self.first("answered")
        closed = self.first("closed")
        last = self.steps[-1] if self.steps else {}
        rung = [step.get("target", "") for step in self.steps if step["kind"] == "rung"]
        triggers = [opened.get("trigger", "")] + [
            step.get("trigger", "") for step in self.steps if step["kind"] == "retriggered"
        ]
        return {
            "call_sid": self.call_sid,
            "opened_at": _iso(self.opened_at),
            "trigger": opened.get("trigger", ""),
            "triggers": " | ".join(dict.fromkeys(t for t in triggers if t)),
            "language": opened.get("language", ""),
            "said": opened.get("said", ""),
            "said_at": _iso(float(opened["at"])) if opened.get("said") else "",
            "flagged_by": opened.get("by", ""),
            "rung": " | ".join(rung),
            "agents_rung": " | ".join(self.targets("rung", "agent")),
            "declined": " | ".join(self.targets("declined")),
            "answered_by": answered.get("target", "") if answered else "",
            "answered_role": answered.get("role", "line") if answered else "",
            "answered_after_s": (
                round(float(answered["at"]) - self.opened_at, 1) if answered else ""
            ),
            "rollover": any(step["kind"] == "rollover" for step in self.steps),
            "escalated_to": " | ".join(self.targets("escalated")),
            "supervisors_paged": " | ".join(self.targets("paged")),
            "outcome": closed.get("outcome", "") if closed else "open",
            "talk_s": closed.get("talk_s", "") if closed else "",
            "duration_s": round(float(last.get("at", self.opened_at)) - self.opened_at, 1),
            "notes": " | ".join(s.get("note", "") for s in self.steps if s["kind"] == "note"),
        }


class IncidentLog:
    """Writes and reads incidents; the only owner of the incident keys."""

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._sealer = sealer
        self._append = redis.register_script(_APPEND_STEP)

    @property
    def sealer(self) -> Sealer:
        """What seals callers' words in steps: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def open(
        self,
        call_sid: str,
        *,
        trigger: str,
        language: str,
        said: str = "",
        by: str = "",
        now: float | None = None,
    ) -> bool:
        """Open an incident once per call; a repeated trigger is recorded as a step, not a twin."""
        at = time.time() if now is None else now
        created = self.redis.zadd(keys.incidents(), {call_sid: at}, nx=True)
        kind = "opened" if created else "retriggered"
        self.step(call_sid, kind, now=at, trigger=trigger, language=language, said=said, by=by)
        if created:
            events.append(self.redis, "crisis", call=call_sid, trigger=trigger)
        return bool(created)

    def step(self, call_sid: str, kind: str, *, now: float | None = None, **fields: object) -> None:
        """Append one step with its time; steps are never edited or removed."""
        at = time.time() if now is None else now
        entry = {"kind": kind, "at": f"{at:.3f}"}
        entry.update(
            {
                name: self._stored(call_sid, name, str(value))
                for name, value in fields.items()
                if value not in (None, "")
            }
        )
        pairs = [part for item in entry.items() for part in item]
        self._append(
            keys=[keys.incident(call_sid), keys.incident_holds()],
            args=[call_sid, INCIDENT_TTL_S, *pairs],
        )

    def note(self, call_sid: str, text: str, *, by: str, now: float | None = None) -> bool:
        """Add a supervisor's or agent's note to an existing incident; False when unknown."""
        if self.redis.zscore(keys.incidents(), call_sid) is None:
            return False
        self.step(call_sid, "note", now=now, note=" ".join(text.split())[:1000], by=by)
        return True

    def get(self, call_sid: str) -> Incident | None:
        """Read one incident with all its steps."""
        opened_at = self.redis.zscore(keys.incidents(), call_sid)
        if opened_at is None:
            return None
        rows = self.redis.xrange(keys.incident(call_sid))
        steps = [
            {k.decode(): self._read(call_sid, k.decode(), v.decode()) for k, v in fields.items()}
            for _, fields in rows
        ]
        return Incident(call_sid, opened_at, steps)

    def _stored(self, call_sid: str, name: str, value: str) -> str:
        """A step field as the stream keeps it: sealed to its incident when it holds words."""
        if name not in SEALED_FIELDS:
            return value
        return self.sealer.seal(value, f"incident:{call_sid}:{name}")

    def _read(self, call_sid: str, name: str, value: str) -> str:
        """A step field as it was written: sealed words opened, everything else as stored."""
        if name not in SEALED_FIELDS:
            return value
        return self.sealer.open(value, f"incident:{call_sid}:{name}")

    # -- legal hold ---------------------------------------------------------------------------

    def hold(self, call_sid: str, *, by: str, reason: str, now: float) -> LegalHold:
        """Put an incident under legal hold: kept past its year and through erasures."""
        if self.redis.zscore(keys.incidents(), call_sid) is None:
            raise UnknownIncident(call_sid)
        held = LegalHold(call_sid, now, by, " ".join(reason.split())[:MAX_HOLD_REASON])
        fields = {"since": held.since, "by": held.by, "reason": held.reason}
        self.redis.hset(keys.incident_holds(), call_sid, json.dumps(fields, ensure_ascii=False))
        # The step goes in after the hold, so the stream loses its expiry in the same breath.
        self.step(call_sid, "held", now=now, by=by, reason=held.reason)
        return held

    def lift(self, call_sid: str, *, by: str, now: float) -> LegalHold | None:
        """Lift an incident's legal hold; its year from opening applies again. None if not held."""
        held = self.held(call_sid)
        if held is None:
            return None
        self.redis.hdel(keys.incident_holds(), call_sid)
        self.step(call_sid, "hold_lifted", now=now, by=by)
        opened_at = self.redis.zscore(keys.incidents(), call_sid) or now
        # A year from opening, as if never held: an incident already older goes within a day.
        self.redis.expireat(
            keys.incident(call_sid), int(max(opened_at + INCIDENT_TTL_S, now + 24 * 3600))
        )
        return held

    def held(self, call_sid: str) -> LegalHold | None:
        """The incident's legal hold, or None."""
        raw = self.redis.hget(keys.incident_holds(), call_sid)
        return _hold(call_sid, raw) if raw else None

    def holds(self) -> dict[str, LegalHold]:
        """Every legal hold, by call SID."""
        raw = self.redis.hgetall(keys.incident_holds())
        return {sid.decode(): _hold(sid.decode(), value) for sid, value in raw.items()}

    # -- a person's data ----------------------------------------------------------------------

    def export_person(self, number: str, calls: Iterable[str]) -> list[dict[str, Any]]:
        """The incidents of a person's calls, each with its steps and hold (words opened)."""
        found = []
        for call_sid in sorted(set(calls)):
            incident = self.get(call_sid)
            if incident is None:
                continue
            held = self.held(call_sid)
            found.append(
                {
                    **incident.summary(),
                    "steps": incident.steps,
                    "legal_hold": held.public() if held else None,
                }
            )
        return found

    def erase_person(self, number: str, calls: Iterable[str]) -> int:
        """Delete the incidents of a person's calls, except those under legal hold; how many."""
        erased = 0
        for call_sid in sorted(set(calls)):
            if self.held(call_sid) is not None:
                continue
            pipe = self.redis.pipeline()
            pipe.zrem(keys.incidents(), call_sid)
            pipe.delete(keys.incident(call_sid))
            gone, _ = pipe.execute()
            erased += int(gone)
        return erased

    def kept_for_person(self, calls: Iterable[str]) -> list[LegalHold]:
        """The legal holds that keep some of a person's incidents through an erasure."""
        found = (self.held(call_sid) for call_sid in sorted(set(calls)))
        return [held for held in found if held is not None]

    def between(self, start: float, end: float) -> list[Incident]:
        """Every incident opened in [start, end), oldest first."""
        sids = self.redis.zrangebyscore(keys.incidents(), start, f"({end}")
        found = (self.get(sid.decode()) for sid in sids)
        return [incident for incident in found if incident is not None]


def for_supervisors(log: IncidentLog, start: float, end: float) -> list[dict[str, Any]]:
    """Incidents opened in [start, end), newest first: each summary row with all its steps."""
    return [
        {**incident.summary(), "steps": incident.steps}
        for incident in reversed(log.between(start, end))
    ]


def export(incidents: list[Incident], fmt: str) -> str:
    """Render incidents as CSV (one summary row each) or JSON (summary plus every step)."""
    if fmt == "json":
        return json.dumps(
            [{**incident.summary(), "steps": incident.steps} for incident in incidents],
            ensure_ascii=False,
            indent=2,
        )
    out = io.StringIO()
    columns = list(Incident("", 0.0).summary())
    # A caller's words or a note may start like a formula: cells are neutralised.
    writer = SafeDictWriter(out, fieldnames=columns)
    writer.writeheader()
    for incident in incidents:
        writer.writerow(incident.summary())
    return out.getvalue()


def _hold(call_sid: str, raw: bytes | str) -> LegalHold:
    """A legal hold from its stored JSON."""
    data = json.loads(raw)
    return LegalHold(call_sid, float(data["since"]), str(data["by"]), str(data["reason"]))


def _iso(epoch: float) -> str:
    """An epoch time as ISO 8601 in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
