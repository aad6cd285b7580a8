"""The objects the consoles work with: the app's runtime and its stores (`queues.runtime`), and
the console's own users and sign-in limits, built once per app from its OPS_* settings."""

from __future__ import annotations

from typing import Any

from flask import current_app
from redis import Redis

from queues import keys
from queues import runtime as app_runtime
from queues.agents import AgentBoard
from queues.audit import AuditLog
from queues.calls import CallStore
from queues.hours_edits import HoursBoard
from queues.incidents import IncidentLog
from queues.notes import CallNotes
from queues.ratelimit import FailureLimit
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.users import UserStore
from queues.waiting import WaitingRoom
from routing.config import HotlineConfig


def runtime() -> app_runtime.Runtime:
    """The app's runtime: Redis, Twilio's gateway, the config, the clock and the stores."""
    return app_runtime.serving()


def redis() -> Redis:
    """The app's Redis client, shared with the phone menu."""
    return runtime().redis


def config() -> HotlineConfig:
    """The checked hotline config."""
    return runtime().config


def now() -> float:
    """The app clock as epoch seconds."""
    return runtime().now()


def _shared(name: str, build: Any) -> Any:
    """Return an app-wide object made from the app's settings, building it on first use."""
    found = current_app.extensions.get(name)
    if found is None:
        found = build()
        current_app.extensions[name] = found
    return found


def script() -> RoutingScript:
    """The routing script, registered once per process and shared by every routing object."""
    return runtime().script


def board() -> AgentBoard:
    """Agents and their presence."""
    return runtime().routing.board


def waiting_room() -> WaitingRoom:
    """Waiting calls."""
    return runtime().routing.room


def reservations() -> Reservations:
    """Offers of calls to agents."""
    return runtime().routing.reservations


def calls() -> CallStore:
    """Call records."""
    return runtime().calls


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
    return runtime().audit


def incidents() -> IncidentLog:
    """Crisis incidents."""
    return runtime().incidents


def notes() -> CallNotes:
    """Agents' notes and flags on calls."""
    return runtime().notes


def hours_board() -> HoursBoard:
    """Ops' edits to the areas' opening hours."""
    return runtime().hours
