"""The voicemail inbox for staff: list messages, open one for listening (audited), close one.

These are the service functions behind `hotline voicemail list|play|close` and the ops console.
Every opening of a message's audio is written to the voicemail audit stream with who and when;
closing a message withdraws its callback if it has not reached an agent yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from queues import events
from queues.waiting import WaitingRoom
from routing.numbers import is_withheld
from routing.privacy import mask_number
from voicemail import callbacks
from voicemail.messages import Message, MessageStore, audit, stamp
from voicemail.processing import TRANSCRIPT
from voicemail.vault import Vault, VaultError


class InboxError(Exception):
    """A message that is unknown or has no audio to open."""


@dataclass(frozen=True)
class Entry:
    """One message as the inbox lists it."""

    recording_sid: str
    state: str
    created_at: float
    area: str
    language: str
    # The number, for staff whose role may see caller data; `caller_masked` for everyone else.
    caller: str
    caller_masked: str
    # The caller withheld their number ("anonymous" and its kind): nobody can call them back.
    withheld: bool
    summary: str
    seconds: float | None
    urgency: float
    urgent: bool
    crisis: bool
    callback: str
    closed: bool
    # The message's transcript as stored, sealed by the vault ("" when none): `transcript`.
    sealed_transcript: str = ""

    @classmethod
    def of(cls, message: Message) -> Entry:
        """Build an inbox entry from a message."""
        # An empty number is a call the hotline lost track of, not one withheld by the caller.
        withheld = bool(message.caller) and is_withheld(message.caller)
        return cls(
            recording_sid=message.recording_sid,
            state=message.state,
            created_at=message.created_at,
            area=message.area,
            language=message.language,
            caller="" if withheld else message.caller,
            # "+266696687" would mask as a number: it is none.
            caller_masked="" if withheld else mask_number(message.caller),
            withheld=withheld,
            summary=message.summary,
            seconds=message.measures.duration_s if message.measures else None,
            urgency=message.urgency,
            urgent=message.urgent,
            crisis=message.crisis,
            callback=message.fields.get("callback_state", ""),
            closed="closed_at" in message.fields,
            sealed_transcript=message.fields.get(TRANSCRIPT, ""),
        )


def transcript(entry: Entry, vault: Vault) -> str:
    """A listed message's transcript, opened ("" when none; why when it does not open)."""
    if not entry.sealed_transcript:
        return ""
    try:
        return vault.unseal_text(entry.recording_sid, entry.sealed_transcript, purpose=TRANSCRIPT)
    except VaultError as error:
        return f"({error})"


def list_messages(redis: Redis, *, limit: int = 100, include_closed: bool = False) -> list[Entry]:
    """The latest messages, newest first; closed ones only when asked."""
    entries = [Entry.of(message) for message in MessageStore(redis).newest(limit)]
    return [entry for entry in entries if include_closed or not entry.closed]


def open_audio(
    redis: Redis, vault: Vault, recording_sid: str, *, actor: str, now: datetime
) -> bytes:
    """Return a message's decrypted audio (MP3) and audit who opened it."""
    message = MessageStore(redis).get(recording_sid)
    if message is None:
        raise InboxError(f"no message {recording_sid}")
    if not message.audio_sha256:
        raise InboxError(f"message {recording_sid} has no stored audio ({message.state})")
    audio = vault.read(recording_sid)
    audit(redis, "played", recording_sid, actor=actor, now=now, via="inbox")
    return audio


def close(
    redis: Redis,
    recording_sid: str,
    *,
    actor: str,
    now: datetime,
    reason: str = "",
    room: WaitingRoom | None = None,
) -> bool:
    """Close a message (handled, or no callback needed); False when it was already closed."""
    store = MessageStore(redis)
    message = store.get(recording_sid)
    if message is None:
        raise InboxError(f"no message {recording_sid}")
    if "closed_at" in message.fields:
        return False
    store.set_fields(
        recording_sid,
        {"closed_at": stamp(now), "closed_by": actor, "callback_state": "closed"},
    )
    if room is not None:
        # A callback still waiting for an agent is withdrawn; one being dialled goes on.
        room.leave(callbacks.task_id(recording_sid), now.timestamp(), outcome="closed")
    audit(redis, "closed", recording_sid, actor=actor, now=now, reason=reason[:200])
    events.append(redis, "voicemail_closed", recording=recording_sid, by=actor)
    return True
