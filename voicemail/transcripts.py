"""Transcripts from Twilio's real-time transcription: a live call's lines, and a message's.

Live calls: each final line of either track (the caller's, and the agent's as the caller hears
it) goes to the call's assist feed (`queues.live_assist`), where the desk shows it, and each
caller's line goes through the crisis classifier: a hit opens the crisis (incident, alert and
the supervisors' page, as the danger key or an agent's flag does) and puts a crisis event on the
feed, which the desk turns into a one-click escalation. The lines are kept sealed for the feed's
few hours only; at the call's end the transcript is kept, sealed, for the recordings' retention
only when the caller consented to the recording (`voicemail.consultations.Consent`), and
otherwise nothing is kept beyond those hours.

Voicemail: the message's lines are sealed and gathered by the call it is left on (the message
itself is known by its RecordingSid only once the recording ends), then attached to the message
(`voicemail.messages`, the inbox's) sealed by the vault like Twilio's transcription was. The
message's words so far go through the crisis classifier with every line: a hit pages the
supervisors and opens an incident at once, once per message, before the recording is processed.

Twilio repeats callbacks: a line is taken once by its transcription and sequence number, and a
repeat changes nothing. No caller's words are ever plain in Redis, in an event or in a log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from queues import alerts, events, keys, live_assist, sealing
from queues.calls import CallStore
from queues.sealing import Sealer
from routing.classifier import Lexicon, classify
from routing.privacy import mask_number
from voicemail.consultations import Consent
from voicemail.messages import MessageStore, decision_fields, stamp
from voicemail.processing import TRANSCRIPT
from voicemail.triage import TriageRules, assess
from voicemail.vault import Vault

log = logging.getLogger(__name__)

# Twilio's tracks as the desk names them: inbound is the caller, outbound what the caller hears.
TRACKS = {"inbound_track": "caller", "outbound_track": "agent"}
CALLER = "caller"
# Longest line kept or classified: a final line is a sentence or two, never pages of text.
MAX_LINE = 2000
# Lines kept per call or message: hours of talk; past this a forged flood is dropped.
MAX_LINES = 5000
# The incident's trigger for crisis words heard in a live call's transcript.
LIVE_TRIGGER = "live_transcript"
# A message's crisis words open the crisis as the message's own page does (queues.alerts).
VOICEMAIL_TRIGGER = "voicemail"
# A message's lines wait this long for their recording, then go (the message keeps its copy).
MESSAGE_LINES_TTL_S = 2 * 24 * 3600

# Takes a callback once: marks it seen and numbers its line, the hash never left without expiry.
_TAKE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local number = redis.call('HINCRBY', KEYS[1], 'lines', 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return number
"""


@dataclass(frozen=True)
class HeardLine:
    """One final line of a transcription callback, with Twilio's names left at the edge."""

    call_sid: str
    transcription_sid: str
    seq: int
    # "caller" or "agent" (TRACKS).
    track: str
    text: str
    # The caller's language ("zh", "en").
    language: str

    @property
    def marker(self) -> str:
        """What makes a callback this one: Twilio repeats a callback with the same numbers."""
        return f"seen:{self.transcription_sid}:{self.seq}"


@dataclass(frozen=True)
class Heard:
    """What taking a line did: new or a repeat, a crisis found, the supervisors alerted."""

    new: bool
    crisis: bool = False
    alerted: bool = False


def transcript_text(data: str) -> str:
    """The words of Twilio's TranscriptionData JSON ({"transcript": ..., "confidence": ...})."""
    try:
        parsed = json.loads(data)
    except (TypeError, ValueError):
        return ""
    text = parsed.get("transcript", "") if isinstance(parsed, dict) else ""
    return " ".join(str(text).split())[:MAX_LINE] if isinstance(text, str) else ""


def crisis_words(text: str, lexicon: Lexicon | None, language: str) -> bool:
    """Whether the hotline's crisis classifier hears a crisis in these words."""
    if not text or lexicon is None:
        return False
    return classify(text, lexicon, language or None).crisis


class _Lines:
    """Sealed lines in one hash, each taken once: the shared part of both transcripts."""

    def __init__(self, redis: Redis, key: str, context: str, sealer: Sealer | None):
        self.redis = redis
        self.key = key
        self.context = context
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """What seals the words: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def take(self, line: HeardLine, at: float, ttl_s: int) -> bool:
        """Keep a line once (False for a repeat or past MAX_LINES), sealed, in arrival order."""
        taken = self.redis.register_script(_TAKE)
        number = int(taken(keys=[self.key], args=[line.marker, f"{at:.3f}", ttl_s]))
        if not number:
            return False
        if number > MAX_LINES:
            log.warning("transcript %s: over %d lines, line dropped", self.key, MAX_LINES)
            return False
        field = f"line:{number:05d}"
        data = {"track": line.track, "text": line.text, "at": round(at, 3), "seq": line.seq}
        sealed = self.sealer.seal(json.dumps(data, ensure_ascii=False), self._bound(field))
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.key, field, sealed)
        pipe.expire(self.key, ttl_s)
        pipe.execute()
        return True

    def all(self) -> list[dict[str, Any]]:
        """Every line kept, in arrival order, opened."""
        raw = self.redis.hgetall(self.key)
        found = []
        for name, value in sorted(raw.items()):
            field = name.decode()
            if field.startswith("line:"):
                text = self.sealer.open(value.decode(), self._bound(field))
                if text:
                    found.append(json.loads(text))
        return found

    def flag(self, name: str, value: str, *, ttl_s: int | None = None) -> bool:
        """Set a flag once (the hash kept ttl_s more when given); True the first time."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hsetnx(self.key, name, value)
        if ttl_s is not None:
            pipe.expire(self.key, ttl_s)
        return bool(pipe.execute()[0])

    def get(self, name: str) -> str:
        """A flag's value, or empty."""
        raw = self.redis.hget(self.key, name)
        return raw.decode() if raw else ""

    def _bound(self, field: str) -> str:
        """What a line's seal is bound to: its transcript and place in it."""
        return f"{self.context}:{field}"


# --- live calls ------------------------------------------------------------------------------


class CallTranscripts:
    """A live call's transcript: its feed lines, crisis hits and, with consent, what is kept.

    The only owner of the live transcript and kept call transcript keys.
    """

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        """What seals the words and digests numbers: the given sealer, else the process's."""
        return self._sealer or sealing.current()

    def _lines(self, call_sid: str) -> _Lines:
        """The call's live lines."""
        return _Lines(
            self.redis, keys.live_transcript(call_sid), f"live-transcript:{call_sid}", self._sealer
        )

    def hear(self, line: HeardLine, *, now: float, lexicon: Lexicon | None) -> Heard:
        """Take a final line once: onto the desk's feed, and a caller's through the classifier."""
        if not line.text or not line.call_sid:
            return Heard(new=False)
        if not self._lines(line.call_sid).take(line, now, live_assist.TTL_S):
            return Heard(new=False)
        data = {"track": line.track, "text": line.text, "at": round(now, 3), "seq": line.seq}
        live_assist.publish(self.redis, line.call_sid, "line", data)
        crisis = line.track == CALLER and crisis_words(line.text, lexicon, line.language)
        alerted = False
        if crisis:
            # Supervisors first: the page is what must not wait; then the desk's escalation.
            alerted = alerts.open_crisis(
                self.redis,
                line.call_sid,
                trigger=LIVE_TRIGGER,
                language=line.language,
                now=now,
                said=line.text,
            )
            live_assist.publish(
                self.redis, line.call_sid, "crisis", {"text": line.text, "at": round(now, 3)}
            )
            log.warning("call %s: crisis words in the live transcript", line.call_sid)
        if self.redis.exists(keys.call_transcript(line.call_sid)):
            # A line that came after the call's end (callbacks come out of order) joins it.
            self._keep(line.call_sid, now, refresh=True)
        return Heard(new=True, crisis=crisis, alerted=alerted)

    def lines(self, call_sid: str) -> list[dict[str, Any]]:
        """The call's live lines still kept (the feed's few hours), in order."""
        return self._lines(call_sid).all()

    def end(self, call_sid: str, *, now: float, keep_days: float) -> str:
        """At the call's end: keep the transcript when the caller consented, else nothing more.

        Returns "kept", "no-consent", "empty" or "already" (a repeated end changes nothing).
        """
        if not call_sid:
            return "empty"
        # Only a consent on record says yes: unsure (no answer kept) means no.
        if not Consent(self.redis).given(call_sid):
            return "no-consent"
        return self._keep(call_sid, now, keep_s=int(keep_days * 86400))

    def _keep(
        self, call_sid: str, now: float, *, keep_s: int | None = None, refresh: bool = False
    ) -> str:
        """Seal the whole transcript into the kept record, bound to the call, with its expiry."""
        found = self.lines(call_sid)
        if not found:
            return "empty"
        key = keys.call_transcript(call_sid)
        created = self.redis.hsetnx(key, "kept_at", f"{now:.3f}")
        if not created and not refresh:
            return "already"
        record = CallStore(self.redis, sealer=self._sealer).get(call_sid)
        caller = record.caller if record else ""
        digest = self.sealer.digest(caller) if caller else ""
        sealed = self.sealer.seal(json.dumps(found, ensure_ascii=False), _kept_context(call_sid))
        fields = {"transcript": sealed, "lines": str(len(found))}
        if record is not None:
            fields.update(language=record.language, area=record.area)
        if digest:
            fields.update(caller_digest=digest, caller_masked=mask_number(caller))
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={name: value for name, value in fields.items() if value})
        if keep_s is not None:
            # The recordings' retention: kept no longer than the recording it goes with.
            pipe.expire(key, keep_s)
            if digest:
                pipe.sadd(keys.call_transcripts_of_caller(digest), call_sid)
                pipe.expire(keys.call_transcripts_of_caller(digest), keep_s)
        if created:
            events.append(
                self.redis, "transcript-kept", pipeline=pipe, call=call_sid, lines=len(found)
            )
        pipe.execute()
        return "kept" if created else "already"

    def is_kept(self, call_sid: str) -> bool:
        """Whether the call's transcript is kept with its recording."""
        return bool(self.redis.hexists(keys.call_transcript(call_sid), "transcript"))

    def kept(self, call_sid: str) -> list[dict[str, Any]] | None:
        """The transcript kept with the call's recording (lines opened), or None when none is."""
        raw = self.redis.hget(keys.call_transcript(call_sid), "transcript")
        if raw is None:
            return None
        text = self.sealer.open(raw.decode(), _kept_context(call_sid))
        return json.loads(text) if text else []

    # -- a person's data -----------------------------------------------------------------

    def calls_of(self, number: str) -> set[str]:
        """The calls whose kept transcript is the number's, by keyed digest."""
        digest = self.sealer.digest(number)
        return {
            raw.decode() for raw in self.redis.smembers(keys.call_transcripts_of_caller(digest))
        }

    def export_person(self, number: str, calls: Iterable[str]) -> list[dict[str, Any]]:
        """A person's transcripts: kept ones and any still live, lines opened."""
        found = []
        for call_sid in sorted(set(calls) | self.calls_of(number)):
            kept, live = self.kept(call_sid), self.lines(call_sid)
            if kept is None and not live:
                continue
            found.append({"call_sid": call_sid, "kept": kept, "live": live})
        return found

    def erase_person(self, number: str, calls: Iterable[str]) -> int:
        """Delete a person's transcripts, kept and live; how many calls had one."""
        digest = self.sealer.digest(number)
        sids = sorted(set(calls) | self.calls_of(number))
        erased = 0
        for call_sid in sids:
            pipe = self.redis.pipeline()
            pipe.delete(keys.call_transcript(call_sid))
            pipe.delete(keys.live_transcript(call_sid))
            kept, live = pipe.execute()
            erased += int(bool(kept or live))
        self.redis.delete(keys.call_transcripts_of_caller(digest))
        return erased


def _kept_context(call_sid: str) -> str:
    """What a kept transcript's seal is bound to."""
    return f"call-transcript:{call_sid}"


# --- voicemail -------------------------------------------------------------------------------


class MessageTranscripts:
    """A voicemail's transcript lines, by the call it is left on, until and after its message.

    The only owner of the voicemail transcript keys.
    """

    def __init__(self, redis: Redis, *, sealer: Sealer | None = None):
        self.redis = redis
        self._sealer = sealer

    def _lines(self, call_sid: str) -> _Lines:
        """The message's lines."""
        return _Lines(
            self.redis,
            keys.voicemail_transcript(call_sid),
            f"voicemail-transcript:{call_sid}",
            self._sealer,
        )

    def hear(
        self,
        line: HeardLine,
        *,
        now: float,
        lexicon: Lexicon | None,
        vault: Vault | None = None,
        rules: TriageRules | None = None,
    ) -> Heard:
        """Take a message's line once; crisis words in the words so far page supervisors once."""
        if not line.text or not line.call_sid:
            return Heard(new=False)
        lines = self._lines(line.call_sid)
        if not lines.take(line, now, MESSAGE_LINES_TTL_S):
            return Heard(new=False)
        # The words so far, not the line alone: a sentence may be split between two lines.
        said = self.text(line.call_sid)
        crisis = crisis_words(said, lexicon, line.language)
        alerted = False
        if crisis and not lines.get("crisis_at"):
            # Once per message, at once, before the recording is even processed. The crisis is
            # opened before it is marked: a failure in between leaves it for the next line to
            # open (the alert is once per call whatever happens), never marked but unpaged.
            alerted = alerts.open_crisis(
                self.redis,
                line.call_sid,
                trigger=VOICEMAIL_TRIGGER,
                language=line.language,
                now=now,
                said=said[:MAX_LINE],
            )
            if lines.flag("crisis_at", f"{now:.3f}"):
                events.append(
                    self.redis, "voicemail_crisis_words", call=line.call_sid, source="transcription"
                )
                log.warning("voicemail on call %s: crisis words in its transcript", line.call_sid)
        recording_sid = lines.get("recording")
        if recording_sid and vault is not None:
            self.attach(
                line.call_sid, recording_sid, vault=vault, now=now, lexicon=lexicon, rules=rules
            )
        return Heard(new=True, crisis=crisis, alerted=alerted)

    def text(self, call_sid: str) -> str:
        """The message's words so far, its lines joined in order."""
        return " ".join(line["text"] for line in self._lines(call_sid).all())

    def lines(self, call_sid: str) -> list[dict[str, Any]]:
        """The message's lines still kept by call, in order."""
        return self._lines(call_sid).all()

    def attach(
        self,
        call_sid: str,
        recording_sid: str,
        *,
        vault: Vault,
        now: float,
        lexicon: Lexicon | None,
        rules: TriageRules | None = None,
    ) -> bool:
        """Give the message its transcript (sealed by the vault) and the urgency its words add.

        Called when the recording is registered and with every later line; False when there is
        nothing to attach yet.
        """
        if not call_sid or not recording_sid:
            return False
        lines = self._lines(call_sid)
        lines.flag("recording", recording_sid, ttl_s=MESSAGE_LINES_TTL_S)
        said = self.text(call_sid)
        store = MessageStore(self.redis, sealer=self._sealer)
        before = store.get(recording_sid)
        if not said or before is None:
            return False
        when = datetime.fromtimestamp(now, UTC)
        fields = {
            TRANSCRIPT: vault.seal_text(recording_sid, said, purpose=TRANSCRIPT),
            "transcribed_at": stamp(when),
            "transcript_source": "realtime",
        }
        decision = assess(
            before.measures,
            transcript=said,
            lexicon=lexicon,
            language=before.language or None,
            rules=rules,
        )
        # Words only add urgency: a voice already judged urgent stays urgent.
        if decision.score >= before.urgency or decision.crisis:
            fields.update(decision_fields(decision))
        paged_at = lines.get("crisis_at")
        if paged_at and "notified_at" not in before.fields:
            # The supervisors were paged from the lines: processing must not page again.
            fields["notified_at"] = paged_at
        store.set_fields(recording_sid, fields)
        return True

    def erase_calls(self, calls: Iterable[str]) -> int:
        """Delete the lines kept for these calls' messages; how many calls had some."""
        sids = sorted(set(calls))
        if not sids:
            return 0
        return int(self.redis.delete(*(keys.voicemail_transcript(sid) for sid in sids)))

    def export_calls(self, calls: Iterable[str]) -> list[dict[str, Any]]:
        """The lines kept for these calls' messages, opened."""
        found = ({"call_sid": sid, "lines": self.lines(sid)} for sid in sorted(set(calls)))
        return [entry for entry in found if entry["lines"]]
