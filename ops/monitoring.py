"""Watching the hotline: the wallboard, alerts from the event stream, crisis incidents, audit log.

One blueprint holds the console pages (`/ops/wallboard`, `/ops/alerts`, `/ops/incidents`,
`/ops/audit`) and their JSON API (`/api/v1/wallboard`, ...); the audit log is for ops and
supervisors, the rest for supervisors only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, render_template, request

from ops import api, context, features
from ops.auth import OPS_ROLES, SUPERVISORS, require
from ops.errors import Invalid
from ops.i18n import WORDS, condition_label
from ops.listen_in import live_calls
from queues import keys
from queues.conditions import Conditions
from queues.followups import FollowUps
from queues.notices import Notices

_STREAM_ID = re.compile(r"^\d+-\d+$")

# Event kinds a supervisor is alerted to, and what each means.
# "alert" covers urgent voicemail and full storage (queues.alerts names the kind);
# "follow-up" a caller who rated a call unsatisfactory and is owed a callback.
# "condition-cleared" a standing condition (carrier, self-check) that holds again.
# "lockout" too many wrong passwords, PINs or tokens for a user, agent, code or address.
ALERT_KINDS = (
    "crisis",
    "paused",
    "over-cap",
    "flagged",
    "alert",
    "follow-up",
    "condition-cleared",
    "lockout",
)
# Events read per page while looking back over today.
PAGE = 1000
# How far back alerts are looked for when the page first loads.
RECENT_EVENTS = 2000
STATES = ("available", "reserved", "talking", "wrap_up", "on_break", "offline")

bp = features.blueprint("ops_monitoring")


@dataclass
class Today:
    """What the event stream says about today since local midnight, one entry per call."""

    answered: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    # Each rated call's rating: the first event of a call counts (repeats append nothing).
    ratings: dict[str, str] = field(default_factory=dict)
    # Follow-ups whose callback reached the caller today.
    followups_done: set[str] = field(default_factory=set)


def wallboard() -> dict[str, Any]:
    """Waiting callers per area, the longest wait, agents by state, today's answers and ratings."""
    config = context.config()
    now = context.now()
    room = context.waiting_room()
    areas = []
    longest = 0.0
    for area_id, area in config.areas.items():
        waiting = 0
        oldest = 0.0
        for language in config.languages:
            waiting += room.waiting_count(area_id, language)
            for call_sid in room.waiting_calls(area_id, language, limit=50):
                queued = room.get(call_sid)
                if queued is not None:
                    oldest = max(oldest, now - queued.arrival)
        longest = max(longest, oldest)
        areas.append(
            {"id": area_id, "name": area.name, "waiting": waiting, "longest_wait_s": int(oldest)}
        )
    agents = Counter(status.status for status in context.board().all())
    by_state = {state: agents.get(state, 0) for state in STATES}
    by_state.update({state: count for state, count in agents.items() if state not in by_state})
    today = _today(now, config.timezone)
    answered, unanswered = len(today.answered), len(today.lost - today.answered)
    total = answered + unanswered
    rated = len(today.ratings)
    satisfied = sum(1 for rating in today.ratings.values() if rating == "1")
    return {
        "at": now,
        "areas": areas,
        "waiting": sum(area["waiting"] for area in areas),
        "longest_wait_s": int(longest),
        "agents": by_state,
        "today": {
            "answered": answered,
            "unanswered": unanswered,
            "answer_rate": round(answered / total, 3) if total else None,
            "rated": rated,
            "satisfied": satisfied,
            "satisfaction": round(satisfied / rated, 3) if rated else None,
            "followups_done": len(today.followups_done),
        },
        "followups_open": FollowUps(context.redis()).open_count(),
        # Promises the hotline cannot keep right now (queues.conditions), oldest first.
        "conditions": [
            {"name": c.name, "label": condition_label(c.name), "detail": c.detail, "since": c.since}
            for c in Conditions(context.redis()).active()
        ],
        # Quiet notices about live calls (queues.notices): looked at, never paged.
        "notices": [
            {**n.public(), "label": notice_label(n.kind)}
            for n in Notices(context.redis()).active(now)
        ],
    }


def notice_label(kind: str) -> dict[str, str]:
    """A quiet notice's label in each language; its kind when it has none."""
    return WORDS.get(f"notice_{kind}", {"zh": kind, "en": kind})


def _today(now: float, timezone: str) -> Today:
    """Gather calls answered, calls lost (hang-up, voicemail) and ratings since local midnight."""
    zone = ZoneInfo(timezone)
    midnight = datetime.combine(datetime.fromtimestamp(now, zone).date(), time(0), tzinfo=zone)
    since = midnight.timestamp()
    redis = context.redis()
    today = Today()
    top = "+"
    # Events come roughly in time order: page back until a whole page is older than midnight.
    while True:
        rows = redis.xrevrange(keys.events(), max=top, min="-", count=PAGE)
        if not rows:
            break
        fresh = 0
        for _, fields in rows:
            event = {k.decode(): v.decode() for k, v in fields.items()}
            if float(event.get("at", 0)) < since:
                continue
            fresh += 1
            call = event.get("call", "")
            if event["kind"] == "accepted":
                today.answered.add(call)
            elif event["kind"] in ("abandoned", "voicemail"):
                today.lost.add(call)
            elif event["kind"] == "rated":
                # Paging goes newest first: an older event of the same call overwrites.
                today.ratings[call] = event.get("rating", "")
            elif event["kind"] == "follow-up-task" and event.get("task") == "done":
                today.followups_done.add(call)
        if not fresh or len(rows) < PAGE:
            break
        top = "(" + rows[-1][0].decode()
    return today


def alerts(after: str | None = None, *, limit: int = 50) -> dict[str, Any]:
    """Supervisor alerts newer than a stream id (or the latest ones), oldest first."""
    redis = context.redis()
    if after:
        if not _STREAM_ID.match(after):
            raise Invalid(f"not an event id: {after!r}", field="after")
        rows = redis.xrange(keys.events(), min=f"({after}", max="+", count=RECENT_EVENTS)
    else:
        rows = list(reversed(redis.xrevrange(keys.events(), count=RECENT_EVENTS)))
    items = []
    for entry_id, fields in rows:
        event = {k.decode(): v.decode() for k, v in fields.items()}
        if event.get("kind") in ALERT_KINDS:
            items.append({"id": entry_id.decode(), **event})
    last = rows[-1][0].decode() if rows else after
    return {"alerts": items[-limit:], "last_id": last}


def incident_list(days: int = 7) -> list[dict[str, Any]]:
    """Crisis incidents opened in the last days, newest first, as one summary row each."""
    now = context.now()
    found = context.incidents().between(now - days * 86400, now + 1)
    holds = context.incidents().holds()
    return [
        {**incident.summary(), "legal_hold": _held(holds.get(incident.call_sid))}
        for incident in reversed(found)
    ]


def _held(hold: Any) -> dict[str, Any] | None:
    """An incident's legal hold as pages and the API show it, or None."""
    return hold.public() if hold is not None else None


def audit_entries(limit: int = 100, before: str | None = None) -> list[dict[str, Any]]:
    """The audit log, newest first, older than an entry id when paging back."""
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be between 1 and 1000", field="limit")
    if before and not _STREAM_ID.match(before):
        raise Invalid(f"not an audit entry id: {before!r}", field="before")
    return [entry.public() for entry in context.audit_log().recent(limit, before_id=before)]


# --- console pages ----------------------------------------------------------------------------


@bp.get("/ops/wallboard")
@require(*SUPERVISORS)
def page_wallboard() -> str:
    """Live queues and agents, refreshed by the page itself, with alerts as they happen."""
    return render_template(
        "ops/wallboard.html", board=wallboard(), alerts=alerts(), live=live_calls()
    )


@bp.get("/ops/alerts")
@require(*SUPERVISORS)
def page_alerts() -> str:
    """Recent supervisor alerts."""
    return render_template("ops/alerts.html", alerts=alerts(limit=200))


@bp.get("/ops/incidents")
@require(*SUPERVISORS)
def page_incidents() -> str:
    """Crisis incidents of the last week."""
    return render_template("ops/incidents.html", incidents=incident_list(7))


@bp.get("/ops/audit")
@require(*OPS_ROLES)
def page_audit() -> str:
    """The audit log, newest first."""
    entries = audit_entries(100, request.args.get("before"))
    return render_template("ops/audit.html", entries=entries)


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/wallboard")
@require(*SUPERVISORS)
def api_wallboard() -> Response:
    """Live figures: waiting per area, longest wait, agents by state, answer rate today."""
    return jsonify(wallboard())


@bp.get("/api/v1/alerts")
@require(*SUPERVISORS)
def api_alerts() -> Response:
    """Alerts (crisis, paused agents, over-cap heavy calls, flags) after a stream id."""
    return jsonify(alerts(request.args.get("after")))


@bp.get("/api/v1/incidents")
@require(*SUPERVISORS)
def api_incidents() -> Response:
    """Crisis incidents of the last days (?days=7)."""
    return jsonify({"incidents": incident_list(api.int_arg("days", 7))})


@bp.get("/api/v1/audit")
@require(*OPS_ROLES)
def api_audit() -> Response:
    """The audit log, newest first (?limit=100&before=<id> pages back)."""
    entries = audit_entries(api.int_arg("limit", 100), request.args.get("before"))
    return jsonify({"entries": entries})
