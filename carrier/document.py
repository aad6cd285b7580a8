"""What a call leg runs: a TwiML document, and the exceptions that move a leg off its verb."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from carrier.network import Signal
from carrier.twiml_reader import CALL


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

    def follow(
        self,
        url: str,
        method: str | None,
        purpose: str,
        *,
        params: dict[str, str] | None = None,
        context: str = CALL,
    ) -> Document:
        """The next document of the same call (an action, a redirect): it keeps the call's
        fallback, as every later fetch of a call falls back on Twilio when it fails."""
        return Document(
            url=url,
            method=(method or "POST").upper(),
            params=params or {},
            purpose=purpose,
            context=context,
            fallback_url=self.fallback_url,
            fallback_method=self.fallback_method,
        )
