"""Live assist on the agent's desk: the call's feed as server-sent events, and the facts said.

`GET /api/v1/agents/<agent_id>/call/live` streams the assist feed (`queues.live_assist`) of the
agent's current call as server-sent events: thermometer levels (each with the config's
suggestion line in the viewer's language), final transcript lines, crisis hits, notices and the
end of the call's audio. It replays the feed from the start (or after the browser's
Last-Event-ID), then blocks on it, sending a comment as a heartbeat when nothing came. It ends
when the call's reservation is no longer the agent's current one or an `ended` event came; an
agent with no call gets 204, which tells the browser's EventSource to stop. Each connection holds
one of the server's threads and one Redis connection while it blocks, so its life is capped: the
browser then reconnects with Last-Event-ID and misses nothing.

`GET /api/v1/agents/<agent_id>/call/facts` reads the transcript of the agent's current or last
call and answers the key facts said (`routing.call_facts`) with a short block in the viewer's
language; the desk puts it in an empty wrap-up note for the agent to edit. Nothing is stored
unless the agent saves the note.

As on the rest of the desk, agents see their own call and supervisors anyone's.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request
from redis import Redis, RedisError

from ops import auth, context, features
from ops.auth import SUPERVISORS
from ops.errors import Invalid, NotFound
from ops.i18n import current_language, word
from queues import events, live_assist
from queues.connection import redis_client
from routing import call_facts

log = logging.getLogger(__name__)

bp = features.blueprint("ops_live_desk")

# How long one read waits for the next event before a heartbeat (OPS_LIVE_BLOCK_MS).
BLOCK_MS = 15_000
# How long one connection lives before the browser reconnects (OPS_LIVE_MAX_S): a thread and a
# Redis connection are held meanwhile.
MAX_LIFE_S = 600
# How soon the browser reconnects after a connection ends, in milliseconds.
RETRY_MS = 2_000
# The reservation states in which the agent's call is live (ringing, or taken and not ended).
LIVE_STATES = ("offered", "accepted")
# Events looked back through for the agent's last answered call once its reservation is gone.
LOOK_BACK = 500
# A stream id as Redis writes it ("1767000000000-0"), or "0" for the start.
_STREAM_ID = re.compile(r"^(?:0|\d{1,20}-\d{1,20})$")
# The desk's word for each kind of fact in the note's block.
FACT_WORDS = {kind: f"fact_{kind}" for kind in call_facts.KINDS}


@dataclass(frozen=True)
class LiveCall:
    """The call whose feed a desk follows: the agent, their reservation and the caller's sid."""

    agent_id: str
    reservation: str
    call_sid: str


@bp.app_context_processor
def _assist_helpers() -> dict[str, Any]:
    """Whether live assist is on, for the desk's template."""
    return {"live_assist_on": lambda: context.config().assist.enabled}


# --- the live feed ----------------------------------------------------------------------------


def live_call(agent_id: str) -> LiveCall | None:
    """The agent's current call while it is live; None when they have none."""
    status = context.board().get(agent_id)
    if status is None:
        raise NotFound(f"no agent {agent_id!r} on the roster", field="agent_id")
    if not status.reservation:
        return None
    reservation = context.reservations().get(status.reservation)
    if (
        reservation is None
        or reservation.agent_id != agent_id
        or reservation.state not in LIVE_STATES
    ):
        return None
    return LiveCall(agent_id, reservation.id, reservation.call_sid)


def _still_live(call: LiveCall) -> Callable[[], bool]:
    """A check that the call is still the agent's live one, made without a request context."""
    board, reservations = context.board(), context.reservations()

    def check() -> bool:
        status = board.get(call.agent_id)
        if status is None or status.reservation != call.reservation:
            return False
        reservation = reservations.get(call.reservation)
        return reservation is not None and reservation.state in LIVE_STATES

    return check


def _suggester(language: str) -> Callable[[Any], str]:
    """The config's suggestion line for a level, in the viewer's language."""
    assist = context.config().assist

    def suggest(level: Any) -> str:
        try:
            return assist.suggestion(int(level), language)
        except (TypeError, ValueError):
            return ""

    return suggest


def _blocking_redis() -> Redis:
    """A client for the feed's blocking reads: the app's own times out well before they end."""
    found = current_app.extensions.get("ops_live_redis")
    if found is None:
        block_s = int(current_app.config.get("OPS_LIVE_BLOCK_MS", BLOCK_MS)) / 1000
        found = redis_client(
            current_app.config["SETTINGS"].redis_url,
            socket_timeout=block_s + 5,
            socket_connect_timeout=1,
            health_check_interval=30,
        )
        current_app.extensions["ops_live_redis"] = found
    return found


def frame(event: live_assist.LiveEvent, suggest: Callable[[Any], str]) -> str:
    """One event as a server-sent event: its id, kind and data (a level with its suggestion)."""
    data = dict(event.data)
    if event.kind == "level":
        data["suggestion"] = suggest(data.get("level"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream(
    redis: Redis,
    call: LiveCall,
    after: str,
    *,
    still_live: Callable[[], bool],
    suggest: Callable[[Any], str],
    block_ms: int,
    life_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """The call's feed after an id as server-sent events, until the call or the life ends."""
    yield f"retry: {RETRY_MS}\n\n"
    until = clock() + life_s
    while True:
        try:
            batch = live_assist.read(redis, call.call_sid, after, block_ms=block_ms)
            for event in batch:
                after = event.id
                yield frame(event, suggest)
                if event.kind == "ended":
                    yield _closing("ended")
                    return
            if not batch:
                yield ": waiting\n\n"
            if not still_live():
                yield _closing("call-over")
                return
        except RedisError as error:
            # The browser reconnects from the last id it saw; the request then answers 503.
            log.warning("live desk feed of %s stopped: %s", call.reservation, error)
            return
        if clock() >= until:
            return


def _closing(reason: str) -> str:
    """The last event of a feed that will not go on: the page stops listening."""
    return f"event: close\ndata: {json.dumps({'reason': reason})}\n\n"


@bp.get("/api/v1/agents/<agent_id>/call/live")
def api_live(agent_id: str) -> Response:
    """The agent's live call as server-sent events (levels, lines, crisis hits, notices)."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    after = request.headers.get("Last-Event-ID", "").strip() or "0"
    if not _STREAM_ID.match(after):
        raise Invalid("Last-Event-ID is not an event id of the feed", field="Last-Event-ID")
    call = live_call(agent_id)
    if call is None:
        # 204 tells the browser's EventSource not to reconnect: there is nothing to follow.
        return Response(status=204)
    settings = current_app.config
    events_out = stream(
        _blocking_redis(),
        call,
        after,
        still_live=_still_live(call),
        suggest=_suggester(current_language()),
        block_ms=int(settings.get("OPS_LIVE_BLOCK_MS", BLOCK_MS)),
        life_s=float(settings.get("OPS_LIVE_MAX_S", MAX_LIFE_S)),
    )
    return Response(
        events_out,
        mimetype="text/event-stream",
        # A proxy in front (nginx) must pass each event on as it comes, not buffer the answer.
        headers={"X-Accel-Buffering": "no"},
    )


# --- the facts said, for the wrap-up note -----------------------------------------------------


def lines_of(call_sid: str) -> list[str]:
    """The final transcript lines of a call's feed, both tracks, in the order said."""
    redis, after, lines = context.redis(), "0", []
    while True:
        batch = live_assist.read(redis, call_sid, after, count=1000)
        if not batch:
            return lines
        lines += [str(e.data.get("text", "")) for e in batch if e.kind == "line"]
        after = batch[-1].id


def _call_of(agent_id: str) -> tuple[str, str]:
    """The reservation and caller's sid of the agent's current or last answered call."""
    status = context.board().get(agent_id)
    if status is None:
        raise NotFound(f"no agent {agent_id!r} on the roster", field="agent_id")
    rid = status.reservation or _last_answered(agent_id)
    reservation = context.reservations().get(rid) if rid else None
    if reservation is None or reservation.agent_id != agent_id:
        raise NotFound(f"agent {agent_id!r} has no call", field="agent_id")
    return reservation.id, reservation.call_sid


def _last_answered(agent_id: str) -> str:
    """The agent's latest answered reservation from the event stream ('' when none)."""
    for event in events.recent(context.redis(), LOOK_BACK):
        if event.get("kind") == "accepted" and event.get("agent") == agent_id:
            return event.get("reservation", "")
    return ""


def facts_of(agent_id: str) -> dict[str, Any]:
    """The key facts said on the agent's current or last call, and the note's block of them."""
    rid, call_sid = _call_of(agent_id)
    facts = call_facts.facts_in(lines_of(call_sid))
    labels = {kind: word(key) for kind, key in FACT_WORDS.items()}
    return {
        "reservation": rid,
        "facts": [{"kind": fact.kind, "text": fact.text} for fact in facts],
        "block": call_facts.block(facts, word("facts_heading"), labels, word("facts_sep")),
    }


@bp.get("/api/v1/agents/<agent_id>/call/facts")
def api_facts(agent_id: str) -> Response:
    """The key facts said on the agent's call (dates, amounts, parties, employers)."""
    auth.ensure_for_agent(agent_id, *SUPERVISORS)
    return jsonify(facts_of(agent_id))
