"""The carrier's in-memory telephone network: calls, queues, conferences, recordings, messages.

Every field is read and written under `Network.cond`, one condition shared by all legs, so a leg
waiting for something (a bridge partner, a dequeue, a conference start) wakes on any change.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carrier.clock import Clock
from carrier.transcript import Transcript

# Twilio's default queue size when <Enqueue> creates a queue on demand.
DEFAULT_QUEUE_SIZE = 100
MAX_QUEUE_SIZE = 5000
# Exchanges kept for the contract test and debugging; older ones are dropped.
EXCHANGE_HISTORY = 5000


def new_sid(prefix: str) -> str:
    """Return a fresh Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


@dataclass
class Signal:
    """Something that happens to a call from outside its TwiML: a redirect, a hang-up, a bridge."""

    kind: (
        str  # redirect, hangup, bridge, bridge-ended, conference-started, conference-ended, kicked,
        # hold-changed (its reason "held" or "unheld")
    )
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    peer: str | None = None
    reason: str = ""


@dataclass
class Call:
    """One call leg, with the settings Twilio keeps for it and its live state."""

    sid: str
    account_sid: str
    caller: str
    called: str
    direction: str  # inbound, outbound-api, outbound-dial
    transcript: Transcript
    created: datetime
    status: str = "queued"
    parent_call_sid: str | None = None
    updated: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_v: float | None = None
    duration: int | None = None
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: tuple[str, ...] = ("completed",)
    timeout: int = 60
    machine_detection: str | None = None
    answered_by: str | None = None
    queue_time: int = 0
    party_name: str | None = None
    party_role: str | None = None
    forge_signature: bool = False
    mailbox: list[Signal] = field(default_factory=list)
    callback_sequence: int = 0
    # Legs bridged to this one right now (Dial, dequeue, conference peers are not listed here).
    bridged_with: set[str] = field(default_factory=set)
    # The Dial outcome of an outbound-dial leg, read by the leg that dialled it.
    dial_state: str = "ringing"  # ringing, answered, bridged, ended
    dial_result: str | None = None
    # Set once the leg's thread has finished: final status, last callback and outcome are in.
    finished: bool = False

    @property
    def ended(self) -> bool:
        """Tell whether the call is over."""
        return self.status in ("completed", "busy", "failed", "no-answer", "canceled")


@dataclass
class Member:
    """A call waiting in a queue."""

    call_sid: str
    enqueued: datetime
    enqueued_v: float


@dataclass
class Queue:
    """A named Twilio queue and its members in arrival order."""

    sid: str
    friendly_name: str
    max_size: int
    created: datetime
    updated: datetime
    members: list[Member] = field(default_factory=list)

    def position(self, call_sid: str) -> int | None:
        """Return a call's 1-based place in the queue, or None when it is not in it."""
        for index, member in enumerate(self.members):
            if member.call_sid == call_sid:
                return index + 1
        return None


@dataclass
class Participant:
    """A call in a conference."""

    call_sid: str
    created: datetime
    updated: datetime
    label: str | None = None
    muted: bool = False
    hold: bool = False
    start_on_enter: bool = True
    end_on_exit: bool = False
    coaching: bool = False
    status: str = "connected"
    # The participant a coach is heard by (nobody else hears a coaching participant).
    call_sid_to_coach: str | None = None
    # What a held participant hears instead of the conference (None: the default hold music).
    hold_url: str | None = None
    hold_method: str = "GET"
    beep: str = "true"


@dataclass
class Conference:
    """A named conference room: it starts when a starting participant enters and ends once."""

    sid: str
    friendly_name: str
    created: datetime
    updated: datetime
    status: str = "init"
    participants: dict[str, Participant] = field(default_factory=dict)
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: tuple[str, ...] = ()
    callback_sequence: int = 0
    # The recording the conference is making now (record="record-from-start"), if any.
    recording_sid: str | None = None
    # When it ended, on the carrier's clock: a participant's thread that wakes late still says
    # the lines that fell due before then, as a live call would have carried them.
    ended_at: float | None = None
    # When each participant joined and left, on the carrier's clock: a participant's thread
    # that wakes only after the end still learns who it was bridged to.
    joined_at: dict[str, float] = field(default_factory=dict)
    left_at: dict[str, float] = field(default_factory=dict)


@dataclass
class Recording:
    """A recording and its audio (8 kHz mono PCM)."""

    sid: str
    account_sid: str
    call_sid: str
    created: datetime
    pcm: bytes
    duration: int
    source: str = "RecordVerb"
    conference_sid: str | None = None
    status: str = "completed"
    channels: int = 1
    updated: datetime | None = None
    # Twilio's error for a recording that came out absent (16101: too short to keep).
    error_code: int | None = None
    # DELETE removes the media; the stand-in keeps the record so tests can tell it happened.
    deleted: bool = False
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: tuple[str, ...] = ("completed",)
    # What an ordinary participant heard while it recorded: {"t", "from", "label", "text"}.
    lines: list[dict[str, Any]] = field(default_factory=list)
    # Stretches of the recording in virtual seconds: [kind ("audio" or "silence"), start, end].
    timeline: list[list[Any]] = field(default_factory=list)


@dataclass
class Message:
    """An SMS the app sent."""

    sid: str
    account_sid: str
    to: str
    sender: str | None
    body: str
    created: datetime
    status: str = "queued"
    messaging_service_sid: str | None = None


class Network:
    """All state of one carrier run, guarded by one condition."""

    def __init__(self, clock: Clock, account_sid: str):
        self.clock = clock
        self.account_sid = account_sid
        self.cond = threading.Condition(threading.RLock())
        self.calls: dict[str, Call] = {}
        self.queues: dict[str, Queue] = {}
        self.conferences: dict[str, Conference] = {}
        self.recordings: dict[str, Recording] = {}
        self.messages: dict[str, Message] = {}
        self.exchanges: list[dict[str, Any]] = []

    def add_call(self, **fields: Any) -> Call:
        """Create a call leg with a fresh SID and an empty transcript."""
        sid = new_sid("CA")
        transcript = Transcript(
            sid,
            caller=fields["caller"],
            called=fields["called"],
            direction=fields["direction"],
            started=self.clock.now(),
        )
        now = self.clock.utcnow()
        call = Call(
            sid=sid,
            account_sid=self.account_sid,
            transcript=transcript,
            created=now,
            updated=now,
            **fields,
        )
        with self.cond:
            self.calls[sid] = call
            self.cond.notify_all()
        return call

    def set_status(self, call: Call, status: str) -> None:
        """Move a call to a new status, stamping times and duration like Twilio."""
        with self.cond:
            now = self.clock.utcnow()
            call.status = status
            call.updated = now
            call.transcript.note_outcome(status=status)
            if status == "in-progress" and call.start_time is None:
                call.start_time = now
                call.answered_v = self.clock.now()
            if call.ended and call.end_time is None:
                call.end_time = now
                answered = call.answered_v
                call.duration = int(round(self.clock.now() - answered)) if answered else 0
            self.cond.notify_all()

    def signal(self, call_sid: str, signal: Signal) -> bool:
        """Deliver a signal to a live call, waking every waiting leg; False if the call is over."""
        with self.cond:
            call = self.calls.get(call_sid)
            if call is None or call.ended:
                return False
            call.mailbox.append(signal)
            self.cond.notify_all()
            return True

    def queue_named(self, name: str, *, create: bool) -> Queue | None:
        """Find a queue by friendly name, creating it with Twilio's default size when asked."""
        with self.cond:
            for queue in self.queues.values():
                if queue.friendly_name == name:
                    return queue
            if not create:
                return None
            return self.add_queue(name, DEFAULT_QUEUE_SIZE)

    def add_queue(self, name: str, max_size: int) -> Queue:
        """Create a queue."""
        now = self.clock.utcnow()
        queue = Queue(new_sid("QU"), name, max_size, now, now)
        with self.cond:
            self.queues[queue.sid] = queue
        return queue

    def queue_of(self, call_sid: str) -> Queue | None:
        """Return the queue a call waits in, if any."""
        with self.cond:
            for queue in self.queues.values():
                if queue.position(call_sid) is not None:
                    return queue
            return None

    def conference_named(self, name: str, *, create: bool) -> Conference | None:
        """Find the live conference with this name (or SID), creating one when asked."""
        with self.cond:
            if name in self.conferences and self.conferences[name].status != "completed":
                return self.conferences[name]
            for conference in self.conferences.values():
                if conference.friendly_name == name and conference.status != "completed":
                    return conference
            if not create:
                return None
            now = self.clock.utcnow()
            conference = Conference(new_sid("CF"), name, now, now)
            self.conferences[conference.sid] = conference
            return conference

    def record_exchange(self, exchange: dict[str, Any]) -> None:
        """Keep one REST request and its answer, for the contract test."""
        with self.cond:
            self.exchanges.append(exchange)
            del self.exchanges[:-EXCHANGE_HISTORY]
