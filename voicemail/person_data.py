"""A person's voicemail, and every place of a person's data put together (`queues.person_data`).

A person's messages are those left from their number or on one of their calls: every message
kept is opened to find them (retention bounds the list: 30 days). The export holds each message's
facts, transcript and its audio decrypted (`voicemail/<RecordingSid>.mp3`); audio out of reach
(a file missing, or sealed under another key) is said in the message's entry instead. Erasure
deletes the encrypted files (every copy), the message and, when it may remain, Twilio's copy; a
message whose Twilio copy cannot be deleted now is kept and said, for the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from queues import events
from queues.audit import AuditLog
from queues.person_data import Person, PersonData, Place, redis_places
from queues.sealing import Sealer
from queues.waiting import WaitingRoom
from routing.privacy import mask_number
from voicemail.messages import MISSING, Message, MessageStore, audit
from voicemail.processing import TRANSCRIPT
from voicemail.source import RecordingSource, VoicemailError
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


def person_data(
    redis: Redis,
    room: WaitingRoom,
    *,
    sealer: Sealer,
    audit_log: AuditLog,
    vaults: list[Vault],
    source: RecordingSource | None,
    records: Any = None,
) -> PersonData:
    """The service over every place of a person's data, in erasure order."""
    through_calls, linking = redis_places(redis, room, sealer=sealer, records=records)
    voicemail = PersonVoicemail(redis, vaults, sealer=sealer, source=source)
    places = [voicemail.place(), *through_calls, *linking]
    return PersonData(redis, places, sealer=sealer, audit=audit_log)
