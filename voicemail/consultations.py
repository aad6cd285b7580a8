"""Recorded consultations: the caller's consent, and each recording stored twice, encrypted.

An area whose config says `recording: on` tells the caller, before any agent is rung, that the
call may be recorded and that 2 refuses (`Consent`). Only a call whose caller did not refuse is
recorded, and when the answer cannot be read (Redis was down, the call came another way) it is
not recorded: unsure means no.

A recording of the conference (caller and agent) is registered once by its RecordingSid and then
processed by a job, idempotent and safe to re-run anywhere:

    received ─► fetched ─► encrypted into two storage targets, each read back and hash-checked
      ─► "stored" ─► Twilio's copy deleted ─► "ready"
    received ─► "discarded"   no consent on record: Twilio's copy deleted, nothing fetched
    received ─► "failed"      a step kept failing: supervisors told, Twilio's copy kept
    received ─► "missing"     Twilio never had (or no longer has) the recording

Twilio's copy is deleted only once both encrypted copies are verified and recorded in Redis.
Each recording keeps a keyed digest of the caller's number (never the number), so a person's
recordings can be exported and erased (`export_person`, `erase_person`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis

from queues import events, keys, sealing
from queues.audit import AuditLog
from queues.calls import CALL_TTL_S, CallStore
from queues.sealing import Sealer
from routing.privacy import mask_number
from voicemail.source import (
    RecordingNotFound,
    RecordingSource,
    RetryableError,
    VoicemailError,
)
from voicemail.vault import AudioMissing, IntegrityError, Vault, VaultError

log = logging.getLogger(__name__)

GIVEN = "given"
REFUSED = "refused"

RECEIVED = "received"
STORED = "stored"
READY = "ready"
DISCARD = "discard"
DISCARDED = "discarded"
FAILED = "failed"
MISSING = "missing"
# States after which the job has nothing left to do.
FINAL_STATES = frozenset({READY, DISCARDED, FAILED, MISSING})
# The sub-folder of each storage target that holds consultations, and their files' ending.
FOLDER = "consultations"
SUFFIX = ".wav.enc"
# Twilio may answer 404 for a few seconds after a recording ends; past this it is gone.
FRESH_S = 600.0
# Longer than the slowest store of an hour's WAV, short enough for a retry after a dead worker.
CLAIM_TTL_S = 120
# Who the audit log names for deletions nobody asked for by hand.
RETENTION_ACTOR = "retention"


class RecordingPending(RetryableError):
    """Twilio answers 404 for a recording made moments ago: it is not ready yet."""


class ClaimHeld(RetryableError):
    """Another worker is storing this recording right now."""


class CopyMismatch(RetryableError):
    """A stored copy does not open to the bytes fetched from Twilio."""


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def _stamp(now: datetime) -> str:
    """A time as the epoch seconds stored in hashes."""
    return f"{now.timestamp():.3f}"


# --- consent ---------------------------------------------------------------------------------


class Consent:
    """The caller's answer to the recording notice; the owner of the consent key."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def keep(self, call_sid: str, consent: str, *, area: str, language: str) -> bool:
        """Keep the first answer of a call (given or refused); True the first time, with an event.

        The call's record carries it too, so reports count consents and refusals.
        """
        if consent not in (GIVEN, REFUSED) or not call_sid:
            raise ValueError(f"not a consent: {consent!r}")
        if not self.redis.set(keys.recording_consent(call_sid), consent, nx=True, ex=CALL_TTL_S):
            return False
        pipe = self.redis.pipeline()
        CallStore(self.redis).update(call_sid, pipeline=pipe, recording_consent=consent)
        events.append(
            self.redis,
            "recording-consent",
            pipeline=pipe,
            call=call_sid,
            area=area,
            language=language,
            consent=consent,
        )
        pipe.execute()
        return True

    def of(self, call_sid: str) -> str:
        """The call's answer: given, refused, or empty when none was kept."""
        if not call_sid:
            return ""
        raw = self.redis.get(keys.recording_consent(call_sid))
        return raw.decode() if raw else ""

    def given(self, call_sid: str) -> bool:
        """Whether the call may be recorded: only a consent on record says yes."""
        return self.of(call_sid) == GIVEN

    def export_person(self, calls: frozenset[str]) -> list[dict[str, str]]:
        """The answers a person gave to the notice on their calls (a person's data)."""
        return [
            {"call_sid": call_sid, "consent": answer}
            for call_sid in sorted(calls)
            if (answer := self.of(call_sid))
        ]

    def erase_person(self, calls: frozenset[str]) -> int:
        """Delete the answers kept for a person's calls; how many there were."""
        sids = sorted(calls)
        return int(self.redis.delete(*(keys.recording_consent(s) for s in sids))) if sids else 0


# --- the recordings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Consultation:
    """One recorded consultation as the hotline knows it."""

    recording_sid: str
    call_sid: str
    reservation: str
    area: str
    language: str
    agent: str
    caller_digest: str
    caller_masked: str
    state: str
    created_at: float
    duration_s: str
    audio_sha256: str
    attempts: int
    remote_deleted: bool
    fields: dict[str, str]

    @property
    def finished(self) -> bool:
        """Whether the job has nothing left to do."""
        return self.state in FINAL_STATES

    @property
    def stored(self) -> bool:
        """Whether both encrypted copies were written and checked."""
        return bool(self.audio_sha256) and self.state in (STORED, READY)


def _consultation(recording_sid: str, data: dict[str, str]) -> Consultation:
    """Build a Consultation from a decoded hash."""
    return Consultation(
        recording_sid=recording_sid,
        call_sid=data.get("call_sid", ""),
        reservation=data.get("reservation", ""),
        area=data.get("area", ""),
        language=data.get("language", ""),
        agent=data.get("agent", ""),
        caller_digest=data.get("caller_digest", ""),
        caller_masked=data.get("caller_masked", ""),
        state=data.get("state", RECEIVED),
        created_at=float(data.get("created_at", "0")),
        duration_s=data.get("duration_s", ""),
        audio_sha256=data.get("audio_sha256", ""),
        attempts=int(data.get("attempts", "0") or 0),
        remote_deleted="remote_deleted_at" in data,
        fields=data,
    )


class ConsultationRecordings:
    """Recorded consultations: their records in Redis and their two encrypted copies.

    The only code that reads or writes the consultation keys and files. `source` is Twilio's
    copy (fetch and delete); `primary` and `copy` are the two storage targets.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        primary: Vault | None = None,
        copy: Vault | None = None,
        source: RecordingSource | None = None,
        sealer: Sealer | None = None,
        clock: Clock | None = None,
    ):
        self.redis = redis
        self.primary = primary
        self.copy = copy
        self.source = source
        self._sealer = sealer
        self.clock = clock or _utc_now

    @property
    def sealer(self) -> Sealer:
        """What digests callers' numbers: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def _targets(self) -> tuple[Vault, Vault]:
        """Both storage targets; a store built without them cannot touch audio."""
        if self.primary is None or self.copy is None:
            raise VaultError("consultations need two storage targets")
        return self.primary, self.copy

    # -- records -------------------------------------------------------------------------

    def register(
        self,
        recording_sid: str,
        *,
        now: datetime,
        call_sid: str = "",
        reservation: str = "",
        caller: str = "",
        area: str = "",
        language: str = "",
        agent: str = "",
        recording_url: str = "",
        duration_s: str = "",
        consent: str = "",
    ) -> bool:
        """Record a recording once; False when its RecordingSid was already known.

        Without the caller's consent on record the recording is only ever discarded.
        """
        key = keys.consultation(recording_sid)
        if not self.redis.hsetnx(key, "created_at", _stamp(now)):
            return False
        digest = self.sealer.digest(caller) if caller else ""
        fields = {
            "call_sid": call_sid,
            "reservation": reservation,
            "area": area,
            "language": language,
            "agent": agent,
            "caller_digest": digest,
            "caller_masked": mask_number(caller) if caller else "",
            "recording_url": recording_url,
            "duration_s": duration_s,
            "consent": consent,
            "state": RECEIVED if consent == GIVEN else DISCARD,
        }
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={name: value for name, value in fields.items() if value})
        pipe.zadd(keys.consultations(), {recording_sid: now.timestamp()})
        if digest:
            pipe.sadd(keys.consultations_of_caller(digest), recording_sid)
        events.append(
            self.redis,
            "recording-received",
            pipeline=pipe,
            recording=recording_sid,
            call=call_sid or None,
            area=area or None,
            consent=consent or "unknown",
        )
        pipe.execute()
        return True

    def get(self, recording_sid: str) -> Consultation | None:
        """One consultation, or None when unknown."""
        raw = self.redis.hgetall(keys.consultation(recording_sid))
        if not raw or b"created_at" not in raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return _consultation(recording_sid, data)

    def newest(self, limit: int = 100) -> list[Consultation]:
        """The latest consultations, newest first."""
        ids = self.redis.zrevrange(keys.consultations(), 0, limit - 1)
        found = (self.get(raw.decode()) for raw in ids)
        return [item for item in found if item is not None]

    def unfinished(self, *, before: float, limit: int = 500) -> list[Consultation]:
        """Recordings registered before a time whose job has not finished, oldest first."""
        ids = self.redis.zrangebyscore(keys.consultations(), "-inf", f"({before}", 0, limit)
        found = (self.get(raw.decode()) for raw in ids)
        return [item for item in found if item is not None and not item.finished]

    def of_call(self, call_sid: str, limit: int = 500) -> list[Consultation]:
        """The consultations recorded on one call (among the latest), oldest first."""
        return [item for item in reversed(self.newest(limit)) if item.call_sid == call_sid]

    def _set(self, recording_sid: str, fields: dict[str, str]) -> Consultation:
        """Write fields of a known consultation and return it as it now stands."""
        self.redis.hset(keys.consultation(recording_sid), mapping=fields)
        found = self.get(recording_sid)
        assert found is not None
        return found

    def _event(self, kind: str, item: Consultation, **fields: object) -> None:
        """Append a recording event: ids, area and state, never a number."""
        events.append(
            self.redis,
            kind,
            recording=item.recording_sid,
            call=item.call_sid or None,
            area=item.area or None,
            **fields,
        )

    # -- the job's steps -----------------------------------------------------------------

    def process(self, recording_sid: str, *, now: datetime, owner: str) -> Consultation:
        """Fetch, store twice and check, then delete Twilio's copy; or discard it without consent.

        Raises RetryableError (or VaultError) for a step that may work later; the caller counts
        the attempts and gives up (`give_up`).
        """
        item = self.get(recording_sid)
        if item is None:
            # A job for a recording nobody registered: no consent on record, so discard it.
            self.register(recording_sid, now=now)
            item = self.get(recording_sid)
            assert item is not None
        if item.finished:
            return item
        claim = keys.consultation_claim(recording_sid)
        # Taken when free, or kept by the same owner (an RQ retry of the job whose worker died).
        if not self.redis.set(claim, owner, nx=True, ex=CLAIM_TTL_S):
            holder = self.redis.get(claim)
            if holder is not None and holder.decode() != owner:
                raise ClaimHeld(f"consultation {recording_sid}: another worker is storing it")
            self.redis.set(claim, owner, ex=CLAIM_TTL_S)
        try:
            if item.state == DISCARD:
                return self._discard(item, now)
            if item.state != STORED or not self._copies_intact(item):
                item = self._store(item, now)
                if item.finished:
                    return item
            return self._delete_remote(item, now)
        finally:
            if self.redis.get(claim) == owner.encode():
                self.redis.delete(claim)

    def _fetch(self, item: Consultation, now: datetime) -> bytes | None:
        """Twilio's WAV, by the recording's SID; None when Twilio no longer has it."""
        assert self.source is not None, "processing needs Twilio's copy"
        try:
            return self.source.fetch_wav(item.recording_sid, item.fields.get("recording_url"))
        except RecordingNotFound:
            if now.timestamp() - item.created_at < FRESH_S:
                raise RecordingPending(f"consultation {item.recording_sid}: not ready") from None
            return None

    def _store(self, item: Consultation, now: datetime) -> Consultation:
        """Fetch the recording and write it, encrypted, into both targets, each checked."""
        primary, copy = self._targets()
        audio = self._fetch(item, now)
        if audio is None:
            log.error("consultation %s: Twilio has no such recording", item.recording_sid)
            item = self._set(item.recording_sid, {"state": MISSING, "finished_at": _stamp(now)})
            self._event("recording-missing", item)
            return item
        audio_sha = hashlib.sha256(audio).hexdigest()
        written = []
        for vault in (primary, copy):
            # Each store writes atomically, reads the file back and checks its hash and tag.
            stored = vault.store(item.recording_sid, audio)
            if hashlib.sha256(vault.read(item.recording_sid)).hexdigest() != audio_sha:
                raise CopyMismatch(f"consultation {item.recording_sid}: {vault.where} differs")
            written.append(stored)
        item = self._set(
            item.recording_sid,
            {
                "state": STORED,
                "audio_sha256": audio_sha,
                "audio_bytes": str(len(audio)),
                "primary_sha256": written[0].sha256,
                "copy_sha256": written[1].sha256,
                "stored_at": _stamp(now),
            },
        )
        self._event("recording-stored", item, copies=2, bytes=len(audio))
        return item

    def _copies_intact(self, item: Consultation) -> bool:
        """Whether both copies recorded as stored are on disk and unaltered."""
        primary, copy = self._targets()
        try:
            primary.verify(item.recording_sid, item.fields.get("primary_sha256", ""))
            copy.verify(item.recording_sid, item.fields.get("copy_sha256", ""))
        except (AudioMissing, IntegrityError) as error:
            # Twilio's copy still exists (it is deleted only after this): store both again.
            log.error("consultation %s: a copy is unusable (%s)", item.recording_sid, error)
            return False
        return True

    def _delete_remote(self, item: Consultation, now: datetime) -> Consultation:
        """Delete Twilio's copy now both of ours are safe, and record that it is done."""
        item = self._delete_twilio_copy(item, READY, now)
        self._event("recording-ready", item, remote=item.fields["remote_delete"])
        return item

    def _discard(self, item: Consultation, now: datetime) -> Consultation:
        """No consent on record: delete Twilio's copy unheard, keep nothing but the fact."""
        item = self._delete_twilio_copy(item, DISCARDED, now)
        log.warning("consultation %s: no consent on record; discarded", item.recording_sid)
        self._event("recording-discarded", item)
        return item

    def _delete_twilio_copy(self, item: Consultation, state: str, now: datetime) -> Consultation:
        """Delete Twilio's copy and end the recording's processing in `state`, saying when and
        whether Twilio still had it."""
        assert self.source is not None, "processing needs Twilio's copy"
        deleted = self.source.delete(item.recording_sid)
        return self._set(
            item.recording_sid,
            {
                "state": state,
                "remote_deleted_at": _stamp(now),
                "remote_delete": "deleted" if deleted else "already gone",
                "finished_at": _stamp(now),
            },
        )

    def count_attempt(self, recording_sid: str) -> int:
        """Count one failed attempt; return how many there have been."""
        return int(self.redis.hincrby(keys.consultation(recording_sid), "attempts", 1))

    def give_up(self, recording_sid: str, reason: str, *, now: datetime) -> Consultation | None:
        """Mark a recording failed for good: Twilio's copy is kept for someone to look at."""
        item = self.get(recording_sid)
        if item is None or item.finished:
            return item
        item = self._set(
            recording_sid,
            {"state": FAILED, "error": reason[:200], "finished_at": _stamp(now)},
        )
        self._event("recording-failed", item, reason=reason[:200])
        return item

    # -- listening -----------------------------------------------------------------------

    def read_audio(self, recording_sid: str) -> bytes:
        """The recording's audio from the first target, or from the second when it fails."""
        item = self.get(recording_sid)
        if item is None or not item.stored:
            raise AudioMissing(f"consultation {recording_sid}: no stored audio")
        last: VaultError | None = None
        for vault in self._targets():
            try:
                audio = vault.read(recording_sid)
            except VaultError as error:
                log.error("consultation %s: %s unusable: %s", recording_sid, vault.where, error)
                last = error
                continue
            if hashlib.sha256(audio).hexdigest() == item.audio_sha256:
                return audio
            last = IntegrityError(f"consultation {recording_sid}: {vault.where} differs")
        assert last is not None
        raise last

    # -- deleting ------------------------------------------------------------------------

    def delete(self, item: Consultation, *, actor: str, reason: str, now: datetime) -> bool:
        """Delete a consultation everywhere (Twilio's copy, both files, its record), audited.

        False when Twilio's copy could not be deleted: everything is kept for the next try.
        """
        if not item.remote_deleted and item.state != MISSING and self.source is not None:
            try:
                self.source.delete(item.recording_sid)
            except VoicemailError as error:
                log.warning("consultation %s: Twilio's copy kept: %s", item.recording_sid, error)
                return False
        elif not item.remote_deleted and item.state != MISSING:
            return False
        files = sum(
            1 for vault in (self.primary, self.copy) if vault and vault.delete(item.recording_sid)
        )
        pipe = self.redis.pipeline()
        pipe.delete(keys.consultation(item.recording_sid))
        pipe.zrem(keys.consultations(), item.recording_sid)
        if item.caller_digest:
            pipe.srem(keys.consultations_of_caller(item.caller_digest), item.recording_sid)
        AuditLog(self.redis).record(
            actor,
            "recording-deleted",
            item.recording_sid,
            before={"call": item.call_sid, "area": item.area, "state": item.state},
            after={"reason": reason, "files": files},
            now=now.timestamp(),
            pipeline=pipe,
        )
        events.append(
            self.redis,
            "recording-deleted",
            pipeline=pipe,
            recording=item.recording_sid,
            area=item.area or None,
            reason=reason,
        )
        pipe.execute()
        return True

    def purge_expired(self, *, now: datetime, keep_days: float) -> list[str]:
        """Delete every consultation older than the retention; return their ids."""
        cutoff = (now - timedelta(days=keep_days)).timestamp()
        purged: list[str] = []
        for raw in self.redis.zrangebyscore(keys.consultations(), "-inf", f"({cutoff}"):
            recording_sid = raw.decode()
            item = self.get(recording_sid)
            if item is None:
                self.redis.zrem(keys.consultations(), recording_sid)
                continue
            if self.delete(item, actor=RETENTION_ACTOR, reason="retention", now=now):
                purged.append(recording_sid)
        return purged

    # -- a person's data -----------------------------------------------------------------

    def _of_number(self, number: str) -> list[Consultation]:
        """The consultations whose caller rang from a number, oldest first."""
        digest = self.sealer.digest(number)
        ids = sorted(
            raw.decode() for raw in self.redis.smembers(keys.consultations_of_caller(digest))
        )
        found = [item for item in (self.get(sid) for sid in ids) if item is not None]
        return sorted(found, key=lambda item: item.created_at)

    def export_person(self, number: str) -> list[dict[str, Any]]:
        """What is held about a number's recorded consultations, and how to hear each one."""
        return [
            {
                "recording_sid": item.recording_sid,
                "call_sid": item.call_sid,
                "created_at": item.created_at,
                "area": item.area,
                "language": item.language,
                "agent": item.agent,
                "duration_s": item.duration_s,
                "state": item.state,
                "consent": item.fields.get("consent", ""),
                "stored_copies": 2 if item.stored else 0,
                "audio_sha256": item.audio_sha256,
                # The audio is never put in an export: a supervisor plays or downloads it
                # through a signed, audited link on this page.
                "audio": f"/ops/recordings?call={item.call_sid}" if item.stored else "",
            }
            for item in self._of_number(number)
        ]

    def erase_person(self, number: str, *, actor: str = "erasure") -> int:
        """Delete a number's recordings everywhere (copies, records, Twilio's); how many."""
        now = self.clock()
        erased = 0
        for item in self._of_number(number):
            if self.delete(item, actor=actor, reason="erasure", now=now):
                erased += 1
        return erased
