"""One runtime per process: Redis, the Twilio gateway, the config, the clock, the sealer, and the
routing script and stores built on them once.

The app factory makes it for every process (web and worker alike): it keeps it in
`app.extensions["hotline"]`, where views find it with `serving()`, and installs it as the
process's runtime with `install`, where jobs find it with `current()`. Jobs take ids only and
never read the environment themselves. Nothing here opens a connection: a store is built on
first use, and redis-py connects on the first command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from flask import Flask, current_app
from redis import Redis

from queues.agents import AgentBoard
from queues.audit import AuditLog
from queues.call_starts import StartWriter
from queues.calls import CallStore
from queues.hours_edits import HoursBoard
from queues.incidents import IncidentLog
from queues.matcher import Matcher
from queues.notes import CallNotes
from queues.reservations import Reservations
from queues.screening_copy import ScreeningCopy
from queues.script import RoutingScript
from queues.sealing import Sealer
from queues.waiting import WaitingRoom
from queues.webhook_urls import WebhookUrls
from routing.config import HotlineConfig
from telephony.gateway import Gateway

# Where an app keeps the runtime its factory made.
EXTENSION = "hotline"


@dataclass(frozen=True)
class Routing:
    """The routing objects of one process, sharing one registered script (`Runtime.routing`)."""

    board: AgentBoard
    room: WaitingRoom
    matcher: Matcher
    reservations: Reservations
    calls: CallStore


@dataclass
class Runtime:
    """Everything views and jobs work with, built once per process from the app's settings."""

    redis: Redis
    gateway: Gateway
    config: HotlineConfig
    # The URL Twilio reaches the app at, for the webhooks of calls the jobs place.
    public_base_url: str
    clock: Callable[[], datetime]
    # The webhooks jobs give Twilio, built by the app from its routes (none: no job rings).
    webhooks: WebhookUrls | None = None
    # Reads a process may reuse a little while (see each user), kept per runtime, so per app.
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # What seals callers' numbers and words (none: the process's installed sealer).
    sealer: Sealer | None = field(default=None, repr=False, compare=False)

    def now(self) -> float:
        """The current time as epoch seconds, from the injected clock."""
        return self.clock().timestamp()

    @cached_property
    def script(self) -> RoutingScript:
        """The routing script, registered once per process and shared by every routing object."""
        return RoutingScript(self.redis, self.config.routing)

    @cached_property
    def routing(self) -> Routing:
        """The routing objects on this runtime's Redis and policy."""
        policy, script = self.config.routing, self.script
        return Routing(
            board=AgentBoard(self.redis, policy, script=script),
            room=WaitingRoom(self.redis, policy, script=script, sealer=self.sealer),
            matcher=Matcher(self.redis, policy, script=script),
            reservations=Reservations(self.redis, policy, script=script),
            calls=self.calls,
        )

    @cached_property
    def calls(self) -> CallStore:
        """Call records."""
        return CallStore(self.redis, sealer=self.sealer)

    @cached_property
    def screening_copy(self) -> ScreeningCopy:
        """This process's copy of the blocklist and the closure, for greetings."""
        return ScreeningCopy(self.redis, sealer=self.sealer)

    @cached_property
    def call_starts(self) -> StartWriter:
        """This process's writer of calls' starts behind their greetings."""
        return StartWriter(self.calls)

    @cached_property
    def incidents(self) -> IncidentLog:
        """Crisis incidents."""
        return IncidentLog(self.redis, sealer=self.sealer)

    @cached_property
    def notes(self) -> CallNotes:
        """Agents' notes and flags on calls."""
        return CallNotes(self.redis, sealer=self.sealer)

    @cached_property
    def audit(self) -> AuditLog:
        """The audit log."""
        return AuditLog(self.redis)

    @cached_property
    def hours(self) -> HoursBoard:
        """Ops' edits to the areas' opening hours."""
        return HoursBoard(self.redis)


def of(app: Flask) -> Runtime:
    """The runtime an app's factory made; an app without Redis has none."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        raise RuntimeError("REDIS_URL is not set; start the hotline with `hotline serve`")
    return found


def serving() -> Runtime:
    """The runtime of the app serving the current request: the views' one way to it."""
    return of(current_app)


_factory: Callable[[], Runtime] | None = None
_current: Runtime | None = None


def install(factory: Callable[[], Runtime] | None) -> None:
    """Set how this process builds its jobs' runtime (None forgets it)."""
    global _factory, _current
    _factory, _current = factory, None


def current() -> Runtime:
    """The process's runtime for jobs, built on first use."""
    global _current
    if _current is None:
        if _factory is None:
            raise RuntimeError("jobs need queues.runtime.install(...) at process start-up")
        _current = _factory()
    return _current
