"""POST /api/v1/calls/<call_sid>/escalate: an agent on a connected call brings in help.

The agent's console (or any client) sends `{"target": "supervisor" | "crisis_line"}` with the
agent's API bearer token. An agent without a token (a phone-only consultant's tool) may send
`agent_id` and their roster `pin` in the body instead; it is checked against the PIN's salted
hash, and wrong PINs are counted and locked out like console logins.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from redis import RedisError

from ivr.state import current_runtime, get_redis
from queues.agents import check_pin
from queues.alerts import TARGETS, EscalationError, escalate
from queues.users import LoginLimiter, UserStore

log = logging.getLogger(__name__)

bp = Blueprint("escalation", __name__, url_prefix="/api/v1")


@bp.post("/calls/<call_sid>/escalate")
def escalate_call(call_sid: str) -> tuple[Response, int]:
    """Add the on-call supervisor or the crisis line to the call; the caller stays on."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("expected a JSON object", 400)
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
    if header.lower().startswith("bearer "):
        user = UserStore(redis).user_for_token(header[7:].strip())
        if user is None:
            raise EscalationError("unknown or revoked token", 401)
        if user.role != "agent" or not user.agent_id:
            raise EscalationError("only the agent on the call can escalate it", 403)
        return user.agent_id
    agent_id, pin = body.get("agent_id"), body.get("pin")
    if not isinstance(agent_id, str) or not isinstance(pin, str) or not agent_id or not pin:
        return None
    limiter = LoginLimiter(redis)
    address = request.remote_addr or "-"
    if limiter.blocked(agent_id, address):
        raise EscalationError("too many wrong PINs; try again later", 429)
    if not check_pin(redis, agent_id[:64], pin):
        limiter.failed(agent_id, address)
        raise EscalationError("wrong agent id or PIN", 401)
    limiter.succeeded(agent_id)
    return agent_id


def _error(message: str, status: int) -> tuple[Response, int]:
    """A JSON error answer."""
    return jsonify(error=message), status
