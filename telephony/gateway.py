"""The one gateway to Twilio's REST API: calls, queues, conferences, recordings and messages.

The same code talks to Twilio or to the local carrier: with a base URL, every request meant for
`https://*.twilio.com` goes to that URL instead, through twilio-python's HttpClient seam.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from prometheus_client import Counter
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
# Every call-progress event; callers narrow it when they need fewer callbacks.
ALL_CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
DEFAULT_TIMEOUT_S = 10.0
# Status codes worth another try later (RQ retries the job that made the request).
RETRYABLE = {429, 500, 502, 503, 504}
# Queues read when looking for the hotline's own: one request, never paging on through an
# account's thousands (Twilio lists oldest first, and the hotline's are made at its start).
QUEUE_LIST_LIMIT = 1000
# Failed REST requests by HTTP status ("none" when Twilio was not reached): for /metrics.
REST_ERRORS = Counter(
    "hotline_twilio_rest_errors", "Twilio REST requests that failed, by HTTP status.", ["status"]
)

T = TypeVar("T")


class GatewayError(Exception):
    """A failed REST request, with Twilio's HTTP status and error code when there were any."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def retryable(self) -> bool:
        """Tell whether trying again later may succeed (throttling, server errors, no answer)."""
        return self.status is None or self.status in RETRYABLE

    def __str__(self) -> str:
        return f"{self.message} (status {self.status}, code {self.code})"


def _counted(error: GatewayError) -> GatewayError:
    """Count a failed request for /metrics (statuses are a bounded set) and hand it back."""
    status = error.status if isinstance(error.status, int) and 100 <= error.status < 600 else None
    REST_ERRORS.labels(str(status) if status else "none").inc()
    return error


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio-python's HTTP client, sending requests meant for Twilio to another base URL."""

    def __init__(self, base_url: str | None, *, timeout: float = DEFAULT_TIMEOUT_S):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None

    def rewrite(self, url: str) -> str:
        """Point a twilio.com URL at the base URL; leave it alone without one."""
        if self.base_url is None:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com")):
            base = urlsplit(self.base_url)
            path = base.path.rstrip("/") + parts.path
            return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))
        return url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Send a request, rewritten to the base URL."""
        return super().request(method, self.rewrite(url), *args, **kwargs)


@dataclass(frozen=True)
class CallInfo:
    """What the app needs to know about a call."""

    sid: str
    status: str
    direction: str | None
    caller: str | None
    called: str | None
    duration: int | None
    parent_call_sid: str | None
    answered_by: str | None


@dataclass(frozen=True)
class QueueInfo:
    """A Twilio queue's size and waits."""

    sid: str
    friendly_name: str
    current_size: int
    max_size: int
    average_wait_time: int


@dataclass(frozen=True)
class QueueMember:
    """A call waiting in a Twilio queue."""

    call_sid: str
    position: int
    wait_time: int


@dataclass(frozen=True)
class ParticipantInfo:
    """A call in a conference."""

    call_sid: str
    conference_sid: str
    label: str | None
    muted: bool
    hold: bool
    status: str | None


@dataclass(frozen=True)
class MessageInfo:
    """An SMS accepted for sending."""

    sid: str
    status: str


class Gateway:
    """The app's only way to Twilio's REST API; builds its client on first use."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str | None,
        hotline_number: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.base_url = base_url.rstrip("/") if base_url else None
        self.hotline_number = hotline_number
        self.timeout = timeout
        self._client: Client | None = None
        self._http: BaseUrlHttpClient | None = None

    @property
    def client(self) -> Client:
        """Return twilio-python's client, built once, talking to the base URL when given."""
        if self._client is None:
            self._http = BaseUrlHttpClient(self.base_url, timeout=self.timeout)
            self._client = Client(self.account_sid, self.auth_token, http_client=self._http)
        return self._client

    def _call_api(self, action: Callable[[], T]) -> T:
        """Run one REST call, turning twilio-python's and requests' errors into GatewayError."""
        try:
            return action()
        except TwilioRestException as error:
            raise _counted(
                GatewayError(str(error.msg), status=error.status, code=error.code)
            ) from error
        except requests.RequestException as error:
            raise _counted(GatewayError(f"Twilio REST API unreachable: {error}")) from error
        except TwilioException as error:
            # List pages fail with the raw response attached rather than a TwilioRestException.
            response = error.args[1] if len(error.args) > 1 else None
            status = getattr(response, "status_code", None)
            raise _counted(
                GatewayError(
                    _error_message(response) or str(error.args[0]),
                    status=status,
                    code=_error_code_from_text(getattr(response, "text", "")),
                )
            ) from error

    def check_reachable(self) -> None:
        """Make one cheap authenticated request (a page of one queue); raise GatewayError if not."""
        self._call_api(lambda: self.client.queues.list(limit=1))

    # -- calls --------------------------------------------------------------------------

    def create_call(
        self,
        to: str,
        url: str,
        *,
        status_callback: str | None = None,
        status_callback_events: Sequence[str] = ALL_CALL_EVENTS,
        timeout: int = 20,
        machine_detection: str | None = None,
        fallback_url: str | None = None,
        caller_id: str | None = None,
    ) -> CallInfo:
        """Call a number from the hotline and run the TwiML at url when it answers."""
        options: dict[str, Any] = {"timeout": timeout}
        if status_callback:
            options.update(
                status_callback=status_callback,
                status_callback_event=list(status_callback_events),
                status_callback_method="POST",
            )
        if machine_detection:
            options["machine_detection"] = machine_detection
        if fallback_url:
            options["fallback_url"] = fallback_url
        call = self._call_api(
            lambda: self.client.calls.create(
                to=to, from_=caller_id or self.hotline_number, url=url, method="POST", **options
            )
        )
        return _call_info(call)

    def update_call(
        self,
        call_sid: str,
        *,
        url: str | None = None,
        twiml: str | None = None,
        status: str | None = None,
    ) -> CallInfo:
        """Send a live call to new TwiML (url or twiml) or end it (status completed/canceled)."""
        options: dict[str, Any] = {}
        if url is not None:
            options.update(url=url, method="POST")
        if twiml is not None:
            options["twiml"] = twiml
        if status is not None:
            options["status"] = status
        if not options:
            raise ValueError("update_call needs url, twiml or status")
        call = self._call_api(lambda: self.client.calls(call_sid).update(**options))
        return _call_info(call)

    def fetch_call(self, call_sid: str) -> CallInfo:
        """Return a call's current state."""
        return _call_info(self._call_api(lambda: self.client.calls(call_sid).fetch()))

    # -- queues -------------------------------------------------------------------------

    def list_queues(self, *, limit: int = QUEUE_LIST_LIMIT) -> list[QueueInfo]:
        """Return the account's queues, oldest first: one page of at most `limit`."""
        queues = self._call_api(lambda: self.client.queues.list(limit=limit, page_size=limit))
        return [_queue_info(queue) for queue in queues]

    def ensure_queue(
        self, friendly_name: str, max_size: int, *, known: Sequence[QueueInfo] | None = None
    ) -> str:
        """Return the SID of the queue with this name, creating it or fixing its MaxSize.

        `known` is a listing already read (`list_queues`), shared by several queues' set-up.
        """
        if known is None:
            found = self._find_queue(friendly_name)
        else:
            found = next((q for q in known if q.friendly_name == friendly_name), None)
        if found is None:
            try:
                created = self._call_api(
                    lambda: self.client.queues.create(
                        friendly_name=friendly_name, max_size=max_size
                    )
                )
                return created.sid
            except GatewayError as error:
                # Another process may have created it between the list and the create.
                found = self._find_queue(friendly_name)
                if found is None:
                    raise error from None
        if found.max_size != max_size:
            self._call_api(lambda: self.client.queues(found.sid).update(max_size=max_size))
        return found.sid

    def _find_queue(self, friendly_name: str) -> QueueInfo | None:
        """Return the queue with this friendly name, if it is among those listed."""
        return next((q for q in self.list_queues() if q.friendly_name == friendly_name), None)

    def fetch_queue(self, queue_sid: str) -> QueueInfo:
        """Return a queue's size and average wait."""
        return _queue_info(self._call_api(lambda: self.client.queues(queue_sid).fetch()))

    def queue_members(self, queue_sid: str) -> list[QueueMember]:
        """Return the calls waiting in a queue, front first."""
        members = self._call_api(lambda: self.client.queues(queue_sid).members.list())
        return [_member(m) for m in members]

    def dequeue(self, queue_sid: str, call_sid: str, url: str) -> QueueMember:
        """Take a caller out of a queue and make their call run the TwiML at url."""
        member = self._call_api(
            lambda: self.client.queues(queue_sid).members(call_sid).update(url=url, method="POST")
        )
        return _member(member)

    # -- conferences --------------------------------------------------------------------

    def find_conference(self, friendly_name: str) -> str | None:
        """Return the SID of the live (not completed) conference with this name, if any."""
        conferences = self._call_api(
            lambda: self.client.conferences.list(friendly_name=friendly_name)
        )
        for conference in conferences:
            if conference.status != "completed":
                return conference.sid
        return None

    def add_participant(
        self,
        conference: str,
        to: str,
        *,
        label: str | None = None,
        start_conference_on_enter: bool = True,
        end_conference_on_exit: bool = False,
        status_callback: str | None = None,
        status_callback_events: Sequence[str] = ALL_CALL_EVENTS,
        timeout: int = 20,
        wait_url: str | None = None,
        muted: bool | None = None,
        coaching: bool | None = None,
        call_sid_to_coach: str | None = None,
        beep: bool | None = None,
    ) -> ParticipantInfo:
        """Call a number into a conference (by SID, or by name: created if needed).

        `coaching` with `call_sid_to_coach` makes the participant heard by that call only.
        """
        options: dict[str, Any] = {
            "start_conference_on_enter": start_conference_on_enter,
            "end_conference_on_exit": end_conference_on_exit,
            "timeout": timeout,
        }
        for name, value in (
            ("muted", muted),
            ("coaching", coaching),
            ("call_sid_to_coach", call_sid_to_coach),
            ("beep", None if beep is None else str(beep).lower()),
        ):
            if value is not None:
                options[name] = value
        if label:
            options["label"] = label
        if wait_url:
            options["wait_url"] = wait_url
        if status_callback:
            options.update(
                status_callback=status_callback,
                status_callback_event=list(status_callback_events),
                status_callback_method="POST",
            )
        participant = self._call_api(
            lambda: self.client.conferences(conference).participants.create(
                from_=self.hotline_number, to=to, **options
            )
        )
        return _participant(participant)

    def update_participant(
        self,
        conference_sid: str,
        call_sid: str,
        *,
        muted: bool | None = None,
        hold: bool | None = None,
        end_conference_on_exit: bool | None = None,
        coaching: bool | None = None,
        call_sid_to_coach: str | None = None,
        hold_url: str | None = None,
    ) -> ParticipantInfo:
        """Mute, hold, coach, or change whether a participant's exit ends the conference.

        `hold_url` is what a held participant hears (TwiML fetched by POST) instead of silence.
        """
        options = {
            name: value
            for name, value in (
                ("muted", muted),
                ("hold", hold),
                ("end_conference_on_exit", end_conference_on_exit),
                ("coaching", coaching),
                ("call_sid_to_coach", call_sid_to_coach),
                ("hold_url", hold_url),
                ("hold_method", "POST" if hold_url else None),
            )
            if value is not None
        }
        participant = self._call_api(
            lambda: self.client.conferences(conference_sid).participants(call_sid).update(**options)
        )
        return _participant(participant)

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take a participant out of a conference."""
        self._call_api(
            lambda: self.client.conferences(conference_sid).participants(call_sid).delete()
        )

    def list_participants(self, conference_sid: str) -> list[ParticipantInfo]:
        """Return the participants now in a conference."""
        participants = self._call_api(
            lambda: self.client.conferences(conference_sid).participants.list()
        )
        return [_participant(p) for p in participants]

    def end_conference(self, conference_sid: str) -> None:
        """End a conference for everyone in it."""
        self._call_api(lambda: self.client.conferences(conference_sid).update(status="completed"))

    # -- recordings and messages ----------------------------------------------------------

    def api_origin(self) -> str:
        """Return the scheme and host the credentials may be sent to."""
        parts = urlsplit(self.base_url or TWILIO_API)
        return f"{parts.scheme}://{parts.netloc}"

    def recording_media_url(self, recording: str) -> str:
        """Return the .wav URL of a recording given its SID or its RecordingUrl."""
        if recording.startswith("RE") and "/" not in recording:
            url = (
                f"{self.base_url or TWILIO_API}/2010-04-01/Accounts/{self.account_sid}"
                f"/Recordings/{recording}.wav"
            )
        else:
            url = BaseUrlHttpClient(self.base_url).rewrite(recording)
            path = urlsplit(url).path
            if not path.rsplit("/", 1)[-1].count("."):
                url = urlunsplit(urlsplit(url)._replace(path=path + ".wav"))
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.api_origin():
            raise GatewayError(f"refusing to send credentials to {parts.scheme}://{parts.netloc}")
        return url

    def fetch_recording_wav(self, recording: str) -> bytes:
        """Download a recording as WAV bytes (by SID or RecordingUrl), authenticated."""
        url = self.recording_media_url(recording)
        session = self._session()
        try:
            response = session.get(
                url,
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
                allow_redirects=False,
            )
            if response.is_redirect and response.headers.get("Location"):
                # Twilio hands media out from storage elsewhere: follow without credentials.
                response = session.get(
                    urljoin(url, response.headers["Location"]), timeout=self.timeout
                )
        except requests.RequestException as error:
            raise GatewayError(f"recording download failed: {error}") from error
        if response.status_code != 200:
            code = _error_code(response)
            raise GatewayError(
                f"recording download failed: HTTP {response.status_code}",
                status=response.status_code,
                code=code,
            )
        return response.content

    def _session(self) -> requests.Session:
        """Return the HTTP session shared with twilio-python's client."""
        self.client  # noqa: B018 - builds the HTTP client on first use
        assert self._http is not None and self._http.session is not None
        return self._http.session

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording and its media at Twilio."""
        self._call_api(lambda: self.client.recordings(recording_sid).delete())

    def send_sms(self, to: str, body: str) -> MessageInfo:
        """Send an SMS from the hotline number."""
        message = self._call_api(
            lambda: self.client.messages.create(to=to, from_=self.hotline_number, body=body)
        )
        return MessageInfo(sid=message.sid, status=str(message.status))


def _call_info(call: Any) -> CallInfo:
    """Copy the fields the app uses out of a twilio-python call."""
    return CallInfo(
        sid=call.sid,
        status=str(call.status),
        direction=call.direction,
        caller=call._from,
        called=call.to,
        duration=int(call.duration) if call.duration not in (None, "") else None,
        parent_call_sid=call.parent_call_sid,
        answered_by=call.answered_by,
    )


def _queue_info(queue: Any) -> QueueInfo:
    """Copy the fields the app uses out of a twilio-python queue."""
    return QueueInfo(
        sid=queue.sid,
        friendly_name=queue.friendly_name,
        current_size=int(queue.current_size or 0),
        max_size=int(queue.max_size or 0),
        average_wait_time=int(queue.average_wait_time or 0),
    )


def _member(member: Any) -> QueueMember:
    """Copy a queue member out of a twilio-python member."""
    return QueueMember(
        call_sid=member.call_sid,
        position=int(member.position or 0),
        wait_time=int(member.wait_time or 0),
    )


def _participant(participant: Any) -> ParticipantInfo:
    """Copy a participant out of a twilio-python participant."""
    return ParticipantInfo(
        call_sid=participant.call_sid,
        conference_sid=participant.conference_sid,
        label=participant.label,
        muted=bool(participant.muted),
        hold=bool(participant.hold),
        status=str(participant.status) if participant.status is not None else None,
    )


def _error_code(response: requests.Response) -> int | None:
    """Return the Twilio error code in an error response's JSON, if any."""
    return _error_code_from_text(response.text)


def _error_code_from_text(text: str) -> int | None:
    """Return the Twilio error code in error JSON text, if any."""
    try:
        return int(json.loads(text).get("code"))
    except (ValueError, TypeError, AttributeError):
        return None


def _error_message(response: Any) -> str | None:
    """Return the message in a Twilio error response, if any."""
    try:
        return str(json.loads(response.text)["message"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
