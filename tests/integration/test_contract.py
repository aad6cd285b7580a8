"""Contract test: every REST request the gateway sends and every answer the carrier gives, checked
against Twilio's own OpenAPI description of API 2010-04-01 (field names, types, enum values)."""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.fixtures.carrier import (
    AGENTS,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)

# Twilio's OpenAPI description, carried with the tests (MIT, notice in the same folder).
SPEC = Path(__file__).resolve().parents[1] / "data" / "twilio" / "twilio_api_v2010.json"

# Fields the spec types as non-null although its own description says they are null at times.
KNOWN_NULLABLE = {
    # "When a conference is in progress, will be `null`."
    ("api.v2010.account.conference", "reason_conference_ended"),
}

# Twilio's error JSON, which the spec does not describe.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string", "format": "uri"},
        "status": {"type": "integer"},
    },
    "required": ["code", "message", "more_info", "status"],
    "additionalProperties": False,
}

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time-rfc-2822", raises=(TypeError, ValueError))
def _rfc2822(value: object) -> bool:
    return not isinstance(value, str) or parsedate_to_datetime(value) is not None


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    # Twilio's own answers use account-relative URIs ("/2010-04-01/...") where the spec says uri.
    if not isinstance(value, str) or value.startswith("/"):
        return True
    return bool(urlsplit(value).scheme and urlsplit(value).netloc)


@FORMATS.checks("phone-number")
def _phone(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(r"\+\d{6,15}", value) is not None


@cache
def spec() -> dict[str, Any]:
    """Load Twilio's spec; its absence fails the run rather than skipping the check."""
    if not SPEC.is_file():
        pytest.fail(f"Twilio's OpenAPI spec is missing at {SPEC.resolve()}")
    return json.loads(SPEC.read_text(encoding="utf-8"))


def to_json_schema(node: Any, owner: str | None = None) -> Any:
    """Turn an OpenAPI 3.0 schema into JSON Schema: refs inlined, nullable honoured, no extras."""
    if isinstance(node, list):
        return [to_json_schema(item, owner) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return to_json_schema(spec()["components"]["schemas"][name], name)
    skip = {"nullable", "description", "example", "examples", "x-twilio"}
    out = {key: to_json_schema(value, owner) for key, value in node.items() if key not in skip}
    if "properties" in node:
        out["properties"] = {
            name: _nullable(to_json_schema(prop, owner))
            if (owner, name) in KNOWN_NULLABLE
            else to_json_schema(prop, owner)
            for name, prop in node["properties"].items()
        }
        out.setdefault("additionalProperties", False)
    if node.get("nullable"):
        out = _nullable(out)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Let a schema also accept null."""
    schema = dict(schema)
    if "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


@cache
def operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    """Return (path regex, template, path item) for every path in the spec."""
    found = []
    for template, item in spec()["paths"].items():
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        found.append((re.compile(f"^{pattern}$"), template, item))
    return found


def operation(method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """Return the spec's template, operation and path values for a request."""
    for pattern, template, item in operations():
        matched = pattern.match(path)
        if matched and method.lower() in item:
            return template, item[method.lower()], matched.groupdict()
    raise AssertionError(f"{method} {path} is not in Twilio's API")


def coerce(value: str, schema: dict[str, Any]) -> Any:
    """Read a form or query string as the type the schema asks for."""
    kind = schema.get("type")
    if kind == "integer":
        return int(value) if re.fullmatch(r"-?\d+", value) else value
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def typed_fields(pairs: list[list[str]], properties: dict[str, Any]) -> tuple[dict, list[str]]:
    """Group repeated keys and type each value; return the data and any unknown names."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    data: dict[str, Any] = {}
    unknown = []
    for key, values in grouped.items():
        schema = properties.get(key)
        if schema is None:
            unknown.append(key)
            continue
        if schema.get("type") == "array":
            data[key] = [coerce(v, schema.get("items", {})) for v in values]
        else:
            # A scalar sent twice stays a list, which the scalar schema then refuses.
            data[key] = coerce(values[0], schema) if len(values) == 1 else values
    return data, unknown


def problems_of(exchange: dict[str, Any]) -> list[str]:
    """Check one request/answer pair against the spec; return what is wrong."""
    method, path = exchange["method"], exchange["path"]
    if path.rsplit("/", 1)[-1].split(".")[-1] in ("wav", "mp3") or re.search(
        r"/Recordings/RE[0-9a-f]{32}$", path
    ):
        return []  # media downloads are binary, outside the JSON contract
    where = f"{method} {path}"
    template, op, values = operation(method, path)
    problems = []
    parameters = op.get("parameters", [])
    for parameter in parameters:
        if parameter["in"] == "path":
            schema = to_json_schema(parameter["schema"])
            for error in jsonschema.Draft7Validator(schema).iter_errors(values[parameter["name"]]):
                problems.append(f"{where}: path {parameter['name']}: {error.message}")
    query_props = {p["name"]: to_json_schema(p["schema"]) for p in parameters if p["in"] == "query"}
    query, unknown = typed_fields(exchange["query"], query_props)
    problems += [f"{where}: unknown query parameter {name}" for name in unknown]
    for name, value in query.items():
        for error in jsonschema.Draft7Validator(
            query_props[name], format_checker=FORMATS
        ).iter_errors(value):
            problems.append(f"{where}: query {name}: {error.message}")
    body = op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
    if exchange["form"] and body is None:
        problems.append(f"{where}: sends a body the spec does not take")
    if body is not None:
        schema = to_json_schema(body["schema"])
        form, unknown = typed_fields(exchange["form"], schema.get("properties", {}))
        problems += [f"{where}: unknown form parameter {name}" for name in unknown]
        for error in jsonschema.Draft7Validator(schema, format_checker=FORMATS).iter_errors(form):
            problems.append(f"{where}: form: {error.message}")
    status = str(exchange["status"])
    if exchange["status"] >= 400:
        schema = ERROR_SCHEMA
    else:
        response = op["responses"].get(status)
        if response is None:
            return [*problems, f"{where}: status {status} is not one the spec lists"]
        content = response.get("content", {}).get("application/json")
        if content is None:
            if exchange["json"] is not None:
                problems.append(f"{where}: answers JSON where the spec has no body")
            return problems
        schema = to_json_schema(content["schema"])
    if exchange["json"] is None:
        return [*problems, f"{where}: answer is not JSON"]
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    for error in validator.iter_errors(exchange["json"]):
        location = "/".join(str(part) for part in error.absolute_path)
        problems.append(f"{where}: answer {location}: {error.message}")
    return problems


def every_gateway_operation(rig: Rig) -> None:
    """Use every gateway method, plus whole calls whose app uses the gateway, plus errors."""
    gateway = rig.gateway
    rig.call("press:2", "press:2", "press:1")  # queues, agent call, member list and dequeue
    queue = gateway.ensure_queue("labor", 30)
    gateway.fetch_queue(queue)
    gateway.queue_members(queue)
    call = gateway.create_call(
        AGENTS["traffic"],
        f"{rig.app_url}/agent?area=labor&queue={queue}",
        status_callback=f"{rig.app_url}/agent-status",
        machine_detection="Enable",
        fallback_url=f"{rig.app_url}/voice/fallback",
    )
    gateway.fetch_call(call.sid)
    rig.finish(call.sid)
    waiting = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=waiting), what="a waiting caller")
    # A long pause (a few real seconds at the rig's time scale): the call must still be live
    # for the redirect that follows, however busy the machine.
    gateway.update_call(waiting, twiml="<Response><Pause length='600'/></Response>")
    gateway.update_call(waiting, url=f"{rig.app_url}/after-consult")
    rig.finish(waiting)
    other = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=other), what="a waiting caller")
    gateway.update_call(other, status="completed")
    rig.finish(other)
    first = gateway.add_participant(
        "room-contract", "+8613700000001", label="agent", end_conference_on_exit=True,
        status_callback=f"{rig.app_url}/agent-status", wait_url=f"{rig.app_url}/hold",
    )  # fmt: skip
    gateway.add_participant("room-contract", "+8613700000002")
    room = rig.wait_until(lambda: gateway.find_conference("room-contract"), what="the room")
    rig.wait_until(lambda: len(gateway.list_participants(room)) == 2, what="two participants")
    gateway.update_participant(room, first.call_sid, muted=True, hold=False)
    gateway.update_participant(room, first.call_sid, end_conference_on_exit=True)
    participants = gateway.list_participants(room)
    gateway.remove_participant(room, participants[-1].call_sid)
    gateway.end_conference(room)
    rig.finish(first.call_sid)
    rig.hub.settings.voice_url = rig.app_url + "/voicemail"
    rig.call(voicemail="speech")
    (done,) = rig.seen.at("/voicemail-done")
    gateway.fetch_recording_wav(done["RecordingUrl"])
    gateway.delete_recording(done["RecordingSid"])
    gateway.send_sms("+8613912345678", "Your callback is booked for tomorrow morning.")
    for failing in (
        lambda: gateway.fetch_call("CA" + "0" * 32),
        lambda: gateway.dequeue(queue, "CA" + "0" * 32, f"{rig.app_url}/voice"),
        lambda: gateway.update_call(done["CallSid"], url=f"{rig.app_url}/voice"),
    ):
        with pytest.raises(Exception, match="status 40"):
            failing()


def test_every_request_and_answer_follows_twilios_spec(rig: Rig) -> None:
    every_gateway_operation(rig)
    exchanges = list(rig.hub.network.exchanges)

    problems = [problem for exchange in exchanges for problem in problems_of(exchange)]
    assert problems == []
    used = {(e["method"], operation(e["method"], e["path"])[0]) for e in exchanges
            if e["path"].endswith(".json")}  # fmt: skip
    account = "/2010-04-01/Accounts/{AccountSid}"
    expected = {
        ("POST", f"{account}/Calls.json"),
        ("GET", f"{account}/Calls/{{Sid}}.json"),
        ("POST", f"{account}/Calls/{{Sid}}.json"),
        ("GET", f"{account}/Queues.json"),
        ("POST", f"{account}/Queues.json"),
        ("GET", f"{account}/Queues/{{Sid}}.json"),
        ("POST", f"{account}/Queues/{{Sid}}.json"),
        ("GET", f"{account}/Queues/{{QueueSid}}/Members.json"),
        ("POST", f"{account}/Queues/{{QueueSid}}/Members/{{CallSid}}.json"),
        ("GET", f"{account}/Conferences.json"),
        ("POST", f"{account}/Conferences/{{Sid}}.json"),
        ("GET", f"{account}/Conferences/{{ConferenceSid}}/Participants.json"),
        ("POST", f"{account}/Conferences/{{ConferenceSid}}/Participants.json"),
        ("POST", f"{account}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}.json"),
        ("DELETE", f"{account}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}.json"),
        ("DELETE", f"{account}/Recordings/{{Sid}}.json"),
        ("POST", f"{account}/Messages.json"),
    }
    assert expected <= used


def test_the_checker_catches_wrong_fields_types_and_enums() -> None:
    base = "/2010-04-01/Accounts/AC" + "5" * 32
    good_call = {
        "method": "POST",
        "path": f"{base}/Calls.json",
        "query": [],
        "form": [["To", "+8613900000001"], ["From", "+861012348000"], ["Url", "http://a/b"],
                 ["StatusCallbackEvent", "initiated"], ["StatusCallbackEvent", "answered"]],
        "status": 201,
        "json": None,
    }  # fmt: skip
    bad_form = dict(good_call, form=[*good_call["form"], ["Timeout", "soon"], ["Colour", "red"]])
    problems = problems_of(dict(bad_form, status=400, json=None))
    assert any("unknown form parameter Colour" in p for p in problems)
    assert any("'soon' is not of type 'integer'" in p for p in problems)

    queue = {
        "sid": "QU" + "1" * 32,
        "friendly_name": "labor",
        "current_size": 0,
        "max_size": 10,
        "average_wait_time": 0,
        "account_sid": "AC" + "5" * 32,
        "uri": "/x",
        "date_created": "Wed, 02 Dec 2026 02:00:00 +0000",
        "date_updated": "Wed, 02 Dec 2026 02:00:00 +0000",
    }
    fetch = {"method": "GET", "path": f"{base}/Queues/{queue['sid']}.json", "query": [],
             "form": [], "status": 200}  # fmt: skip
    assert problems_of(dict(fetch, json=queue)) == []
    assert problems_of(dict(fetch, json=dict(queue, current_size="0")))
    assert problems_of(dict(fetch, json=dict(queue, colour="red")))
    call_json = {"status": "on-hold"}
    assert any("'on-hold' is not one of" in p for p in problems_of(
        {"method": "GET", "path": f"{base}/Calls/CA{'1' * 32}.json", "query": [], "form": [],
         "status": 200, "json": call_json}))  # fmt: skip
