"""POST /api/v1/calls/<call_sid>/escalate: an agent on a connected call brings in help.

The agent's console (or any client) sends `{"target": "supervisor" | "crisis_line"}` with the
agent's API bearer token. An agent without a token (a phone-only consultant's tool) may send
`agent_id` and their roster `pin` in the body instead; it is checked against the PIN's salted
hash, and wrong PINs are counted and locked out like console logins: each try is counted before
its PIN is checked, per agent id and per address, so a burst of guesses gets no more checks than
the limit. A locked-out agent is told to call the supervisor or the crisis line directly, and
supervisors see the lockout in their alert feed.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from redis import RedisError

from hotline.edge import BadJSON
from ivr.state import current_runtime, get_redis
from ops.openapi import body_schema
from ops.schema import Problem, problems
from queues import keys
from queues.agents import check_pin
from queues.alerts import TARGETS, EscalationError, escalate
from queues.ratelimit import FailureLimit
from queues.users import UserStore

log = logging.getLogger(__name__)

bp = Blueprint("escalation", __name__, url_prefix="/api/v1")

# Wrong PINs allowed per agent id, and per address, within the window.
PINS_PER_AGENT = 5
PINS_PER_ADDRESS = 20
PIN_WINDOW_S = 15 * 60


@bp.post("/calls/<call_sid>/escalate")
def escalate_call(call_sid: str) -> tuple[Response, int]:
    """Add the on-call supervisor or the crisis line to the call; the caller stays on."""
    try:
        body = request.get_json(silent=True)
    except BadJSON as error:
        return _error(error.description, 400)
    if not isinstance(body, dict):
        return _error("expected a JSON object", 400)
    # The body's schema is the one the OpenAPI document shows: unknown fields are refused.
    found = problems(body_schema(request.url_rule.rule, request.method) or {}, body)
    if found:
        return _invalid(found)
    target = body.get("target", "supervisor")
    if target not in TARGETS:
        return _error(f"target must be one of {', '.join(TARGETS)}", 400)
    try:
        agent_id = _agent(body)
        if agent_id is None:
            return _error("send the agent's bearer token, or agent_id and pin", 401)
        now = current_app.config["CLOCK"]().timestamp()
        done = escalate(
            call_sid[:64], by_agent=agent_id, target=target, now=now, current=current_runtime()
        )
    except EscalationError as error:
        return _error(str(error), error.status)
    except RedisError as error:
        log.error("escalation of %s failed, Redis unreachable: %s", call_sid, error)
        return _error("the hotline's state cannot be reached; call the supervisor directly", 503)
    log.warning("call %s escalated by agent %s to %s", call_sid, agent_id, done.added)
    return jsonify(
        call=done.call_sid,
        target=done.target,
        added=done.added,
        number=done.number,
        new=done.changed,
        reason=done.reason or None,
    ), 200


def _agent(body: dict[str, Any]) -> str | None:
    """The agent asking: from a bearer token, or from an agent id and roster PIN."""
    header = request.headers.get("Authorization", "")
    redis = get_redis()
    now = current_app.config["CLOCK"]().timestamp()
    address = request.remote_addr or "-"
    if header.lower().startswith("bearer "):
        found = UserStore(redis).check_token(header[7:].strip(), now, source=address)
        if found.problem == "held":
            raise EscalationError(_HELD, 429)
        if found.user is None:
            raise EscalationError(f"{found.problem or 'unknown'} or revoked token", 401)
        if found.user.role != "agent" or not found.user.agent_id:
            raise EscalationError("only the agent on the call can escalate it", 403)
        return found.user.agent_id
    agent_id, pin = body.get("agent_id"), body.get("pin")
    if not isinstance(agent_id, str) or not isinstance(pin, str) or not agent_id or not pin:
        return None
    agent_id = agent_id[:64]
    limit = FailureLimit(
        redis,
        "escalation-pin",
        keys.pin_failures,
        {"agent": PINS_PER_AGENT, "ip": PINS_PER_ADDRESS},
        window_s=PIN_WINDOW_S,
    )
    attempt = limit.take({"agent": agent_id, "ip": address})
    if not attempt.allowed:
        raise EscalationError(_HELD, 429)
    if not check_pin(redis, agent_id, pin):
        limit.failed(attempt, now)
        raise EscalationError("wrong agent id or PIN", 401)
    limit.succeeded(attempt, clear=("agent",))
    return agent_id


# Said to an agent who may have a caller in danger on the line: where help is without the API.
_HELD = "too many wrong PINs or tokens; call the supervisor or the crisis line directly"


def _error(message: str, status: int) -> tuple[Response, int]:
    """A JSON error answer."""
    return jsonify(error=message), status


def _invalid(found: list[Problem]) -> tuple[Response, int]:
    """A 422 naming the fields the body's schema does not allow."""
    first = found[0]
    problems_found = [problem.public() for problem in found]
    return jsonify(
        error=f"{first.field}: {first.message}", field=first.field, problems=problems_found
    ), 422
