"""Requests to the app's webhooks, signed like Twilio's, with injected delays and timeouts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from carrier.clock import Clock
from carrier.faults import Faults
from carrier.transcript import Transcript

log = logging.getLogger("carrier.webhook")

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio waits this long for a TwiML answer before giving up on a webhook.
TIMEOUT_S = 15.0
# Twilio's error codes for webhooks that fail.
HTTP_RETRIEVAL_FAILURE = 11200
HTTP_CONNECTION_FAILURE = 11205


@dataclass
class Reply:
    """What came back from one webhook request (status None when nothing usable came back)."""

    status: int | None
    body: str
    content_type: str
    latency_ms: int
    failure: str | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the app answered with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_code(self) -> int | None:
        """Return Twilio's error code for a failed request, or None when it succeeded."""
        if self.ok:
            return None
        return HTTP_CONNECTION_FAILURE if self.status is None else HTTP_RETRIEVAL_FAILURE


class Webhooks:
    """Sends Twilio's webhook requests to the app and notes each one in the call's transcript."""

    def __init__(
        self, auth_token: str, clock: Clock, faults: Faults, *, timeout: float = TIMEOUT_S
    ):
        self.auth_token = auth_token
        self.clock = clock
        self.faults = faults
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        *,
        transcript: Transcript | None,
        purpose: str,
        forge: bool = False,
        faultless: bool = False,
    ) -> Reply:
        """Send one signed request and return the app's reply, faults applied unless faultless.

        Faults model an app that answers late or not at all; the carrier's own bins are
        asked faultless, as an outage of the app does not take them down.
        """
        method = method.upper()
        path = urlsplit(url).path
        delayed = not faultless and self.faults.roll("webhook_delay", target=path)
        if delayed:
            self.clock.sleep(self.faults.plan.webhook_delay_s)
        target = url if method == "POST" else _with_query(url, params)
        token = self.auth_token if not forge else "forged-" + self.auth_token
        signed = RequestValidator(token).compute_signature(
            target, params if method == "POST" else {}
        )
        headers = {SIGNATURE_HEADER: signed, "User-Agent": "TwilioProxy/1.1 (carrier)"}
        started = time.monotonic()
        try:
            if method == "POST":
                response = requests.post(target, data=params, headers=headers, timeout=self.timeout)
            else:
                response = requests.get(target, headers=headers, timeout=self.timeout)
            reply = Reply(
                response.status_code,
                response.text,
                response.headers.get("Content-Type", ""),
                _since(started),
            )
        except requests.Timeout:
            reply = Reply(None, "", "", _since(started), failure="timeout")
        except requests.RequestException as error:
            reply = Reply(None, "", "", _since(started), failure=type(error).__name__)
        if (
            reply.failure is None
            and not faultless
            and self.faults.roll("webhook_timeout", target=path)
        ):
            # The app did the work but answered too late: Twilio has already moved on.
            reply = Reply(None, "", "", int(self.timeout * 1000), failure="timeout")
        if transcript is not None:
            transcript.add(
                self.clock.now(),
                "webhook",
                method=method,
                path=path,
                purpose=purpose,
                status=reply.status,
                latency_ms=reply.latency_ms,
                **({"failure": reply.failure} if reply.failure else {}),
                **({"delayed_s": self.faults.plan.webhook_delay_s} if delayed else {}),
                **({"forged": True} if forge else {}),
            )
        log.info(
            "%s %s [%s] -> %s in %d ms",
            method,
            path,
            purpose,
            reply.status if reply.status is not None else reply.failure,
            reply.latency_ms,
        )
        return reply


def _with_query(url: str, params: dict[str, str]) -> str:
    """Append parameters to a URL's query string, as Twilio does for GET webhooks."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _since(started: float) -> int:
    """Return the milliseconds since a monotonic start."""
    return int((time.monotonic() - started) * 1000)
