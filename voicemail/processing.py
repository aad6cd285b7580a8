"""Processing of one voicemail recording, idempotent by RecordingSid and safe to re-run anywhere.

Steps, each recorded before the next may rely on it:

    download ─► analyse (trim, normalise, measure, triage) ─► encode (MP3)
      ─► encrypt, write atomically, read back and check ─► mark "stored"
      ─► page for urgent or crisis messages ─► delete Twilio's copy ─► mark "ready" / "empty"

Twilio's copy is deleted only once the encrypted copy is verified on disk and recorded in Redis,
so a worker killed anywhere leaves either Twilio's copy or ours, and a re-run picks up from the
recorded step: a message found "stored" is checked on disk and only the delete is repeated
(Twilio's 404 for an already deleted recording counts as done). Workers racing on one recording
are kept apart by a claim in Redis, held by the RQ job id so the job's own retry can take over
from a worker that died. Nothing here retries: a RetryableError tells the RQ job to try later.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from redis import Redis

from queues import events
from routing.classifier import Lexicon
from routing.privacy import mask_number
from voicemail import audio
from voicemail.messages import (
    CORRUPT,
    EMPTY,
    MISSING,
    READY,
    REFUSED,
    STORED,
    Message,
    MessageStore,
    decision_fields,
    stamp,
)
from voicemail.source import (
    ForeignRecordingUrl,
    RecordingNotFound,
    RecordingSource,
    RetryableError,
    VoicemailError,
    check_recording_url,
)
from voicemail.triage import Transcriber, TriageDecision, TriageRules, assess
from voicemail.vault import (
    AudioMissing,
    IntegrityError,
    StorageUnavailable,
    Vault,
    VaultError,
)

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
TRANSCRIPT = "transcript"

# Called with "urgent", "crisis", "disk_full" or "storage_unreachable" and the message, to page
# the on-call supervisor.
Notify = Callable[[str, Message], None]
# Called at each step boundary with the step's name; the fault seam the tests kill workers at.
Checkpoint = Callable[[str], None]


class RecordingPending(RetryableError):
    """Twilio answers 404 for a recording made moments ago: it is not ready yet."""


class ClaimHeld(RetryableError):
    """Another worker is processing this recording right now."""


@dataclass(frozen=True)
class Options:
    """Processing settings the hotline config decides."""

    # Hosts a RecordingUrl may point at: the API host the gateway sends credentials to.
    allowed_origins: tuple[str, ...] = (TWILIO_API,)
    # Twilio may answer 404 for a few seconds after a recording ends; past this it is gone.
    fresh_s: float = 600.0
    # Longer than the slowest processing (a 10-minute message takes about 2 s), short enough
    # that a retry after a dead worker is not held up for long.
    claim_ttl_s: float = 120.0
    bitrate_kbps: int = audio.STORAGE_BITRATE_KBPS
    detection: audio.Detection = field(default_factory=audio.Detection)
    triage: TriageRules = field(default_factory=TriageRules)


def _no_checkpoint(step: str) -> None:
    """Do nothing at a step boundary."""


def _emit(redis: Redis, kind: str, message: Message, **fields: object) -> None:
    """Append a voicemail event; the caller's number only ever masked."""
    events.append(
        redis,
        kind,
        recording=message.recording_sid,
        call=message.call_sid or None,
        caller=mask_number(message.caller) or None,
        area=message.area or None,
        language=message.language or None,
        **fields,
    )


def register_recording(
    redis: Redis,
    recording_sid: str,
    *,
    now: datetime,
    call_sid: str = "",
    recording_url: str = "",
    duration_s: str = "",
    caller: str = "",
    area: str = "",
    language: str = "",
    summary: str = "",
) -> bool:
    """Record a recording callback's facts once; False when the recording was already known."""
    store = MessageStore(redis)
    created = store.register(
        recording_sid,
        now=now,
        call_sid=call_sid,
        caller=caller,
        area=area,
        language=language,
        summary=summary,
        recording_url=recording_url,
        duration_s=duration_s,
    )
    message = store.get(recording_sid)
    assert message is not None
    if created:
        _emit(redis, "voicemail_received", message)
    return created


def process_recording(
    recording_sid: str,
    *,
    redis: Redis,
    source: RecordingSource,
    vault: Vault,
    now: datetime,
    options: Options | None = None,
    lexicon: Lexicon | None = None,
    transcriber: Transcriber | None = None,
    notify: Notify | None = None,
    owner: str | None = None,
    checkpoint: Checkpoint = _no_checkpoint,
) -> Message:
    """Download, analyse, encrypt and store one recording, then delete Twilio's copy once."""
    options = options or Options()
    store = MessageStore(redis)
    message = store.get(recording_sid)
    if message is None:
        register_recording(redis, recording_sid, now=now)
        message = store.get(recording_sid)
        assert message is not None
    if message.finished:
        return message
    if message.recording_url:
        _check_url(redis, message, options)
    owner = owner or uuid.uuid4().hex
    if not store.claim(recording_sid, owner, options.claim_ttl_s):
        raise ClaimHeld(f"voicemail {recording_sid}: another worker is processing it")
    run = _Run(
        recording_sid,
        store,
        source,
        vault,
        now,
        options,
        owner,
        checkpoint,
        lexicon=lexicon,
        transcriber=transcriber,
        notify=notify,
    )
    try:
        finished = run.process()
    except (VoicemailError, VaultError, audio.AudioError):
        # Known failures give the claim back at once, so the retry need not wait for it. Any
        # other exception is treated like a dead worker: the claim lapses on its own.
        store.release(recording_sid, owner)
        raise
    store.release(recording_sid, owner)
    return finished


def _check_url(redis: Redis, message: Message, options: Options) -> None:
    """Refuse a RecordingUrl outside the API host before anything is fetched."""
    try:
        check_recording_url(message.recording_url, message.recording_sid, options.allowed_origins)
    except ForeignRecordingUrl as error:
        host = urlsplit(message.recording_url).hostname or "?"
        log.warning(
            "voicemail %s: refused recording URL on %s: %s", message.recording_sid, host, error
        )
        # Final: no credentials will ever go to that host. Retention deletes Twilio's copy by
        # its SID, through the configured API host.
        MessageStore(redis).set_fields(
            message.recording_sid, {"state": REFUSED, "error": str(error)[:200]}
        )
        _emit(redis, "voicemail_refused", message, host=host, reason=str(error))
        raise


@dataclass
class _Run:
    """One processing attempt of one recording, holding the claim."""

    recording_sid: str
    store: MessageStore
    source: RecordingSource
    vault: Vault
    now: datetime
    options: Options
    owner: str
    checkpoint: Checkpoint
    lexicon: Lexicon | None = None
    transcriber: Transcriber | None = None
    notify: Notify | None = None

    @property
    def redis(self) -> Redis:
        """The Redis the message lives in."""
        return self.store.redis

    def message(self, recording_sid: str) -> Message:
        """Read the message again (it is known: processing registered it)."""
        message = self.store.get(recording_sid)
        assert message is not None
        return message

    def update(self, message: Message, fields: dict[str, str]) -> Message:
        """Write fields under the claim and return the message as it now stands."""
        self.store.update(message.recording_sid, self.owner, fields)
        return self.message(message.recording_sid)

    def process(self) -> Message:
        """Run the steps not yet recorded for this message."""
        message = self.message_after_claim()
        if message.finished:
            return message
        if message.state != STORED or not self.copy_intact(message):
            message = self.store_copy(message)
            if message.finished:
                return message
        message = self.page(message)
        return self.delete_remote(message)

    def message_after_claim(self) -> Message:
        """Re-read the message now the claim is held: a racing worker may have finished it."""
        return self.message(self.recording_sid)

    # -- steps ----------------------------------------------------------------------------

    def copy_intact(self, message: Message) -> bool:
        """Check that the copy recorded as stored is on disk and unaltered."""
        if not message.audio_sha256:
            return True
        try:
            self.vault.verify(message.recording_sid, message.audio_sha256)
        except (AudioMissing, IntegrityError) as error:
            # Twilio's copy still exists (it is deleted only after this step): store again.
            log.error(
                "voicemail %s: stored copy unusable (%s); storing again",
                message.recording_sid,
                error,
            )
            _emit(self.redis, "voicemail_restore", message, reason=type(error).__name__)
            return False
        return True

    def download(self, message: Message) -> bytes | None:
        """Fetch the WAV from Twilio; None when Twilio no longer has it."""
        try:
            return self.source.fetch_wav(message.recording_sid, message.recording_url or None)
        except RecordingNotFound:
            age = self.now.timestamp() - message.created_at
            if age < self.options.fresh_s:
                raise RecordingPending(
                    f"voicemail {message.recording_sid}: not at Twilio yet ({age:.0f} s old)"
                ) from None
            return None

    def store_copy(self, message: Message) -> Message:
        """Download, analyse, encode and store the message; mark it stored (or why not)."""
        wav = self.download(message)
        if wav is None:
            log.error("voicemail %s: Twilio has no such recording", message.recording_sid)
            message = self.update(message, {"state": MISSING, "finished_at": stamp(self.now)})
            _emit(self.redis, "voicemail_missing", message)
            return message
        self.checkpoint("downloaded")
        try:
            segment = audio.decode_wav(wav)
        except audio.CorruptAudio as error:
            return self.keep_corrupt(message, wav, str(error))
        analysis = audio.analyse(segment, self.options.detection)
        transcript = self.transcribe(message, analysis)
        decision = self.assess(message, analysis.measures, transcript)
        self.checkpoint("analysed")
        # An empty message keeps its whole (silent) audio briefly, so staff can check it really
        # was empty; a 0-second recording has nothing to keep.
        kept = segment if analysis.measures.empty else analysis.audio
        encoded = audio.encode(kept, bitrate_kbps=self.options.bitrate_kbps) if len(kept) else b""
        self.checkpoint("encoded")
        fields = self.write(message, encoded)
        self.checkpoint("written")
        fields.update(analysis.measures.as_fields())
        fields.update(decision_fields(decision))
        fields.update({"state": STORED, "kind": EMPTY if analysis.measures.empty else "speech"})
        if transcript:
            fields[TRANSCRIPT] = self.vault.seal_text(
                message.recording_sid, transcript, purpose=TRANSCRIPT
            )
        message = self.update(message, fields)
        # A transcription callback may have landed while this run was analysing.
        message = self.retriage(message, used_transcript=transcript is not None)
        _emit(
            self.redis,
            "voicemail_stored",
            message,
            empty=int(analysis.measures.empty),
            seconds=analysis.measures.duration_s,
            urgency=message.urgency,
            urgent=int(message.urgent),
            crisis=int(message.crisis),
        )
        self.checkpoint("stored")
        return message

    def write(self, message: Message, encoded: bytes) -> dict[str, str]:
        """Encrypt and store audio; a full disk keeps Twilio's copy and raises the alert."""
        if not encoded:
            return {"audio_sha256": "", "audio_bytes": "0", "stored_at": stamp(self.now)}
        try:
            stored = self.vault.store(message.recording_sid, encoded)
        except StorageUnavailable as error:
            # A full disk or an unreachable bucket: Twilio's copy is kept and the job retried.
            log.error("voicemail %s: %s; Twilio's copy is kept", message.recording_sid, error)
            _emit(self.redis, "voicemail_alert", message, reason=error.alert)
            if self.notify is not None:
                self.notify(error.alert, message)
            raise
        return {
            "audio_sha256": stored.sha256,
            "audio_bytes": str(stored.size),
            "audio_format": audio.STORAGE_FORMAT,
            "stored_at": stamp(self.now),
        }

    def keep_corrupt(self, message: Message, wav: bytes, reason: str) -> Message:
        """Keep unreadable bytes encrypted, leave Twilio's copy, and mark the message corrupt."""
        log.error("voicemail %s: %s", message.recording_sid, reason)
        fields = self.write(message, wav)
        fields.update({"audio_format": "raw", "state": CORRUPT, "error": reason[:200]})
        fields["finished_at"] = stamp(self.now)
        message = self.update(message, fields)
        _emit(self.redis, "voicemail_corrupt", message)
        return message

    def transcribe(self, message: Message, analysis: audio.Analysis) -> str | None:
        """Ask the speech-to-text, when one is plugged in, what the caller said."""
        if self.transcriber is None or analysis.measures.empty:
            return None
        if TRANSCRIPT in message.fields:
            # The real-time transcription (or Twilio's) already gave the words: they are kept.
            return None
        try:
            return self.transcriber.transcribe(
                audio.to_wav(analysis.audio), language=message.language or "zh"
            )
        except Exception:
            # Speech-to-text is a help, not a step: the message is kept and triaged by voice,
            # and Twilio's transcription may still come. The failure is logged in full.
            log.exception("voicemail %s: speech-to-text failed", message.recording_sid)
            return None

    def assess(
        self, message: Message, measures: audio.Measures, transcript: str | None
    ) -> TriageDecision:
        """Triage by voice and by the words known so far."""
        if transcript is None and TRANSCRIPT in message.fields:
            transcript = self.vault.unseal_text(
                message.recording_sid, message.fields[TRANSCRIPT], purpose=TRANSCRIPT
            )
        return assess(
            measures,
            transcript=transcript,
            lexicon=self.lexicon,
            language=message.language or None,
            rules=self.options.triage,
        )

    def retriage(self, message: Message, *, used_transcript: bool) -> Message:
        """Triage again when a transcript arrived after the analysis began."""
        if used_transcript or TRANSCRIPT not in message.fields or message.measures is None:
            return message
        decision = self.assess(message, message.measures, None)
        return self.update(message, decision_fields(decision))

    def page(self, message: Message) -> Message:
        """Page the supervisor once for an urgent or crisis message, before anything else."""
        if not message.urgent or "notified_at" in message.fields:
            return message
        kind = "crisis" if message.crisis else "urgent"
        _emit(self.redis, f"voicemail_{kind}", message, urgency=message.urgency)
        if self.notify is not None:
            self.notify(kind, message)
        message = self.update(message, {"notified_at": stamp(self.now)})
        self.checkpoint("notified")
        return message

    def delete_remote(self, message: Message) -> Message:
        """Delete Twilio's copy now ours is safe, and record that it is done."""
        deleted = self.source.delete(message.recording_sid)
        self.checkpoint("deleted")
        final = EMPTY if message.fields.get("kind") == EMPTY else READY
        message = self.update(
            message,
            {
                "state": final,
                "remote_deleted_at": stamp(self.now),
                "remote_delete": "deleted" if deleted else "already gone",
                "finished_at": stamp(self.now),
            },
        )
        _emit(
            self.redis, "voicemail_remote_deleted", message, result=message.fields["remote_delete"]
        )
        _emit(self.redis, f"voicemail_{final}", message, urgent=int(message.urgent))
        return message


@dataclass(frozen=True)
class Retriage:
    """A message triaged again with its transcript, and whether that raised its urgency."""

    message: Message
    decision: TriageDecision
    escalated: bool


def add_transcript(
    recording_sid: str,
    text: str,
    *,
    redis: Redis,
    vault: Vault,
    now: datetime,
    lexicon: Lexicon | None,
    rules: TriageRules | None = None,
    notify: Notify | None = None,
) -> Retriage:
    """Keep a transcript (encrypted) and triage its message again, e.g. for crisis words."""
    store = MessageStore(redis)
    register_recording(redis, recording_sid, now=now)
    before = store.get(recording_sid)
    assert before is not None
    sealed = vault.seal_text(recording_sid, text, purpose=TRANSCRIPT)
    decision = assess(
        before.measures,
        transcript=text,
        lexicon=lexicon,
        language=before.language or None,
        rules=rules,
    )
    fields = {TRANSCRIPT: sealed, "transcribed_at": stamp(now)}
    if before.fields.get("transcript_source") == "realtime":
        # The real-time transcript (Mandarin or English) stays the message's; Twilio's English
        # transcription of the recording only adds what its words say about urgency.
        del fields[TRANSCRIPT]
    # Words can only add urgency: a voice already judged urgent stays urgent.
    if decision.score >= before.urgency or decision.crisis:
        fields.update(decision_fields(decision))
    store.set_fields(recording_sid, fields)
    message = store.get(recording_sid)
    assert message is not None
    escalated = (message.crisis and not before.crisis) or (message.urgent and not before.urgent)
    if escalated:
        kind = "crisis" if message.crisis else "urgent"
        _emit(redis, f"voicemail_{kind}", message, urgency=message.urgency, source="transcript")
        if notify is not None:
            notify(kind, message)
        # Processing pages only messages nobody was paged for yet.
        store.set_fields(recording_sid, {"notified_at": stamp(now)})
    return Retriage(message, decision, escalated)
