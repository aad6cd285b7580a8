"""Voicemail messages as Redis hashes: call facts, caller number, measures, urgency and state.

A message is keyed by Twilio's RecordingSid and moves through these states:

    received ─► stored ─► ready            speech, Twilio's copy deleted: awaits a callback
                   └────► empty            no speech, Twilio's copy deleted: kept briefly
    received ─► corrupt                    unreadable audio: raw bytes kept encrypted, and
                                           Twilio's copy kept too, for staff to look at
    received ─► missing                    Twilio never had (or no longer has) the recording
    received ─► refused                    its RecordingUrl is not on the API host: not fetched

`stored` means the encrypted copy is on disk and verified while Twilio's copy still exists;
the `remote_deleted_at` field records the one delete at Twilio. The caller's number is stored
here (a callback needs it) and nowhere else: events and logs only ever carry it masked. The
number and the intake summary are sealed (`queues.sealing`), the transcript is sealed by the
vault; a plain number or summary from an older version is read as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from queues import keys, sealing
from queues.sealing import Sealer
from voicemail.audio import Measures
from voicemail.source import RetryableError
from voicemail.triage import TriageDecision

RECEIVED = "received"
STORED = "stored"
READY = "ready"
EMPTY = "empty"
CORRUPT = "corrupt"
MISSING = "missing"
REFUSED = "refused"
# States after which processing has nothing left to do.
FINAL_STATES = frozenset({READY, EMPTY, CORRUPT, MISSING, REFUSED})
# Fields holding the caller's number or words: sealed in Redis, opened when read.
SEALED_FIELDS = ("caller", "summary")

# Writes a message's fields only while the caller still holds the claim on it: a worker whose
# claim ran out (it hung past the claim time) must not overwrite the one that took over.
_WRITE_IF_CLAIMED = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# Takes the claim when free, or when held by the same owner (an RQ retry of the same job after
# its worker died): returns 1 when the caller holds it afterwards.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Creates a message, or fills in only the fields it lacks: Twilio's callbacks for one recording
# (recording status, transcription) may come in any order and more than once.
_REGISTER = """
local created = redis.call('HSETNX', KEYS[1], 'created_at', ARGV[2])
if created == 1 then
  redis.call('HSET', KEYS[1], 'state', 'received')
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
for i = 4, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return created
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClaimLost(RetryableError):
    """This worker's claim on a message ran out and another worker may have taken over."""


@dataclass(frozen=True)
class Message:
    """One voicemail message as the hotline knows it."""

    recording_sid: str
    call_sid: str
    caller: str
    area: str
    language: str
    summary: str
    recording_url: str
    state: str
    created_at: float
    measures: Measures | None
    urgency: float
    urgent: bool
    crisis: bool
    reasons: tuple[str, ...]
    audio_sha256: str
    remote_deleted_at: float | None
    fields: dict[str, str]

    @property
    def finished(self) -> bool:
        """Tell whether processing has nothing left to do for this message."""
        return self.state in FINAL_STATES


def _number(value: str | None) -> float | None:
    """Parse a stored number, None when absent."""
    return float(value) if value else None


def _message(recording_sid: str, data: dict[str, str], sealer: Sealer) -> Message:
    """Build a Message from a decoded hash, its number and summary opened."""
    opened = {
        name: sealer.open(data.get(name, ""), f"voicemail:{recording_sid}:{name}")
        for name in SEALED_FIELDS
    }
    return Message(
        recording_sid=recording_sid,
        call_sid=data.get("call_sid", ""),
        caller=opened["caller"],
        area=data.get("area", ""),
        language=data.get("language", ""),
        summary=opened["summary"],
        recording_url=data.get("recording_url", ""),
        state=data.get("state", RECEIVED),
        created_at=float(data.get("created_at", "0")),
        measures=Measures.from_fields(data),
        urgency=float(data.get("urgency", "0")),
        urgent=data.get("urgent") == "1",
        crisis=data.get("crisis") == "1",
        reasons=tuple(json.loads(data.get("reasons", "[]"))),
        audio_sha256=data.get("audio_sha256", ""),
        remote_deleted_at=_number(data.get("remote_deleted_at")),
        fields=data,
    )


def decision_fields(decision: TriageDecision) -> dict[str, str]:
    """Return a triage decision as hash fields."""
    return {
        "urgency": f"{decision.score:.3f}",
        "urgent": "1" if decision.urgent else "0",
        "crisis": "1" if decision.crisis else "0",
        "reasons": json.dumps(list(decision.reasons), ensure_ascii=False),
    }


def stamp(now: datetime) -> str:
    """Format a time as the epoch seconds stored in hashes."""
    return f"{now.timestamp():.3f}"


class MessageStore:
    """Reads and writes voicemail message hashes, their index and their processing claims."""

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._sealer = sealer
        self._write_if_claimed = redis.register_script(_WRITE_IF_CLAIMED)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._register = redis.register_script(_REGISTER)

    @property
    def sealer(self) -> Sealer:
        """What seals the number and summary: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def register(
        self,
        recording_sid: str,
        *,
        now: datetime,
        call_sid: str = "",
        caller: str = "",
        area: str = "",
        language: str = "",
        summary: str = "",
        recording_url: str = "",
        duration_s: str = "",
    ) -> bool:
        """Record a recording, filling in missing facts; False when it was already known."""
        fields = {
            "call_sid": call_sid,
            "caller": caller,
            "area": area,
            "language": language,
            "summary": summary,
            "recording_url": recording_url,
            "twilio_duration_s": duration_s,
        }
        args: list[str] = [recording_sid, stamp(now), f"{now.timestamp():.3f}"]
        for name, value in self._sealed(recording_sid, fields).items():
            if value:
                args += [name, value]
        created = self._register(
            keys=[keys.voicemail_message(recording_sid), keys.voicemail_index()], args=args
        )
        return bool(created)

    def get(self, recording_sid: str) -> Message | None:
        """Return a message, or None when unknown."""
        raw = self.redis.hgetall(keys.voicemail_message(recording_sid))
        if not raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return _message(recording_sid, data, self.sealer)

    def update(self, recording_sid: str, owner: str, fields: dict[str, str]) -> None:
        """Write fields of a message this worker has claimed; raise ClaimLost otherwise."""
        args: list[str] = [owner]
        for name, value in self._sealed(recording_sid, fields).items():
            args += [name, value]
        written = self._write_if_claimed(
            keys=[keys.voicemail_message(recording_sid), keys.voicemail_claim(recording_sid)],
            args=args,
        )
        if not written:
            raise ClaimLost(f"voicemail {recording_sid}: claim lost while processing")

    def set_fields(self, recording_sid: str, fields: dict[str, str], *, pipeline=None) -> None:
        """Write fields of a known message outside processing (transcripts, inbox actions)."""
        target = pipeline if pipeline is not None else self.redis
        target.hset(
            keys.voicemail_message(recording_sid), mapping=self._sealed(recording_sid, fields)
        )

    def _sealed(self, recording_sid: str, fields: dict[str, str]) -> dict[str, str]:
        """Fields as Redis keeps them: the number and summary sealed to their message."""
        return {
            name: (
                self.sealer.seal(value, f"voicemail:{recording_sid}:{name}")
                if name in SEALED_FIELDS
                else value
            )
            for name, value in fields.items()
        }

    def claim(self, recording_sid: str, owner: str, ttl_s: float) -> bool:
        """Claim a message for processing; True when this owner holds the claim."""
        taken = self._claim(
            keys=[keys.voicemail_claim(recording_sid)], args=[owner, int(ttl_s * 1000)]
        )
        return bool(taken)

    def release(self, recording_sid: str, owner: str) -> None:
        """Give up a claim this owner holds."""
        self._release(keys=[keys.voicemail_claim(recording_sid)], args=[owner])

    def created_before(self, cutoff: datetime, *, offset: int = 0, limit: int = 500) -> list[str]:
        """Return ids of messages created before a time, oldest first, one page at a time."""
        raw = self.redis.zrangebyscore(
            keys.voicemail_index(), "-inf", f"({cutoff.timestamp()}", start=offset, num=limit
        )
        return [value.decode() for value in raw]

    def newest(self, limit: int = 100) -> list[Message]:
        """Return the latest messages, newest first (for the inbox)."""
        ids = [
            value.decode() for value in self.redis.zrevrange(keys.voicemail_index(), 0, limit - 1)
        ]
        found = (self.get(recording_sid) for recording_sid in ids)
        return [message for message in found if message is not None]

    def unfinished(self, *, older_than: datetime, limit: int = 500) -> list[str]:
        """Return ids of messages created before a time whose processing has not finished."""
        return [
            recording_sid
            for recording_sid in self.created_before(older_than, limit=limit)
            if (message := self.get(recording_sid)) is not None and not message.finished
        ]

    def of_person(self, number: str, calls: frozenset[str]) -> list[Message]:
        """A person's messages: from their number, or left on one of their calls.

        Every message kept is read (the index, a page at a time): retention bounds it.
        """
        found: list[Message] = []
        offset = 0
        while page := self.redis.zrange(keys.voicemail_index(), offset, offset + 499):
            offset += len(page)
            for message in (self.get(raw.decode()) for raw in page):
                if message and (message.caller == number or message.call_sid in calls):
                    found.append(message)
        return found

    def remove(self, recording_sid: str, *, pipeline=None) -> None:
        """Delete a message's hash and index entry."""
        target = pipeline if pipeline is not None else self.redis
        target.delete(keys.voicemail_message(recording_sid))
        target.zrem(keys.voicemail_index(), recording_sid)


def audit(
    redis: Redis, action: str, recording_sid: str, *, actor: str, now: datetime, **fields: str
) -> None:
    """Append one access to or deletion of a message to the voicemail audit stream."""
    entry = {"action": action, "message": recording_sid, "actor": actor, "at": stamp(now)}
    entry.update({name: value for name, value in fields.items() if value})
    redis.xadd(keys.voicemail_audit(), entry)


def audit_entries(redis: Redis, count: int = 100) -> list[dict[str, str]]:
    """Return the latest audit entries, newest first."""
    rows = redis.xrevrange(keys.voicemail_audit(), count=count)
    return [{name.decode(): value.decode() for name, value in fields.items()} for _, fields in rows]
