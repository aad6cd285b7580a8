"""The carrier's accelerated clock: each virtual second lasts time_scale real seconds."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Virtual time for call legs: a 30 s pause lasts 30 * time_scale real seconds.

    Durations that reach the app (QueueTime, CallDuration, RecordingDuration) are virtual seconds,
    so they look like a real call's; timestamps (date_created, Timestamp) stay on the wall clock so
    they sort with the app's own.
    """

    def __init__(self, time_scale: float = 1.0):
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._origin = time.monotonic()

    def now(self) -> float:
        """Return the virtual seconds since the carrier started."""
        return (time.monotonic() - self._origin) / self.time_scale

    def utcnow(self) -> datetime:
        """Return the wall-clock time, for timestamps shown to the app."""
        return datetime.now(UTC)

    def real(self, virtual_seconds: float) -> float:
        """Convert a virtual duration into the real seconds it takes."""
        return max(0.0, virtual_seconds * self.time_scale)

    def wait(self, condition: threading.Condition, virtual_seconds: float) -> None:
        """Wait on a held condition for at most this virtual duration (wakes early on notify)."""
        condition.wait(self.real(virtual_seconds))

    def sleep(self, virtual_seconds: float) -> None:
        """Let a simulated duration pass on this thread (network latency, never a test wait)."""
        time.sleep(self.real(virtual_seconds))


def rfc2822(moment: datetime | None) -> str | None:
    """Format a timestamp the way Twilio's REST API does (RFC 2822, UTC)."""
    if moment is None:
        return None
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")
