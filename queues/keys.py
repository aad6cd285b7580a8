"""Every Redis key the hotline uses, in one place; no other module writes a key literal."""

from __future__ import annotations

PREFIX = "hotline"


def call(call_sid: str) -> str:
    """Hash of one call's facts: caller, language, area, intake, status."""
    return f"{PREFIX}:call:{call_sid}"


def events() -> str:
    """Stream of every state change, read by reports and the wallboard."""
    return f"{PREFIX}:events"


def health_probe() -> str:
    """Key written by the health check to prove Redis accepts writes."""
    return f"{PREFIX}:health"
