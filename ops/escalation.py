"""Escalation: an agent on a connected call brings in the on-call supervisor or the crisis line.

One API endpoint, `POST /api/v1/calls/<call_sid>/escalate` with `{"target": "supervisor" |
"crisis_line"}`; the caller stays on while help joins the call's conference. The console's
crisis button reaches the same service through the desk (`ops.desk.flag_call`), and the phone's
`*` menu through `ivr.agents.legs`.

Who asks is found as everywhere in the API (`ops.auth`): the agent's bearer token, or their
console session with its CSRF token. An agent with neither (a phone-only consultant's tool) may
send `agent_id` and their roster `pin` in the body instead; it is checked against the PIN's
salted hash, and wrong PINs are counted and locked out like console sign-ins: each try is counted
before its PIN is checked, per agent id and per address, so a burst of guesses gets no more
checks than the limit. Supervisors see a lockout in their alert feed. Only the agent on the call
may escalate it.

The body is checked against the OpenAPI document and refusals are the API's Error object, as for
every other endpoint. Two refusals are worded for an agent who may have a caller in danger on
the line: a lockout and an unreachable Redis say to call the supervisor or the crisis line
directly.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from redis import RedisError

from ops import api, auth, context
from ops.errors import (
    Conflict,
    Forbidden,
    Invalid,
    OpsError,
    TooManyAttempts,
    Unauthorized,
    Unavailable,
    Upstream,
)
from queues import keys
from queues.agents import check_pin
from queues.alerts import EscalationError, escalate
from queues.ratelimit import FailureLimit

log = logging.getLogger(__name__)

bp = Blueprint("ops_escalation", __name__, url_prefix="/api/v1")
# A bearer token or a session (with CSRF) names the agent; an anonymous request may bring a PIN.
auth.install(bp, anonymous_forms=False)

# Wrong PINs allowed per agent id, and per address, within the window.
PINS_PER_AGENT = 5
PINS_PER_ADDRESS = 20
PIN_WINDOW_S = 15 * 60
# Call sids and agent ids are short; a longer one is cut rather than stored whole.
MAX_ID = 64

# Said to an agent who may have a caller in danger on the line: where help is without the API.
HELD = "too many wrong PINs or tokens; call the supervisor or the crisis line directly"
UNREACHABLE = "the hotline's state cannot be reached; call the supervisor directly"

# EscalationError's statuses as the API's errors.
_REFUSALS: dict[int, type[OpsError]] = {
    400: Invalid,
    403: Forbidden,
    409: Conflict,
    502: Upstream,
}


@bp.errorhandler(OpsError)
def _error(error: OpsError) -> tuple[Response, int]:
    """The API's JSON error; a lockout (a token's or a PIN's) says where help is instead."""
    if isinstance(error, TooManyAttempts):
        error = TooManyAttempts(HELD, error.retry_after)
    return api.error_answer(error)


@bp.errorhandler(RedisError)
def _redis_down(error: RedisError) -> tuple[Response, int]:
    """Redis unreachable (while checking a token or escalating): say to call directly."""
    log.error("escalation %s failed, Redis unreachable: %s", request.path, error)
    return api.error_answer(Unavailable(UNREACHABLE))


@bp.post("/calls/<call_sid>/escalate")
def escalate_call(call_sid: str) -> Response:
    """Add the on-call supervisor or the crisis line to the call; the caller stays on."""
    body = api.body()
    agent_id = _agent(body)
    target = body.get("target", "supervisor")
    try:
        done = escalate(
            call_sid[:MAX_ID],
            by_agent=agent_id,
            target=target,
            now=context.now(),
            current=context.runtime(),
        )
    except EscalationError as error:
        raise _REFUSALS.get(error.status, Invalid)(str(error), field=_field(error)) from None
    log.warning("call %s escalated by agent %s to %s", call_sid, agent_id, done.added)
    return jsonify(
        call=done.call_sid,
        target=done.target,
        added=done.added,
        number=done.number,
        new=done.changed,
        reason=done.reason or None,
    )


def _field(error: EscalationError) -> str | None:
    """The input an escalation's refusal is about: the call, or the target asked for."""
    return "target" if error.status == 400 else "call_sid" if error.status == 409 else None


def _agent(body: dict[str, Any]) -> str:
    """The agent asking: the signed-in agent (token or session), else an agent id and PIN."""
    who = g.get("user")
    if who is not None:
        if who.role != "agent" or not who.agent_id:
            raise Forbidden("only the agent on the call can escalate it")
        return who.agent_id
    agent_id, pin = body.get("agent_id"), body.get("pin")
    if not isinstance(agent_id, str) or not isinstance(pin, str) or not agent_id or not pin:
        if g.get("expired"):
            raise Unauthorized("the session expired; sign in again, or send agent_id and pin")
        raise Unauthorized("send the agent's bearer token, or agent_id and pin")
    return _pin_checked(agent_id[:MAX_ID], pin)


def _pin_checked(agent_id: str, pin: str) -> str:
    """The agent id once its roster PIN is right; every try counted before the slow check."""
    redis = context.redis()
    limit = FailureLimit(
        redis,
        "escalation-pin",
        keys.pin_failures,
        {"agent": PINS_PER_AGENT, "ip": PINS_PER_ADDRESS},
        window_s=PIN_WINDOW_S,
    )
    attempt = limit.take({"agent": agent_id, "ip": request.remote_addr or "-"})
    if not attempt.allowed:
        raise TooManyAttempts(HELD, attempt.retry_after)
    if not check_pin(redis, agent_id, pin):
        limit.failed(attempt, context.now())
        raise Unauthorized("wrong agent id or PIN", field="pin")
    limit.succeeded(attempt, clear=("agent",))
    return agent_id
