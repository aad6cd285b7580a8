"""One call leg in its thread: how it starts and ends, fetches its TwiML and runs it verb by verb.

What each verb does lives in carrier/verbs (one module per family, picked by verbs.HANDLERS);
the bridges a leg makes in carrier/bridges.py, its status callbacks in carrier/callbacks.py.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from carrier import bins, bridges, callbacks, twiml_reader, verbs
from carrier.document import Document, Ended, Interrupted, Redirected
from carrier.network import Call, Queue, Signal
from carrier.parties import Party, Phone
from carrier.twiml_reader import CONFERENCE_WAIT, QUEUE_WAIT, WHISPER, TwimlError
from carrier.verbs import enqueue, say_play

if TYPE_CHECKING:
    from carrier.driver import Driver

log = logging.getLogger("carrier.leg")

APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."


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
        # Whether this leg hears its conference's hold music now (carrier/verbs/hold.py).
        self.on_hold = False

    # -- the three ways a leg starts -------------------------------------------------------

    def run_inbound(self) -> None:
        """Run an incoming call: ask the hotline's voice URL for TwiML and follow it."""

        def body() -> None:
            callbacks.progress(self, "initiated")
            self.network.set_status(self.call, "ringing")
            callbacks.progress(self, "ringing")
            self.follow(
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
            self.follow(
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
                self.follow(
                    Document(
                        url=self.call.url,
                        method=self.call.method,
                        purpose="whisper",
                        context=WHISPER,
                    ),
                    whisper=True,
                )
            parent = bridges.bridge_to_parent(self)
            bridges.note_bridge(self, parent)
            bridges.stay_bridged(self, parent.sid, None)
            raise Ended("peer", "the other side hung up")

        self._run(body)

    def _run(self, body: Callable[[], None]) -> None:
        """Run a leg body to its end, whatever ends it, and close the call."""
        try:
            try:
                body()
                raise Ended("app", "the TwiML ended")
            except Redirected as redirected:
                self.follow(redirected.document)
                raise Ended("app", "the TwiML ended") from None
        except Ended as ended:
            self._finish(ended)
        except Exception as error:  # the leg must end and say why, never hang silently
            log.exception("leg %s failed", self.call.sid)
            self.transcript.add(
                self.clock.now(), "error", code=0, message=f"carrier fault: {error}"
            )
            self._finish(Ended("carrier", f"carrier fault: {error}"))

    def follow(self, document: Document | None, *, whisper: bool = False) -> None:
        """Run documents one after another until one ends without pointing to another."""
        while document is not None:
            try:
                document = self.run_document(document)
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
                    fallback_method=self.call.fallback_method,
                )
            )
        if signal.kind == "hold-changed" and (signal.reason == "held") == self.on_hold:
            # Held and unheld again before this leg woke (or the other way round): it already
            # read the participant's hold and is where the change puts it.
            return
        if signal.kind in accepted:
            raise Interrupted(signal)
        if signal.kind == "bridge" and signal.peer:
            # A bridge offered too late: tell the other side it will not happen.
            self.network.signal(signal.peer, Signal("bridge-ended", peer=self.call.sid))

    # -- fetching and running documents ---------------------------------------------------

    def run_document(self, document: Document) -> Document | None:
        """Fetch and run one document; return the next document it points to, if any."""
        try:
            root, source = self._fetch(document)
        except TwimlError as error:
            if document.context in (QUEUE_WAIT, CONFERENCE_WAIT):
                # Broken wait music: the caller keeps waiting to the default music.
                self.idle(self.settings.play_seconds)
                return None
            self._application_error(error)
        for verb in root:
            if verb.tag != "Reject":
                self._answer()
            following = self.run_verb(verb, source)
            if following is not None:
                return following
        return None

    def run_verb(self, verb: ET.Element, document: Document) -> Document | None:
        """Run one verb; return the next document when the verb points to one."""
        return verbs.HANDLERS[verb.tag](self, verb, document)

    def _fetch(self, document: Document) -> tuple[ET.Element, Document]:
        """Get a document's TwiML and check it, trying the fallback URL when that fails.

        Returns the TwiML and the document that gave it: the fallback's, when it answered, so
        that its relative URLs and action-less verbs point at the fallback URL, as on Twilio.
        """
        if document.twiml is not None:
            try:
                return twiml_reader.parse(document.twiml, context=document.context), document
            except TwimlError as error:
                self._note_error(error, None)
                raise
        # The carrier's own bins are not the app: its faults and forged signatures spare them.
        own = bins.is_bin(self.settings, document.url)
        reply = self.driver.webhooks.request(
            document.method,
            document.url or "",
            self._params(document),
            transcript=self.transcript,
            purpose=document.purpose,
            forge=self.call.forge_signature and not own,
            faultless=own,
        )
        try:
            if not reply.ok:
                shown = reply.status if reply.status is not None else reply.failure
                raise TwimlError(reply.error_code or 11200, f"HTTP retrieval failure: {shown}")
            content_type = reply.content_type.split(";")[0].strip().lower()
            if content_type not in ("text/xml", "application/xml", "text/html"):
                raise TwimlError(12300, f"Invalid Content-Type: {content_type or 'none'}")
            return twiml_reader.parse(reply.body, context=document.context), document
        except TwimlError as error:
            self._note_error(error, document.url)
            if document.fallback_url and document.purpose != "fallback":
                return self._fetch(self._fallback(document, error))
            raise

    def _fallback(self, document: Document, error: TwimlError) -> Document:
        """Note that the call moves on to the fallback URL and return the fallback's document."""
        self.transcript.add(
            self.clock.now(),
            "fallback",
            code=error.code,
            failed=urlsplit(document.url or "").path,
            url=urlsplit(document.fallback_url or "").path,
        )
        return Document(
            url=document.fallback_url,
            method=document.fallback_method,
            params={
                **document.params,
                "ErrorCode": str(error.code),
                "ErrorUrl": document.url or "",
            },
            purpose="fallback",
            context=document.context,
            # Later fetches of the call (actions, redirects) still fall back when they fail.
            fallback_url=document.fallback_url,
            fallback_method=document.fallback_method,
        )

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
        say_play.hear(self, APPLICATION_ERROR, "en-US", None)
        raise Ended("carrier", f"application error {error.code}")

    def _params(self, document: Document) -> dict[str, str]:
        """Return Twilio's standard request parameters plus the document's own."""
        params = callbacks.call_params(self.call)
        if document.context == QUEUE_WAIT and self.queue is not None:
            params.update(enqueue.queue_params(self, self.queue))
        params.update(document.params)
        return params

    # -- ringing, answering, ending ---------------------------------------------------------

    def _ring(self) -> None:
        """Ring the party's phone: busy, no answer, or answered after a while."""
        call = self.call
        phone = self.phone or Phone(number=call.called)
        callbacks.progress(self, "initiated")
        self.network.set_status(call, "ringing")
        self.transcript.add(self.clock.now(), "ringing", number=call.called, name=phone.name)
        callbacks.progress(self, "ringing")
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
        callbacks.progress(self, "answered")

    def _finish(self, ended: Ended) -> None:
        """Close the call: leave bridges, set the final status, send the last callback."""
        call = self.call
        bridges.unbridge(self)
        # Twilio ends a call's media streams and transcriptions with the call.
        self.driver.streams.stop(call.sid)
        self.driver.transcriptions.stop(call.sid)
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
        callbacks.progress(self, "completed")
        callbacks.flush(self)
        with self.network.cond:
            call.finished = True
            self.network.cond.notify_all()
        log.info("call %s ended: %s by %s", call.sid, status, ended.by)


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
