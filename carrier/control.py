"""The carrier's own API under /carrier: place simulated calls, read transcripts, set faults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from carrier.faults import FaultPlan
from carrier.network import Call, Recording
from carrier.parties import Script, Step, phone_from_mapping

if TYPE_CHECKING:
    from carrier.server import Carrier

bp = Blueprint("carrier_control", __name__, url_prefix="/carrier")

# The longest a client may block on /wait in one request, in real seconds.
MAX_WAIT_S = 120.0
# The longest speech an interactive caller may send at once, in characters.
MAX_SPEECH = 500


def carrier() -> Carrier:
    """Return the carrier this app serves."""
    return current_app.extensions["carrier"]


def _problem(status: int, message: str) -> tuple[Response, int]:
    """Answer a bad control request with a short JSON error."""
    return jsonify({"error": message}), status


@bp.before_request
def _check_auth() -> tuple[Response, int] | None:
    """Ask for the same Basic auth as the REST API: the control API places calls too."""
    settings = carrier().settings
    auth = request.authorization
    if request.endpoint == "carrier_control.health":
        return None
    if auth is None or (auth.username, auth.password) != (
        settings.account_sid,
        settings.auth_token,
    ):
        return _problem(401, "Basic auth with the account SID and auth token is required")
    return None


@bp.get("/health")
def health() -> Response:
    """Tell that the carrier is up and which number it answers for."""
    hub = carrier()
    return jsonify(
        {
            "ok": True,
            "hotline_number": hub.settings.hotline_number,
            "voice_url": hub.settings.voice_url,
            "fallback_url": hub.settings.fallback_url,
            "bins": sorted(hub.settings.bins),
            "time_scale": hub.network.clock.time_scale,
        }
    )


def call_view(call: Call) -> dict[str, Any]:
    """Return a call's transcript with its status and the legs it dialled."""
    network = carrier().network
    with network.cond:
        legs = [c.sid for c in network.calls.values() if c.parent_call_sid == call.sid]
        view = call.transcript.to_dict()
        view.update(
            {
                "status": call.status,
                "finished": call.finished,
                "parent_call_sid": call.parent_call_sid,
                "legs": legs,
                "party": call.party_name,
            }
        )
    return view


@bp.post("/calls")
def place_call() -> tuple[Response, int]:
    """Place a call: {"from": ..., "script": {...}}, or {"from": ..., "interactive": true}."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not str(data.get("from", "")).startswith("+"):
        return _problem(400, 'send JSON with "from" (an E.164 number) and an optional "script"')
    live = data.get("interactive", False)
    if not isinstance(live, bool) or (live and data.get("script")):
        return _problem(
            400, '"interactive" is true or false, and an interactive call has no script'
        )
    try:
        script = Script.from_mapping(data.get("script") or {})
    except (ValueError, TypeError) as error:
        return _problem(400, str(error))
    call = carrier().driver.start_incoming(data["from"], script, called=data.get("to"), live=live)
    return jsonify({"call_sid": call.sid, "interactive": live}), 201


@bp.post("/calls/<sid>/input")
def send_input(sid: str) -> tuple[Response, int]:
    """Give an interactive call's caller input: {"digits": "1"} or {"speech": "words"}."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or len(data) != 1 or not ({"digits", "speech"} & set(data)):
        return _problem(400, 'send {"digits": "KEYS"} or {"speech": "WORDS"}')
    try:
        if "digits" in data:
            step = Step.parse({"press": str(data["digits"])})
        else:
            step = Step.parse({"say": str(data["speech"])[:MAX_SPEECH]})
    except ValueError as error:
        return _problem(400, str(error))
    hub = carrier()
    if sid not in hub.network.calls:
        return _problem(404, f"no call {sid}")
    if not hub.driver.send_input(sid, step):
        return _problem(409, "the call is over or not interactive")
    return jsonify({"accepted": step.to_dict()}), 202


@bp.post("/calls/<sid>/hangup")
def hang_up(sid: str) -> tuple[Response, int]:
    """Hang up a call as its caller."""
    hub = carrier()
    if sid not in hub.network.calls:
        return _problem(404, f"no call {sid}")
    hub.driver.hang_up(sid, reason="caller")
    return jsonify({"call_sid": sid}), 202


@bp.get("/calls")
def list_calls() -> Response:
    """List calls (optionally ?to=, ?from=, ?direction=) with their status and summary."""
    network = carrier().network
    with network.cond:
        calls = list(network.calls.values())
    for name, field in (("to", "called"), ("from", "caller"), ("direction", "direction")):
        wanted = request.args.get(name)
        if wanted is not None:
            calls = [c for c in calls if getattr(c, field) == wanted]
    return jsonify(
        [
            {
                "call_sid": c.sid,
                "from": c.caller,
                "to": c.called,
                "direction": c.direction,
                "status": c.status,
                "finished": c.finished,
                "parent_call_sid": c.parent_call_sid,
                "summary": c.transcript.outcome.get("summary"),
            }
            for c in calls
        ]
    )


@bp.get("/calls/<sid>")
def transcript(sid: str) -> tuple[Response, int] | Response:
    """Return one call's transcript."""
    call = carrier().network.calls.get(sid)
    if call is None:
        return _problem(404, f"no call {sid}")
    return jsonify(call_view(call))


@bp.get("/calls/<sid>/wait")
def wait(sid: str) -> tuple[Response, int] | Response:
    """Block until a call has finished (or ?timeout= real seconds pass), then return it."""
    hub = carrier()
    call = hub.network.calls.get(sid)
    if call is None:
        return _problem(404, f"no call {sid}")
    try:
        timeout = min(float(request.args.get("timeout", 30)), MAX_WAIT_S)
    except ValueError:
        return _problem(400, "timeout is a number of seconds")
    finished = hub.driver.wait_finished(sid, timeout)
    return jsonify(call_view(call)), 200 if finished else 202


@bp.get("/faults")
def faults() -> Response:
    """Return the fault plan and how many faults were injected so far."""
    return jsonify(carrier().faults.snapshot())


@bp.put("/faults")
def set_faults() -> tuple[Response, int] | Response:
    """Replace the fault plan (an empty object clears every fault)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _problem(400, "send the fault plan as a JSON object")
    try:
        plan = FaultPlan.from_mapping(data)
    except (ValueError, TypeError) as error:
        return _problem(400, str(error))
    carrier().faults.replace(plan)
    return jsonify(carrier().faults.snapshot())


@bp.get("/requests")
def exchanges() -> Response:
    """Return the REST requests the carrier answered, oldest first."""
    network = carrier().network
    with network.cond:
        return jsonify(list(network.exchanges))


@bp.delete("/requests")
def forget_exchanges() -> tuple[str, int]:
    """Forget the REST requests kept so far."""
    network = carrier().network
    with network.cond:
        network.exchanges.clear()
    return "", 204


@bp.get("/phones")
def phones() -> Response:
    """Return the phones the carrier knows, by number, as in the --agents file."""
    directory = carrier().directory
    return jsonify({number: phone.to_dict() for number, phone in directory.phones.items()})


@bp.put("/phones/<number>")
def set_phone(number: str) -> tuple[Response, int] | Response:
    """Configure (or replace) the phone at a number, as one entry of the --agents file.

    Calls rung from now on use it: a supervisor given lines to `talk` in a conference, say.
    """
    data = request.get_json(silent=True)
    if not (number.startswith("+") or number.startswith("client:")):
        return _problem(400, "phones are keyed by E.164 numbers (+...) or client:NAME")
    if not isinstance(data, dict):
        return _problem(400, "send the phone's settings as a JSON object")
    try:
        phone = phone_from_mapping(number, data)
    except (ValueError, TypeError) as error:
        return _problem(400, str(error))
    carrier().directory.phones[number] = phone
    return jsonify({number: phone.to_dict()})


@bp.get("/messages")
def messages() -> Response:
    """Return the SMS the app sent, oldest first."""
    network = carrier().network
    with network.cond:
        return jsonify(
            [
                {"sid": m.sid, "to": m.to, "from": m.sender, "body": m.body}
                for m in sorted(network.messages.values(), key=lambda m: m.created)
            ]
        )


def recording_view(recording: Recording) -> dict[str, Any]:
    """Return what the stand-in knows of a recording: its state, whether deleted, its lines."""
    return {
        "sid": recording.sid,
        "status": recording.status,
        "deleted": recording.deleted,
        "source": recording.source,
        "conference_sid": recording.conference_sid,
        "call_sid": recording.call_sid,
        "duration": recording.duration,
        "channels": recording.channels,
        "error_code": recording.error_code,
        "lines": [dict(line) for line in recording.lines],
    }


@bp.get("/recordings")
def recordings() -> Response:
    """List every recording made (deleted ones too), oldest first (?conference_sid=, ?call_sid=)."""
    network = carrier().network
    with network.cond:
        found = sorted(network.recordings.values(), key=lambda r: r.created)
        views = [recording_view(r) for r in found]
    for name in ("conference_sid", "call_sid"):
        wanted = request.args.get(name)
        if wanted is not None:
            views = [view for view in views if view[name] == wanted]
    return jsonify(views)


@bp.get("/recordings/<sid>")
def recording(sid: str) -> tuple[Response, int] | Response:
    """Return one recording as the stand-in knows it, deleted or not."""
    network = carrier().network
    with network.cond:
        found = network.recordings.get(sid)
        if found is None:
            return _problem(404, f"no recording {sid}")
        return jsonify(recording_view(found))
