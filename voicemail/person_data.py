"""A person's voicemail and recorded consultations, and every place of a person's data put
together (`queues.person_data`), for the app's stores (`for_app`: the console, the API and
`hotline person`, which builds the app, all use it).

A person's messages are those left from their number or on one of their calls: every message
kept is opened to find them (retention bounds the list: 30 days). The export holds each message's
facts, transcript and its audio decrypted (`voicemail/<RecordingSid>.mp3`); audio out of reach
(a file missing, or sealed under another key) is said in the message's entry instead. Erasure
deletes the encrypted files (every copy), the message and, when it may remain, Twilio's copy; a
message whose Twilio copy cannot be deleted now is kept and said, for the next run.

Recorded consultations (`voicemail.consultations`) are found by the keyed digest kept with each;
the export adds their decrypted audio (`recordings/<RecordingSid>.wav`), the erasure deletes both
encrypted copies, the record and Twilio's copy, and keeps (and says) any whose Twilio copy could
not be deleted yet.

Transcripts (`voicemail.transcripts`): a call's transcript kept with its recording (found by the
keyed digest kept with it, or by the person's calls), the live lines still kept for a few hours,
and a message's lines gathered by its call; the export opens them, the erasure deletes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from redis import Redis

from queues import events, sealing
from queues import runtime as routing_runtime
from queues.audit import AuditLog
from queues.person_data import Person, PersonData, Place, redis_places
from queues.sealing import Sealer
from queues.waiting import WaitingRoom
from routing.privacy import mask_number
from voicemail import consultation_jobs
from voicemail import runtime as voicemail_runtime
from voicemail.consultations import Consent, ConsultationRecordings
from voicemail.messages import MISSING, Message, MessageStore, audit
from voicemail.processing import TRANSCRIPT
from voicemail.source import RecordingSource, VoicemailError
from voicemail.transcripts import CallTranscripts, MessageTranscripts
from voicemail.vault import AudioMissing, Vault, VaultError

log = logging.getLogger(__name__)

ACTOR = "person-erasure"


class PersonVoicemail:
    """A person's voicemail messages across the message store, the vaults and Twilio."""

    def __init__(
        self,
        redis: Redis,
        vaults: list[Vault],
        *,
        sealer: Sealer,
        source: RecordingSource | None = None,
    ):
        self.redis = redis
        self.store = MessageStore(redis, sealer=sealer)
        self.vaults = vaults
        self.source = source

    def links(self, person: Person) -> set[str]:
        """The calls a person left messages on."""
        return {m.call_sid for m in self.store.of_person(person.number, frozenset()) if m.call_sid}

    def export_person(self, person: Person) -> list[dict[str, Any]]:
        """Each message's facts, words opened, and where its audio is in the export."""
        return [
            self._exported(message) for message in self.store.of_person(person.number, person.calls)
        ]

    def _exported(self, message: Message) -> dict[str, Any]:
        """One message as the export holds it."""
        audio = self._audio(message.recording_sid)
        return {
            "recording_sid": message.recording_sid,
            "call_sid": message.call_sid,
            "caller": message.caller,
            "area": message.area,
            "language": message.language,
            "summary": message.summary,
            "transcript": self._transcript(message),
            "state": message.state,
            "created_at": message.created_at,
            "urgent": message.urgent,
            "crisis": message.crisis,
            "callback_state": message.fields.get("callback_state", ""),
            "audio": (
                f"voicemail/{message.recording_sid}.mp3"
                if isinstance(audio, bytes)
                else f"not included: {audio}"
            ),
        }

    def files(self, person: Person) -> dict[str, bytes]:
        """The decrypted audio of each message that has it."""
        found = {}
        for message in self.store.of_person(person.number, person.calls):
            audio = self._audio(message.recording_sid)
            if isinstance(audio, bytes):
                found[f"voicemail/{message.recording_sid}.mp3"] = audio
        return found

    def _audio(self, recording_sid: str) -> bytes | str:
        """A message's audio from the first vault that opens it, else why none does."""
        why = "no audio is stored"
        for vault in self.vaults:
            try:
                return vault.read(recording_sid)
            except AudioMissing:
                continue
            except VaultError as error:
                why = str(error)
        return why

    def _transcript(self, message: Message) -> str:
        """A message's transcript, opened ("" when none or when it does not open)."""
        sealed = message.fields.get(TRANSCRIPT, "")
        if not sealed or not self.vaults:
            return ""
        try:
            return self.vaults[0].unseal_text(message.recording_sid, sealed, purpose=TRANSCRIPT)
        except VaultError as error:
            return f"not included: {error}"

    def kept(self, person: Person) -> list[str]:
        """Messages erasure must leave: Twilio's copy may remain and cannot be deleted here."""
        if self.source is not None:
            return []
        return [
            f"voicemail {message.recording_sid}: Twilio's copy may remain; erase again from "
            "the console, which reaches Twilio"
            for message in self.store.of_person(person.number, person.calls)
            if self._twilio_copy_may_remain(message)
        ]

    @staticmethod
    def _twilio_copy_may_remain(message: Message) -> bool:
        """Whether Twilio may still hold a message's recording."""
        return message.remote_deleted_at is None and message.state != MISSING

    def erase_person(self, person: Person) -> int:
        """Delete a person's messages everywhere (Twilio's copy first); how many went."""
        erased = 0
        now = datetime.now(UTC)
        for message in self.store.of_person(person.number, person.calls):
            if self._twilio_copy_may_remain(message):
                if self.source is None:
                    continue  # said by `kept`
                try:
                    self.source.delete(message.recording_sid)
                except VoicemailError as error:
                    raise VaultError(
                        f"Twilio's copy of {message.recording_sid} not deleted: {error}"
                    ) from error
            # Every copy goes, whichever held the audio.
            deleted = [vault.delete(message.recording_sid) for vault in self.vaults]
            self.store.remove(message.recording_sid)
            audit(
                self.redis,
                "deleted",
                message.recording_sid,
                actor=ACTOR,
                now=now,
                reason="person-erased",
                state=message.state,
                area=message.area,
                caller=mask_number(message.caller),
                audio="1" if any(deleted) else "0",
            )
            events.append(
                self.redis,
                "voicemail_deleted",
                recording=message.recording_sid,
                area=message.area or None,
                reason="person-erased",
            )
            erased += 1
        return erased

    def place(self) -> Place:
        """This holder as a place of a person's data."""
        return Place(
            "voicemail",
            self.export_person,
            self.erase_person,
            kept=self.kept,
            files=self.files,
            links=self.links,
        )


class PersonRecordings:
    """A person's recorded consultations, as their store exports and erases them."""

    def __init__(self, recordings: ConsultationRecordings):
        self.recordings = recordings

    def links(self, person: Person) -> set[str]:
        """The calls of a person that were recorded."""
        found = self.recordings.export_person(person.number)
        return {item["call_sid"] for item in found if item["call_sid"]}

    def export_person(self, person: Person) -> list[dict[str, Any]]:
        """Each recording's facts, and where its audio is in the export."""
        found = []
        for item in self.recordings.export_person(person.number):
            audio = self._audio(item["recording_sid"])
            where = f"recordings/{item['recording_sid']}.wav"
            found.append({**item, "audio": where if isinstance(audio, bytes) else audio})
        return found

    def files(self, person: Person) -> dict[str, bytes]:
        """The decrypted audio of each recording stored."""
        found = {}
        for item in self.recordings.export_person(person.number):
            audio = self._audio(item["recording_sid"])
            if isinstance(audio, bytes):
                found[f"recordings/{item['recording_sid']}.wav"] = audio
        return found

    def _audio(self, recording_sid: str) -> bytes | str:
        """A recording's audio, or why it is not in the export."""
        try:
            return self.recordings.read_audio(recording_sid)
        except VaultError as error:
            return f"not included: {error}"

    def erase_person(self, person: Person) -> int:
        """Delete a person's recordings everywhere; how many went."""
        return self.recordings.erase_person(person.number, actor=ACTOR)

    def kept(self, person: Person) -> list[str]:
        """Recordings whose Twilio copy is not deleted yet: erasure keeps them until it is."""
        found = (
            self.recordings.get(item["recording_sid"])
            for item in self.recordings.export_person(person.number)
        )
        return [
            f"recording {item.recording_sid}: Twilio's copy is not deleted yet; erase again "
            "once Twilio answers"
            for item in found
            if item is not None and not item.remote_deleted and item.state != MISSING
        ]

    def place(self) -> Place:
        """This holder as a place of a person's data."""
        return Place(
            "recordings",
            self.export_person,
            self.erase_person,
            kept=self.kept,
            files=self.files,
            links=self.links,
        )


def person_data(
    redis: Redis,
    room: WaitingRoom,
    *,
    sealer: Sealer,
    audit_log: AuditLog,
    vaults: list[Vault],
    source: RecordingSource | None,
    records: Any = None,
    recordings: ConsultationRecordings | None = None,
    clock: Callable[[], float] = time.time,
) -> PersonData:
    """The service over every place of a person's data, in erasure order."""
    through_calls, linking = redis_places(redis, room, sealer=sealer, records=records, clock=clock)
    voicemail = PersonVoicemail(redis, vaults, sealer=sealer, source=source)
    recorded = [PersonRecordings(recordings).place()] if recordings is not None else []
    consent = Consent(redis)
    recorded.append(
        Place(
            "recording_consent",
            lambda p: consent.export_person(p.calls),
            lambda p: consent.erase_person(p.calls),
        )
    )
    recorded.append(transcripts_place(redis, sealer=sealer))
    places = [voicemail.place(), *recorded, *through_calls, *linking]
    return PersonData(redis, places, sealer=sealer, audit=audit_log)


def transcripts_place(redis: Redis, *, sealer: Sealer) -> Place:
    """A person's transcripts (calls' kept and live lines, messages' lines) as one place."""
    calls = CallTranscripts(redis, sealer=sealer)
    messages = MessageTranscripts(redis, sealer=sealer)

    def export(person: Person) -> list[dict[str, Any]]:
        found = calls.export_person(person.number, person.calls)
        return found + [
            {**entry, "voicemail": True} for entry in messages.export_calls(person.calls)
        ]

    def erase(person: Person) -> int:
        return calls.erase_person(person.number, person.calls) + messages.erase_calls(person.calls)

    return Place("transcripts", export, erase, links=lambda p: calls.calls_of(p.number))


def for_app(app: Flask) -> PersonData:
    """The service on an app's stores: Redis, the records database, both vaults, Twilio."""
    # SQLAlchemy loads here, when a person's data is asked for, not with every process.
    from queues.records import jobs as records_jobs

    shared = routing_runtime.of(app)
    voicemail = voicemail_runtime.build(app)
    vaults = [voicemail.vault] + ([voicemail.copy_vault] if voicemail.copy_vault else [])
    return person_data(
        shared.redis,
        shared.routing.room,
        sealer=shared.sealer or sealing.current(),
        audit_log=shared.audit,
        vaults=vaults,
        source=voicemail.source,
        records=records_jobs.store(),
        recordings=consultation_jobs.store(voicemail),
        clock=shared.now,
    )
