"""The objects the consoles work with, built lazily once per app: Redis, stores, routing state."""

from __future__ import annotations

from typing import Any

from flask import current_app
from redis import Redis

from queues import keys
from queues import runtime as jobs_runtime
from queues.agents import AgentBoard
from queues.audit import AuditLog
from queues.calls import CallStore
from queues.hours import HoursBoard
from queues.incidents import IncidentLog
from queues.notes import CallNotes
from queues.ratelimit import FailureLimit
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.users import UserStore
from queues.waiting import WaitingRoom
from routing.config import HotlineConfig


def redis() -> Redis:
    """The app's Redis client, shared with the phone menu (made by the app factory)."""
    client = current_app.extensions.get("redis")
    if client is None:
        raise RuntimeError("REDIS_URL is not set; start the hotline with `hotline serve`")
    return client


def runtime() -> jobs_runtime.Runtime:
    """What routing and alert jobs work with (Twilio's gateway among it), as the app built it."""
    found = current_app.extensions.get("runtime")
    return found if found is not None else jobs_runtime.current()


def config() -> HotlineConfig:
    """The checked hotline config."""
    return current_app.config["HOTLINE"]


def now() -> float:
    """The app clock as epoch seconds."""
    return current_app.config["CLOCK"]().timestamp()


def _shared(name: str, build: Any) -> Any:
    """Return an app-wide object, building it on first use."""
    found = current_app.extensions.get(name)
    if found is None:
        found = build()
        current_app.extensions[name] = found
    return found


def script() -> RoutingScript:
    """The routing script, registered once per process and shared by every routing object."""
    return _shared("routing_script", lambda: RoutingScript(redis(), config().routing))


def board() -> AgentBoard:
    """Agents and their presence."""
    return _shared("ops_board", lambda: AgentBoard(redis(), config().routing, script=script()))


def waiting_room() -> WaitingRoom:
    """Waiting calls."""
    return _shared("ops_room", lambda: WaitingRoom(redis(), config().routing, script=script()))


def reservations() -> Reservations:
    """Offers of calls to agents."""
    return _shared(
        "ops_reservations", lambda: Reservations(redis(), config().routing, script=script())
    )


def calls() -> CallStore:
    """Call records."""
    return _shared("ops_calls", lambda: CallStore(redis()))


def users() -> UserStore:
    """Console users, sessions and tokens (unknown tokens limited by OPS_TOKEN_* settings)."""
    settings = current_app.config
    return _shared(
        "ops_users",
        lambda: UserStore(
            redis(),
            bad_tokens_per_source=int(settings.get("OPS_TOKEN_FAILURES_PER_IP", 20)),
            bad_token_window_s=int(settings.get("OPS_TOKEN_WINDOW_S", 900)),
        ),
    )


def login_limiter() -> FailureLimit:
    """Failed sign-ins per user name and per address (limits from OPS_LOGIN_* settings)."""
    settings = current_app.config
    return _shared(
        "ops_login_limiter",
        lambda: FailureLimit(
            redis(),
            "sign-in",
            keys.login_failures,
            {
                "user": int(settings.get("OPS_LOGIN_PER_USER", 5)),
                "ip": int(settings.get("OPS_LOGIN_PER_IP", 20)),
            },
            window_s=int(settings.get("OPS_LOGIN_WINDOW_S", 900)),
        ),
    )


def audit_log() -> AuditLog:
    """The audit log."""
    return _shared("ops_audit", lambda: AuditLog(redis()))


def incidents() -> IncidentLog:
    """Crisis incidents."""
    return _shared("ops_incidents", lambda: IncidentLog(redis()))


def notes() -> CallNotes:
    """Agents' notes and flags on calls."""
    return _shared("ops_notes", lambda: CallNotes(redis()))


def hours_board() -> HoursBoard:
    """Ops' edits to the areas' opening hours."""
    return _shared("ops_hours", lambda: HoursBoard(redis()))
