"""The subset of Twilio's REST API 2010-04-01 the hotline uses, at Twilio's paths and shapes."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from carrier import recordings
from carrier.clock import rfc2822
from carrier.network import (
    MAX_QUEUE_SIZE,
    Call,
    Conference,
    Member,
    Message,
    Participant,
    Queue,
    Signal,
    new_sid,
)

if TYPE_CHECKING:
    from carrier.server import Carrier

bp = Blueprint("twilio_rest", __name__, url_prefix="/2010-04-01")

API_VERSION = "2010-04-01"
DEFAULT_PAGE_SIZE = 50


class TwilioError(Exception):
    """A REST error answered as Twilio's error JSON."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def carrier() -> Carrier:
    """Return the carrier this app serves."""
    return current_app.extensions["carrier"]


def error_response(status: int, code: int, message: str) -> Response:
    """Build Twilio's error JSON."""
    response = jsonify(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    )
    response.status_code = status
    return response


@bp.errorhandler(TwilioError)
def _twilio_error(error: TwilioError) -> Response:
    return error_response(error.status, error.code, error.message)


@bp.before_request
def _check_auth_and_faults() -> Response | None:
    """Check Basic auth and the account in the path, then inject REST faults when asked."""
    request.environ["carrier.started"] = time.monotonic()
    # Wall-clock arrival, comparable with other processes' clocks (the dispatch benchmark).
    request.environ["carrier.received_at"] = time.time()
    settings = carrier().settings
    auth = request.authorization
    if (
        auth is None
        or auth.username != settings.account_sid
        or auth.password != settings.auth_token
    ):
        return error_response(401, 20003, "Authentication Error - invalid username")
    account = (request.view_args or {}).get("account_sid")
    if account != settings.account_sid:
        return error_response(404, 20404, f"The requested resource {request.path} was not found")
    faults = carrier().faults
    if faults.roll("rest_500", target=request.path):
        return error_response(500, 20500, "Internal Server Error")
    if faults.roll("rest_429", target=request.path):
        response = error_response(429, 20429, "Too Many Requests")
        response.headers["Retry-After"] = "1"
        return response
    if faults.roll("rest_hang", target=request.path):
        # No answer in time: the client has given up by now, and nothing was done.
        time.sleep(faults.plan.rest_hang_s)
        return error_response(503, 20503, "Service Unavailable")
    return None


@bp.after_request
def _keep_exchange(response: Response) -> Response:
    """Keep every request and answer, for the contract test and for debugging."""
    body: Any = None
    if response.mimetype == "application/json":
        body = response.get_json(silent=True)
    started = request.environ.get("carrier.started", time.monotonic())
    carrier().network.record_exchange(
        {
            "method": request.method,
            "path": request.path,
            "url_rule": request.url_rule.rule if request.url_rule else None,
            "query": list(request.args.items(multi=True)),
            "form": list(request.form.items(multi=True)),
            "status": response.status_code,
            "json": body,
            "mimetype": response.mimetype,
            "latency_ms": int((time.monotonic() - started) * 1000),
            "received_at": request.environ.get("carrier.received_at"),
        }
    )
    return response


# -- helpers -------------------------------------------------------------------------------


def _form(name: str, default: str | None = None) -> str | None:
    """Return one form field."""
    return request.form.get(name, default)


def _flag(name: str, default: bool) -> bool:
    """Return a true/false form field."""
    value = request.form.get(name)
    return default if value is None else value.lower() == "true"


def _integer(name: str, default: int, *, low: int, high: int) -> int:
    """Return an integer form field within bounds, or raise Twilio's invalid-parameter error."""
    value = request.form.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise TwilioError(400, 20001, f"{name} must be an integer") from None
    if not low <= number <= high:
        raise TwilioError(400, 20001, f"{name} must be between {low} and {high}")
    return number


def _events(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Return a list field sent as repeated keys (or one space-separated value)."""
    values = request.form.getlist(name)
    if not values:
        return default
    return tuple(word for value in values for word in value.replace(",", " ").split())


def _method(name: str) -> str:
    """Return an HTTP method field (GET or POST, default POST)."""
    value = (request.form.get(name) or "POST").upper()
    if value not in ("GET", "POST"):
        raise TwilioError(400, 20001, f"{name} must be GET or POST")
    return value


def _base(account_sid: str) -> str:
    """Return the URI prefix of an account's resources."""
    return f"/2010-04-01/Accounts/{account_sid}"


def _page(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Return one page of a list in Twilio's list envelope, with a next page URI when more."""
    try:
        size = max(1, min(int(request.args.get("PageSize", DEFAULT_PAGE_SIZE)), 1000))
        number = max(0, int(request.args.get("Page", 0)))
    except ValueError:
        raise TwilioError(400, 20001, "Page and PageSize must be integers") from None
    start = number * size
    chunk = items[start : start + size]
    path = request.path

    def uri(page: int) -> str:
        return f"{path}?PageSize={size}&Page={page}"

    return {
        key: chunk,
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1) if start + size < len(items) else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        "start": start,
        "uri": uri(number),
    }


def _not_found() -> TwilioError:
    """Return Twilio's 404 for the requested path."""
    return TwilioError(404, 20404, f"The requested resource {request.path} was not found")


# -- calls -------------------------------------------------------------------------------


def call_json(call: Call) -> dict[str, Any]:
    """Render a call like Twilio's Call resource."""
    base = f"{_base(call.account_sid)}/Calls/{call.sid}"
    return {
        "sid": call.sid,
        "date_created": rfc2822(call.created),
        "date_updated": rfc2822(call.updated),
        "parent_call_sid": call.parent_call_sid,
        "account_sid": call.account_sid,
        "to": call.called,
        "to_formatted": call.called,
        "from": call.caller,
        "from_formatted": call.caller,
        "phone_number_sid": None,
        "status": call.status,
        "start_time": rfc2822(call.start_time),
        "end_time": rfc2822(call.end_time),
        "duration": str(call.duration) if call.duration is not None else None,
        "price": None,
        "price_unit": "USD",
        "direction": call.direction,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": str(call.queue_time),
        "trunk_sid": None,
        "uri": f"{base}.json",
        "subresource_uris": {
            "notifications": f"{base}/Notifications.json",
            "recordings": f"{base}/Recordings.json",
        },
    }


def _call(sid: str) -> Call:
    """Return a call by SID or raise 404."""
    call = carrier().network.calls.get(sid)
    if call is None:
        raise _not_found()
    return call


@bp.post("/Accounts/<account_sid>/Calls.json")
def create_call(account_sid: str) -> tuple[Response, int]:
    """Place an outbound call (Calls create)."""
    hub = carrier()
    to, sender = _form("To"), _form("From")
    if not to:
        raise TwilioError(400, 21201, "No 'To' number is specified")
    if not sender:
        raise TwilioError(400, 21213, "No 'From' number is specified")
    if sender != hub.settings.hotline_number and not sender.startswith("client:"):
        raise TwilioError(
            400, 21210, f"The source phone number provided, {sender}, is not yet verified"
        )
    if not (to.startswith("+") or to.startswith("client:")):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    url, twiml = _form("Url"), _form("Twiml")
    if _form("ApplicationSid"):
        raise TwilioError(400, 21205, "ApplicationSid is not supported by the carrier; send a Url")
    if not url and not twiml:
        raise TwilioError(400, 21205, "Url parameter is required")
    callback = _form("StatusCallback")
    call = hub.network.add_call(
        caller=sender,
        called=to,
        direction="outbound-api",
        url=url,
        method=_method("Method"),
        twiml=twiml,
        fallback_url=_form("FallbackUrl"),
        fallback_method=_method("FallbackMethod"),
        status_callback=callback,
        status_callback_method=_method("StatusCallbackMethod"),
        status_callback_events=_events("StatusCallbackEvent", ("completed",)),
        timeout=_integer("Timeout", 60, low=1, high=600),
        machine_detection=_form("MachineDetection"),
    )
    # The call as created, as Twilio answers it ("queued"), read before its leg starts: on a
    # busy machine the leg can ring before this request is answered.
    created = call_json(call)
    hub.driver.start_outgoing(call)
    return jsonify(created), 201


@bp.get("/Accounts/<account_sid>/Calls.json")
def list_calls(account_sid: str) -> Response:
    """List calls, newest first, filtered by To, From, Status and ParentCallSid."""
    with carrier().network.cond:
        calls = list(carrier().network.calls.values())
    filters = {
        "To": lambda c: c.called,
        "From": lambda c: c.caller,
        "Status": lambda c: c.status,
        "ParentCallSid": lambda c: c.parent_call_sid,
    }
    for name, field in filters.items():
        wanted = request.args.get(name)
        if wanted is not None:
            calls = [c for c in calls if field(c) == wanted]
    calls.sort(key=lambda c: c.created, reverse=True)
    return jsonify(_page([call_json(c) for c in calls], "calls"))


@bp.get("/Accounts/<account_sid>/Calls/<sid>.json")
def fetch_call(account_sid: str, sid: str) -> Response:
    """Fetch one call."""
    return jsonify(call_json(_call(sid)))


@bp.post("/Accounts/<account_sid>/Calls/<sid>.json")
def update_call(account_sid: str, sid: str) -> Response:
    """Redirect a live call to new TwiML, or end it (Status=completed or canceled)."""
    hub = carrier()
    call = _call(sid)
    status = _form("Status")
    url, twiml = _form("Url"), _form("Twiml")
    if status is not None and status not in ("completed", "canceled"):
        raise TwilioError(400, 20001, f"Status must be completed or canceled, not {status}")
    if _form("StatusCallback"):
        call.status_callback = _form("StatusCallback")
        call.status_callback_method = _method("StatusCallbackMethod")
    if _form("FallbackUrl"):
        call.fallback_url = _form("FallbackUrl")
        call.fallback_method = _method("FallbackMethod")
    if status == "completed" or (status == "canceled" and call.status in ("queued", "ringing")):
        hub.driver.hang_up(sid)
    elif url or twiml:
        if call.status != "in-progress":
            raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
        call.url, call.method, call.twiml = url, _method("Method"), twiml
        hub.driver.redirect(sid, url=url, method=call.method, twiml=twiml)
    return jsonify(call_json(call))


# -- queues ------------------------------------------------------------------------------


def queue_json(queue: Queue) -> dict[str, Any]:
    """Render a queue like Twilio's Queue resource."""
    hub = carrier()
    now = hub.network.clock.now()
    waits = [now - member.enqueued_v for member in queue.members]
    return {
        "date_updated": rfc2822(queue.updated),
        "current_size": len(queue.members),
        "friendly_name": queue.friendly_name,
        "uri": f"{_base(hub.settings.account_sid)}/Queues/{queue.sid}.json",
        "account_sid": hub.settings.account_sid,
        "average_wait_time": int(sum(waits) / len(waits)) if waits else 0,
        "sid": queue.sid,
        "date_created": rfc2822(queue.created),
        "max_size": queue.max_size,
    }


def member_json(queue: Queue, member: Member, position: int) -> dict[str, Any]:
    """Render a queue member like Twilio's Member resource."""
    hub = carrier()
    base = _base(hub.settings.account_sid)
    return {
        "call_sid": member.call_sid,
        "date_enqueued": rfc2822(member.enqueued),
        "position": position,
        "uri": f"{base}/Queues/{queue.sid}/Members/{member.call_sid}.json",
        "wait_time": int(hub.network.clock.now() - member.enqueued_v),
        "queue_sid": queue.sid,
    }


def _queue(sid: str) -> Queue:
    """Return a queue by SID or raise 404."""
    queue = carrier().network.queues.get(sid)
    if queue is None:
        raise _not_found()
    return queue


@bp.post("/Accounts/<account_sid>/Queues.json")
def create_queue(account_sid: str) -> tuple[Response, int]:
    """Create a queue with a unique friendly name."""
    network = carrier().network
    name = _form("FriendlyName")
    if not name:
        raise TwilioError(400, 20001, "FriendlyName is required")
    if len(name) > 64:
        raise TwilioError(400, 20001, "FriendlyName must be at most 64 characters")
    max_size = _integer("MaxSize", 100, low=1, high=MAX_QUEUE_SIZE)
    with network.cond:
        if network.queue_named(name, create=False) is not None:
            raise TwilioError(400, 20001, f"A queue named {name} already exists")
        queue = network.add_queue(name, max_size)
    return jsonify(queue_json(queue)), 201


@bp.get("/Accounts/<account_sid>/Queues.json")
def list_queues(account_sid: str) -> Response:
    """List queues in creation order."""
    with carrier().network.cond:
        queues = sorted(carrier().network.queues.values(), key=lambda q: q.created)
        return jsonify(_page([queue_json(q) for q in queues], "queues"))


@bp.get("/Accounts/<account_sid>/Queues/<sid>.json")
def fetch_queue(account_sid: str, sid: str) -> Response:
    """Fetch one queue."""
    with carrier().network.cond:
        return jsonify(queue_json(_queue(sid)))


@bp.post("/Accounts/<account_sid>/Queues/<sid>.json")
def update_queue(account_sid: str, sid: str) -> Response:
    """Rename a queue or change its size."""
    with carrier().network.cond:
        queue = _queue(sid)
        if _form("FriendlyName"):
            queue.friendly_name = _form("FriendlyName") or queue.friendly_name
        queue.max_size = _integer("MaxSize", queue.max_size, low=1, high=MAX_QUEUE_SIZE)
        queue.updated = carrier().network.clock.utcnow()
        return jsonify(queue_json(queue))


@bp.get("/Accounts/<account_sid>/Queues/<queue_sid>/Members.json")
def list_members(account_sid: str, queue_sid: str) -> Response:
    """List a queue's members in order."""
    with carrier().network.cond:
        queue = _queue(queue_sid)
        members = [member_json(queue, m, i + 1) for i, m in enumerate(queue.members)]
    return jsonify(_page(members, "queue_members"))


def _member(queue: Queue, call_sid: str) -> tuple[Member, int]:
    """Return a member (or the one at the front for "Front") and its position, or raise 404."""
    for index, member in enumerate(queue.members):
        if call_sid in (member.call_sid, "Front" if index == 0 else None):
            return member, index + 1
    raise _not_found()


@bp.get("/Accounts/<account_sid>/Queues/<queue_sid>/Members/<call_sid>.json")
def fetch_member(account_sid: str, queue_sid: str, call_sid: str) -> Response:
    """Fetch one member of a queue."""
    with carrier().network.cond:
        queue = _queue(queue_sid)
        member, position = _member(queue, call_sid)
        return jsonify(member_json(queue, member, position))


@bp.post("/Accounts/<account_sid>/Queues/<queue_sid>/Members/<call_sid>.json")
def dequeue_member(account_sid: str, queue_sid: str, call_sid: str) -> Response:
    """Take a member out of the queue and make its call run the TwiML at Url."""
    hub = carrier()
    url = _form("Url")
    if not url:
        raise TwilioError(400, 20001, "Url is required")
    method = _method("Method")
    with hub.network.cond:
        queue = _queue(queue_sid)
        member, position = _member(queue, call_sid)
        body = member_json(queue, member, position)
        # Out of the queue now, so a second dequeue of the same caller gets 404.
        queue.members.remove(member)
        hub.driver.redirect(member.call_sid, url=url, method=method, twiml=None)
    return jsonify(body)


# -- conferences -------------------------------------------------------------------------


def conference_json(conference: Conference) -> dict[str, Any]:
    """Render a conference like Twilio's Conference resource."""
    base = f"{_base(carrier().settings.account_sid)}/Conferences/{conference.sid}"
    return {
        "account_sid": carrier().settings.account_sid,
        "date_created": rfc2822(conference.created),
        "date_updated": rfc2822(conference.updated),
        "api_version": API_VERSION,
        "friendly_name": conference.friendly_name,
        "region": "us1",
        "sid": conference.sid,
        "status": conference.status,
        "uri": f"{base}.json",
        "subresource_uris": {
            "participants": f"{base}/Participants.json",
            "recordings": f"{base}/Recordings.json",
        },
        "reason_conference_ended": conference.reason_ended,
        "call_sid_ending_conference": conference.call_sid_ending,
    }


def participant_json(conference: Conference, participant: Participant) -> dict[str, Any]:
    """Render a participant like Twilio's Participant resource."""
    base = _base(carrier().settings.account_sid)
    return {
        "account_sid": carrier().settings.account_sid,
        "call_sid": participant.call_sid,
        "label": participant.label,
        "call_sid_to_coach": participant.call_sid_to_coach,
        "coaching": participant.coaching,
        "conference_sid": conference.sid,
        "date_created": rfc2822(participant.created),
        "date_updated": rfc2822(participant.updated),
        "end_conference_on_exit": participant.end_on_exit,
        "muted": participant.muted,
        "hold": participant.hold,
        "start_conference_on_enter": participant.start_on_enter,
        "status": participant.status,
        "queue_time": "0",
        "uri": f"{base}/Conferences/{conference.sid}/Participants/{participant.call_sid}.json",
    }


def _conference(sid: str) -> Conference:
    """Return a conference by SID or raise 404."""
    conference = carrier().network.conferences.get(sid)
    if conference is None:
        raise _not_found()
    return conference


@bp.get("/Accounts/<account_sid>/Conferences.json")
def list_conferences(account_sid: str) -> Response:
    """List conferences, newest first, filtered by FriendlyName and Status."""
    with carrier().network.cond:
        conferences = list(carrier().network.conferences.values())
        for name, field in (("FriendlyName", "friendly_name"), ("Status", "status")):
            wanted = request.args.get(name)
            if wanted is not None:
                conferences = [c for c in conferences if getattr(c, field) == wanted]
        conferences.sort(key=lambda c: c.created, reverse=True)
        return jsonify(_page([conference_json(c) for c in conferences], "conferences"))


@bp.get("/Accounts/<account_sid>/Conferences/<sid>.json")
def fetch_conference(account_sid: str, sid: str) -> Response:
    """Fetch one conference."""
    with carrier().network.cond:
        return jsonify(conference_json(_conference(sid)))


@bp.post("/Accounts/<account_sid>/Conferences/<sid>.json")
def update_conference(account_sid: str, sid: str) -> Response:
    """End a conference (Status=completed)."""
    network = carrier().network
    status = _form("Status")
    if status is not None and status != "completed":
        raise TwilioError(400, 20001, "Status can only be completed")
    with network.cond:
        conference = _conference(sid)
        if status == "completed" and conference.status != "completed":
            conference.status = "completed"
            conference.ended_at = network.clock.now()
            recordings.conference_ended(network, conference)
            conference.reason_ended = "conference-ended-via-api"
            conference.updated = network.clock.utcnow()
            for call_sid in conference.participants:
                network.signal(call_sid, Signal("conference-ended"))
        return jsonify(conference_json(conference))


@bp.post("/Accounts/<account_sid>/Conferences/<conference_sid>/Participants.json")
def create_participant(account_sid: str, conference_sid: str) -> tuple[Response, int]:
    """Call a number and put it into a conference (by SID, or by name, creating it)."""
    hub = carrier()
    to, sender = _form("To"), _form("From")
    if not to:
        raise TwilioError(400, 21201, "No 'To' number is specified")
    if not sender:
        raise TwilioError(400, 21213, "No 'From' number is specified")
    if conference_sid.startswith("CF") and conference_sid not in hub.network.conferences:
        raise _not_found()
    with hub.network.cond:
        conference = hub.network.conference_named(conference_sid, create=True)
        assert conference is not None
        coaching, coach = _coaching(conference, False, None)
    participant = Participant(
        call_sid="",
        created=hub.network.clock.utcnow(),
        updated=hub.network.clock.utcnow(),
        label=_form("Label"),
        muted=_flag("Muted", False),
        start_on_enter=_flag("StartConferenceOnEnter", True),
        end_on_exit=_flag("EndConferenceOnExit", False),
        status="queued",
        coaching=coaching,
        call_sid_to_coach=coach,
        beep=_form("Beep") or "true",
    )
    call = hub.network.add_call(
        caller=sender,
        called=to,
        direction="outbound-api",
        twiml=_conference_twiml(conference.friendly_name, participant),
        status_callback=_form("StatusCallback"),
        status_callback_method=_method("StatusCallbackMethod"),
        status_callback_events=_events("StatusCallbackEvent", ("completed",)),
        timeout=_integer("Timeout", 60, low=5, high=600),
    )
    participant.call_sid = call.sid
    hub.driver.start_outgoing(call)
    return jsonify(participant_json(conference, participant)), 201


def _conference_twiml(name: str, participant: Participant) -> str:
    """Return the TwiML that joins a participant's call to a conference."""
    response = ET.Element("Response")
    dial = ET.SubElement(response, "Dial")
    attributes = {
        "startConferenceOnEnter": str(participant.start_on_enter).lower(),
        "endConferenceOnExit": str(participant.end_on_exit).lower(),
        "muted": str(participant.muted).lower(),
    }
    if participant.label:
        attributes["participantLabel"] = participant.label
    if participant.coaching and participant.call_sid_to_coach:
        attributes["coach"] = participant.call_sid_to_coach
    for name_, value in (
        ("waitUrl", _form("WaitUrl")),
        ("waitMethod", _form("WaitMethod")),
        ("beep", _form("Beep")),
        ("statusCallback", _form("ConferenceStatusCallback")),
        ("statusCallbackMethod", _form("ConferenceStatusCallbackMethod")),
    ):
        if value is not None:
            attributes[name_] = value
    events = _events("ConferenceStatusCallbackEvent", ())
    if events:
        attributes["statusCallbackEvent"] = " ".join(events)
    attributes.update(_conference_record_attributes())
    noun = ET.SubElement(dial, "Conference", attributes)
    noun.text = name
    return ET.tostring(response, encoding="unicode")


def _conference_record_attributes() -> dict[str, str]:
    """Return the <Conference> recording attributes a participant's ConferenceRecord* ask for.

    ConferenceRecord true or record-from-start records the conference if this participant starts
    it; false and do-not-record (the default) do not.
    """
    record = (_form("ConferenceRecord") or "false").lower()
    if record not in ("true", "false", recordings.RECORD_FROM_START, "do-not-record"):
        raise TwilioError(
            400, 20001, "ConferenceRecord must be true, false, record-from-start or do-not-record"
        )
    if record in ("false", "do-not-record"):
        return {}
    attributes = {"record": recordings.RECORD_FROM_START}
    url = _form("ConferenceRecordingStatusCallback")
    if url:
        attributes["recordingStatusCallback"] = url
        attributes["recordingStatusCallbackMethod"] = _method(
            "ConferenceRecordingStatusCallbackMethod"
        )
    events = _events("ConferenceRecordingStatusCallbackEvent", ())
    unknown = sorted(set(events) - {"in-progress", "completed", "absent", "failed"})
    if unknown:
        raise TwilioError(
            400, 20001, f"Unknown ConferenceRecordingStatusCallbackEvent {unknown[0]}"
        )
    if events:
        attributes["recordingStatusCallbackEvent"] = " ".join(events)
    return attributes


@bp.get("/Accounts/<account_sid>/Conferences/<conference_sid>/Participants.json")
def list_participants(account_sid: str, conference_sid: str) -> Response:
    """List the participants now in a conference."""
    with carrier().network.cond:
        conference = _conference(conference_sid)
        items = [participant_json(conference, p) for p in conference.participants.values()]
    return jsonify(_page(items, "participants"))


def _participant(conference_sid: str, call_sid: str) -> tuple[Conference, Participant]:
    """Return a conference and one of its participants, by call SID or label, or raise 404."""
    conference = _conference(conference_sid)
    participant = conference.participants.get(call_sid) or next(
        (p for p in conference.participants.values() if p.label and p.label == call_sid), None
    )
    if participant is None:
        raise _not_found()
    return conference, participant


@bp.get("/Accounts/<account_sid>/Conferences/<conference_sid>/Participants/<call_sid>.json")
def fetch_participant(account_sid: str, conference_sid: str, call_sid: str) -> Response:
    """Fetch one participant."""
    with carrier().network.cond:
        return jsonify(participant_json(*_participant(conference_sid, call_sid)))


def _coaching(conference: Conference, coaching: bool, coach: str | None) -> tuple[bool, str | None]:
    """Read Coaching and CallSidToCoach by Twilio's rules, from the current values.

    CallSidToCoach alone makes a coach; Coaching=true needs a participant to coach, who must be
    in this conference (16028); Coaching=false lets everyone hear the participant (a barge).
    """
    wanted = _form("CallSidToCoach")
    if wanted is not None:
        if not (len(wanted) == 34 and wanted.startswith("CA")):
            raise TwilioError(400, 20001, f"CallSidToCoach must be a call SID, not {wanted}")
        if wanted not in conference.participants:
            raise TwilioError(
                400, 16028, "Participant to be whispered is not present in the conference"
            )
        coach = wanted
    coaching = _flag("Coaching", coaching or wanted is not None)
    if coaching and coach is None:
        raise TwilioError(400, 20001, "CallSidToCoach is required when Coaching is true")
    return coaching, coach if coaching else None


@bp.post("/Accounts/<account_sid>/Conferences/<conference_sid>/Participants/<call_sid>.json")
def update_participant(account_sid: str, conference_sid: str, call_sid: str) -> Response:
    """Mute, hold (with a HoldUrl), coach or barge, or change how a participant's exit ends it."""
    network = carrier().network
    with network.cond:
        conference, participant = _participant(conference_sid, call_sid)
        participant.coaching, participant.call_sid_to_coach = _coaching(
            conference, participant.coaching, participant.call_sid_to_coach
        )
        was_held = participant.hold
        participant.muted = _flag("Muted", participant.muted)
        participant.hold = _flag("Hold", participant.hold)
        if _form("HoldUrl") is not None:
            participant.hold_url = _form("HoldUrl") or None
        if _form("HoldMethod") is not None:
            participant.hold_method = _method("HoldMethod")
        participant.end_on_exit = _flag("EndConferenceOnExit", participant.end_on_exit)
        participant.updated = network.clock.utcnow()
        call = network.calls[participant.call_sid]
        call.transcript.add(
            network.clock.now(),
            "participant",
            muted=participant.muted,
            hold=participant.hold,
            coaching=participant.coaching,
            **({"coach_of": participant.call_sid_to_coach} if participant.coaching else {}),
        )
        if participant.hold != was_held:
            # The leg leaves the conference's audio for the hold music, or comes back.
            change = "held" if participant.hold else "unheld"
            network.signal(participant.call_sid, Signal("hold-changed", reason=change))
        return jsonify(participant_json(conference, participant))


@bp.delete("/Accounts/<account_sid>/Conferences/<conference_sid>/Participants/<call_sid>.json")
def remove_participant(account_sid: str, conference_sid: str, call_sid: str) -> tuple[str, int]:
    """Remove a participant from a conference; its call goes on with its next verb."""
    network = carrier().network
    with network.cond:
        _, participant = _participant(conference_sid, call_sid)
        network.signal(participant.call_sid, Signal("kicked"))
    return "", 204


# -- recordings: carrier/rest_recordings.py adds them to this blueprint ------------------------


# -- messages ----------------------------------------------------------------------------


def message_json(message: Message) -> dict[str, Any]:
    """Render an SMS like Twilio's Message resource."""
    base = f"{_base(message.account_sid)}/Messages/{message.sid}"
    return {
        "body": message.body,
        "num_segments": str(max(1, -(-len(message.body) // 70))),
        "direction": "outbound-api",
        "from": message.sender,
        "to": message.to,
        "date_updated": rfc2822(message.created),
        "price": None,
        "error_message": None,
        "uri": f"{base}.json",
        "account_sid": message.account_sid,
        "num_media": "0",
        "status": message.status,
        "messaging_service_sid": message.messaging_service_sid,
        "sid": message.sid,
        "date_sent": None,
        "date_created": rfc2822(message.created),
        "error_code": None,
        "price_unit": "USD",
        "api_version": API_VERSION,
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
    }


@bp.post("/Accounts/<account_sid>/Messages.json")
def create_message(account_sid: str) -> tuple[Response, int]:
    """Accept an SMS for sending; the carrier keeps it for tests and the demo."""
    hub = carrier()
    to, body = _form("To"), _form("Body")
    sender, service = _form("From"), _form("MessagingServiceSid")
    if not to:
        raise TwilioError(400, 21604, "A 'To' phone number is required.")
    if not body:
        raise TwilioError(400, 21602, "Message body is required.")
    if not sender and not service:
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if sender and sender != hub.settings.hotline_number:
        raise TwilioError(400, 21606, f"The 'From' phone number provided ({sender}) is not valid")
    message = Message(
        sid=new_sid("SM"),
        account_sid=hub.settings.account_sid,
        to=to,
        sender=sender,
        body=body,
        created=hub.network.clock.utcnow(),
        messaging_service_sid=service,
    )
    with hub.network.cond:
        hub.network.messages[message.sid] = message
    return jsonify(message_json(message)), 201
