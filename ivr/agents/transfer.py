"""Webhooks of a transfer by phone: the agent's transfer menu (after * and the transfer key: the
area's key as in the caller's menu, then 1 warm or 2 cold), the first agent's way back when
nobody took a warm transfer, and what the transferred caller hears (the hold words and music,
the new area's waiting room). The sequence itself is `queues.transfers`.

Both blueprints sit inside the agents' legs blueprint (`ivr.agents.legs` registers them), so
their paths are under /voice/agent and Twilio's signature is checked on every request. Any
failure sends the agent back to the caller; the caller's webhooks never fail them: with Redis
or anything else down they hear the hold words again, or the waiting room.
"""

from __future__ import annotations

import logging

from flask import Response, request, url_for
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from ivr import webhook as hook
from ivr.agents import bridge
from ivr.callers import menu_twiml as twiml
from queues import runtime, transfers
from queues.agent_line import keypad_code
from routing.transfers import area_for_key, mode_for_key

log = logging.getLogger(__name__)

# In the transfer's area menu: a colleague by their keypad code instead of an area.
COLLEAGUE_KEY = "*"


def _back_to_caller(error: Exception) -> Response:
    """A failure in the agent's transfer menu: the agent is told and goes back to the caller."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("transfer webhook %s failed", request.path)
    rid = hook.reservation_id()
    language = hook.language()
    return hook.xml(
        twiml.said_then(
            hook.config(), language, "agent_transfer_failed", bridge.agent_join(language, rid)
        )
    )


def _keep_holding(error: Exception) -> Response:
    """A failure on the transferred caller's side: the hold words again, never a dead end."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("transferred caller's webhook %s failed", request.path)
    again = url_for(".hold", res=hook.reservation_id(), lang=hook.language())
    return hook.xml(twiml.transfer_hold(hook.config(), hook.language(), again))


bp = hook.twilio_blueprint("transfer", __name__, "/transfer", on_error=_back_to_caller)
caller_bp = hook.twilio_blueprint(
    "transfer_caller", __name__, "/transferred-caller", on_error=_keep_holding
)


def _language(rt: runtime.Runtime, rid: str) -> str:
    """The language of a reservation's caller (and so of its agent's prompts)."""
    try:
        offer = rt.routing.reservations.get(rid)
    except RedisError:
        offer = None
    return offer.language if offer else hook.language()


def menu(rid: str, language: str) -> Response:
    """The transfer menu an agent reaches from the in-call menu: which area."""
    action = url_for("agent_calls.transfer.area", res=rid, lang=language)
    return hook.xml(
        twiml.agent_transfer_area(hook.config(), language, action, bridge.agent_join(language, rid))
    )


@bp.post("/area")
def area() -> Response:
    """The area's key (or * for a colleague): then warm or cold; an unknown key, back."""
    rid, language = hook.reservation_id(), hook.language()
    config = hook.config()
    key = hook.caller().digits[:1]
    if key == COLLEAGUE_KEY:
        action = url_for(".colleague", res=rid, lang=language)
        return hook.xml(
            twiml.agent_transfer_colleague(
                config, language, action, bridge.agent_join(language, rid)
            )
        )
    chosen = area_for_key({a.id: a.key for a in config.areas.values()}, key)
    if chosen is None:
        return hook.xml(bridge.agent_join(language, rid))
    action = url_for(".mode", res=rid, lang=language, area=chosen)
    return hook.xml(
        twiml.agent_transfer_mode(
            config, language, chosen, action, bridge.agent_join(language, rid)
        )
    )


@bp.post("/colleague")
def colleague() -> Response:
    """A colleague's keypad code: then warm or cold; a code that is nobody's (or several
    agents'), or the agent's own, and the agent hears so and goes back to the caller."""
    rt = runtime.serving()
    rid, language = hook.reservation_id(), hook.language()
    config = hook.config()
    code = "".join(ch for ch in hook.caller().digits if ch.isdigit())[:32]
    offer = rt.routing.reservations.get(rid)
    found = [a for a in rt.routing.board.ids() if code and keypad_code(a) == code]
    if offer is None or len(found) != 1 or found[0] == offer.agent_id:
        return hook.xml(
            twiml.said_then(
                config, language, "agent_transfer_busy", bridge.agent_join(language, rid)
            )
        )
    status = rt.routing.board.get(found[0])
    action = url_for(".mode", res=rid, lang=language, agent=found[0])
    name = status.name if status is not None and status.name else found[0]
    return hook.xml(
        twiml.agent_transfer_mode(
            config, language, offer.area, action, bridge.agent_join(language, rid), to=name
        )
    )


@bp.post("/mode")
def mode() -> Response:
    """1 warm or 2 cold: the transfer starts, and the agent hears how it went."""
    rt = runtime.serving()
    rid, language = hook.reservation_id(), hook.language()
    config = hook.config()
    chosen = mode_for_key(hook.caller().digits)
    target = request.args.get("area", "")
    colleague = request.args.get("agent", "")[:64]
    if chosen is None or not (target in config.areas or colleague):
        return hook.xml(bridge.agent_join(language, rid))
    started = transfers.start(
        rt,
        rid,
        mode=chosen,
        area="" if colleague else target,
        agent=colleague,
        agent_leg=hook.caller().call_sid,
    )
    where = colleague or target
    log.info("transfer of %s by phone to %s (%s): %s", rid, where, chosen, started.reason or "ok")
    if not started.ok:
        prompt = (
            "agent_transfer_busy" if started.reason == "agent-busy" else "agent_transfer_failed"
        )
        return hook.xml(twiml.said_then(config, language, prompt, bridge.agent_join(language, rid)))
    if chosen == "cold":
        return hook.xml(twiml.say_and_hang_up(config, language, "agent_transfer_cold"))
    # Warm: the agent stays in the conference, with the caller on hold, until the next accepts.
    return hook.xml(
        twiml.said_then(config, language, "agent_transfer_warm", bridge.agent_join(language, rid))
    )


@bp.post("/back")
def back() -> Response:
    """Nobody took the warm transfer: the first agent hears so and is back with the caller."""
    rid = hook.reservation_id()
    language = _language(runtime.serving(), rid)
    return hook.xml(
        twiml.said_then(
            hook.config(), language, "agent_transfer_back", bridge.agent_join(language, rid)
        )
    )


@caller_bp.route("/hold", methods=["GET", "POST"])
def hold() -> Response:
    """The held caller's HoldUrl: where they are going and the hold music, again and again."""
    rid, language = hook.reservation_id(), hook.language()
    again = url_for(".hold", res=rid, lang=language)
    return hook.xml(twiml.transfer_hold(hook.config(), language, again))


@caller_bp.post("/room")
def room() -> Response:
    """A caller transferred cold (or whose first agent left a warm transfer): the new area's
    waiting room, where routing already holds their place."""
    config, language = hook.config(), hook.language()
    area_id = request.args.get("area", "")
    if area_id not in config.areas:
        area_id = config.general_area
    wait_url = url_for("voice.wait", lang=language, area=area_id)
    action = url_for("voice.queue_result", lang=language, area=area_id)
    return hook.xml(twiml.transfer_room(config, language, area_id, wait_url, action))
