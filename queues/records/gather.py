"""A call's durable record gathered from what Redis holds: the call hash, the event stream, the
crisis incident, the agent's note, the follow-up and the voicemail message. Read-only;
`queues.records.store` writes what this returns.

Times are taken from the events' own `at` (the hotline's clock when each step happened); the
stream is read from a little before the call's start, since Redis numbers entries by its time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis import Redis

from queues import keys
from queues.calls import CallStore
from queues.followups import FollowUps
from queues.incidents import IncidentLog
from queues.notes import CallNotes
from queues.sealing import Sealer

# Events a little older than the call's start are read too: clocks of web and Redis differ.
STREAM_SLACK_S = 120.0
# Entries read per round trip, and at most in all for one call (a busy day's worth).
STREAM_PAGE = 1000
STREAM_LIMIT = 200_000
# How a waiting caller left, from the waiting room's leave events.
LEAVE_KINDS = ("abandoned", "voicemail", "crisis", "left", "closed")
# Presence states an agent says they are in, as presence events carry them.
PRESENCE_KIND = "presence"
# The field of a voicemail message's hash that says when its callback reached the caller
# (written by `voicemail.callbacks.called_back`; read here as a plain field, one floor down).
CALLED_BACK_FIELD = "called_back_at"


def stream_after(redis: Redis, start_id: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The event stream's entries after an entry id ("0" for all), oldest first, paged."""
    cursor, read = f"({start_id}" if start_id not in ("0", "-") else "-", 0
    while read < STREAM_LIMIT:
        page = redis.xrange(keys.events(), min=cursor, max="+", count=STREAM_PAGE)
        if not page:
            return
        for entry_id, fields in page:
            yield entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()}
        read += len(page)
        cursor = f"({page[-1][0].decode()}"


def call_events(redis: Redis, call_sid: str, since: float) -> list[dict[str, str]]:
    """A call's events, oldest first, read from a little before `since` (epoch seconds)."""
    start = f"{max(int((since - STREAM_SLACK_S) * 1000), 0)}-0"
    return [fields for _, fields in stream_after(redis, start) if fields.get("call") == call_sid]


def agent_events(redis: Redis, since: float) -> list[dict[str, str]]:
    """Events naming an agent without a call (wrap-up ends), oldest first, from `since`."""
    start = f"{max(int((since - STREAM_SLACK_S) * 1000), 0)}-0"
    return [f for _, f in stream_after(redis, start) if f.get("kind") == "wrap-up-end"]


def call_row(redis: Redis, call_sid: str, sealer: Sealer) -> dict[str, Any] | None:
    """The record of a call as Redis still tells it, or None when Redis no longer knows it."""
    started = redis.hget(keys.call(call_sid), "started_at")
    record = CallStore(redis, sealer=sealer).get(call_sid)
    if record is None or started is None:
        return None
    arrived = float(started)
    seen = call_events(redis, call_sid, arrived)
    first = _firsts(seen)
    incident = IncidentLog(redis, sealer=sealer).get(call_sid)
    summary = incident.summary() if incident is not None else {}
    queued, answered = _at(first, "queued"), _at(first, "bridged")
    asked_back = _at(first, "callback")
    if answered is not None and asked_back is not None and asked_back <= answered:
        # The caller left the queue for a callback before anyone answered: the bridge is the
        # callback reaching them later, a contact of its own, not this call being answered.
        answered = None
    crisis_at = _at(first, "crisis") or (incident.opened_at if incident is not None else None)
    ended = first.get("ended", {})
    wrap = first.get("wrap-up")
    talk_s = wrap_up_s = None
    if wrap is not None and answered is not None:
        talk_s = round(float(wrap["at"]) - answered, 3)
        wrap_up_s = _wrap_up(redis, wrap, record.agent)
    left = next((first[kind] for kind in LEAVE_KINDS if kind in first), None)
    waited_until = answered if answered is not None else (asked_back or _float(left, "at"))
    human_after = summary.get("answered_after_s")
    recording = next((e["recording"] for e in seen if e.get("recording")), "")
    return {
        "call_sid": call_sid,
        "caller_digest": sealer.digest(record.caller) if record.caller else "",
        "arrived_at": arrived,
        "menu_done_at": min((t for t in (queued, crisis_at) if t is not None), default=None),
        "queued_at": queued,
        "offered_at": _at(first, "offered"),
        "answered_at": answered,
        "ended_at": _float(ended, "at"),
        "area": record.area,
        "language": record.language,
        "outcome": _outcome(first, record.leave_intent, incident is not None, answered),
        "end_status": ended.get("status") or _final_status(record.status),
        "agent": record.agent or record.crisis_taker or _person(summary),
        "wait_s": round(waited_until - queued, 3) if queued and waited_until else None,
        "talk_s": talk_s,
        "wrap_up_s": wrap_up_s,
        "rating": record.rating or None,
        "crisis_trigger": record.crisis_trigger or summary.get("trigger", ""),
        "crisis_to_human_s": float(human_after) if human_after not in (None, "") else None,
        "callback": _callback(first),
        "voicemail_recording": recording,
        "voicemail_called_back_at": _called_back_at(redis, recording),
        "followup_closed": _followup_closed(redis, call_sid, sealer),
        "crisis_rollover": bool(summary["rollover"]) if incident is not None else None,
        "heavy": _heavy(redis, call_sid, record.heavy, wrap, sealer),
        "wrap_up_outcome": CallNotes(redis, sealer=sealer).get(call_sid).outcome,
    }


def _person(summary: dict[str, Any]) -> str:
    """Who of the hotline answered a crisis (an agent or supervisor); "" for a crisis line.

    A crisis line is a number outside the hotline, not an agent: reports by agent count its
    calls with those no agent took (docs/reports.md).
    """
    if summary.get("answered_role") in ("", "line", None):
        return ""
    return summary.get("answered_by", "")


def _called_back_at(redis: Redis, recording: str) -> float | None:
    """When the callback of the call's voicemail reached the caller, or None."""
    if not recording:
        return None
    value = redis.hget(keys.voicemail_message(recording), CALLED_BACK_FIELD)
    return float(value) if value else None


def _followup_closed(redis: Redis, call_sid: str, sealer: Sealer) -> bool | None:
    """Whether the call's follow-up was closed (by hand or by its callback); None without one."""
    follow_up = FollowUps(redis, sealer=sealer).get(call_sid)
    return follow_up.closed if follow_up is not None else None


def _heavy(
    redis: Redis, call_sid: str, flagged: bool, wrap: dict[str, str] | None, sealer: Sealer
) -> bool:
    """Whether the call weighed on its agent: flagged heavy, a crisis taken, or a heavy wrap-up."""
    if flagged or (wrap is not None and wrap.get("heavy") == "1"):
        return True
    return "heavy" in CallNotes(redis, sealer=sealer).get(call_sid).flags


def _firsts(seen: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """The first event of each kind."""
    first: dict[str, dict[str, str]] = {}
    for event in seen:
        first.setdefault(event.get("kind", ""), event)
    return first


def _float(event: dict[str, str] | None, name: str) -> float | None:
    """A number field of an event, or None."""
    value = (event or {}).get(name)
    return float(value) if value else None


def _at(first: dict[str, dict[str, str]], kind: str) -> float | None:
    """When the first event of a kind happened, or None."""
    return _float(first.get(kind), "at")


def _wrap_up(redis: Redis, wrap: dict[str, str], agent: str) -> float | None:
    """The agent's wrap-up after this call: until its end was seen, else as it was set."""
    start = float(wrap["at"])
    ends = (e for e in agent_events(redis, start) if e.get("agent") == agent)
    end = next((float(e["at"]) for e in ends if float(e["at"]) >= start), None)
    if end is None:
        end = _float(wrap, "until")
    return round(end - start, 3) if end is not None else None


def _outcome(
    first: dict[str, dict[str, str]], leave_intent: str, crisis: bool, answered: float | None
) -> str:
    """How the call ended for the caller: answered, crisis, voicemail, callback, ... or menu."""
    if answered is not None:
        return "answered"
    if crisis or "crisis" in first:
        return "crisis"
    if "voicemail" in first or leave_intent == "voicemail":
        return "voicemail"
    if "callback" in first:
        return "callback"
    for kind in LEAVE_KINDS:
        if kind in first:
            return kind
    # Never queued: the caller hung up in the menu (or heard the hours of a closed area).
    return "menu"


def _callback(first: dict[str, dict[str, str]]) -> str:
    """Where a callback the caller asked for got to: requested, connected or closed."""
    for kind, state in (("callback-connected", "connected"), ("callback-closed", "closed")):
        if kind in first:
            return state
    return "requested" if "callback" in first else ""


def _final_status(status: str) -> str:
    """Twilio's final status of the call, if it has one."""
    return status if status in ("completed", "busy", "failed", "no-answer", "canceled") else ""
