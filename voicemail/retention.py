"""Retention: voicemail audio and metadata are deleted after a set time, every deletion audited.

Messages are kept `keep_days` (default 30) from when they were left; empty messages (no speech)
only `empty_keep_days` (default 2), long enough for staff to check a caller really said nothing.
A message whose Twilio copy may still exist (processing never finished) has that copy deleted
too when a source is given, and is otherwise left for the next run, so no recording outlives
retention at Twilio unnoticed. Encrypted files whose metadata is gone (Redis lost data) are
deleted once older than `keep_days` by their file time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis

from queues import events
from routing.privacy import mask_number
from voicemail.messages import EMPTY, MISSING, Message, MessageStore, audit
from voicemail.source import RecordingSource, VoicemailError
from voicemail.vault import Vault

log = logging.getLogger(__name__)

ACTOR = "retention"
PAGE = 500


@dataclass(frozen=True)
class RetentionRules:
    """How long messages are kept."""

    keep_days: float = 30.0
    empty_keep_days: float = 2.0


def _expired(message: Message, cutoff: datetime, empty_cutoff: datetime) -> bool:
    """Tell whether a message is past its retention."""
    if message.state == EMPTY:
        return message.created_at < empty_cutoff.timestamp()
    return message.created_at < cutoff.timestamp()


def purge_expired(
    redis: Redis,
    vault: Vault,
    *,
    now: datetime,
    rules: RetentionRules | None = None,
    source: RecordingSource | None = None,
) -> list[str]:
    """Delete every message past retention (audio, metadata, Twilio's copy); return their ids."""
    rules = rules or RetentionRules()
    cutoff = now - timedelta(days=rules.keep_days)
    empty_cutoff = now - timedelta(days=rules.empty_keep_days)
    store = MessageStore(redis)
    purged: list[str] = []
    offset = 0
    while page := store.created_before(max(cutoff, empty_cutoff), offset=offset):
        for recording_sid in page:
            message = store.get(recording_sid)
            if message is None:
                store.remove(recording_sid)
            elif _expired(message, cutoff, empty_cutoff) and _purge(
                redis, store, vault, message, now, source
            ):
                purged.append(recording_sid)
                continue
            offset += 1
    purged += _purge_orphans(redis, store, vault, now, cutoff)
    return purged


def _purge(
    redis: Redis,
    store: MessageStore,
    vault: Vault,
    message: Message,
    now: datetime,
    source: RecordingSource | None,
) -> bool:
    """Delete one expired message everywhere and audit it; False when it must wait."""
    sid = message.recording_sid
    if message.remote_deleted_at is None and message.state != MISSING:
        if source is None:
            log.warning("voicemail %s: past retention but Twilio's copy may remain", sid)
            return False
        try:
            source.delete(sid)
        except VoicemailError as error:
            log.warning("voicemail %s: Twilio's copy not deleted yet: %s", sid, error)
            return False
    had_audio = vault.delete(sid)
    pipe = redis.pipeline()
    store.remove(sid, pipeline=pipe)
    pipe.execute()
    reason = "empty" if message.state == EMPTY else "retention"
    audit(
        redis,
        "deleted",
        sid,
        actor=ACTOR,
        now=now,
        reason=reason,
        state=message.state,
        area=message.area,
        caller=mask_number(message.caller),
        created_at=f"{message.created_at:.3f}",
        audio="1" if had_audio else "0",
    )
    events.append(
        redis,
        "voicemail_deleted",
        recording=sid,
        area=message.area or None,
        caller=mask_number(message.caller) or None,
        reason=reason,
    )
    return True


def _purge_orphans(
    redis: Redis, store: MessageStore, vault: Vault, now: datetime, cutoff: datetime
) -> list[str]:
    """Delete encrypted files with no metadata once older than the retention."""
    purged = []
    for recording_sid in vault.message_ids():
        if store.get(recording_sid) is not None:
            continue
        if vault.modified_at(recording_sid) >= cutoff.timestamp():
            continue
        vault.delete(recording_sid)
        audit(redis, "deleted", recording_sid, actor=ACTOR, now=now, reason="orphan", audio="1")
        events.append(redis, "voicemail_deleted", recording=recording_sid, reason="orphan")
        purged.append(recording_sid)
    return purged
