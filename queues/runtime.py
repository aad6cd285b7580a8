"""What RQ jobs work with: Redis, the Twilio gateway, the config and the clock, per process.

Jobs take ids only. The app (web or worker process) installs a factory once at start-up with
`install`; a job calls `current()` and never reads the environment itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from redis import Redis

from queues.script import RoutingScript
from queues.webhook_urls import WebhookUrls
from routing.config import HotlineConfig
from telephony.gateway import Gateway


@dataclass
class Runtime:
    """Everything routing, dispatch and alert jobs need, built by the app from its settings."""

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

    @cached_property
    def script(self) -> RoutingScript:
        """The routing script, registered once per process and shared by every routing object."""
        return RoutingScript(self.redis, self.config.routing)

    def now(self) -> float:
        """The current time as epoch seconds, from the injected clock."""
        return self.clock().timestamp()

    def url(self, path: str) -> str:
        """An absolute URL of one of the app's webhooks."""
        return self.public_base_url.rstrip("/") + path


_factory: Callable[[], Runtime] | None = None
_current: Runtime | None = None


def install(factory: Callable[[], Runtime] | None) -> None:
    """Set how this process builds its runtime (None forgets it)."""
    global _factory, _current
    _factory, _current = factory, None


def current() -> Runtime:
    """The process's runtime, built on first use."""
    global _current
    if _current is None:
        if _factory is None:
            raise RuntimeError("jobs need queues.runtime.install(...) at process start-up")
        _current = _factory()
    return _current
