"""The OpenAPI 3.1 document of the ops API, kept beside the views it describes.

Its request-body schemas are also what the API checks every body against (`body_schema`), so
the document and the validation cannot drift apart.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from queues.alerts import TARGETS

OPS = "ops or supervisor"
SUP = "supervisor"


def _op(
    summary: str,
    who: str,
    *,
    body: dict[str, Any] | None = None,
    ok: int = 200,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
    optional_body: bool = False,
) -> dict[str, Any]:
    """One operation: who may call it, its body and answers."""
    responses: dict[str, Any] = {str(ok): {"description": "done"}}
    for status in (401, 403, *errors, 503):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    operation: dict[str, Any] = {
        "summary": summary,
        "description": f"Allowed: {who}.",
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {"required": not optional_body, "content": body}
    if params:
        operation["parameters"] = params
    return operation


def _json(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A JSON request body schema; a field it does not list is refused."""
    return {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        }
    }


def _path(name: str) -> dict[str, Any]:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, kind: str = "string") -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}}


STR = {"type": "string"}
AGENT = [_path("agent_id")]
PRESENCE = {"type": "string", "enum": ["available", "on_break", "offline"]}
AGENT_FIELDS = {
    "id": STR,
    "name": STR,
    "phone": {"type": "string", "description": "E.164"},
    "languages": {"type": "array", "items": STR},
    "skills": {"type": "object", "additionalProperties": {"type": "integer", "enum": [1, 2, 3]}},
    "crisis_trained": {"type": "boolean"},
    "pin": {"type": ["string", "null"], "description": "4 to 8 digits; null clears it"},
}

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_RANGES = {
    "type": "array",
    "items": {
        "type": "string",
        "pattern": "^\\d{1,2}:\\d{2}-\\d{1,2}:\\d{2}$",
        "x-message": "expected HH:MM-HH:MM, such as 09:00-12:00",
    },
    "x-message": "expected a list of HH:MM-HH:MM ranges",
    "description": 'same-day ranges such as "09:00-12:00"; 24:00 may end one; [] is closed',
}
HOURS_FIELDS = {
    "weekly": {
        "type": "object",
        "properties": {
            day: DAY_RANGES for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
        "additionalProperties": False,
        "x-unknown": f"unknown day; use {', '.join(DAYS)}",
        "description": "a day left out is closed",
    },
    "holidays": {
        "type": ["object", "null"],
        "description": "null: holidays change nothing",
        "properties": {
            "public": {
                "oneOf": [{"type": "string", "enum": ["closed", "weekly"]}, DAY_RANGES],
                "x-message": "expected closed, weekly or a list of HH:MM-HH:MM ranges",
                "description": "on China's public holidays: closed, the weekly hours, or ranges",
            },
            "makeup": {
                "type": "string",
                "enum": ["weekly", *DAYS],
                "x-message": f"expected weekly or a day: {', '.join(DAYS)}",
                "description": "on make-up working days: their own weekday's hours, or a day's",
            },
        },
        "additionalProperties": False,
    },
}


def paths() -> dict[str, dict[str, Any]]:
    """Every path of the API with its operations."""
    return {
        "/api/v1/openapi.json": {"get": _op("This document", "anyone")},
        "/api/v1/me": {"get": _op("The user behind the request", "any signed-in user")},
        "/api/v1/agents": {
            "get": _op("Every agent with skills, shifts and live status", OPS),
            "post": _op(
                "Add an agent",
                OPS,
                body=_json(AGENT_FIELDS, ["id", "name", "phone", "languages", "skills"]),
                ok=201,
                errors=(409, 422),
            ),
        },
        "/api/v1/agents/{agent_id}": {
            "get": _op("One agent", f"{OPS}, or the agent", params=AGENT, errors=(404,)),
            "patch": _op(
                "Change an agent's fields",
                OPS,
                params=AGENT,
                body=_json(AGENT_FIELDS, []),
                errors=(404, 409, 422),
            ),
            "delete": _op(
                "Take an agent off the roster", OPS, params=AGENT, ok=204, errors=(404, 409)
            ),
        },
        "/api/v1/agents/{agent_id}/presence": {
            "post": _op(
                "Set presence",
                f"{OPS}, or the agent",
                params=AGENT,
                body=_json({"presence": PRESENCE}, ["presence"]),
                errors=(404, 422),
            ),
        },
        "/api/v1/agents/{agent_id}/shifts": {
            "get": _op("Weekly shifts", f"{OPS}, or the agent", params=AGENT, errors=(404,)),
            "post": _op(
                "Add a weekly shift (an end before the start runs overnight)",
                OPS,
                params=AGENT,
                ok=201,
                errors=(404, 409, 422),
                body=_json(
                    {
                        "day": {
                            "type": "string",
                            "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        },
                        "start": STR,
                        "end": STR,
                    },
                    ["day", "start", "end"],
                ),
            ),
        },
        "/api/v1/agents/{agent_id}/shifts/{shift_id}": {
            "delete": _op(
                "Remove a weekly shift (id such as sun-2200-0600)",
                OPS,
                ok=204,
                params=[*AGENT, _path("shift_id")],
                errors=(404,),
            ),
        },
        "/api/v1/agents/{agent_id}/call": {
            "get": _op(
                "The call ringing or taken: area, language, wait, intake summary, note, "
                "outcome, and the caller's earlier calls within retention (history: date, area, "
                "who took it, outcome, summary; another agent's note and ratings for "
                "supervisors only, each such showing audited)",
                f"{SUP}, or the agent",
                params=AGENT,
                errors=(404,),
            ),
        },
        "/api/v1/agents/{agent_id}/call/note": {
            "post": _op(
                "Wrap-up note on a call the agent took, with its outcome code if given (one of "
                "the config's outcomes; an unknown code is refused with 400 and nothing saved)",
                "the agent",
                params=AGENT,
                body=_json(
                    {"reservation": STR, "note": STR, "outcome": STR}, ["reservation", "note"]
                ),
                errors=(400, 404, 422),
            ),
        },
        "/api/v1/agents/{agent_id}/call/outcome": {
            "post": _op(
                "Outcome code of a call the agent took (config outcomes: answered, lawyer, "
                "legal_aid, follow_up, crisis...); an unknown code is refused with 400. A change "
                "appends an `outcome` event (call, agent, outcome, follow_up=1 for follow-ups)",
                "the agent",
                params=AGENT,
                body=_json({"reservation": STR, "outcome": STR}, ["reservation", "outcome"]),
                errors=(400, 404, 422),
            ),
        },
        "/api/v1/agents/{agent_id}/call/transfer": {
            "post": _op(
                "Transfer the agent's call to an area (the caller keeps their original arrival) "
                "or to a named agent, warm (the agent stays on until the next accepts; the "
                "caller is on hold with words and music) or cold (the agent leaves now); the "
                "note, if given, is kept first and read to the next agent. Audited. 409 with "
                "the reason when it cannot be made (the carrier refused, the agent is busy, a "
                "transfer is already open): the caller stays with the agent",
                "the agent",
                params=AGENT,
                body=_json(
                    {
                        "reservation": STR,
                        "mode": {"type": "string", "enum": ["warm", "cold"]},
                        "area": STR,
                        "agent": STR,
                        "note": STR,
                    },
                    ["reservation", "mode"],
                ),
                errors=(404, 409, 422),
            ),
        },
        "/api/v1/agents/{agent_id}/call/flag": {
            "post": _op(
                "Flag a call heavy or crisis",
                f"{SUP}, or the agent",
                params=AGENT,
                body=_json(
                    {"reservation": STR, "flag": {"type": "string", "enum": ["heavy", "crisis"]}},
                    ["reservation", "flag"],
                ),
                errors=(404, 422),
            ),
        },
        "/api/v1/agents/{agent_id}/call/live": {"get": _live_feed()},
        "/api/v1/agents/{agent_id}/call/facts": {
            "get": _op(
                "The key facts said on the agent's current or last call, read from its live "
                "transcript (facts: kind date|amount|party|employer, text, in the order said) and "
                "block: a short text of them in the viewer's language for the wrap-up note. "
                "Nothing is stored: the desk offers the block in an empty note",
                f"{SUP}, or the agent",
                params=AGENT,
                errors=(404,),
            ),
        },
        "/api/v1/roster": {
            "get": _op(
                "Export the roster as YAML or CSV", OPS, params=[_query("format")], errors=(422,)
            ),
            "put": _op(
                "Import a whole roster (YAML or CSV); every problem with its line (422), or "
                "every stretch of the next 14 days with no supervisor on call or an open area "
                "without a crisis-trained agent on shift (409, problems: kind, area, start, end, "
                "message); nothing applied on either. force=true applies a roster with such "
                "gaps, audited as forced; the answer lists the gaps it was forced past",
                OPS,
                errors=(409, 422),
                params=[_query("format"), _query("force", "boolean")],
                body={"application/yaml": {"schema": STR}, "text/csv": {"schema": STR}},
            ),
        },
        "/api/v1/statutes": {
            "get": _op(
                "Statutes (law, article, plain line in zh and en, keywords, intake tags, the "
                "national law database address): an area's (?area=), or found by the caller's "
                "words (?q=, best first), or all; with the document's source (shipped or "
                "edited) and version. ?format=yaml gives the whole document",
                "any signed-in user",
                params=[_query("area"), _query("q"), _query("format")],
                errors=(422,),
            ),
            "put": _op(
                "Replace the statutes document (YAML), checked whole: every problem with its "
                "line (422), nothing saved; a save over a version other than ?base= or "
                "If-Match is refused (409). Audited with the entries added, removed, changed",
                SUP,
                params=[_query("base")],
                errors=(409, 422),
                body={"application/yaml": {"schema": STR}},
            ),
            "delete": _op(
                "Bring the shipped statutes file back in force; audited",
                SUP,
                params=[_query("base")],
                errors=(409,),
            ),
        },
        "/api/v1/agents/{agent_id}/call/statutes": {
            "get": _op(
                "The statutes for the agent's current call: its area's, those its intake "
                "answers fit (`matched`) and the caller's words name first",
                f"{SUP}, or the agent",
                params=AGENT,
                errors=(404,),
            ),
        },
        "/api/v1/staffing/plan": {"get": _staffing_plan()},
        "/api/v1/coverage": {
            "get": _op(
                "Coverage per hour, area and language, with gaps",
                OPS,
                params=[_query("days", "integer")],
                errors=(422,),
            ),
        },
        "/api/v1/reports": {
            "get": _op(
                "A period's figures from the durable call records (docs/reports.md defines "
                "each): offered, answered, service level, abandons, waits, talk and wrap-up, "
                "callbacks, voicemail, satisfaction, crisis, per bucket (by) and per agent; "
                "from and to are local dates, both included (default: the last 7 days); "
                "format=csv gives UTF-8 CSV with a BOM",
                OPS,
                params=[
                    _query("from"),
                    _query("to"),
                    _query("area"),
                    _query("by"),
                    _query("format"),
                ],
                errors=(422,),
            ),
        },
        "/api/v1/hours": {
            "get": _op(
                "Each area's effective hours and holiday rule (ops' edit or the config's), and "
                "China's public holidays and make-up working days of the next 90 days",
                OPS,
            )
        },
        "/api/v1/hours/{area}": {
            "put": _op(
                "Set an area's weekly hours and/or holiday rule, over the config's (audited); "
                "a field left out keeps its value",
                OPS,
                params=[_path("area")],
                errors=(404, 422),
                body=_json(HOURS_FIELDS, []),
            ),
            "delete": _op(
                "Reset an area to the config's hours (audited when it had an edit)",
                OPS,
                params=[_path("area")],
                errors=(404,),
            ),
        },
        "/api/v1/wallboard": {
            "get": _op(
                "Live queue and agent figures, `conditions`: the promises the hotline cannot "
                "keep right now (name, label in zh and en, detail, since), and `notices`: quiet "
                "notices about live calls (call_sid, kind, label, agent, area, since)",
                SUP,
            )
        },
        "/api/v1/alerts": {
            "get": _op(
                "Supervisor alerts after an event id", SUP, params=[_query("after")], errors=(422,)
            ),
        },
        "/api/v1/incidents": {
            "get": _op(
                "Crisis incidents of the last days",
                SUP,
                params=[_query("days", "integer")],
                errors=(422,),
            ),
        },
        "/api/v1/audit": {
            "get": _op(
                "The audit log, newest first",
                OPS,
                params=[_query("limit", "integer"), _query("before")],
                errors=(422,),
            ),
        },
        "/api/v1/blocklist": {
            "get": _op("Blocked caller numbers (masked), newest first", SUP),
            "post": _op(
                "Block a caller's number (national numbers read in the region, CN by default)",
                SUP,
                ok=201,
                errors=(409, 422),
                body=_json(
                    {"number": STR, "reason": STR, "region": {"type": ["string", "null"]}},
                    ["number", "reason"],
                ),
            ),
        },
        "/api/v1/blocklist/{digest}": {
            "delete": _op(
                "Unblock a number by its digest",
                SUP,
                ok=204,
                params=[_path("digest")],
                errors=(404,),
            ),
        },
        "/api/v1/closure": {
            "get": _op("The emergency closure, or null", SUP),
            "put": _op(
                "Close the hotline with a message per language and an optional end",
                SUP,
                errors=(422,),
                body=_json(
                    {
                        "message": {"type": ["object", "null"], "additionalProperties": STR},
                        "until": {"type": ["string", "null"], "format": "date-time"},
                    },
                    [],
                ),
            ),
            "delete": _op("Reopen the hotline", SUP, ok=204, errors=(404,)),
        },
        "/api/v1/users": {
            "get": _op("Every console user", SUP),
            "post": _op(
                "Create a user",
                SUP,
                ok=201,
                errors=(409, 422),
                body=_json(
                    {
                        "name": STR,
                        "role": {"type": "string", "enum": ["ops", "supervisor", "agent"]},
                        "password": STR,
                        "agent_id": {"type": ["string", "null"], "description": "agents only"},
                    },
                    ["name", "role", "password"],
                ),
            ),
        },
        "/api/v1/users/{name}": {
            "delete": _op(
                "Delete a user and their tokens",
                SUP,
                ok=204,
                params=[_path("name")],
                errors=(404, 409),
            ),
        },
        "/api/v1/voicemail": {
            "get": _op(
                "Voicemail messages, newest first (caller numbers masked)",
                SUP,
                params=[_query("limit", "integer"), _query("closed", "boolean")],
                errors=(422,),
            ),
        },
        "/api/v1/voicemail/{recording_sid}/audio": {
            "get": _op(
                "A message's decrypted audio (audio/mpeg); every fetch is audited",
                SUP,
                params=[_path("recording_sid")],
                errors=(404,),
            ),
        },
        "/api/v1/voicemail/{recording_sid}/close": {
            "post": _op(
                "Close a message and withdraw its waiting callback",
                SUP,
                params=[_path("recording_sid")],
                errors=(404, 422),
                body=_json({"reason": STR}, []),
                optional_body=True,
            ),
        },
        "/api/v1/recordings": {
            "get": _op(
                "Recorded consultations, newest first, each stored one with a signed link to its "
                "audio for the supervisor asking (caller numbers masked)",
                SUP,
                params=[_query("limit", "integer"), _query("call", "string")],
                errors=(422,),
            ),
        },
        "/api/v1/recordings/{recording_sid}/audio": {
            "get": _op(
                "A recording's decrypted audio (audio/wav) through the signed link the list "
                "gave this supervisor (who, exp, sig); every fetch is audited",
                SUP,
                params=[
                    _path("recording_sid"),
                    _query("who", "string"),
                    _query("exp", "string"),
                    _query("sig", "string"),
                ],
                errors=(403, 404),
            ),
        },
        "/api/v1/followups": {
            "get": _op(
                "Callers owed another call (an unsatisfied rating, or an outcome code such as "
                "需回访), newest first, each with its callback task's state (waiting, ringing, "
                "done, unreached, withdrawn, no-number); numbers masked; ?closed=1 lists closed "
                "ones too",
                SUP,
                params=[_query("limit", "integer"), _query("closed", "boolean")],
                errors=(422,),
            ),
        },
        "/api/v1/followups/{call}/number": {
            "get": _op(
                "One follow-up with the caller's number to call back; every showing is audited",
                SUP,
                params=[_path("call")],
                errors=(404,),
            ),
        },
        "/api/v1/followups/{call}/close": {
            "post": _op(
                "Close a follow-up with a note of what was done (audited; the number is "
                "dropped, and a callback task not yet dialled is withdrawn)",
                SUP,
                params=[_path("call")],
                body=_json({"note": STR}, ["note"]),
                errors=(404, 422),
            ),
        },
        "/api/v1/person/export": {
            "post": _op(
                "Everything kept about one number (calls, records, notes, follow-ups, incidents, "
                "voicemail with its audio...): a zip of manifest.json and the audio, or with "
                '"format": "json" the manifest alone. The number travels in the body only; '
                "every export is audited with its reason and the masked number",
                SUP,
                body=_json(
                    {
                        "number": STR,
                        "reason": STR,
                        "format": {"type": "string", "enum": ["zip", "json"]},
                    },
                    ["number", "reason"],
                ),
                errors=(422,),
            ),
        },
        "/api/v1/person/erase": {
            "post": _op(
                "Erase one number everywhere (confirm: its last four digits); answers what was "
                "erased per place and what was kept (incidents under legal hold). Audited; "
                "erasing twice is harmless; 503 says what was done when a store went away",
                SUP,
                body=_json(
                    {"number": STR, "reason": STR, "confirm": STR}, ["number", "reason", "confirm"]
                ),
                errors=(422,),
            ),
        },
        "/api/v1/incidents/{call}/hold": {
            "post": _op(
                "Put a crisis incident under legal hold (kept past retention and through "
                "erasures) with a reason; audited",
                SUP,
                params=[_path("call")],
                body=_json({"reason": STR}, ["reason"]),
                errors=(404, 422),
            ),
            "delete": _op(
                "Lift an incident's legal hold (its year from opening applies again); audited",
                SUP,
                params=[_path("call")],
            ),
        },
        "/api/v1/users/{name}/sessions": {
            "delete": _op(
                "Sign a user out of every console session (API tokens stay)",
                f"the user, or {OPS}",
                ok=204,
                params=[_path("name")],
                errors=(404,),
            ),
        },
        "/api/v1/users/{name}/tokens": {
            "get": _op(
                "A user's API tokens: id, name, created, expires, expired, last use (time and "
                "address, written at most once a minute); never the tokens themselves",
                f"the user, or {OPS}",
                params=[_path("name")],
                errors=(404,),
            ),
            "post": _op(
                "Make a named API token, shown once in `token`; it expires after `days` (90 "
                "unless set, at most 366); no body makes an unnamed 90-day token",
                f"the user, or {SUP}; from a console session only (a token cannot make tokens)",
                ok=201,
                params=[_path("name")],
                body=_json(
                    {
                        "name": {"type": "string", "maxLength": 80},
                        "days": {"type": "integer", "minimum": 1, "maximum": 366},
                    },
                    [],
                ),
                optional_body=True,
                errors=(404, 422),
            ),
        },
        "/api/v1/users/{name}/tokens/{token_id}": {
            "delete": _op(
                "Revoke one API token by its id",
                f"the user, or {OPS}",
                ok=204,
                params=[_path("name"), _path("token_id")],
                errors=(404,),
            ),
        },
        "/api/v1/calls/{call_sid}/escalate": {"post": _escalation()},
        "/api/v1/live-calls": {
            "get": _op(
                "Calls agents are on now (agent, area, language, since) with the supervisor "
                "on each (`listen_in`: who, mode, state, reason), and a `signature` that changes "
                "whenever the list would look different",
                SUP,
            ),
        },
        "/api/v1/calls/{call_sid}/listen-in": {
            "get": _op(
                "The latest supervisor session on a call: mode (listen, coach, barge), state "
                "(ringing, on, ended, failed) and why it failed",
                SUP,
                params=[_path("call_sid")],
                errors=(404,),
            ),
            "post": _op(
                "Ring the signed-in supervisor's roster phone into a connected call: listen "
                "(muted), coach (heard by the agent only) or barge (heard by both); audited",
                SUP,
                ok=202,
                params=[_path("call_sid")],
                body=_json({"mode": {"type": "string", "enum": ["listen", "coach", "barge"]}}, []),
                optional_body=True,
                errors=(409, 422),
            ),
            "patch": _op(
                "Switch the supervisor's mode on a call they are on (answered); audited",
                SUP,
                params=[_path("call_sid")],
                body=_json(
                    {"mode": {"type": "string", "enum": ["listen", "coach", "barge"]}}, ["mode"]
                ),
                errors=(409, 422),
            ),
            "delete": _op(
                "Take the supervisor off a call (their leg is hung up); audited",
                SUP,
                params=[_path("call_sid")],
                errors=(409,),
            ),
        },
    }


PLAN_HALF_HOUR = {
    "type": "object",
    "properties": {
        "start": {"type": "string", "description": "local start, ISO 8601 with offset"},
        "pattern": {"type": "string", "description": "the day it follows: Mon..Sun or holiday"},
        "calls": {"type": "number", "description": "calls expected"},
        "aht_s": {"type": "number", "description": "expected handling time: talk and wrap-up"},
        "answering": {"type": "integer", "description": "agents answering (Erlang C)"},
        "required": {"type": "integer", "description": "agents to roster, shrinkage included"},
        "rostered": {"type": "integer", "description": "agents on shift for all of it"},
        "gap": {"type": "integer", "description": "agents missing; 0 when enough"},
    },
    "required": ["start", "pattern", "calls", "aht_s", "answering", "required", "rostered", "gap"],
}
STAFFING_PLAN = {
    "type": "object",
    "properties": {
        "area": STR,
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "timezone": STR,
        "history": {
            "type": "object",
            "description": "the past calls the forecast learned from (whole local days)",
            "properties": {
                "source": {"type": "string", "enum": ["records", "redis"]},
                "description": STR,
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "days": {"type": "integer"},
                "calls": {"type": "integer"},
            },
            "required": ["source", "description", "from", "to", "days", "calls"],
        },
        "targets": {"type": "object", "description": "the config's staffing section"},
        "half_hours": {"type": "array", "items": PLAN_HALF_HOUR},
        "short": {"type": "integer", "description": "half-hours with a gap"},
        "agent_hours_missing": {"type": "number"},
        "calendar_warning": {"type": ["string", "null"]},
    },
    "required": ["area", "from", "to", "timezone", "history", "targets", "half_hours", "short"],
}


def _staffing_plan() -> dict[str, Any]:
    """An area's staffing plan: the same figures as `hotline staffing plan`."""
    operation = _op(
        "An area's agents required per half-hour (forecast from past calls, Erlang C with the "
        "config's staffing targets) against those rostered, gaps marked; the same figures as "
        "hotline staffing plan. from: first local date (today); days: 1 to 62 (14). 409 when "
        "the call history holds no whole day to learn from",
        OPS,
        params=[_query("area"), _query("from"), _query("days", "integer")],
        errors=(409, 422),
    )
    operation["parameters"][0]["required"] = True
    operation["responses"]["200"] = {
        "description": "the plan, every half-hour of every day",
        "content": {"application/json": {"schema": STAFFING_PLAN}},
    }
    return operation


ESCALATED = {
    "type": "object",
    "properties": {
        "call": {"type": "string", "description": "the call's sid"},
        "target": {"type": "string", "enum": list(TARGETS)},
        "added": {
            "type": "string",
            "description": "the supervisor's roster id, or the crisis line's number",
        },
        "number": {"type": "string", "description": "the number rung, masked"},
        "new": {"type": "boolean", "description": "false when the target was already on"},
        "reason": {
            "type": ["string", "null"],
            "description": "why the crisis line came instead of a supervisor, or already added",
        },
    },
    "required": ["call", "target", "added", "number", "new", "reason"],
    "additionalProperties": False,
}


def _escalation() -> dict[str, Any]:
    """The agent's escalation: the only operation an anonymous request may make with a PIN."""
    operation = _op(
        "Bring the on-call supervisor (the crisis line when nobody is on call) or the crisis "
        "line into a connected call; the caller stays on. Marks the call heavy and opens an "
        "incident",
        "the agent on the call, by bearer token or console session, or with neither by "
        "agent_id and roster pin (wrong PINs locked out per agent and address)",
        params=[_path("call_sid")],
        body=_json(
            {
                "target": {"type": "string", "enum": list(TARGETS)},
                "agent_id": {"type": "string", "description": "with pin, when no token is sent"},
                "pin": {"type": "string", "description": "the agent's roster PIN"},
            },
            [],
        ),
        errors=(409, 422, 429, 502),
    )
    operation["security"] = [{"bearer": []}, {"session": []}, {}]
    operation["responses"]["200"] = {
        "description": "the target was added (or already was: new is false)",
        "content": {"application/json": {"schema": ESCALATED}},
    }
    return operation


def _live_feed() -> dict[str, Any]:
    """The agent's live call as server-sent events; 204 when there is no live call to follow."""
    operation = _op(
        "The agent's live call as server-sent events (text/event-stream): the call's assist "
        "feed from the start, or after Last-Event-ID, then as it comes: level (t, level 1-5, "
        "loudness_db, rate, pitch_hz, pitch_var, pauses, and suggestion: the config's line for "
        "the level in the viewer's language), line (track caller|agent, text, at, seq), crisis "
        "(text, at), notice (kind, since) and ended (at); each event's id is its feed id. A "
        "comment is sent when nothing came for OPS_LIVE_BLOCK_MS; a `close` event ends the "
        "stream when the call is over, and a connection lives at most OPS_LIVE_MAX_S (the "
        "browser reconnects with Last-Event-ID)",
        f"{SUP}, or the agent",
        params=[
            *AGENT,
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^(0|[0-9]{1,20}-[0-9]{1,20})$"},
            },
        ],
        errors=(404, 422),
    )
    operation["responses"]["200"] = {
        "description": "the feed as server-sent events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    operation["responses"]["204"] = {"description": "the agent has no live call to follow"}
    return operation


@functools.cache
def _body_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Each operation's JSON body schema by Flask rule and method, read from the document."""
    found = {}
    for path, operations in paths().items():
        rule = re.sub(r"\{(\w+)\}", r"<\1>", path)
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found[(rule, method.upper())] = content["application/json"]["schema"]
    return found


def body_schema(rule: str, method: str) -> dict[str, Any] | None:
    """The JSON body schema of the operation a Flask URL rule and method serve, if it has one."""
    bare = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule)
    return _body_schemas().get((bare, method.upper()))


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    error = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "message": STR,
                    "field": STR,
                    "problems": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["status", "message"],
            }
        },
    }
    meanings = {
        400: "a value the hotline's config does not list (an unknown outcome code); `field` "
        "names it and the message lists the codes it does; nothing is saved",
        401: "no valid token or session (or the session expired)",
        403: "this role or user may not do this, or the CSRF token is missing",
        404: "no such agent, shift, user, area or call",
        409: "clashes with what exists: a duplicate id, an overlapping shift, a roster that "
        "leaves hours uncovered",
        422: "a field is missing, unknown or malformed; `field` names it, `problems` lists all",
        429: "too many failed attempts (unknown tokens from the address, or wrong PINs); "
        "Retry-After says when to try again",
        502: "Twilio refused or failed to add the supervisor or crisis line",
        503: "temporarily unavailable: the hotline's state cannot be reached; retry later",
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Legal hotline ops API", "version": "1"},
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `hotline user token add NAME` or the console's "
                    "API tokens page; it expires (90 days unless set)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "a console session; writes need X-CSRF-Token",
                },
            },
            "schemas": {"Error": error},
            "responses": {
                f"E{status}": {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, text in meanings.items()
            },
        },
    }
