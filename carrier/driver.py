"""The call driver: runs each call leg in a thread and executes the app's TwiML like Twilio does."""

from __future__ import annotations

import logging
import math
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import phonenumbers

from carrier import audio, twiml
from carrier.clock import rfc2822
from carrier.faults import Faults
from carrier.network import (
    Call,
    Conference,
    Member,
    Network,
    Participant,
    Queue,
    Recording,
    Signal,
    new_sid,
)
from carrier.parties import (
    LIVE_GRACE_S,
    REACTION_S,
    Directory,
    LiveParty,
    Party,
    Phone,
    Script,
    Step,
)
from carrier.transcript import mask_number
from carrier.twiml import CALL, CONFERENCE_WAIT, QUEUE_WAIT, WHISPER, TwimlError
from carrier.webhook import Webhooks

log = logging.getLogger("carrier.driver")

API_VERSION = "2010-04-01"
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
# Twilio's defaults for verbs that leave them out.
GATHER_TIMEOUT_S = 5
DIAL_TIMEOUT_S = 30
DIAL_TIME_LIMIT_S = 14400
RECORD_TIMEOUT_S = 5
RECORD_MAX_LENGTH_S = 3600
RECORD_FINISH_KEYS = "1234567890*#"
SPEECH_CONFIDENCE = "0.92"
ENDED_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")


@dataclass
class Settings:
    """Where the app lives and how the carrier presents itself to it."""

    account_sid: str
    auth_token: str
    hotline_number: str
    voice_url: str
    status_url: str | None
    fallback_url: str | None
    # The carrier's own base URL, used in RecordingUrl and resource URIs.
    public_url: str
    # How long one <Play> of hold music lasts, in virtual seconds.
    play_seconds: float = 10.0
    # The events Twilio sends for incoming calls to the number's status callback.
    incoming_status_events: tuple[str, ...] = ("completed",)


class Ended(Exception):
    """The leg is over: someone hung up, the app said Hangup, or the TwiML ran out."""

    def __init__(self, by: str, reason: str, *, status: str = "completed"):
        super().__init__(reason)
        self.by = by
        self.reason = reason
        self.status = status


class Redirected(Exception):
    """The leg must leave what it is doing and run another document."""

    def __init__(self, document: Document):
        super().__init__(document.url or "inline TwiML")
        self.document = document


class Interrupted(Exception):
    """A signal the current verb asked to hear about (a bridge, a conference start)."""

    def __init__(self, signal: Signal):
        super().__init__(signal.kind)
        self.signal = signal


class LeftQueue(Exception):
    """A <Leave> in the wait music took the caller out of the queue."""


@dataclass
class Document:
    """Where the next TwiML comes from and in which context it runs."""

    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    purpose: str = "voice"
    context: str = CALL
    fallback_url: str | None = None
    fallback_method: str = "POST"

    def join(self, target: str) -> str:
        """Resolve a URL from the document against the document's own URL, as Twilio does."""
        return urljoin(self.url or "", target.strip())


class Driver:
    """Starts call legs and answers the REST API's requests to redirect, dequeue or hang up."""

    def __init__(
        self, network: Network, webhooks: Webhooks, directory: Directory, settings: Settings
    ):
        self.network = network
        self.webhooks = webhooks
        self.directory = directory
        self.settings = settings
        self._threads: list[threading.Thread] = []
        self._stopping = False
        # Live callers by call SID, fed by the control API.
        self.live: dict[str, LiveParty] = {}

    @property
    def faults(self) -> Faults:
        """Return the run's fault plan (shared with the webhooks)."""
        return self.webhooks.faults

    def start_incoming(
        self, caller: str, script: Script, *, called: str | None = None, live: bool = False
    ) -> Call:
        """Place a simulated (or, with live, an interactive) call and return the inbound leg."""
        call = self.network.add_call(
            caller=caller,
            called=called or self.settings.hotline_number,
            direction="inbound",
            url=self.settings.voice_url,
            fallback_url=self.settings.fallback_url,
            status_callback=self.settings.status_url,
            status_callback_events=self.settings.incoming_status_events,
            forge_signature=script.forge_signature,
        )
        log.info("incoming call %s from %s", call.sid, mask_number(caller))
        party: Party = Party(script)
        if live:
            party = LiveParty(time_scale=self.network.clock.time_scale)
            with self.network.cond:
                self.live[call.sid] = party
        self._spawn(Leg(self, call, party).run_inbound, call)
        return call

    def send_input(self, call_sid: str, step: Step) -> bool:
        """Hand a live caller's key presses or words to their call; False if not a live call."""
        with self.network.cond:
            party = self.live.get(call_sid)
            call = self.network.calls.get(call_sid)
            if party is None or call is None or call.ended:
                return False
            party.inputs.append(step)
            self.network.cond.notify_all()
        return True

    def start_outgoing(self, call: Call) -> None:
        """Ring the number of a call created through the REST API."""
        phone = self.directory.lookup(call.called)
        call.party_name, call.party_role = phone.name, phone.role
        log.info("outgoing call %s to %s", call.sid, mask_number(call.called))
        self._spawn(Leg(self, call, phone.party(), phone=phone).run_outgoing, call)

    def start_dialed(self, call: Call) -> None:
        """Ring the number a <Dial> asked for, as a child leg of the dialling call."""
        phone = self.directory.lookup(call.called)
        call.party_name, call.party_role = phone.name, phone.role
        self._spawn(Leg(self, call, phone.party(), phone=phone).run_dialed, call)

    def _spawn(self, target: Callable[[], None], call: Call) -> None:
        """Run a leg in its own daemon thread, refusing new legs while shutting down."""
        if self._stopping:
            raise RuntimeError("the carrier is shutting down")
        thread = threading.Thread(target=target, name=f"leg-{call.sid[-6:]}", daemon=True)
        self._threads = [alive for alive in self._threads if alive.is_alive()]
        self._threads.append(thread)
        thread.start()

    def hang_up(self, call_sid: str, *, reason: str = "api") -> bool:
        """End a live call (REST Status=completed or canceled)."""
        return self.network.signal(call_sid, Signal("hangup", reason=reason))

    def redirect(self, call_sid: str, *, url: str | None, method: str, twiml: str | None) -> bool:
        """Make a live call run another document now (REST Url or Twiml, or a member dequeue)."""
        return self.network.signal(
            call_sid, Signal("redirect", url=url, method=method, twiml=twiml)
        )

    def wait_finished(self, call_sid: str, timeout: float) -> bool:
        """Wait up to `timeout` real seconds for a call leg to finish; tell whether it did."""
        network = self.network
        with network.cond:
            return network.cond.wait_for(
                lambda: network.calls[call_sid].finished, timeout=max(timeout, 0.0)
            )

    def shutdown(self, timeout: float = 5.0) -> None:
        """Hang up every live call and wait briefly for their legs to finish."""
        self._stopping = True
        with self.network.cond:
            live = [sid for sid, call in self.network.calls.items() if not call.ended]
        for sid in live:
            self.hang_up(sid, reason="carrier")
        for thread in list(self._threads):
            thread.join(timeout)


class Leg:
    """One call leg: its party, where it is in the call, and the TwiML it is running."""

    def __init__(self, driver: Driver, call: Call, party: Party, *, phone: Phone | None = None):
        self.driver = driver
        self.network = driver.network
        self.clock = driver.network.clock
        self.settings = driver.settings
        self.call = call
        self.party = party
        self.phone = phone
        self.transcript = call.transcript
        self.where = "menu" if call.direction == "inbound" else "ringing"
        self.side = "caller" if call.direction == "inbound" else "callee"
        self.queue: Queue | None = None
        self.accept: frozenset[str] = frozenset()
        self.held_callbacks: list[tuple[str, str, dict[str, str], str]] = []
        # Conference peers already written into the outcome.
        self.peers_seen: set[str] = set()

    # -- the three ways a leg starts -------------------------------------------------------

    def run_inbound(self) -> None:
        """Run an incoming call: ask the hotline's voice URL for TwiML and follow it."""

        def body() -> None:
            self._progress("initiated")
            self.network.set_status(self.call, "ringing")
            self._progress("ringing")
            self._follow(
                Document(
                    url=self.call.url,
                    purpose="voice",
                    fallback_url=self.call.fallback_url,
                )
            )

        self._run(body)

    def run_outgoing(self) -> None:
        """Run a call made through the REST API: ring, answer, then run its Url or Twiml."""

        def body() -> None:
            self._ring()
            self._follow(
                Document(
                    url=self.call.url,
                    method=self.call.method,
                    twiml=self.call.twiml,
                    purpose="voice",
                    fallback_url=self.call.fallback_url,
                    fallback_method=self.call.fallback_method,
                )
            )

        self._run(body)

    def run_dialed(self) -> None:
        """Run a <Dial>ed leg: ring, whisper with the Number url, then bridge to the dialler."""

        def body() -> None:
            self._ring()
            with self.network.cond:
                self.call.dial_state = "answered"
                self.network.cond.notify_all()
            if self.call.url:
                self.where = "whisper"
                self._follow(
                    Document(
                        url=self.call.url,
                        method=self.call.method,
                        purpose="whisper",
                        context=WHISPER,
                    ),
                    whisper=True,
                )
            parent = self._bridge_to_parent()
            self._note_bridge(parent)
            self._stay_bridged(parent.sid, None)
            raise Ended("peer", "the other side hung up")

        self._run(body)

    def _run(self, body: Callable[[], None]) -> None:
        """Run a leg body to its end, whatever ends it, and close the call."""
        try:
            try:
                body()
                raise Ended("app", "the TwiML ended")
            except Redirected as redirected:
                self._follow(redirected.document)
                raise Ended("app", "the TwiML ended") from None
        except Ended as ended:
            self._finish(ended)
        except Exception as error:  # the leg must end and say why, never hang silently
            log.exception("leg %s failed", self.call.sid)
            self.transcript.add(
                self.clock.now(), "error", code=0, message=f"carrier fault: {error}"
            )
            self._finish(Ended("carrier", f"carrier fault: {error}"))

    def _follow(self, document: Document | None, *, whisper: bool = False) -> None:
        """Run documents one after another until one ends without pointing to another."""
        while document is not None:
            try:
                document = self._run_document(document)
            except Redirected as redirected:
                document = redirected.document
                if whisper:
                    document.context = WHISPER

    # -- time and signals -----------------------------------------------------------------

    def _deadline(self) -> float | None:
        """Return the virtual time at which this party hangs up on their own, if answered."""
        answered = self.call.answered_v
        if answered is None:
            return None
        limit = answered + self.party.max_call_s
        if self.party.script.hangup_after is not None:
            limit = min(limit, answered + self.party.script.hangup_after)
        return limit

    def idle(
        self,
        seconds: float | None,
        *,
        until: Callable[[], bool] | None = None,
        accept: frozenset[str] | None = None,
    ) -> bool:
        """Let virtual time pass (None: until something happens); True if `until` came true.

        Raises Ended when the party hangs up or the call is hung up, Redirected when the call is
        sent elsewhere, and Interrupted for accepted signals.
        """
        accepted = self.accept if accept is None else accept
        end = None if seconds is None else self.clock.now() + max(seconds, 0.0)
        cond = self.network.cond
        with cond:
            while True:
                while self.call.mailbox:
                    self._handle(self.call.mailbox.pop(0), accepted)
                if until is not None and until():
                    return True
                now = self.clock.now()
                deadline = self._deadline()
                limits = [limit for limit in (end, deadline) if limit is not None]
                first = min(limits) if limits else None
                if first is not None and now >= first:
                    if deadline is not None and deadline <= first:
                        raise Ended(self.side, "hung up")
                    return False
                cond.wait(None if first is None else self.clock.real(first - now))

    def _handle(self, signal: Signal, accepted: frozenset[str]) -> None:
        """React to one signal: raise for the ones that change the call, drop stale ones."""
        if signal.kind == "hangup":
            answered = self.call.answered_v is not None
            raise Ended(
                signal.reason or "api", "hung up", status="completed" if answered else "canceled"
            )
        if signal.kind == "redirect":
            raise Redirected(
                Document(
                    url=signal.url,
                    method=signal.method,
                    twiml=signal.twiml,
                    purpose="redirect",
                    fallback_url=self.call.fallback_url,
                )
            )
        if signal.kind in accepted:
            raise Interrupted(signal)
        if signal.kind == "bridge" and signal.peer:
            # A bridge offered too late: tell the other side it will not happen.
            self.network.signal(signal.peer, Signal("bridge-ended", peer=self.call.sid))

    # -- fetching documents -------------------------------------------------------------

    def _run_document(self, document: Document) -> Document | None:
        """Fetch and run one document; return the next document it points to, if any."""
        try:
            root = self._fetch(document)
        except TwimlError as error:
            if document.context in (QUEUE_WAIT, CONFERENCE_WAIT):
                # Broken wait music: the caller keeps waiting to the default music.
                self.idle(self.settings.play_seconds)
                return None
            self._application_error(error)
        for verb in root:
            if verb.tag != "Reject":
                self._answer()
            following = self._verb(verb, document)
            if following is not None:
                return following
        return None

    def _fetch(self, document: Document) -> ET.Element:
        """Get a document's TwiML and check it, trying the fallback URL when that fails."""
        if document.twiml is not None:
            try:
                return twiml.parse(document.twiml, context=document.context)
            except TwimlError as error:
                self._note_error(error, None)
                raise
        reply = self.driver.webhooks.request(
            document.method,
            document.url or "",
            self._params(document),
            transcript=self.transcript,
            purpose=document.purpose,
            forge=self.call.forge_signature,
        )
        try:
            if not reply.ok:
                shown = reply.status if reply.status is not None else reply.failure
                raise TwimlError(reply.error_code or 11200, f"HTTP retrieval failure: {shown}")
            content_type = reply.content_type.split(";")[0].strip().lower()
            if content_type not in ("text/xml", "application/xml", "text/html"):
                raise TwimlError(12300, f"Invalid Content-Type: {content_type or 'none'}")
            return twiml.parse(reply.body, context=document.context)
        except TwimlError as error:
            self._note_error(error, document.url)
            if document.fallback_url and document.purpose != "fallback":
                return self._fetch(
                    Document(
                        url=document.fallback_url,
                        method=document.fallback_method,
                        params={
                            **document.params,
                            "ErrorCode": str(error.code),
                            "ErrorUrl": document.url or "",
                        },
                        purpose="fallback",
                        context=document.context,
                    )
                )
            raise

    def _note_error(self, error: TwimlError, url: str | None) -> None:
        """Write a Twilio error into the transcript and the outcome."""
        self.transcript.add(
            self.clock.now(),
            "error",
            code=error.code,
            message=error.message,
            **({"url": urlsplit(url).path} if url else {}),
        )
        self.transcript.note_outcome(errors=error.code)
        log.warning("call %s: error %s %s", self.call.sid, error.code, error.message)

    def _application_error(self, error: TwimlError) -> None:
        """Tell the caller the application failed and hang up, as Twilio does."""
        self._answer()
        self._hear(APPLICATION_ERROR, "en-US", None)
        raise Ended("carrier", f"application error {error.code}")

    def _params(self, document: Document) -> dict[str, str]:
        """Return Twilio's standard request parameters plus the document's own."""
        params = self._call_params(self.call)
        if document.context == QUEUE_WAIT and self.queue is not None:
            params.update(self._queue_params(self.queue))
        params.update(document.params)
        return params

    def _call_params(self, call: Call) -> dict[str, str]:
        """Return the parameters Twilio sends about a call on every webhook."""
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Direction": call.direction,
            "From": call.caller,
            "To": call.called,
            "Caller": call.caller,
            "Called": call.called,
        }
        for prefix, number in (("From", call.caller), ("To", call.called)):
            country = _country(number)
            if country:
                params[f"{prefix}Country"] = country
        if call.parent_call_sid:
            params["ParentCallSid"] = call.parent_call_sid
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        return params

    # -- status callbacks ---------------------------------------------------------------

    def _progress(self, event: str) -> None:
        """Send the call-progress callback for an event when the call asked for it."""
        call = self.call
        if not call.status_callback or event not in call.status_callback_events:
            return
        with self.network.cond:
            call.callback_sequence += 1
            sequence = call.callback_sequence
        params = self._call_params(call)
        params.update(
            {
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(sequence),
                "Timestamp": rfc2822(self.clock.utcnow()) or "",
            }
        )
        if event == "completed":
            params["CallDuration"] = str(call.duration or 0)
            params["Duration"] = str(math.ceil((call.duration or 0) / 60))
        self._callback(call.status_callback, call.status_callback_method, params, "status")

    def _callback(self, url: str, method: str, params: dict[str, str], purpose: str) -> None:
        """Send a callback, possibly held back (reordered) or sent twice, as faults say."""
        faults = self.driver.faults
        if faults.roll("callback_reorder"):
            self.held_callbacks.append((url, method, params, purpose))
            return
        self._deliver(url, method, params, purpose)
        if faults.roll("callback_duplicate"):
            self._deliver(url, method, params, f"{purpose} (duplicate)")
        self._flush_callbacks()

    def _flush_callbacks(self) -> None:
        """Send callbacks held back earlier, now after a later one."""
        while self.held_callbacks:
            url, method, params, purpose = self.held_callbacks.pop(0)
            self._deliver(url, method, params, f"{purpose} (late)")

    def _deliver(self, url: str, method: str, params: dict[str, str], purpose: str) -> None:
        """Send one callback; its answer is not TwiML and is only noted."""
        self.driver.webhooks.request(
            method,
            url,
            params,
            transcript=self.transcript,
            purpose=purpose,
            forge=self.call.forge_signature,
        )

    # -- ringing, answering, ending ---------------------------------------------------------

    def _ring(self) -> None:
        """Ring the party's phone: busy, no answer, or answered after a while."""
        call = self.call
        phone = self.phone or Phone(number=call.called)
        self._progress("initiated")
        self.network.set_status(call, "ringing")
        self.transcript.add(self.clock.now(), "ringing", number=call.called, name=phone.name)
        self._progress("ringing")
        if phone.busy:
            raise Ended(self.side, "busy", status="busy")
        answer_after = phone.answer_after if phone.answer_after is not None else math.inf
        if answer_after > call.timeout:
            self.idle(call.timeout)
            raise Ended(self.side, "no answer", status="no-answer")
        self.idle(answer_after)
        if call.machine_detection:
            call.answered_by = "human"
        self._answer()

    def _answer(self) -> None:
        """Mark the call answered (once) and send the answered callback."""
        if self.call.status == "in-progress":
            return
        self.network.set_status(self.call, "in-progress")
        self.transcript.add(self.clock.now(), "answered")
        if self.where == "ringing":
            self.where = "call"
        self._progress("answered")

    def _finish(self, ended: Ended) -> None:
        """Close the call: leave bridges, set the final status, send the last callback."""
        call = self.call
        self._unbridge()
        status = ended.status
        if status == "completed" and call.answered_v is None:
            status = "canceled" if ended.by in ("api", "carrier") else "no-answer"
            if call.direction == "inbound":
                status = "completed"
        self.network.set_status(call, status)
        with self.network.cond:
            call.dial_state = "ended"
            call.dial_result = status
            self.network.cond.notify_all()
        self.transcript.add(
            self.clock.now(), "hangup", by=ended.by, reason=ended.reason, status=status
        )
        self.transcript.note_outcome(ended_by=ended.by, hung_up_in=self.where)
        self.transcript.note_outcome(summary=_summary(self.transcript.outcome, ended, self.where))
        self._progress("completed")
        self._flush_callbacks()
        with self.network.cond:
            call.finished = True
            self.network.cond.notify_all()
        log.info("call %s ended: %s by %s", call.sid, status, ended.by)

    # -- what the caller hears and does -------------------------------------------------

    def _hear(self, text: str, language: str | None, voice: str | None, loop: int = 1) -> None:
        """Let the party hear spoken text for as long as it takes to say it."""
        self.transcript.add(self.clock.now(), "heard", text=text, language=language, voice=voice)
        if isinstance(self.party, LiveParty):
            self.party.heard_s += _speaking_seconds(text) * max(loop, 1)
        self.idle(_speaking_seconds(text) * max(loop, 1))

    def _verb(self, verb: ET.Element, document: Document) -> Document | None:
        """Run one verb; return the next document when the verb points to one."""
        handler = getattr(self, f"_verb_{verb.tag.lower()}")
        return handler(verb, document)

    def _verb_say(self, verb: ET.Element, document: Document) -> None:
        loop = twiml.integer(verb, "loop", 1)
        self._hear(twiml.text_of(verb), verb.get("language"), verb.get("voice"), loop or 1)

    def _verb_play(self, verb: ET.Element, document: Document) -> None:
        url = document.join(verb.text or "")
        name = unquote(PurePosixPath(urlsplit(url).path).name) or url
        loop = twiml.integer(verb, "loop", 1)
        self.transcript.add(self.clock.now(), "played", name=name, url=url, loop=loop)
        if verb.get("digits"):
            self.transcript.add(self.clock.now(), "sent", digits=verb.get("digits"))
        # loop="0" repeats until something else happens (a dequeue, a hang-up).
        self.idle(None if loop == 0 else self.settings.play_seconds * loop)

    def _verb_pause(self, verb: ET.Element, document: Document) -> None:
        seconds = twiml.integer(verb, "length", 1)
        self.transcript.add(self.clock.now(), "pause", seconds=seconds)
        self.idle(seconds)

    def _verb_redirect(self, verb: ET.Element, document: Document) -> Document:
        return Document(
            url=document.join(verb.text or ""),
            method=(verb.get("method") or "POST").upper(),
            purpose="redirect",
            context=document.context,
            fallback_url=document.fallback_url,
            fallback_method=document.fallback_method,
        )

    def _verb_hangup(self, verb: ET.Element, document: Document) -> None:
        raise Ended("app", "Hangup")

    def _verb_reject(self, verb: ET.Element, document: Document) -> None:
        reason = verb.get("reason") or "rejected"
        self.transcript.add(self.clock.now(), "rejected", reason=reason)
        raise Ended("app", f"Reject ({reason})", status="busy" if reason == "busy" else "no-answer")

    def _verb_leave(self, verb: ET.Element, document: Document) -> None:
        if document.context == QUEUE_WAIT:
            raise LeftQueue()
        self.transcript.add(self.clock.now(), "note", text="<Leave> outside a queue does nothing")

    def _verb_gather(self, verb: ET.Element, document: Document) -> Document | None:
        modes = (verb.get("input") or "dtmf").split()
        timeout = twiml.integer(verb, "timeout", GATHER_TIMEOUT_S)
        finish_key = verb.get("finishOnKey", "#")
        num_digits = twiml.integer(verb, "numDigits", 0)
        for child in verb:
            self._verb(child, document)
        params: dict[str, str] = {}
        party = self.party
        waited = False
        if isinstance(party, LiveParty):
            # A person needs real time to hear the prompt and answer: wait for their input.
            self.idle(party.patience(timeout), until=party.ready)
            party.heard_s = 0.0
            waited = True
        step = party.next_step()
        if step is not None and step.kind != "wait" and not waited:
            self.idle(REACTION_S)
        if step is None or step.kind == "wait":
            self.transcript.add(self.clock.now(), "silent", seconds=timeout)
            if not waited:
                self.idle(timeout)
        elif step.kind == "press" and "dtmf" not in modes:
            self.transcript.add(
                self.clock.now(), "pressed", keys=step.value, note="not heard: speech only"
            )
            self.idle(timeout)
        elif step.kind == "say" and "speech" not in modes:
            self.transcript.add(
                self.clock.now(), "said", text=step.value, note="not heard: keys only"
            )
            self.idle(timeout)
        elif step.kind == "press":
            self.transcript.add(self.clock.now(), "pressed", keys=step.value)
            digits, finished = _collect(step.value, finish_key, num_digits)
            if isinstance(party, LiveParty):
                digits, finished = self._more_keys(
                    party, step.value, finish_key, num_digits, timeout
                )
            elif not finished and not (num_digits and len(digits) >= num_digits):
                self.idle(timeout)  # Twilio waits for more keys until the timeout
            if digits or finished:
                params["Digits"] = digits
                if finished:
                    params["FinishedOnKey"] = finished
        else:
            self.transcript.add(self.clock.now(), "said", text=step.value)
            self.idle(_speaking_seconds(step.value) + 1.0)
            params.update({"SpeechResult": step.value, "Confidence": SPEECH_CONFIDENCE})
            if verb.get("language"):
                params["Language"] = verb.get("language", "")
        got_input = bool(params.get("Digits") or params.get("SpeechResult"))
        if not got_input and not twiml.flag(verb, "actionOnEmptyResult", False):
            return None
        if not got_input and "dtmf" in modes:
            params.setdefault("Digits", "")
        action = document.join(verb.get("action") or "") if verb.get("action") else document.url
        if action is None:
            return None
        return Document(
            url=action,
            method=(verb.get("method") or "POST").upper(),
            params=params,
            purpose="gather",
            context=document.context,
            fallback_url=document.fallback_url,
            fallback_method=document.fallback_method,
        )

    def _more_keys(
        self, party: LiveParty, keys: str, finish_key: str, num_digits: int, timeout: int
    ) -> tuple[str, str]:
        """Collect a live caller's further key presses, one at a time, until the Gather is done."""
        digits, finished = _collect(keys, finish_key, num_digits)
        while not finished and not (num_digits and len(digits) >= num_digits):
            # Twilio waits `timeout` seconds after each key; a person gets them in real time.
            patience = (timeout + LIVE_GRACE_S) / party.time_scale
            following = party.peek() if self.idle(patience, until=party.ready) else None
            if following is None or following.kind != "press":
                break
            party.next_step()
            self.transcript.add(self.clock.now(), "pressed", keys=following.value)
            keys += following.value
            digits, finished = _collect(keys, finish_key, num_digits)
        return digits, finished

    # -- queues ---------------------------------------------------------------------------

    def _verb_enqueue(self, verb: ET.Element, document: Document) -> Document | None:
        name = (verb.text or "").strip()
        network = self.network
        with network.cond:
            queue = network.queue_named(name, create=True)
            assert queue is not None
            full = len(queue.members) >= queue.max_size
            if not full:
                queue.members.append(Member(self.call.sid, self.clock.utcnow(), self.clock.now()))
                position = len(queue.members)
                network.cond.notify_all()
        self.transcript.note_outcome(queues=name)
        if full:
            self.transcript.add(self.clock.now(), "queue-full", queue=name)
            return self._after_queue(verb, document, queue, "queue-full", 0)
        self.transcript.add(self.clock.now(), "queued", queue=name, position=position)
        self.queue, self.where = queue, f"queue {name}"
        entered = self.clock.now()
        result = "error"
        try:
            result = self._wait_in_queue(verb, document, queue)
        except LeftQueue:
            result = "leave"
        except Redirected:
            result = "redirected"
            self.where = "call"
            raise
        except Ended:
            result = "hangup"
            self._post_after_hangup(
                verb,
                document,
                {
                    "QueueResult": "hangup",
                    "QueueSid": queue.sid,
                    "QueueTime": str(int(self.clock.now() - entered)),
                },
            )
            raise
        finally:
            self._leave_queue(queue)
            waited = int(self.clock.now() - entered)
            self.call.queue_time = waited
            self.transcript.add(
                self.clock.now(), "dequeued", queue=name, result=result, waited_s=waited
            )
            self.queue = None
        self.where = "call"
        return self._after_queue(verb, document, queue, result, waited)

    def _after_queue(
        self, verb: ET.Element, document: Document, queue: Queue, result: str, waited: int
    ) -> Document | None:
        """Return the Enqueue action document, or None to go on with the next verb."""
        if not verb.get("action"):
            return None
        return Document(
            url=document.join(verb.get("action", "")),
            method=(verb.get("method") or "POST").upper(),
            params={"QueueResult": result, "QueueSid": queue.sid, "QueueTime": str(waited)},
            purpose="enqueue-action",
            fallback_url=document.fallback_url,
            fallback_method=document.fallback_method,
        )

    def _wait_in_queue(self, verb: ET.Element, document: Document, queue: Queue) -> str:
        """Play the wait music in a loop until a dequeue; return "bridged" after a bridge."""
        wait_url = verb.get("waitUrl")
        wait_method = (verb.get("waitUrlMethod") or "POST").upper()
        following: Document | None = None
        previous_accept = self.accept
        self.accept = frozenset({"bridge"})
        try:
            while True:
                try:
                    if wait_url is None:
                        self.transcript.add(self.clock.now(), "played", name="default hold music")
                        self.idle(self.settings.play_seconds)
                        continue
                    current = following or Document(
                        url=document.join(wait_url),
                        method=wait_method,
                        purpose="wait",
                        context=QUEUE_WAIT,
                    )
                    following = self._run_document(current)
                except Interrupted as interrupted:
                    self.accept = previous_accept
                    self._leave_queue(queue)
                    self._bridged_from_queue(interrupted.signal)
                    return "bridged"
        finally:
            self.accept = previous_accept

    def _leave_queue(self, queue: Queue) -> None:
        """Take this call out of a queue if it is still in it."""
        with self.network.cond:
            queue.members = [m for m in queue.members if m.call_sid != self.call.sid]
            queue.updated = self.clock.utcnow()
            self.network.cond.notify_all()

    def _bridged_from_queue(self, signal: Signal) -> None:
        """Stay bridged to whoever dialled the queue, after hearing their Queue url if any."""
        peer = self.network.calls[signal.peer or ""]
        if signal.url:
            self._follow(
                Document(url=signal.url, method=signal.method, purpose="dequeue", context=WHISPER)
            )
        self._note_bridge(peer)
        self._stay_bridged(peer.sid, None)

    def _queue_params(self, queue: Queue) -> dict[str, str]:
        """Return the wait-music parameters: position, waits and sizes."""
        now = self.clock.now()
        with self.network.cond:
            waits = [now - member.enqueued_v for member in queue.members]
            position = queue.position(self.call.sid) or 0
            mine = next(
                (now - m.enqueued_v for m in queue.members if m.call_sid == self.call.sid), 0.0
            )
            size = len(queue.members)
        average = int(sum(waits) / len(waits)) if waits else 0
        return {
            "QueueSid": queue.sid,
            "QueuePosition": str(position),
            "QueueTime": str(int(mine)),
            "AvgQueueTime": str(average),
            "CurrentQueueSize": str(size),
            "MaxQueueSize": str(queue.max_size),
        }

    def _post_after_hangup(
        self, verb: ET.Element, document: Document, params: dict[str, str]
    ) -> None:
        """Request a verb's action after the caller hung up; Twilio ignores the answer."""
        if not verb.get("action"):
            return
        self.driver.webhooks.request(
            (verb.get("method") or "POST").upper(),
            document.join(verb.get("action", "")),
            {**self._call_params(self.call), "CallStatus": "completed", **params},
            transcript=self.transcript,
            purpose=f"{verb.tag.lower()}-action",
            forge=self.call.forge_signature,
        )

    # -- dialling -------------------------------------------------------------------------

    def _verb_dial(self, verb: ET.Element, document: Document) -> Document | None:
        nouns = list(verb)
        started = self.clock.now()
        try:
            if nouns and nouns[0].tag == "Conference":
                star = twiml.flag(verb, "hangupOnStar", False)
                result = self._dial_conference(nouns[0], document, hangup_on_star=star)
            elif nouns and nouns[0].tag == "Queue":
                result = self._dial_queue(verb, nouns[0], document)
            else:
                result = self._dial_numbers(verb, nouns, document)
        except Ended:
            self._post_after_hangup(
                verb,
                document,
                {
                    "DialCallStatus": "completed",
                    "DialCallDuration": str(int(self.clock.now() - started)),
                },
            )
            raise
        except Redirected:
            self.where = "call"
            raise
        self.where = "call"
        if not verb.get("action"):
            return None
        return Document(
            url=document.join(verb.get("action", "")),
            method=(verb.get("method") or "POST").upper(),
            params=result,
            purpose="dial-action",
            fallback_url=document.fallback_url,
            fallback_method=document.fallback_method,
        )

    def _dial_numbers(
        self, verb: ET.Element, nouns: list[ET.Element], document: Document
    ) -> dict[str, str]:
        """Ring every number at once; bridge the first that answers and passes its whisper."""
        targets: list[tuple[str, ET.Element | None]] = []
        if not nouns and (verb.text or "").strip():
            targets.append(((verb.text or "").strip(), None))
        for noun in nouns:
            if noun.tag == "Sip":
                raise TwimlError(
                    12200, "Schema validation warning: <Sip> is not run by the carrier"
                )
            identity = twiml.text_of(noun) if noun.tag == "Number" else _client_identity(noun)
            targets.append((identity if noun.tag == "Number" else f"client:{identity}", noun))
        timeout = twiml.integer(verb, "timeout", DIAL_TIMEOUT_S)
        caller_id = verb.get("callerId") or (
            self.call.caller if self.call.direction == "inbound" else self.call.called
        )
        children: list[Call] = []
        for number, noun in targets:
            attributes = dict(noun.attrib) if noun is not None else {}
            url = attributes.get("url")
            callback = attributes.get("statusCallback")
            events = attributes.get("statusCallbackEvent") or "completed"
            child = self.network.add_call(
                caller=caller_id,
                called=number,
                direction="outbound-dial",
                parent_call_sid=self.call.sid,
                url=document.join(url) if url else None,
                method=(attributes.get("method") or "POST").upper(),
                status_callback=document.join(callback) if callback else None,
                status_callback_method=(attributes.get("statusCallbackMethod") or "POST").upper(),
                status_callback_events=tuple(events.replace(",", " ").split()),
                timeout=timeout,
            )
            self.transcript.add(self.clock.now(), "dialing", number=number, call_sid=child.sid)
            self.driver.start_dialed(child)
            children.append(child)
        self.where = "dial"
        try:
            self.idle(
                None,
                until=lambda: (
                    any(c.dial_state == "bridged" for c in children)
                    or all(c.finished for c in children)
                ),
            )
        except Ended:
            for child in children:
                self.driver.hang_up(child.sid, reason="canceled")
            raise
        winner = next((c for c in children if c.dial_state == "bridged"), None)
        for child in children:
            if child is not winner:
                self.driver.hang_up(child.sid, reason="canceled")
        if winner is None:
            status = _dial_status({c.dial_result or "failed" for c in children})
            self.transcript.add(self.clock.now(), "dial-result", status=status)
            return {
                "DialCallStatus": status,
                "DialCallSid": children[0].sid if children else "",
                "DialCallDuration": "0",
                "DialBridged": "false",
            }
        self._note_bridge(winner)
        bridged = self.clock.now()
        self._stay_bridged(winner.sid, twiml.integer(verb, "timeLimit", DIAL_TIME_LIMIT_S))
        self.transcript.add(self.clock.now(), "dial-result", status="completed")
        return {
            "DialCallStatus": "completed",
            "DialCallSid": winner.sid,
            "DialCallDuration": str(int(self.clock.now() - bridged)),
            "DialBridged": "true",
        }

    def _bridge_to_parent(self) -> Call:
        """Bridge a dialled leg that passed its whisper to the leg that dialled it."""
        network = self.network
        with network.cond:
            parent = network.calls[self.call.parent_call_sid or ""]
            taken = any(network.calls[sid].dial_state == "bridged" for sid in parent.bridged_with)
            if parent.ended or taken:
                raise Ended("carrier", "the caller was connected elsewhere or left")
            self.call.dial_state = "bridged"
            self.call.bridged_with.add(parent.sid)
            parent.bridged_with.add(self.call.sid)
            network.cond.notify_all()
            return parent

    def _dial_queue(self, verb: ET.Element, noun: ET.Element, document: Document) -> dict[str, str]:
        """Bridge to the caller at the front of a queue, waiting up to the Dial timeout for one."""
        name = twiml.text_of(noun)
        network = self.network
        timeout = twiml.integer(verb, "timeout", DIAL_TIMEOUT_S)
        self.where = "dial"

        def front() -> bool:
            queue = network.queue_named(name, create=False)
            return bool(queue and queue.members)

        if not self.idle(timeout, until=front):
            return {"DialCallStatus": "no-answer", "DialCallDuration": "0"}
        with network.cond:
            queue = network.queue_named(name, create=False)
            assert queue is not None and queue.members
            member = queue.members.pop(0)
            peer = network.calls[member.call_sid]
            waited = int(self.clock.now() - member.enqueued_v)
            self.call.bridged_with.add(peer.sid)
            peer.bridged_with.add(self.call.sid)
            url = document.join(noun.get("url", "")) if noun.get("url") else None
            network.signal(
                peer.sid,
                Signal(
                    "bridge",
                    url=url,
                    method=(noun.get("method") or "POST").upper(),
                    peer=self.call.sid,
                ),
            )
        self._note_bridge(peer)
        bridged = self.clock.now()
        self._stay_bridged(peer.sid, twiml.integer(verb, "timeLimit", DIAL_TIME_LIMIT_S))
        return {
            "DialCallStatus": "completed",
            "DialCallSid": peer.sid,
            "DialCallDuration": str(int(self.clock.now() - bridged)),
            "QueueSid": queue.sid,
            "DequeuedCallSid": peer.sid,
            "DequeuedCallQueueTime": str(waited),
        }

    def _stay_bridged(self, peer_sid: str, limit: float | None) -> None:
        """Stay on a bridge until the other side leaves, this side hangs up, or the limit."""
        self.where = "bridge"
        try:
            self.idle(
                limit,
                until=lambda: peer_sid not in self.call.bridged_with,
                accept=frozenset({"bridge-ended"}),
            )
        except Interrupted:
            pass
        finally:
            self._unbridge()

    def _unbridge(self) -> None:
        """Break every bridge of this leg and tell the other sides."""
        network = self.network
        with network.cond:
            for peer_sid in list(self.call.bridged_with):
                peer = network.calls.get(peer_sid)
                if peer is not None:
                    peer.bridged_with.discard(self.call.sid)
                    network.signal(peer_sid, Signal("bridge-ended", peer=self.call.sid))
            self.call.bridged_with.clear()
            network.cond.notify_all()

    def _note_bridge(self, peer: Call) -> None:
        """Write who this leg is connected to into the transcript and outcome."""
        number = peer.called if peer.direction.startswith("outbound") else peer.caller
        self.transcript.add(
            self.clock.now(), "bridged", number=number, name=peer.party_name, call_sid=peer.sid
        )
        self.transcript.note_outcome(
            bridged_to={"number": number, "name": peer.party_name, "role": peer.party_role}
        )
        if peer.party_role == "crisis-line":
            self.transcript.note_outcome(crisis=True)

    # -- conferences ----------------------------------------------------------------------

    def _dial_conference(
        self, noun: ET.Element, document: Document, *, hangup_on_star: bool = False
    ) -> dict[str, str]:
        """Join a conference, hear its wait music until it starts, stay until it ends.

        With hangupOnStar, a party who presses * leaves the conference (it goes on without them
        unless they end it on exit) and the <Dial>'s action is requested.
        """
        name = twiml.text_of(noun)
        network = self.network
        events = tuple((noun.get("statusCallbackEvent") or "").replace(",", " ").split())
        with network.cond:
            conference = network.conference_named(name, create=True)
            assert conference is not None
            if not conference.participants and noun.get("statusCallback"):
                conference.status_callback = document.join(noun.get("statusCallback", ""))
                conference.status_callback_method = (
                    noun.get("statusCallbackMethod") or "POST"
                ).upper()
                conference.status_callback_events = events
            now = self.clock.utcnow()
            participant = Participant(
                call_sid=self.call.sid,
                created=now,
                updated=now,
                label=noun.get("participantLabel"),
                muted=twiml.flag(noun, "muted", False),
                start_on_enter=twiml.flag(noun, "startConferenceOnEnter", True),
                end_on_exit=twiml.flag(noun, "endConferenceOnExit", False),
            )
            conference.participants[self.call.sid] = participant
            for other in conference.participants:
                if other != self.call.sid:
                    network.signal(other, Signal("conference-joined", peer=self.call.sid))
            starts = participant.start_on_enter and conference.status == "init"
            if starts:
                conference.status = "in-progress"
                conference.updated = now
                for other in conference.participants:
                    network.signal(other, Signal("conference-started"))
            network.cond.notify_all()
        self.transcript.add(self.clock.now(), "conference", action="joined", name=name)
        self._conference_event(conference, "join", participant)
        if starts:
            self._conference_event(conference, "start", None)
        self.where = "conference"
        joined = self.clock.now()
        wait_url = noun.get("waitUrl")
        previous_accept = self.accept
        self.accept = frozenset({"conference-started", "conference-ended", "kicked"})
        star_at = None
        if hangup_on_star and self.party.star_after is not None and not self.party.star_used:
            star_at = joined + self.party.star_after
        try:
            self._in_conference(conference, document, wait_url, noun, star_at=star_at)
        finally:
            self.accept = previous_accept
            self._leave_conference(conference, participant)
        return {
            "DialCallStatus": "completed",
            "DialCallDuration": str(int(self.clock.now() - joined)),
        }

    def _in_conference(
        self,
        conference: Conference,
        document: Document,
        wait_url: str | None,
        noun: ET.Element,
        *,
        star_at: float | None = None,
    ) -> None:
        """Wait in a conference until it ends, this participant is removed, or presses *."""
        wait_method = (noun.get("waitMethod") or "POST").upper()
        announced = False
        following: Document | None = None
        while True:
            with self.network.cond:
                status = conference.status
                peers = [
                    self.network.calls[sid]
                    for sid in conference.participants
                    if sid != self.call.sid
                ]
            if status == "completed":
                return
            try:
                if status == "in-progress":
                    for peer in peers:
                        if peer.sid not in self.peers_seen:
                            self.peers_seen.add(peer.sid)
                            self._note_bridge(peer)
                    wait = None if star_at is None else max(star_at - self.clock.now(), 0.0)
                    if not self.idle(wait, accept=self.accept | {"conference-joined"}) and (
                        star_at is not None
                    ):
                        self.party.star_used = True
                        self.transcript.add(
                            self.clock.now(), "pressed", keys="*", note="hangupOnStar"
                        )
                        return
                elif wait_url == "":
                    self.idle(None)
                elif wait_url is None:
                    if not announced:
                        self.transcript.add(self.clock.now(), "played", name="default hold music")
                        announced = True
                    self.idle(None)
                else:
                    current = following or Document(
                        url=document.join(wait_url),
                        method=wait_method,
                        purpose="conference-wait",
                        context=CONFERENCE_WAIT,
                    )
                    following = self._run_document(current)
            except Interrupted as interrupted:
                if interrupted.signal.kind in ("conference-ended", "kicked"):
                    return
                following = None

    def _leave_conference(self, conference: Conference, participant: Participant) -> None:
        """Leave a conference, ending it when this participant ends it or was the last one."""
        network = self.network
        ended_now = False
        with network.cond:
            conference.participants.pop(self.call.sid, None)
            if conference.status != "completed":
                if participant.end_on_exit:
                    reason = "participant-with-end-conference-on-exit-left"
                elif not conference.participants and conference.status == "in-progress":
                    reason = "last-participant-left"
                else:
                    reason = None
                if reason:
                    conference.status = "completed"
                    conference.reason_ended = reason
                    conference.call_sid_ending = self.call.sid
                    ended_now = True
                    for other in conference.participants:
                        network.signal(other, Signal("conference-ended"))
            conference.updated = self.clock.utcnow()
            network.cond.notify_all()
        self.transcript.add(
            self.clock.now(), "conference", action="left", name=conference.friendly_name
        )
        self._conference_event(conference, "leave", participant)
        if ended_now:
            self._conference_event(conference, "end", None)

    def _conference_event(
        self, conference: Conference, event: str, participant: Participant | None
    ) -> None:
        """Send a conference status callback for an event the conference asked for."""
        if not conference.status_callback or event not in conference.status_callback_events:
            return
        with self.network.cond:
            conference.callback_sequence += 1
            sequence = conference.callback_sequence
        prefix = "conference" if event in ("start", "end") else "participant"
        params = {
            "AccountSid": self.call.account_sid,
            "ConferenceSid": conference.sid,
            "FriendlyName": conference.friendly_name,
            "StatusCallbackEvent": f"{prefix}-{event}",
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822(self.clock.utcnow()) or "",
        }
        if participant is not None:
            params.update(
                {
                    "CallSid": participant.call_sid,
                    "Muted": str(participant.muted).lower(),
                    "Hold": str(participant.hold).lower(),
                    "Coaching": str(participant.coaching).lower(),
                    "EndConferenceOnExit": str(participant.end_on_exit).lower(),
                    "StartConferenceOnEnter": str(participant.start_on_enter).lower(),
                }
            )
        if event == "end":
            params["ReasonConferenceEnded"] = conference.reason_ended or ""
            params["CallSidEndingConference"] = conference.call_sid_ending or ""
        self._callback(
            conference.status_callback, conference.status_callback_method, params, "conference"
        )

    # -- recording ------------------------------------------------------------------------

    def _verb_record(self, verb: ET.Element, document: Document) -> Document | None:
        timeout = twiml.integer(verb, "timeout", RECORD_TIMEOUT_S)
        max_length = twiml.integer(verb, "maxLength", RECORD_MAX_LENGTH_S)
        finish_keys = verb.get("finishOnKey", RECORD_FINISH_KEYS)
        if twiml.flag(verb, "playBeep", True):
            self.transcript.add(self.clock.now(), "played", name="beep")
        self.where = "record"
        speech = self._voicemail_audio()[: 2 * audio.RATE * max_length]
        started = self.clock.now()
        digits: str | None = None
        hung_up: Ended | None = None
        try:
            self.idle(audio.duration(speech))
            step = self._peek_finish_key(finish_keys)
            if step is not None:
                digits = step
                self.transcript.add(self.clock.now(), "pressed", keys=step)
            else:
                self.idle(min(timeout, max(max_length - audio.duration(speech), 0)))
        except Ended as ended:
            hung_up, digits = ended, "hangup"
        elapsed = self.clock.now() - started
        pcm = speech[: 2 * audio.RATE * int(elapsed)] if hung_up else speech
        if hung_up is None and digits is None:
            pcm += audio.silence(min(timeout, max_length - audio.duration(speech)))
        if (verb.get("trim") or "trim-silence") == "trim-silence":
            pcm = audio.trim_silence(pcm)
        self.where = "call"
        if not pcm:
            self.transcript.add(self.clock.now(), "recorded", seconds=0, note="nothing recorded")
            if hung_up:
                raise hung_up
            return None
        recording = self._store_recording(pcm)
        params = {
            "RecordingUrl": self._recording_url(recording.sid),
            "RecordingSid": recording.sid,
            "RecordingDuration": str(recording.duration),
        }
        if digits:
            params["Digits"] = digits
        self._recording_callback(verb, document, recording)
        if hung_up:
            self._post_after_hangup(verb, document, params)
            raise hung_up
        action = document.join(verb.get("action", "")) if verb.get("action") else document.url
        if action is None:
            return None
        return Document(
            url=action,
            method=(verb.get("method") or "POST").upper(),
            params=params,
            purpose="record-action",
            fallback_url=document.fallback_url,
            fallback_method=document.fallback_method,
        )

    def _voicemail_audio(self) -> bytes:
        """Return what the party says when recorded, from their script."""
        script = self.party.script
        if script.voicemail is None:
            return b""
        if script.voicemail == "silence":
            return audio.silence(script.voicemail_seconds)
        if script.voicemail == "speech":
            return audio.speech_like(script.voicemail_seconds, seed=hash(self.call.sid) & 0xFFFF)
        return audio.load_wav(script.voicemail)

    def _peek_finish_key(self, finish_keys: str) -> str | None:
        """Consume the party's next step when it presses a key that ends the recording."""
        step = self.party.peek()
        if step is not None and step.kind == "press" and step.value[0] in finish_keys:
            self.party.next_step()
            return step.value[0]
        return None

    def _store_recording(self, pcm: bytes) -> Recording:
        """Keep a recording of this call and note it in the transcript."""
        recording = Recording(
            sid=new_sid("RE"),
            account_sid=self.call.account_sid,
            call_sid=self.call.sid,
            created=self.clock.utcnow(),
            pcm=pcm,
            duration=max(1, round(audio.duration(pcm))),
        )
        with self.network.cond:
            self.network.recordings[recording.sid] = recording
        self.transcript.add(
            self.clock.now(), "recorded", recording_sid=recording.sid, seconds=recording.duration
        )
        self.transcript.note_outcome(
            voicemail={"recording_sid": recording.sid, "seconds": recording.duration}
        )
        return recording

    def _recording_url(self, recording_sid: str) -> str:
        """Return a recording's media URL on the carrier, shaped like Twilio's."""
        return (
            f"{self.settings.public_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{self.call.account_sid}/Recordings/{recording_sid}"
        )

    def _recording_callback(
        self, verb: ET.Element, document: Document, recording: Recording
    ) -> None:
        """Send the recordingStatusCallback for a finished recording when asked."""
        url = verb.get("recordingStatusCallback")
        events = (verb.get("recordingStatusCallbackEvent") or "completed").replace(",", " ").split()
        if not url or "completed" not in events:
            return
        params = {
            "AccountSid": self.call.account_sid,
            "CallSid": self.call.sid,
            "RecordingSid": recording.sid,
            "RecordingUrl": self._recording_url(recording.sid),
            "RecordingStatus": "completed",
            "RecordingDuration": str(recording.duration),
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": rfc2822(recording.created) or "",
        }
        self._callback(
            document.join(url),
            (verb.get("recordingStatusCallbackMethod") or "POST").upper(),
            params,
            "recording",
        )


def _dial_status(results: set[str]) -> str:
    """Return DialCallStatus when no leg was bridged: answered beats busy beats failed."""
    if "completed" in results:
        return "completed"  # answered, but the whisper hung up before the bridge
    for status in ("busy", "failed"):
        if results == {status}:
            return status
    return "no-answer"


def _collect(keys: str, finish_key: str, num_digits: int) -> tuple[str, str]:
    """Split pressed keys into Gather's Digits and the finishing key, if one was pressed."""
    if finish_key and finish_key in keys:
        return keys[: keys.index(finish_key)][: num_digits or None], finish_key
    return keys[: num_digits or None], ""


def _client_identity(noun: ET.Element) -> str:
    """Return a <Client>'s identity, from its text or its <Identity> child."""
    identity = noun.find("Identity")
    if identity is not None:
        return twiml.text_of(identity)
    return (noun.text or "").strip()


def _speaking_seconds(text: str) -> float:
    """Estimate how long text takes to say: about 4 Chinese characters or 2.5 words a second."""
    chinese = sum(1 for char in text if "\u3400" <= char <= "\u9fff")
    words = len("".join(" " if "\u3400" <= char <= "\u9fff" else char for char in text).split())
    return 0.3 + chinese * 0.25 + words * 0.4


def _country(number: str) -> str | None:
    """Return the ISO country of an E.164 number, as Twilio's FromCountry/ToCountry."""
    if not number.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return None


def _summary(outcome: dict[str, Any], ended: Ended, where: str) -> str:
    """Say in a few words how a call ended."""
    parts = []
    if outcome.get("crisis"):
        crisis = [b for b in outcome["bridged_to"] if b.get("role") == "crisis-line"]
        parts.append(f"crisis line: bridged to {_who(crisis[0])}")
    elif outcome.get("bridged_to"):
        parts.append("bridged to " + ", ".join(_who(b) for b in outcome["bridged_to"]))
    if outcome.get("voicemail"):
        parts.append(f"voicemail left ({outcome['voicemail']['seconds']} s)")
    if ended.by == "caller":
        parts.append(f"caller hung up in {where}")
    else:
        parts.append(f"ended by {ended.by}: {ended.reason}")
    return "; ".join(parts)


def _who(bridge: dict[str, Any]) -> str:
    """Name a bridged party: their name and number, or the number alone."""
    number = bridge.get("number") or ""
    return f"{bridge['name']} ({number})" if bridge.get("name") else number
